package main

import (
	"os"
	"runtime/debug"
	"testing"
)

// TestTuneGC checks that kmipd's GC target applies only when GOGC is not
// set: an operator's GOGC always wins.
func TestTuneGC(t *testing.T) {
	orig := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(orig) })
	tests := []struct {
		name  string
		gogc  string // "" leaves GOGC unset
		start int
		want  int
	}{
		{name: "unset", start: 100, want: defaultGCPercent},
		{name: "set by the operator", gogc: "150", start: 150, want: 150},
		{name: "set off", gogc: "off", start: -1, want: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.gogc == "" {
				t.Setenv("GOGC", "")
				unsetenv(t, "GOGC")
			} else {
				t.Setenv("GOGC", tt.gogc)
			}
			// The runtime read GOGC at start; stand in for that reading.
			debug.SetGCPercent(tt.start)
			tuneGC()
			if got := debug.SetGCPercent(tt.start); got != tt.want {
				t.Errorf("GC percent %d, want %d", got, tt.want)
			}
		})
	}
}

// unsetenv removes key for the rest of the test; t.Setenv before it
// restores the old value afterwards.
func unsetenv(t *testing.T, key string) {
	t.Helper()
	if err := os.Unsetenv(key); err != nil {
		t.Fatal(err)
	}
}
