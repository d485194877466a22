package conformance

import (
	"bytes"
	"net"
	"slices"
	"testing"

	gkmip "github.com/gemalto/kmip-go"
	"github.com/gemalto/kmip-go/kmip14"
	gttlv "github.com/gemalto/kmip-go/ttlv"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/service"
	"github.com/kmipd/kmipd/ttlv"
)

// The interop tests speak to the server with gemalto/kmip-go, an
// independent implementation: its encoder builds the requests and its
// decoder reads the responses, so a symmetric mistake in our codec (the
// same wrong idea in encoder and decoder) shows up here.
//
// For now they cover the protocol operations that service.New() serves
// without a store: Discover Versions and Query. Extend them with object
// operations as the service grows.

// gemaltoQueryRequest is the Query request payload (KMIP 1.4 §4.25 Table
// 222); gemalto/kmip-go has no 1.x Query types.
type gemaltoQueryRequest struct {
	QueryFunction []kmip14.QueryFunction
}

// gemaltoQueryResponse is the Query response payload (Table 223), the
// parts the server answers.
type gemaltoQueryResponse struct {
	Operation            []kmip14.Operation
	ObjectType           []kmip14.ObjectType
	VendorIdentification string
	ServerInformation    gttlv.TTLV
}

// gemaltoClient sends gemalto-built messages on one connection.
type gemaltoClient struct {
	t    *testing.T
	h    *Harness
	conn net.Conn
}

func newGemaltoClient(t *testing.T, h *Harness) *gemaltoClient {
	return &gemaltoClient{t: t, h: h, conn: h.Dial(t)}
}

// send encodes msg with gemalto's encoder, sends it and decodes the answer
// with gemalto's decoder, after checking that gemalto finds it valid TTLV.
func (c *gemaltoClient) send(msg gkmip.RequestMessage) gkmip.ResponseMessage {
	c.t.Helper()
	req, err := gttlv.Marshal(msg)
	if err != nil {
		c.t.Fatalf("gemalto marshal: %v", err)
	}
	// Our decoder must agree that the request is well formed.
	if _, err := ttlv.Decode(req, ttlv.Limits{}); err != nil {
		c.t.Fatalf("gemalto's request does not decode with ours: %v", err)
	}
	raw := c.h.RoundTrip(c.t, c.conn, req)
	if err := gttlv.TTLV(raw).Valid(); err != nil {
		c.t.Fatalf("gemalto finds the response invalid: %v\n%x", err, raw)
	}
	var resp gkmip.ResponseMessage
	if err := gttlv.NewDecoder(bytes.NewReader(raw)).Decode(&resp); err != nil {
		c.t.Fatalf("gemalto decode: %v\n%v", err, gttlv.TTLV(raw))
	}
	if resp.ResponseHeader.BatchCount != len(resp.BatchItem) {
		c.t.Fatalf("batch count %d but %d items", resp.ResponseHeader.BatchCount, len(resp.BatchItem))
	}
	return resp
}

func requestMessage(major, minor int, items ...gkmip.RequestBatchItem) gkmip.RequestMessage {
	return gkmip.RequestMessage{
		RequestHeader: gkmip.RequestHeader{
			ProtocolVersion: gkmip.ProtocolVersion{ProtocolVersionMajor: major, ProtocolVersionMinor: minor},
			BatchCount:      len(items),
		},
		BatchItem: items,
	}
}

// decodePayload decodes a response batch item's payload into v.
func decodePayload(t *testing.T, item gkmip.ResponseBatchItem, v any) {
	t.Helper()
	if item.ResultStatus != kmip14.ResultStatusSuccess {
		t.Fatalf("%v failed: %v %q", item.Operation, item.ResultReason, item.ResultMessage)
	}
	raw, ok := item.ResponsePayload.(gttlv.TTLV)
	if !ok {
		t.Fatalf("response payload is %T", item.ResponsePayload)
	}
	if err := gttlv.Unmarshal(raw, v); err != nil {
		t.Fatalf("decode %v payload: %v\n%v", item.Operation, err, raw)
	}
}

func versionStrings(vs []gkmip.ProtocolVersion) []string {
	var out []string
	for _, v := range vs {
		out = append(out, kmip.ProtocolVersion{Major: int32(v.ProtocolVersionMajor), Minor: int32(v.ProtocolVersionMinor)}.String())
	}
	return out
}

func TestInteropDiscoverVersions(t *testing.T) {
	h := StartServer(t, ServerOptions{})
	c := newGemaltoClient(t, h)
	pv := func(maj, minr int) gkmip.ProtocolVersion {
		return gkmip.ProtocolVersion{ProtocolVersionMajor: maj, ProtocolVersionMinor: minr}
	}
	tests := []struct {
		name         string
		major, minor int // of the request header
		offer        []gkmip.ProtocolVersion
		want         []string
	}{
		{"1.0 offering nothing", 1, 0, nil, []string{"2.1", "2.0", "1.4", "1.3", "1.2", "1.1", "1.0"}},
		{"1.2 offering 1.2 and 1.4", 1, 2, []gkmip.ProtocolVersion{pv(1, 2), pv(1, 4)}, []string{"1.4", "1.2"}},
		{"1.4 offering 3.0 and 1.1", 1, 4, []gkmip.ProtocolVersion{pv(3, 0), pv(1, 1)}, []string{"1.1"}},
		{"2.0 offering nothing in common", 2, 0, []gkmip.ProtocolVersion{pv(3, 0)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := c.send(requestMessage(tt.major, tt.minor, gkmip.RequestBatchItem{
				Operation:      kmip14.OperationDiscoverVersions,
				RequestPayload: gkmip.DiscoverVersionsRequestPayload{ProtocolVersion: tt.offer},
			}))
			if got := resp.ResponseHeader.ProtocolVersion; got.ProtocolVersionMajor != tt.major || got.ProtocolVersionMinor != tt.minor {
				t.Errorf("answered in %d.%d", got.ProtocolVersionMajor, got.ProtocolVersionMinor)
			}
			item := resp.BatchItem[0]
			if item.Operation != kmip14.OperationDiscoverVersions {
				t.Errorf("operation %v", item.Operation)
			}
			var p gkmip.DiscoverVersionsResponsePayload
			if item.ResponsePayload != nil {
				decodePayload(t, item, &p)
			} else if item.ResultStatus != kmip14.ResultStatusSuccess {
				t.Fatalf("failed: %v", item.ResultReason)
			}
			if got := versionStrings(p.ProtocolVersion); !slices.Equal(got, tt.want) {
				t.Errorf("versions %v, want %v", got, tt.want)
			}
		})
	}
}

func TestInteropQuery(t *testing.T) {
	h := StartServer(t, ServerOptions{})
	c := newGemaltoClient(t, h)
	for _, ver := range [][2]int{{1, 0}, {1, 2}, {1, 4}, {2, 0}} {
		t.Run(kmip.ProtocolVersion{Major: int32(ver[0]), Minor: int32(ver[1])}.String(), func(t *testing.T) {
			resp := c.send(requestMessage(ver[0], ver[1], gkmip.RequestBatchItem{
				Operation: kmip14.OperationQuery,
				RequestPayload: gemaltoQueryRequest{QueryFunction: []kmip14.QueryFunction{
					kmip14.QueryFunctionQueryOperations,
					kmip14.QueryFunctionQueryObjects,
					kmip14.QueryFunctionQueryServerInformation,
				}},
			}))
			var p gemaltoQueryResponse
			decodePayload(t, resp.BatchItem[0], &p)
			// The server claims exactly what its mux serves of the
			// operations the version defines (Login and Logout are 2.0's).
			var want []kmip14.Operation
			for _, op := range service.New().Mux().Operations() {
				if kmip.EnumDefinedIn(kmip.TagOperation, uint32(op), int32(ver[0]), int32(ver[1])) {
					want = append(want, kmip14.Operation(op))
				}
			}
			if !slices.Equal(p.Operation, want) {
				t.Errorf("operations %v, want %v", p.Operation, want)
			}
			for _, op := range []kmip14.Operation{kmip14.OperationQuery, kmip14.OperationDiscoverVersions} {
				if !slices.Contains(p.Operation, op) {
					t.Errorf("Query Operations omits %v", op)
				}
			}
			if p.VendorIdentification != "kmipd" {
				t.Errorf("vendor identification %q", p.VendorIdentification)
			}
			if p.ServerInformation == nil || p.ServerInformation.Type() != gttlv.TypeStructure {
				t.Errorf("server information %v", p.ServerInformation)
			}
		})
	}
}

// TestInteropBatch sends two items in one message: both are answered, in
// order, each with its Unique Batch Item ID.
func TestInteropBatch(t *testing.T) {
	h := StartServer(t, ServerOptions{})
	c := newGemaltoClient(t, h)
	msg := requestMessage(1, 4,
		gkmip.RequestBatchItem{
			Operation:         kmip14.OperationDiscoverVersions,
			UniqueBatchItemID: []byte{0xa1},
			RequestPayload:    gkmip.DiscoverVersionsRequestPayload{},
		},
		gkmip.RequestBatchItem{
			Operation:         kmip14.OperationQuery,
			UniqueBatchItemID: []byte{0xb2},
			RequestPayload:    gemaltoQueryRequest{QueryFunction: []kmip14.QueryFunction{kmip14.QueryFunctionQueryServerInformation}},
		})
	resp := c.send(msg)
	if len(resp.BatchItem) != 2 {
		t.Fatalf("%d batch items", len(resp.BatchItem))
	}
	first, second := resp.BatchItem[0], resp.BatchItem[1]
	if first.Operation != kmip14.OperationDiscoverVersions || !bytes.Equal(first.UniqueBatchItemID, []byte{0xa1}) {
		t.Errorf("first item %v %x", first.Operation, first.UniqueBatchItemID)
	}
	if second.Operation != kmip14.OperationQuery || !bytes.Equal(second.UniqueBatchItemID, []byte{0xb2}) {
		t.Errorf("second item %v %x", second.Operation, second.UniqueBatchItemID)
	}
	var dv gkmip.DiscoverVersionsResponsePayload
	decodePayload(t, first, &dv)
	if len(dv.ProtocolVersion) != len(kmip.SupportedVersions) {
		t.Errorf("versions %v", versionStrings(dv.ProtocolVersion))
	}
	var q gemaltoQueryResponse
	decodePayload(t, second, &q)
	if q.VendorIdentification != "kmipd" || len(q.Operation) != 0 {
		t.Errorf("query answered %+v; want the server information only", q)
	}

	// A batch with an operation the server lacks: Stop (the default)
	// answers the failed item and omits the rest (KMIP 1.4 §6.14).
	resp = c.send(requestMessage(1, 4,
		gkmip.RequestBatchItem{Operation: kmip14.OperationPoll, UniqueBatchItemID: []byte{1}, RequestPayload: struct{}{}},
		gkmip.RequestBatchItem{Operation: kmip14.OperationDiscoverVersions, UniqueBatchItemID: []byte{2}, RequestPayload: gkmip.DiscoverVersionsRequestPayload{}}))
	if len(resp.BatchItem) != 1 || resp.BatchItem[0].ResultStatus != kmip14.ResultStatusOperationFailed ||
		resp.BatchItem[0].ResultReason != kmip14.ResultReasonOperationNotSupported {
		t.Errorf("unsupported operation in a Stop batch: %+v", resp.BatchItem)
	}
}
