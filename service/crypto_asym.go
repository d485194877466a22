package service

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"io"
	"math/big"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// This file holds the public-key cryptography done in Go rather than in
// the HSM: hsmbackend has no RSA encryption or decryption, no PSS with a
// salt other than the hash length, and no signature verification.
//
//   - Public-key operations (RSA encryption, every signature verification)
//     use the public key, which is not secret: the stored
//     SubjectPublicKeyInfo (Object.Public), a certificate's key, or the
//     public key linked to a private key.
//   - Private-key operations that the HSM cannot do (RSA decryption, PSS
//     signatures with a custom salt length or over digested data) unwrap
//     the PKCS#8 with hsm.Unwrap, use crypto/rsa, and clear the DER and the
//     key's big integers afterwards. That is best effort: crypto/rsa keeps
//     precomputed values of its own that cannot be wiped, and they become
//     garbage when the call returns.

// publicKeyOf returns the public key of a Public Key or Certificate
// object. The store keeps a public key as SubjectPublicKeyInfo; PKCS#1
// RSAPublicKey is accepted too, as Register may have kept what the client
// sent.
func publicKeyOf(o *objects.Object) (crypto.PublicKey, error) {
	if len(o.Public) == 0 {
		return nil, kmip.Errorf(kmip.ResultReasonKeyValueNotPresent, "object %s has no key value", o.ID)
	}
	if o.ObjectType == kmip.ObjectTypeCertificate {
		cert, err := certParse(o.Public)
		if err != nil {
			return nil, kmip.Errorf(kmip.ResultReasonCryptographicFailure, "certificate %s cannot be parsed", o.ID)
		}
		return cert.PublicKey, nil
	}
	if pub, err := x509.ParsePKIXPublicKey(o.Public); err == nil {
		return pub, nil
	}
	if pub, err := x509.ParsePKCS1PublicKey(o.Public); err == nil {
		return pub, nil
	}
	if pub, ok, err := parseSecp256k1SPKI(o.Public); ok && err == nil {
		return pub, nil
	}
	return nil, kmip.Errorf(kmip.ResultReasonCryptographicFailure, "public key %s cannot be parsed", o.ID)
}

// privateKeyOf unwraps o's private key into process memory. The caller
// must call the returned cleanup as soon as it is done.
func (c *cryptoOps) privateKeyOf(ctx context.Context, o *objects.Object) (crypto.Signer, func(), error) {
	if o.Wrapped == nil {
		return nil, nil, kmip.Errorf(kmip.ResultReasonKeyValueNotPresent, "object %s has no key value", o.ID)
	}
	der, err := c.s.hsm.Unwrap(ctx, fromStored(o.Wrapped))
	if err != nil {
		return nil, nil, cryptoHSMError("unwrap private key", err)
	}
	defer clear(der)
	var key any
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		key = k
	} else if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		key = k
	} else if k, err := x509.ParseECPrivateKey(der); err == nil {
		key = k
	} else if pub, ok := secp256k1PublicOfPKCS8(der); ok {
		// Go cannot sign on secp256k1 (the HSM does); the public half
		// still serves Signature Verify with a private key (verificationKey).
		return secp256k1PublicOnly{pub}, func() {}, nil
	} else {
		return nil, nil, kmip.Errorf(kmip.ResultReasonCryptographicFailure, "private key %s cannot be parsed", o.ID)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return k, func() { wipeRSA(k) }, nil
	case *ecdsa.PrivateKey:
		return k, func() { wipeECDSA(k) }, nil
	}
	return nil, nil, kmip.Errorf(kmip.ResultReasonCryptographicFailure, "private key %s is of an unsupported type", o.ID)
}

// secp256k1PublicOnly is the crypto.Signer privateKeyOf returns for a
// secp256k1 private key: only its public key is usable, as Go has no
// secp256k1 arithmetic for secret scalars. Sign always fails.
type secp256k1PublicOnly struct{ pub *secp256k1PublicKey }

// Public returns the public key the PKCS#8 carries.
func (k secp256k1PublicOnly) Public() crypto.PublicKey { return k.pub }

// Sign refuses: secp256k1 signatures are made by the HSM.
func (secp256k1PublicOnly) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errFamilyMismatch
}

func wipeInt(x *big.Int) {
	if x != nil {
		clear(x.Bits())
	}
}

func wipeRSA(k *rsa.PrivateKey) {
	wipeInt(k.D)
	for _, p := range k.Primes {
		wipeInt(p)
	}
	wipeInt(k.Precomputed.Dp)
	wipeInt(k.Precomputed.Dq)
	wipeInt(k.Precomputed.Qinv)
}

func wipeECDSA(k *ecdsa.PrivateKey) {
	wipeInt(k.D) //nolint:staticcheck // the deprecated field still holds the scalar, and must be wiped
}

// linkedID returns the Linked Object Identifier of o's first Link of the
// given type (KMIP 1.4 §3.35).
func linkedID(o *objects.Object, lt kmip.LinkType) (string, bool) {
	if ids := linkedIDs(o, lt); len(ids) > 0 {
		return ids[0], true
	}
	return "", false
}

// linkedIDs returns the Linked Object Identifiers of o's Links of type lt
// (KMIP 1.4 §3.35), in attribute order.
func linkedIDs(o *objects.Object, lt kmip.LinkType) []string {
	var ids []string
	for _, a := range o.AttrsNamed(attrLink) {
		t, ok1 := a.Value.Child(kmip.TagLinkType)
		id, ok2 := a.Value.Child(kmip.TagLinkedObjectIdentifier)
		if ok1 && ok2 && t.Type == ttlv.TypeEnumeration && kmip.LinkType(t.Enum()) == lt && id.Type == ttlv.TypeTextString {
			ids = append(ids, id.Text())
		}
	}
	return ids
}

// oaepOptions resolves RSAES-OAEP parameters (KMIP 1.4 §3.6): Hashing
// Algorithm for the label hash (SHA-1 when omitted, as in RFC 8017), Mask
// Generator MGF1 with Mask Generator Hashing Algorithm (SHA-1 when
// omitted, §3.6), P Source as the label.
func oaepOptions(p cryptoParams) (*rsa.OAEPOptions, error) {
	h, mgf := crypto.SHA1, crypto.SHA1
	if p.hash != 0 {
		var ok bool
		if h, ok = goHash(p.hash); !ok {
			return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "hashing algorithm %v is not supported", p.hash)
		}
	}
	if p.mgf != 0 && p.mgf != kmip.MaskGeneratorMGF1 {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "mask generator %v is not supported", p.mgf)
	}
	if p.mgfHash != 0 {
		var ok bool
		if mgf, ok = goHash(p.mgfHash); !ok {
			return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "mask generator hashing algorithm %v is not supported", p.mgfHash)
		}
	}
	return &rsa.OAEPOptions{Hash: h, MGFHash: mgf, Label: p.pSource}, nil
}

// rsaEncrypt encrypts msg under pub with RSAES-OAEP or RSAES-PKCS1-v1_5.
// Raw RSA (Padding Method None) is refused.
func rsaEncrypt(pub *rsa.PublicKey, p cryptoParams, msg []byte) ([]byte, error) {
	var out []byte
	var err error
	switch p.padding {
	case kmip.PaddingMethodOAEP:
		opts, oerr := oaepOptions(p)
		if oerr != nil {
			return nil, oerr
		}
		out, err = rsa.EncryptOAEPWithOptions(rand.Reader, pub, msg, opts)
	case kmip.PaddingMethodPKCS1V15:
		// Deprecated in Go 1.26, but KMIP offers Padding Method PKCS1 v1.5
		// and clients use it; encryption is no oracle.
		out, err = rsa.EncryptPKCS1v15(rand.Reader, pub, msg) //nolint:staticcheck // KMIP 1.4 §9.1.3.2.15 PKCS1 v1.5 interoperability
	case 0:
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "RSA encryption needs a padding method (OAEP or PKCS1 v1.5)")
	default:
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "padding method %v is not supported for RSA encryption", p.padding)
	}
	if err != nil {
		return nil, kmip.Errorf(kmip.ResultReasonCryptographicFailure, "RSA encryption failed")
	}
	return out, nil
}

// rsaDecrypt decrypts ct with priv. Every failure is the same Cryptographic
// Failure, so the reason tells no more than the spec requires.
func rsaDecrypt(priv *rsa.PrivateKey, p cryptoParams, ct []byte) ([]byte, error) {
	var out []byte
	var err error
	switch p.padding {
	case kmip.PaddingMethodOAEP:
		opts, oerr := oaepOptions(p)
		if oerr != nil {
			return nil, oerr
		}
		out, err = priv.Decrypt(nil, ct, opts)
	case kmip.PaddingMethodPKCS1V15:
		// Deprecated in Go 1.26 as a padding oracle (Bleichenbacher). Here
		// the oracle gives nothing: it answers only callers allowed to
		// Decrypt with the key, who get the plaintext anyway.
		out, err = rsa.DecryptPKCS1v15(nil, priv, ct) //nolint:staticcheck // KMIP PKCS1 v1.5 interoperability; see above
	case 0:
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "RSA decryption needs a padding method (OAEP or PKCS1 v1.5)")
	default:
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "padding method %v is not supported for RSA decryption", p.padding)
	}
	if err != nil {
		return nil, kmip.Errorf(kmip.ResultReasonCryptographicFailure, "RSA decryption failed")
	}
	return out, nil
}

// sigSpec is a resolved signature scheme.
type sigSpec struct {
	scheme sigScheme
	// hash is the message digest; 0 means the digested data is signed as
	// is (raw PKCS#1 v1.5 or ECDSA over a client-made digest).
	hash crypto.Hash
	// salt is the PSS salt length; saltDefault when not given.
	salt int
}

const saltDefault = -1

// keyFamily is what kind of signing key an object or public key is.
type keyFamily int

const (
	familyRSA keyFamily = iota + 1
	familyEC
)

func familyOfAlgorithm(a kmip.CryptographicAlgorithm) keyFamily {
	switch a {
	case kmip.CryptographicAlgorithmRSA:
		return familyRSA
	case kmip.CryptographicAlgorithmEC, kmip.CryptographicAlgorithmECDSA:
		return familyEC
	default:
		return 0
	}
}

func familyOfKey(pub crypto.PublicKey) keyFamily {
	switch pub.(type) {
	case *rsa.PublicKey:
		return familyRSA
	case *ecdsa.PublicKey, *secp256k1PublicKey:
		return familyEC
	}
	return 0
}

// resolveSignature turns Cryptographic Parameters into a scheme for a key
// of family f with curve or modulus bits, signing data or, when digested,
// a digest of digestLen bytes (KMIP 1.4 §3.6: "either the Digital Signature
// Algorithm can be specified or the Cryptographic Algorithm and Hashing
// Algorithm combination"). Defaults when the parameters are silent:
// PKCS#1 v1.5 for RSA; SHA-256 for RSA data, and for ECDSA data the hash
// that matches the curve (FIPS 186-4 §6.4). Digested data without a
// hashing algorithm is signed as is. A scheme that does not fit the key is
// errFamilyMismatch.
func resolveSignature(f keyFamily, bits int, p cryptoParams, digested bool, digestLen int) (sigSpec, error) {
	sp := sigSpec{salt: saltDefault}
	if p.sigAlg != 0 {
		var ok bool
		if sp.scheme, sp.hash, ok = digitalSignature(p.sigAlg); !ok {
			return sp, kmip.Errorf(kmip.ResultReasonInvalidField, "digital signature algorithm %v is not supported", p.sigAlg)
		}
	} else {
		switch familyOfAlgorithm(p.alg) {
		case 0:
			if p.alg != 0 {
				return sp, kmip.Errorf(kmip.ResultReasonInvalidField, "cryptographic algorithm %v is not a signature algorithm", p.alg)
			}
		case f:
		default:
			return sp, errFamilyMismatch
		}
		switch f {
		case familyRSA:
			switch p.padding {
			case 0, kmip.PaddingMethodPKCS1V15:
				sp.scheme = sigRSAPKCS1v15
			case kmip.PaddingMethodPSS:
				sp.scheme = sigRSAPSS
			default:
				return sp, kmip.Errorf(kmip.ResultReasonInvalidField, "padding method %v is not supported for RSA signatures", p.padding)
			}
		case familyEC:
			sp.scheme = sigECDSA
		default:
			return sp, errFamilyMismatch
		}
	}
	if (sp.scheme == sigECDSA) != (f == familyEC) {
		return sp, errFamilyMismatch
	}
	if sp.hash == 0 && p.hash != 0 {
		var ok bool
		if sp.hash, ok = goHash(p.hash); !ok {
			return sp, kmip.Errorf(kmip.ResultReasonInvalidField, "hashing algorithm %v is not supported", p.hash)
		}
	}
	if sp.hash == 0 {
		switch {
		case digested && sp.scheme == sigRSAPSS:
			// PSS needs the hash; a digest's length names it.
			sp.hash = hashOfLength(digestLen)
			if sp.hash == 0 {
				return sp, kmip.Errorf(kmip.ResultReasonInvalidField, "digested data of %d bytes matches no hash", digestLen)
			}
		case digested:
		case f == familyEC && bits > 384:
			sp.hash = crypto.SHA512
		case f == familyEC && bits > 256:
			sp.hash = crypto.SHA384
		default:
			sp.hash = crypto.SHA256
		}
	}
	if digested && sp.hash != 0 && digestLen != sp.hash.Size() {
		return sp, kmip.Errorf(kmip.ResultReasonInvalidField, "digested data of %d bytes does not fit %v", digestLen, sp.hash)
	}
	if sp.scheme == sigRSAPSS {
		if p.mgf != 0 && p.mgf != kmip.MaskGeneratorMGF1 {
			return sp, kmip.Errorf(kmip.ResultReasonInvalidField, "mask generator %v is not supported", p.mgf)
		}
		// RFC 8017 §9.1 recommends MGF1 over the message hash, which is
		// what PSS implementations (the HSM's, Go's) use; KMIP's default
		// of SHA-1 for an omitted Mask Generator Hashing Algorithm is not
		// applied to PSS, as the OASIS vectors show (CS-AC-M-2).
		if p.mgfHash != 0 {
			if mh, ok := goHash(p.mgfHash); !ok || mh != sp.hash {
				return sp, kmip.Errorf(kmip.ResultReasonInvalidField, "PSS with a mask generator hash other than the message hash is not supported")
			}
		}
		if p.hasTrailer && p.trailer != 1 {
			return sp, kmip.Errorf(kmip.ResultReasonInvalidField, "PSS trailer field %d is not supported", p.trailer)
		}
		if p.hasSaltLength {
			sp.salt = int(p.saltLength)
		}
	}
	return sp, nil
}

// errFamilyMismatch: the parameters name a scheme of another key type.
// Sign answers Invalid Field; Signature Verify answers Invalid, as the
// OASIS vectors do (TC-ECDSA-SIGN-DIGESTEDDATA-1: PSS parameters against
// an EC key verify as Invalid).
var errFamilyMismatch = kmip.Errorf(kmip.ResultReasonInvalidField, "the signature parameters do not fit the key")

// hashOfLength names the SHA-2 hash with an n-byte output.
func hashOfLength(n int) crypto.Hash {
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA224, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		if h.Size() == n {
			return h
		}
	}
	return 0
}

// digestOf returns the digest to sign or verify: the digested data as
// given, or the hash of the data.
func digestOf(sp sigSpec, data []byte, digested bool) []byte {
	if digested || sp.hash == 0 {
		return data
	}
	h := sp.hash.New()
	h.Write(data)
	return h.Sum(nil)
}

// verifySignature checks sig in Go with the public key. Any failure,
// including a scheme that does not fit the key, is simply invalid.
func verifySignature(pub crypto.PublicKey, sp sigSpec, digest, sig []byte) bool {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch sp.scheme {
		case sigRSAPKCS1v15:
			return rsa.VerifyPKCS1v15(k, sp.hash, digest, sig) == nil
		case sigRSAPSS:
			salt := sp.salt
			if salt == saltDefault {
				salt = rsa.PSSSaltLengthAuto
			}
			return rsa.VerifyPSS(k, sp.hash, digest, sig, &rsa.PSSOptions{SaltLength: salt, Hash: sp.hash}) == nil
		default:
			return false
		}
	case *ecdsa.PublicKey:
		if sp.scheme != sigECDSA {
			return false
		}
		if ecdsa.VerifyASN1(k, digest, sig) {
			return true
		}
		// PKCS#11 and some clients send r||s rather than DER.
		n := (k.Curve.Params().BitSize + 7) / 8
		if len(sig) == 2*n {
			r, s := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
			return ecdsa.Verify(k, digest, r, s)
		}
	case *secp256k1PublicKey:
		return sp.scheme == sigECDSA && verifySecp256k1(k, digest, sig)
	}
	return false
}

// signSoftware signs with the private key in Go, for the PSS cases the HSM
// cannot do.
func signSoftware(priv crypto.Signer, sp sigSpec, digest []byte) ([]byte, error) {
	k, ok := priv.(*rsa.PrivateKey)
	if !ok || sp.scheme != sigRSAPSS {
		return nil, errFamilyMismatch
	}
	salt := sp.salt
	if salt == saltDefault {
		salt = rsa.PSSSaltLengthEqualsHash
	}
	sig, err := rsa.SignPSS(rand.Reader, k, sp.hash, digest, &rsa.PSSOptions{SaltLength: salt, Hash: sp.hash})
	if err != nil {
		if errors.Is(err, rsa.ErrMessageTooLong) {
			return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "PSS salt of %d bytes does not fit the key", salt)
		}
		return nil, kmip.Errorf(kmip.ResultReasonCryptographicFailure, "PSS signature failed")
	}
	return sig, nil
}

// curveBits returns the size of an EC key for default hash selection.
func curveBits(pub crypto.PublicKey) int {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return k.Curve.Params().BitSize
	case *secp256k1PublicKey:
		return secp256k1Bits
	}
	return 0
}

// digestInfoOIDs are the AlgorithmIdentifier OIDs of RFC 8017 §9.2 note 1
// and NIST's hash OID arc (2.16.840.1.101.3.4.2).
var digestInfoOIDs = map[crypto.Hash]asn1.ObjectIdentifier{
	crypto.SHA1:       {1, 3, 14, 3, 2, 26},
	crypto.SHA256:     {2, 16, 840, 1, 101, 3, 4, 2, 1},
	crypto.SHA384:     {2, 16, 840, 1, 101, 3, 4, 2, 2},
	crypto.SHA512:     {2, 16, 840, 1, 101, 3, 4, 2, 3},
	crypto.SHA224:     {2, 16, 840, 1, 101, 3, 4, 2, 4},
	crypto.SHA512_224: {2, 16, 840, 1, 101, 3, 4, 2, 5},
	crypto.SHA512_256: {2, 16, 840, 1, 101, 3, 4, 2, 6},
	crypto.SHA3_224:   {2, 16, 840, 1, 101, 3, 4, 2, 7},
	crypto.SHA3_256:   {2, 16, 840, 1, 101, 3, 4, 2, 8},
	crypto.SHA3_384:   {2, 16, 840, 1, 101, 3, 4, 2, 9},
	crypto.SHA3_512:   {2, 16, 840, 1, 101, 3, 4, 2, 10},
}

// digestInfo encodes DigestInfo ::= SEQUENCE { digestAlgorithm
// AlgorithmIdentifier (parameters NULL), digest OCTET STRING } (RFC 8017
// §9.2 step 2), what RSASSA-PKCS1-v1_5 signs. A zero hash returns the
// digest unchanged: the client gave what is to be signed.
func digestInfo(h crypto.Hash, digest []byte) ([]byte, error) {
	if h == 0 {
		return digest, nil
	}
	oid, ok := digestInfoOIDs[h]
	if !ok {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "hash %v is not supported for PKCS#1 v1.5 signatures", h)
	}
	type algID struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.RawValue
	}
	return asn1.Marshal(struct {
		Alg    algID
		Digest []byte
	}{algID{oid, asn1.NullRawValue}, digest})
}
