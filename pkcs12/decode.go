package pkcs12

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // G505: most PKCS#12 files in the wild carry an HMAC-SHA1 MAC
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"unicode/utf16"
)

// ErrUnsupported is returned, wrapped, for a PKCS#12 file that uses an
// algorithm or a structure Decode does not handle; the message says which.
var ErrUnsupported = errors.New("pkcs12: unsupported algorithm or structure")

// ErrMalformed is returned, wrapped, for input that is not a well-formed
// PKCS#12 file; the message says where it breaks.
var ErrMalformed = errors.New("pkcs12: malformed file")

// Bounds on what Decode accepts. A PKCS#12 file arrives from a client, so
// each bound keeps a hostile file from costing the server memory or CPU.
const (
	// maxDecodeSize bounds the file: a key with a long chain of
	// certificates is a few tens of KiB.
	maxDecodeSize = 1 << 20
	// maxContentInfos and maxSafeBags bound the AuthenticatedSafe and the
	// bags of all its SafeContents together.
	maxContentInfos = 64
	maxSafeBags     = 64
	// maxDecodeIterations bounds each iteration count (MAC, PBE, PBKDF2):
	// OpenSSL writes 2048, Encode 10000. A million SHA-1 or SHA-256 rounds
	// cost a fraction of a second.
	maxDecodeIterations = 1_000_000
	// maxIterationBudget bounds the sum of the iteration counts of every
	// derivation Decode runs, so that a file cannot multiply the per-count
	// bound by its number of encrypted parts. A file at the per-count bound
	// needs three derivations (MAC, certificates, key), plus one for the
	// second try of an empty password's MAC.
	maxIterationBudget = 4 * maxDecodeIterations
)

// Object identifiers Decode reads besides those of Encode (RFC 7292
// Appendix D, RFC 2315, NIST CSOR).
var (
	oidSignedData      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidEnvelopedData   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 3}
	oidEncryptedData   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 6}
	oidKeyBag          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 1}
	oidCRLBag          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 4}
	oidSecretBag       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 5}
	oidSafeContentsBag = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 6}
	oidSHA1            = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA224          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 4}
	oidSHA384          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidPBMAC1          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 14}
)

// workLimits bound the key derivations of one Decode. Decode uses
// defaultWorkLimits; FuzzDecode lowers them so that the fuzzer spends its
// time on parsing rather than on iteration counts it mutated upwards.
type workLimits struct {
	maxIterations   int // each iteration count
	iterationBudget int // all iteration counts of the file together
}

var defaultWorkLimits = workLimits{maxIterations: maxDecodeIterations, iterationBudget: maxIterationBudget}

// macHashes maps the MAC digest algorithms Decode verifies to their hash.
var macHashes = map[string]func() hash.Hash{
	oidSHA1.String():   sha1.New,
	oidSHA224.String(): sha256.New224,
	oidSHA256.String(): sha256.New,
	oidSHA384.String(): sha512.New384,
	oidSHA512.String(): sha512.New,
}

// Contents is what a PKCS#12 file holds that kmipd imports.
type Contents struct {
	// PrivateKey is the DER PKCS#8 PrivateKeyInfo (RFC 5208), decrypted.
	// The caller owns it and must clear it.
	PrivateKey []byte
	// KeyName is the friendlyName attribute of the key's bag, "" if none.
	KeyName string
	// Certificates come leaf first: the certificate whose localKeyId
	// equals the key's, else the one whose public key matches the private
	// key, else the first in the file; then the others in file order.
	Certificates []Certificate
}

// Certificate is an X.509 certificate of a PKCS#12 file.
type Certificate struct {
	DER          []byte // the DER X.509 certificate
	FriendlyName string // the friendlyName bag attribute, "" if none
}

// Decode reads a PKCS#12 file (RFC 7292) protected by password in password
// integrity and privacy modes (§4): a MAC over the contents, and encryption
// of the private key (and often the certificates) under the same password.
//
// The file must hold exactly one private key, in a keyBag or a
// pkcs8ShroudedKeyBag, and any number of X.509 certificates in certBags;
// crlBags and secretBags are skipped. See the package documentation for the
// algorithms and the bounds.
//
// A wrong password gives an error wrapping ErrPassword: the MAC does not
// verify or, in a file without a MAC, a decryption fails. An algorithm or
// structure Decode does not handle gives ErrUnsupported, and other broken
// input ErrMalformed. Decode clears every buffer of its own that held
// plaintext key material or derived keys, also when it fails; the returned
// PrivateKey is the caller's to clear. The password is a byte slice so that
// the caller can clear it too (a string cannot be); Decode does not keep it.
func Decode(data []byte, password []byte) (*Contents, error) {
	return decodeWithLimits(data, password, defaultWorkLimits)
}

// decodeWithLimits is Decode with the work limits given.
func decodeWithLimits(data []byte, password []byte, limits workLimits) (*Contents, error) {
	if len(data) > maxDecodeSize {
		return nil, fmt.Errorf("%w: %d bytes is more than the %d a PKCS#12 file may have", ErrMalformed, len(data), maxDecodeSize)
	}
	if len(data) >= 2 && data[0] == 0x30 && data[1] == 0x80 {
		// Some Java and Windows versions write BER with indefinite
		// lengths; encoding/asn1 reads DER only.
		return nil, fmt.Errorf("%w: the file is BER with indefinite lengths: re-export it as DER, e.g. with OpenSSL 3", ErrUnsupported)
	}
	bmpPass, err := bmpPassword(password)
	if err != nil {
		return nil, err
	}
	d := &decoder{password: password, bmpPass: bmpPass, limits: limits, iterationBudget: limits.iterationBudget}
	defer clear(d.bmpPass)
	if err := d.readPFX(data); err != nil {
		clear(d.key)
		return nil, err
	}
	return &Contents{PrivateKey: d.key, KeyName: d.keyName, Certificates: d.orderedCertificates()}, nil
}

// decoder holds the state of one Decode.
type decoder struct {
	password        []byte // UTF-8, for PBES2 (RFC 8018); the caller's, not to be kept
	bmpPass         []byte // BMPString form, for the MAC and the RFC 7292 Appendix C PBEs
	macVerified     bool   // a verified MAC makes later structural errors malformed input, not a wrong password
	limits          workLimits
	iterationBudget int // what remains of limits.iterationBudget

	bags    int // safe bags seen so far
	keys    int // private-key bags seen so far
	key     []byte
	keyName string
	keyID   []byte // localKeyId of the key's bag
	certs   []decodedCert
}

// decodedCert is a certificate with the attributes of its bag.
type decodedCert struct {
	der        []byte
	parsed     *x509.Certificate
	name       string
	localKeyID []byte
}

// ASN.1 structures as Decode reads them (RFC 7292 §4, RFC 2315).

// pfxIn is PFX (RFC 7292 §4) with its optional macData.
type pfxIn struct {
	Version  int
	AuthSafe contentInfoIn
	MacData  asn1.RawValue `asn1:"optional"`
}

// contentInfoIn is ContentInfo (RFC 2315 §7) of any content type.
type contentInfoIn struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"tag:0,explicit,optional"`
}

// macDataIn is MacData (RFC 7292 §4); iterations defaults to 1.
type macDataIn struct {
	Mac        digestInfo
	MacSalt    []byte
	Iterations int `asn1:"optional,default:1"`
}

// encryptedDataIn is EncryptedData (RFC 2315 §13).
type encryptedDataIn struct {
	Version              int
	EncryptedContentInfo encryptedContentInfoIn
}

// encryptedContentInfoIn is EncryptedContentInfo (RFC 2315 §10.1).
type encryptedContentInfoIn struct {
	ContentType                asn1.ObjectIdentifier
	ContentEncryptionAlgorithm pkix.AlgorithmIdentifier
	EncryptedContent           []byte `asn1:"tag:0,optional"`
}

// safeBagIn is SafeBag (RFC 7292 §4.2).
type safeBagIn struct {
	ID         asn1.ObjectIdentifier
	Value      asn1.RawValue `asn1:"tag:0,explicit"`
	Attributes []attributeIn `asn1:"set,optional"`
}

// attributeIn is PKCS12Attribute (RFC 7292 §4.2).
type attributeIn struct {
	ID     asn1.ObjectIdentifier
	Values asn1.RawValue // SET OF, checked by singleAttributeValue
}

// certBagIn is CertBag (RFC 7292 §4.2.3).
type certBagIn struct {
	ID    asn1.ObjectIdentifier
	Value asn1.RawValue `asn1:"tag:0,explicit"`
}

// privateKeyInfo is the start of PrivateKeyInfo (RFC 5208 §5) and of
// OneAsymmetricKey (RFC 5958 §2), enough to tell a key from noise.
type privateKeyInfo struct {
	Version    int
	Algorithm  pkix.AlgorithmIdentifier
	PrivateKey []byte
	Attributes asn1.RawValue `asn1:"optional,tag:0"`
	PublicKey  asn1.RawValue `asn1:"optional,tag:1"`
}

// readPFX reads the PFX (RFC 7292 §4) into d.
func (d *decoder) readPFX(data []byte) error {
	var p pfxIn
	if err := unmarshalExact(data, &p, "PFX"); err != nil {
		return err
	}
	if p.Version != 3 {
		return fmt.Errorf("%w: PFX version %d: only version 3 (RFC 7292) is defined", ErrUnsupported, p.Version)
	}
	switch {
	case p.AuthSafe.ContentType.Equal(oidData):
	case p.AuthSafe.ContentType.Equal(oidSignedData):
		return fmt.Errorf("%w: the file uses public-key integrity mode (signedData, RFC 7292 §3.1): export it with a password MAC", ErrUnsupported)
	default:
		return fmt.Errorf("%w: authSafe content type %v: want data", ErrUnsupported, p.AuthSafe.ContentType)
	}
	authSafe, err := dataContent(p.AuthSafe, "authSafe")
	if err != nil {
		return err
	}
	if len(p.MacData.FullBytes) > 0 {
		if err := d.verifyMAC(p.MacData.FullBytes, authSafe); err != nil {
			return err
		}
	}
	if err := d.readAuthenticatedSafe(authSafe); err != nil {
		return err
	}
	if d.keys != 1 {
		return fmt.Errorf("%w: the file holds %d private keys: kmipd imports a file with exactly one", ErrUnsupported, d.keys)
	}
	return nil
}

// verifyMAC checks the MacData (RFC 7292 §5.1) over authSafe, the content
// octets of the authSafe. The key is the PKCS#12 KDF with ID 3 (Appendix
// B.3) over the BMPString password, of the hash's output size.
//
// OpenSSL encodes the empty password as the two-byte terminator alone, as
// Appendix B.1 says; some tools use no bytes at all. With an empty password
// both are tried, and the one that verifies is kept for the PBEs.
func (d *decoder) verifyMAC(macDER, authSafe []byte) error {
	var m macDataIn
	if err := unmarshalExact(macDER, &m, "macData"); err != nil {
		return err
	}
	alg := m.Mac.Algorithm.Algorithm
	newHash, ok := macHashes[alg.String()]
	if !ok {
		if alg.Equal(oidPBMAC1) {
			return fmt.Errorf("%w: the MAC is PBMAC1 (RFC 9579): export the file with an HMAC-SHA-256 MAC", ErrUnsupported)
		}
		return fmt.Errorf("%w: MAC digest algorithm %v: use SHA-1, SHA-224, SHA-256, SHA-384 or SHA-512", ErrUnsupported, alg)
	}
	size := newHash().Size()
	if len(m.Mac.Digest) != size {
		return fmt.Errorf("%w: macData: a %d-byte MAC for a %d-byte hash", ErrMalformed, len(m.Mac.Digest), size)
	}
	candidates := [][]byte{d.bmpPass}
	if len(d.password) == 0 {
		candidates = append(candidates, []byte{})
	}
	for _, pass := range candidates {
		if err := d.spendIterations(m.Iterations, "MAC"); err != nil {
			return err
		}
		if macMatches(newHash, pass, m, authSafe) {
			d.bmpPass = pass
			d.macVerified = true
			return nil
		}
	}
	return fmt.Errorf("%w: the MAC does not verify: wrong password, or the file was altered", ErrPassword)
}

// macMatches reports whether m's digest is the HMAC of authSafe under the
// key derived from pass, comparing in constant time.
func macMatches(newHash func() hash.Hash, pass []byte, m macDataIn, authSafe []byte) bool {
	key := pkcs12KDF(newHash, kdfIDMACKey, pass, m.MacSalt, m.Iterations, newHash().Size())
	defer clear(key)
	mac := hmac.New(newHash, key)
	mac.Write(authSafe)
	return hmac.Equal(mac.Sum(nil), m.Mac.Digest)
}

// spendIterations checks an iteration count before a derivation runs it.
func (d *decoder) spendIterations(n int, what string) error {
	switch {
	case n < 1:
		return fmt.Errorf("%w: %s: iteration count %d is below 1", ErrMalformed, what, n)
	case n > d.limits.maxIterations:
		return fmt.Errorf("%w: %s: iteration count %d is above the %d kmipd accepts: re-export the file with fewer", ErrUnsupported, what, n, d.limits.maxIterations)
	case n > d.iterationBudget:
		return fmt.Errorf("%w: %s: the file asks for more than %d iterations in all", ErrUnsupported, what, d.limits.iterationBudget)
	}
	d.iterationBudget -= n
	return nil
}

// readAuthenticatedSafe reads the AuthenticatedSafe (RFC 7292 §4.1): a
// sequence of ContentInfos, each plain data or encryptedData holding a
// SafeContents.
func (d *decoder) readAuthenticatedSafe(authSafe []byte) error {
	var infos []contentInfoIn
	if err := unmarshalExact(authSafe, &infos, "AuthenticatedSafe"); err != nil {
		return err
	}
	if len(infos) > maxContentInfos {
		return fmt.Errorf("%w: the AuthenticatedSafe has %d ContentInfos, more than the %d kmipd reads", ErrUnsupported, len(infos), maxContentInfos)
	}
	for i, ci := range infos {
		what := fmt.Sprintf("ContentInfo %d of %d", i+1, len(infos))
		if err := d.readContentInfo(ci, what); err != nil {
			return err
		}
	}
	return nil
}

// readContentInfo reads one ContentInfo of the AuthenticatedSafe.
func (d *decoder) readContentInfo(ci contentInfoIn, what string) error {
	switch {
	case ci.ContentType.Equal(oidData):
		contents, err := dataContent(ci, what)
		if err != nil {
			return err
		}
		return d.readSafeContents(contents, what, false)
	case ci.ContentType.Equal(oidEncryptedData):
		plain, err := d.decryptContentInfo(ci, what)
		if err != nil {
			return err
		}
		defer clear(plain) // may hold a keyBag; what is kept was copied out
		return d.readSafeContents(plain, what, true)
	case ci.ContentType.Equal(oidEnvelopedData):
		return fmt.Errorf("%w: %s uses public-key privacy mode (envelopedData, RFC 7292 §3.1): export the file with password privacy", ErrUnsupported, what)
	default:
		return fmt.Errorf("%w: %s has content type %v: want data or encryptedData", ErrUnsupported, what, ci.ContentType)
	}
}

// dataContent returns the octets of a ContentInfo of type data (RFC 2315
// §8).
func dataContent(ci contentInfoIn, what string) ([]byte, error) {
	if len(ci.Content.Bytes) == 0 {
		return nil, fmt.Errorf("%w: %s: data ContentInfo without content", ErrMalformed, what)
	}
	var octets []byte
	if err := unmarshalExact(ci.Content.Bytes, &octets, what+": data content"); err != nil {
		return nil, err
	}
	return octets, nil
}

// decryptContentInfo returns the plaintext of an encryptedData ContentInfo
// (RFC 7292 §5.1 step C, RFC 2315 §13), which the caller must clear.
func (d *decoder) decryptContentInfo(ci contentInfoIn, what string) ([]byte, error) {
	what += " (encryptedData)"
	if len(ci.Content.Bytes) == 0 {
		return nil, fmt.Errorf("%w: %s without content", ErrMalformed, what)
	}
	var ed encryptedDataIn
	if err := unmarshalExact(ci.Content.Bytes, &ed, what); err != nil {
		return nil, err
	}
	eci := ed.EncryptedContentInfo
	if !eci.ContentType.Equal(oidData) {
		return nil, fmt.Errorf("%w: %s encrypts content type %v: want data", ErrMalformed, what, eci.ContentType)
	}
	if len(eci.EncryptedContent) == 0 {
		return nil, fmt.Errorf("%w: %s has no encrypted content", ErrMalformed, what)
	}
	return d.decrypt(eci.ContentEncryptionAlgorithm, eci.EncryptedContent, what)
}

// readSafeContents reads a SafeContents (RFC 7292 §4.2). decrypted says it
// came out of a decryption: then, without a verified MAC, a structure that
// does not parse most likely means a wrong password whose padding happened
// to look right.
func (d *decoder) readSafeContents(der []byte, what string, decrypted bool) error {
	var bags []safeBagIn
	if err := unmarshalExact(der, &bags, what+": SafeContents"); err != nil {
		return d.blamePassword(err, decrypted)
	}
	d.bags += len(bags)
	if d.bags > maxSafeBags {
		return fmt.Errorf("%w: the file has more than %d safe bags", ErrUnsupported, maxSafeBags)
	}
	for j, bag := range bags {
		bagWhat := fmt.Sprintf("%s, bag %d of %d", what, j+1, len(bags))
		if err := d.readBag(bag, bagWhat, decrypted); err != nil {
			return err
		}
	}
	return nil
}

// blamePassword turns err into ErrPassword when it comes from decrypted
// bytes that no MAC vouched for.
func (d *decoder) blamePassword(err error, decrypted bool) error {
	if decrypted && !d.macVerified {
		return fmt.Errorf("%w: the decrypted content does not parse: wrong password, or a corrupt file (%w)", ErrPassword, err)
	}
	return err
}

// readBag reads one SafeBag (RFC 7292 §4.2).
func (d *decoder) readBag(bag safeBagIn, what string, decrypted bool) error {
	switch {
	case bag.ID.Equal(oidKeyBag), bag.ID.Equal(oidPKCS8ShroudedKeyBag):
		return d.readKeyBag(bag, what, decrypted)
	case bag.ID.Equal(oidCertBag):
		return d.readCertBag(bag, what, decrypted)
	case bag.ID.Equal(oidCRLBag), bag.ID.Equal(oidSecretBag):
		return nil // nothing kmipd imports with a key pair
	case bag.ID.Equal(oidSafeContentsBag):
		return fmt.Errorf("%w: %s is a nested safeContentsBag", ErrUnsupported, what)
	default:
		return fmt.Errorf("%w: %s has unknown bag type %v", ErrUnsupported, what, bag.ID)
	}
}

// readKeyBag reads a keyBag (RFC 7292 §4.2.1, a PrivateKeyInfo) or a
// pkcs8ShroudedKeyBag (§4.2.2, an EncryptedPrivateKeyInfo). Only the first
// key is decrypted; Decode refuses a file with more than one anyway.
func (d *decoder) readKeyBag(bag safeBagIn, what string, decrypted bool) error {
	d.keys++
	if d.keys > 1 {
		return nil
	}
	name, keyID, err := bagAttributesOf(bag, what)
	if err != nil {
		return d.blamePassword(err, decrypted)
	}
	var key []byte
	if bag.ID.Equal(oidKeyBag) {
		what += " (keyBag)"
		key = bytes.Clone(bag.Value.Bytes) // a copy: the bag may lie in a buffer about to be cleared
	} else {
		what += " (pkcs8ShroudedKeyBag)"
		var epki encryptedPrivateKeyInfo
		if err := unmarshalExact(bag.Value.Bytes, &epki, what); err != nil {
			return d.blamePassword(err, decrypted)
		}
		if key, err = d.decrypt(epki.Algorithm, epki.EncryptedData, what); err != nil {
			return err
		}
		decrypted = true
	}
	d.key = key // owned by d from here on, so that Decode clears it on error
	var pki privateKeyInfo
	if rest, err := asn1.Unmarshal(key, &pki); err != nil || len(rest) > 0 {
		// The parser's message is left out: it would describe key bytes.
		return d.blamePassword(fmt.Errorf("%w: %s is not a DER PKCS#8 PrivateKeyInfo (RFC 5208)", ErrMalformed, what), decrypted)
	}
	clear(pki.PrivateKey) // the parser's copy
	d.keyName, d.keyID = name, keyID
	return nil
}

// readCertBag reads a certBag (RFC 7292 §4.2.3) holding an X.509
// certificate.
func (d *decoder) readCertBag(bag safeBagIn, what string, decrypted bool) error {
	what += " (certBag)"
	var cb certBagIn
	if err := unmarshalExact(bag.Value.Bytes, &cb, what); err != nil {
		return d.blamePassword(err, decrypted)
	}
	if !cb.ID.Equal(oidX509Certificate) {
		return fmt.Errorf("%w: %s holds certificate type %v: only x509Certificate is read", ErrUnsupported, what, cb.ID)
	}
	var der []byte // a copy, as unmarshalling into []byte makes one
	if err := unmarshalExact(cb.Value.Bytes, &der, what+": x509Certificate"); err != nil {
		return d.blamePassword(err, decrypted)
	}
	parsed, err := x509.ParseCertificate(der)
	if err != nil {
		return d.blamePassword(fmt.Errorf("%w: %s: %w", ErrMalformed, what, err), decrypted)
	}
	name, keyID, err := bagAttributesOf(bag, what)
	if err != nil {
		return d.blamePassword(err, decrypted)
	}
	d.certs = append(d.certs, decodedCert{der: der, parsed: parsed, name: name, localKeyID: keyID})
	return nil
}

// bagAttributesOf returns the friendlyName (RFC 2985 §5.5.1) and
// localKeyId (§5.5.2) attributes of bag; other attributes are ignored.
func bagAttributesOf(bag safeBagIn, what string) (name string, localKeyID []byte, err error) {
	for _, attr := range bag.Attributes {
		switch {
		case attr.ID.Equal(oidFriendlyName):
			v, err := singleAttributeValue(attr, what+": friendlyName")
			if err != nil {
				return "", nil, err
			}
			if name, err = decodeBMPString(v, what+": friendlyName"); err != nil {
				return "", nil, err
			}
		case attr.ID.Equal(oidLocalKeyID):
			v, err := singleAttributeValue(attr, what+": localKeyId")
			if err != nil {
				return "", nil, err
			}
			if err := unmarshalExact(v.FullBytes, &localKeyID, what+": localKeyId"); err != nil {
				return "", nil, err
			}
		}
	}
	return name, localKeyID, nil
}

// singleAttributeValue returns the one value of attr, whose SET OF must
// hold exactly one (friendlyName and localKeyId are SINGLE VALUE, RFC 2985
// §5.5).
func singleAttributeValue(attr attributeIn, what string) (asn1.RawValue, error) {
	set := attr.Values
	if set.Class != asn1.ClassUniversal || set.Tag != asn1.TagSet || !set.IsCompound {
		return asn1.RawValue{}, fmt.Errorf("%w: %s: attribute values are not a SET", ErrMalformed, what)
	}
	var v asn1.RawValue
	if err := unmarshalExact(set.Bytes, &v, what); err != nil {
		return asn1.RawValue{}, fmt.Errorf("%w (an attribute of a single value)", err)
	}
	return v, nil
}

// decodeBMPString returns the string of an ASN.1 BMPString (UTF-16BE).
func decodeBMPString(v asn1.RawValue, what string) (string, error) {
	if v.Class != asn1.ClassUniversal || v.Tag != asn1.TagBMPString || v.IsCompound || len(v.Bytes)%2 != 0 {
		return "", fmt.Errorf("%w: %s is not a BMPString", ErrMalformed, what)
	}
	units := make([]uint16, len(v.Bytes)/2)
	for i := range units {
		units[i] = uint16(v.Bytes[2*i])<<8 | uint16(v.Bytes[2*i+1])
	}
	return string(utf16.Decode(units)), nil
}

// orderedCertificates returns the certificates leaf first (see Contents).
func (d *decoder) orderedCertificates() []Certificate {
	leaf := d.leafIndex()
	out := make([]Certificate, 0, len(d.certs))
	if leaf >= 0 {
		out = append(out, Certificate{DER: d.certs[leaf].der, FriendlyName: d.certs[leaf].name})
	}
	for i, c := range d.certs {
		if i != leaf {
			out = append(out, Certificate{DER: c.der, FriendlyName: c.name})
		}
	}
	return out
}

// leafIndex returns the index of the key's certificate in d.certs, or -1
// to keep the file order. localKeyId is how the file itself pairs them
// (RFC 2985 §5.5.2); without it, the public key decides.
func (d *decoder) leafIndex() int {
	if len(d.keyID) > 0 {
		for i, c := range d.certs {
			if bytes.Equal(c.localKeyID, d.keyID) {
				return i
			}
		}
	}
	pub := d.keyPublicKey()
	if pub == nil {
		return -1
	}
	for i, c := range d.certs {
		if pub.Equal(c.parsed.PublicKey) {
			return i
		}
	}
	return -1
}

// keyPublicKey returns the public half of d.key, or nil when the standard
// library cannot parse the key (then the certificates keep the file order).
// The parsed key's big.Int copies cannot be cleared; they are dropped at
// once.
func (d *decoder) keyPublicKey() interface{ Equal(crypto.PublicKey) bool } {
	priv, err := x509.ParsePKCS8PrivateKey(d.key)
	if err != nil {
		return nil
	}
	// Every key type ParsePKCS8PrivateKey returns (RSA, ECDSA, Ed25519,
	// X25519) has Public, and its public key has Equal.
	withPublic, ok := priv.(interface{ Public() crypto.PublicKey })
	if !ok {
		return nil
	}
	pub, _ := withPublic.Public().(interface{ Equal(crypto.PublicKey) bool })
	return pub
}

// unmarshalExact parses der, which must hold exactly one DER value, into v.
func unmarshalExact(der []byte, v any, what string) error {
	rest, err := asn1.Unmarshal(der, v)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrMalformed, what, err)
	}
	if len(rest) > 0 {
		return fmt.Errorf("%w: %s: %d bytes of trailing data", ErrMalformed, what, len(rest))
	}
	return nil
}
