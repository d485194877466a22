package service

import (
	"crypto"
	_ "crypto/sha1" //nolint:gosec // SHA-1 stays for HMAC-SHA1 and legacy signatures, as KMIP names them; registers the hash so crypto.Hash.New never panics
	_ "crypto/sha256"
	_ "crypto/sha3"
	_ "crypto/sha512"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// This file parses the Cryptographic Parameters structure (KMIP 1.4 §3.6,
// 2.0 §7.6) and maps its enumerations onto the Go and hsmbackend
// vocabulary. It knows nothing of keys or the HSM.

// cryptoParams is a parsed Cryptographic Parameters structure. A zero field
// was absent; the has* flags tell absence from an explicit zero where the
// zero is meaningful.
type cryptoParams struct {
	mode    kmip.BlockCipherMode
	padding kmip.PaddingMethod
	hash    kmip.HashingAlgorithm
	sigAlg  kmip.DigitalSignatureAlgorithm
	alg     kmip.CryptographicAlgorithm

	randomIV bool
	// ivLength is in bits (KMIP 1.4 §3.6 "IV Length is the length of the
	// Initialization Vector in bits").
	ivLength    int32
	hasIVLength bool
	// tagLength is in bytes (§3.6 "Tag Length is the length of the
	// authentication tag in bytes").
	tagLength    int32
	hasTagLength bool
	// counterLength is in bits.
	counterLength    int32
	hasCounterLength bool
	initialCounter   int32
	hasInitialCtr    bool

	saltLength    int32
	hasSaltLength bool
	mgf           kmip.MaskGenerator
	mgfHash       kmip.HashingAlgorithm
	pSource       []byte
	trailer       int32
	hasTrailer    bool
}

// parseCryptoParams decodes a Cryptographic Parameters structure. A field
// of the wrong type, a repeated field or a negative length is Invalid
// Field; unknown fields are ignored (KMIP 1.4 §11.1 allows it for newer
// minor versions, and being lenient costs nothing here).
func parseCryptoParams(v ttlv.Value) (cryptoParams, error) {
	var p cryptoParams
	if v.Type != ttlv.TypeStructure {
		return p, kmip.Errorf(kmip.ResultReasonInvalidField, "cryptographic parameters: not a structure")
	}
	seen := make(map[ttlv.Tag]bool, len(v.Children()))
	for _, f := range v.Children() {
		if seen[f.Tag] {
			return p, kmip.Errorf(kmip.ResultReasonInvalidMessage, "cryptographic parameters: %s repeated", kmip.TagString(f.Tag))
		}
		seen[f.Tag] = true
		var err error
		switch f.Tag {
		case kmip.TagBlockCipherMode:
			err = cryptoWant(f, ttlv.TypeEnumeration)
			p.mode = kmip.BlockCipherMode(f.Enum())
		case kmip.TagPaddingMethod:
			err = cryptoWant(f, ttlv.TypeEnumeration)
			p.padding = kmip.PaddingMethod(f.Enum())
		case kmip.TagHashingAlgorithm:
			err = cryptoWant(f, ttlv.TypeEnumeration)
			p.hash = kmip.HashingAlgorithm(f.Enum())
		case kmip.TagDigitalSignatureAlgorithm:
			err = cryptoWant(f, ttlv.TypeEnumeration)
			p.sigAlg = kmip.DigitalSignatureAlgorithm(f.Enum())
		case kmip.TagCryptographicAlgorithm:
			err = cryptoWant(f, ttlv.TypeEnumeration)
			p.alg = kmip.CryptographicAlgorithm(f.Enum())
		case kmip.TagRandomIV:
			err = cryptoWant(f, ttlv.TypeBoolean)
			p.randomIV = f.Bool()
		case kmip.TagIVLength:
			p.ivLength, p.hasIVLength, err = cryptoLength(f)
		case kmip.TagTagLength:
			p.tagLength, p.hasTagLength, err = cryptoLength(f)
		case kmip.TagCounterLength:
			p.counterLength, p.hasCounterLength, err = cryptoLength(f)
		case kmip.TagInitialCounterValue:
			p.initialCounter, p.hasInitialCtr, err = cryptoLength(f)
		case kmip.TagSaltLength:
			p.saltLength, p.hasSaltLength, err = cryptoLength(f)
		case kmip.TagMaskGenerator:
			err = cryptoWant(f, ttlv.TypeEnumeration)
			p.mgf = kmip.MaskGenerator(f.Enum())
		case kmip.TagMaskGeneratorHashingAlgorithm:
			err = cryptoWant(f, ttlv.TypeEnumeration)
			p.mgfHash = kmip.HashingAlgorithm(f.Enum())
		case kmip.TagPSource:
			err = cryptoWant(f, ttlv.TypeByteString)
			p.pSource = f.Bytes()
		case kmip.TagTrailerField:
			p.trailer, p.hasTrailer, err = cryptoLength(f)
		}
		if err != nil {
			return cryptoParams{}, err
		}
	}
	return p, nil
}

// cryptoWant checks a field's item type.
func cryptoWant(v ttlv.Value, t ttlv.Type) error {
	if v.Type != t {
		return kmip.Errorf(kmip.ResultReasonInvalidField, "%s has the wrong type", kmip.TagString(v.Tag))
	}
	return nil
}

// cryptoLength reads a non-negative Integer.
func cryptoLength(v ttlv.Value) (int32, bool, error) {
	if err := cryptoWant(v, ttlv.TypeInteger); err != nil {
		return 0, false, err
	}
	if v.Int() < 0 {
		return 0, false, kmip.Errorf(kmip.ResultReasonInvalidField, "%s is negative", kmip.TagString(v.Tag))
	}
	return v.Int(), true, nil
}

// effectiveParams is the request's Cryptographic Parameters, or when the
// request has none, the object's instance with the lowest Attribute Index
// (KMIP 1.4 §4.29-4.34: "If omitted then the Cryptographic Parameters
// associated with the Managed Cryptographic Object with the lowest
// Attribute Index SHALL be used"). The request's structure replaces the
// stored one as a whole; fields are not merged.
func effectiveParams(o *objects.Object, r *cryptoRequest) (cryptoParams, error) {
	if r.hasParams {
		return r.params, nil
	}
	if o == nil {
		return cryptoParams{}, nil
	}
	a, ok := o.Attr(attrCryptoParameters)
	if !ok {
		return cryptoParams{}, nil
	}
	p, err := parseCryptoParams(a.Value)
	if err != nil {
		// A stored value that does not parse is the server's problem,
		// not the client's.
		return cryptoParams{}, kmip.Errorf(kmip.ResultReasonCryptographicFailure, "stored cryptographic parameters of %s are malformed", o.ID)
	}
	return p, nil
}

// goHash maps a KMIP Hashing Algorithm to a Go hash. SHA-1 stays for
// verifying and HMAC with legacy keys; MD2/MD4/MD5, RIPEMD, Tiger and
// Whirlpool are not offered.
func goHash(h kmip.HashingAlgorithm) (crypto.Hash, bool) {
	switch h {
	case kmip.HashingAlgorithmSHA1:
		return crypto.SHA1, true
	case kmip.HashingAlgorithmSHA224:
		return crypto.SHA224, true
	case kmip.HashingAlgorithmSHA256:
		return crypto.SHA256, true
	case kmip.HashingAlgorithmSHA384:
		return crypto.SHA384, true
	case kmip.HashingAlgorithmSHA512:
		return crypto.SHA512, true
	case kmip.HashingAlgorithmSHA512224:
		return crypto.SHA512_224, true
	case kmip.HashingAlgorithmSHA512256:
		return crypto.SHA512_256, true
	case kmip.HashingAlgorithmSHA3224:
		return crypto.SHA3_224, true
	case kmip.HashingAlgorithmSHA3256:
		return crypto.SHA3_256, true
	case kmip.HashingAlgorithmSHA3384:
		return crypto.SHA3_384, true
	case kmip.HashingAlgorithmSHA3512:
		return crypto.SHA3_512, true
	default:
		return 0, false
	}
}

// hmacHash maps an HMAC Cryptographic Algorithm to its hash (KMIP 1.4
// §9.1.3.2.13). HMAC-MD5 is refused.
func hmacHash(a kmip.CryptographicAlgorithm) (crypto.Hash, bool) {
	switch a {
	case kmip.CryptographicAlgorithmHMACSHA1:
		return crypto.SHA1, true
	case kmip.CryptographicAlgorithmHMACSHA224:
		return crypto.SHA224, true
	case kmip.CryptographicAlgorithmHMACSHA256:
		return crypto.SHA256, true
	case kmip.CryptographicAlgorithmHMACSHA384:
		return crypto.SHA384, true
	case kmip.CryptographicAlgorithmHMACSHA512:
		return crypto.SHA512, true
	default:
		return 0, false
	}
}

// sigScheme is a signature scheme resolved from the parameters.
type sigScheme int

const (
	sigRSAPKCS1v15 sigScheme = iota + 1
	sigRSAPSS
	sigECDSA
)

// digitalSignature maps a Digital Signature Algorithm (KMIP 1.4 §3.6: it
// may stand for Cryptographic Algorithm plus Hashing Algorithm) to a
// scheme and hash. For RSASSA-PSS the hash comes from Hashing Algorithm.
func digitalSignature(d kmip.DigitalSignatureAlgorithm) (sigScheme, crypto.Hash, bool) {
	switch d {
	case kmip.DigitalSignatureAlgorithmSHA1WithRSAEncryption:
		return sigRSAPKCS1v15, crypto.SHA1, true
	case kmip.DigitalSignatureAlgorithmSHA224WithRSAEncryption:
		return sigRSAPKCS1v15, crypto.SHA224, true
	case kmip.DigitalSignatureAlgorithmSHA256WithRSAEncryption:
		return sigRSAPKCS1v15, crypto.SHA256, true
	case kmip.DigitalSignatureAlgorithmSHA384WithRSAEncryption:
		return sigRSAPKCS1v15, crypto.SHA384, true
	case kmip.DigitalSignatureAlgorithmSHA512WithRSAEncryption:
		return sigRSAPKCS1v15, crypto.SHA512, true
	case kmip.DigitalSignatureAlgorithmRSASSAPSS:
		return sigRSAPSS, 0, true
	case kmip.DigitalSignatureAlgorithmECDSAWithSHA1:
		return sigECDSA, crypto.SHA1, true
	case kmip.DigitalSignatureAlgorithmECDSAWithSHA224:
		return sigECDSA, crypto.SHA224, true
	case kmip.DigitalSignatureAlgorithmECDSAWithSHA256:
		return sigECDSA, crypto.SHA256, true
	case kmip.DigitalSignatureAlgorithmECDSAWithSHA384:
		return sigECDSA, crypto.SHA384, true
	case kmip.DigitalSignatureAlgorithmECDSAWithSHA512:
		return sigECDSA, crypto.SHA512, true
	default:
		return 0, 0, false
	}
}

// objectAlgorithm returns the object's Cryptographic Algorithm attribute,
// 0 when absent.
func objectAlgorithm(o *objects.Object) kmip.CryptographicAlgorithm {
	if a, ok := o.Attr(attrCryptoAlgorithm); ok && a.Value.Type == ttlv.TypeEnumeration {
		return kmip.CryptographicAlgorithm(a.Value.Enum())
	}
	return 0
}

// objectLength returns the object's Cryptographic Length attribute, 0
// when absent.
func objectLength(o *objects.Object) int {
	if a, ok := o.Attr(attrCryptoLength); ok && a.Value.Type == ttlv.TypeInteger {
		return int(a.Value.Int())
	}
	return 0
}
