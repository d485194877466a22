package service

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

func TestGetAttributes(t *testing.T) {
	e := attrsNewEnv(t)
	id := e.attrsPut(t, attrsObj{
		format: kmip.KeyFormatTypeRaw,
		attrs: []kmip.Attribute{
			attrsA(attrName, attrsName("key-a")),
			attrsA(attrName, attrsName("key-a-alias")),
			attrsA(attrFresh, ttlv.Bool(0, true)),
			attrsA("x-ID", ttlv.Text(0, "TL-M-2-14")),
		},
	})

	tests := []struct {
		name      string
		ver       kmip.ProtocolVersion
		ask       []string
		want      []string // names in order; nil: don't check
		wantNot   []string
		wantIndex map[string][]int // 1.x: Attribute Index expected per instance, -1 for absent
	}{
		{
			// KMIP 1.4 SKLC-M-1: the named attributes in the order asked,
			// those without a value left out (Digest, Activation Date).
			name: "1.4 named, request order",
			ver:  kmip.V1_4,
			ask:  []string{attrState, attrCryptoUsageMask, attrUniqueIdentifier, attrObjectType, attrCryptoAlgorithm, attrCryptoLength, attrDigest, attrInitialDate, attrLastChangeDate, attrActivationDate},
			want: []string{attrState, attrCryptoUsageMask, attrUniqueIdentifier, attrObjectType, attrCryptoAlgorithm, attrCryptoLength, attrInitialDate, attrLastChangeDate},
		},
		{
			name: "2.0 named, request order",
			ver:  kmip.V2_0,
			ask:  []string{attrState, attrCryptoUsageMask, attrUniqueIdentifier, attrDigest},
			want: []string{attrState, attrCryptoUsageMask, attrUniqueIdentifier},
		},
		{
			name:      "1.4 every instance, index only when not 0",
			ver:       kmip.V1_4,
			ask:       []string{attrName},
			want:      []string{attrName, attrName},
			wantIndex: map[string][]int{attrName: {-1, 1}},
		},
		{
			name:    "1.4 all: Unique Identifier first, no 2.x Key Format Type",
			ver:     kmip.V1_4,
			wantNot: []string{attrKeyFormatType},
		},
		{
			// KMIP 2.0 §4.26: Key Format Type is an attribute from 2.0 on.
			name: "2.0 all includes Key Format Type",
			ver:  kmip.V2_0,
		},
		{
			// Fresh is a 1.1 attribute: a 1.0 client never sees it.
			name:    "1.0 all leaves out Fresh",
			ver:     kmip.V1_0,
			wantNot: []string{attrFresh, attrKeyFormatType},
		},
		{
			name: "custom attribute by name",
			ver:  kmip.V2_0,
			ask:  []string{"x-ID"},
			want: []string{"x-ID"},
		},
		{
			name: "nothing asked exists",
			ver:  kmip.V1_4,
			ask:  []string{attrActivationDate},
			want: []string{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fields := []ttlv.Value{attrsUID(id)}
			for _, n := range tc.ask {
				fields = append(fields, attrsRef(tc.ver, n))
			}
			p, err := e.attrsCall(context.Background(), tc.ver, kmip.OperationGetAttributes, fields...)
			if err != nil {
				t.Fatal(err)
			}
			if uid, _ := p.Child(kmip.TagUniqueIdentifier); uid.Text() != id {
				t.Fatalf("unique identifier %q, want %q", uid.Text(), id)
			}
			if tc.ver.Is2x() && !p.Has(kmip.TagAttributes) {
				t.Fatalf("2.x response has no Attributes structure")
			}
			got := attrsParse(t, tc.ver, p)
			names := attrsNames(got)
			if tc.want != nil && !slices.Equal(names, tc.want) {
				t.Fatalf("attributes %q, want %q", names, tc.want)
			}
			if len(tc.ask) == 0 {
				// 2.x derives Short Unique Identifier (KMIP 2.0 §4.52) and
				// lists it second, as SKFF-M-9-20 does.
				first := []string{attrUniqueIdentifier, attrObjectType}
				if tc.ver.Is2x() {
					first = []string{attrUniqueIdentifier, attrShortUniqueIdentifier, attrObjectType}
				}
				if len(names) < len(first) || !slices.Equal(names[:len(first)], first) {
					t.Fatalf("all attributes %q: want %q first", names, first)
				}
				for _, n := range []string{attrState, attrInitialDate, attrLastChangeDate, attrCryptoAlgorithm, "x-ID", attrName} {
					if len(attrsFind(got, n)) == 0 {
						t.Errorf("all attributes lack %q: %q", n, names)
					}
				}
				if tc.ver.Is2x() {
					kf := attrsFind(got, attrKeyFormatType)
					if len(kf) != 1 || kf[0].Value.Enum() != uint32(kmip.KeyFormatTypeRaw) {
						t.Errorf("key format type %v, want one Raw", kf)
					}
				}
			}
			for _, n := range tc.wantNot {
				if len(attrsFind(got, n)) > 0 {
					t.Errorf("response has %q, which %s does not define here", n, tc.ver)
				}
			}
			if tc.wantIndex != nil {
				for _, it := range p.All(kmip.TagAttribute) {
					n, _ := it.Child(kmip.TagAttributeName)
					want, ok := tc.wantIndex[n.Text()]
					if !ok {
						continue
					}
					got := -1
					if iv, ok := it.Child(kmip.TagAttributeIndex); ok {
						got = int(iv.Int())
					}
					if len(want) == 0 || want[0] != got {
						t.Fatalf("%s: attribute index %d, want %v", n.Text(), got, want)
					}
					tc.wantIndex[n.Text()] = want[1:]
				}
			}
		})
	}

	// Values come back as stored, the custom one with the value tag.
	p, err := e.attrsCall(context.Background(), kmip.V1_4, kmip.OperationGetAttributes, attrsUID(id), attrsRef(kmip.V1_4, "x-ID"), attrsRef(kmip.V1_4, attrName))
	if err != nil {
		t.Fatal(err)
	}
	got := attrsParse(t, kmip.V1_4, p)
	if got[0].Value.Text() != "TL-M-2-14" {
		t.Errorf("x-ID = %q", got[0].Value.Text())
	}
	if n, _ := nameValueOf(got[1].Value); n != "key-a" {
		t.Errorf("name = %q", n)
	}
}

func TestGetAttributesErrors(t *testing.T) {
	e := attrsNewEnv(t)
	id := e.attrsPut(t, attrsObj{})
	archived := e.attrsPut(t, attrsObj{archived: true})
	other := e.attrsPut(t, attrsObj{tenant: "other"})

	tests := []struct {
		name string
		ver  kmip.ProtocolVersion
		id   string
		ask  []ttlv.Value
		want kmip.ResultReason
	}{
		{"missing object", kmip.V1_4, "no-such-object", nil, kmip.ResultReasonItemNotFound},
		{"missing object 2.0", kmip.V2_0, "no-such-object", nil, kmip.ResultReasonItemNotFound},
		{"another tenant's object", kmip.V1_4, other, nil, kmip.ResultReasonItemNotFound},
		{"no identifier, no placeholder", kmip.V1_4, "", nil, kmip.ResultReasonItemNotFound},
		{"archived", kmip.V1_4, archived, nil, kmip.ResultReasonObjectArchived},
		{"same name twice", kmip.V1_4, id, []ttlv.Value{attrsRef(kmip.V1_4, attrState), attrsRef(kmip.V1_4, attrState)}, kmip.ResultReasonInvalidMessage},
		{"same reference twice", kmip.V2_0, id, []ttlv.Value{attrsRef(kmip.V2_0, attrState), attrsRef(kmip.V2_0, attrState)}, kmip.ResultReasonInvalidMessage},
		{"reference to a tag that is no attribute", kmip.V2_0, id, []ttlv.Value{ttlv.Enum(kmip.TagAttributeReference, uint32(kmip.TagBatchCount))}, kmip.ResultReasonInvalidField},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var fields []ttlv.Value
			if tc.id != "" {
				fields = append(fields, attrsUID(tc.id))
			}
			fields = append(fields, tc.ask...)
			_, err := e.attrsCall(context.Background(), tc.ver, kmip.OperationGetAttributes, fields...)
			attrsWantReason(t, err, tc.want)
			_, err = e.attrsCall(context.Background(), tc.ver, kmip.OperationGetAttributeList, fields[:min(len(fields), 1)]...)
			if tc.want != kmip.ResultReasonInvalidMessage && tc.want != kmip.ResultReasonInvalidField {
				attrsWantReason(t, err, tc.want)
			}
		})
	}

	// The owner's tenant sees its object; a tenantless subject does not.
	ctx := attrsTenantCtx("other", "alice")
	if _, err := e.attrsCall(ctx, kmip.V1_4, kmip.OperationGetAttributes, attrsUID(other)); err != nil {
		t.Fatalf("own tenant: %v", err)
	}
	_, err := e.attrsCall(ctx, kmip.V1_4, kmip.OperationGetAttributes, attrsUID(id))
	attrsWantReason(t, err, kmip.ResultReasonItemNotFound)
}

// TestGetAttributesDateDrivenState checks that State reflects the
// Activation and Deactivation Dates reached (KMIP 1.4 §3.22 transitions 4
// and 6), and that the change is persisted.
func TestGetAttributesDateDrivenState(t *testing.T) {
	e := attrsNewEnv(t)
	now := e.clock.Now()
	steps := []struct {
		at   time.Time
		want kmip.State
	}{
		{now, kmip.StatePreActive},
		{now.Add(time.Hour), kmip.StateActive},
		{now.Add(3 * time.Hour), kmip.StateDeactivated},
	}
	var id string
	for _, ver := range attrsVersions {
		e.clock.Set(now)
		id = e.attrsPut(t, attrsObj{attrs: []kmip.Attribute{
			attrsA(attrActivationDate, ttlv.DateTime(0, now.Add(time.Hour))),
			attrsA(attrDeactivationDate, ttlv.DateTime(0, now.Add(2*time.Hour))),
		}})
		for _, st := range steps {
			e.clock.Set(st.at)
			p, err := e.attrsCall(context.Background(), ver, kmip.OperationGetAttributes, attrsUID(id), attrsRef(ver, attrState))
			if err != nil {
				t.Fatal(err)
			}
			got := attrsParse(t, ver, p)
			if len(got) != 1 || kmip.State(got[0].Value.Enum()) != st.want {
				t.Fatalf("%s at +%v: state %v, want %v", ver, st.at.Sub(now), got, st.want)
			}
		}
	}
	if o := e.attrsGet(t, id); o.State != kmip.StateDeactivated {
		t.Errorf("stored state %v, want Deactivated", o.State)
	}
}

func TestGetAttributeList(t *testing.T) {
	e := attrsNewEnv(t)
	id := e.attrsPut(t, attrsObj{
		format: kmip.KeyFormatTypeRaw,
		attrs: []kmip.Attribute{
			attrsA(attrName, attrsName("one")),
			attrsA(attrName, attrsName("two")),
			attrsA(attrFresh, ttlv.Bool(0, true)),
			attrsA("x-Barcode", ttlv.Text(0, "XXA012A1")),
			attrsA("tc:Set", ttlv.Text(0, "one")),
		},
	})
	t.Run("1.4", func(t *testing.T) {
		p, err := e.attrsCall(context.Background(), kmip.V1_4, kmip.OperationGetAttributeList, attrsUID(id))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, v := range p.Children() {
			switch v.Tag {
			case kmip.TagAttributeName:
				names = append(names, v.Text())
			case kmip.TagUniqueIdentifier:
			default:
				t.Fatalf("unexpected %s in 1.x response", kmip.TagString(v.Tag))
			}
		}
		want := []string{attrUniqueIdentifier, attrObjectType, attrCryptoAlgorithm, attrCryptoLength, attrCryptoUsageMask, attrState, attrInitialDate, attrLastChangeDate, attrName, attrFresh, "x-Barcode"}
		if !slices.Equal(names, want) {
			t.Fatalf("names %q\nwant %q (no vendor attribute 1.x cannot name)", names, want)
		}
	})
	t.Run("1.0 leaves out Fresh", func(t *testing.T) {
		p, err := e.attrsCall(context.Background(), kmip.V1_0, kmip.OperationGetAttributeList, attrsUID(id))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range p.All(kmip.TagAttributeName) {
			if v.Text() == attrFresh {
				t.Fatal("1.0 response names Fresh")
			}
		}
	})
	t.Run("2.0", func(t *testing.T) {
		p, err := e.attrsCall(context.Background(), kmip.V2_0, kmip.OperationGetAttributeList, attrsUID(id))
		if err != nil {
			t.Fatal(err)
		}
		if p.Has(kmip.TagAttributeName) {
			t.Fatal("2.x response has Attribute Name")
		}
		var names []string
		for _, ref := range p.All(kmip.TagAttributeReference) {
			n, err := kmip.ParseAttributeReference(ref)
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, n)
		}
		want := []string{attrUniqueIdentifier, attrShortUniqueIdentifier, attrObjectType, attrCryptoAlgorithm, attrCryptoLength, attrCryptoUsageMask, attrState, attrInitialDate, attrLastChangeDate, attrName, attrFresh, "x-Barcode", "tc:Set", attrKeyFormatType, attrProtectionStorageMask}
		if !slices.Equal(names, want) {
			t.Fatalf("references %q\nwant %q", names, want)
		}
		// Vendor attributes are referenced by a structure (KMIP 2.0 §7.3).
		refs := p.All(kmip.TagAttributeReference)
		vendor := refs[slices.Index(want, "tc:Set")]
		vid, _ := vendor.Child(kmip.TagVendorIdentification)
		an, _ := vendor.Child(kmip.TagAttributeName)
		if vendor.Type != ttlv.TypeStructure || vid.Text() != "tc" || an.Text() != "Set" {
			t.Fatalf("vendor reference %+v", vendor)
		}
	})
	t.Run("ID placeholder", func(t *testing.T) {
		p, err := e.svc.ServeKMIP(context.Background(), &kmip.Request{
			Version: kmip.V1_4, Operation: kmip.OperationGetAttributeList,
			Payload: ttlv.Struct(kmip.TagRequestPayload), IDPlaceholder: id,
		})
		if err != nil {
			t.Fatal(err)
		}
		if uid, _ := p.Child(kmip.TagUniqueIdentifier); uid.Text() != id {
			t.Fatalf("unique identifier %q", uid.Text())
		}
	})
}

// TestGetAttributesNetApp reads back the custom text attributes NetApp
// ONTAP registers its keys with (about sixteen x-NETAPP-* names), over
// KMIP 1.0 as ONTAP speaks it, and finds the key by one of them.
func TestGetAttributesNetApp(t *testing.T) {
	e := attrsNewEnv(t)
	var custom []kmip.Attribute
	var names []string
	for i := range 16 {
		n := fmt.Sprintf("x-NETAPP-Attribute-%02d", i)
		names = append(names, n)
		custom = append(custom, attrsA(n, ttlv.Text(0, fmt.Sprintf("value %d", i))))
	}
	id := e.attrsPut(t, attrsObj{attrs: custom})
	p, err := e.attrsCall(context.Background(), kmip.V1_0, kmip.OperationGetAttributes, attrsUID(id))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range attrsParse(t, kmip.V1_0, p) {
		if strings.HasPrefix(a.Name, "x-NETAPP-") {
			got = append(got, a.Name)
		}
	}
	if !slices.Equal(got, names) {
		t.Fatalf("custom attributes %q, want %q", got, names)
	}
	p, err = e.attrsCall(context.Background(), kmip.V1_0, kmip.OperationLocate, attrsLocateFields(kmip.V1_0, custom[7])...)
	if err != nil {
		t.Fatal(err)
	}
	if ids, _ := attrsIDs(p); !slices.Equal(ids, []string{id}) {
		t.Fatalf("located %q", ids)
	}
}
