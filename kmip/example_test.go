package kmip_test

import (
	"context"
	"fmt"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// A ServeMux routes each batch item to the handler of its operation; an
// operation without a handler is answered Operation Not Supported. The
// message layer (HandleMessage) decodes the request, applies the batch
// options and encodes the response.
func ExampleServeMux() {
	mux := kmip.NewServeMux()
	mux.HandleFunc(kmip.OperationDiscoverVersions, kmip.DiscoverVersions)
	mux.HandleFunc(kmip.OperationGet, func(_ context.Context, req *kmip.Request) (ttlv.Value, error) {
		id, ok := req.UniqueIdentifier()
		if !ok {
			return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonItemNotFound, "no unique identifier")
		}
		return kmip.Payload(ttlv.Text(kmip.TagUniqueIdentifier, id)), nil
	})
	fmt.Println("operations:", mux.Operations())

	item := func(op kmip.Operation, payload ...ttlv.Value) ttlv.Value {
		return ttlv.Struct(kmip.TagBatchItem,
			ttlv.Enum(kmip.TagOperation, uint32(op)),
			ttlv.Struct(kmip.TagRequestPayload, payload...))
	}
	req := ttlv.Struct(kmip.TagRequestMessage,
		ttlv.Struct(kmip.TagRequestHeader,
			kmip.ProtocolVersionValue(kmip.V1_4),
			// Go on after a failed item (KMIP 1.4 §6.14).
			ttlv.Enum(kmip.TagBatchErrorContinuationOption, uint32(kmip.BatchErrorContinuationOptionContinue)),
			ttlv.Int(kmip.TagBatchCount, 3)),
		item(kmip.OperationDiscoverVersions, kmip.ProtocolVersionValue(kmip.V1_2), kmip.ProtocolVersionValue(kmip.V2_0)),
		item(kmip.OperationGet, ttlv.Text(kmip.TagUniqueIdentifier, "key-1")),
		item(kmip.OperationPoll))

	now := func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	raw := kmip.HandleMessage(context.Background(), mux, ttlv.Marshal(req), &kmip.MessageOptions{Now: now})
	resp, err := ttlv.Decode(raw, ttlv.Limits{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ttlv.Format(resp, kmip.NewNames()))
	// Output:
	// operations: [Get DiscoverVersions]
	// ResponseMessage (Structure/368):
	//   ResponseHeader (Structure/72):
	//     ProtocolVersion (Structure/32):
	//       ProtocolVersionMajor (Integer/4): 1
	//       ProtocolVersionMinor (Integer/4): 4
	//     TimeStamp (DateTime/8): 2026-01-02T03:04:05+00:00
	//     BatchCount (Integer/4): 3
	//   BatchItem (Structure/120):
	//     Operation (Enumeration/4): DiscoverVersions
	//     ResultStatus (Enumeration/4): Success
	//     ResponsePayload (Structure/80):
	//       ProtocolVersion (Structure/32):
	//         ProtocolVersionMajor (Integer/4): 2
	//         ProtocolVersionMinor (Integer/4): 0
	//       ProtocolVersion (Structure/32):
	//         ProtocolVersionMajor (Integer/4): 1
	//         ProtocolVersionMinor (Integer/4): 2
	//   BatchItem (Structure/56):
	//     Operation (Enumeration/4): Get
	//     ResultStatus (Enumeration/4): Success
	//     ResponsePayload (Structure/16):
	//       UniqueIdentifier (TextString/5): "key-1"
	//   BatchItem (Structure/88):
	//     Operation (Enumeration/4): Poll
	//     ResultStatus (Enumeration/4): OperationFailed
	//     ResultReason (Enumeration/4): OperationNotSupported
	//     ResultMessage (TextString/31): "operation Poll is not supported"
}
