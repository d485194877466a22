package service

import (
	"crypto/aes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"math"
	"math/big"

	"github.com/kmipd/kmipd/hsmbackend"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// This file holds the Key Block plumbing of Register and Get (KMIP 1.4
// §2.1.3-2.1.7, 2.0 §2.1.3-2.1.7): parsing a registered Key Block,
// normalising its material to the stored forms, converting stored material
// to the Key Format Type a Get asks for, the Digest attribute, and AES key
// wrap (RFC 3394, RFC 5649) for Key Wrapping Specification.
//
// Stored forms (shared with the other handlers of this package):
//
//   - Symmetric Key, Secret Data, Opaque Object: the raw bytes, wrapped
//     under the HSM master key (Object.Wrapped).
//   - Private Key: PKCS#8 PrivateKeyInfo DER, wrapped (Object.Wrapped).
//   - Public Key: SubjectPublicKeyInfo DER in Object.Public.
//   - Certificate: the certificate DER in Object.Public.
//
// Object.KeyFormat is the Key Format Type the key was registered in (or
// the default of a generated key), which Get answers in by default
// (KMIP 1.4 §4.11: "the server SHALL be able to return the key during the
// Get operation in the same format that was used when the key was
// registered").

// Bounds on registered material, checked before anything is parsed or
// allocated from it. RSA-16384 is the largest key we accept: a larger
// modulus only costs CPU in validation (a hostile client's lever), and an
// RSA-16384 PKCS#8 is under 10 KiB.
const (
	crMaxAsymmetricDER = 16 << 10
	crMaxRSABits       = 16384
	crMaxCertificate   = 64 << 10
)

// crKeyBlock is a Key Block (KMIP 1.4 §2.1.3 Table 7) as a request carries
// it. Exactly one of material and wrappedValue is set, or neither when
// noValue is.
type crKeyBlock struct {
	format      kmip.KeyFormatType
	compression kmip.KeyCompressionType // 0 when absent
	// material is the Key Material of a plaintext Key Value: a Byte
	// String, or a Structure for the Transparent formats (§2.1.4).
	material ttlv.Value
	// wrappedValue is the wrapped key: the Key Value Byte String (TTLV
	// encoding), or the Key Material of a No Encoding Key Value.
	wrappedValue []byte
	alg          kmip.CryptographicAlgorithm // 0 when absent
	length       int32                       // 0 when absent
	wrapping     ttlv.Value                  // Key Wrapping Data, zero when absent
	// noValue is true when the Key Block has no Key Value: the client
	// registers a metadata-only object (mdo.go).
	noValue bool
}

// parseKeyBlock decodes a Key Block. Fields it does not know are ignored
// (KMIP 1.4 §11.1 allows that across minor versions, and extensions may
// add some); a repeated field is Invalid Message (§11.1).
func parseKeyBlock(v ttlv.Value) (crKeyBlock, error) {
	var kb crKeyBlock
	if v.Tag != kmip.TagKeyBlock || v.Type != ttlv.TypeStructure {
		return kb, kmip.Errorf(kmip.ResultReasonInvalidField, "key block missing")
	}
	seen := map[ttlv.Tag]bool{}
	var haveFormat, haveValue bool
	for _, f := range v.Children() {
		if seen[f.Tag] {
			return kb, kmip.Errorf(kmip.ResultReasonInvalidMessage, "key block repeats %s", kmip.TagString(f.Tag))
		}
		seen[f.Tag] = true
		switch f.Tag {
		case kmip.TagKeyFormatType:
			if f.Type != ttlv.TypeEnumeration {
				return kb, crFieldType(f)
			}
			kb.format, haveFormat = kmip.KeyFormatType(f.Enum()), true
		case kmip.TagKeyCompressionType:
			if f.Type != ttlv.TypeEnumeration {
				return kb, crFieldType(f)
			}
			kb.compression = kmip.KeyCompressionType(f.Enum())
		case kmip.TagKeyValue:
			haveValue = true
			switch f.Type {
			case ttlv.TypeByteString:
				kb.wrappedValue = f.Bytes()
			case ttlv.TypeStructure:
				m, ok := f.Child(kmip.TagKeyMaterial)
				if !ok || (m.Type != ttlv.TypeByteString && m.Type != ttlv.TypeStructure) {
					return kb, kmip.Errorf(kmip.ResultReasonInvalidField, "key value without key material")
				}
				kb.material = m
			default:
				return kb, crFieldType(f)
			}
		case kmip.TagCryptographicAlgorithm:
			if f.Type != ttlv.TypeEnumeration {
				return kb, crFieldType(f)
			}
			kb.alg = kmip.CryptographicAlgorithm(f.Enum())
		case kmip.TagCryptographicLength:
			if f.Type != ttlv.TypeInteger || f.Int() <= 0 {
				return kb, kmip.Errorf(kmip.ResultReasonInvalidField, "key block cryptographic length is invalid")
			}
			kb.length = f.Int()
		case kmip.TagKeyWrappingData:
			if f.Type != ttlv.TypeStructure {
				return kb, crFieldType(f)
			}
			kb.wrapping = f
		}
	}
	switch {
	case !haveFormat:
		return kb, kmip.Errorf(kmip.ResultReasonInvalidField, "key block without key format type")
	case !haveValue && !kb.wrapping.IsZero():
		return kb, kmip.Errorf(kmip.ResultReasonInvalidField, "key block has key wrapping data but no key value")
	case !haveValue:
		// KMIP 1.4 §3.41, 2.0 §4.28: a Register may omit the Key Value;
		// the caller decides whether the object type allows it.
		kb.noValue = true
	case kb.wrappedValue != nil && kb.wrapping.IsZero():
		return kb, kmip.Errorf(kmip.ResultReasonInvalidField, "key value is a byte string but the key block has no key wrapping data")
	case !kb.wrapping.IsZero() && kb.wrappedValue == nil:
		// No Encoding (KMIP 1.4 §2.1.5): the Key Value structure stays and
		// its Key Material is the wrapped bytes, as in TC-WRAP-1.
		if kb.material.Type != ttlv.TypeByteString {
			return kb, kmip.Errorf(kmip.ResultReasonInvalidField, "wrapped key material must be a byte string")
		}
		kb.wrappedValue, kb.material = kb.material.Bytes(), ttlv.Value{}
	}
	return kb, nil
}

func crFieldType(f ttlv.Value) error {
	return kmip.Errorf(kmip.ResultReasonInvalidField, "%s has the wrong item type", kmip.TagString(f.Tag))
}

// materialBytes returns a Byte String Key Material, refusing a Structure.
func (kb *crKeyBlock) materialBytes() ([]byte, error) {
	if kb.material.Type != ttlv.TypeByteString {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "key format %v needs a byte string key material", kb.format)
	}
	return kb.material.Bytes(), nil
}

// importedKey is registered material in its stored form.
type importedKey struct {
	// secret is what is wrapped in the HSM (raw bytes or PKCS#8 DER),
	// nil for public material. The caller clears it.
	secret []byte
	// kind is the hsmbackend algorithm to wrap secret as.
	kind hsmbackend.Algorithm
	// public is a public key's SPKI DER.
	public []byte
	// alg and bits describe the key, derived from the material where it
	// tells (0 when it does not).
	alg  kmip.CryptographicAlgorithm
	bits int32
}

// importSymmetric normalises a Symmetric Key's Key Block to its raw bytes
// (Raw, Opaque, Transparent Symmetric Key: KMIP 1.4 §2.1.7.1).
func importSymmetric(kb *crKeyBlock) (importedKey, error) {
	var raw []byte
	switch kb.format {
	case kmip.KeyFormatTypeRaw, kmip.KeyFormatTypeOpaque:
		b, err := kb.materialBytes()
		if err != nil {
			return importedKey{}, err
		}
		raw = b
	case kmip.KeyFormatTypeTransparentSymmetricKey:
		k, ok := kb.material.Child(kmip.TagKey)
		if kb.material.Type != ttlv.TypeStructure || !ok || k.Type != ttlv.TypeByteString {
			return importedKey{}, kmip.Errorf(kmip.ResultReasonInvalidField, "transparent symmetric key without key")
		}
		raw = k.Bytes()
	default:
		return importedKey{}, kmip.Errorf(kmip.ResultReasonKeyFormatTypeNotSupported, "key format %v is not supported for symmetric keys", kb.format)
	}
	n := len(raw)
	if n == 0 || n > hsmbackend.MaxMaterialLen {
		return importedKey{}, kmip.Errorf(kmip.ResultReasonInvalidField, "symmetric key of %d bytes (want 1 to %d)", n, hsmbackend.MaxMaterialLen)
	}
	// MaxMaterialLen (64 KiB) keeps the bit count far inside an int32.
	imp := importedKey{secret: crClone(raw), kind: hsmbackend.GenericSecret, bits: int32(n) * 8}
	switch kb.alg {
	case kmip.CryptographicAlgorithmAES:
		if len(raw) == 16 || len(raw) == 24 || len(raw) == 32 {
			imp.kind = hsmbackend.AES
		} else {
			clear(imp.secret)
			return importedKey{}, kmip.Errorf(kmip.ResultReasonInvalidField, "AES key of %d bytes (want 16, 24 or 32)", len(raw))
		}
	case kmip.CryptographicAlgorithmDES3:
		if len(raw) == 24 {
			imp.kind = hsmbackend.DES3
		}
	default:
		// HMAC keys and the rest are generic secrets to the HSM.
	}
	imp.alg = kb.alg
	return imp, nil
}

// importSecretBytes normalises Secret Data (KMIP 1.4 §2.2.7): Opaque or
// Raw bytes.
func importSecretBytes(kb *crKeyBlock) (importedKey, error) {
	if kb.format != kmip.KeyFormatTypeOpaque && kb.format != kmip.KeyFormatTypeRaw {
		return importedKey{}, kmip.Errorf(kmip.ResultReasonKeyFormatTypeNotSupported, "key format %v is not supported for secret data", kb.format)
	}
	raw, err := kb.materialBytes()
	if err != nil {
		return importedKey{}, err
	}
	if len(raw) == 0 || len(raw) > hsmbackend.MaxMaterialLen {
		return importedKey{}, kmip.Errorf(kmip.ResultReasonInvalidField, "secret data of %d bytes (want 1 to %d)", len(raw), hsmbackend.MaxMaterialLen)
	}
	return importedKey{secret: crClone(raw), kind: hsmbackend.GenericSecret}, nil
}

// importPrivate normalises a Private Key's Key Block to PKCS#8 DER (PKCS#1
// and PKCS#8: §2.1.3; ECPrivateKey: RFC 5915; Transparent RSA and EC
// Private Key: §2.1.7.4, §2.1.7.14 and the 1.x ECDSA/ECDH/ECMQV variants).
func importPrivate(kb *crKeyBlock) (importedKey, error) {
	if kb.format != kmip.KeyFormatTypePKCS1 && len(kb.material.Bytes()) <= crMaxAsymmetricDER {
		// Go has no secp256k1; such keys are encoded by hand (secp256k1.go).
		if imp, handled, err := importSecp256k1Private(kb); handled {
			return imp, err
		}
	}
	var key any
	switch kb.format {
	case kmip.KeyFormatTypePKCS1, kmip.KeyFormatTypePKCS8, kmip.KeyFormatTypeECPrivateKey:
		der, err := kb.materialBytes()
		if err != nil {
			return importedKey{}, err
		}
		if len(der) > crMaxAsymmetricDER {
			return importedKey{}, kmip.Errorf(kmip.ResultReasonInvalidField, "private key of %d bytes is too large", len(der))
		}
		switch kb.format {
		case kmip.KeyFormatTypePKCS1:
			key, err = x509.ParsePKCS1PrivateKey(der)
		case kmip.KeyFormatTypePKCS8:
			key, err = x509.ParsePKCS8PrivateKey(der)
		default:
			key, err = x509.ParseECPrivateKey(der)
		}
		if err != nil {
			if why := crDiagnosePrivateDER(kb.format, der); why != "" {
				return importedKey{}, kmip.Errorf(kmip.ResultReasonInvalidField, "%v private key: %s", kb.format, why)
			}
			// The parser's text never carries key bytes.
			return importedKey{}, kmip.Errorf(kmip.ResultReasonInvalidField, "key material is not a valid %v private key", kb.format)
		}
	case kmip.KeyFormatTypeTransparentRSAPrivateKey:
		k, err := transparentRSAPrivate(kb.material)
		if err != nil {
			return importedKey{}, err
		}
		key = k
	case kmip.KeyFormatTypeTransparentECPrivateKey, kmip.KeyFormatTypeTransparentECDSAPrivateKey,
		kmip.KeyFormatTypeTransparentECDHPrivateKey, kmip.KeyFormatTypeTransparentECMQVPrivateKey:
		k, err := transparentECPrivate(kb.material)
		if err != nil {
			return importedKey{}, err
		}
		key = k
	default:
		return importedKey{}, kmip.Errorf(kmip.ResultReasonKeyFormatTypeNotSupported, "key format %v is not supported for private keys", kb.format)
	}
	alg, bits, err := crDescribeKey(key)
	if err != nil {
		return importedKey{}, err
	}
	var der []byte
	if kb.format == kmip.KeyFormatTypePKCS8 {
		// Keep the client's own encoding, so Get in PKCS#8 returns the
		// registered bytes.
		der = crClone(kb.material.Bytes())
	} else if der, err = x509.MarshalPKCS8PrivateKey(key); err != nil {
		return importedKey{}, kmip.Errorf(kmip.ResultReasonInvalidField, "private key cannot be encoded as PKCS#8")
	}
	return importedKey{secret: der, kind: hsmbackend.GenericSecret, alg: alg, bits: bits}, nil
}

// importPublic normalises a Public Key's Key Block to SubjectPublicKeyInfo
// DER (PKCS#1 RSAPublicKey, X.509 SubjectPublicKeyInfo, Transparent RSA
// and EC Public Key: §2.1.7.5, §2.1.7.15).
func importPublic(kb *crKeyBlock) (importedKey, error) {
	if len(kb.material.Bytes()) <= crMaxAsymmetricDER {
		// Go has no secp256k1; such keys are encoded by hand (secp256k1.go).
		if imp, handled, err := importSecp256k1Public(kb); handled {
			return imp, err
		}
	}
	var key any
	switch kb.format {
	case kmip.KeyFormatTypePKCS1, kmip.KeyFormatTypeX509:
		der, err := kb.materialBytes()
		if err != nil {
			return importedKey{}, err
		}
		if len(der) > crMaxAsymmetricDER {
			return importedKey{}, kmip.Errorf(kmip.ResultReasonInvalidField, "public key of %d bytes is too large", len(der))
		}
		if kb.format == kmip.KeyFormatTypePKCS1 {
			key, err = x509.ParsePKCS1PublicKey(der)
		} else {
			key, err = x509.ParsePKIXPublicKey(der)
		}
		if err != nil {
			if why := crDiagnosePublicDER(kb.format, der); why != "" {
				return importedKey{}, kmip.Errorf(kmip.ResultReasonInvalidField, "%v public key: %s", kb.format, why)
			}
			return importedKey{}, kmip.Errorf(kmip.ResultReasonInvalidField, "key material is not a valid %v public key", kb.format)
		}
	case kmip.KeyFormatTypeTransparentRSAPublicKey:
		n, err := crBigField(kb.material, kmip.TagModulus, true)
		if err != nil {
			return importedKey{}, err
		}
		e, err := crBigField(kb.material, kmip.TagPublicExponent, true)
		if err != nil {
			return importedKey{}, err
		}
		pub, err := crRSAPublic(n, e)
		if err != nil {
			return importedKey{}, err
		}
		key = pub
	case kmip.KeyFormatTypeTransparentECPublicKey, kmip.KeyFormatTypeTransparentECDSAPublicKey,
		kmip.KeyFormatTypeTransparentECDHPublicKey, kmip.KeyFormatTypeTransparentECMQVPublicKey:
		pub, err := transparentECPublic(kb.material)
		if err != nil {
			return importedKey{}, err
		}
		key = pub
	default:
		return importedKey{}, kmip.Errorf(kmip.ResultReasonKeyFormatTypeNotSupported, "key format %v is not supported for public keys", kb.format)
	}
	alg, bits, err := crDescribeKey(key)
	if err != nil {
		return importedKey{}, err
	}
	spki, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return importedKey{}, kmip.Errorf(kmip.ResultReasonInvalidField, "public key cannot be encoded as SubjectPublicKeyInfo")
	}
	return importedKey{public: spki, alg: alg, bits: bits}, nil
}

// crDescribeKey returns the Cryptographic Algorithm and Length of a parsed
// key (KMIP 1.4 §3.4, §3.5: RSA: modulus bits; EC: bits of the order's
// field).
func crDescribeKey(key any) (kmip.CryptographicAlgorithm, int32, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey, *rsa.PublicKey:
		var n *big.Int
		if p, ok := k.(*rsa.PrivateKey); ok {
			n = p.N
		} else {
			n = k.(*rsa.PublicKey).N
		}
		bits := n.BitLen()
		if bits > crMaxRSABits {
			return 0, 0, kmip.Errorf(kmip.ResultReasonInvalidField, "RSA keys over %d bits are not supported", crMaxRSABits)
		}
		return kmip.CryptographicAlgorithmRSA, int32(bits), nil //nolint:gosec // G115: at most crMaxRSABits, checked above
	case *ecdsa.PrivateKey:
		return kmip.CryptographicAlgorithmEC, int32(k.Curve.Params().BitSize), nil //nolint:gosec // G115: curve sizes are at most 521 bits
	case *ecdsa.PublicKey:
		return kmip.CryptographicAlgorithmEC, int32(k.Curve.Params().BitSize), nil //nolint:gosec // G115: curve sizes are at most 521 bits
	case ed25519.PrivateKey, ed25519.PublicKey:
		return kmip.CryptographicAlgorithmEd25519, 256, nil
	}
	return 0, 0, kmip.Errorf(kmip.ResultReasonInvalidField, "key type %T is not supported", key)
}

// algorithmsAgree reports whether a client's Cryptographic Algorithm fits
// what the material is: EC material serves EC, ECDSA, ECDH and ECMQV.
func algorithmsAgree(client, material kmip.CryptographicAlgorithm) bool {
	if client == 0 || material == 0 || client == material {
		return true
	}
	if material == kmip.CryptographicAlgorithmEC {
		switch client {
		case kmip.CryptographicAlgorithmECDSA, kmip.CryptographicAlgorithmECDH, kmip.CryptographicAlgorithmECMQV:
			return true
		default:
			return false
		}
	}
	return false
}

// crBigField reads a Big Integer child of a Transparent key structure.
func crBigField(s ttlv.Value, tag ttlv.Tag, required bool) (*big.Int, error) {
	if s.Type != ttlv.TypeStructure {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "transparent key material must be a structure")
	}
	v, ok := s.Child(tag)
	if !ok {
		if required {
			return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "transparent key without %s", kmip.TagString(tag))
		}
		return nil, nil
	}
	if v.Type != ttlv.TypeBigInteger {
		return nil, crFieldType(v)
	}
	// Bound before any arithmetic: no field of a key we accept is larger
	// than the largest modulus.
	if len(v.Bytes()) > crMaxRSABits/8+8 {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "%s is too large", kmip.TagString(tag))
	}
	x := v.BigInt()
	if x.Sign() <= 0 {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "%s must be positive", kmip.TagString(tag))
	}
	return x, nil
}

func crRSAPublic(n, e *big.Int) (*rsa.PublicKey, error) {
	if n.BitLen() > crMaxRSABits || n.BitLen() < 512 {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "RSA modulus of %d bits is not supported", n.BitLen())
	}
	if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 || e.Bit(0) == 0 {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "RSA public exponent is not supported")
	}
	return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
}

// transparentRSAPrivate builds an RSA key from a Transparent RSA Private
// Key (KMIP 1.4 §2.1.7.4). Only Modulus is REQUIRED by the table, but a
// key cannot be used, or encoded as PKCS#1 or PKCS#8, without its primes,
// so P, Q, the exponents are required here.
func transparentRSAPrivate(m ttlv.Value) (*rsa.PrivateKey, error) {
	var f [5]*big.Int
	for i, tag := range []ttlv.Tag{kmip.TagModulus, kmip.TagPublicExponent, kmip.TagPrivateExponent, kmip.TagP, kmip.TagQ} {
		x, err := crBigField(m, tag, true)
		if err != nil {
			return nil, err
		}
		f[i] = x
	}
	pub, err := crRSAPublic(f[0], f[1])
	if err != nil {
		return nil, err
	}
	k := &rsa.PrivateKey{PublicKey: *pub, D: f[2], Primes: []*big.Int{f[3], f[4]}}
	if err := k.Validate(); err != nil {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "transparent RSA private key is inconsistent")
	}
	k.Precompute()
	return k, nil
}

// crCurves maps Recommended Curve values (KMIP 1.4 §9.1.3.2.5) to Go
// curves and the hsmbackend curve names.
var crCurves = []struct {
	rc    kmip.RecommendedCurve
	curve elliptic.Curve
	name  string
}{
	{kmip.RecommendedCurveP224, elliptic.P224(), "P-224"},
	{kmip.RecommendedCurveP256, elliptic.P256(), "P-256"},
	{kmip.RecommendedCurveP384, elliptic.P384(), "P-384"},
	{kmip.RecommendedCurveP521, elliptic.P521(), "P-521"},
}

func crCurveOf(rc kmip.RecommendedCurve) (elliptic.Curve, bool) {
	for _, c := range crCurves {
		if c.rc == rc {
			return c.curve, true
		}
	}
	return nil, false
}

func crRecommendedCurve(c elliptic.Curve) kmip.RecommendedCurve {
	for _, x := range crCurves {
		if x.curve == c {
			return x.rc
		}
	}
	return 0
}

// crCurveField reads the Recommended Curve of a Transparent EC structure.
func crCurveField(m ttlv.Value) (elliptic.Curve, error) {
	v, ok := m.Child(kmip.TagRecommendedCurve)
	if m.Type != ttlv.TypeStructure || !ok || v.Type != ttlv.TypeEnumeration {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "transparent EC key without recommended curve")
	}
	c, ok := crCurveOf(kmip.RecommendedCurve(v.Enum()))
	if !ok {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "recommended curve %v is not supported", kmip.RecommendedCurve(v.Enum()))
	}
	return c, nil
}

func transparentECPrivate(m ttlv.Value) (*ecdsa.PrivateKey, error) {
	c, err := crCurveField(m)
	if err != nil {
		return nil, err
	}
	d, err := crBigField(m, kmip.TagD, true)
	if err != nil {
		return nil, err
	}
	size := (c.Params().BitSize + 7) / 8
	if d.BitLen() > size*8 {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "EC private key is out of range")
	}
	raw := d.FillBytes(make([]byte, size))
	defer clear(raw)
	k, err := ecdsa.ParseRawPrivateKey(c, raw)
	if err != nil {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "EC private key is out of range")
	}
	return k, nil
}

func transparentECPublic(m ttlv.Value) (*ecdsa.PublicKey, error) {
	c, err := crCurveField(m)
	if err != nil {
		return nil, err
	}
	q, ok := m.Child(kmip.TagQString)
	if !ok || q.Type != ttlv.TypeByteString {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "transparent EC public key without Q string")
	}
	point := q.Bytes()
	if len(point) > 0 && (point[0] == 2 || point[0] == 3) {
		// X9.62 compressed form (Key Compression Type X9.62
		// Compressed Prime).
		x, y := elliptic.UnmarshalCompressed(c, point)
		if x == nil {
			return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "EC public point is not on the curve")
		}
		// Re-encode as SEC 1 §2.3.3 uncompressed (0x04 || X || Y), so the
		// key is built by ParseUncompressedPublicKey rather than by
		// setting the deprecated X and Y fields directly.
		size := (c.Params().BitSize + 7) / 8
		uncompressed := make([]byte, 1+2*size)
		uncompressed[0] = 4
		x.FillBytes(uncompressed[1 : 1+size])
		y.FillBytes(uncompressed[1+size:])
		point = uncompressed
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(c, point)
	if err != nil {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "EC public point is not on the curve")
	}
	return pub, nil
}

// exportKeyMaterial converts stored material to the Key Material of the
// requested format: plain is the unwrapped secret (raw bytes or PKCS#8),
// public the SPKI. The result may alias plain or hold secret copies; the
// caller clears it with crClearMaterial when done.
func exportKeyMaterial(ot kmip.ObjectType, plain, public []byte, want kmip.KeyFormatType) (ttlv.Value, error) {
	notSupported := kmip.Errorf(kmip.ResultReasonKeyFormatTypeNotSupported, "%v cannot be returned as %v", ot, want)
	switch ot {
	case kmip.ObjectTypeSymmetricKey, kmip.ObjectTypeSecretData, kmip.ObjectTypeSplitKey, kmip.ObjectTypePGPKey:
		switch want {
		case kmip.KeyFormatTypeRaw, kmip.KeyFormatTypeOpaque:
			return ttlv.Bytes(kmip.TagKeyMaterial, plain), nil
		case kmip.KeyFormatTypeTransparentSymmetricKey:
			if ot == kmip.ObjectTypeSymmetricKey {
				return ttlv.Struct(kmip.TagKeyMaterial, ttlv.Bytes(kmip.TagKey, plain)), nil
			}
		default:
			// Refused below.
		}
		return ttlv.Value{}, notSupported
	case kmip.ObjectTypePrivateKey:
		if want == kmip.KeyFormatTypePKCS8 {
			return ttlv.Bytes(kmip.TagKeyMaterial, plain), nil
		}
		if v, handled, err := exportSecp256k1Private(plain, want); handled {
			return v, err
		}
		key, err := x509.ParsePKCS8PrivateKey(plain)
		if err != nil {
			return ttlv.Value{}, errors.New("stored private key is not PKCS#8")
		}
		switch k := key.(type) {
		case *rsa.PrivateKey:
			switch want {
			case kmip.KeyFormatTypePKCS1:
				return ttlv.Bytes(kmip.TagKeyMaterial, x509.MarshalPKCS1PrivateKey(k)), nil
			case kmip.KeyFormatTypeTransparentRSAPrivateKey:
				f := []ttlv.Value{
					ttlv.BigInt(kmip.TagModulus, k.N),
					ttlv.BigInt(kmip.TagPrivateExponent, k.D),
					ttlv.BigInt(kmip.TagPublicExponent, big.NewInt(int64(k.E))),
				}
				if len(k.Primes) == 2 {
					f = append(f, ttlv.BigInt(kmip.TagP, k.Primes[0]), ttlv.BigInt(kmip.TagQ, k.Primes[1]))
					if k.Precomputed.Dp != nil {
						f = append(f,
							ttlv.BigInt(kmip.TagPrimeExponentP, k.Precomputed.Dp),
							ttlv.BigInt(kmip.TagPrimeExponentQ, k.Precomputed.Dq),
							ttlv.BigInt(kmip.TagCRTCoefficient, k.Precomputed.Qinv))
					}
				}
				return ttlv.Struct(kmip.TagKeyMaterial, f...), nil
			default:
				// Refused below.
			}
		case *ecdsa.PrivateKey:
			switch want {
			case kmip.KeyFormatTypeECPrivateKey:
				der, err := x509.MarshalECPrivateKey(k)
				if err != nil {
					return ttlv.Value{}, notSupported
				}
				return ttlv.Bytes(kmip.TagKeyMaterial, der), nil
			case kmip.KeyFormatTypeTransparentECPrivateKey, kmip.KeyFormatTypeTransparentECDSAPrivateKey,
				kmip.KeyFormatTypeTransparentECDHPrivateKey, kmip.KeyFormatTypeTransparentECMQVPrivateKey:
				rc := crRecommendedCurve(k.Curve)
				d, err := k.Bytes()
				if rc == 0 || err != nil {
					return ttlv.Value{}, notSupported
				}
				v := ttlv.Struct(kmip.TagKeyMaterial,
					ttlv.Enum(kmip.TagRecommendedCurve, uint32(rc)),
					ttlv.BigInt(kmip.TagD, new(big.Int).SetBytes(d)))
				clear(d)
				return v, nil
			default:
				// Refused below.
			}
		}
		return ttlv.Value{}, notSupported
	case kmip.ObjectTypePublicKey:
		if want == kmip.KeyFormatTypeX509 {
			return ttlv.Bytes(kmip.TagKeyMaterial, public), nil
		}
		if v, handled, err := exportSecp256k1Public(public, want); handled {
			return v, err
		}
		key, err := x509.ParsePKIXPublicKey(public)
		if err != nil {
			return ttlv.Value{}, errors.New("stored public key is not SubjectPublicKeyInfo")
		}
		switch k := key.(type) {
		case *rsa.PublicKey:
			switch want {
			case kmip.KeyFormatTypePKCS1:
				return ttlv.Bytes(kmip.TagKeyMaterial, x509.MarshalPKCS1PublicKey(k)), nil
			case kmip.KeyFormatTypeTransparentRSAPublicKey:
				return ttlv.Struct(kmip.TagKeyMaterial,
					ttlv.BigInt(kmip.TagModulus, k.N),
					ttlv.BigInt(kmip.TagPublicExponent, big.NewInt(int64(k.E)))), nil
			default:
				// Refused below.
			}
		case *ecdsa.PublicKey:
			switch want {
			case kmip.KeyFormatTypeTransparentECPublicKey, kmip.KeyFormatTypeTransparentECDSAPublicKey,
				kmip.KeyFormatTypeTransparentECDHPublicKey, kmip.KeyFormatTypeTransparentECMQVPublicKey:
				rc := crRecommendedCurve(k.Curve)
				q, err := k.Bytes()
				if rc == 0 || err != nil {
					return ttlv.Value{}, notSupported
				}
				return ttlv.Struct(kmip.TagKeyMaterial,
					ttlv.Enum(kmip.TagRecommendedCurve, uint32(rc)),
					ttlv.Bytes(kmip.TagQString, q)), nil
			default:
				// Refused below.
			}
		}
		return ttlv.Value{}, notSupported
	default:
		return ttlv.Value{}, notSupported
	}
}

// crClearMaterial zeroes the byte buffers of a Key Material value that this
// package built (never one decoded from a request: those alias the
// message). Big Integers are re-encoded copies, cleared too. The
// big.Int values they came from cannot be wiped reliably; they die with
// the garbage collector.
func crClearMaterial(v ttlv.Value) {
	switch v.Type {
	case ttlv.TypeByteString, ttlv.TypeBigInteger:
		clear(v.Bytes())
	case ttlv.TypeStructure:
		for _, c := range v.Children() {
			crClearMaterial(c)
		}
	default:
		// Numbers, enumerations and text hold no key bytes.
	}
}

// crDigest computes the Digest attribute (KMIP 1.4 §3.17): SHA-256 of a
// Byte String Key Material, or of the TTLV encoding of a Structure one.
// format is 0 for objects without a Key Format Type (certificates, opaque
// objects).
func crDigest(material ttlv.Value, format kmip.KeyFormatType) ttlv.Value {
	var sum [sha256.Size]byte
	if material.Type == ttlv.TypeStructure {
		enc := ttlv.Marshal(material)
		sum = sha256.Sum256(enc)
		clear(enc)
	} else {
		sum = sha256.Sum256(material.Bytes())
	}
	f := []ttlv.Value{
		ttlv.Enum(kmip.TagHashingAlgorithm, uint32(kmip.HashingAlgorithmSHA256)),
		ttlv.Bytes(kmip.TagDigestValue, sum[:]),
	}
	if format != 0 {
		f = append(f, ttlv.Enum(kmip.TagKeyFormatType, uint32(format)))
	}
	return ttlv.Struct(kmip.TagDigest, f...)
}

// keyBlockValue builds a Key Block for a Get response (KMIP 1.4 §2.1.3
// Table 7, in the order of the table and of the OASIS vectors). keyValue
// is the Key Value (a Structure holding Key Material, or the wrapped Byte
// String); alg and length are left out when zero (Secret Data and Opaque
// Objects have neither). The Key Value never carries attributes: Veeam
// refuses a Key Block whose Key Value has any.
func keyBlockValue(format kmip.KeyFormatType, compression kmip.KeyCompressionType, keyValue ttlv.Value,
	alg kmip.CryptographicAlgorithm, length int32, wrapping ttlv.Value) ttlv.Value {
	f := make([]ttlv.Value, 0, 6)
	f = append(f, ttlv.Enum(kmip.TagKeyFormatType, uint32(format)))
	if compression != 0 {
		f = append(f, ttlv.Enum(kmip.TagKeyCompressionType, uint32(compression)))
	}
	if !keyValue.IsZero() {
		// Zero for a metadata-only object (mdo.go).
		f = append(f, keyValue)
	}
	if alg != 0 {
		f = append(f, ttlv.Enum(kmip.TagCryptographicAlgorithm, uint32(alg)))
	}
	if length > 0 {
		f = append(f, ttlv.Int(kmip.TagCryptographicLength, length))
	}
	if !wrapping.IsZero() {
		f = append(f, wrapping)
	}
	return ttlv.Struct(kmip.TagKeyBlock, f...)
}

func crClone(b []byte) []byte {
	if b == nil {
		return nil
	}
	out := make([]byte, len(b))
	copy(out, b)
	return out
}

// AES Key Wrap (RFC 3394, NIST SP 800-38F KW) and AES Key Wrap with Padding
// (RFC 5649, KWP), for the Key Wrapping Specification of Get (KMIP 1.4
// §2.1.6, Block Cipher Mode NIST Key Wrap and AES Key Wrap Padding) and
// the Key Wrapping Data of Register. They run on plaintext keys in process
// memory, which the callers clear.

var (
	crKWIV  = [8]byte{0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6} // RFC 3394 §2.2.3.1
	crKWPIV = [4]byte{0xA6, 0x59, 0x59, 0xA6}                         // RFC 5649 §3
)

var errCrKeyWrap = errors.New("key wrap: integrity check failed or bad length")

// crAESWrap is RFC 3394 §2.2.1 with the given initial value: plaintext is
// n >= 2 64-bit blocks.
func crAESWrap(kek []byte, iv [8]byte, plaintext []byte) ([]byte, error) {
	if len(plaintext) < 16 || len(plaintext)%8 != 0 {
		return nil, errCrKeyWrap
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	n := len(plaintext) / 8
	out := make([]byte, 8+len(plaintext))
	copy(out[8:], plaintext)
	a := iv
	var b [16]byte
	for j := 0; j < 6; j++ {
		for i := 1; i <= n; i++ {
			copy(b[:8], a[:])
			copy(b[8:], out[8*i:8*i+8])
			block.Encrypt(b[:], b[:])
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(a[:], binary.BigEndian.Uint64(b[:8])^t)
			copy(out[8*i:8*i+8], b[8:])
		}
	}
	copy(out[:8], a[:])
	clear(b[:])
	return out, nil
}

// crAESUnwrap is RFC 3394 §2.2.2 without the final check; it returns the
// recovered initial value and the plaintext.
func crAESUnwrap(kek, ciphertext []byte) ([8]byte, []byte, error) {
	var a [8]byte
	if len(ciphertext) < 24 || len(ciphertext)%8 != 0 {
		return a, nil, errCrKeyWrap
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return a, nil, err
	}
	n := len(ciphertext)/8 - 1
	r := make([]byte, 8*n)
	copy(a[:], ciphertext[:8])
	copy(r, ciphertext[8:])
	var b [16]byte
	for j := 5; j >= 0; j-- {
		for i := n; i >= 1; i-- {
			t := uint64(n*j + i) //nolint:gosec // G115: n*j+i counts down from 6n to 1 (RFC 3394 §2.2.2)
			binary.BigEndian.PutUint64(b[:8], binary.BigEndian.Uint64(a[:])^t)
			copy(b[8:], r[8*(i-1):8*i])
			block.Decrypt(b[:], b[:])
			copy(a[:], b[:8])
			copy(r[8*(i-1):8*i], b[8:])
		}
	}
	clear(b[:])
	return a, r, nil
}

// crKeyWrap is RFC 3394 AES Key Wrap with the default initial value.
func crKeyWrap(kek, plaintext []byte) ([]byte, error) { return crAESWrap(kek, crKWIV, plaintext) }

// crKeyUnwrap is RFC 3394 AES Key Unwrap; the integrity check is constant
// time.
func crKeyUnwrap(kek, ciphertext []byte) ([]byte, error) {
	a, p, err := crAESUnwrap(kek, ciphertext)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(a[:], crKWIV[:]) != 1 {
		clear(p)
		return nil, errCrKeyWrap
	}
	return p, nil
}

// crKeyWrapPad is RFC 5649 §4.1 AES Key Wrap with Padding.
func crKeyWrapPad(kek, plaintext []byte) ([]byte, error) {
	mli := uint64(len(plaintext))
	if mli == 0 || mli > math.MaxUint32 {
		return nil, errCrKeyWrap
	}
	var aiv [8]byte
	copy(aiv[:4], crKWPIV[:])
	binary.BigEndian.PutUint32(aiv[4:], uint32(mli))
	padded := make([]byte, (len(plaintext)+7)/8*8)
	copy(padded, plaintext)
	defer clear(padded)
	if len(padded) == 8 {
		// One block: a single AES encryption of AIV | P (§4.1).
		block, err := aes.NewCipher(kek)
		if err != nil {
			return nil, err
		}
		out := make([]byte, 16)
		copy(out, aiv[:])
		copy(out[8:], padded)
		block.Encrypt(out, out)
		return out, nil
	}
	return crAESWrap(kek, aiv, padded)
}

// crKeyUnwrapPad is RFC 5649 §4.2 AES Key Unwrap with Padding.
func crKeyUnwrapPad(kek, ciphertext []byte) ([]byte, error) {
	var a [8]byte
	var p []byte
	switch {
	case len(ciphertext) == 16:
		block, err := aes.NewCipher(kek)
		if err != nil {
			return nil, err
		}
		b := make([]byte, 16)
		block.Decrypt(b, ciphertext)
		copy(a[:], b[:8])
		p = b[8:]
		clear(b[:8])
	case len(ciphertext) >= 24 && len(ciphertext)%8 == 0:
		var err error
		if a, p, err = crAESUnwrap(kek, ciphertext); err != nil {
			return nil, err
		}
	default:
		return nil, errCrKeyWrap
	}
	// §3: check the AIV, the length and the zero padding together, so a
	// failure does not tell which one failed.
	mli := int(binary.BigEndian.Uint32(a[4:]))
	ok := subtle.ConstantTimeCompare(a[:4], crKWPIV[:])
	if mli > len(p) || mli <= len(p)-8 {
		ok = 0
	} else {
		var pad byte
		for _, c := range p[mli:] {
			pad |= c
		}
		ok &= subtle.ConstantTimeByteEq(pad, 0)
	}
	if ok != 1 {
		clear(p)
		return nil, errCrKeyWrap
	}
	return p[:mli], nil
}

// Diagnosis of well-formed key material Go cannot use. The stdlib parsers
// answer "unsupported elliptic curve" and the like without telling which
// curve; a client (brainpool curves, say) deserves to learn why its key is refused. These helpers read only the
// outer ASN.1 structure: the private scalar is never copied (asn1.RawValue
// aliases the input, which the caller owns).

var (
	// RFC 5480 §2.1.1: id-ecPublicKey.
	crOIDECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	// crGoCurves are the named curves crypto/x509 parses (RFC 5480 §2.1.1.1).
	crGoCurves = []asn1.ObjectIdentifier{
		{1, 3, 132, 0, 33},          // P-224
		{1, 2, 840, 10045, 3, 1, 7}, // P-256
		{1, 3, 132, 0, 34},          // P-384
		{1, 3, 132, 0, 35},          // P-521
	}
	// crCurveNames names curves clients use that Go does not implement.
	crCurveNames = map[string]string{
		"1.3.132.0.10":          "secp256k1", // SEC 2 §2.4.1
		"1.3.36.3.3.2.8.1.1.7":  "brainpoolP256r1",
		"1.3.36.3.3.2.8.1.1.11": "brainpoolP384r1",
		"1.3.36.3.3.2.8.1.1.13": "brainpoolP512r1", // RFC 5639 §4.1
	}
)

// crPKCS8 is PrivateKeyInfo / OneAsymmetricKey (RFC 5208 §5, RFC 5958 §2).
type crPKCS8 struct {
	Version    int
	Algorithm  pkix.AlgorithmIdentifier
	PrivateKey asn1.RawValue
	Attributes asn1.RawValue `asn1:"optional,tag:0"`
	PublicKey  asn1.RawValue `asn1:"optional,tag:1"`
}

// crEncryptedPKCS8 is EncryptedPrivateKeyInfo (RFC 5208 §6).
type crEncryptedPKCS8 struct {
	Algorithm     pkix.AlgorithmIdentifier
	EncryptedData asn1.RawValue
}

// crSEC1 is ECPrivateKey (RFC 5915 §3).
type crSEC1 struct {
	Version    int
	PrivateKey asn1.RawValue
	Curve      asn1.ObjectIdentifier `asn1:"optional,explicit,tag:0"`
	PublicKey  asn1.RawValue         `asn1:"optional,explicit,tag:1"`
}

// crSPKI is SubjectPublicKeyInfo (RFC 5280 §4.1).
type crSPKI struct {
	Algorithm pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

// crUnmarshalAll decodes der into v, refusing trailing bytes.
func crUnmarshalAll(der []byte, v any) bool {
	rest, err := asn1.Unmarshal(der, v)
	return err == nil && len(rest) == 0
}

// crUnsupportedCurve returns why an EC key on curve is refused, or "" when
// Go supports the curve (the key is then malformed in some other way).
func crUnsupportedCurve(curve asn1.ObjectIdentifier) string {
	if curve.Equal(oidSecp256k1) {
		// Supported by hand (secp256k1.go): the key is malformed.
		return ""
	}
	for _, c := range crGoCurves {
		if c.Equal(curve) {
			return ""
		}
	}
	name, ok := crCurveNames[curve.String()]
	if !ok {
		name = "with OID " + curve.String()
	}
	return "EC curve " + name + " is not supported (supported: P-224, P-256, P-384, P-521, secp256k1)"
}

// crAlgorithmCurve returns the named curve of an id-ecPublicKey algorithm
// identifier, nil for another algorithm or explicit curve parameters.
func crAlgorithmCurve(a pkix.AlgorithmIdentifier) asn1.ObjectIdentifier {
	if !a.Algorithm.Equal(crOIDECPublicKey) {
		return nil
	}
	var curve asn1.ObjectIdentifier
	if !crUnmarshalAll(a.Parameters.FullBytes, &curve) {
		return nil
	}
	return curve
}

// crDiagnosePrivateDER explains why the stdlib refused a PKCS#8 or
// ECPrivateKey private key, "" when it cannot say better than "invalid".
func crDiagnosePrivateDER(format kmip.KeyFormatType, der []byte) string {
	switch format {
	case kmip.KeyFormatTypePKCS8:
		var p crPKCS8
		if crUnmarshalAll(der, &p) {
			if c := crAlgorithmCurve(p.Algorithm); c != nil {
				return crUnsupportedCurve(c)
			}
			return ""
		}
		var e crEncryptedPKCS8
		if crUnmarshalAll(der, &e) && e.EncryptedData.Tag == asn1.TagOctetString {
			// TC-ECC-2 registers one: the server has no password, and
			// storing what it cannot read would defeat Get conversions,
			// Sign and the Digest.
			return "encrypted PKCS#8 (EncryptedPrivateKeyInfo, RFC 5208 §6) is not supported: register the key unencrypted or wrapped (KMIP 1.4 §2.1.5)"
		}
	case kmip.KeyFormatTypeECPrivateKey:
		var k crSEC1
		if crUnmarshalAll(der, &k) && len(k.Curve) > 0 {
			return crUnsupportedCurve(k.Curve)
		}
	default:
		// PKCS#1 has no curve to name.
	}
	return ""
}

// crDiagnosePublicDER is crDiagnosePrivateDER for SubjectPublicKeyInfo.
func crDiagnosePublicDER(format kmip.KeyFormatType, der []byte) string {
	var k crSPKI
	if format != kmip.KeyFormatTypeX509 || !crUnmarshalAll(der, &k) {
		return ""
	}
	if c := crAlgorithmCurve(k.Algorithm); c != nil {
		return crUnsupportedCurve(c)
	}
	return ""
}
