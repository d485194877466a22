package conformance

import (
	"testing"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// TestEchoClock checks rule echoed-reference-clock: a request's literal
// date that a response showed first is replaced by the server's value;
// other dates are sent as written.
func TestEchoClock(t *testing.T) {
	ref := time.Date(2018, 12, 19, 9, 24, 26, 0, time.UTC)
	other := time.Date(2000, 2, 1, 14, 0, 0, 0, time.UTC)
	server := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name   string
		sent   time.Time
		echoed bool
		bound  bool
		want   time.Time
	}{
		{name: "echoed and bound", sent: ref, echoed: true, bound: true, want: server},
		{name: "echoed, nothing bound yet", sent: ref, echoed: true, want: ref},
		{name: "a date the requests sent first", sent: other, bound: true, want: other},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBindings()
			if tt.bound {
				b.clock[ttlv.DateTime(0, ref).Raw64()] = ttlv.DateTime(kmip.TagInitialDate, server)
				b.clock[ttlv.DateTime(0, other).Raw64()] = ttlv.DateTime(kmip.TagInitialDate, server)
			}
			echoed := map[uint64]bool{}
			if tt.echoed {
				echoed[ttlv.DateTime(0, tt.sent).Raw64()] = true
			}
			req := ttlv.Struct(kmip.TagRequestPayload, ttlv.Struct(kmip.TagAttributes, ttlv.DateTime(kmip.TagLastChangeDate, tt.sent)))
			got := b.echoClock(req, echoed)
			attrs, _ := got.Child(kmip.TagAttributes)
			d, ok := attrs.Child(kmip.TagLastChangeDate)
			if !ok {
				t.Fatalf("request lost its date: %v", got)
			}
			if !d.Time().Equal(tt.want) {
				t.Errorf("sent %v, want %v", d.Time(), tt.want)
			}
		})
	}
}
