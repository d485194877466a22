package conformance

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/kmipd/kmipd/audit"
	"github.com/kmipd/kmipd/certs"
	"github.com/kmipd/kmipd/hsmbackend"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/service"
)

// vectorTLS is the PKI the vector servers and their client share.
type vectorTLS struct {
	server *tls.Config
	client *tls.Config
}

func newVectorTLS(t testing.TB) *vectorTLS {
	t.Helper()
	pki, err := certs.NewTestPKI(certs.PKIOptions{})
	if err != nil {
		t.Fatalf("conformance: test PKI: %v", err)
	}
	srv, err := pki.IssueServer([]string{"127.0.0.1"}, "")
	if err != nil {
		t.Fatalf("conformance: server certificate: %v", err)
	}
	cli, err := pki.IssueClient("conformance-runner", true)
	if err != nil {
		t.Fatalf("conformance: client certificate: %v", err)
	}
	return &vectorTLS{
		// KMIP 1.4 §8 (and the TLS profiles): mutual authentication.
		server: &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{srv.Certificate},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    pki.CAPool(),
		},
		client: &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{cli.Certificate},
			RootCAs:      pki.CAPool(),
			ServerName:   "127.0.0.1",
		},
	}
}

// vectorServer is a kmipd serving one vector file (or one series of
// them): the real service over a fresh bbolt store and audit log, on a
// shared HSM token, behind real TLS on 127.0.0.1:0 (rules clean-store and
// series).
type vectorServer struct {
	addr  string
	srv   *kmip.Server
	store *objects.BoltStore
	audit *audit.Logger
	errc  chan error
}

var vectorServerSeq atomic.Int64

// startVectorServer starts a server whose files live in dataDir, which
// may outlive t (a series spans several subtests).
func startVectorServer(t testing.TB, dataDir string, hsm *hsmbackend.Backend, tc *vectorTLS) *vectorServer {
	t.Helper()
	dir := filepath.Join(dataDir, "srv"+strconv.FormatInt(vectorServerSeq.Add(1), 10))
	store, err := objects.Open(dir+".db", objects.Options{})
	if err != nil {
		t.Fatalf("conformance: open store: %v", err)
	}
	key, err := audit.GenerateKeyFile(dir + ".audit-key")
	if err != nil {
		t.Fatalf("conformance: audit key: %v", err)
	}
	sink, err := audit.OpenFileSink(dir + ".audit.log")
	if err != nil {
		t.Fatalf("conformance: audit log: %v", err)
	}
	al, err := audit.New(sink, key)
	key.Clear()
	if err != nil {
		t.Fatalf("conformance: audit: %v", err)
	}
	svc := service.New(
		service.WithStore(store),
		service.WithHSM(hsm),
		service.WithAudit(al),
		service.WithLogger(hclog.NewNullLogger()),
		// The 2.0 test cases begin and end with Interop (test control).
		service.WithInteropTesting(),
	)
	started := make(chan struct{})
	vs := &vectorServer{store: store, audit: al, errc: make(chan error, 1)}
	vs.srv = &kmip.Server{Handler: svc, NotifyStartedFunc: func() { close(started) }}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("conformance: listen: %v", err)
	}
	vs.addr = ln.Addr().String()
	go func() { vs.errc <- vs.srv.Serve(tls.NewListener(ln, tc.server)) }()
	select {
	case <-started:
	case err := <-vs.errc:
		t.Fatalf("conformance: serve: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("conformance: server did not start")
	}
	return vs
}

// stop shuts the server down and closes its store and audit log.
func (vs *vectorServer) stop(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := vs.srv.Shutdown(ctx); err != nil {
		t.Errorf("conformance: shutdown: %v", err)
	}
	if err := <-vs.errc; err != nil && !errors.Is(err, kmip.ErrServerClosed) {
		t.Errorf("conformance: serve: %v", err)
	}
	if err := vs.store.Close(); err != nil {
		t.Errorf("conformance: close store: %v", err)
	}
	if err := vs.audit.Close(); err != nil {
		t.Errorf("conformance: close audit log: %v", err)
	}
}

// dial connects to the server with the client certificate.
func (vs *vectorServer) dial(tc *vectorTLS) func(ctx context.Context) (net.Conn, error) {
	return func(ctx context.Context) (net.Conn, error) {
		d := tls.Dialer{Config: tc.client}
		return d.DialContext(ctx, "tcp", vs.addr)
	}
}
