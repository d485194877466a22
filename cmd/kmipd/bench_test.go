package main

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kmipd/kmipd/certs"
	"github.com/kmipd/kmipd/hsmbackend/hsmtest"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/service"
	"github.com/kmipd/kmipd/ttlv"
)

func TestHistogramIndexBounds(t *testing.T) {
	prev := -1
	for _, v := range []int64{0, 1, 63, 64, 65, 127, 128, 129, 255, 256, 1000, 4095, 4096, 1e6, 1e9, 1<<40 - 1} {
		i := histIndex(v)
		if i < prev {
			t.Fatalf("histIndex(%d) = %d < histIndex of a smaller value (%d)", v, i, prev)
		}
		prev = i
		low, width := histBounds(i)
		if v < low || v >= low+width {
			t.Errorf("value %d in bucket %d = [%d, %d)", v, i, low, low+width)
		}
		// Relative precision: a bucket is at most 1/64 of its values wide.
		if v >= histSub && float64(width)/float64(low) > 1.0/histSub {
			t.Errorf("bucket %d of %d is %d wide", i, low, width)
		}
	}
	if i := histIndex(1 << 50); i != histBuckets-1 {
		t.Errorf("histIndex(2^50) = %d, want the last bucket %d", i, histBuckets-1)
	}
	if i := histIndex(-5); i != 0 {
		t.Errorf("histIndex(-5) = %d, want 0", i)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name   string
		fill   func(h *histogram)
		q      float64
		want   time.Duration
		relErr float64 // tolerated relative error; 0 means exact
	}{
		{"empty", func(*histogram) {}, 0.5, 0, 0},
		{"constant", func(h *histogram) {
			for range 1000 {
				h.record(ms)
			}
		}, 0.99, ms, 0},
		{"small exact p50", func(h *histogram) {
			for v := 1; v <= 100; v++ {
				h.record(time.Duration(v))
			}
		}, 0.5, 50, 0},
		{"uniform p50", uniform, 0.50, 50 * time.Microsecond, 1.0 / 64},
		{"uniform p90", uniform, 0.90, 90 * time.Microsecond, 1.0 / 64},
		{"uniform p99", uniform, 0.99, 99 * time.Microsecond, 1.0 / 64},
		{"uniform p100", uniform, 1, 100 * time.Microsecond, 0},
		{"uniform p0", uniform, 0, time.Nanosecond, 0},
		{"bimodal p50", bimodal, 0.50, ms, 1.0 / 64},
		{"bimodal p90", bimodal, 0.90, ms, 1.0 / 64},
		{"bimodal p99", bimodal, 0.99, 100 * ms, 1.0 / 64},
		{"beyond range clamps to max", func(h *histogram) { h.record(2 * time.Hour) }, 0.5, 2 * time.Hour, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h histogram
			tt.fill(&h)
			got := h.quantile(tt.q)
			if tt.relErr == 0 {
				if got != tt.want {
					t.Fatalf("quantile(%v) = %v, want %v", tt.q, got, tt.want)
				}
				return
			}
			if e := math.Abs(float64(got-tt.want)) / float64(tt.want); e > tt.relErr {
				t.Fatalf("quantile(%v) = %v, want %v ± %.1f%%", tt.q, got, tt.want, tt.relErr*100)
			}
		})
	}
}

// uniform records 1 ns to 100 µs in 1 ns steps.
func uniform(h *histogram) {
	for v := 1; v <= 100_000; v++ {
		h.record(time.Duration(v))
	}
}

// bimodal records 95% at 1 ms and 5% at 100 ms.
func bimodal(h *histogram) {
	for i := range 1000 {
		d := time.Millisecond
		if i%20 == 0 {
			d = 100 * time.Millisecond
		}
		h.record(d)
	}
}

func TestHistogramMerge(t *testing.T) {
	var a, b, all histogram
	for v := 1; v <= 5000; v++ {
		d := time.Duration(v) * time.Microsecond
		if v%3 == 0 {
			a.record(d)
		} else {
			b.record(d)
		}
		all.record(d)
	}
	var m histogram
	m.merge(&a)
	m.merge(&b)
	m.merge(&histogram{}) // empty: no effect on min
	if m != all {
		t.Fatal("merged histogram differs from recording everything in one")
	}
}

func TestHistogramRecordAllocatesNothing(t *testing.T) {
	h := new(histogram)
	if n := testing.AllocsPerRun(1000, func() { h.record(1234 * time.Microsecond) }); n != 0 {
		t.Fatalf("record allocates %v times", n)
	}
}

// benchFiles writes a test PKI's CA and a client certificate and key and
// returns the server's TLS config and the bench flags that use them.
func benchFiles(t *testing.T) (*tls.Config, []string) {
	t.Helper()
	pki, err := certs.NewTestPKI(certs.PKIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := pki.IssueServer(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	cli, err := pki.IssueClient("bench-test", true)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string][]byte{"ca.pem": pki.CAPEM(), "client.pem": cli.CertPEM, "client-key.pem": cli.KeyPEM}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{srv.Certificate},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pki.CAPool(),
	}
	return cfg, []string{"--ca", filepath.Join(dir, "ca.pem"), "--cert", filepath.Join(dir, "client.pem"), "--key", filepath.Join(dir, "client-key.pem")}
}

// serveKMIP runs h on 127.0.0.1 over TLS until the test ends.
func serveKMIP(t *testing.T, h kmip.Handler, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &kmip.Server{Handler: h}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(tls.NewListener(ln, cfg)) }()
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

// runKMIPD runs the kmipd CLI in-process and returns its standard output.
func runKMIPD(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	app := newApp()
	app.Writer, app.ErrWriter = &out, &errOut
	err := app.Run(append([]string{"kmipd"}, args...))
	if testing.Verbose() && errOut.Len() > 0 {
		t.Logf("stderr:\n%s", errOut.String())
	}
	return out.String(), err
}

func TestBenchFlags(t *testing.T) {
	_, files := benchFiles(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no certificates", []string{"bench"}, "Required flags"},
		{"unknown op", append([]string{"bench", "--ops", "get,frobnicate"}, files...), `unknown operation "frobnicate"`},
		{"zero connections", append([]string{"bench", "--connections", "1,0"}, files...), "--connections"},
		{"too many connections", append([]string{"bench", "--connections", "5000"}, files...), "--connections"},
		{"bad version", append([]string{"bench", "--version", "3.0"}, files...), "--version"},
		{"short duration", append([]string{"bench", "--duration", "1ms"}, files...), "--duration"},
		{"long duration", append([]string{"bench", "--duration", "48h"}, files...), "--duration"},
		{"no request budget", append([]string{"bench", "--max-requests", "0"}, files...), "--max-requests"},
		{"zero reps", append([]string{"bench", "--reps", "0"}, files...), "--reps"},
		{"no locate keys", append([]string{"bench", "--locate-keys", "0"}, files...), "--locate-keys"},
		{"too many locate keys", append([]string{"bench", "--locate-keys", "1000001"}, files...), "--locate-keys"},
		{"too many reps", append([]string{"bench", "--reps", "101"}, files...), "--reps"},
		{"bad address", append([]string{"bench", "--addr", "localhost"}, files...), "--addr"},
		{"missing CA file", []string{"bench", "--ca", "/nonexistent/ca.pem", "--cert", files[3], "--key", files[5]}, "--ca"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runKMIPD(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

// fakeKMS is a minimal in-memory KMIP server for the bench's own tests:
// AES keys with the lifecycle bench relies on, and no key pairs (so that
// sign-p256 is unsupported).
type fakeKMS struct {
	mu    sync.Mutex
	next  int
	keys  map[string]*fakeKey
	names map[string]bool // every name a Create gave
}

type fakeKey struct {
	name   string
	active bool
	key    []byte
}

func newFakeKMS() (*fakeKMS, *kmip.ServeMux) {
	f := &fakeKMS{keys: map[string]*fakeKey{}, names: map[string]bool{}}
	mux := kmip.NewServeMux()
	mux.HandleFunc(kmip.OperationCreate, f.create)
	mux.HandleFunc(kmip.OperationActivate, f.lifecycle)
	mux.HandleFunc(kmip.OperationRevoke, f.lifecycle)
	mux.HandleFunc(kmip.OperationDestroy, f.lifecycle)
	mux.HandleFunc(kmip.OperationGet, f.get)
	mux.HandleFunc(kmip.OperationLocate, f.locate)
	mux.HandleFunc(kmip.OperationEncrypt, f.crypt)
	mux.HandleFunc(kmip.OperationDecrypt, f.crypt)
	return f, mux
}

func (f *fakeKMS) namedCreates() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.names)
}

func (f *fakeKMS) live() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.keys)
}

// attrsOf returns the attributes of a Create or Locate payload, in either
// version's encoding.
func attrsOf(req *kmip.Request) ([]kmip.Attribute, error) {
	for _, tag := range []ttlv.Tag{kmip.TagTemplateAttribute, kmip.TagAttributes} {
		if c, ok := req.Payload.Child(tag); ok {
			return kmip.ParseAttributes(c)
		}
	}
	return kmip.ParseAttributes(req.Payload) // 1.x Locate
}

func nameOf(attrs []kmip.Attribute) string {
	for _, a := range attrs {
		if a.Name == "Name" {
			if v, ok := a.Value.Child(kmip.TagNameValue); ok {
				return v.Text()
			}
		}
	}
	return ""
}

func (f *fakeKMS) create(_ context.Context, req *kmip.Request) (ttlv.Value, error) {
	attrs, err := attrsOf(req)
	if err != nil {
		return ttlv.Value{}, err
	}
	k := &fakeKey{name: nameOf(attrs), key: make([]byte, 32)}
	_, _ = rand.Read(k.key)
	f.mu.Lock()
	f.next++
	id := strconv.Itoa(f.next)
	f.keys[id] = k
	if k.name != "" {
		f.names[k.name] = true
	}
	f.mu.Unlock()
	return kmip.Payload(
		ttlv.Enum(kmip.TagObjectType, uint32(kmip.ObjectTypeSymmetricKey)),
		ttlv.Text(kmip.TagUniqueIdentifier, id)), nil
}

func (f *fakeKMS) key(req *kmip.Request) (string, *fakeKey, error) {
	id, _ := req.UniqueIdentifier()
	f.mu.Lock()
	defer f.mu.Unlock()
	k, ok := f.keys[id]
	if !ok {
		return id, nil, kmip.Errorf(kmip.ResultReasonItemNotFound, "no key %s", id)
	}
	return id, k, nil
}

func (f *fakeKMS) lifecycle(_ context.Context, req *kmip.Request) (ttlv.Value, error) {
	id, k, err := f.key(req)
	if err != nil {
		return ttlv.Value{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch req.Operation {
	case kmip.OperationActivate:
		k.active = true
	case kmip.OperationRevoke:
		k.active = false
	case kmip.OperationDestroy:
		if k.active {
			return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonPermissionDenied, "key %s is active", id)
		}
		delete(f.keys, id)
	default:
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonOperationNotSupported, "%s", req.Operation)
	}
	return kmip.Payload(ttlv.Text(kmip.TagUniqueIdentifier, id)), nil
}

func (f *fakeKMS) get(_ context.Context, req *kmip.Request) (ttlv.Value, error) {
	id, k, err := f.key(req)
	if err != nil {
		return ttlv.Value{}, err
	}
	return kmip.Payload(
		ttlv.Enum(kmip.TagObjectType, uint32(kmip.ObjectTypeSymmetricKey)),
		ttlv.Text(kmip.TagUniqueIdentifier, id),
		ttlv.Struct(kmip.TagSymmetricKey, ttlv.Struct(kmip.TagKeyBlock,
			ttlv.Enum(kmip.TagKeyFormatType, uint32(kmip.KeyFormatTypeRaw)),
			ttlv.Struct(kmip.TagKeyValue, ttlv.Bytes(kmip.TagKeyMaterial, k.key))))), nil
}

func (f *fakeKMS) locate(_ context.Context, req *kmip.Request) (ttlv.Value, error) {
	attrs, err := attrsOf(req)
	if err != nil {
		return ttlv.Value{}, err
	}
	name := nameOf(attrs)
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ttlv.Value
	for id, k := range f.keys {
		if k.name == name {
			out = append(out, ttlv.Text(kmip.TagUniqueIdentifier, id))
		}
	}
	return kmip.Payload(out...), nil
}

func (f *fakeKMS) crypt(_ context.Context, req *kmip.Request) (ttlv.Value, error) {
	id, k, err := f.key(req)
	if err != nil {
		return ttlv.Value{}, err
	}
	if !k.active {
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonPermissionDenied, "key %s is not active", id)
	}
	block, _ := aes.NewCipher(k.key)
	gcm, _ := cipher.NewGCM(block)
	data, _ := req.Payload.Child(kmip.TagData)
	if req.Operation == kmip.OperationEncrypt {
		iv := make([]byte, gcm.NonceSize())
		_, _ = rand.Read(iv)
		sealed := gcm.Seal(nil, iv, data.Bytes(), nil)
		n := len(sealed) - gcm.Overhead()
		return kmip.Payload(ttlv.Text(kmip.TagUniqueIdentifier, id),
			ttlv.Bytes(kmip.TagData, sealed[:n]),
			ttlv.Bytes(kmip.TagIVCounterNonce, iv),
			ttlv.Bytes(kmip.TagAuthenticatedEncryptionTag, sealed[n:])), nil
	}
	iv, _ := req.Payload.Child(kmip.TagIVCounterNonce)
	tag, _ := req.Payload.Child(kmip.TagAuthenticatedEncryptionTag)
	pt, err := gcm.Open(nil, iv.Bytes(), append(append([]byte{}, data.Bytes()...), tag.Bytes()...), nil)
	if err != nil {
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonCryptographicFailure, "authentication failed")
	}
	return kmip.Payload(ttlv.Text(kmip.TagUniqueIdentifier, id), ttlv.Bytes(kmip.TagData, pt)), nil
}

func decodeReport(t *testing.T, out string) benchReport {
	t.Helper()
	var rep benchReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("output is not the JSON report: %v\n%s", err, out)
	}
	return rep
}

// TestBenchAgainstFake runs bench end to end over mutual TLS against an
// in-memory server, in both encodings: every supported operation is
// measured at each connection count, the unsupported one is reported,
// and every key bench created is destroyed afterwards.
func TestBenchAgainstFake(t *testing.T) {
	for _, ver := range []string{"1.4", "2.0"} {
		t.Run(ver, func(t *testing.T) {
			kms, mux := newFakeKMS()
			srvCfg, files := benchFiles(t)
			addr := serveKMIP(t, mux, srvCfg)
			ops := "create,get,locate,encrypt-64,decrypt-4k,sign-p256"
			args := append([]string{"bench", "--addr", addr, "--duration", "100ms", "--connections", "1,2",
				"--ops", ops, "--version", ver, "--json"}, files...)
			out, err := runKMIPD(t, args...)
			if err != nil {
				t.Fatal(err)
			}
			rep := decodeReport(t, out)
			if rep.Version != ver || rep.Addr != addr {
				t.Errorf("report header %+v", rep)
			}
			type cell struct {
				op    string
				conns int
			}
			got := map[cell]benchResult{}
			for _, r := range rep.Results {
				got[cell{r.Op, r.Connections}] = r
			}
			for _, op := range []string{"create", "get", "locate", "encrypt-64", "decrypt-4k"} {
				for _, n := range []int{1, 2} {
					r, ok := got[cell{op, n}]
					if !ok {
						t.Errorf("no result for %s with %d connections", op, n)
						continue
					}
					// Only shape, never speed: at least the first request
					// of each worker runs.
					if r.Requests < int64(n) || r.Errors != 0 || r.Unsupported != "" {
						t.Errorf("%s/%d: %+v", op, n, r)
					}
					if r.P50Micros <= 0 || r.P50Micros > r.P90Micros || r.P90Micros > r.P99Micros {
						t.Errorf("%s/%d: percentiles out of order: %+v", op, n, r)
					}
				}
			}
			sign, ok := got[cell{"sign-p256", 0}]
			if !ok || !strings.Contains(sign.Unsupported, "OperationNotSupported") {
				t.Errorf("sign-p256 = %+v, want unsupported (Operation Not Supported)", sign)
			}
			if n := kms.live(); n != 0 {
				t.Errorf("%d keys left on the server after the run", n)
			}
		})
	}
}

func TestMedianRun(t *testing.T) {
	run := func(ops float64, errs int64, first string, capped bool) benchResult {
		return benchResult{Op: "get", Connections: 4, OpsPerSec: ops, P50Micros: ops / 100, Errors: errs, FirstError: first, Capped: capped}
	}
	tests := []struct {
		name              string
		runs              []benchResult
		wantOps, min, max float64
		wantErrs          int64
		wantFirst         string
		wantCapped        bool
		wantP50FromMedian bool
	}{
		{name: "one run is itself", runs: []benchResult{run(500, 1, "boom", true)}, wantOps: 500, wantErrs: 1, wantFirst: "boom", wantCapped: true},
		{name: "odd count", runs: []benchResult{run(300, 0, "", false), run(100, 0, "", false), run(200, 0, "", false)},
			wantOps: 200, min: 100, max: 300, wantP50FromMedian: true},
		{name: "even count takes the lower middle", runs: []benchResult{run(400, 0, "", false), run(100, 0, "", false), run(300, 0, "", false), run(200, 0, "", false)},
			wantOps: 200, min: 100, max: 400, wantP50FromMedian: true},
		{name: "errors and caps of every run count", runs: []benchResult{run(100, 0, "", false), run(200, 2, "first", false), run(300, 3, "second", true)},
			wantOps: 200, min: 100, max: 300, wantErrs: 5, wantFirst: "first", wantCapped: true, wantP50FromMedian: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := medianRun(tt.runs)
			if got.OpsPerSec != tt.wantOps || got.MinOpsPerSec != tt.min || got.MaxOpsPerSec != tt.max {
				t.Errorf("ops/s %v in %v..%v, want %v in %v..%v", got.OpsPerSec, got.MinOpsPerSec, got.MaxOpsPerSec, tt.wantOps, tt.min, tt.max)
			}
			if got.Errors != tt.wantErrs || got.FirstError != tt.wantFirst || got.Capped != tt.wantCapped {
				t.Errorf("errors %d %q capped %v, want %d %q %v", got.Errors, got.FirstError, got.Capped, tt.wantErrs, tt.wantFirst, tt.wantCapped)
			}
			if tt.wantP50FromMedian && got.P50Micros != tt.wantOps/100 {
				t.Errorf("p50 %v is not the median run's (%v)", got.P50Micros, tt.wantOps/100)
			}
		})
	}
}

// TestBenchReps checks that --reps measures every cell that many times and
// reports one result per cell with its range, in the table and in JSON.
func TestBenchReps(t *testing.T) {
	_, mux := newFakeKMS()
	srvCfg, files := benchFiles(t)
	addr := serveKMIP(t, mux, srvCfg)
	base := append([]string{"bench", "--addr", addr, "--duration", "100ms", "--connections", "1,2", "--ops", "get", "--reps", "3"}, files...)
	out, err := runKMIPD(t, append(base, "--json")...)
	if err != nil {
		t.Fatal(err)
	}
	rep := decodeReport(t, out)
	if rep.Reps != 3 || len(rep.Results) != 2 {
		t.Fatalf("reps %d, %d results, want 3 and 2: %+v", rep.Reps, len(rep.Results), rep.Results)
	}
	for _, r := range rep.Results {
		if r.MinOpsPerSec <= 0 || r.MinOpsPerSec > r.OpsPerSec || r.OpsPerSec > r.MaxOpsPerSec {
			t.Errorf("%s/%d: %v not within %v..%v", r.Op, r.Connections, r.OpsPerSec, r.MinOpsPerSec, r.MaxOpsPerSec)
		}
	}
	out, err = runKMIPD(t, base...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"median of 3 runs", "MIN..MAX"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

// TestBenchLocateKeys checks that --locate-keys sets how many distinct
// named keys the locate warm-up creates, and that all are destroyed after.
func TestBenchLocateKeys(t *testing.T) {
	for _, n := range []int{1, 37} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			kms, mux := newFakeKMS()
			srvCfg, files := benchFiles(t)
			addr := serveKMIP(t, mux, srvCfg)
			args := append([]string{"bench", "--addr", addr, "--duration", "100ms", "--connections", "2",
				"--ops", "locate", "--locate-keys", strconv.Itoa(n)}, files...)
			if _, err := runKMIPD(t, args...); err != nil {
				t.Fatal(err)
			}
			if got := kms.namedCreates(); got != n {
				t.Errorf("%d named keys created, want %d", got, n)
			}
			if left := kms.live(); left != 0 {
				t.Errorf("%d keys left on the server after the run", left)
			}
		})
	}
}

// TestBenchTableAndBudget checks the table output and that --max-requests
// ends a measurement before its duration.
func TestBenchTableAndBudget(t *testing.T) {
	_, mux := newFakeKMS()
	srvCfg, files := benchFiles(t)
	addr := serveKMIP(t, mux, srvCfg)
	args := append([]string{"bench", "--addr", addr, "--duration", "1h", "--connections", "2",
		"--ops", "encrypt-4k,sign-p256", "--max-requests", "5"}, files...)
	out, err := runKMIPD(t, args...) // with a broken cap, this runs for an hour
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"OPERATION", "P99", "encrypt-4k", "stopped by --max-requests", "sign-p256: unsupported: "} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

// TestBenchAgainstService is the brief's in-process run: `kmipd bench
// --duration 1s --connections 1 --ops get` against kmipd's real service.
func TestBenchAgainstService(t *testing.T) {
	hsm := hsmtest.New(t)
	store, err := objects.Open(filepath.Join(t.TempDir(), "kmipd.db"), objects.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	svc := service.New(service.WithStore(store), service.WithHSM(hsm))
	for _, op := range []kmip.Operation{kmip.OperationCreate, kmip.OperationActivate, kmip.OperationGet} {
		if !svc.Mux().Handles(op) {
			t.Skipf("the service does not register %s yet", op)
		}
	}
	srvCfg, files := benchFiles(t)
	addr := serveKMIP(t, svc, srvCfg)
	out, err := runKMIPD(t, append([]string{"bench", "--addr", addr, "--duration", "1s", "--connections", "1", "--ops", "get", "--json"}, files...)...)
	if err != nil {
		t.Fatal(err)
	}
	rep := decodeReport(t, out)
	if len(rep.Results) != 1 {
		t.Fatalf("results %+v", rep.Results)
	}
	if r := rep.Results[0]; r.Op != "get" || r.Connections != 1 || r.Requests < 1 || r.Errors != 0 {
		t.Fatalf("result %+v", r)
	}
}
