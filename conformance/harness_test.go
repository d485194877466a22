package conformance

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kmipd/kmipd/certs"
	"github.com/kmipd/kmipd/internal/testtool"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/service"
	"github.com/kmipd/kmipd/ttlv"
)

// ServerOptions configures StartServer. The zero value serves service.New()
// (Discover Versions and Query only: no store, no HSM) with an ECDSA P-256
// server certificate.
type ServerOptions struct {
	// Handler answers the batch items; nil means service.New().
	Handler kmip.Handler
	// KeyAlgorithm is the server certificate's key: certs.KeyECDSAP256
	// ("" means that) or certs.KeyRSA2048. The CA and the client
	// certificate use the same algorithm.
	KeyAlgorithm string
	// ClientCommonName is the CN of the client certificate; "" means
	// "conformance-client".
	ClientCommonName string
	// Configure, if set, adjusts the server (timeouts, limits) before it
	// starts.
	Configure func(*kmip.Server)
}

// Harness is a kmipd server running in-process on 127.0.0.1 behind mutual
// TLS, and the client material to reach it.
type Harness struct {
	// Addr is host:port.
	Addr string
	// ClientTLS is a ready client configuration: the client certificate
	// (with the clientAuth EKU) and the CA as the only root. Clone it
	// before changing it.
	ClientTLS *tls.Config
	// PKI is the CA that issued both certificates; issue more with it.
	PKI *certs.PKI
	// Client is the client certificate and key, also as PEM.
	Client *certs.Issued
	// Server is the running server.
	Server *kmip.Server
}

// StartServer starts a server for the test and stops it (Shutdown) in the
// test's cleanup. It returns once the server accepts connections.
func StartServer(t testing.TB, opts ServerOptions) *Harness {
	t.Helper()
	pki, err := certs.NewTestPKI(certs.PKIOptions{KeyAlgorithm: opts.KeyAlgorithm})
	if err != nil {
		t.Fatalf("test PKI: %v", err)
	}
	srvCert, err := pki.IssueServer(nil, "")
	if err != nil {
		t.Fatalf("server certificate: %v", err)
	}
	cn := opts.ClientCommonName
	if cn == "" {
		cn = "conformance-client"
	}
	cliCert, err := pki.IssueClient(cn, true)
	if err != nil {
		t.Fatalf("client certificate: %v", err)
	}
	handler := opts.Handler
	if handler == nil {
		handler = service.New()
	}
	srv := &kmip.Server{Handler: handler}
	if opts.Configure != nil {
		opts.Configure(srv)
	}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// KMIP 1.4 §8 and the profiles' TLS authentication suites: mutual
	// authentication, TLS 1.2 or later.
	serverTLS := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{srvCert.Certificate},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pki.CAPool(),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(tls.NewListener(ln, serverTLS)) }()
	select {
	case <-started:
	case err := <-serveErr:
		t.Fatalf("Serve: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start")
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-serveErr; !errors.Is(err, kmip.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return &Harness{
		Addr: ln.Addr().String(),
		ClientTLS: &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{cliCert.Certificate},
			RootCAs:      pki.CAPool(),
			ServerName:   "localhost",
		},
		PKI:    pki,
		Client: cliCert,
		Server: srv,
	}
}

// Dial opens a handshaken TLS connection, closed at the test's cleanup.
func (h *Harness) Dial(t testing.TB) *tls.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := tls.Dialer{Config: h.ClientTLS}
	c, err := d.DialContext(ctx, "tcp", h.Addr)
	if err != nil {
		t.Fatalf("dial %s: %v", h.Addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c.(*tls.Conn)
}

// RoundTrip sends one encoded request message on c and returns the raw
// response message.
func (h *Harness) RoundTrip(t testing.TB, c net.Conn, req []byte) []byte {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	defer func() { _ = c.SetDeadline(time.Time{}) }()
	if _, err := c.Write(req); err != nil {
		t.Fatalf("send request: %v", err)
	}
	resp, err := ttlv.ReadMessage(c, nil, ttlv.Limits{MaxMessageSize: 64 << 20})
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	return resp
}

// RoundTripValue is RoundTrip for a request built as a ttlv.Value; it
// returns the decoded response.
func (h *Harness) RoundTripValue(t testing.TB, c net.Conn, req ttlv.Value) ttlv.Value {
	t.Helper()
	raw := h.RoundTrip(t, c, ttlv.Marshal(req))
	v, err := ttlv.Decode(raw, ttlv.Limits{MaxMessageSize: 64 << 20})
	if err != nil {
		t.Fatalf("decode response: %v", err)
	}
	return v
}

// WriteClientFiles writes the CA certificate, the client certificate and
// its key (0600) as PEM files into dir, for clients run as programs.
func (h *Harness) WriteClientFiles(t testing.TB, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caFile = filepath.Join(dir, "ca.pem")
	certFile = filepath.Join(dir, "client.pem")
	keyFile = filepath.Join(dir, "client-key.pem")
	for _, f := range []struct {
		path string
		data []byte
		perm os.FileMode
	}{
		{caFile, h.PKI.CAPEM(), 0o644},
		{certFile, h.Client.CertPEM, 0o644},
		{keyFile, h.Client.KeyPEM, 0o600},
	} {
		if err := os.WriteFile(f.path, f.data, f.perm); err != nil {
			t.Fatal(err)
		}
	}
	return caFile, certFile, keyFile
}

// requireTool is testtool.Require: skip without the tool, fail under
// KMIPD_REQUIRE_HSM=1 (make test), so that CI cannot pass silently.
func requireTool(t testing.TB, what string, err error) {
	t.Helper()
	testtool.Require(t, what, err)
}

func TestHarness(t *testing.T) {
	for _, alg := range []string{certs.KeyECDSAP256, certs.KeyRSA2048} {
		t.Run(alg, func(t *testing.T) {
			h := StartServer(t, ServerOptions{KeyAlgorithm: alg})
			c := h.Dial(t)
			req := ttlv.Struct(kmip.TagRequestMessage,
				ttlv.Struct(kmip.TagRequestHeader, kmip.ProtocolVersionValue(kmip.V1_4), ttlv.Int(kmip.TagBatchCount, 1)),
				ttlv.Struct(kmip.TagBatchItem,
					ttlv.Enum(kmip.TagOperation, uint32(kmip.OperationDiscoverVersions)),
					ttlv.Struct(kmip.TagRequestPayload)))
			resp := h.RoundTripValue(t, c, req)
			item, ok := resp.Child(kmip.TagBatchItem)
			if !ok {
				t.Fatalf("no batch item in %v", resp)
			}
			if st, _ := item.Child(kmip.TagResultStatus); kmip.ResultStatus(st.Enum()) != kmip.ResultStatusSuccess {
				t.Fatalf("Discover Versions failed: %v", item)
			}
			st := c.ConnectionState()
			if len(st.PeerCertificates) == 0 || st.PeerCertificates[0].PublicKeyAlgorithm.String() == "" {
				t.Error("no server certificate")
			}
		})
	}
}
