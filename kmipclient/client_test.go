package kmipclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/kmipd/kmipd/certs"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// testTLS mints an in-memory PKI: a server config requiring client
// certificates and a client config trusting the CA.
func testTLS(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	pki, err := certs.NewTestPKI(certs.PKIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := pki.IssueServer(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	cli, err := pki.IssueClient("kmipclient-test", true)
	if err != nil {
		t.Fatal(err)
	}
	server = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{srv.Certificate},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pki.CAPool(),
	}
	client = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cli.Certificate},
		RootCAs:      pki.CAPool(),
	}
	return server, client
}

// serve runs a kmip.Server with h on 127.0.0.1 (TLS when tlsCfg is set)
// until the test ends, and returns its address.
func serve(t testing.TB, h kmip.Handler, tlsCfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := ln
	if tlsCfg != nil {
		l = tls.NewListener(ln, tlsCfg)
	}
	srv := &kmip.Server{Handler: h}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if err := <-done; !errors.Is(err, kmip.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// dialPlain connects without TLS, for tests of the message layer.
func dialPlain(t testing.TB, addr string, opts Options) *Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := NewConn(nc, opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// clone deep-copies v: request payloads alias the server's read buffer.
func clone(t testing.TB, v ttlv.Value) ttlv.Value {
	t.Helper()
	if v.IsZero() {
		return v
	}
	out, err := ttlv.Decode(ttlv.Marshal(v), ttlv.Limits{})
	if err != nil {
		t.Fatalf("clone: %v", err)
	}
	return out
}

// recorder is a mux whose handlers keep a copy of the last request and
// answer with a canned payload.
type recorder struct {
	t   testing.TB
	mux *kmip.ServeMux

	mu      sync.Mutex
	version kmip.ProtocolVersion // as the client sent it
	last    map[kmip.Operation]ttlv.Value
}

func newRecorder(t testing.TB, answers map[kmip.Operation]func(req *kmip.Request) (ttlv.Value, error)) *recorder {
	r := &recorder{t: t, mux: kmip.NewServeMux(), last: map[kmip.Operation]ttlv.Value{}}
	for op, answer := range answers {
		r.mux.HandleFunc(op, func(_ context.Context, req *kmip.Request) (ttlv.Value, error) {
			r.mu.Lock()
			r.version = req.Header.ProtocolVersion
			r.last[op] = clone(t, req.Payload)
			r.mu.Unlock()
			return answer(req)
		})
	}
	return r
}

func (r *recorder) request(op kmip.Operation) (kmip.ProtocolVersion, ttlv.Value) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.version, r.last[op]
}

func idPayload(req *kmip.Request) (ttlv.Value, error) {
	id, _ := req.UniqueIdentifier()
	return kmip.Payload(ttlv.Text(kmip.TagUniqueIdentifier, id)), nil
}

// cannedAnswers answers every operation the helpers send.
var cannedAnswers = map[kmip.Operation]func(req *kmip.Request) (ttlv.Value, error){
	kmip.OperationCreate: func(*kmip.Request) (ttlv.Value, error) {
		return kmip.Payload(
			ttlv.Enum(kmip.TagObjectType, uint32(kmip.ObjectTypeSymmetricKey)),
			ttlv.Text(kmip.TagUniqueIdentifier, "key-1")), nil
	},
	kmip.OperationCreateKeyPair: func(*kmip.Request) (ttlv.Value, error) {
		return kmip.Payload(
			ttlv.Text(kmip.TagPrivateKeyUniqueIdentifier, "priv-1"),
			ttlv.Text(kmip.TagPublicKeyUniqueIdentifier, "pub-1")), nil
	},
	kmip.OperationGet: func(req *kmip.Request) (ttlv.Value, error) {
		id, _ := req.UniqueIdentifier()
		return kmip.Payload(
			ttlv.Enum(kmip.TagObjectType, uint32(kmip.ObjectTypeSymmetricKey)),
			ttlv.Text(kmip.TagUniqueIdentifier, id),
			ttlv.Struct(kmip.TagSymmetricKey, ttlv.Struct(kmip.TagKeyBlock,
				ttlv.Enum(kmip.TagKeyFormatType, uint32(kmip.KeyFormatTypeRaw)),
				ttlv.Struct(kmip.TagKeyValue, ttlv.Bytes(kmip.TagKeyMaterial, bytes.Repeat([]byte{0x42}, 32))),
			))), nil
	},
	kmip.OperationLocate: func(*kmip.Request) (ttlv.Value, error) {
		return kmip.Payload(
			ttlv.Int(kmip.TagLocatedItems, 2),
			ttlv.Text(kmip.TagUniqueIdentifier, "a"),
			ttlv.Text(kmip.TagUniqueIdentifier, "b")), nil
	},
	kmip.OperationActivate: idPayload,
	kmip.OperationRevoke:   idPayload,
	kmip.OperationDestroy:  idPayload,
	kmip.OperationEncrypt: func(req *kmip.Request) (ttlv.Value, error) {
		id, _ := req.UniqueIdentifier()
		return kmip.Payload(
			ttlv.Text(kmip.TagUniqueIdentifier, id),
			ttlv.Bytes(kmip.TagData, []byte("ciphertext")),
			ttlv.Bytes(kmip.TagIVCounterNonce, []byte("twelve-bytes")),
			ttlv.Bytes(kmip.TagAuthenticatedEncryptionTag, []byte("sixteen-byte-tag"))), nil
	},
	kmip.OperationDecrypt: func(req *kmip.Request) (ttlv.Value, error) {
		id, _ := req.UniqueIdentifier()
		return kmip.Payload(ttlv.Text(kmip.TagUniqueIdentifier, id), ttlv.Bytes(kmip.TagData, []byte("plaintext"))), nil
	},
	kmip.OperationSign: func(req *kmip.Request) (ttlv.Value, error) {
		id, _ := req.UniqueIdentifier()
		return kmip.Payload(ttlv.Text(kmip.TagUniqueIdentifier, id), ttlv.Bytes(kmip.TagSignatureData, []byte("signature"))), nil
	},
}

// attrMap parses an attribute container of either version into name →
// value.
func attrMap(t *testing.T, container ttlv.Value) map[string]ttlv.Value {
	t.Helper()
	attrs, err := kmip.ParseAttributes(container)
	if err != nil {
		t.Fatalf("attributes do not parse: %v", err)
	}
	m := map[string]ttlv.Value{}
	for _, a := range attrs {
		m[a.Name] = a.Value
	}
	return m
}

// container returns the payload's attribute container for the version.
func container(t *testing.T, p ttlv.Value, v kmip.ProtocolVersion, tag1x, tag2x ttlv.Tag) ttlv.Value {
	t.Helper()
	tag := tag1x
	if v.Is2x() {
		tag = tag2x
	}
	c, ok := p.Child(tag)
	if !ok {
		t.Fatalf("payload has no %s", kmip.TagString(tag))
	}
	return c
}

func wantEnum(t *testing.T, m map[string]ttlv.Value, name string, want uint32) {
	t.Helper()
	if v, ok := m[name]; !ok || v.Type != ttlv.TypeEnumeration || v.Enum() != want {
		t.Errorf("%s = %v, want enumeration %d", name, v, want)
	}
}

func wantInt(t *testing.T, m map[string]ttlv.Value, name string, want int32) {
	t.Helper()
	if v, ok := m[name]; !ok || v.Type != ttlv.TypeInteger || v.Int() != want {
		t.Errorf("%s = %v, want integer %d", name, v, want)
	}
}

func child(t *testing.T, v ttlv.Value, tag ttlv.Tag) ttlv.Value {
	t.Helper()
	c, ok := v.Child(tag)
	if !ok {
		t.Fatalf("%s has no %s", kmip.TagString(v.Tag), kmip.TagString(tag))
	}
	return c
}

// TestRequestEncodings checks every helper's request payload, for 1.x
// (Template-Attribute) and 2.x (Attributes) encodings, against a server
// that parses them with kmipd's own attribute codec.
func TestRequestEncodings(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name  string
		op    kmip.Operation
		call  func(c *Conn) error
		check func(t *testing.T, v kmip.ProtocolVersion, p ttlv.Value)
	}{
		{"create", kmip.OperationCreate, func(c *Conn) error {
			id, err := c.CreateAES(ctx, 256, "bench-key")
			if err == nil && id != "key-1" {
				t.Errorf("id = %q, want key-1", id)
			}
			return err
		}, func(t *testing.T, v kmip.ProtocolVersion, p ttlv.Value) {
			if ot := child(t, p, kmip.TagObjectType); ot.Enum() != uint32(kmip.ObjectTypeSymmetricKey) {
				t.Errorf("object type %d", ot.Enum())
			}
			m := attrMap(t, container(t, p, v, kmip.TagTemplateAttribute, kmip.TagAttributes))
			wantEnum(t, m, "Cryptographic Algorithm", uint32(kmip.CryptographicAlgorithmAES))
			wantInt(t, m, "Cryptographic Length", 256)
			wantInt(t, m, "Cryptographic Usage Mask", int32(kmip.CryptographicUsageMaskEncrypt|kmip.CryptographicUsageMaskDecrypt))
			if n := child(t, m["Name"], kmip.TagNameValue); n.Text() != "bench-key" {
				t.Errorf("name %q", n.Text())
			}
		}},
		{"create key pair", kmip.OperationCreateKeyPair, func(c *Conn) error {
			priv, pub, err := c.CreateKeyPairEC(ctx, kmip.RecommendedCurveP256)
			if err == nil && (priv != "priv-1" || pub != "pub-1") {
				t.Errorf("ids %q %q", priv, pub)
			}
			return err
		}, func(t *testing.T, v kmip.ProtocolVersion, p ttlv.Value) {
			common := attrMap(t, container(t, p, v, kmip.TagCommonTemplateAttribute, kmip.TagCommonAttributes))
			wantEnum(t, common, "Cryptographic Algorithm", uint32(kmip.CryptographicAlgorithmEC))
			wantInt(t, common, "Cryptographic Length", 256)
			if rc := child(t, common["Cryptographic Domain Parameters"], kmip.TagRecommendedCurve); rc.Enum() != uint32(kmip.RecommendedCurveP256) {
				t.Errorf("curve %d", rc.Enum())
			}
			priv := attrMap(t, container(t, p, v, kmip.TagPrivateKeyTemplateAttribute, kmip.TagPrivateKeyAttributes))
			wantInt(t, priv, "Cryptographic Usage Mask", int32(kmip.CryptographicUsageMaskSign))
			pub := attrMap(t, container(t, p, v, kmip.TagPublicKeyTemplateAttribute, kmip.TagPublicKeyAttributes))
			wantInt(t, pub, "Cryptographic Usage Mask", int32(kmip.CryptographicUsageMaskVerify))
		}},
		{"get", kmip.OperationGet, func(c *Conn) error {
			o, err := c.Get(ctx, "key-1")
			if err != nil {
				return err
			}
			defer o.Clear()
			if o.ID != "key-1" || o.Type != kmip.ObjectTypeSymmetricKey || o.Value.Tag != kmip.TagSymmetricKey {
				t.Errorf("object %q %v %s", o.ID, o.Type, kmip.TagString(o.Value.Tag))
			}
			return nil
		}, func(t *testing.T, _ kmip.ProtocolVersion, p ttlv.Value) {
			if id := child(t, p, kmip.TagUniqueIdentifier); id.Text() != "key-1" {
				t.Errorf("id %q", id.Text())
			}
		}},
		{"locate", kmip.OperationLocate, func(c *Conn) error {
			ids, err := c.LocateByName(ctx, "bench-key")
			if err == nil && (len(ids) != 2 || ids[0] != "a" || ids[1] != "b") {
				t.Errorf("ids %q", ids)
			}
			return err
		}, func(t *testing.T, v kmip.ProtocolVersion, p ttlv.Value) {
			c := p // KMIP 1.4 §4.9: Attribute structures in the payload
			if v.Is2x() {
				c = child(t, p, kmip.TagAttributes)
			}
			m := attrMap(t, c)
			if n := child(t, m["Name"], kmip.TagNameValue); n.Text() != "bench-key" {
				t.Errorf("name %q", n.Text())
			}
		}},
		{"activate", kmip.OperationActivate, func(c *Conn) error { return c.Activate(ctx, "key-1") },
			func(t *testing.T, _ kmip.ProtocolVersion, p ttlv.Value) { child(t, p, kmip.TagUniqueIdentifier) }},
		{"destroy", kmip.OperationDestroy, func(c *Conn) error { return c.Destroy(ctx, "key-1") },
			func(t *testing.T, _ kmip.ProtocolVersion, p ttlv.Value) { child(t, p, kmip.TagUniqueIdentifier) }},
		{"revoke", kmip.OperationRevoke, func(c *Conn) error {
			return c.Revoke(ctx, "key-1", kmip.RevocationReasonCodeKeyCompromise)
		}, func(t *testing.T, _ kmip.ProtocolVersion, p ttlv.Value) {
			rr := child(t, p, kmip.TagRevocationReason)
			if code := child(t, rr, kmip.TagRevocationReasonCode); code.Enum() != uint32(kmip.RevocationReasonCodeKeyCompromise) {
				t.Errorf("code %d", code.Enum())
			}
			// KMIP 1.4 §4.20: required for Key Compromise.
			child(t, p, kmip.TagCompromiseOccurrenceDate)
		}},
		{"encrypt", kmip.OperationEncrypt, func(c *Conn) error {
			ct, err := c.Encrypt(ctx, "key-1", []byte("hello"), nil)
			if err == nil && (string(ct.Data) != "ciphertext" || string(ct.IV) != "twelve-bytes" || string(ct.Tag) != "sixteen-byte-tag") {
				t.Errorf("ciphertext %q", ct)
			}
			return err
		}, func(t *testing.T, _ kmip.ProtocolVersion, p ttlv.Value) {
			cp := child(t, p, kmip.TagCryptographicParameters)
			if m := child(t, cp, kmip.TagBlockCipherMode); m.Enum() != uint32(kmip.BlockCipherModeGCM) {
				t.Errorf("mode %d", m.Enum())
			}
			if a := child(t, cp, kmip.TagCryptographicAlgorithm); a.Enum() != uint32(kmip.CryptographicAlgorithmAES) {
				t.Errorf("algorithm %d", a.Enum())
			}
			if !child(t, cp, kmip.TagRandomIV).Bool() || child(t, cp, kmip.TagTagLength).Int() != 16 {
				t.Error("want Random IV true and Tag Length 16")
			}
			if d := child(t, p, kmip.TagData); string(d.Bytes()) != "hello" {
				t.Errorf("data %q", d.Bytes())
			}
			if p.Has(kmip.TagIVCounterNonce) {
				t.Error("IV sent although the server should pick it")
			}
		}},
		{"decrypt", kmip.OperationDecrypt, func(c *Conn) error {
			pt, err := c.Decrypt(ctx, "key-1", Ciphertext{Data: []byte("ct"), IV: []byte("iv"), Tag: []byte("tag")})
			if err == nil && string(pt) != "plaintext" {
				t.Errorf("plaintext %q", pt)
			}
			return err
		}, func(t *testing.T, _ kmip.ProtocolVersion, p ttlv.Value) {
			cp := child(t, p, kmip.TagCryptographicParameters)
			if cp.Has(kmip.TagRandomIV) {
				t.Error("Random IV sent on decrypt")
			}
			for tag, want := range map[ttlv.Tag]string{kmip.TagData: "ct", kmip.TagIVCounterNonce: "iv", kmip.TagAuthenticatedEncryptionTag: "tag"} {
				if got := child(t, p, tag).Bytes(); string(got) != want {
					t.Errorf("%s = %q, want %q", kmip.TagString(tag), got, want)
				}
			}
		}},
		{"sign", kmip.OperationSign, func(c *Conn) error {
			sig, err := c.Sign(ctx, "priv-1", []byte("message"))
			if err == nil && string(sig) != "signature" {
				t.Errorf("signature %q", sig)
			}
			return err
		}, func(t *testing.T, _ kmip.ProtocolVersion, p ttlv.Value) {
			cp := child(t, p, kmip.TagCryptographicParameters)
			if h := child(t, cp, kmip.TagHashingAlgorithm); h.Enum() != uint32(kmip.HashingAlgorithmSHA256) {
				t.Errorf("hash %d", h.Enum())
			}
			if a := child(t, cp, kmip.TagCryptographicAlgorithm); a.Enum() != uint32(kmip.CryptographicAlgorithmECDSA) {
				t.Errorf("algorithm %d", a.Enum())
			}
		}},
	}
	rec := newRecorder(t, cannedAnswers)
	addr := serve(t, rec.mux, nil)
	for _, ver := range []kmip.ProtocolVersion{kmip.V1_4, kmip.V2_0, kmip.V2_1} {
		c := dialPlain(t, addr, Options{Version: ver})
		for _, tc := range cases {
			t.Run(ver.String()+"/"+tc.name, func(t *testing.T) {
				if err := tc.call(c); err != nil {
					t.Fatal(err)
				}
				gotVer, p := rec.request(tc.op)
				if gotVer != ver {
					t.Errorf("request header version %v, want %v", gotVer, ver)
				}
				tc.check(t, ver, p)
			})
		}
	}
}

// TestDialTLS checks the mutual-TLS path end to end, and that a failed
// item surfaces as a *kmip.Error.
func TestDialTLS(t *testing.T) {
	srvCfg, cliCfg := testTLS(t)
	addr := serve(t, newRecorder(t, cannedAnswers).mux, srvCfg)
	ctx := context.Background()

	if _, err := Dial(ctx, addr, nil, Options{}); err == nil {
		t.Fatal("Dial without a TLS config succeeded")
	}
	c, err := Dial(ctx, addr, cliCfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if c.Version() != kmip.V1_4 {
		t.Errorf("default version %v, want 1.4", c.Version())
	}
	if err := c.Activate(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	// Query is not registered on the recorder's mux.
	_, err = c.Do(ctx, kmip.OperationRegister, ttlv.Value{})
	var ke *kmip.Error
	if !errors.As(err, &ke) || ke.Reason != kmip.ResultReasonOperationNotSupported {
		t.Fatalf("err = %v, want a *kmip.Error with Operation Not Supported", err)
	}
	if !errors.Is(err, kmip.ErrOperationNotSupported) {
		t.Errorf("errors.Is(err, ErrOperationNotSupported) is false for %v", err)
	}
	// A failed item leaves the connection usable.
	if err := c.Err(); err != nil {
		t.Fatalf("Err after a failed item: %v", err)
	}
	p, err := c.Do(ctx, kmip.OperationActivate, ttlv.Struct(kmip.TagRequestPayload, ttlv.Text(kmip.TagUniqueIdentifier, "y")))
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := p.Child(kmip.TagUniqueIdentifier); id.Text() != "y" || p.Tag != kmip.TagResponsePayload {
		t.Errorf("payload %v", p)
	}
}

func TestDoBatch(t *testing.T) {
	answers := map[kmip.Operation]func(*kmip.Request) (ttlv.Value, error){
		kmip.OperationCreate:   cannedAnswers[kmip.OperationCreate],
		kmip.OperationActivate: idPayload,
		kmip.OperationDestroy: func(*kmip.Request) (ttlv.Value, error) {
			return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonPermissionDenied, "object is active")
		},
	}
	addr := serve(t, newRecorder(t, answers).mux, nil)
	c := dialPlain(t, addr, Options{})
	ctx := context.Background()
	create := BatchItem{Operation: kmip.OperationCreate}
	activate := BatchItem{Operation: kmip.OperationActivate} // ID Placeholder
	destroy := BatchItem{Operation: kmip.OperationDestroy}

	tests := []struct {
		name  string
		items []BatchItem
		opts  BatchOptions
		want  []error
	}{
		{"one", []BatchItem{activate}, BatchOptions{}, []error{nil}},
		{"placeholder", []BatchItem{create, activate}, BatchOptions{}, []error{nil, nil}},
		{"stop", []BatchItem{create, destroy, activate}, BatchOptions{}, []error{nil, kmip.ErrPermissionDenied, ErrNotProcessed}},
		{"continue", []BatchItem{create, destroy, activate}, BatchOptions{ContinueOnError: true}, []error{nil, kmip.ErrPermissionDenied, nil}},
		{"unsupported", []BatchItem{{Operation: kmip.OperationRegister}}, BatchOptions{}, []error{kmip.ErrOperationNotSupported}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.DoBatch(ctx, tt.items, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != len(tt.want) {
				t.Fatalf("%d results, want %d", len(res), len(tt.want))
			}
			for i, want := range tt.want {
				if res[i].Operation != tt.items[i].Operation {
					t.Errorf("result %d operation %v", i, res[i].Operation)
				}
				if (want == nil) != (res[i].Err == nil) || (want != nil && !errors.Is(res[i].Err, want)) {
					t.Errorf("result %d: err = %v, want %v", i, res[i].Err, want)
				}
			}
			if tt.name == "placeholder" {
				// Activate named no object: the server used the ID
				// Placeholder that Create set (KMIP 1.4 §4).
				if id, _ := res[1].Payload.Child(kmip.TagUniqueIdentifier); id.Text() != "key-1" {
					t.Errorf("activate answered for %q, want key-1", id.Text())
				}
			}
		})
	}
	if _, err := c.DoBatch(ctx, nil, BatchOptions{}); err == nil {
		t.Error("empty batch accepted")
	}
}

// TestConcurrentUse drives one Conn from several goroutines; run with
// -race.
func TestConcurrentUse(t *testing.T) {
	addr := serve(t, newRecorder(t, cannedAnswers).mux, nil)
	c := dialPlain(t, addr, Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				ct, err := c.Encrypt(context.Background(), "k", []byte("data"), nil)
				if err != nil {
					errs <- err
					return
				}
				if _, err := c.Decrypt(context.Background(), "k", ct); err != nil {
					errs <- err
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
}

// TestContextEndsExchange checks that a context ending mid-exchange fails
// the call with the context's error and breaks the Conn (the stream can
// no longer be trusted), and that a caller waiting for a busy Conn can
// give up.
func TestContextEndsExchange(t *testing.T) {
	release := make(chan struct{})
	mux := kmip.NewServeMux()
	mux.HandleFunc(kmip.OperationActivate, func(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
		<-release
		return idPayload(req)
	})
	addr := serve(t, mux, nil)
	t.Cleanup(func() { close(release) }) // before the server's shutdown
	c := dialPlain(t, addr, Options{})

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := c.Activate(ctx, "k")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if c.Err() == nil {
		t.Fatal("Conn still usable after an interrupted exchange")
	}
	if err := c.Activate(context.Background(), "k"); err == nil {
		t.Fatal("call on a broken Conn succeeded")
	}

	// Waiting for the lock honours the context.
	c2 := dialPlain(t, addr, Options{})
	go func() { _ = c2.Activate(context.Background(), "k") }()
	time.Sleep(20 * time.Millisecond) // let it take the Conn; the check below holds either way
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if err := c2.Activate(ctx2, "k"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
}

func TestClose(t *testing.T) {
	addr := serve(t, newRecorder(t, cannedAnswers).mux, nil)
	c := dialPlain(t, addr, Options{})
	if err := c.Activate(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := c.Activate(context.Background(), "k"); !errors.Is(err, ErrClosed) {
		t.Errorf("err = %v, want ErrClosed", err)
	}
}

// rawServer answers every request with the bytes reply returns, then
// closes the connection if closeAfter.
func rawServer(t *testing.T, reply []byte, closeAfter bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { _ = nc.Close() }()
				for {
					if _, err := ttlv.ReadMessage(nc, nil, ttlv.Limits{}); err != nil {
						return
					}
					if _, err := nc.Write(reply); err != nil || closeAfter {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func response(items ...ttlv.Value) []byte {
	return responseCount(int32(len(items)), items...)
}

func responseCount(count int32, items ...ttlv.Value) []byte {
	kids := []ttlv.Value{ttlv.Struct(kmip.TagResponseHeader,
		kmip.ProtocolVersionValue(kmip.V1_4),
		ttlv.DateTime(kmip.TagTimeStamp, time.Unix(0, 0)),
		ttlv.Int(kmip.TagBatchCount, count))}
	return ttlv.Marshal(ttlv.Struct(kmip.TagResponseMessage, append(kids, items...)...))
}

func okItem(op kmip.Operation) ttlv.Value {
	return ttlv.Struct(kmip.TagBatchItem,
		ttlv.Enum(kmip.TagOperation, uint32(op)),
		ttlv.Enum(kmip.TagResultStatus, uint32(kmip.ResultStatusSuccess)),
		kmip.Payload(ttlv.Text(kmip.TagUniqueIdentifier, "k")))
}

// TestHostileResponses feeds the client answers a broken or hostile
// server could send: none may panic, allocate what a header claims, or be
// taken for success.
func TestHostileResponses(t *testing.T) {
	header := func(typ ttlv.Type, length uint32) []byte {
		b := []byte{0x42, 0x00, 0x7B, byte(typ), 0, 0, 0, 0}
		binary.BigEndian.PutUint32(b[4:], length)
		return b
	}
	valid := response(okItem(kmip.OperationActivate))
	tests := []struct {
		name       string
		reply      []byte
		closeAfter bool
		want       error
		broken     bool // the Conn is unusable afterwards
	}{
		{"4 GiB header", header(ttlv.TypeStructure, 0xFFFFFFF8), false, ttlv.ErrTooLarge, true},
		{"not a structure", header(ttlv.TypeInteger, 8), false, ttlv.ErrBadType, true},
		{"odd length", header(ttlv.TypeStructure, 12), false, ttlv.ErrBadLength, true},
		{"truncated body", valid[:len(valid)-8], true, io.ErrUnexpectedEOF, true},
		{"no answer", nil, true, io.ErrUnexpectedEOF, true},
		{"bad padding", func() []byte {
			b := response(ttlv.Struct(kmip.TagBatchItem,
				ttlv.Enum(kmip.TagResultStatus, 0), ttlv.Text(kmip.TagResultMessage, "abc")))
			b[len(b)-1] = 1
			return b
		}(), false, ttlv.ErrBadPadding, false},
		{"batch count mismatch", responseCount(2, okItem(kmip.OperationActivate)), false, ErrBadResponse, false},
		{"no batch item", response(), false, ErrBadResponse, false},
		{"other operation", response(okItem(kmip.OperationDestroy)), false, ErrBadResponse, false},
		{"no result status", response(ttlv.Struct(kmip.TagBatchItem, ttlv.Enum(kmip.TagOperation, uint32(kmip.OperationActivate)))), false, ErrBadResponse, false},
		{"status of wrong type", response(ttlv.Struct(kmip.TagBatchItem, ttlv.Int(kmip.TagResultStatus, 0))), false, ErrBadResponse, false},
		{"pending", response(ttlv.Struct(kmip.TagBatchItem, ttlv.Enum(kmip.TagResultStatus, uint32(kmip.ResultStatusOperationPending)))), false, ErrBadResponse, false},
		{"failure without reason", response(ttlv.Struct(kmip.TagBatchItem, ttlv.Enum(kmip.TagResultStatus, uint32(kmip.ResultStatusOperationFailed)))), false, kmip.ErrGeneralFailure, false},
		{"request message", ttlv.Marshal(ttlv.Struct(kmip.TagRequestMessage)), false, ErrBadResponse, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := rawServer(t, tt.reply, tt.closeAfter)
			c := dialPlain(t, addr, Options{Timeout: 5 * time.Second})
			err := c.Activate(context.Background(), "k")
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if broken := c.Err() != nil; broken != tt.broken {
				t.Errorf("broken = %v (%v), want %v", broken, c.Err(), tt.broken)
			}
		})
	}
	t.Run("response larger than the limit", func(t *testing.T) {
		addr := rawServer(t, valid, false)
		c := dialPlain(t, addr, Options{Limits: ttlv.Limits{MaxMessageSize: len(valid) - 8}})
		if err := c.Activate(context.Background(), "k"); !errors.Is(err, ttlv.ErrTooLarge) {
			t.Fatalf("err = %v, want ErrTooLarge", err)
		}
	})
}

// BenchmarkActivate measures one exchange over loopback, client and
// in-process server together.
func BenchmarkActivate(b *testing.B) {
	mux := kmip.NewServeMux()
	mux.HandleFunc(kmip.OperationActivate, func(_ context.Context, req *kmip.Request) (ttlv.Value, error) {
		return idPayload(req)
	})
	addr := serve(b, mux, nil)
	c := dialPlain(b, addr, Options{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Activate(ctx, "key-1"); err != nil {
			b.Fatal(err)
		}
	}
}
