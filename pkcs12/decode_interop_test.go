package pkcs12

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmipd/kmipd/internal/testtool"
)

// writeChainPEM writes the test chain's key (PKCS#8), leaf and CA as PEM
// files in a temporary directory and returns their paths.
func writeChainPEM(t *testing.T) (keyPath, leafPath, caPath string) {
	t.Helper()
	c := chain(t)
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	return write("key.pem", "PRIVATE KEY", c.keyPKCS8), write("leaf.pem", "CERTIFICATE", c.leaf), write("ca.pem", "CERTIFICATE", c.ca)
}

// checkDecodedChain checks that got holds the test chain's key, then the
// leaf named leafName and the CA named caName.
func checkDecodedChain(t *testing.T, got *Contents, keyName, leafName, caName string) {
	t.Helper()
	c := chain(t)
	key, err := x509.ParsePKCS8PrivateKey(got.PrivateKey)
	if err != nil {
		t.Fatalf("decoded key is not PKCS#8: %v", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(publicKeyOf(key))
	if err != nil || !bytes.Equal(pub, c.publicDER) {
		t.Errorf("decoded key is not the test key (%v)", err)
	}
	if got.KeyName != keyName {
		t.Errorf("KeyName = %q, want %q", got.KeyName, keyName)
	}
	want := []Certificate{{DER: c.leaf, FriendlyName: leafName}, {DER: c.ca, FriendlyName: caName}}
	if len(got.Certificates) != len(want) {
		t.Fatalf("%d certificates, want %d", len(got.Certificates), len(want))
	}
	for i, w := range want {
		if !bytes.Equal(got.Certificates[i].DER, w.DER) || got.Certificates[i].FriendlyName != w.FriendlyName {
			t.Errorf("certificate %d: name %q, want %q (or not the expected certificate)", i+1, got.Certificates[i].FriendlyName, w.FriendlyName)
		}
	}
}

// TestDecodeOpenSSL decodes files written by `openssl pkcs12 -export` with
// the algorithms it offers.
func TestDecodeOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	testtool.Require(t, "openssl", err)
	keyPath, leafPath, caPath := writeChainPEM(t)
	legacyErr := exec.CommandContext(t.Context(), openssl, "list", "-providers", "-provider", "legacy").Run()
	legacyProviders := []string{"-provider", "default", "-provider", "legacy"}

	tests := []struct {
		name     string
		args     []string
		legacy   bool // needs the OpenSSL legacy provider
		password string
	}{
		{name: "defaults: PBES2 AES-256-CBC, HMAC-SHA256", password: "secret"},
		{name: "-legacy: RC2-40 certificates, 3DES key, HMAC-SHA1", args: []string{"-legacy"}, legacy: true, password: "secret"},
		{name: "RC2-128 certificates", args: append([]string{"-certpbe", "PBE-SHA1-RC2-128"}, legacyProviders...), legacy: true, password: "secret"},
		{name: "-certpbe NONE", args: []string{"-certpbe", "NONE"}, password: "secret"},
		{name: "-nomac", args: []string{"-nomac"}, password: "secret"},
		{name: "-nomac with 3DES PBEs", args: []string{"-nomac", "-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES"}, password: "secret"},
		{name: "-descert", args: []string{"-descert"}, password: "secret"},
		{name: "3DES PBEs, HMAC-SHA1, -nomaciter", args: []string{"-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1", "-nomaciter"}, password: "secret"},
		{name: "2-key 3DES key", args: []string{"-keypbe", "PBE-SHA1-2DES", "-certpbe", "NONE"}, password: "secret"},
		{name: "AES-128-CBC key, HMAC-SHA512", args: []string{"-keypbe", "AES-128-CBC", "-macalg", "sha512"}, password: "secret"},
		{name: "DES-EDE3-CBC key, AES-192-CBC certificates, HMAC-SHA384", args: []string{"-keypbe", "DES-EDE3-CBC", "-certpbe", "AES-192-CBC", "-macalg", "sha384"}, password: "secret"},
		{name: "HMAC-SHA224, -iter 1", args: []string{"-macalg", "sha224", "-iter", "1"}, password: "secret"},
		{name: "empty password", password: ""},
		{name: "empty password, legacy", args: []string{"-legacy"}, legacy: true, password: ""},
		{name: "unicode password", password: "pässwörd€"},
		{name: "unicode password, legacy", args: []string{"-legacy"}, legacy: true, password: "pässwörd€"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.legacy {
				testtool.Require(t, "the OpenSSL legacy provider", legacyErr)
			}
			out := filepath.Join(t.TempDir(), "out.p12")
			args := append([]string{"pkcs12", "-export", "-inkey", keyPath, "-in", leafPath, "-certfile", caPath,
				"-name", "alias", "-caname", "the CA", "-passout", "env:KMIPD_TEST_P12_PASS", "-out", out}, tc.args...)
			if tc.password == "" {
				args = append(args, "-passout", "pass:") // OpenSSL refuses an empty environment variable
			}
			cmd := exec.CommandContext(t.Context(), openssl, args...)
			cmd.Env = append(os.Environ(), "KMIPD_TEST_P12_PASS="+tc.password)
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("openssl pkcs12 -export %s: %v\n%s", strings.Join(tc.args, " "), err, msg)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(data, []byte(tc.password))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			checkDecodedChain(t, got, "alias", "alias", "the CA")
			if _, err := Decode(data, []byte(tc.password+"x")); !errors.Is(err, ErrPassword) {
				t.Errorf("wrong password: error = %v, want ErrPassword", err)
			}
		})
	}
}

// exportScript writes a PFX of the key and certificates named by argv with
// the password read from stdin, encrypted as argv[1] says, to stdout.
const exportScript = `
import sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
mode, key_path, leaf_path, ca_path = sys.argv[1:5]
password = sys.stdin.buffer.read()
key = serialization.load_pem_private_key(open(key_path, "rb").read(), None)
leaf = x509.load_pem_x509_certificate(open(leaf_path, "rb").read())
ca = pkcs12.PKCS12Certificate(x509.load_pem_x509_certificate(open(ca_path, "rb").read()), b"the CA")
builder = serialization.PrivateFormat.PKCS12.encryption_builder().kdf_rounds(3000)
if mode == "best":
    enc = serialization.BestAvailableEncryption(password)
elif mode == "3des-sha1":
    enc = builder.key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC).hmac_hash(hashes.SHA1()).build(password)
elif mode == "aes-sha1":
    enc = builder.key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC).hmac_hash(hashes.SHA1()).build(password)
elif mode == "none":
    enc = serialization.NoEncryption()
sys.stdout.buffer.write(pkcs12.serialize_key_and_certificates(b"alias", key, leaf, [ca], enc))
`

// TestDecodePython decodes files written by Python's cryptography.
func TestDecodePython(t *testing.T) {
	python := requirePythonCryptography(t)
	keyPath, leafPath, caPath := writeChainPEM(t)
	tests := []struct {
		mode     string
		password string
	}{
		{"best", "secret"},
		{"3des-sha1", "secret"},
		{"aes-sha1", "pässwörd"},
		{"none", ""}, // no MAC, no encryption: a plain keyBag
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), python, "-c", exportScript, tc.mode, keyPath, leafPath, caPath)
			cmd.Stdin = strings.NewReader(tc.password)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			data, err := cmd.Output()
			if err != nil {
				t.Fatalf("serialize_key_and_certificates: %v: %s", err, lastLine(stderr.String()))
			}
			got, err := Decode(data, []byte(tc.password))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			checkDecodedChain(t, got, "alias", "alias", "the CA")
			if tc.mode != "none" {
				if _, err := Decode(data, []byte(tc.password+"x")); !errors.Is(err, ErrPassword) {
					t.Errorf("wrong password: error = %v, want ErrPassword", err)
				}
			}
		})
	}
}
