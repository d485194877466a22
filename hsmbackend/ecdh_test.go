package hsmbackend_test

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/kmipd/kmipd/hsmbackend"
	"github.com/kmipd/kmipd/hsmbackend/hsmtest"
)

// TestECDHDerive cross-checks DeriveECDH against crypto/ecdh on P-256:
// the wrapped secret is the x-coordinate of the shared point, and the
// digest the HSM returns is its SHA-256.
func TestECDHDerive(t *testing.T) {
	ctx := context.Background()
	b := hsmtest.New(t)
	w, spki, err := b.GenerateKeyPair(ctx, hsmbackend.PairSpec{Kind: hsmbackend.EC, Curve: "P-256"})
	if err != nil {
		t.Fatal(err)
	}
	h, err := b.UnwrapKey(ctx, w, hsmbackend.KeyUse{Kind: hsmbackend.EC, Derive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.DestroyHandle(ctx, h) }()
	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		t.Fatal(err)
	}
	hsmPub, err := pub.(interface {
		ECDH() (*ecdh.PublicKey, error)
	}).ECDH()
	if err != nil {
		t.Fatal(err)
	}
	want, err := peer.ECDH(hsmPub)
	if err != nil {
		t.Fatal(err)
	}
	got, sum, err := b.DeriveECDH(ctx, h, peer.PublicKey().Bytes(), hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 256})
	if err != nil {
		t.Fatalf("DeriveECDH: %v", err)
	}
	plain, err := b.Unwrap(ctx, got)
	if err != nil {
		t.Fatal(err)
	}
	defer clear(plain)
	if string(plain) != string(want) {
		t.Errorf("derived secret differs from crypto/ecdh's")
	}
	if wantSum := sha256.Sum256(want); sum != nil && string(sum) != string(wantSum[:]) {
		t.Errorf("digest differs from the SHA-256 of the secret")
	}

	other, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tooLong := make([]byte, hsmbackend.MaxECPointLen+1)
	tooLong[0] = 4
	offCurve := peer.PublicKey().Bytes()
	offCurve[len(offCurve)-1] ^= 1
	tests := []struct {
		name  string
		point []byte
		spec  hsmbackend.SecretSpec
		want  error
	}{
		{"not uncompressed", other.PublicKey().Bytes(), hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 256}, hsmbackend.ErrInvalidSpec},
		{"too long", tooLong, hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 256}, hsmbackend.ErrInvalidSpec},
		{"bad spec", peer.PublicKey().Bytes(), hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 100}, hsmbackend.ErrInvalidSpec},
		{"point off the curve", offCurve, hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 256}, hsmbackend.ErrInvalidData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := b.DeriveECDH(ctx, h, tt.point, tt.spec); !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("zero handle", func(t *testing.T) {
		if _, _, err := b.DeriveECDH(ctx, hsmbackend.Handle{}, peer.PublicKey().Bytes(), hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 256}); !errors.Is(err, hsmbackend.ErrKeyNotFound) {
			t.Errorf("got %v, want ErrKeyNotFound", err)
		}
	})
}
