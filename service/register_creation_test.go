package service

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// creationKeys are stdlib keys the format tests register and compare with.
type creationKeys struct {
	aes []byte
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
}

func newCreationKeys(t *testing.T) creationKeys {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	aes := make([]byte, 32)
	for i := range aes {
		aes[i] = byte(0xA0 + i)
	}
	return creationKeys{aes: aes, rsa: rk, ec: ek}
}

// creationEncode encodes a stdlib key as the Key Material of format f.
func creationEncode(t *testing.T, key any, f kmip.KeyFormatType) ttlv.Value {
	t.Helper()
	var der []byte
	var err error
	switch k := key.(type) {
	case []byte:
		if f == kmip.KeyFormatTypeTransparentSymmetricKey {
			return ttlv.Struct(kmip.TagKeyMaterial, ttlv.Bytes(kmip.TagKey, k))
		}
		der = k
	case *rsa.PrivateKey:
		switch f {
		case kmip.KeyFormatTypePKCS1:
			der = x509.MarshalPKCS1PrivateKey(k)
		case kmip.KeyFormatTypePKCS8:
			der, err = x509.MarshalPKCS8PrivateKey(k)
		case kmip.KeyFormatTypeTransparentRSAPrivateKey:
			return ttlv.Struct(kmip.TagKeyMaterial,
				ttlv.BigInt(kmip.TagModulus, k.N), ttlv.BigInt(kmip.TagPrivateExponent, k.D),
				ttlv.BigInt(kmip.TagPublicExponent, big.NewInt(int64(k.E))),
				ttlv.BigInt(kmip.TagP, k.Primes[0]), ttlv.BigInt(kmip.TagQ, k.Primes[1]))
		default:
			// No such encoding in this test: caught by the check below.
		}
	case *ecdsa.PrivateKey:
		switch f {
		case kmip.KeyFormatTypePKCS8:
			der, err = x509.MarshalPKCS8PrivateKey(k)
		case kmip.KeyFormatTypeECPrivateKey:
			der, err = x509.MarshalECPrivateKey(k)
		case kmip.KeyFormatTypeTransparentECPrivateKey:
			d, _ := k.Bytes()
			return ttlv.Struct(kmip.TagKeyMaterial,
				ttlv.Enum(kmip.TagRecommendedCurve, uint32(kmip.RecommendedCurveP256)),
				ttlv.BigInt(kmip.TagD, new(big.Int).SetBytes(d)))
		default:
			// No such encoding in this test: caught by the check below.
		}
	case *rsa.PublicKey:
		switch f {
		case kmip.KeyFormatTypePKCS1:
			der = x509.MarshalPKCS1PublicKey(k)
		case kmip.KeyFormatTypeX509:
			der, err = x509.MarshalPKIXPublicKey(k)
		case kmip.KeyFormatTypeTransparentRSAPublicKey:
			return ttlv.Struct(kmip.TagKeyMaterial,
				ttlv.BigInt(kmip.TagModulus, k.N), ttlv.BigInt(kmip.TagPublicExponent, big.NewInt(int64(k.E))))
		default:
			// No such encoding in this test: caught by the check below.
		}
	case *ecdsa.PublicKey:
		switch f {
		case kmip.KeyFormatTypeX509:
			der, err = x509.MarshalPKIXPublicKey(k)
		case kmip.KeyFormatTypeTransparentECPublicKey:
			q, _ := k.Bytes()
			return ttlv.Struct(kmip.TagKeyMaterial,
				ttlv.Enum(kmip.TagRecommendedCurve, uint32(kmip.RecommendedCurveP256)),
				ttlv.Bytes(kmip.TagQString, q))
		default:
			// No such encoding in this test: caught by the check below.
		}
	}
	if err != nil || der == nil {
		t.Fatalf("cannot encode %T as %v: %v", key, f, err)
	}
	return ttlv.Bytes(kmip.TagKeyMaterial, der)
}

// creationDecode parses Key Material of format f back into a stdlib key,
// independently of the code under test.
func creationDecode(t *testing.T, m ttlv.Value, f kmip.KeyFormatType, private bool) any {
	t.Helper()
	var k any
	var err error
	b := func(tag ttlv.Tag) *big.Int {
		v, ok := m.Child(tag)
		if !ok {
			t.Fatalf("%v material without %s", f, kmip.TagString(tag))
		}
		return v.BigInt()
	}
	switch f {
	case kmip.KeyFormatTypeRaw, kmip.KeyFormatTypeOpaque:
		return m.Bytes()
	case kmip.KeyFormatTypeTransparentSymmetricKey:
		v, _ := m.Child(kmip.TagKey)
		return v.Bytes()
	case kmip.KeyFormatTypePKCS1:
		if private {
			k, err = x509.ParsePKCS1PrivateKey(m.Bytes())
		} else {
			k, err = x509.ParsePKCS1PublicKey(m.Bytes())
		}
	case kmip.KeyFormatTypePKCS8:
		k, err = x509.ParsePKCS8PrivateKey(m.Bytes())
	case kmip.KeyFormatTypeECPrivateKey:
		k, err = x509.ParseECPrivateKey(m.Bytes())
	case kmip.KeyFormatTypeX509:
		k, err = x509.ParsePKIXPublicKey(m.Bytes())
	case kmip.KeyFormatTypeTransparentRSAPrivateKey:
		rk := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: b(kmip.TagModulus), E: int(b(kmip.TagPublicExponent).Int64())},
			D: b(kmip.TagPrivateExponent), Primes: []*big.Int{b(kmip.TagP), b(kmip.TagQ)}}
		err = rk.Validate()
		k = rk
	case kmip.KeyFormatTypeTransparentRSAPublicKey:
		k = &rsa.PublicKey{N: b(kmip.TagModulus), E: int(b(kmip.TagPublicExponent).Int64())}
	case kmip.KeyFormatTypeTransparentECPrivateKey:
		k, err = ecdsa.ParseRawPrivateKey(elliptic.P256(), b(kmip.TagD).FillBytes(make([]byte, 32)))
	case kmip.KeyFormatTypeTransparentECPublicKey:
		q, _ := m.Child(kmip.TagQString)
		k, err = ecdsa.ParseUncompressedPublicKey(elliptic.P256(), q.Bytes())
	default:
		t.Fatalf("no decoder for %v", f)
	}
	if err != nil {
		t.Fatalf("%v material does not parse: %v", f, err)
	}
	return k
}

func creationSameKey(a, b any) bool {
	if x, ok := a.([]byte); ok {
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	switch k := a.(type) {
	case *rsa.PrivateKey:
		return k.Equal(b)
	case *ecdsa.PrivateKey:
		return k.Equal(b)
	case equaler:
		return k.Equal(b)
	}
	return false
}

func TestCreationRegisterFormats(t *testing.T) {
	e := newCreationEnv(t)
	keys := newCreationKeys(t)
	symFormats := []kmip.KeyFormatType{kmip.KeyFormatTypeRaw, kmip.KeyFormatTypeOpaque, kmip.KeyFormatTypeTransparentSymmetricKey}
	rsaPriv := []kmip.KeyFormatType{kmip.KeyFormatTypePKCS1, kmip.KeyFormatTypePKCS8, kmip.KeyFormatTypeTransparentRSAPrivateKey}
	ecPriv := []kmip.KeyFormatType{kmip.KeyFormatTypePKCS8, kmip.KeyFormatTypeECPrivateKey, kmip.KeyFormatTypeTransparentECPrivateKey}
	rsaPub := []kmip.KeyFormatType{kmip.KeyFormatTypePKCS1, kmip.KeyFormatTypeX509, kmip.KeyFormatTypeTransparentRSAPublicKey}
	ecPub := []kmip.KeyFormatType{kmip.KeyFormatTypeX509, kmip.KeyFormatTypeTransparentECPublicKey}
	tests := []struct {
		name    string
		ot      kmip.ObjectType
		key     any
		alg     kmip.CryptographicAlgorithm
		bits    int32
		formats []kmip.KeyFormatType // each is registered, and each is got
	}{
		{"AES-256", kmip.ObjectTypeSymmetricKey, keys.aes, kmip.CryptographicAlgorithmAES, 256, symFormats},
		{"RSA private", kmip.ObjectTypePrivateKey, keys.rsa, kmip.CryptographicAlgorithmRSA, 2048, rsaPriv},
		{"EC private", kmip.ObjectTypePrivateKey, keys.ec, kmip.CryptographicAlgorithmEC, 256, ecPriv},
		{"RSA public", kmip.ObjectTypePublicKey, &keys.rsa.PublicKey, kmip.CryptographicAlgorithmRSA, 2048, rsaPub},
		{"EC public", kmip.ObjectTypePublicKey, &keys.ec.PublicKey, kmip.CryptographicAlgorithmEC, 256, ecPub},
	}
	n := 0
	for _, tc := range tests {
		for _, in := range tc.formats {
			n++
			ver := []kmip.ProtocolVersion{creationV14, creationV20, kmip.V1_1, kmip.V2_1}[n%4]
			t.Run(fmt.Sprintf("%s/%v/%v", tc.name, in, ver), func(t *testing.T) {
				material := creationEncode(t, tc.key, in)
				obj := ttlv.Struct(creationObjectTag(tc.ot), creationKeyBlock(in, material, tc.alg, tc.bits))
				id := e.register(t, ver, tc.ot, obj)
				o := e.object(t, id)
				if kmip.KeyFormatType(o.KeyFormat) != in {
					t.Errorf("stored format %v, want %v", kmip.KeyFormatType(o.KeyFormat), in)
				}
				// KMIP 1.4 §3.17: the digest of a registered key is taken
				// in its registered format.
				var sum [32]byte
				if material.Type == ttlv.TypeStructure {
					sum = sha256.Sum256(ttlv.Marshal(material))
				} else {
					sum = sha256.Sum256(material.Bytes())
				}
				d := creationAttrValue(t, o, attrDigest)
				if dv, _ := d.Child(kmip.TagDigestValue); !bytes.Equal(dv.Bytes(), sum[:]) {
					t.Errorf("digest does not match the registered material")
				}
				if a := creationAttrValue(t, o, attrCryptoAlgorithm).Enum(); kmip.CryptographicAlgorithm(a) != tc.alg {
					t.Errorf("algorithm %v", kmip.CryptographicAlgorithm(a))
				}
				// Default: the registered format, the registered bytes
				// where the format is a byte string.
				kb, got := creationMaterial(t, e.get(t, ver, id))
				if f, _ := kb.Child(kmip.TagKeyFormatType); kmip.KeyFormatType(f.Enum()) != in {
					t.Errorf("default get format %v, want %v", kmip.KeyFormatType(f.Enum()), in)
				}
				if !ttlv.Equal(got, material) && in != kmip.KeyFormatTypeECPrivateKey && in != kmip.KeyFormatTypeTransparentRSAPrivateKey {
					t.Errorf("default get returns other material than registered")
				}
				for _, out := range tc.formats {
					kb, m := creationMaterial(t, e.get(t, ver, id, ttlv.Enum(kmip.TagKeyFormatType, uint32(out))))
					if f, _ := kb.Child(kmip.TagKeyFormatType); kmip.KeyFormatType(f.Enum()) != out {
						t.Errorf("get as %v answered %v", out, kmip.KeyFormatType(f.Enum()))
					}
					if k := creationDecode(t, m, out, tc.ot == kmip.ObjectTypePrivateKey); !creationSameKey(tc.key, k) {
						t.Errorf("get as %v: not the registered key", out)
					}
				}
			})
		}
	}
}

func creationObjectTag(ot kmip.ObjectType) ttlv.Tag { return crObjectTags[ot] }

func TestCreationRegisterObjects(t *testing.T) {
	e := newCreationEnv(t)
	keys := newCreationKeys(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(4242), Subject: pkix.Name{CommonName: "kmipd test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"kmipd.test"},
	}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &keys.ec.PublicKey, keys.ec)
	if err != nil {
		t.Fatal(err)
	}
	for _, ver := range []kmip.ProtocolVersion{creationV14, creationV20} {
		t.Run("certificate with its own Certificate Type/"+ver.String(), func(t *testing.T) {
			// TC-CERTATTR-1: a client restating the certificate's type is
			// answered like one that does not; contradicting it is refused.
			obj := ttlv.Struct(kmip.TagCertificate,
				ttlv.Enum(kmip.TagCertificateType, uint32(kmip.CertificateTypeX509)),
				ttlv.Bytes(kmip.TagCertificateValue, certDER))
			id := e.register(t, ver, kmip.ObjectTypeCertificate, obj,
				creationA(attrCertificateType, ttlv.Enum(0, uint32(kmip.CertificateTypeX509))))
			if n := len(e.object(t, id).AttrsNamed(attrCertificateType)); n != 1 {
				t.Errorf("%d Certificate Type attributes, want 1", n)
			}
			_, err := e.call(ver, kmip.OperationRegister, creationOT(kmip.ObjectTypeCertificate), obj,
				creationTemplate(ver, creationA(attrCertificateType, ttlv.Enum(0, uint32(kmip.CertificateTypePGP)))))
			want := kmip.ResultReasonInvalidField
			if ver.Is2x() {
				want = kmip.ResultReasonAttributeReadOnly
			}
			creationReason(t, err, want)
		})
		t.Run("certificate/"+ver.String(), func(t *testing.T) {
			obj := ttlv.Struct(kmip.TagCertificate,
				ttlv.Enum(kmip.TagCertificateType, uint32(kmip.CertificateTypeX509)),
				ttlv.Bytes(kmip.TagCertificateValue, certDER))
			id := e.register(t, ver, kmip.ObjectTypeCertificate, obj, creationMask(kmip.CryptographicUsageMaskVerify))
			got := e.get(t, ver, id)
			if !ttlv.Equal(got, obj) {
				t.Errorf("get returns %v", got)
			}
			o := e.object(t, id)
			if o.Public == nil || o.Wrapped != nil {
				t.Errorf("certificate stored wrapped %v public %d", o.Wrapped, len(o.Public))
			}
			if n := creationAttrValue(t, o, attrCertificateLength).Int(); n != int32(len(certDER)) {
				t.Errorf("certificate length %d", n)
			}
			ident := creationAttrValue(t, o, "X.509 Certificate Identifier")
			// The Serial Number field as DER encodes it: INTEGER 4242.
			if sn, _ := ident.Child(kmip.TagCertificateSerialNumber); !bytes.Equal(sn.Bytes(), []byte{0x02, 0x02, 0x10, 0x92}) {
				t.Errorf("serial number %x", sn.Bytes())
			}
			subj := creationAttrValue(t, o, "X.509 Certificate Subject")
			if !subj.Has(kmip.TagSubjectAlternativeName) {
				t.Errorf("subject without alternative name: %v", subj)
			}
			if a := creationAttrValue(t, o, "Digital Signature Algorithm").Enum(); kmip.DigitalSignatureAlgorithm(a) != kmip.DigitalSignatureAlgorithmECDSAWithSHA256 {
				t.Errorf("signature algorithm %v", kmip.DigitalSignatureAlgorithm(a))
			}
			if a := creationAttrValue(t, o, attrCryptoLength).Int(); a != 256 {
				t.Errorf("length %d", a)
			}
			d, _ := creationAttrValue(t, o, attrDigest).Child(kmip.TagDigestValue)
			if sum := sha256.Sum256(certDER); !bytes.Equal(d.Bytes(), sum[:]) {
				t.Errorf("certificate digest")
			}
		})
		t.Run("secret data/"+ver.String(), func(t *testing.T) {
			// MongoDB: 96 bytes of Secret Data without a usage mask.
			secret := bytes.Repeat([]byte{0x5A}, 96)
			obj := ttlv.Struct(kmip.TagSecretData,
				ttlv.Enum(kmip.TagSecretDataType, uint32(kmip.SecretDataTypeSeed)),
				creationKeyBlock(kmip.KeyFormatTypeOpaque, ttlv.Bytes(kmip.TagKeyMaterial, secret), 0, 0))
			id := e.register(t, ver, kmip.ObjectTypeSecretData, obj)
			if got := e.get(t, ver, id); !ttlv.Equal(got, obj) {
				t.Errorf("get returns %v", got)
			}
			if m := creationAttrValue(t, e.object(t, id), attrCryptoUsageMask).Int(); m == 0 {
				t.Errorf("no default usage mask")
			}
		})
		t.Run("opaque/"+ver.String(), func(t *testing.T) {
			// OMOS-M-1.
			obj := ttlv.Struct(kmip.TagOpaqueObject,
				ttlv.Enum(kmip.TagOpaqueDataType, 0x80000001),
				ttlv.Bytes(kmip.TagOpaqueDataValue, []byte("SecretPassword")))
			id := e.register(t, ver, kmip.ObjectTypeOpaqueObject, obj, creationName("OMOS-M-1-"+ver.String()))
			if got := e.get(t, ver, id); !ttlv.Equal(got, obj) {
				t.Errorf("get returns %v", got)
			}
			if e.object(t, id).Wrapped == nil {
				t.Errorf("opaque data not wrapped")
			}
		})
		t.Run("split key/"+ver.String(), func(t *testing.T) {
			obj := ttlv.Struct(kmip.TagSplitKey,
				ttlv.Int(kmip.TagSplitKeyParts, 3),
				ttlv.Int(kmip.TagKeyPartIdentifier, 1),
				ttlv.Int(kmip.TagSplitKeyThreshold, 2),
				ttlv.Enum(kmip.TagSplitKeyMethod, 1),
				creationKeyBlock(kmip.KeyFormatTypeRaw, ttlv.Bytes(kmip.TagKeyMaterial, keys.aes[:16]), kmip.CryptographicAlgorithmAES, 128))
			id := e.register(t, ver, kmip.ObjectTypeSplitKey, obj)
			if got := e.get(t, ver, id); !ttlv.Equal(got, obj) {
				t.Errorf("get returns %v", got)
			}
		})
		t.Run("PGP key/"+ver.String(), func(t *testing.T) {
			obj := ttlv.Struct(kmip.TagPGPKey,
				ttlv.Int(kmip.TagPGPKeyVersion, 4),
				creationKeyBlock(kmip.KeyFormatTypeOpaque, ttlv.Bytes(kmip.TagKeyMaterial, []byte("pgp key packet")), kmip.CryptographicAlgorithmRSA, 2048))
			id := e.register(t, ver, kmip.ObjectTypePGPKey, obj)
			if got := e.get(t, ver, id); !ttlv.Equal(got, obj) {
				t.Errorf("get returns %v", got)
			}
		})
	}
	t.Run("synology password 1.x", func(t *testing.T) {
		// Synology: Secret Data (Password) with the 1.x-only Operation
		// Policy Name "default".
		obj := ttlv.Struct(kmip.TagSecretData,
			ttlv.Enum(kmip.TagSecretDataType, uint32(kmip.SecretDataTypePassword)),
			creationKeyBlock(kmip.KeyFormatTypeOpaque, ttlv.Bytes(kmip.TagKeyMaterial, []byte("hunter2")), 0, 0))
		id := e.register(t, kmip.V1_2, kmip.ObjectTypeSecretData, obj, creationA(attrOperationPolicyName, ttlv.Text(0, "default")))
		if v := creationAttrValue(t, e.object(t, id), attrOperationPolicyName).Text(); v != "default" {
			t.Errorf("operation policy name %q", v)
		}
	})
}

func TestCreationRegisterErrors(t *testing.T) {
	e := newCreationEnv(t)
	keys := newCreationKeys(t)
	ecDER, _ := x509.MarshalPKIXPublicKey(&keys.ec.PublicKey)
	sym := func(f kmip.KeyFormatType, m ttlv.Value, alg kmip.CryptographicAlgorithm, bits int32) []ttlv.Value {
		return []ttlv.Value{creationOT(kmip.ObjectTypeSymmetricKey), ttlv.Struct(kmip.TagSymmetricKey, creationKeyBlock(f, m, alg, bits))}
	}
	tests := []struct {
		name           string
		fields         []ttlv.Value
		want1x, want2x kmip.ResultReason
	}{
		{"wrong object structure", []ttlv.Value{creationOT(kmip.ObjectTypeSymmetricKey),
			ttlv.Struct(kmip.TagPrivateKey, creationKeyBlock(kmip.KeyFormatTypeRaw, ttlv.Bytes(kmip.TagKeyMaterial, keys.aes), kmip.CryptographicAlgorithmAES, 256))},
			kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidField},
		{"AES of 20 bytes", sym(kmip.KeyFormatTypeRaw, ttlv.Bytes(kmip.TagKeyMaterial, keys.aes[:20]), kmip.CryptographicAlgorithmAES, 160),
			kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidField},
		{"length disagrees", sym(kmip.KeyFormatTypeRaw, ttlv.Bytes(kmip.TagKeyMaterial, keys.aes), kmip.CryptographicAlgorithmHMACSHA256, 128),
			kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidAttributeValue},
		{"no algorithm", sym(kmip.KeyFormatTypeRaw, ttlv.Bytes(kmip.TagKeyMaterial, keys.aes), 0, 0),
			kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidAttributeValue},
		{"symmetric as PKCS#1", sym(kmip.KeyFormatTypePKCS1, ttlv.Bytes(kmip.TagKeyMaterial, keys.aes), kmip.CryptographicAlgorithmAES, 256),
			kmip.ResultReasonKeyFormatTypeNotSupported, kmip.ResultReasonKeyFormatTypeNotSupported},
		{"empty key", sym(kmip.KeyFormatTypeRaw, ttlv.Bytes(kmip.TagKeyMaterial, nil), kmip.CryptographicAlgorithmHMACSHA256, 0),
			kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidField},
		{"garbage private key", []ttlv.Value{creationOT(kmip.ObjectTypePrivateKey), ttlv.Struct(kmip.TagPrivateKey,
			creationKeyBlock(kmip.KeyFormatTypePKCS8, ttlv.Bytes(kmip.TagKeyMaterial, []byte{0x30, 0x03, 1, 2, 3}), kmip.CryptographicAlgorithmRSA, 2048))},
			kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidField},
		{"EC key said RSA", []ttlv.Value{creationOT(kmip.ObjectTypePublicKey), ttlv.Struct(kmip.TagPublicKey,
			creationKeyBlock(kmip.KeyFormatTypeX509, ttlv.Bytes(kmip.TagKeyMaterial, ecDER), kmip.CryptographicAlgorithmRSA, 256))},
			kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidAttributeValue},
		{"transparent RSA without primes", []ttlv.Value{creationOT(kmip.ObjectTypePrivateKey), ttlv.Struct(kmip.TagPrivateKey,
			creationKeyBlock(kmip.KeyFormatTypeTransparentRSAPrivateKey, ttlv.Struct(kmip.TagKeyMaterial,
				ttlv.BigInt(kmip.TagModulus, keys.rsa.N), ttlv.BigInt(kmip.TagPrivateExponent, keys.rsa.D)), kmip.CryptographicAlgorithmRSA, 2048))},
			kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidField},
		{"huge transparent modulus", []ttlv.Value{creationOT(kmip.ObjectTypePublicKey), ttlv.Struct(kmip.TagPublicKey,
			creationKeyBlock(kmip.KeyFormatTypeTransparentRSAPublicKey, ttlv.Struct(kmip.TagKeyMaterial,
				ttlv.BigInt(kmip.TagModulus, new(big.Int).Lsh(big.NewInt(1), 1<<20)), ttlv.BigInt(kmip.TagPublicExponent, big.NewInt(65537))), kmip.CryptographicAlgorithmRSA, 0))},
			kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidField},
		{"template", []ttlv.Value{creationOT(kmip.ObjectTypeTemplate), ttlv.Struct(kmip.TagTemplate)},
			kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidObjectType},
		{"wrapped value without wrapping data", []ttlv.Value{creationOT(kmip.ObjectTypeSymmetricKey), ttlv.Struct(kmip.TagSymmetricKey,
			ttlv.Struct(kmip.TagKeyBlock, ttlv.Enum(kmip.TagKeyFormatType, uint32(kmip.KeyFormatTypeRaw)), ttlv.Bytes(kmip.TagKeyValue, keys.aes)))},
			kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidField},
	}
	for _, tc := range tests {
		for _, ver := range []kmip.ProtocolVersion{creationV14, creationV20} {
			t.Run(tc.name+"/"+ver.String(), func(t *testing.T) {
				_, err := e.call(ver, kmip.OperationRegister, tc.fields...)
				want := tc.want1x
				if ver.Is2x() {
					want = tc.want2x
				}
				creationReason(t, err, want)
			})
		}
	}
}

func TestCreationGetErrors(t *testing.T) {
	e := newCreationEnv(t)
	keys := newCreationKeys(t)
	symID := e.registerSymmetric(t, creationV14, kmip.CryptographicAlgorithmAES, keys.aes)
	ecDER, _ := x509.MarshalPKIXPublicKey(&keys.ec.PublicKey)
	ecID := e.register(t, creationV14, kmip.ObjectTypePublicKey, ttlv.Struct(kmip.TagPublicKey,
		creationKeyBlock(kmip.KeyFormatTypeX509, ttlv.Bytes(kmip.TagKeyMaterial, ecDER), kmip.CryptographicAlgorithmEC, 256)))
	t.Run("symmetric as PKCS#1", func(t *testing.T) {
		_, err := e.call(creationV14, kmip.OperationGet, creationUID(symID), ttlv.Enum(kmip.TagKeyFormatType, uint32(kmip.KeyFormatTypePKCS1)))
		creationReason(t, err, kmip.ResultReasonKeyFormatTypeNotSupported)
	})
	t.Run("compressed symmetric key", func(t *testing.T) {
		_, err := e.call(creationV20, kmip.OperationGet, creationUID(symID),
			ttlv.Enum(kmip.TagKeyCompressionType, uint32(kmip.KeyCompressionTypeECPublicKeyTypeUncompressed)))
		creationReason(t, err, kmip.ResultReasonKeyCompressionTypeNotSupported)
	})
	t.Run("compressed EC point", func(t *testing.T) {
		_, err := e.call(creationV20, kmip.OperationGet, creationUID(ecID),
			ttlv.Enum(kmip.TagKeyCompressionType, uint32(kmip.KeyCompressionTypeECPublicKeyTypeX962CompressedPrime)))
		creationReason(t, err, kmip.ResultReasonKeyCompressionTypeNotSupported)
	})
	t.Run("uncompressed EC point", func(t *testing.T) {
		obj := e.get(t, creationV20, ecID,
			ttlv.Enum(kmip.TagKeyFormatType, uint32(kmip.KeyFormatTypeTransparentECPublicKey)),
			ttlv.Enum(kmip.TagKeyCompressionType, uint32(kmip.KeyCompressionTypeECPublicKeyTypeUncompressed)))
		kb, _ := creationMaterial(t, obj)
		if got := creationTags(kb); !slices.Equal(got, []ttlv.Tag{kmip.TagKeyFormatType, kmip.TagKeyCompressionType, kmip.TagKeyValue, kmip.TagCryptographicAlgorithm, kmip.TagCryptographicLength}) {
			t.Errorf("key block fields %v", got)
		}
	})
	t.Run("destroyed", func(t *testing.T) {
		// What Destroy leaves: metadata without key material.
		id := e.registerSymmetric(t, creationV14, kmip.CryptographicAlgorithmAES, keys.aes)
		if _, err := e.store.Update(t.Context(), id, func(o *objects.Object) error {
			o.Wrapped = nil
			setState(o, kmip.StateDestroyed)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		// KMIP 1.4 §11.12: "the server only has attributes for this
		// object": Illegal Operation; 2.0 §6.1.19.1: Key Value Not Present.
		_, err := e.call(creationV14, kmip.OperationGet, creationUID(id))
		creationReason(t, err, kmip.ResultReasonIllegalOperation)
		_, err = e.call(creationV20, kmip.OperationGet, creationUID(id))
		creationReason(t, err, kmip.ResultReasonKeyValueNotPresent)
	})
	t.Run("archived", func(t *testing.T) {
		id := e.registerSymmetric(t, creationV14, kmip.CryptographicAlgorithmAES, keys.aes)
		if _, err := e.store.Update(t.Context(), id, func(o *objects.Object) error {
			o.Archived = true
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for _, ver := range []kmip.ProtocolVersion{creationV14, creationV20} {
			_, err := e.call(ver, kmip.OperationGet, creationUID(id))
			creationReason(t, err, kmip.ResultReasonObjectArchived)
		}
	})
	t.Run("unknown object", func(t *testing.T) {
		_, err := e.call(creationV14, kmip.OperationGet, creationUID("no-such-object"))
		creationReason(t, err, kmip.ResultReasonItemNotFound)
	})
	t.Run("no identifier", func(t *testing.T) {
		_, err := e.call(creationV14, kmip.OperationGet)
		creationReason(t, err, kmip.ResultReasonItemNotFound)
	})
}
