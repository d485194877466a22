package ttlv

import (
	"strings"
	"testing"
	"time"
)

func TestFormat(t *testing.T) {
	v := Struct(tagRequestMessage,
		Struct(tagAttribute,
			Text(tagAttributeName, "Cryptographic Usage Mask"),
			Int(tagAttributeValue, 12)),
		Enum(tagObjectType, 2),
		Bytes(tagKeyMaterial, []byte{0xDE, 0xAD}),
		DateTime(tagTimeStamp, time.Unix(1767323045, 0)),
		Long(0x540001, -3), Bool(0x540002, true), Interval(0x540003, 60),
		BigIntRaw(0x540004, []byte{0, 0, 0, 0, 0, 1, 0, 1}),
	)
	want := `RequestMessage (Structure/168):
  Attribute (Structure/48):
    AttributeName (TextString/24): "Cryptographic Usage Mask"
    AttributeValue (Integer/4): Encrypt|Decrypt
  ObjectType (Enumeration/4): SymmetricKey
  KeyMaterial (ByteString/2): 0xdead
  TimeStamp (DateTime/8): 2026-01-02T03:04:05+00:00
  0x540001 (LongInteger/8): -3
  0x540002 (Boolean/8): true
  0x540003 (Interval/4): 60
  0x540004 (BigInteger/8): 0x0000000000010001`
	if got := Format(v, testNames{}); got != want {
		t.Errorf("Format =\n%s\nwant\n%s", got, want)
	}
	s := v.String()
	if strings.Contains(s, "dead") || !strings.Contains(s, "0x420043 (ByteString/2): <2 bytes>") ||
		!strings.Contains(s, "0x42000B (Integer/4): 12") {
		t.Errorf("String() =\n%s", s)
	}
}
