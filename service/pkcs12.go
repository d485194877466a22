package service

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/pkcs12"
	"github.com/kmipd/kmipd/ttlv"
)

// Get with Key Format Type PKCS#12 (KMIP 2.0 §6.1.22; the format exists
// since KMIP 1.0): the private key and its certificate chain in one
// RFC 7292 container, protected with the password the key's PKCS#12
// Password Link names.

// attrPKCS12FriendlyName is the alias the container gives the key and its
// certificate (KMIP 2.0 §4.39; "alias" when absent).
const attrPKCS12FriendlyName = "PKCS#12 Friendly Name"

// maxPKCS12Chain bounds the certificates followed from a key, so that a
// loop of links or a very long chain cannot keep a Get busy.
const maxPKCS12Chain = 16

// crGetPKCS12 returns the Private Key object o as a PKCS#12 container:
// plain is its PKCS#8 encoding (how every private key is stored), shell
// the stored object structure the key block goes into.
func (s *Service) crGetPKCS12(ctx context.Context, req *kmip.Request, o *objects.Object, plain []byte, shell ttlv.Value, tag ttlv.Tag) (ttlv.Value, error) {
	if _, isK1, _ := parseSecp256k1PKCS8(plain); isK1 {
		// (The parsed scalar aliases plain, which the caller clears.)
		// pkcs12.Encode checks the key with crypto/x509, which knows no
		// secp256k1: say so rather than fail with a Cryptographic Failure.
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonKeyFormatTypeNotSupported, "a secp256k1 private key cannot be returned as PKCS#12")
	}
	password, err := s.pkcs12Password(ctx, req, o)
	if err != nil {
		return ttlv.Value{}, err
	}
	defer clear(password)
	chain, err := s.pkcs12Chain(ctx, req, o)
	if err != nil {
		return ttlv.Value{}, err
	}
	var opts pkcs12.Options
	if a, ok := o.Attr(attrPKCS12FriendlyName); ok && a.Value.Type == ttlv.TypeTextString {
		opts.FriendlyName = a.Value.Text()
	}
	p12, err := pkcs12.Encode(rand.Reader, plain, chain, password, opts)
	switch {
	case errors.Is(err, pkcs12.ErrPassword):
		return ttlv.Value{}, badPKCS12Password(req, "the password of private key %s cannot protect a PKCS#12 file: %v", o.ID, err)
	case err != nil:
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonCryptographicFailure, "PKCS#12 of private key %s: %v", o.ID, err)
	}
	// No Cryptographic Algorithm or Length: the container holds several
	// objects. The OASIS vectors disagree on the Key Value: TC-PKCS12-1-14
	// wants the container as the Key Value itself (a Byte String),
	// TC-PKCS12-1-20 as the Key Material of a Key Value structure, the
	// usual form of both versions. Each version gets its vector's.
	keyValue := ttlv.Struct(kmip.TagKeyValue, ttlv.Bytes(kmip.TagKeyMaterial, p12))
	if !req.Version.Is2x() {
		keyValue = ttlv.Bytes(kmip.TagKeyValue, p12)
	}
	kb := ttlv.Struct(kmip.TagKeyBlock,
		ttlv.Enum(kmip.TagKeyFormatType, uint32(kmip.KeyFormatTypePKCS12)),
		keyValue)
	return ttlv.Struct(tag, crWithKeyBlock(shell, kb)...), nil
}

// pkcs12Password returns the value of the Secret Data that o's one PKCS#12
// Password Link names. KMIP 2.0 §11 (Bad Password): a missing or repeated
// link, or a linked object that is not Secret Data or not Active, is an
// error; 1.x has no Bad Password and answers Invalid Field.
func (s *Service) pkcs12Password(ctx context.Context, req *kmip.Request, o *objects.Object) ([]byte, error) {
	return s.linkedPKCS12Password(ctx, req, o, func(pw *objects.Object) error {
		return badPKCS12Password(req, "the PKCS#12 password of %s, object %s, is in state %v, not Active", o.ID, pw.ID, pw.State)
	})
}

// linkedPKCS12Password is pkcs12Password with the answer to a password
// object that is a Secret Data but not Active left to notActive: Register
// answers it otherwise than Get (see openPKCS12). The caller clears the
// result.
func (s *Service) linkedPKCS12Password(ctx context.Context, req *kmip.Request, o *objects.Object, notActive func(pw *objects.Object) error) ([]byte, error) {
	bad := func(format string, args ...any) error { return badPKCS12Password(req, format, args...) }
	ids := linkedIDs(o, kmip.LinkTypePKCS12PasswordLink)
	switch len(ids) {
	case 0:
		return nil, bad("private key %s has no PKCS#12 Password Link: link it to the Secret Data holding the password", o.ID)
	case 1:
	default:
		return nil, bad("private key %s has %d PKCS#12 Password Links, want one", o.ID, len(ids))
	}
	pw, err := s.object(ctx, req, ids[0])
	if err != nil {
		return nil, err
	}
	switch {
	case pw.ObjectType != kmip.ObjectTypeSecretData:
		return nil, bad("the PKCS#12 password of %s, object %s, is a %v, not a Secret Data", o.ID, pw.ID, pw.ObjectType)
	case pw.State != kmip.StateActive:
		return nil, notActive(pw)
	}
	plain, err := s.readSecret(ctx, pw)
	if err != nil {
		return nil, hsmError("get", err)
	}
	return plain, nil
}

// badPKCS12Password is the error for a PKCS#12 password that is missing
// or unusable: Bad Password in 2.x (KMIP 2.0 §11); 1.x has none.
func badPKCS12Password(req *kmip.Request, format string, args ...any) error {
	if req.Version.Is2x() {
		return kmip.Errorf(kmip.ResultReasonBadPassword, format, args...)
	}
	return kmip.Errorf(kmip.ResultReasonInvalidField, format, args...)
}

// pkcs12Chain returns the DER certificates of key's chain, leaf first. The
// leaf is the one key's PKCS#12 Certificate Link names (as the OASIS
// vectors link it) or, per KMIP 2.0 §6.1.22, the one its public key's
// PKCS#12 Certificate Link names; each certificate's issuer is its
// PKCS#12 Certificate Link or else its Certificate Link (KMIP 1.4 §3.35:
// "the parent certificate for a certificate in a certificate chain").
// More than one link at a step is "more than one valid certificate
// chain", an error. A key without a certificate gives an empty chain.
func (s *Service) pkcs12Chain(ctx context.Context, req *kmip.Request, key *objects.Object) ([][]byte, error) {
	next, err := s.pkcs12Leaf(ctx, req, key)
	if err != nil || next == "" {
		return nil, err
	}
	var chain [][]byte
	seen := []string{key.ID}
	for next != "" {
		if slices.Contains(seen, next) {
			return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "the certificate links of %s loop through %s", key.ID, next)
		}
		if len(chain) == maxPKCS12Chain {
			return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "the certificate chain of %s is longer than %d", key.ID, maxPKCS12Chain)
		}
		seen = append(seen, next)
		cert, err := s.object(ctx, req, next)
		if err != nil {
			return nil, err
		}
		if err := pkcs12Certificate(req, cert); err != nil {
			return nil, err
		}
		chain = append(chain, cert.Public)
		if next, err = oneIssuerLink(cert); err != nil {
			return nil, err
		}
	}
	return chain, nil
}

// pkcs12Leaf returns the identifier of key's own certificate, "" if it has
// none.
func (s *Service) pkcs12Leaf(ctx context.Context, req *kmip.Request, key *objects.Object) (string, error) {
	if id, err := oneLink(key, kmip.LinkTypePKCS12CertificateLink); id != "" || err != nil {
		return id, err
	}
	pubID, err := oneLink(key, kmip.LinkTypePublicKeyLink)
	if pubID == "" || err != nil {
		return "", err
	}
	pub, err := s.object(ctx, req, pubID)
	if err != nil {
		return "", err
	}
	return oneLink(pub, kmip.LinkTypePKCS12CertificateLink)
}

// pkcs12Certificate refuses an object the container cannot hold: not a
// certificate, destroyed, or one Get itself would not return.
func pkcs12Certificate(req *kmip.Request, cert *objects.Object) error {
	if cert.ObjectType != kmip.ObjectTypeCertificate || len(cert.Public) == 0 {
		return kmip.Errorf(kmip.ResultReasonInvalidField, "object %s in the PKCS#12 certificate chain is not a certificate with a value", cert.ID)
	}
	return crCertificateServable(req, cert)
}

// oneIssuerLink returns the identifier of cert's issuer certificate.
func oneIssuerLink(cert *objects.Object) (string, error) {
	if id, err := oneLink(cert, kmip.LinkTypePKCS12CertificateLink); id != "" || err != nil {
		return id, err
	}
	return oneLink(cert, kmip.LinkTypeCertificateLink)
}

// oneLink returns the object o's Link of type lt names, "" without one; two
// distinct targets are an error (more than one chain).
func oneLink(o *objects.Object, lt kmip.LinkType) (string, error) {
	ids := linkedIDs(o, lt)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	switch len(ids) {
	case 0:
		return "", nil
	case 1:
		return ids[0], nil
	default:
		return "", kmip.Errorf(kmip.ResultReasonInvalidField, "object %s has %d links of type %v: more than one certificate chain", o.ID, len(ids), lt)
	}
}
