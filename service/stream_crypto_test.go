package service

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

func cryptoInit() ttlv.Value  { return ttlv.Bool(kmip.TagInitIndicator, true) }
func cryptoFinal() ttlv.Value { return ttlv.Bool(kmip.TagFinalIndicator, true) }
func cryptoCorr(b []byte) ttlv.Value {
	return ttlv.Bytes(kmip.TagCorrelationValue, b)
}

// cryptoStream runs one multi-part operation: the first part with init
// (plus first), the middle parts, the last with final. It returns the
// concatenated Data of the responses and the last response.
func (e *cryptoEnv) cryptoStream(t testing.TB, ctx context.Context, ver kmip.ProtocolVersion, op kmip.Operation, first []ttlv.Value, parts [][]byte) ([]byte, ttlv.Value) {
	t.Helper()
	var out []byte
	var corr []byte
	var p ttlv.Value
	for i, part := range parts {
		var f []ttlv.Value
		if i == 0 {
			f = append(append(f, first...), cryptoInit())
		} else {
			if id, ok := first[0].Tag, true; ok && id == kmip.TagUniqueIdentifier {
				f = append(f, first[0])
			}
			f = append(f, cryptoCorr(corr))
		}
		if part != nil {
			f = append(f, cryptoData(part))
		}
		if i == len(parts)-1 {
			f = append(f, cryptoFinal())
		}
		req := &kmip.Request{Version: ver, Operation: op, Payload: ttlv.Struct(kmip.TagRequestPayload, f...)}
		var err error
		p, err = e.svc.ServeKMIP(ctx, req)
		if err != nil {
			t.Fatalf("%v part %d: %v", op, i, err)
		}
		if d, ok := p.Child(kmip.TagData); ok {
			out = append(out, d.Bytes()...)
		}
		if i < len(parts)-1 {
			c, ok := p.Child(kmip.TagCorrelationValue)
			if !ok {
				t.Fatalf("%v part %d: no correlation value: %v", op, i, cryptoTags(p))
			}
			corr = c.Bytes()
		} else if p.Has(kmip.TagCorrelationValue) {
			t.Fatalf("%v: last response carries a correlation value", op)
		}
	}
	return out, p
}

// cryptoSplit cuts b at the given lengths (the rest is the last part).
func cryptoSplit(b []byte, lens ...int) [][]byte {
	var out [][]byte
	for _, n := range lens {
		n = min(n, len(b))
		out = append(out, b[:n])
		b = b[n:]
	}
	return append(out, b)
}

// TestCryptoStreamHashMACSign replays TC-STREAM-HASH-1/3, TC-STREAM-MAC-1
// and TC-STREAM-SIGN/SIGNVFY.
func TestCryptoStreamHashMACSign(t *testing.T) {
	env := cryptoNewEnv(t, cryptoDefaultCache)
	ctx := context.Background()
	abc := sha256.Sum256([]byte("abc"))
	data := cryptoHex(t, "01020304050607080910111213141516")
	wantMAC := cryptoHex(t, "c911e78196d64c30f631bb079ea37b97a95936d4da764d6a171df030c895ecf9")
	_, p8, spki := cryptoRSAKey(t, cryptoVecSignKey)
	pss := cryptoParamsV(cryptoPad(kmip.PaddingMethodPSS), cryptoHashAlg(kmip.HashingAlgorithmSHA256), cryptoAlg(kmip.CryptographicAlgorithmRSA))
	for _, ver := range cryptoVersions {
		t.Run(ver.String(), func(t *testing.T) {
			sha := cryptoParamsV(cryptoHashAlg(kmip.HashingAlgorithmSHA256))
			got, last := env.cryptoStream(t, ctx, ver, kmip.OperationHash, []ttlv.Value{sha}, [][]byte{[]byte("a"), []byte("b"), []byte("c")})
			if !bytes.Equal(got, abc[:]) || len(cryptoTags(last)) != 1 {
				t.Errorf("TC-STREAM-HASH-1: %x %v", got, cryptoTags(last))
			}
			got, _ = env.cryptoStream(t, ctx, ver, kmip.OperationHash, []ttlv.Value{sha}, [][]byte{[]byte("a"), []byte("b"), []byte("c"), nil})
			if !bytes.Equal(got, abc[:]) {
				t.Errorf("TC-STREAM-HASH-3: %x", got)
			}

			mk := env.put(t, cryptoKey{typ: kmip.ObjectTypeSymmetricKey, alg: kmip.CryptographicAlgorithmAES, bits: 128,
				material: cryptoHex(t, cryptoAESKey128), mask: kmip.CryptographicUsageMaskMACGenerate | kmip.CryptographicUsageMaskMACVerify,
				params: cryptoParamsV(cryptoAlg(kmip.CryptographicAlgorithmHMACSHA256))})
			_, last = env.cryptoStream(t, ctx, ver, kmip.OperationMAC, []ttlv.Value{cryptoUID(mk)}, cryptoSplit(data, 2, 12))
			if got := cryptoField(t, last, kmip.TagMACData); !bytes.Equal(got, wantMAC) {
				t.Errorf("TC-STREAM-MAC-1 MAC: %x", got)
			}
			for _, mac := range [][]byte{wantMAC, make([]byte, 32)} {
				_, last = env.cryptoStream(t, ctx, ver, kmip.OperationMACVerify,
					[]ttlv.Value{cryptoUID(mk), ttlv.Bytes(kmip.TagMACData, mac)}, cryptoSplit(data, 4, 8))
				want := kmip.ValidityIndicatorValid
				if mac[0] == 0 {
					want = kmip.ValidityIndicatorInvalid
				}
				if v := cryptoValidity(t, last); v != want {
					t.Errorf("TC-STREAM-MAC-1 verify: %v, want %v", v, want)
				}
			}

			priv := env.put(t, cryptoKey{typ: kmip.ObjectTypePrivateKey, alg: kmip.CryptographicAlgorithmRSA, bits: 2048, material: p8,
				mask: kmip.CryptographicUsageMaskSign, params: pss})
			pub := env.put(t, cryptoKey{typ: kmip.ObjectTypePublicKey, alg: kmip.CryptographicAlgorithmRSA, bits: 2048, public: spki,
				mask: kmip.CryptographicUsageMaskVerify, params: pss})
			_, last = env.cryptoStream(t, ctx, ver, kmip.OperationSign, []ttlv.Value{cryptoUID(priv)}, cryptoSplit(data, 2, 12))
			sig := cryptoField(t, last, kmip.TagSignatureData)
			_, last = env.cryptoStream(t, ctx, ver, kmip.OperationSignatureVerify,
				[]ttlv.Value{cryptoUID(pub), ttlv.Bytes(kmip.TagSignatureData, sig)}, cryptoSplit(data, 2, 12))
			if v := cryptoValidity(t, last); v != kmip.ValidityIndicatorValid {
				t.Errorf("TC-STREAM-SIGNVFY: %v", v)
			}
			_, last = env.cryptoStream(t, ctx, ver, kmip.OperationSignatureVerify,
				[]ttlv.Value{cryptoUID(pub), ttlv.Bytes(kmip.TagSignatureData, cryptoHex(t, cryptoVecPSSSignature))}, cryptoSplit(data, 5))
			if v := cryptoValidity(t, last); v != kmip.ValidityIndicatorValid {
				t.Errorf("vector signature in parts: %v", v)
			}
		})
	}
}

// TestCryptoStreamCipher checks multi-part Encrypt and Decrypt against the
// single-part results, and GCM against CS-BC-M-GCM-3 and crypto/cipher.
func TestCryptoStreamCipher(t *testing.T) {
	env := cryptoNewEnv(t, cryptoDefaultCache)
	ctx := context.Background()
	key := cryptoHex(t, "feffe9928665731c6d6a8f9467308308")
	id := env.put(t, cryptoKey{typ: kmip.ObjectTypeSymmetricKey, alg: kmip.CryptographicAlgorithmAES, bits: 128, material: key,
		mask: kmip.CryptographicUsageMaskEncrypt | kmip.CryptographicUsageMaskDecrypt})
	plain := cryptoHex(t, "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39")
	aad := cryptoHex(t, "feedfacedeadbeeffeedfacedeadbeefabaddad2")
	aadF := ttlv.Bytes(kmip.TagAuthenticatedEncryptionAdditionalData, aad)
	gcm := func(tagLen int) ttlv.Value {
		return cryptoParamsV(cryptoMode(kmip.BlockCipherModeGCM), ttlv.Int(kmip.TagTagLength, int32(tagLen)))
	}

	for _, ver := range cryptoVersions {
		t.Run(ver.String()+"/CS-BC-M-GCM-3", func(t *testing.T) {
			iv := cryptoIV(cryptoHex(t, "cafebabefacedbad"))
			f := []ttlv.Value{cryptoUID(id), gcm(16), iv, aadF}
			first := ttlv.Struct(kmip.TagRequestPayload, append(f, cryptoData(plain[:32]), cryptoInit())...)
			p, err := env.svc.ServeKMIP(ctx, &kmip.Request{Version: ver, Operation: kmip.OperationEncrypt, Payload: first})
			if err != nil {
				t.Fatal(err)
			}
			if got := cryptoField(t, p, kmip.TagData); !bytes.Equal(got, cryptoHex(t, "61353b4c2806934a777ff51fa22a4755699b2a714fcdc6f83766e5f97b6c7423")) {
				t.Errorf("first part: %x", got)
			}
			if got := cryptoTags(p); fmt.Sprint(got) != "[UniqueIdentifier Data CorrelationValue]" {
				t.Errorf("first response fields %v", got)
			}
			corr := cryptoField(t, p, kmip.TagCorrelationValue)
			p = env.mustCall(t, ver, kmip.OperationEncrypt, cryptoUID(id), gcm(16), cryptoData(plain[32:]), cryptoCorr(corr), cryptoFinal())
			if got := cryptoField(t, p, kmip.TagData); !bytes.Equal(got, cryptoHex(t, "73806900e49f24b22b097544d4896b424989b5e1ebac0f07c23f4598")) {
				t.Errorf("last part: %x", got)
			}
			if got := cryptoField(t, p, kmip.TagAuthenticatedEncryptionTag); !bytes.Equal(got, cryptoHex(t, "3612d2e79e3b0785561be14aaca2fccb")) {
				t.Errorf("tag: %x", got)
			}
		})
	}

	block, _ := aes.NewCipher(key)
	long := bytes.Repeat(plain, 3) // 180 bytes
	splits := [][]int{{7}, {16, 16}, {33, 1, 50}, {0, 100}, {180}}
	for _, tc := range []struct{ ivLen, tagLen int }{{12, 16}, {60, 16}, {12, 12}, {8, 13}} {
		t.Run(fmt.Sprintf("GCM-iv%d-tag%d", tc.ivLen, tc.tagLen), func(t *testing.T) {
			iv := bytes.Repeat([]byte{0x42}, tc.ivLen)
			var g cipher.AEAD
			if tc.ivLen == 12 {
				g, _ = cipher.NewGCMWithTagSize(block, tc.tagLen)
			} else {
				g, _ = cipher.NewGCMWithNonceSize(block, tc.ivLen)
			}
			sealed := g.Seal(nil, iv, long, aad)
			if tc.ivLen != 12 && tc.tagLen != 16 {
				return // crypto/cipher has no custom nonce and tag together
			}
			wantCT, wantTag := sealed[:len(long)], sealed[len(long):]
			for _, sp := range splits {
				ct, last := env.cryptoStream(t, ctx, kmip.V1_4, kmip.OperationEncrypt,
					[]ttlv.Value{cryptoUID(id), gcm(tc.tagLen), cryptoIV(iv), aadF}, cryptoSplit(long, sp...))
				if !bytes.Equal(ct, wantCT) {
					t.Fatalf("split %v: ciphertext differs", sp)
				}
				if got := cryptoField(t, last, kmip.TagAuthenticatedEncryptionTag); !bytes.Equal(got, wantTag) {
					t.Fatalf("split %v: tag %x, want %x", sp, got, wantTag)
				}
				tagF := ttlv.Bytes(kmip.TagAuthenticatedEncryptionTag, wantTag)
				pt, _ := env.cryptoStream(t, ctx, kmip.V2_0, kmip.OperationDecrypt,
					[]ttlv.Value{cryptoUID(id), gcm(tc.tagLen), cryptoIV(iv), aadF, tagF}, cryptoSplit(wantCT, sp...))
				if !bytes.Equal(pt, long) {
					t.Fatalf("split %v: plaintext differs", sp)
				}
			}
			// A wrong tag fails the last part.
			bad := bytes.Clone(wantTag)
			bad[0] ^= 1
			p := env.mustCall(t, kmip.V1_4, kmip.OperationDecrypt, cryptoUID(id), gcm(tc.tagLen), cryptoIV(iv), aadF,
				ttlv.Bytes(kmip.TagAuthenticatedEncryptionTag, bad), cryptoData(wantCT[:20]), cryptoInit())
			_, err := env.call(kmip.V1_4, kmip.OperationDecrypt, cryptoUID(id), cryptoData(wantCT[20:]),
				cryptoCorr(cryptoField(t, p, kmip.TagCorrelationValue)), cryptoFinal())
			cryptoWantReason(t, err, kmip.ResultReasonCryptographicFailure)
		})
	}

	// ECB, CBC (PKCS#5 and none), CTR: parts give the single-part result.
	for _, tc := range []struct {
		name   string
		params ttlv.Value
		iv     []byte
		data   []byte
	}{
		{"ECB", cryptoParamsV(cryptoMode(kmip.BlockCipherModeECB)), nil, long[:176]},
		{"ECB-PKCS5", cryptoParamsV(cryptoMode(kmip.BlockCipherModeECB), cryptoPad(kmip.PaddingMethodPKCS5)), nil, long},
		{"CBC-PKCS5", cryptoParamsV(cryptoMode(kmip.BlockCipherModeCBC), cryptoPad(kmip.PaddingMethodPKCS5)), make([]byte, 16), long},
		{"CBC-PKCS5-aligned", cryptoParamsV(cryptoMode(kmip.BlockCipherModeCBC), cryptoPad(kmip.PaddingMethodPKCS5)), make([]byte, 16), long[:160]},
		{"CBC-none", cryptoParamsV(cryptoMode(kmip.BlockCipherModeCBC), cryptoPad(kmip.PaddingMethodNone)), make([]byte, 16), long[:176]},
		{"CTR", cryptoParamsV(cryptoMode(kmip.BlockCipherModeCTR)), cryptoHex(t, "0000000000000000fffffffffffffffa"), long},
		{"CTR-32", cryptoParamsV(cryptoMode(kmip.BlockCipherModeCTR), ttlv.Int(kmip.TagCounterLength, 32)), cryptoHex(t, "000102030405060708090a0bfffffff0"), long[:64]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := []ttlv.Value{cryptoUID(id), tc.params}
			if tc.iv != nil {
				f = append(f, cryptoIV(tc.iv))
			}
			p := env.mustCall(t, kmip.V1_4, kmip.OperationEncrypt, append(append([]ttlv.Value(nil), f...), cryptoData(tc.data))...)
			want := cryptoField(t, p, kmip.TagData)
			for _, sp := range splits {
				ct, _ := env.cryptoStream(t, ctx, kmip.V1_4, kmip.OperationEncrypt, f, cryptoSplit(tc.data, sp...))
				if !bytes.Equal(ct, want) {
					t.Fatalf("split %v: ciphertext %x, want %x", sp, ct, want)
				}
				pt, _ := env.cryptoStream(t, ctx, kmip.V1_4, kmip.OperationDecrypt, f, cryptoSplit(want, sp...))
				if !bytes.Equal(pt, tc.data) {
					t.Fatalf("split %v: plaintext differs", sp)
				}
			}
		})
	}
}

// TestCryptoStreamLimits covers unknown and foreign correlation values,
// the per-connection bound, the idle timeout and a key revoked mid-stream.
func TestCryptoStreamLimits(t *testing.T) {
	env := cryptoNewEnv(t, cryptoDefaultCache)
	sha := cryptoParamsV(cryptoHashAlg(kmip.HashingAlgorithmSHA256))
	open := func(ctx context.Context, ver kmip.ProtocolVersion) ([]byte, error) {
		p, err := env.svc.ServeKMIP(ctx, &kmip.Request{Version: ver, Operation: kmip.OperationHash,
			Payload: ttlv.Struct(kmip.TagRequestPayload, sha, cryptoData([]byte("x")), cryptoInit())})
		if err != nil {
			return nil, err
		}
		return cryptoField(t, p, kmip.TagCorrelationValue), nil
	}
	cont := func(ctx context.Context, ver kmip.ProtocolVersion, op kmip.Operation, corr []byte, fields ...ttlv.Value) error {
		_, err := env.svc.ServeKMIP(ctx, &kmip.Request{Version: ver, Operation: op,
			Payload: ttlv.Struct(kmip.TagRequestPayload, append(fields, cryptoCorr(corr), cryptoData([]byte("y")))...)})
		return err
	}
	for _, ver := range cryptoVersions {
		t.Run(ver.String(), func(t *testing.T) {
			notFound := cryptoByVersion(ver, kmip.ResultReasonItemNotFound, kmip.ResultReasonInvalidCorrelationValue)
			connA := kmip.WithConnInfo(context.Background(), &kmip.ConnInfo{})
			connB := kmip.WithConnInfo(context.Background(), &kmip.ConnInfo{})

			cryptoWantReason(t, cont(connA, ver, kmip.OperationHash, []byte("nope")), notFound)
			corr, err := open(connA, ver)
			if err != nil {
				t.Fatal(err)
			}
			cryptoWantReason(t, cont(connB, ver, kmip.OperationHash, corr), notFound)
			cryptoWantReason(t, cont(connA, ver, kmip.OperationMAC, corr), notFound)
			cryptoWantReason(t, cont(connA, ver, kmip.OperationHash, corr), 0)

			// The bound counts open streams per connection.
			for i := 1; i < maxStreamsPerConn; i++ {
				if _, err := open(connA, ver); err != nil {
					t.Fatalf("stream %d: %v", i, err)
				}
			}
			_, err = open(connA, ver)
			cryptoWantReason(t, err, cryptoByVersion(ver, kmip.ResultReasonPermissionDenied, kmip.ResultReasonServerLimitExceeded))
			if _, err := open(connB, ver); err != nil {
				t.Fatalf("other connection: %v", err)
			}
			// Idle streams expire, which frees the connection's slots.
			env.clock.Add(streamIdleTimeout)
			cryptoWantReason(t, cont(connA, ver, kmip.OperationHash, corr), notFound)
			if _, err := open(connA, ver); err != nil {
				t.Fatalf("after expiry: %v", err)
			}

			// A key revoked mid-stream stops the stream.
			id := env.put(t, cryptoKey{typ: kmip.ObjectTypeSymmetricKey, alg: kmip.CryptographicAlgorithmAES, bits: 128,
				material: make([]byte, 16), mask: kmip.CryptographicUsageMaskEncrypt})
			p, err := env.svc.ServeKMIP(connA, &kmip.Request{Version: ver, Operation: kmip.OperationEncrypt,
				Payload: ttlv.Struct(kmip.TagRequestPayload, cryptoUID(id), cryptoParamsV(cryptoMode(kmip.BlockCipherModeECB)),
					cryptoData(make([]byte, 16)), cryptoInit())})
			if err != nil {
				t.Fatal(err)
			}
			_, err = env.call(ver, kmip.OperationRevoke, cryptoUID(id), ttlv.Struct(kmip.TagRevocationReason,
				ttlv.Enum(kmip.TagRevocationReasonCode, uint32(kmip.RevocationReasonCodeCessationOfOperation))))
			if err != nil {
				t.Fatalf("revoke: %v", err)
			}
			err = cont(connA, ver, kmip.OperationEncrypt, cryptoField(t, p, kmip.TagCorrelationValue), cryptoUID(id))
			cryptoWantReason(t, err, cryptoByVersion(ver, kmip.ResultReasonPermissionDenied, kmip.ResultReasonWrongKeyLifecycleState))
			env.clock.Add(time.Hour) // leave no streams to the next version
		})
	}
}
