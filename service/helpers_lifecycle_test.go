package service

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kmipd/kmipd/hsmbackend"
	"github.com/kmipd/kmipd/hsmbackend/hsmtest"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// Test helpers of the lifecycle group. Every package-level name carries
// "lifecycle" so the other groups' tests in this package cannot clash.

// lifecycleT0 is the fake clock's start: a whole second, so Date-Time
// attributes (second precision) compare equal to it.
var lifecycleT0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// lifecycleEnv is a Service over a real SoftHSM token and a bbolt store in
// t.TempDir, with a fake clock.
type lifecycleEnv struct {
	svc   *Service
	store objects.Store
	hsm   *hsmbackend.Backend
	clock *testClock
	// wrapped is AES-256 material generated in the HSM once per env and
	// shared by the objects the env stores: the store only sees blobs.
	wrapped hsmbackend.Wrapped
}

func newLifecycleEnv(t testing.TB) *lifecycleEnv {
	t.Helper()
	hsm := hsmtest.New(t)
	st, _ := openTestStore(t)
	w, err := hsm.GenerateSecret(context.Background(), hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 256})
	if err != nil {
		t.Fatalf("generate AES key: %v", err)
	}
	clock := &testClock{now: lifecycleT0}
	return &lifecycleEnv{
		svc:     New(WithStore(st), WithHSM(hsm), WithClock(clock.Now)),
		store:   st,
		hsm:     hsm,
		clock:   clock,
		wrapped: w,
	}
}

// lifecycleDT is a Date-Time attribute value.
func lifecycleDT(at time.Time) ttlv.Value { return ttlv.DateTime(0, at) }

// putKey stores a Pre-Active-by-default AES-256 key as the creation group
// would (attributes of vector SKLC-M-1), applies the options, and returns
// its identifier.
func (e *lifecycleEnv) putKey(t testing.TB, st kmip.State, opts ...func(*objects.Object)) string {
	t.Helper()
	ctx := context.Background()
	id, err := e.store.NewID(ctx)
	if err != nil {
		t.Fatalf("new id: %v", err)
	}
	created := e.clock.Now()
	o := &objects.Object{
		ID:         id,
		ObjectType: kmip.ObjectTypeSymmetricKey,
		Wrapped:    toStored(e.wrapped),
		KeyFormat:  uint32(kmip.KeyFormatTypeRaw),
		Owner:      "anonymous",
		Created:    created,
	}
	o.SetAttr(attr(attrUniqueIdentifier, ttlv.Text(0, id)))
	o.SetAttr(attr(attrObjectType, ttlv.Enum(0, uint32(kmip.ObjectTypeSymmetricKey))))
	o.SetAttr(attr(attrCryptoAlgorithm, ttlv.Enum(0, uint32(kmip.CryptographicAlgorithmAES))))
	o.SetAttr(attr(attrCryptoLength, ttlv.Int(0, 256)))
	o.SetAttr(attr(attrCryptoUsageMask, ttlv.Int(0, int32(kmip.CryptographicUsageMaskEncrypt|kmip.CryptographicUsageMaskDecrypt))))
	o.SetAttr(attr(attrInitialDate, lifecycleDT(created)))
	o.SetAttr(attr(attrLastChangeDate, lifecycleDT(created)))
	setState(o, st)
	if st == kmip.StateDestroyed || st == kmip.StateDestroyedCompromised {
		o.Wrapped = nil
		o.SetAttr(attr(attrDestroyDate, lifecycleDT(created)))
	}
	for _, opt := range opts {
		opt(o)
	}
	if err := e.store.Create(ctx, o); err != nil {
		t.Fatalf("store key: %v", err)
	}
	return id
}

// get reads an object straight from the store.
func (e *lifecycleEnv) get(t testing.TB, id string) *objects.Object {
	t.Helper()
	o, err := e.store.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return o
}

// serve runs one operation through the choke point.
func (e *lifecycleEnv) serve(ver kmip.ProtocolVersion, op kmip.Operation, fields ...ttlv.Value) (ttlv.Value, error) {
	return e.svc.ServeKMIP(context.Background(), lifecycleRequest(ver, op, fields...))
}

func lifecycleRequest(ver kmip.ProtocolVersion, op kmip.Operation, fields ...ttlv.Value) *kmip.Request {
	return &kmip.Request{Version: ver, Operation: op, Payload: ttlv.Struct(kmip.TagRequestPayload, fields...)}
}

func lifecycleUID(id string) ttlv.Value { return ttlv.Text(kmip.TagUniqueIdentifier, id) }

func lifecycleRevocation(code kmip.RevocationReasonCode) ttlv.Value {
	return ttlv.Struct(kmip.TagRevocationReason, ttlv.Enum(kmip.TagRevocationReasonCode, uint32(code)))
}

// lifecycleReasonOf is the Result Reason of err, 0 for success.
func lifecycleReasonOf(err error) kmip.ResultReason {
	if err == nil {
		return 0
	}
	return kmip.ReasonOf(err)
}

// lifecycleWith* are putKey options.
func lifecycleWithAttr(name string, v ttlv.Value) func(*objects.Object) {
	return func(o *objects.Object) { o.SetAttr(attr(name, v)) }
}

func lifecycleWithLimits(total, count int64, unit kmip.UsageLimitsUnit) func(*objects.Object) {
	return func(o *objects.Object) { usageLimits{total: total, count: count, unit: unit}.set(o) }
}

func lifecycleWithMask(m kmip.CryptographicUsageMask) func(*objects.Object) {
	return lifecycleWithAttr(attrCryptoUsageMask, ttlv.Int(0, int32(m)))
}

func lifecycleArchived(o *objects.Object) { o.Archived = true }

// lifecycleGetAttributesState asks Get Attributes for the State of id, in
// the 1.x or 2.x form, when the attribute group has registered Get
// Attributes; ok is false when it has not.
func (e *lifecycleEnv) getAttributesState(t testing.TB, ver kmip.ProtocolVersion, id string) (st kmip.State, ok bool) {
	t.Helper()
	if !e.svc.Mux().Handles(kmip.OperationGetAttributes) {
		return 0, false
	}
	var ref ttlv.Value
	if ver.Is2x() {
		ref = ttlv.Enum(kmip.TagAttributeReference, uint32(kmip.TagState))
	} else {
		ref = ttlv.Text(kmip.TagAttributeName, attrState)
	}
	payload, err := e.serve(ver, kmip.OperationGetAttributes, lifecycleUID(id), ref)
	if err != nil {
		t.Fatalf("get attributes %s (%v): %v", id, ver, err)
	}
	items := payload.Children()
	if attrs, ok := payload.Child(kmip.TagAttributes); ok {
		items = attrs.Children()
	}
	for _, c := range items {
		if c.Tag == kmip.TagUniqueIdentifier {
			continue
		}
		a, err := kmip.ParseAttribute(c)
		if err != nil {
			t.Fatalf("get attributes %s: %v", id, err)
		}
		if a.Name == attrState {
			return kmip.State(a.Value.Enum()), true
		}
	}
	t.Fatalf("get attributes %s (%v): no State in %v", id, ver, items)
	return 0, false
}

// lifecycleVector replays the requests of one OASIS vector file whose
// operations are all lifecycle operations through kmip.HandleMessage and
// compares each response batch item (Operation, Result Status, Result
// Reason, Response Payload) with the vector's. Requests of other
// operations (Create, Get Attributes, Modify Attribute, ...) are skipped
// with their responses; the objects the vector creates are pre-stored by
// the caller, whose identifiers ids binds to $UNIQUE_IDENTIFIER_n.
func (e *lifecycleEnv) replayVector(t *testing.T, path string, ids []string) (replayed int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read vector: %v", err)
	}
	opts := ttlv.XMLOptions{
		Names: kmip.NewNames(),
		Placeholder: func(tag ttlv.Tag, typ ttlv.Type, value string) (ttlv.Value, bool, error) {
			if n, ok := strings.CutPrefix(value, "$UNIQUE_IDENTIFIER_"); ok && typ == ttlv.TypeTextString {
				i, err := strconv.Atoi(n)
				if err != nil || i >= len(ids) {
					return ttlv.Text(tag, "unbound-"+n), true, nil
				}
				return ttlv.Text(tag, ids[i]), true, nil
			}
			// Other placeholders only occur in the operations skipped here.
			switch typ {
			case ttlv.TypeDateTime:
				return ttlv.DateTime(tag, e.clock.Now()), true, nil
			case ttlv.TypeTextString:
				return ttlv.Text(tag, value), true, nil
			case ttlv.TypeByteString:
				return ttlv.Bytes(tag, nil), true, nil
			default:
				return ttlv.Value{}, false, fmt.Errorf("placeholder %s of type %d", value, typ)
			}
		},
	}
	lifecycleOps := map[kmip.Operation]bool{
		kmip.OperationActivate: true, kmip.OperationRevoke: true, kmip.OperationDestroy: true,
		kmip.OperationArchive: true, kmip.OperationRecover: true, kmip.OperationCheck: true,
		kmip.OperationObtainLease: true, kmip.OperationGetUsageAllocation: true,
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	var pending *ttlv.Value // the request awaiting its response, nil if skipped
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		start, ok := tok.(xml.StartElement)
		if !ok || (start.Name.Local != "RequestMessage" && start.Name.Local != "ResponseMessage") {
			continue
		}
		v, err := opts.DecodeElement(d, start)
		if err != nil {
			t.Fatalf("%s: decode %s: %v", path, start.Name.Local, err)
		}
		if start.Name.Local == "RequestMessage" {
			pending = nil
			mine := true
			for _, bi := range v.All(kmip.TagBatchItem) {
				op, _ := bi.Child(kmip.TagOperation)
				mine = mine && lifecycleOps[kmip.Operation(op.Enum())]
			}
			if mine {
				pending = &v
			}
			continue
		}
		if pending == nil {
			continue
		}
		replayed++
		raw := kmip.HandleMessage(context.Background(), e.svc, ttlv.Marshal(*pending), nil)
		got, err := ttlv.Decode(raw, ttlv.Limits{})
		if err != nil {
			t.Fatalf("%s: decode response: %v", path, err)
		}
		lifecycleCompareResponse(t, fmt.Sprintf("%s request %d", filepath.Base(path), replayed), got, v)
		pending = nil
	}
	return replayed
}

// lifecycleCompareResponse compares the batch items of two Response
// Messages, ignoring the header (time stamps) and Result Messages (the
// vectors' "DENIED" is free text).
func lifecycleCompareResponse(t *testing.T, name string, got, want ttlv.Value) {
	t.Helper()
	g, w := got.All(kmip.TagBatchItem), want.All(kmip.TagBatchItem)
	if len(g) != len(w) {
		t.Errorf("%s: %d batch items, want %d", name, len(g), len(w))
		return
	}
	for i := range w {
		for _, tag := range []ttlv.Tag{kmip.TagOperation, kmip.TagResultStatus, kmip.TagResultReason, kmip.TagResponsePayload} {
			gv, gok := g[i].Child(tag)
			wv, wok := w[i].Child(tag)
			if gok != wok || !ttlv.Equal(gv, wv) {
				gx, _ := ttlv.MarshalXML(g[i], kmip.NewNames())
				wx, _ := ttlv.MarshalXML(w[i], kmip.NewNames())
				t.Errorf("%s item %d: %s differs\ngot:\n%s\nwant:\n%s", name, i, kmip.TagString(tag), gx, wx)
				break
			}
		}
	}
}
