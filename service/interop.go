package service

import (
	"context"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// WithInteropTesting registers the Interop operation (KMIP 2.0 §6.1.25),
// with which a test harness tells the server that an interop test case
// begins or ends. The specification says it "SHALL NOT be available in a
// production server": `kmipd dev` and the vector runner turn it on, `kmipd
// serve` never does, and without it the operation is answered Operation
// Not Supported like any other kmipd lacks.
func WithInteropTesting() Option { return func(s *Service) { s.interop = true } }

// interopOp acknowledges an Interop request. Begin and End mark a test
// case in the log; Reset, which the specification leaves undefined beyond
// its name, changes nothing either: kmipd keeps no per-test-case state.
func (s *Service) interopOp(_ context.Context, req *kmip.Request) (ttlv.Value, error) {
	fn, ok := req.Payload.Child(kmip.TagInteropFunction)
	if !ok || fn.Type != ttlv.TypeEnumeration {
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonInvalidField, "interop: an Interop Function enumeration is required")
	}
	switch kmip.InteropFunction(fn.Enum()) {
	case kmip.InteropFunctionBegin, kmip.InteropFunctionEnd, kmip.InteropFunctionReset:
	default:
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonInvalidField, "interop: unknown Interop Function %d", fn.Enum())
	}
	id, ok := req.Payload.Child(kmip.TagInteropIdentifier)
	if !ok || id.Type != ttlv.TypeTextString || id.Text() == "" {
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonInvalidField, "interop: an Interop Identifier text is required")
	}
	s.log.Info("interop test case", "function", kmip.InteropFunction(fn.Enum()).String(), "identifier", id.Text())
	// Table 224: an empty Response Payload, present (the 2.0 test cases
	// show one).
	return kmip.Payload(), nil
}
