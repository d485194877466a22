package ttlv

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// String returns an indented dump of v for debugging, tags in hex. Byte
// String and Big Integer contents are shown by length only, since they may
// be key material and a Value printed with %v can end up in a log; use
// Format to see them.
func (v Value) String() string {
	var sb strings.Builder
	formatItem(&sb, &v, nil, 0, nil, true)
	return strings.TrimSuffix(sb.String(), "\n")
}

// Format returns an indented dump of v, one item per line, with names from
// names when it is not nil:
//
//	RequestMessage (Structure/368):
//	  RequestHeader (Structure/56):
//	    ProtocolVersionMajor (Integer/4): 1
//
// It shows every value in full, Byte Strings included: never log its output
// for messages that may carry secrets. It is not meant for hot paths.
func Format(v Value, names Names) string {
	var sb strings.Builder
	formatItem(&sb, &v, names, 0, nil, false)
	return strings.TrimSuffix(sb.String(), "\n")
}

func formatItem(sb *strings.Builder, v *Value, names Names, depth int, preceding []Value, redact bool) {
	for range depth {
		sb.WriteString("  ")
	}
	name := ""
	if names != nil {
		name, _ = names.TagName(v.Tag)
	}
	if name == "" {
		name = v.Tag.String()
	}
	var n int
	switch v.Type {
	case TypeTextString, TypeByteString, TypeBigInteger:
		n = len(v.raw)
	case TypeInteger, TypeEnumeration, TypeInterval:
		n = 4
	default:
		// A Structure's body, or the 8 bytes of the other scalars.
		n = encodedLen(v) - headerLen
	}
	fmt.Fprintf(sb, "%s (%v/%d)", name, v.Type, n)
	ctx := v.Tag
	if names != nil {
		ctx = valueTag(names, v.Tag, preceding)
	}
	if v.Type == TypeStructure {
		sb.WriteString(":\n")
		for i := range v.children {
			formatItem(sb, &v.children[i], names, depth+1, v.children[:i], redact)
		}
		return
	}
	sb.WriteString(": ")
	switch v.Type {
	case TypeInteger:
		s, _ := formatInt(names, ctx, v.Int(), "|")
		sb.WriteString(s)
	case TypeLongInteger:
		sb.WriteString(strconv.FormatInt(v.Long(), 10))
	case TypeEnumeration:
		sb.WriteString(formatEnum(names, ctx, v.Enum()))
	case TypeBoolean:
		sb.WriteString(strconv.FormatBool(v.Bool()))
	case TypeTextString:
		sb.WriteString(strconv.Quote(string(v.raw)))
	case TypeByteString, TypeBigInteger:
		if redact {
			fmt.Fprintf(sb, "<%d bytes>", len(v.raw))
		} else {
			sb.WriteString("0x")
			sb.WriteString(hex.EncodeToString(v.raw))
		}
	case TypeDateTime:
		sb.WriteString(formatDateTime(v.Long()))
	case TypeDateTimeExtended:
		sb.WriteString(formatDateTimeExtended(v.Long()))
	case TypeInterval:
		sb.WriteString(strconv.FormatUint(uint64(v.Interval()), 10))
	default:
		sb.WriteString("?")
	}
	sb.WriteString("\n")
}
