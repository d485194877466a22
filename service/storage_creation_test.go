package service

import (
	"bytes"
	"crypto/x509"
	"os"
	"testing"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// TestCreationNoPlaintextAtRest registers and creates secret material,
// closes the store and scans the bbolt file for the plaintext: it must not
// be there, only the HSM-wrapped form. The public key and a name are
// looked for too, to show the scan can find what is stored in clear.
func TestCreationNoPlaintextAtRest(t *testing.T) {
	e := newCreationEnv(t)
	keys := newCreationKeys(t)
	known := []byte("kmipd-known-plaintext-0123456789") // 32 bytes: an AES-256 key
	secret := []byte("kmipd-known-secret-data-bytes-to-look-for")
	opaque := []byte("kmipd-known-opaque-value-to-look-for")
	symID := e.registerSymmetric(t, creationV14, kmip.CryptographicAlgorithmAES, known, creationName("plain-name-marker"))
	e.register(t, creationV20, kmip.ObjectTypeSecretData, ttlv.Struct(kmip.TagSecretData,
		ttlv.Enum(kmip.TagSecretDataType, uint32(kmip.SecretDataTypePassword)),
		creationKeyBlock(kmip.KeyFormatTypeOpaque, ttlv.Bytes(kmip.TagKeyMaterial, secret), 0, 0)))
	e.register(t, creationV14, kmip.ObjectTypeOpaqueObject, ttlv.Struct(kmip.TagOpaqueObject,
		ttlv.Enum(kmip.TagOpaqueDataType, 0x80000001), ttlv.Bytes(kmip.TagOpaqueDataValue, opaque)))
	pkcs8, err := x509.MarshalPKCS8PrivateKey(keys.ec)
	if err != nil {
		t.Fatal(err)
	}
	e.register(t, creationV14, kmip.ObjectTypePrivateKey, ttlv.Struct(kmip.TagPrivateKey,
		creationKeyBlock(kmip.KeyFormatTypePKCS8, ttlv.Bytes(kmip.TagKeyMaterial, pkcs8), kmip.CryptographicAlgorithmEC, 256)))
	spki, _ := x509.MarshalPKIXPublicKey(&keys.ec.PublicKey)
	e.register(t, creationV14, kmip.ObjectTypePublicKey, ttlv.Struct(kmip.TagPublicKey,
		creationKeyBlock(kmip.KeyFormatTypeX509, ttlv.Bytes(kmip.TagKeyMaterial, spki), kmip.CryptographicAlgorithmEC, 256)))
	genID := creationID(t, e.must(t, creationV20, kmip.OperationCreate, creationOT(kmip.ObjectTypeSymmetricKey),
		creationTemplate(creationV20, creationAlg(kmip.CryptographicAlgorithmAES), creationLen(256))))
	_, gen := creationMaterial(t, e.get(t, creationV20, genID))
	generated := bytes.Clone(gen.Bytes())
	// Re-key and Get touch the objects again.
	e.must(t, creationV14, kmip.OperationReKey, creationUID(symID))
	d, err := keys.ec.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(e.path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		b       []byte
		present bool
	}{
		{"registered AES key", known, false},
		{"secret data", secret, false},
		{"opaque data", opaque, false},
		{"PKCS#8 private key", pkcs8, false},
		{"EC private scalar", d, false},
		{"generated AES key", generated, false},
		{"public key", spki, true},
		{"name", []byte("plain-name-marker"), true},
	} {
		if got := bytes.Contains(file, c.b); got != c.present {
			t.Errorf("%s in the store file: %v, want %v", c.name, got, c.present)
		}
	}
}
