package kmip

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/kmipd/kmipd/ttlv"
)

// Operations of the batch tests' mux: each stands for a behaviour.
const (
	opOK      = OperationActivate    // succeeds, echoing the ID it was given
	opFail    = OperationRevoke      // fails with Item Not Found
	opPanic   = OperationArchive     // panics
	opPlain   = OperationCheck       // returns a non-kmip error
	opCreate  = OperationCreate      // creates "new-<n>"
	opLocate  = OperationLocate      // returns the IDs named in its payload
	opGet     = OperationGet         // returns the ID it names
	opNewer   = OperationObtainLease // returns a 1.4-only field
	opBigResp = OperationGetAttributes
)

// batchRecorder is a mux whose handlers record the requests they saw.
type batchRecorder struct {
	mu   sync.Mutex
	seen []*Request
}

func (r *batchRecorder) record(req *Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, req)
}

func (r *batchRecorder) ops() []Operation {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Operation
	for _, q := range r.seen {
		out = append(out, q.Operation)
	}
	return out
}

func newBatchMux(r *batchRecorder) *ServeMux {
	mux := NewServeMux()
	created := 0
	mux.HandleFunc(opOK, func(_ context.Context, req *Request) (ttlv.Value, error) {
		r.record(req)
		id, _ := req.UniqueIdentifier()
		return echoPayload(id), nil
	})
	mux.HandleFunc(opFail, func(_ context.Context, req *Request) (ttlv.Value, error) {
		r.record(req)
		return ttlv.Value{}, Errorf(ResultReasonItemNotFound, "no such object")
	})
	mux.HandleFunc(opPanic, func(_ context.Context, req *Request) (ttlv.Value, error) {
		r.record(req)
		panic("secret detail that must not reach the client")
	})
	mux.HandleFunc(opPlain, func(_ context.Context, req *Request) (ttlv.Value, error) {
		r.record(req)
		return ttlv.Value{}, errors.New("open /var/lib/kmipd/secret.db: permission denied")
	})
	mux.HandleFunc(opCreate, func(_ context.Context, req *Request) (ttlv.Value, error) {
		r.record(req)
		created++
		return Payload(ttlv.Enum(TagObjectType, uint32(ObjectTypeSymmetricKey)), ttlv.Text(TagUniqueIdentifier, "new-"+string(rune('0'+created)))), nil
	})
	mux.HandleFunc(opLocate, func(_ context.Context, req *Request) (ttlv.Value, error) {
		r.record(req)
		var ids []ttlv.Value
		for _, c := range req.Payload.All(TagUniqueIdentifier) {
			ids = append(ids, ttlv.Text(TagUniqueIdentifier, c.Text()))
		}
		return Payload(ids...), nil
	})
	mux.HandleFunc(opGet, func(_ context.Context, req *Request) (ttlv.Value, error) {
		r.record(req)
		id, ok := req.UniqueIdentifier()
		if !ok {
			return ttlv.Value{}, Errorf(ResultReasonItemNotFound, "no unique identifier")
		}
		return echoPayload(id), nil
	})
	mux.HandleFunc(opNewer, func(_ context.Context, req *Request) (ttlv.Value, error) {
		r.record(req)
		return Payload(ttlv.Text(TagUniqueIdentifier, "x"), ttlv.Text(TagClientCorrelationValue, "1.4 only")), nil
	})
	mux.HandleFunc(opBigResp, func(_ context.Context, req *Request) (ttlv.Value, error) {
		r.record(req)
		return Payload(ttlv.Bytes(TagKeyMaterial, make([]byte, 4096))), nil
	})
	return mux
}

func continuation(o BatchErrorContinuationOption) []ttlv.Value {
	return []ttlv.Value{ttlv.Enum(TagBatchErrorContinuationOption, uint32(o))}
}

func uid(s string) ttlv.Value { return ttlv.Text(TagUniqueIdentifier, s) }

// TestHandleMessageBatch covers the batch semantics of KMIP 1.4 §6.13-6.15
// and §11.1 through HandleMessage.
func TestHandleMessageBatch(t *testing.T) {
	type want struct {
		op      Operation
		status  ResultStatus
		reason  ResultReason
		message string // substring
		id      string // Unique Identifier in the payload, "" for none
	}
	ok := func(op Operation, id string) want { return want{op: op, status: ResultStatusSuccess, id: id} }
	failed := func(op Operation, r ResultReason, msg string) want {
		return want{op: op, status: ResultStatusOperationFailed, reason: r, message: msg}
	}
	tests := []struct {
		name    string
		header  []ttlv.Value
		items   []ttlv.Value
		want    []want
		handled []Operation // the handlers that ran, in order
	}{
		{
			name:    "all succeed",
			items:   []ttlv.Value{reqItem(opOK, uid("a")), reqItem(opOK, uid("b"))},
			want:    []want{ok(opOK, "a"), ok(opOK, "b")},
			handled: []Operation{opOK, opOK},
		},
		{
			// KMIP 1.4 §6.14: Stop is the default; items after the failed
			// one are not processed and not returned (§11.43 in 1.4's
			// numbering of the batch error table).
			name:    "stop is the default",
			items:   []ttlv.Value{reqItem(opOK, uid("a")), reqItem(opFail), reqItem(opOK, uid("c"))},
			want:    []want{ok(opOK, "a"), failed(opFail, ResultReasonItemNotFound, "no such object")},
			handled: []Operation{opOK, opFail},
		},
		{
			name:    "explicit stop",
			header:  continuation(BatchErrorContinuationOptionStop),
			items:   []ttlv.Value{reqItem(opFail), reqItem(opOK, uid("b"))},
			want:    []want{failed(opFail, ResultReasonItemNotFound, "")},
			handled: []Operation{opFail},
		},
		{
			name:    "continue processes every item",
			header:  continuation(BatchErrorContinuationOptionContinue),
			items:   []ttlv.Value{reqItem(opFail), reqItem(opOK, uid("b")), reqItem(opFail), reqItem(opOK, uid("d"))},
			want:    []want{failed(opFail, ResultReasonItemNotFound, ""), ok(opOK, "b"), failed(opFail, ResultReasonItemNotFound, ""), ok(opOK, "d")},
			handled: []Operation{opFail, opOK, opFail, opOK},
		},
		{
			// Undo is supported (kmip/undo_test.go covers undoing); a
			// batch that succeeds is answered as with Stop.
			name:    "undo, all succeed",
			header:  continuation(BatchErrorContinuationOptionUndo),
			items:   []ttlv.Value{reqItem(opOK, uid("a")), reqItem(opOK, uid("b"))},
			want:    []want{ok(opOK, "a"), ok(opOK, "b")},
			handled: []Operation{opOK, opOK},
		},
		{
			// A value outside the enumeration: the whole request fails,
			// nothing runs.
			name:   "unknown continuation option",
			header: continuation(99),
			items:  []ttlv.Value{reqItem(opOK, uid("a"))},
			want:   []want{failed(0, ResultReasonInvalidField, "")},
		},
		{
			// KMIP 1.4 §11.1: "Server does not support operation".
			name:    "unknown operation",
			header:  continuation(BatchErrorContinuationOptionContinue),
			items:   []ttlv.Value{reqItem(OperationPoll), reqItem(opOK, uid("b"))},
			want:    []want{failed(OperationPoll, ResultReasonOperationNotSupported, "Poll"), ok(opOK, "b")},
			handled: []Operation{opOK},
		},
		{
			name:    "unassigned operation number",
			items:   []ttlv.Value{reqItem(0x7fff)},
			want:    []want{failed(0x7fff, ResultReasonOperationNotSupported, "")},
			handled: nil,
		},
		{
			// A panic is General Failure with a generic message; the panic
			// value is logged, never sent.
			name:    "handler panic",
			header:  continuation(BatchErrorContinuationOptionContinue),
			items:   []ttlv.Value{reqItem(opPanic), reqItem(opOK, uid("b"))},
			want:    []want{failed(opPanic, ResultReasonGeneralFailure, "internal error"), ok(opOK, "b")},
			handled: []Operation{opPanic, opOK},
		},
		{
			// An error that is not a *kmip.Error may name files or carry
			// internals: General Failure with a generic message.
			name:    "non-kmip error",
			items:   []ttlv.Value{reqItem(opPlain)},
			want:    []want{failed(opPlain, ResultReasonGeneralFailure, "internal error")},
			handled: []Operation{opPlain},
		},
		{
			// KMIP 1.4 §11.1: only the bad batch item fails; with Continue
			// the good ones still run.
			name:   "bad batch item fails alone",
			header: continuation(BatchErrorContinuationOptionContinue),
			items: []ttlv.Value{
				reqItem(opOK, uid("a")),
				ttlv.Struct(TagBatchItem, ttlv.Enum(TagOperation, uint32(opOK))),
				reqItem(opOK, uid("c")),
			},
			want:    []want{ok(opOK, "a"), failed(opOK, ResultReasonInvalidMessage, "no request payload"), ok(opOK, "c")},
			handled: []Operation{opOK, opOK},
		},
		{
			name:    "bad batch item stops the batch by default",
			items:   []ttlv.Value{ttlv.Struct(TagBatchItem, ttlv.Struct(TagRequestPayload)), reqItem(opOK, uid("b"))},
			want:    []want{failed(0, ResultReasonInvalidMessage, "no operation")},
			handled: nil,
		},
		{
			// KMIP 1.4 §4 "ID Placeholder": the Unique Identifier a Create
			// returns is used by later items that name none.
			name:    "ID placeholder from create",
			items:   []ttlv.Value{reqItem(opCreate), reqItem(opOK), reqItem(opGet)},
			want:    []want{ok(opCreate, "new-1"), ok(opOK, "new-1"), ok(opGet, "new-1")},
			handled: []Operation{opCreate, opOK, opGet},
		},
		{
			name:    "explicit identifier wins over the placeholder",
			items:   []ttlv.Value{reqItem(opCreate), reqItem(opGet, uid("other")), reqItem(opOK)},
			want:    []want{ok(opCreate, "new-1"), ok(opGet, "other"), ok(opOK, "new-1")},
			handled: []Operation{opCreate, opGet, opOK},
		},
		{
			name:    "a later create replaces the placeholder",
			items:   []ttlv.Value{reqItem(opCreate), reqItem(opCreate), reqItem(opOK)},
			want:    []want{ok(opCreate, "new-1"), ok(opCreate, "new-2"), ok(opOK, "new-2")},
			handled: []Operation{opCreate, opCreate, opOK},
		},
		{
			name:    "no placeholder without a creating item",
			items:   []ttlv.Value{reqItem(opGet)},
			want:    []want{failed(opGet, ResultReasonItemNotFound, "")},
			handled: []Operation{opGet},
		},
		{
			// KMIP 1.4 §4.9: a Locate that finds one object sets the
			// placeholder; one that finds several empties it.
			name:    "locate of one object sets the placeholder",
			items:   []ttlv.Value{reqItem(opLocate, uid("found")), reqItem(opGet)},
			want:    []want{ok(opLocate, "found"), ok(opGet, "found")},
			handled: []Operation{opLocate, opGet},
		},
		{
			name:    "locate of several objects empties the placeholder",
			items:   []ttlv.Value{reqItem(opCreate), reqItem(opLocate, uid("x"), uid("y")), reqItem(opGet)},
			want:    []want{ok(opCreate, "new-1"), ok(opLocate, "x"), failed(opGet, ResultReasonItemNotFound, "")},
			handled: []Operation{opCreate, opLocate, opGet},
		},
		{
			// The placeholder lives for one batch only.
			name:    "failed create leaves no placeholder",
			header:  continuation(BatchErrorContinuationOptionContinue),
			items:   []ttlv.Value{reqItem(opFail), reqItem(opGet)},
			want:    []want{failed(opFail, ResultReasonItemNotFound, ""), failed(opGet, ResultReasonItemNotFound, "")},
			handled: []Operation{opFail, opGet},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &batchRecorder{}
			m := handle(t, newBatchMux(rec), reqMessage(V1_4, tt.header, tt.items...))
			if m.Version != V1_4 {
				t.Errorf("response version %v", m.Version)
			}
			if len(m.Items) != len(tt.want) {
				t.Fatalf("%d batch items, want %d: %+v", len(m.Items), len(tt.want), m.Items)
			}
			for i, w := range tt.want {
				it := m.Items[i]
				if (w.op != 0) != it.HasOperation || it.Operation != w.op {
					t.Errorf("item %d: operation %v (present %v), want %v", i, it.Operation, it.HasOperation, w.op)
				}
				if it.Status != w.status || it.Reason != w.reason || !strings.Contains(it.Message, w.message) {
					t.Errorf("item %d: %v/%v %q, want %v/%v containing %q", i, it.Status, it.Reason, it.Message, w.status, w.reason, w.message)
				}
				if strings.Contains(it.Message, "secret") || strings.Contains(it.Message, "/var/lib") {
					t.Errorf("item %d: internal detail leaked to the client: %q", i, it.Message)
				}
				gotID := ""
				if v, ok := it.Payload.Child(TagUniqueIdentifier); ok {
					gotID = v.Text()
				}
				if gotID != w.id {
					t.Errorf("item %d: unique identifier %q, want %q", i, gotID, w.id)
				}
				if it.Status != ResultStatusSuccess && !it.Payload.IsZero() {
					t.Errorf("item %d: failed item carries a payload", i)
				}
			}
			if got := rec.ops(); !equalOps(got, tt.handled) {
				t.Errorf("handlers ran for %v, want %v", got, tt.handled)
			}
		})
	}
}

func equalOps(a, b []Operation) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestHandleMessageRequestFields checks what a handler is given.
func TestHandleMessageRequestFields(t *testing.T) {
	var got []Request
	mux := NewServeMux()
	mux.HandleFunc(opOK, func(_ context.Context, req *Request) (ttlv.Value, error) {
		got = append(got, *req)
		return ttlv.Value{}, nil
	})
	req := reqMessage(ProtocolVersion{1, 7}, []ttlv.Value{ttlv.Text(TagClientCorrelationValue, "cc")},
		reqItemID(opOK, 1, uid("a")),
		ttlv.Struct(TagBatchItem, ttlv.Enum(TagOperation, uint32(opOK)), ttlv.Bool(TagEphemeral, true), ttlv.Struct(TagRequestPayload)))
	m := handle(t, mux, req)
	if len(got) != 2 {
		t.Fatalf("handler ran %d times", len(got))
	}
	// Negotiated down to our newest 1.x (KMIP 1.4 §11.1: same major,
	// different minor: process).
	if got[0].Version != V1_4 || m.Version != V1_4 {
		t.Errorf("request version %v, response version %v; want 1.4", got[0].Version, m.Version)
	}
	if got[0].Header == nil || got[0].Header.ClientCorrelationValue != "cc" || got[0].Header.ProtocolVersion != (ProtocolVersion{1, 7}) {
		t.Errorf("header = %+v", got[0].Header)
	}
	if got[0].BatchIndex != 0 || got[1].BatchIndex != 1 || string(got[0].BatchItemID) != "\x01" || got[1].BatchItemID != nil {
		t.Errorf("batch index/ID = %d %x, %d %x", got[0].BatchIndex, got[0].BatchItemID, got[1].BatchIndex, got[1].BatchItemID)
	}
	if got[0].Ephemeral || !got[1].Ephemeral {
		t.Error("ephemeral flags wrong")
	}
	// A success without payload has no Response Payload; the batch item
	// ID is echoed.
	if !m.Items[0].Payload.IsZero() || string(m.Items[0].BatchItemID) != "\x01" {
		t.Errorf("item 0 = %+v", m.Items[0])
	}
	// 1.4 answers the client correlation value? Only when the server sets
	// it: the request's value is not echoed by the message layer.
	if m.Header.Has(TagClientCorrelationValue) {
		t.Error("client correlation value echoed by the message layer")
	}
}

// TestHandleMessageVersionFilter: a 1.0 request is never answered with a
// field 1.0 lacks, even when the handler returns one.
func TestHandleMessageVersionFilter(t *testing.T) {
	rec := &batchRecorder{}
	for _, tt := range []struct {
		ver  ProtocolVersion
		keep bool
	}{{V1_0, false}, {V1_3, false}, {V1_4, true}, {V2_0, true}} {
		t.Run(tt.ver.String(), func(t *testing.T) {
			m := handle(t, newBatchMux(rec), reqMessage(tt.ver, nil, reqItem(opNewer)))
			if m.Version != tt.ver {
				t.Errorf("answered in %v", m.Version)
			}
			p := m.Items[0].Payload
			if p.Has(TagClientCorrelationValue) != tt.keep {
				t.Errorf("payload %v: 1.4-only field present = %v, want %v", p, !tt.keep, tt.keep)
			}
			if !p.Has(TagUniqueIdentifier) {
				t.Errorf("payload %v lost its 1.0 field", p)
			}
		})
	}
}

// TestHandleMessageMaximumResponseSize: KMIP 1.4 §11.1, "Maximum Response
// Size has been exceeded": Response Too Large.
func TestHandleMessageMaximumResponseSize(t *testing.T) {
	tests := []struct {
		name     string
		max      int32
		items    []ttlv.Value
		tooLarge bool
	}{
		{"no limit", 0, []ttlv.Value{reqItem(opBigResp)}, false},
		{"large enough", 1 << 20, []ttlv.Value{reqItem(opBigResp)}, false},
		{"too small", 1024, []ttlv.Value{reqItem(opBigResp)}, true},
		{"too small for two", 1024, []ttlv.Value{reqItem(opOK, uid("a")), reqItem(opBigResp)}, true},
		{"small responses fit", 1024, []ttlv.Value{reqItem(opOK, uid("a")), reqItem(opOK, uid("b"))}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := []ttlv.Value{ttlv.Int(TagMaximumResponseSize, tt.max)}
			raw := HandleMessage(context.Background(), newBatchMux(&batchRecorder{}), ttlv.Marshal(reqMessage(V1_4, hdr, tt.items...)), testOpts())
			m := mustDecodeResponse(t, raw)
			if len(m.Items) != len(tt.items) {
				t.Fatalf("%d items, want %d", len(m.Items), len(tt.items))
			}
			for i, it := range m.Items {
				if tt.tooLarge {
					if it.Status != ResultStatusOperationFailed || it.Reason != ResultReasonResponseTooLarge || !it.Payload.IsZero() {
						t.Errorf("item %d = %+v; want Response Too Large without payload", i, it)
					}
					continue
				}
				if it.Status != ResultStatusSuccess {
					t.Errorf("item %d = %+v; want success", i, it)
				}
			}
			if tt.tooLarge && len(raw) > int(tt.max) {
				t.Errorf("Response Too Large answer is %d bytes, over the %d the client accepts", len(raw), tt.max)
			}
		})
	}
}

// TestHandleMessageUnparseable: KMIP 1.4 §11.1 "Message cannot be parsed"
// and "Protocol major version mismatch": a header and one batch item
// without Operation, Invalid Message, in the client's version when it can
// be read.
func TestHandleMessageUnparseable(t *testing.T) {
	valid := ttlv.Marshal(reqMessage(V1_3, nil, reqItem(opOK, uid("a"))))
	badPadding := bytes.Clone(valid)
	// The first padded primitive inside is the Protocol Version Major
	// (an Integer: 4 bytes of value, 4 of padding) at offset 8+8+8.
	badPadding[8+8+8+8+7] = 1
	deep := ttlv.Int(TagBatchCount, 1)
	for range 100 {
		deep = ttlv.Struct(TagRequestPayload, deep)
	}
	tests := []struct {
		name    string
		raw     []byte
		version ProtocolVersion
	}{
		{"empty", nil, V1_0},
		{"garbage", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), V1_0},
		{"truncated", valid[:len(valid)-8], V1_0},
		{"trailing bytes", append(bytes.Clone(valid), 0, 0, 0, 0, 0, 0, 0, 0), V1_0},
		{"bad padding", badPadding, V1_0},
		{"header only", valid[:8], V1_0},
		{"too deep", ttlv.Marshal(reqMessage(V1_3, nil, ttlv.Struct(TagBatchItem, ttlv.Enum(TagOperation, 1), deep))), V1_0},
		{"not a request message", ttlv.Marshal(ttlv.Struct(TagResponseMessage, reqHeader(V1_3, 1), reqItem(opOK))), V1_3},
		{"primitive message", ttlv.Marshal(ttlv.Int(TagRequestMessage, 1)), V1_0},
		// The header is readable: answer in the client's version.
		{"batch count mismatch", ttlv.Marshal(ttlv.Struct(TagRequestMessage, reqHeader(V1_3, 2), reqItem(opOK))), V1_3},
		{"batch count mismatch 2.0", ttlv.Marshal(ttlv.Struct(TagRequestMessage, reqHeader(V2_0, 2), reqItem(opOK))), V2_0},
		{"batch count mismatch 1.6", ttlv.Marshal(ttlv.Struct(TagRequestMessage, reqHeader(ProtocolVersion{1, 6}, 2), reqItem(opOK))), V1_4},
		{"repeated header field", ttlv.Marshal(ttlv.Struct(TagRequestMessage, reqHeader(V1_2, 1, ttlv.Int(TagBatchCount, 1)), reqItem(opOK))), V1_2},
		{"no batch items", ttlv.Marshal(ttlv.Struct(TagRequestMessage, reqHeader(V1_1, 0))), V1_1},
		{"header without version", ttlv.Marshal(ttlv.Struct(TagRequestMessage, ttlv.Struct(TagRequestHeader, ttlv.Int(TagBatchCount, 1)), reqItem(opOK))), V1_0},
		// A major version we do not speak.
		{"major version 3", ttlv.Marshal(reqMessage(ProtocolVersion{3, 0}, nil, reqItem(opOK))), V2_1},
		{"major version 0", ttlv.Marshal(reqMessage(ProtocolVersion{0, 9}, nil, reqItem(opOK))), V1_0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &batchRecorder{}
			raw := HandleMessage(context.Background(), newBatchMux(rec), tt.raw, testOpts())
			m := mustDecodeResponse(t, raw)
			wantFailure(t, m, tt.version, ResultReasonInvalidMessage)
			if ops := rec.ops(); len(ops) != 0 {
				t.Errorf("handlers ran for %v", ops)
			}
			if !m.TimeStamp.Equal(testNow) {
				t.Errorf("time stamp %v, want the MessageOptions clock", m.TimeStamp)
			}
		})
	}
}

// TestHandleMessageLimits: the MessageOptions limits bound decoding.
func TestHandleMessageLimits(t *testing.T) {
	msg := ttlv.Marshal(reqMessage(V1_4, nil, reqItem(opOK, uid(strings.Repeat("x", 200)))))
	tests := []struct {
		name   string
		limits ttlv.Limits
		ok     bool
	}{
		{"defaults", ttlv.Limits{}, true},
		{"size", ttlv.Limits{MaxMessageSize: 64}, false},
		{"depth", ttlv.Limits{MaxDepth: 2}, false},
		{"items", ttlv.Limits{MaxItems: 4}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOpts()
			opts.Limits = tt.limits
			m := mustDecodeResponse(t, HandleMessage(context.Background(), newBatchMux(&batchRecorder{}), msg, opts))
			if tt.ok {
				if m.Items[0].Status != ResultStatusSuccess {
					t.Errorf("item = %+v", m.Items[0])
				}
				return
			}
			wantFailure(t, m, V1_0, ResultReasonInvalidMessage)
		})
	}
}

// TestHandleMessageLogsPanic: the panic is logged with its type, never its
// value (it may hold key material), and the stack.
func TestHandleMessageLogsPanic(t *testing.T) {
	var buf syncBuffer
	opts := testOpts()
	opts.Logger = hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Debug})
	mux := NewServeMux()
	mux.HandleFunc(opPanic, func(context.Context, *Request) (ttlv.Value, error) {
		panic(errors.New("key bytes 0xdeadbeef"))
	})
	mux.HandleFunc(opPlain, func(context.Context, *Request) (ttlv.Value, error) {
		return ttlv.Value{}, errors.New("disk on fire")
	})
	req := reqMessage(V1_4, continuation(BatchErrorContinuationOptionContinue), reqItem(opPanic), reqItem(opPlain))
	m := mustDecodeResponse(t, HandleMessage(context.Background(), mux, ttlv.Marshal(req), opts))
	if m.Items[0].Reason != ResultReasonGeneralFailure || m.Items[1].Reason != ResultReasonGeneralFailure {
		t.Errorf("items = %+v", m.Items)
	}
	log := buf.String()
	if !strings.Contains(log, "handler panic") || !strings.Contains(log, "*errors.errorString") {
		t.Errorf("panic not logged with its type:\n%s", log)
	}
	if strings.Contains(log, "deadbeef") {
		t.Errorf("panic value logged:\n%s", log)
	}
	// The internal error is for the operator, in the log.
	if !strings.Contains(log, "disk on fire") {
		t.Errorf("handler error not logged:\n%s", log)
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestEncodeFailure is the server's answer to bad framing.
func TestEncodeFailure(t *testing.T) {
	raw := EncodeFailure(ResultReasonInvalidMessage, "message length exceeds the server's limit")
	m := mustDecodeResponse(t, raw)
	wantFailure(t, m, V1_0, ResultReasonInvalidMessage)
	if m.Items[0].Message != "message length exceeds the server's limit" {
		t.Errorf("message %q", m.Items[0].Message)
	}
	if n := binary.BigEndian.Uint32(raw[4:8]); int(n)+8 != len(raw) {
		t.Errorf("framing: declared %d, have %d", n, len(raw)-8)
	}
}

// TestServerCorrelationValue: every 1.4+ request carries a fresh Server
// Correlation Value to its handlers (KMIP 1.4 §6.19: logged with each
// request); the response carries it only to a client that sent a Client
// Correlation Value, because PyKMIP rejects one it did not ask for.
func TestServerCorrelationValue(t *testing.T) {
	var seen []string
	mux := NewServeMux()
	mux.HandleFunc(OperationActivate, func(_ context.Context, req *Request) (ttlv.Value, error) {
		seen = append(seen, req.Header.ServerCorrelationValue)
		return ttlv.Value{}, nil
	})
	withClient := []ttlv.Value{ttlv.Text(TagClientCorrelationValue, "client-1")}
	tests := []struct {
		name       string
		ver        ProtocolVersion
		header     []ttlv.Value
		wantLogged bool
		wantSent   bool
	}{
		{"1.4 with a client value", V1_4, withClient, true, true},
		{"1.4 without", V1_4, nil, true, false},
		{"2.0 with a client value", V2_0, withClient, true, true},
		{"1.3", V1_3, nil, false, false},
	}
	values := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen = nil
			m := handle(t, mux, reqMessage(tt.ver, tt.header, reqItem(OperationActivate, uid("a"))))
			if len(seen) != 1 {
				t.Fatalf("handler ran %d times", len(seen))
			}
			if logged := seen[0] != ""; logged != tt.wantLogged {
				t.Fatalf("handler saw server correlation value %q, want one: %v", seen[0], tt.wantLogged)
			}
			sent, ok := m.Header.Child(TagServerCorrelationValue)
			if ok != tt.wantSent {
				t.Fatalf("response header has a server correlation value: %v, want %v", ok, tt.wantSent)
			}
			if ok && sent.Text() != seen[0] {
				t.Errorf("response says %q, handler saw %q", sent.Text(), seen[0])
			}
			if seen[0] != "" {
				if values[seen[0]] {
					t.Errorf("server correlation value %q handed out twice", seen[0])
				}
				values[seen[0]] = true
			}
		})
	}
}
