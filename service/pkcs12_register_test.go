package service

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/pkcs12"
	"github.com/kmipd/kmipd/ttlv"
)

// Tests of Register with Key Format Type PKCS#12 (pkcs12_register.go).

// pkcs12Import is a key with a two-certificate chain in a container.
type pkcs12Import struct {
	keyDER, leafDER, caDER []byte
	container              []byte
}

func newPKCS12Import(t testing.TB, password, friendlyName string) *pkcs12Import {
	t.Helper()
	im := &pkcs12Import{}
	im.keyDER, im.leafDER, im.caDER = pkcs12KeyAndChain(t)
	var err error
	im.container, err = pkcs12.Encode(rand.Reader, im.keyDER, [][]byte{im.leafDER, im.caDER}, []byte(password), pkcs12.Options{FriendlyName: friendlyName})
	if err != nil {
		t.Fatal(err)
	}
	return im
}

// registerPassword registers a Password Secret Data, Active if active.
func registerPassword(t *testing.T, e *creationEnv, ver kmip.ProtocolVersion, password string, active bool) string {
	t.Helper()
	var attrs []kmip.Attribute
	if active {
		attrs = append(attrs, creationDate(attrActivationDate, time.Now().Add(-time.Minute)))
	}
	return e.register(t, ver, kmip.ObjectTypeSecretData, ttlv.Struct(kmip.TagSecretData,
		ttlv.Enum(kmip.TagSecretDataType, uint32(kmip.SecretDataTypePassword)),
		creationKeyBlock(kmip.KeyFormatTypeOpaque, ttlv.Bytes(kmip.TagKeyMaterial, []byte(password)), 0, 0)),
		attrs...)
}

// pkcs12KeyObject is the Private Key structure carrying container, with the
// container as the Key Value itself (asByteString, as TC-PKCS12-2-14 sends
// it) or as its Key Material.
func pkcs12KeyObject(container []byte, asByteString bool) ttlv.Value {
	kv := ttlv.Struct(kmip.TagKeyValue, ttlv.Bytes(kmip.TagKeyMaterial, container))
	if asByteString {
		kv = ttlv.Bytes(kmip.TagKeyValue, container)
	}
	return ttlv.Struct(kmip.TagPrivateKey, ttlv.Struct(kmip.TagKeyBlock,
		ttlv.Enum(kmip.TagKeyFormatType, uint32(kmip.KeyFormatTypePKCS12)), kv))
}

func (e *creationEnv) registerPKCS12(ver kmip.ProtocolVersion, obj ttlv.Value, attrs ...kmip.Attribute) (ttlv.Value, error) {
	return e.call(ver, kmip.OperationRegister, creationOT(kmip.ObjectTypePrivateKey), creationTemplate(ver, attrs...), obj)
}

func TestRegisterPKCS12(t *testing.T) {
	for _, ver := range []kmip.ProtocolVersion{kmip.V1_4, kmip.V2_0} {
		for _, asByteString := range []bool{true, false} {
			t.Run(fmt.Sprintf("%v/key-value-is-byte-string=%v", ver, asByteString), func(t *testing.T) {
				e := newCreationEnv(t)
				im := newPKCS12Import(t, pkcs12TestPassword, "my key")
				pw := registerPassword(t, e, ver, pkcs12TestPassword, true)
				p, err := e.registerPKCS12(ver, pkcs12KeyObject(im.container, asByteString),
					attr(attrLink, attrsLink(kmip.LinkTypePKCS12PasswordLink, pw)),
					creationMask(kmip.CryptographicUsageMaskSign))
				if err != nil {
					t.Fatal(err)
				}
				keyID := creationID(t, p)

				key := e.object(t, keyID)
				if got := pkcs12FriendlyName(key); got != "my key" {
					t.Errorf("key's PKCS#12 Friendly Name %q, want the container's %q (KMIP 2.0 §4.39)", got, "my key")
				}
				if ids := linkedIDs(key, kmip.LinkTypePKCS12PasswordLink); len(ids) != 1 || ids[0] != pw {
					t.Errorf("password links %v, want [%s]", ids, pw)
				}
				leafIDs := linkedIDs(key, kmip.LinkTypePKCS12CertificateLink)
				if len(leafIDs) != 1 {
					t.Fatalf("PKCS#12 certificate links %v, want one", leafIDs)
				}
				d, _ := key.Attr(attrDigest)
				if f, _ := d.Value.Child(kmip.TagKeyFormatType); kmip.KeyFormatType(f.Enum()) != kmip.KeyFormatTypePKCS8 {
					t.Errorf("digest of key format %v, want PKCS#8 (TC-PKCS12-2)", kmip.KeyFormatType(f.Enum()))
				}

				_, material := creationMaterial(t, e.get(t, ver, keyID))
				if !bytes.Equal(material.Bytes(), im.keyDER) {
					t.Error("Get returns another key than the container's")
				}
				leaf := e.object(t, leafIDs[0])
				if !bytes.Equal(leaf.Public, im.leafDER) {
					t.Error("the PKCS#12 Certificate Link names another certificate than the leaf")
				}
				if got := pkcs12FriendlyName(leaf); got != "my key" {
					t.Errorf("leaf's PKCS#12 Friendly Name %q, want %q", got, "my key")
				}
				caIDs := linkedIDs(leaf, kmip.LinkTypeCertificateLink)
				if len(caIDs) != 1 || !bytes.Equal(e.object(t, caIDs[0]).Public, im.caDER) {
					t.Fatalf("the leaf's certificate links %v do not name the CA", caIDs)
				}
				if got := linkedIDs(e.object(t, caIDs[0]), kmip.LinkTypeCertificateLink); len(got) != 0 {
					t.Errorf("the self-signed CA links to %v", got)
				}

				// Get in PKCS#12 rebuilds the container from the objects.
				kb, ok := e.get(t, ver, keyID, ttlv.Enum(kmip.TagKeyFormatType, uint32(kmip.KeyFormatTypePKCS12))).Child(kmip.TagKeyBlock)
				if !ok {
					t.Fatal("no key block")
				}
				out, _ := kb.Child(kmip.TagKeyValue)
				if out.Type == ttlv.TypeStructure {
					out, _ = out.Child(kmip.TagKeyMaterial)
				}
				c, err := pkcs12.Decode(out.Bytes(), []byte(pkcs12TestPassword))
				if err != nil {
					t.Fatalf("the container Get returns does not open: %v", err)
				}
				if !bytes.Equal(c.PrivateKey, im.keyDER) || len(c.Certificates) != 2 ||
					!bytes.Equal(c.Certificates[0].DER, im.leafDER) || !bytes.Equal(c.Certificates[1].DER, im.caDER) {
					t.Error("the container Get returns differs from the registered one")
				}
			})
		}
	}
}

func TestRegisterPKCS12Refusals(t *testing.T) {
	im := newPKCS12Import(t, pkcs12TestPassword, "")
	link := func(id string) kmip.Attribute { return attr(attrLink, attrsLink(kmip.LinkTypePKCS12PasswordLink, id)) }
	tests := []struct {
		name   string
		ver    kmip.ProtocolVersion
		setup  func(t *testing.T, e *creationEnv, ver kmip.ProtocolVersion) (ttlv.Value, []kmip.Attribute)
		reason kmip.ResultReason
	}{
		// TC-PKCS12-2-14 and -20: the password object is still Pre-Active.
		{"password not active, 1.4", kmip.V1_4, func(t *testing.T, e *creationEnv, ver kmip.ProtocolVersion) (ttlv.Value, []kmip.Attribute) {
			return pkcs12KeyObject(im.container, true), []kmip.Attribute{link(registerPassword(t, e, ver, pkcs12TestPassword, false))}
		}, kmip.ResultReasonPermissionDenied},
		{"password not active, 2.0", kmip.V2_0, func(t *testing.T, e *creationEnv, ver kmip.ProtocolVersion) (ttlv.Value, []kmip.Attribute) {
			return pkcs12KeyObject(im.container, false), []kmip.Attribute{link(registerPassword(t, e, ver, pkcs12TestPassword, false))}
		}, kmip.ResultReasonWrongKeyLifecycleState},
		{"wrong password, 2.0", kmip.V2_0, func(t *testing.T, e *creationEnv, ver kmip.ProtocolVersion) (ttlv.Value, []kmip.Attribute) {
			return pkcs12KeyObject(im.container, false), []kmip.Attribute{link(registerPassword(t, e, ver, "not it", true))}
		}, kmip.ResultReasonBadPassword},
		{"wrong password, 1.4", kmip.V1_4, func(t *testing.T, e *creationEnv, ver kmip.ProtocolVersion) (ttlv.Value, []kmip.Attribute) {
			return pkcs12KeyObject(im.container, false), []kmip.Attribute{link(registerPassword(t, e, ver, "not it", true))}
		}, kmip.ResultReasonInvalidField},
		{"no password link", kmip.V2_0, func(t *testing.T, e *creationEnv, ver kmip.ProtocolVersion) (ttlv.Value, []kmip.Attribute) {
			return pkcs12KeyObject(im.container, false), nil
		}, kmip.ResultReasonBadPassword},
		{"not a container", kmip.V2_0, func(t *testing.T, e *creationEnv, ver kmip.ProtocolVersion) (ttlv.Value, []kmip.Attribute) {
			return pkcs12KeyObject([]byte("not a PKCS#12 file"), false), []kmip.Attribute{link(registerPassword(t, e, ver, pkcs12TestPassword, true))}
		}, kmip.ResultReasonInvalidField},
		{"no key value", kmip.V2_0, func(t *testing.T, e *creationEnv, ver kmip.ProtocolVersion) (ttlv.Value, []kmip.Attribute) {
			obj := ttlv.Struct(kmip.TagPrivateKey, ttlv.Struct(kmip.TagKeyBlock, ttlv.Enum(kmip.TagKeyFormatType, uint32(kmip.KeyFormatTypePKCS12))))
			return obj, []kmip.Attribute{link(registerPassword(t, e, ver, pkcs12TestPassword, true))}
		}, kmip.ResultReasonInvalidField},
		{"friendly name not in the container", kmip.V2_0, func(t *testing.T, e *creationEnv, ver kmip.ProtocolVersion) (ttlv.Value, []kmip.Attribute) {
			named := newPKCS12Import(t, pkcs12TestPassword, "first")
			return pkcs12KeyObject(named.container, false), []kmip.Attribute{
				link(registerPassword(t, e, ver, pkcs12TestPassword, true)),
				attr(attrPKCS12FriendlyName, ttlv.Text(0, "second")),
			}
		}, kmip.ResultReasonInvalidField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newCreationEnv(t)
			obj, attrs := tt.setup(t, e, tt.ver)
			_, err := e.registerPKCS12(tt.ver, obj, attrs...)
			creationReason(t, err, tt.reason)
		})
	}
}

// TestRegisterPKCS12FriendlyNameCase: the name a client gives matches the
// container's without regard to case (KMIP 2.0 §4.39) and is kept as given.
func TestRegisterPKCS12FriendlyNameCase(t *testing.T) {
	e := newCreationEnv(t)
	im := newPKCS12Import(t, pkcs12TestPassword, "Server Key")
	pw := registerPassword(t, e, kmip.V2_0, pkcs12TestPassword, true)
	p, err := e.registerPKCS12(kmip.V2_0, pkcs12KeyObject(im.container, false),
		attr(attrLink, attrsLink(kmip.LinkTypePKCS12PasswordLink, pw)),
		attr(attrPKCS12FriendlyName, ttlv.Text(0, "server key")))
	if err != nil {
		t.Fatal(err)
	}
	if got := pkcs12FriendlyName(e.object(t, creationID(t, p))); got != "server key" {
		t.Errorf("PKCS#12 Friendly Name %q, want the request's %q", got, "server key")
	}
}

// TestRegisterPKCS12OASISFile registers the container of TC-PKCS12-2-14
// (3DES encryption, HMAC-SHA1 MAC, as OpenSSL 1.x wrote them), whose
// vector kmipd cannot pass as a whole (conformance/known_failures.go).
func TestRegisterPKCS12OASISFile(t *testing.T) {
	container, err := os.ReadFile(filepath.Join("..", "pkcs12", "testdata", "tc-pkcs12-2.p12"))
	if err != nil {
		t.Fatal(err)
	}
	for _, ver := range []kmip.ProtocolVersion{kmip.V1_4, kmip.V2_0} {
		t.Run(ver.String(), func(t *testing.T) {
			e := newCreationEnv(t)
			pw := registerPassword(t, e, ver, "password", true)
			p, err := e.registerPKCS12(ver, pkcs12KeyObject(container, !ver.Is2x()),
				attr(attrLink, attrsLink(kmip.LinkTypePKCS12PasswordLink, pw)),
				creationMask(kmip.CryptographicUsageMaskSign|kmip.CryptographicUsageMaskDecrypt),
				attr(attrPKCS12FriendlyName, ttlv.Text(0, "alias")))
			if err != nil {
				t.Fatal(err)
			}
			key := e.object(t, creationID(t, p))
			alg, _ := key.Attr(attrCryptoAlgorithm)
			bits, _ := key.Attr(attrCryptoLength)
			if kmip.CryptographicAlgorithm(alg.Value.Enum()) != kmip.CryptographicAlgorithmRSA || bits.Value.Int() != 4096 {
				t.Errorf("key is %v-%d, want RSA-4096", kmip.CryptographicAlgorithm(alg.Value.Enum()), bits.Value.Int())
			}
			leaf := linkedIDs(key, kmip.LinkTypePKCS12CertificateLink)
			if len(leaf) != 1 {
				t.Fatalf("PKCS#12 certificate links %v, want one", leaf)
			}
			c, err := x509.ParseCertificate(e.object(t, leaf[0]).Public)
			if err != nil || c.Subject.CommonName != "localhost" {
				t.Fatalf("leaf certificate %v, %v: want CN=localhost", c, err)
			}
		})
	}
}
