package main

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kmipd/kmipd/certs"
	"github.com/kmipd/kmipd/hsmbackend/hsmtest"
)

// TestRoundTrips runs the server on a fresh SoftHSM token and measures a
// short window of each message size: every answer must come back whole,
// or runClient fails.
func TestRoundTrips(t *testing.T) {
	cfg := hsmtest.NewToken(t) // skips without SoftHSM unless KMIPD_REQUIRE_HSM=1
	dir := t.TempDir()
	pinFile := filepath.Join(dir, "user.pin")
	if err := os.WriteFile(pinFile, cfg.PIN.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	paths, err := certs.EnsureDev(filepath.Join(dir, "certs"), certs.DevOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := openHSM(cfg.ModulePath, cfg.TokenLabel, pinFile)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(paths.ServerCert, paths.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := loadPool(paths.Dir)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{cert}, ClientCAs: pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { _ = serve(ln, h) }()

	for _, tc := range []struct{ size, conns int }{{64, 1}, {4096, 3}} {
		rate, err := runClient(ln.Addr().String(), paths.Dir, tc.conns, tc.size, 100*time.Millisecond)
		if err != nil {
			t.Fatalf("size %d, %d connections: %v", tc.size, tc.conns, err)
		}
		if rate <= 0 {
			t.Errorf("size %d, %d connections: %v round trips/s", tc.size, tc.conns, rate)
		}
	}
	if _, err := runClient(ln.Addr().String(), paths.Dir, 1, 100, time.Millisecond); err == nil {
		t.Error("size 100 accepted; want an error")
	}
}
