package pkcs12

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/pbkdf2"
	cryptorand "crypto/rand"
	"crypto/sha1" //nolint:gosec // G505: localKeyId is an identifier, not a security function (see bagAttributes)
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
)

// ErrPassword is returned, wrapped, for a password a PKCS#12 file cannot
// hold (see Encode), and by Decode for a wrong password; the message never
// quotes the password.
var ErrPassword = errors.New("pkcs12: the password cannot be used")

// defaultFriendlyName is the friendlyName Encode writes when
// Options.FriendlyName is empty: KMIP 2.0 §4.39 (PKCS#12 Friendly Name)
// gives "alias" as the default.
const defaultFriendlyName = "alias"

// defaultIterations is the PBKDF2 and MAC iteration count Encode uses when
// Options.Iterations is 0. RFC 8018 §4.2 recommends at least 1000; OpenSSL 3
// writes 2048. 10000 makes a password guess five times dearer than OpenSSL's
// default while one Encode (one PBKDF2 and one PKCS#12 KDF run) still costs
// only a few milliseconds of server CPU per KMIP Get.
const defaultIterations = 10000

// maxIterations bounds Options.Iterations, so that a request cannot make a
// single Encode burn minutes of CPU.
const maxIterations = 10_000_000

// Sizes of the random values and keys (RFC 8018 §4.1 asks for a salt of at
// least 64 bits; 128 bits matches OpenSSL 3).
const (
	saltSize   = 16
	aes256Size = 32
	macKeySize = sha256.Size // RFC 7292 Appendix B.2: the MAC key is as long as the hash output
)

// Object identifiers (RFC 7292 Appendix D, RFC 8018 Appendix C, RFC 2985,
// NIST CSOR).
var (
	oidData                = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidPKCS8ShroudedKeyBag = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}
	oidCertBag             = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 3}
	oidX509Certificate     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 22, 1}
	oidFriendlyName        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 20}
	oidLocalKeyID          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 21}
	oidPBES2               = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2              = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACWithSHA256      = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidAES256CBC           = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidSHA256              = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
)

// ASN.1 structures of RFC 7292 §4 and RFC 8018 Appendix A. encoding/asn1
// ignores the explicit tag on a RawValue field when marshalling, so [0]
// EXPLICIT contents are built by explicit0.

// pfx is PFX (RFC 7292 §4).
type pfx struct {
	Version  int
	AuthSafe contentInfo
	MacData  macData
}

// contentInfo is ContentInfo (RFC 2315 §7), here always of type data.
type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue
}

// macData is MacData (RFC 7292 §4).
type macData struct {
	Mac        digestInfo
	MacSalt    []byte
	Iterations int
}

// digestInfo is DigestInfo (RFC 2315 §9.4).
type digestInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	Digest    []byte
}

// safeBag is SafeBag (RFC 7292 §4.2).
type safeBag struct {
	ID         asn1.ObjectIdentifier
	Value      asn1.RawValue
	Attributes []attribute `asn1:"set,optional"`
}

// attribute is PKCS12Attribute (RFC 7292 §4.2) with a single value.
type attribute struct {
	ID     asn1.ObjectIdentifier
	Values asn1.RawValue // SET OF, built by setOf
}

// certBag is CertBag (RFC 7292 §4.2.3).
type certBag struct {
	ID    asn1.ObjectIdentifier
	Value asn1.RawValue
}

// encryptedPrivateKeyInfo is EncryptedPrivateKeyInfo (RFC 5208 §6).
type encryptedPrivateKeyInfo struct {
	Algorithm     pkix.AlgorithmIdentifier
	EncryptedData []byte
}

// pbes2Params is PBES2-params (RFC 8018 Appendix A.4).
type pbes2Params struct {
	KeyDerivationFunc pkix.AlgorithmIdentifier
	EncryptionScheme  pkix.AlgorithmIdentifier
}

// pbkdf2Params is PBKDF2-params (RFC 8018 Appendix A.2) with a specified
// salt, an explicit key length and the PRF written out (its default is
// hmacWithSHA1).
type pbkdf2Params struct {
	Salt           []byte
	IterationCount int
	KeyLength      int
	PRF            pkix.AlgorithmIdentifier
}

// Options tune Encode; the zero value is sensible.
type Options struct {
	// FriendlyName is the friendlyName bag attribute (RFC 2985 §5.5.1) of
	// the key and the leaf certificate; "" means "alias" (KMIP 2.0 §4.39).
	// It must be valid UTF-8 of non-NUL characters of the Basic
	// Multilingual Plane, as a BMPString can hold.
	FriendlyName string
	// Iterations is the PBKDF2 and MAC iteration count; 0 means 10000 (see
	// defaultIterations for why). Otherwise it must be between 1 and
	// 10,000,000.
	Iterations int
}

// Encode returns a DER PFX holding privateKeyPKCS8 (a DER PrivateKeyInfo,
// RFC 5208) and certs (DER X.509 certificates, leaf first; may be empty),
// protected by password.
//
// The key is encrypted with PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC, RFC 8018
// §6.2) under the UTF-8 bytes of password; the whole file is authenticated
// with HMAC-SHA256 keyed by the PKCS#12 KDF (RFC 7292 §5.1, Appendix B) over
// the BMPString of password. The password must be valid UTF-8 of non-NUL
// characters of the Basic Multilingual Plane; it may be empty. rand supplies
// the salts and the IV; nil means crypto/rand.Reader.
//
// Encode keeps neither privateKeyPKCS8 nor password (a byte slice so that
// the caller can clear it), and clears every buffer of its own that held
// key material or derived keys.
func Encode(rand io.Reader, privateKeyPKCS8 []byte, certs [][]byte, password []byte, opts Options) ([]byte, error) {
	iterations, friendlyName, err := resolveOptions(opts)
	if err != nil {
		return nil, err
	}
	if err := checkInputs(privateKeyPKCS8, certs); err != nil {
		return nil, err
	}
	bmpPass, err := bmpPassword(password)
	if err != nil {
		return nil, err
	}
	defer clear(bmpPass)
	if rand == nil {
		rand = cryptorand.Reader
	}

	attrs, err := bagAttributes(friendlyName, certs)
	if err != nil {
		return nil, err
	}
	var safes []contentInfo
	if len(certs) > 0 {
		ci, err := certificatesContentInfo(certs, attrs)
		if err != nil {
			return nil, err
		}
		safes = append(safes, ci)
	}
	keyCI, err := keyContentInfo(rand, privateKeyPKCS8, password, iterations, attrs)
	if err != nil {
		return nil, err
	}
	safes = append(safes, keyCI)

	authSafe, err := asn1.Marshal(safes)
	if err != nil {
		return nil, fmt.Errorf("pkcs12: encode AuthenticatedSafe: %w", err)
	}
	mac, err := computeMacData(rand, authSafe, bmpPass, iterations)
	if err != nil {
		return nil, err
	}
	authSafeCI, err := dataContentInfo(authSafe)
	if err != nil {
		return nil, err
	}
	out, err := asn1.Marshal(pfx{Version: 3, AuthSafe: authSafeCI, MacData: mac})
	if err != nil {
		return nil, fmt.Errorf("pkcs12: encode PFX: %w", err)
	}
	return out, nil
}

// resolveOptions applies the defaults of Options and checks the values.
func resolveOptions(opts Options) (iterations int, friendlyName string, err error) {
	iterations = opts.Iterations
	switch {
	case iterations == 0:
		iterations = defaultIterations
	case iterations < 0 || iterations > maxIterations:
		return 0, "", fmt.Errorf("pkcs12: iteration count %d out of range: use 1 to %d, or 0 for the default %d", opts.Iterations, maxIterations, defaultIterations)
	}
	friendlyName = opts.FriendlyName
	if friendlyName == "" {
		friendlyName = defaultFriendlyName
	}
	return iterations, friendlyName, nil
}

// checkInputs refuses a key that is not a PKCS#8 PrivateKeyInfo and
// certificates that are not X.509, so that Encode never wraps bytes a reader
// would reject only after the password was typed.
func checkInputs(privateKeyPKCS8 []byte, certs [][]byte) error {
	if len(privateKeyPKCS8) == 0 {
		return errors.New("pkcs12: empty private key: pass a DER PKCS#8 PrivateKeyInfo")
	}
	// The parsed key is dropped at once; only the check matters. Its
	// big.Int copies cannot be cleared, which is the price of the check.
	if _, err := x509.ParsePKCS8PrivateKey(privateKeyPKCS8); err != nil {
		return fmt.Errorf("pkcs12: private key is not a DER PKCS#8 PrivateKeyInfo (RFC 5208): %w", err)
	}
	for i, der := range certs {
		if _, err := x509.ParseCertificate(der); err != nil {
			return fmt.Errorf("pkcs12: certificate %d of %d is not a DER X.509 certificate: %w", i+1, len(certs), err)
		}
	}
	return nil
}

// bagAttributes returns the attributes of the key bag and of the leaf
// certificate's bag: friendlyName, and, when there is a certificate,
// localKeyId. Readers (OpenSSL's PKCS12_parse, and so Python's
// cryptography) pair the key with its certificate through an equal
// localKeyId (RFC 2985 §5.5.2); like OpenSSL we use the SHA-1 of the leaf.
func bagAttributes(friendlyName string, certs [][]byte) ([]attribute, error) {
	name, err := bmpString(friendlyName)
	if err != nil {
		return nil, fmt.Errorf("pkcs12: friendly name: %w", err)
	}
	nameAttr, err := newAttribute(oidFriendlyName, asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagBMPString, Bytes: name})
	if err != nil {
		return nil, err
	}
	attrs := []attribute{nameAttr}
	if len(certs) > 0 {
		// localKeyId links the key bag to its certificate's bag; OpenSSL
		// writes the SHA-1 of the certificate, and readers only compare it.
		id := sha1.Sum(certs[0]) //nolint:gosec // G401: an identifier, not a security function
		idAttr, err := newAttribute(oidLocalKeyID, id[:])
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, idAttr)
	}
	return attrs, nil
}

// newAttribute returns an attribute with the single value v.
func newAttribute(id asn1.ObjectIdentifier, v any) (attribute, error) {
	der, err := asn1.Marshal(v)
	if err != nil {
		return attribute{}, fmt.Errorf("pkcs12: encode attribute %v: %w", id, err)
	}
	return attribute{ID: id, Values: asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: der}}, nil
}

// certificatesContentInfo returns a data ContentInfo whose SafeContents
// holds one certBag per certificate (RFC 7292 §4.2.3), the leaf's with
// leafAttrs.
func certificatesContentInfo(certs [][]byte, leafAttrs []attribute) (contentInfo, error) {
	bags := make([]safeBag, 0, len(certs))
	for i, der := range certs {
		wrapped, err := asn1.Marshal(der) // certValue is an OCTET STRING holding the DER certificate
		if err != nil {
			return contentInfo{}, fmt.Errorf("pkcs12: encode certificate %d: %w", i+1, err)
		}
		value, err := asn1.Marshal(certBag{ID: oidX509Certificate, Value: explicit0(wrapped)})
		if err != nil {
			return contentInfo{}, fmt.Errorf("pkcs12: encode CertBag %d: %w", i+1, err)
		}
		bag := safeBag{ID: oidCertBag, Value: explicit0(value)}
		if i == 0 {
			bag.Attributes = leafAttrs
		}
		bags = append(bags, bag)
	}
	contents, err := asn1.Marshal(bags)
	if err != nil {
		return contentInfo{}, fmt.Errorf("pkcs12: encode certificate SafeContents: %w", err)
	}
	return dataContentInfo(contents)
}

// keyContentInfo returns a data ContentInfo whose SafeContents holds the
// key as a pkcs8ShroudedKeyBag (RFC 7292 §4.2.2). The bag needs no outer
// encryption: its content is already encrypted, and it sits in a data
// ContentInfo just as OpenSSL writes it.
func keyContentInfo(rand io.Reader, privateKeyPKCS8 []byte, password []byte, iterations int, attrs []attribute) (contentInfo, error) {
	shrouded, err := encryptPrivateKey(rand, privateKeyPKCS8, password, iterations)
	if err != nil {
		return contentInfo{}, err
	}
	contents, err := asn1.Marshal([]safeBag{{ID: oidPKCS8ShroudedKeyBag, Value: explicit0(shrouded), Attributes: attrs}})
	if err != nil {
		return contentInfo{}, fmt.Errorf("pkcs12: encode key SafeContents: %w", err)
	}
	return dataContentInfo(contents)
}

// encryptPrivateKey returns the DER EncryptedPrivateKeyInfo of
// privateKeyPKCS8 under PBES2 (RFC 8018 §6.2.1): PBKDF2 (§5.2) with
// hmacWithSHA256 derives an AES-256 key from the UTF-8 bytes of password,
// which encrypts the key in CBC mode with PKCS#7 padding (RFC 8018 §6.2.1
// step 4). PBES2 takes the password as an octet string; OpenSSL and
// cryptography pass UTF-8, unlike the BMPString of the PKCS#12 KDF.
func encryptPrivateKey(rand io.Reader, privateKeyPKCS8 []byte, password []byte, iterations int) ([]byte, error) {
	salt := make([]byte, saltSize)
	iv := make([]byte, aes.BlockSize)
	if _, err := io.ReadFull(rand, salt); err != nil {
		return nil, fmt.Errorf("pkcs12: read PBKDF2 salt from the random source: %w", err)
	}
	if _, err := io.ReadFull(rand, iv); err != nil {
		return nil, fmt.Errorf("pkcs12: read AES IV from the random source: %w", err)
	}
	key, err := pbkdf2.Key(sha256.New, passwordView(password), salt, iterations, aes256Size)
	if err != nil {
		return nil, fmt.Errorf("pkcs12: derive key-encryption key with PBKDF2: %w", err)
	}
	defer clear(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("pkcs12: AES-256 key: %w", err)
	}

	// Pad a copy and encrypt it in place, so that the only buffer that ever
	// held plaintext ends up holding ciphertext.
	padLen := aes.BlockSize - len(privateKeyPKCS8)%aes.BlockSize
	sealed := make([]byte, len(privateKeyPKCS8)+padLen)
	copy(sealed, privateKeyPKCS8)
	for i := len(privateKeyPKCS8); i < len(sealed); i++ {
		sealed[i] = byte(padLen)
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(sealed, sealed)

	params, err := pbes2ParamsDER(salt, iv, iterations)
	if err != nil {
		return nil, err
	}
	der, err := asn1.Marshal(encryptedPrivateKeyInfo{
		Algorithm:     pkix.AlgorithmIdentifier{Algorithm: oidPBES2, Parameters: asn1.RawValue{FullBytes: params}},
		EncryptedData: sealed,
	})
	if err != nil {
		return nil, fmt.Errorf("pkcs12: encode EncryptedPrivateKeyInfo: %w", err)
	}
	return der, nil
}

// pbes2ParamsDER returns the DER PBES2-params (RFC 8018 Appendix A.4) for
// PBKDF2-HMAC-SHA256 with salt and iterations and AES-256-CBC with iv
// (RFC 8018 Appendix B.2.5: the parameter is the IV).
func pbes2ParamsDER(salt, iv []byte, iterations int) ([]byte, error) {
	kdfParams, err := asn1.Marshal(pbkdf2Params{
		Salt:           salt,
		IterationCount: iterations,
		KeyLength:      aes256Size,
		PRF:            pkix.AlgorithmIdentifier{Algorithm: oidHMACWithSHA256, Parameters: asn1.NullRawValue},
	})
	if err != nil {
		return nil, fmt.Errorf("pkcs12: encode PBKDF2-params: %w", err)
	}
	ivDER, err := asn1.Marshal(iv)
	if err != nil {
		return nil, fmt.Errorf("pkcs12: encode AES IV: %w", err)
	}
	params, err := asn1.Marshal(pbes2Params{
		KeyDerivationFunc: pkix.AlgorithmIdentifier{Algorithm: oidPBKDF2, Parameters: asn1.RawValue{FullBytes: kdfParams}},
		EncryptionScheme:  pkix.AlgorithmIdentifier{Algorithm: oidAES256CBC, Parameters: asn1.RawValue{FullBytes: ivDER}},
	})
	if err != nil {
		return nil, fmt.Errorf("pkcs12: encode PBES2-params: %w", err)
	}
	return params, nil
}

// computeMacData returns the MacData (RFC 7292 §4, §5.1) over authSafe, the
// content octets of the PFX's authSafe: HMAC-SHA256 keyed by the PKCS#12
// KDF with ID 3 (Appendix B.3) from bmpPass and a fresh salt.
func computeMacData(rand io.Reader, authSafe, bmpPass []byte, iterations int) (macData, error) {
	salt := make([]byte, saltSize)
	if _, err := io.ReadFull(rand, salt); err != nil {
		return macData{}, fmt.Errorf("pkcs12: read MAC salt from the random source: %w", err)
	}
	key := pkcs12KDF(sha256.New, kdfIDMACKey, bmpPass, salt, iterations, macKeySize)
	defer clear(key)
	m := hmac.New(sha256.New, key)
	m.Write(authSafe)
	return macData{
		Mac: digestInfo{
			Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidSHA256, Parameters: asn1.NullRawValue},
			Digest:    m.Sum(nil),
		},
		MacSalt:    salt,
		Iterations: iterations,
	}, nil
}

// dataContentInfo returns a ContentInfo of type data (RFC 2315 §8) whose
// content is an OCTET STRING holding content.
func dataContentInfo(content []byte) (contentInfo, error) {
	octets, err := asn1.Marshal(content)
	if err != nil {
		return contentInfo{}, fmt.Errorf("pkcs12: encode data ContentInfo: %w", err)
	}
	return contentInfo{ContentType: oidData, Content: explicit0(octets)}, nil
}

// explicit0 wraps der in a context-specific [0] EXPLICIT tag.
func explicit0(der []byte) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: der}
}
