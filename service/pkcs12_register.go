package service

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/pkcs12"
	"github.com/kmipd/kmipd/ttlv"
)

// Register of a Private Key with Key Format Type PKCS#12 (KMIP 2.0 §4.39,
// §6.1.39; the OASIS vectors TC-PKCS12-2-14 and -20): the client sends an
// RFC 7292 container and links the Secret Data holding its password; the
// server imports the private key and every certificate in the container as
// objects of their own, so that each can be located, used and served, and
// a later Get in PKCS#12 rebuilds the same container from them.
//
// The private key becomes a PKCS#8 Private Key, registered as if the client
// had sent its PKCS#8 bytes (its Digest is over that encoding, as the
// vectors want), linked to the leaf certificate by a PKCS#12 Certificate
// Link. Each certificate becomes a Certificate object; a certificate whose
// issuer is also in the container gets a Certificate Link to it (KMIP 1.4
// §3.35), which is how pkcs12Chain walks the chain back.

// maxPKCS12Container bounds the container a Register may carry; pkcs12
// refuses larger input too.
const maxPKCS12Container = 1 << 20

// isPKCS12KeyBlock reports whether obj, a Private Key structure, carries a
// Key Block whose Key Format Type is PKCS#12.
func isPKCS12KeyBlock(obj ttlv.Value) bool {
	kb, ok := obj.Child(kmip.TagKeyBlock)
	if !ok {
		return false
	}
	f, ok := kb.Child(kmip.TagKeyFormatType)
	return ok && f.Type == ttlv.TypeEnumeration && kmip.KeyFormatType(f.Enum()) == kmip.KeyFormatTypePKCS12
}

// pkcs12Container returns the container bytes of a PKCS#12 Key Block. Both
// forms of Key Value are accepted: the container as the Key Value itself
// (a Byte String, as TC-PKCS12-2-14 sends it and as kmipd's 1.x Get
// returns it) and as the Key Material of a Key Value structure.
func pkcs12Container(obj ttlv.Value) ([]byte, error) {
	kb, _ := obj.Child(kmip.TagKeyBlock)
	if kb.Has(kmip.TagKeyWrappingData) {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "a wrapped PKCS#12 container cannot be registered: send it unwrapped, protected by its password")
	}
	kv, ok := kb.Child(kmip.TagKeyValue)
	if ok && kv.Type == ttlv.TypeStructure {
		kv, ok = kv.Child(kmip.TagKeyMaterial)
	}
	if !ok || kv.Type != ttlv.TypeByteString || len(kv.Bytes()) == 0 {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "a PKCS#12 key block needs the container as a byte string key value")
	}
	if n := len(kv.Bytes()); n > maxPKCS12Container {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "PKCS#12 container of %d bytes is too large (at most %d)", n, maxPKCS12Container)
	}
	return kv.Bytes(), nil
}

// registerPKCS12 registers the private key and the certificates of the
// PKCS#12 container in obj (a Private Key structure) in one store
// transaction, and answers with the private key's identifier.
func (s *Service) registerPKCS12(ctx context.Context, req *kmip.Request, attrs []kmip.Attribute, obj ttlv.Value) (ttlv.Value, error) {
	container, err := pkcs12Container(obj)
	if err != nil {
		return ttlv.Value{}, err
	}
	now := s.now().UTC().Truncate(time.Second)
	key, err := s.crNewObject(ctx, kmip.ObjectTypePrivateKey, attrs, now)
	if err != nil {
		return ttlv.Value{}, err
	}
	contents, err := s.openPKCS12(ctx, req, key, container)
	if err != nil {
		return ttlv.Value{}, err
	}
	defer clear(contents.PrivateKey)
	if err := pkcs12KeyName(key, contents.KeyName); err != nil {
		return ttlv.Value{}, err
	}
	if len(contents.Certificates) > maxPKCS12Chain {
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonInvalidField, "the PKCS#12 container holds %d certificates, more than %d", len(contents.Certificates), maxPKCS12Chain)
	}
	if err := s.crRegisterKey(ctx, req, key, attrs, pkcs8KeyOf(obj, contents.PrivateKey), kmip.ObjectTypePrivateKey); err != nil {
		return ttlv.Value{}, err
	}
	certs, err := s.pkcs12CertificateObjects(ctx, contents.Certificates, pkcs12FriendlyName(key), now)
	if err != nil {
		return ttlv.Value{}, err
	}
	if len(certs) > 0 {
		key.AddAttr(attr(attrLink, crLink(kmip.LinkTypePKCS12CertificateLink, certs[0].ID)))
	}
	if err := s.crCreateObjects(ctx, req, append([]*objects.Object{key}, certs...)...); err != nil {
		return ttlv.Value{}, err
	}
	return uidPayload(key.ID), nil
}

// openPKCS12 decodes container with the password key's PKCS#12 Password
// Link names. The password object must be an Active Secret Data: the
// OASIS vectors answer a Pre-Active one with Permission Denied in 1.4
// (TC-PKCS12-2-14) and Wrong Key Lifecycle State in 2.0 (TC-PKCS12-2-20),
// where Get answers Bad Password (KMIP 2.0 §11); every other password
// fault is Bad Password in 2.x and Invalid Field in 1.x, as for Get.
func (s *Service) openPKCS12(ctx context.Context, req *kmip.Request, key *objects.Object, container []byte) (*pkcs12.Contents, error) {
	password, err := s.linkedPKCS12Password(ctx, req, key, func(pw *objects.Object) error {
		reason := kmip.ResultReasonPermissionDenied
		if req.Version.Is2x() {
			reason = kmip.ResultReasonWrongKeyLifecycleState
		}
		return kmip.Errorf(reason, "the PKCS#12 password, object %s, is %v: activate it before registering the container", pw.ID, pw.State)
	})
	if err != nil {
		return nil, err
	}
	defer clear(password)
	contents, err := pkcs12.Decode(container, password)
	switch {
	case errors.Is(err, pkcs12.ErrPassword):
		return nil, badPKCS12Password(req, "the PKCS#12 container does not open with the password of the linked Secret Data")
	case errors.Is(err, pkcs12.ErrUnsupported):
		return nil, kmip.Errorf(kmip.ResultReasonKeyFormatTypeNotSupported, "PKCS#12 container: %v", err)
	case err != nil:
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "PKCS#12 container: %v", err)
	}
	return contents, nil
}

// pkcs12KeyName reconciles the PKCS#12 Friendly Name of the request with
// the container's (KMIP 2.0 §4.39): a name the client gives must be the
// key's in the container (compared without case, as the attribute's
// ASN.1 matching rule says); without one, the container's is recorded.
func pkcs12KeyName(key *objects.Object, inContainer string) error {
	given := pkcs12FriendlyName(key)
	switch {
	case given == "" && inContainer != "":
		key.SetAttr(attr(attrPKCS12FriendlyName, ttlv.Text(0, inContainer)))
	case given != "" && inContainer != "" && !strings.EqualFold(given, inContainer):
		return kmip.Errorf(kmip.ResultReasonInvalidField, "the PKCS#12 container has no private key named %q (its key is named %q)", given, inContainer)
	}
	return nil
}

// pkcs12FriendlyName returns o's PKCS#12 Friendly Name, or "".
func pkcs12FriendlyName(o *objects.Object) string {
	if a, ok := o.Attr(attrPKCS12FriendlyName); ok && a.Value.Type == ttlv.TypeTextString {
		return a.Value.Text()
	}
	return ""
}

// pkcs8KeyOf is the Private Key structure a client registering the key as
// PKCS#8 would have sent: der as Key Material, with the Cryptographic
// Algorithm and Length of the PKCS#12 Key Block when it states them, so
// that they are checked against the key as for any other Register.
func pkcs8KeyOf(obj ttlv.Value, der []byte) ttlv.Value {
	kb, _ := obj.Child(kmip.TagKeyBlock)
	fields := []ttlv.Value{
		ttlv.Enum(kmip.TagKeyFormatType, uint32(kmip.KeyFormatTypePKCS8)),
		ttlv.Struct(kmip.TagKeyValue, ttlv.Bytes(kmip.TagKeyMaterial, der)),
	}
	for _, t := range []ttlv.Tag{kmip.TagCryptographicAlgorithm, kmip.TagCryptographicLength} {
		if v, ok := kb.Child(t); ok {
			fields = append(fields, v)
		}
	}
	return ttlv.Struct(kmip.TagPrivateKey, ttlv.Struct(kmip.TagKeyBlock, fields...))
}

// pkcs12CertificateObjects makes a Certificate object of each certificate
// of the container, leaf first, each linked to its issuer when the issuer
// is among them. The leaf takes keyName as its PKCS#12 Friendly Name when
// the container gives it none, as TC-PKCS12-2 expects.
func (s *Service) pkcs12CertificateObjects(ctx context.Context, certs []pkcs12.Certificate, keyName string, now time.Time) ([]*objects.Object, error) {
	out := make([]*objects.Object, 0, len(certs))
	parsed := make([]*x509.Certificate, len(certs))
	for i, c := range certs {
		name := c.FriendlyName
		if i == 0 && name == "" {
			name = keyName
		}
		var attrs []kmip.Attribute
		if name != "" {
			attrs = append(attrs, attr(attrPKCS12FriendlyName, ttlv.Text(0, name)))
		}
		o, err := s.crNewObject(ctx, kmip.ObjectTypeCertificate, attrs, now)
		if err != nil {
			return nil, err
		}
		if err := registerCertificate(o, ttlv.Struct(kmip.TagCertificate,
			ttlv.Enum(kmip.TagCertificateType, uint32(kmip.CertificateTypeX509)),
			ttlv.Bytes(kmip.TagCertificateValue, c.DER))); err != nil {
			return nil, err
		}
		out = append(out, o)
		// A certificate Go cannot parse is kept, but links to nothing.
		parsed[i], _ = x509.ParseCertificate(c.DER)
	}
	for i, c := range parsed {
		if j := pkcs12IssuerIndex(parsed, i); j >= 0 && c != nil {
			out[i].AddAttr(attr(attrLink, crLink(kmip.LinkTypeCertificateLink, out[j].ID)))
		}
	}
	return out, nil
}

// pkcs12IssuerIndex returns the index of the certificate in certs that
// issued certs[i], or -1 when there is none or certs[i] is self-issued:
// the first other certificate whose subject is certs[i]'s issuer and whose
// key verifies its signature.
func pkcs12IssuerIndex(certs []*x509.Certificate, i int) int {
	c := certs[i]
	if c == nil || bytes.Equal(c.RawIssuer, c.RawSubject) {
		return -1
	}
	for j, p := range certs {
		if j == i || p == nil || !bytes.Equal(c.RawIssuer, p.RawSubject) {
			continue
		}
		if c.CheckSignatureFrom(p) == nil {
			return j
		}
	}
	return -1
}
