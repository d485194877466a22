package service_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/kmipd/kmipd/audit"
	"github.com/kmipd/kmipd/hsmbackend/hsmtest"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/service"
	"github.com/kmipd/kmipd/ttlv"
)

// Benchmarks of the whole service as `kmipd serve` builds it (SoftHSM,
// bbolt with fsync, the audit log), driven through kmip.HandleMessage with
// encoded request messages: decode, dispatch, HSM, store, audit, encode.
// TLS and the connection loop are left out; `kmipd bench` measures them.
// The goals (issue "Managed objects on the HSM", 2-core machine): Create
// AES-256 >= 4,000/s at 16 callers, Get >= 15,000/s, Locate by Name with
// 10,000 objects >= 10,000/s. Each reports ops/s; run with
//
//	go test ./service -run '^$' -bench 'CreateAES256|BenchmarkGet$|LocateByName10k' -benchtime 2s
//
// next to `go run . -d 2s` in ../shared/bench/hsmlimit.

// benchCallers are the numbers of concurrent callers (one per connection
// in a real server).
var benchCallers = []int{1, 4, 16}

// okStatus is an encoded Result Status of Success: a cheap check of every
// response without decoding it.
var okStatus = ttlv.Marshal(ttlv.Enum(kmip.TagResultStatus, uint32(kmip.ResultStatusSuccess)))

type benchEnv struct {
	svc *service.Service
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	hsm := hsmtest.New(b)
	dir := b.TempDir()
	st, err := objects.Open(filepath.Join(dir, "kmipd.db"), objects.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	key, err := audit.GenerateKeyFile(filepath.Join(dir, "audit.key"))
	if err != nil {
		b.Fatal(err)
	}
	sink, err := audit.OpenFileSink(filepath.Join(dir, "audit.log"))
	if err != nil {
		b.Fatal(err)
	}
	al, err := audit.New(sink, key)
	key.Clear()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { al.Close() })
	svc := service.New(service.WithStore(st), service.WithHSM(hsm), service.WithAudit(al),
		service.WithLogger(hclog.NewNullLogger()))
	b.Cleanup(func() { svc.Close(context.Background()) })
	return &benchEnv{svc: svc}
}

func (e *benchEnv) handle(req []byte) []byte {
	return kmip.HandleMessage(context.Background(), e.svc, req, nil)
}

// benchRequest encodes a KMIP 1.4 request message with one item.
func benchRequest(op kmip.Operation, fields ...ttlv.Value) []byte {
	return ttlv.Marshal(ttlv.Struct(kmip.TagRequestMessage,
		ttlv.Struct(kmip.TagRequestHeader, kmip.ProtocolVersionValue(kmip.V1_4), ttlv.Int(kmip.TagBatchCount, 1)),
		ttlv.Struct(kmip.TagBatchItem,
			ttlv.Enum(kmip.TagOperation, uint32(op)),
			ttlv.Struct(kmip.TagRequestPayload, fields...))))
}

func benchAttr(name string, v ttlv.Value) ttlv.Value {
	return kmip.EncodeAttribute(kmip.Attribute{Name: name, Value: v}, kmip.V1_4, false)
}

func benchName(n string) ttlv.Value {
	return benchAttr("Name", ttlv.Struct(kmip.TagName,
		ttlv.Text(kmip.TagNameValue, n), ttlv.Enum(kmip.TagNameType, uint32(kmip.NameTypeUninterpretedTextString))))
}

// createAES256 is the Create request of an AES-256 Encrypt|Decrypt key,
// with the given extra attributes.
func createAES256(extra ...ttlv.Value) []byte {
	attrs := append([]ttlv.Value{
		benchAttr("Cryptographic Algorithm", ttlv.Enum(0, uint32(kmip.CryptographicAlgorithmAES))),
		benchAttr("Cryptographic Length", ttlv.Int(0, 256)),
		benchAttr("Cryptographic Usage Mask", ttlv.Int(0, int32(kmip.CryptographicUsageMaskEncrypt|kmip.CryptographicUsageMaskDecrypt))),
	}, extra...)
	return benchRequest(kmip.OperationCreate,
		ttlv.Enum(kmip.TagObjectType, uint32(kmip.ObjectTypeSymmetricKey)),
		ttlv.Struct(kmip.TagTemplateAttribute, attrs...))
}

// responseItem decodes a response and returns its only batch item's
// payload, failing on anything but Success.
func responseItem(tb testing.TB, resp []byte) ttlv.Value {
	tb.Helper()
	v, err := ttlv.Decode(resp, ttlv.Limits{})
	if err != nil {
		tb.Fatal(err)
	}
	it, _ := v.Child(kmip.TagBatchItem)
	if st, _ := it.Child(kmip.TagResultStatus); kmip.ResultStatus(st.Enum()) != kmip.ResultStatusSuccess {
		tb.Fatalf("operation failed: %v", it)
	}
	p, _ := it.Child(kmip.TagResponsePayload)
	return p
}

// runCallers runs b.N requests from callers goroutines and reports ops/s.
// req(i) gives the i-th request; check(i, resp) judges its response.
func runCallers(b *testing.B, callers int, req func(i int) []byte, check func(i int, resp []byte) error, e *benchEnv) {
	b.Helper()
	b.ReportAllocs()
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		failure error
	)
	b.ResetTimer()
	start := time.Now()
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N {
					return
				}
				if err := check(i, e.handle(req(i))); err != nil {
					errOnce.Do(func() { failure = err })
					next.Store(int64(b.N))
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if failure != nil {
		b.Fatal(failure)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
}

func succeeded(_ int, resp []byte) error {
	if !bytes.Contains(resp, okStatus) {
		return errors.New("operation failed")
	}
	return nil
}

// BenchmarkCreateAES256: Create of an AES-256 key (generated in the HSM,
// wrapped, stored with fsync, audited) at 1, 4 and 16 concurrent callers.
func BenchmarkCreateAES256(b *testing.B) {
	e := newBenchEnv(b)
	req := createAES256()
	responseItem(b, e.handle(req))
	for _, n := range benchCallers {
		b.Run(fmt.Sprintf("callers=%d", n), func(b *testing.B) {
			runCallers(b, n, func(int) []byte { return req }, succeeded, e)
		})
	}
}

// BenchmarkGet: Get of AES-256 keys (read, unwrapped in the HSM, encoded,
// audited) at 1, 4 and 16 concurrent callers, over 64 keys.
func BenchmarkGet(b *testing.B) {
	e := newBenchEnv(b)
	const keys = 64
	reqs := make([][]byte, keys)
	for i := range reqs {
		p := responseItem(b, e.handle(createAES256()))
		id, _ := p.Child(kmip.TagUniqueIdentifier)
		reqs[i] = benchRequest(kmip.OperationGet, ttlv.Text(kmip.TagUniqueIdentifier, id.Text()))
	}
	// The first Get of a key clears its Fresh attribute (KMIP 1.4 §3.34), a
	// store write; the benchmark measures the steady state after it.
	for _, r := range reqs {
		responseItem(b, e.handle(r))
	}
	for _, n := range benchCallers {
		b.Run(fmt.Sprintf("callers=%d", n), func(b *testing.B) {
			runCallers(b, n, func(i int) []byte { return reqs[i%keys] }, succeeded, e)
		})
	}
}

// BenchmarkLocateByName10k: Locate by exact Name with 10,000 objects
// stored, each with its own name, at 1, 4 and 16 concurrent callers.
func BenchmarkLocateByName10k(b *testing.B) {
	e := newBenchEnv(b)
	const objectsStored = 10000
	name := func(i int) string { return fmt.Sprintf("bench-locate-%05d", i) }
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		fail atomic.Bool
	)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= objectsStored || fail.Load() {
					return
				}
				if !bytes.Contains(e.handle(createAES256(benchName(name(i)))), okStatus) {
					fail.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	if fail.Load() {
		b.Fatal("storing the objects failed")
	}
	const distinct = 1024
	reqs := make([][]byte, distinct)
	for i := range reqs {
		reqs[i] = benchRequest(kmip.OperationLocate, benchName(name(i*objectsStored/distinct)))
	}
	if p := responseItem(b, e.handle(reqs[7])); len(p.All(kmip.TagUniqueIdentifier)) != 1 {
		b.Fatalf("Locate by name found %v", p)
	}
	for _, n := range benchCallers {
		b.Run(fmt.Sprintf("callers=%d", n), func(b *testing.B) {
			runCallers(b, n, func(i int) []byte { return reqs[i%distinct] }, succeeded, e)
		})
	}
}
