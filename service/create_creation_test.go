package service

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

func TestCreationCreateSymmetric(t *testing.T) {
	e := newCreationEnv(t)
	tests := []struct {
		alg      kmip.CryptographicAlgorithm
		bits     int32 // 0: let the server choose
		wantBits int32
		wantLen  int // key bytes
		wantMask kmip.CryptographicUsageMask
	}{
		{kmip.CryptographicAlgorithmAES, 128, 128, 16, kmip.CryptographicUsageMaskEncrypt | kmip.CryptographicUsageMaskDecrypt},
		{kmip.CryptographicAlgorithmAES, 192, 192, 24, kmip.CryptographicUsageMaskEncrypt | kmip.CryptographicUsageMaskDecrypt},
		{kmip.CryptographicAlgorithmAES, 256, 256, 32, kmip.CryptographicUsageMaskEncrypt | kmip.CryptographicUsageMaskDecrypt},
		{kmip.CryptographicAlgorithmAES, 0, 256, 32, kmip.CryptographicUsageMaskEncrypt | kmip.CryptographicUsageMaskDecrypt},
		{kmip.CryptographicAlgorithmDES3, 168, 168, 24, kmip.CryptographicUsageMaskEncrypt | kmip.CryptographicUsageMaskDecrypt},
		{kmip.CryptographicAlgorithmDES3, 192, 192, 24, kmip.CryptographicUsageMaskEncrypt | kmip.CryptographicUsageMaskDecrypt},
		{kmip.CryptographicAlgorithmHMACSHA1, 0, 160, 20, kmip.CryptographicUsageMaskMACGenerate | kmip.CryptographicUsageMaskMACVerify},
		{kmip.CryptographicAlgorithmHMACSHA256, 0, 256, 32, kmip.CryptographicUsageMaskMACGenerate | kmip.CryptographicUsageMaskMACVerify},
		{kmip.CryptographicAlgorithmHMACSHA384, 0, 384, 48, kmip.CryptographicUsageMaskMACGenerate | kmip.CryptographicUsageMaskMACVerify},
		{kmip.CryptographicAlgorithmHMACSHA512, 512, 512, 64, kmip.CryptographicUsageMaskMACGenerate | kmip.CryptographicUsageMaskMACVerify},
	}
	for i, tc := range tests {
		for _, ver := range []kmip.ProtocolVersion{kmip.V1_0, creationV14, creationV20, kmip.V2_1} {
			if i%2 == 1 && ver == kmip.V1_0 {
				continue // 1.0 on every other row keeps the test short
			}
			t.Run(fmt.Sprintf("%v-%d/%v", tc.alg, tc.bits, ver), func(t *testing.T) {
				attrs := []kmip.Attribute{creationAlg(tc.alg)}
				if tc.bits != 0 {
					attrs = append(attrs, creationLen(tc.bits))
				}
				p := e.must(t, ver, kmip.OperationCreate, creationOT(kmip.ObjectTypeSymmetricKey), creationTemplate(ver, attrs...))
				// SKLC-M-1: Object Type, then Unique Identifier.
				if got := creationTags(p); !slices.Equal(got, []ttlv.Tag{kmip.TagObjectType, kmip.TagUniqueIdentifier}) {
					t.Fatalf("create response fields %v", got)
				}
				id := creationID(t, p)
				o := e.object(t, id)
				if o.State != kmip.StatePreActive || o.Wrapped == nil || o.Public != nil {
					t.Fatalf("stored state %v wrapped %v public %d bytes", o.State, o.Wrapped, len(o.Public))
				}
				if got := creationAttrValue(t, o, attrCryptoLength).Int(); got != tc.wantBits {
					t.Errorf("cryptographic length %d, want %d", got, tc.wantBits)
				}
				if got := kmip.CryptographicUsageMask(creationAttrValue(t, o, attrCryptoUsageMask).Int()); got != tc.wantMask {
					t.Errorf("usage mask %v, want %v", got, tc.wantMask)
				}
				for _, name := range []string{attrUniqueIdentifier, attrObjectType, attrState, attrInitialDate, attrLastChangeDate,
					attrOriginalCreationDate, attrFresh, attrSensitive, attrExtractable, attrAlwaysSensitive, attrNeverExtractable} {
					creationAttrValue(t, o, name)
				}
				obj := e.get(t, ver, id)
				kb, m := creationMaterial(t, obj)
				// SKFF-M-5: Key Format Type, Key Value, Cryptographic
				// Algorithm, Cryptographic Length.
				if got := creationTags(kb); !slices.Equal(got, []ttlv.Tag{kmip.TagKeyFormatType, kmip.TagKeyValue, kmip.TagCryptographicAlgorithm, kmip.TagCryptographicLength}) {
					t.Fatalf("key block fields %v", got)
				}
				if f, _ := kb.Child(kmip.TagKeyFormatType); kmip.KeyFormatType(f.Enum()) != kmip.KeyFormatTypeRaw {
					t.Errorf("key format %v, want Raw", kmip.KeyFormatType(f.Enum()))
				}
				if len(m.Bytes()) != tc.wantLen {
					t.Errorf("key of %d bytes, want %d", len(m.Bytes()), tc.wantLen)
				}
				d := creationAttrValue(t, o, attrDigest)
				dv, _ := d.Child(kmip.TagDigestValue)
				sum := sha256.Sum256(m.Bytes())
				if !bytes.Equal(dv.Bytes(), sum[:]) {
					t.Errorf("digest does not match the key material")
				}
				// The first Get clears Fresh.
				if creationAttrValue(t, e.object(t, id), attrFresh).Bool() {
					t.Errorf("fresh still true after get")
				}
			})
		}
	}
}

func TestCreationCreateDates(t *testing.T) {
	e := newCreationEnv(t)
	now := time.Now().UTC().Truncate(time.Second)
	tests := []struct {
		name  string
		attrs []kmip.Attribute
		want  kmip.State
	}{
		{"no dates", nil, kmip.StatePreActive},
		{"activation past", []kmip.Attribute{creationDate(attrActivationDate, now.Add(-time.Hour))}, kmip.StateActive},
		{"activation future", []kmip.Attribute{creationDate(attrActivationDate, now.Add(time.Hour))}, kmip.StatePreActive},
		{"deactivation past", []kmip.Attribute{creationDate(attrActivationDate, now.Add(-2*time.Hour)), creationDate(attrDeactivationDate, now.Add(-time.Hour))}, kmip.StateDeactivated},
	}
	for _, tc := range tests {
		for _, ver := range []kmip.ProtocolVersion{creationV14, creationV20} {
			t.Run(tc.name+"/"+ver.String(), func(t *testing.T) {
				attrs := append([]kmip.Attribute{creationAlg(kmip.CryptographicAlgorithmAES), creationLen(128)}, tc.attrs...)
				id := creationID(t, e.must(t, ver, kmip.OperationCreate, creationOT(kmip.ObjectTypeSymmetricKey), creationTemplate(ver, attrs...)))
				o := e.object(t, id)
				if o.State != tc.want || kmip.State(creationAttrValue(t, o, attrState).Enum()) != tc.want {
					t.Errorf("state %v (attribute %v), want %v", o.State, kmip.State(creationAttrValue(t, o, attrState).Enum()), tc.want)
				}
			})
		}
	}
}

func TestCreationCreateErrors(t *testing.T) {
	e := newCreationEnv(t)
	aes := []kmip.Attribute{creationAlg(kmip.CryptographicAlgorithmAES), creationLen(128)}
	e.must(t, creationV14, kmip.OperationCreate, creationOT(kmip.ObjectTypeSymmetricKey),
		creationTemplate(creationV14, append(aes, creationName("taken"))...))
	tmpl := func(ver kmip.ProtocolVersion, extra ...kmip.Attribute) ttlv.Value {
		return creationTemplate(ver, append(append([]kmip.Attribute{}, aes...), extra...)...)
	}
	tests := []struct {
		name   string
		fields func(ver kmip.ProtocolVersion) []ttlv.Value
		want1x kmip.ResultReason
		want2x kmip.ResultReason
	}{
		{"no object type", func(ver kmip.ProtocolVersion) []ttlv.Value { return []ttlv.Value{tmpl(ver)} },
			kmip.ResultReasonInvalidMessage, kmip.ResultReasonInvalidMessage},
		{"object type twice", func(ver kmip.ProtocolVersion) []ttlv.Value {
			return []ttlv.Value{creationOT(kmip.ObjectTypeSymmetricKey), creationOT(kmip.ObjectTypeSymmetricKey), tmpl(ver)}
		}, kmip.ResultReasonInvalidMessage, kmip.ResultReasonInvalidMessage},
		{"private key", func(ver kmip.ProtocolVersion) []ttlv.Value {
			return []ttlv.Value{creationOT(kmip.ObjectTypePrivateKey), tmpl(ver)}
		}, kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidObjectType},
		{"no algorithm", func(ver kmip.ProtocolVersion) []ttlv.Value {
			return []ttlv.Value{creationOT(kmip.ObjectTypeSymmetricKey), creationTemplate(ver, creationLen(128))}
		}, kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidAttributeValue},
		{"AES-100", func(ver kmip.ProtocolVersion) []ttlv.Value {
			return []ttlv.Value{creationOT(kmip.ObjectTypeSymmetricKey), creationTemplate(ver, creationAlg(kmip.CryptographicAlgorithmAES), creationLen(100))}
		}, kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidAttributeValue},
		{"RSA", func(ver kmip.ProtocolVersion) []ttlv.Value {
			return []ttlv.Value{creationOT(kmip.ObjectTypeSymmetricKey), creationTemplate(ver, creationAlg(kmip.CryptographicAlgorithmRSA), creationLen(2048))}
		}, kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidAttributeValue},
		{"server-set state", func(ver kmip.ProtocolVersion) []ttlv.Value {
			return []ttlv.Value{creationOT(kmip.ObjectTypeSymmetricKey), tmpl(ver, creationA(attrState, ttlv.Enum(0, uint32(kmip.StateActive))))}
		}, kmip.ResultReasonInvalidField, kmip.ResultReasonAttributeReadOnly},
		{"server-set unique identifier", func(ver kmip.ProtocolVersion) []ttlv.Value {
			return []ttlv.Value{creationOT(kmip.ObjectTypeSymmetricKey), tmpl(ver, creationA(attrUniqueIdentifier, ttlv.Text(0, "mine")))}
		}, kmip.ResultReasonInvalidField, kmip.ResultReasonAttributeReadOnly},
		{"length twice", func(ver kmip.ProtocolVersion) []ttlv.Value {
			return []ttlv.Value{creationOT(kmip.ObjectTypeSymmetricKey), tmpl(ver, creationLen(256))}
		}, kmip.ResultReasonInvalidField, kmip.ResultReasonAttributeSingleValued},
		{"mask of wrong type", func(ver kmip.ProtocolVersion) []ttlv.Value {
			return []ttlv.Value{creationOT(kmip.ObjectTypeSymmetricKey), tmpl(ver, creationA(attrCryptoUsageMask, ttlv.Text(0, "Encrypt")))}
		}, kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidAttributeValue},
		{"name taken", func(ver kmip.ProtocolVersion) []ttlv.Value {
			return []ttlv.Value{creationOT(kmip.ObjectTypeSymmetricKey), tmpl(ver, creationName("taken"))}
		}, kmip.ResultReasonInvalidField, kmip.ResultReasonNonUniqueNameAttribute},
	}
	for _, tc := range tests {
		for _, ver := range []kmip.ProtocolVersion{creationV14, creationV20} {
			t.Run(tc.name+"/"+ver.String(), func(t *testing.T) {
				_, err := e.call(ver, kmip.OperationCreate, tc.fields(ver)...)
				want := tc.want1x
				if ver.Is2x() {
					want = tc.want2x
				}
				creationReason(t, err, want)
			})
		}
	}
	t.Run("template name", func(t *testing.T) {
		// KMIP 1.4 §11.2: "Templates that do not exist are given in
		// request": Item Not Found.
		tmpl := ttlv.Struct(kmip.TagTemplateAttribute, ttlv.Struct(kmip.TagName,
			ttlv.Text(kmip.TagNameValue, "tmpl"), ttlv.Enum(kmip.TagNameType, 1)))
		_, err := e.call(creationV14, kmip.OperationCreate, creationOT(kmip.ObjectTypeSymmetricKey), tmpl)
		creationReason(t, err, kmip.ResultReasonItemNotFound)
	})
}

func TestCreationCreateSecretData(t *testing.T) {
	e := newCreationEnv(t)
	for _, ver := range []kmip.ProtocolVersion{creationV14, creationV20} {
		t.Run(ver.String(), func(t *testing.T) {
			// TC-CREATE-SD-1: Create Secret Data of 80 bits, Get it as
			// Opaque Password.
			id := creationID(t, e.must(t, ver, kmip.OperationCreate, creationOT(kmip.ObjectTypeSecretData), creationTemplate(ver, creationLen(80))))
			obj := e.get(t, ver, id)
			if got := creationTags(obj); !slices.Equal(got, []ttlv.Tag{kmip.TagSecretDataType, kmip.TagKeyBlock}) {
				t.Fatalf("secret data fields %v", got)
			}
			if st, _ := obj.Child(kmip.TagSecretDataType); kmip.SecretDataType(st.Enum()) != kmip.SecretDataTypePassword {
				t.Errorf("secret data type %v", kmip.SecretDataType(st.Enum()))
			}
			kb, m := creationMaterial(t, obj)
			if got := creationTags(kb); !slices.Equal(got, []ttlv.Tag{kmip.TagKeyFormatType, kmip.TagKeyValue}) {
				t.Errorf("key block fields %v, want no algorithm or length", got)
			}
			if len(m.Bytes()) != 10 {
				t.Errorf("secret of %d bytes, want 10", len(m.Bytes()))
			}
			// Secret Data gets a usage mask even when none is given.
			creationAttrValue(t, e.object(t, id), attrCryptoUsageMask)
		})
	}
}

func TestCreationCreateKeyPair(t *testing.T) {
	e := newCreationEnv(t)
	type pairCase struct {
		name    string
		ver     kmip.ProtocolVersion
		alg     kmip.CryptographicAlgorithm
		bits    int32
		curve   kmip.RecommendedCurve // instead of bits
		want    int32
		privFmt kmip.KeyFormatType
		pubFmt  kmip.KeyFormatType
		slow    bool
	}
	tests := []pairCase{
		{"RSA-2048", creationV14, kmip.CryptographicAlgorithmRSA, 2048, 0, 2048, kmip.KeyFormatTypePKCS1, kmip.KeyFormatTypePKCS1, false},
		{"RSA-2048", creationV20, kmip.CryptographicAlgorithmRSA, 2048, 0, 2048, kmip.KeyFormatTypePKCS1, kmip.KeyFormatTypePKCS1, false},
		{"RSA-3072", kmip.V1_2, kmip.CryptographicAlgorithmRSA, 3072, 0, 3072, kmip.KeyFormatTypePKCS1, kmip.KeyFormatTypePKCS1, false},
		{"RSA-4096", kmip.V2_1, kmip.CryptographicAlgorithmRSA, 4096, 0, 4096, kmip.KeyFormatTypePKCS1, kmip.KeyFormatTypePKCS1, true},
		{"EC-P256", creationV14, kmip.CryptographicAlgorithmEC, 256, 0, 256, kmip.KeyFormatTypePKCS8, kmip.KeyFormatTypeX509, false},
		{"ECDSA-P384", creationV20, kmip.CryptographicAlgorithmECDSA, 384, 0, 384, kmip.KeyFormatTypePKCS8, kmip.KeyFormatTypeX509, false},
		{"ECDH-P521-curve", creationV14, kmip.CryptographicAlgorithmECDH, 0, kmip.RecommendedCurveP521, 521, kmip.KeyFormatTypePKCS8, kmip.KeyFormatTypeX509, false},
	}
	for _, tc := range tests {
		t.Run(tc.name+"/"+tc.ver.String(), func(t *testing.T) {
			if tc.slow && testing.Short() {
				t.Skip("RSA-4096 generation is slow in SoftHSM")
			}
			common := []kmip.Attribute{creationAlg(tc.alg)}
			if tc.bits != 0 {
				common = append(common, creationLen(tc.bits))
			}
			if tc.curve != 0 {
				common = append(common, creationA(attrCryptoDomainParams,
					ttlv.Struct(0, ttlv.Enum(kmip.TagRecommendedCurve, uint32(tc.curve)))))
			}
			// AKLC-M-1: names and masks per key, algorithm and length
			// common.
			p := e.must(t, tc.ver, kmip.OperationCreateKeyPair,
				creationAttrs(tc.ver, kmip.TagCommonTemplateAttribute, kmip.TagCommonAttributes, common...),
				creationAttrs(tc.ver, kmip.TagPrivateKeyTemplateAttribute, kmip.TagPrivateKeyAttributes,
					creationName(tc.name+tc.ver.String()+"-private"), creationMask(kmip.CryptographicUsageMaskSign)),
				creationAttrs(tc.ver, kmip.TagPublicKeyTemplateAttribute, kmip.TagPublicKeyAttributes,
					creationName(tc.name+tc.ver.String()+"-public"), creationMask(kmip.CryptographicUsageMaskVerify)))
			if got := creationTags(p); !slices.Equal(got, []ttlv.Tag{kmip.TagPrivateKeyUniqueIdentifier, kmip.TagPublicKeyUniqueIdentifier}) {
				t.Fatalf("create key pair response fields %v", got)
			}
			privID := p.Children()[0].Text()
			pubID := p.Children()[1].Text()
			priv, pub := e.object(t, privID), e.object(t, pubID)
			if priv.ObjectType != kmip.ObjectTypePrivateKey || pub.ObjectType != kmip.ObjectTypePublicKey {
				t.Fatalf("object types %v, %v", priv.ObjectType, pub.ObjectType)
			}
			if creationLinks(priv)[kmip.LinkTypePublicKeyLink] != pubID || creationLinks(pub)[kmip.LinkTypePrivateKeyLink] != privID {
				t.Errorf("links %v / %v", creationLinks(priv), creationLinks(pub))
			}
			if m := creationAttrValue(t, priv, attrCryptoUsageMask).Int(); m != int32(kmip.CryptographicUsageMaskSign) {
				t.Errorf("private usage %v", kmip.CryptographicUsageMask(m))
			}
			if m := creationAttrValue(t, pub, attrCryptoUsageMask).Int(); m != int32(kmip.CryptographicUsageMaskVerify) {
				t.Errorf("public usage %v", kmip.CryptographicUsageMask(m))
			}
			for _, o := range []struct {
				o interface {
					Attr(string) (kmip.Attribute, bool)
				}
				name string
			}{{priv, "-private"}, {pub, "-public"}} {
				a, _ := o.o.Attr(attrName)
				if nv, _ := a.Value.Child(kmip.TagNameValue); nv.Text() != tc.name+tc.ver.String()+o.name {
					t.Errorf("name %q", nv.Text())
				}
				if l, _ := o.o.Attr(attrCryptoLength); l.Value.Int() != tc.want {
					t.Errorf("length %d, want %d", l.Value.Int(), tc.want)
				}
			}
			if priv.Wrapped == nil || priv.Public != nil || pub.Wrapped != nil || pub.Public == nil {
				t.Fatalf("material placement: private wrapped %v public %d; public wrapped %v public %d",
					priv.Wrapped, len(priv.Public), pub.Wrapped, len(pub.Public))
			}
			// Default formats (AKLC-M-1 Digest: PKCS_1 for RSA keys).
			privObj := e.get(t, tc.ver, privID)
			kb, m := creationMaterial(t, privObj)
			if f, _ := kb.Child(kmip.TagKeyFormatType); kmip.KeyFormatType(f.Enum()) != tc.privFmt {
				t.Errorf("private key format %v, want %v", kmip.KeyFormatType(f.Enum()), tc.privFmt)
			}
			var privKey any
			var err error
			if tc.privFmt == kmip.KeyFormatTypePKCS1 {
				privKey, err = x509.ParsePKCS1PrivateKey(m.Bytes())
			} else {
				privKey, err = x509.ParsePKCS8PrivateKey(m.Bytes())
			}
			if err != nil {
				t.Fatalf("private key material: %v", err)
			}
			d, _ := creationAttrValue(t, priv, attrDigest).Child(kmip.TagDigestValue)
			if sum := sha256.Sum256(m.Bytes()); !bytes.Equal(d.Bytes(), sum[:]) {
				t.Errorf("private key digest does not match its default-format material")
			}
			pubObj := e.get(t, tc.ver, pubID, ttlv.Enum(kmip.TagKeyFormatType, uint32(kmip.KeyFormatTypeX509)))
			_, pm := creationMaterial(t, pubObj)
			pubKey, err := x509.ParsePKIXPublicKey(pm.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if !privKey.(crypto.Signer).Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pubKey) {
				t.Errorf("public key does not belong to the private key")
			}
			if _, dm := creationMaterial(t, e.get(t, tc.ver, pubID)); dm.Type != ttlv.TypeByteString {
				t.Errorf("default public key format not a byte string")
			}
		})
	}
}

func TestCreationCreateKeyPairErrors(t *testing.T) {
	e := newCreationEnv(t)
	tests := []struct {
		name           string
		common         []kmip.Attribute
		priv, pub      []kmip.Attribute
		want1x, want2x kmip.ResultReason
	}{
		{"no algorithm", []kmip.Attribute{creationLen(2048)}, nil, nil,
			kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidAttributeValue},
		{"algorithms differ", nil, []kmip.Attribute{creationAlg(kmip.CryptographicAlgorithmRSA)}, []kmip.Attribute{creationAlg(kmip.CryptographicAlgorithmEC)},
			kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidAttributeValue},
		{"RSA-512", []kmip.Attribute{creationAlg(kmip.CryptographicAlgorithmRSA), creationLen(512)}, nil, nil,
			kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidAttributeValue},
		{"EC-200", []kmip.Attribute{creationAlg(kmip.CryptographicAlgorithmEC), creationLen(200)}, nil, nil,
			kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidAttributeValue},
		{"AES", []kmip.Attribute{creationAlg(kmip.CryptographicAlgorithmAES), creationLen(256)}, nil, nil,
			kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidAttributeValue},
		{"digest given", []kmip.Attribute{creationAlg(kmip.CryptographicAlgorithmEC)}, []kmip.Attribute{creationA(attrDigest, ttlv.Struct(0))}, nil,
			kmip.ResultReasonInvalidField, kmip.ResultReasonAttributeReadOnly},
	}
	for _, tc := range tests {
		for _, ver := range []kmip.ProtocolVersion{creationV14, creationV20} {
			t.Run(tc.name+"/"+ver.String(), func(t *testing.T) {
				_, err := e.call(ver, kmip.OperationCreateKeyPair,
					creationAttrs(ver, kmip.TagCommonTemplateAttribute, kmip.TagCommonAttributes, tc.common...),
					creationAttrs(ver, kmip.TagPrivateKeyTemplateAttribute, kmip.TagPrivateKeyAttributes, tc.priv...),
					creationAttrs(ver, kmip.TagPublicKeyTemplateAttribute, kmip.TagPublicKeyAttributes, tc.pub...))
				want := tc.want1x
				if ver.Is2x() {
					want = tc.want2x
				}
				creationReason(t, err, want)
			})
		}
	}
}

// TestCreationCreateKeyPairEd25519: SoftHSM 2.6 generates Ed25519 pairs
// but cannot wrap their private keys; the HSM's refusal is Cryptographic
// Failure, never a half-created pair.
func TestCreationCreateKeyPairEd25519(t *testing.T) {
	e := newCreationEnv(t)
	p, err := e.call(creationV20, kmip.OperationCreateKeyPair,
		creationAttrs(creationV20, kmip.TagCommonTemplateAttribute, kmip.TagCommonAttributes, creationAlg(kmip.CryptographicAlgorithmEd25519)))
	if err != nil {
		creationReason(t, err, kmip.ResultReasonCryptographicFailure)
		if ids, lerr := e.store.Locate(t.Context(), objects.Query{}); lerr != nil || len(ids) != 0 {
			t.Errorf("objects left behind: %v, %v", ids, lerr)
		}
		return
	}
	priv := e.object(t, p.Children()[0].Text())
	if a := creationAttrValue(t, priv, attrCryptoAlgorithm).Enum(); kmip.CryptographicAlgorithm(a) != kmip.CryptographicAlgorithmEd25519 {
		t.Errorf("algorithm %v", kmip.CryptographicAlgorithm(a))
	}
}
