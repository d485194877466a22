package ttlv

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// A request in the style of the OASIS vectors (kmip-1.4 SKFF-M-1-14): 1.x
// attributes whose values are spelled after their Attribute Name.
const xmlCreateRequest = `
<!-- comment before -->
<RequestMessage>
  <RequestHeader>
    <ProtocolVersion>
      <ProtocolVersionMajor type="Integer" value="1"/>
      <ProtocolVersionMinor type="Integer" value="4"/>
    </ProtocolVersion>
	<BatchCount type="Integer" value="1"></BatchCount>
  </RequestHeader>
  <BatchItem>
    <Operation type="Enumeration" value="Create"/>
    <RequestPayload>
      <ObjectType type="Enumeration" value="SymmetricKey"/>
      <TemplateAttribute>
        <Attribute>
          <AttributeName type="TextString" value="Cryptographic Algorithm"/>
          <AttributeValue type="Enumeration" value="AES"/>
        </Attribute>
        <Attribute>
          <AttributeName type="TextString" value="Cryptographic Usage Mask"/>
          <AttributeValue type="Integer" value="Decrypt   Encrypt"/>
        </Attribute>
        <!-- an attribute without names -->
        <TTLV tag="0x540001" type="Enumeration" value="0x80000001"/>
        <TTLV tag="0x540002">
          <TTLV tag="0x540003" type="TextString" value="&#913; I18N "/>
        </TTLV>
      </TemplateAttribute>
    </RequestPayload>
  </BatchItem>
</RequestMessage>
`

func xmlCreateRequestValue() Value {
	return Struct(tagRequestMessage,
		Struct(tagRequestHeader,
			Struct(tagProtocolVersion, Int(tagProtocolVersionMajor, 1), Int(tagProtocolVersionMinor, 4)),
			Int(tagBatchCount, 1)),
		Struct(tagBatchItem,
			Enum(tagOperation, 1),
			Struct(tagRequestPayload,
				Enum(tagObjectType, 2),
				Struct(tagTemplateAttribute,
					Struct(tagAttribute, Text(tagAttributeName, "Cryptographic Algorithm"), Enum(tagAttributeValue, 3)),
					Struct(tagAttribute, Text(tagAttributeName, "Cryptographic Usage Mask"), Int(tagAttributeValue, 12)),
					Enum(0x540001, 0x80000001),
					Struct(0x540002, Text(0x540003, "Α I18N ")),
				))))
}

func TestUnmarshalXMLVectorStyle(t *testing.T) {
	v, err := UnmarshalXML([]byte(xmlCreateRequest), testNames{})
	if err != nil {
		t.Fatal(err)
	}
	if want := xmlCreateRequestValue(); !Equal(v, want) {
		t.Fatalf("got\n%s\nwant\n%s", Format(v, testNames{}), Format(want, testNames{}))
	}
	out, err := MarshalXML(v, testNames{})
	if err != nil {
		t.Fatal(err)
	}
	const want = `<RequestMessage>
  <RequestHeader>
    <ProtocolVersion>
      <ProtocolVersionMajor type="Integer" value="1"/>
      <ProtocolVersionMinor type="Integer" value="4"/>
    </ProtocolVersion>
    <BatchCount type="Integer" value="1"/>
  </RequestHeader>
  <BatchItem>
    <Operation type="Enumeration" value="Create"/>
    <RequestPayload>
      <ObjectType type="Enumeration" value="SymmetricKey"/>
      <TemplateAttribute>
        <Attribute>
          <AttributeName type="TextString" value="Cryptographic Algorithm"/>
          <AttributeValue type="Enumeration" value="AES"/>
        </Attribute>
        <Attribute>
          <AttributeName type="TextString" value="Cryptographic Usage Mask"/>
          <AttributeValue type="Integer" value="Encrypt Decrypt"/>
        </Attribute>
        <TTLV tag="0x540001" type="Enumeration" value="0x80000001"/>
        <TTLV tag="0x540002">
          <TTLV tag="0x540003" type="TextString" value="Α I18N "/>
        </TTLV>
      </TemplateAttribute>
    </RequestPayload>
  </BatchItem>
</RequestMessage>`
	if string(out) != want {
		t.Errorf("MarshalXML =\n%s\nwant\n%s", out, want)
	}
}

func TestXMLScalars(t *testing.T) {
	const tg = Tag(0x540001)
	mask := tagCryptographicUsageMask
	tests := []struct {
		tag     Tag
		typ     string
		in      string
		want    Value
		wantErr error
	}{
		{tg, "Integer", "1", Int(tg, 1), nil},
		{tg, "Integer", "-5", Int(tg, -5), nil},
		{tg, "Integer", "0x0000000C", Int(tg, 12), nil},
		{tg, "Integer", "0xFFFFFFFF", Int(tg, -1), nil},
		{tg, "Integer", "1.5", Value{}, ErrBadValue},
		{tg, "Integer", "", Value{}, ErrBadValue},
		{tg, "Integer", "Encrypt", Value{}, ErrBadValue},
		{tg, "Integer", "2147483648", Value{}, ErrBadValue},
		{mask, "Integer", "Encrypt Decrypt", Int(mask, 12), nil},
		{mask, "Integer", "Decrypt\tEncrypt\n", Int(mask, 12), nil},
		{mask, "Integer", "Decrypt|Encrypt", Int(mask, 12), nil},
		{mask, "Integer", "Encrypt 0x00100000", Int(mask, 0x100004), nil},
		{mask, "Integer", "12", Int(mask, 12), nil},
		{mask, "Integer", "Encrypt Frobnicate", Value{}, ErrUnknownName},
		{tagOperation, "Enumeration", "Get", Enum(tagOperation, 10), nil},
		{tagOperation, "Enumeration", "0x80000001", Enum(tagOperation, 0x80000001), nil},
		{tagOperation, "Enumeration", "7", Enum(tagOperation, 7), nil},
		{tagOperation, "Enumeration", "Frobnicate", Value{}, ErrUnknownName},
		{tagOperation, "Enumeration", "0x123456789", Value{}, ErrBadValue},
		{tg, "Boolean", "true", Bool(tg, true), nil},
		{tg, "Boolean", "false", Bool(tg, false), nil},
		{tg, "Boolean", "0x0000000000000001", Bool(tg, true), nil},
		{tg, "Boolean", "yes", Value{}, ErrBadValue},
		{tg, "LongInteger", "16", Long(tg, 16), nil},
		{tg, "LongInteger", "-9223372036854775808", Long(tg, -1<<63), nil},
		{tg, "LongInteger", "0x7FFFFFFFFFFFFFFF", Long(tg, 1<<63-1), nil},
		{tg, "LongInteger", "x", Value{}, ErrBadValue},
		{tg, "BigInteger", "0000000000010001", BigIntRaw(tg, []byte{0, 0, 0, 0, 0, 1, 0, 1}), nil},
		{tg, "BigInteger", "0x0000000000010001", BigIntRaw(tg, []byte{0, 0, 0, 0, 0, 1, 0, 1}), nil},
		{tg, "BigInteger", "FF", BigIntRaw(tg, bytes.Repeat([]byte{0xFF}, 8)), nil},
		{tg, "BigInteger", "123", BigIntRaw(tg, []byte{0, 0, 0, 0, 0, 0, 1, 0x23}), nil},
		{tg, "BigInteger", "zz", Value{}, ErrBadValue},
		{tg, "ByteString", "ff0203", Bytes(tg, []byte{0xFF, 2, 3}), nil},
		{tg, "ByteString", "FF0203", Bytes(tg, []byte{0xFF, 2, 3}), nil},
		{tg, "ByteString", "", Bytes(tg, nil), nil},
		{tg, "ByteString", "abc", Value{}, ErrBadValue},
		{tg, "DateTime", "2000-02-01T00:00:00+10:00", DateTime(tg, time.Date(2000, 1, 31, 14, 0, 0, 0, time.UTC)), nil},
		{tg, "DateTime", "1970-01-01T00:00:06+00:00", DateTime(tg, time.Unix(6, 0)), nil},
		{tg, "DateTime", "1970-01-01T00:00:06Z", DateTime(tg, time.Unix(6, 0)), nil},
		{tg, "DateTime", "0x0000000000000006", DateTime(tg, time.Unix(6, 0)), nil},
		{tg, "DateTime", "yesterday", Value{}, ErrBadValue},
		{tg, "DateTime", "$NOW", Value{}, ErrBadValue},
		{tg, "DateTimeExtended", "2026-01-02T03:04:05.678901+00:00", DateTimeExtended(tg, time.Date(2026, 1, 2, 3, 4, 5, 678901000, time.UTC)), nil},
		{tg, "Interval", "3600", Interval(tg, 3600), nil},
		{tg, "Interval", "-1", Value{}, ErrBadValue},
		{tg, "TextString", "… I18N Test - HEX CE91 ", Text(tg, "… I18N Test - HEX CE91 "), nil},
		{tg, "TextString", "&#913;&lt;&amp;&#xA;", Text(tg, "Α<&\n"), nil},
		{tg, "TextString", "$UNIQUE_IDENTIFIER_0", Text(tg, "$UNIQUE_IDENTIFIER_0"), nil},
		{tg, "Frobnicate", "1", Value{}, ErrBadType},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%v %s %q", tc.tag, tc.typ, tc.in), func(t *testing.T) {
			doc := fmt.Sprintf(`<TTLV tag="%v" type="%s" value="%s"/>`, tc.tag, tc.typ, tc.in)
			v, err := UnmarshalXML([]byte(doc), testNames{})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !IsEncodingError(err) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !Equal(v, tc.want) {
				t.Fatalf("got %v, want %v", v, tc.want)
			}
		})
	}
}

func TestXMLErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		lim  Limits
		want error
	}{
		{"empty", "", Limits{}, ErrSyntax},
		{"only a comment", "<!-- x -->", Limits{}, ErrSyntax},
		{"malformed", "<RequestMessage>", Limits{}, ErrSyntax},
		{"mismatched end", "<RequestMessage></ResponseMessage>", Limits{}, ErrSyntax},
		{"unknown element", "<Frobnicate/>", Limits{}, ErrUnknownName},
		{"TTLV without tag", `<TTLV type="Integer" value="1"/>`, Limits{}, ErrUnknownName},
		{"two elements", "<RequestMessage/><RequestMessage/>", Limits{}, ErrSyntax},
		{"text after", "<RequestMessage/>x", Limits{}, ErrSyntax},
		{"text in structure", "<RequestMessage>x</RequestMessage>", Limits{}, ErrSyntax},
		{"value on structure", `<RequestMessage value="1"/>`, Limits{}, ErrSyntax},
		{"element in primitive", `<BatchCount type="Integer" value="1"><BatchCount type="Integer" value="1"/></BatchCount>`, Limits{}, ErrSyntax},
		{"text in primitive", `<BatchCount type="Integer" value="1">1</BatchCount>`, Limits{}, ErrSyntax},
		{"too deep", "<RequestMessage><RequestHeader><BatchItem/></RequestHeader></RequestMessage>", Limits{MaxDepth: 2}, ErrTooDeep},
		{"too many items", `<RequestMessage><BatchCount type="Integer" value="1"/><BatchCount type="Integer" value="1"/></RequestMessage>`, Limits{MaxItems: 2}, ErrTooManyItems},
		{"too large", `<RequestMessage><UniqueIdentifier type="TextString" value="0123456789abcdef0"/></RequestMessage>`, Limits{MaxMessageSize: 39}, ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := XMLOptions{Names: testNames{}, Limits: tc.lim}.Unmarshal([]byte(tc.doc))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !IsEncodingError(err) {
				t.Errorf("IsEncodingError(%v) = false", err)
			}
		})
	}
	// The size bound counts binary TTLV: 8 + 8 + 24 = 40 bytes fit.
	ok := `<RequestMessage><UniqueIdentifier type="TextString" value="0123456789abcdef0"/></RequestMessage>`
	if _, err := (XMLOptions{Names: testNames{}, Limits: Limits{MaxMessageSize: 40}}).Unmarshal([]byte(ok)); err != nil {
		t.Errorf("message of exactly the size limit: %v", err)
	}
}

func TestXMLPlaceholder(t *testing.T) {
	const doc = `<RequestMessage>
  <TimeStamp type="DateTime" value="$NOW-3600"/>
  <UniqueIdentifier type="TextString" value="$UNIQUE_IDENTIFIER_0"/>
  <KeyMaterial type="ByteString" value="$DATA"/>
  <AttributeName type="TextString" value="$LITERAL"/>
</RequestMessage>`
	now := time.Unix(1767323045, 0)
	var calls []string
	o := XMLOptions{Names: testNames{}, Placeholder: func(tag Tag, typ Type, s string) (Value, bool, error) {
		calls = append(calls, fmt.Sprintf("%v %v %s", tag, typ, s))
		switch s {
		case "$NOW-3600":
			return DateTime(0, now.Add(-time.Hour)), true, nil
		case "$UNIQUE_IDENTIFIER_0":
			return Text(0, "id-1"), true, nil
		case "$DATA":
			return Bytes(0, []byte{1, 2}), true, nil
		}
		return Value{}, false, nil
	}}
	v, err := o.Unmarshal([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := Struct(tagRequestMessage,
		DateTime(tagTimeStamp, now.Add(-time.Hour)),
		Text(tagUniqueIdentifier, "id-1"),
		Bytes(tagKeyMaterial, []byte{1, 2}),
		Text(tagAttributeName, "$LITERAL"))
	if !Equal(v, want) {
		t.Errorf("got\n%v\nwant\n%v", v, want)
	}
	wantCalls := []string{
		"0x420092 DateTime $NOW-3600", "0x420094 TextString $UNIQUE_IDENTIFIER_0",
		"0x420043 ByteString $DATA", "0x42000A TextString $LITERAL",
	}
	if fmt.Sprint(calls) != fmt.Sprint(wantCalls) {
		t.Errorf("hook calls %q, want %q", calls, wantCalls)
	}

	boom := errors.New("no such placeholder")
	o.Placeholder = func(Tag, Type, string) (Value, bool, error) { return Value{}, false, boom }
	if _, err := o.Unmarshal([]byte(doc)); !errors.Is(err, boom) || !IsEncodingError(err) {
		t.Errorf("hook error: got %v", err)
	}
	// Without a hook, $NOW is not a date.
	if _, err := UnmarshalXML([]byte(doc), testNames{}); !errors.Is(err, ErrBadValue) {
		t.Errorf("no hook: got %v, want ErrBadValue", err)
	}
}

func TestDecodeXMLElementWalksAFile(t *testing.T) {
	doc := "<KMIP>\n<!-- test 1 -->\n" + xmlCreateRequest +
		`<ResponseMessage><BatchCount type="Integer" value="1"/></ResponseMessage>` + "\n</KMIP>\n"
	d := xml.NewDecoder(strings.NewReader(doc))
	var got []Value
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local != "KMIP" {
			v, err := DecodeXMLElement(d, se, testNames{})
			if err != nil {
				t.Fatalf("%s: %v", se.Name.Local, err)
			}
			got = append(got, v)
		}
	}
	if len(got) != 2 || !Equal(got[0], xmlCreateRequestValue()) || !Equal(got[1], Struct(tagResponseMessage, Int(tagBatchCount, 1))) {
		t.Fatalf("walked %d messages: %v", len(got), got)
	}
}

func TestXMLRoundTripRandom(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 200
	}
	for _, names := range []Names{nil, testNames{}} {
		r := rand.New(rand.NewPCG(9, 10))
		for i := range n {
			v := genValue(r, genOptions{names: names != nil, maxDepth: 4}, 0)
			x, err := MarshalXML(v, names)
			if err != nil {
				t.Fatalf("#%d: MarshalXML: %v", i, err)
			}
			got, err := UnmarshalXML(x, names)
			if err != nil {
				t.Fatalf("#%d: UnmarshalXML: %v\n%s", i, err, x)
			}
			if !Equal(got, v) {
				t.Fatalf("#%d: round trip differs\n%s\ngot\n%s\nwant\n%s", i, x, Format(got, nil), Format(v, nil))
			}
			compact, err := XMLOptions{Names: names}.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := UnmarshalXML(compact, names); err != nil || !Equal(got, v) {
				t.Fatalf("#%d: compact round trip: %v", i, err)
			}
		}
	}
}

func TestMarshalXMLRefusesWhatXMLCannotCarry(t *testing.T) {
	for _, v := range []Value{
		Text(0x540001, "a\x01b"),
		Text(0x540001, "\xff"),
		Struct(0x540001, Text(0x540002, "\x00")),
		{Tag: 0x540001, Type: 0x0C},
	} {
		if _, err := MarshalXML(v, nil); err == nil {
			t.Errorf("MarshalXML(%v) succeeded", v)
		}
	}
}
