package ttlv

import (
	"testing"

	kmip "github.com/gemalto/kmip-go"
	gttlv "github.com/gemalto/kmip-go/ttlv"
)

// Benchmarks over exactly the bytes of ../../shared/bench, so that figures
// compare over time and with gemalto/kmip-go's codec (the Gemalto*
// benchmarks): go test -run x -bench . -benchmem ./ttlv/

func benchDecode(b *testing.B, file string) {
	msg := benchMessage(b, file)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := Decode(msg, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func benchEncode(b *testing.B, file string) {
	msg := benchMessage(b, file)
	v, err := Decode(msg, Limits{})
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, len(msg))
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		buf = Append(buf[:0], v)
	}
}

func BenchmarkDecodeCreateRequest(b *testing.B) { benchDecode(b, "create_request.hex") }
func BenchmarkEncodeCreateRequest(b *testing.B) { benchEncode(b, "create_request.hex") }
func BenchmarkDecodeGetResponse(b *testing.B)   { benchDecode(b, "get_response.hex") }
func BenchmarkEncodeGetResponse(b *testing.B)   { benchEncode(b, "get_response.hex") }

func benchGemaltoDecode(b *testing.B, file string) {
	msg := benchMessage(b, file)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		var v gttlv.Value
		if err := gttlv.Unmarshal(msg, &v); err != nil {
			b.Fatal(err)
		}
	}
}

func benchGemaltoEncode(b *testing.B, file string) {
	msg := benchMessage(b, file)
	var v gttlv.Value
	if err := gttlv.Unmarshal(msg, &v); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := gttlv.Marshal(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGemaltoDecodeCreateRequest(b *testing.B) { benchGemaltoDecode(b, "create_request.hex") }
func BenchmarkGemaltoEncodeCreateRequest(b *testing.B) { benchGemaltoEncode(b, "create_request.hex") }
func BenchmarkGemaltoDecodeGetResponse(b *testing.B)   { benchGemaltoDecode(b, "get_response.hex") }
func BenchmarkGemaltoEncodeGetResponse(b *testing.B)   { benchGemaltoEncode(b, "get_response.hex") }

// The GemaltoTyped benchmarks decode into gemalto's message structs, the way
// its server does (reflection), which is what the reference figures in
// shared/bench/README.md measure; encode marshals that struct again.

func benchGemaltoTyped[M any](b *testing.B, file string, encode bool) {
	msg := benchMessage(b, file)
	var m M
	if err := gttlv.Unmarshal(msg, &m); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if encode {
			if _, err := gttlv.Marshal(m); err != nil {
				b.Fatal(err)
			}
			continue
		}
		var m M
		if err := gttlv.Unmarshal(msg, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGemaltoTypedDecodeCreateRequest(b *testing.B) {
	benchGemaltoTyped[kmip.RequestMessage](b, "create_request.hex", false)
}

func BenchmarkGemaltoTypedEncodeCreateRequest(b *testing.B) {
	benchGemaltoTyped[kmip.RequestMessage](b, "create_request.hex", true)
}

func BenchmarkGemaltoTypedDecodeGetResponse(b *testing.B) {
	benchGemaltoTyped[kmip.ResponseMessage](b, "get_response.hex", false)
}

func BenchmarkGemaltoTypedEncodeGetResponse(b *testing.B) {
	benchGemaltoTyped[kmip.ResponseMessage](b, "get_response.hex", true)
}
