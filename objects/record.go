package objects

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// A stored record is recordFormat (one byte) followed by the TTLV encoding
// of a Structure tagged tagRecord. The byte lets a later kmipd change the
// encoding without guessing.
//
// Format 2 stores most attributes compactly (see encodeAttribute), which
// halves a typical key's record: records are a commit's largest writes, and
// at 1.6 KiB two of them filled a page. Format 1 records, whose attributes
// all have the full form, are still read; they are rewritten in format 2
// when their object next changes.
const (
	recordFormat   byte = 2
	recordFormatV1 byte = 1
)

// Private tags of the record encoding. They live in the 0x54xxxx range that
// KMIP 1.4 §9.1.3.1 (2.0 §11.54) reserves for extensions, so they can never
// collide with a standard tag, and they never leave this package: they are
// an on-disk format, not a wire format. Numbers are never reused; a removed
// field leaves a hole.
const (
	tagRecord     ttlv.Tag = 0x540001 // Structure: the whole record
	tagID         ttlv.Tag = 0x540002 // Text String: Unique Identifier
	tagObjectType ttlv.Tag = 0x540003 // Enumeration: kmip.ObjectType
	tagState      ttlv.Tag = 0x540004 // Enumeration: kmip.State
	tagAttributes ttlv.Tag = 0x540005 // Structure of tagAttribute
	tagAttribute  ttlv.Tag = 0x540006 // Structure: name, index (absent when 0 in format 2), value, by position
	tagAttrName   ttlv.Tag = 0x540007 // Text String: kmip.Attribute.Name
	tagAttrIndex  ttlv.Tag = 0x540008 // Integer: kmip.Attribute.Index
	tagWrapped    ttlv.Tag = 0x540009 // Structure: WrappedMaterial; absent when nil
	tagMasterKey  ttlv.Tag = 0x54000A // Text String: WrappedMaterial.MasterKey
	tagMechanism  ttlv.Tag = 0x54000B // Text String: WrappedMaterial.Mechanism
	tagBlob       ttlv.Tag = 0x54000C // Byte String: WrappedMaterial.Blob
	tagPublic     ttlv.Tag = 0x54000D // Byte String: Object.Public; absent when empty
	tagKeyFormat  ttlv.Tag = 0x54000E // Enumeration: Object.KeyFormat
	tagOwner      ttlv.Tag = 0x54000F // Text String: Object.Owner
	tagTenant     ttlv.Tag = 0x540010 // Text String: Object.Tenant
	tagCreated    ttlv.Tag = 0x540011 // Date-Time Extended: Object.Created
	tagUpdated    ttlv.Tag = 0x540012 // Date-Time Extended: Object.Updated
	tagArchived   ttlv.Tag = 0x540013 // Boolean: Object.Archived
	tagRevision   ttlv.Tag = 0x540014 // Long Integer: Object.Revision
	tagSeq        ttlv.Tag = 0x540015 // Long Integer: creation sequence number
	tagWrapLen    ttlv.Tag = 0x540016 // Integer: WrappedMaterial.Len; absent when 0
)

// recordLimits bound the decoder. Records are written by this package, but
// a damaged or hostile file must still fail cleanly, never exhaust memory.
var recordLimits = ttlv.Limits{
	MaxMessageSize: 64 << 20,
	MaxDepth:       64,
	MaxItems:       1 << 20,
}

// encodeRecord returns the stored form of o.
func encodeRecord(o *Object) []byte {
	attrs := make([]ttlv.Value, len(o.Attributes))
	for i, a := range o.Attributes {
		attrs[i] = encodeAttribute(a)
	}
	f := make([]ttlv.Value, 0, 16)
	f = append(f,
		ttlv.Text(tagID, o.ID),
		ttlv.Enum(tagObjectType, uint32(o.ObjectType)),
		ttlv.Enum(tagState, uint32(o.State)),
		ttlv.Struct(tagAttributes, attrs...),
	)
	if o.Wrapped != nil {
		f = append(f, ttlv.Struct(tagWrapped,
			ttlv.Text(tagMasterKey, o.Wrapped.MasterKey),
			ttlv.Text(tagMechanism, o.Wrapped.Mechanism),
			ttlv.Bytes(tagBlob, o.Wrapped.Blob),
			ttlv.Int(tagWrapLen, int32(o.Wrapped.Len)), //nolint:gosec // G115: validate keeps the length within int32
		))
	}
	if len(o.Public) > 0 {
		f = append(f, ttlv.Bytes(tagPublic, o.Public))
	}
	f = append(f,
		ttlv.Enum(tagKeyFormat, o.KeyFormat),
		ttlv.Text(tagOwner, o.Owner),
		ttlv.Text(tagTenant, o.Tenant),
		ttlv.DateTimeExtended(tagCreated, o.Created),
		ttlv.DateTimeExtended(tagUpdated, o.Updated),
		ttlv.Bool(tagArchived, o.Archived),
		// Counters are kept as the bits of a Long Integer; decodeField
		// reinterprets them back, so every uint64 round-trips.
		ttlv.Long(tagRevision, int64(o.Revision)), //nolint:gosec // G115: bit reinterpretation, see above
		ttlv.Long(tagSeq, int64(o.seq)),           //nolint:gosec // G115: bit reinterpretation, see above
	)
	return ttlv.Append([]byte{recordFormat}, ttlv.Struct(tagRecord, f...))
}

// encodeAttribute returns the stored form of a. An attribute of the
// specification whose value carries the attribute's own tag (as every
// attribute does inside kmipd: kmip.DecodeAttribute gives 1.x values their
// 2.x tag) and whose index is 0 is stored as its value alone: the tag
// names it, and decodeAttribute gets the name back from the same table. A
// Cryptographic Usage Mask takes 16 bytes that way instead of 72. Anything
// else, custom attributes and further instances among them, is a
// tagAttribute Structure of its name, its index unless 0, and its value.
func encodeAttribute(a kmip.Attribute) ttlv.Value {
	if a.Index == 0 && compactName(a.Value.Tag) == a.Name {
		return a.Value
	}
	kids := make([]ttlv.Value, 0, 3)
	kids = append(kids, ttlv.Text(tagAttrName, a.Name))
	if a.Index != 0 {
		kids = append(kids, ttlv.Int(tagAttrIndex, int32(a.Index))) //nolint:gosec // G115: validate keeps indexes within int32
	}
	return ttlv.Struct(tagAttribute, append(kids, a.Value)...)
}

// compactName is the name of the attribute a value tagged t stands for in
// the compact form, or "" if t cannot stand alone: it is not an
// attribute's own tag, or the tag does not name one attribute both ways
// (Vendor Attribute's tag, Attribute, is the 1.x wrapper of all of them).
func compactName(t ttlv.Tag) string { return compactNames[t] }

// compactNames maps the tags that can stand alone to their attribute's
// name, built once: every record encoded or decoded asks for each of its
// attributes.
var compactNames = func() map[ttlv.Tag]string {
	m := map[ttlv.Tag]string{}
	for _, a := range kmip.Attributes() {
		if byTag, ok := kmip.AttributeByTag(a.Tag); ok && byTag.Name == a.Name {
			m[a.Tag] = a.Name
		}
	}
	return m
}()

// decodeAttribute reads an attribute that encodeAttribute wrote; in format
// 1 every attribute has the full form, with its index.
func decodeAttribute(a ttlv.Value, format byte, ts *texts) (kmip.Attribute, error) {
	if a.Tag != tagAttribute {
		name := compactName(a.Tag)
		if format == recordFormatV1 || name == "" {
			return kmip.Attribute{}, fmt.Errorf("bad attribute entry %06x: %w", uint32(a.Tag), errBadRecord)
		}
		return kmip.Attribute{Name: name, Value: a}, nil
	}
	ak := a.Children()
	if a.Type != ttlv.TypeStructure || len(ak) < 2 || ak[0].Tag != tagAttrName || ak[0].Type != ttlv.TypeTextString {
		return kmip.Attribute{}, fmt.Errorf("bad attribute entry: %w", errBadRecord)
	}
	at := kmip.Attribute{Name: ts.text(ak[0]), Value: ak[len(ak)-1]}
	switch {
	case len(ak) == 3 && ak[1].Tag == tagAttrIndex && ak[1].Type == ttlv.TypeInteger:
		at.Index = int(ak[1].Int())
	case len(ak) == 2 && format != recordFormatV1 && ak[1].Tag != tagAttrIndex:
	default:
		return kmip.Attribute{}, fmt.Errorf("bad attribute entry %q: %w", at.Name, errBadRecord)
	}
	return at, nil
}

// setRecordSeq writes seq into rec, a record from encodeRecord. The
// sequence number is the record's last field, a Long Integer, so its value
// is the last 8 bytes (KMIP 1.4 §9.1.1.4: no padding after an 8-byte value);
// the item header before it is checked so that a change of encodeRecord
// cannot make this write somewhere else.
func setRecordSeq(rec []byte, seq uint64) error {
	const item = 16 // tag 3, type 1, length 4, value 8
	if len(rec) < 1+item {
		return fmt.Errorf("stamp sequence number: record of %d bytes: %w", len(rec), errBadRecord)
	}
	h := rec[len(rec)-item:]
	if ttlv.Tag(uint32(h[0])<<16|uint32(h[1])<<8|uint32(h[2])) != tagSeq ||
		ttlv.Type(h[3]) != ttlv.TypeLongInteger || binary.BigEndian.Uint32(h[4:8]) != 8 {
		return fmt.Errorf("stamp sequence number: the record does not end with it: %w", errBadRecord)
	}
	binary.BigEndian.PutUint64(h[8:], seq)
	return nil
}

var errBadRecord = errors.New("malformed record")

// decodeRecord parses a stored record. The returned Object aliases b (its
// attribute values, Public and the wrapped blob point into it): callers that
// keep the Object beyond a bbolt transaction pass a copy of the stored bytes.
// Its strings do not alias b: they share one fresh allocation (see texts).
func decodeRecord(b []byte) (*Object, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("empty record: %w", errBadRecord)
	}
	format := b[0]
	if format != recordFormat && format != recordFormatV1 {
		return nil, fmt.Errorf("record format %d is not known: %w", format, errBadRecord)
	}
	v, err := ttlv.Decode(b[1:], recordLimits)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadRecord, err)
	}
	if v.Tag != tagRecord || v.Type != ttlv.TypeStructure {
		return nil, fmt.Errorf("top item is not a record: %w", errBadRecord)
	}
	o := &Object{}
	var ts texts
	ts.Grow(recordTextLen(v))
	for _, c := range v.Children() {
		if err := decodeField(o, c, format, &ts); err != nil {
			return nil, err
		}
	}
	if o.ID == "" {
		return nil, fmt.Errorf("record without identifier: %w", errBadRecord)
	}
	return o, nil
}

// texts makes the strings of one decoded record out of a single
// allocation: a record has some twenty of them (identifier, attribute
// names, owner...), and one allocation each was most of decodeRecord's
// allocations. Grow it by the total length first; a Builder never changes
// bytes it has handed out, so each substring stays valid as it grows.
type texts struct{ strings.Builder }

// text returns a copy of v's Text String that shares the builder's memory.
func (ts *texts) text(v ttlv.Value) string {
	start := ts.Len()
	_, _ = ts.Write(v.Bytes()) // strings.Builder's Write never fails
	return ts.String()[start:]
}

// recordTextLen is the total length of the Text Strings that decodeField
// turns into Go strings, so that texts allocates once. It only sizes an
// allocation: a malformed record that it miscounts is still refused by
// decodeField.
func recordTextLen(rec ttlv.Value) int {
	n := 0
	for _, c := range rec.Children() {
		switch c.Tag {
		case tagAttributes:
			for _, a := range c.Children() {
				if ak := a.Children(); a.Tag == tagAttribute && len(ak) > 0 && ak[0].Type == ttlv.TypeTextString {
					n += len(ak[0].Bytes())
				}
			}
		case tagWrapped:
			for _, k := range c.Children() {
				if k.Type == ttlv.TypeTextString {
					n += len(k.Bytes())
				}
			}
		default:
			if c.Type == ttlv.TypeTextString {
				n += len(c.Bytes())
			}
		}
	}
	return n
}

// decodeField sets the field c encodes. Unknown tags are an error rather
// than skipped: a record with fields this binary does not know was written
// by a newer one, and silently dropping them on the next Update would lose
// data.
func decodeField(o *Object, c ttlv.Value, format byte, ts *texts) error {
	t, ok := fieldTypes[c.Tag]
	if !ok {
		return fmt.Errorf("unknown record field %06x: %w", uint32(c.Tag), errBadRecord)
	}
	if c.Type != t {
		return fmt.Errorf("record field %06x has type %d: %w", uint32(c.Tag), c.Type, errBadRecord)
	}
	switch c.Tag {
	case tagID:
		o.ID = ts.text(c)
	case tagObjectType:
		o.ObjectType = kmip.ObjectType(c.Enum())
	case tagState:
		o.State = kmip.State(c.Enum())
	case tagAttributes:
		kids := c.Children()
		o.Attributes = make([]kmip.Attribute, 0, len(kids))
		for _, a := range kids {
			at, err := decodeAttribute(a, format, ts)
			if err != nil {
				return err
			}
			o.Attributes = append(o.Attributes, at)
		}
	case tagWrapped:
		w := &WrappedMaterial{}
		for _, k := range c.Children() {
			switch {
			case k.Tag == tagMasterKey && k.Type == ttlv.TypeTextString:
				w.MasterKey = ts.text(k)
			case k.Tag == tagMechanism && k.Type == ttlv.TypeTextString:
				w.Mechanism = ts.text(k)
			case k.Tag == tagBlob && k.Type == ttlv.TypeByteString:
				w.Blob = k.Bytes()
			case k.Tag == tagWrapLen && k.Type == ttlv.TypeInteger:
				w.Len = int(k.Int())
			default:
				return fmt.Errorf("bad wrapped material field %06x: %w", uint32(k.Tag), errBadRecord)
			}
		}
		o.Wrapped = w
	case tagPublic:
		o.Public = c.Bytes()
	case tagKeyFormat:
		o.KeyFormat = c.Enum()
	case tagOwner:
		o.Owner = ts.text(c)
	case tagTenant:
		o.Tenant = ts.text(c)
	case tagCreated:
		o.Created = c.Time()
	case tagUpdated:
		o.Updated = c.Time()
	case tagArchived:
		o.Archived = c.Bool()
	case tagRevision:
		o.Revision = uint64(c.Long()) //nolint:gosec // G115: the bits encodeRecord stored
	case tagSeq:
		o.seq = uint64(c.Long()) //nolint:gosec // G115: the bits encodeRecord stored
	}
	return nil
}

// fieldTypes is the item type each record field must have.
var fieldTypes = map[ttlv.Tag]ttlv.Type{
	tagID: ttlv.TypeTextString, tagObjectType: ttlv.TypeEnumeration,
	tagState: ttlv.TypeEnumeration, tagAttributes: ttlv.TypeStructure,
	tagWrapped: ttlv.TypeStructure, tagPublic: ttlv.TypeByteString,
	tagKeyFormat: ttlv.TypeEnumeration, tagOwner: ttlv.TypeTextString,
	tagTenant: ttlv.TypeTextString, tagCreated: ttlv.TypeDateTimeExtended,
	tagUpdated: ttlv.TypeDateTimeExtended, tagArchived: ttlv.TypeBoolean,
	tagRevision: ttlv.TypeLongInteger, tagSeq: ttlv.TypeLongInteger,
}

// maxSec is the largest whole number of seconds whose microseconds fit an
// int64.
const maxSec int64 = math.MaxInt64 / 1_000_000

// microsOf converts t to microseconds since the epoch, saturating instead
// of overflowing far outside the representable range.
func microsOf(t time.Time) int64 {
	s := t.Unix()
	switch {
	case s >= maxSec:
		return math.MaxInt64
	case s <= -maxSec:
		return math.MinInt64
	}
	return t.UnixMicro()
}

// dateMicros returns a Date-Time or Date-Time Extended value in
// microseconds since the epoch, saturating: KMIP 2.0 §6.1.27 lets a client
// send the largest possible Date-Time, which in microseconds would
// overflow.
func dateMicros(v ttlv.Value) (int64, bool) {
	switch v.Type {
	case ttlv.TypeDateTimeExtended:
		return int64(v.Raw64()), true //nolint:gosec // G115: a Date-Time is a signed 64-bit count (KMIP 1.4 §9.1.1.4)
	case ttlv.TypeDateTime:
		s := int64(v.Raw64()) //nolint:gosec // G115: a Date-Time is a signed 64-bit count (KMIP 1.4 §9.1.1.4)
		switch {
		case s >= maxSec:
			return math.MaxInt64, true
		case s <= -maxSec:
			return math.MinInt64, true
		}
		return s * 1e6, true
	default:
		return 0, false
	}
}
