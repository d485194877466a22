package pkcs12

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des" //nolint:gosec // G502: reading old files that use 3DES is the point; Encode never writes it
	"crypto/pbkdf2"
	"crypto/sha1" //nolint:gosec // G505: the PKCS#12 PBEs and PBKDF2's default PRF are defined with SHA-1
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"hash"
)

// Object identifiers of the password-based encryption schemes Decode reads
// (RFC 7292 Appendix C, RFC 8018 Appendices B and C, NIST CSOR).
var (
	oidPBEWithSHAAnd128BitRC4        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 1}
	oidPBEWithSHAAnd40BitRC4         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 2}
	oidPBEWithSHAAnd3KeyTripleDESCBC = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3}
	oidPBEWithSHAAnd2KeyTripleDESCBC = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 4}
	oidPBEWithSHAAnd128BitRC2CBC     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 5}
	oidPBEWithSHAAnd40BitRC2CBC      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 6}

	oidHMACWithSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACWithSHA224 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 8}
	oidHMACWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHMACWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}

	oidAES128CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidDESEDE3CBC = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
)

// pbeIVSize is the IV size of every RFC 7292 Appendix C scheme: 3DES and
// RC2 both have 8-byte blocks.
const pbeIVSize = 8

// pkcs12PBE describes one of the PKCS#12 password-based encryption schemes
// of RFC 7292 Appendix C: key and IV come from the PKCS#12 KDF with SHA-1
// (Appendix B) over the BMPString password.
type pkcs12PBE struct {
	name     string
	keySize  int
	newBlock func(key []byte) (cipher.Block, error)
}

// pkcs12PBEs maps the supported Appendix C OIDs to their scheme. The RC4
// ones are refused (see decryptPKCS12PBE).
var pkcs12PBEs = map[string]pkcs12PBE{
	oidPBEWithSHAAnd3KeyTripleDESCBC.String(): {"pbeWithSHAAnd3-KeyTripleDES-CBC", 24, des.NewTripleDESCipher},
	oidPBEWithSHAAnd2KeyTripleDESCBC.String(): {"pbeWithSHAAnd2-KeyTripleDES-CBC", 16, newTwoKeyTripleDES},
	oidPBEWithSHAAnd128BitRC2CBC.String():     {"pbeWithSHAAnd128BitRC2-CBC", 16, newRC2Block},
	oidPBEWithSHAAnd40BitRC2CBC.String():      {"pbeWithSHAAnd40BitRC2-CBC", 5, newRC2Block},
}

// newTwoKeyTripleDES returns 3DES keyed K1 K2 K1 from a 16-byte key K1 K2
// (two-key triple DES, RFC 7292 Appendix C).
func newTwoKeyTripleDES(key []byte) (cipher.Block, error) {
	k := make([]byte, 0, 24)
	k = append(k, key...)
	k = append(k, key[:8]...)
	defer clear(k)
	return des.NewTripleDESCipher(k) //nolint:gosec // G401: see the crypto/des import
}

// newRC2Block returns RC2 whose effective key length is the key's own
// length in bits, as RFC 7292 Appendix C's RC2 PBEs use it.
func newRC2Block(key []byte) (cipher.Block, error) {
	return newRC2(key, 8*len(key)), nil
}

// pbeParams is pkcs-12PbeParams (RFC 7292 Appendix C).
type pbeParams struct {
	Salt       []byte
	Iterations int
}

// pbes2ParamsIn is PBES2-params (RFC 8018 Appendix A.4) as Decode reads it.
type pbes2ParamsIn struct {
	KeyDerivationFunc pkix.AlgorithmIdentifier
	EncryptionScheme  pkix.AlgorithmIdentifier
}

// pbkdf2ParamsIn is PBKDF2-params (RFC 8018 Appendix A.2) as Decode reads
// it: the salt may be the otherSource choice (refused later), the key length
// and the PRF are optional.
type pbkdf2ParamsIn struct {
	Salt           asn1.RawValue
	IterationCount int
	KeyLength      int                      `asn1:"optional"`
	PRF            pkix.AlgorithmIdentifier `asn1:"optional"`
}

// pbes2Cipher describes an encryption scheme PBES2 may name (RFC 8018
// Appendix B.2): CBC with an IV of one block as its parameter.
type pbes2Cipher struct {
	name     string
	keySize  int
	newBlock func(key []byte) (cipher.Block, error)
}

var pbes2Ciphers = map[string]pbes2Cipher{
	oidAES128CBC.String():  {"AES-128-CBC", 16, aes.NewCipher},
	oidAES192CBC.String():  {"AES-192-CBC", 24, aes.NewCipher},
	oidAES256CBC.String():  {"AES-256-CBC", 32, aes.NewCipher},
	oidDESEDE3CBC.String(): {"DES-EDE3-CBC", 24, des.NewTripleDESCipher},
}

// pbkdf2PRFs maps the PBKDF2 PRFs of RFC 8018 Appendix B.1 to their hash.
var pbkdf2PRFs = map[string]func() hash.Hash{
	oidHMACWithSHA1.String():   sha1.New,
	oidHMACWithSHA224.String(): sha256.New224,
	oidHMACWithSHA256.String(): sha256.New,
	oidHMACWithSHA384.String(): sha512.New384,
	oidHMACWithSHA512.String(): sha512.New,
}

// decrypt returns the plaintext of ciphertext, encrypted with the
// password-based scheme alg; what names the object for errors. A padding
// failure, the usual sign of a wrong password, is ErrPassword.
//
// The caller owns the plaintext and must clear it; derived keys and IVs are
// cleared here.
func (d *decoder) decrypt(alg pkix.AlgorithmIdentifier, ciphertext []byte, what string) ([]byte, error) {
	switch {
	case alg.Algorithm.Equal(oidPBES2):
		return d.decryptPBES2(alg.Parameters.FullBytes, ciphertext, what)
	case alg.Algorithm.Equal(oidPBEWithSHAAnd128BitRC4), alg.Algorithm.Equal(oidPBEWithSHAAnd40BitRC4):
		return nil, fmt.Errorf("%w: %s is encrypted with RC4 (%v), which kmipd does not read: re-export the file with AES (PBES2)", ErrUnsupported, what, alg.Algorithm)
	}
	scheme, ok := pkcs12PBEs[alg.Algorithm.String()]
	if !ok {
		return nil, fmt.Errorf("%w: %s is encrypted with algorithm %v: use PBES2 (AES-CBC) or pbeWithSHAAnd3-KeyTripleDES-CBC", ErrUnsupported, what, alg.Algorithm)
	}
	return d.decryptPKCS12PBE(scheme, alg.Parameters.FullBytes, ciphertext, what)
}

// decryptPKCS12PBE decrypts with a scheme of RFC 7292 Appendix C: key
// (ID 1) and IV (ID 2) come from the PKCS#12 KDF with SHA-1 over the
// BMPString password that verified the MAC.
func (d *decoder) decryptPKCS12PBE(scheme pkcs12PBE, paramsDER, ciphertext []byte, what string) ([]byte, error) {
	var params pbeParams
	if err := unmarshalExact(paramsDER, &params, what+": "+scheme.name+" parameters"); err != nil {
		return nil, err
	}
	if err := d.spendIterations(params.Iterations, what+": "+scheme.name); err != nil {
		return nil, err
	}
	key := pkcs12KDF(sha1.New, kdfIDEncryptionKey, d.bmpPass, params.Salt, params.Iterations, scheme.keySize)
	defer clear(key)
	iv := pkcs12KDF(sha1.New, kdfIDIV, d.bmpPass, params.Salt, params.Iterations, pbeIVSize)
	defer clear(iv)
	block, err := scheme.newBlock(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %s key: %w", ErrMalformed, what, scheme.name, err)
	}
	return decryptCBC(block, iv, ciphertext, what)
}

// decryptPBES2 decrypts with PBES2 (RFC 8018 §6.2.2): PBKDF2 over the
// UTF-8 password, then a block cipher in CBC mode.
func (d *decoder) decryptPBES2(paramsDER, ciphertext []byte, what string) ([]byte, error) {
	var params pbes2ParamsIn
	if err := unmarshalExact(paramsDER, &params, what+": PBES2 parameters"); err != nil {
		return nil, err
	}
	if !params.KeyDerivationFunc.Algorithm.Equal(oidPBKDF2) {
		return nil, fmt.Errorf("%w: %s: PBES2 key derivation function %v: only PBKDF2 is supported", ErrUnsupported, what, params.KeyDerivationFunc.Algorithm)
	}
	scheme, ok := pbes2Ciphers[params.EncryptionScheme.Algorithm.String()]
	if !ok {
		return nil, fmt.Errorf("%w: %s: PBES2 encryption scheme %v: use AES-128/192/256-CBC or DES-EDE3-CBC", ErrUnsupported, what, params.EncryptionScheme.Algorithm)
	}
	var iv []byte
	if err := unmarshalExact(params.EncryptionScheme.Parameters.FullBytes, &iv, what+": "+scheme.name+" IV"); err != nil {
		return nil, err
	}
	key, err := d.pbkdf2Key(params.KeyDerivationFunc.Parameters.FullBytes, scheme.keySize, what)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	block, err := scheme.newBlock(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %s key: %w", ErrMalformed, what, scheme.name, err)
	}
	if len(iv) != block.BlockSize() {
		return nil, fmt.Errorf("%w: %s: %s IV is %d bytes, want %d", ErrMalformed, what, scheme.name, len(iv), block.BlockSize())
	}
	return decryptCBC(block, iv, ciphertext, what)
}

// pbkdf2Key derives a keySize-byte key with PBKDF2 (RFC 8018 §5.2) as
// paramsDER (PBKDF2-params) says.
func (d *decoder) pbkdf2Key(paramsDER []byte, keySize int, what string) ([]byte, error) {
	var params pbkdf2ParamsIn
	if err := unmarshalExact(paramsDER, &params, what+": PBKDF2 parameters"); err != nil {
		return nil, err
	}
	// salt is CHOICE { specified OCTET STRING, otherSource
	// AlgorithmIdentifier }; nobody defined an otherSource.
	if params.Salt.Class != asn1.ClassUniversal || params.Salt.Tag != asn1.TagOctetString || params.Salt.IsCompound {
		return nil, fmt.Errorf("%w: %s: PBKDF2 salt is not a specified OCTET STRING", ErrUnsupported, what)
	}
	if params.KeyLength != 0 && params.KeyLength != keySize {
		return nil, fmt.Errorf("%w: %s: PBKDF2 keyLength %d does not fit the cipher's %d-byte key", ErrMalformed, what, params.KeyLength, keySize)
	}
	newHash := sha1.New // RFC 8018 Appendix A.2: the PRF defaults to hmacWithSHA1
	if len(params.PRF.Algorithm) > 0 {
		var ok bool
		if newHash, ok = pbkdf2PRFs[params.PRF.Algorithm.String()]; !ok {
			return nil, fmt.Errorf("%w: %s: PBKDF2 PRF %v: use hmacWithSHA1, SHA224, SHA256, SHA384 or SHA512", ErrUnsupported, what, params.PRF.Algorithm)
		}
	}
	if err := d.spendIterations(params.IterationCount, what+": PBKDF2"); err != nil {
		return nil, err
	}
	key, err := pbkdf2.Key(newHash, passwordView(d.password), params.Salt.Bytes, params.IterationCount, keySize)
	if err != nil {
		// crypto/pbkdf2 refuses only in FIPS 140-only mode (short
		// password or salt); the file is fine, this process will not.
		return nil, fmt.Errorf("%w: %s: PBKDF2: %w", ErrUnsupported, what, err)
	}
	return key, nil
}

// decryptCBC decrypts ciphertext in CBC mode and removes the PKCS#7 padding
// (RFC 8018 §6.1.1 step 4, RFC 5652 §6.3). Bad padding means a wrong
// password (or a corrupt file without a MAC): ErrPassword.
func decryptCBC(block cipher.Block, iv, ciphertext []byte, what string) ([]byte, error) {
	size := block.BlockSize()
	if len(ciphertext) == 0 || len(ciphertext)%size != 0 {
		return nil, fmt.Errorf("%w: %s: ciphertext of %d bytes is not a positive multiple of the %d-byte block", ErrMalformed, what, len(ciphertext), size)
	}
	plain := make([]byte, len(ciphertext))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, ciphertext)
	n, ok := unpad(plain, size)
	if !ok {
		clear(plain)
		return nil, fmt.Errorf("%w: %s does not decrypt (bad padding): wrong password", ErrPassword, what)
	}
	clear(plain[n:])
	return plain[:n], nil
}

// unpad returns the length of buf without its PKCS#7 padding and whether
// the padding is well formed. It looks at the same bytes whatever their
// values, so its timing does not tell a padding oracle which byte failed.
func unpad(buf []byte, blockSize int) (int, bool) {
	last := buf[len(buf)-1]
	padLen := int(last)
	good := subtle.ConstantTimeLessOrEq(1, padLen) & subtle.ConstantTimeLessOrEq(padLen, blockSize)
	for i := 1; i <= blockSize; i++ {
		inPadding := subtle.ConstantTimeLessOrEq(i, padLen)
		matches := subtle.ConstantTimeByteEq(buf[len(buf)-i], last)
		good &= matches | (inPadding ^ 1)
	}
	if good != 1 {
		return 0, false
	}
	return len(buf) - padLen, true
}
