package ttlv

import (
	"encoding/hex"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Tags used by the tests, KMIP's values (KMIP 1.4 §9.1.3.1) spelled out
// here because this package has no names of its own.
const (
	tagAttribute              Tag = 0x420008
	tagAttributeName          Tag = 0x42000A
	tagAttributeValue         Tag = 0x42000B
	tagBatchCount             Tag = 0x42000D
	tagBatchItem              Tag = 0x42000F
	tagCryptographicAlgorithm Tag = 0x420028
	tagCryptographicLength    Tag = 0x42002A
	tagCryptographicUsageMask Tag = 0x42002C
	tagKeyMaterial            Tag = 0x420043
	tagObjectType             Tag = 0x420057
	tagOperation              Tag = 0x42005C
	tagProtocolVersion        Tag = 0x420069
	tagProtocolVersionMajor   Tag = 0x42006A
	tagProtocolVersionMinor   Tag = 0x42006B
	tagRequestHeader          Tag = 0x420077
	tagRequestMessage         Tag = 0x420078
	tagRequestPayload         Tag = 0x420079
	tagResponseMessage        Tag = 0x42007B
	tagTemplateAttribute      Tag = 0x420091
	tagTimeStamp              Tag = 0x420092
	tagUniqueIdentifier       Tag = 0x420094
)

// testNames is a small fake Names, with the Attribute Value context rule
// of KMIP 1.x (ContextNames).
type testNames struct{}

var testTagNames = map[Tag]string{
	tagAttribute:              "Attribute",
	tagAttributeName:          "AttributeName",
	tagAttributeValue:         "AttributeValue",
	tagBatchCount:             "BatchCount",
	tagBatchItem:              "BatchItem",
	tagCryptographicAlgorithm: "CryptographicAlgorithm",
	tagCryptographicLength:    "CryptographicLength",
	tagCryptographicUsageMask: "CryptographicUsageMask",
	tagKeyMaterial:            "KeyMaterial",
	tagObjectType:             "ObjectType",
	tagOperation:              "Operation",
	tagProtocolVersion:        "ProtocolVersion",
	tagProtocolVersionMajor:   "ProtocolVersionMajor",
	tagProtocolVersionMinor:   "ProtocolVersionMinor",
	tagRequestHeader:          "RequestHeader",
	tagRequestMessage:         "RequestMessage",
	tagRequestPayload:         "RequestPayload",
	tagResponseMessage:        "ResponseMessage",
	tagTemplateAttribute:      "TemplateAttribute",
	tagTimeStamp:              "TimeStamp",
	tagUniqueIdentifier:       "UniqueIdentifier",
}

var testEnumNames = map[Tag]map[uint32]string{
	tagOperation:              {1: "Create", 2: "CreateKeyPair", 10: "Get", 20: "Destroy"},
	tagObjectType:             {1: "Certificate", 2: "SymmetricKey", 3: "PublicKey"},
	tagCryptographicAlgorithm: {1: "DES", 2: "TripleDES", 3: "AES", 4: "RSA"},
}

var testMask = []MaskBit{
	{"Sign", 0x1}, {"Verify", 0x2}, {"Encrypt", 0x4}, {"Decrypt", 0x8},
	{"WrapKey", 0x10}, {"UnwrapKey", 0x20}, {"MACGenerate", 0x80}, {"MACVerify", 0x100},
}

func (testNames) TagName(t Tag) (string, bool) {
	s, ok := testTagNames[t]
	return s, ok
}

func (testNames) TagByName(name string) (Tag, bool) {
	for t, s := range testTagNames {
		if s == name {
			return t, true
		}
	}
	return 0, false
}

func (testNames) EnumName(t Tag, v uint32) (string, bool) {
	s, ok := testEnumNames[t][v]
	return s, ok
}

func (testNames) EnumByName(t Tag, name string) (uint32, bool) {
	for v, s := range testEnumNames[t] {
		if s == name {
			return v, true
		}
	}
	return 0, false
}

func (testNames) MaskBits(t Tag) []MaskBit {
	if t == tagCryptographicUsageMask {
		return testMask
	}
	return nil
}

// ValueTag implements the KMIP 1.x rule: an Attribute Value is spelled as
// the attribute its sibling Attribute Name names.
func (n testNames) ValueTag(t Tag, preceding []Value) Tag {
	if t != tagAttributeValue {
		return t
	}
	for i := len(preceding) - 1; i >= 0; i-- {
		if preceding[i].Tag == tagAttributeName && preceding[i].Type == TypeTextString {
			if at, ok := n.TagByName(strings.ReplaceAll(preceding[i].Text(), " ", "")); ok {
				return at
			}
			break
		}
	}
	return t
}

var _ ContextNames = testNames{}

// benchMessage returns the bytes of a message in ../../shared/bench, or
// skips the test when that folder is absent.
func benchMessage(tb testing.TB, name string) []byte {
	tb.Helper()
	p := filepath.Join("..", "..", "shared", "bench", name)
	h, err := os.ReadFile(p)
	if os.IsNotExist(err) {
		tb.Skipf("benchmark message %s absent (shared/ must sit beside the repository): %v", p, err)
	}
	if err != nil {
		tb.Fatalf("read %s: %v", p, err)
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(h)))
	if err != nil {
		tb.Fatalf("decode hex of %s: %v", p, err)
	}
	return b
}

var benchFiles = []string{"create_request.hex", "get_response.hex"}

// genOptions shapes random Values.
type genOptions struct {
	// sane keeps date-times within a few centuries, as gemalto's codec
	// (which goes through time.Time) needs.
	sane bool
	// names draws some tags from testTagNames.
	names bool
	// nonEmptyBytes avoids empty Byte Strings, which gemalto's generic
	// Value drops when it re-encodes.
	nonEmptyBytes bool
	// maxDepth bounds nesting.
	maxDepth int
}

var textAlphabet = []rune("abcXYZ 019_-<>&\"'\t\n\r$|αβ€😀")

func genText(r *rand.Rand) string {
	n := r.IntN(20)
	var sb strings.Builder
	for range n {
		sb.WriteRune(textAlphabet[r.IntN(len(textAlphabet))])
	}
	return sb.String()
}

func genBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

var allTags = func() []Tag {
	var ts []Tag
	for t := range testTagNames {
		ts = append(ts, t)
	}
	return ts
}()

func genTag(r *rand.Rand, o genOptions) Tag {
	if o.names && r.IntN(2) == 0 {
		return allTags[r.IntN(len(allTags))]
	}
	if r.IntN(2) == 0 {
		return Tag(0x420000 | r.IntN(0x10000))
	}
	return Tag(0x540000 | r.IntN(0x10000))
}

func genValue(r *rand.Rand, o genOptions, depth int) Value {
	tag := genTag(r, o)
	typ := Type(1 + r.IntN(11))
	if depth == 0 {
		typ = TypeStructure
	}
	if typ == TypeStructure && depth >= o.maxDepth {
		typ = TypeTextString
	}
	switch typ {
	case TypeStructure:
		n := r.IntN(6)
		kids := make([]Value, n)
		for i := range kids {
			kids[i] = genValue(r, o, depth+1)
		}
		if n == 0 {
			kids = nil
		}
		return Struct(tag, kids...)
	case TypeInteger:
		return Int(tag, int32(r.Uint32()))
	case TypeLongInteger:
		return Long(tag, int64(r.Uint64()))
	case TypeBigInteger:
		return BigIntRaw(tag, genBytes(r, 8*r.IntN(4)))
	case TypeEnumeration:
		if r.IntN(2) == 0 {
			return Enum(tag, uint32(r.IntN(5)))
		}
		return Enum(tag, r.Uint32())
	case TypeBoolean:
		return Bool(tag, r.IntN(2) == 1)
	case TypeTextString:
		return Text(tag, genText(r))
	case TypeByteString:
		n := r.IntN(40)
		if o.nonEmptyBytes {
			n++
		}
		return Bytes(tag, genBytes(r, n))
	case TypeDateTime:
		n := int64(r.Uint64())
		if o.sane || r.IntN(2) == 0 {
			n = r.Int64N(8e9) - 2e9
		}
		return Value{Tag: tag, Type: TypeDateTime, num: uint64(n)}
	case TypeDateTimeExtended:
		n := int64(r.Uint64())
		if o.sane || r.IntN(2) == 0 {
			n = r.Int64N(8e15) - 2e15
		}
		return Value{Tag: tag, Type: TypeDateTimeExtended, num: uint64(n)}
	default:
		return Interval(tag, r.Uint32())
	}
}

// mustHex decodes hex written with optional spaces and newlines.
func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		tb.Fatalf("bad test hex: %v", err)
	}
	return b
}
