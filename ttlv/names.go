package ttlv

// Names maps tags and enumeration values to their KMIP spelling for the XML
// and JSON encodings and for Format (KMIP Profiles §5.4.1.3 "Normalizing
// Names"). This package has no names of its own: the kmip package provides
// them. Every method must be safe for concurrent use.
type Names interface {
	// TagName returns the tag's name, e.g. "ProtocolVersionMajor".
	TagName(t Tag) (string, bool)
	// TagByName is the inverse of TagName.
	TagByName(name string) (Tag, bool)
	// EnumName returns the name of value v of the Enumeration items of tag
	// t, e.g. "SymmetricKey".
	EnumName(t Tag, v uint32) (string, bool)
	// EnumByName is the inverse of EnumName.
	EnumByName(t Tag, name string) (uint32, bool)
	// MaskBits returns the bits of Integer items of tag t when they are a
	// bit mask (e.g. Cryptographic Usage Mask), nil otherwise.
	MaskBits(t Tag) []MaskBit
}

// MaskBit names one bit (or group of bits) of an Integer bit mask.
type MaskBit struct {
	Name  string
	Value uint32
}

// ContextNames may be implemented by a Names whose spelling of an item's
// value depends on the items before it in the same structure. KMIP 1.x
// Attribute Value is the case in point: its enumeration or mask is that of
// the attribute named by the sibling Attribute Name (KMIP 1.4 §2.1.1), e.g.
// <AttributeValue type="Enumeration" value="AES"/> after
// <AttributeName value="Cryptographic Algorithm"/>.
type ContextNames interface {
	Names
	// ValueTag returns the tag whose EnumName, EnumByName and MaskBits
	// apply to an item of tag t whose earlier siblings are preceding
	// (in order), or t itself when there is no such context.
	ValueTag(t Tag, preceding []Value) Tag
}

// valueTag returns the tag whose enumeration names apply to an item of tag
// t, consulting ContextNames when names implements it.
func valueTag(names Names, t Tag, preceding []Value) Tag {
	if cn, ok := names.(ContextNames); ok {
		return cn.ValueTag(t, preceding)
	}
	return t
}
