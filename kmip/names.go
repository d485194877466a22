package kmip

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kmipd/kmipd/ttlv"
)

// The KMIP name tables.
//
// The tables in the *_generated.go files come from kmip/spec/*.csv, which
// are extracted from the KMIP 1.4, 2.0 and 2.1 specifications (see
// kmip/internal/gen). They are read-only data; nothing registers into them
// at run time.
//
// # Names
//
// Tags, enumeration values and mask bits are named as in the XML and JSON
// encodings of the KMIP Profiles ("Normalizing Names"): the specification's
// name in CamelCase, with a separator kept as "_" where it does not start a
// new word ("SHA-256" → "SHA_256", "X.509" → "X_509", "PKCS#1" → "PKCS_1",
// "IV/Counter/Nonce" → "IVCounterNonce", "3DES" → "DES3"). The Go
// identifiers are the type name followed by that name without underscores:
// TagX509CertificateIdentifier, HashingAlgorithmSHA256.
//
// # Versions
//
// Each tag, enumeration value, mask bit and attribute carries the first and
// last protocol version that define it (see SpecVersion). Within 1.x the
// versions of enumeration values and mask bits are those of their
// enumeration: the 1.4 document lists every 1.x value without saying which
// minor version added it.

// SpecVersion is a KMIP protocol version as major*100+minor (1.4 is 104,
// 2.1 is 201), the form of the since/until ranges in the name tables. The
// zero SpecVersion as an Until means "still defined in the newest version
// known (2.1)".
type SpecVersion uint16

func specVersion(major, minor int32) SpecVersion {
	if major < 0 || minor < 0 || minor > 99 || major > 600 {
		return 0
	}
	return SpecVersion(major*100 + minor)
}

// Major returns the major version.
func (v SpecVersion) Major() int32 { return int32(v / 100) }

// Minor returns the minor version.
func (v SpecVersion) Minor() int32 { return int32(v % 100) }

// String returns "major.minor".
func (v SpecVersion) String() string { return fmt.Sprintf("%d.%d", v/100, v%100) }

// definedIn reports whether version major.minor lies in [since, until]; an
// until of zero has no upper bound, so versions newer than 2.1 keep
// everything 2.1 defines.
func definedIn(since, until SpecVersion, major, minor int32) bool {
	v := specVersion(major, minor)
	return v != 0 && v >= since && (until == 0 || v <= until)
}

// tagEntry is one row of the generated tag table.
type tagEntry struct {
	name   string // XML name, "" for an unassigned value
	spec   string // name in the specification
	since  SpecVersion
	until  SpecVersion
	type1x ttlv.Type
	type2x ttlv.Type
	enum   *enumTable
}

// tagName pairs an XML name with its tag in the name-sorted index.
type tagNameEntry struct {
	name string
	tag  ttlv.Tag
}

// enumEntry is one value (or mask bit) of an enumeration.
type enumEntry struct {
	value uint32
	name  string // XML name
	since SpecVersion
	until SpecVersion
}

// enumTable is one enumeration or bit mask. byValue holds one entry per
// value, sorted by value, with the name to print; byName holds every
// accepted spelling (older or misprinted names too), sorted by name.
type enumTable struct {
	name    string // in the specification, e.g. "Cryptographic Algorithm"
	mask    bool
	isTag   bool // Attribute Reference: the values are tags (KMIP 2.0 §11.54)
	byValue []enumEntry
	byName  []enumEntry
}

// tagValues stands for the Tag enumeration, whose values are the tags
// themselves.
var tagValues = enumTable{name: "Tag", isTag: true}

func (e *enumTable) lookup(v uint32) (enumEntry, bool) {
	i, ok := slices.BinarySearchFunc(e.byValue, v, func(x enumEntry, v uint32) int {
		switch {
		case x.value < v:
			return -1
		case x.value > v:
			return 1
		}
		return 0
	})
	if !ok {
		return enumEntry{}, false
	}
	return e.byValue[i], true
}

func (e *enumTable) valueOf(name string) (uint32, bool) {
	i, ok := slices.BinarySearchFunc(e.byName, name, func(x enumEntry, n string) int {
		return strings.Compare(x.name, n)
	})
	if !ok {
		return 0, false
	}
	return e.byName[i].value, true
}

// format is the String method of the generated enumeration types: the
// value's name, or for an unknown value its number as "0x%08X" (the XML
// encoding's spelling of extension values). A mask prints the names of its
// bits separated by spaces, unknown bits as one hex number.
func (e *enumTable) format(v uint32) string {
	if !e.mask {
		if x, ok := e.lookup(v); ok {
			return x.name
		}
		return fmt.Sprintf("0x%08X", v)
	}
	var b strings.Builder
	rest := v
	for _, x := range e.byValue {
		if x.value != 0 && v&x.value == x.value {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(x.name)
			rest &^= x.value
		}
	}
	if rest != 0 || v == 0 {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "0x%08X", rest)
	}
	return b.String()
}

func lookupTag(t ttlv.Tag) (*tagEntry, bool) {
	if t < tagBase || int(t-tagBase) >= len(tagTable) {
		return nil, false
	}
	e := &tagTable[t-tagBase]
	return e, e.name != ""
}

// TagInfo describes a tag of KMIP 1.0-2.1.
type TagInfo struct {
	Tag ttlv.Tag
	// Name is the tag's name in the XML and JSON encodings,
	// e.g. "IVCounterNonce".
	Name string
	// SpecName is the name as printed in the specification,
	// e.g. "IV/Counter/Nonce".
	SpecName string
	// Since and Until are the first and last versions that define the tag;
	// Until is zero for a tag still defined in 2.1.
	Since, Until SpecVersion
	// Type1x and Type2x are the item type the 1.x and 2.x specifications
	// give the tag (the most common one where several are allowed, e.g.
	// Key Value is a Byte String when wrapped), zero when the tag is not
	// defined in that major version, when the type depends on context
	// (Attribute Value) or when the specification does not say.
	Type1x, Type2x ttlv.Type
	// Enum is the specification name of the enumeration or bit mask the
	// tag's Enumeration (or mask Integer) values come from, "" if none.
	// Attribute Reference has "Tag": its values are tags.
	Enum string
}

// LookupTag returns what the specifications say about tag t.
func LookupTag(t ttlv.Tag) (TagInfo, bool) {
	e, ok := lookupTag(t)
	if !ok {
		return TagInfo{}, false
	}
	info := TagInfo{Tag: t, Name: e.name, SpecName: e.spec, Since: e.since, Until: e.until, Type1x: e.type1x, Type2x: e.type2x}
	if e.enum != nil {
		info.Enum = e.enum.name
	}
	return info, true
}

// TagDefinedIn reports whether protocol version major.minor defines tag t
// (e.g. Template-Attribute only in 1.x, Attributes from 2.0 on). Tags
// unknown to the tables, including extensions (0x54xxxx), are not defined.
func TagDefinedIn(t ttlv.Tag, major, minor int32) bool {
	e, ok := lookupTag(t)
	return ok && definedIn(e.since, e.until, major, minor)
}

// TagString returns the tag's XML name, or "0x%06X" for a tag the tables
// do not know, for log and error messages.
func TagString(t ttlv.Tag) string {
	if e, ok := lookupTag(t); ok {
		return e.name
	}
	return fmt.Sprintf("0x%06X", uint32(t))
}

// EnumDefinedIn reports whether protocol version major.minor defines value
// v of the enumeration (or the mask bits of v) used by tag t. It is false
// for a tag without an enumeration. Extension values (0x8XXXXXXX) are not
// in the tables and so never defined.
func EnumDefinedIn(t ttlv.Tag, v uint32, major, minor int32) bool {
	te, ok := lookupTag(t)
	if !ok || te.enum == nil {
		return false
	}
	e := te.enum
	if e.isTag {
		return TagDefinedIn(ttlv.Tag(v), major, minor)
	}
	if !e.mask {
		x, ok := e.lookup(v)
		return ok && definedIn(x.since, x.until, major, minor)
	}
	for _, x := range e.byValue {
		if v&x.value != 0 {
			if !definedIn(x.since, x.until, major, minor) {
				return false
			}
			v &^= x.value
		}
	}
	return v == 0
}

// AttributeInfo describes an attribute: 1.4 §3 and 2.x §4, each
// attribute's "Attribute Rules" table (1.4 Table 54).
type AttributeInfo struct {
	// Name is the specification's name, which is the 1.x Attribute Name
	// ("Cryptographic Algorithm").
	Name string
	// Tag is the attribute's own tag, which 2.x uses to carry it. The 2.x
	// Vendor Attribute is an Attribute structure (2.0 §4.53).
	Tag ttlv.Tag
	// Since and Until are the first and last versions in which this is an
	// attribute (Until zero: still in 2.1). They can differ from the tag's:
	// Key Format Type is a tag since 1.0 but an attribute since 2.0.
	Since, Until SpecVersion

	// AlwaysPresent: "SHALL always have a value" (Yes, possibly with
	// exceptions such as "Yes (Except for Opaque Object)").
	AlwaysPresent bool
	// ServerModifiable: "Modifiable by server".
	ServerModifiable bool
	// ClientModifiable: "Modifiable by client".
	ClientModifiable bool
	// ClientDeletable: "Deletable by client".
	ClientDeletable bool
	// MultiInstance: "Multiple instances permitted".
	MultiInstance bool
	// The booleans above are true when the specification's answer begins
	// with "Yes", even if it goes on with a condition ("Yes, only while in
	// Pre-Active state"); the texts below are the specification's.
	InitiallySetBy  string // "Initially set by"
	ImplicitlySetBy string // "When implicitly set"
	AppliesTo       string // "Applies to Object Types"
}

// DefinedIn reports whether protocol version major.minor has the
// attribute.
func (a AttributeInfo) DefinedIn(major, minor int32) bool {
	return definedIn(a.Since, a.Until, major, minor)
}

// AttributeByName returns the attribute with the specification name name
// ("Cryptographic Usage Mask"), exactly as spelt. 1.x custom attributes
// ("x-...", "y-...") are not in the table.
func AttributeByName(name string) (AttributeInfo, bool) {
	i, ok := attributeIndexByName[name]
	if !ok {
		return AttributeInfo{}, false
	}
	return attributeTable[i], true
}

// attributeIndexByName maps each name of attributeTable to its index. The
// names share long prefixes ("Cryptographic ..."), so a binary search
// compared most of them several times; every Create and Register looks up
// some twenty.
var attributeIndexByName = func() map[string]int {
	m := make(map[string]int, len(attributeTable))
	for i, a := range attributeTable {
		m[a.Name] = i
	}
	return m
}()

// AttributeByTag returns the attribute carried by tag t in 2.x. Vendor
// Attribute is found by name only: its tag, Attribute, is also the 1.x
// wrapper of every attribute.
func AttributeByTag(t ttlv.Tag) (AttributeInfo, bool) {
	i, ok := slices.BinarySearchFunc(attributesByTag[:], t, func(x attributeTagEntry, t ttlv.Tag) int {
		switch {
		case x.tag < t:
			return -1
		case x.tag > t:
			return 1
		}
		return 0
	})
	if !ok {
		return AttributeInfo{}, false
	}
	return attributeTable[attributesByTag[i].index], true
}

// Attributes returns every attribute of KMIP 1.0-2.1, sorted by name.
func Attributes() []AttributeInfo { return slices.Clone(attributeTable[:]) }

type attributeTagEntry struct {
	tag   ttlv.Tag
	index int
}

// Names gives the KMIP spelling of tags, enumeration values and mask bits
// to the ttlv XML and JSON encodings (it implements ttlv.Names and
// ttlv.ContextNames). It is immutable and safe for concurrent use; build
// one with NewNames and share it.
type Names struct {
	tags  map[string]ttlv.Tag
	enums map[enumKey]uint32
	masks map[ttlv.Tag][]ttlv.MaskBit
}

type enumKey struct {
	enum *enumTable
	name string
}

var _ ttlv.ContextNames = (*Names)(nil)

// NewNames returns the names of KMIP 1.0-2.1. It indexes about 1500 names
// in maps: build it once and share it.
//
// The names do not depend on the protocol version: a tag or value keeps its
// name in every version that defines it, and where the specifications
// renamed a value (1.4 "SHA-3-256", 2.0 "SHA3-256") the newest spelling is
// printed and every spelling accepted.
func NewNames() *Names {
	n := &Names{
		tags:  make(map[string]ttlv.Tag, len(tagsByName)),
		enums: map[enumKey]uint32{},
		masks: map[ttlv.Tag][]ttlv.MaskBit{},
	}
	for _, x := range tagsByName {
		n.tags[x.name] = x.tag
	}
	for i := range tagTable {
		e := &tagTable[i]
		if e.name == "" || e.enum == nil || e.enum.isTag {
			continue
		}
		if !e.enum.mask {
			for _, x := range e.enum.byName {
				n.enums[enumKey{e.enum, x.name}] = x.value
			}
			continue
		}
		bits := make([]ttlv.MaskBit, len(e.enum.byValue))
		for j, x := range e.enum.byValue {
			bits[j] = ttlv.MaskBit{Name: x.name, Value: x.value}
		}
		n.masks[tagBase+ttlv.Tag(i)] = bits
	}
	return n
}

// TagName returns the XML name of tag t ("ProtocolVersionMajor").
func (n *Names) TagName(t ttlv.Tag) (string, bool) {
	e, ok := lookupTag(t)
	if !ok {
		return "", false
	}
	return e.name, true
}

// TagByName returns the tag with XML name name.
func (n *Names) TagByName(name string) (ttlv.Tag, bool) {
	t, ok := n.tags[name]
	return t, ok
}

// EnumName returns the XML name of value v of the Enumeration items of tag
// t ("SymmetricKey" for Object Type 2). For Attribute Reference the value
// is a tag and the name the tag's.
func (n *Names) EnumName(t ttlv.Tag, v uint32) (string, bool) {
	te, ok := lookupTag(t)
	if !ok || te.enum == nil || te.enum.mask {
		return "", false
	}
	if te.enum.isTag {
		return n.TagName(ttlv.Tag(v))
	}
	x, ok := te.enum.lookup(v)
	return x.name, ok
}

// EnumByName is the inverse of EnumName; it also accepts names the
// specifications used for the value before (see NewNames).
func (n *Names) EnumByName(t ttlv.Tag, name string) (uint32, bool) {
	te, ok := lookupTag(t)
	if !ok || te.enum == nil || te.enum.mask {
		return 0, false
	}
	if te.enum.isTag {
		tag, ok := n.TagByName(name)
		return uint32(tag), ok
	}
	v, ok := n.enums[enumKey{te.enum, name}]
	return v, ok
}

// MaskBits returns the bits of the bit mask that Integer items of tag t
// hold (Cryptographic Usage Mask, Storage Status Mask, Protection Storage
// Mask), nil for other tags. The slice belongs to n: do not modify it.
func (n *Names) MaskBits(t ttlv.Tag) []ttlv.MaskBit {
	return n.masks[t]
}

// ValueTag implements ttlv.ContextNames: a 1.x Attribute Value is spelt as
// the attribute named by the preceding Attribute Name (KMIP 1.4 §2.1.1),
// e.g. Cryptographic Algorithm values after "Cryptographic Algorithm".
// Runs of spaces in the name are read as one space, for the attribute
// names of the 1.0-1.2 test vectors ("Activation   Date").
func (n *Names) ValueTag(t ttlv.Tag, preceding []ttlv.Value) ttlv.Tag {
	if t != TagAttributeValue {
		return t
	}
	var name string
	for _, p := range preceding {
		switch {
		case p.Tag == TagVendorIdentification:
			return t // a 2.x Vendor Attribute: the name is the vendor's
		case p.Tag == TagAttributeName && p.Type == ttlv.TypeTextString:
			name = p.Text()
		}
	}
	a, ok := AttributeByName(name)
	if !ok && strings.Contains(name, "  ") {
		a, ok = AttributeByName(strings.Join(strings.Fields(name), " "))
	}
	if !ok {
		return t
	}
	return a.Tag
}
