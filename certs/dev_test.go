package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var allFiles = []string{CACertFile, CAKeyFile, ServerCertFile, ServerKeyFile, ClientCertFile, ClientKeyFile}

func mustEnsureDev(t *testing.T, dir string, opts DevOptions) DevPaths {
	t.Helper()
	p, err := EnsureDev(dir, opts)
	if err != nil {
		t.Fatalf("EnsureDev(%s): %v", dir, err)
	}
	return p
}

func readAll(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := make(map[string][]byte)
	for _, name := range allFiles {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}
	return out
}

func TestEnsureDevCreates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "var", "certs")
	p := mustEnsureDev(t, dir, DevOptions{Hosts: []string{"kmip.example.test", "192.0.2.7"}})

	slices.Sort(p.Created)
	want := slices.Clone(allFiles)
	slices.Sort(want)
	if !slices.Equal(p.Created, want) {
		t.Errorf("Created = %v, want %v", p.Created, want)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != dirPerm {
		t.Errorf("dir mode %#o, want %#o", got, dirPerm)
	}
	for _, name := range allFiles {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		want := fs.FileMode(certPerm)
		if strings.HasSuffix(name, "-key.pem") {
			want = keyPerm
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode %#o, want %#o", name, got, want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(allFiles) {
		t.Errorf("dir holds %d entries, want %d (temporary files left behind?)", len(entries), len(allFiles))
	}

	pool, server, client := loadDev(t, p)
	if _, err := server.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("server.pem does not verify for serverAuth: %v", err)
	}
	if _, err := client.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client.pem does not verify for clientAuth: %v", err)
	}
	if _, err := client.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Error("client.pem verifies for serverAuth")
	}
	for _, h := range []string{"localhost", "127.0.0.1", "::1", "kmip.example.test", "192.0.2.7"} {
		if err := server.VerifyHostname(h); err != nil {
			t.Errorf("server.pem: %v", err)
		}
	}
	if client.Subject.CommonName != DevClientCommonName {
		t.Errorf("client CN %q, want %q", client.Subject.CommonName, DevClientCommonName)
	}
	if _, ok := server.PublicKey.(*ecdsa.PublicKey); !ok {
		t.Errorf("default server key %T, want ECDSA", server.PublicKey)
	}
}

// loadDev loads the PEM files as a TLS server and client would.
func loadDev(t *testing.T, p DevPaths) (*x509.CertPool, *x509.Certificate, *x509.Certificate) {
	t.Helper()
	caPEM, err := os.ReadFile(p.CACert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.pem holds no certificate")
	}
	leaf := func(cert, key string) *x509.Certificate {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			t.Fatalf("LoadX509KeyPair(%s): %v", cert, err)
		}
		return pair.Leaf
	}
	return pool, leaf(p.ServerCert, p.ServerKey), leaf(p.ClientCert, p.ClientKey)
}

func TestEnsureDevReusesBytes(t *testing.T) {
	dir := t.TempDir()
	mustEnsureDev(t, dir, DevOptions{Hosts: []string{"kmip.example.test"}})
	before := readAll(t, dir)
	// A subset of the original hosts is still covered.
	p := mustEnsureDev(t, dir, DevOptions{})
	if len(p.Created) != 0 {
		t.Errorf("second run created %v, want nothing", p.Created)
	}
	after := readAll(t, dir)
	for _, name := range allFiles {
		if !bytes.Equal(before[name], after[name]) {
			t.Errorf("%s changed on reuse", name)
		}
	}
}

func TestEnsureDevReissuesMissingLeaf(t *testing.T) {
	tests := []struct {
		name   string
		remove []string
		want   []string
	}{
		{name: "server cert", remove: []string{ServerCertFile}, want: []string{ServerCertFile, ServerKeyFile}},
		{name: "server key", remove: []string{ServerKeyFile}, want: []string{ServerCertFile, ServerKeyFile}},
		{name: "both client files", remove: []string{ClientCertFile, ClientKeyFile}, want: []string{ClientCertFile, ClientKeyFile}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			mustEnsureDev(t, dir, DevOptions{})
			before := readAll(t, dir)
			for _, name := range tc.remove {
				if err := os.Remove(filepath.Join(dir, name)); err != nil {
					t.Fatal(err)
				}
			}
			p := mustEnsureDev(t, dir, DevOptions{})
			slices.Sort(p.Created)
			slices.Sort(tc.want)
			if !slices.Equal(p.Created, tc.want) {
				t.Errorf("Created = %v, want %v", p.Created, tc.want)
			}
			after := readAll(t, dir)
			for _, name := range allFiles {
				changed := !bytes.Equal(before[name], after[name])
				if changed != slices.Contains(tc.want, name) {
					t.Errorf("%s changed = %v, want %v", name, changed, !changed)
				}
			}
			pool, server, client := loadDev(t, p)
			for _, c := range []*x509.Certificate{server, client} {
				if _, err := c.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
					t.Errorf("%s: %v", c.Subject.CommonName, err)
				}
			}
		})
	}
}

func TestEnsureDevRSA(t *testing.T) {
	if testing.Short() {
		t.Skip("RSA key generation is slow")
	}
	dir := t.TempDir()
	p := mustEnsureDev(t, dir, DevOptions{KeyAlgorithm: KeyRSA2048})
	pool, server, client := loadDev(t, p)
	for _, c := range []*x509.Certificate{server, client} {
		if k, ok := c.PublicKey.(*rsa.PublicKey); !ok || k.N.BitLen() != 2048 {
			t.Errorf("%s key %T, want RSA 2048", c.Subject.CommonName, c.PublicKey)
		}
	}
	if _, err := server.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Error(err)
	}
	// A leaf re-issued without an explicit algorithm follows the CA's.
	if err := os.Remove(p.ServerCert); err != nil {
		t.Fatal(err)
	}
	p = mustEnsureDev(t, dir, DevOptions{})
	_, server, _ = loadDev(t, p)
	if _, ok := server.PublicKey.(*rsa.PublicKey); !ok {
		t.Errorf("re-issued server key %T, want RSA like the CA", server.PublicKey)
	}
}

// TestEnsureDevHandshake serves the written files over TLS, the way
// `kmipd serve` with the dev certificates will.
func TestEnsureDevHandshake(t *testing.T) {
	p := mustEnsureDev(t, t.TempDir(), DevOptions{})
	pool, _, _ := loadDev(t, p)
	server, err := tls.LoadX509KeyPair(p.ServerCert, p.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	client, err := tls.LoadX509KeyPair(p.ClientCert, p.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	cn, err := handshake(t,
		&tls.Config{Certificates: []tls.Certificate{server}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, MinVersion: tls.VersionTLS12},
		&tls.Config{Certificates: []tls.Certificate{client}, RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12},
	)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if cn != DevClientCommonName {
		t.Errorf("client CN %q, want %q", cn, DevClientCommonName)
	}
}

func TestEnsureDevRejects(t *testing.T) {
	foreign := mustPKI(t, KeyECDSAP256)
	foreignClient := mustIssue(t)(foreign.IssueClient(DevClientCommonName, true))

	tests := []struct {
		name    string
		opts    DevOptions
		damage  func(t *testing.T, dir string) // runs after a good first EnsureDev; nil: fresh dir
		wantMsg string
	}{
		{name: "unknown key algorithm", opts: DevOptions{KeyAlgorithm: "ed25519"}, wantMsg: "unknown key algorithm"},
		{name: "bad host", opts: DevOptions{Hosts: []string{"a b"}}, wantMsg: `host "a b"`},
		{name: "corrupt CA", damage: write(CACertFile, []byte("not pem"), certPerm), wantMsg: CACertFile},
		{name: "CA key missing", damage: remove(CAKeyFile), wantMsg: CAKeyFile + " is missing"},
		{name: "CA missing with leaves", damage: remove(CACertFile, CAKeyFile), wantMsg: "CA that issued it"},
		{name: "CA key readable by others", damage: chmod(CAKeyFile, 0o644), wantMsg: "chmod 600"},
		{name: "leaf key readable by others", damage: chmod(ClientKeyFile, 0o640), wantMsg: "chmod 600"},
		{name: "leaf from another CA", damage: func(t *testing.T, dir string) {
			write(ClientCertFile, foreignClient.CertPEM, certPerm)(t, dir)
			write(ClientKeyFile, foreignClient.KeyPEM, keyPerm)(t, dir)
		}, wantMsg: "does not verify"},
		{name: "leaf key mismatch", damage: func(t *testing.T, dir string) {
			write(ClientKeyFile, foreignClient.KeyPEM, keyPerm)(t, dir)
		}, wantMsg: "delete both"},
		{name: "server cert for the wrong usage", damage: func(t *testing.T, dir string) {
			b, err := os.ReadFile(filepath.Join(dir, ClientCertFile))
			if err != nil {
				t.Fatal(err)
			}
			k, err := os.ReadFile(filepath.Join(dir, ClientKeyFile))
			if err != nil {
				t.Fatal(err)
			}
			write(ServerCertFile, b, certPerm)(t, dir)
			write(ServerKeyFile, k, keyPerm)(t, dir)
		}, wantMsg: "does not verify"},
		{name: "new host not covered", opts: DevOptions{Hosts: []string{"new.example.test"}}, damage: func(*testing.T, string) {}, wantMsg: `does not cover host "new.example.test"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.damage != nil {
				mustEnsureDev(t, dir, DevOptions{})
				tc.damage(t, dir)
			}
			_, err := EnsureDev(dir, tc.opts)
			if err == nil {
				t.Fatal("EnsureDev succeeded, want error")
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tc.wantMsg)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Errorf("error leaks key material: %q", err)
			}
		})
	}
}

func write(name string, data []byte, perm fs.FileMode) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), data, perm); err != nil {
			t.Fatal(err)
		}
	}
}

func remove(names ...string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		for _, n := range names {
			if err := os.Remove(filepath.Join(dir, n)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func chmod(name string, perm fs.FileMode) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		if err := os.Chmod(filepath.Join(dir, name), perm); err != nil {
			t.Fatal(err)
		}
	}
}
