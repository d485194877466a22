package ttlv

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

const jsonCreateRequest = `{"tag":"RequestMessage","value":[
  {"tag":"RequestHeader","value":[
    {"tag":"ProtocolVersion","value":[
      {"tag":"ProtocolVersionMajor","type":"Integer","value":1},
      {"tag":"ProtocolVersionMinor","type":"Integer","value":"0x00000004"}]},
    {"tag":"BatchCount","type":"Integer","value":1}]},
  {"value":[
    {"tag":"Operation","type":"Enumeration","value":"Create"},
    {"tag":"RequestPayload","value":[
      {"tag":"ObjectType","type":"Enumeration","value":"0x00000002"},
      {"tag":"TemplateAttribute","value":[
        {"tag":"Attribute","value":[
          {"tag":"AttributeName","type":"TextString","value":"Cryptographic Algorithm"},
          {"tag":"AttributeValue","type":"Enumeration","value":"AES"}]},
        {"tag":"Attribute","value":[
          {"tag":"AttributeName","type":"TextString","value":"Cryptographic Usage Mask"},
          {"tag":"AttributeValue","type":"Integer","value":"Encrypt|Decrypt"}]},
        {"tag":"0x540001","type":"Enumeration","value":2147483649},
        {"tag":"0x540002","value":[{"tag":"0x540003","type":"TextString","value":"\u0391 I18N "}]}]}]}],
   "tag":"BatchItem", "comment":{"ignored":[1,2,{"x":null}]}}]}`

func TestUnmarshalJSON(t *testing.T) {
	v, err := UnmarshalJSON([]byte(jsonCreateRequest), testNames{})
	if err != nil {
		t.Fatal(err)
	}
	if want := xmlCreateRequestValue(); !Equal(v, want) {
		t.Fatalf("got\n%s\nwant\n%s", Format(v, testNames{}), Format(want, testNames{}))
	}
	out, err := MarshalJSON(v, testNames{})
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"tag":"RequestMessage","value":[` +
		`{"tag":"RequestHeader","value":[{"tag":"ProtocolVersion","value":[` +
		`{"tag":"ProtocolVersionMajor","type":"Integer","value":1},{"tag":"ProtocolVersionMinor","type":"Integer","value":4}]},` +
		`{"tag":"BatchCount","type":"Integer","value":1}]},` +
		`{"tag":"BatchItem","value":[{"tag":"Operation","type":"Enumeration","value":"Create"},` +
		`{"tag":"RequestPayload","value":[{"tag":"ObjectType","type":"Enumeration","value":"SymmetricKey"},` +
		`{"tag":"TemplateAttribute","value":[` +
		`{"tag":"Attribute","value":[{"tag":"AttributeName","type":"TextString","value":"Cryptographic Algorithm"},{"tag":"AttributeValue","type":"Enumeration","value":"AES"}]},` +
		`{"tag":"Attribute","value":[{"tag":"AttributeName","type":"TextString","value":"Cryptographic Usage Mask"},{"tag":"AttributeValue","type":"Integer","value":"Encrypt|Decrypt"}]},` +
		`{"tag":"0x540001","type":"Enumeration","value":"0x80000001"},` +
		`{"tag":"0x540002","value":[{"tag":"0x540003","type":"TextString","value":"Α I18N "}]}]}]}]}]}`
	if string(out) != want {
		t.Errorf("MarshalJSON =\n%s\nwant\n%s", out, want)
	}
}

func TestJSONScalars(t *testing.T) {
	const tg = Tag(0x540001)
	mask := tagCryptographicUsageMask
	tests := []struct {
		tag     Tag
		typ     string
		in      string // JSON text of the value
		want    Value
		wantErr error
	}{
		{tg, "Integer", `-5`, Int(tg, -5), nil},
		{tg, "Integer", `"0xFFFFFFFF"`, Int(tg, -1), nil},
		{tg, "Integer", `1.5`, Value{}, ErrBadValue},
		{tg, "Integer", `2147483648`, Value{}, ErrBadValue},
		{tg, "Integer", `true`, Value{}, ErrBadValue},
		{mask, "Integer", `"Decrypt|Encrypt"`, Int(mask, 12), nil},
		{mask, "Integer", `"Encrypt|0x00000100"`, Int(mask, 0x104), nil},
		{mask, "Integer", `"Encrypt|Frob"`, Value{}, ErrUnknownName},
		{tg, "LongInteger", `9007199254740991`, Long(tg, 1<<53-1), nil},
		{tg, "LongInteger", `"0x8000000000000000"`, Long(tg, -1<<63), nil},
		{tg, "BigInteger", `"0x0000000000010001"`, BigIntRaw(tg, []byte{0, 0, 0, 0, 0, 1, 0, 1}), nil},
		{tg, "BigInteger", `-1`, BigIntRaw(tg, []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}), nil},
		{tg, "Enumeration", `"0x0000000A"`, Enum(tg, 10), nil},
		{tg, "Enumeration", `10`, Enum(tg, 10), nil},
		{tagOperation, "Enumeration", `"Get"`, Enum(tagOperation, 10), nil},
		{tagOperation, "Enumeration", `"Frob"`, Value{}, ErrUnknownName},
		{tg, "Boolean", `true`, Bool(tg, true), nil},
		{tg, "Boolean", `"0x0000000000000000"`, Bool(tg, false), nil},
		{tg, "Boolean", `1`, Value{}, ErrBadValue},
		{tg, "TextString", `"a\"b\\c\n"`, Text(tg, "a\"b\\c\n"), nil},
		{tg, "TextString", `5`, Value{}, ErrBadValue},
		{tg, "ByteString", `"DEADbeef"`, Bytes(tg, []byte{0xDE, 0xAD, 0xBE, 0xEF}), nil},
		{tg, "DateTime", `"2000-02-01T00:00:00+10:00"`, DateTime(tg, time.Date(2000, 1, 31, 14, 0, 0, 0, time.UTC)), nil},
		{tg, "DateTime", `"0x0000000000000006"`, DateTime(tg, time.Unix(6, 0)), nil},
		{tg, "DateTime", `6`, Value{}, ErrBadValue},
		{tg, "Interval", `3600`, Interval(tg, 3600), nil},
		{tg, "Interval", `"0x00000E10"`, Interval(tg, 3600), nil},
		{tg, "DateTimeExtended", `"2026-01-02T03:04:05.678901Z"`, DateTimeExtended(tg, time.Date(2026, 1, 2, 3, 4, 5, 678901000, time.UTC)), nil},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%v %s %s", tc.tag, tc.typ, tc.in), func(t *testing.T) {
			doc := fmt.Sprintf(`{"tag":"%v","type":"%s","value":%s}`, tc.tag, tc.typ, tc.in)
			v, err := UnmarshalJSON([]byte(doc), testNames{})
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

func TestJSONErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		lim  Limits
		want error
	}{
		{"empty", ``, Limits{}, ErrSyntax},
		{"not an object", `[]`, Limits{}, ErrSyntax},
		{"malformed", `{"tag":`, Limits{}, ErrSyntax},
		{"no tag", `{"value":[]}`, Limits{}, ErrSyntax},
		{"unknown tag", `{"tag":"Frob","value":[]}`, Limits{}, ErrUnknownName},
		{"unknown type", `{"tag":"BatchCount","type":"Frob","value":1}`, Limits{}, ErrBadType},
		{"tag not a string", `{"tag":1,"value":[]}`, Limits{}, ErrSyntax},
		{"duplicate tag", `{"tag":"BatchCount","tag":"BatchCount","type":"Integer","value":1}`, Limits{}, ErrSyntax},
		{"duplicate value", `{"tag":"BatchCount","type":"Integer","value":1,"value":2}`, Limits{}, ErrSyntax},
		{"object value", `{"tag":"BatchCount","type":"Integer","value":{}}`, Limits{}, ErrSyntax},
		{"null value", `{"tag":"BatchCount","type":"Integer","value":null}`, Limits{}, ErrSyntax},
		{"missing value", `{"tag":"BatchCount","type":"Integer"}`, Limits{}, ErrSyntax},
		{"array for primitive", `{"tag":"BatchCount","type":"Integer","value":[]}`, Limits{}, ErrSyntax},
		{"scalar for structure", `{"tag":"RequestMessage","value":1}`, Limits{}, ErrSyntax},
		{"non-object member", `{"tag":"RequestMessage","value":[1]}`, Limits{}, ErrSyntax},
		{"trailing data", `{"tag":"RequestMessage","value":[]} {}`, Limits{}, ErrSyntax},
		{"too deep", `{"tag":"RequestMessage","value":[{"tag":"RequestHeader","value":[{"tag":"BatchItem"}]}]}`, Limits{MaxDepth: 2}, ErrTooDeep},
		{"too deep in unknown member", `{"tag":"RequestMessage","x":[[[[1]]]]}`, Limits{MaxDepth: 3}, ErrTooDeep},
		{"too many items", `{"tag":"RequestMessage","value":[{"tag":"BatchItem"},{"tag":"BatchItem"}]}`, Limits{MaxItems: 2}, ErrTooManyItems},
		{"too large", `{"tag":"RequestMessage","value":[{"tag":"BatchItem"},{"tag":"BatchItem"}]}`, Limits{MaxMessageSize: 23}, ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := JSONOptions{Names: testNames{}, Limits: tc.lim}.Unmarshal([]byte(tc.doc))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !IsEncodingError(err) {
				t.Errorf("IsEncodingError(%v) = false", err)
			}
		})
	}
}

func TestJSONPlaceholder(t *testing.T) {
	doc := `{"tag":"RequestMessage","value":[
		{"tag":"TimeStamp","type":"DateTime","value":"$NOW"},
		{"tag":"UniqueIdentifier","type":"TextString","value":"$UNIQUE_IDENTIFIER_0"},
		{"tag":"BatchCount","type":"Integer","value":1}]}`
	now := time.Unix(1767323045, 0)
	o := JSONOptions{Names: testNames{}, Placeholder: func(tag Tag, typ Type, s string) (Value, bool, error) {
		if s == "$NOW" && typ == TypeDateTime {
			return DateTime(0, now), true, nil
		}
		return Value{}, false, nil
	}}
	v, err := o.Unmarshal([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := Struct(tagRequestMessage, DateTime(tagTimeStamp, now), Text(tagUniqueIdentifier, "$UNIQUE_IDENTIFIER_0"), Int(tagBatchCount, 1))
	if !Equal(v, want) {
		t.Errorf("got\n%v\nwant\n%v", v, want)
	}
	boom := errors.New("boom")
	o.Placeholder = func(Tag, Type, string) (Value, bool, error) { return Value{}, false, boom }
	if _, err := o.Unmarshal([]byte(doc)); !errors.Is(err, boom) {
		t.Errorf("hook error: got %v", err)
	}
}

func TestJSONRoundTripRandom(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 200
	}
	for _, names := range []Names{nil, testNames{}} {
		r := rand.New(rand.NewPCG(11, 12))
		for i := range n {
			v := genValue(r, genOptions{names: names != nil, maxDepth: 4}, 0)
			j, err := MarshalJSON(v, names)
			if err != nil {
				t.Fatalf("#%d: MarshalJSON: %v", i, err)
			}
			got, err := UnmarshalJSON(j, names)
			if err != nil {
				t.Fatalf("#%d: UnmarshalJSON: %v\n%s", i, err, j)
			}
			if !Equal(got, v) {
				t.Fatalf("#%d: round trip differs\n%s\ngot\n%s\nwant\n%s", i, j, Format(got, nil), Format(v, nil))
			}
		}
	}
}

func TestMarshalJSONRefusesBadText(t *testing.T) {
	if _, err := MarshalJSON(Text(0x540001, "\xff"), nil); err == nil {
		t.Errorf("MarshalJSON of invalid UTF-8 succeeded")
	}
	if _, err := MarshalJSON(Value{Tag: 1, Type: 0}, nil); err == nil {
		t.Errorf("MarshalJSON of an untyped Value succeeded")
	}
}
