package service

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kmipd/kmipd/hsmbackend/hsmtest"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// Test helpers of the creation and retrieval group (Create, Create Key
// Pair, Register, Get, Re-key). Every name carries the "creation" prefix:
// other groups write tests in this package at the same time.

// creationEnv is a Service over a fresh SoftHSM token and bbolt file.
type creationEnv struct {
	svc   *Service
	store *objects.BoltStore
	path  string
}

// newCreationEnv opens a token and a store in t.TempDir. The clock is
// real time truncated to the second, so dates compare exactly.
func newCreationEnv(t *testing.T) *creationEnv {
	t.Helper()
	return newCreationEnvWith(t)
}

// newCreationEnvWith is newCreationEnv with more options for the Service.
func newCreationEnvWith(t testing.TB, opts ...Option) *creationEnv {
	t.Helper()
	hsm := hsmtest.New(t)
	e := &creationEnv{}
	e.store, e.path = openTestStore(t)
	st := e.store
	e.svc = New(append([]Option{WithStore(st), WithHSM(hsm)}, opts...)...)
	// Before the store and the HSM close (cleanups run last first).
	t.Cleanup(func() { e.svc.Close(context.Background()) })
	return e
}

// call runs one operation through the choke point.
func (e *creationEnv) call(ver kmip.ProtocolVersion, op kmip.Operation, fields ...ttlv.Value) (ttlv.Value, error) {
	return e.svc.ServeKMIP(context.Background(), &kmip.Request{
		Version:   ver,
		Operation: op,
		Payload:   ttlv.Struct(kmip.TagRequestPayload, fields...),
	})
}

// must is call that fails the test on error.
func (e *creationEnv) must(t *testing.T, ver kmip.ProtocolVersion, op kmip.Operation, fields ...ttlv.Value) ttlv.Value {
	t.Helper()
	p, err := e.call(ver, op, fields...)
	if err != nil {
		t.Fatalf("%v (%v): %v", op, ver, err)
	}
	return p
}

// object reads a stored object.
func (e *creationEnv) object(t *testing.T, id string) *objects.Object {
	t.Helper()
	o, err := e.store.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// creationAttrs builds the attribute container of a request in the
// version's encoding: 1.x Template-Attribute (tag1x) or 2.x Attributes
// (tag2x).
func creationAttrs(ver kmip.ProtocolVersion, tag1x, tag2x ttlv.Tag, attrs ...kmip.Attribute) ttlv.Value {
	if ver.Is2x() {
		return ttlv.Struct(tag2x, kmip.EncodeAttributes(attrs, ver, false)...)
	}
	return ttlv.Struct(tag1x, kmip.EncodeAttributes(attrs, ver, false)...)
}

// creationTemplate is the attribute container of Create and Register.
func creationTemplate(ver kmip.ProtocolVersion, attrs ...kmip.Attribute) ttlv.Value {
	return creationAttrs(ver, kmip.TagTemplateAttribute, kmip.TagAttributes, attrs...)
}

func creationA(name string, v ttlv.Value) kmip.Attribute { return attr(name, v) }

func creationAlg(a kmip.CryptographicAlgorithm) kmip.Attribute {
	return attr(attrCryptoAlgorithm, ttlv.Enum(0, uint32(a)))
}

func creationLen(n int32) kmip.Attribute { return attr(attrCryptoLength, ttlv.Int(0, n)) }

func creationMask(m kmip.CryptographicUsageMask) kmip.Attribute {
	return attr(attrCryptoUsageMask, ttlv.Int(0, int32(m)))
}

func creationName(n string) kmip.Attribute {
	return attr(attrName, ttlv.Struct(kmip.TagName,
		ttlv.Text(kmip.TagNameValue, n),
		ttlv.Enum(kmip.TagNameType, uint32(kmip.NameTypeUninterpretedTextString))))
}

func creationDate(name string, t time.Time) kmip.Attribute { return attr(name, ttlv.DateTime(0, t)) }

func creationBool(name string, b bool) kmip.Attribute { return attr(name, ttlv.Bool(0, b)) }

func creationUID(id string) ttlv.Value { return ttlv.Text(kmip.TagUniqueIdentifier, id) }

func creationOT(ot kmip.ObjectType) ttlv.Value { return ttlv.Enum(kmip.TagObjectType, uint32(ot)) }

// creationID returns the Unique Identifier of a response payload.
func creationID(t *testing.T, p ttlv.Value) string {
	t.Helper()
	v, ok := p.Child(kmip.TagUniqueIdentifier)
	if !ok || v.Text() == "" {
		t.Fatalf("response without unique identifier: %v", p)
	}
	return v.Text()
}

// creationKeyBlock builds a Key Block with a plaintext Key Value.
func creationKeyBlock(f kmip.KeyFormatType, material ttlv.Value, alg kmip.CryptographicAlgorithm, bits int32) ttlv.Value {
	fields := []ttlv.Value{
		ttlv.Enum(kmip.TagKeyFormatType, uint32(f)),
		ttlv.Struct(kmip.TagKeyValue, material),
	}
	if alg != 0 {
		fields = append(fields, ttlv.Enum(kmip.TagCryptographicAlgorithm, uint32(alg)))
	}
	if bits != 0 {
		fields = append(fields, ttlv.Int(kmip.TagCryptographicLength, bits))
	}
	return ttlv.Struct(kmip.TagKeyBlock, fields...)
}

// register registers an object structure obj of type ot and returns its
// identifier.
func (e *creationEnv) register(t *testing.T, ver kmip.ProtocolVersion, ot kmip.ObjectType, obj ttlv.Value, attrs ...kmip.Attribute) string {
	t.Helper()
	return creationID(t, e.must(t, ver, kmip.OperationRegister, creationOT(ot), creationTemplate(ver, attrs...), obj))
}

// registerSymmetric registers raw key bytes as a symmetric key.
func (e *creationEnv) registerSymmetric(t *testing.T, ver kmip.ProtocolVersion, alg kmip.CryptographicAlgorithm, key []byte, attrs ...kmip.Attribute) string {
	t.Helper()
	obj := ttlv.Struct(kmip.TagSymmetricKey,
		creationKeyBlock(kmip.KeyFormatTypeRaw, ttlv.Bytes(kmip.TagKeyMaterial, key), alg, int32(len(key)*8)))
	return e.register(t, ver, kmip.ObjectTypeSymmetricKey, obj, attrs...)
}

// get runs Get with optional extra request fields and returns the object
// structure of the response.
func (e *creationEnv) get(t *testing.T, ver kmip.ProtocolVersion, id string, extra ...ttlv.Value) ttlv.Value {
	t.Helper()
	p := e.must(t, ver, kmip.OperationGet, append([]ttlv.Value{creationUID(id)}, extra...)...)
	c := p.Children()
	if len(c) != 3 || c[0].Tag != kmip.TagObjectType || c[1].Tag != kmip.TagUniqueIdentifier || c[1].Text() != id {
		t.Fatalf("get response payload %v: want Object Type, Unique Identifier, object", p)
	}
	return c[2]
}

// creationMaterial returns the Key Block and its Key Material of a Get
// response object structure.
func creationMaterial(t *testing.T, obj ttlv.Value) (kb, material ttlv.Value) {
	t.Helper()
	kb, ok := obj.Child(kmip.TagKeyBlock)
	if !ok {
		t.Fatalf("no key block in %v", obj)
	}
	kv, ok := kb.Child(kmip.TagKeyValue)
	if !ok || kv.Type != ttlv.TypeStructure {
		t.Fatalf("no plaintext key value in %v", kb)
	}
	if len(kv.Children()) != 1 {
		t.Fatalf("key value carries more than its key material: %v", kv)
	}
	material, _ = kv.Child(kmip.TagKeyMaterial)
	return kb, material
}

// creationReason checks that err is a KMIP error with the given reason.
func creationReason(t *testing.T, err error, want kmip.ResultReason) {
	t.Helper()
	var ke *kmip.Error
	if !errors.As(err, &ke) {
		t.Fatalf("error %v, want a KMIP error with reason %v", err, want)
	}
	if ke.Reason != want {
		t.Fatalf("reason %v (%s), want %v", ke.Reason, ke.Message, want)
	}
}

// creationTags lists the tags of a structure's children, for comparing
// field order with the OASIS vectors.
func creationTags(v ttlv.Value) []ttlv.Tag {
	out := make([]ttlv.Tag, 0, len(v.Children()))
	for _, c := range v.Children() {
		out = append(out, c.Tag)
	}
	return out
}

// creationAttrValue returns the stored value of an attribute.
func creationAttrValue(t *testing.T, o *objects.Object, name string) ttlv.Value {
	t.Helper()
	a, ok := o.Attr(name)
	if !ok {
		t.Fatalf("object %s has no %s", o.ID, name)
	}
	return a.Value
}

// creationLinks returns the Link targets of an object by Link Type.
func creationLinks(o *objects.Object) map[kmip.LinkType]string {
	out := map[kmip.LinkType]string{}
	for _, l := range o.AttrsNamed(attrLink) {
		lt, _ := l.Value.Child(kmip.TagLinkType)
		id, _ := l.Value.Child(kmip.TagLinkedObjectIdentifier)
		out[kmip.LinkType(lt.Enum())] = id.Text()
	}
	return out
}

// creationNames returns an object's Name values in index order.
func creationNames(o *objects.Object) []string {
	var out []string
	byIndex := map[int]string{}
	maxIdx := -1
	for _, a := range o.AttrsNamed(attrName) {
		nv, _ := a.Value.Child(kmip.TagNameValue)
		byIndex[a.Index] = nv.Text()
		maxIdx = max(maxIdx, a.Index)
	}
	for i := 0; i <= maxIdx; i++ {
		if n, ok := byIndex[i]; ok {
			out = append(out, n)
		}
	}
	return out
}

// Versions the table tests run in: a 1.x and a 2.x encoding.
var (
	creationV14 = kmip.V1_4
	creationV20 = kmip.V2_0
)
