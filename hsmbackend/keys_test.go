package hsmbackend_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/kmipd/kmipd/hsmbackend"
	"github.com/kmipd/kmipd/hsmbackend/hsmtest"
)

func TestGenerateSecret(t *testing.T) {
	ctx := context.Background()
	b := hsmtest.New(t)
	tests := []struct {
		spec    hsmbackend.SecretSpec
		wantLen int
		wantErr error
	}{
		{spec: hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 128}, wantLen: 16},
		{spec: hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 192}, wantLen: 24},
		{spec: hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 256}, wantLen: 32},
		{spec: hsmbackend.SecretSpec{Kind: hsmbackend.DES3, Bits: 192}, wantLen: 24},
		{spec: hsmbackend.SecretSpec{Kind: hsmbackend.DES3, Bits: 168}, wantLen: 24},
		{spec: hsmbackend.SecretSpec{Kind: hsmbackend.GenericSecret, Bits: 8}, wantLen: 1},
		{spec: hsmbackend.SecretSpec{Kind: hsmbackend.GenericSecret, Bits: 160}, wantLen: 20},
		{spec: hsmbackend.SecretSpec{Kind: hsmbackend.GenericSecret, Bits: 520}, wantLen: 65},
		{spec: hsmbackend.SecretSpec{Kind: hsmbackend.GenericSecret, Bits: 4096}, wantLen: 512},
		{spec: hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 64}, wantErr: hsmbackend.ErrInvalidSpec},
		{spec: hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 0}, wantErr: hsmbackend.ErrInvalidSpec},
		{spec: hsmbackend.SecretSpec{Kind: hsmbackend.DES3, Bits: 128}, wantErr: hsmbackend.ErrInvalidSpec},
		{spec: hsmbackend.SecretSpec{Kind: hsmbackend.GenericSecret, Bits: 12}, wantErr: hsmbackend.ErrInvalidSpec},
		{spec: hsmbackend.SecretSpec{Kind: hsmbackend.GenericSecret, Bits: -8}, wantErr: hsmbackend.ErrInvalidSpec},
		{spec: hsmbackend.SecretSpec{Kind: hsmbackend.GenericSecret, Bits: 8 * (hsmbackend.MaxMaterialLen + 1)}, wantErr: hsmbackend.ErrInvalidSpec},
		{spec: hsmbackend.SecretSpec{Kind: hsmbackend.RSA, Bits: 2048}, wantErr: hsmbackend.ErrInvalidSpec},
		{spec: hsmbackend.SecretSpec{}, wantErr: hsmbackend.ErrInvalidSpec},
	}
	for _, viaMiekg := range generatePaths(t, b) {
		before := countSessionKeys(t, b)
		for _, tt := range tests {
			t.Run(pathName(viaMiekg)+"/"+tt.spec.Kind.String(), func(t *testing.T) {
				w, err := b.GenerateSecret(ctx, tt.spec)
				if tt.wantErr != nil {
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("GenerateSecret(%+v): %v, want %v", tt.spec, err, tt.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatalf("GenerateSecret(%+v): %v", tt.spec, err)
				}
				if w.Len != tt.wantLen || w.Mechanism != hsmbackend.MechanismAESKeyWrapPad || w.MasterKey != b.MasterKeyLabel() {
					t.Errorf("Wrapped = {%q %q len %d}, want len %d", w.MasterKey, w.Mechanism, w.Len, tt.wantLen)
				}
				pt, err := b.Unwrap(ctx, w)
				if err != nil {
					t.Fatalf("Unwrap: %v", err)
				}
				if len(pt) != tt.wantLen {
					t.Errorf("unwrapped %d bytes, want %d", len(pt), tt.wantLen)
				}
				if len(pt) >= 8 && bytes.Contains(w.Blob, pt) {
					t.Error("blob contains the key")
				}
				w2, err := b.GenerateSecret(ctx, tt.spec)
				if err != nil {
					t.Fatal(err)
				}
				pt2, err := b.Unwrap(ctx, w2)
				if err != nil {
					t.Fatal(err)
				}
				if len(pt) >= 8 && bytes.Equal(pt, pt2) {
					t.Error("two generated keys are equal")
				}
			})
		}
		checkNoTemporaryKeys(t, b, before)
	}
}

func TestGenerateKeyPair(t *testing.T) {
	ctx := context.Background()
	b := hsmtest.New(t)
	tests := []struct {
		name    string
		spec    hsmbackend.PairSpec
		slow    bool
		wantErr error
		// mayBeUnsupported: SoftHSM 2.6.1 generates Ed25519 pairs but
		// cannot wrap their private keys; another module may.
		mayBeUnsupported bool
	}{
		{name: "RSA-2048", spec: hsmbackend.PairSpec{Kind: hsmbackend.RSA, Bits: 2048}},
		{name: "RSA-1024", spec: hsmbackend.PairSpec{Kind: hsmbackend.RSA, Bits: 1024}},
		{name: "RSA-3072", spec: hsmbackend.PairSpec{Kind: hsmbackend.RSA, Bits: 3072}, slow: true},
		{name: "P-256", spec: hsmbackend.PairSpec{Kind: hsmbackend.EC, Curve: "P-256"}},
		{name: "P-384", spec: hsmbackend.PairSpec{Kind: hsmbackend.EC, Curve: "P-384"}},
		{name: "P-521", spec: hsmbackend.PairSpec{Kind: hsmbackend.EC, Curve: "P-521"}},
		{name: "EC by bits", spec: hsmbackend.PairSpec{Kind: hsmbackend.EC, Bits: 384}},
		{name: "Ed25519", spec: hsmbackend.PairSpec{Kind: hsmbackend.Ed25519}, mayBeUnsupported: true},
		{name: "RSA too small", spec: hsmbackend.PairSpec{Kind: hsmbackend.RSA, Bits: 512}, wantErr: hsmbackend.ErrInvalidSpec},
		{name: "RSA too big", spec: hsmbackend.PairSpec{Kind: hsmbackend.RSA, Bits: 16384}, wantErr: hsmbackend.ErrInvalidSpec},
		{name: "RSA odd", spec: hsmbackend.PairSpec{Kind: hsmbackend.RSA, Bits: 2047}, wantErr: hsmbackend.ErrInvalidSpec},
		{name: "unknown curve", spec: hsmbackend.PairSpec{Kind: hsmbackend.EC, Curve: "P-224"}, wantErr: hsmbackend.ErrInvalidSpec},
		{name: "EC no curve", spec: hsmbackend.PairSpec{Kind: hsmbackend.EC}, wantErr: hsmbackend.ErrInvalidSpec},
		{name: "AES is no pair", spec: hsmbackend.PairSpec{Kind: hsmbackend.AES, Bits: 256}, wantErr: hsmbackend.ErrInvalidSpec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.slow && testing.Short() {
				t.Skip("slow key generation")
			}
			w, spki, err := b.GenerateKeyPair(ctx, tt.spec)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("GenerateKeyPair: %v, want %v", err, tt.wantErr)
				}
				return
			}
			if tt.mayBeUnsupported && errors.Is(err, hsmbackend.ErrMechanismUnsupported) {
				t.Logf("unsupported by this module: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("GenerateKeyPair: %v", err)
			}
			pub, err := x509.ParsePKIXPublicKey(spki)
			if err != nil {
				t.Fatalf("public key is not SPKI: %v", err)
			}
			der, err := b.Unwrap(ctx, w)
			if err != nil {
				t.Fatalf("Unwrap: %v", err)
			}
			if w.Len != 0 {
				t.Errorf("Len = %d, want 0 (DER)", w.Len)
			}
			priv, err := x509.ParsePKCS8PrivateKey(der)
			if err != nil {
				t.Fatalf("unwrapped key is not PKCS#8: %v", err)
			}
			// Strict parsers reject trailing bytes: the padding must be gone.
			if _, err := x509.MarshalPKCS8PrivateKey(priv); err != nil {
				t.Fatal(err)
			}
			type publicKeyer interface{ Public() crypto.PublicKey }
			type equaler interface{ Equal(crypto.PublicKey) bool }
			if !priv.(publicKeyer).Public().(equaler).Equal(pub) {
				t.Fatal("private key does not match the public key")
			}
			if bytes.Contains(w.Blob, der[len(der)-16:]) {
				t.Error("blob contains key bytes")
			}
			switch k := priv.(type) {
			case *rsa.PrivateKey:
				if k.N.BitLen() != tt.spec.Bits || k.E != 65537 {
					t.Errorf("RSA key of %d bits, e=%d", k.N.BitLen(), k.E)
				}
			case *ecdsa.PrivateKey:
				if k.Curve.Params().Name != curveName(tt.spec) {
					t.Errorf("curve %s", k.Curve.Params().Name)
				}
			}
		})
	}
}

func curveName(spec hsmbackend.PairSpec) string {
	if spec.Curve != "" {
		return spec.Curve
	}
	return map[int]string{256: "P-256", 384: "P-384", 521: "P-521"}[spec.Bits]
}

func TestWrapSecretRoundTrip(t *testing.T) {
	ctx := context.Background()
	b := hsmtest.New(t)
	pattern := func(n int) []byte {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(i*7 + 1)
		}
		return p
	}
	zeroTail := append(pattern(9), 0, 0, 0) // trailing zeros are data, not padding
	tests := []struct {
		name    string
		kind    hsmbackend.Algorithm
		pt      []byte
		wantErr error
	}{
		{name: "AES-128", kind: hsmbackend.AES, pt: pattern(16)},
		{name: "AES-192", kind: hsmbackend.AES, pt: pattern(24)},
		{name: "AES-256", kind: hsmbackend.AES, pt: pattern(32)},
		{name: "DES3", kind: hsmbackend.DES3, pt: pattern(24)},
		{name: "1 byte", kind: hsmbackend.GenericSecret, pt: []byte{0x42}},
		{name: "1 zero byte", kind: hsmbackend.GenericSecret, pt: []byte{0}},
		{name: "7 bytes", kind: hsmbackend.GenericSecret, pt: pattern(7)},
		{name: "8 bytes", kind: hsmbackend.GenericSecret, pt: pattern(8)},
		{name: "9 bytes", kind: hsmbackend.GenericSecret, pt: pattern(9)},
		{name: "password", kind: hsmbackend.GenericSecret, pt: []byte("correct horse battery staple")},
		{name: "trailing zeros", kind: hsmbackend.GenericSecret, pt: zeroTail},
		{name: "max", kind: hsmbackend.GenericSecret, pt: pattern(hsmbackend.MaxMaterialLen)},
		{name: "empty", kind: hsmbackend.GenericSecret, pt: nil, wantErr: hsmbackend.ErrInvalidSpec},
		{name: "too big", kind: hsmbackend.GenericSecret, pt: pattern(hsmbackend.MaxMaterialLen + 1), wantErr: hsmbackend.ErrInvalidSpec},
		{name: "AES wrong size", kind: hsmbackend.AES, pt: pattern(20), wantErr: hsmbackend.ErrInvalidSpec},
		{name: "DES3 wrong size", kind: hsmbackend.DES3, pt: pattern(16), wantErr: hsmbackend.ErrInvalidSpec},
		{name: "RSA kind", kind: hsmbackend.RSA, pt: pattern(100), wantErr: hsmbackend.ErrInvalidSpec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := bytes.Clone(tt.pt)
			w, err := b.WrapSecret(ctx, tt.kind, in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("WrapSecret: %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("WrapSecret: %v", err)
			}
			if !bytes.Equal(in, tt.pt) {
				t.Fatal("WrapSecret changed the caller's buffer")
			}
			clear(in) // the Backend must not depend on it any more
			if len(tt.pt) >= 8 && bytes.Contains(w.Blob, tt.pt[:8]) {
				t.Error("blob contains the plaintext")
			}
			got, err := b.Unwrap(ctx, w)
			if err != nil {
				t.Fatalf("Unwrap: %v", err)
			}
			if !bytes.Equal(got, tt.pt) {
				t.Fatalf("Unwrap = %x..., want %x...", head(got), head(tt.pt))
			}
		})
	}
}

func head(b []byte) []byte {
	if len(b) > 16 {
		return b[:16]
	}
	return b
}

// A private key registered as PKCS#8 bytes (a generic secret) unwraps both
// as plaintext and as a usable private key object.
func TestRegisteredPrivateKey(t *testing.T) {
	ctx := context.Background()
	b := hsmtest.New(t)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		key    crypto.Signer
		kind   hsmbackend.Algorithm
		scheme hsmbackend.SignScheme
	}{
		{name: "EC", key: ecKey, kind: hsmbackend.EC, scheme: hsmbackend.ECDSA},
		{name: "RSA", key: rsaKey, kind: hsmbackend.RSA, scheme: hsmbackend.RSAPKCS1v15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			der, err := x509.MarshalPKCS8PrivateKey(tt.key)
			if err != nil {
				t.Fatal(err)
			}
			w, err := b.WrapSecret(ctx, hsmbackend.GenericSecret, der)
			if err != nil {
				t.Fatal(err)
			}
			got, err := b.Unwrap(ctx, w)
			if err != nil || !bytes.Equal(got, der) {
				t.Fatalf("Unwrap: %v (equal %v)", err, bytes.Equal(got, der))
			}
			h, err := b.UnwrapKey(ctx, w, hsmbackend.KeyUse{Kind: tt.kind, Sign: true})
			if err != nil {
				t.Fatalf("UnwrapKey: %v", err)
			}
			defer func() {
				if err := b.DestroyHandle(ctx, h); err != nil {
					t.Errorf("DestroyHandle: %v", err)
				}
			}()
			msg := []byte("registered key signs")
			sig, err := b.Sign(ctx, h, tt.scheme, crypto.SHA256, msg)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			digest := sha256.Sum256(msg)
			switch pub := tt.key.Public().(type) {
			case *ecdsa.PublicKey:
				if !ecdsa.VerifyASN1(pub, digest[:], sig) {
					t.Fatal("ECDSA signature does not verify")
				}
			case *rsa.PublicKey:
				if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestUnwrapBad(t *testing.T) {
	ctx := context.Background()
	b := hsmtest.New(t)
	good, err := b.WrapSecret(ctx, hsmbackend.GenericSecret, []byte("0123456789abcdef-and-more"))
	if err != nil {
		t.Fatal(err)
	}
	mod := func(f func(w *hsmbackend.Wrapped)) hsmbackend.Wrapped {
		w := good
		w.Blob = bytes.Clone(good.Blob)
		f(&w)
		return w
	}
	tests := []struct {
		name        string
		w           hsmbackend.Wrapped
		wantErr     error
		unwrapKeyOK bool
	}{
		{name: "flipped bit", wantErr: hsmbackend.ErrBadWrappedKey, w: mod(func(w *hsmbackend.Wrapped) { w.Blob[5] ^= 1 })},
		{name: "flipped last bit", wantErr: hsmbackend.ErrBadWrappedKey, w: mod(func(w *hsmbackend.Wrapped) { w.Blob[len(w.Blob)-1] ^= 0x80 })},
		{name: "truncated block", wantErr: hsmbackend.ErrBadWrappedKey, w: mod(func(w *hsmbackend.Wrapped) { w.Blob = w.Blob[:len(w.Blob)-8]; w.Len = 16 })},
		{name: "not whole blocks", wantErr: hsmbackend.ErrBadWrappedKey, w: mod(func(w *hsmbackend.Wrapped) { w.Blob = w.Blob[:len(w.Blob)-1] })},
		{name: "too short", wantErr: hsmbackend.ErrBadWrappedKey, w: mod(func(w *hsmbackend.Wrapped) { w.Blob = w.Blob[:8]; w.Len = 0 })},
		{name: "empty", wantErr: hsmbackend.ErrBadWrappedKey, w: mod(func(w *hsmbackend.Wrapped) { w.Blob = nil })},
		{name: "too long", wantErr: hsmbackend.ErrBadWrappedKey, w: mod(func(w *hsmbackend.Wrapped) { w.Blob = make([]byte, hsmbackend.MaxWrappedLen+8) })},
		{name: "other mechanism", wantErr: hsmbackend.ErrBadWrappedKey, w: mod(func(w *hsmbackend.Wrapped) { w.Mechanism = "CKM_AES_KEY_WRAP" })},
		{name: "no master key label", wantErr: hsmbackend.ErrBadWrappedKey, w: mod(func(w *hsmbackend.Wrapped) { w.MasterKey = "" })},
		{name: "unknown master key", wantErr: hsmbackend.ErrMasterKeyMissing, w: mod(func(w *hsmbackend.Wrapped) { w.MasterKey = "kmipd-master-v9" })},
		{name: "length short by 8", wantErr: hsmbackend.ErrBadWrappedKey, w: mod(func(w *hsmbackend.Wrapped) { w.Len -= 8 })},
		{name: "length beyond blob", wantErr: hsmbackend.ErrBadWrappedKey, w: mod(func(w *hsmbackend.Wrapped) { w.Len = len(w.Blob) - 7 })},
		{name: "length cuts data", wantErr: hsmbackend.ErrBadWrappedKey, w: mod(func(w *hsmbackend.Wrapped) { w.Len -= 2 })},
		{name: "length negative", wantErr: hsmbackend.ErrBadWrappedKey, w: mod(func(w *hsmbackend.Wrapped) { w.Len = -1 })},
		// UnwrapKey cannot see the material, so it cannot tell.
		{name: "length lost, not DER", wantErr: hsmbackend.ErrBadWrappedKey, unwrapKeyOK: true, w: mod(func(w *hsmbackend.Wrapped) { w.Len = 0 })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pt, err := b.Unwrap(ctx, tt.w)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Unwrap = %x, %v; want %v", pt, err, tt.wantErr)
			}
			_, err = b.UnwrapKey(ctx, tt.w, hsmbackend.KeyUse{Kind: hsmbackend.GenericSecret, Sign: true})
			if err == nil && !tt.unwrapKeyOK {
				t.Fatal("UnwrapKey accepted a bad blob")
			}
		})
	}
	// The session survives failed unwraps.
	if _, err := b.Unwrap(ctx, good); err != nil {
		t.Fatalf("Unwrap of the good blob afterwards: %v", err)
	}
}

func TestHandles(t *testing.T) {
	ctx := context.Background()
	b := hsmtest.New(t)
	other := hsmtest.New(t)
	w, err := b.GenerateSecret(ctx, hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 128})
	if err != nil {
		t.Fatal(err)
	}
	h, err := b.UnwrapKey(ctx, w, hsmbackend.KeyUse{Kind: hsmbackend.AES, Encrypt: true})
	if err != nil {
		t.Fatal(err)
	}
	if h.IsZero() || h.Kind() != hsmbackend.AES {
		t.Fatalf("handle %+v", h)
	}
	ecb := hsmbackend.BlockParams{Mode: hsmbackend.ModeECB}
	block := make([]byte, 16)
	if _, err := b.Encrypt(ctx, h, ecb, block); err != nil {
		t.Fatal(err)
	}
	// Usage attributes are enforced by the token.
	if _, err := b.Decrypt(ctx, h, ecb, block); !errors.Is(err, hsmbackend.ErrKeyUsage) {
		t.Errorf("Decrypt with an encrypt-only key: %v", err)
	}
	if _, err := other.Encrypt(ctx, h, ecb, block); !errors.Is(err, hsmbackend.ErrKeyNotFound) {
		t.Errorf("handle used on another Backend: %v", err)
	}
	if _, err := b.Encrypt(ctx, hsmbackend.Handle{}, ecb, block); !errors.Is(err, hsmbackend.ErrKeyNotFound) {
		t.Errorf("zero handle: %v", err)
	}
	if err := b.DestroyHandle(ctx, h); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Encrypt(ctx, h, ecb, block); !errors.Is(err, hsmbackend.ErrKeyNotFound) {
		t.Errorf("destroyed handle: %v", err)
	}
	if err := b.DestroyHandle(ctx, h); !errors.Is(err, hsmbackend.ErrKeyNotFound) {
		t.Errorf("second DestroyHandle: %v", err)
	}
	// Private keys cannot carry public-key usages.
	if _, err := b.UnwrapKey(ctx, w, hsmbackend.KeyUse{Kind: hsmbackend.RSA, Encrypt: true}); !errors.Is(err, hsmbackend.ErrInvalidSpec) {
		t.Errorf("UnwrapKey RSA with Encrypt: %v", err)
	}
	// A 16-byte blob content is no DES3 key.
	if _, err := b.UnwrapKey(ctx, w, hsmbackend.KeyUse{Kind: hsmbackend.DES3, Encrypt: true}); !errors.Is(err, hsmbackend.ErrInvalidSpec) {
		t.Errorf("UnwrapKey AES blob as DES3: %v", err)
	}
}

func TestRandom(t *testing.T) {
	ctx := context.Background()
	b := hsmtest.New(t)
	tests := []struct {
		n       int
		wantErr error
	}{
		{n: 1}, {n: 16}, {n: 1000}, {n: hsmbackend.MaxRandomLen},
		{n: 0, wantErr: hsmbackend.ErrInvalidSpec},
		{n: -1, wantErr: hsmbackend.ErrInvalidSpec},
		{n: hsmbackend.MaxRandomLen + 1, wantErr: hsmbackend.ErrInvalidSpec},
	}
	for _, tt := range tests {
		r, err := b.Random(ctx, tt.n)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Random(%d): %v, want %v", tt.n, err, tt.wantErr)
			}
			continue
		}
		if err != nil || len(r) != tt.n {
			t.Errorf("Random(%d) = %d bytes, %v", tt.n, len(r), err)
		}
	}
	r1, _ := b.Random(ctx, 32)
	r2, _ := b.Random(ctx, 32)
	if bytes.Equal(r1, r2) {
		t.Error("two random draws are equal")
	}
}

func TestSeedRandom(t *testing.T) {
	ctx := context.Background()
	b := hsmtest.New(t)
	tests := []struct {
		name    string
		seed    []byte
		wantErr []error // any of
	}{
		// SoftHSM accepts seeds; other tokens may refuse them.
		{name: "seed", seed: []byte("some entropy"), wantErr: []error{nil, hsmbackend.ErrMechanismUnsupported}},
		{name: "empty", seed: nil, wantErr: []error{hsmbackend.ErrInvalidSpec}},
		{name: "too long", seed: make([]byte, hsmbackend.MaxRandomLen+1), wantErr: []error{hsmbackend.ErrInvalidSpec}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := b.SeedRandom(ctx, tt.seed)
			for _, want := range tt.wantErr {
				if errors.Is(err, want) || (want == nil && err == nil) {
					return
				}
			}
			t.Fatalf("SeedRandom: %v, want one of %v", err, tt.wantErr)
		})
	}
}

func BenchmarkGenerateWrapAES256(b *testing.B) {
	be := hsmtest.New(b)
	ctx := context.Background()
	spec := hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 256}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := be.GenerateSecret(ctx, spec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnwrapAES256(b *testing.B) {
	be := hsmtest.New(b)
	ctx := context.Background()
	w, err := be.GenerateSecret(ctx, hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 256})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		pt, err := be.Unwrap(ctx, w)
		if err != nil {
			b.Fatal(err)
		}
		clear(pt)
	}
}

// generatePaths lists the two ways a Backend generates a secret key, for
// a loop that sets b.UseMiekgOnly to each in turn: the one cgo call of
// direct.go, which SoftHSM must offer, and miekg/pkcs11.
func generatePaths(t *testing.T, b *hsmbackend.Backend) []bool {
	t.Helper()
	if !b.HasDirectGenerate() {
		t.Fatal("SoftHSM exports C_GenerateKey, C_WrapKey, C_Digest* and C_DestroyObject, yet the direct path is off")
	}
	t.Cleanup(func() { b.UseMiekgOnly(false) })
	b.UseMiekgOnly(false)
	return []bool{false, true}
}

// pathName names a generatePaths entry in subtest names.
func pathName(viaMiekg bool) string {
	if viaMiekg {
		return "miekg"
	}
	return "direct"
}

func countSessionKeys(t *testing.T, b *hsmbackend.Backend) int {
	t.Helper()
	n, err := b.CountSessionSecretKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// checkNoTemporaryKeys fails if more session keys exist than before: a
// generated key's session object must be destroyed once wrapped.
func checkNoTemporaryKeys(t *testing.T, b *hsmbackend.Backend, before int) {
	t.Helper()
	if n := countSessionKeys(t, b); n != before {
		t.Errorf("%d session secret keys after generating, %d before: a temporary key was left behind", n, before)
	}
}
