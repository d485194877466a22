package service

import (
	"slices"
	"testing"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// Tests of the KMIP 1.x Template object (template.go). Helper names carry
// the "tpl" prefix.

// tplRef is the Name structure a Template-Attribute names a template with
// (KMIP 1.4 §2.1.8).
func tplRef(name string) ttlv.Value {
	return ttlv.Struct(kmip.TagName,
		ttlv.Text(kmip.TagNameValue, name),
		ttlv.Enum(kmip.TagNameType, uint32(kmip.NameTypeUninterpretedTextString)))
}

// tplContainer builds a 1.x Template-Attribute (or a Create Key Pair
// variant, by tag) naming templates and giving attributes.
func tplContainer(tag ttlv.Tag, templates []string, attrs ...kmip.Attribute) ttlv.Value {
	fields := make([]ttlv.Value, 0, len(templates)+len(attrs))
	for _, n := range templates {
		fields = append(fields, tplRef(n))
	}
	fields = append(fields, kmip.EncodeAttributes(attrs, creationV14, false)...)
	return ttlv.Struct(tag, fields...)
}

// registerTemplate registers a Template called name holding attrs.
func (e *creationEnv) registerTemplate(t *testing.T, name string, attrs ...kmip.Attribute) string {
	t.Helper()
	return creationID(t, e.must(t, creationV14, kmip.OperationRegister,
		creationOT(kmip.ObjectTypeTemplate),
		creationTemplate(creationV14, creationName(name)),
		ttlv.Struct(kmip.TagTemplate, kmip.EncodeAttributes(attrs, creationV14, false)...)))
}

func tplText(name, v string) kmip.Attribute { return creationA(name, ttlv.Text(0, v)) }

// tplValues lists the values of the instances of an attribute of a stored
// object, in index order.
func tplValues(e *creationEnv, t *testing.T, id, name string) []ttlv.Value {
	t.Helper()
	var out []ttlv.Value
	for _, a := range e.object(t, id).Attributes {
		if a.Name == name {
			out = append(out, a.Value)
		}
	}
	return out
}

func tplNames(e *creationEnv, t *testing.T, id string) []string {
	t.Helper()
	var out []string
	for _, v := range tplValues(e, t, id, attrName) {
		nv, _ := v.Child(kmip.TagNameValue)
		out = append(out, nv.Text())
	}
	return out
}

// TestTemplateApply checks that the operations that make objects take a
// template's attributes, with KMIP 1.4 §4's precedence: the request over
// the templates, the last template over earlier ones, multi-instance
// attributes united; a template's Name is never copied.
func TestTemplateApply(t *testing.T) {
	e := newCreationEnv(t)
	e.registerTemplate(t, "tpl-aes",
		creationAlg(kmip.CryptographicAlgorithmAES), creationLen(128),
		creationMask(kmip.CryptographicUsageMaskEncrypt|kmip.CryptographicUsageMaskDecrypt),
		tplText(attrObjectGroup, "group-a"), tplText("x-Custom1", "v1"))
	e.registerTemplate(t, "tpl-mask",
		creationMask(kmip.CryptographicUsageMaskEncrypt), tplText(attrObjectGroup, "group-b"))
	e.registerTemplate(t, "tpl-pair", creationAlg(kmip.CryptographicAlgorithmEC),
		creationA(attrCryptoDomainParams, ttlv.Struct(0, ttlv.Enum(kmip.TagRecommendedCurve, uint32(kmip.RecommendedCurveP256)))),
		tplText(attrObjectGroup, "pairs"))
	secret := ttlv.Struct(kmip.TagSecretData,
		ttlv.Enum(kmip.TagSecretDataType, uint32(kmip.SecretDataTypePassword)),
		creationKeyBlock(kmip.KeyFormatTypeOpaque, ttlv.Bytes(kmip.TagKeyMaterial, []byte("********")), 0, 0))

	type want struct {
		names  []string
		mask   kmip.CryptographicUsageMask
		groups []string
		bits   int32
	}
	tests := []struct {
		name string
		run  func(t *testing.T) []string // the identifiers of the new objects
		want want
	}{
		{"register secret data", func(t *testing.T) []string {
			p := e.must(t, creationV14, kmip.OperationRegister, creationOT(kmip.ObjectTypeSecretData),
				tplContainer(kmip.TagTemplateAttribute, []string{"tpl-mask"}, tplText("x-Custom3", "v3"), creationName("sd-1")), secret)
			return []string{creationID(t, p)}
		}, want{names: []string{"sd-1"}, mask: kmip.CryptographicUsageMaskEncrypt, groups: []string{"group-b"}}},
		{"create from template alone", func(t *testing.T) []string {
			p := e.must(t, creationV14, kmip.OperationCreate, creationOT(kmip.ObjectTypeSymmetricKey),
				tplContainer(kmip.TagTemplateAttribute, []string{"tpl-aes"}))
			return []string{creationID(t, p)}
		}, want{mask: kmip.CryptographicUsageMaskEncrypt | kmip.CryptographicUsageMaskDecrypt, groups: []string{"group-a"}, bits: 128}},
		{"request wins over template", func(t *testing.T) []string {
			p := e.must(t, creationV14, kmip.OperationCreate, creationOT(kmip.ObjectTypeSymmetricKey),
				tplContainer(kmip.TagTemplateAttribute, []string{"tpl-aes"}, creationLen(256),
					creationMask(kmip.CryptographicUsageMaskDecrypt), tplText(attrObjectGroup, "own"), creationName("aes-own")))
			return []string{creationID(t, p)}
		}, want{names: []string{"aes-own"}, mask: kmip.CryptographicUsageMaskDecrypt, groups: []string{"group-a", "own"}, bits: 256}},
		{"last template wins, groups united", func(t *testing.T) []string {
			p := e.must(t, creationV14, kmip.OperationCreate, creationOT(kmip.ObjectTypeSymmetricKey),
				tplContainer(kmip.TagTemplateAttribute, []string{"tpl-aes", "tpl-mask"}, tplText(attrObjectGroup, "group-a")))
			return []string{creationID(t, p)}
		}, want{mask: kmip.CryptographicUsageMaskEncrypt, groups: []string{"group-a", "group-b"}, bits: 128}},
		{"create key pair, common template", func(t *testing.T) []string {
			p := e.must(t, creationV14, kmip.OperationCreateKeyPair,
				tplContainer(kmip.TagCommonTemplateAttribute, []string{"tpl-pair"}),
				tplContainer(kmip.TagPrivateKeyTemplateAttribute, nil, creationMask(kmip.CryptographicUsageMaskSign)),
				tplContainer(kmip.TagPublicKeyTemplateAttribute, nil, creationMask(kmip.CryptographicUsageMaskSign)))
			return []string{p.Children()[0].Text(), p.Children()[1].Text()}
		}, want{mask: kmip.CryptographicUsageMaskSign, groups: []string{"pairs"}, bits: 256}},
		{"create key pair, private template", func(t *testing.T) []string {
			p := e.must(t, creationV14, kmip.OperationCreateKeyPair,
				tplContainer(kmip.TagCommonTemplateAttribute, nil, creationAlg(kmip.CryptographicAlgorithmEC),
					creationA(attrCryptoDomainParams, ttlv.Struct(0, ttlv.Enum(kmip.TagRecommendedCurve, uint32(kmip.RecommendedCurveP256))))),
				tplContainer(kmip.TagPrivateKeyTemplateAttribute, []string{"tpl-mask"}, creationMask(kmip.CryptographicUsageMaskSign)),
				tplContainer(kmip.TagPublicKeyTemplateAttribute, []string{"tpl-mask"}, creationMask(kmip.CryptographicUsageMaskSign)))
			return []string{p.Children()[0].Text(), p.Children()[1].Text()}
		}, want{mask: kmip.CryptographicUsageMaskSign, groups: []string{"group-b"}, bits: 256}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, id := range tc.run(t) {
				if got := tplNames(e, t, id); !slices.Equal(got, tc.want.names) {
					t.Errorf("%s: names %q, want %q (a template's Name is its own)", id, got, tc.want.names)
				}
				if m := creationAttrValue(t, e.object(t, id), attrCryptoUsageMask).Int(); m != int32(tc.want.mask) {
					t.Errorf("%s: usage mask %v, want %v", id, kmip.CryptographicUsageMask(m), tc.want.mask)
				}
				var groups []string
				for _, v := range tplValues(e, t, id, attrObjectGroup) {
					groups = append(groups, v.Text())
				}
				if !slices.Equal(groups, tc.want.groups) {
					t.Errorf("%s: object groups %q, want %q", id, groups, tc.want.groups)
				}
				if tc.want.bits != 0 {
					if b := creationAttrValue(t, e.object(t, id), attrCryptoLength).Int(); b != tc.want.bits {
						t.Errorf("%s: length %d, want %d", id, b, tc.want.bits)
					}
				}
			}
		})
	}
}

// TestTemplateObject checks the Template itself: Get returns its Template
// structure, Get Attributes and Locate see it, it has no lifecycle, and
// Destroy removes it so that naming it afterwards finds nothing.
func TestTemplateObject(t *testing.T) {
	e := newCreationEnv(t)
	id := e.registerTemplate(t, "tpl-obj", tplText(attrObjectGroup, "g"), tplText("x-A", "a"))

	obj := e.get(t, creationV14, id)
	if obj.Tag != kmip.TagTemplate {
		t.Fatalf("get returned %s, want Template", kmip.TagString(obj.Tag))
	}
	got, err := kmip.ParseAttributes(obj)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range got {
		names = append(names, a.Name)
	}
	if !slices.Equal(names, []string{attrObjectGroup, "x-A"}) {
		t.Errorf("template structure holds %q, want Object Group and x-A only", names)
	}
	if o := e.object(t, id); o.State != 0 || len(tplValues(e, t, id, attrState)) != 0 {
		t.Errorf("a template has no State (KMIP 1.4 Appendix B): %v", o.State)
	}

	ga := e.must(t, creationV14, kmip.OperationGetAttributes, creationUID(id), ttlv.Text(kmip.TagAttributeName, "x-A"))
	if a, ok := ga.Child(kmip.TagAttribute); !ok || !slices.Equal(creationTags(a), []ttlv.Tag{kmip.TagAttributeName, kmip.TagAttributeValue}) {
		t.Errorf("get attributes of the template: %v", ga)
	} else if v, _ := a.Child(kmip.TagAttributeValue); v.Text() != "a" {
		t.Errorf("get attributes of the template: x-A = %q, want a", v.Text())
	}

	locate := func() []ttlv.Value {
		p := e.must(t, creationV14, kmip.OperationLocate,
			kmip.EncodeAttribute(creationName("tpl-obj"), creationV14, false),
			kmip.EncodeAttribute(creationA(attrObjectType, ttlv.Enum(0, uint32(kmip.ObjectTypeTemplate))), creationV14, false))
		return p.Children()
	}
	if ids := locate(); len(ids) != 1 || ids[0].Text() != id {
		t.Fatalf("locate by name and type found %v, want %s", ids, id)
	}

	errs := []struct {
		name string
		ver  kmip.ProtocolVersion
		op   kmip.Operation
		args []ttlv.Value
		want kmip.ResultReason
	}{
		{"activate", creationV14, kmip.OperationActivate, []ttlv.Value{creationUID(id)}, kmip.ResultReasonIllegalOperation},
		{"revoke", creationV14, kmip.OperationRevoke, []ttlv.Value{creationUID(id),
			ttlv.Struct(kmip.TagRevocationReason, ttlv.Enum(kmip.TagRevocationReasonCode, uint32(kmip.RevocationReasonCodeCessationOfOperation)))},
			kmip.ResultReasonIllegalOperation},
		{"get in a key format", creationV14, kmip.OperationGet, []ttlv.Value{creationUID(id),
			ttlv.Enum(kmip.TagKeyFormatType, uint32(kmip.KeyFormatTypeRaw))}, kmip.ResultReasonKeyFormatTypeNotSupported},
		{"get in 2.0", creationV20, kmip.OperationGet, []ttlv.Value{creationUID(id)}, kmip.ResultReasonInvalidObjectType},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.call(tc.ver, tc.op, tc.args...)
			creationReason(t, err, tc.want)
		})
	}

	e.must(t, creationV14, kmip.OperationDestroy, creationUID(id))
	if ids := locate(); len(ids) != 0 {
		t.Errorf("locate after destroy found %v", ids)
	}
	_, err = e.call(creationV14, kmip.OperationCreate, creationOT(kmip.ObjectTypeSymmetricKey),
		tplContainer(kmip.TagTemplateAttribute, []string{"tpl-obj"}, creationAlg(kmip.CryptographicAlgorithmAES), creationLen(128)))
	creationReason(t, err, kmip.ResultReasonItemNotFound)
	// The name is free again.
	e.registerTemplate(t, "tpl-obj", tplText("x-B", "b"))
}

// TestTemplateRefused checks the refusals of KMIP 1.4 §11.1-11.6 and that
// 2.x, which has no Template, refuses one.
func TestTemplateRefused(t *testing.T) {
	e := newCreationEnv(t)
	e.registerTemplate(t, "tpl-r", tplText("x-A", "a"))
	tests := []struct {
		name string
		ver  kmip.ProtocolVersion
		op   kmip.Operation
		args []ttlv.Value
		want kmip.ResultReason
	}{
		{"unknown template", creationV14, kmip.OperationCreate, []ttlv.Value{creationOT(kmip.ObjectTypeSymmetricKey),
			tplContainer(kmip.TagTemplateAttribute, []string{"nope"}, creationAlg(kmip.CryptographicAlgorithmAES), creationLen(128))},
			kmip.ResultReasonItemNotFound},
		{"name inside the template structure", creationV14, kmip.OperationRegister, []ttlv.Value{creationOT(kmip.ObjectTypeTemplate),
			creationTemplate(creationV14),
			ttlv.Struct(kmip.TagTemplate, kmip.EncodeAttributes([]kmip.Attribute{creationName("inner"), tplText("x-A", "a")}, creationV14, false)...)},
			kmip.ResultReasonInvalidField},
		{"name already used", creationV14, kmip.OperationRegister, []ttlv.Value{creationOT(kmip.ObjectTypeTemplate),
			creationTemplate(creationV14, creationName("tpl-r")),
			ttlv.Struct(kmip.TagTemplate, kmip.EncodeAttributes([]kmip.Attribute{tplText("x-A", "a")}, creationV14, false)...)},
			kmip.ResultReasonInvalidField},
		{"server-set attribute in a template", creationV14, kmip.OperationRegister, []ttlv.Value{creationOT(kmip.ObjectTypeTemplate),
			creationTemplate(creationV14, creationName("tpl-state")),
			ttlv.Struct(kmip.TagTemplate, kmip.EncodeAttributes([]kmip.Attribute{creationA(attrState, ttlv.Enum(0, uint32(kmip.StateActive)))}, creationV14, false)...)},
			kmip.ResultReasonInvalidField},
		{"register template in 2.0", creationV20, kmip.OperationRegister, []ttlv.Value{creationOT(kmip.ObjectTypeTemplate),
			creationTemplate(creationV20, creationName("tpl-20")),
			ttlv.Struct(kmip.TagTemplate, kmip.EncodeAttributes([]kmip.Attribute{tplText("x-A", "a")}, creationV14, false)...)},
			kmip.ResultReasonInvalidObjectType},
		{"template reference in 2.0", creationV20, kmip.OperationCreate, []ttlv.Value{creationOT(kmip.ObjectTypeSymmetricKey),
			tplContainer(kmip.TagTemplateAttribute, []string{"tpl-r"})},
			kmip.ResultReasonItemNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.call(tc.ver, tc.op, tc.args...)
			creationReason(t, err, tc.want)
		})
	}
}

// TestTemplateQueryObjects checks that Query Objects lists Template to 1.x
// clients only (KMIP 1.4 §4.25; 2.0 has no Template).
func TestTemplateQueryObjects(t *testing.T) {
	e := newCreationEnv(t)
	for _, tc := range []struct {
		ver  kmip.ProtocolVersion
		want bool
	}{{kmip.V1_3, true}, {creationV14, true}, {creationV20, false}} {
		t.Run(tc.ver.String(), func(t *testing.T) {
			p := e.must(t, tc.ver, kmip.OperationQuery, ttlv.Enum(kmip.TagQueryFunction, uint32(kmip.QueryFunctionQueryObjects)))
			listed := false
			for _, c := range p.Children() {
				if c.Tag == kmip.TagObjectType && kmip.ObjectType(c.Enum()) == kmip.ObjectTypeTemplate {
					listed = true
				}
			}
			if listed != tc.want {
				t.Errorf("Template listed: %v, want %v", listed, tc.want)
			}
		})
	}
}
