package pkcs12

import (
	"bytes"
	"crypto"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"hash"
	"math/big"
	"os"
	"testing"
	"time"
)

// sameContents fails t unless got holds key and certs (leaf first) with the
// names given.
func sameContents(t *testing.T, got *Contents, key []byte, keyName string, certs [][]byte, certNames []string) {
	t.Helper()
	if !bytes.Equal(got.PrivateKey, key) {
		t.Error("decoded private key differs from the encoded one")
	}
	if got.KeyName != keyName {
		t.Errorf("KeyName = %q, want %q", got.KeyName, keyName)
	}
	if len(got.Certificates) != len(certs) {
		t.Fatalf("%d certificates, want %d", len(got.Certificates), len(certs))
	}
	for i, c := range got.Certificates {
		if !bytes.Equal(c.DER, certs[i]) {
			t.Errorf("certificate %d is not the one expected there", i+1)
		}
		if c.FriendlyName != certNames[i] {
			t.Errorf("certificate %d FriendlyName = %q, want %q", i+1, c.FriendlyName, certNames[i])
		}
	}
}

// ecChain is a P-256 key with a self-signed certificate.
func ecChain(t testing.TB) (keyPKCS8, cert []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: "pkcs12 EC test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	cert, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyPKCS8, err = x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return keyPKCS8, cert
}

func TestDecodeRoundTrip(t *testing.T) {
	c := chain(t)
	ecKey, ecCert := ecChain(t)
	tests := []struct {
		name      string
		key       []byte
		certs     [][]byte
		password  string
		opts      Options
		keyName   string
		certNames []string
	}{
		{"RSA chain, defaults", c.keyPKCS8, [][]byte{c.leaf, c.ca}, "secret", Options{}, "alias", []string{"alias", ""}},
		{"EC leaf, friendly name", ecKey, [][]byte{ecCert}, "secret", Options{FriendlyName: "kmip-key-42", Iterations: 1}, "kmip-key-42", []string{"kmip-key-42"}},
		{"key only", ecKey, nil, "secret", Options{Iterations: 1}, "alias", nil},
		{"unicode password and name", c.keyPKCS8, [][]byte{c.leaf, c.ca}, "pässwörd€", Options{FriendlyName: "clé €", Iterations: 2}, "clé €", []string{"clé €", ""}},
		{"empty password", c.keyPKCS8, [][]byte{c.leaf}, "", Options{Iterations: 1}, "alias", []string{"alias"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pfx, err := Encode(rand.Reader, tc.key, tc.certs, []byte(tc.password), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(pfx, []byte(tc.password))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			sameContents(t, got, tc.key, tc.keyName, tc.certs, tc.certNames)
		})
	}
}

// TestDecodeKMIPVector reads the PKCS#12 file of the OASIS KMIP 1.4 test
// case TC-PKCS12-2-14: 3DES PBE for key and certificate, HMAC-SHA1 MAC.
func TestDecodeKMIPVector(t *testing.T) {
	data, err := os.ReadFile("testdata/tc-pkcs12-2.p12")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(data, []byte("password"))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	key, err := x509.ParsePKCS8PrivateKey(got.PrivateKey)
	if err != nil {
		t.Fatalf("decoded key is not PKCS#8: %v", err)
	}
	if pub, ok := publicKeyOf(key).(interface{ Size() int }); !ok || pub.Size() != 512 {
		t.Errorf("key is %T, want RSA-4096", key)
	}
	if got.KeyName != "alias" {
		t.Errorf("KeyName = %q, want alias", got.KeyName)
	}
	if len(got.Certificates) != 1 {
		t.Fatalf("%d certificates, want 1", len(got.Certificates))
	}
	cert, err := x509.ParseCertificate(got.Certificates[0].DER)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.String() != "CN=localhost" || cert.SerialNumber.Text(16) != "d2f5bad76a5ac8f9" {
		t.Errorf("certificate %s serial %x, want CN=localhost serial 00d2f5bad76a5ac8f9", cert.Subject, cert.SerialNumber)
	}
	if got.Certificates[0].FriendlyName != "alias" {
		t.Errorf("certificate FriendlyName = %q, want alias", got.Certificates[0].FriendlyName)
	}
	if !publicKeyOf(key).(interface{ Equal(crypto.PublicKey) bool }).Equal(cert.PublicKey) {
		t.Error("the certificate does not belong to the key")
	}
}

func publicKeyOf(key any) crypto.PublicKey {
	return key.(interface{ Public() crypto.PublicKey }).Public()
}

// Builders of PKCS#12 files for tests, from the ASN.1 types of pkcs12.go:
// they can write what Encode never would.

// pfxNoMAC is PFX without macData.
type pfxNoMAC struct {
	Version  int
	AuthSafe contentInfo
}

// testMAC says how a built file's macData is made.
type testMAC struct {
	pass       []byte // already in the KDF's form
	iterations int
	hashOID    asn1.ObjectIdentifier
	newHash    func() hash.Hash
	fake       bool // write a zero digest without computing anything
}

// testPFX is a PFX to build.
type testPFX struct {
	version      int                   // 0 means 3
	authSafeType asn1.ObjectIdentifier // nil means data
	infos        []contentInfo
	mac          *testMAC
}

func (p testPFX) build(t *testing.T) []byte {
	t.Helper()
	authSafe := mustMarshal(t, p.infos)
	ci := mustDataCI(t, authSafe)
	if p.authSafeType != nil {
		ci.ContentType = p.authSafeType
	}
	version := p.version
	if version == 0 {
		version = 3
	}
	if p.mac == nil {
		return mustMarshal(t, pfxNoMAC{Version: version, AuthSafe: ci})
	}
	m := p.mac
	digest := make([]byte, 20)
	if !m.fake {
		key := pkcs12KDF(m.newHash, kdfIDMACKey, m.pass, []byte("saltsalt"), m.iterations, m.newHash().Size())
		mac := hmac.New(m.newHash, key)
		mac.Write(authSafe)
		digest = mac.Sum(nil)
	}
	md := macData{
		Mac:        digestInfo{Algorithm: pkix.AlgorithmIdentifier{Algorithm: m.hashOID, Parameters: asn1.NullRawValue}, Digest: digest},
		MacSalt:    []byte("saltsalt"),
		Iterations: m.iterations,
	}
	return mustMarshal(t, pfx{Version: version, AuthSafe: ci, MacData: md})
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	der, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func mustDataCI(t testing.TB, content []byte) contentInfo {
	t.Helper()
	ci, err := dataContentInfo(content)
	if err != nil {
		t.Fatal(err)
	}
	return ci
}

// safeContentsCI returns a data ContentInfo holding bags.
func safeContentsCI(t *testing.T, bags ...safeBag) contentInfo {
	t.Helper()
	return mustDataCI(t, mustMarshal(t, bags))
}

func keyBagOf(der []byte, attrs ...attribute) safeBag {
	return safeBag{ID: oidKeyBag, Value: explicit0(der), Attributes: attrs}
}

func certBagOf(t *testing.T, certType asn1.ObjectIdentifier, der []byte, attrs ...attribute) safeBag {
	t.Helper()
	value := mustMarshal(t, certBag{ID: certType, Value: explicit0(mustMarshal(t, der))})
	return safeBag{ID: oidCertBag, Value: explicit0(value), Attributes: attrs}
}

// shroudedBagOf returns a pkcs8ShroudedKeyBag whose EncryptedPrivateKeyInfo
// names alg with paramsDER over ciphertext.
func shroudedBagOf(t *testing.T, alg asn1.ObjectIdentifier, paramsDER, ciphertext []byte) safeBag {
	t.Helper()
	epki := encryptedPrivateKeyInfo{
		Algorithm:     pkix.AlgorithmIdentifier{Algorithm: alg, Parameters: asn1.RawValue{FullBytes: paramsDER}},
		EncryptedData: ciphertext,
	}
	return safeBag{ID: oidPKCS8ShroudedKeyBag, Value: explicit0(mustMarshal(t, epki))}
}

func keyIDAttr(t *testing.T, id string) attribute {
	t.Helper()
	a, err := newAttribute(oidLocalKeyID, []byte(id))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// testEncryptedData is EncryptedData (RFC 2315 §13) for building.
type testEncryptedData struct {
	Version              int
	EncryptedContentInfo struct {
		ContentType asn1.ObjectIdentifier
		Algorithm   pkix.AlgorithmIdentifier
		Content     []byte `asn1:"tag:0"`
	}
}

// encryptedDataCI returns an encryptedData ContentInfo naming alg with
// paramsDER over ciphertext.
func encryptedDataCI(t *testing.T, alg asn1.ObjectIdentifier, paramsDER, ciphertext []byte) contentInfo {
	t.Helper()
	var ed testEncryptedData
	ed.EncryptedContentInfo.ContentType = oidData
	ed.EncryptedContentInfo.Algorithm = pkix.AlgorithmIdentifier{Algorithm: alg, Parameters: asn1.RawValue{FullBytes: paramsDER}}
	ed.EncryptedContentInfo.Content = ciphertext
	return contentInfo{ContentType: oidEncryptedData, Content: explicit0(mustMarshal(t, ed))}
}

func pbeParamsDER(t *testing.T, iterations int) []byte {
	t.Helper()
	return mustMarshal(t, pbeParams{Salt: []byte("saltsalt"), Iterations: iterations})
}

// testPBES2Params returns PBES2-params with PBKDF2 (iterations, prf) and the
// cipher enc with a 16-byte IV.
func testPBES2Params(t *testing.T, kdf asn1.ObjectIdentifier, iterations int, prf, enc asn1.ObjectIdentifier) []byte {
	t.Helper()
	kdfParams := mustMarshal(t, struct {
		Salt       []byte
		Iterations int
		PRF        pkix.AlgorithmIdentifier
	}{[]byte("saltsalt"), iterations, pkix.AlgorithmIdentifier{Algorithm: prf, Parameters: asn1.NullRawValue}})
	return mustMarshal(t, pbes2Params{
		KeyDerivationFunc: pkix.AlgorithmIdentifier{Algorithm: kdf, Parameters: asn1.RawValue{FullBytes: kdfParams}},
		EncryptionScheme:  pkix.AlgorithmIdentifier{Algorithm: enc, Parameters: asn1.RawValue{FullBytes: mustMarshal(t, make([]byte, 16))}},
	})
}

// stripMAC returns pfxDER without its macData.
func stripMAC(t testing.TB, pfxDER []byte) []byte {
	t.Helper()
	var p pfxIn
	if err := unmarshalExact(pfxDER, &p, "PFX"); err != nil {
		t.Fatal(err)
	}
	return mustMarshal(t, pfxNoMAC{Version: p.Version, AuthSafe: contentInfo{ContentType: p.AuthSafe.ContentType, Content: p.AuthSafe.Content}})
}

func sha256MAC(pass []byte) *testMAC {
	return &testMAC{pass: pass, iterations: 1, hashOID: oidSHA256, newHash: sha256.New}
}

// TestDecodeLeafOrder checks which certificate Decode puts first.
func TestDecodeLeafOrder(t *testing.T) {
	c := chain(t)
	_, otherCert := ecChain(t)
	bmp, err := bmpPassword([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		bags []safeBag
		want [][]byte
	}{
		{"localKeyId picks the leaf", []safeBag{
			certBagOf(t, oidX509Certificate, c.ca, keyIDAttr(t, "other")),
			certBagOf(t, oidX509Certificate, otherCert),
			certBagOf(t, oidX509Certificate, c.leaf, keyIDAttr(t, "k1")),
			keyBagOf(c.keyPKCS8, keyIDAttr(t, "k1")),
		}, [][]byte{c.leaf, c.ca, otherCert}},
		{"localKeyId beats the public key", []safeBag{
			certBagOf(t, oidX509Certificate, c.leaf),
			certBagOf(t, oidX509Certificate, c.ca, keyIDAttr(t, "k1")),
			keyBagOf(c.keyPKCS8, keyIDAttr(t, "k1")),
		}, [][]byte{c.ca, c.leaf}},
		{"without localKeyId the public key picks", []safeBag{
			keyBagOf(c.keyPKCS8),
			certBagOf(t, oidX509Certificate, c.ca),
			certBagOf(t, oidX509Certificate, otherCert),
			certBagOf(t, oidX509Certificate, c.leaf),
		}, [][]byte{c.leaf, c.ca, otherCert}},
		{"unmatched localKeyId falls back to the public key", []safeBag{
			keyBagOf(c.keyPKCS8, keyIDAttr(t, "k1")),
			certBagOf(t, oidX509Certificate, c.ca, keyIDAttr(t, "k2")),
			certBagOf(t, oidX509Certificate, c.leaf),
		}, [][]byte{c.leaf, c.ca}},
		{"no match keeps the file order", []safeBag{
			keyBagOf(c.keyPKCS8),
			certBagOf(t, oidX509Certificate, otherCert),
			certBagOf(t, oidX509Certificate, c.ca),
		}, [][]byte{otherCert, c.ca}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Split the bags over two ContentInfos to cover the order
			// across them too.
			half := len(tc.bags) / 2
			file := testPFX{
				infos: []contentInfo{safeContentsCI(t, tc.bags[:half]...), safeContentsCI(t, tc.bags[half:]...)},
				mac:   sha256MAC(bmp),
			}.build(t)
			got, err := Decode(file, []byte("pw"))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if len(got.Certificates) != len(tc.want) {
				t.Fatalf("%d certificates, want %d", len(got.Certificates), len(tc.want))
			}
			for i, cert := range got.Certificates {
				if !bytes.Equal(cert.DER, tc.want[i]) {
					t.Errorf("certificate %d is not the expected one", i+1)
				}
			}
		})
	}
}

// TestDecodeEmptyPassword checks both encodings of the empty password in
// the MAC key derivation (RFC 7292 Appendix B.1).
func TestDecodeEmptyPassword(t *testing.T) {
	c := chain(t)
	bags := safeContentsCI(t, keyBagOf(c.keyPKCS8), certBagOf(t, oidX509Certificate, c.leaf))
	tests := []struct {
		name     string
		pass     []byte
		password string
		wantErr  error
	}{
		{"two zero bytes (OpenSSL)", []byte{0, 0}, "", nil},
		{"no bytes", []byte{}, "", nil},
		{"no bytes is not tried for a non-empty password", []byte{}, "x", ErrPassword},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := testPFX{infos: []contentInfo{bags}, mac: &testMAC{pass: tc.pass, iterations: 3, hashOID: oidSHA1, newHash: sha1.New}}.build(t)
			_, err := Decode(file, []byte(tc.password))
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("Decode error = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// TestDecodeWrongPassword checks that a wrong password is ErrPassword, with
// a MAC and without one (then a decryption fails, by its padding or by the
// structure of what it gives). Several passwords make the second case,
// which the padding catches only most of the time, deterministic to check.
func TestDecodeWrongPassword(t *testing.T) {
	c := chain(t)
	encoded, err := Encode(rand.Reader, c.keyPKCS8, [][]byte{c.leaf, c.ca}, []byte("right"), Options{Iterations: 1})
	if err != nil {
		t.Fatal(err)
	}
	vector, err := os.ReadFile("testdata/tc-pkcs12-2.p12")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		file     []byte
		password string
	}{
		{"Encode output (PBES2, HMAC-SHA256)", encoded, "right"},
		{"Encode output without MAC (PBES2)", stripMAC(t, encoded), "right"},
		{"KMIP vector (3DES PBE, HMAC-SHA1)", vector, "password"},
		{"KMIP vector without MAC (3DES PBE)", stripMAC(t, vector), "password"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Decode(tc.file, []byte(tc.password)); err != nil {
				t.Fatalf("right password: %v", err)
			}
			for _, wrong := range []string{"", "wrong", "Right", "password1", "a", "b", "c", "d", "e", "f", "g", "h"} {
				if wrong == tc.password {
					continue
				}
				if _, err := Decode(tc.file, []byte(wrong)); !errors.Is(err, ErrPassword) {
					t.Errorf("password %q: error = %v, want ErrPassword", wrong, err)
				}
			}
		})
	}
}

// TestDecodeMalformed checks inputs that are no PKCS#12 file.
func TestDecodeMalformed(t *testing.T) {
	c := chain(t)
	encoded, err := Encode(rand.Reader, c.keyPKCS8, [][]byte{c.leaf}, []byte("pw"), Options{Iterations: 1})
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := bmpPassword([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	keyOnly := safeContentsCI(t, keyBagOf(c.keyPKCS8))
	tests := []struct {
		name string
		file []byte
	}{
		{"empty", nil},
		{"not DER", []byte("-----BEGIN PKCS12-----")},
		{"larger than 1 MiB", make([]byte, 1<<20+1)},
		{"trailing data", append(bytes.Clone(encoded), 0)},
		{"MAC iteration count 0", testPFX{infos: []contentInfo{keyOnly}, mac: &testMAC{pass: bmp, iterations: 0, hashOID: oidSHA256, newHash: sha256.New, fake: true}}.build(t)},
		{"PBE iteration count 0", testPFX{infos: []contentInfo{safeContentsCI(t, shroudedBagOf(t, oidPBEWithSHAAnd3KeyTripleDESCBC, pbeParamsDER(t, 0), make([]byte, 16)))}}.build(t)},
		{"PBKDF2 iteration count -1", testPFX{infos: []contentInfo{safeContentsCI(t, shroudedBagOf(t, oidPBES2, testPBES2Params(t, oidPBKDF2, -1, oidHMACWithSHA256, oidAES256CBC), make([]byte, 16)))}}.build(t)},
		{"ciphertext not a whole number of blocks", testPFX{infos: []contentInfo{safeContentsCI(t, shroudedBagOf(t, oidPBES2, testPBES2Params(t, oidPBKDF2, 1, oidHMACWithSHA256, oidAES256CBC), make([]byte, 17)))}}.build(t)},
		{"keyBag that is no PrivateKeyInfo", testPFX{infos: []contentInfo{safeContentsCI(t, keyBagOf(mustMarshal(t, 42)))}, mac: sha256MAC(bmp)}.build(t)},
		{"certificate that is no X.509", testPFX{infos: []contentInfo{keyOnly, safeContentsCI(t, certBagOf(t, oidX509Certificate, []byte("junk")))}, mac: sha256MAC(bmp)}.build(t)},
		{"friendlyName that is no BMPString", testPFX{infos: []contentInfo{safeContentsCI(t, keyBagOf(c.keyPKCS8, mustAttribute(t, oidFriendlyName, "utf8")))}, mac: sha256MAC(bmp)}.build(t)},
		{"data ContentInfo without content", testPFX{infos: []contentInfo{{ContentType: oidData}}, mac: sha256MAC(bmp)}.build(t)},
	}
	for i := 1; i < len(encoded); i += 97 {
		tests = append(tests, struct {
			name string
			file []byte
		}{"truncated", encoded[:i]})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(tc.file, []byte("pw"))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode error = %v, want ErrMalformed", err)
			}
			if got != nil {
				t.Error("Decode returned contents with an error")
			}
		})
	}
}

func mustAttribute(t *testing.T, id asn1.ObjectIdentifier, v any) attribute {
	t.Helper()
	a, err := newAttribute(id, v)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestDecodeGarbled flips every byte of a valid file in turn: Decode must
// never panic, and every error must wrap one of the three sentinels.
func TestDecodeGarbled(t *testing.T) {
	c := chain(t)
	encoded, err := Encode(rand.Reader, c.keyPKCS8, [][]byte{c.leaf}, []byte("pw"), Options{Iterations: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range encoded {
		garbled := bytes.Clone(encoded)
		garbled[i] ^= 0xa5
		_, err := Decode(garbled, []byte("pw"))
		if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrPassword) {
			t.Errorf("byte %d garbled: error %v wraps no sentinel", i, err)
		}
	}
}

// TestDecodeUnsupported checks files Decode refuses with ErrUnsupported.
func TestDecodeUnsupported(t *testing.T) {
	c := chain(t)
	bmp, err := bmpPassword([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	key := keyBagOf(c.keyPKCS8)
	keyOnly := safeContentsCI(t, key)
	withMAC := func(infos ...contentInfo) []byte {
		return testPFX{infos: infos, mac: sha256MAC(bmp)}.build(t)
	}
	// Files without a MAC reach the decryption; their ciphertext is
	// garbage, so the algorithm must be refused before it is used.
	shrouded := func(alg asn1.ObjectIdentifier, params []byte) []byte {
		return testPFX{infos: []contentInfo{safeContentsCI(t, shroudedBagOf(t, alg, params, make([]byte, 32)))}}.build(t)
	}
	encrypted := func(alg asn1.ObjectIdentifier, params []byte) []byte {
		return testPFX{infos: []contentInfo{encryptedDataCI(t, alg, params, make([]byte, 32)), keyOnly}}.build(t)
	}
	oidMD5 := asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 5}
	oidScrypt := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11591, 4, 11}
	oidAES256GCM := asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 46}
	oidSDSICert := asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 22, 2}
	many := make([]safeBag, 0, 65)
	many = append(many, key)
	for range 64 {
		many = append(many, safeBag{ID: oidSecretBag, Value: explicit0(mustMarshal(t, 0))})
	}
	manyInfos := make([]contentInfo, 0, 65)
	manyInfos = append(manyInfos, keyOnly)
	for range 64 {
		manyInfos = append(manyInfos, safeContentsCI(t))
	}
	tests := []struct {
		name string
		file []byte
		text string // the message must name the problem
	}{
		{"PFX version 2", testPFX{version: 2, infos: []contentInfo{keyOnly}, mac: sha256MAC(bmp)}.build(t), "version 2"},
		{"public-key integrity mode", testPFX{authSafeType: oidSignedData, infos: []contentInfo{keyOnly}}.build(t), "signedData"},
		{"public-key privacy mode", withMAC(keyOnly, contentInfo{ContentType: oidEnvelopedData, Content: explicit0(mustMarshal(t, 0))}), "envelopedData"},
		{"MAC with MD5", testPFX{infos: []contentInfo{keyOnly}, mac: &testMAC{pass: bmp, iterations: 1, hashOID: oidMD5, newHash: sha1.New, fake: true}}.build(t), "MAC digest algorithm"},
		{"PBMAC1", testPFX{infos: []contentInfo{keyOnly}, mac: &testMAC{pass: bmp, iterations: 1, hashOID: oidPBMAC1, newHash: sha1.New, fake: true}}.build(t), "PBMAC1"},
		{"MAC iteration count above 1,000,000", testPFX{infos: []contentInfo{keyOnly}, mac: &testMAC{pass: bmp, iterations: 1_000_001, hashOID: oidSHA1, newHash: sha1.New, fake: true}}.build(t), "iteration count 1000001"},
		{"no private key", withMAC(safeContentsCI(t, certBagOf(t, oidX509Certificate, c.leaf))), "0 private keys"},
		{"two private keys", withMAC(keyOnly, safeContentsCI(t, key)), "2 private keys"},
		{"nested safeContentsBag", withMAC(keyOnly, safeContentsCI(t, safeBag{ID: oidSafeContentsBag, Value: explicit0(mustMarshal(t, []safeBag{key}))})), "safeContentsBag"},
		{"unknown bag type", withMAC(keyOnly, safeContentsCI(t, safeBag{ID: asn1.ObjectIdentifier{1, 2, 3}, Value: explicit0(mustMarshal(t, 0))})), "bag type 1.2.3"},
		{"SDSI certificate", withMAC(keyOnly, safeContentsCI(t, certBagOf(t, oidSDSICert, []byte("sdsi")))), "certificate type"},
		{"65 safe bags", withMAC(safeContentsCI(t, many...)), "64 safe bags"},
		{"65 ContentInfos", withMAC(manyInfos...), "65 ContentInfos"},
		{"RC4 key encryption", shrouded(oidPBEWithSHAAnd128BitRC4, pbeParamsDER(t, 1)), "RC4"},
		{"PBES1 key encryption", shrouded(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 3}, pbeParamsDER(t, 1)), "1.2.840.113549.1.5.3"},
		{"PBE iteration count above 1,000,000", shrouded(oidPBEWithSHAAnd3KeyTripleDESCBC, pbeParamsDER(t, 1_000_001)), "iteration count 1000001"},
		{"PBKDF2 iteration count above 1,000,000", shrouded(oidPBES2, testPBES2Params(t, oidPBKDF2, 1_000_001, oidHMACWithSHA256, oidAES256CBC)), "iteration count 1000001"},
		{"PBES2 with scrypt", shrouded(oidPBES2, testPBES2Params(t, oidScrypt, 1, oidHMACWithSHA256, oidAES256CBC)), "key derivation function"},
		{"PBES2 with AES-GCM", shrouded(oidPBES2, testPBES2Params(t, oidPBKDF2, 1, oidHMACWithSHA256, oidAES256GCM)), "encryption scheme"},
		{"PBKDF2 with an HMAC-MD5 PRF", shrouded(oidPBES2, testPBES2Params(t, oidPBKDF2, 1, asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 6}, oidAES128CBC)), "PRF"},
		{"encryptedData with RC4", encrypted(oidPBEWithSHAAnd40BitRC4, pbeParamsDER(t, 1)), "RC4"},
		{"BER indefinite length", []byte{0x30, 0x80, 0x02, 0x01, 0x03, 0x00, 0x00}, "indefinite"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.file, []byte("pw"))
			if !errors.Is(err, ErrUnsupported) {
				t.Fatalf("Decode error = %v, want ErrUnsupported", err)
			}
			if !bytes.Contains([]byte(err.Error()), []byte(tc.text)) {
				t.Errorf("error %q does not mention %q", err, tc.text)
			}
		})
	}
}

// TestIterationBudget checks that the iteration counts of one file add up
// to at most maxIterationBudget (running them would take seconds).
func TestIterationBudget(t *testing.T) {
	d := &decoder{limits: defaultWorkLimits, iterationBudget: defaultWorkLimits.iterationBudget}
	for i := range 4 {
		if err := d.spendIterations(maxDecodeIterations, "test"); err != nil {
			t.Fatalf("derivation %d at the per-count bound: %v", i+1, err)
		}
	}
	if err := d.spendIterations(1, "test"); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("derivation beyond the budget: error = %v, want ErrUnsupported", err)
	}
}

// TestUnpad checks the PKCS#7 padding check on every pad value.
func TestUnpad(t *testing.T) {
	for last := range 256 {
		for _, fill := range []byte{byte(last), 0x00} {
			buf := bytes.Repeat([]byte{fill}, 16)
			buf[15] = byte(last)
			n, ok := unpad(buf, 8)
			wantOK := last >= 1 && last <= 8 && (fill == byte(last) || last == 1)
			if ok != wantOK || (ok && n != 16-last) {
				t.Errorf("unpad(…%02x…%02x) = %d, %v; want ok %v", fill, last, n, ok, wantOK)
			}
		}
	}
}

// FuzzDecode feeds Decode mutations of a KMIP vector and of an Encode
// output: it must never panic, every error must wrap a sentinel, and
// whatever it accepts must be a key with X.509 certificates. The work
// limits are lowered (the seeds need 3 × 2048 iterations): at Decode's own,
// an input whose iteration counts the fuzzer raised may cost seconds of
// hashing, time better spent on parsing.
func FuzzDecode(f *testing.F) {
	vector, err := os.ReadFile("testdata/tc-pkcs12-2.p12")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(vector)
	key, cert := ecChain(f)
	encoded, err := Encode(rand.Reader, key, [][]byte{cert}, []byte("password"), Options{Iterations: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(encoded)
	f.Add(stripMAC(f, encoded))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeWithLimits(data, []byte("password"), workLimits{maxIterations: 4096, iterationBudget: 3 * 4096})
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrPassword) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			if got != nil {
				t.Fatal("contents with an error")
			}
			return
		}
		if len(got.PrivateKey) == 0 {
			t.Fatal("accepted without a key")
		}
		for i, c := range got.Certificates {
			if _, err := x509.ParseCertificate(c.DER); err != nil {
				t.Fatalf("certificate %d does not parse: %v", i+1, err)
			}
		}
	})
}

// TestDecodePBES2Parameters covers PBES2 parameter forms that neither
// OpenSSL 3 nor cryptography write: PBKDF2 without a PRF (the default,
// hmacWithSHA1), with an explicit keyLength, with other PRFs.
func TestDecodePBES2Parameters(t *testing.T) {
	c := chain(t)
	bmp, err := bmpPassword([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		prf       asn1.ObjectIdentifier // nil: absent
		newHash   func() hash.Hash
		keyLength int // 0: absent
		cipher    asn1.ObjectIdentifier
		keySize   int
		wantErr   error
	}{
		{"default PRF, AES-256", nil, sha1.New, 0, oidAES256CBC, 32, nil},
		{"default PRF, keyLength, AES-128", nil, sha1.New, 16, oidAES128CBC, 16, nil},
		{"hmacWithSHA384, AES-192", oidHMACWithSHA384, sha512.New384, 24, oidAES192CBC, 24, nil},
		{"hmacWithSHA224, DES-EDE3-CBC", oidHMACWithSHA224, sha256.New224, 0, oidDESEDE3CBC, 24, nil},
		{"keyLength that does not fit the cipher", nil, sha1.New, 16, oidAES256CBC, 32, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			salt := []byte("pbkdf2 salt")
			elements := [][]byte{mustMarshal(t, salt), mustMarshal(t, 5)}
			if tc.keyLength != 0 {
				elements = append(elements, mustMarshal(t, tc.keyLength))
			}
			if tc.prf != nil {
				elements = append(elements, mustMarshal(t, pkix.AlgorithmIdentifier{Algorithm: tc.prf, Parameters: asn1.NullRawValue}))
			}
			kdfParams := mustMarshal(t, asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: bytes.Join(elements, nil)})

			key, err := pbkdf2.Key(tc.newHash, "pw", salt, 5, tc.keySize)
			if err != nil {
				t.Fatal(err)
			}
			block, err := pbes2Ciphers[tc.cipher.String()].newBlock(key)
			if err != nil {
				t.Fatal(err)
			}
			iv := bytes.Repeat([]byte{7}, block.BlockSize())
			padLen := block.BlockSize() - len(c.keyPKCS8)%block.BlockSize()
			ct := append(bytes.Clone(c.keyPKCS8), bytes.Repeat([]byte{byte(padLen)}, padLen)...)
			cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, ct)
			params := mustMarshal(t, pbes2Params{
				KeyDerivationFunc: pkix.AlgorithmIdentifier{Algorithm: oidPBKDF2, Parameters: asn1.RawValue{FullBytes: kdfParams}},
				EncryptionScheme:  pkix.AlgorithmIdentifier{Algorithm: tc.cipher, Parameters: asn1.RawValue{FullBytes: mustMarshal(t, iv)}},
			})
			file := testPFX{infos: []contentInfo{safeContentsCI(t, shroudedBagOf(t, oidPBES2, params, ct))}, mac: sha256MAC(bmp)}.build(t)

			got, err := Decode(file, []byte("pw"))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Decode error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !bytes.Equal(got.PrivateKey, c.keyPKCS8) {
				t.Error("decoded key differs")
			}
		})
	}
}

// BenchmarkDecode measures Decode on a legacy file (the KMIP vector: 3DES
// PBEs and an HMAC-SHA1 MAC at 2048 iterations) and on Encode's default
// output (PBES2 and HMAC-SHA256 at 10000 iterations), where the key
// derivations dominate.
func BenchmarkDecode(b *testing.B) {
	vector, err := os.ReadFile("testdata/tc-pkcs12-2.p12")
	if err != nil {
		b.Fatal(err)
	}
	key, cert := ecChain(b)
	encoded, err := Encode(rand.Reader, key, [][]byte{cert}, []byte("password"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		file []byte
	}{{"KMIP vector", vector}, {"Encode default", encoded}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Decode(bc.file, []byte("password")); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
