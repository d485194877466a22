package kmip

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/kmipd/kmipd/ttlv"
)

// MessageOptions configure HandleMessage. The zero value is usable.
type MessageOptions struct {
	// Limits bound decoding; zero fields take ttlv's defaults.
	Limits ttlv.Limits
	// Logger receives handler failures and panics (never payloads). Nil:
	// discard.
	Logger hclog.Logger
	// Now returns the time for the response Time Stamp. Nil: time.Now.
	Now func() time.Time
}

// fallbackVersion answers messages whose own version cannot be read: 1.0 is
// the one every client decodes.
var fallbackVersion = V1_0

// HandleMessage decodes one request message, runs its batch items through
// h in order and returns the encoded response. It never fails: every
// problem becomes a response the spec names (KMIP 1.4 §11.1, §11.43). It is
// the one place where codec errors become Invalid Message.
func HandleMessage(ctx context.Context, h Handler, raw []byte, opts *MessageOptions) []byte {
	var e ttlv.Encoder
	handleMessage(ctx, h, raw, opts, &e)
	return e.Bytes()
}

// handleMessage is HandleMessage writing the response to e, which must be
// empty, so that the server can reuse one buffer per connection.
func handleMessage(ctx context.Context, h Handler, raw []byte, opts *MessageOptions, e *ttlv.Encoder) {
	if opts == nil {
		opts = &MessageOptions{}
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	v, err := ttlv.Decode(raw, opts.Limits)
	if err != nil {
		appendFailure(e, fallbackVersion, now(), ResultReasonInvalidMessage, "message cannot be parsed")
		return
	}
	msg, err := ParseRequestMessage(v)
	if err != nil {
		// Answer in the client's version when its header gave one.
		ver := fallbackVersion
		if hv, ok := v.Child(TagRequestHeader); ok {
			if pvv, ok := hv.Child(TagProtocolVersion); ok {
				if pv, perr := parseProtocolVersion(pvv); perr == nil {
					if nv, ok := Negotiate(pv); ok {
						ver = nv
					}
				}
			}
		}
		appendFailure(e, ver, now(), ReasonOf(err), messageOf(err))
		return
	}
	ver, ok := Negotiate(msg.Header.ProtocolVersion)
	if !ok {
		// KMIP 1.4 §11.1: protocol major version mismatch.
		appendFailure(e, ver, now(), ResultReasonInvalidMessage, "protocol version "+msg.Header.ProtocolVersion.String()+" is not supported")
		return
	}
	// KMIP 1.4 §6.19: every 1.4+ request gets a Server Correlation Value,
	// which the handlers log. The response carries it only to a client
	// that sent a Client Correlation Value (§6.18), so knows the pair:
	// PyKMIP's 1.4 parser rejects a response header with one it did not
	// ask for ("expected 0x42000d, received 0x420106").
	var correlation string
	if ver.AtLeast(V1_4) {
		msg.Header.ServerCorrelationValue = newServerCorrelationValue()
		if msg.Header.ClientCorrelationValue != "" {
			correlation = msg.Header.ServerCorrelationValue
		}
	}
	// Most batches hold one item: its answer needs no allocation.
	var one [1]ResponseBatchItem
	resp := ResponseMessage{
		Header:     ResponseHeader{ProtocolVersion: ver, ServerCorrelationValue: correlation},
		BatchItems: processBatch(ctx, h, msg, ver, opts, one[:0]),
	}
	resp.Header.TimeStamp = now()
	appendResponse(e, &resp)
	if max := msg.Header.MaximumResponseSize; max > 0 && e.Len() > int(max) {
		// KMIP 1.4 §11.1: Maximum Response Size exceeded: Response Too
		// Large, for every item whose answer we cannot send.
		for i := range resp.BatchItems {
			bi := &resp.BatchItems[i]
			bi.Payload = ttlv.Value{}
			bi.ResultStatus = ResultStatusOperationFailed
			bi.ResultReason = ResultReasonResponseTooLarge
			bi.ResultMessage = "response exceeds the maximum response size"
		}
		// The response not sent may hold key material.
		clear(e.Bytes())
		e.Reset()
		appendResponse(e, &resp)
	}
}

// processBatch answers the batch items of msg, appending the answers to
// out, and returns the extended slice.
func processBatch(ctx context.Context, h Handler, msg *RequestMessage, ver ProtocolVersion, opts *MessageOptions, out []ResponseBatchItem) []ResponseBatchItem {
	opt := msg.Header.BatchErrorContinuationOption
	switch opt {
	case 0, BatchErrorContinuationOptionStop, BatchErrorContinuationOptionContinue, BatchErrorContinuationOptionUndo:
	default:
		return append(out, ResponseBatchItem{
			ResultStatus:  ResultStatusOperationFailed,
			ResultReason:  ResultReasonInvalidField,
			ResultMessage: "unknown batch error continuation option " + opt.String(),
		})
	}
	// Undo IS supported, deliberately (the lead's decision): the mandatory
	// OASIS vectors AX-M-1/2 send it, and the service snapshots what an
	// item changes (service.prepareUndo). TestBatchUndo covers it.
	// undos[i] reverses item i when an Undo batch fails (KMIP 1.4 §6.13).
	var undos []func(context.Context) error
	out = slices.Grow(out, len(msg.BatchItems))
	first := len(out)
	placeholder := ""
	for i := range msg.BatchItems {
		item := &msg.BatchItems[i]
		ans := ResponseBatchItem{Operation: item.Operation, UniqueBatchItemID: item.UniqueBatchItemID}
		var payload ttlv.Value
		var undo func(context.Context) error
		err := item.Err
		if err == nil {
			req := &Request{
				Version:       ver,
				Header:        &msg.Header,
				Operation:     item.Operation,
				Payload:       item.Payload,
				Ephemeral:     item.Ephemeral,
				BatchItemID:   item.UniqueBatchItemID,
				IDPlaceholder: placeholder,
				BatchIndex:    i,
			}
			payload, err = serveItem(ctx, h, req, opts.Logger)
			undo = req.undo
		}
		if opt == BatchErrorContinuationOptionUndo {
			undos = append(undos, undo)
		}
		if err != nil {
			ans.ResultStatus = ResultStatusOperationFailed
			ans.ResultReason = ReasonOf(err)
			ans.ResultMessage = messageOf(err)
			if ans.ResultReason == ResultReasonGeneralFailure && opts.Logger != nil {
				opts.Logger.Error("operation failed", "operation", item.Operation.String(), "error", err)
			}
		} else {
			ans.ResultStatus = ResultStatusSuccess
			ans.Payload = payload
			if id, ok := producedID(item.Operation, payload); ok {
				placeholder = id
			}
		}
		out = append(out, ans)
		if err != nil && opt == BatchErrorContinuationOptionUndo {
			undoBatch(ctx, out[first:len(out)-1], undos, opts.Logger)
		}
		if err != nil && opt != BatchErrorContinuationOptionContinue {
			// KMIP 1.4 §11.43: with Stop, items not processed are not
			// returned.
			break
		}
	}
	return out
}

// undoBatch reverses the items processed before a failure, newest first
// (KMIP 1.4 §11.43: "Batch items that had been processed have been undone
// and their responses are returned with Undone result status"). An item
// whose handler registered no undo changed nothing; one whose undo fails
// keeps its result, because it was not undone.
func undoBatch(ctx context.Context, done []ResponseBatchItem, undos []func(context.Context) error, logger hclog.Logger) {
	for i := len(done) - 1; i >= 0; i-- {
		if i < len(undos) && undos[i] != nil {
			if err := undos[i](ctx); err != nil {
				if logger != nil {
					logger.Error("undo failed; the item keeps its result", "operation", done[i].Operation.String(), "error", err)
				}
				continue
			}
		}
		done[i].ResultStatus = ResultStatusOperationUndone
		done[i].Payload = ttlv.Value{}
	}
}

// serveItem runs one handler, turning a panic into General Failure. The
// panic value is logged with the stack, never sent.
func serveItem(ctx context.Context, h Handler, req *Request, logger hclog.Logger) (payload ttlv.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			if logger != nil {
				logger.Error("handler panic", "operation", req.Operation.String(), "panic", fmt.Sprintf("%T", r), "stack", string(debug.Stack()))
			}
			payload, err = ttlv.Value{}, Errorf(ResultReasonGeneralFailure, "internal error")
		}
	}()
	return h.ServeKMIP(ctx, req)
}

// producedID returns the Unique Identifier a successful response hands to
// the ID Placeholder, and whether the operation sets the placeholder at all
// (KMIP 1.4 §4, 2.1 §6.1: Create, Create Key Pair and Re-key Key Pair (the
// private key), Register, Derive Key, Re-key, Certify, Re-certify, Locate,
// Recover, Create Split Key (the first part), Join Split Key, Import and
// Export). Other operations, such as a Get naming another object, leave the
// placeholder alone. A Locate that does not find exactly one object empties
// it (KMIP 1.4 §4.9), so that the items after it fail instead of acting on
// an older object.
func producedID(op Operation, payload ttlv.Value) (string, bool) {
	switch op {
	case OperationCreateKeyPair, OperationReKeyKeyPair:
		if v, ok := payload.Child(TagPrivateKeyUniqueIdentifier); ok && v.Type == ttlv.TypeTextString {
			return v.Text(), true
		}
		return "", false
	case OperationLocate:
		ids := payload.All(TagUniqueIdentifier)
		if len(ids) != 1 || ids[0].Type != ttlv.TypeTextString {
			return "", true
		}
		return ids[0].Text(), true
	case OperationCreate, OperationRegister, OperationDeriveKey, OperationReKey,
		OperationCertify, OperationReCertify, OperationRecover, OperationCreateSplitKey,
		OperationJoinSplitKey, OperationImport, OperationExport:
		if v, ok := payload.Child(TagUniqueIdentifier); ok && v.Type == ttlv.TypeTextString {
			return v.Text(), true
		}
	default:
	}
	return "", false
}

// messageOf is the Result Message sent for err: the *Error's own message;
// for anything else a generic text, since internal errors may name files or
// carry details that are not the client's business.
func messageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		if e.Message != "" {
			return e.Message
		}
		return e.Reason.String()
	}
	return "internal error"
}

// appendFailure writes the response to a message that cannot be
// processed: a header and one batch item without Operation (KMIP 1.4
// §11.1).
func appendFailure(e *ttlv.Encoder, ver ProtocolVersion, now time.Time, reason ResultReason, message string) {
	m := ResponseMessage{
		Header: ResponseHeader{ProtocolVersion: ver, TimeStamp: now},
		BatchItems: []ResponseBatchItem{{
			ResultStatus:  ResultStatusOperationFailed,
			ResultReason:  reason,
			ResultMessage: message,
		}},
	}
	appendResponse(e, &m)
}

// EncodeFailure is the response to the server's framing errors, which
// happen before a message could be decoded.
func EncodeFailure(reason ResultReason, message string) []byte {
	var e ttlv.Encoder
	appendFailure(&e, fallbackVersion, time.Now(), reason, message)
	return e.Bytes()
}
