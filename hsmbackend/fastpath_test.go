package hsmbackend_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/kmipd/kmipd/hsmbackend"
	"github.com/kmipd/kmipd/hsmbackend/hsmtest"
)

// TestGenerateSecretSHA256: the digest computed inside the HSM is the
// SHA-256 of the value Unwrap returns, for every secret kind, including
// generic secrets whose length is not a multiple of 8 (SoftHSM pads those
// when wrapping; the digest must cover the unpadded value).
func TestGenerateSecretSHA256(t *testing.T) {
	ctx := context.Background()
	b := hsmtest.New(t)
	tests := []struct {
		name    string
		spec    hsmbackend.SecretSpec
		wantErr error
	}{
		{name: "AES-128", spec: hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 128}},
		{name: "AES-256", spec: hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 256}},
		{name: "DES3", spec: hsmbackend.SecretSpec{Kind: hsmbackend.DES3, Bits: 168}},
		{name: "generic-20", spec: hsmbackend.SecretSpec{Kind: hsmbackend.GenericSecret, Bits: 160}},
		{name: "generic-65", spec: hsmbackend.SecretSpec{Kind: hsmbackend.GenericSecret, Bits: 520}},
		{name: "bad", spec: hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 64}, wantErr: hsmbackend.ErrInvalidSpec},
	}
	for _, viaMiekg := range generatePaths(t, b) {
		before := countSessionKeys(t, b)
		for _, tt := range tests {
			t.Run(pathName(viaMiekg)+"/"+tt.name, func(t *testing.T) {
				w, sum, err := b.GenerateSecretSHA256(ctx, tt.spec)
				if tt.wantErr != nil {
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("GenerateSecretSHA256(%+v): %v, want %v", tt.spec, err, tt.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatalf("GenerateSecretSHA256(%+v): %v", tt.spec, err)
				}
				plain, err := b.Unwrap(ctx, w)
				if err != nil {
					t.Fatalf("Unwrap: %v", err)
				}
				defer clear(plain)
				want := sha256.Sum256(plain)
				if sum == nil {
					t.Fatal("SoftHSM digested nothing")
				}
				if !bytes.Equal(sum, want[:]) {
					t.Errorf("digest %x, want SHA-256 of the unwrapped value %x", sum, want)
				}
			})
		}
		checkNoTemporaryKeys(t, b, before)
	}
}

// TestUnwrapReadable: a readable Handle yields the same plaintext as
// Unwrap, any number of times, and fails with ErrKeyNotFound once
// destroyed.
func TestUnwrapReadable(t *testing.T) {
	ctx := context.Background()
	b := hsmtest.New(t)
	values := []struct {
		name  string
		kind  hsmbackend.Algorithm
		value []byte
	}{
		{"AES-256", hsmbackend.AES, bytes.Repeat([]byte{0xA5}, 32)},
		{"generic-13", hsmbackend.GenericSecret, []byte("thirteen byte")},
		{"generic-1", hsmbackend.GenericSecret, []byte{7}},
	}
	for _, tt := range values {
		t.Run(tt.name, func(t *testing.T) {
			w, err := b.WrapSecret(ctx, tt.kind, tt.value)
			if err != nil {
				t.Fatal(err)
			}
			h, err := b.UnwrapReadable(ctx, w)
			if err != nil {
				t.Fatalf("UnwrapReadable: %v", err)
			}
			for range 2 {
				got, err := b.ReadValue(ctx, h, w)
				if err != nil {
					t.Fatalf("ReadValue: %v", err)
				}
				if !bytes.Equal(got, tt.value) {
					t.Errorf("ReadValue = %x, want %x", got, tt.value)
				}
				clear(got)
			}
			if err := b.DestroyHandle(ctx, h); err != nil {
				t.Fatal(err)
			}
			if _, err := b.ReadValue(ctx, h, w); !errors.Is(err, hsmbackend.ErrKeyNotFound) {
				t.Errorf("ReadValue after destroy: %v, want ErrKeyNotFound", err)
			}
		})
	}
	t.Run("bad blob", func(t *testing.T) {
		w, err := b.WrapSecret(ctx, hsmbackend.AES, bytes.Repeat([]byte{1}, 16))
		if err != nil {
			t.Fatal(err)
		}
		bad := w
		bad.Blob = bytes.Clone(w.Blob)
		bad.Blob[3] ^= 1
		if _, err := b.UnwrapReadable(ctx, bad); !errors.Is(err, hsmbackend.ErrBadWrappedKey) {
			t.Errorf("UnwrapReadable of a corrupt blob: %v, want ErrBadWrappedKey", err)
		}
		if _, err := b.ReadValue(ctx, hsmbackend.Handle{}, w); !errors.Is(err, hsmbackend.ErrKeyNotFound) {
			t.Errorf("ReadValue of the zero Handle: %v, want ErrKeyNotFound", err)
		}
	})
	t.Run("no crypto", func(t *testing.T) {
		w, err := b.WrapSecret(ctx, hsmbackend.AES, bytes.Repeat([]byte{2}, 16))
		if err != nil {
			t.Fatal(err)
		}
		h, err := b.UnwrapReadable(ctx, w)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := b.DestroyHandle(ctx, h); err != nil {
				t.Error(err)
			}
		}()
		if _, err := b.Encrypt(ctx, h, hsmbackend.BlockParams{Mode: hsmbackend.ModeECB}, make([]byte, 16)); err == nil {
			t.Error("a readable Handle encrypted")
		}
	})
}
