package service

import (
	"context"
	"encoding/hex"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kmipd/kmipd/hsmbackend"
	"github.com/kmipd/kmipd/hsmbackend/hsmtest"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// Test helpers of the cryptographic-operations group. Every package-level
// name carries "crypto" so the other groups' tests cannot clash.

// cryptoT0 is the fake clock's start, a whole second.
var cryptoT0 = time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)

// cryptoEnv is a Service over a real SoftHSM token and a bbolt store in
// t.TempDir, with a fake clock and a key cache the test configures.
type cryptoEnv struct {
	svc   *Service
	store *cryptoCountingStore
	hsm   *hsmbackend.Backend
	clock *testClock
	ops   *cryptoOps
}

// cryptoCountingStore counts the write transactions the service asks for.
type cryptoCountingStore struct {
	objects.Store
	updates atomic.Int64
}

func (s *cryptoCountingStore) Update(ctx context.Context, id string, fn func(o *objects.Object) error) (*objects.Object, error) {
	s.updates.Add(1)
	return s.Store.Update(ctx, id, fn)
}

var cryptoDefaultCache = KeyCacheConfig{MaxEntries: DefaultKeyCacheEntries, TTL: DefaultKeyCacheTTL}

func cryptoNewEnv(t testing.TB, cache KeyCacheConfig) *cryptoEnv {
	t.Helper()
	hsm := hsmtest.New(t)
	st, _ := openTestStore(t)
	clock := &testClock{now: cryptoT0}
	cst := &cryptoCountingStore{Store: st}
	svc := New(WithStore(cst), WithHSM(hsm), WithClock(clock.Now))
	// Replace the registered handlers by ones whose cache the test holds.
	ops := newCryptoOps(svc, cache)
	ops.register(svc.mux)
	return &cryptoEnv{svc: svc, store: cst, hsm: hsm, clock: clock, ops: ops}
}

// cryptoKey describes a managed object to store directly, as Register
// would have stored it (register.go): secret material wrapped as a
// generic secret, public keys as SubjectPublicKeyInfo.
type cryptoKey struct {
	typ      kmip.ObjectType
	alg      kmip.CryptographicAlgorithm
	bits     int
	material []byte // secret material: raw key bytes or PKCS#8 DER
	public   []byte // SubjectPublicKeyInfo or certificate DER
	mask     kmip.CryptographicUsageMask
	params   ttlv.Value // stored Cryptographic Parameters, zero for none
	state    kmip.State // zero: Active
	attrs    []kmip.Attribute
	archived bool
}

func (e *cryptoEnv) put(t testing.TB, k cryptoKey) string {
	t.Helper()
	ctx := context.Background()
	id, err := e.store.NewID(ctx)
	if err != nil {
		t.Fatalf("new id: %v", err)
	}
	now := e.clock.Now()
	o := &objects.Object{ID: id, ObjectType: k.typ, Owner: "anonymous", Created: now, Public: k.public, Archived: k.archived}
	if k.material != nil {
		w, err := e.hsm.WrapSecret(ctx, hsmbackend.GenericSecret, k.material)
		if err != nil {
			t.Fatalf("wrap key material: %v", err)
		}
		o.Wrapped = toStored(w)
	}
	o.SetAttr(attr(attrUniqueIdentifier, ttlv.Text(0, id)))
	o.SetAttr(attr(attrObjectType, ttlv.Enum(0, uint32(k.typ))))
	if k.alg != 0 {
		o.SetAttr(attr(attrCryptoAlgorithm, ttlv.Enum(0, uint32(k.alg))))
	}
	if k.bits != 0 {
		o.SetAttr(attr(attrCryptoLength, ttlv.Int(0, int32(k.bits))))
	}
	if k.mask != 0 {
		o.SetAttr(attr(attrCryptoUsageMask, ttlv.Int(0, int32(k.mask))))
	}
	if !k.params.IsZero() {
		o.SetAttr(attr(attrCryptoParameters, k.params))
	}
	o.SetAttr(attr(attrInitialDate, ttlv.DateTime(0, now)))
	o.SetAttr(attr(attrLastChangeDate, ttlv.DateTime(0, now)))
	st := k.state
	if st == 0 {
		st = kmip.StateActive
	}
	setState(o, st)
	for _, a := range k.attrs {
		o.SetAttr(a)
	}
	if err := e.store.Create(ctx, o); err != nil {
		t.Fatalf("store key: %v", err)
	}
	return id
}

// call runs one operation through the choke point.
func (e *cryptoEnv) call(ver kmip.ProtocolVersion, op kmip.Operation, fields ...ttlv.Value) (ttlv.Value, error) {
	req := &kmip.Request{Version: ver, Operation: op, Payload: ttlv.Struct(kmip.TagRequestPayload, fields...)}
	return e.svc.ServeKMIP(context.Background(), req)
}

// mustCall is call for operations expected to succeed.
func (e *cryptoEnv) mustCall(t testing.TB, ver kmip.ProtocolVersion, op kmip.Operation, fields ...ttlv.Value) ttlv.Value {
	t.Helper()
	p, err := e.call(ver, op, fields...)
	if err != nil {
		t.Fatalf("%v: %v", op, err)
	}
	return p
}

var cryptoVersions = []kmip.ProtocolVersion{kmip.V1_4, kmip.V2_0}

func cryptoHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

func cryptoUID(id string) ttlv.Value { return ttlv.Text(kmip.TagUniqueIdentifier, id) }

func cryptoData(b []byte) ttlv.Value { return ttlv.Bytes(kmip.TagData, b) }

func cryptoIV(b []byte) ttlv.Value { return ttlv.Bytes(kmip.TagIVCounterNonce, b) }

// cryptoParamsV builds a Cryptographic Parameters structure.
func cryptoParamsV(fields ...ttlv.Value) ttlv.Value {
	return ttlv.Struct(kmip.TagCryptographicParameters, fields...)
}

func cryptoMode(m kmip.BlockCipherMode) ttlv.Value {
	return ttlv.Enum(kmip.TagBlockCipherMode, uint32(m))
}

func cryptoPad(p kmip.PaddingMethod) ttlv.Value { return ttlv.Enum(kmip.TagPaddingMethod, uint32(p)) }

func cryptoHashAlg(h kmip.HashingAlgorithm) ttlv.Value {
	return ttlv.Enum(kmip.TagHashingAlgorithm, uint32(h))
}

func cryptoAlg(a kmip.CryptographicAlgorithm) ttlv.Value {
	return ttlv.Enum(kmip.TagCryptographicAlgorithm, uint32(a))
}

// cryptoField returns a byte-string field of a response payload.
func cryptoField(t testing.TB, p ttlv.Value, tag ttlv.Tag) []byte {
	t.Helper()
	v, ok := p.Child(tag)
	if !ok {
		t.Fatalf("response has no %s: %v", kmip.TagString(tag), cryptoTags(p))
		return nil
	}
	return v.Bytes()
}

// cryptoTags lists the tags of a payload, to check field order.
func cryptoTags(p ttlv.Value) []string {
	var out []string
	for _, c := range p.Children() {
		out = append(out, kmip.TagString(c.Tag))
	}
	return out
}

// cryptoWantReason fails unless err carries the Result Reason want (0:
// success).
func cryptoWantReason(t testing.TB, err error, want kmip.ResultReason) {
	t.Helper()
	if want == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("succeeded, want %v", want)
	}
	var ke *kmip.Error
	if !errors.As(err, &ke) {
		t.Fatalf("error %v is not a kmip.Error (General Failure), want %v", err, want)
	}
	if ke.Reason != want {
		t.Fatalf("reason %v (%v), want %v", ke.Reason, err, want)
	}
}

// cryptoValidity returns the Validity Indicator of a verify response.
func cryptoValidity(t testing.TB, p ttlv.Value) kmip.ValidityIndicator {
	t.Helper()
	v, ok := p.Child(kmip.TagValidityIndicator)
	if !ok {
		t.Fatalf("response has no validity indicator: %v", cryptoTags(p))
	}
	return kmip.ValidityIndicator(v.Enum())
}

// cryptoByVersion picks the Result Reason of a version.
func cryptoByVersion(ver kmip.ProtocolVersion, r1x, r2x kmip.ResultReason) kmip.ResultReason {
	if ver.Is2x() {
		return r2x
	}
	return r1x
}
