package testtool

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Require skips t when err says a tool is missing, or fails it under
// KMIPD_REQUIRE_HSM=1. what names the tool for the message.
func Require(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("KMIPD_REQUIRE_HSM") == "1" {
		t.Fatalf("%s is required (KMIPD_REQUIRE_HSM=1): %v", what, err)
		return // Fatalf ends the test; the return keeps a stand-in TB from skipping as well
	}
	t.Skipf("%s not available: %v", what, err)
}

// Python returns the path of the python3 on PATH after checking that it
// can run importStatement (say "from cryptography.hazmat.primitives.serialization
// import pkcs12"); debPackage names the Debian package to install in the
// message. It calls Require otherwise.
func Python(t testing.TB, importStatement, debPackage string) string {
	t.Helper()
	python, err := exec.LookPath("python3")
	if err == nil {
		var out []byte
		// The statement is the test's own constant, not outside input.
		if out, err = exec.CommandContext(t.Context(), python, "-c", importStatement).CombinedOutput(); err != nil { //nolint:gosec // G204: see above
			err = errors.New(strings.TrimSpace(string(out)) + " (apt-get install " + debPackage + ")")
		}
	}
	Require(t, "python3 that can run "+importStatement, err)
	return python
}
