package kmip

import (
	"bytes"
	"context"
	"testing"

	"github.com/kmipd/kmipd/ttlv"
)

// Benchmarks of the per-message server path: decode, parse, dispatch,
// version filtering, response building and encoding, for the two requests
// a KMIP server answers most (Get of an AES key, Encrypt of a block of
// data), and the same through the connection loop over an in-memory pipe.
//
//	go test -run '^$' -bench 'HandleMessage|ServerConn' -benchmem ./kmip/

// benchGetRequest is a KMIP 1.4 Get of one object by Unique Identifier.
func benchGetRequest() []byte {
	return ttlv.Marshal(reqMessage(V1_4, nil,
		reqItem(OperationGet, ttlv.Text(TagUniqueIdentifier, "f3a5c1d2-7b4e-4a8f-9c3d-2e1f0a9b8c7d"))))
}

// benchGetHandler answers Get with a 256-bit AES Symmetric Key in Raw
// format, built afresh for every request as the service does.
func benchGetHandler() Handler {
	key := bytes.Repeat([]byte{0x5a}, 32)
	return HandlerFunc(func(_ context.Context, req *Request) (ttlv.Value, error) {
		id, _ := req.UniqueIdentifier()
		return Payload(
			ttlv.Enum(TagObjectType, uint32(ObjectTypeSymmetricKey)),
			ttlv.Text(TagUniqueIdentifier, id),
			ttlv.Struct(TagSymmetricKey,
				ttlv.Struct(TagKeyBlock,
					ttlv.Enum(TagKeyFormatType, uint32(KeyFormatTypeRaw)),
					ttlv.Struct(TagKeyValue, ttlv.Bytes(TagKeyMaterial, key)),
					ttlv.Enum(TagCryptographicAlgorithm, uint32(CryptographicAlgorithmAES)),
					ttlv.Int(TagCryptographicLength, 256))),
		), nil
	})
}

// benchEncryptRequest is a KMIP 1.4 Encrypt of 4096 bytes with AES-GCM.
func benchEncryptRequest() []byte {
	return ttlv.Marshal(reqMessage(V1_4, nil,
		reqItem(OperationEncrypt,
			ttlv.Text(TagUniqueIdentifier, "f3a5c1d2-7b4e-4a8f-9c3d-2e1f0a9b8c7d"),
			ttlv.Struct(TagCryptographicParameters,
				ttlv.Enum(TagBlockCipherMode, uint32(BlockCipherModeGCM)),
				ttlv.Enum(TagCryptographicAlgorithm, uint32(CryptographicAlgorithmAES)),
				ttlv.Int(TagTagLength, 16)),
			ttlv.Bytes(TagData, bytes.Repeat([]byte{0x33}, 4096)),
			ttlv.Bytes(TagIVCounterNonce, bytes.Repeat([]byte{0x01}, 12)))))
}

// benchEncryptHandler answers Encrypt with 4096 bytes of "ciphertext" (a
// fresh slice per request, as a cipher would produce) and a GCM tag.
func benchEncryptHandler() Handler {
	tag := bytes.Repeat([]byte{0x7e}, 16)
	return HandlerFunc(func(_ context.Context, req *Request) (ttlv.Value, error) {
		id, _ := req.UniqueIdentifier()
		data, _ := req.Payload.Child(TagData)
		ct := bytes.Clone(data.Bytes())
		return Payload(
			ttlv.Text(TagUniqueIdentifier, id),
			ttlv.Bytes(TagData, ct),
			ttlv.Bytes(TagAuthenticatedEncryptionTag, tag),
		), nil
	})
}

func benchHandleMessage(b *testing.B, h Handler, req []byte) {
	ctx := context.Background()
	opts := &MessageOptions{}
	// Sanity: the response is a success, so the benchmark measures the
	// path it means to.
	m := mustDecodeResponse(b, HandleMessage(ctx, h, req, opts))
	if len(m.Items) != 1 || m.Items[0].Status != ResultStatusSuccess {
		b.Fatalf("response %+v", m.Items)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	for b.Loop() {
		HandleMessage(ctx, h, req, opts)
	}
}

func BenchmarkHandleMessageGet(b *testing.B) {
	benchHandleMessage(b, benchGetHandler(), benchGetRequest())
}

func BenchmarkHandleMessageEncrypt(b *testing.B) {
	benchHandleMessage(b, benchEncryptHandler(), benchEncryptRequest())
}

func benchServerConn(b *testing.B, h Handler, req []byte) {
	client := servePipe(b, h)

	buf := make([]byte, 0, 16<<10)
	roundTrip := func() []byte {
		if _, err := client.Write(req); err != nil {
			b.Fatal(err)
		}
		resp, err := ttlv.ReadMessage(client, buf, ttlv.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		return resp
	}
	m := mustDecodeResponse(b, roundTrip())
	if len(m.Items) != 1 || m.Items[0].Status != ResultStatusSuccess {
		b.Fatalf("response %+v", m.Items)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	for b.Loop() {
		roundTrip()
	}
}

func BenchmarkServerConnGet(b *testing.B) {
	benchServerConn(b, benchGetHandler(), benchGetRequest())
}

func BenchmarkServerConnEncrypt(b *testing.B) {
	benchServerConn(b, benchEncryptHandler(), benchEncryptRequest())
}
