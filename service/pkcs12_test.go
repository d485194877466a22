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
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kmipd/kmipd/internal/testtool"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// Tests of Get with Key Format Type PKCS#12 (KMIP 2.0 §6.1.22) over
// SoftHSM: the container's contents are checked by Python's cryptography
// package, the PKCS#12 reader the CI image has.

const pkcs12TestPassword = "pässwörd-1"

// pkcs12Fixture is a key pair with a two-certificate chain, registered.
type pkcs12Fixture struct {
	keyDER, leafDER, caDER []byte
	keyID, leafID, caID    string
	passwordID             string
}

// pkcs12KeyAndChain makes a P-256 key (PKCS#8) with a leaf certificate
// and the CA that issued it.
func pkcs12KeyAndChain(t testing.TB) (keyDER, leafDER, caDER []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if keyDER, err = x509.MarshalPKCS8PrivateKey(key); err != nil {
		t.Fatal(err)
	}
	leafDER, caDER = pkcs12Certs(t, key)
	return keyDER, leafDER, caDER
}

// pkcs12Certs makes a CA and a leaf certificate for key.
func pkcs12Certs(t testing.TB, key *ecdsa.PrivateKey) (leaf, ca []byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pkcs12 test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	ca, err = x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(ca)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "pkcs12 test leaf"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
	}
	leaf, err = x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return leaf, ca
}

// registerPKCS12Fixture registers the password, the key (linked to the
// password unless keyLinks replaces its links) and the chain, linked the
// way TC-PKCS12-1 links them.
func registerPKCS12Fixture(t *testing.T, e *creationEnv, ver kmip.ProtocolVersion, keyAttrs ...kmip.Attribute) *pkcs12Fixture {
	t.Helper()
	f := &pkcs12Fixture{}
	f.keyDER, f.leafDER, f.caDER = pkcs12KeyAndChain(t)
	f.passwordID = registerPassword(t, e, ver, pkcs12TestPassword, true)
	cert := func(der []byte) ttlv.Value {
		return ttlv.Struct(kmip.TagCertificate,
			ttlv.Enum(kmip.TagCertificateType, uint32(kmip.CertificateTypeX509)),
			ttlv.Bytes(kmip.TagCertificateValue, der))
	}
	f.caID = e.register(t, ver, kmip.ObjectTypeCertificate, cert(f.caDER))
	f.leafID = e.register(t, ver, kmip.ObjectTypeCertificate, cert(f.leafDER),
		attr(attrLink, attrsLink(kmip.LinkTypeCertificateLink, f.caID)))
	if keyAttrs == nil {
		keyAttrs = []kmip.Attribute{
			attr(attrLink, attrsLink(kmip.LinkTypePKCS12PasswordLink, f.passwordID)),
			attr(attrLink, attrsLink(kmip.LinkTypePKCS12CertificateLink, f.leafID)),
		}
	}
	keyAttrs = append(keyAttrs, creationMask(kmip.CryptographicUsageMaskSign))
	f.keyID = e.register(t, ver, kmip.ObjectTypePrivateKey, ttlv.Struct(kmip.TagPrivateKey,
		creationKeyBlock(kmip.KeyFormatTypePKCS8, ttlv.Bytes(kmip.TagKeyMaterial, f.keyDER), kmip.CryptographicAlgorithmECDSA, 256)),
		keyAttrs...)
	return f
}

func TestGetPKCS12(t *testing.T) {
	for _, ver := range []kmip.ProtocolVersion{kmip.V1_4, kmip.V2_0} {
		t.Run(ver.String(), func(t *testing.T) {
			e := newCreationEnv(t)
			f := registerPKCS12Fixture(t, e, ver)
			obj := e.get(t, ver, f.keyID, ttlv.Enum(kmip.TagKeyFormatType, uint32(kmip.KeyFormatTypePKCS12)))
			kb, ok := obj.Child(kmip.TagKeyBlock)
			if !ok {
				t.Fatalf("no key block in %v", obj)
			}
			// As TC-PKCS12-1-14 and -20 have it: Key Format Type, then the
			// Key Value, nothing else; the container is the Key Value
			// itself in 1.4, its Key Material in 2.0.
			if got := creationTags(kb); len(got) != 2 || got[0] != kmip.TagKeyFormatType || got[1] != kmip.TagKeyValue {
				t.Fatalf("key block fields %v", got)
			}
			container, _ := kb.Child(kmip.TagKeyValue)
			if ver.Is2x() {
				container, _ = container.Child(kmip.TagKeyMaterial)
			}
			if container.Type != ttlv.TypeByteString {
				t.Fatalf("the container is a %v, want a Byte String", container.Type)
			}
			key, certs, name := pkcs12ReadWithPython(t, container.Bytes(), pkcs12TestPassword)
			if !bytes.Equal(key, f.keyDER) {
				t.Error("the container's private key is not the registered one")
			}
			if len(certs) != 2 || !bytes.Equal(certs[0], f.leafDER) || !bytes.Equal(certs[1], f.caDER) {
				t.Errorf("the container holds %d certificates, want the leaf then the CA", len(certs))
			}
			if name != "alias" {
				t.Errorf("friendly name %q, want the default %q (KMIP 2.0 §4.39)", name, "alias")
			}
		})
	}
}

func TestGetPKCS12Refusals(t *testing.T) {
	pkcs12 := ttlv.Enum(kmip.TagKeyFormatType, uint32(kmip.KeyFormatTypePKCS12))
	tests := []struct {
		name   string
		ver    kmip.ProtocolVersion
		setup  func(t *testing.T, e *creationEnv, ver kmip.ProtocolVersion) (id string, extra []ttlv.Value)
		reason kmip.ResultReason
	}{
		{"no password link, 2.0", kmip.V2_0, pkcs12KeyWith(func(*pkcs12Fixture) []kmip.Attribute { return []kmip.Attribute{} }), kmip.ResultReasonBadPassword},
		{"no password link, 1.4", kmip.V1_4, pkcs12KeyWith(func(*pkcs12Fixture) []kmip.Attribute { return []kmip.Attribute{} }), kmip.ResultReasonInvalidField},
		{"password is not Secret Data", kmip.V2_0, pkcs12KeyWith(func(f *pkcs12Fixture) []kmip.Attribute {
			return []kmip.Attribute{attr(attrLink, attrsLink(kmip.LinkTypePKCS12PasswordLink, f.caID))}
		}), kmip.ResultReasonBadPassword},
		{"two password links", kmip.V2_0, pkcs12KeyWith(func(f *pkcs12Fixture) []kmip.Attribute {
			return []kmip.Attribute{
				attr(attrLink, attrsLink(kmip.LinkTypePKCS12PasswordLink, f.passwordID)),
				attr(attrLink, attrsLink(kmip.LinkTypePKCS12PasswordLink, f.caID)),
			}
		}), kmip.ResultReasonBadPassword},
		{"password a PKCS#12 file cannot hold", kmip.V2_0, func(t *testing.T, e *creationEnv, ver kmip.ProtocolVersion) (string, []ttlv.Value) {
			f := registerPKCS12Fixture(t, e, ver)
			nul := e.register(t, ver, kmip.ObjectTypeSecretData, ttlv.Struct(kmip.TagSecretData,
				ttlv.Enum(kmip.TagSecretDataType, uint32(kmip.SecretDataTypePassword)),
				creationKeyBlock(kmip.KeyFormatTypeOpaque, ttlv.Bytes(kmip.TagKeyMaterial, []byte("a\x00b")), 0, 0)),
				creationDate(attrActivationDate, time.Now().Add(-time.Minute)))
			g := registerPKCS12Fixture(t, e, ver, attr(attrLink, attrsLink(kmip.LinkTypePKCS12PasswordLink, nul)),
				attr(attrLink, attrsLink(kmip.LinkTypePKCS12CertificateLink, f.leafID)))
			return g.keyID, nil
		}, kmip.ResultReasonBadPassword},
		{"sensitive certificate in the chain, 2.0", kmip.V2_0, pkcs12SensitiveLeaf, kmip.ResultReasonSensitive},
		// Before 1.4 there is no Sensitive reason (KMIP 1.4 §11.12), as for
		// a plain Get of the certificate.
		{"sensitive certificate in the chain, 1.3", kmip.V1_3, pkcs12SensitiveLeaf, kmip.ResultReasonPermissionDenied},
		{"secp256k1 key, which crypto/x509 cannot read", kmip.V2_0, func(t *testing.T, e *creationEnv, ver kmip.ProtocolVersion) (string, []ttlv.Value) {
			priv, _ := ecdhCreatePair(t, e, ver, kmip.RecommendedCurveSECP256K1, kmip.CryptographicUsageMaskSign)
			return priv, nil
		}, kmip.ResultReasonKeyFormatTypeNotSupported},
		{"two leaf certificates", kmip.V2_0, pkcs12KeyWith(func(f *pkcs12Fixture) []kmip.Attribute {
			return []kmip.Attribute{
				attr(attrLink, attrsLink(kmip.LinkTypePKCS12PasswordLink, f.passwordID)),
				attr(attrLink, attrsLink(kmip.LinkTypePKCS12CertificateLink, f.leafID)),
				attr(attrLink, attrsLink(kmip.LinkTypePKCS12CertificateLink, f.caID)),
			}
		}), kmip.ResultReasonInvalidField},
		{"certificate links loop", kmip.V2_0, func(t *testing.T, e *creationEnv, ver kmip.ProtocolVersion) (string, []ttlv.Value) {
			f := registerPKCS12Fixture(t, e, ver)
			e.must(t, ver, kmip.OperationAddAttribute, creationUID(f.caID),
				ttlv.Struct(kmip.TagNewAttribute, attrsLink(kmip.LinkTypeCertificateLink, f.leafID)))
			return f.keyID, nil
		}, kmip.ResultReasonInvalidField},
		{"with a key wrapping specification", kmip.V2_0, func(t *testing.T, e *creationEnv, ver kmip.ProtocolVersion) (string, []ttlv.Value) {
			f := registerPKCS12Fixture(t, e, ver)
			kek := e.registerSymmetric(t, ver, kmip.CryptographicAlgorithmAES, bytes.Repeat([]byte{7}, 32),
				creationMask(kmip.CryptographicUsageMaskWrapKey), creationDate(attrActivationDate, time.Now().Add(-time.Minute)))
			return f.keyID, []ttlv.Value{ttlv.Struct(kmip.TagKeyWrappingSpecification,
				ttlv.Enum(kmip.TagWrappingMethod, uint32(kmip.WrappingMethodEncrypt)),
				ttlv.Struct(kmip.TagEncryptionKeyInformation, creationUID(kek)))}
		}, kmip.ResultReasonKeyFormatTypeNotSupported},
		{"sensitive key", kmip.V2_0, pkcs12KeyWith(func(f *pkcs12Fixture) []kmip.Attribute {
			return []kmip.Attribute{
				attr(attrLink, attrsLink(kmip.LinkTypePKCS12PasswordLink, f.passwordID)),
				creationBool(attrSensitive, true),
			}
		}), kmip.ResultReasonSensitive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newCreationEnv(t)
			id, extra := tt.setup(t, e, tt.ver)
			_, err := e.call(tt.ver, kmip.OperationGet, append([]ttlv.Value{creationUID(id), pkcs12}, extra...)...)
			creationReason(t, err, tt.reason)
		})
	}
}

// pkcs12SensitiveLeaf registers a key whose PKCS#12 Certificate Link names
// a certificate registered as Sensitive. It registers over KMIP 1.4, which
// has the attribute, whatever version the Get then speaks.
func pkcs12SensitiveLeaf(t *testing.T, e *creationEnv, _ kmip.ProtocolVersion) (string, []ttlv.Value) {
	ver := kmip.V1_4
	f := registerPKCS12Fixture(t, e, ver)
	leaf := e.register(t, ver, kmip.ObjectTypeCertificate, ttlv.Struct(kmip.TagCertificate,
		ttlv.Enum(kmip.TagCertificateType, uint32(kmip.CertificateTypeX509)),
		ttlv.Bytes(kmip.TagCertificateValue, f.leafDER)),
		creationBool(attrSensitive, true))
	g := registerPKCS12Fixture(t, e, ver,
		attr(attrLink, attrsLink(kmip.LinkTypePKCS12PasswordLink, f.passwordID)),
		attr(attrLink, attrsLink(kmip.LinkTypePKCS12CertificateLink, leaf)))
	return g.keyID, nil
}

// pkcs12KeyWith registers the fixture's password and chain, then a second
// private key with the attributes links returns, and names that key.
func pkcs12KeyWith(links func(f *pkcs12Fixture) []kmip.Attribute) func(*testing.T, *creationEnv, kmip.ProtocolVersion) (string, []ttlv.Value) {
	return func(t *testing.T, e *creationEnv, ver kmip.ProtocolVersion) (string, []ttlv.Value) {
		f := registerPKCS12Fixture(t, e, ver)
		g := registerPKCS12Fixture(t, e, ver, links(f)...)
		return g.keyID, nil
	}
}

// pkcs12ReadWithPython opens a PKCS#12 container with Python's
// cryptography package and returns the key (PKCS#8 DER), the certificates
// (DER, the key's own first) and the key's friendly name.
func pkcs12ReadWithPython(t *testing.T, p12 []byte, password string) (key []byte, certs [][]byte, friendlyName string) {
	t.Helper()
	const script = `
import sys
from cryptography.hazmat.primitives.serialization import pkcs12, Encoding, PrivateFormat, NoEncryption
data = open(sys.argv[1], "rb").read()
password = sys.stdin.buffer.read()
p = pkcs12.load_pkcs12(data, password)
print(p.key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption()).hex())
print((p.cert.friendly_name or b"").decode())
print(p.cert.certificate.public_bytes(Encoding.DER).hex())
for c in p.additional_certs:
    print(c.certificate.public_bytes(Encoding.DER).hex())
`
	python := testtool.Python(t, "from cryptography.hazmat.primitives.serialization import pkcs12", "python3-cryptography")
	path := filepath.Join(t.TempDir(), "key.p12")
	if err := os.WriteFile(path, p12, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "-c", script, path)
	cmd.Stdin = strings.NewReader(password)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cryptography could not read the container: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 3 {
		t.Fatalf("unexpected reader output %q", out)
	}
	hexes := append([]string{lines[0]}, lines[2:]...)
	var der [][]byte
	for _, h := range hexes {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		der = append(der, b)
	}
	return der[0], der[1:], lines[1]
}
