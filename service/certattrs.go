package service

import (
	"bytes"
	"crypto/ecdh"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"sync"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// certSetDerivedAttributes sets, on a certificate being registered, the
// attributes the server derives beyond those registerCertificate sets:
//
//   - the Digest of the Certificate Value (§3.17), with Key Format Type
//     Raw: the format it was registered and is served in, as the OASIS
//     vectors TC-CERTATTR-1-14 and -20 show it;
//   - the 2.x Key Format Type attribute (2.0 §4.26: "SHALL always have
//     a value", All Objects), Raw as in those vectors: the value is served
//     as the bytes registered (2.0 Table 81 lists X.509 as the default for
//     a certificate; the reference server and kmipd both answer Raw);
//   - the Sensitive / Extractable family (KMIP 1.4 §3.48-3.51: "Applies to
//     All Objects", "SHALL always have a value"), which crNewObject leaves
//     to the caller for certificates;
//   - for an X.509 certificate Go can parse, the 1.0 Certificate
//     Identifier, Subject and Issuer (1.4 §3.13-3.15, deprecated since 1.1
//     and gone in 2.0) and the per-component Certificate Attributes
//     (2.0 §4.6, tags since 1.4: Certificate Subject CN, O, C, ...).
//
// Which of them a client sees depends on its protocol version: Get
// Attributes and Get Attribute List leave out attributes the version does
// not define (shownIn). A certificate that does not parse gets only the
// first three groups: its value is stored as given (registerCertificate).
func certSetDerivedAttributes(o *objects.Object, certType kmip.CertificateType, der []byte) {
	o.SetAttr(attr(attrDigest, crDigest(ttlv.Bytes(0, der), kmip.KeyFormatTypeRaw)))
	crSetFormat(o, kmip.KeyFormatTypeRaw)
	certSetProtectionDefaults(o)
	if certType != kmip.CertificateTypeX509 {
		return
	}
	c, err := certParse(der)
	if err != nil {
		return
	}
	certSetIdentity(o, c)
	certSetNameComponents(o, "Certificate Subject ", c.RawSubject)
	certSetNameComponents(o, "Certificate Issuer ", c.RawIssuer)
}

// certSetProtectionDefaults gives a certificate Sensitive False and
// Extractable True unless the client set them (§3.48, §3.50: "The server
// SHALL set the value ... if the value is not provided by the client"),
// and Always Sensitive and Never Extractable from them (§3.49, §3.51).
func certSetProtectionDefaults(o *objects.Object) {
	sensitive, extractable := false, true
	if v, ok := o.Attr(attrSensitive); ok && v.Value.Type == ttlv.TypeBoolean {
		sensitive = v.Value.Bool()
	} else if !ok {
		o.SetAttr(attr(attrSensitive, ttlv.Bool(0, false)))
	}
	if v, ok := o.Attr(attrExtractable); ok && v.Value.Type == ttlv.TypeBoolean {
		extractable = v.Value.Bool()
	} else if !ok {
		o.SetAttr(attr(attrExtractable, ttlv.Bool(0, true)))
	}
	if _, ok := o.Attr(attrAlwaysSensitive); !ok {
		o.SetAttr(attr(attrAlwaysSensitive, ttlv.Bool(0, sensitive)))
	}
	if _, ok := o.Attr(attrNeverExtractable); !ok {
		o.SetAttr(attr(attrNeverExtractable, ttlv.Bool(0, !extractable)))
	}
}

// certSetIdentity sets the 1.0 text forms of the certificate's identity
// (KMIP 1.4 §3.13-3.15, Tables 80, 82, 84): the issuer and subject
// Distinguished Names as RFC 2253 strings, the serial number in hex (as
// the OASIS vector TC-CERTATTR-1-14 shows it), and the subject's
// alternative names. The issuer's alternative names are left out (the
// field is optional, and Go does not parse that extension).
func certSetIdentity(o *objects.Object, c *x509.Certificate) {
	issuer := certDistinguishedName(c.RawIssuer)
	subject := []ttlv.Value{ttlv.Text(kmip.TagCertificateSubjectDistinguishedName, certDistinguishedName(c.RawSubject))}
	for _, alt := range certSubjectAltNames(c) {
		subject = append(subject, ttlv.Text(kmip.TagCertificateSubjectAlternativeName, alt))
	}
	o.SetAttr(attr("Certificate Identifier", ttlv.Struct(0,
		ttlv.Text(kmip.TagIssuer, issuer),
		ttlv.Text(kmip.TagSerialNumber, fmt.Sprintf("%x", c.SerialNumber)))))
	o.SetAttr(attr("Certificate Subject", ttlv.Struct(0, subject...)))
	o.SetAttr(attr("Certificate Issuer", ttlv.Struct(0,
		ttlv.Text(kmip.TagCertificateIssuerDistinguishedName, issuer))))
}

// certDistinguishedName renders a DER Name as an RFC 2253 string
// ("CN=EE,O=Kmip Test,C=AU": last RDN first), from the raw sequence so
// that the certificate's own order and attribute types are kept. A Name
// that does not parse again (x509 parsed it already) renders as "".
func certDistinguishedName(raw []byte) string {
	var rdns pkix.RDNSequence
	if rest, err := asn1.Unmarshal(raw, &rdns); err != nil || len(rest) != 0 {
		return ""
	}
	return rdns.String()
}

// certSubjectAltNames lists the Subject Alternative Name entries Go
// parses (DNS names, e-mail addresses, IP addresses, URIs) as text.
func certSubjectAltNames(c *x509.Certificate) []string {
	out := make([]string, 0, len(c.DNSNames)+len(c.EmailAddresses)+len(c.IPAddresses)+len(c.URIs))
	out = append(out, c.DNSNames...)
	out = append(out, c.EmailAddresses...)
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	for _, u := range c.URIs {
		out = append(out, u.String())
	}
	return out
}

// certNameComponents maps the RFC 2253 attribute types of a Distinguished
// Name to the suffix of their KMIP Certificate Attribute (KMIP 2.0 §4.6,
// Table 39; "Certificate Subject " or "Certificate Issuer " goes before).
var certNameComponents = []struct {
	oid    asn1.ObjectIdentifier
	suffix string
}{
	{asn1.ObjectIdentifier{2, 5, 4, 3}, "CN"},
	{asn1.ObjectIdentifier{2, 5, 4, 10}, "O"},
	{asn1.ObjectIdentifier{2, 5, 4, 11}, "OU"},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, "Email"},
	{asn1.ObjectIdentifier{2, 5, 4, 6}, "C"},
	{asn1.ObjectIdentifier{2, 5, 4, 8}, "ST"},
	{asn1.ObjectIdentifier{2, 5, 4, 7}, "L"},
	{asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}, "UID"},
	{asn1.ObjectIdentifier{2, 5, 4, 5}, "Serial Number"},
	{asn1.ObjectIdentifier{2, 5, 4, 12}, "Title"},
	{asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}, "DC"},
	{asn1.ObjectIdentifier{2, 5, 4, 46}, "DN Qualifier"},
}

// certSetNameComponents adds one Certificate Attribute instance per
// component of the DER Name raw that Table 39 names, in the Name's order
// (the attributes are multi-instance: a Name may hold two OUs). Components
// of other types, or whose value is not a string, have no attribute.
func certSetNameComponents(o *objects.Object, prefix string, raw []byte) {
	var rdns pkix.RDNSequence
	if rest, err := asn1.Unmarshal(raw, &rdns); err != nil || len(rest) != 0 {
		return
	}
	for _, rdn := range rdns {
		for _, atv := range rdn {
			s, ok := atv.Value.(string)
			if !ok {
				continue
			}
			for _, nc := range certNameComponents {
				if atv.Type.Equal(nc.oid) {
					o.AddAttr(attr(prefix+nc.suffix, ttlv.Text(0, s)))
					break
				}
			}
		}
	}
}

// certSerialNumberDER is the Certificate Serial Number of the X.509
// Certificate Identifier (KMIP 1.4 §3.10, Table 74): the certificate's
// Serial Number field as DER encodes it, an INTEGER with its tag and
// length, as the OASIS vectors show it (TC-CERTATTR-1-14: 02 08 3132...;
// 8 of their 10 serial numbers are so). The INTEGER is re-encoded from
// the parsed value, which DER makes byte-identical to the field.
func certSerialNumberDER(c *x509.Certificate) []byte {
	der, err := asn1.Marshal(c.SerialNumber)
	if err != nil {
		// Marshal fails on a nil *big.Int only, which x509 never yields.
		return c.SerialNumber.Bytes()
	}
	return der
}

// certMaxTBSFields bounds the fields of a TBSCertificate walked by
// certWithSPKI (RFC 5280 §4.1 has at most ten).
const certMaxTBSFields = 16

// certParse parses an X.509 certificate with crypto/x509 and, when that
// fails because the key is on secp256k1 (which Go does not implement,
// secp256k1.go), parses it again with a stand-in P-256 key in place of
// the SubjectPublicKeyInfo, then puts back the original raw fields and a
// secp256k1PublicKey as its PublicKey. Nothing verifies the certificate's
// signature here, so the stand-in changes no decision; it only lets the
// derived attributes (subject, issuer, serial number, validity,
// extensions) be read (OASIS vectors TC-ECC-3-14 and -20).
func certParse(der []byte) (*x509.Certificate, error) {
	c, err := x509.ParseCertificate(der)
	if err == nil {
		return c, nil
	}
	tbs, spki, swapped, ok := certWithSPKI(der, certStandInSPKI())
	if !ok {
		return nil, err
	}
	pub, handled, k1err := parseSecp256k1SPKI(spki)
	if !handled || k1err != nil {
		return nil, err
	}
	c, err2 := x509.ParseCertificate(swapped)
	if err2 != nil {
		return nil, err
	}
	c.Raw = der
	c.RawSubjectPublicKeyInfo = spki
	c.PublicKey = pub
	c.PublicKeyAlgorithm = x509.ECDSA
	c.RawTBSCertificate = tbs
	return c, nil
}

// certStandInSPKI is the SubjectPublicKeyInfo of the P-256 base point, a
// valid public key that certParse substitutes for one Go cannot parse.
var certStandInSPKI = sync.OnceValue(func() []byte {
	p := elliptic.P256().Params()
	point := append([]byte{4}, p.Gx.FillBytes(make([]byte, 32))...)
	point = append(point, p.Gy.FillBytes(make([]byte, 32))...)
	k, err := ecdh.P256().NewPublicKey(point)
	if err != nil {
		panic("certattrs: P-256 base point: " + err.Error())
	}
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		panic("certattrs: P-256 base point: " + err.Error())
	}
	return der
})

// certWithSPKI returns the raw TBSCertificate and SubjectPublicKeyInfo of
// the DER certificate der, and a copy of der with spki in place of the
// latter, re-encoded in DER. It
// walks the TBSCertificate (RFC 5280 §4.1.1.1): an optional [0] version,
// then serialNumber, signature, issuer, validity, subject and
// subjectPublicKeyInfo. ok is false for anything that is not so shaped.
func certWithSPKI(der, spki []byte) (tbs, orig, swapped []byte, ok bool) {
	var cert struct {
		TBS     asn1.RawValue
		SigAlg  asn1.RawValue
		SigBits asn1.RawValue
	}
	if rest, err := asn1.Unmarshal(der, &cert); err != nil || len(rest) != 0 {
		return nil, nil, nil, false
	}
	if cert.TBS.Class != asn1.ClassUniversal || cert.TBS.Tag != asn1.TagSequence || !cert.TBS.IsCompound {
		return nil, nil, nil, false
	}
	var fields [][]byte
	for rest := cert.TBS.Bytes; len(rest) > 0; {
		if len(fields) == certMaxTBSFields {
			return nil, nil, nil, false
		}
		var f asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &f); err != nil {
			return nil, nil, nil, false
		}
		fields = append(fields, f.FullBytes)
	}
	at := 5 // serialNumber, signature, issuer, validity, subject
	if len(fields) > 0 && fields[0][0] == 0xa0 {
		at++ // [0] EXPLICIT version
	}
	if len(fields) <= at {
		return nil, nil, nil, false
	}
	orig = fields[at]
	fields[at] = spki
	newTBS, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: bytes.Join(fields, nil)})
	if err != nil {
		return nil, nil, nil, false
	}
	out, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true,
		Bytes: bytes.Join([][]byte{newTBS, cert.SigAlg.FullBytes, cert.SigBits.FullBytes}, nil)})
	if err != nil {
		return nil, nil, nil, false
	}
	return cert.TBS.FullBytes, orig, out, true
}

// certDescribeKey is crDescribeKey for a certificate's public key, which
// certParse may have made a secp256k1 key.
func certDescribeKey(key any) (kmip.CryptographicAlgorithm, int32, error) {
	if _, ok := key.(*secp256k1PublicKey); ok {
		return kmip.CryptographicAlgorithmEC, secp256k1Bits, nil
	}
	return crDescribeKey(key)
}
