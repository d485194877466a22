package service

import (
	"context"
	"crypto/rand"
	"hash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// Multi-part ("streaming") cryptographic operations (KMIP 1.4 §2.1.15
// Correlation Value, §2.1.16 Init Indicator, §2.1.17 Final Indicator; 2.0
// §7.3-7.5). A request with Init Indicator opens a stream and is answered
// with a Correlation Value; requests carrying it add data; the one with
// Final Indicator closes the stream and carries the result.
//
//   - Hash hashes each part as it comes.
//   - Encrypt and Decrypt process each part in the HSM as far as whole
//     blocks allow and keep the rest for the next part (crypto_stream_cipher.go).
//   - MAC, MAC Verify, Sign and Signature Verify buffer the data, up to
//     maxCryptoData bytes per stream and maxStreamBytes over all streams,
//     and run the single-part operation at the end: hsmbackend has no
//     multi-part interface.
//
// Streams belong to the connection that opened them: a Correlation Value
// from another connection is unknown. A connection may hold at most
// maxStreamsPerConn open streams; a stream idle for streamIdleTimeout is
// dropped. Every part of a keyed stream reloads the key and checks it
// again, so a key revoked mid-stream stops the stream.

const (
	maxStreamsPerConn = 16
	streamIdleTimeout = 5 * time.Minute
	correlationLen    = 16
	// maxStreamBytes bounds the data all buffered streams hold together,
	// whatever the number of connections.
	maxStreamBytes = 64 << 20
)

// stream is one open multi-part operation.
type stream struct {
	corr     string // the Correlation Value, as a map key
	conn     *kmip.ConnInfo
	op       kmip.Operation
	objectID string // "" for Hash
	params   cryptoParams
	lastUsed time.Time

	hash     hash.Hash     // Hash
	buf      []byte        // MAC, MAC Verify, Sign, Signature Verify
	expect   []byte        // MAC Verify: the MAC; Signature Verify: the signature
	cipher   *cipherStream // Encrypt, Decrypt
	firstOut bool          // the next response is the first of the stream
	reserved int           // bytes of buf counted in streamTable.bytes
}

// wipe clears what the stream holds of data and key-derived secrets.
func (st *stream) wipe() {
	clear(st.buf)
	st.buf = nil
	if st.cipher != nil {
		st.cipher.wipe()
	}
}

// streamTable holds the open streams. It is safe for concurrent use.
type streamTable struct {
	now   func() time.Time
	bytes atomic.Int64 // buffered by all streams, open or in use

	mu      sync.Mutex
	streams map[string]*stream
	perConn map[*kmip.ConnInfo]int
}

func newStreamTable(now func() time.Time) *streamTable {
	return &streamTable{now: now, streams: make(map[string]*stream), perConn: make(map[*kmip.ConnInfo]int)}
}

// sweepLocked drops streams idle for longer than streamIdleTimeout.
func (t *streamTable) sweepLocked() {
	now := t.now()
	for k, st := range t.streams {
		if now.Sub(st.lastUsed) >= streamIdleTimeout {
			t.removeLocked(k, st)
			t.end(st)
		}
	}
}

// end wipes a stream that is over and returns its buffer budget.
func (t *streamTable) end(st *stream) {
	st.wipe()
	t.bytes.Add(-int64(st.reserved))
	st.reserved = 0
}

// limitError is the answer to a stream beyond a server limit: 2.x has
// Server Limit Exceeded; 1.x has nothing closer than Permission Denied.
func limitError(req *kmip.Request, format string, args ...any) error {
	if req.Version.Is2x() {
		return kmip.Errorf(kmip.ResultReasonServerLimitExceeded, format, args...)
	}
	return kmip.Errorf(kmip.ResultReasonPermissionDenied, format, args...)
}

func (t *streamTable) removeLocked(k string, st *stream) {
	delete(t.streams, k)
	if t.perConn[st.conn]--; t.perConn[st.conn] <= 0 {
		delete(t.perConn, st.conn)
	}
}

// admit checks that the connection may open one more stream.
func (t *streamTable) admit(req *kmip.Request, conn *kmip.ConnInfo) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sweepLocked()
	if t.perConn[conn] >= maxStreamsPerConn {
		return limitError(req, "too many open multi-part operations on this connection (max %d)", maxStreamsPerConn)
	}
	return nil
}

// take removes the stream of corr for the duration of one request: a
// second request with the same value meanwhile finds nothing. An unknown
// value is Item Not Found (KMIP 1.4 §11.30 "No outstanding operation with
// the specified Correlation Value exists"); 2.x names it Invalid
// Correlation Value.
func (t *streamTable) take(req *kmip.Request, conn *kmip.ConnInfo, corr []byte) (*stream, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sweepLocked()
	st, ok := t.streams[string(corr)]
	if !ok || st.conn != conn || st.op != req.Operation {
		if req.Version.Is2x() {
			return nil, kmip.Errorf(kmip.ResultReasonInvalidCorrelationValue, "no open %v operation with this correlation value", req.Operation)
		}
		return nil, kmip.Errorf(kmip.ResultReasonItemNotFound, "no open %v operation with this correlation value", req.Operation)
	}
	t.removeLocked(st.corr, st)
	return st, nil
}

// put stores st (again). A new stream is admitted again under the lock,
// so the per-connection bound holds exactly.
func (t *streamTable) put(req *kmip.Request, st *stream, isNew bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if isNew && t.perConn[st.conn] >= maxStreamsPerConn {
		return limitError(req, "too many open multi-part operations on this connection (max %d)", maxStreamsPerConn)
	}
	st.lastUsed = t.now()
	t.streams[st.corr] = st
	t.perConn[st.conn]++
	return nil
}

// newCorrelation returns a fresh Correlation Value: random, so one client
// cannot guess another's (it is bound to the connection as well).
func newCorrelation() (string, error) {
	b := make([]byte, correlationLen)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return string(b), nil
}

// streamHandler is one operation's part of the multi-part protocol.
type streamHandler struct {
	op    kmip.Operation
	usage kmip.CryptographicUsageMask // 0: keyless (Hash)
	// init checks the first request and sets up st (st.params is set).
	init func(ctx context.Context, req *kmip.Request, st *stream, o *objects.Object, r *cryptoRequest) error
	// update takes one part's data and returns output to send now.
	update func(ctx context.Context, req *kmip.Request, st *stream, o *objects.Object, r *cryptoRequest) ([]byte, error)
	// final returns the response payload of the last part.
	final func(ctx context.Context, req *kmip.Request, st *stream, o *objects.Object, r *cryptoRequest) (ttlv.Value, error)
	// partial returns the response payload of a part that is not the last.
	partial func(st *stream, o *objects.Object, out, corr []byte) ttlv.Value
}

// streamed runs one request of a multi-part operation.
func (c *cryptoOps) streamed(ctx context.Context, req *kmip.Request, r *cryptoRequest, h streamHandler) (ttlv.Value, error) {
	conn := kmip.ConnInfoFrom(ctx)
	var st *stream
	var o *objects.Object
	if r.hasCorrelation {
		var err error
		if st, err = c.streams.take(req, conn, r.correlation); err != nil {
			return ttlv.Value{}, err
		}
		if st.objectID != "" {
			if id, ok := req.Payload.Child(kmip.TagUniqueIdentifier); ok && id.Text() != st.objectID {
				c.streams.end(st)
				return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonInvalidField, "the correlation value belongs to another object")
			}
			if o, err = c.s.object(ctx, req, st.objectID); err == nil {
				err = c.s.requireUsable(ctx, req, o, h.usage)
			}
			if err != nil {
				c.streams.end(st)
				return ttlv.Value{}, err
			}
		}
	} else {
		if err := c.streams.admit(req, conn); err != nil {
			return ttlv.Value{}, err
		}
		st = &stream{conn: conn, op: h.op, firstOut: true}
		if h.usage != 0 {
			var err error
			if o, err = c.loadObject(ctx, req); err != nil {
				return ttlv.Value{}, err
			}
			if err := c.s.requireUsable(ctx, req, o, h.usage); err != nil {
				return ttlv.Value{}, err
			}
			if st.params, err = effectiveParams(o, r); err != nil {
				return ttlv.Value{}, err
			}
			st.objectID = o.ID
		} else {
			st.params = r.params
		}
		if err := h.init(ctx, req, st, o, r); err != nil {
			c.streams.end(st)
			return ttlv.Value{}, err
		}
	}
	out, err := h.update(ctx, req, st, o, r)
	if err != nil {
		c.streams.end(st)
		return ttlv.Value{}, err
	}
	if r.final {
		defer c.streams.end(st)
		return h.final(ctx, req, st, o, r)
	}
	isNew := st.corr == ""
	if isNew {
		if st.corr, err = newCorrelation(); err != nil {
			c.streams.end(st)
			return ttlv.Value{}, err
		}
	}
	// The response is built before the stream goes back into the table,
	// where the next request may take it at once.
	p := h.partial(st, o, out, []byte(st.corr))
	st.firstOut = false
	if err := c.streams.put(req, st, isNew); err != nil {
		c.streams.end(st)
		return ttlv.Value{}, err
	}
	return p, nil
}

// bufferPart appends a part's data to the stream's buffer, within the
// bound of a single-part request and the table's budget.
func (c *cryptoOps) bufferPart(req *kmip.Request, st *stream, data []byte) error {
	if len(st.buf)+len(data) > maxCryptoData {
		return kmip.Errorf(kmip.ResultReasonInvalidField, "multi-part data exceeds %d bytes", maxCryptoData)
	}
	if c.streams.bytes.Add(int64(len(data))) > maxStreamBytes {
		c.streams.bytes.Add(-int64(len(data)))
		return limitError(req, "the server holds too much multi-part data; finish other operations first")
	}
	st.reserved += len(data)
	st.buf = append(st.buf, data...)
	return nil
}

func corrField(corr []byte) ttlv.Value { return ttlv.Bytes(kmip.TagCorrelationValue, corr) }

// streamHash runs multi-part Hash (TC-STREAM-HASH): the response to a
// part is the Correlation Value alone, the last one the Data.
func (c *cryptoOps) streamHash(ctx context.Context, req *kmip.Request, r *cryptoRequest) (ttlv.Value, error) {
	return c.streamed(ctx, req, r, streamHandler{
		op: kmip.OperationHash,
		init: func(_ context.Context, _ *kmip.Request, st *stream, _ *objects.Object, r *cryptoRequest) error {
			h, err := hashAlgorithm(r)
			if err != nil {
				return err
			}
			st.hash = h.New()
			return nil
		},
		update: func(_ context.Context, _ *kmip.Request, st *stream, _ *objects.Object, r *cryptoRequest) ([]byte, error) {
			st.hash.Write(r.data)
			return nil, nil
		},
		final: func(_ context.Context, _ *kmip.Request, st *stream, _ *objects.Object, _ *cryptoRequest) (ttlv.Value, error) {
			return kmip.Payload(ttlv.Bytes(kmip.TagData, st.hash.Sum(nil))), nil
		},
		partial: func(_ *stream, _ *objects.Object, _, corr []byte) ttlv.Value {
			return kmip.Payload(corrField(corr))
		},
	})
}

// bufferedPartial answers a buffered part with the key's identifier and
// the Correlation Value.
func bufferedPartial(_ *stream, o *objects.Object, _, corr []byte) ttlv.Value {
	return kmip.Payload(idField(o), corrField(corr))
}

func (c *cryptoOps) bufferUpdate(_ context.Context, req *kmip.Request, st *stream, _ *objects.Object, r *cryptoRequest) ([]byte, error) {
	if r.hasDigested {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "digested data cannot be sent in parts")
	}
	return nil, c.bufferPart(req, st, r.data)
}

// keepExpected stores a MAC or signature sent with any part (the spec
// lets multi-part requests omit it until it is needed).
func keepExpected(st *stream, has bool, v []byte) {
	if has {
		st.expect = append(st.expect[:0], v...)
	}
}

// streamMAC runs multi-part MAC and MAC Verify (TC-STREAM-MAC).
func (c *cryptoOps) streamMAC(ctx context.Context, req *kmip.Request, r *cryptoRequest, verify bool) (ttlv.Value, error) {
	h := streamHandler{op: kmip.OperationMAC, usage: kmip.CryptographicUsageMaskMACGenerate, partial: bufferedPartial}
	if verify {
		h.op, h.usage = kmip.OperationMACVerify, kmip.CryptographicUsageMaskMACVerify
	}
	h.init = func(_ context.Context, req *kmip.Request, st *stream, o *objects.Object, _ *cryptoRequest) error {
		if o.ObjectType != kmip.ObjectTypeSymmetricKey {
			return wrongObjectType(req, o, "MAC")
		}
		_, err := macAlgorithm(o, st.params)
		return err
	}
	h.update = func(ctx context.Context, req *kmip.Request, st *stream, o *objects.Object, r *cryptoRequest) ([]byte, error) {
		keepExpected(st, r.hasMAC, r.mac)
		return c.bufferUpdate(ctx, req, st, o, r)
	}
	h.final = func(ctx context.Context, req *kmip.Request, st *stream, o *objects.Object, _ *cryptoRequest) (ttlv.Value, error) {
		if verify && st.expect == nil {
			return ttlv.Value{}, missing("MAC data")
		}
		out, valid, err := c.macSum(ctx, req, o, st.params, st.buf, st.expect, verify)
		if err != nil {
			return ttlv.Value{}, err
		}
		if verify {
			return kmip.Payload(idField(o), validity(valid)), nil
		}
		return kmip.Payload(idField(o), ttlv.Bytes(kmip.TagMACData, out)), nil
	}
	return c.streamed(ctx, req, r, h)
}

// streamSign runs multi-part Sign (TC-STREAM-SIGN).
func (c *cryptoOps) streamSign(ctx context.Context, req *kmip.Request, r *cryptoRequest) (ttlv.Value, error) {
	return c.streamed(ctx, req, r, streamHandler{
		op: kmip.OperationSign, usage: kmip.CryptographicUsageMaskSign, partial: bufferedPartial,
		init: func(_ context.Context, req *kmip.Request, st *stream, o *objects.Object, _ *cryptoRequest) error {
			if o.ObjectType != kmip.ObjectTypePrivateKey {
				return wrongObjectType(req, o, "signing")
			}
			return nil
		},
		update: c.bufferUpdate,
		final: func(ctx context.Context, req *kmip.Request, st *stream, o *objects.Object, _ *cryptoRequest) (ttlv.Value, error) {
			sig, err := c.signWith(ctx, req, o, st.params, st.buf, false)
			if err != nil {
				return ttlv.Value{}, err
			}
			return kmip.Payload(idField(o), ttlv.Bytes(kmip.TagSignatureData, sig)), nil
		},
	})
}

// streamVerify runs multi-part Signature Verify (TC-STREAM-SIGNVFY).
func (c *cryptoOps) streamVerify(ctx context.Context, req *kmip.Request, r *cryptoRequest) (ttlv.Value, error) {
	return c.streamed(ctx, req, r, streamHandler{
		op: kmip.OperationSignatureVerify, usage: kmip.CryptographicUsageMaskVerify, partial: bufferedPartial,
		init: func(context.Context, *kmip.Request, *stream, *objects.Object, *cryptoRequest) error { return nil },
		update: func(ctx context.Context, req *kmip.Request, st *stream, o *objects.Object, r *cryptoRequest) ([]byte, error) {
			keepExpected(st, r.hasSignature, r.signature)
			return c.bufferUpdate(ctx, req, st, o, r)
		},
		final: func(ctx context.Context, req *kmip.Request, st *stream, o *objects.Object, _ *cryptoRequest) (ttlv.Value, error) {
			if st.expect == nil {
				return ttlv.Value{}, missing("signature data")
			}
			valid, err := c.verifyWith(ctx, req, o, st.params, st.buf, false, st.expect)
			if err != nil {
				return ttlv.Value{}, err
			}
			return kmip.Payload(idField(o), validity(valid)), nil
		},
	})
}
