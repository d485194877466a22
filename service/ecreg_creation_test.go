package service

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// Register of EC private keys (KMIP 1.4 §4.3, §2.1.3; RFC 5915, RFC 5208)
// on every curve Go implements, their Get conversions and Sign with them;
// and the refusals, with a reason that names the cause, of curves Go does
// not implement and of
// encrypted PKCS#8. Helpers carry the "ecreg" prefix.

// ecregCurves are the curves Go implements, with their Recommended Curve
// (KMIP 1.4 §9.1.3.2.5).
var ecregCurves = []struct {
	name  string
	curve elliptic.Curve
	rc    kmip.RecommendedCurve
}{
	{"P-224", elliptic.P224(), kmip.RecommendedCurveP224},
	{"P-256", elliptic.P256(), kmip.RecommendedCurveP256},
	{"P-384", elliptic.P384(), kmip.RecommendedCurveP384},
	{"P-521", elliptic.P521(), kmip.RecommendedCurveP521},
}

// ecregFormats are the Key Format Types an EC private key is registered
// and returned in.
var ecregFormats = []kmip.KeyFormatType{
	kmip.KeyFormatTypeECPrivateKey,
	kmip.KeyFormatTypePKCS8,
	kmip.KeyFormatTypeTransparentECPrivateKey,
}

// ecregMaterial encodes k as the Key Material of format f.
func ecregMaterial(t *testing.T, k *ecdsa.PrivateKey, rc kmip.RecommendedCurve, f kmip.KeyFormatType) ttlv.Value {
	t.Helper()
	var der []byte
	var err error
	switch f {
	case kmip.KeyFormatTypeECPrivateKey:
		der, err = x509.MarshalECPrivateKey(k)
	case kmip.KeyFormatTypePKCS8:
		der, err = x509.MarshalPKCS8PrivateKey(k)
	case kmip.KeyFormatTypeTransparentECPrivateKey:
		d, err := k.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		return ttlv.Struct(kmip.TagKeyMaterial,
			ttlv.Enum(kmip.TagRecommendedCurve, uint32(rc)),
			ttlv.BigInt(kmip.TagD, new(big.Int).SetBytes(d)))
	default:
		t.Fatalf("format %v", f)
	}
	if err != nil {
		t.Fatal(err)
	}
	return ttlv.Bytes(kmip.TagKeyMaterial, der)
}

// ecregGetFormat runs Get asking for format f (0: the default) and returns
// the Key Block.
func ecregGetFormat(t *testing.T, e *creationEnv, ver kmip.ProtocolVersion, id string, f kmip.KeyFormatType) (kb, material ttlv.Value) {
	t.Helper()
	var extra []ttlv.Value
	if f != 0 {
		extra = append(extra, ttlv.Enum(kmip.TagKeyFormatType, uint32(f)))
	}
	return creationMaterial(t, e.get(t, ver, id, extra...))
}

func TestECRegRegisterAndGet(t *testing.T) {
	e := newCreationEnv(t)
	for _, c := range ecregCurves {
		k, err := ecdsa.GenerateKey(c.curve, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		bits := int32(c.curve.Params().BitSize)
		for _, in := range ecregFormats {
			for _, ver := range []kmip.ProtocolVersion{creationV14, creationV20} {
				t.Run(c.name+"/"+in.String()+"/"+ver.String(), func(t *testing.T) {
					reg := ecregMaterial(t, k, c.rc, in)
					id := e.register(t, ver, kmip.ObjectTypePrivateKey,
						ttlv.Struct(kmip.TagPrivateKey, creationKeyBlock(in, reg, kmip.CryptographicAlgorithmEC, bits)),
						creationMask(kmip.CryptographicUsageMaskSign))
					o := e.object(t, id)
					if kmip.KeyFormatType(o.KeyFormat) != in {
						t.Errorf("stored key format %v, want %v", o.KeyFormat, in)
					}
					if got := creationAttrValue(t, o, attrCryptoLength).Int(); got != bits {
						t.Errorf("cryptographic length %d, want %d", got, bits)
					}
					// KMIP 1.4 §4.11: Get answers in the registered format.
					kb, m := ecregGetFormat(t, e, ver, id, 0)
					if f, _ := kb.Child(kmip.TagKeyFormatType); kmip.KeyFormatType(f.Enum()) != in {
						t.Errorf("default Get format %v, want %v", kmip.KeyFormatType(f.Enum()), in)
					}
					if !ttlv.Equal(m, reg) {
						t.Errorf("default Get material differs from the registered one")
					}
					for _, out := range ecregFormats {
						_, m := ecregGetFormat(t, e, ver, id, out)
						if want := ecregMaterial(t, k, c.rc, out); !ttlv.Equal(m, want) {
							t.Errorf("Get as %v: material differs from the key's own encoding", out)
						}
					}
				})
			}
		}
	}
}

func TestECRegSign(t *testing.T) {
	e := newCreationEnv(t)
	data := []byte("kmipd ecreg sign test")
	digest := sha256.Sum256(data)
	for _, c := range ecregCurves {
		k, err := ecdsa.GenerateKey(c.curve, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range ecregFormats {
			for _, ver := range []kmip.ProtocolVersion{creationV14, creationV20} {
				t.Run(c.name+"/"+in.String()+"/"+ver.String(), func(t *testing.T) {
					id := e.register(t, ver, kmip.ObjectTypePrivateKey,
						ttlv.Struct(kmip.TagPrivateKey, creationKeyBlock(in, ecregMaterial(t, k, c.rc, in), kmip.CryptographicAlgorithmEC, 0)),
						creationMask(kmip.CryptographicUsageMaskSign),
						creationDate("Activation Date", time.Now().Add(-time.Hour)))
					// TC-ECDSA-SIGN-1's parameters.
					p := e.must(t, ver, kmip.OperationSign, creationUID(id),
						ttlv.Struct(kmip.TagCryptographicParameters,
							ttlv.Enum(kmip.TagHashingAlgorithm, uint32(kmip.HashingAlgorithmSHA256)),
							ttlv.Enum(kmip.TagCryptographicAlgorithm, uint32(kmip.CryptographicAlgorithmECDSA))),
						ttlv.Bytes(kmip.TagData, data))
					sig, ok := p.Child(kmip.TagSignatureData)
					if !ok {
						t.Fatalf("sign response without signature data: %v", p)
					}
					if !ecdsa.VerifyASN1(&k.PublicKey, digest[:], sig.Bytes()) {
						t.Errorf("signature does not verify under the registered key")
					}
				})
			}
		}
	}
}

// ecregHex decodes a constant of the OASIS vectors.
func ecregHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestECRegRefusals(t *testing.T) {
	e := newCreationEnv(t)
	// TC-ECC-1-14: a secp256k1 ECPrivateKey (accepted since secp256k1.go;
	// see secp256k1_test.go), truncated here;
	// TC-ECC-2-14: an EncryptedPrivateKeyInfo (pbeWithSHAAnd3-KeyTripleDES-CBC).
	const (
		k1SEC1 = "30740201010420db4d128c30ca309e62c4019758c00ba244dd64d9bf52a31078866b8a00c19c68a00706052b8104000aa14403420004dab5d3c253113db414abfc1c0ebf5a02559e656aa1c8b0aa8d870aa0324cda4899925ea1e6dbc259a6c7825cf46592ac7594cc40bd604b728d88b636f317d366"
		encP8  = "3081a9301c060a2a864886f70d010c0103300e0408dc4dc656aa7bcc0402020800048188824b0a6786064a1d5686b852d8ff3073cb3379397dee978c60031353e1835a1a3c6289f16ff617b2d8b2d32829c265b997b406a69b96894caa39cee1c556cda380e7174271606a4dfde4bc6182943de6e827573ce3d877b72f1cdd3a59a3721b34740466fa43390ab29fb8ac01df172f9af6bb222aeee0f9be744b425e9620902ebc76ab8ceaa555"
	)
	priv := func(f kmip.KeyFormatType, m ttlv.Value) []ttlv.Value {
		return []ttlv.Value{creationOT(kmip.ObjectTypePrivateKey), ttlv.Struct(kmip.TagPrivateKey, creationKeyBlock(f, m, kmip.CryptographicAlgorithmEC, 256))}
	}
	tests := []struct {
		name   string
		fields []ttlv.Value
		want   kmip.ResultReason
		msg    string
	}{
		{"encrypted PKCS#8", priv(kmip.KeyFormatTypePKCS8, ttlv.Bytes(kmip.TagKeyMaterial, ecregHex(t, encP8))),
			kmip.ResultReasonInvalidField, "encrypted PKCS#8"},
		{"truncated ECPrivateKey", priv(kmip.KeyFormatTypeECPrivateKey, ttlv.Bytes(kmip.TagKeyMaterial, ecregHex(t, k1SEC1)[:40])),
			kmip.ResultReasonInvalidField, "not a valid"},
		{"garbage PKCS#8", priv(kmip.KeyFormatTypePKCS8, ttlv.Bytes(kmip.TagKeyMaterial, []byte{0x30, 0x02, 0x05, 0x00})),
			kmip.ResultReasonInvalidField, "not a valid"},
	}
	for _, tc := range tests {
		for _, ver := range []kmip.ProtocolVersion{creationV14, creationV20} {
			t.Run(tc.name+"/"+ver.String(), func(t *testing.T) {
				_, err := e.call(ver, kmip.OperationRegister, append(tc.fields, creationTemplate(ver, creationMask(kmip.CryptographicUsageMaskSign)))...)
				creationReason(t, err, tc.want)
				var ke *kmip.Error
				if errors.As(err, &ke) && !strings.Contains(ke.Message, tc.msg) {
					t.Errorf("message %q, want it to say %q", ke.Message, tc.msg)
				}
				if ke != nil && bytes.Contains([]byte(ke.Message), []byte("db4d128c")) {
					t.Errorf("message %q carries key bytes", ke.Message)
				}
			})
		}
	}
}

// FuzzECRegDiagnose feeds hostile DER to the diagnosis helpers: they must
// never panic.
func FuzzECRegDiagnose(f *testing.F) {
	f.Add([]byte{0x30, 0x00})
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x01})
	f.Fuzz(func(_ *testing.T, der []byte) {
		for _, fm := range []kmip.KeyFormatType{kmip.KeyFormatTypePKCS8, kmip.KeyFormatTypeECPrivateKey, kmip.KeyFormatTypePKCS1} {
			_ = crDiagnosePrivateDER(fm, der)
		}
		_ = crDiagnosePublicDER(kmip.KeyFormatTypeX509, der)
	})
}
