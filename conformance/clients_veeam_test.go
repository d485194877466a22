package conformance

import (
	"crypto/rsa"
	"crypto/x509"
	"math/big"
	"testing"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// TestClientVeeam: KMIP 1.4; Create Key Pair RSA-2048, then Get of the
// public and the private key in the Key Format Type asked for (PKCS#1,
// PKCS#8, X.509 SubjectPublicKeyInfo, Transparent RSA), each parsed here
// with Go's crypto/x509. Veeam rejects any Attribute inside a public or
// private key's Key Value (KMIP 1.4 §2.1.4 allows them; it does not).
func TestClientVeeam(t *testing.T) {
	s := startFullServer(t)
	c := s.client(t, kmip.V1_4)
	p := c.must(kmip.OperationCreateKeyPair,
		ttlv.Struct(kmip.TagCommonTemplateAttribute, c.attrs(algAttr(kmip.CryptographicAlgorithmRSA), lenAttr(2048))...),
		ttlv.Struct(kmip.TagPrivateKeyTemplateAttribute, c.attrs(
			maskAttr(kmip.CryptographicUsageMaskSign|kmip.CryptographicUsageMaskDecrypt), nameAttr(randomLabel("veeam-priv-")))...),
		ttlv.Struct(kmip.TagPublicKeyTemplateAttribute, c.attrs(
			maskAttr(kmip.CryptographicUsageMaskVerify|kmip.CryptographicUsageMaskEncrypt), nameAttr(randomLabel("veeam-pub-")))...))
	privV, ok1 := p.Child(kmip.TagPrivateKeyUniqueIdentifier)
	pubV, ok2 := p.Child(kmip.TagPublicKeyUniqueIdentifier)
	if !ok1 || !ok2 {
		t.Fatalf("Create Key Pair payload %v", p)
	}
	priv, pub := privV.Text(), pubV.Text()
	if !hasLink(c.getAttributes(priv, "Link"), kmip.LinkTypePublicKeyLink, pub) {
		t.Errorf("private key %s lacks its Public Key Link", priv)
	}
	if !hasLink(c.getAttributes(pub, "Link"), kmip.LinkTypePrivateKeyLink, priv) {
		t.Errorf("public key %s lacks its Private Key Link", pub)
	}

	// get fetches id in format f (0: the server's default) and returns
	// the Key Value, after checking the Key Block.
	get := func(t *testing.T, id string, objTag ttlv.Tag, f kmip.KeyFormatType) ttlv.Value {
		t.Helper()
		fields := []ttlv.Value{uidField(id)}
		if f != 0 {
			fields = append(fields, ttlv.Enum(kmip.TagKeyFormatType, uint32(f)))
		}
		kv, block := keyValue(t, c.must(kmip.OperationGet, fields...), objTag)
		gotF, _ := block.Child(kmip.TagKeyFormatType)
		if f != 0 && kmip.KeyFormatType(gotF.Enum()) != f {
			t.Errorf("asked for %v, got %v", f, kmip.KeyFormatType(gotF.Enum()))
		}
		if a, _ := block.Child(kmip.TagCryptographicAlgorithm); kmip.CryptographicAlgorithm(a.Enum()) != kmip.CryptographicAlgorithmRSA {
			t.Errorf("key block algorithm %v", kmip.CryptographicAlgorithm(a.Enum()))
		}
		if l, _ := block.Child(kmip.TagCryptographicLength); l.Int() != 2048 {
			t.Errorf("key block length %d", l.Int())
		}
		if kv.Type != ttlv.TypeStructure {
			t.Fatalf("Key Value is a %v", kv.Type)
		}
		for _, ch := range kv.Children() {
			if ch.Tag != kmip.TagKeyMaterial {
				t.Errorf("Key Value carries %s; Veeam rejects anything but Key Material", kmip.TagString(ch.Tag))
			}
		}
		return kv
	}
	bigField := func(t *testing.T, m ttlv.Value, tag ttlv.Tag) *big.Int {
		t.Helper()
		v, ok := m.Child(tag)
		if !ok || v.Type != ttlv.TypeBigInteger {
			t.Fatalf("transparent key without Big Integer %s", kmip.TagString(tag))
		}
		return v.BigInt()
	}

	var modulus *big.Int
	checkPub := func(t *testing.T, k *rsa.PublicKey) {
		t.Helper()
		if k.N.BitLen() != 2048 || k.E < 3 {
			t.Fatalf("public key of %d bits, e=%d", k.N.BitLen(), k.E)
		}
		if modulus == nil {
			modulus = k.N
		} else if k.N.Cmp(modulus) != 0 {
			t.Error("the formats disagree on the modulus")
		}
	}
	checkPriv := func(t *testing.T, k *rsa.PrivateKey) {
		t.Helper()
		if err := k.Validate(); err != nil {
			t.Fatalf("private key does not validate: %v", err)
		}
		checkPub(t, &k.PublicKey)
	}

	privTests := []struct {
		format kmip.KeyFormatType
		parse  func(t *testing.T, kv ttlv.Value) *rsa.PrivateKey
	}{
		{kmip.KeyFormatTypePKCS1, func(t *testing.T, kv ttlv.Value) *rsa.PrivateKey {
			k, err := x509.ParsePKCS1PrivateKey(keyMaterialBytes(t, kv))
			if err != nil {
				t.Fatalf("PKCS#1 private key: %v", err)
			}
			return k
		}},
		{kmip.KeyFormatTypePKCS8, func(t *testing.T, kv ttlv.Value) *rsa.PrivateKey {
			k, err := x509.ParsePKCS8PrivateKey(keyMaterialBytes(t, kv))
			if err != nil {
				t.Fatalf("PKCS#8 private key: %v", err)
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				t.Fatalf("PKCS#8 holds a %T", k)
			}
			return rk
		}},
		{kmip.KeyFormatTypeTransparentRSAPrivateKey, func(t *testing.T, kv ttlv.Value) *rsa.PrivateKey {
			m, _ := kv.Child(kmip.TagKeyMaterial)
			if m.Type != ttlv.TypeStructure {
				t.Fatalf("Transparent RSA Private Key material is a %v", m.Type)
			}
			k := &rsa.PrivateKey{
				PublicKey: rsa.PublicKey{N: bigField(t, m, kmip.TagModulus), E: int(bigField(t, m, kmip.TagPublicExponent).Int64())},
				D:         bigField(t, m, kmip.TagPrivateExponent),
				Primes:    []*big.Int{bigField(t, m, kmip.TagP), bigField(t, m, kmip.TagQ)},
			}
			k.Precompute()
			if bigField(t, m, kmip.TagCRTCoefficient).Cmp(k.Precomputed.Qinv) != 0 {
				t.Error("CRT coefficient is not q^-1 mod p")
			}
			return k
		}},
	}
	for _, tt := range privTests {
		t.Run("private "+tt.format.String(), func(t *testing.T) {
			checkPriv(t, tt.parse(t, get(t, priv, kmip.TagPrivateKey, tt.format)))
		})
	}
	pubTests := []struct {
		format kmip.KeyFormatType
		parse  func(t *testing.T, kv ttlv.Value) *rsa.PublicKey
	}{
		{kmip.KeyFormatTypePKCS1, func(t *testing.T, kv ttlv.Value) *rsa.PublicKey {
			k, err := x509.ParsePKCS1PublicKey(keyMaterialBytes(t, kv))
			if err != nil {
				t.Fatalf("PKCS#1 public key: %v", err)
			}
			return k
		}},
		{kmip.KeyFormatTypeX509, func(t *testing.T, kv ttlv.Value) *rsa.PublicKey {
			k, err := x509.ParsePKIXPublicKey(keyMaterialBytes(t, kv))
			if err != nil {
				t.Fatalf("SubjectPublicKeyInfo: %v", err)
			}
			rk, ok := k.(*rsa.PublicKey)
			if !ok {
				t.Fatalf("SubjectPublicKeyInfo holds a %T", k)
			}
			return rk
		}},
		{kmip.KeyFormatTypeTransparentRSAPublicKey, func(t *testing.T, kv ttlv.Value) *rsa.PublicKey {
			m, _ := kv.Child(kmip.TagKeyMaterial)
			if m.Type != ttlv.TypeStructure {
				t.Fatalf("Transparent RSA Public Key material is a %v", m.Type)
			}
			return &rsa.PublicKey{N: bigField(t, m, kmip.TagModulus), E: int(bigField(t, m, kmip.TagPublicExponent).Int64())}
		}},
	}
	for _, tt := range pubTests {
		t.Run("public "+tt.format.String(), func(t *testing.T) {
			checkPub(t, tt.parse(t, get(t, pub, kmip.TagPublicKey, tt.format)))
		})
	}
	// The default formats (as generated) carry no attributes either.
	t.Run("default formats", func(t *testing.T) {
		get(t, priv, kmip.TagPrivateKey, 0)
		get(t, pub, kmip.TagPublicKey, 0)
	})
}
