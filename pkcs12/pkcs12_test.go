package pkcs12

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kmipd/kmipd/internal/testtool"
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestKDFKnownAnswers checks pkcs12KDF (RFC 7292 Appendix B.2) against
// vectors published by other implementations.
func TestKDFKnownAnswers(t *testing.T) {
	tests := []struct {
		name       string
		source     string
		newHash    func() hash.Hash
		id         byte
		password   string
		salt       string // hex
		iterations int
		want       string // hex; its length is the derived size
	}{
		{
			// 24 bytes from a 20-byte hash: exercises the I update of
			// step 6C between two output blocks.
			name:       "SHA-1 encryption key, two blocks",
			source:     "golang.org/x/crypto/pkcs12 pbkdf_test.go TestThatPBKDFWorksCorrectlyForLongKeys",
			newHash:    sha1.New,
			id:         kdfIDEncryptionKey,
			password:   "sesame",
			salt:       "ffffffffffffffff",
			iterations: 2048,
			want:       "7cd9fd3e2b3be7691a44e3bef0f9ea0fb9b897d4e325d9d1",
		},
		{
			name:       "SHA-256 MAC key",
			source:     "CPAN Crypt-OpenSSL-PKCS-Func t/base.t (OpenSSL PKCS12_key_gen)",
			newHash:    sha256.New,
			id:         kdfIDMACKey,
			password:   "123456",
			salt:       "e241f01650dbeae4",
			iterations: 2048,
			want:       "721259f14aad70b58839f71566b433da1b8ad08f650f4d02faaa0b9b095bb51d",
		},
		{
			name:       "SHA-256 MAC key, non-ASCII password",
			source:     "RustCrypto formats pkcs12 tests/kdf.rs pkcs12_key_gen_sha256",
			newHash:    sha256.New,
			id:         kdfIDMACKey,
			password:   "ge@äheim",
			salt:       "0102030405060708",
			iterations: 100,
			want:       "136355ed9434516682534f46d63956db5ff06b844702c2c1f3b46321e2524a4d",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pass, err := bmpPassword([]byte(tc.password))
			if err != nil {
				t.Fatal(err)
			}
			want := mustHex(t, tc.want)
			got := pkcs12KDF(tc.newHash, tc.id, pass, mustHex(t, tc.salt), tc.iterations, len(want))
			if !bytes.Equal(got, want) {
				t.Errorf("pkcs12KDF = %x, want %x (vector from %s)", got, want, tc.source)
			}
		})
	}
}

func TestBMPPassword(t *testing.T) {
	tests := []struct {
		password string
		want     string // hex; "" when an error is expected
		errText  string
	}{
		{password: "", want: "0000"},
		{password: "a", want: "00610000"},
		{password: "pä€", want: "007000e420ac0000"},
		{password: "a\x00b", errText: "NUL"},
		{password: "key🔑", errText: "Basic Multilingual Plane"},
		{password: "\xff", errText: "UTF-8"},
	}
	for _, tc := range tests {
		got, err := bmpPassword([]byte(tc.password))
		if tc.errText != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errText) || !errors.Is(err, ErrPassword) {
				t.Errorf("bmpPassword(%q) error = %v, want ErrPassword mentioning %q", tc.password, err, tc.errText)
			}
			// The message must not quote the password or point into it.
			if err != nil && (strings.Contains(err.Error(), "key") || strings.Contains(err.Error(), "U+") || strings.Contains(err.Error(), "byte ")) {
				t.Errorf("bmpPassword(%q) error %q tells about the password", tc.password, err)
			}
			continue
		}
		if err != nil || hex.EncodeToString(got) != tc.want {
			t.Errorf("bmpPassword(%q) = %x, %v; want %s", tc.password, got, err, tc.want)
		}
	}
}

// testChain is an RSA-2048 key with a leaf certificate issued by a
// self-signed CA.
type testChain struct {
	keyPKCS8  []byte
	publicDER []byte // SubjectPublicKeyInfo of the key
	leaf, ca  []byte
}

var chainOnce = sync.OnceValues(newTestChain)

func newTestChain() (testChain, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return testChain{}, err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return testChain{}, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "pkcs12 test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	ca, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return testChain{}, err
	}
	caCert, err := x509.ParseCertificate(ca)
	if err != nil {
		return testChain{}, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "pkcs12 test leaf"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	leaf, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return testChain{}, err
	}
	keyPKCS8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return testChain{}, err
	}
	publicDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return testChain{}, err
	}
	return testChain{keyPKCS8: keyPKCS8, publicDER: publicDER, leaf: leaf, ca: ca}, nil
}

func chain(t *testing.T) testChain {
	t.Helper()
	c, err := chainOnce()
	if err != nil {
		t.Fatalf("generate test key and certificates: %v", err)
	}
	return c
}

// requirePythonCryptography returns the python3 that has the cryptography
// package's PKCS#12 reader.
func requirePythonCryptography(t *testing.T) string {
	t.Helper()
	return testtool.Python(t, "from cryptography.hazmat.primitives.serialization import pkcs12", "python3-cryptography")
}

// loadScript loads the PFX named by argv[1] with the password read from
// stdin and prints what it found as JSON.
const loadScript = `
import json, sys
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, pkcs12
p12 = pkcs12.load_pkcs12(open(sys.argv[1], "rb").read(), sys.stdin.buffer.read())
def der(c):
    return c.certificate.public_bytes(Encoding.DER).hex()
print(json.dumps({
    "public_key": p12.key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo).hex() if p12.key else "",
    "cert": der(p12.cert) if p12.cert else "",
    "friendly_name": p12.cert.friendly_name.decode("utf-8") if p12.cert and p12.cert.friendly_name else "",
    "additional_certs": [der(c) for c in p12.additional_certs],
}))
`

type pythonLoaded struct {
	PublicKey       string   `json:"public_key"`
	Cert            string   `json:"cert"`
	FriendlyName    string   `json:"friendly_name"`
	AdditionalCerts []string `json:"additional_certs"`
}

// loadWithPython loads pfx with Python's cryptography.
func loadWithPython(t *testing.T, python string, pfx []byte, password string) (pythonLoaded, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.p12")
	if err := os.WriteFile(path, pfx, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "-c", loadScript, path)
	cmd.Stdin = strings.NewReader(password)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return pythonLoaded{}, errors.New(err.Error() + ": " + lastLine(stderr.String()))
	}
	var got pythonLoaded
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("python output %q: %v", out, err)
	}
	return got, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}

func TestPythonLoads(t *testing.T) {
	python := requirePythonCryptography(t)
	c := chain(t)
	hexOf := hex.EncodeToString
	tests := []struct {
		name       string
		certs      [][]byte
		password   string
		opts       Options
		wantName   string
		wantCert   string
		wantExtras []string
	}{
		{"chain, default options", [][]byte{c.leaf, c.ca}, "secret", Options{}, "alias", hexOf(c.leaf), []string{hexOf(c.ca)}},
		{"leaf only, friendly name", [][]byte{c.leaf}, "secret", Options{FriendlyName: "kmip-key-42"}, "kmip-key-42", hexOf(c.leaf), []string{}},
		{"key only", nil, "secret", Options{Iterations: 1}, "", "", []string{}},
		{"unicode password", [][]byte{c.leaf, c.ca}, "pässwörd", Options{}, "alias", hexOf(c.leaf), []string{hexOf(c.ca)}},
		{"unicode friendly name", [][]byte{c.leaf, c.ca}, "secret", Options{FriendlyName: "clé €"}, "clé €", hexOf(c.leaf), []string{hexOf(c.ca)}},
		{"empty password", [][]byte{c.leaf, c.ca}, "", Options{Iterations: 2048}, "alias", hexOf(c.leaf), []string{hexOf(c.ca)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pfx, err := Encode(rand.Reader, c.keyPKCS8, tc.certs, []byte(tc.password), tc.opts)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			got, err := loadWithPython(t, python, pfx, tc.password)
			if err != nil {
				t.Fatalf("load_pkcs12 with the right password: %v", err)
			}
			if got.PublicKey != hexOf(c.publicDER) {
				t.Error("the key Python decrypted does not match the encoded key")
			}
			if got.Cert != tc.wantCert {
				t.Errorf("cert = %.40s…, want %.40s…", got.Cert, tc.wantCert)
			}
			if got.FriendlyName != tc.wantName {
				t.Errorf("friendly name = %q, want %q", got.FriendlyName, tc.wantName)
			}
			if strings.Join(got.AdditionalCerts, ",") != strings.Join(tc.wantExtras, ",") {
				t.Errorf("additional certs = %d, want %d (or different contents)", len(got.AdditionalCerts), len(tc.wantExtras))
			}
		})
	}
}

// TestPythonRejects checks that a reader refuses a wrong password and a
// file altered outside the encrypted key, which only the MAC can detect.
func TestPythonRejects(t *testing.T) {
	python := requirePythonCryptography(t)
	c := chain(t)
	pfx, err := Encode(rand.Reader, c.keyPKCS8, [][]byte{c.leaf, c.ca}, []byte("right"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	tampered := tamperLeafSignature(t, pfx, c.leaf)
	tests := []struct {
		name     string
		pfx      []byte
		password string
	}{
		{"wrong password", pfx, "wrong"},
		{"password differing in case", pfx, "Right"},
		{"empty password", pfx, ""},
		{"certificate altered", tampered, "right"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := loadWithPython(t, python, tc.pfx, tc.password); err == nil {
				t.Error("load_pkcs12 accepted the file")
			}
		})
	}
}

// tamperLeafSignature flips a bit in the last byte of the leaf certificate
// (inside its signature) as stored in pfx. The certificate still parses;
// only the MAC over the authSafe can tell.
func tamperLeafSignature(t *testing.T, pfx, leaf []byte) []byte {
	t.Helper()
	i := bytes.Index(pfx, leaf)
	if i < 0 {
		t.Fatal("leaf certificate not stored verbatim in the PFX")
	}
	tampered := bytes.Clone(pfx)
	tampered[i+len(leaf)-1] ^= 1
	return tampered
}

// runOpenSSL runs `openssl pkcs12` on pfx with the password in the
// environment (not on the command line) and extra arguments.
func runOpenSSL(t *testing.T, openssl string, pfx []byte, password string, args ...string) (string, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.p12")
	if err := os.WriteFile(path, pfx, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(openssl, append([]string{"pkcs12", "-in", path, "-passin", "env:KMIPD_TEST_P12_PASS"}, args...)...)
	cmd.Env = append(os.Environ(), "KMIPD_TEST_P12_PASS="+password)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestOpenSSLReads(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	c := chain(t)
	tests := []struct {
		name       string
		password   string
		opts       Options
		wantOutput []string
	}{
		{"default options", "secret", Options{}, []string{
			"MAC: sha256, Iteration 10000",
			"PBES2, PBKDF2, AES-256-CBC, Iteration 10000, PRF hmacWithSHA256",
			"friendlyName: alias",
			"localKeyID: " + spacedHex(sha1Sum(c.leaf)),
			"BEGIN PRIVATE KEY",
		}},
		// OpenSSL 3.0 prints a non-ASCII friendlyName as Latin-1, so the
		// name here is ASCII; TestPythonLoads covers a non-ASCII one.
		{"unicode password, friendly name", "pässwörd", Options{FriendlyName: "kmip-key-42", Iterations: 2048}, []string{
			"MAC: sha256, Iteration 2048",
			"PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256",
			"friendlyName: kmip-key-42",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pfx, err := Encode(rand.Reader, c.keyPKCS8, [][]byte{c.leaf, c.ca}, []byte(tc.password), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			// -info prints the algorithms; -nodes writes the key unencrypted
			// to the captured output, which is test data only.
			out, err := runOpenSSL(t, openssl, pfx, tc.password, "-info", "-nodes")
			if err != nil {
				t.Fatalf("openssl pkcs12: %v\n%s", err, redactKey(out))
			}
			for _, want := range tc.wantOutput {
				if !strings.Contains(out, want) {
					t.Errorf("openssl output lacks %q:\n%s", want, redactKey(out))
				}
			}
			if n := strings.Count(out, "BEGIN CERTIFICATE"); n != 2 {
				t.Errorf("openssl printed %d certificates, want 2", n)
			}
			if out, err := runOpenSSL(t, openssl, pfx, tc.password+"x", "-info", "-noout"); err == nil {
				t.Errorf("openssl accepted a wrong password:\n%s", out)
			}
		})
	}
}

// redactKey drops PEM private keys from openssl output before it is logged.
func redactKey(s string) string {
	if i := strings.Index(s, "-----BEGIN PRIVATE KEY"); i >= 0 {
		return s[:i] + "[private key redacted]"
	}
	return s
}

func sha1Sum(b []byte) []byte {
	s := sha1.Sum(b)
	return s[:]
}

// spacedHex formats b as openssl prints localKeyID: "AB CD …".
func spacedHex(b []byte) string {
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = strings.ToUpper(hex.EncodeToString([]byte{x}))
	}
	return strings.Join(parts, " ")
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("entropy source broken") }

func TestEncodeRefuses(t *testing.T) {
	c := chain(t)
	rsaKey, err := x509.ParsePKCS8PrivateKey(c.keyPKCS8)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := x509.MarshalPKCS1PrivateKey(rsaKey.(*rsa.PrivateKey))
	truncatedCert := c.ca[:len(c.ca)-1]
	tests := []struct {
		name     string
		rand     failingReader
		useRand  bool
		key      []byte
		certs    [][]byte
		password string
		opts     Options
		errText  string
	}{
		{name: "empty key", key: nil, errText: "empty private key"},
		{name: "garbage key", key: []byte("not a key"), errText: "PKCS#8"},
		{name: "PKCS#1 key", key: pkcs1, errText: "PKCS#8"},
		{name: "garbage leaf", key: c.keyPKCS8, certs: [][]byte{[]byte("junk")}, errText: "certificate 1 of 1"},
		{name: "truncated CA", key: c.keyPKCS8, certs: [][]byte{c.leaf, truncatedCert}, errText: "certificate 2 of 2"},
		{name: "password with NUL", key: c.keyPKCS8, password: "pass\x00word", errText: "NUL"},
		{name: "password outside the BMP", key: c.keyPKCS8, password: "🔑", errText: "Basic Multilingual Plane"},
		{name: "password not UTF-8", key: c.keyPKCS8, password: "\xc3", errText: "UTF-8"},
		{name: "friendly name outside the BMP", key: c.keyPKCS8, opts: Options{FriendlyName: "🔑"}, errText: "friendly name"},
		{name: "negative iterations", key: c.keyPKCS8, opts: Options{Iterations: -1}, errText: "iteration count -1"},
		{name: "too many iterations", key: c.keyPKCS8, opts: Options{Iterations: 10_000_001}, errText: "iteration count 10000001"},
		{name: "broken random source", useRand: true, key: c.keyPKCS8, errText: "entropy source broken"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.Reader
			if tc.useRand {
				r = tc.rand
			}
			pfx, err := Encode(r, tc.key, tc.certs, []byte(tc.password), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.errText) {
				t.Fatalf("Encode error = %v, want one mentioning %q", err, tc.errText)
			}
			if pfx != nil {
				t.Error("Encode returned bytes with an error")
			}
		})
	}
}

// TestEncodeBoundaryIterations checks that the limits themselves are
// accepted; 10,000,000 is too slow to run, so only 1 is encoded.
func TestEncodeBoundaryIterations(t *testing.T) {
	c := chain(t)
	if _, err := Encode(rand.Reader, c.keyPKCS8, nil, []byte("p"), Options{Iterations: 1}); err != nil {
		t.Fatalf("Encode with 1 iteration: %v", err)
	}
	if n, _, err := resolveOptions(Options{Iterations: 10_000_000}); err != nil || n != 10_000_000 {
		t.Fatalf("resolveOptions(10,000,000) = %d, %v", n, err)
	}
	if n, name, err := resolveOptions(Options{}); err != nil || n != 10000 || name != "alias" {
		t.Fatalf("resolveOptions(zero) = %d, %q, %v; want 10000, alias", n, name, err)
	}
}
