package hsmbackend_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/kmipd/kmipd/hsmbackend"
	"github.com/kmipd/kmipd/hsmbackend/hsmtest"
)

// The benchmarks below time the HSM round trips of the service's hot
// paths, each of which wraps or unwraps under the master key once:
// BenchmarkGenerateWrapAES256 and BenchmarkUnwrapAES256 (keys_test.go)
// time GenerateSecret and Unwrap.

// BenchmarkGenerateSecretSHA256AES256 is KMIP Create of an AES-256 key
// (service/create.go): generate, digest and wrap in one session.
func BenchmarkGenerateSecretSHA256AES256(b *testing.B) {
	be := hsmtest.New(b)
	ctx := context.Background()
	spec := hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 256}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := be.GenerateSecretSHA256(ctx, spec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnwrapReadableAES256 is a key-cache miss of KMIP Get: unwrap
// into a readable session object, read it, destroy it.
func BenchmarkUnwrapReadableAES256(b *testing.B) {
	be := hsmtest.New(b)
	ctx := context.Background()
	w, err := be.GenerateSecret(ctx, hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 256})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		h, err := be.UnwrapReadable(ctx, w)
		if err != nil {
			b.Fatal(err)
		}
		v, err := be.ReadValue(ctx, h, w)
		if err != nil {
			b.Fatal(err)
		}
		clear(v)
		if err := be.DestroyHandle(ctx, h); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnwrapKeyAES256 is a key-cache miss of KMIP Encrypt: unwrap
// into a key object for cryptography, then destroy it.
func BenchmarkUnwrapKeyAES256(b *testing.B) {
	be := hsmtest.New(b)
	ctx := context.Background()
	w, err := be.GenerateSecret(ctx, hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 256})
	if err != nil {
		b.Fatal(err)
	}
	use := hsmbackend.KeyUse{Kind: hsmbackend.AES, Encrypt: true, Decrypt: true}
	b.ReportAllocs()
	for b.Loop() {
		h, err := be.UnwrapKey(ctx, w, use)
		if err != nil {
			b.Fatal(err)
		}
		if err := be.DestroyHandle(ctx, h); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncryptAESGCM is KMIP Encrypt with AES-GCM on a cached key
// (service/crypto_block.go), through the module's own entry points
// (direct.go) and through miekg/pkcs11.
func BenchmarkEncryptAESGCM(b *testing.B) {
	be := hsmtest.New(b)
	ctx := context.Background()
	w, err := be.GenerateSecret(ctx, hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 256})
	if err != nil {
		b.Fatal(err)
	}
	h, err := be.UnwrapKey(ctx, w, hsmbackend.KeyUse{Kind: hsmbackend.AES, Encrypt: true})
	if err != nil {
		b.Fatal(err)
	}
	iv := make([]byte, 12)
	for _, path := range []string{"direct", "miekg"} {
		for _, size := range []int{64, 4096} {
			b.Run(fmt.Sprintf("%s/%d", path, size), func(b *testing.B) {
				be.UseMiekgOnly(path == "miekg")
				defer be.UseMiekgOnly(false)
				data := make([]byte, size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					binary.BigEndian.PutUint64(iv[4:], uint64(i))
					if _, err := be.EncryptAESGCM(ctx, h, iv, nil, data, 128); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
