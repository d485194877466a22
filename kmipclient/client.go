package kmipclient

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// Sentinel errors; compare with errors.Is.
var (
	// ErrClosed: the Conn was closed by Close.
	ErrClosed = errors.New("kmipclient: connection closed")
	// ErrBadResponse: the server's answer is not a well-formed Response
	// Message for the request (KMIP 1.4 §7.2), e.g. a wrong batch count, a
	// batch item for another operation, or a missing required field.
	ErrBadResponse = errors.New("kmipclient: malformed response")
	// ErrNotProcessed: a batch item the server did not answer, because an
	// earlier item failed and the batch stopped (KMIP 1.4 §6.13, Batch
	// Error Continuation Option Stop).
	ErrNotProcessed = errors.New("kmipclient: batch item not processed")
)

// DefaultTimeout bounds one exchange when Options.Timeout is zero and the
// context has no earlier deadline.
const DefaultTimeout = 30 * time.Second

// maxBatchItems bounds DoBatch: the Batch Count is an Integer, and a
// batch larger than this is a mistake rather than a use.
const maxBatchItems = 1 << 16

// retainLimit is the largest read buffer a Conn keeps between exchanges.
const retainLimit = 256 << 10

// Options configure a Conn. The zero value is usable.
type Options struct {
	// Version is the protocol version of every request. Zero: KMIP 1.4,
	// which every current server speaks (PyKMIP's up to 1.4 and 2.0).
	Version kmip.ProtocolVersion
	// Timeout bounds one request/response exchange, unless the context's
	// deadline is earlier. Zero: DefaultTimeout.
	Timeout time.Duration
	// Limits bound each response. Zero fields take ttlv's defaults (1 MiB,
	// depth 32, 65536 items). MaxMessageSize is also sent as the request's
	// Maximum Response Size (KMIP 1.4 §6.3), so that a server answers
	// Response Too Large instead of sending what the client would refuse.
	Limits ttlv.Limits
}

// Conn is one KMIP connection. It is safe for concurrent use; exchanges
// are serialised (see the package documentation).
type Conn struct {
	nc      net.Conn
	ver     kmip.ProtocolVersion
	timeout time.Duration
	lim     ttlv.Limits
	maxSize int
	maxResp int32 // maxSize as the request's Maximum Response Size

	// sem holds one token while an exchange runs; unlike a sync.Mutex,
	// waiting for it honours the caller's context.
	sem    chan struct{}
	closed atomic.Bool
	// broken is the transport error that left the stream unusable.
	broken atomic.Pointer[error]

	// interrupt moves the deadline into the past when a caller's context
	// ends mid-exchange; interrupted tells the exchange it has run. Both
	// are built once, so that an exchange allocates no closure.
	interrupt   func()
	interrupted chan struct{}

	// Guarded by sem.
	enc  ttlv.Encoder
	rbuf []byte
	hdr  [8]byte
}

// Dial connects to addr over TLS with cfg (which should carry the client
// certificate: KMIP servers require mutual TLS, KMIP 1.4 §8) and returns a
// Conn speaking opts.Version. The handshake completes before Dial returns,
// within ctx.
func Dial(ctx context.Context, addr string, cfg *tls.Config, opts Options) (*Conn, error) {
	if cfg == nil {
		return nil, fmt.Errorf("kmipclient: dial %s: a TLS configuration is required", addr)
	}
	d := tls.Dialer{Config: cfg}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("kmipclient: dial %s: %w", addr, err)
	}
	return NewConn(nc, opts), nil
}

// NewConn returns a Conn over an established connection, which it then
// owns. Use Dial for TLS; NewConn serves tests and other transports.
func NewConn(nc net.Conn, opts Options) *Conn {
	c := &Conn{
		nc:          nc,
		ver:         opts.Version,
		timeout:     opts.Timeout,
		lim:         opts.Limits,
		maxSize:     opts.Limits.MaxMessageSize,
		sem:         make(chan struct{}, 1),
		interrupted: make(chan struct{}, 1),
	}
	if c.ver == (kmip.ProtocolVersion{}) {
		c.ver = kmip.V1_4
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.maxSize <= 0 {
		c.maxSize = ttlv.DefaultMaxMessageSize
	}
	// The Maximum Response Size is an Integer (KMIP 1.4 §6.3).
	c.maxResp = math.MaxInt32
	if ms := c.maxSize; ms > 0 && ms < math.MaxInt32 {
		c.maxResp = int32(ms)
	}
	c.interrupt = func() {
		_ = c.nc.SetDeadline(time.Unix(1, 0))
		c.interrupted <- struct{}{}
	}
	return c
}

// Version returns the protocol version the Conn sends.
func (c *Conn) Version() kmip.ProtocolVersion { return c.ver }

// Err returns why the Conn can no longer be used (ErrClosed, or the
// transport error that broke an exchange), or nil.
func (c *Conn) Err() error {
	if c.closed.Load() {
		return ErrClosed
	}
	if p := c.broken.Load(); p != nil {
		return fmt.Errorf("kmipclient: connection unusable after an earlier failure: %w", *p)
	}
	return nil
}

// Close closes the connection. An exchange in flight fails. The Conn's
// buffers are cleared once no exchange uses them.
func (c *Conn) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	err := c.nc.Close()
	// Wait for an exchange in flight (closing the socket ends it) before
	// clearing the buffers it may hold.
	c.sem <- struct{}{}
	c.wipe()
	c.rbuf = nil
	<-c.sem
	if err != nil && c.broken.Load() == nil {
		return fmt.Errorf("kmipclient: close: %w", err)
	}
	return nil
}

// wipe clears both buffers over their whole capacity. Called with sem held.
func (c *Conn) wipe() {
	b := c.enc.Bytes()
	clear(b[:cap(b)])
	clear(c.rbuf[:cap(c.rbuf)])
}

func (c *Conn) lock(ctx context.Context) error {
	select {
	case c.sem <- struct{}{}:
		return nil
	default:
	}
	select {
	case c.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("kmipclient: waiting for the connection: %w", ctx.Err())
	}
}

func (c *Conn) unlock() { <-c.sem }

// callFlags tune one exchange.
type callFlags uint8

const (
	// own: the response is read into a fresh buffer that the caller keeps;
	// otherwise into the Conn's reused buffer, valid only during read.
	own callFlags = 1 << iota
	// secret: the request or the response carries key material or
	// plaintext; the reused buffers are cleared after the exchange.
	secret
)

// call runs one exchange: write encodes the whole Request Message, read
// sees the decoded Response Message (and the bytes it aliases).
func (c *Conn) call(ctx context.Context, f callFlags, write func(e *ttlv.Encoder), read func(resp ttlv.Value, raw []byte) error) error {
	if err := c.lock(ctx); err != nil {
		return err
	}
	defer c.unlock()
	c.enc.Reset()
	write(&c.enc)
	raw, err := c.roundTrip(ctx, c.enc.Bytes(), f&own != 0)
	if f&secret != 0 {
		defer func() {
			clear(c.enc.Bytes())
			if f&own == 0 {
				clear(raw)
			}
		}()
	}
	if f&own == 0 && cap(c.rbuf) > retainLimit {
		// Do not pin a large buffer for the life of the Conn.
		defer func() { clear(c.rbuf); c.rbuf = nil }()
	}
	if err != nil {
		return err
	}
	resp, err := ttlv.Decode(raw, c.lim)
	if err != nil {
		// The message was framed correctly, so the stream is still in
		// step; only this response is lost.
		return fmt.Errorf("kmipclient: decode response: %w", err)
	}
	return read(resp, raw)
}

// roundTrip writes req and reads one response message, under the deadline
// of ctx or the Conn's timeout. A failure breaks the Conn.
func (c *Conn) roundTrip(ctx context.Context, req []byte, ownBuf bool) ([]byte, error) {
	if err := c.Err(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(c.timeout)
	ctxDeadline := false
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline, ctxDeadline = d, true
	}
	if err := c.nc.SetDeadline(deadline); err != nil {
		return nil, c.fail(ctx, false, fmt.Errorf("set deadline: %w", err))
	}
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, c.interrupt)
	}
	msg, err := c.transfer(req, ownBuf)
	if stop != nil && !stop() {
		// The interrupt ran or is running: wait for it, so that it cannot
		// move the deadline of the next exchange.
		<-c.interrupted
		if err == nil {
			// The answer arrived complete before the interrupt could
			// matter; the stream is in step.
			return msg, nil
		}
	}
	if err != nil {
		return nil, c.fail(ctx, ctxDeadline, err)
	}
	return msg, nil
}

// fail records err as the reason the Conn is unusable and closes the
// socket: after a partial exchange the stream cannot be resynchronised.
// ctxDeadline says the socket deadline was the context's, so that a
// timeout seen a moment before the context's own timer fires is still
// reported as the context's.
func (c *Conn) fail(ctx context.Context, ctxDeadline bool, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		err = fmt.Errorf("%w (%w)", ctxErr, err)
	} else if ctxDeadline && errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("%w (%w)", context.DeadlineExceeded, err)
	}
	err = fmt.Errorf("kmipclient: %w", err)
	if c.broken.CompareAndSwap(nil, &err) {
		_ = c.nc.Close()
	}
	if c.closed.Load() {
		return ErrClosed
	}
	return err
}

// transfer writes req and reads the response message: the 8-byte header
// first, whose type and length are checked against the limit before room
// is made for the body (KMIP 1.4 §9.1: a message is one Structure).
func (c *Conn) transfer(req []byte, ownBuf bool) ([]byte, error) {
	if _, err := c.nc.Write(req); err != nil {
		return nil, fmt.Errorf("write request: %w", err)
	}
	if _, err := io.ReadFull(c.nc, c.hdr[:]); err != nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("server closed the connection: %w", io.ErrUnexpectedEOF)
		}
		return nil, fmt.Errorf("read response: %w", err)
	}
	if ttlv.Type(c.hdr[3]) != ttlv.TypeStructure {
		return nil, fmt.Errorf("response item type %v is not Structure: %w", ttlv.Type(c.hdr[3]), ttlv.ErrBadType)
	}
	l := int64(binary.BigEndian.Uint32(c.hdr[4:]))
	if l%8 != 0 {
		return nil, fmt.Errorf("response length %d is not a multiple of 8: %w", l, ttlv.ErrBadLength)
	}
	total := l + int64(len(c.hdr))
	if total > int64(c.maxSize) {
		return nil, fmt.Errorf("response of %d bytes exceeds the limit of %d: %w", total, c.maxSize, ttlv.ErrTooLarge)
	}
	var buf []byte
	if ownBuf {
		buf = make([]byte, total)
	} else {
		if int64(cap(c.rbuf)) < total {
			clear(c.rbuf[:cap(c.rbuf)])
			c.rbuf = make([]byte, total)
		}
		buf = c.rbuf[:total]
	}
	copy(buf, c.hdr[:])
	if _, err := io.ReadFull(c.nc, buf[len(c.hdr):]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read response body: %w", err)
	}
	return buf, nil
}

// writeHeader writes the Request Header (KMIP 1.4 §7.2 Table 284, fields
// in table order).
func (c *Conn) writeHeader(e *ttlv.Encoder, count int32, cont bool) {
	h := e.Begin(kmip.TagRequestHeader)
	pv := e.Begin(kmip.TagProtocolVersion)
	e.Int(kmip.TagProtocolVersionMajor, c.ver.Major)
	e.Int(kmip.TagProtocolVersionMinor, c.ver.Minor)
	e.End(pv)
	e.Int(kmip.TagMaximumResponseSize, c.maxResp)
	if cont {
		e.Enum(kmip.TagBatchErrorContinuationOption, uint32(kmip.BatchErrorContinuationOptionContinue))
	}
	e.Int(kmip.TagBatchCount, count)
	e.End(h)
}

// writeItem writes one Batch Item (KMIP 1.4 Table 285). With id, it carries
// a Unique Batch Item ID, which the spec requires when a request holds
// more than one item.
func writeItem(e *ttlv.Encoder, op kmip.Operation, id []byte, payload func(e *ttlv.Encoder)) {
	b := e.Begin(kmip.TagBatchItem)
	e.Enum(kmip.TagOperation, uint32(op))
	if id != nil {
		e.ByteString(kmip.TagUniqueBatchItemID, id)
	}
	p := e.Begin(kmip.TagRequestPayload)
	payload(e)
	e.End(p)
	e.End(b)
}

// call1 runs a request of one batch item; read sees its Response Payload
// (the zero Value when the server sent none).
func (c *Conn) call1(ctx context.Context, f callFlags, op kmip.Operation, payload func(e *ttlv.Encoder), read func(payload ttlv.Value, raw []byte) error) error {
	return c.call(ctx, f, func(e *ttlv.Encoder) {
		m := e.Begin(kmip.TagRequestMessage)
		c.writeHeader(e, 1, false)
		writeItem(e, op, nil, payload)
		e.End(m)
	}, func(resp ttlv.Value, raw []byte) error {
		var one [1]respItem
		items, err := parseResponse(resp, one[:0])
		if err != nil {
			return fmt.Errorf("kmipclient: %s: %w", op, err)
		}
		if len(items) != 1 {
			return fmt.Errorf("kmipclient: %s: %d batch items for one request: %w", op, len(items), ErrBadResponse)
		}
		it := &items[0]
		if err := it.check(op); err != nil {
			return err
		}
		return read(it.payload, raw)
	})
}

// Do sends one batch item and returns its Response Payload structure (the
// zero Value when the server sent none). payload is the Request Payload:
// its children are sent under the Request Payload tag whatever payload's
// own tag; the zero Value sends an empty payload.
//
// A failed item returns an error wrapping a *kmip.Error with the Result
// Reason and Result Message (errors.Is(err, kmip.ErrItemNotFound) works).
// The result aliases a buffer that the caller then owns.
func (c *Conn) Do(ctx context.Context, op kmip.Operation, payload ttlv.Value) (ttlv.Value, error) {
	var out ttlv.Value
	err := c.call1(ctx, own, op, func(e *ttlv.Encoder) {
		for _, f := range payload.Children() {
			e.Value(f)
		}
	}, func(p ttlv.Value, _ []byte) error {
		out = p
		return nil
	})
	return out, err
}

// BatchItem is one operation of DoBatch.
type BatchItem struct {
	Operation kmip.Operation
	// Payload is the Request Payload, as for Do.
	Payload ttlv.Value
}

// BatchResult is the answer to one BatchItem.
type BatchResult struct {
	Operation kmip.Operation
	// Payload is the Response Payload (zero when absent or failed).
	Payload ttlv.Value
	// Err is nil on success, wraps a *kmip.Error for a failed item, and is
	// ErrNotProcessed for an item the server skipped after a failure.
	Err error
}

// BatchOptions tune DoBatch.
type BatchOptions struct {
	// ContinueOnError asks the server to process every item even after
	// one fails (KMIP 1.4 §6.13 Batch Error Continuation Option Continue).
	// By default the server stops at the first failure.
	ContinueOnError bool
}

// DoBatch sends items as one request message, in order, and returns one
// result per item. Later items may omit the Unique Identifier to use the
// one an earlier item produced (the ID Placeholder, KMIP 1.4 §4). The error
// is non-nil only when the exchange as a whole failed (transport, a
// malformed response, or a message-level failure the server reported
// without answering any item).
func (c *Conn) DoBatch(ctx context.Context, items []BatchItem, opts BatchOptions) ([]BatchResult, error) {
	n := len(items)
	if n == 0 || n > maxBatchItems {
		return nil, fmt.Errorf("kmipclient: batch of %d items: want 1 to %d", n, maxBatchItems)
	}
	count := int32(n)
	results := make([]BatchResult, len(items))
	for i := range items {
		results[i] = BatchResult{Operation: items[i].Operation, Err: ErrNotProcessed}
	}
	multi := len(items) > 1
	err := c.call(ctx, own, func(e *ttlv.Encoder) {
		m := e.Begin(kmip.TagRequestMessage)
		c.writeHeader(e, count, opts.ContinueOnError && multi)
		var id [4]byte
		for i := range items {
			var idp []byte
			if multi {
				binary.BigEndian.PutUint32(id[:], uint32(i))
				idp = id[:]
			}
			writeItem(e, items[i].Operation, idp, func(e *ttlv.Encoder) {
				for _, f := range items[i].Payload.Children() {
					e.Value(f)
				}
			})
		}
		e.End(m)
	}, func(resp ttlv.Value, _ []byte) error {
		got, err := parseResponse(resp, nil)
		if err != nil {
			return fmt.Errorf("kmipclient: batch: %w", err)
		}
		if len(got) == 1 && !got[0].hasOp && got[0].status != kmip.ResultStatusSuccess && multi {
			// A message-level failure (KMIP 1.4 §11.1): one item, no
			// operation, for the whole request.
			return got[0].check(0)
		}
		if len(got) > len(items) {
			return fmt.Errorf("kmipclient: batch: %d answers to %d items: %w", len(got), len(items), ErrBadResponse)
		}
		seen := make([]bool, len(items))
		for j := range got {
			it := &got[j]
			i := j
			if multi {
				if len(it.id) != 4 {
					return fmt.Errorf("kmipclient: batch: answer %d lacks our Unique Batch Item ID: %w", j, ErrBadResponse)
				}
				i = int(binary.BigEndian.Uint32(it.id))
				if i >= len(items) || seen[i] {
					return fmt.Errorf("kmipclient: batch: answer %d has an unknown or repeated Unique Batch Item ID: %w", j, ErrBadResponse)
				}
			}
			seen[i] = true
			results[i].Err = it.check(items[i].Operation)
			if results[i].Err == nil {
				results[i].Payload = it.payload
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// respItem is one Response Batch Item (KMIP 1.4 §7.2 Table 287).
type respItem struct {
	op      kmip.Operation
	hasOp   bool
	id      []byte
	status  kmip.ResultStatus
	reason  kmip.ResultReason
	message []byte
	payload ttlv.Value
}

// parseResponse checks that resp is a Response Message whose Batch Count
// matches its items and appends the items to dst.
func parseResponse(resp ttlv.Value, dst []respItem) ([]respItem, error) {
	if resp.Tag != kmip.TagResponseMessage || resp.Type != ttlv.TypeStructure {
		return nil, fmt.Errorf("not a response message (tag %s): %w", kmip.TagString(resp.Tag), ErrBadResponse)
	}
	kids := resp.Children()
	if len(kids) == 0 || kids[0].Tag != kmip.TagResponseHeader || kids[0].Type != ttlv.TypeStructure {
		return nil, fmt.Errorf("response has no header: %w", ErrBadResponse)
	}
	bc, ok := kids[0].Child(kmip.TagBatchCount)
	if !ok || bc.Type != ttlv.TypeInteger {
		return nil, fmt.Errorf("response header has no batch count: %w", ErrBadResponse)
	}
	if int(bc.Int()) != len(kids)-1 || len(kids) == 1 {
		return nil, fmt.Errorf("batch count %d but %d batch items: %w", bc.Int(), len(kids)-1, ErrBadResponse)
	}
	for _, k := range kids[1:] {
		if k.Tag != kmip.TagBatchItem || k.Type != ttlv.TypeStructure {
			return nil, fmt.Errorf("unexpected %s in response message: %w", kmip.TagString(k.Tag), ErrBadResponse)
		}
		it, err := parseItem(k)
		if err != nil {
			return nil, err
		}
		dst = append(dst, it)
	}
	return dst, nil
}

func parseItem(v ttlv.Value) (respItem, error) {
	var it respItem
	var haveStatus bool
	for _, f := range v.Children() {
		want := ttlv.Type(0)
		switch f.Tag {
		case kmip.TagOperation:
			want = ttlv.TypeEnumeration
			it.op, it.hasOp = kmip.Operation(f.Enum()), true
		case kmip.TagUniqueBatchItemID:
			want = ttlv.TypeByteString
			it.id = f.Bytes()
		case kmip.TagResultStatus:
			want = ttlv.TypeEnumeration
			it.status, haveStatus = kmip.ResultStatus(f.Enum()), true
		case kmip.TagResultReason:
			want = ttlv.TypeEnumeration
			it.reason = kmip.ResultReason(f.Enum())
		case kmip.TagResultMessage:
			want = ttlv.TypeTextString
			it.message = f.Bytes()
		case kmip.TagResponsePayload:
			want = ttlv.TypeStructure
			it.payload = f
		default:
			// Asynchronous Correlation Value, Message Extension and
			// fields of newer versions are not ours to read.
			continue
		}
		if f.Type != want {
			return it, fmt.Errorf("%s has the wrong item type %v: %w", kmip.TagString(f.Tag), f.Type, ErrBadResponse)
		}
	}
	if !haveStatus {
		return it, fmt.Errorf("batch item has no result status: %w", ErrBadResponse)
	}
	return it, nil
}

// check returns nil for a successful answer to op (0: any operation), the
// server's failure as a wrapped *kmip.Error, or ErrBadResponse.
func (it *respItem) check(op kmip.Operation) error {
	name := op.String()
	if op == 0 {
		name = "request"
	}
	if it.hasOp && op != 0 && it.op != op {
		return fmt.Errorf("kmipclient: %s: answered as %s: %w", name, it.op, ErrBadResponse)
	}
	switch it.status {
	case kmip.ResultStatusSuccess:
		return nil
	case kmip.ResultStatusOperationFailed:
		reason := it.reason
		if reason == 0 {
			// Required on failure (KMIP 1.4 Table 287); a server that
			// leaves it out has failed in an unspecified way.
			reason = kmip.ResultReasonGeneralFailure
		}
		return fmt.Errorf("kmipclient: %s: %w", name, &kmip.Error{Reason: reason, Message: string(it.message)})
	default:
		// Pending and Undone answer the Asynchronous Indicator and the
		// Undo option, neither of which this client sends.
		return fmt.Errorf("kmipclient: %s: unexpected result status %s: %w", name, it.status, ErrBadResponse)
	}
}
