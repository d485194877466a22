package service

import (
	"context"
	"crypto/x509"
	"encoding/asn1"
	"time"

	"github.com/kmipd/kmipd/hsmbackend"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// This file holds Register (KMIP 1.4 §4.3, 2.0 §6.1.39): symmetric keys,
// private and public keys, certificates, secret data, opaque objects,
// split keys and PGP keys, in the formats keyformat.go reads. Secret
// material is wrapped under the HSM master key at once; the plaintext the
// request carried is never stored.
//
// # Object shells
//
// Objects whose material is secret keep the other fields of their object
// structure in Object.Public, TTLV-encoded as that structure without its
// plaintext: the Secret Data Type of Secret Data, the Opaque Data Type of
// an Opaque Object, the split parameters of a Split Key, the version of a
// PGP Key, and, for a key registered wrapped (KMIP 1.4 §2.1.5), its Key
// Block as registered, so Get with Key Wrap Type "As Registered" can
// return it. None of it is secret. Public Keys and Certificates keep their
// DER there instead.

// crObjectTags maps Object Types to the tag of their object structure (KMIP
// 1.4 §2.2).
var crObjectTags = map[kmip.ObjectType]ttlv.Tag{
	kmip.ObjectTypeCertificate:  kmip.TagCertificate,
	kmip.ObjectTypeSymmetricKey: kmip.TagSymmetricKey,
	kmip.ObjectTypePublicKey:    kmip.TagPublicKey,
	kmip.ObjectTypePrivateKey:   kmip.TagPrivateKey,
	kmip.ObjectTypeSplitKey:     kmip.TagSplitKey,
	kmip.ObjectTypeSecretData:   kmip.TagSecretData,
	kmip.ObjectTypeOpaqueObject: kmip.TagOpaqueObject,
	kmip.ObjectTypePGPKey:       kmip.TagPGPKey,
}

// crShellLimits bound the decoding of a stored shell: it is small, written by
// this package, but a damaged record must fail cleanly.
var crShellLimits = ttlv.Limits{MaxMessageSize: 1 << 20, MaxDepth: 16, MaxItems: 1024}

// crEncodeShell stores an object structure without plaintext.
func crEncodeShell(v ttlv.Value) []byte { return ttlv.Marshal(v) }

// crDecodeShell reads a stored shell; zero Value when there is none.
func crDecodeShell(b []byte) (ttlv.Value, error) {
	if len(b) == 0 {
		return ttlv.Value{}, nil
	}
	return ttlv.Decode(b, crShellLimits)
}

// secretDataHeader is the shell of Secret Data of the given type.
func secretDataHeader(t kmip.SecretDataType) []byte {
	return crEncodeShell(ttlv.Struct(kmip.TagSecretData, ttlv.Enum(kmip.TagSecretDataType, uint32(t))))
}

// register is Register (KMIP 1.4 §4.3, 2.0 §6.1.39).
func (s *Service) registerOp(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	fields, ot, err := crFieldsAndType(req.Payload)
	if err != nil {
		return ttlv.Value{}, err
	}
	attrs, err := s.crRequestAttributes(ctx, req, fields, kmip.TagTemplateAttribute, kmip.TagAttributes)
	if err != nil {
		return ttlv.Value{}, err
	}
	if attrs, err = regDropMatchingCertificateType(req, ot, fields, attrs); err != nil {
		return ttlv.Value{}, err
	}
	if err := checkClientAttributes(req, ot, attrs, false); err != nil {
		return ttlv.Value{}, err
	}
	if ot == kmip.ObjectTypeTemplate {
		// Deprecated since 1.3, gone in 2.0 (template.go).
		return s.tplRegister(ctx, req, fields, attrs)
	}
	tag, ok := crObjectTags[ot]
	if !ok {
		return ttlv.Value{}, crBadObjectType(req, "objects of type %v cannot be registered", ot)
	}
	obj, ok := fields[tag]
	if !ok || obj.Type != ttlv.TypeStructure {
		// KMIP 1.4 §11.4: "Object Type does not match type of
		// cryptographic object provided": Invalid Field.
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonInvalidField, "register of %v without a %s structure", ot, kmip.TagString(tag))
	}
	if err := s.crCheckNamesFree(ctx, req, attrs); err != nil {
		return ttlv.Value{}, err
	}
	if ot == kmip.ObjectTypePrivateKey && isPKCS12KeyBlock(obj) {
		return s.registerPKCS12(ctx, req, attrs, obj)
	}
	now := s.now().UTC().Truncate(time.Second)
	o, err := s.crNewObject(ctx, ot, attrs, now)
	if err != nil {
		return ttlv.Value{}, err
	}
	switch ot {
	case kmip.ObjectTypeCertificate:
		err = registerCertificate(o, obj)
	case kmip.ObjectTypeOpaqueObject:
		err = s.crRegisterOpaque(ctx, o, obj)
	default:
		err = s.crRegisterKey(ctx, req, o, attrs, obj, ot)
	}
	if err != nil {
		return ttlv.Value{}, err
	}
	if err := s.crCreateObjects(ctx, req, o); err != nil {
		return ttlv.Value{}, err
	}
	return uidPayload(o.ID), nil
}

// crRegisterKey registers an object with a Key Block: Symmetric, Private and
// Public Keys, Secret Data, Split Keys and PGP Keys.
func (s *Service) crRegisterKey(ctx context.Context, req *kmip.Request, o *objects.Object, attrs []kmip.Attribute, obj ttlv.Value, ot kmip.ObjectType) error {
	kbv, ok := obj.Child(kmip.TagKeyBlock)
	if !ok {
		return kmip.Errorf(kmip.ResultReasonInvalidField, "%v without a key block", ot)
	}
	kb, err := parseKeyBlock(kbv)
	if err != nil {
		return err
	}
	shell, err := crObjectShell(req, ot, obj)
	if err != nil {
		return err
	}
	if kb.noValue {
		return registerMetadataOnly(req, o, attrs, ot, &kb, shell)
	}
	if !kb.wrapping.IsZero() {
		// KMIP 1.4 §4.3: "The object and attributes MAY be wrapped". Keep
		// the Key Block as registered for Get "As Registered", and
		// unwrap it to store the key like any other.
		shell = append(shell, kbv)
		plain, release, err := s.crUnwrapRegistered(ctx, req, &kb)
		if err != nil {
			return err
		}
		defer release()
		kb.material = plain
	}
	var imp importedKey
	switch ot {
	case kmip.ObjectTypeSymmetricKey:
		imp, err = importSymmetric(&kb)
	case kmip.ObjectTypePrivateKey:
		imp, err = importPrivate(&kb)
	case kmip.ObjectTypePublicKey:
		imp, err = importPublic(&kb)
	default:
		imp, err = importSecretBytes(&kb)
	}
	if err != nil {
		return err
	}
	defer clear(imp.secret)
	alg, bits, err := registeredCrypto(req, ot, &kb, attrs, imp)
	if err != nil {
		return err
	}
	if imp.secret != nil {
		w, err := s.hsm.WrapSecret(ctx, imp.kind, imp.secret)
		if err != nil {
			return hsmError("register", err)
		}
		o.Wrapped = toStored(w)
	} else {
		o.Public = imp.public
	}
	if ot != kmip.ObjectTypePublicKey && len(shell) > 0 {
		o.Public = crEncodeShell(ttlv.Struct(crObjectTags[ot], shell...))
	}
	crSetCrypto(o, alg, bits)
	crSetRegisteredUsage(o, ot, alg)
	// KMIP 1.4 §3.17: for registered objects the digest is computed on
	// the Key Material in the Key Format Type of the registered object.
	o.SetAttr(attr(attrDigest, crDigest(kb.material, kb.format)))
	crSetFormat(o, kb.format)
	return nil
}

// crSetRegisteredUsage gives a registered key without a Cryptographic
// Usage Mask the default one of its kind.
func crSetRegisteredUsage(o *objects.Object, ot kmip.ObjectType, alg kmip.CryptographicAlgorithm) {
	switch ot {
	case kmip.ObjectTypeSymmetricKey:
		crSetUsage(o, defaultSymmetricUsage(alg))
	case kmip.ObjectTypePrivateKey:
		crSetUsage(o, defaultPairUsage(alg, true))
	case kmip.ObjectTypePublicKey:
		crSetUsage(o, defaultPairUsage(alg, false))
	default:
		// MongoDB registers Secret Data without a usage mask.
		crSetUsage(o, kmip.CryptographicUsageMaskDeriveKey)
	}
}

// crObjectShell returns the fields of a Secret Data, Split Key or PGP Key
// structure other than its Key Block, after checking the REQUIRED ones
// (KMIP 1.4 §2.2.5, §2.2.7, §2.2.9).
func crObjectShell(req *kmip.Request, ot kmip.ObjectType, obj ttlv.Value) ([]ttlv.Value, error) {
	var required []ttlv.Tag
	switch ot {
	case kmip.ObjectTypeSecretData:
		required = []ttlv.Tag{kmip.TagSecretDataType}
	case kmip.ObjectTypeSplitKey:
		required = []ttlv.Tag{kmip.TagSplitKeyParts, kmip.TagKeyPartIdentifier, kmip.TagSplitKeyThreshold, kmip.TagSplitKeyMethod}
	case kmip.ObjectTypePGPKey:
		required = []ttlv.Tag{kmip.TagPGPKeyVersion}
	default:
		// Only the Key Block is required.
	}
	var out []ttlv.Value
	for _, f := range obj.Children() {
		if f.Tag == kmip.TagKeyBlock {
			continue
		}
		if f.Type == ttlv.TypeStructure {
			return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "unexpected %s in %v", kmip.TagString(f.Tag), ot)
		}
		out = append(out, f)
	}
	for _, t := range required {
		v, ok := ttlv.Struct(0, out...).Child(t)
		if !ok {
			return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "%v without %s", ot, kmip.TagString(t))
		}
		if ti, known := kmip.LookupTag(t); known && ti.Type1x != 0 && v.Type != ti.Type1x {
			return nil, crFieldType(v)
		}
	}
	return out, nil
}

// registeredCrypto reconciles the Cryptographic Algorithm and Length of
// the request's attributes, the Key Block and the material (KMIP 1.4
// Table 171: they "MAY be omitted only if this information is
// encapsulated in the Key Block"; "Does not apply to Secret Data").
func registeredCrypto(req *kmip.Request, ot kmip.ObjectType, kb *crKeyBlock, attrs []kmip.Attribute, imp importedKey) (kmip.CryptographicAlgorithm, int32, error) {
	alg, bits, err := statedCrypto(req, kb, attrs)
	if err != nil {
		return 0, 0, err
	}
	switch ot {
	case kmip.ObjectTypePrivateKey, kmip.ObjectTypePublicKey:
		if !algorithmsAgree(alg, imp.alg) {
			return 0, 0, crBadValue(req, "cryptographic algorithm %v does not match the key material", alg)
		}
		if alg == 0 {
			alg = imp.alg
		}
		if bits != 0 && bits != imp.bits {
			return 0, 0, crBadValue(req, "cryptographic length %d does not match the key material (%d)", bits, imp.bits)
		}
		return alg, imp.bits, nil
	case kmip.ObjectTypeSymmetricKey:
		if alg == 0 {
			return 0, 0, crBadValue(req, "cryptographic algorithm is required")
		}
		if bits == 0 {
			bits = imp.bits
		}
		// 3DES keys are 24 bytes with parity but often stated as 168 or
		// 112 bits; any other key's stated length must be its own.
		if bits != imp.bits && alg != kmip.CryptographicAlgorithmDES3 {
			return 0, 0, crBadValue(req, "cryptographic length %d does not match a key of %d bytes", bits, imp.bits/8)
		}
		if isChaChaAlgorithm(alg) && bits != 8*chachaKeyLen {
			// RFC 8439 §2.3; Encrypt would refuse the key (crypto_chacha.go).
			return 0, 0, crBadValue(req, "%v keys are 256 bits, not %d", alg, bits)
		}
		return alg, bits, nil
	default:
		return alg, bits, nil
	}
}

// statedCrypto returns the Cryptographic Algorithm and Length the request
// states, in its attributes or its Key Block (0 when neither does),
// refusing the two when they differ.
func statedCrypto(req *kmip.Request, kb *crKeyBlock, attrs []kmip.Attribute) (kmip.CryptographicAlgorithm, int32, error) {
	alg := kb.alg
	if a, ok := crEnumAttr(attrs, attrCryptoAlgorithm); ok {
		if alg != 0 && kmip.CryptographicAlgorithm(a) != alg {
			return 0, 0, crBadValue(req, "cryptographic algorithm of the attributes and of the key block differ")
		}
		alg = kmip.CryptographicAlgorithm(a)
	}
	bits := kb.length
	if b, ok := crIntAttr(attrs, attrCryptoLength); ok {
		if bits != 0 && b != bits {
			return 0, 0, crBadValue(req, "cryptographic length of the attributes and of the key block differ")
		}
		bits = b
	}
	return alg, bits, nil
}

// crRegisterOpaque registers an Opaque Object (KMIP 1.4 §2.2.8). Its value
// may be anything, a password in OMOS-M-1: it is wrapped like a secret.
func (s *Service) crRegisterOpaque(ctx context.Context, o *objects.Object, obj ttlv.Value) error {
	t, ok1 := obj.Child(kmip.TagOpaqueDataType)
	v, ok2 := obj.Child(kmip.TagOpaqueDataValue)
	if !ok1 || !ok2 || t.Type != ttlv.TypeEnumeration || v.Type != ttlv.TypeByteString {
		return kmip.Errorf(kmip.ResultReasonInvalidField, "opaque object needs an opaque data type and value")
	}
	if len(v.Bytes()) == 0 || len(v.Bytes()) > hsmbackend.MaxMaterialLen {
		return kmip.Errorf(kmip.ResultReasonInvalidField, "opaque data of %d bytes (want 1 to %d)", len(v.Bytes()), hsmbackend.MaxMaterialLen)
	}
	w, err := s.hsm.WrapSecret(ctx, hsmbackend.GenericSecret, v.Bytes())
	if err != nil {
		return hsmError("register", err)
	}
	o.Wrapped = toStored(w)
	o.Public = crEncodeShell(ttlv.Struct(kmip.TagOpaqueObject, ttlv.Enum(kmip.TagOpaqueDataType, t.Enum())))
	// Opaque Data Type is an attribute from 2.0 on (2.0 §4.37).
	o.SetAttr(attr(attrOpaqueDataType, ttlv.Enum(0, t.Enum())))
	o.SetAttr(attr(attrDigest, crDigest(v, 0)))
	return nil
}

// regDropMatchingCertificateType removes a Certificate Type attribute that
// repeats the registered certificate's own type. The server sets Certificate
// Type (KMIP 1.4 §3.8, "Initially set by: Server"), but clients send it
// along (TC-CERTATTR-1 and TC-PKCS12-1 expect success), and a value that
// only restates the certificate changes nothing; one that contradicts it
// is refused as the read-only attribute it is.
func regDropMatchingCertificateType(req *kmip.Request, ot kmip.ObjectType, fields map[ttlv.Tag]ttlv.Value, attrs []kmip.Attribute) ([]kmip.Attribute, error) {
	if ot != kmip.ObjectTypeCertificate {
		return attrs, nil
	}
	cert, ok := fields[kmip.TagCertificate]
	if !ok {
		return attrs, nil
	}
	own, ok := cert.Child(kmip.TagCertificateType)
	if !ok || own.Type != ttlv.TypeEnumeration {
		return attrs, nil // registerCertificate refuses the certificate
	}
	out := attrs[:0:0]
	for _, a := range attrs {
		if a.Name != attrCertificateType {
			out = append(out, a)
			continue
		}
		if a.Value.Type != ttlv.TypeEnumeration || a.Value.Enum() != own.Enum() {
			return nil, crReadOnly(req, a.Name)
		}
	}
	return out, nil
}

// registerCertificate registers a Certificate (KMIP 1.4 §2.2.1) and sets
// the attributes the server derives from it (§3.8-3.16): Certificate
// Type and Length, the X.509 Certificate Identifier, Subject and Issuer,
// Digital Signature Algorithm, and the algorithm and length of its public
// key. A value Go cannot parse is still stored, with only the first two.
func registerCertificate(o *objects.Object, obj ttlv.Value) error {
	t, ok1 := obj.Child(kmip.TagCertificateType)
	v, ok2 := obj.Child(kmip.TagCertificateValue)
	if !ok1 || !ok2 || t.Type != ttlv.TypeEnumeration || v.Type != ttlv.TypeByteString {
		return kmip.Errorf(kmip.ResultReasonInvalidField, "certificate needs a certificate type and value")
	}
	der := v.Bytes()
	n := len(der)
	if n == 0 || n > crMaxCertificate {
		return kmip.Errorf(kmip.ResultReasonInvalidField, "certificate of %d bytes (want 1 to %d)", n, crMaxCertificate)
	}
	o.Public = crClone(der)
	o.SetAttr(attr(attrCertificateType, ttlv.Enum(0, t.Enum())))
	o.SetAttr(attr(attrCertificateLength, ttlv.Int(0, int32(n))))
	certSetDerivedAttributes(o, kmip.CertificateType(t.Enum()), der)
	if kmip.CertificateType(t.Enum()) != kmip.CertificateTypeX509 {
		return nil
	}
	c, err := certParse(der)
	if err != nil {
		return nil
	}
	o.SetAttr(attr("X.509 Certificate Identifier", ttlv.Struct(0,
		ttlv.Bytes(kmip.TagIssuerDistinguishedName, c.RawIssuer),
		ttlv.Bytes(kmip.TagCertificateSerialNumber, certSerialNumberDER(c)))))
	subject := []ttlv.Value{ttlv.Bytes(kmip.TagSubjectDistinguishedName, c.RawSubject)}
	issuer := []ttlv.Value{ttlv.Bytes(kmip.TagIssuerDistinguishedName, c.RawIssuer)}
	for _, e := range c.Extensions {
		switch {
		case e.Id.Equal(crOIDSubjectAltName):
			subject = append(subject, ttlv.Bytes(kmip.TagSubjectAlternativeName, e.Value))
		case e.Id.Equal(crOIDIssuerAltName):
			issuer = append(issuer, ttlv.Bytes(kmip.TagIssuerAlternativeName, e.Value))
		}
	}
	o.SetAttr(attr("X.509 Certificate Subject", ttlv.Struct(0, subject...)))
	o.SetAttr(attr("X.509 Certificate Issuer", ttlv.Struct(0, issuer...)))
	if dsa, ok := crSignatureAlgorithms[c.SignatureAlgorithm]; ok {
		o.SetAttr(attr("Digital Signature Algorithm", ttlv.Enum(0, uint32(dsa))))
	}
	if alg, bits, err := certDescribeKey(c.PublicKey); err == nil {
		if _, given := o.Attr(attrCryptoAlgorithm); !given {
			crSetCrypto(o, alg, 0)
		}
		if _, given := o.Attr(attrCryptoLength); !given {
			crSetCrypto(o, 0, bits)
		}
	}
	return nil
}

var (
	crOIDSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
	crOIDIssuerAltName  = asn1.ObjectIdentifier{2, 5, 29, 18}
)

// crSignatureAlgorithms maps Go's certificate signature algorithms to KMIP
// Digital Signature Algorithm values (KMIP 1.4 §9.1.3.2.7).
var crSignatureAlgorithms = map[x509.SignatureAlgorithm]kmip.DigitalSignatureAlgorithm{
	x509.MD5WithRSA:       kmip.DigitalSignatureAlgorithmMD5WithRSAEncryption,
	x509.SHA1WithRSA:      kmip.DigitalSignatureAlgorithmSHA1WithRSAEncryption,
	x509.SHA256WithRSA:    kmip.DigitalSignatureAlgorithmSHA256WithRSAEncryption,
	x509.SHA384WithRSA:    kmip.DigitalSignatureAlgorithmSHA384WithRSAEncryption,
	x509.SHA512WithRSA:    kmip.DigitalSignatureAlgorithmSHA512WithRSAEncryption,
	x509.SHA256WithRSAPSS: kmip.DigitalSignatureAlgorithmRSASSAPSS,
	x509.SHA384WithRSAPSS: kmip.DigitalSignatureAlgorithmRSASSAPSS,
	x509.SHA512WithRSAPSS: kmip.DigitalSignatureAlgorithmRSASSAPSS,
	x509.DSAWithSHA1:      kmip.DigitalSignatureAlgorithmDSAWithSHA1,
	x509.DSAWithSHA256:    kmip.DigitalSignatureAlgorithmDSAWithSHA256,
	x509.ECDSAWithSHA1:    kmip.DigitalSignatureAlgorithmECDSAWithSHA1,
	x509.ECDSAWithSHA256:  kmip.DigitalSignatureAlgorithmECDSAWithSHA256,
	x509.ECDSAWithSHA384:  kmip.DigitalSignatureAlgorithmECDSAWithSHA384,
	x509.ECDSAWithSHA512:  kmip.DigitalSignatureAlgorithmECDSAWithSHA512,
}

// crUnwrapRegistered recovers the plaintext Key Material of a Key Block
// registered wrapped (KMIP 1.4 §2.1.5), with a managed AES key under NIST
// Key Wrap (RFC 3394) or AES Key Wrap with Padding (RFC 5649). The result
// may alias plaintext buffers; release clears them and must be called once
// the material has been used.
func (s *Service) crUnwrapRegistered(ctx context.Context, req *kmip.Request, kb *crKeyBlock) (ttlv.Value, func(), error) {
	spec, err := crParseWrapSpec(kb.wrapping)
	if err != nil {
		return ttlv.Value{}, nil, err
	}
	kek, mode, err := s.crWrappingKey(ctx, req, spec, true)
	if err != nil {
		return ttlv.Value{}, nil, err
	}
	if kek.ObjectType != kmip.ObjectTypeSymmetricKey {
		return ttlv.Value{}, nil, kmip.Errorf(kmip.ResultReasonFeatureNotSupported, "keys can be registered wrapped only under a symmetric key")
	}
	kekPlain, err := s.hsm.Unwrap(ctx, fromStored(kek.Wrapped))
	if err != nil {
		return ttlv.Value{}, nil, hsmError("unwrap wrapping key", err)
	}
	defer clear(kekPlain)
	var plain []byte
	switch mode {
	case kmip.BlockCipherModeNISTKeyWrap:
		plain, err = crKeyUnwrap(kekPlain, kb.wrappedValue)
	default:
		plain, err = crKeyUnwrapPad(kekPlain, kb.wrappedValue)
	}
	if err != nil {
		return ttlv.Value{}, nil, kmip.Errorf(kmip.ResultReasonCryptographicFailure, "wrapped key value cannot be unwrapped")
	}
	release := func() { clear(plain) }
	if spec.encoding == kmip.EncodingOptionNoEncoding {
		return ttlv.Bytes(kmip.TagKeyMaterial, plain), release, nil
	}
	// TTLV encoding (the default, §2.1.5): the wrapped value is a whole
	// Key Value structure.
	kv, err := ttlv.Decode(plain, crShellLimits)
	if err == nil && kv.Tag == kmip.TagKeyValue {
		if m, ok := kv.Child(kmip.TagKeyMaterial); ok {
			return m, release, nil
		}
	}
	release()
	return ttlv.Value{}, nil, kmip.Errorf(kmip.ResultReasonInvalidField, "unwrapped key value is not a TTLV key value")
}
