package conformance

import (
	"bytes"
	"crypto/x509"
	"testing"

	gkmip "github.com/gemalto/kmip-go"
	"github.com/gemalto/kmip-go/kmip14"
	gttlv "github.com/gemalto/kmip-go/ttlv"
)

// The object operations through gemalto/kmip-go v0.0.10, an independent
// encoder and decoder (interop_test.go covers Discover Versions and
// Query): every request is built by gemalto's encoder from its payload
// types and every response decoded by its decoder. gemalto has no payload
// types for Get Attributes, Locate, Activate and Revoke; the ones below
// follow KMIP 1.4 §4.9, §4.12, §4.19 and §4.20 and are encoded by
// gemalto's reflection rules like its own.

// gemaltoAttribute reads a 1.x Attribute whatever the type of its value.
type gemaltoAttribute struct {
	AttributeName  string
	AttributeIndex int `ttlv:",omitempty"`
	AttributeValue gttlv.TTLV
}

type gemaltoGetAttributesRequest struct {
	UniqueIdentifier string
	AttributeName    []string
}

type gemaltoGetAttributesResponse struct {
	UniqueIdentifier string
	Attribute        []gemaltoAttribute
}

type gemaltoLocateRequest struct {
	MaximumItems int `ttlv:",omitempty"`
	Attribute    []gkmip.Attribute
}

type gemaltoLocateResponse struct {
	LocatedItems     int
	UniqueIdentifier []string
}

// gemaltoIDPayload is the payload of Activate and Destroy, request and
// response.
type gemaltoIDPayload struct {
	UniqueIdentifier string
}

type gemaltoRevocationReason struct {
	RevocationReasonCode kmip14.RevocationReasonCode
}

type gemaltoRevokeRequest struct {
	UniqueIdentifier string
	RevocationReason gemaltoRevocationReason
}

func gemaltoName(n string) gkmip.Attribute {
	return gkmip.Attribute{AttributeName: "Name", AttributeValue: gkmip.Name{NameValue: n, NameType: kmip14.NameTypeUninterpretedTextString}}
}

// call sends one item in KMIP 1.4 and decodes a successful payload into
// out (nil: no decoding).
func (c *gemaltoClient) call(op kmip14.Operation, payload, out any) gkmip.ResponseBatchItem {
	c.t.Helper()
	resp := c.send(requestMessage(1, 4, gkmip.RequestBatchItem{Operation: op, RequestPayload: payload}))
	if len(resp.BatchItem) != 1 {
		c.t.Fatalf("%v: %d items answered", op, len(resp.BatchItem))
	}
	it := resp.BatchItem[0]
	if out != nil {
		decodePayload(c.t, it, out)
	}
	return it
}

func (c *gemaltoClient) attributes(id string, names ...string) map[string]gttlv.TTLV {
	c.t.Helper()
	var r gemaltoGetAttributesResponse
	c.call(kmip14.OperationGetAttributes, gemaltoGetAttributesRequest{UniqueIdentifier: id, AttributeName: names}, &r)
	if r.UniqueIdentifier != id {
		c.t.Errorf("Get Attributes answered for %q", r.UniqueIdentifier)
	}
	out := map[string]gttlv.TTLV{}
	for _, a := range r.Attribute {
		out[a.AttributeName] = a.AttributeValue
	}
	return out
}

func (c *gemaltoClient) state(id string) kmip14.State {
	c.t.Helper()
	v, ok := c.attributes(id, "State")["State"]
	if !ok {
		c.t.Fatalf("no State for %s", id)
	}
	return kmip14.State(v.ValueEnumeration())
}

func (c *gemaltoClient) locateName(name string) []string {
	c.t.Helper()
	var r gemaltoLocateResponse
	c.call(kmip14.OperationLocate, gemaltoLocateRequest{Attribute: []gkmip.Attribute{gemaltoName(name)}}, &r)
	return r.UniqueIdentifier
}

func gemaltoAESTemplate(name string) gkmip.TemplateAttribute {
	return gkmip.TemplateAttribute{Attribute: []gkmip.Attribute{
		{AttributeName: "Cryptographic Algorithm", AttributeValue: kmip14.CryptographicAlgorithmAES},
		{AttributeName: "Cryptographic Length", AttributeValue: 256},
		{AttributeName: "Cryptographic Usage Mask", AttributeValue: kmip14.CryptographicUsageMaskEncrypt | kmip14.CryptographicUsageMaskDecrypt},
		gemaltoName(name),
	}}
}

func TestGemaltoClientObjects(t *testing.T) {
	s := startFullServer(t)
	c := newGemaltoClient(t, s.Harness)

	name := randomLabel("gemalto-aes-")
	var created gkmip.CreateResponsePayload
	c.call(kmip14.OperationCreate, gkmip.CreateRequestPayload{ObjectType: kmip14.ObjectTypeSymmetricKey, TemplateAttribute: gemaltoAESTemplate(name)}, &created)
	id := created.UniqueIdentifier
	if id == "" || created.ObjectType != kmip14.ObjectTypeSymmetricKey {
		t.Fatalf("Create answered %+v", created)
	}

	var got gkmip.GetResponsePayload
	c.call(kmip14.OperationGet, gkmip.GetRequestPayload{UniqueIdentifier: id}, &got)
	if got.UniqueIdentifier != id || got.SymmetricKey == nil || got.SymmetricKey.KeyBlock.KeyValue == nil {
		t.Fatalf("Get answered %+v", got)
	}
	kb := got.SymmetricKey.KeyBlock
	if k, ok := kb.KeyValue.KeyMaterial.([]byte); !ok || len(k) != 32 || kb.CryptographicAlgorithm != kmip14.CryptographicAlgorithmAES || kb.KeyFormatType != kmip14.KeyFormatTypeRaw {
		t.Errorf("Get key block %v %v, material %T", kb.KeyFormatType, kb.CryptographicAlgorithm, kb.KeyValue.KeyMaterial)
	}

	attrs := c.attributes(id, "State", "Cryptographic Length", "Name")
	if v := attrs["Cryptographic Length"]; v == nil || v.ValueInteger() != 256 {
		t.Errorf("Cryptographic Length %v", v)
	}
	if v := attrs["State"]; v == nil || kmip14.State(v.ValueEnumeration()) != kmip14.StatePreActive {
		t.Errorf("State %v", v)
	}
	var n gkmip.Name
	if v := attrs["Name"]; v == nil || gttlv.Unmarshal(v, &n) != nil || n.NameValue != name {
		t.Errorf("Name %v", attrs["Name"])
	}
	if ids := c.locateName(name); len(ids) != 1 || ids[0] != id {
		t.Errorf("Locate by name: %v", ids)
	}

	var act gemaltoIDPayload
	c.call(kmip14.OperationActivate, gemaltoIDPayload{UniqueIdentifier: id}, &act)
	if act.UniqueIdentifier != id || c.state(id) != kmip14.StateActive {
		t.Errorf("Activate answered %q, state %v", act.UniqueIdentifier, c.state(id))
	}

	// Register a key with known material and read it back.
	material := randomBytes(32)
	var reg gkmip.RegisterResponsePayload
	c.call(kmip14.OperationRegister, gkmip.RegisterRequestPayload{
		ObjectType:        kmip14.ObjectTypeSymmetricKey,
		TemplateAttribute: gkmip.TemplateAttribute{Attribute: []gkmip.Attribute{{AttributeName: "Cryptographic Usage Mask", AttributeValue: kmip14.CryptographicUsageMaskEncrypt}}},
		SymmetricKey: &gkmip.SymmetricKey{KeyBlock: gkmip.KeyBlock{
			KeyFormatType:          kmip14.KeyFormatTypeRaw,
			KeyValue:               &gkmip.KeyValue{KeyMaterial: material},
			CryptographicAlgorithm: kmip14.CryptographicAlgorithmAES,
			CryptographicLength:    256,
		}},
	}, &reg)
	got = gkmip.GetResponsePayload{}
	c.call(kmip14.OperationGet, gkmip.GetRequestPayload{UniqueIdentifier: reg.UniqueIdentifier}, &got)
	if got.SymmetricKey == nil || got.SymmetricKey.KeyBlock.KeyValue == nil {
		t.Fatalf("Get of the registered key: %+v", got)
	}
	if k, _ := got.SymmetricKey.KeyBlock.KeyValue.KeyMaterial.([]byte); !bytes.Equal(k, material) {
		t.Error("registered key read back with other material")
	}

	var pair gkmip.CreateKeyPairResponsePayload
	c.call(kmip14.OperationCreateKeyPair, gkmip.CreateKeyPairRequestPayload{
		CommonTemplateAttribute: &gkmip.TemplateAttribute{Attribute: []gkmip.Attribute{
			{AttributeName: "Cryptographic Algorithm", AttributeValue: kmip14.CryptographicAlgorithmRSA},
			{AttributeName: "Cryptographic Length", AttributeValue: 2048},
		}},
		PrivateKeyTemplateAttribute: &gkmip.TemplateAttribute{Attribute: []gkmip.Attribute{
			{AttributeName: "Cryptographic Usage Mask", AttributeValue: kmip14.CryptographicUsageMaskSign}}},
		PublicKeyTemplateAttribute: &gkmip.TemplateAttribute{Attribute: []gkmip.Attribute{
			{AttributeName: "Cryptographic Usage Mask", AttributeValue: kmip14.CryptographicUsageMaskVerify}}},
	}, &pair)
	if pair.PrivateKeyUniqueIdentifier == "" || pair.PublicKeyUniqueIdentifier == "" || pair.PrivateKeyUniqueIdentifier == pair.PublicKeyUniqueIdentifier {
		t.Fatalf("Create Key Pair answered %+v", pair)
	}
	got = gkmip.GetResponsePayload{}
	c.call(kmip14.OperationGet, gkmip.GetRequestPayload{UniqueIdentifier: pair.PublicKeyUniqueIdentifier}, &got)
	if got.PublicKey == nil || got.PublicKey.KeyBlock.KeyValue == nil {
		t.Fatalf("Get of the public key: %+v", got)
	}
	der, ok := got.PublicKey.KeyBlock.KeyValue.KeyMaterial.([]byte)
	if !ok {
		t.Fatalf("public key material decoded as %T", got.PublicKey.KeyBlock.KeyValue.KeyMaterial)
	}
	var err error
	switch f := got.PublicKey.KeyBlock.KeyFormatType; f {
	case kmip14.KeyFormatTypeX_509:
		_, err = x509.ParsePKIXPublicKey(der)
	case kmip14.KeyFormatTypePKCS_1:
		_, err = x509.ParsePKCS1PublicKey(der)
	default:
		t.Errorf("public key returned in %v by default", f)
	}
	if err != nil {
		t.Errorf("public key in %v: %v", got.PublicKey.KeyBlock.KeyFormatType, err)
	}

	// One batch: Create, then Get without a Unique Identifier, which uses
	// the ID Placeholder the Create set (KMIP 1.4 §4).
	resp := c.send(requestMessage(1, 4,
		gkmip.RequestBatchItem{Operation: kmip14.OperationCreate, UniqueBatchItemID: []byte{1},
			RequestPayload: gkmip.CreateRequestPayload{ObjectType: kmip14.ObjectTypeSymmetricKey, TemplateAttribute: gemaltoAESTemplate(randomLabel("gemalto-batch-"))}},
		gkmip.RequestBatchItem{Operation: kmip14.OperationGet, UniqueBatchItemID: []byte{2}, RequestPayload: struct{}{}}))
	if len(resp.BatchItem) != 2 {
		t.Fatalf("Create+Get batch: %d items", len(resp.BatchItem))
	}
	var bc gkmip.CreateResponsePayload
	decodePayload(t, resp.BatchItem[0], &bc)
	var bg gkmip.GetResponsePayload
	decodePayload(t, resp.BatchItem[1], &bg)
	if bc.UniqueIdentifier == "" || bg.UniqueIdentifier != bc.UniqueIdentifier || bg.SymmetricKey == nil {
		t.Errorf("Get with the ID Placeholder answered %q for the created %q", bg.UniqueIdentifier, bc.UniqueIdentifier)
	}

	// Retire the first key.
	c.call(kmip14.OperationRevoke, gemaltoRevokeRequest{UniqueIdentifier: id,
		RevocationReason: gemaltoRevocationReason{RevocationReasonCode: kmip14.RevocationReasonCodeCessationOfOperation}}, &act)
	if st := c.state(id); st != kmip14.StateDeactivated {
		t.Errorf("after Revoke: %v", st)
	}
	var des gemaltoIDPayload
	c.call(kmip14.OperationDestroy, gkmip.DestroyRequestPayload{UniqueIdentifier: id}, &des)
	if des.UniqueIdentifier != id || c.state(id) != kmip14.StateDestroyed {
		t.Errorf("Destroy answered %q", des.UniqueIdentifier)
	}
	if it := c.call(kmip14.OperationGet, gkmip.GetRequestPayload{UniqueIdentifier: id}, nil); it.ResultStatus == kmip14.ResultStatusSuccess {
		t.Error("Get of a destroyed key succeeded")
	}
	// The store keeps its metadata, but Locate looks at on-line objects.
	if ids := c.locateName(name); len(ids) != 0 {
		t.Errorf("Locate finds the destroyed key: %v", ids)
	}
}
