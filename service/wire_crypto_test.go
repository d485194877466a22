package service

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// TestCryptoWire sends encoded 1.4 and 2.0 request messages through
// kmip.HandleMessage: a GCM Encrypt, a Decrypt without its IV (Invalid
// Message, batch continues) and an HMAC, and checks the encoded response
// items field by field.
func TestCryptoWire(t *testing.T) {
	env := cryptoNewEnv(t, cryptoDefaultCache)
	id := env.put(t, cryptoKey{typ: kmip.ObjectTypeSymmetricKey, alg: kmip.CryptographicAlgorithmAES, bits: 128,
		material: make([]byte, 16), mask: kmip.CryptographicUsageMaskEncrypt | kmip.CryptographicUsageMaskDecrypt})
	hm := env.put(t, cryptoKey{typ: kmip.ObjectTypeSymmetricKey, alg: kmip.CryptographicAlgorithmAES, bits: 128,
		material: cryptoHex(t, cryptoAESKey128), mask: kmip.CryptographicUsageMaskMACGenerate,
		params: cryptoParamsV(cryptoAlg(kmip.CryptographicAlgorithmHMACSHA256))})
	gcm := cryptoParamsV(cryptoMode(kmip.BlockCipherModeGCM), ttlv.Int(kmip.TagTagLength, 16))
	cbc := cryptoParamsV(cryptoMode(kmip.BlockCipherModeCBC))
	item := func(op kmip.Operation, fields ...ttlv.Value) ttlv.Value {
		return ttlv.Struct(kmip.TagBatchItem, ttlv.Enum(kmip.TagOperation, uint32(op)), ttlv.Struct(kmip.TagRequestPayload, fields...))
	}
	for _, ver := range cryptoVersions {
		t.Run(ver.String(), func(t *testing.T) {
			msg := ttlv.Struct(kmip.TagRequestMessage,
				ttlv.Struct(kmip.TagRequestHeader,
					kmip.ProtocolVersionValue(ver),
					ttlv.Enum(kmip.TagBatchErrorContinuationOption, uint32(kmip.BatchErrorContinuationOptionContinue)),
					ttlv.Int(kmip.TagBatchCount, 3)),
				item(kmip.OperationEncrypt, cryptoUID(id), gcm, cryptoData(make([]byte, 16)), cryptoIV(make([]byte, 12))),
				item(kmip.OperationDecrypt, cryptoUID(id), cbc, cryptoData(make([]byte, 16))),
				item(kmip.OperationMAC, cryptoUID(hm), cryptoData(cryptoHex(t, "01020304050607080910111213141516"))),
			)
			raw := kmip.HandleMessage(context.Background(), env.svc, ttlv.Marshal(msg), nil)
			resp, err := ttlv.Decode(raw, ttlv.Limits{})
			if err != nil {
				t.Fatalf("decode response: %v", err)
			}
			items := resp.All(kmip.TagBatchItem)
			if len(items) != 3 {
				t.Fatalf("%d batch items", len(items))
			}
			want := []struct {
				status kmip.ResultStatus
				reason kmip.ResultReason
				fields []string
				values map[ttlv.Tag]string
			}{
				{kmip.ResultStatusSuccess, 0, []string{"UniqueIdentifier", "Data", "AuthenticatedEncryptionTag"}, map[ttlv.Tag]string{
					kmip.TagData: "0388dace60b6a392f328c2b971b2fe78", kmip.TagAuthenticatedEncryptionTag: "ab6e47d42cec13bdf53a67b21257bddf"}},
				{kmip.ResultStatusOperationFailed, kmip.ResultReasonInvalidMessage, nil, nil},
				{kmip.ResultStatusSuccess, 0, []string{"UniqueIdentifier", "MACData"}, map[ttlv.Tag]string{
					kmip.TagMACData: "c911e78196d64c30f631bb079ea37b97a95936d4da764d6a171df030c895ecf9"}},
			}
			for i, w := range want {
				st, _ := items[i].Child(kmip.TagResultStatus)
				if kmip.ResultStatus(st.Enum()) != w.status {
					t.Errorf("item %d: status %v", i, kmip.ResultStatus(st.Enum()))
				}
				if w.reason != 0 {
					r, _ := items[i].Child(kmip.TagResultReason)
					if kmip.ResultReason(r.Enum()) != w.reason {
						t.Errorf("item %d: reason %v", i, kmip.ResultReason(r.Enum()))
					}
					continue
				}
				p, ok := items[i].Child(kmip.TagResponsePayload)
				if !ok {
					t.Fatalf("item %d: no payload", i)
				}
				if got := cryptoTags(p); !slices.Equal(got, w.fields) {
					t.Errorf("item %d: fields %v, want %v", i, got, w.fields)
				}
				for tag, hexv := range w.values {
					if got := cryptoField(t, p, tag); !bytes.Equal(got, cryptoHex(t, hexv)) {
						t.Errorf("item %d: %s = %x", i, kmip.TagString(tag), got)
					}
				}
			}
		})
	}
}
