package hsmtest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/kmipd/kmipd/hsmbackend"
)

func TestNew(t *testing.T) {
	b1, cfg := NewWithConfig(t)
	b2 := New(t)
	if b1.Slot() == b2.Slot() {
		t.Fatal("two tokens share a slot")
	}
	// The Config opens the same token again.
	b3, err := hsmbackend.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b3.Close()
	if b3.Slot() != b1.Slot() {
		t.Fatal("Config names another token")
	}
	if _, err := b1.GenerateSecret(context.Background(), hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 128}); err != nil {
		t.Fatal(err)
	}
	if got := os.Getenv("SOFTHSM2_CONF"); !strings.Contains(got, dirPrefix) {
		t.Errorf("SOFTHSM2_CONF = %q", got)
	}
}

// A module named by the environment that does not exist is a failure,
// never a skip.
func TestMissingModuleFails(t *testing.T) {
	if os.Getenv("HSMTEST_CHILD") == "1" {
		Module(t)
		return
	}
	if testing.Short() {
		t.Skip("runs the test binary again")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMissingModuleFails$", "-test.v")
	cmd.Env = append(os.Environ(), "HSMTEST_CHILD=1", EnvModule+"=/nonexistent/libnothing.so")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("child passed:\n%s", out)
	}
	if !strings.Contains(string(out), EnvModule) || strings.Contains(string(out), "SKIP") {
		t.Fatalf("child output:\n%s", out)
	}
}
