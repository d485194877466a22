package hsmbackend_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"testing"

	"github.com/kmipd/kmipd/hsmbackend"
	"github.com/kmipd/kmipd/hsmbackend/hsmtest"
)

// secretKey generates a key, returns its handle and (for cross-checking
// with the standard library) its plaintext.
func secretKey(t *testing.T, b *hsmbackend.Backend, spec hsmbackend.SecretSpec, use hsmbackend.KeyUse) (hsmbackend.Handle, []byte) {
	t.Helper()
	ctx := context.Background()
	w, err := b.GenerateSecret(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := b.Unwrap(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	use.Kind = spec.Kind
	h, err := b.UnwrapKey(ctx, w, use)
	if err != nil {
		t.Fatal(err)
	}
	return h, pt
}

func TestBlockModes(t *testing.T) {
	ctx := context.Background()
	b := hsmtest.New(t)
	both := hsmbackend.KeyUse{Encrypt: true, Decrypt: true}
	aesH, aesKey := secretKey(t, b, hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 256}, both)
	desH, desKey := secretKey(t, b, hsmbackend.SecretSpec{Kind: hsmbackend.DES3, Bits: 192}, both)
	aesBlock, _ := aes.NewCipher(aesKey)
	desBlock, err := des.NewTripleDESCipher(desKey)
	if err != nil {
		t.Fatal(err)
	}
	iv16 := bytes.Repeat([]byte{7}, 16)
	iv8 := bytes.Repeat([]byte{9}, 8)
	data32 := bytes.Repeat([]byte("0123456789abcdef"), 2)

	// want computes the expected ciphertext with the standard library.
	cbc := func(blk cipher.Block, iv, pt []byte) []byte {
		out := make([]byte, len(pt))
		cipher.NewCBCEncrypter(blk, iv).CryptBlocks(out, pt)
		return out
	}
	pkcs7 := func(pt []byte, n int) []byte {
		p := n - len(pt)%n
		return append(bytes.Clone(pt), bytes.Repeat([]byte{byte(p)}, p)...)
	}
	ecb := func(blk cipher.Block, pt []byte) []byte {
		out := make([]byte, len(pt))
		for i := 0; i < len(pt); i += blk.BlockSize() {
			blk.Encrypt(out[i:], pt[i:])
		}
		return out
	}
	ctr := func(blk cipher.Block, iv, pt []byte) []byte {
		out := make([]byte, len(pt))
		cipher.NewCTR(blk, iv).XORKeyStream(out, pt)
		return out
	}
	tests := []struct {
		name    string
		h       hsmbackend.Handle
		p       hsmbackend.BlockParams
		data    []byte
		want    []byte
		wantErr error
	}{
		{name: "AES-ECB", h: aesH, p: hsmbackend.BlockParams{Mode: hsmbackend.ModeECB}, data: data32, want: ecb(aesBlock, data32)},
		{name: "AES-CBC", h: aesH, p: hsmbackend.BlockParams{Mode: hsmbackend.ModeCBC, IV: iv16}, data: data32, want: cbc(aesBlock, iv16, data32)},
		{name: "AES-CBC-PAD", h: aesH, p: hsmbackend.BlockParams{Mode: hsmbackend.ModeCBCPad, IV: iv16}, data: []byte("hello"), want: cbc(aesBlock, iv16, pkcs7([]byte("hello"), 16))},
		{name: "AES-CBC-PAD full block", h: aesH, p: hsmbackend.BlockParams{Mode: hsmbackend.ModeCBCPad, IV: iv16}, data: data32, want: cbc(aesBlock, iv16, pkcs7(data32, 16))},
		{name: "AES-CTR", h: aesH, p: hsmbackend.BlockParams{Mode: hsmbackend.ModeCTR, IV: iv16}, data: []byte("counter mode, any length"), want: ctr(aesBlock, iv16, []byte("counter mode, any length"))},
		{name: "DES3-ECB", h: desH, p: hsmbackend.BlockParams{Mode: hsmbackend.ModeECB}, data: data32, want: ecb(desBlock, data32)},
		{name: "DES3-CBC", h: desH, p: hsmbackend.BlockParams{Mode: hsmbackend.ModeCBC, IV: iv8}, data: data32, want: cbc(desBlock, iv8, data32)},
		{name: "DES3-CBC-PAD", h: desH, p: hsmbackend.BlockParams{Mode: hsmbackend.ModeCBCPad, IV: iv8}, data: []byte("abc"), want: cbc(desBlock, iv8, pkcs7([]byte("abc"), 8))},
		{name: "AES-CBC partial block", h: aesH, p: hsmbackend.BlockParams{Mode: hsmbackend.ModeCBC, IV: iv16}, data: []byte("short"), wantErr: hsmbackend.ErrInvalidData},
		{name: "AES-CBC short IV", h: aesH, p: hsmbackend.BlockParams{Mode: hsmbackend.ModeCBC, IV: iv8}, data: data32, wantErr: hsmbackend.ErrInvalidSpec},
		{name: "AES-ECB with IV", h: aesH, p: hsmbackend.BlockParams{Mode: hsmbackend.ModeECB, IV: iv16}, data: data32, wantErr: hsmbackend.ErrInvalidSpec},
		{name: "DES3-CTR", h: desH, p: hsmbackend.BlockParams{Mode: hsmbackend.ModeCTR, IV: iv8}, data: data32, wantErr: hsmbackend.ErrInvalidSpec},
		{name: "CTR counter bits", h: aesH, p: hsmbackend.BlockParams{Mode: hsmbackend.ModeCTR, IV: iv16, CounterBits: 129}, data: data32, wantErr: hsmbackend.ErrInvalidSpec},
		{name: "no mode", h: aesH, p: hsmbackend.BlockParams{}, data: data32, wantErr: hsmbackend.ErrInvalidSpec},
		{name: "empty data", h: aesH, p: hsmbackend.BlockParams{Mode: hsmbackend.ModeECB}, data: nil, wantErr: hsmbackend.ErrInvalidData},
		{name: "too much data", h: aesH, p: hsmbackend.BlockParams{Mode: hsmbackend.ModeECB}, data: make([]byte, hsmbackend.MaxDataLen+16), wantErr: hsmbackend.ErrInvalidData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct, err := b.Encrypt(ctx, tt.h, tt.p, tt.data)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Encrypt: %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Encrypt: %v", err)
			}
			if !bytes.Equal(ct, tt.want) {
				t.Fatalf("Encrypt = %x, want %x", ct, tt.want)
			}
			pt, err := b.Decrypt(ctx, tt.h, tt.p, ct)
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			if !bytes.Equal(pt, tt.data) {
				t.Fatalf("Decrypt = %x, want %x", pt, tt.data)
			}
		})
	}
	// Blocks whose last byte cannot be PKCS#5 padding (0, or more than the
	// block size) fail the padding check. They are made with unpadded CBC,
	// so the result does not depend on the key: corrupting a padded
	// ciphertext instead gives valid padding by chance about once in 256
	// runs.
	for _, last := range []byte{0x00, 0x11, 0xff} {
		block := make([]byte, 16)
		block[15] = last
		ct, err := b.Encrypt(ctx, aesH, hsmbackend.BlockParams{Mode: hsmbackend.ModeCBC, IV: iv16}, block)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Decrypt(ctx, aesH, hsmbackend.BlockParams{Mode: hsmbackend.ModeCBCPad, IV: iv16}, ct); !errors.Is(err, hsmbackend.ErrInvalidData) {
			t.Errorf("Decrypt of a block ending in %#02x with padding: %v, want ErrInvalidData", last, err)
		}
	}
}

// TestAESGCM checks AES-GCM against crypto/cipher, through the module's
// own entry points (direct.go), which SoftHSM exports, and through
// miekg/pkcs11.
func TestAESGCM(t *testing.T) {
	b := hsmtest.New(t)
	if !b.HasDirectGCM() {
		t.Fatal("SoftHSM exports C_EncryptInit and the others, yet the direct GCM calls are not in use")
	}
	for _, viaMiekg := range []bool{false, true} {
		t.Run(fmt.Sprintf("via-miekg=%v", viaMiekg), func(t *testing.T) {
			b.UseMiekgOnly(viaMiekg)
			defer b.UseMiekgOnly(false)
			testAESGCM(t, b)
		})
	}
}

func testAESGCM(t *testing.T, b *hsmbackend.Backend) {
	ctx := context.Background()
	h, key := secretKey(t, b, hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 128}, hsmbackend.KeyUse{Encrypt: true, Decrypt: true})
	blk, _ := aes.NewCipher(key)
	iv := []byte("twelve bytes")
	tests := []struct {
		name    string
		iv, aad []byte
		pt      []byte
		tagBits int
		wantErr error
	}{
		{name: "basic", iv: iv, pt: []byte("attack at dawn"), tagBits: 128},
		{name: "aad", iv: iv, aad: []byte("header"), pt: []byte("attack at dawn"), tagBits: 128},
		{name: "empty plaintext", iv: iv, aad: []byte("only aad"), pt: nil, tagBits: 128},
		{name: "96-bit tag", iv: iv, pt: []byte("x"), tagBits: 96},
		{name: "16-byte IV", iv: bytes.Repeat([]byte{1}, 16), pt: []byte("long iv"), tagBits: 128},
		{name: "4 KiB, 120-bit tag", iv: iv, aad: []byte("a"), pt: bytes.Repeat([]byte{0xa5}, 4096), tagBits: 120},
		{name: "largest input", iv: iv, pt: make([]byte, hsmbackend.MaxDataLen-16), tagBits: 128},
		{name: "bad tag size", iv: iv, pt: []byte("x"), tagBits: 100, wantErr: hsmbackend.ErrInvalidSpec},
		{name: "no IV", iv: nil, pt: []byte("x"), tagBits: 128, wantErr: hsmbackend.ErrInvalidSpec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct, err := b.EncryptAESGCM(ctx, h, tt.iv, tt.aad, tt.pt, tt.tagBits)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("EncryptAESGCM: %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("EncryptAESGCM: %v", err)
			}
			gcm, err := cipher.NewGCMWithNonceSize(blk, len(tt.iv))
			if err != nil {
				t.Fatal(err)
			}
			if tt.tagBits != 128 {
				gcm, err = cipher.NewGCMWithTagSize(blk, tt.tagBits/8)
				if err != nil {
					t.Fatal(err)
				}
			}
			if want := gcm.Seal(nil, tt.iv, tt.pt, tt.aad); !bytes.Equal(ct, want) {
				t.Fatalf("EncryptAESGCM = %x, want %x", ct, want)
			}
			pt, err := b.DecryptAESGCM(ctx, h, tt.iv, tt.aad, ct, tt.tagBits)
			if err != nil || !bytes.Equal(pt, tt.pt) {
				t.Fatalf("DecryptAESGCM = %q, %v", pt, err)
			}
			bad := bytes.Clone(ct)
			bad[len(bad)-1] ^= 1
			if _, err := b.DecryptAESGCM(ctx, h, tt.iv, tt.aad, bad, tt.tagBits); !errors.Is(err, hsmbackend.ErrInvalidData) {
				t.Fatalf("DecryptAESGCM with bad tag: %v", err)
			}
			if _, err := b.DecryptAESGCM(ctx, h, tt.iv, append(bytes.Clone(tt.aad), 'x'), ct, tt.tagBits); !errors.Is(err, hsmbackend.ErrInvalidData) {
				t.Fatalf("DecryptAESGCM with other additional data: %v", err)
			}
			// The session is usable after each failure: no operation was
			// left active in it.
			if _, err := b.EncryptAESGCM(ctx, h, tt.iv, nil, []byte("after"), 128); err != nil {
				t.Fatalf("EncryptAESGCM after a failed decryption: %v", err)
			}
		})
	}
	// GCM needs an AES key.
	hm, _ := secretKey(t, b, hsmbackend.SecretSpec{Kind: hsmbackend.GenericSecret, Bits: 256}, hsmbackend.KeyUse{Sign: true})
	if _, err := b.EncryptAESGCM(ctx, hm, iv, nil, []byte("x"), 128); !errors.Is(err, hsmbackend.ErrInvalidSpec) {
		t.Errorf("GCM with a generic secret: %v", err)
	}
}

func TestSign(t *testing.T) {
	ctx := context.Background()
	b := hsmtest.New(t)
	pair := func(spec hsmbackend.PairSpec) (hsmbackend.Handle, crypto.PublicKey) {
		t.Helper()
		w, spki, err := b.GenerateKeyPair(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := x509.ParsePKIXPublicKey(spki)
		if err != nil {
			t.Fatal(err)
		}
		h, err := b.UnwrapKey(ctx, w, hsmbackend.KeyUse{Kind: spec.Kind, Sign: true})
		if err != nil {
			t.Fatal(err)
		}
		return h, pub
	}
	rsaH, rsaPub := pair(hsmbackend.PairSpec{Kind: hsmbackend.RSA, Bits: 2048})
	ecH, ecPub := pair(hsmbackend.PairSpec{Kind: hsmbackend.EC, Curve: "P-384"})
	msg := []byte("the message")
	digest := func(h crypto.Hash) []byte {
		hh := h.New()
		hh.Write(msg)
		return hh.Sum(nil)
	}
	tests := []struct {
		name    string
		h       hsmbackend.Handle
		scheme  hsmbackend.SignScheme
		hash    crypto.Hash
		data    []byte
		verify  func(sig []byte) error
		wantErr error
	}{
		{name: "RSA PKCS1 SHA-256", h: rsaH, scheme: hsmbackend.RSAPKCS1v15, hash: crypto.SHA256, data: msg, verify: func(sig []byte) error {
			return rsa.VerifyPKCS1v15(rsaPub.(*rsa.PublicKey), crypto.SHA256, digest(crypto.SHA256), sig)
		}},
		{name: "RSA PKCS1 SHA-512", h: rsaH, scheme: hsmbackend.RSAPKCS1v15, hash: crypto.SHA512, data: msg, verify: func(sig []byte) error {
			return rsa.VerifyPKCS1v15(rsaPub.(*rsa.PublicKey), crypto.SHA512, digest(crypto.SHA512), sig)
		}},
		{name: "RSA PSS SHA-256", h: rsaH, scheme: hsmbackend.RSAPSS, hash: crypto.SHA256, data: msg, verify: func(sig []byte) error {
			return rsa.VerifyPSS(rsaPub.(*rsa.PublicKey), crypto.SHA256, digest(crypto.SHA256), sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}},
		{name: "ECDSA SHA-384", h: ecH, scheme: hsmbackend.ECDSA, hash: crypto.SHA384, data: msg, verify: func(sig []byte) error {
			if !ecdsa.VerifyASN1(ecPub.(*ecdsa.PublicKey), digest(crypto.SHA384), sig) {
				return errors.New("bad ECDSA signature")
			}
			return nil
		}},
		{name: "ECDSA prehashed", h: ecH, scheme: hsmbackend.ECDSA, data: digest(crypto.SHA256), verify: func(sig []byte) error {
			if !ecdsa.VerifyASN1(ecPub.(*ecdsa.PublicKey), digest(crypto.SHA256), sig) {
				return errors.New("bad ECDSA signature")
			}
			return nil
		}},
		{name: "PSS without hash", h: rsaH, scheme: hsmbackend.RSAPSS, data: msg, wantErr: hsmbackend.ErrInvalidSpec},
		{name: "ECDSA with RSA key", h: rsaH, scheme: hsmbackend.ECDSA, hash: crypto.SHA256, data: msg, wantErr: hsmbackend.ErrInvalidSpec},
		{name: "unknown hash", h: rsaH, scheme: hsmbackend.RSAPKCS1v15, hash: crypto.MD5, data: msg, wantErr: hsmbackend.ErrInvalidSpec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig, err := b.Sign(ctx, tt.h, tt.scheme, tt.hash, tt.data)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Sign: %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if err := tt.verify(sig); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestHMAC(t *testing.T) {
	ctx := context.Background()
	b := hsmtest.New(t)
	data := []byte("authenticate me")
	tests := []struct {
		name    string
		keyLen  int // bytes
		hash    crypto.Hash
		wantErr error
	}{
		{name: "SHA-256 32-byte key", keyLen: 32, hash: crypto.SHA256},
		{name: "SHA-1 20-byte key", keyLen: 20, hash: crypto.SHA1},
		// Longer than the SHA-256 block: HMAC hashes the key, so the exact
		// length matters (zero padding would change the result).
		{name: "SHA-256 65-byte key", keyLen: 65, hash: crypto.SHA256},
		{name: "SHA-512 129-byte key", keyLen: 129, hash: crypto.SHA512},
		{name: "SHA-384", keyLen: 48, hash: crypto.SHA384},
		{name: "SHA-224", keyLen: 28, hash: crypto.SHA224},
		{name: "MD5", keyLen: 16, hash: crypto.MD5, wantErr: hsmbackend.ErrInvalidSpec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := make([]byte, tt.keyLen)
			for i := range key {
				key[i] = byte(i + 1)
			}
			w, err := b.WrapSecret(ctx, hsmbackend.GenericSecret, key)
			if err != nil {
				t.Fatal(err)
			}
			h, err := b.UnwrapKey(ctx, w, hsmbackend.KeyUse{Kind: hsmbackend.GenericSecret, Sign: true, Verify: true})
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := b.DestroyHandle(ctx, h); err != nil {
					t.Errorf("DestroyHandle: %v", err)
				}
			}()
			mac, err := b.HMAC(ctx, h, tt.hash, data)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("HMAC: %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("HMAC: %v", err)
			}
			m := hmac.New(tt.hash.New, key)
			m.Write(data)
			if want := m.Sum(nil); !bytes.Equal(mac, want) {
				t.Fatalf("HMAC = %x, want %x", mac, want)
			}
			if err := b.VerifyHMAC(ctx, h, tt.hash, data, mac); err != nil {
				t.Fatalf("VerifyHMAC: %v", err)
			}
			mac[0] ^= 1
			if err := b.VerifyHMAC(ctx, h, tt.hash, data, mac); !errors.Is(err, hsmbackend.ErrSignatureInvalid) {
				t.Fatalf("VerifyHMAC of a bad MAC: %v", err)
			}
		})
	}
	aesH, _ := secretKey(t, b, hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 128}, hsmbackend.KeyUse{Sign: true})
	if _, err := b.HMAC(ctx, aesH, crypto.SHA256, data); !errors.Is(err, hsmbackend.ErrInvalidSpec) {
		t.Errorf("HMAC with an AES key: %v", err)
	}
}
