package kmip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/kmipd/kmipd/ttlv"
)

// Helpers shared by the tests of the message layer and the server: they
// build request messages and read responses without going through the code
// under test (ParseRequestMessage, ResponseMessage.Value), so that a bug
// there cannot hide itself.

// testNow is the clock of HandleMessage in tests, so that responses are
// reproducible.
var testNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// testOpts returns MessageOptions with the fixed clock.
func testOpts() *MessageOptions {
	return &MessageOptions{Now: func() time.Time { return testNow }}
}

// reqHeader builds a Request Header: the version, the batch count and any
// extra fields, in that order.
func reqHeader(ver ProtocolVersion, count int32, extra ...ttlv.Value) ttlv.Value {
	f := []ttlv.Value{ProtocolVersionValue(ver)}
	f = append(f, extra...)
	f = append(f, ttlv.Int(TagBatchCount, count))
	return ttlv.Struct(TagRequestHeader, f...)
}

// reqItem builds a Batch Item with an Operation and a Request Payload.
func reqItem(op Operation, payload ...ttlv.Value) ttlv.Value {
	return ttlv.Struct(TagBatchItem,
		ttlv.Enum(TagOperation, uint32(op)),
		ttlv.Struct(TagRequestPayload, payload...))
}

// reqItemID is reqItem with a Unique Batch Item ID.
func reqItemID(op Operation, id byte, payload ...ttlv.Value) ttlv.Value {
	return ttlv.Struct(TagBatchItem,
		ttlv.Enum(TagOperation, uint32(op)),
		ttlv.Bytes(TagUniqueBatchItemID, []byte{id}),
		ttlv.Struct(TagRequestPayload, payload...))
}

// reqMessage builds a Request Message whose batch count matches its items.
func reqMessage(ver ProtocolVersion, headerExtra []ttlv.Value, items ...ttlv.Value) ttlv.Value {
	f := []ttlv.Value{reqHeader(ver, int32(len(items)), headerExtra...)}
	f = append(f, items...)
	return ttlv.Struct(TagRequestMessage, f...)
}

// respItem is one decoded response batch item.
type respItem struct {
	HasOperation bool
	Operation    Operation
	BatchItemID  []byte
	Status       ResultStatus
	Reason       ResultReason // 0 when absent
	Message      string
	Payload      ttlv.Value // zero when absent
}

// respMessage is a decoded response message.
type respMessage struct {
	Version    ProtocolVersion
	TimeStamp  time.Time
	BatchCount int32
	Header     ttlv.Value
	Items      []respItem
}

// decodeResponse decodes raw as a Response Message and checks the shape the
// spec requires of every response (KMIP 1.4 §7.1, Tables 286-287): a header
// with Protocol Version, Time Stamp and a Batch Count equal to the number of
// batch items, each with a Result Status, and a Result Reason whenever the
// status is not Success.
func decodeResponse(raw []byte) (*respMessage, error) {
	v, err := ttlv.Decode(raw, ttlv.Limits{MaxMessageSize: 64 << 20})
	if err != nil {
		return nil, fmt.Errorf("response does not decode: %w", err)
	}
	if v.Tag != TagResponseMessage || v.Type != ttlv.TypeStructure {
		return nil, fmt.Errorf("response is %s, not a Response Message", TagString(v.Tag))
	}
	ch := v.Children()
	if len(ch) == 0 || ch[0].Tag != TagResponseHeader {
		return nil, errors.New("response has no Response Header first")
	}
	m := &respMessage{Header: ch[0]}
	pv, ok := ch[0].Child(TagProtocolVersion)
	if !ok {
		return nil, errors.New("response header has no Protocol Version")
	}
	maj, ok1 := pv.Child(TagProtocolVersionMajor)
	minr, ok2 := pv.Child(TagProtocolVersionMinor)
	if !ok1 || !ok2 {
		return nil, errors.New("response Protocol Version is incomplete")
	}
	m.Version = ProtocolVersion{maj.Int(), minr.Int()}
	ts, ok := ch[0].Child(TagTimeStamp)
	if !ok || ts.Type != ttlv.TypeDateTime {
		return nil, errors.New("response header has no Date-Time Time Stamp")
	}
	m.TimeStamp = ts.Time()
	bc, ok := ch[0].Child(TagBatchCount)
	if !ok {
		return nil, errors.New("response header has no Batch Count")
	}
	m.BatchCount = bc.Int()
	for _, c := range ch[1:] {
		if c.Tag != TagBatchItem {
			return nil, fmt.Errorf("unexpected %s in response message", TagString(c.Tag))
		}
		var it respItem
		if op, ok := c.Child(TagOperation); ok {
			it.HasOperation, it.Operation = true, Operation(op.Enum())
		}
		if id, ok := c.Child(TagUniqueBatchItemID); ok {
			it.BatchItemID = id.Bytes()
		}
		st, ok := c.Child(TagResultStatus)
		if !ok {
			return nil, errors.New("response batch item has no Result Status")
		}
		it.Status = ResultStatus(st.Enum())
		if r, ok := c.Child(TagResultReason); ok {
			it.Reason = ResultReason(r.Enum())
		}
		if it.Status == ResultStatusOperationFailed && it.Reason == 0 {
			return nil, errors.New("failed batch item has no Result Reason")
		}
		if msg, ok := c.Child(TagResultMessage); ok {
			it.Message = msg.Text()
		}
		if p, ok := c.Child(TagResponsePayload); ok {
			it.Payload = p
		}
		m.Items = append(m.Items, it)
	}
	if int(m.BatchCount) != len(m.Items) {
		return nil, fmt.Errorf("batch count %d but %d batch items", m.BatchCount, len(m.Items))
	}
	if len(m.Items) == 0 {
		return nil, errors.New("response has no batch item")
	}
	return m, nil
}

// mustDecodeResponse is decodeResponse for tests.
func mustDecodeResponse(t testing.TB, raw []byte) *respMessage {
	t.Helper()
	m, err := decodeResponse(raw)
	if err != nil {
		t.Fatalf("%v\nresponse: % x", err, raw)
	}
	return m
}

// handle runs HandleMessage on an encoded request with the fixed clock.
func handle(t testing.TB, h Handler, req ttlv.Value) *respMessage {
	t.Helper()
	return mustDecodeResponse(t, HandleMessage(context.Background(), h, ttlv.Marshal(req), testOpts()))
}

// wantFailure checks that m is a message-level failure (KMIP 1.4 §11.1: "a
// header and a Batch Item without Operation, but with the Result Status
// field set to Operation Failed") with the given reason and version.
func wantFailure(t testing.TB, m *respMessage, ver ProtocolVersion, reason ResultReason) {
	t.Helper()
	if m.Version != ver {
		t.Errorf("response version %v, want %v", m.Version, ver)
	}
	if len(m.Items) != 1 {
		t.Fatalf("%d batch items, want 1", len(m.Items))
	}
	it := m.Items[0]
	if it.HasOperation {
		t.Errorf("failure item carries Operation %v; want none", it.Operation)
	}
	if it.Status != ResultStatusOperationFailed || it.Reason != reason {
		t.Errorf("item = %v/%v (%q), want Operation Failed/%v", it.Status, it.Reason, it.Message, reason)
	}
}

// echoPayload is a handler result: a Response Payload holding text.
func echoPayload(s string) ttlv.Value {
	return Payload(ttlv.Text(TagUniqueIdentifier, s))
}

// servePipe serves h on one in-memory connection (no TLS) and returns the
// client's end; the server stops when the test ends.
func servePipe(tb testing.TB, h Handler) net.Conn {
	tb.Helper()
	ln := &pipeListener{conns: make(chan net.Conn, 1), done: make(chan struct{})}
	srv := &Server{Handler: h}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	client, server := net.Pipe()
	ln.conns <- server
	tb.Cleanup(func() {
		_ = client.Close()
		srv.Close()
		if err := <-serveErr; err != nil && !errors.Is(err, ErrServerClosed) {
			tb.Errorf("Serve: %v", err)
		}
	})
	return client
}

// pipeListener hands out the server end of one net.Pipe, then blocks
// until closed.
type pipeListener struct {
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return &net.UnixAddr{Name: "pipe", Net: "pipe"} }
