package service

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"math/big"
	"testing"
	"time"
)

// Test helpers of the secp256k1 certificate fallback carry the "certK1"
// prefix: other groups write tests in this package at the same time.

// certK1Certificate returns a self-signed P-256 certificate and the same
// certificate with the secp256k1 key of the OASIS vectors in place of its
// key, which crypto/x509 refuses (as TC-ECC-3's certificate).
func certK1Certificate(t testing.TB) (p256, k1 []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(0x1234abcd),
		Subject:      pkix.Name{CommonName: "k1 leaf", Organization: []string{"Kmip Test"}, Country: []string{"AU"}},
		Issuer:       pkix.Name{CommonName: "k1 leaf"},
		NotBefore:    time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC),
		DNSNames:     []string{"k1.example"},
	}
	p256, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	_, _, k1, ok := certWithSPKI(p256, certK1Hex(t, secp256k1VecSPKI))
	if !ok {
		t.Fatal("certWithSPKI refused a certificate crypto/x509 made")
	}
	if _, err := x509.ParseCertificate(k1); err == nil {
		t.Fatal("crypto/x509 parses a secp256k1 certificate: the fallback is no longer needed")
	}
	return p256, k1
}

func certK1Hex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCertK1Parse: the fallback reads the secp256k1 certificate's fields
// as crypto/x509 reads them from the P-256 original, with the original
// raw fields and the secp256k1 key.
func TestCertK1Parse(t *testing.T) {
	p256, k1 := certK1Certificate(t)
	want, err := x509.ParseCertificate(p256)
	if err != nil {
		t.Fatal(err)
	}
	got, err := certParse(k1)
	if err != nil {
		t.Fatalf("certParse: %v", err)
	}
	if got.SerialNumber.Cmp(want.SerialNumber) != 0 || !bytes.Equal(got.RawSubject, want.RawSubject) ||
		!bytes.Equal(got.RawIssuer, want.RawIssuer) || !got.NotAfter.Equal(want.NotAfter) ||
		len(got.DNSNames) != 1 || got.SignatureAlgorithm != want.SignatureAlgorithm {
		t.Errorf("fields differ from the original: %+v", got)
	}
	if !bytes.Equal(got.Raw, k1) || !bytes.Equal(got.RawSubjectPublicKeyInfo, ecregHex(t, secp256k1VecSPKI)) {
		t.Errorf("Raw or RawSubjectPublicKeyInfo is not the registered certificate's")
	}
	if !bytes.Contains(k1, got.RawTBSCertificate) || len(got.RawTBSCertificate) >= len(k1) {
		t.Errorf("RawTBSCertificate is not part of the registered certificate")
	}
	pub, ok := got.PublicKey.(*secp256k1PublicKey)
	if !ok || !bytes.Equal(pub.uncompressed(), ecregHex(t, secp256k1VecQ)) {
		t.Errorf("public key %T, want the vector's secp256k1 point", got.PublicKey)
	}
	if alg, bits, err := certDescribeKey(got.PublicKey); err != nil || alg.String() != "EC" || bits != 256 {
		t.Errorf("certDescribeKey: %v %d %v, want EC 256", alg, bits, err)
	}
}

// TestCertK1ParseRefusals: what is neither a certificate Go parses nor a
// secp256k1 one stays an error.
func TestCertK1ParseRefusals(t *testing.T) {
	p256, k1 := certK1Certificate(t)
	offCurve := ecregHex(t, secp256k1VecSPKI)
	offCurve[len(offCurve)-1] ^= 1
	_, _, k1Off, ok := certWithSPKI(p256, offCurve)
	if !ok {
		t.Fatal("certWithSPKI refused a certificate crypto/x509 made")
	}
	tests := []struct {
		name string
		der  []byte
	}{
		{"empty", nil},
		{"truncated", k1[:len(k1)-1]},
		{"trailing data", append(bytes.Clone(k1), 0)},
		{"not a sequence", []byte{0x04, 0x01, 0x00}},
		{"point off the curve", k1Off},
		{"tbs too short", []byte{0x30, 0x08, 0x30, 0x00, 0x30, 0x00, 0x03, 0x02, 0x00, 0x00}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := certParse(tt.der); err == nil {
				t.Errorf("certParse accepted it: %+v", c)
			}
		})
	}
}

// FuzzCertK1Parse: no input makes certParse panic, and what it accepts
// keeps the input as its Raw value.
func FuzzCertK1Parse(f *testing.F) {
	p256, k1 := certK1Certificate(f)
	f.Add(p256)
	f.Add(k1)
	f.Add([]byte{0x30, 0x03, 0xa0, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		c, err := certParse(der)
		if err == nil && !bytes.Equal(c.Raw, der) {
			t.Errorf("Raw differs from the input")
		}
	})
}
