package ttlv

import (
	"fmt"
	"strconv"
	"strings"
)

var typeNames = [...]string{
	TypeStructure:        "Structure",
	TypeInteger:          "Integer",
	TypeLongInteger:      "LongInteger",
	TypeBigInteger:       "BigInteger",
	TypeEnumeration:      "Enumeration",
	TypeBoolean:          "Boolean",
	TypeTextString:       "TextString",
	TypeByteString:       "ByteString",
	TypeDateTime:         "DateTime",
	TypeInterval:         "Interval",
	TypeDateTimeExtended: "DateTimeExtended",
}

// String returns the type's name as spelled in the XML and JSON encodings
// (KMIP Profiles §5.4.1.4), e.g. "TextString", or "0x0C" for an unknown
// type.
func (t Type) String() string {
	if t.Valid() {
		return typeNames[t]
	}
	return fmt.Sprintf("0x%02X", uint8(t))
}

// Valid reports whether t is one of the item types of KMIP 1.4 §9.1.1.2 or
// 2.0 §10.1.1.2.
func (t Type) Valid() bool {
	return t >= TypeStructure && t <= TypeDateTimeExtended
}

// ParseType parses a type name as written by Type.String.
func ParseType(s string) (Type, bool) {
	for i, n := range typeNames {
		if n != "" && n == s {
			return Type(i), true
		}
	}
	return 0, false
}

// String returns the tag in the hex form of the XML and JSON encodings,
// e.g. "0x42006A".
func (t Tag) String() string {
	return fmt.Sprintf("0x%06X", uint32(t))
}

// ParseTag parses the hex form "0x42006A" of a tag (1 to 6 hex digits).
func ParseTag(s string) (Tag, bool) {
	h, ok := strings.CutPrefix(s, "0x")
	if !ok {
		h, ok = strings.CutPrefix(s, "0X")
	}
	if !ok || len(h) == 0 || len(h) > 6 {
		return 0, false
	}
	u, err := strconv.ParseUint(h, 16, 32)
	if err != nil {
		return 0, false
	}
	return Tag(u), true
}
