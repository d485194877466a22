package kmip

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kmipd/kmipd/ttlv"
)

func TestParseRequestHeader(t *testing.T) {
	ver := ProtocolVersionValue(V1_4)
	count := ttlv.Int(TagBatchCount, 1)
	ts := time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC)
	tests := []struct {
		name    string
		header  ttlv.Value
		wantErr string // substring of the message; "" for success
		check   func(t *testing.T, h RequestHeader)
	}{
		{
			name:   "minimal",
			header: ttlv.Struct(TagRequestHeader, ver, count),
			check: func(t *testing.T, h RequestHeader) {
				if h.ProtocolVersion != V1_4 || h.BatchCount != 1 || h.HasBatchOrderOption || h.BatchErrorContinuationOption != 0 {
					t.Errorf("header = %+v", h)
				}
			},
		},
		{
			name: "every field",
			header: ttlv.Struct(TagRequestHeader, ver,
				ttlv.Int(TagMaximumResponseSize, 4096),
				ttlv.Text(TagClientCorrelationValue, "client"),
				ttlv.Text(TagServerCorrelationValue, "server"),
				ttlv.Bool(TagAsynchronousIndicator, true),
				ttlv.Bool(TagAttestationCapableIndicator, true),
				ttlv.Enum(TagAttestationType, 1),
				ttlv.Enum(TagAttestationType, 2),
				ttlv.Struct(TagAuthentication),
				ttlv.Enum(TagBatchErrorContinuationOption, uint32(BatchErrorContinuationOptionContinue)),
				ttlv.Bool(TagBatchOrderOption, false),
				ttlv.DateTime(TagTimeStamp, ts),
				count),
			check: func(t *testing.T, h RequestHeader) {
				if h.MaximumResponseSize != 4096 || h.ClientCorrelationValue != "client" || h.ServerCorrelationValue != "server" ||
					!h.AsynchronousIndicator || !h.AttestationCapableIndicator || len(h.AttestationTypes) != 2 ||
					h.Authentication.Tag != TagAuthentication ||
					h.BatchErrorContinuationOption != BatchErrorContinuationOptionContinue ||
					h.BatchOrderOption || !h.HasBatchOrderOption || !h.TimeStamp.Equal(ts) {
					t.Errorf("header = %+v", h)
				}
			},
		},
		{
			name:   "2.0 Date-Time Extended time stamp",
			header: ttlv.Struct(TagRequestHeader, ver, ttlv.DateTimeExtended(TagTimeStamp, ts.Add(123*time.Microsecond)), count),
			check: func(t *testing.T, h RequestHeader) {
				if !h.TimeStamp.Equal(ts.Add(123 * time.Microsecond)) {
					t.Errorf("time stamp = %v", h.TimeStamp)
				}
			},
		},
		{
			// KMIP 1.4 §11.1: fields of a newer minor version are ignored.
			name:   "unknown field ignored",
			header: ttlv.Struct(TagRequestHeader, ver, ttlv.Text(0x540001, "vendor"), count),
		},
		{name: "not a header", header: ttlv.Struct(TagRequestMessage, ver, count), wantErr: "request header missing"},
		{name: "header not a structure", header: ttlv.Int(TagRequestHeader, 1), wantErr: "request header missing"},
		{name: "no protocol version", header: ttlv.Struct(TagRequestHeader, count), wantErr: "no protocol version"},
		{name: "no batch count", header: ttlv.Struct(TagRequestHeader, ver), wantErr: "no batch count"},
		{
			name:    "protocol version without minor",
			header:  ttlv.Struct(TagRequestHeader, ttlv.Struct(TagProtocolVersion, ttlv.Int(TagProtocolVersionMajor, 1)), count),
			wantErr: "malformed protocol version",
		},
		{
			name: "protocol version of the wrong type",
			header: ttlv.Struct(TagRequestHeader, ttlv.Struct(TagProtocolVersion,
				ttlv.Long(TagProtocolVersionMajor, 1), ttlv.Int(TagProtocolVersionMinor, 0)), count),
			wantErr: "malformed protocol version",
		},
		{name: "protocol version not a structure", header: ttlv.Struct(TagRequestHeader, ttlv.Int(TagProtocolVersion, 1), count), wantErr: "malformed protocol version"},
		// KMIP 1.4 §11.1: "The same field is contained in a header ... more
		// than once": Invalid Message.
		{name: "repeated batch count", header: ttlv.Struct(TagRequestHeader, ver, count, count), wantErr: "repeats BatchCount"},
		{name: "repeated protocol version", header: ttlv.Struct(TagRequestHeader, ver, ver, count), wantErr: "repeats ProtocolVersion"},
		{
			name:    "repeated correlation value",
			header:  ttlv.Struct(TagRequestHeader, ver, ttlv.Text(TagClientCorrelationValue, "a"), ttlv.Text(TagClientCorrelationValue, "b"), count),
			wantErr: "repeats ClientCorrelationValue",
		},
		{name: "batch count of the wrong type", header: ttlv.Struct(TagRequestHeader, ver, ttlv.Long(TagBatchCount, 1)), wantErr: "wrong item type"},
		{
			name:    "continuation option of the wrong type",
			header:  ttlv.Struct(TagRequestHeader, ver, ttlv.Int(TagBatchErrorContinuationOption, 1), count),
			wantErr: "wrong item type",
		},
		{name: "time stamp of the wrong type", header: ttlv.Struct(TagRequestHeader, ver, ttlv.Text(TagTimeStamp, "now"), count), wantErr: "wrong item type"},
		{name: "authentication not a structure", header: ttlv.Struct(TagRequestHeader, ver, ttlv.Text(TagAuthentication, "x"), count), wantErr: "wrong item type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseRequestHeader(tt.header)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseRequestHeader succeeded: %+v", h)
				}
				if !errors.Is(err, ErrInvalidMessage) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error = %v; want Invalid Message containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRequestHeader: %v", err)
			}
			if tt.check != nil {
				tt.check(t, h)
			}
		})
	}
}

func TestParseRequestMessage(t *testing.T) {
	hdr := func(n int32) ttlv.Value { return reqHeader(V1_4, n) }
	good := reqItemID(OperationQuery, 1, ttlv.Enum(TagQueryFunction, 1))
	tests := []struct {
		name    string
		msg     ttlv.Value
		wantErr string // message-level failure: substring of the message
		// itemErrs lists, per batch item, a substring of its Err, "" for
		// an item that parsed.
		itemErrs []string
	}{
		{name: "one item", msg: ttlv.Struct(TagRequestMessage, hdr(1), good), itemErrs: []string{""}},
		{name: "two items", msg: ttlv.Struct(TagRequestMessage, hdr(2), good, good), itemErrs: []string{"", ""}},
		{name: "not a request message", msg: ttlv.Struct(TagResponseMessage, hdr(1), good), wantErr: "not a request message"},
		{name: "not a structure", msg: ttlv.Int(TagRequestMessage, 0), wantErr: "not a request message"},
		{name: "empty", msg: ttlv.Struct(TagRequestMessage), wantErr: "empty"},
		{name: "header not first", msg: ttlv.Struct(TagRequestMessage, good, hdr(1)), wantErr: "request header missing"},
		{name: "no batch item", msg: ttlv.Struct(TagRequestMessage, hdr(0)), wantErr: "no batch item"},
		{name: "batch count too high", msg: ttlv.Struct(TagRequestMessage, hdr(2), good), wantErr: "batch count 2 but 1"},
		{name: "batch count too low", msg: ttlv.Struct(TagRequestMessage, hdr(1), good, good), wantErr: "batch count 1 but 2"},
		{name: "negative batch count", msg: ttlv.Struct(TagRequestMessage, hdr(-1), good), wantErr: "batch count -1"},
		{name: "stray item", msg: ttlv.Struct(TagRequestMessage, hdr(1), good, ttlv.Int(TagBatchCount, 1)), wantErr: "unexpected BatchCount"},
		{name: "two headers", msg: ttlv.Struct(TagRequestMessage, hdr(1), hdr(1), good), wantErr: "unexpected RequestHeader"},
		// KMIP 1.4 §11.1: "Error parsing batch item or payload within batch
		// item: batch item fails"; the others are processed.
		{
			name:     "batch item not a structure",
			msg:      ttlv.Struct(TagRequestMessage, hdr(2), ttlv.Int(TagBatchItem, 1), good),
			itemErrs: []string{"not a structure", ""},
		},
		{
			name:     "batch item without operation",
			msg:      ttlv.Struct(TagRequestMessage, hdr(2), good, ttlv.Struct(TagBatchItem, ttlv.Struct(TagRequestPayload))),
			itemErrs: []string{"", "no operation"},
		},
		{
			name:     "batch item without payload",
			msg:      ttlv.Struct(TagRequestMessage, hdr(2), ttlv.Struct(TagBatchItem, ttlv.Enum(TagOperation, uint32(OperationQuery))), good),
			itemErrs: []string{"no request payload", ""},
		},
		{
			name: "batch item repeats operation",
			msg: ttlv.Struct(TagRequestMessage, hdr(2), good, ttlv.Struct(TagBatchItem,
				ttlv.Enum(TagOperation, uint32(OperationQuery)), ttlv.Enum(TagOperation, uint32(OperationQuery)), ttlv.Struct(TagRequestPayload))),
			itemErrs: []string{"", "repeats Operation"},
		},
		{
			name: "batch item repeats payload",
			msg: ttlv.Struct(TagRequestMessage, hdr(1), ttlv.Struct(TagBatchItem,
				ttlv.Enum(TagOperation, uint32(OperationQuery)), ttlv.Struct(TagRequestPayload), ttlv.Struct(TagRequestPayload))),
			itemErrs: []string{"repeats RequestPayload"},
		},
		{
			name: "operation of the wrong type",
			msg: ttlv.Struct(TagRequestMessage, hdr(1), ttlv.Struct(TagBatchItem,
				ttlv.Int(TagOperation, int32(OperationQuery)), ttlv.Struct(TagRequestPayload))),
			itemErrs: []string{"wrong item type"},
		},
		{
			name: "payload not a structure",
			msg: ttlv.Struct(TagRequestMessage, hdr(1), ttlv.Struct(TagBatchItem,
				ttlv.Enum(TagOperation, uint32(OperationQuery)), ttlv.Text(TagRequestPayload, "x"))),
			itemErrs: []string{"wrong item type"},
		},
		{
			name: "batch item ID of the wrong type",
			msg: ttlv.Struct(TagRequestMessage, hdr(1), ttlv.Struct(TagBatchItem,
				ttlv.Enum(TagOperation, uint32(OperationQuery)), ttlv.Text(TagUniqueBatchItemID, "1"), ttlv.Struct(TagRequestPayload))),
			itemErrs: []string{"wrong item type"},
		},
		{
			name: "message extensions may repeat",
			msg: ttlv.Struct(TagRequestMessage, hdr(1), ttlv.Struct(TagBatchItem,
				ttlv.Enum(TagOperation, uint32(OperationQuery)), ttlv.Struct(TagRequestPayload),
				ttlv.Struct(TagMessageExtension), ttlv.Struct(TagMessageExtension))),
			itemErrs: []string{""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseRequestMessage(tt.msg)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseRequestMessage succeeded")
				}
				if ReasonOf(err) != ResultReasonInvalidMessage || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error = %v; want Invalid Message containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRequestMessage: %v", err)
			}
			if len(m.BatchItems) != len(tt.itemErrs) {
				t.Fatalf("%d batch items, want %d", len(m.BatchItems), len(tt.itemErrs))
			}
			for i, want := range tt.itemErrs {
				err := m.BatchItems[i].Err
				switch {
				case want == "" && err != nil:
					t.Errorf("item %d: unexpected error %v", i, err)
				case want != "" && err == nil:
					t.Errorf("item %d parsed; want error %q", i, want)
				case want != "" && (ReasonOf(err) != ResultReasonInvalidMessage || !strings.Contains(err.Error(), want)):
					t.Errorf("item %d: error %v; want Invalid Message containing %q", i, err, want)
				}
			}
		})
	}
}

func TestParseRequestBatchItemFields(t *testing.T) {
	ext := ttlv.Struct(TagMessageExtension, ttlv.Text(TagVendorIdentification, "v"))
	v := ttlv.Struct(TagRequestMessage, reqHeader(V2_0, 1), ttlv.Struct(TagBatchItem,
		ttlv.Enum(TagOperation, uint32(OperationGet)),
		ttlv.Bool(TagEphemeral, true),
		ttlv.Bytes(TagUniqueBatchItemID, []byte{7, 8}),
		ttlv.Struct(TagRequestPayload, ttlv.Text(TagUniqueIdentifier, "id")),
		ext))
	m, err := ParseRequestMessage(v)
	if err != nil {
		t.Fatal(err)
	}
	b := m.BatchItems[0]
	if b.Err != nil || b.Operation != OperationGet || !b.Ephemeral || string(b.UniqueBatchItemID) != "\x07\x08" ||
		len(b.MessageExtensions) != 1 || !ttlv.Equal(b.MessageExtensions[0], ext) {
		t.Errorf("batch item = %+v", b)
	}
	if id, ok := b.Payload.Child(TagUniqueIdentifier); !ok || id.Text() != "id" {
		t.Errorf("payload = %v", b.Payload)
	}
}

// TestFilterForVersion checks that a response never carries what its
// version does not define (KMIP 1.4 §11.1; a 1.0 client that meets an
// unknown tag may fail the whole message).
func TestFilterForVersion(t *testing.T) {
	ext := ttlv.Text(0x540001, "extension") // outside the tables: kept
	tests := []struct {
		name string
		ver  ProtocolVersion
		in   ttlv.Value
		want ttlv.Value
	}{
		{
			name: "1.4 tag dropped for 1.0",
			ver:  V1_0,
			in:   Payload(ttlv.Text(TagUniqueIdentifier, "a"), ttlv.Text(TagClientCorrelationValue, "c")),
			want: Payload(ttlv.Text(TagUniqueIdentifier, "a")),
		},
		{
			name: "1.4 tag kept for 1.4",
			ver:  V1_4,
			in:   Payload(ttlv.Text(TagUniqueIdentifier, "a"), ttlv.Text(TagClientCorrelationValue, "c")),
			want: Payload(ttlv.Text(TagUniqueIdentifier, "a"), ttlv.Text(TagClientCorrelationValue, "c")),
		},
		{
			name: "nested 1.4 tag dropped for 1.3",
			ver:  V1_3,
			in: Payload(ttlv.Struct(TagCapabilityInformation,
				ttlv.Bool(TagStreamingCapability, false), ttlv.Bool(TagBatchUndoCapability, false))),
			want: Payload(ttlv.Struct(TagCapabilityInformation, ttlv.Bool(TagStreamingCapability, false))),
		},
		{
			name: "1.x-only tag dropped for 2.0",
			ver:  V2_0,
			in:   Payload(ttlv.Struct(TagTemplateAttribute), ttlv.Text(TagUniqueIdentifier, "a")),
			want: Payload(ttlv.Text(TagUniqueIdentifier, "a")),
		},
		{
			name: "2.0 tag dropped for 1.4, extension kept",
			ver:  V1_4,
			in:   Payload(ext, ttlv.Int(TagProtectionStorageMask, 1), ttlv.Text(TagUniqueIdentifier, "a")),
			want: Payload(ext, ttlv.Text(TagUniqueIdentifier, "a")),
		},
		{
			name: "every child dropped",
			ver:  V1_0,
			in:   Payload(ttlv.Text(TagClientCorrelationValue, "c")),
			want: Payload(),
		},
		{name: "primitive unchanged", ver: V1_0, in: ttlv.Int(TagBatchCount, 3), want: ttlv.Int(TagBatchCount, 3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FilterForVersion(tt.in, tt.ver)
			if !ttlv.Equal(got, tt.want) {
				t.Errorf("FilterForVersion(%v, %v) =\n%v\nwant\n%v", tt.in, tt.ver, got, tt.want)
			}
		})
	}
}

// TestFilterForVersionNoCopy: a tree with nothing to remove is returned as
// it is, without copying (responses are filtered on every message).
func TestFilterForVersionNoCopy(t *testing.T) {
	in := Payload(ttlv.Struct(TagCapabilityInformation, ttlv.Bool(TagStreamingCapability, true)), ttlv.Text(TagUniqueIdentifier, "a"))
	out := FilterForVersion(in, V1_4)
	if &out.Children()[0] != &in.Children()[0] {
		t.Error("FilterForVersion copied a tree it did not change")
	}
	allocs := testing.AllocsPerRun(100, func() { FilterForVersion(in, V1_4) })
	if allocs != 0 {
		t.Errorf("FilterForVersion of an unchanged tree allocates %v times", allocs)
	}
}

// TestResponseMessageValue checks the header fields each version may carry
// (KMIP 1.4 Table 286: Nonce and Attestation Type from 1.2, the correlation
// values from 1.4) and the batch item fields.
func TestResponseMessageValue(t *testing.T) {
	nonce := ttlv.Struct(TagNonce, ttlv.Bytes(TagNonceID, []byte{1}), ttlv.Bytes(TagNonceValue, []byte{2}))
	m := ResponseMessage{
		Header: ResponseHeader{
			TimeStamp:              testNow,
			Nonce:                  nonce,
			AttestationTypes:       []AttestationType{1},
			ClientCorrelationValue: "client",
			ServerCorrelationValue: "server",
		},
		BatchItems: []ResponseBatchItem{{
			Operation:                    OperationQuery,
			UniqueBatchItemID:            []byte{9},
			ResultStatus:                 ResultStatusOperationFailed,
			ResultReason:                 ResultReasonItemNotFound,
			ResultMessage:                "gone",
			AsynchronousCorrelationValue: []byte{5},
			MessageExtension:             ttlv.Struct(TagMessageExtension),
		}},
	}
	tests := []struct {
		ver            ProtocolVersion
		nonce, attest  bool
		correlationVal bool
	}{
		{V1_0, false, false, false},
		{V1_1, false, false, false},
		{V1_2, true, true, false},
		{V1_3, true, true, false},
		{V1_4, true, true, true},
		{V2_0, true, true, true},
		{V2_1, true, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.ver.String(), func(t *testing.T) {
			m.Header.ProtocolVersion = tt.ver
			raw := ttlv.Marshal(m.Value())
			got := mustDecodeResponse(t, raw)
			if got.Version != tt.ver || !got.TimeStamp.Equal(testNow) {
				t.Errorf("header version %v time %v", got.Version, got.TimeStamp)
			}
			h := got.Header
			if h.Has(TagNonce) != tt.nonce || h.Has(TagAttestationType) != tt.attest ||
				h.Has(TagClientCorrelationValue) != tt.correlationVal || h.Has(TagServerCorrelationValue) != tt.correlationVal {
				t.Errorf("header %v: nonce/attestation/correlation presence wrong for %v", h, tt.ver)
			}
			it := got.Items[0]
			if !it.HasOperation || it.Operation != OperationQuery || string(it.BatchItemID) != "\x09" ||
				it.Status != ResultStatusOperationFailed || it.Reason != ResultReasonItemNotFound || it.Message != "gone" {
				t.Errorf("item = %+v", it)
			}
		})
	}
}

// TestAppendResponseMatchesValue: the response encoder that every message
// goes through writes exactly what encoding ResponseMessage.Value writes,
// in every version, version filtering of payloads included.
func TestAppendResponseMatchesValue(t *testing.T) {
	nonce := ttlv.Struct(TagNonce, ttlv.Bytes(TagNonceID, []byte{1}), ttlv.Bytes(TagNonceValue, []byte{2}))
	payload := Payload(
		ttlv.Text(TagUniqueIdentifier, "a"),
		ttlv.Text(0x540001, "extension"),
		ttlv.Int(TagProtectionStorageMask, 1), // 2.0 only
		ttlv.Struct(TagTemplateAttribute),     // 1.x only
		ttlv.Struct(TagCapabilityInformation, // Batch Undo Capability: 1.4 on
			ttlv.Bool(TagStreamingCapability, false), ttlv.Bool(TagBatchUndoCapability, true)),
		ttlv.Bytes(TagKeyMaterial, bytes.Repeat([]byte{7}, 33)),
		ttlv.Text(TagClientCorrelationValue, "c"), // 1.4 on
	)
	full := ResponseMessage{
		Header: ResponseHeader{
			TimeStamp:              testNow,
			Nonce:                  nonce,
			AttestationTypes:       []AttestationType{1, 2},
			ClientCorrelationValue: "client",
			ServerCorrelationValue: "server",
		},
		BatchItems: []ResponseBatchItem{
			{
				Operation:                    OperationQuery,
				UniqueBatchItemID:            []byte{9},
				ResultStatus:                 ResultStatusOperationFailed,
				ResultReason:                 ResultReasonItemNotFound,
				ResultMessage:                "gone",
				AsynchronousCorrelationValue: []byte{5},
				MessageExtension:             ttlv.Struct(TagMessageExtension, ttlv.Int(TagProtectionStorageMask, 1)),
			},
			{Operation: OperationGet, UniqueBatchItemID: []byte{}, ResultStatus: ResultStatusSuccess, Payload: payload},
			{Operation: OperationGet, ResultStatus: ResultStatusSuccess, Payload: Payload(ttlv.Text(TagClientCorrelationValue, "c"))},
		},
	}
	tests := []struct {
		name string
		m    ResponseMessage
	}{
		{"full", full},
		{"failure", ResponseMessage{Header: ResponseHeader{TimeStamp: testNow}, BatchItems: []ResponseBatchItem{{
			ResultStatus: ResultStatusOperationFailed, ResultReason: ResultReasonInvalidMessage, ResultMessage: "bad"}}}},
		{"no items", ResponseMessage{Header: ResponseHeader{TimeStamp: testNow}}},
		{"primitive payload", ResponseMessage{BatchItems: []ResponseBatchItem{{Payload: ttlv.Int(TagBatchCount, 3)}}}},
	}
	for _, tt := range tests {
		for _, ver := range SupportedVersions {
			t.Run(tt.name+"/"+ver.String(), func(t *testing.T) {
				m := tt.m
				m.Header.ProtocolVersion = ver
				want := ttlv.Marshal(m.Value())
				var e ttlv.Encoder
				appendResponse(&e, &m)
				if !bytes.Equal(e.Bytes(), want) {
					t.Errorf("appendResponse =\n%x\nwant\n%x", e.Bytes(), want)
				}
			})
		}
	}
}
