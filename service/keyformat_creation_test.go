package service

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"math/big"
	"testing"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// FuzzCreationKeyBlock feeds arbitrary TTLV to the Key Block parser and
// every importer: hostile Register requests must fail cleanly, never
// panic nor allocate beyond the bounds.
func FuzzCreationKeyBlock(f *testing.F) {
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(ek)
	spki, _ := x509.MarshalPKIXPublicKey(&ek.PublicKey)
	d, _ := ek.Bytes()
	seeds := []ttlv.Value{
		creationKeyBlock(kmip.KeyFormatTypeRaw, ttlv.Bytes(kmip.TagKeyMaterial, make([]byte, 16)), kmip.CryptographicAlgorithmAES, 128),
		creationKeyBlock(kmip.KeyFormatTypePKCS8, ttlv.Bytes(kmip.TagKeyMaterial, pkcs8), kmip.CryptographicAlgorithmEC, 256),
		creationKeyBlock(kmip.KeyFormatTypeX509, ttlv.Bytes(kmip.TagKeyMaterial, spki), kmip.CryptographicAlgorithmEC, 256),
		creationKeyBlock(kmip.KeyFormatTypeTransparentECPrivateKey, ttlv.Struct(kmip.TagKeyMaterial,
			ttlv.Enum(kmip.TagRecommendedCurve, uint32(kmip.RecommendedCurveP256)),
			ttlv.BigInt(kmip.TagD, new(big.Int).SetBytes(d))), kmip.CryptographicAlgorithmEC, 256),
		creationKeyBlock(kmip.KeyFormatTypeTransparentRSAPublicKey, ttlv.Struct(kmip.TagKeyMaterial,
			ttlv.BigInt(kmip.TagModulus, big.NewInt(1<<62-57)), ttlv.BigInt(kmip.TagPublicExponent, big.NewInt(3))), kmip.CryptographicAlgorithmRSA, 0),
		ttlv.Struct(kmip.TagKeyBlock, ttlv.Enum(kmip.TagKeyFormatType, 1), ttlv.Bytes(kmip.TagKeyValue, make([]byte, 24)),
			ttlv.Struct(kmip.TagKeyWrappingData, ttlv.Enum(kmip.TagWrappingMethod, 1))),
	}
	for _, s := range seeds {
		f.Add(ttlv.Marshal(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ttlv.Decode(b, ttlv.Limits{MaxMessageSize: 1 << 16, MaxDepth: 8, MaxItems: 256})
		if err != nil {
			return
		}
		kb, err := parseKeyBlock(v)
		if err != nil {
			return
		}
		if !kb.wrapping.IsZero() {
			_, _ = crParseWrapSpec(kb.wrapping)
			return
		}
		for _, imp := range []func(*crKeyBlock) (importedKey, error){importSymmetric, importSecretBytes, importPrivate, importPublic} {
			k := kb
			if got, err := imp(&k); err == nil {
				clear(got.secret)
			}
		}
	})
}

// FuzzCreationKeyUnwrap: the unwrap functions take client bytes (Register
// of a wrapped key) and must refuse garbage without panicking.
func FuzzCreationKeyUnwrap(f *testing.F) {
	kek := make([]byte, 16)
	w, _ := crKeyWrap(kek, make([]byte, 16))
	f.Add(w)
	wp, _ := crKeyWrapPad(kek, []byte("seven b"))
	f.Add(wp)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 4096 {
			return
		}
		_, _ = crKeyUnwrap(kek, b)
		_, _ = crKeyUnwrapPad(kek, b)
	})
}

// TestCreationExportIsolation: Get answers must not alias buffers the
// handler clears (the response is encoded after the handler returns).
func TestCreationExportIsolation(t *testing.T) {
	plain := []byte("0123456789abcdef")
	m, err := exportKeyMaterial(kmip.ObjectTypeSymmetricKey, plain, nil, kmip.KeyFormatTypeTransparentSymmetricKey)
	if err != nil {
		t.Fatal(err)
	}
	out := crCopySecrets(ttlv.Struct(kmip.TagKeyBlock, ttlv.Struct(kmip.TagKeyValue, m)))
	crClearMaterial(m)
	kv, _ := out.Child(kmip.TagKeyValue)
	km, _ := kv.Child(kmip.TagKeyMaterial)
	k, _ := km.Child(kmip.TagKey)
	if string(k.Bytes()) != "0123456789abcdef" {
		t.Errorf("response aliases cleared material: %x", k.Bytes())
	}
}
