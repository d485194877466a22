package kmip

import (
	"crypto/tls"
	"errors"
	"net"
	"testing"

	"github.com/kmipd/kmipd/ttlv"
)

// BenchmarkLoopbackTLS measures request/response exchanges over mutual TLS
// on loopback, 16 connections at once (kmipd bench's heaviest setting), in
// two ways:
//
//   - bare: a TLS server that only frames each request (ttlv.ReadMessage)
//     and writes back a canned response of the real response's size;
//   - server: this package's Server with a handler that does no work.
//
// bare is the ceiling of any Go KMIP server on the machine, with client and
// server sharing its cores; the gap between the two is what the kmip layer
// adds (decoding, batch handling, encoding, timeouts). Neither includes the
// service, the store, the audit log or the HSM, so set against `kmipd
// bench` they show where a request's time goes:
//
//	go test -run '^$' -bench LoopbackTLS -benchmem -count 6 ./kmip/
func BenchmarkLoopbackTLS(b *testing.B) {
	cases := []struct {
		name    string
		req     []byte
		handler Handler
	}{
		{"get", benchGetRequest(), benchGetHandler()},
		{"encrypt-4k", benchEncryptRequest(), benchEncryptHandler()},
	}
	for _, c := range cases {
		resp := handleRaw(b, c.handler, c.req)
		b.Run(c.name+"/bare", func(b *testing.B) {
			runLoopback(b, serveCanned(b, resp), c.req)
		})
		b.Run(c.name+"/server", func(b *testing.B) {
			runLoopback(b, serveKMIP(b, c.handler), c.req)
		})
	}
}

// handleRaw returns the encoded response h gives to req.
func handleRaw(tb testing.TB, h Handler, req []byte) []byte {
	tb.Helper()
	client := servePipe(tb, h)
	if _, err := client.Write(req); err != nil {
		tb.Fatal(err)
	}
	resp, err := ttlv.ReadMessage(client, nil, ttlv.Limits{})
	if err != nil {
		tb.Fatal(err)
	}
	return resp
}

// runLoopback drives addr with 16 client goroutines, one connection each,
// sending req and reading one response per iteration.
func runLoopback(b *testing.B, addr string, req []byte) {
	_, clientTLS := testTLS(b)
	b.SetParallelism(16)
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		conn, err := tls.Dial("tcp", addr, clientTLS)
		if err != nil {
			b.Error(err)
			return
		}
		defer conn.Close()
		buf := make([]byte, 0, 16<<10)
		for pb.Next() {
			if _, err := conn.Write(req); err != nil {
				b.Error(err)
				return
			}
			if buf, err = ttlv.ReadMessage(conn, buf[:0], ttlv.Limits{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// serveKMIP runs a Server with h on 127.0.0.1 over mutual TLS until the
// benchmark ends.
func serveKMIP(b *testing.B, h Handler) string {
	serverTLS, _ := testTLS(b)
	ln := listenLoopback(b)
	srv := &Server{Handler: h}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(tls.NewListener(ln, serverTLS)) }()
	b.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil && !errors.Is(err, ErrServerClosed) {
			b.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// serveCanned runs a TLS server that answers every framed message with
// resp, until the benchmark ends.
func serveCanned(b *testing.B, resp []byte) string {
	serverTLS, _ := testTLS(b)
	ln := tls.NewListener(listenLoopback(b), serverTLS)
	b.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				buf := make([]byte, 0, 16<<10)
				for {
					var err error
					if buf, err = ttlv.ReadMessage(conn, buf[:0], ttlv.Limits{}); err != nil {
						return
					}
					if _, err := conn.Write(resp); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func listenLoopback(b *testing.B) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	return ln
}
