package kmip

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kmipd/kmipd/certs"
	"github.com/kmipd/kmipd/ttlv"
)

// The server tests run the real Server over real mutual TLS on 127.0.0.1:0,
// in the manner of miekg/dns's server tests: a started server per test,
// bad input written on raw connections, and a check that no connection
// goroutine outlives Shutdown.

// Operations of the server tests' mux, besides Discover Versions and Query.
const (
	opSlow  = OperationCancel // blocks until released or its context ends
	opPeer  = OperationCheck  // answers the client certificate's CN
	opSleep = OperationPoll   // sleeps 300ms
)

var (
	testPKIOnce sync.Once
	testPKIVal  *certs.PKI
	testSrvCert *certs.Issued
	testCliCert *certs.Issued
	testPKIErr  error
)

// testTLS returns a server and a client TLS configuration from one test PKI
// (ECDSA P-256), shared by the package's tests.
func testTLS(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	testPKIOnce.Do(func() {
		testPKIVal, testPKIErr = certs.NewTestPKI(certs.PKIOptions{})
		if testPKIErr != nil {
			return
		}
		if testSrvCert, testPKIErr = testPKIVal.IssueServer(nil, ""); testPKIErr != nil {
			return
		}
		testCliCert, testPKIErr = testPKIVal.IssueClient("test-client", true)
	})
	if testPKIErr != nil {
		t.Fatalf("test PKI: %v", testPKIErr)
	}
	server = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{testSrvCert.Certificate},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    testPKIVal.CAPool(),
	}
	client = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{testCliCert.Certificate},
		RootCAs:      testPKIVal.CAPool(),
		ServerName:   "localhost",
	}
	return server, client
}

// testServer is a running Server and what a test needs to talk to it.
type testServer struct {
	srv      *Server
	addr     string
	client   *tls.Config
	serveErr chan error
	// entered receives once per opSlow call, when the handler starts.
	entered chan struct{}
	// release, once closed, lets opSlow handlers return.
	release     chan struct{}
	releaseOnce sync.Once
}

func (ts *testServer) releaseSlow() { ts.releaseOnce.Do(func() { close(ts.release) }) }

// startServer serves srv (its Handler set to the test mux unless given) on
// 127.0.0.1:0 over mutual TLS. Cleanup shuts it down and checks that Serve
// returned ErrServerClosed.
func startServer(t *testing.T, srv *Server) *testServer {
	t.Helper()
	serverTLS, clientTLS := testTLS(t)
	ts := &testServer{srv: srv, client: clientTLS, serveErr: make(chan error, 1), entered: make(chan struct{}, 16), release: make(chan struct{})}
	if srv.Handler == nil {
		srv.Handler = ts.mux()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { ts.serveErr <- srv.Serve(tls.NewListener(ln, serverTLS)) }()
	select {
	case <-started:
	case err := <-ts.serveErr:
		t.Fatalf("Serve: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("server did not start")
	}
	t.Cleanup(func() {
		ts.releaseSlow()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		select {
		case err := <-ts.serveErr:
			if !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Shutdown")
		}
	})
	return ts
}

func (ts *testServer) mux() *ServeMux {
	mux := NewServeMux()
	info := &ServerInfo{Operations: mux.Operations, VendorIdentification: "kmipd-test"}
	mux.HandleFunc(OperationDiscoverVersions, DiscoverVersions)
	mux.Handle(OperationQuery, QueryHandler(info))
	mux.HandleFunc(opSlow, func(ctx context.Context, _ *Request) (ttlv.Value, error) {
		ts.entered <- struct{}{}
		select {
		case <-ts.release:
			return Payload(ttlv.Text(TagUniqueIdentifier, "slow done")), nil
		case <-ctx.Done():
			return ttlv.Value{}, ctx.Err()
		}
	})
	mux.HandleFunc(opSleep, func(context.Context, *Request) (ttlv.Value, error) {
		time.Sleep(300 * time.Millisecond)
		return Payload(), nil
	})
	mux.HandleFunc(opPeer, func(ctx context.Context, _ *Request) (ttlv.Value, error) {
		info := ConnInfoFrom(ctx)
		if info == nil || len(info.PeerCertificates) == 0 || info.TLS == nil || info.RemoteAddr == nil {
			return ttlv.Value{}, Errorf(ResultReasonPermissionDenied, "no peer certificate")
		}
		return Payload(ttlv.Text(TagUniqueIdentifier, info.PeerCertificates[0].Subject.CommonName)), nil
	})
	return mux
}

// dial opens a handshaken TLS connection to the server.
func (ts *testServer) dial(t *testing.T) *tls.Conn {
	t.Helper()
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: ts.client}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", ts.addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c.(*tls.Conn)
}

// readMessage reads one TTLV message within d.
func readMessage(c net.Conn, d time.Duration) ([]byte, error) {
	_ = c.SetReadDeadline(time.Now().Add(d))
	defer func() { _ = c.SetReadDeadline(time.Time{}) }()
	return ttlv.ReadMessage(c, nil, ttlv.Limits{MaxMessageSize: 16 << 20})
}

// roundTrip sends req and decodes the answer.
func roundTrip(t *testing.T, c net.Conn, req []byte) *respMessage {
	t.Helper()
	if _, err := c.Write(req); err != nil {
		t.Fatalf("write: %v", err)
	}
	raw, err := readMessage(c, 10*time.Second)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	return mustDecodeResponse(t, raw)
}

// wantClosed checks that the server closes c within d without sending
// anything more.
func wantClosed(t *testing.T, c net.Conn, d time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(d))
	n, err := c.Read(make([]byte, 1))
	var ne net.Error
	switch {
	case n > 0:
		t.Errorf("read %d more bytes; want the connection closed", n)
	case errors.As(err, &ne) && ne.Timeout():
		t.Errorf("connection still open after %v", d)
	case err == nil:
		t.Error("read returned nothing and no error")
	}
}

func discoverRequest(ver ProtocolVersion) []byte {
	return ttlv.Marshal(reqMessage(ver, nil, reqItem(OperationDiscoverVersions)))
}

func TestServerRoundTrip(t *testing.T) {
	ts := startServer(t, &Server{})
	c := ts.dial(t)
	// Several messages on one connection, in several versions.
	for _, ver := range []ProtocolVersion{V1_0, V1_4, V2_0, V2_1} {
		m := roundTrip(t, c, discoverRequest(ver))
		if m.Version != ver || m.Items[0].Status != ResultStatusSuccess || len(m.Items[0].Payload.Children()) != len(SupportedVersions) {
			t.Errorf("%v: %v %+v", ver, m.Version, m.Items[0])
		}
	}
	// The handler sees the verified client certificate (KMIP 1.4 §8, the
	// ACL's subject).
	m := roundTrip(t, c, ttlv.Marshal(reqMessage(V1_4, nil, reqItem(opPeer))))
	if id, _ := m.Items[0].Payload.Child(TagUniqueIdentifier); id.Text() != "test-client" {
		t.Errorf("peer = %+v", m.Items[0])
	}
	// Query through the server.
	m = roundTrip(t, c, ttlv.Marshal(reqMessage(V1_4, nil, reqItem(OperationQuery, ttlv.Enum(TagQueryFunction, uint32(QueryFunctionQueryOperations))))))
	if n := len(m.Items[0].Payload.All(TagOperation)); n != 5 {
		t.Errorf("Query Operations lists %d operations: %v", n, m.Items[0].Payload)
	}
	if got := ts.srv.ActiveConnections(); got != 1 {
		t.Errorf("ActiveConnections = %d, want 1", got)
	}
}

// TestServerBadMessages: each malformed input gets the answer KMIP 1.4
// §11.1 names, or a closed connection where no answer can be framed, and
// the server keeps serving other connections meanwhile.
func TestServerBadMessages(t *testing.T) {
	ts := startServer(t, &Server{ReadTimeout: 2 * time.Second})

	// A healthy client keeps talking while the bad ones are handled.
	healthy := ts.dial(t)
	stop := make(chan struct{})
	healthyDone := make(chan error, 1)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				if n == 0 {
					healthyDone <- errors.New("healthy client made no round trip")
					return
				}
				healthyDone <- nil
				return
			default:
			}
			if _, err := healthy.Write(discoverRequest(V1_4)); err != nil {
				healthyDone <- err
				return
			}
			raw, err := readMessage(healthy, 10*time.Second)
			if err != nil {
				healthyDone <- err
				return
			}
			m, err := decodeResponse(raw)
			if err != nil || m.Items[0].Status != ResultStatusSuccess {
				healthyDone <- errors.New("healthy client got a failure")
				return
			}
			n++
		}
	}()

	valid := discoverRequest(V1_4)
	withLength := func(n uint32) []byte {
		h := bytes.Clone(valid[:8])
		binary.BigEndian.PutUint32(h[4:], n)
		return h
	}
	badPadding := bytes.Clone(valid)
	badPadding[8+8+8+8+7] = 1
	deep := ttlv.Struct(TagRequestPayload)
	for range 100 {
		deep = ttlv.Struct(TagRequestPayload, deep)
	}
	type outcome int
	const (
		answerThenOpen   outcome = iota // answered; the connection goes on
		answerThenClosed                // answered Invalid Message, then closed
		closedSilently                  // closed without an answer
	)
	tests := []struct {
		name   string
		write  [][]byte // written in order
		half   bool     // close the write side after writing
		want   outcome
		reason ResultReason
	}{
		{name: "unknown operation", write: [][]byte{ttlv.Marshal(reqMessage(V1_4, nil, reqItem(OperationRNGSeed)))}, want: answerThenOpen, reason: ResultReasonOperationNotSupported},
		{name: "wrong padding", write: [][]byte{badPadding}, want: answerThenOpen, reason: ResultReasonInvalidMessage},
		{name: "deep nesting", write: [][]byte{ttlv.Marshal(reqMessage(V1_4, nil, ttlv.Struct(TagBatchItem, ttlv.Enum(TagOperation, 1), deep)))}, want: answerThenOpen, reason: ResultReasonInvalidMessage},
		{name: "batch count mismatch", write: [][]byte{ttlv.Marshal(ttlv.Struct(TagRequestMessage, reqHeader(V1_4, 5), reqItem(OperationDiscoverVersions)))}, want: answerThenOpen, reason: ResultReasonInvalidMessage},
		{name: "structure of garbage", write: [][]byte{append(withLength(16), bytes.Repeat([]byte{0xee}, 16)...)}, want: answerThenOpen, reason: ResultReasonInvalidMessage},
		// Framing errors: the stream cannot be resynchronised.
		{name: "4 GiB declared length", write: [][]byte{withLength(0xfffffff8), bytes.Repeat([]byte{0x42}, 64<<10)}, want: answerThenClosed, reason: ResultReasonInvalidMessage},
		{name: "over the size limit", write: [][]byte{withLength(2 << 20), bytes.Repeat([]byte{0x42}, 256<<10)}, want: answerThenClosed, reason: ResultReasonInvalidMessage},
		{name: "length not a multiple of 8", write: [][]byte{withLength(13), make([]byte, 13)}, want: answerThenClosed, reason: ResultReasonInvalidMessage},
		{name: "garbage bytes", write: [][]byte{[]byte("GET / HTTP/1.1\r\nHost: kmip\r\n\r\n")}, want: answerThenClosed, reason: ResultReasonInvalidMessage},
		{name: "non-structure message", write: [][]byte{ttlv.Marshal(ttlv.Text(TagRequestMessage, "hello, KMIP"))}, want: answerThenClosed, reason: ResultReasonInvalidMessage},
		{name: "truncated message", write: [][]byte{valid[:len(valid)-16]}, half: true, want: closedSilently},
		{name: "truncated header", write: [][]byte{valid[:5]}, half: true, want: closedSilently},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ts.dial(t)
			for _, b := range tt.write {
				if _, err := c.Write(b); err != nil {
					t.Fatalf("write: %v", err)
				}
			}
			if tt.half {
				if err := c.CloseWrite(); err != nil {
					t.Fatal(err)
				}
			}
			if tt.want == closedSilently {
				wantClosed(t, c, 5*time.Second)
				return
			}
			raw, err := readMessage(c, 10*time.Second)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			m := mustDecodeResponse(t, raw)
			if it := m.Items[0]; it.Status != ResultStatusOperationFailed || it.Reason != tt.reason {
				t.Fatalf("answer %+v, want %v", it, tt.reason)
			}
			if tt.want == answerThenClosed {
				if m.Items[0].HasOperation {
					t.Error("framing failure answered with an Operation")
				}
				wantClosed(t, c, 5*time.Second)
				return
			}
			// The connection is still in step: a good message works.
			if m := roundTrip(t, c, valid); m.Items[0].Status != ResultStatusSuccess {
				t.Errorf("after the bad message: %+v", m.Items[0])
			}
		})
	}
	close(stop)
	if err := <-healthyDone; err != nil {
		t.Errorf("healthy connection: %v", err)
	}
	// And a new connection still works.
	if m := roundTrip(t, ts.dial(t), valid); m.Items[0].Status != ResultStatusSuccess {
		t.Errorf("new connection: %+v", m.Items[0])
	}
}

// TestServerHugeLengthDoesNotAllocate: a header announcing 4 GiB is refused
// before any room is made for the body.
func TestServerHugeLengthDoesNotAllocate(t *testing.T) {
	ts := startServer(t, &Server{})
	c := ts.dial(t)
	// Warm up: the first round trip allocates the connection's buffers.
	roundTrip(t, c, discoverRequest(V1_4))
	hdr := bytes.Clone(discoverRequest(V1_4)[:8])
	binary.BigEndian.PutUint32(hdr[4:], 0xfffffff8)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := c.Write(hdr); err != nil {
		t.Fatal(err)
	}
	raw, err := readMessage(c, 10*time.Second)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	runtime.ReadMemStats(&after)
	wantFailure(t, mustDecodeResponse(t, raw), V1_0, ResultReasonInvalidMessage)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 32<<20 {
		t.Errorf("the process allocated %d MiB while refusing the message", grew>>20)
	}
	wantClosed(t, c, 5*time.Second)
}

func TestServerIdleTimeout(t *testing.T) {
	ts := startServer(t, &Server{IdleTimeout: 300 * time.Millisecond, ReadTimeout: 10 * time.Second})
	c := ts.dial(t)
	// Activity within the idle timeout keeps the connection.
	for range 3 {
		time.Sleep(100 * time.Millisecond)
		roundTrip(t, c, discoverRequest(V1_4))
	}
	start := time.Now()
	wantClosed(t, c, 5*time.Second)
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("closed after %v, before the idle timeout", d)
	}
}

// TestServerReadTimeout: once a message has started, the rest must come
// within ReadTimeout; a client that sends a header and stalls is dropped
// even though the idle timeout is long.
func TestServerReadTimeout(t *testing.T) {
	ts := startServer(t, &Server{IdleTimeout: time.Minute, ReadTimeout: 300 * time.Millisecond})
	for _, n := range []int{1, 8, 24} {
		c := ts.dial(t)
		if _, err := c.Write(discoverRequest(V1_4)[:n]); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		wantClosed(t, c, 5*time.Second)
		if d := time.Since(start); d > 4*time.Second {
			t.Errorf("%d bytes then stall: closed after %v", n, d)
		}
	}
}

// TestServerHandshakeTimeout: a client that connects and never sends a
// ClientHello is dropped.
func TestServerHandshakeTimeout(t *testing.T) {
	ts := startServer(t, &Server{HandshakeTimeout: 300 * time.Millisecond})
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	wantClosed(t, c, 5*time.Second)
}

// TestServerRefusesClientWithoutCertificate: the Server uses the listener's
// TLS configuration as given; with RequireAndVerifyClientCert a client
// without a certificate never reaches a handler.
func TestServerRefusesClientWithoutCertificate(t *testing.T) {
	ts := startServer(t, &Server{})
	cfg := ts.client.Clone()
	cfg.Certificates = nil
	c, err := tls.Dial("tcp", ts.addr, cfg)
	if err == nil {
		defer func() { _ = c.Close() }()
		// TLS 1.3: the client learns of the refusal on its first read.
		_, _ = c.Write(discoverRequest(V1_4))
		if _, err = readMessage(c, 5*time.Second); err == nil {
			t.Fatal("a client without a certificate was answered")
		}
	}
}

func TestServerMaxConnections(t *testing.T) {
	ts := startServer(t, &Server{MaxConnections: 2})
	a, b := ts.dial(t), ts.dial(t)
	roundTrip(t, a, discoverRequest(V1_4))
	roundTrip(t, b, discoverRequest(V1_4))

	// The third is closed at once after accept.
	d := tls.Dialer{Config: ts.client}
	c, err := d.Dial("tcp", ts.addr)
	if err == nil {
		defer func() { _ = c.Close() }()
		_, _ = c.Write(discoverRequest(V1_4))
		if _, err := readMessage(c, 5*time.Second); err == nil {
			t.Fatal("a connection over MaxConnections was answered")
		}
	}
	// The refused connection did not count; closing one makes room.
	_ = a.Close()
	deadline := time.Now().Add(5 * time.Second)
	for ts.srv.ActiveConnections() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("ActiveConnections = %d after a close, want 1", ts.srv.ActiveConnections())
		}
		time.Sleep(10 * time.Millisecond)
	}
	roundTrip(t, ts.dial(t), discoverRequest(V1_4))
	roundTrip(t, b, discoverRequest(V1_4))
}

// TestServerGracefulShutdown: Shutdown closes idle connections at once,
// lets the message in flight finish and be answered, then returns.
func TestServerGracefulShutdown(t *testing.T) {
	ts := startServer(t, &Server{IdleTimeout: time.Minute})
	busy, idle := ts.dial(t), ts.dial(t)
	roundTrip(t, idle, discoverRequest(V1_4))
	if _, err := busy.Write(ttlv.Marshal(reqMessage(V1_4, nil, reqItem(opSlow)))); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ts.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("slow handler never started")
	}

	shutdownDone := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shutdownDone <- ts.srv.Shutdown(ctx)
	}()

	// The idle connection is closed promptly, the busy one is not.
	start := time.Now()
	wantClosed(t, idle, 2*time.Second)
	if d := time.Since(start); d > time.Second {
		t.Errorf("idle connection closed after %v", d)
	}
	select {
	case err := <-shutdownDone:
		t.Fatalf("Shutdown returned %v with a message in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	// New connections are refused.
	if c, err := net.DialTimeout("tcp", ts.addr, time.Second); err == nil {
		_ = c.Close()
		t.Error("listener still accepting after Shutdown")
	}

	ts.releaseSlow()
	raw, err := readMessage(busy, 5*time.Second)
	if err != nil {
		t.Fatalf("in-flight message not answered: %v", err)
	}
	m := mustDecodeResponse(t, raw)
	if m.Items[0].Status != ResultStatusSuccess {
		t.Errorf("in-flight answer %+v", m.Items[0])
	}
	select {
	case err := <-shutdownDone:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return after the last message")
	}
	wantClosed(t, busy, 2*time.Second)
	select {
	case err := <-ts.serveErr:
		ts.serveErr <- err // for the cleanup's check
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
}

// TestServerShutdownDeadline: when ctx expires first, Shutdown closes the
// connections, cancels the handlers' contexts and returns ctx's error.
func TestServerShutdownDeadline(t *testing.T) {
	ts := startServer(t, &Server{})
	c := ts.dial(t)
	if _, err := c.Write(ttlv.Marshal(reqMessage(V1_4, nil, reqItem(opSlow)))); err != nil {
		t.Fatal(err)
	}
	<-ts.entered
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- ts.srv.Shutdown(ctx) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown = %v, want the deadline", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return after its deadline: handler contexts not cancelled?")
	}
	wantClosed(t, c, 2*time.Second)
}

func TestServerServeAfterShutdown(t *testing.T) {
	srv := &Server{Handler: NewServeMux()}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v", err)
	}
	if err := (&Server{}).Serve(ln); err == nil || !strings.Contains(err.Error(), "Handler") {
		t.Errorf("Serve without a handler = %v", err)
	}
	if err := (&Server{Handler: NewServeMux()}).ListenAndServe(); err == nil {
		t.Error("ListenAndServe without TLSConfig succeeded")
	}
}

// TestServerConcurrentClients: connections are served concurrently; a
// slow message on one does not hold up the others.
func TestServerConcurrentClients(t *testing.T) {
	ts := startServer(t, &Server{})
	slow := ts.dial(t)
	if _, err := slow.Write(ttlv.Marshal(reqMessage(V1_4, nil, reqItem(opSleep)))); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		c := ts.dial(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				if _, err := c.Write(discoverRequest(V2_1)); err != nil {
					errs <- err
					return
				}
				raw, err := readMessage(c, 10*time.Second)
				if err != nil {
					errs <- err
					return
				}
				if m, err := decodeResponse(raw); err != nil || m.Items[0].Status != ResultStatusSuccess {
					errs <- errors.New("bad response")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if _, err := readMessage(slow, 10*time.Second); err != nil {
		t.Errorf("slow message: %v", err)
	}
}

// TestServerShutdownNoGoroutineLeak counts goroutines before a server
// starts and after it shut down, polling briefly as goroutines exit (as
// miekg/dns's leak_test does).
func TestServerShutdownNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		srv := &Server{IdleTimeout: time.Minute, ReadTimeout: 300 * time.Millisecond}
		serverTLS, clientTLS := testTLS(t)
		ts := &testServer{srv: srv, client: clientTLS, entered: make(chan struct{}, 16), release: make(chan struct{})}
		srv.Handler = ts.mux()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ts.addr = ln.Addr().String()
		serveErr := make(chan error, 1)
		go func() { serveErr <- srv.Serve(tls.NewListener(ln, serverTLS)) }()
		var conns []net.Conn
		for range 4 {
			d := tls.Dialer{Config: clientTLS}
			c, err := d.Dial("tcp", ts.addr)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			roundTrip(t, c, discoverRequest(V1_4))
		}
		// One connection mid-handshake, one mid-message.
		raw, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, raw)
		_, _ = conns[0].Write(discoverRequest(V1_4)[:12])
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-serveErr; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve = %v", err)
		}
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		after := runtime.NumGoroutine()
		if after <= before {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before, %d after Shutdown:\n%s", before, after, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServerShutdownIdleStress: connections that go idle while Shutdown
// runs are still interrupted; Shutdown never waits out the idle timeout.
func TestServerShutdownIdleStress(t *testing.T) {
	rounds := 5
	if testing.Short() {
		rounds = 1
	}
	for range rounds {
		serverTLS, clientTLS := testTLS(t)
		srv := &Server{IdleTimeout: time.Minute, Handler: (&testServer{}).mux()}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		serveErr := make(chan error, 1)
		go func() { serveErr <- srv.Serve(tls.NewListener(ln, serverTLS)) }()
		var wg sync.WaitGroup
		conns := make(chan net.Conn, 10)
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d := tls.Dialer{Config: clientTLS}
				c, err := d.Dial("tcp", ln.Addr().String())
				if err != nil {
					return
				}
				conns <- c
				// Keep talking, so that connections go idle at any moment.
				for range 20 {
					if _, err := c.Write(discoverRequest(V1_4)); err != nil {
						return
					}
					if _, err := readMessage(c, 5*time.Second); err != nil {
						return
					}
				}
			}()
		}
		time.Sleep(20 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		start := time.Now()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown after %v: %v", time.Since(start), err)
		}
		cancel()
		if err := <-serveErr; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve = %v", err)
		}
		wg.Wait()
		close(conns)
		for c := range conns {
			_ = c.Close()
		}
	}
}

// TestServerClearsRequestBuffer: once a message is answered, the request
// it came in (which may carry key material, as Register and Encrypt do) is
// not left in the connection's read buffer.
func TestServerClearsRequestBuffer(t *testing.T) {
	secret := bytes.Repeat([]byte{0xA5}, 4096)
	var seen []byte // aliases the server's read buffer
	mux := NewServeMux()
	mux.HandleFunc(OperationEncrypt, func(_ context.Context, req *Request) (ttlv.Value, error) {
		d, _ := req.Payload.Child(TagData)
		seen = d.Bytes()
		return Payload(ttlv.Bytes(TagData, d.Bytes())), nil
	})
	mux.HandleFunc(OperationDiscoverVersions, DiscoverVersions)

	client := servePipe(t, mux)
	roundTrip := func(req []byte) *respMessage {
		t.Helper()
		if _, err := client.Write(req); err != nil {
			t.Fatal(err)
		}
		raw, err := ttlv.ReadMessage(client, nil, ttlv.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		return mustDecodeResponse(t, raw)
	}
	m := roundTrip(ttlv.Marshal(reqMessage(V1_4, nil, reqItem(OperationEncrypt, ttlv.Bytes(TagData, secret)))))
	if got := m.Items[0].Payload; got.IsZero() || !bytes.Equal(got.Children()[0].Bytes(), secret) {
		t.Fatalf("encrypt answered %+v", m.Items[0])
	}
	// The server has cleared its buffer before it reads the next message,
	// which is shorter than the data's offset in the first.
	roundTrip(discoverRequest(V1_4))
	if len(seen) != len(secret) {
		t.Fatalf("handler saw %d bytes", len(seen))
	}
	if bytes.Contains(seen, secret[:16]) {
		t.Error("the request's data is still in the connection's read buffer")
	}
}

// TestServerConnBuffersAcrossMessages: a connection reuses its read and
// write buffers from one message to the next, dropping those grown past
// maxKeptBuffer; whatever the order of sizes, every answer is its own.
func TestServerConnBuffersAcrossMessages(t *testing.T) {
	mux := NewServeMux()
	mux.HandleFunc(OperationEncrypt, func(_ context.Context, req *Request) (ttlv.Value, error) {
		d, _ := req.Payload.Child(TagData)
		return Payload(ttlv.Bytes(TagData, bytes.Clone(d.Bytes()))), nil
	})
	client := servePipe(t, mux)
	for i, n := range []int{100, maxKeptBuffer + 1000, 10, 5000, 2 * maxKeptBuffer, 0, 300} {
		data := bytes.Repeat([]byte{byte(i + 1)}, n)
		req := ttlv.Marshal(reqMessage(V1_4, nil, reqItem(OperationEncrypt, ttlv.Bytes(TagData, data))))
		if _, err := client.Write(req); err != nil {
			t.Fatal(err)
		}
		raw, err := ttlv.ReadMessage(client, nil, ttlv.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		m := mustDecodeResponse(t, raw)
		if len(m.Items) != 1 || m.Items[0].Status != ResultStatusSuccess {
			t.Fatalf("message %d (%d bytes): %+v", i, n, m.Items)
		}
		got, _ := m.Items[0].Payload.Child(TagData)
		if !bytes.Equal(got.Bytes(), data) {
			t.Errorf("message %d (%d bytes): answer carries %d bytes", i, n, len(got.Bytes()))
		}
	}
}
