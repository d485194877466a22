package kmip

import (
	"context"
	"slices"

	"github.com/kmipd/kmipd/ttlv"
)

// Request is one batch item as a handler sees it.
type Request struct {
	// Version is the negotiated protocol version the request is answered
	// in; handlers use it to pick 1.x or 2.x encodings.
	Version   ProtocolVersion
	Header    *RequestHeader
	Operation Operation
	// Payload is the Request Payload structure.
	Payload   ttlv.Value
	Ephemeral bool
	// BatchItemID is the Unique Batch Item ID, nil when absent.
	BatchItemID []byte
	// IDPlaceholder is the Unique Identifier returned by an earlier item of
	// the same batch (KMIP 1.4 §4 "ID Placeholder"), "" when none. A
	// handler whose request omits the Unique Identifier uses it.
	IDPlaceholder string
	// BatchIndex is the item's position in the batch, from 0.
	BatchIndex int

	undo func(context.Context) error
}

// UndoRequested reports whether the batch asked for Batch Error
// Continuation Option Undo (KMIP 1.4 §6.13): a handler that changes state
// then registers how to reverse it with OnUndo.
func (r *Request) UndoRequested() bool {
	return r.Header != nil && r.Header.BatchErrorContinuationOption == BatchErrorContinuationOptionUndo
}

// OnUndo registers f to reverse this item's effects if a later item of an
// Undo batch fails. The item is then answered Operation Undone; if f fails,
// the item keeps its original result, since it was not undone.
func (r *Request) OnUndo(f func(context.Context) error) { r.undo = f }

// UniqueIdentifier returns the request payload's Unique Identifier, or the
// ID Placeholder when the payload has none.
func (r *Request) UniqueIdentifier() (string, bool) {
	if v, ok := r.Payload.Child(TagUniqueIdentifier); ok && v.Type == ttlv.TypeTextString {
		return v.Text(), true
	}
	if r.IDPlaceholder != "" {
		return r.IDPlaceholder, true
	}
	return "", false
}

// Handler answers one batch item. It returns the Response Payload structure
// (tag Response Payload; the zero Value for an operation whose response has
// no payload) or an error, which the server turns into a failed batch item:
// an *Error keeps its Result Reason; anything else becomes General Failure
// with a generic message (the error itself is logged, not sent).
type Handler interface {
	ServeKMIP(ctx context.Context, req *Request) (ttlv.Value, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, req *Request) (ttlv.Value, error)

// ServeKMIP calls f.
func (f HandlerFunc) ServeKMIP(ctx context.Context, req *Request) (ttlv.Value, error) {
	return f(ctx, req)
}

// ServeMux routes batch items to handlers by Operation. An operation with
// no handler is answered Operation Not Supported (KMIP 1.4 §11.1). Register
// every handler before serving; a ServeMux is not safe for concurrent
// registration and use.
type ServeMux struct {
	handlers map[Operation]Handler
}

var _ Handler = (*ServeMux)(nil)

// NewServeMux returns an empty mux.
func NewServeMux() *ServeMux { return &ServeMux{handlers: make(map[Operation]Handler)} }

// Handle registers h for op, replacing any earlier handler.
func (m *ServeMux) Handle(op Operation, h Handler) { m.handlers[op] = h }

// HandleFunc registers f for op.
func (m *ServeMux) HandleFunc(op Operation, f func(context.Context, *Request) (ttlv.Value, error)) {
	m.Handle(op, HandlerFunc(f))
}

// Operations lists the registered operations in ascending enumeration
// order, for Query Operations.
func (m *ServeMux) Operations() []Operation {
	ops := make([]Operation, 0, len(m.handlers))
	for op := range m.handlers {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	return ops
}

// Handles reports whether op has a handler.
func (m *ServeMux) Handles(op Operation) bool {
	_, ok := m.handlers[op]
	return ok
}

// ServeKMIP dispatches req to the handler of its operation.
func (m *ServeMux) ServeKMIP(ctx context.Context, req *Request) (ttlv.Value, error) {
	h, ok := m.handlers[req.Operation]
	if !ok {
		return ttlv.Value{}, Errorf(ResultReasonOperationNotSupported, "operation %s is not supported", req.Operation)
	}
	return h.ServeKMIP(ctx, req)
}

// Payload builds a Response Payload structure.
func Payload(fields ...ttlv.Value) ttlv.Value { return ttlv.Struct(TagResponsePayload, fields...) }
