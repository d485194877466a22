package service

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/kmipd/kmipd/hsmbackend/hsmtest"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// Test helpers of Derive Key carry the "derive" prefix: other groups write
// tests in this package at the same time.

func deriveHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func deriveCP(h kmip.HashingAlgorithm) cryptoParams { return cryptoParams{hash: h} }

// TestDeriveMaterial checks each method against published answers: the
// OASIS TC-DERIVEKEY vectors, RFC 6070 (PBKDF2-HMAC-SHA1), RFC 5869 test
// case 1 (HKDF) and FIPS 197 Appendix C.1 (AES-128, for ENCRYPT).
func TestDeriveMaterial(t *testing.T) {
	oasisKey := "00112233445566778899aabbccddeeff"
	password := []byte("password")
	counterKey := deriveHex(t, oasisKey)
	counterWant := func() string {
		var out []byte
		for i := byte(1); len(out) < 40; i++ {
			m := hmac.New(sha256.New, counterKey)
			m.Write([]byte{0, 0, 0, i, 'l', 'b', 0, 'c', 0, 0, 1, 64})
			out = m.Sum(out)
		}
		return hex.EncodeToString(out[:40])
	}()
	tests := []struct {
		name   string
		method kmip.DerivationMethod
		key    []byte
		p      deriveParams
		n      int
		v2     bool
		want   string // hex; empty means an Invalid Field error
	}{
		{"hash sha256 (TC-DERIVEKEY-1)", kmip.DerivationMethodHASH, deriveHex(t, oasisKey),
			deriveParams{crypto: deriveCP(kmip.HashingAlgorithmSHA256), hasCrypto: true}, 16, false, "a8faed6abbf35c12a4b26e40f6feb19d"},
		{"hmac sha256 (TC-DERIVEKEY-2)", kmip.DerivationMethodHMAC, deriveHex(t, oasisKey),
			deriveParams{crypto: deriveCP(kmip.HashingAlgorithmSHA256), hasCrypto: true, data: []byte{1, 2}, hasData: true}, 16, false, "1e15c1f1da233629f770fb0a04a5020e"},
		{"pbkdf2 default sha1, 1 iteration (TC-DERIVEKEY-3)", kmip.DerivationMethodPBKDF2, password,
			deriveParams{salt: []byte("salt"), iterations: 1, hasIter: true}, 16, false, "0c60c80f961f0e71f3a9b524af601206"},
		{"pbkdf2 sha1, 4096 iterations (TC-DERIVEKEY-4)", kmip.DerivationMethodPBKDF2, password,
			deriveParams{salt: []byte("salt"), iterations: 4096, hasIter: true}, 20, false, "4b007901b765489abead49d926f721d065a429c1"},
		{"pbkdf2 sha256 (TC-DERIVEKEY-5)", kmip.DerivationMethodPBKDF2, password,
			deriveParams{crypto: deriveCP(kmip.HashingAlgorithmSHA256), hasCrypto: true, salt: []byte("salt"), iterations: 4096, hasIter: true},
			32, false, "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"},
		{"hkdf rfc 5869 case 1", kmip.DerivationMethodHKDF, bytes.Repeat([]byte{0x0b}, 22),
			deriveParams{crypto: deriveCP(kmip.HashingAlgorithmSHA256), hasCrypto: true, salt: deriveHex(t, "000102030405060708090a0b0c"),
				data: deriveHex(t, "f0f1f2f3f4f5f6f7f8f9"), hasData: true}, 42, true,
			"3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"},
		{"encrypt aes ecb (FIPS 197 C.1)", kmip.DerivationMethodENCRYPT, deriveHex(t, "000102030405060708090a0b0c0d0e0f"),
			deriveParams{crypto: cryptoParams{mode: kmip.BlockCipherModeECB}, hasCrypto: true, data: deriveHex(t, oasisKey), hasData: true},
			16, false, "69c4e0d86a7b0430d8cdb78070b4c55a"},
		{"encrypt aes cbc zero iv equals ecb on one block", kmip.DerivationMethodENCRYPT, deriveHex(t, "000102030405060708090a0b0c0d0e0f"),
			deriveParams{crypto: cryptoParams{mode: kmip.BlockCipherModeCBC}, hasCrypto: true, data: deriveHex(t, oasisKey), hasData: true},
			16, false, "69c4e0d86a7b0430d8cdb78070b4c55a"},
		{"nist 800-108 counter hmac-sha256, two blocks", kmip.DerivationMethodNIST800108C, counterKey,
			deriveParams{crypto: deriveCP(kmip.HashingAlgorithmSHA256), hasCrypto: true, data: []byte{'l', 'b', 0, 'c', 0, 0, 1, 64}, hasData: true},
			40, false, counterWant},
		{"hash output too short", kmip.DerivationMethodHASH, deriveHex(t, oasisKey),
			deriveParams{crypto: deriveCP(kmip.HashingAlgorithmSHA1), hasCrypto: true}, 32, false, ""},
		{"hash without a hashing algorithm", kmip.DerivationMethodHASH, deriveHex(t, oasisKey), deriveParams{}, 16, false, ""},
		{"pbkdf2 without iteration count", kmip.DerivationMethodPBKDF2, password, deriveParams{salt: []byte("salt")}, 16, false, ""},
		{"pbkdf2 with too many iterations", kmip.DerivationMethodPBKDF2, password,
			deriveParams{iterations: deriveMaxIterations + 1, hasIter: true}, 16, false, ""},
		{"hmac without derivation data", kmip.DerivationMethodHMAC, deriveHex(t, oasisKey), deriveParams{}, 16, false, ""},
		{"encrypt with partial block", kmip.DerivationMethodENCRYPT, deriveHex(t, oasisKey),
			deriveParams{data: []byte{1, 2, 3}, hasData: true}, 16, false, ""},
		{"hkdf in 1.x", kmip.DerivationMethodHKDF, deriveHex(t, oasisKey), deriveParams{}, 16, false, ""},
		{"feedback mode refused", kmip.DerivationMethodNIST800108F, deriveHex(t, oasisKey),
			deriveParams{crypto: deriveCP(kmip.HashingAlgorithmSHA256), hasCrypto: true}, 16, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := deriveMaterial(tt.method, tt.key, tt.p, tt.n, tt.v2)
			if tt.want == "" {
				var ke *kmip.Error
				if !errors.As(err, &ke) || ke.Reason != kmip.ResultReasonInvalidField {
					t.Fatalf("got %x, %v; want Invalid Field", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(got) != tt.want {
				t.Errorf("got %x, want %s", got, tt.want)
			}
		})
	}
}

// TestDeriveMaterialCMACCounter checks the AES-CMAC PRF of NIST800-108-C
// against cmacSum directly, for one block.
func TestDeriveMaterialCMACCounter(t *testing.T) {
	key := deriveHex(t, "2b7e151628aed2a6abf7158809cf4f3c")
	p := deriveParams{crypto: cryptoParams{alg: kmip.CryptographicAlgorithmAES}, hasCrypto: true, data: []byte("fixed"), hasData: true}
	got, err := deriveMaterial(kmip.DerivationMethodNIST800108C, key, p, 16, false)
	if err != nil {
		t.Fatal(err)
	}
	// RFC 4493 example 2 is CMAC over a 16-byte message; here the message
	// is [1]₃₂ ‖ "fixed", so compare with the known-good CMAC engine.
	b, _ := deriveBlock(key, p)
	want, err := cmacSum(goCMAC{b}, append([]byte{0, 0, 0, 1}, "fixed"...))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("got %x, want %x", got, want)
	}
}

// deriveEnv is a Service over a fresh SoftHSM token and bbolt file.
type deriveEnv struct {
	svc   *Service
	store *objects.BoltStore
}

func deriveNewEnv(t *testing.T) *deriveEnv {
	t.Helper()
	hsm := hsmtest.New(t)
	st, _ := openTestStore(t)
	return &deriveEnv{svc: New(WithStore(st), WithHSM(hsm)), store: st}
}

func (e *deriveEnv) deriveCall(ver kmip.ProtocolVersion, op kmip.Operation, fields ...ttlv.Value) (ttlv.Value, error) {
	return e.svc.ServeKMIP(context.Background(), &kmip.Request{
		Version: ver, Operation: op, Payload: ttlv.Struct(kmip.TagRequestPayload, fields...),
	})
}

func deriveAttrs(ver kmip.ProtocolVersion, attrs ...kmip.Attribute) ttlv.Value {
	if ver.Is2x() {
		return ttlv.Struct(kmip.TagAttributes, kmip.EncodeAttributes(attrs, ver, false)...)
	}
	return ttlv.Struct(kmip.TagTemplateAttribute, kmip.EncodeAttributes(attrs, ver, false)...)
}

func deriveMask(m kmip.CryptographicUsageMask) kmip.Attribute {
	return attr(attrCryptoUsageMask, ttlv.Int(0, int32(m)))
}

// deriveRegister registers material as a Symmetric Key (AES) or Secret
// Data (Password), active since an hour ago, and returns its identifier.
func (e *deriveEnv) deriveRegister(t *testing.T, ver kmip.ProtocolVersion, ot kmip.ObjectType, material []byte, mask kmip.CryptographicUsageMask) string {
	t.Helper()
	kb := []ttlv.Value{ttlv.Enum(kmip.TagKeyFormatType, uint32(kmip.KeyFormatTypeRaw)),
		ttlv.Struct(kmip.TagKeyValue, ttlv.Bytes(kmip.TagKeyMaterial, material))}
	attrs := []kmip.Attribute{deriveMask(mask), attr(attrActivationDate, ttlv.DateTime(0, time.Now().Add(-time.Hour)))}
	var obj ttlv.Value
	if ot == kmip.ObjectTypeSymmetricKey {
		kb = append(kb, ttlv.Enum(kmip.TagCryptographicAlgorithm, uint32(kmip.CryptographicAlgorithmAES)),
			ttlv.Int(kmip.TagCryptographicLength, int32(8*len(material))))
		obj = ttlv.Struct(kmip.TagSymmetricKey, ttlv.Struct(kmip.TagKeyBlock, kb...))
	} else {
		kb[0] = ttlv.Enum(kmip.TagKeyFormatType, uint32(kmip.KeyFormatTypeOpaque))
		obj = ttlv.Struct(kmip.TagSecretData, ttlv.Enum(kmip.TagSecretDataType, uint32(kmip.SecretDataTypePassword)),
			ttlv.Struct(kmip.TagKeyBlock, kb...))
	}
	p, err := e.deriveCall(ver, kmip.OperationRegister, ttlv.Enum(kmip.TagObjectType, uint32(ot)), deriveAttrs(ver, attrs...), obj)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	id, _ := p.Child(kmip.TagUniqueIdentifier)
	return id.Text()
}

// deriveGetMaterial returns the Key Material Get answers for id.
func (e *deriveEnv) deriveGetMaterial(t *testing.T, ver kmip.ProtocolVersion, id string) []byte {
	t.Helper()
	p, err := e.deriveCall(ver, kmip.OperationGet, ttlv.Text(kmip.TagUniqueIdentifier, id))
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	c := p.Children()
	kb, _ := c[len(c)-1].Child(kmip.TagKeyBlock)
	kv, _ := kb.Child(kmip.TagKeyValue)
	m, ok := kv.Child(kmip.TagKeyMaterial)
	if !ok {
		t.Fatalf("get %s: no key material in %v", id, p)
	}
	return m.Bytes()
}

func deriveHasLink(o *objects.Object, lt kmip.LinkType, id string) bool {
	for _, a := range o.AttrsNamed(attrLink) {
		t, _ := a.Value.Child(kmip.TagLinkType)
		v, _ := a.Value.Child(kmip.TagLinkedObjectIdentifier)
		if kmip.LinkType(t.Enum()) == lt && v.Text() == id {
			return true
		}
	}
	return false
}

// TestDeriveKeyOp runs Derive Key through the choke point against SoftHSM
// and bbolt, in 1.4 and 2.0 encodings.
func TestDeriveKeyOp(t *testing.T) {
	e := deriveNewEnv(t)
	oasisKey := deriveHex(t, "00112233445566778899aabbccddeeff")
	hashParams := ttlv.Struct(kmip.TagDerivationParameters,
		ttlv.Struct(kmip.TagCryptographicParameters, ttlv.Enum(kmip.TagHashingAlgorithm, uint32(kmip.HashingAlgorithmSHA256))))
	pbkdf2Params := ttlv.Struct(kmip.TagDerivationParameters,
		ttlv.Bytes(kmip.TagSalt, []byte("salt")), ttlv.Int(kmip.TagIterationCount, 1))
	aes128 := []kmip.Attribute{
		attr(attrCryptoAlgorithm, ttlv.Enum(0, uint32(kmip.CryptographicAlgorithmAES))),
		attr(attrCryptoLength, ttlv.Int(0, 128)),
	}
	const deriveAndUse = kmip.CryptographicUsageMaskDeriveKey | kmip.CryptographicUsageMaskEncrypt
	for _, ver := range []kmip.ProtocolVersion{{Major: 1, Minor: 4}, {Major: 2, Minor: 0}} {
		key := e.deriveRegister(t, ver, kmip.ObjectTypeSymmetricKey, oasisKey, deriveAndUse)
		password := e.deriveRegister(t, ver, kmip.ObjectTypeSecretData, []byte("password"), kmip.CryptographicUsageMaskDeriveKey)
		noDerive := e.deriveRegister(t, ver, kmip.ObjectTypeSymmetricKey, oasisKey, kmip.CryptographicUsageMaskEncrypt)
		badValue, badType, badMask := kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidField, kmip.ResultReasonPermissionDenied
		if ver.Is2x() {
			badValue, badType, badMask = kmip.ResultReasonInvalidAttributeValue, kmip.ResultReasonInvalidObjectType, kmip.ResultReasonIncompatibleCryptographicUsageMask
		}
		tests := []struct {
			name   string
			ot     kmip.ObjectType
			base   string
			method kmip.DerivationMethod
			params ttlv.Value
			attrs  []kmip.Attribute
			want   string // hex of the derived material, when no error
			reason kmip.ResultReason
		}{
			{"hash", kmip.ObjectTypeSymmetricKey, key, kmip.DerivationMethodHASH, hashParams, aes128, "a8faed6abbf35c12a4b26e40f6feb19d", 0},
			{"pbkdf2 from secret data", kmip.ObjectTypeSymmetricKey, password, kmip.DerivationMethodPBKDF2, pbkdf2Params, aes128, "0c60c80f961f0e71f3a9b524af601206", 0},
			{"secret data result", kmip.ObjectTypeSecretData, password, kmip.DerivationMethodPBKDF2, pbkdf2Params,
				[]kmip.Attribute{attr(attrCryptoLength, ttlv.Int(0, 64))}, "0c60c80f961f0e71", 0},
			{"no derive key bit", kmip.ObjectTypeSymmetricKey, noDerive, kmip.DerivationMethodHASH, hashParams, aes128, "", badMask},
			{"unknown object", kmip.ObjectTypeSymmetricKey, "no-such-object", kmip.DerivationMethodHASH, hashParams, aes128, "", kmip.ResultReasonItemNotFound},
			{"no length", kmip.ObjectTypeSymmetricKey, key, kmip.DerivationMethodHASH, hashParams, aes128[:1], "", badValue},
			{"private key asked", kmip.ObjectTypePrivateKey, key, kmip.DerivationMethodHASH, hashParams, aes128, "", badType},
			{"unsupported method", kmip.ObjectTypeSymmetricKey, key, kmip.DerivationMethodNIST800108DPI, hashParams, aes128, "", kmip.ResultReasonInvalidField},
		}
		for _, tt := range tests {
			t.Run(ver.String()+"/"+tt.name, func(t *testing.T) {
				p, err := e.deriveCall(ver, kmip.OperationDeriveKey,
					ttlv.Enum(kmip.TagObjectType, uint32(tt.ot)),
					ttlv.Text(kmip.TagUniqueIdentifier, tt.base),
					ttlv.Enum(kmip.TagDerivationMethod, uint32(tt.method)),
					tt.params,
					deriveAttrs(ver, tt.attrs...))
				if tt.reason != 0 {
					var ke *kmip.Error
					if !errors.As(err, &ke) || ke.Reason != tt.reason {
						t.Fatalf("got %v, %v; want %v", p, err, tt.reason)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				c := p.Children()
				if len(c) != 1 || c[0].Tag != kmip.TagUniqueIdentifier {
					t.Fatalf("response payload %v: want only a Unique Identifier", p)
				}
				id := c[0].Text()
				if got := e.deriveGetMaterial(t, ver, id); hex.EncodeToString(got) != tt.want {
					t.Errorf("derived %x, want %s", got, tt.want)
				}
				derived, err := e.store.Get(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				base, err := e.store.Get(context.Background(), tt.base)
				if err != nil {
					t.Fatal(err)
				}
				if derived.ObjectType != tt.ot || !deriveHasLink(derived, kmip.LinkTypeDerivationBaseObjectLink, tt.base) {
					t.Errorf("derived object: type %v, links %v", derived.ObjectType, derived.AttrsNamed(attrLink))
				}
				if !deriveHasLink(base, kmip.LinkTypeDerivedKeyLink, id) {
					t.Errorf("base object lacks a Derived Key link to %s: %v", id, base.AttrsNamed(attrLink))
				}
			})
		}
	}
}

// TestDeriveKeyParams: the request is held to the derivation key's own
// Cryptographic Parameters (KMIP 1.4 §4.6), except for HMAC derivation and
// keys without the attribute (as the OASIS vectors expect).
func TestDeriveKeyParams(t *testing.T) {
	cpAttr := func(index int, fields ...ttlv.Value) kmip.Attribute {
		a := attr(attrCryptoParameters, ttlv.Struct(kmip.TagCryptographicParameters, fields...))
		a.Index = index
		return a
	}
	sha := func(h kmip.HashingAlgorithm) ttlv.Value { return ttlv.Enum(kmip.TagHashingAlgorithm, uint32(h)) }
	mode := func(m kmip.BlockCipherMode) ttlv.Value { return ttlv.Enum(kmip.TagBlockCipherMode, uint32(m)) }
	keyWith := func(attrs ...kmip.Attribute) *objects.Object {
		return &objects.Object{ID: "base", Attributes: attrs}
	}
	given := func(cp cryptoParams) deriveParams { return deriveParams{crypto: cp, hasCrypto: true} }
	tests := []struct {
		name     string
		method   kmip.DerivationMethod
		key      *objects.Object
		p        deriveParams
		wantErr  bool
		wantHash kmip.HashingAlgorithm // after the call, when no error
	}{
		{"key without parameters: request as given", kmip.DerivationMethodHASH, keyWith(),
			given(deriveCP(kmip.HashingAlgorithmSHA512)), false, kmip.HashingAlgorithmSHA512},
		{"request matches the key", kmip.DerivationMethodHASH, keyWith(cpAttr(0, sha(kmip.HashingAlgorithmSHA256))),
			given(deriveCP(kmip.HashingAlgorithmSHA256)), false, kmip.HashingAlgorithmSHA256},
		{"request matches the second instance", kmip.DerivationMethodHASH,
			keyWith(cpAttr(0, sha(kmip.HashingAlgorithmSHA256)), cpAttr(1, sha(kmip.HashingAlgorithmSHA512))),
			given(deriveCP(kmip.HashingAlgorithmSHA512)), false, kmip.HashingAlgorithmSHA512},
		{"request matches no instance", kmip.DerivationMethodHASH, keyWith(cpAttr(0, sha(kmip.HashingAlgorithmSHA256))),
			given(deriveCP(kmip.HashingAlgorithmSHA1)), true, 0},
		{"mode mismatch", kmip.DerivationMethodENCRYPT, keyWith(cpAttr(0, mode(kmip.BlockCipherModeCBC))),
			given(cryptoParams{mode: kmip.BlockCipherModeECB}), true, 0},
		{"omitted: the lowest index is used", kmip.DerivationMethodHASH,
			keyWith(cpAttr(2, sha(kmip.HashingAlgorithmSHA512)), cpAttr(1, sha(kmip.HashingAlgorithmSHA384))),
			deriveParams{}, false, kmip.HashingAlgorithmSHA384},
		{"HMAC ignores them", kmip.DerivationMethodHMAC, keyWith(cpAttr(0, sha(kmip.HashingAlgorithmSHA256))),
			given(deriveCP(kmip.HashingAlgorithmSHA1)), false, kmip.HashingAlgorithmSHA1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.p
			err := deriveKeyParams(tt.method, tt.key, &p)
			if tt.wantErr {
				if kmip.ReasonOf(err) != kmip.ResultReasonInvalidField {
					t.Fatalf("deriveKeyParams = %v, want Invalid Field", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("deriveKeyParams: %v", err)
			}
			if !p.hasCrypto || p.crypto.hash != tt.wantHash {
				t.Errorf("hash after deriveKeyParams = %v (set %v), want %v", p.crypto.hash, p.hasCrypto, tt.wantHash)
			}
		})
	}
}
