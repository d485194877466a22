package service

import (
	"context"
	"testing"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// TestInterop: the Interop test-control operation (KMIP 2.0 §6.1.25) exists
// only when asked for, answers an empty payload, and checks its fields.
func TestInterop(t *testing.T) {
	payload := kmip.Payload
	fn := func(f kmip.InteropFunction) ttlv.Value { return ttlv.Enum(kmip.TagInteropFunction, uint32(f)) }
	id := ttlv.Text(kmip.TagInteropIdentifier, "TC-SETATTR-1-20")
	tests := []struct {
		name    string
		enabled bool
		payload ttlv.Value
		want    kmip.ResultReason // 0: success
	}{
		{"begin", true, payload(fn(kmip.InteropFunctionBegin), id), 0},
		{"end", true, payload(fn(kmip.InteropFunctionEnd), id), 0},
		{"reset", true, payload(fn(kmip.InteropFunctionReset), id), 0},
		{"no function", true, payload(id), kmip.ResultReasonInvalidField},
		{"unknown function", true, payload(fn(9), id), kmip.ResultReasonInvalidField},
		{"no identifier", true, payload(fn(kmip.InteropFunctionBegin)), kmip.ResultReasonInvalidField},
		{"production server", false, payload(fn(kmip.InteropFunctionBegin), id), kmip.ResultReasonOperationNotSupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []Option
			if tt.enabled {
				opts = append(opts, WithInteropTesting())
			}
			got, err := New(opts...).ServeKMIP(context.Background(), &kmip.Request{
				Version: kmip.V2_0, Operation: kmip.OperationInterop, Payload: tt.payload,
			})
			if tt.want != 0 {
				if kmip.ReasonOf(err) != tt.want {
					t.Fatalf("Interop: %v, want %v", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Interop: %v", err)
			}
			if got.Tag != kmip.TagResponsePayload || len(got.Children()) != 0 {
				t.Errorf("Interop answered %v, want an empty Response Payload", got)
			}
		})
	}
}
