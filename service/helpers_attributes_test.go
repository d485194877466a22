package service

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"testing"
	"time"

	"github.com/kmipd/kmipd/hsmbackend/hsmtest"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// Test helpers of the attribute and Locate group. Every package-level name
// starts with "attrs" so the other groups' tests in this package cannot
// collide with them.

// attrsEnv is a Service over a real SoftHSM token and a bbolt store in a
// temporary directory.
type attrsEnv struct {
	svc   *Service
	store objects.Store
	clock *testClock
}

func attrsNewEnv(t *testing.T) *attrsEnv {
	t.Helper()
	hsm := hsmtest.New(t)
	st, _ := openTestStore(t)
	clock := &testClock{now: time.Now().UTC().Truncate(time.Second)}
	svc := New(WithStore(st), WithHSM(hsm), WithClock(clock.Now))
	return &attrsEnv{svc: svc, store: st, clock: clock}
}

// attrsTenantCtx is the context of a request from a TLS client whose
// certificate names the tenant as its first Organizational Unit (see
// acl.SubjectFromCertificate).
func attrsTenantCtx(tenant, name string) context.Context {
	cert := &x509.Certificate{Subject: pkix.Name{CommonName: name}}
	if tenant != "" {
		cert.Subject.OrganizationalUnit = []string{tenant}
	}
	return kmip.WithConnInfo(context.Background(), &kmip.ConnInfo{PeerCertificates: []*x509.Certificate{cert}})
}

// attrsName is a Name attribute value.
func attrsName(n string) ttlv.Value {
	return ttlv.Struct(kmip.TagName,
		ttlv.Text(kmip.TagNameValue, n),
		ttlv.Enum(kmip.TagNameType, uint32(kmip.NameTypeUninterpretedTextString)))
}

// attrsLink is a Link attribute value.
func attrsLink(lt kmip.LinkType, id string) ttlv.Value {
	return ttlv.Struct(kmip.TagLink,
		ttlv.Enum(kmip.TagLinkType, uint32(lt)),
		ttlv.Text(kmip.TagLinkedObjectIdentifier, id))
}

// attrsA builds an attribute with its value tagged as the attribute's own
// tag (custom attributes: Attribute Value).
func attrsA(name string, v ttlv.Value) kmip.Attribute {
	a := attr(name, v)
	if _, ok := kmip.AttributeByName(name); !ok {
		a.Value.Tag = kmip.TagAttributeValue
	}
	return a
}

// attrsObj describes a stored test object.
type attrsObj struct {
	typ      kmip.ObjectType
	state    kmip.State
	tenant   string
	archived bool
	format   kmip.KeyFormatType
	attrs    []kmip.Attribute
}

// attrsPut stores an object with the attributes every object has (KMIP 1.4
// §3: Unique Identifier, Object Type, State, Initial Date, Last Change
// Date; for keys algorithm, length and usage mask) followed by spec.attrs,
// numbering repeated attributes in order. It returns the identifier.
func (e *attrsEnv) attrsPut(t *testing.T, spec attrsObj) string {
	t.Helper()
	ctx := context.Background()
	id, err := e.store.NewID(ctx)
	if err != nil {
		t.Fatalf("new id: %v", err)
	}
	if spec.typ == 0 {
		spec.typ = kmip.ObjectTypeSymmetricKey
	}
	if spec.state == 0 {
		spec.state = kmip.StatePreActive
	}
	now := e.clock.Now()
	o := &objects.Object{
		ID:         id,
		ObjectType: spec.typ,
		State:      spec.state,
		Tenant:     spec.tenant,
		Owner:      "test",
		Archived:   spec.archived,
		KeyFormat:  uint32(spec.format),
	}
	o.Attributes = append(o.Attributes,
		attr(attrUniqueIdentifier, ttlv.Text(0, id)),
		attr(attrObjectType, ttlv.Enum(0, uint32(spec.typ))),
	)
	if spec.typ == kmip.ObjectTypeSymmetricKey {
		o.Attributes = append(o.Attributes,
			attr(attrCryptoAlgorithm, ttlv.Enum(0, uint32(kmip.CryptographicAlgorithmAES))),
			attr(attrCryptoLength, ttlv.Int(0, 256)),
			attr(attrCryptoUsageMask, ttlv.Int(0, int32(kmip.CryptographicUsageMaskEncrypt|kmip.CryptographicUsageMaskDecrypt))),
		)
	}
	o.Attributes = append(o.Attributes,
		attr(attrState, ttlv.Enum(0, uint32(spec.state))),
		attr(attrInitialDate, ttlv.DateTime(0, now)),
		attr(attrLastChangeDate, ttlv.DateTime(0, now)),
	)
	next := map[string]int{}
	for _, a := range spec.attrs {
		a.Index = next[a.Name]
		next[a.Name]++
		o.Attributes = append(o.Attributes, a)
	}
	if err := e.store.Create(ctx, o); err != nil {
		t.Fatalf("create object: %v", err)
	}
	return id
}

// attrsGet reads an object back from the store.
func (e *attrsEnv) attrsGet(t *testing.T, id string) *objects.Object {
	t.Helper()
	o, err := e.store.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return o
}

// attrsVersions are the protocol versions the handlers are tested in: one
// per major version (attribute encodings differ only by major version).
var attrsVersions = []kmip.ProtocolVersion{kmip.V1_4, kmip.V2_0}

// attrsCall runs one operation through the service's choke point.
func (e *attrsEnv) attrsCall(ctx context.Context, ver kmip.ProtocolVersion, op kmip.Operation, fields ...ttlv.Value) (ttlv.Value, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	return e.svc.ServeKMIP(ctx, &kmip.Request{
		Version:   ver,
		Header:    &kmip.RequestHeader{ProtocolVersion: ver, BatchCount: 1},
		Operation: op,
		Payload:   ttlv.Struct(kmip.TagRequestPayload, fields...),
	})
}

// attrsUID is a Unique Identifier request field.
func attrsUID(id string) ttlv.Value { return ttlv.Text(kmip.TagUniqueIdentifier, id) }

// attrsRef names an attribute in a request: a 1.x Attribute Name or a 2.x
// Attribute Reference.
func attrsRef(ver kmip.ProtocolVersion, name string) ttlv.Value {
	if ver.Is2x() {
		return attributeReference(name, ver)
	}
	return ttlv.Text(kmip.TagAttributeName, name)
}

// attrsNew wraps an attribute for an Add, Modify or Set request: the 1.x
// Attribute, or a 2.x New Attribute.
func attrsNew(ver kmip.ProtocolVersion, a kmip.Attribute) ttlv.Value {
	enc := kmip.EncodeAttribute(a, ver, a.Index > 0)
	if ver.Is2x() {
		return ttlv.Struct(kmip.TagNewAttribute, enc)
	}
	return enc
}

// attrsCurrent is a 2.x Current Attribute.
func attrsCurrent(a kmip.Attribute) ttlv.Value {
	return ttlv.Struct(kmip.TagCurrentAttribute, kmip.EncodeAttribute(a, kmip.V2_0, false))
}

// attrsWantReason checks that err carries the Result Reason want (0:
// success).
func attrsWantReason(t *testing.T, err error, want kmip.ResultReason) {
	t.Helper()
	if want == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("succeeded; want %v", want)
	}
	var ke *kmip.Error
	if !errors.As(err, &ke) {
		t.Fatalf("error %v is not a KMIP error; want %v", err, want)
	}
	if ke.Reason != want {
		t.Fatalf("reason %v (%v); want %v", ke.Reason, err, want)
	}
}

// attrsParse returns the attributes of a Get Attributes or Add/Modify/
// Delete Attribute response payload, in order: 1.x Attribute structures
// of the payload, 2.x items of its Attributes structure.
func attrsParse(t *testing.T, ver kmip.ProtocolVersion, payload ttlv.Value) []kmip.Attribute {
	t.Helper()
	items := payload.All(kmip.TagAttribute)
	if ver.Is2x() {
		if len(items) > 0 {
			t.Fatalf("2.x payload has 1.x Attribute items")
		}
		as, ok := payload.Child(kmip.TagAttributes)
		if !ok {
			return nil
		}
		items = as.Children()
	}
	out := make([]kmip.Attribute, 0, len(items))
	for _, it := range items {
		if !ver.Is2x() && it.Tag == kmip.TagAttribute && it.Has(kmip.TagVendorIdentification) {
			t.Fatalf("1.x payload has a 2.x vendor attribute")
		}
		a, err := kmip.ParseAttribute(it)
		if err != nil {
			t.Fatalf("parse response attribute: %v", err)
		}
		out = append(out, a)
	}
	return out
}

// attrsNames lists the names of attrs in order.
func attrsNames(attrs []kmip.Attribute) []string {
	out := make([]string, len(attrs))
	for i, a := range attrs {
		out[i] = a.Name
	}
	return out
}

// attrsFind returns the instances of name in attrs.
func attrsFind(attrs []kmip.Attribute, name string) []kmip.Attribute {
	var out []kmip.Attribute
	for _, a := range attrs {
		if a.Name == name {
			out = append(out, a)
		}
	}
	return out
}

// attrsIDs returns the Unique Identifiers of a Locate response, and its
// Located Items (-1 when absent).
func attrsIDs(payload ttlv.Value) ([]string, int) {
	var ids []string
	for _, v := range payload.All(kmip.TagUniqueIdentifier) {
		ids = append(ids, v.Text())
	}
	n := -1
	if v, ok := payload.Child(kmip.TagLocatedItems); ok {
		n = int(v.Int())
	}
	return ids, n
}

// attrsBatchItem is one item of a request message.
type attrsBatchItem struct {
	op     kmip.Operation
	id     []byte // Unique Batch Item ID, nil for none
	fields []ttlv.Value
}

// attrsMessage encodes a request message, runs it through
// kmip.HandleMessage and returns the decoded response's batch items.
func (e *attrsEnv) attrsMessage(t *testing.T, ctx context.Context, ver kmip.ProtocolVersion, items ...attrsBatchItem) []ttlv.Value {
	t.Helper()
	if ctx == nil {
		ctx = context.Background()
	}
	msg := []ttlv.Value{ttlv.Struct(kmip.TagRequestHeader,
		kmip.ProtocolVersionValue(ver),
		ttlv.Int(kmip.TagBatchCount, int32(len(items))))}
	for _, it := range items {
		f := []ttlv.Value{ttlv.Enum(kmip.TagOperation, uint32(it.op))}
		if it.id != nil {
			f = append(f, ttlv.Bytes(kmip.TagUniqueBatchItemID, it.id))
		}
		f = append(f, ttlv.Struct(kmip.TagRequestPayload, it.fields...))
		msg = append(msg, ttlv.Struct(kmip.TagBatchItem, f...))
	}
	raw := ttlv.Marshal(ttlv.Struct(kmip.TagRequestMessage, msg...))
	out := kmip.HandleMessage(ctx, e.svc, raw, nil)
	resp, err := ttlv.Decode(out, ttlv.Limits{})
	if err != nil {
		t.Fatalf("decode response: %v", err)
	}
	return resp.All(kmip.TagBatchItem)
}

// attrsItemResult returns a response batch item's Result Reason (0 on
// success) and payload.
func attrsItemResult(t *testing.T, item ttlv.Value) (kmip.ResultReason, ttlv.Value) {
	t.Helper()
	st, ok := item.Child(kmip.TagResultStatus)
	if !ok {
		t.Fatalf("batch item without result status")
	}
	payload, _ := item.Child(kmip.TagResponsePayload)
	if kmip.ResultStatus(st.Enum()) == kmip.ResultStatusSuccess {
		return 0, payload
	}
	r, _ := item.Child(kmip.TagResultReason)
	return kmip.ResultReason(r.Enum()), payload
}
