package hsmbackend_test

import (
	"context"
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"

	"github.com/kmipd/kmipd/hsmbackend"
	"github.com/kmipd/kmipd/hsmbackend/hsmtest"
)

// secp256k1 key pairs: Go cannot parse them, so the SPKI and the PKCS#8
// are checked structurally here; the service tests verify signatures.

var (
	testOIDECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	testOIDSecp256k1   = asn1.ObjectIdentifier{1, 3, 132, 0, 10}
)

// secp256k1Curve returns the named curve of an id-ecPublicKey algorithm.
func secp256k1Curve(t *testing.T, a pkix.AlgorithmIdentifier) asn1.ObjectIdentifier {
	t.Helper()
	if !a.Algorithm.Equal(testOIDECPublicKey) {
		t.Fatalf("algorithm %v, want id-ecPublicKey", a.Algorithm)
	}
	var curve asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(a.Parameters.FullBytes, &curve); err != nil {
		t.Fatalf("curve parameters: %v", err)
	}
	return curve
}

func TestSecp256k1GenerateKeyPair(t *testing.T) {
	ctx := context.Background()
	b := hsmtest.New(t)
	w, spkiDER, err := b.GenerateKeyPair(ctx, hsmbackend.PairSpec{Kind: hsmbackend.EC, Curve: hsmbackend.CurveSecp256k1})
	if err != nil {
		t.Fatalf("GenerateKeyPair: %v", err)
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if rest, err := asn1.Unmarshal(spkiDER, &spki); err != nil || len(rest) != 0 {
		t.Fatalf("public key is not SPKI: %v", err)
	}
	if c := secp256k1Curve(t, spki.Algorithm); !c.Equal(testOIDSecp256k1) {
		t.Errorf("SPKI curve %v, want secp256k1", c)
	}
	if p := spki.PublicKey.Bytes; len(p) != 65 || p[0] != 4 || spki.PublicKey.BitLength != 520 {
		t.Errorf("public point of %d bytes (%d bits), want 65 uncompressed", len(p), spki.PublicKey.BitLength)
	}
	der, err := b.Unwrap(ctx, w)
	if err != nil {
		t.Fatalf("Unwrap: %v", err)
	}
	defer clear(der)
	var p8 struct {
		Version    int
		Algorithm  pkix.AlgorithmIdentifier
		PrivateKey []byte
	}
	if _, err := asn1.Unmarshal(der, &p8); err != nil {
		t.Fatalf("unwrapped key is not PKCS#8: %v", err)
	}
	if c := secp256k1Curve(t, p8.Algorithm); !c.Equal(testOIDSecp256k1) {
		t.Errorf("PKCS#8 curve %v, want secp256k1", c)
	}
	// The wrapped key signs in the HSM (raw CKM_ECDSA over a Go digest).
	h, err := b.UnwrapKey(ctx, w, hsmbackend.KeyUse{Kind: hsmbackend.EC, Sign: true})
	if err != nil {
		t.Fatalf("UnwrapKey: %v", err)
	}
	defer func() { _ = b.DestroyHandle(ctx, h) }()
	sig, err := b.Sign(ctx, h, hsmbackend.ECDSA, crypto.SHA256, []byte("kmipd secp256k1"))
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(sig, &rs); err != nil || len(rest) != 0 || rs.R.Sign() <= 0 || rs.S.Sign() <= 0 {
		t.Errorf("signature is not a DER Ecdsa-Sig-Value: %v", err)
	}
}
