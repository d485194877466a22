package kmip

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/kmipd/kmipd/ttlv"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("kmip: server closed")

// Server serves KMIP over TLS (KMIP 1.4 §8; the TCP/TLS transport of the
// profiles, port 5696): one goroutine per connection, messages answered in
// order. The zero value of each field takes the default written beside it.
type Server struct {
	// Addr is the listen address for ListenAndServe ("127.0.0.1:5696").
	Addr string
	// Handler answers batch items. Required.
	Handler Handler
	// TLSConfig is required for ListenAndServe; Serve uses the listener as
	// given (wrap it with tls.NewListener, or pass a plain one in tests).
	TLSConfig *tls.Config
	// HandshakeTimeout bounds the TLS handshake. Default 10s.
	HandshakeTimeout time.Duration
	// ReadTimeout bounds reading the rest of a message once its header
	// has arrived. Default 30s.
	ReadTimeout time.Duration
	// IdleTimeout bounds the wait for the next message. Default 5m.
	IdleTimeout time.Duration
	// WriteTimeout bounds writing one response. Default 30s.
	WriteTimeout time.Duration
	// MaxConnections caps concurrent connections; more are closed at once
	// after accept. Default 1024.
	MaxConnections int
	// Limits bound each message. Default ttlv.DefaultLimits.
	Limits ttlv.Limits
	// Logger receives connection and handler errors. Default: discard.
	Logger hclog.Logger
	// ConnContext may add values to a connection's context.
	ConnContext func(ctx context.Context, c net.Conn) context.Context
	// NotifyStartedFunc is called once the server is accepting.
	NotifyStartedFunc func()

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*serverConn]struct{}
	closing   atomic.Bool
	wg        sync.WaitGroup
	active    atomic.Int64
}

func (s *Server) handshakeTimeout() time.Duration {
	return orDefault(s.HandshakeTimeout, 10*time.Second)
}
func (s *Server) readTimeout() time.Duration  { return orDefault(s.ReadTimeout, 30*time.Second) }
func (s *Server) idleTimeout() time.Duration  { return orDefault(s.IdleTimeout, 5*time.Minute) }
func (s *Server) writeTimeout() time.Duration { return orDefault(s.WriteTimeout, 30*time.Second) }

func (s *Server) maxConnections() int64 {
	if s.MaxConnections > 0 {
		return int64(s.MaxConnections)
	}
	return 1024
}

func (s *Server) logger() hclog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return hclog.NewNullLogger()
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// ListenAndServe listens on s.Addr with s.TLSConfig and serves.
func (s *Server) ListenAndServe() error {
	if s.TLSConfig == nil {
		return errors.New("kmip: ListenAndServe needs a TLSConfig")
	}
	addr := s.Addr
	if addr == "" {
		addr = ":5696"
	}
	var lc net.ListenConfig
	l, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(tls.NewListener(l, s.TLSConfig))
}

// Serve accepts connections on l until Shutdown or Close. It always returns
// a non-nil error; after Shutdown, ErrServerClosed.
func (s *Server) Serve(l net.Listener) error {
	if s.Handler == nil {
		return errors.New("kmip: Server.Handler is nil")
	}
	if !s.trackListener(l, true) {
		return ErrServerClosed
	}
	defer s.trackListener(l, false)
	if s.NotifyStartedFunc != nil {
		s.NotifyStartedFunc()
	}
	var delay time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscallEMFILE) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.logger().Warn("accept failed; retrying", "error", err, "delay", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		if s.active.Add(1) > s.maxConnections() {
			s.active.Add(-1)
			s.logger().Warn("connection refused: too many connections", "remote", c.RemoteAddr().String(), "max", s.maxConnections())
			_ = c.Close()
			continue
		}
		// The connection's context is cancelled when it ends, or by Close
		// (Shutdown past its deadline) so that handlers waiting on the HSM
		// or the store give up instead of holding Shutdown forever.
		ctx, cancel := context.WithCancel(context.Background())
		sc := &serverConn{srv: s, conn: c, ctx: ctx, cancel: cancel}
		if !s.trackConn(sc, true) {
			s.active.Add(-1)
			cancel()
			_ = c.Close()
			return ErrServerClosed
		}
		s.wg.Add(1)
		go sc.serve()
	}
}

func (s *Server) trackListener(l net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.closing.Load() {
			return false
		}
		if s.listeners == nil {
			s.listeners = make(map[net.Listener]struct{})
		}
		s.listeners[l] = struct{}{}
	} else {
		delete(s.listeners, l)
	}
	return true
}

func (s *Server) trackConn(c *serverConn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.closing.Load() {
			return false
		}
		if s.conns == nil {
			s.conns = make(map[*serverConn]struct{})
		}
		s.conns[c] = struct{}{}
	} else {
		delete(s.conns, c)
	}
	return true
}

// Shutdown stops accepting, lets every message in flight finish and be
// answered, closes idle connections, and waits for the connections to end
// or ctx to expire (then it closes them, cancels the contexts of the
// handlers still running, waits for those to return and returns ctx's
// error). A handler that ignores its context can still hold Shutdown.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing.Store(true)
	for l := range s.listeners {
		_ = l.Close()
	}
	for c := range s.conns {
		c.interruptIfIdle()
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.Close()
		<-done
		return ctx.Err()
	}
}

// Close closes every listener and connection at once and cancels the
// contexts of the handlers still running.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closing.Store(true)
	for l := range s.listeners {
		_ = l.Close()
	}
	for c := range s.conns {
		c.cancel()
		_ = c.conn.Close()
	}
}

// ActiveConnections reports the number of open connections.
func (s *Server) ActiveConnections() int { return int(s.active.Load()) }

type serverConn struct {
	srv  *Server
	conn net.Conn
	// ctx lives as long as the connection; cancel ends it (Close).
	ctx    context.Context
	cancel context.CancelFunc

	mu   sync.Mutex
	busy bool // a message is being read or handled
}

// interruptIfIdle wakes a connection blocked waiting for its next message,
// by moving its read deadline into the past (as miekg/dns does). A
// connection that is handling a message finishes it and then sees the
// server closing.
func (c *serverConn) interruptIfIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.busy {
		_ = c.conn.SetReadDeadline(time.Unix(1, 0))
	}
}

// setBusy marks the connection as reading or handling a message, which
// Shutdown lets finish.
func (c *serverConn) setBusy() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.busy = true
}

// startIdle marks the connection idle and arms the idle timeout, or reports
// false when the server is closing. The check and the deadline happen under
// c.mu, the lock interruptIfIdle takes: were they apart, a Shutdown falling
// between them would have its past deadline overwritten by the idle one and
// wait out the whole idle timeout.
func (c *serverConn) startIdle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.srv.closing.Load() {
		return false
	}
	c.busy = false
	_ = c.conn.SetReadDeadline(time.Now().Add(c.srv.idleTimeout()))
	return true
}

// connInfoKey is the context key of a connection's ConnInfo.
type connInfoKey struct{}

// ConnInfo describes the connection a request came on.
type ConnInfo struct {
	RemoteAddr net.Addr
	// PeerCertificates are the client's verified certificate chain, leaf
	// first; empty on a connection without TLS.
	PeerCertificates []*x509.Certificate
	// TLS is the connection state, nil without TLS.
	TLS *tls.ConnectionState
}

// WithConnInfo returns ctx carrying info.
func WithConnInfo(ctx context.Context, info *ConnInfo) context.Context {
	return context.WithValue(ctx, connInfoKey{}, info)
}

// ConnInfoFrom returns the connection of ctx's request, or nil.
func ConnInfoFrom(ctx context.Context) *ConnInfo {
	info, _ := ctx.Value(connInfoKey{}).(*ConnInfo)
	return info
}

func (c *serverConn) serve() {
	s := c.srv
	log := s.logger()
	defer func() {
		if r := recover(); r != nil {
			log.Error("connection panic", "remote", c.conn.RemoteAddr().String(), "panic", fmt.Sprintf("%T", r), "stack", string(debug.Stack()))
		}
		_ = c.conn.Close()
		s.trackConn(c, false)
		s.active.Add(-1)
		s.wg.Done()
	}()

	ctx := c.ctx
	defer c.cancel()
	info := &ConnInfo{RemoteAddr: c.conn.RemoteAddr()}
	if tc, ok := c.conn.(*tls.Conn); ok {
		_ = tc.SetDeadline(time.Now().Add(s.handshakeTimeout()))
		if err := tc.HandshakeContext(ctx); err != nil {
			log.Debug("tls handshake failed", "remote", info.RemoteAddr.String(), "error", err)
			return
		}
		_ = tc.SetDeadline(time.Time{})
		st := tc.ConnectionState()
		info.TLS = &st
		info.PeerCertificates = st.PeerCertificates
	}
	ctx = WithConnInfo(ctx, info)
	if s.ConnContext != nil {
		ctx = s.ConnContext(ctx, c.conn)
	}

	opts := &MessageOptions{Limits: s.Limits, Logger: log}
	maxSize := s.Limits.MaxMessageSize
	if maxSize <= 0 {
		maxSize = ttlv.DefaultLimits.MaxMessageSize
	}
	// buf holds the request and out the response of the message being
	// handled. Both are kept for the next message, unless larger than
	// maxKeptBuffer, and cleared after each: a request may carry key
	// material (Register, Encrypt) and a response too (Get).
	var buf []byte
	var out ttlv.Encoder
	var hdr [8]byte
	// A read that fails part-way leaves part of a request in buf, and a
	// panic past the handlers a response in out.
	defer func() {
		clear(buf)
		clear(out.Bytes())
	}()
	for {
		// Between messages the idle timeout applies; once a header has
		// arrived, the rest must come within the read timeout.
		if !c.startIdle() {
			return
		}
		if _, err := io.ReadFull(c.conn, hdr[:1]); err != nil {
			return
		}
		c.setBusy()
		_ = c.conn.SetReadDeadline(time.Now().Add(s.readTimeout()))
		if _, err := io.ReadFull(c.conn, hdr[1:]); err != nil {
			return
		}
		length := int64(binary.BigEndian.Uint32(hdr[4:]))
		if hdr[3] != byte(ttlv.TypeStructure) || length+8 > int64(maxSize) || length%8 != 0 {
			// KMIP 1.4 §11.1: the message cannot be parsed; answer Invalid
			// Message where one can be framed, then close: the stream
			// cannot be resynchronised.
			reason := "message header is not a structure"
			if hdr[3] == byte(ttlv.TypeStructure) {
				reason = "message length exceeds the server's limit"
				if length%8 != 0 {
					reason = "message length is not a multiple of 8"
				}
			}
			log.Warn("bad message framing; closing", "remote", info.RemoteAddr.String(), "reason", reason)
			if c.write(EncodeFailure(ResultReasonInvalidMessage, reason)) {
				c.lingerClose()
			}
			return
		}
		need := int(8 + length)
		if cap(buf) < need {
			buf = make([]byte, need)
		}
		buf = buf[:need]
		copy(buf, hdr[:])
		if _, err := io.ReadFull(c.conn, buf[8:]); err != nil {
			log.Debug("message truncated; closing", "remote", info.RemoteAddr.String(), "error", err)
			return
		}
		handleMessage(ctx, s.Handler, buf, opts, &out)
		ok := c.write(out.Bytes())
		clear(buf)
		clear(out.Bytes())
		out.Reset()
		// Do not pin a large buffer for the life of an idle connection.
		if cap(buf) > maxKeptBuffer {
			buf = nil
		}
		if cap(out.Bytes()) > maxKeptBuffer {
			out = ttlv.Encoder{}
		}
		if !ok {
			return
		}
	}
}

// maxKeptBuffer is the largest read or write buffer a connection keeps
// between messages; a larger one served one big message and is dropped.
const maxKeptBuffer = 64 << 10

// Bounds of lingerClose.
const (
	lingerTimeout = time.Second
	lingerMaxRead = 16 << 20
)

// lingerClose prepares to close a connection whose client may still be
// sending (a message refused on its header). Closing a socket with unread
// input makes TCP send a reset, which can destroy the answer just written
// before the client reads it (net/http's closeWriteAndWait solves the same
// problem). So: end our side (a TLS close_notify), then read and discard
// what the client sends, for a bounded time and amount, until it closes.
func (c *serverConn) lingerClose() {
	if cw, ok := c.conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(min(lingerTimeout, c.srv.readTimeout())))
	_, _ = io.CopyN(io.Discard, c.conn, lingerMaxRead)
}

func (c *serverConn) write(b []byte) bool {
	_ = c.conn.SetWriteDeadline(time.Now().Add(c.srv.writeTimeout()))
	_, err := c.conn.Write(b)
	if err != nil {
		c.srv.logger().Debug("write failed", "remote", c.conn.RemoteAddr().String(), "error", err)
		return false
	}
	return true
}
