package service

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// certAttrTestCert makes an end-entity certificate signed by an issuer
// "CN=Inter,O=Kmip Test,C=AU" (as in TC-CERTATTR-1): serial 0x80, whose
// DER INTEGER needs a leading zero byte, a subject with two OUs and a DNS
// Subject Alternative Name.
func certAttrTestCert(t *testing.T) []byte {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	eeKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{Country: []string{"AU"}, Organization: []string{"Kmip Test"}, CommonName: "Inter"},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	ee := &x509.Certificate{
		SerialNumber: big.NewInt(0x80),
		Subject: pkix.Name{Country: []string{"AU"}, Organization: []string{"Kmip Test"},
			OrganizationalUnit: []string{"A", "B"}, CommonName: "EE"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		DNSNames: []string{"ee.kmipd.test"},
	}
	der, err := x509.CreateCertificate(rand.Reader, ee, ca, &eeKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// certAttrRegister registers der as a certificate of type ct in KMIP 1.4,
// with attrs as the client's attributes.
func certAttrRegister(t *testing.T, e *creationEnv, ct kmip.CertificateType, der []byte, attrs ...kmip.Attribute) string {
	t.Helper()
	obj := ttlv.Struct(kmip.TagCertificate,
		ttlv.Enum(kmip.TagCertificateType, uint32(ct)),
		ttlv.Bytes(kmip.TagCertificateValue, der))
	return e.register(t, kmip.V1_4, kmip.ObjectTypeCertificate, obj, attrs...)
}

// certAttrGet runs Get Attributes naming no attribute in version ver.
func certAttrGet(t *testing.T, e *creationEnv, ver kmip.ProtocolVersion, id string) []kmip.Attribute {
	t.Helper()
	return attrsParse(t, ver, e.must(t, ver, kmip.OperationGetAttributes, creationUID(id)))
}

// certAttrValues is the values of every instance of name in attrs.
func certAttrValues(attrs []kmip.Attribute, name string) []ttlv.Value {
	var out []ttlv.Value
	for _, a := range attrsFind(attrs, name) {
		v := a.Value
		v.Tag = 0
		out = append(out, v)
	}
	return out
}

func TestCertAttrGetAttributes(t *testing.T) {
	e := newCreationEnv(t)
	der := certAttrTestCert(t)
	id := certAttrRegister(t, e, kmip.CertificateTypeX509, der)
	digest := sha256.Sum256(der)
	issuerDN := "CN=Inter,O=Kmip Test,C=AU"
	text := func(s ...string) []ttlv.Value {
		out := make([]ttlv.Value, len(s))
		for i := range s {
			out[i] = ttlv.Text(0, s[i])
		}
		return out
	}
	one := func(v ttlv.Value) []ttlv.Value { return []ttlv.Value{v} }
	f, tr := one(ttlv.Bool(0, false)), one(ttlv.Bool(0, true))
	certID := one(ttlv.Struct(0, ttlv.Text(kmip.TagIssuer, issuerDN), ttlv.Text(kmip.TagSerialNumber, "80")))
	subject := one(ttlv.Struct(0,
		ttlv.Text(kmip.TagCertificateSubjectDistinguishedName, "CN=EE,OU=A+OU=B,O=Kmip Test,C=AU"),
		ttlv.Text(kmip.TagCertificateSubjectAlternativeName, "ee.kmipd.test")))
	issuer := one(ttlv.Struct(0, ttlv.Text(kmip.TagCertificateIssuerDistinguishedName, issuerDN)))
	digestRaw := one(ttlv.Struct(0,
		ttlv.Enum(kmip.TagHashingAlgorithm, uint32(kmip.HashingAlgorithmSHA256)),
		ttlv.Bytes(kmip.TagDigestValue, digest[:]),
		ttlv.Enum(kmip.TagKeyFormatType, uint32(kmip.KeyFormatTypeRaw))))
	// KMIP 1.0's Digest has no Key Format Type (added in 1.1).
	digest10 := one(ttlv.Struct(0,
		ttlv.Enum(kmip.TagHashingAlgorithm, uint32(kmip.HashingAlgorithmSHA256)),
		ttlv.Bytes(kmip.TagDigestValue, digest[:])))
	raw := one(ttlv.Enum(0, uint32(kmip.KeyFormatTypeRaw)))

	// want maps an attribute to its values in the version; nil: absent.
	cases := []struct {
		ver  kmip.ProtocolVersion
		want map[string][]ttlv.Value
	}{
		{kmip.V1_0, map[string][]ttlv.Value{
			// The 1.0 forms (KMIP 1.4 §3.13-3.15); none of the 1.4 ones.
			"Certificate Identifier": certID, "Certificate Subject": subject, "Certificate Issuer": issuer,
			"Digest": digest10, "Certificate Subject CN": nil, "Sensitive": nil, "Always Sensitive": nil,
			"Extractable": nil, "Never Extractable": nil, "Key Format Type": nil,
		}},
		{kmip.V1_4, map[string][]ttlv.Value{
			"Certificate Identifier": certID, "Certificate Subject": subject, "Certificate Issuer": issuer,
			"Certificate Subject C": text("AU"), "Certificate Subject O": text("Kmip Test"),
			"Certificate Subject OU": text("A", "B"), "Certificate Subject CN": text("EE"),
			"Certificate Issuer C": text("AU"), "Certificate Issuer O": text("Kmip Test"),
			"Certificate Issuer CN": text("Inter"), "Certificate Issuer OU": nil,
			"Sensitive": f, "Always Sensitive": f, "Extractable": tr, "Never Extractable": f,
			"Digest": digestRaw, "Key Format Type": nil,
			"X.509 Certificate Identifier": one(ttlv.Struct(0,
				ttlv.Bytes(kmip.TagIssuerDistinguishedName, mustCertAttrParse(t, der).RawIssuer),
				ttlv.Bytes(kmip.TagCertificateSerialNumber, []byte{0x02, 0x02, 0x00, 0x80}))),
		}},
		{kmip.V2_0, map[string][]ttlv.Value{
			// 2.0 dropped the 1.0 forms (KMIP 2.0 §4.6 replaces them).
			"Certificate Identifier": nil, "Certificate Subject": nil, "Certificate Issuer": nil,
			"Certificate Subject OU": text("A", "B"), "Certificate Issuer CN": text("Inter"),
			"Sensitive": f, "Always Sensitive": f, "Extractable": tr, "Never Extractable": f,
			"Key Format Type": raw,
		}},
	}
	for _, c := range cases {
		t.Run(c.ver.String(), func(t *testing.T) {
			got := certAttrGet(t, e, c.ver, id)
			for name, want := range c.want {
				if g := certAttrValues(got, name); !slices.EqualFunc(g, want, ttlv.Equal) {
					t.Errorf("%s: got %v, want %v", name, g, want)
				}
			}
			if c.ver.Is2x() {
				return
			}
			// Multi-instance attributes keep one index each (§2.1.1).
			ous := attrsFind(got, "Certificate Subject OU")
			for i, a := range ous {
				if a.Index != i {
					t.Errorf("Certificate Subject OU %d has index %d", i, a.Index)
				}
			}
		})
	}
}

func mustCertAttrParse(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCertAttrGetAttributeList checks that Get Attribute List names the
// derived attributes only in versions that define them.
func TestCertAttrGetAttributeList(t *testing.T) {
	e := newCreationEnv(t)
	id := certAttrRegister(t, e, kmip.CertificateTypeX509, certAttrTestCert(t))
	cases := []struct {
		ver       kmip.ProtocolVersion
		has, lack []string
	}{
		{kmip.V1_0, []string{"Certificate Identifier", "Certificate Subject", "Certificate Issuer"},
			[]string{"Certificate Subject CN", "Sensitive", "Never Extractable"}},
		{kmip.V1_4, []string{"Certificate Identifier", "Certificate Subject CN", "Certificate Issuer O", "Always Sensitive", "Extractable"},
			[]string{"Key Format Type"}},
		{kmip.V2_0, []string{"Certificate Subject CN", "Certificate Issuer C", "Sensitive", "Key Format Type"},
			[]string{"Certificate Identifier", "Certificate Subject", "Certificate Issuer"}},
	}
	for _, c := range cases {
		t.Run(c.ver.String(), func(t *testing.T) {
			p := e.must(t, c.ver, kmip.OperationGetAttributeList, creationUID(id))
			var names []string
			for _, v := range p.Children() {
				switch v.Tag {
				case kmip.TagAttributeName:
					names = append(names, v.Text())
				case kmip.TagAttributeReference:
					names = append(names, kmip.TagString(ttlv.Tag(v.Enum())))
				}
			}
			for _, n := range c.has {
				if !slices.Contains(names, n) && !slices.Contains(names, certAttrTagName(n)) {
					t.Errorf("%s missing from %v", n, names)
				}
			}
			for _, n := range c.lack {
				if slices.Contains(names, n) || slices.Contains(names, certAttrTagName(n)) {
					t.Errorf("%s listed in %v", n, names)
				}
			}
		})
	}
}

// certAttrTagName is the tag name of attribute name, as a 2.x Attribute
// Reference names it.
func certAttrTagName(name string) string {
	info, _ := kmip.AttributeByName(name)
	return kmip.TagString(info.Tag)
}

// TestCertAttrProtectionDefaults checks the Sensitive / Extractable family
// of registered certificates (KMIP 1.4 §3.48-3.51), also for values Go
// cannot parse, and that only X.509 certificates get identity attributes.
func TestCertAttrProtectionDefaults(t *testing.T) {
	e := newCreationEnv(t)
	der := certAttrTestCert(t)
	cases := []struct {
		name                                 string
		ct                                   kmip.CertificateType
		der                                  []byte
		attrs                                []kmip.Attribute
		sensitive, always, extract, neverExt bool
		identity                             bool
	}{
		{name: "defaults", ct: kmip.CertificateTypeX509, der: der, extract: true, identity: true},
		{name: "client sensitive", ct: kmip.CertificateTypeX509, der: der,
			attrs:     []kmip.Attribute{creationBool(attrSensitive, true)},
			sensitive: true, always: true, extract: true, identity: true},
		{name: "client not extractable", ct: kmip.CertificateTypeX509, der: der,
			attrs:    []kmip.Attribute{creationBool(attrExtractable, false)},
			neverExt: true, identity: true},
		{name: "unparseable X.509", ct: kmip.CertificateTypeX509, der: []byte("not DER"), extract: true},
		{name: "PGP", ct: kmip.CertificateTypePGP, der: []byte("a PGP key"), extract: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := certAttrRegister(t, e, c.ct, c.der, c.attrs...)
			o := e.object(t, id)
			for name, want := range map[string]bool{
				attrSensitive: c.sensitive, attrAlwaysSensitive: c.always,
				attrExtractable: c.extract, attrNeverExtractable: c.neverExt,
			} {
				if v := creationAttrValue(t, o, name); v.Type != ttlv.TypeBoolean || v.Bool() != want {
					t.Errorf("%s = %v, want %v", name, v, want)
				}
			}
			if d := creationAttrValue(t, o, attrDigest); !d.Has(kmip.TagKeyFormatType) {
				t.Errorf("Digest %v has no Key Format Type", d)
			}
			for _, name := range []string{"Certificate Identifier", "Certificate Subject CN", "X.509 Certificate Identifier"} {
				if _, ok := o.Attr(name); ok != c.identity {
					t.Errorf("%s present: %v, want %v", name, ok, c.identity)
				}
			}
			// Get serves a certificate only if it is extractable and
			// not sensitive (certificates are never returned wrapped).
			_, err := e.call(creationV14, kmip.OperationGet, creationUID(id))
			switch {
			case c.sensitive:
				creationReason(t, err, kmip.ResultReasonSensitive)
			case !c.extract:
				creationReason(t, err, kmip.ResultReasonNotExtractable)
			case err != nil:
				t.Errorf("Get: %v", err)
			}
		})
	}
}
