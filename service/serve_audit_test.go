package service

import (
	"context"
	"testing"

	"github.com/kmipd/kmipd/audit"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// auditRecorder is an Auditor that keeps what it is given.
type auditRecorder struct{ events []audit.Event }

func (r *auditRecorder) Log(_ context.Context, ev audit.Event) error {
	r.events = append(r.events, ev)
	return nil
}

// TestServeKMIPAuditsCorrelation: the choke point records every operation
// with the message's Server Correlation Value as its request_id (KMIP 1.4
// §6.19: "SHOULD be logged by the server with each request"), so a client
// holding the value finds its record.
func TestServeKMIPAuditsCorrelation(t *testing.T) {
	rec := &auditRecorder{}
	svc := New(WithAudit(rec))
	query := kmip.Payload(ttlv.Enum(kmip.TagQueryFunction, uint32(kmip.QueryFunctionQueryOperations)))
	tests := []struct {
		name   string
		header *kmip.RequestHeader
		want   string
	}{
		{"1.4 message", &kmip.RequestHeader{ServerCorrelationValue: "0a1b2c3d4e5f-7"}, "0a1b2c3d4e5f-7"},
		{"no header", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec.events = nil
			if _, err := svc.ServeKMIP(context.Background(), &kmip.Request{
				Version: kmip.V1_4, Header: tt.header, Operation: kmip.OperationQuery, Payload: query,
			}); err != nil {
				t.Fatal(err)
			}
			if len(rec.events) != 1 {
				t.Fatalf("%d audit events, want 1", len(rec.events))
			}
			ev := rec.events[0]
			if ev.RequestID != tt.want || ev.Operation != "Query" || ev.Result != "Success" {
				t.Errorf("audit event %+v, want request_id %q for a successful Query", ev, tt.want)
			}
		})
	}
}
