package main

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kmipd/kmipd/certs"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// The TLS tests run the server's real TLS configuration (serverTLSConfig
// with its reloader) in-process in front of a kmip.Server, and talk to it
// with crypto/tls clients.

// tlsFixture is a PKI and the files serverTLSConfig reads.
type tlsFixture struct {
	pki                       *certs.PKI
	dir                       string
	certFile, keyFile, caFile string
}

func newTLSFixture(t *testing.T) *tlsFixture {
	t.Helper()
	pki, err := certs.NewTestPKI(certs.PKIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := &tlsFixture{pki: pki, dir: dir,
		certFile: filepath.Join(dir, "server.pem"), keyFile: filepath.Join(dir, "server-key.pem"), caFile: filepath.Join(dir, "ca.pem")}
	f.writeServerCert(t, pki)
	writeFile(t, f.caFile, pki.CAPEM())
	return f
}

// writeServerCert issues a new server certificate from pki into the files.
func (f *tlsFixture) writeServerCert(t *testing.T, pki *certs.PKI) *certs.Issued {
	t.Helper()
	srv, err := pki.IssueServer(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, f.certFile, srv.CertPEM)
	writeFile(t, f.keyFile, srv.KeyPEM)
	return srv
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	// Write then rename, as a deployment tool would: SIGHUP must never
	// see a half-written file.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// client returns a client configuration with a certificate of pki (with or
// without the clientAuth EKU) that trusts f's CA.
func (f *tlsFixture) client(t *testing.T, pki *certs.PKI, eku bool) *tls.Config {
	t.Helper()
	c, err := pki.IssueClient("tls-test-client", eku)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{c.Certificate},
		RootCAs:      f.pki.CAPool(),
		ServerName:   "localhost",
	}
}

// serveTLS runs a kmip.Server answering Discover Versions behind the
// reloader's configuration.
func serveTLS(t *testing.T, r *tlsReloader, allowMissingEKU bool) string {
	t.Helper()
	if err := r.load(); err != nil {
		t.Fatal(err)
	}
	mux := kmip.NewServeMux()
	mux.HandleFunc(kmip.OperationDiscoverVersions, kmip.DiscoverVersions)
	srv := &kmip.Server{Handler: mux}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(tls.NewListener(ln, r.serverTLSConfig(allowMissingEKU))) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, kmip.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

var discoverVersions14 = ttlv.Marshal(ttlv.Struct(kmip.TagRequestMessage,
	ttlv.Struct(kmip.TagRequestHeader, kmip.ProtocolVersionValue(kmip.V1_4), ttlv.Int(kmip.TagBatchCount, 1)),
	ttlv.Struct(kmip.TagBatchItem,
		ttlv.Enum(kmip.TagOperation, uint32(kmip.OperationDiscoverVersions)),
		ttlv.Struct(kmip.TagRequestPayload))))

// kmipCall connects, sends Discover Versions and reads the answer. With TLS
// 1.3 a client learns that the server refused its certificate only on its
// first read, so a handshake alone proves nothing.
func kmipCall(addr string, cfg *tls.Config) (*tls.ConnectionState, error) {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: cfg}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(discoverVersions14); err != nil {
		return nil, err
	}
	raw, err := ttlv.ReadMessage(c, nil, ttlv.Limits{})
	if err != nil {
		return nil, err
	}
	v, err := ttlv.Decode(raw, ttlv.Limits{})
	if err != nil {
		return nil, err
	}
	item, _ := v.Child(kmip.TagBatchItem)
	if st, _ := item.Child(kmip.TagResultStatus); kmip.ResultStatus(st.Enum()) != kmip.ResultStatusSuccess {
		return nil, errors.New("discover versions failed")
	}
	st := c.(*tls.Conn).ConnectionState()
	return &st, nil
}

// TestTLSClientEKU: by default the client certificate must carry the
// clientAuth EKU; tls-allow-client-without-eku accepts one without it
// (vCenter's). Either way the chain must lead to the configured CA.
func TestTLSClientEKU(t *testing.T) {
	f := newTLSFixture(t)
	other, err := certs.NewTestPKI(certs.PKIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	noCert := &tls.Config{RootCAs: f.pki.CAPool(), ServerName: "localhost"}
	tests := []struct {
		name     string
		client   *tls.Config
		strict   bool // accepted by default
		lenient  bool // accepted with allow-missing-EKU
		versions []uint16
	}{
		{"clientAuth EKU", f.client(t, f.pki, true), true, true, nil},
		{"no EKU", f.client(t, f.pki, false), false, true, nil},
		{"other CA", f.client(t, other, true), false, false, nil},
		{"other CA, no EKU", f.client(t, other, false), false, false, nil},
		{"no certificate", noCert, false, false, nil},
	}
	for _, allow := range []bool{false, true} {
		addr := serveTLS(t, &tlsReloader{certFile: f.certFile, keyFile: f.keyFile, caFile: f.caFile}, allow)
		for _, tt := range tests {
			for _, ver := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
				name := tt.name
				if allow {
					name += ", allow missing EKU"
				}
				name += map[uint16]string{tls.VersionTLS12: ", TLS 1.2", tls.VersionTLS13: ", TLS 1.3"}[ver]
				t.Run(name, func(t *testing.T) {
					cfg := tt.client.Clone()
					cfg.MinVersion, cfg.MaxVersion = ver, ver
					_, err := kmipCall(addr, cfg)
					want := tt.strict
					if allow {
						want = tt.lenient
					}
					if want && err != nil {
						t.Errorf("refused: %v", err)
					}
					if !want && err == nil {
						t.Error("accepted")
					}
				})
			}
		}
	}
}

// TestTLSRefusesOldVersions: KMIP 1.4 §8 and the profiles require TLS 1.2
// or later.
func TestTLSRefusesOldVersions(t *testing.T) {
	f := newTLSFixture(t)
	addr := serveTLS(t, &tlsReloader{certFile: f.certFile, keyFile: f.keyFile, caFile: f.caFile}, false)
	cfg := f.client(t, f.pki, true)
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	if _, err := kmipCall(addr, cfg); err == nil {
		t.Error("TLS 1.1 accepted")
	}
}

// TestTLSReload: after load (what SIGHUP runs), new connections get the new
// server certificate; a failed load keeps the old material.
func TestTLSReload(t *testing.T) {
	f := newTLSFixture(t)
	r := &tlsReloader{certFile: f.certFile, keyFile: f.keyFile, caFile: f.caFile}
	addr := serveTLS(t, r, false)
	client := f.client(t, f.pki, true)
	serial := func() string {
		t.Helper()
		st, err := kmipCall(addr, client)
		if err != nil {
			t.Fatal(err)
		}
		return st.PeerCertificates[0].SerialNumber.String()
	}
	first := serial()
	second := f.writeServerCert(t, f.pki)
	if got := serial(); got != first {
		t.Fatalf("certificate changed before the reload")
	}
	if err := r.load(); err != nil {
		t.Fatal(err)
	}
	if got := serial(); got != second.Certificate.Leaf.SerialNumber.String() {
		t.Errorf("after reload the server presents %s, want the new certificate %s", got, second.Certificate.Leaf.SerialNumber)
	}

	// A broken file: load fails, naming it, and the server keeps going
	// with what it had.
	writeFile(t, f.keyFile, []byte("not a key"))
	if err := r.load(); err == nil {
		t.Error("load accepted a broken key")
	}
	if got := serial(); got != second.Certificate.Leaf.SerialNumber.String() {
		t.Errorf("after a failed reload the server presents %s", got)
	}
	f.writeServerCert(t, f.pki)
	writeFile(t, f.caFile, []byte("no PEM here"))
	if err := r.load(); err == nil || !errorContains(err, f.caFile) {
		t.Errorf("load with a CA file without certificates: %v", err)
	}
}

func errorContains(err error, s string) bool {
	return err != nil && strings.Contains(err.Error(), s)
}

// TestTLSSessionResumption: a client with a session cache resumes its
// session on the next connection, in TLS 1.2 (tickets) and TLS 1.3 (PSK),
// in both EKU modes.
func TestTLSSessionResumption(t *testing.T) {
	f := newTLSFixture(t)
	for _, allow := range []bool{false, true} {
		addr := serveTLS(t, &tlsReloader{certFile: f.certFile, keyFile: f.keyFile, caFile: f.caFile}, allow)
		for _, ver := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			name := map[uint16]string{tls.VersionTLS12: "TLS 1.2", tls.VersionTLS13: "TLS 1.3"}[ver]
			if allow {
				name += ", allow missing EKU"
			}
			t.Run(name, func(t *testing.T) {
				cfg := f.client(t, f.pki, !allow)
				cfg.MinVersion, cfg.MaxVersion = ver, ver
				cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
				st, err := kmipCall(addr, cfg)
				if err != nil {
					t.Fatal(err)
				}
				if st.DidResume {
					t.Fatal("first connection resumed")
				}
				for i := range 2 {
					st, err = kmipCall(addr, cfg)
					if err != nil {
						t.Fatal(err)
					}
					if !st.DidResume {
						t.Errorf("connection %d did not resume", i+2)
					}
					if len(st.PeerCertificates) == 0 {
						t.Error("resumed connection without the server's certificate")
					}
				}
			})
		}
	}
}

// TestTLSResumptionAfterCAChange: a session resumed after a reload that
// drops the client's CA is refused, in both modes (with allow-missing-EKU
// the chain check is ours, in VerifyConnection, which Go runs on resumed
// handshakes too).
func TestTLSResumptionAfterCAChange(t *testing.T) {
	for _, allow := range []bool{false, true} {
		for _, ver := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			name := map[uint16]string{tls.VersionTLS12: "TLS 1.2", tls.VersionTLS13: "TLS 1.3"}[ver]
			if allow {
				name += ", allow missing EKU"
			}
			t.Run(name, func(t *testing.T) {
				f := newTLSFixture(t)
				r := &tlsReloader{certFile: f.certFile, keyFile: f.keyFile, caFile: f.caFile}
				addr := serveTLS(t, r, allow)
				cfg := f.client(t, f.pki, true)
				cfg.MinVersion, cfg.MaxVersion = ver, ver
				cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
				if _, err := kmipCall(addr, cfg); err != nil {
					t.Fatal(err)
				}
				other, err := certs.NewTestPKI(certs.PKIOptions{})
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, f.caFile, other.CAPEM())
				if err := r.load(); err != nil {
					t.Fatal(err)
				}
				if st, err := kmipCall(addr, cfg); err == nil {
					t.Errorf("client of a CA no longer trusted was served (resumed: %v)", st.DidResume)
				}
			})
		}
	}
}
