package conformance

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kmipd/kmipd/kmip"
)

// pykmipStep is one line of session.py's output.
type pykmipStep struct {
	Step   string         `json:"step"`
	OK     bool           `json:"ok"`
	Error  string         `json:"error"`
	Reason string         `json:"reason"`
	Data   map[string]any `json:"data"`
}

func (s pykmipStep) str(key string) string {
	v, _ := s.Data[key].(string)
	return v
}

func (s pykmipStep) hex(t *testing.T, key string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s.str(key))
	if err != nil {
		t.Fatalf("%s: %s is not hex: %v", s.Step, key, err)
	}
	return b
}

// TestPyKMIPSession runs a full PyKMIP ProxyKmipClient session (every
// operation the client offers) against a full in-process kmipd behind
// mutual TLS with an ECDSA P-256 certificate, in KMIP 1.2 (PyKMIP's
// default) and 1.4. session.py prints one JSON line per step; each is
// judged here.
func TestPyKMIPSession(t *testing.T) {
	if testing.Short() {
		t.Skip("runs PyKMIP")
	}
	requirePyKMIP(t)
	s := startFullServer(t)
	dir := t.TempDir()
	caFile, certFile, keyFile := s.WriteClientFiles(t, dir)
	certDER := selfSignedDER(t)
	derFile := filepath.Join(dir, "registered.der")
	if err := os.WriteFile(derFile, certDER, 0o600); err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs("testdata/pykmip/session.py")
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(s.Addr, ":")
	deriveKey := s.svc.Mux().Handles(kmip.OperationDeriveKey)

	for _, ver := range []string{"1.2", "1.4"} {
		t.Run(ver, func(t *testing.T) {
			knownKey := randomBytes(32)
			name := randomLabel("pykmip-")
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, pythonPath, script, host, port, caFile, certFile, keyFile, ver,
				derFile, hex.EncodeToString(knownKey), name)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("session.py: %v\n%s", err, stderr.String())
			}
			steps := map[string]pykmipStep{}
			sc := bufio.NewScanner(bytes.NewReader(out))
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				var st pykmipStep
				if err := json.Unmarshal(sc.Bytes(), &st); err != nil {
					t.Fatalf("session.py line %q: %v", sc.Text(), err)
				}
				steps[st.Step] = st
			}
			judgePyKMIPSession(t, steps, knownKey, name, deriveKey)
		})
	}
}

// judgePyKMIPSession checks every step of one session.
func judgePyKMIPSession(t *testing.T, steps map[string]pykmipStep, knownKey []byte, name string, deriveKey bool) {
	t.Helper()
	want := []string{
		"create", "create_key_pair", "register_symmetric_key", "register_certificate", "register_secret_data",
		"register_opaque_object", "get", "get_symmetric_key", "get_certificate", "get_secret_data", "get_opaque_object",
		"get_public_key", "get_private_key", "get_attributes", "get_attribute_list", "locate", "activate",
		"activate_known", "activate_private", "activate_public", "activate_secret", "encrypt_decrypt", "encrypt",
		"decrypt", "sign", "signature_verify", "signature_verify_tampered", "mac", "derive_key", "revoke", "destroy",
		"destroy_certificate", "destroy_opaque_object", "get_destroyed",
	}
	for _, name := range want {
		st, ok := steps[name]
		switch {
		case !ok:
			t.Errorf("step %s did not run", name)
		case name == "derive_key" && !deriveKey:
			// Known gap: the server has no Derive Key yet (issue "Cryptographic
			// operations in the HSM"). PyKMIP must get Operation Not Supported,
			// not a broken answer.
			if st.OK || st.Reason != "OPERATION_NOT_SUPPORTED" {
				t.Errorf("derive_key without a Derive Key handler: ok=%v reason=%q error=%s", st.OK, st.Reason, st.Error)
			} else {
				t.Logf("known gap: kmipd has no Derive Key; PyKMIP's derive_key got %s", st.Reason)
			}
		case !st.OK:
			t.Errorf("step %s failed: %s", name, st.Error)
		}
	}
	if t.Failed() {
		return
	}
	created := steps["create"].str("uid")
	if st := steps["get"]; st.Data["length"] != 32.0 || st.str("algorithm") != "AES" {
		t.Errorf("get: %v", st.Data)
	}
	attrs, _ := steps["get_attributes"].Data["attributes"].(map[string]any)
	for k, v := range map[string]any{"State": "PRE_ACTIVE", "Cryptographic Algorithm": "AES", "Cryptographic Length": "256", "Name": name} {
		if attrs[k] != v {
			t.Errorf("get_attributes %s = %v, want %v", k, attrs[k], v)
		}
	}
	var names []string
	for _, n := range steps["get_attribute_list"].Data["names"].([]any) {
		names = append(names, n.(string))
	}
	for _, n := range []string{"Unique Identifier", "Object Type", "Cryptographic Algorithm", "Cryptographic Length", "State", "Name"} {
		if !slices.Contains(names, n) {
			t.Errorf("get_attribute_list %v lacks %s", names, n)
		}
	}
	if uids, _ := steps["locate"].Data["uids"].([]any); len(uids) != 1 || uids[0] != created {
		t.Errorf("locate by name found %v, want [%s]", uids, created)
	}
	// Known answer: AES-256-CBC-PKCS#5 under the registered key.
	enc := steps["encrypt"]
	block, err := aes.NewCipher(knownKey)
	if err != nil {
		t.Fatal(err)
	}
	ct := enc.hex(t, "ciphertext")
	if len(ct)%aes.BlockSize != 0 || len(ct) == 0 {
		t.Fatalf("ciphertext of %d bytes", len(ct))
	}
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, enc.hex(t, "iv")).CryptBlocks(pt, ct)
	plain := enc.hex(t, "plaintext")
	if pad := int(pt[len(pt)-1]); pad < 1 || pad > aes.BlockSize || !bytes.Equal(pt[:len(pt)-pad], plain) {
		t.Error("encrypt under the registered key does not decrypt with Go's AES-CBC")
	}
	// The signature verifies with Go's RSA and the public key PyKMIP got.
	der := steps["get_public_key"].hex(t, "der")
	var pub *rsa.PublicKey
	if k, err := x509.ParsePKIXPublicKey(der); err == nil {
		pub, _ = k.(*rsa.PublicKey)
	} else if k, err := x509.ParsePKCS1PublicKey(der); err == nil {
		pub = k
	}
	if pub == nil {
		t.Fatalf("public key in %s does not parse", steps["get_public_key"].str("format"))
	}
	sign := steps["sign"]
	digest := sha256.Sum256(sign.hex(t, "message"))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sign.hex(t, "signature")); err != nil {
		t.Errorf("PKCS#1 v1.5 SHA-256 signature does not verify in Go: %v", err)
	}
	if st := steps["revoke"].str("state"); st != "DEACTIVATED" {
		t.Errorf("after revoke the key is %s", st)
	}
}

// selfSignedDER is a certificate to register.
func selfSignedDER(t *testing.T) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		Subject:      pkix.Name{CommonName: "pykmip registered certificate"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
