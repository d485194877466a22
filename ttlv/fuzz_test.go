package ttlv

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// Seeds live in testdata/fuzz/<target>/ (the bench messages and hand-made
// edge cases); TestWriteFuzzCorpus regenerates the hand-made ones.

// FuzzDecode checks that Decode never panics, that it fails with an
// encoding error or accepts, and that whatever it accepts re-encodes to the
// very same bytes (strict decoding makes the encoding canonical) and decodes
// again to an equal Value.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{})
	f.Add(Marshal(Struct(0x420078, Int(0x42006A, 1))))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Decode(b, Limits{MaxMessageSize: 1 << 16})
		// Check must agree with Decode, error for error.
		if cerr := Check(b, Limits{MaxMessageSize: 1 << 16}); (cerr == nil) != (err == nil) || (err != nil && cerr.Error() != err.Error()) {
			t.Fatalf("Check = %v, Decode = %v", cerr, err)
		}
		if err != nil {
			if !IsEncodingError(err) {
				t.Fatalf("error %v is not an encoding error", err)
			}
			return
		}
		out := Marshal(v)
		if !bytes.Equal(out, b) {
			t.Fatalf("re-encoding differs:\n in %x\nout %x", b, out)
		}
		v2, err := Decode(out, Limits{MaxMessageSize: 1 << 16})
		if err != nil || !Equal(v, v2) {
			t.Fatalf("decode of re-encoding: %v", err)
		}
	})
}

// FuzzReadMessage checks that ReadMessage never panics and returns either a
// prefix of the stream within the limit or an error.
func FuzzReadMessage(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x42, 0, 0x78, 1, 0xFF, 0xFF, 0xFF, 0xF8})
	f.Fuzz(func(t *testing.T, b []byte) {
		const limit = 4096
		msg, err := ReadMessage(bytes.NewReader(b), nil, Limits{MaxMessageSize: limit})
		if err != nil {
			return
		}
		if len(msg) > limit || !bytes.HasPrefix(b, msg) || msg[3] != byte(TypeStructure) {
			t.Fatalf("ReadMessage returned %x from %x", msg, b)
		}
	})
}

// FuzzUnmarshalXML checks that UnmarshalXML never panics, and that what it
// accepts survives XML and binary round trips.
func FuzzUnmarshalXML(f *testing.F) {
	f.Add([]byte(xmlCreateRequest))
	f.Add([]byte(`<TTLV tag="0x540001" type="Integer" value="Encrypt 0x1"/>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxMessageSize: 1 << 16, MaxItems: 1000}
		v, err := XMLOptions{Names: testNames{}, Limits: lim}.Unmarshal(data)
		if err != nil {
			if !IsEncodingError(err) {
				t.Fatalf("error %v is not an encoding error", err)
			}
			return
		}
		checkTextRoundTrips(t, v, lim)
	})
}

// FuzzUnmarshalJSON is FuzzUnmarshalXML for JSON.
func FuzzUnmarshalJSON(f *testing.F) {
	f.Add([]byte(jsonCreateRequest))
	f.Add([]byte(`{"tag":"0x540001","type":"Integer","value":"Encrypt|0x1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxMessageSize: 1 << 16, MaxItems: 1000}
		v, err := JSONOptions{Names: testNames{}, Limits: lim}.Unmarshal(data)
		if err != nil {
			if !IsEncodingError(err) {
				t.Fatalf("error %v is not an encoding error", err)
			}
			return
		}
		checkTextRoundTrips(t, v, lim)
	})
}

// checkTextRoundTrips checks that v, which came from XML or JSON, comes
// back equal from binary TTLV, from XML and from JSON.
func checkTextRoundTrips(t *testing.T, v Value, lim Limits) {
	t.Helper()
	if got, err := Decode(Marshal(v), lim); err != nil || !Equal(got, v) {
		t.Fatalf("binary round trip: %v", err)
	}
	if x, err := MarshalXML(v, testNames{}); err == nil {
		got, err := XMLOptions{Names: testNames{}, Limits: lim}.Unmarshal(x)
		if err != nil || !Equal(got, v) {
			t.Fatalf("XML round trip: %v\n%s", err, x)
		}
	}
	j, err := MarshalJSON(v, testNames{})
	if err != nil {
		t.Fatalf("MarshalJSON: %v", err)
	}
	got, err := JSONOptions{Names: testNames{}, Limits: lim}.Unmarshal(j)
	if err != nil || !Equal(got, v) {
		t.Fatalf("JSON round trip: %v\n%s", err, j)
	}
}

// TestWriteFuzzCorpus writes the hand-made seed corpus when
// TTLV_WRITE_CORPUS=1; otherwise it checks the committed seeds exist.
func TestWriteFuzzCorpus(t *testing.T) {
	seeds := map[string]map[string][]byte{
		"FuzzDecode":      decodeSeeds(),
		"FuzzReadMessage": readMessageSeeds(),
		"FuzzUnmarshalXML": {
			"create_request": []byte(xmlCreateRequest),
			"scalars": []byte(`<RequestMessage><TTLV tag="0x540001" type="DateTime" value="2000-02-01T00:00:00+10:00"/>` +
				`<TTLV tag="0x540002" type="BigInteger" value="FF"/><TTLV tag="0x540003" type="LongInteger" value="-9223372036854775808"/>` +
				`<TTLV tag="0x540004" type="DateTimeExtended" value="0x8000000000000000"/><TTLV tag="0x540005" type="ByteString" value="FF0203"/>` +
				`<TTLV tag="0x540006" type="Boolean" value="true"/><TTLV tag="0x540007" type="Interval" value="3600"/>` +
				`<CryptographicUsageMask type="Integer" value="Decrypt 0x80000000 Encrypt"/></RequestMessage>`),
			"placeholder": []byte(`<TimeStamp type="DateTime" value="$NOW-3600"/>`),
		},
		"FuzzUnmarshalJSON": {
			"create_request": []byte(jsonCreateRequest),
			"scalars": []byte(`{"tag":"RequestMessage","value":[{"tag":"0x540001","type":"LongInteger","value":"0x8000000000000000"},` +
				`{"tag":"0x540002","type":"BigInteger","value":-1},{"tag":"0x540003","type":"Boolean","value":false},` +
				`{"tag":"0x540004","type":"DateTimeExtended","value":"2026-01-02T03:04:05.678901Z"},` +
				`{"type":"Interval","value":"0x00000E10","tag":"0x540005"}]}`),
		},
	}
	write := os.Getenv("TTLV_WRITE_CORPUS") == "1"
	for target, files := range seeds {
		dir := filepath.Join("testdata", "fuzz", target)
		for name, b := range files {
			p := filepath.Join(dir, name)
			content := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
			if write {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if _, err := os.Stat(p); err != nil {
				t.Errorf("seed %s missing (regenerate with TTLV_WRITE_CORPUS=1): %v", p, err)
			}
		}
	}
}

func decodeSeeds() map[string][]byte {
	s := map[string][]byte{
		"empty_structure": Marshal(Struct(0x420078)),
		"all_types": Marshal(Struct(0x420078,
			Int(1, -1), Long(2, -1), BigIntRaw(3, []byte{0x80, 0, 0, 0, 0, 0, 0, 1}), Enum(4, 0x80000001),
			Bool(5, true), Text(6, "héllo"), Bytes(7, []byte{1, 2, 3}), Value{Tag: 8, Type: TypeDateTime, num: 1},
			Interval(9, 3600), Value{Tag: 10, Type: TypeDateTimeExtended, num: 1})),
		"primitive_root":    Marshal(Text(0x420094, "not a structure")),
		"bad_padding":       {0x42, 0, 0x78, 1, 0, 0, 0, 0x10, 0x42, 0, 0x6A, 2, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 1},
		"bad_boolean":       {0x42, 0, 0x78, 1, 0, 0, 0, 0x10, 0x42, 0, 0x6A, 6, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 2},
		"huge_length":       {0x42, 0, 0x78, 1, 0xFF, 0xFF, 0xFF, 0xF8},
		"child_exceeds":     {0x42, 0, 0x78, 1, 0, 0, 0, 8, 0x42, 0, 0x77, 1, 0, 0, 0, 8},
		"unknown_type":      {0x42, 0, 0x78, 0x0C, 0, 0, 0, 0},
		"trailing_bytes":    {0x42, 0, 0x78, 1, 0, 0, 0, 0, 0},
		"nested_too_deep":   nested(40),
		"nested_just_right": nested(DefaultMaxDepth),
	}
	r := rand.New(rand.NewPCG(13, 14))
	for i := range 4 {
		s[fmt.Sprintf("random_%d", i)] = Marshal(genValue(r, genOptions{maxDepth: 4}, 0))
	}
	return s
}

func nested(n int) []byte {
	v := Struct(0x420001)
	for range n - 1 {
		v = Struct(0x420001, v)
	}
	return Marshal(v)
}

func readMessageSeeds() map[string][]byte {
	msg := Marshal(Struct(0x420078, Int(0x42000D, 1)))
	return map[string][]byte{
		"whole":         msg,
		"two":           append(bytes.Clone(msg), msg...),
		"truncated":     msg[:len(msg)-3],
		"huge":          {0x42, 0, 0x78, 1, 0xFF, 0xFF, 0xFF, 0xF8},
		"not_structure": {0x42, 0, 0x0D, 2, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0},
	}
}
