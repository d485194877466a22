package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/kmipd/kmipd/audit"
	"github.com/kmipd/kmipd/hsmbackend/hsmtest"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/service"
	"github.com/kmipd/kmipd/ttlv"
)

// Helpers of the real-client tests (clients_*_test.go, pykmip_*_test.go):
// a full kmipd (the service over a fresh SoftHSM token, a bbolt store and
// an audit log) behind the harness's mutual TLS, and a wire client that
// speaks one protocol version exactly, the way a recorded client does. The
// client builds its messages with our ttlv and kmip packages; the gemalto
// tests (clients_gemalto_test.go) use an independent encoder.

// fullServer is a kmipd serving every operation of the service.
type fullServer struct {
	*Harness
	svc   *service.Service
	store *objects.BoltStore
	// dir holds kmipd.db, audit.log and audit.key.
	dir string
}

// startFullServer starts a full kmipd for the test. The store and the
// audit log are closed after the server has shut down (cleanups run last
// registered first).
func startFullServer(t *testing.T) *fullServer {
	t.Helper()
	hsm := hsmtest.New(t)
	dir := t.TempDir()
	store, err := objects.Open(filepath.Join(dir, "kmipd.db"), objects.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	key, err := audit.GenerateKeyFile(filepath.Join(dir, "audit.key"))
	if err != nil {
		t.Fatalf("audit key: %v", err)
	}
	sink, err := audit.OpenFileSink(filepath.Join(dir, "audit.log"))
	if err != nil {
		t.Fatalf("audit log: %v", err)
	}
	al, err := audit.New(sink, key)
	key.Clear()
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	t.Cleanup(func() {
		if err := al.Close(); err != nil {
			t.Errorf("close audit log: %v", err)
		}
	})
	svc := service.New(
		service.WithStore(store),
		service.WithHSM(hsm),
		service.WithAudit(al),
		service.WithLogger(hclog.NewNullLogger()),
	)
	// After the server's shutdown, before the HSM closes: the key cache
	// holds HSM session objects.
	t.Cleanup(func() { svc.Close(context.Background()) })
	h := StartServer(t, ServerOptions{Handler: svc})
	return &fullServer{Harness: h, svc: svc, store: store, dir: dir}
}

// wireClient sends request messages in one protocol version and checks
// that every response is answered in that version and carries only what
// that version defines.
type wireClient struct {
	t   *testing.T
	s   *fullServer
	ver kmip.ProtocolVersion
	// conn is the connection every message goes over; nil means one new
	// TLS connection per message (Synology DSM's habit).
	conn net.Conn
}

// client returns a client keeping one connection open.
func (s *fullServer) client(t *testing.T, ver kmip.ProtocolVersion) *wireClient {
	t.Helper()
	return &wireClient{t: t, s: s, ver: ver, conn: s.Dial(t)}
}

// clientPerMessage returns a client opening a connection per message.
func (s *fullServer) clientPerMessage(t *testing.T, ver kmip.ProtocolVersion) *wireClient {
	return &wireClient{t: t, s: s, ver: ver}
}

// wireItem is one request batch item.
type wireItem struct {
	op     kmip.Operation
	fields []ttlv.Value
}

func item(op kmip.Operation, fields ...ttlv.Value) wireItem { return wireItem{op: op, fields: fields} }

// wireResult is one response batch item.
type wireResult struct {
	op      kmip.Operation
	batchID []byte
	status  kmip.ResultStatus
	reason  kmip.ResultReason
	message string
	payload ttlv.Value
}

func (r wireResult) String() string {
	if r.status == kmip.ResultStatusSuccess {
		return fmt.Sprintf("%v: Success", r.op)
	}
	return fmt.Sprintf("%v: %v %v %q", r.op, r.status, r.reason, r.message)
}

// requestMessageValue builds a Request Message (KMIP 1.4 §7.1): the header
// has the Protocol Version and the Batch Count only, and items of a batch
// of more than one carry a Unique Batch Item ID (§6.4: required then).
func requestMessageValue(ver kmip.ProtocolVersion, items ...wireItem) ttlv.Value {
	msg := []ttlv.Value{ttlv.Struct(kmip.TagRequestHeader,
		kmip.ProtocolVersionValue(ver),
		ttlv.Int(kmip.TagBatchCount, int32(len(items))))}
	for i, it := range items {
		f := []ttlv.Value{ttlv.Enum(kmip.TagOperation, uint32(it.op))}
		if len(items) > 1 {
			f = append(f, ttlv.Bytes(kmip.TagUniqueBatchItemID, []byte{byte(i + 1)}))
		}
		f = append(f, ttlv.Struct(kmip.TagRequestPayload, it.fields...))
		msg = append(msg, ttlv.Struct(kmip.TagBatchItem, f...))
	}
	return ttlv.Struct(kmip.TagRequestMessage, msg...)
}

// batch sends one message with items and returns the answered items. It
// fails the test when the response is not a well-formed answer in c.ver.
func (c *wireClient) batch(items ...wireItem) []wireResult {
	c.t.Helper()
	conn := c.conn
	if conn == nil {
		conn = c.s.Dial(c.t)
		defer conn.Close()
	}
	resp := c.s.RoundTripValue(c.t, conn, requestMessageValue(c.ver, items...))
	return parseResponseMessage(c.t, resp, c.ver, len(items))
}

// parseResponseMessage checks the response header and returns the items.
// Every tag, enumeration value and attribute name of the response must be
// defined in ver: clients of older versions break on newer items (Percona
// Server for MongoDB on Fresh in a 1.0 response).
func parseResponseMessage(t *testing.T, resp ttlv.Value, ver kmip.ProtocolVersion, n int) []wireResult {
	t.Helper()
	if resp.Tag != kmip.TagResponseMessage {
		t.Fatalf("response is %s, not a Response Message", kmip.TagString(resp.Tag))
	}
	checkDefinedIn(t, resp, ver)
	hdr, ok := resp.Child(kmip.TagResponseHeader)
	if !ok {
		t.Fatalf("response without header: %v", resp)
	}
	pv, _ := hdr.Child(kmip.TagProtocolVersion)
	maj, _ := pv.Child(kmip.TagProtocolVersionMajor)
	minr, _ := pv.Child(kmip.TagProtocolVersionMinor)
	if maj.Int() != ver.Major || minr.Int() != ver.Minor {
		t.Errorf("response in KMIP %d.%d to a %v request", maj.Int(), minr.Int(), ver)
	}
	if !hdr.Has(kmip.TagTimeStamp) {
		t.Errorf("response header without Time Stamp")
	}
	if hdr.Has(kmip.TagServerCorrelationValue) && !ver.AtLeast(kmip.V1_4) {
		t.Errorf("Server Correlation Value in a %v response", ver)
	}
	count, _ := hdr.Child(kmip.TagBatchCount)
	items := resp.All(kmip.TagBatchItem)
	if int(count.Int()) != len(items) {
		t.Fatalf("batch count %d but %d items", count.Int(), len(items))
	}
	out := make([]wireResult, 0, len(items))
	for _, it := range items {
		var r wireResult
		for _, f := range it.Children() {
			switch f.Tag {
			case kmip.TagOperation:
				r.op = kmip.Operation(f.Enum())
			case kmip.TagUniqueBatchItemID:
				r.batchID = f.Bytes()
			case kmip.TagResultStatus:
				r.status = kmip.ResultStatus(f.Enum())
			case kmip.TagResultReason:
				r.reason = kmip.ResultReason(f.Enum())
			case kmip.TagResultMessage:
				r.message = f.Text()
			case kmip.TagResponsePayload:
				r.payload = f
			}
		}
		out = append(out, r)
	}
	if len(out) != n && (len(out) == 0 || out[len(out)-1].status == kmip.ResultStatusSuccess) {
		t.Errorf("%d items answered for %d sent", len(out), n)
	}
	return out
}

// checkDefinedIn reports every item of msg that protocol version ver does
// not define: tags (KMIP 1.4 §9.1.3.1 lists them per version), enumeration
// values and the names of standard attributes.
func checkDefinedIn(t *testing.T, msg ttlv.Value, ver kmip.ProtocolVersion) {
	t.Helper()
	var walk func(v ttlv.Value, path string)
	walk = func(v ttlv.Value, path string) {
		path += "/" + kmip.TagString(v.Tag)
		if !kmip.TagDefinedIn(v.Tag, ver.Major, ver.Minor) {
			t.Errorf("KMIP %v response carries %s, which %v does not define", ver, path, ver)
			return
		}
		switch {
		case v.Type == ttlv.TypeEnumeration:
			if info, _ := kmip.LookupTag(v.Tag); info.Enum != "" && !kmip.EnumDefinedIn(v.Tag, v.Enum(), ver.Major, ver.Minor) {
				t.Errorf("KMIP %v response carries %s = 0x%08X, a value %v does not define", ver, path, v.Enum(), ver)
			}
		case v.Tag == kmip.TagAttributeName && v.Type == ttlv.TypeTextString && !ver.Is2x():
			name := v.Text()
			if kmip.IsCustomAttributeName(name) {
				break
			}
			if info, ok := kmip.AttributeByName(name); !ok || !info.DefinedIn(ver.Major, ver.Minor) {
				t.Errorf("KMIP %v response carries attribute %q (%s), which %v does not define", ver, name, path, ver)
			}
		}
		for _, c := range v.Children() {
			walk(c, path)
		}
	}
	walk(msg, "")
}

// do sends one item and returns its result, whatever the status.
func (c *wireClient) do(op kmip.Operation, fields ...ttlv.Value) wireResult {
	c.t.Helper()
	rs := c.batch(item(op, fields...))
	if len(rs) != 1 {
		c.t.Fatalf("%v: %d items answered", op, len(rs))
	}
	if rs[0].op != op {
		c.t.Errorf("%v answered as %v", op, rs[0].op)
	}
	return rs[0]
}

// must sends one item that must succeed and returns its payload.
func (c *wireClient) must(op kmip.Operation, fields ...ttlv.Value) ttlv.Value {
	c.t.Helper()
	r := c.do(op, fields...)
	if r.status != kmip.ResultStatusSuccess {
		c.t.Fatalf("KMIP %v %v", c.ver, r)
	}
	return r.payload
}

// kattr is an attribute for requests.
func kattr(name string, v ttlv.Value) kmip.Attribute { return kmip.Attribute{Name: name, Value: v} }

func nameAttr(name string) kmip.Attribute {
	return kattr("Name", ttlv.Struct(kmip.TagName,
		ttlv.Text(kmip.TagNameValue, name),
		ttlv.Enum(kmip.TagNameType, uint32(kmip.NameTypeUninterpretedTextString))))
}

func algAttr(a kmip.CryptographicAlgorithm) kmip.Attribute {
	return kattr("Cryptographic Algorithm", ttlv.Enum(0, uint32(a)))
}

func lenAttr(bits int32) kmip.Attribute { return kattr("Cryptographic Length", ttlv.Int(0, bits)) }

func maskAttr(m kmip.CryptographicUsageMask) kmip.Attribute {
	return kattr("Cryptographic Usage Mask", ttlv.Int(0, int32(m)))
}

func textAttr(name, v string) kmip.Attribute { return kattr(name, ttlv.Text(0, v)) }

// attrs encodes attributes for the client's version: 1.x Attribute
// structures, 2.x tagged items.
func (c *wireClient) attrs(as ...kmip.Attribute) []ttlv.Value {
	out := make([]ttlv.Value, 0, len(as))
	for _, a := range as {
		out = append(out, kmip.EncodeAttribute(a, c.ver, false))
	}
	return out
}

// template is the attribute container of Create and Register: a 1.x
// Template-Attribute (KMIP 1.4 §2.1.8) or a 2.x Attributes (2.0 §2.1.1).
func (c *wireClient) template(as ...kmip.Attribute) ttlv.Value {
	if c.ver.Is2x() {
		return ttlv.Struct(kmip.TagAttributes, c.attrs(as...)...)
	}
	return ttlv.Struct(kmip.TagTemplateAttribute, c.attrs(as...)...)
}

func uidField(id string) ttlv.Value { return ttlv.Text(kmip.TagUniqueIdentifier, id) }

// payloadID returns the Unique Identifier of a response payload.
func payloadID(t *testing.T, p ttlv.Value) string {
	t.Helper()
	v, ok := p.Child(kmip.TagUniqueIdentifier)
	if !ok || v.Type != ttlv.TypeTextString || v.Text() == "" {
		t.Fatalf("response payload without Unique Identifier: %v", p)
	}
	return v.Text()
}

// createSymmetric creates a symmetric key with the given attributes.
func (c *wireClient) createSymmetric(as ...kmip.Attribute) string {
	c.t.Helper()
	p := c.must(kmip.OperationCreate,
		ttlv.Enum(kmip.TagObjectType, uint32(kmip.ObjectTypeSymmetricKey)),
		c.template(as...))
	if ot, _ := p.Child(kmip.TagObjectType); kmip.ObjectType(ot.Enum()) != kmip.ObjectTypeSymmetricKey {
		c.t.Errorf("Create answered object type %v", kmip.ObjectType(ot.Enum()))
	}
	return payloadID(c.t, p)
}

// keyBlock is a Key Block holding material in the clear.
func keyBlock(f kmip.KeyFormatType, material []byte, alg kmip.CryptographicAlgorithm, bits int32) ttlv.Value {
	fields := []ttlv.Value{
		ttlv.Enum(kmip.TagKeyFormatType, uint32(f)),
		ttlv.Struct(kmip.TagKeyValue, ttlv.Bytes(kmip.TagKeyMaterial, material)),
	}
	if alg != 0 {
		fields = append(fields, ttlv.Enum(kmip.TagCryptographicAlgorithm, uint32(alg)))
	}
	if bits != 0 {
		fields = append(fields, ttlv.Int(kmip.TagCryptographicLength, bits))
	}
	return ttlv.Struct(kmip.TagKeyBlock, fields...)
}

// register registers obj (a Symmetric Key, Secret Data, ... structure).
func (c *wireClient) register(ot kmip.ObjectType, obj ttlv.Value, as ...kmip.Attribute) string {
	c.t.Helper()
	return payloadID(c.t, c.must(kmip.OperationRegister,
		ttlv.Enum(kmip.TagObjectType, uint32(ot)), c.template(as...), obj))
}

// registerAES registers key as an AES key in Raw format.
func (c *wireClient) registerAES(key []byte, as ...kmip.Attribute) string {
	c.t.Helper()
	return c.register(kmip.ObjectTypeSymmetricKey,
		ttlv.Struct(kmip.TagSymmetricKey, keyBlock(kmip.KeyFormatTypeRaw, key, kmip.CryptographicAlgorithmAES, int32(len(key)*8))),
		as...)
}

// getAttributes returns the attributes named (all when none is named).
func (c *wireClient) getAttributes(id string, names ...string) []kmip.Attribute {
	c.t.Helper()
	fields := []ttlv.Value{uidField(id)}
	for _, n := range names {
		if c.ver.Is2x() {
			info, ok := kmip.AttributeByName(n)
			if !ok {
				c.t.Fatalf("no 2.x reference for attribute %q", n)
			}
			fields = append(fields, ttlv.Enum(kmip.TagAttributeReference, uint32(info.Tag)))
			continue
		}
		fields = append(fields, ttlv.Text(kmip.TagAttributeName, n))
	}
	p := c.must(kmip.OperationGetAttributes, fields...)
	if got := payloadID(c.t, p); got != id {
		c.t.Errorf("Get Attributes answered for %s, asked for %s", got, id)
	}
	return parseAttributesPayload(c.t, p, c.ver)
}

// parseAttributesPayload reads the attributes of a Get Attributes (or
// Add/Modify Attribute) response payload.
func parseAttributesPayload(t *testing.T, p ttlv.Value, ver kmip.ProtocolVersion) []kmip.Attribute {
	t.Helper()
	var out []kmip.Attribute
	if ver.Is2x() {
		if c, ok := p.Child(kmip.TagAttributes); ok {
			as, err := kmip.ParseAttributes(c)
			if err != nil {
				t.Fatalf("response attributes: %v", err)
			}
			out = as
		}
		return out
	}
	for _, v := range p.All(kmip.TagAttribute) {
		a, err := kmip.ParseAttribute(v)
		if err != nil {
			t.Fatalf("response attribute %v: %v", v, err)
		}
		out = append(out, a)
	}
	return out
}

// attrValues returns the values of the attributes called name.
func attrValues(as []kmip.Attribute, name string) []ttlv.Value {
	var out []ttlv.Value
	for _, a := range as {
		if a.Name == name {
			out = append(out, a.Value)
		}
	}
	return out
}

// state reads the State attribute.
func (c *wireClient) state(id string) kmip.State {
	c.t.Helper()
	vs := attrValues(c.getAttributes(id, "State"), "State")
	if len(vs) != 1 {
		c.t.Fatalf("Get Attributes State of %s: %d values", id, len(vs))
	}
	return kmip.State(vs[0].Enum())
}

func (c *wireClient) activate(id string) {
	c.t.Helper()
	if got := payloadID(c.t, c.must(kmip.OperationActivate, uidField(id))); got != id {
		c.t.Errorf("Activate answered for %s, asked for %s", got, id)
	}
}

// revoke revokes id for reason (KMIP 1.4 §4.20).
func (c *wireClient) revoke(id string, reason kmip.RevocationReasonCode) {
	c.t.Helper()
	c.must(kmip.OperationRevoke, uidField(id),
		ttlv.Struct(kmip.TagRevocationReason, ttlv.Enum(kmip.TagRevocationReasonCode, uint32(reason))))
}

func (c *wireClient) destroy(id string) {
	c.t.Helper()
	if got := payloadID(c.t, c.must(kmip.OperationDestroy, uidField(id))); got != id {
		c.t.Errorf("Destroy answered for %s, asked for %s", got, id)
	}
}

// locate sends Locate with fields and returns the identifiers found and the
// payload.
func (c *wireClient) locate(fields ...ttlv.Value) ([]string, ttlv.Value) {
	c.t.Helper()
	p := c.must(kmip.OperationLocate, fields...)
	var ids []string
	for _, v := range p.All(kmip.TagUniqueIdentifier) {
		ids = append(ids, v.Text())
	}
	return ids, p
}

// locateFilter is the filter part of a Locate request: 1.x lists Attribute
// structures in the payload, 2.x wraps tagged items in Attributes.
func (c *wireClient) locateFilter(as ...kmip.Attribute) []ttlv.Value {
	if c.ver.Is2x() {
		return []ttlv.Value{ttlv.Struct(kmip.TagAttributes, c.attrs(as...)...)}
	}
	return c.attrs(as...)
}

// keyValue returns the Key Value of the managed object in a Get payload
// (objTag: Symmetric Key, Secret Data, Private Key, ...), and its Key Block.
func keyValue(t *testing.T, p ttlv.Value, objTag ttlv.Tag) (kv, block ttlv.Value) {
	t.Helper()
	obj, ok := p.Child(objTag)
	if !ok {
		t.Fatalf("Get payload without %s: %v", kmip.TagString(objTag), p)
	}
	block, ok = obj.Child(kmip.TagKeyBlock)
	if !ok {
		t.Fatalf("%s without Key Block", kmip.TagString(objTag))
	}
	kv, ok = block.Child(kmip.TagKeyValue)
	if !ok {
		t.Fatalf("Key Block without Key Value: %v", block)
	}
	return kv, block
}

// keyMaterialBytes returns the Byte String Key Material of a plaintext Key
// Value structure.
func keyMaterialBytes(t *testing.T, kv ttlv.Value) []byte {
	t.Helper()
	if kv.Type != ttlv.TypeStructure {
		t.Fatalf("Key Value is a %v, not a structure (wrapped?)", kv.Type)
	}
	m, ok := kv.Child(kmip.TagKeyMaterial)
	if !ok || m.Type != ttlv.TypeByteString {
		t.Fatalf("Key Value without Byte String Key Material: %v", kv)
	}
	return m.Bytes()
}

// randomLabel is a unique name suffix.
func randomLabel(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// randomBytes returns n random bytes (test key material).
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
