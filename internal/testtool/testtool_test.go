package testtool

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// recorder stands in for a testing.TB and records what Require asked of it.
type recorder struct {
	testing.TB // nil: only the methods below are called
	fatal      string
	skip       string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Fatalf(format string, args ...any) { r.fatal = fmt.Sprintf(format, args...) }
func (r *recorder) Skipf(format string, args ...any)  { r.skip = fmt.Sprintf(format, args...) }

func TestRequire(t *testing.T) {
	missing := errors.New("no such tool")
	tests := []struct {
		name      string
		require   string // KMIPD_REQUIRE_HSM
		err       error
		wantFatal bool
		wantSkip  bool
	}{
		{name: "tool present", require: "1", err: nil},
		{name: "missing on a developer's machine", require: "", err: missing, wantSkip: true},
		{name: "missing in CI", require: "1", err: missing, wantFatal: true},
		{name: "other values do not require", require: "yes", err: missing, wantSkip: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("KMIPD_REQUIRE_HSM", tt.require)
			r := &recorder{}
			Require(r, "frobnicator", tt.err)
			if (r.fatal != "") != tt.wantFatal || (r.skip != "") != tt.wantSkip {
				t.Fatalf("fatal %q, skip %q; want fatal %v, skip %v", r.fatal, r.skip, tt.wantFatal, tt.wantSkip)
			}
			for _, msg := range []string{r.fatal, r.skip} {
				if msg != "" && (!strings.Contains(msg, "frobnicator") || !strings.Contains(msg, "no such tool")) {
					t.Errorf("message %q does not name the tool and the reason", msg)
				}
			}
		})
	}
}
