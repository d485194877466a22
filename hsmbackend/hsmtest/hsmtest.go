package hsmtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/kmipd/kmipd/hsmbackend"
)

// Environment variables read by this package.
const (
	EnvModule     = "KMIPD_TEST_PKCS11_MODULE"
	EnvRequireHSM = "KMIPD_REQUIRE_HSM"
)

const dirPrefix = "kmipd-hsmtest-"

var (
	setupOnce sync.Once
	module    string // module path, "" if none
	setupErr  error  // set when a module exists but the setup failed
	skipWhy   string // set when no module was found
	counter   atomic.Uint64
)

func setup() {
	module = os.Getenv(EnvModule)
	if module == "" {
		m, err := hsmbackend.FindSoftHSMModule()
		if err != nil {
			skipWhy = fmt.Sprintf("no PKCS#11 module: %v; install softhsm2 or set %s (set %s=1 to make this a failure)", err, EnvModule, EnvRequireHSM)
			return
		}
		module = m
	} else if _, err := os.Stat(module); err != nil {
		setupErr = fmt.Errorf("hsmtest: %s=%s: %w", EnvModule, module, err)
		return
	}
	sweepStale()
	dir, err := os.MkdirTemp("", dirPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		setupErr = fmt.Errorf("hsmtest: %w", err)
		return
	}
	conf, err := hsmbackend.WriteSoftHSMConfig(dir)
	if err != nil {
		setupErr = fmt.Errorf("hsmtest: %w", err)
		return
	}
	// Set once, before any C_Initialize of this process; t.Setenv cannot be
	// used because it is per test and forbids parallel tests.
	if err := os.Setenv("SOFTHSM2_CONF", conf); err != nil {
		setupErr = fmt.Errorf("hsmtest: set SOFTHSM2_CONF: %w", err)
		return
	}
	// Keep the module initialised for the life of the test binary: without
	// this, every test that closes the last Backend finalises the module and
	// the next one re-initialises it, and SoftHSM reads every token of the
	// directory at C_Initialize. The keeper is never closed; process exit
	// releases it.
	label := fmt.Sprintf("keeper-%d", os.Getpid())
	if len(label) > 32 {
		label = label[:32]
	}
	pin := hsmbackend.NewSecret([]byte("keeper"))
	if err := hsmbackend.InitDevToken(module, label, pin, pin); err != nil {
		setupErr = fmt.Errorf("hsmtest: %w", err)
		return
	}
	if _, err := hsmbackend.Open(context.Background(), hsmbackend.Config{
		ModulePath: module, TokenLabel: label, PIN: pin, MaxSessions: 1, AllowMissingMasterKey: true,
	}); err != nil {
		setupErr = fmt.Errorf("hsmtest: %w", err)
	}
}

// sweepStale removes test directories of test binaries that have exited.
// Best effort: a directory that cannot be parsed or removed is left alone.
func sweepStale() {
	tmp := os.TempDir()
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return
	}
	for _, e := range entries {
		name, ok := strings.CutPrefix(e.Name(), dirPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		pidStr, _, ok := strings.Cut(name, "-")
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if processExists(pid) {
			continue
		}
		_ = os.RemoveAll(filepath.Join(tmp, e.Name()))
	}
}

func processExists(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	// EPERM: the process exists but belongs to someone else.
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Module returns the PKCS#11 module path the tests use, after setting up
// the test SoftHSM directory. It skips the test when no module is found,
// or fails it when KMIPD_REQUIRE_HSM=1.
func Module(t testing.TB) string {
	t.Helper()
	setupOnce.Do(setup)
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	if module == "" {
		if os.Getenv(EnvRequireHSM) == "1" {
			t.Fatal("hsmtest: " + skipWhy)
		}
		t.Skip("hsmtest: " + skipWhy)
	}
	return module
}

func randomPIN(t testing.TB) hsmbackend.Secret {
	t.Helper()
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	pin := []byte(hex.EncodeToString(b))
	s := hsmbackend.NewSecret(pin)
	clear(pin)
	return s
}

// NewToken initialises a new token without a master key and returns a
// Config for it (module, label, user PIN). Use it to test the `kmipd init`
// path; most tests want New or NewConfig.
func NewToken(t testing.TB) hsmbackend.Config {
	t.Helper()
	mod := Module(t)
	// Unique within the process (counter) and readable in failures (test
	// name is left out: labels are limited to 32 bytes).
	var r [4]byte
	_, _ = rand.Read(r[:])
	label := fmt.Sprintf("test-%d-%s", counter.Add(1), hex.EncodeToString(r[:]))
	so, user := randomPIN(t), randomPIN(t)
	defer so.Clear()
	if err := hsmbackend.InitDevToken(mod, label, so, user); err != nil {
		t.Fatalf("hsmtest: init token: %v", err)
	}
	return hsmbackend.Config{ModulePath: mod, TokenLabel: label, PIN: user}
}

// NewConfig initialises a new token with a master key and returns a Config
// for it; the caller opens (and closes) the Backend itself.
func NewConfig(t testing.TB) hsmbackend.Config {
	t.Helper()
	cfg := NewToken(t)
	init := cfg
	init.AllowMissingMasterKey = true
	b, err := hsmbackend.Open(context.Background(), init)
	if err != nil {
		t.Fatalf("hsmtest: open new token: %v", err)
	}
	defer func() {
		if err := b.Close(); err != nil {
			t.Errorf("hsmtest: close after creating the master key: %v", err)
		}
	}()
	if err := b.CreateMasterKey(context.Background()); err != nil {
		t.Fatalf("hsmtest: create master key: %v", err)
	}
	return cfg
}

// New returns an open Backend on a fresh token with a master key. It is
// closed when the test ends.
func New(t testing.TB) *hsmbackend.Backend {
	t.Helper()
	b, _ := NewWithConfig(t)
	return b
}

// NewWithConfig is New that also returns the token's Config, e.g. to open
// a second Backend on the same token.
func NewWithConfig(t testing.TB) (*hsmbackend.Backend, hsmbackend.Config) {
	t.Helper()
	cfg := NewToken(t)
	init := cfg
	init.AllowMissingMasterKey = true
	b, err := hsmbackend.Open(context.Background(), init)
	if err != nil {
		t.Fatalf("hsmtest: open new token: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("hsmtest: close: %v", err)
		}
	})
	if err := b.CreateMasterKey(context.Background()); err != nil {
		t.Fatalf("hsmtest: create master key: %v", err)
	}
	return b, cfg
}
