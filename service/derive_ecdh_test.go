package service

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// Test helpers of ECDH derivation carry the "ecdh" prefix: other groups
// write tests in this package at the same time.

// ecdhCreatePair creates an EC key pair on curve whose private key may
// derive keys (and sign, as in TC-DERIVEKEY-6), and returns its ids.
func ecdhCreatePair(t *testing.T, e *creationEnv, ver kmip.ProtocolVersion, curve kmip.RecommendedCurve, privMask kmip.CryptographicUsageMask) (privID, pubID string) {
	t.Helper()
	p := e.must(t, ver, kmip.OperationCreateKeyPair,
		creationAttrs(ver, kmip.TagCommonTemplateAttribute, kmip.TagCommonAttributes,
			creationAlg(kmip.CryptographicAlgorithmEC),
			creationDate("Activation Date", time.Now().Add(-time.Hour)),
			creationA(attrCryptoDomainParams, ttlv.Struct(0, ttlv.Enum(kmip.TagRecommendedCurve, uint32(curve))))),
		creationAttrs(ver, kmip.TagPrivateKeyTemplateAttribute, kmip.TagPrivateKeyAttributes, creationMask(privMask)),
		creationAttrs(ver, kmip.TagPublicKeyTemplateAttribute, kmip.TagPublicKeyAttributes,
			creationMask(kmip.CryptographicUsageMaskDeriveKey|kmip.CryptographicUsageMaskVerify)))
	return p.Children()[0].Text(), p.Children()[1].Text()
}

// ecdhRequest is a TC-DERIVEKEY-6 Derive Key request: a key of bits of
// alg (AES) from the private key and the peer's public key.
func ecdhRequest(ver kmip.ProtocolVersion, ids []string, alg kmip.CryptographicAlgorithm, bits int32) []ttlv.Value {
	f := []ttlv.Value{creationOT(kmip.ObjectTypeSymmetricKey)}
	for _, id := range ids {
		f = append(f, creationUID(id))
	}
	return append(f,
		ttlv.Enum(kmip.TagDerivationMethod, uint32(kmip.DerivationMethodAsymmetricKey)),
		ttlv.Struct(kmip.TagDerivationParameters,
			ttlv.Struct(kmip.TagCryptographicParameters, ttlv.Enum(kmip.TagCryptographicAlgorithm, uint32(alg)))),
		creationAttrs(ver, kmip.TagTemplateAttribute, kmip.TagAttributes,
			creationAlg(kmip.CryptographicAlgorithmAES), creationLen(bits),
			creationMask(kmip.CryptographicUsageMaskEncrypt|kmip.CryptographicUsageMaskDecrypt)))
}

// ecdhDerive derives an AES key of bits from privID and peerID and
// returns its material as Get answers it.
func ecdhDerive(t *testing.T, e *creationEnv, ver kmip.ProtocolVersion, privID, peerID string, bits int32) []byte {
	t.Helper()
	p := e.must(t, ver, kmip.OperationDeriveKey, ecdhRequest(ver, []string{privID, peerID}, kmip.CryptographicAlgorithmECDH, bits)...)
	id := creationID(t, p)
	g := e.must(t, ver, kmip.OperationGet, creationUID(id))
	c := g.Children()
	kb, _ := c[len(c)-1].Child(kmip.TagKeyBlock)
	kv, _ := kb.Child(kmip.TagKeyValue)
	m, ok := kv.Child(kmip.TagKeyMaterial)
	if !ok {
		t.Fatalf("get %s: no key material in %v", id, g)
	}
	return m.Bytes()
}

// TestECDHDeriveBothSides: each side of two key pairs derives the same
// secret from its private key and the other's public key, on a NIST curve
// and on secp256k1 (TC-DERIVEKEY-6), and the derived key's Digest is the
// SHA-256 of what Get returns.
func TestECDHDeriveBothSides(t *testing.T) {
	e := newCreationEnv(t)
	const mask = kmip.CryptographicUsageMaskDeriveKey | kmip.CryptographicUsageMaskSign
	for _, ver := range []kmip.ProtocolVersion{creationV14, creationV20} {
		for _, curve := range []kmip.RecommendedCurve{kmip.RecommendedCurveP256, kmip.RecommendedCurveSECP256K1} {
			t.Run(ver.String()+"/"+curve.String(), func(t *testing.T) {
				privA, pubA := ecdhCreatePair(t, e, ver, curve, mask)
				privB, pubB := ecdhCreatePair(t, e, ver, curve, mask)
				ab := ecdhDerive(t, e, ver, privA, pubB, 256)
				ba := ecdhDerive(t, e, ver, privB, pubA, 256)
				if len(ab) != 32 || !bytes.Equal(ab, ba) {
					t.Fatalf("the two sides derived %d and %d bytes that differ", len(ab), len(ba))
				}
				aa := ecdhDerive(t, e, ver, privA, pubA, 256)
				if bytes.Equal(aa, ab) {
					t.Errorf("a key pair with itself derived the same secret as with the peer")
				}
			})
		}
	}
}

// TestECDHDeriveMatchesGo cross-checks the HSM against crypto/ecdh on
// P-256: the derived AES-256 key is the x-coordinate of the shared point
// (CKD_NULL), which is what crypto/ecdh returns.
func TestECDHDeriveMatchesGo(t *testing.T) {
	e := newCreationEnv(t)
	for _, ver := range []kmip.ProtocolVersion{creationV14, creationV20} {
		t.Run(ver.String(), func(t *testing.T) {
			privID, pubID := ecdhCreatePair(t, e, ver, kmip.RecommendedCurveP256, kmip.CryptographicUsageMaskDeriveKey)
			goKey, err := ecdh.P256().GenerateKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			spki, err := x509.MarshalPKIXPublicKey(goKey.PublicKey())
			if err != nil {
				t.Fatal(err)
			}
			p := e.must(t, ver, kmip.OperationRegister, creationOT(kmip.ObjectTypePublicKey),
				creationTemplate(ver, creationMask(kmip.CryptographicUsageMaskVerify),
					creationDate("Activation Date", time.Now().Add(-time.Hour))),
				ttlv.Struct(kmip.TagPublicKey, creationKeyBlock(kmip.KeyFormatTypeX509, ttlv.Bytes(kmip.TagKeyMaterial, spki), kmip.CryptographicAlgorithmEC, 256)))
			goPubID := creationID(t, p)
			hsmPub, err := x509.ParsePKIXPublicKey(e.object(t, pubID).Public)
			if err != nil {
				t.Fatal(err)
			}
			ecdhPub, err := ecdh.P256().NewPublicKey(ecdhPoint(t, hsmPub))
			if err != nil {
				t.Fatal(err)
			}
			want, err := goKey.ECDH(ecdhPub)
			if err != nil {
				t.Fatal(err)
			}
			if got := ecdhDerive(t, e, ver, privID, goPubID, 256); !bytes.Equal(got, want) {
				t.Errorf("HSM derived %x, crypto/ecdh %x", got, want)
			}
		})
	}
}

// ecdhPoint returns the uncompressed point of a public key that
// x509.ParsePKIXPublicKey returned.
func ecdhPoint(t *testing.T, pub any) []byte {
	t.Helper()
	k, ok := pub.(interface {
		ECDH() (*ecdh.PublicKey, error)
	})
	if !ok {
		t.Fatalf("public key %T is not an EC key", pub)
	}
	ek, err := k.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	return ek.Bytes()
}

// TestECDHDeriveRefusals: what Asymmetric Key derivation refuses, and the
// Result Reason of each refusal.
func TestECDHDeriveRefusals(t *testing.T) {
	e := newCreationEnv(t)
	for _, ver := range []kmip.ProtocolVersion{creationV14, creationV20} {
		privID, pubID := ecdhCreatePair(t, e, ver, kmip.RecommendedCurveP256, kmip.CryptographicUsageMaskDeriveKey)
		signOnly, _ := ecdhCreatePair(t, e, ver, kmip.RecommendedCurveP256, kmip.CryptographicUsageMaskSign)
		k1Priv, _ := ecdhCreatePair(t, e, ver, kmip.RecommendedCurveSECP256K1, kmip.CryptographicUsageMaskDeriveKey)
		badType, badMask := kmip.ResultReasonInvalidField, kmip.ResultReasonPermissionDenied
		if ver.Is2x() {
			badType, badMask = kmip.ResultReasonInvalidObjectType, kmip.ResultReasonIncompatibleCryptographicUsageMask
		}
		tests := []struct {
			name   string
			ids    []string
			alg    kmip.CryptographicAlgorithm
			bits   int32
			reason kmip.ResultReason
		}{
			{"no peer", []string{privID}, kmip.CryptographicAlgorithmECDH, 256, kmip.ResultReasonInvalidField},
			{"not ECDH", []string{privID, pubID}, kmip.CryptographicAlgorithmRSA, 256, kmip.ResultReasonInvalidField},
			{"public key as the base", []string{pubID, pubID}, kmip.CryptographicAlgorithmECDH, 256, badType},
			{"private key as the peer", []string{privID, privID}, kmip.CryptographicAlgorithmECDH, 256, badType},
			{"no derive key bit", []string{signOnly, pubID}, kmip.CryptographicAlgorithmECDH, 256, badMask},
			{"peer on another curve", []string{k1Priv, pubID}, kmip.CryptographicAlgorithmECDH, 256, kmip.ResultReasonCryptographicFailure},
		}
		for _, tt := range tests {
			t.Run(ver.String()+"/"+tt.name, func(t *testing.T) {
				p, err := e.call(ver, kmip.OperationDeriveKey, ecdhRequest(ver, tt.ids, tt.alg, tt.bits)...)
				var ke *kmip.Error
				if !errors.As(err, &ke) || ke.Reason != tt.reason {
					t.Fatalf("got %v, %v; want %v", p, err, tt.reason)
				}
			})
		}
	}
}
