package kmip

import "testing"

// TestNegotiate follows KMIP 1.4 §11.1 (Table 327): within a major version
// a different minor version is served (a newer one in our newest minor of
// that major); another major version is a mismatch.
func TestNegotiate(t *testing.T) {
	tests := []struct {
		name      string
		requested ProtocolVersion
		want      ProtocolVersion
		wantOK    bool
	}{
		{"1.0", V1_0, V1_0, true},
		{"1.1", V1_1, V1_1, true},
		{"1.2", V1_2, V1_2, true},
		{"1.3", V1_3, V1_3, true},
		{"1.4", V1_4, V1_4, true},
		{"1.5 newer minor", ProtocolVersion{1, 5}, V1_4, true},
		{"1.9 newer minor", ProtocolVersion{1, 9}, V1_4, true},
		{"2.0", V2_0, V2_0, true},
		{"2.1", V2_1, V2_1, true},
		{"2.2 newer minor", ProtocolVersion{2, 2}, V2_1, true},
		{"2.9 newer minor", ProtocolVersion{2, 9}, V2_1, true},
		{"0.0 older major", ProtocolVersion{0, 0}, V1_0, false},
		{"0.9 older major", ProtocolVersion{0, 9}, V1_0, false},
		{"3.0 newer major", ProtocolVersion{3, 0}, V2_1, false},
		{"3.9 newer major", ProtocolVersion{3, 9}, V2_1, false},
		{"negative major", ProtocolVersion{-1, 0}, V1_0, false},
		{"negative minor", ProtocolVersion{1, -1}, V1_0, false},
		{"huge major", ProtocolVersion{1 << 30, 0}, V2_1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Negotiate(tt.requested)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Negotiate(%v) = %v, %v; want %v, %v", tt.requested, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestProtocolVersionOrder(t *testing.T) {
	tests := []struct {
		v, w          ProtocolVersion
		less, atLeast bool
	}{
		{V1_0, V1_0, false, true},
		{V1_0, V1_4, true, false},
		{V1_4, V2_0, true, false},
		{V2_1, V1_4, false, true},
		{ProtocolVersion{1, 10}, V2_0, true, false},
	}
	for _, tt := range tests {
		if got := tt.v.Less(tt.w); got != tt.less {
			t.Errorf("%v.Less(%v) = %v, want %v", tt.v, tt.w, got, tt.less)
		}
		if got := tt.v.AtLeast(tt.w); got != tt.atLeast {
			t.Errorf("%v.AtLeast(%v) = %v, want %v", tt.v, tt.w, got, tt.atLeast)
		}
	}
	// Discover Versions answers in this order (KMIP 1.4 §4.26: "in order of
	// preference, highest first").
	for i := 1; i < len(SupportedVersions); i++ {
		if !SupportedVersions[i].Less(SupportedVersions[i-1]) {
			t.Errorf("SupportedVersions not newest first at %d: %v", i, SupportedVersions)
		}
	}
	if got := (ProtocolVersion{2, 1}).String(); got != "2.1" {
		t.Errorf("String() = %q", got)
	}
}
