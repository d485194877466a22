package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/pkcs11"
)

// Sizes of kmipd's KMIP 1.4 Encrypt request and answer, whole messages,
// for a 64-byte and a 4096-byte Data (measured with strace on kmipd dev:
// each is 22 bytes of TLS 1.3 record overhead less than on the wire).
// bareserver's messages have the same sizes, its 4-byte length prefix
// included.
var messageSizes = map[int][2]int{
	64:   {312, 304},
	4096: {4344, 4336},
}

func main() {
	var (
		serve    = flag.Bool("serve", false, "run the server (default: run the client)")
		addr     = flag.String("addr", "127.0.0.1:15698", "address to listen on or connect to")
		certs    = flag.String("certs", "", "directory with kmipd dev's ca.pem, server.pem, server-key.pem, client.pem, client-key.pem")
		module   = flag.String("pkcs11-module", "/usr/lib/softhsm/libsofthsm2.so", "PKCS#11 module (server)")
		label    = flag.String("token-label", "", "token to use (server; default: the first)")
		pinFile  = flag.String("pin-file", "", "file holding the token's user PIN (server)")
		conns    = flag.Int("connections", 4, "connections (client)")
		size     = flag.Int("size", 64, "plaintext bytes per request: 64 or 4096 (client)")
		duration = flag.Duration("duration", 3*time.Second, "measuring window (client)")
	)
	flag.Parse()
	var err error
	if *serve {
		err = runServer(*addr, *certs, *module, *label, *pinFile)
	} else {
		var rate float64
		if rate, err = runClient(*addr, *certs, *conns, *size, *duration); err == nil {
			fmt.Printf("bare %d %d %.0f\n", *size, *conns, rate)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bareserver:", err)
		os.Exit(1)
	}
}

func loadPool(certs string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(filepath.Join(certs, "ca.pem")) //nolint:gosec // G304: the certificate directory the operator names
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s/ca.pem: no certificate", certs)
	}
	return pool, nil
}

// hsm is the token, logged in once; each connection opens its own session.
type hsm struct {
	p    *pkcs11.Ctx
	slot uint
}

func openHSM(module, label, pinFile string) (*hsm, error) {
	pin, err := os.ReadFile(pinFile) //nolint:gosec // G304: the PIN file the operator names
	if err != nil {
		return nil, fmt.Errorf("PIN: %w", err)
	}
	p := pkcs11.New(module)
	if p == nil {
		return nil, fmt.Errorf("%s: cannot load", module)
	}
	if err := p.Initialize(); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		return nil, fmt.Errorf("C_Initialize: %w", err)
	}
	slot, err := findSlot(p, label)
	if err != nil {
		return nil, err
	}
	se, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return nil, fmt.Errorf("C_OpenSession: %w", err)
	}
	if err := p.Login(se, pkcs11.CKU_USER, strings.TrimSpace(string(pin))); err != nil {
		return nil, fmt.Errorf("C_Login: %w", err)
	}
	clear(pin)
	// se stays open: the login lasts while a session does.
	return &hsm{p: p, slot: slot}, nil
}

// findSlot returns the slot of the token labelled label, or of the first
// token when label is empty.
func findSlot(p *pkcs11.Ctx, label string) (uint, error) {
	slots, err := p.GetSlotList(true)
	if err != nil {
		return 0, fmt.Errorf("C_GetSlotList: %w", err)
	}
	for _, slot := range slots {
		info, err := p.GetTokenInfo(slot)
		if err == nil && (label == "" || info.Label == label) {
			return slot, nil
		}
	}
	return 0, fmt.Errorf("no token labelled %q (is SOFTHSM2_CONF set?)", label)
}

// encrypter is one connection's session, key and IV counter.
type encrypter struct {
	h   *hsm
	se  pkcs11.SessionHandle
	key pkcs11.ObjectHandle
	id  uint32
	ctr uint64
}

var connIDs atomic.Uint32

func (h *hsm) newEncrypter() (*encrypter, error) {
	se, err := h.p.OpenSession(h.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return nil, fmt.Errorf("C_OpenSession: %w", err)
	}
	key, err := h.p.GenerateKey(se, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
	})
	if err != nil {
		_ = h.p.CloseSession(se)
		return nil, fmt.Errorf("C_GenerateKey: %w", err)
	}
	return &encrypter{h: h, se: se, key: key, id: connIDs.Add(1)}, nil
}

// encrypt is hsmlimit's timed operation: a fresh 96-bit IV (connection
// id and counter), C_EncryptInit, C_Encrypt.
func (e *encrypter) encrypt(plain []byte) ([]byte, error) {
	iv := make([]byte, 12)
	binary.BigEndian.PutUint32(iv[:4], e.id)
	e.ctr++
	binary.BigEndian.PutUint64(iv[4:], e.ctr)
	params := pkcs11.NewGCMParams(iv, nil, 128)
	defer params.Free()
	if err := e.h.p.EncryptInit(e.se, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, params)}, e.key); err != nil {
		return nil, fmt.Errorf("C_EncryptInit: %w", err)
	}
	return e.h.p.Encrypt(e.se, plain)
}

func (e *encrypter) close() { _ = e.h.p.CloseSession(e.se) } // destroys the session key

func runServer(addr, certs, module, label, pinFile string) error {
	cert, err := tls.LoadX509KeyPair(certs+"/server.pem", certs+"/server-key.pem")
	if err != nil {
		return err
	}
	pool, err := loadPool(certs)
	if err != nil {
		return err
	}
	h, err := openHSM(module, label, pinFile)
	if err != nil {
		return err
	}
	ln, err := tls.Listen("tcp", addr, &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	})
	if err != nil {
		return err
	}
	return serve(ln, h)
}

// serve answers every connection ln accepts until ln is closed.
func serve(ln net.Listener, h *hsm) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go serveConn(c, h)
	}
}

// serveConn answers length-prefixed requests: 4 bytes of length, then a
// body whose last 4 bytes give the plaintext's length and whose tail
// before them is the plaintext.
func serveConn(c net.Conn, h *hsm) {
	defer func() { _ = c.Close() }()
	e, err := h.newEncrypter()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bareserver:", err)
		return
	}
	defer e.close()
	var hdr [4]byte
	body := make([]byte, 0, 8192)
	for {
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint32(hdr[:]))
		if n < 4 || n > cap(body) {
			return
		}
		body = body[:n]
		if _, err := io.ReadFull(c, body); err != nil {
			return
		}
		size := int(binary.BigEndian.Uint32(body[n-4:]))
		sizes, ok := messageSizes[size]
		if !ok || size > n-4 {
			return
		}
		ct, err := e.encrypt(body[n-4-size : n-4])
		if err != nil {
			fmt.Fprintln(os.Stderr, "bareserver:", err)
			return
		}
		resp := make([]byte, sizes[1])
		binary.BigEndian.PutUint32(resp, uint32(sizes[1]-4)) //nolint:gosec // a fixed size from messageSizes
		copy(resp[len(resp)-len(ct):], ct)
		if _, err := c.Write(resp); err != nil {
			return
		}
	}
}

// runClient measures round trips per second over conns connections.
func runClient(addr, certs string, conns, size int, d time.Duration) (float64, error) {
	sizes, ok := messageSizes[size]
	if !ok {
		return 0, fmt.Errorf("-size %d: want 64 or 4096", size)
	}
	cert, err := tls.LoadX509KeyPair(certs+"/client.pem", certs+"/client-key.pem")
	if err != nil {
		return 0, err
	}
	pool, err := loadPool(certs)
	if err != nil {
		return 0, err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	tlsConns := make([]*tls.Conn, conns)
	for i := range tlsConns {
		c, err := (&tls.Dialer{Config: cfg}).DialContext(context.Background(), "tcp", addr)
		if err != nil {
			return 0, err
		}
		defer func() { _ = c.Close() }()
		tlsConns[i] = c.(*tls.Conn)
	}
	req := make([]byte, sizes[0])
	binary.BigEndian.PutUint32(req, uint32(sizes[0]-4))        //nolint:gosec // a fixed size from messageSizes
	binary.BigEndian.PutUint32(req[len(req)-4:], uint32(size)) //nolint:gosec // 64 or 4096
	// One untimed round trip per connection finishes the handshakes and
	// the server's session setup.
	var total atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	var start sync.WaitGroup
	start.Add(1)
	var deadline time.Time
	for _, c := range tlsConns {
		if err := roundTrip(c, req, make([]byte, sizes[1])); err != nil {
			return 0, err
		}
		wg.Add(1)
		go func(c *tls.Conn) {
			defer wg.Done()
			resp := make([]byte, sizes[1])
			start.Wait()
			var n int64
			for time.Now().Before(deadline) {
				if err := roundTrip(c, req, resp); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				n++
			}
			total.Add(n)
		}(c)
	}
	t0 := time.Now()
	deadline = t0.Add(d)
	start.Done()
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	return float64(total.Load()) / time.Since(t0).Seconds(), nil
}

func roundTrip(c *tls.Conn, req, resp []byte) error {
	if _, err := c.Write(req); err != nil {
		return err
	}
	if _, err := io.ReadFull(c, resp); err != nil {
		return err
	}
	if int(binary.BigEndian.Uint32(resp)) != len(resp)-4 {
		return errors.New("answer of the wrong length")
	}
	return nil
}
