package service

import (
	"crypto/subtle"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"

	"github.com/kmipd/kmipd/hsmbackend"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// secp256k1 (SEC 2 v2 §2.4.1, KMIP Recommended Curve SECP256K1) is not
// implemented by crypto/ecdsa or crypto/x509, but the HSM (SoftHSM 2.6 via
// OpenSSL) implements it. Its keys therefore travel in the same stored
// forms as the other EC keys (PKCS#8 wrapped in the HSM, SPKI for public
// keys) and are encoded and decoded here with encoding/asn1:
//
//   - The private scalar is only range-checked (in constant time) and
//     copied into the PKCS#8; it is never used for arithmetic in Go.
//     Signing is done by the HSM (CKM_ECDSA), like for the NIST curves.
//   - Signature verification and public point validation use public data
//     only, with the affine math/big arithmetic below, which is not
//     constant time and must never see a secret scalar.

// oidSecp256k1 is the named curve secp256k1 (SEC 2 v2 §A.2.1).
var oidSecp256k1 = asn1.ObjectIdentifier{1, 3, 132, 0, 10}

// secp256k1Bits is the size of the field and of the group order.
const secp256k1Bits = 256

// secp256k1Len is the byte length of a field element or scalar.
const secp256k1Len = secp256k1Bits / 8

// secp256k1 domain parameters (SEC 2 v2 §2.4.1): y² = x³ + 7 over F_p.
var (
	k1P  = k1Hex("fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f")
	k1N  = k1Hex("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")
	k1Gx = k1Hex("79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
	k1Gy = k1Hex("483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8")
	k1B  = big.NewInt(7)
	// k1NBytes is the group order as big-endian bytes, for the constant-
	// time range check of private scalars.
	k1NBytes = k1N.FillBytes(make([]byte, secp256k1Len))
)

func k1Hex(s string) *big.Int {
	v, ok := new(big.Int).SetString(s, 16)
	if !ok {
		panic("secp256k1: bad constant")
	}
	return v
}

// secp256k1PublicKey is a validated secp256k1 public point. It is the
// crypto.PublicKey that publicKeyOf returns for such keys.
type secp256k1PublicKey struct {
	X, Y *big.Int
}

// uncompressed returns the SEC 1 §2.3.3 encoding 04 || X || Y.
func (k *secp256k1PublicKey) uncompressed() []byte {
	out := make([]byte, 1+2*secp256k1Len)
	out[0] = 4
	k.X.FillBytes(out[1 : 1+secp256k1Len])
	k.Y.FillBytes(out[1+secp256k1Len:])
	return out
}

// k1OnCurve reports whether (x, y) is a point of the curve. The cofactor is
// 1, so every such point is in the prime-order group.
func k1OnCurve(x, y *big.Int) bool {
	if x.Sign() < 0 || x.Cmp(k1P) >= 0 || y.Sign() < 0 || y.Cmp(k1P) >= 0 {
		return false
	}
	lhs := new(big.Int).Mul(y, y)
	lhs.Mod(lhs, k1P)
	rhs := new(big.Int).Mul(x, x)
	rhs.Mul(rhs, x)
	rhs.Add(rhs, k1B)
	rhs.Mod(rhs, k1P)
	return lhs.Cmp(rhs) == 0
}

// parseSecp256k1Point decodes an uncompressed or compressed point (SEC 1
// §2.3.4) and checks that it is on the curve.
func parseSecp256k1Point(b []byte) (*secp256k1PublicKey, bool) {
	switch {
	case len(b) == 1+2*secp256k1Len && b[0] == 4:
		x := new(big.Int).SetBytes(b[1 : 1+secp256k1Len])
		y := new(big.Int).SetBytes(b[1+secp256k1Len:])
		if !k1OnCurve(x, y) {
			return nil, false
		}
		return &secp256k1PublicKey{X: x, Y: y}, true
	case len(b) == 1+secp256k1Len && (b[0] == 2 || b[0] == 3):
		x := new(big.Int).SetBytes(b[1:])
		if x.Cmp(k1P) >= 0 {
			return nil, false
		}
		y2 := new(big.Int).Mul(x, x)
		y2.Mul(y2, x)
		y2.Add(y2, k1B)
		y2.Mod(y2, k1P)
		y := new(big.Int).ModSqrt(y2, k1P)
		if y == nil {
			return nil, false
		}
		if y.Bit(0) != uint(b[0]&1) {
			y.Sub(k1P, y)
		}
		return &secp256k1PublicKey{X: x, Y: y}, true
	default:
		return nil, false
	}
}

// k1Point is an affine point; nil coordinates are the point at infinity.
type k1Point struct{ x, y *big.Int }

func (p k1Point) infinity() bool { return p.x == nil }

// k1Add returns p + q (SEC 1 §2.2.1), for public values only.
func k1Add(p, q k1Point) k1Point {
	if p.infinity() {
		return q
	}
	if q.infinity() {
		return p
	}
	var lambda *big.Int
	if p.x.Cmp(q.x) == 0 {
		if p.y.Cmp(q.y) != 0 || p.y.Sign() == 0 {
			return k1Point{}
		}
		// Doubling, a = 0: λ = 3x² / 2y.
		num := new(big.Int).Mul(p.x, p.x)
		num.Mul(num, big.NewInt(3))
		den := new(big.Int).Lsh(p.y, 1)
		lambda = num.Mul(num, den.ModInverse(den.Mod(den, k1P), k1P))
	} else {
		num := new(big.Int).Sub(q.y, p.y)
		den := new(big.Int).Sub(q.x, p.x)
		den.Mod(den, k1P)
		lambda = num.Mul(num, den.ModInverse(den, k1P))
	}
	lambda.Mod(lambda, k1P)
	x := new(big.Int).Mul(lambda, lambda)
	x.Sub(x, p.x)
	x.Sub(x, q.x)
	x.Mod(x, k1P)
	y := new(big.Int).Sub(p.x, x)
	y.Mul(y, lambda)
	y.Sub(y, p.y)
	y.Mod(y, k1P)
	return k1Point{x, y}
}

// k1ScalarMult returns k·p by double-and-add. Variable time: public
// scalars only (the u1, u2 of a verification).
func k1ScalarMult(k *big.Int, p k1Point) k1Point {
	var acc k1Point
	for i := k.BitLen() - 1; i >= 0; i-- {
		acc = k1Add(acc, acc)
		if k.Bit(i) == 1 {
			acc = k1Add(acc, p)
		}
	}
	return acc
}

// verifySecp256k1 checks an ECDSA signature (SEC 1 §4.1.4) over digest,
// given as DER Ecdsa-Sig-Value (RFC 3279 §2.2.3) or as PKCS#11 r||s.
func verifySecp256k1(pub *secp256k1PublicKey, digest, sig []byte) bool {
	r, s, ok := k1SignatureValues(sig)
	if !ok || r.Sign() <= 0 || s.Sign() <= 0 || r.Cmp(k1N) >= 0 || s.Cmp(k1N) >= 0 {
		return false
	}
	// SEC 1 §4.1.4 step 4: the leftmost 256 bits of the digest.
	if len(digest) > secp256k1Len {
		digest = digest[:secp256k1Len]
	}
	e := new(big.Int).SetBytes(digest)
	w := new(big.Int).ModInverse(s, k1N)
	u1 := e.Mul(e, w)
	u1.Mod(u1, k1N)
	u2 := w.Mul(w, r)
	u2.Mod(u2, k1N)
	x := k1Add(k1ScalarMult(u1, k1Point{k1Gx, k1Gy}), k1ScalarMult(u2, k1Point{pub.X, pub.Y}))
	if x.infinity() {
		return false
	}
	return new(big.Int).Mod(x.x, k1N).Cmp(r) == 0
}

// k1SignatureValues reads r and s from DER or from a 64-byte r||s.
func k1SignatureValues(sig []byte) (r, s *big.Int, ok bool) {
	var v struct{ R, S *big.Int }
	if crUnmarshalAll(sig, &v) {
		return v.R, v.S, true
	}
	if len(sig) == 2*secp256k1Len {
		return new(big.Int).SetBytes(sig[:secp256k1Len]), new(big.Int).SetBytes(sig[secp256k1Len:]), true
	}
	return nil, nil, false
}

// k1ScalarValid reports, in constant time, whether the 32-byte big-endian
// scalar d is in [1, n-1] (SEC 1 §3.2.1).
func k1ScalarValid(d []byte) bool {
	if len(d) != secp256k1Len {
		return false
	}
	var nonzero byte
	borrow := 0
	for i := secp256k1Len - 1; i >= 0; i-- {
		nonzero |= d[i]
		borrow = (int(d[i]) - int(k1NBytes[i]) - borrow) >> 8 & 1
	}
	// d < n exactly when d - n borrows.
	return subtle.ConstantTimeByteEq(nonzero, 0) == 0 && borrow == 1
}

// k1SEC1 is ECPrivateKey (RFC 5915 §3) with the public key as a BIT STRING.
type k1SEC1 struct {
	Version    int
	PrivateKey []byte
	Curve      asn1.ObjectIdentifier `asn1:"optional,explicit,tag:0"`
	PublicKey  asn1.BitString        `asn1:"optional,explicit,tag:1"`
}

// k1PKCS8 is PrivateKeyInfo (RFC 5208 §5) as this file writes it.
type k1PKCS8 struct {
	Version    int
	Algorithm  pkix.AlgorithmIdentifier
	PrivateKey []byte
}

// k1AlgorithmIdentifier is id-ecPublicKey with namedCurve secp256k1
// (RFC 5480 §2.1.1).
func k1AlgorithmIdentifier() pkix.AlgorithmIdentifier {
	params, _ := asn1.Marshal(oidSecp256k1) // a constant OID always encodes
	return pkix.AlgorithmIdentifier{Algorithm: crOIDECPublicKey, Parameters: asn1.RawValue{FullBytes: params}}
}

// isSecp256k1Algorithm reports whether a names id-ecPublicKey on secp256k1.
func isSecp256k1Algorithm(a pkix.AlgorithmIdentifier) bool {
	c := crAlgorithmCurve(a)
	return c != nil && c.Equal(oidSecp256k1)
}

// parseSecp256k1SEC1 decodes an ECPrivateKey whose curve is secp256k1,
// either named in it or (inside a PKCS#8) by the enclosing algorithm
// (curveKnown). It returns ok=false when der is not such a key at all,
// and an error when it is one but malformed. The scalar in the result
// aliases der.
func parseSecp256k1SEC1(der []byte, curveKnown bool) (k1SEC1, bool, error) {
	var k k1SEC1
	if !crUnmarshalAll(der, &k) {
		return k, false, nil
	}
	switch {
	case len(k.Curve) > 0 && !k.Curve.Equal(oidSecp256k1):
		return k, false, nil
	case len(k.Curve) == 0 && !curveKnown:
		return k, false, nil
	}
	bad := func(why string) error {
		return kmip.Errorf(kmip.ResultReasonInvalidField, "secp256k1 private key: %s", why)
	}
	if k.Version != 1 {
		return k, true, bad("ECPrivateKey version is not 1 (RFC 5915 §3)")
	}
	if !k1ScalarValid(k.PrivateKey) {
		return k, true, bad("private scalar is not 32 bytes in [1, n-1]")
	}
	if k.PublicKey.BitLength != 0 {
		if k.PublicKey.BitLength%8 != 0 {
			return k, true, bad("public key is not a whole number of bytes")
		}
		if _, ok := parseSecp256k1Point(k.PublicKey.Bytes); !ok {
			return k, true, bad("public point is not on the curve")
		}
	}
	return k, true, nil
}

// marshalSecp256k1SEC1 encodes k with the curve named, as Get in
// ECPrivateKey returns it. The caller clears the result.
func marshalSecp256k1SEC1(k k1SEC1) ([]byte, error) {
	k.Version, k.Curve = 1, oidSecp256k1
	return asn1.Marshal(k)
}

// marshalSecp256k1PKCS8 wraps a validated ECPrivateKey in a PrivateKeyInfo.
// The caller clears the result.
func marshalSecp256k1PKCS8(k k1SEC1) ([]byte, error) {
	sec1, err := marshalSecp256k1SEC1(k)
	if err != nil {
		return nil, err
	}
	defer clear(sec1)
	return asn1.Marshal(k1PKCS8{Algorithm: k1AlgorithmIdentifier(), PrivateKey: sec1})
}

// parseSecp256k1PKCS8 decodes a PrivateKeyInfo on secp256k1; ok is false
// when der is not one. The scalar in the result aliases der.
func parseSecp256k1PKCS8(der []byte) (k1SEC1, bool, error) {
	var p crPKCS8
	if !crUnmarshalAll(der, &p) || !isSecp256k1Algorithm(p.Algorithm) {
		return k1SEC1{}, false, nil
	}
	if p.PrivateKey.Tag != asn1.TagOctetString || p.PrivateKey.Class != asn1.ClassUniversal {
		return k1SEC1{}, true, kmip.Errorf(kmip.ResultReasonInvalidField, "secp256k1 private key: PKCS#8 privateKey is not an OCTET STRING")
	}
	k, ok, err := parseSecp256k1SEC1(p.PrivateKey.Bytes, true)
	if !ok && err == nil {
		err = kmip.Errorf(kmip.ResultReasonInvalidField, "secp256k1 private key: PKCS#8 privateKey is not an ECPrivateKey on secp256k1")
	}
	return k, true, err
}

// marshalSecp256k1SPKI encodes a public point as SubjectPublicKeyInfo.
func marshalSecp256k1SPKI(pub *secp256k1PublicKey) ([]byte, error) {
	point := pub.uncompressed()
	return asn1.Marshal(crSPKI{
		Algorithm: k1AlgorithmIdentifier(),
		PublicKey: asn1.BitString{Bytes: point, BitLength: 8 * len(point)},
	})
}

// parseSecp256k1SPKI decodes a SubjectPublicKeyInfo on secp256k1; ok is
// false when der is not one.
func parseSecp256k1SPKI(der []byte) (*secp256k1PublicKey, bool, error) {
	var k crSPKI
	if !crUnmarshalAll(der, &k) || !isSecp256k1Algorithm(k.Algorithm) {
		return nil, false, nil
	}
	if k.PublicKey.BitLength%8 != 0 {
		return nil, true, kmip.Errorf(kmip.ResultReasonInvalidField, "secp256k1 public key is not a whole number of bytes")
	}
	pub, ok := parseSecp256k1Point(k.PublicKey.Bytes)
	if !ok {
		return nil, true, kmip.Errorf(kmip.ResultReasonInvalidField, "secp256k1 public point is not on the curve")
	}
	return pub, true, nil
}

// importSecp256k1Private handles a PKCS#8, ECPrivateKey or Transparent EC
// private key on secp256k1: handled is false for any other key.
func importSecp256k1Private(kb *crKeyBlock) (imp importedKey, handled bool, err error) {
	var k k1SEC1
	switch kb.format {
	case kmip.KeyFormatTypePKCS8, kmip.KeyFormatTypeECPrivateKey:
		der := kb.material.Bytes()
		if kb.format == kmip.KeyFormatTypePKCS8 {
			k, handled, err = parseSecp256k1PKCS8(der)
		} else {
			k, handled, err = parseSecp256k1SEC1(der, false)
		}
		if !handled || err != nil {
			return importedKey{}, handled, err
		}
	case kmip.KeyFormatTypeTransparentECPrivateKey, kmip.KeyFormatTypeTransparentECDSAPrivateKey,
		kmip.KeyFormatTypeTransparentECDHPrivateKey, kmip.KeyFormatTypeTransparentECMQVPrivateKey:
		if !isSecp256k1Transparent(kb.material) {
			return importedKey{}, false, nil
		}
		d, err := transparentSecp256k1Scalar(kb.material)
		if err != nil {
			return importedKey{}, true, err
		}
		defer clear(d)
		// No public key: computing d·G would be secret-dependent math in
		// Go. The HSM derives it when it loads the PKCS#8.
		k = k1SEC1{PrivateKey: d}
	default:
		return importedKey{}, false, nil
	}
	if kb.format == kmip.KeyFormatTypePKCS8 {
		// Keep the client's own encoding, as importPrivate does, so Get
		// in PKCS#8 returns the registered bytes (KMIP 1.4 §4.11).
		return importedKey{secret: crClone(kb.material.Bytes()), kind: hsmbackend.GenericSecret,
			alg: kmip.CryptographicAlgorithmEC, bits: secp256k1Bits}, true, nil
	}
	der, err := marshalSecp256k1PKCS8(k)
	if err != nil {
		return importedKey{}, true, kmip.Errorf(kmip.ResultReasonInvalidField, "secp256k1 private key cannot be encoded as PKCS#8")
	}
	return importedKey{secret: der, kind: hsmbackend.GenericSecret, alg: kmip.CryptographicAlgorithmEC, bits: secp256k1Bits}, true, nil
}

// isSecp256k1Transparent reports whether a Transparent EC structure names
// Recommended Curve SECP256K1.
func isSecp256k1Transparent(m ttlv.Value) bool {
	v, ok := m.Child(kmip.TagRecommendedCurve)
	return ok && v.Type == ttlv.TypeEnumeration && kmip.RecommendedCurve(v.Enum()) == kmip.RecommendedCurveSECP256K1
}

// transparentSecp256k1Scalar reads D of a Transparent EC Private Key as 32
// big-endian bytes, which the caller clears.
func transparentSecp256k1Scalar(m ttlv.Value) ([]byte, error) {
	v, ok := m.Child(kmip.TagD)
	if !ok || v.Type != ttlv.TypeBigInteger {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "transparent secp256k1 private key without D")
	}
	// A Big Integer is two's complement, padded to a multiple of 8 bytes
	// (KMIP 1.4 §9.1.1.4): refuse a negative one, then strip the padding
	// without going through big.Int.
	raw := v.Bytes()
	if len(raw) > 0 && raw[0]&0x80 != 0 {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "secp256k1 private key: D is negative")
	}
	for len(raw) > secp256k1Len && raw[0] == 0 {
		raw = raw[1:]
	}
	if len(raw) > secp256k1Len {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "secp256k1 private key: D is out of range")
	}
	d := make([]byte, secp256k1Len)
	copy(d[secp256k1Len-len(raw):], raw)
	if !k1ScalarValid(d) {
		clear(d)
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "secp256k1 private key: D is not in [1, n-1]")
	}
	return d, nil
}

// importSecp256k1Public handles an X.509 or Transparent EC public key on
// secp256k1: handled is false for any other key.
func importSecp256k1Public(kb *crKeyBlock) (imp importedKey, handled bool, err error) {
	var pub *secp256k1PublicKey
	switch kb.format {
	case kmip.KeyFormatTypeX509:
		pub, handled, err = parseSecp256k1SPKI(kb.material.Bytes())
		if !handled || err != nil {
			return importedKey{}, handled, err
		}
	case kmip.KeyFormatTypeTransparentECPublicKey, kmip.KeyFormatTypeTransparentECDSAPublicKey,
		kmip.KeyFormatTypeTransparentECDHPublicKey, kmip.KeyFormatTypeTransparentECMQVPublicKey:
		if !isSecp256k1Transparent(kb.material) {
			return importedKey{}, false, nil
		}
		q, ok := kb.material.Child(kmip.TagQString)
		if !ok || q.Type != ttlv.TypeByteString {
			return importedKey{}, true, kmip.Errorf(kmip.ResultReasonInvalidField, "transparent secp256k1 public key without Q String")
		}
		if pub, ok = parseSecp256k1Point(q.Bytes()); !ok {
			return importedKey{}, true, kmip.Errorf(kmip.ResultReasonInvalidField, "secp256k1 public point is not on the curve")
		}
	default:
		return importedKey{}, false, nil
	}
	spki, err := marshalSecp256k1SPKI(pub)
	if err != nil {
		return importedKey{}, true, kmip.Errorf(kmip.ResultReasonInvalidField, "secp256k1 public key cannot be encoded as SubjectPublicKeyInfo")
	}
	return importedKey{public: spki, alg: kmip.CryptographicAlgorithmEC, bits: secp256k1Bits}, true, nil
}

// exportSecp256k1Private converts a stored secp256k1 PKCS#8 to want
// (ECPrivateKey or Transparent EC Private Key); handled is false when
// plain is not a secp256k1 key. The result holds secret copies.
func exportSecp256k1Private(plain []byte, want kmip.KeyFormatType) (v ttlv.Value, handled bool, err error) {
	k, handled, err := parseSecp256k1PKCS8(plain)
	if !handled {
		return ttlv.Value{}, false, nil
	}
	if err != nil {
		return ttlv.Value{}, true, errors.New("stored secp256k1 private key is malformed")
	}
	notSupported := kmip.Errorf(kmip.ResultReasonKeyFormatTypeNotSupported, "a secp256k1 private key cannot be returned as %v", want)
	switch want {
	case kmip.KeyFormatTypeECPrivateKey:
		der, err := marshalSecp256k1SEC1(k)
		if err != nil {
			return ttlv.Value{}, true, notSupported
		}
		return ttlv.Bytes(kmip.TagKeyMaterial, der), true, nil
	case kmip.KeyFormatTypeTransparentECPrivateKey, kmip.KeyFormatTypeTransparentECDSAPrivateKey,
		kmip.KeyFormatTypeTransparentECDHPrivateKey, kmip.KeyFormatTypeTransparentECMQVPrivateKey:
		d := new(big.Int).SetBytes(k.PrivateKey)
		v := ttlv.Struct(kmip.TagKeyMaterial,
			ttlv.Enum(kmip.TagRecommendedCurve, uint32(kmip.RecommendedCurveSECP256K1)),
			ttlv.BigInt(kmip.TagD, d))
		wipeInt(d)
		return v, true, nil
	default:
		return ttlv.Value{}, true, notSupported
	}
}

// exportSecp256k1Public converts a stored secp256k1 SPKI to a Transparent
// EC Public Key; handled is false when public is not a secp256k1 key.
func exportSecp256k1Public(public []byte, want kmip.KeyFormatType) (v ttlv.Value, handled bool, err error) {
	pub, handled, err := parseSecp256k1SPKI(public)
	if !handled {
		return ttlv.Value{}, false, nil
	}
	if err != nil {
		return ttlv.Value{}, true, errors.New("stored secp256k1 public key is malformed")
	}
	switch want {
	case kmip.KeyFormatTypeTransparentECPublicKey, kmip.KeyFormatTypeTransparentECDSAPublicKey,
		kmip.KeyFormatTypeTransparentECDHPublicKey, kmip.KeyFormatTypeTransparentECMQVPublicKey:
		return ttlv.Struct(kmip.TagKeyMaterial,
			ttlv.Enum(kmip.TagRecommendedCurve, uint32(kmip.RecommendedCurveSECP256K1)),
			ttlv.Bytes(kmip.TagQString, pub.uncompressed())), true, nil
	default:
		return ttlv.Value{}, true, kmip.Errorf(kmip.ResultReasonKeyFormatTypeNotSupported, "a secp256k1 public key cannot be returned as %v", want)
	}
}

// secp256k1PublicOfPKCS8 returns the public key a stored secp256k1 PKCS#8
// carries, for verifying with a private key that has no Public Key Link;
// ok is false when there is none (the scalar is not used).
func secp256k1PublicOfPKCS8(plain []byte) (*secp256k1PublicKey, bool) {
	k, handled, err := parseSecp256k1PKCS8(plain)
	if !handled || err != nil || k.PublicKey.BitLength == 0 {
		return nil, false
	}
	return parseSecp256k1Point(k.PublicKey.Bytes)
}
