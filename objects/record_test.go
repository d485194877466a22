package objects

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

func fullObject() *Object {
	created := time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC)
	o := newKey("id-1",
		nameAttr("key one"),
		algAttr(3),
		groupAttr("grp"),
		dateAttr("Initial Date", kmip.TagInitialDate, created.Truncate(time.Second)),
		customAttr("x-Purpose", ttlv.Text(kmip.TagAttributeValue, "tests")),
		customAttr("y-Count", ttlv.Int(kmip.TagAttributeValue, -7)),
		customAttr("vendor:blob", ttlv.Bytes(kmip.TagAttributeValue, []byte{0, 1, 2})),
		kmip.Attribute{Name: "Link", Index: 2, Value: ttlv.Struct(kmip.TagLink,
			ttlv.Enum(kmip.TagLinkType, 0x103), ttlv.Text(kmip.TagLinkedObjectIdentifier, "other"))},
	)
	o.State = kmip.StateActive
	o.Public = []byte("public key DER")
	o.Created, o.Updated = created, created.Add(time.Hour)
	o.Archived = true
	o.Revision = 42
	o.seq = 7
	return o
}

func TestRecordRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		edit func(o *Object)
	}{
		{"full", func(o *Object) {}},
		{"destroyed: no material", func(o *Object) { o.Wrapped, o.Public = nil, nil; o.State = kmip.StateDestroyed }},
		{"no attributes", func(o *Object) { o.Attributes = nil }},
		{"empty blob", func(o *Object) { o.Wrapped.Blob = nil }},
		{"zero times", func(o *Object) { o.Created, o.Updated = time.Time{}, time.Time{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := fullObject()
			tt.edit(o)
			rec := encodeRecord(o)
			if rec[0] != recordFormat {
				t.Fatalf("format byte = %d", rec[0])
			}
			got, err := decodeRecord(bytes.Clone(rec))
			if err != nil {
				t.Fatalf("decodeRecord: %v", err)
			}
			if o.Attributes == nil {
				o.Attributes = []kmip.Attribute{}
			}
			sameObject(t, got, o)
			if got.seq != o.seq {
				t.Errorf("seq = %d, want %d", got.seq, o.seq)
			}
			if !bytes.Equal(encodeRecord(got), rec) {
				t.Error("re-encoding differs")
			}
		})
	}
}

// The record holds the wrapped blob exactly as given and nothing else that
// could be key material: the only byte strings in it are the blob and the
// public material, and the blob round-trips bit for bit.
func TestRecordHoldsOnlyGivenMaterial(t *testing.T) {
	o := newKey("k")
	o.Wrapped.Blob = []byte{0xde, 0xad, 0xbe, 0xef, 0x00, 0x01}
	rec := encodeRecord(o)
	v, err := ttlv.Decode(rec[1:], recordLimits)
	if err != nil {
		t.Fatal(err)
	}
	var byteStrings [][]byte
	var walk func(v ttlv.Value)
	walk = func(v ttlv.Value) {
		if v.Type == ttlv.TypeByteString {
			byteStrings = append(byteStrings, v.Bytes())
		}
		for _, c := range v.Children() {
			walk(c)
		}
	}
	walk(v)
	if len(byteStrings) != 1 || !bytes.Equal(byteStrings[0], o.Wrapped.Blob) {
		t.Errorf("byte strings in record = %x, want only the blob %x", byteStrings, o.Wrapped.Blob)
	}
	got, err := decodeRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Wrapped.Blob, o.Wrapped.Blob) {
		t.Errorf("blob = %x, want %x", got.Wrapped.Blob, o.Wrapped.Blob)
	}
}

// TestRecordAttributeForms: an attribute of the specification with its own
// tag and index 0 is stored as its value alone; anything else keeps its
// name, and its index unless 0. Every form reads back as written.
func TestRecordAttributeForms(t *testing.T) {
	tests := []struct {
		name    string
		attr    kmip.Attribute
		compact bool
	}{
		{"standard", algAttr(3), true},
		{"standard structure", nameAttr("key one"), true},
		{"second instance", kmip.Attribute{Name: "Name", Index: 1, Value: nameAttr("two").Value}, false},
		{"1.x custom", customAttr("x-Purpose", ttlv.Text(kmip.TagAttributeValue, "tests")), false},
		{"2.x vendor", customAttr("vendor:blob", ttlv.Bytes(kmip.TagAttributeValue, []byte{1})), false},
		{"value with another tag", kmip.Attribute{Name: "Object Group", Value: ttlv.Text(kmip.TagAttributeValue, "g")}, false},
		{"value without a tag", kmip.Attribute{Name: "Object Group", Value: ttlv.Text(0, "g")}, false},
		{"tag of another attribute", kmip.Attribute{Name: "Object Group", Value: ttlv.Text(kmip.TagContactInformation, "g")}, false},
		{"Vendor Attribute", kmip.Attribute{Name: "Vendor Attribute", Value: ttlv.Struct(kmip.TagAttribute,
			ttlv.Text(kmip.TagVendorIdentification, "v"), ttlv.Text(kmip.TagAttributeName, "n"),
			ttlv.Text(kmip.TagAttributeValue, "x"))}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stored := encodeAttribute(tt.attr)
			if compact := stored.Tag != tagAttribute; compact != tt.compact {
				t.Errorf("stored as %06x, compact %v; want compact %v", uint32(stored.Tag), compact, tt.compact)
			}
			o := newKey("id-1", tt.attr)
			got, err := decodeRecord(encodeRecord(o))
			if err != nil {
				t.Fatal(err)
			}
			sameObject(t, got, o)
		})
	}
}

// encodeRecordV1 is encodeRecord as record format 1 wrote it: every
// attribute in the full form, index included.
func encodeRecordV1(o *Object) []byte {
	rec := encodeRecord(o)
	v, err := ttlv.Decode(rec[1:], recordLimits)
	if err != nil {
		panic(err)
	}
	kids := v.Children()
	for i, c := range kids {
		if c.Tag != tagAttributes {
			continue
		}
		attrs := make([]ttlv.Value, len(o.Attributes))
		for j, a := range o.Attributes {
			attrs[j] = ttlv.Struct(tagAttribute, ttlv.Text(tagAttrName, a.Name), ttlv.Int(tagAttrIndex, int32(a.Index)), a.Value)
		}
		kids[i] = ttlv.Struct(tagAttributes, attrs...)
	}
	return ttlv.Append([]byte{recordFormatV1}, ttlv.Struct(tagRecord, kids...))
}

// Records of format 1 are read as they were; a compact attribute in one is
// damage, since format 1 had none.
func TestDecodeRecordFormatV1(t *testing.T) {
	o := fullObject()
	v1 := encodeRecordV1(o)
	if len(v1) <= len(encodeRecord(o)) {
		t.Errorf("format 1 record of %d bytes is not longer than format 2's %d", len(v1), len(encodeRecord(o)))
	}
	got, err := decodeRecord(v1)
	if err != nil {
		t.Fatal(err)
	}
	sameObject(t, got, o)

	mixed := encodeRecord(o)
	mixed[0] = recordFormatV1
	if _, err := decodeRecord(mixed); !errors.Is(err, errBadRecord) {
		t.Errorf("format 1 record with compact attributes: %v, want errBadRecord", err)
	}
}

// FuzzDecodeRecord: whatever a damaged or hostile database file holds,
// decodeRecord fails cleanly or returns an object that encodes and decodes
// back to itself.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(encodeRecord(fullObject()))
	f.Add(encodeRecordV1(fullObject()))
	f.Add(encodeRecord(aesKey("0197a000-0000-7000-8000-000000000001")))
	f.Add([]byte{recordFormat})
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := decodeRecord(bytes.Clone(b))
		if err != nil {
			if !errors.Is(err, errBadRecord) {
				t.Fatalf("error %v is not errBadRecord", err)
			}
			return
		}
		again, err := decodeRecord(encodeRecord(o))
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		sameObject(t, again, o)
	})
}

func TestDecodeRecordRejects(t *testing.T) {
	good := encodeRecord(fullObject())
	unknownField := ttlv.Append([]byte{recordFormat}, ttlv.Struct(tagRecord,
		ttlv.Text(tagID, "x"), ttlv.Text(0x54FFFF, "from the future")))
	wrongType := ttlv.Append([]byte{recordFormat}, ttlv.Struct(tagRecord, ttlv.Int(tagID, 1)))
	noID := ttlv.Append([]byte{recordFormat}, ttlv.Struct(tagRecord, ttlv.Bool(tagArchived, true)))
	badAttr := ttlv.Append([]byte{recordFormat}, ttlv.Struct(tagRecord, ttlv.Text(tagID, "x"),
		ttlv.Struct(tagAttributes, ttlv.Struct(tagAttribute, ttlv.Text(tagAttrName, "n")))))
	notRecord := ttlv.Append([]byte{recordFormat}, ttlv.Text(tagID, "x"))
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"newer format", append([]byte{recordFormat + 1}, good[1:]...)},
		{"truncated", good[:len(good)-8]},
		{"format byte only", good[:1]},
		{"unknown field", unknownField},
		{"field of wrong type", wrongType},
		{"no identifier", noID},
		{"attribute without value", badAttr},
		{"attribute of name and index only", ttlv.Append([]byte{recordFormat}, ttlv.Struct(tagRecord, ttlv.Text(tagID, "x"),
			ttlv.Struct(tagAttributes, ttlv.Struct(tagAttribute, ttlv.Text(tagAttrName, "n"), ttlv.Int(tagAttrIndex, 1)))))},
		{"compact attribute of no known tag", ttlv.Append([]byte{recordFormat}, ttlv.Struct(tagRecord, ttlv.Text(tagID, "x"),
			ttlv.Struct(tagAttributes, ttlv.Text(0x42FFFF, "n"))))},
		{"not a record", notRecord},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeRecord(tt.b); !errors.Is(err, errBadRecord) {
				t.Errorf("decodeRecord = %v, want errBadRecord", err)
			}
		})
	}
}

// Damaged records must fail cleanly, never panic.
func TestDecodeRecordDamage(t *testing.T) {
	good := encodeRecord(fullObject())
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		b := bytes.Clone(good)
		switch i % 3 {
		case 0:
			b = b[:r.IntN(len(b))]
		case 1:
			for range 1 + r.IntN(4) {
				b[r.IntN(len(b))] ^= byte(1 + r.IntN(255))
			}
		case 2:
			b = make([]byte, r.IntN(64))
			for j := range b {
				b[j] = byte(r.Uint32())
			}
		}
		_, _ = decodeRecord(b)
	}
}

// TestSetRecordSeq checks that stamping a sequence number into a prepared
// record gives exactly the record encodeRecord makes with that number, and
// that a record not ending in one is refused rather than overwritten.
func TestSetRecordSeq(t *testing.T) {
	o := &Object{ID: "k1", ObjectType: kmip.ObjectTypeSymmetricKey, Owner: "alice"}
	for _, seq := range []uint64{1, 2, 1 << 40, ^uint64(0)} {
		rec := encodeRecord(o)
		if err := setRecordSeq(rec, seq); err != nil {
			t.Fatalf("setRecordSeq(%d): %v", seq, err)
		}
		want := *o
		want.seq = seq
		if !bytes.Equal(rec, encodeRecord(&want)) {
			t.Errorf("seq %d: stamped record differs from the encoded one", seq)
		}
	}
	for name, rec := range map[string][]byte{
		"empty":           nil,
		"short":           {recordFormat, 1, 2, 3},
		"other last item": ttlv.Append([]byte{recordFormat}, ttlv.Struct(tagRecord, ttlv.Long(tagRevision, 7))),
	} {
		before := bytes.Clone(rec)
		if err := setRecordSeq(rec, 9); err == nil {
			t.Errorf("%s: setRecordSeq accepted it", name)
		}
		if !bytes.Equal(rec, before) {
			t.Errorf("%s: record changed", name)
		}
	}
}
