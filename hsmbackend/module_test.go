package hsmbackend_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kmipd/kmipd/hsmbackend"
	"github.com/kmipd/kmipd/hsmbackend/hsmtest"
)

func TestWriteSoftHSMConfig(t *testing.T) {
	dir := t.TempDir()
	conf, err := hsmbackend.WriteSoftHSMConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "softhsm", "softhsm2.conf"); conf != want {
		t.Errorf("path = %s, want %s", conf, want)
	}
	body, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"directories.tokendir = " + filepath.Join(dir, "softhsm", "tokens") + "\n",
		"objectstore.backend = file\n",
		"log.level = ERROR\n",
	} {
		if !strings.Contains(string(body), line) {
			t.Errorf("config lacks %q:\n%s", line, body)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, "softhsm", "tokens"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("token dir mode %v, want 0700", fi.Mode().Perm())
	}
	// Writing again is fine (kmipd dev reruns).
	if _, err := hsmbackend.WriteSoftHSMConfig(dir); err != nil {
		t.Fatal(err)
	}
}

func TestInitDevToken(t *testing.T) {
	mod := hsmtest.Module(t)
	existing := hsmtest.NewToken(t)
	pin := hsmbackend.NewSecret([]byte("1234"))
	tests := []struct {
		name    string
		label   string
		so, usr hsmbackend.Secret
		wantErr error
	}{
		{name: "duplicate label", label: existing.TokenLabel, so: pin, usr: pin, wantErr: hsmbackend.ErrTokenExists},
		{name: "long label", label: strings.Repeat("l", 33), so: pin, usr: pin, wantErr: hsmbackend.ErrInvalidSpec},
		{name: "empty label", label: "", so: pin, usr: pin, wantErr: hsmbackend.ErrInvalidSpec},
		{name: "trailing blank", label: "dev ", so: pin, usr: pin, wantErr: hsmbackend.ErrInvalidSpec},
		{name: "empty SO PIN", label: "dev-nopin", usr: pin, wantErr: hsmbackend.ErrInvalidSpec},
		{name: "bad module", label: "dev-x", so: pin, usr: pin, wantErr: hsmbackend.ErrModuleLoad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mod
			if tt.name == "bad module" {
				m = filepath.Join(t.TempDir(), "missing.so")
			}
			err := hsmbackend.InitDevToken(m, tt.label, tt.so, tt.usr)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("InitDevToken: %v, want %v", err, tt.wantErr)
			}
		})
	}

	// A fresh dev token takes the user PIN and starts without a master key.
	// The module (and its tokens) outlive one run of the test under
	// -count=N: the label carries the run's number.
	label := fmt.Sprintf("dev-%d-%s", initDevTokenRuns.Add(1), strings.ReplaceAll(t.Name(), "/", "-"))
	if len(label) > 32 {
		label = label[:32]
	}
	if err := hsmbackend.InitDevToken(mod, label, hsmbackend.NewSecret([]byte("so-pin")), pin); err != nil {
		t.Fatal(err)
	}
	cfg := hsmbackend.Config{ModulePath: mod, TokenLabel: label, PIN: pin}
	if _, err := hsmbackend.Open(context.Background(), cfg); !errors.Is(err, hsmbackend.ErrMasterKeyMissing) {
		t.Fatalf("Open new dev token: %v", err)
	}
	cfg.PIN = hsmbackend.NewSecret([]byte("so-pin"))
	if _, err := hsmbackend.Open(context.Background(), cfg); !errors.Is(err, hsmbackend.ErrPINIncorrect) {
		t.Fatalf("Open with the SO PIN as user PIN: %v", err)
	}
}

// initDevTokenRuns numbers the runs of TestInitDevToken in this process.
var initDevTokenRuns atomic.Int32

func TestFindSoftHSMModule(t *testing.T) {
	hsmtest.Module(t) // skips without SoftHSM
	if os.Getenv(hsmtest.EnvModule) != "" {
		t.Skip("module given by environment")
	}
	p, err := hsmbackend.FindSoftHSMModule()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p, "softhsm2") {
		t.Errorf("path %s", p)
	}
}
