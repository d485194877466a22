package service

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kmipd/kmipd/hsmbackend"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// cryptoFakeHSM counts unwraps and destructions, for the cache's own
// bookkeeping tests.
type cryptoFakeHSM struct {
	mu                 sync.Mutex
	unwraps, destroyed int
}

func (f *cryptoFakeHSM) UnwrapKey(context.Context, hsmbackend.Wrapped, hsmbackend.KeyUse) (hsmbackend.Handle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unwraps++
	return hsmbackend.Handle{}, nil
}

func (f *cryptoFakeHSM) DestroyHandle(context.Context, hsmbackend.Handle) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.destroyed++
	return nil
}

func (f *cryptoFakeHSM) counts() (int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.unwraps, f.destroyed
}

// TestCryptoKeyCacheBookkeeping checks LRU eviction, expiry, revision
// validation and reference counting without an HSM.
func TestCryptoKeyCacheBookkeeping(t *testing.T) {
	ctx := context.Background()
	clock := &testClock{now: cryptoT0}
	fake := &cryptoFakeHSM{}
	c := newKeyCache(fake, KeyCacheConfig{MaxEntries: 2, TTL: time.Minute}, clock.Now, nil)
	obj := func(id string, rev uint64) *objects.Object {
		return &objects.Object{ID: id, Revision: rev, Wrapped: &objects.WrappedMaterial{Blob: []byte(id)}}
	}
	src := keySource{use: hsmbackend.KeyUse{Kind: hsmbackend.AES, Encrypt: true}}
	get := func(o *objects.Object) keyRef {
		t.Helper()
		r, err := c.acquire(ctx, o, src)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	check := func(step string, unwraps, destroyed int, st KeyCacheStats) {
		t.Helper()
		u, d := fake.counts()
		got := c.Stats()
		if u != unwraps || d != destroyed || got != st {
			t.Fatalf("%s: unwraps %d destroyed %d stats %+v; want %d %d %+v", step, u, d, got, unwraps, destroyed, st)
		}
	}

	a := get(obj("a", 1))
	c.release(ctx, a)
	c.release(ctx, get(obj("a", 1)))
	check("hit", 1, 0, KeyCacheStats{Hits: 1, Misses: 1, Entries: 1})

	// A new revision is a miss and replaces the entry.
	c.release(ctx, get(obj("a", 2)))
	check("new revision", 2, 1, KeyCacheStats{Hits: 1, Misses: 2, Entries: 1})

	// A held entry evicted for room is destroyed only on release.
	held := get(obj("a", 2))
	c.release(ctx, get(obj("b", 1)))
	c.release(ctx, get(obj("c", 1))) // evicts "a", the least recently used
	check("evicted while held", 4, 1, KeyCacheStats{Hits: 2, Misses: 4, Evictions: 1, Entries: 2})
	c.release(ctx, held)
	check("released", 4, 2, KeyCacheStats{Hits: 2, Misses: 4, Evictions: 1, Entries: 2})

	// Past the TTL every entry goes, at the next use.
	clock.Add(time.Minute)
	c.release(ctx, get(obj("d", 1)))
	check("expired", 5, 4, KeyCacheStats{Hits: 2, Misses: 5, Evictions: 1, Expired: 2, Entries: 1})

	// discard drops a lost handle; Invalidate and Purge drop the rest.
	d := get(obj("d", 1))
	c.discard(ctx, d)
	check("discard", 5, 5, KeyCacheStats{Hits: 3, Misses: 5, Evictions: 2, Expired: 2, Entries: 0})
	c.release(ctx, get(obj("e", 1)))
	c.Invalidate(ctx, "e")
	c.release(ctx, get(obj("f", 1)))
	c.Purge(ctx)
	check("purge", 7, 7, KeyCacheStats{Hits: 3, Misses: 7, Evictions: 2, Expired: 2, Entries: 0})

	// Disabled: every use unwraps and destroys.
	off := newKeyCache(fake, KeyCacheConfig{MaxEntries: 10}, clock.Now, nil)
	for range 2 {
		r, err := off.acquire(ctx, obj("g", 1), src)
		if err != nil {
			t.Fatal(err)
		}
		off.release(ctx, r)
	}
	if u, d := fake.counts(); u != 9 || d != 9 || off.Stats().Entries != 0 || off.Stats().Misses != 2 {
		t.Fatalf("disabled cache: unwraps %d destroyed %d stats %+v", u, d, off.Stats())
	}
}

// TestCryptoKeyCacheHSM runs the cache against SoftHSM: hits, implicit
// invalidation by Revoke within the TTL, expiry, and a Handle lost in the
// HSM.
func TestCryptoKeyCacheHSM(t *testing.T) {
	env := cryptoNewEnv(t, KeyCacheConfig{MaxEntries: 8, TTL: 5 * time.Minute})
	ecb := cryptoParamsV(cryptoMode(kmip.BlockCipherModeECB))
	plain := cryptoHex(t, "01020304050607080910111213141516")
	want := cryptoHex(t, "d9bcce11b0b437b90239552df3a360c9")
	for _, ver := range cryptoVersions {
		t.Run(ver.String(), func(t *testing.T) {
			id := env.put(t, cryptoKey{typ: kmip.ObjectTypeSymmetricKey, alg: kmip.CryptographicAlgorithmAES, bits: 128,
				material: cryptoHex(t, cryptoAESKey128), mask: kmip.CryptographicUsageMaskEncrypt | kmip.CryptographicUsageMaskDecrypt})
			encrypt := func() error {
				p, err := env.call(ver, kmip.OperationEncrypt, cryptoUID(id), ecb, cryptoData(plain))
				if err == nil && !bytes.Equal(cryptoField(t, p, kmip.TagData), want) {
					t.Fatalf("wrong ciphertext")
				}
				return err
			}
			decrypt := func() {
				t.Helper()
				p := env.mustCall(t, ver, kmip.OperationDecrypt, cryptoUID(id), ecb, cryptoData(want))
				if !bytes.Equal(cryptoField(t, p, kmip.TagData), plain) {
					t.Fatalf("wrong plaintext")
				}
			}
			before := env.ops.keys.Stats()
			delta := func() KeyCacheStats {
				st := env.ops.keys.Stats()
				return KeyCacheStats{Hits: st.Hits - before.Hits, Misses: st.Misses - before.Misses,
					Evictions: st.Evictions - before.Evictions, Expired: st.Expired - before.Expired}
			}
			writes := env.store.updates.Load()
			for range 3 {
				if err := encrypt(); err != nil {
					t.Fatal(err)
				}
			}
			decrypt() // Encrypt and Decrypt share the Handle
			if d := delta(); d.Misses != 1 || d.Hits != 3 {
				t.Fatalf("after 4 uses: %+v", d)
			}
			if n := env.store.updates.Load() - writes; n != 0 {
				t.Fatalf("4 operations on a cached key made %d store writes", n)
			}

			// A Handle the HSM lost is replaced transparently.
			env.ops.keys.mu.Lock()
			var lost hsmbackend.Handle
			for k, e := range env.ops.keys.entries {
				if k.id == id {
					lost = e.h
				}
			}
			env.ops.keys.mu.Unlock()
			if err := env.hsm.DestroyHandle(context.Background(), lost); err != nil {
				t.Fatal(err)
			}
			if err := encrypt(); err != nil {
				t.Fatalf("after losing the handle: %v", err)
			}
			if d := delta(); d.Misses != 2 || d.Evictions != 1 {
				t.Fatalf("after a lost handle: %+v", d)
			}

			// Revoke within the TTL: the cached Handle is never used to
			// encrypt again; Decrypt (allowed while Deactivated) unwraps
			// anew because the object's revision changed.
			_, err := env.call(ver, kmip.OperationRevoke, cryptoUID(id), ttlv.Struct(kmip.TagRevocationReason,
				ttlv.Enum(kmip.TagRevocationReasonCode, uint32(kmip.RevocationReasonCodeCessationOfOperation))))
			if err != nil {
				t.Fatalf("revoke: %v", err)
			}
			cryptoWantReason(t, encrypt(), cryptoByVersion(ver, kmip.ResultReasonPermissionDenied, kmip.ResultReasonWrongKeyLifecycleState))
			decrypt()
			if d := delta(); d.Misses != 3 {
				t.Fatalf("after revoke: %+v", d)
			}

			// An attribute change also invalidates; so does the TTL.
			if _, err := env.store.Update(context.Background(), id, func(o *objects.Object) error {
				o.SetAttr(attr("x-note", ttlv.Text(kmip.TagAttributeValue, "changed")))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			decrypt()
			decrypt()
			env.clock.Add(6 * time.Minute)
			decrypt()
			// Hits: 3 before the lost handle, its failed use, one after the change.
			if d := delta(); d.Misses != 5 || d.Hits != 5 || d.Expired == 0 {
				t.Fatalf("after change and expiry: %+v", d)
			}
		})
	}
}

// TestCryptoKeyCacheConcurrent hammers a one-entry cache with two keys, so
// Handles are evicted while other requests use them (run with -race).
func TestCryptoKeyCacheConcurrent(t *testing.T) {
	env := cryptoNewEnv(t, KeyCacheConfig{MaxEntries: 1, TTL: time.Minute})
	ecb := cryptoParamsV(cryptoMode(kmip.BlockCipherModeECB))
	plain := cryptoHex(t, "01020304050607080910111213141516")
	keys := []struct {
		id   string
		want []byte
	}{
		{env.put(t, cryptoKey{typ: kmip.ObjectTypeSymmetricKey, alg: kmip.CryptographicAlgorithmAES, bits: 128,
			material: cryptoHex(t, cryptoAESKey128), mask: kmip.CryptographicUsageMaskEncrypt}), cryptoHex(t, "d9bcce11b0b437b90239552df3a360c9")},
		{env.put(t, cryptoKey{typ: kmip.ObjectTypeSymmetricKey, alg: kmip.CryptographicAlgorithmAES, bits: 128,
			material: make([]byte, 16), mask: kmip.CryptographicUsageMaskEncrypt}), nil},
	}
	// The zero key's answer is computed once, serially.
	p := env.mustCall(t, kmip.V1_4, kmip.OperationEncrypt, cryptoUID(keys[1].id), ecb, cryptoData(plain))
	keys[1].want = cryptoField(t, p, kmip.TagData)

	workers, rounds := 6, 15
	if testing.Short() {
		rounds = 5
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				k := keys[(w+i)%2]
				p, err := env.call(kmip.V1_4, kmip.OperationEncrypt, cryptoUID(k.id), ecb, cryptoData(plain))
				if err != nil {
					errs <- err
					continue
				}
				if got, _ := p.Child(kmip.TagData); !bytes.Equal(got.Bytes(), k.want) {
					errs <- fmt.Errorf("key %s: wrong ciphertext %x", k.id, got.Bytes())
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := env.ops.keys.Stats()
	if st.Entries > 1 || st.Hits+st.Misses != uint64(workers*rounds+1) {
		t.Errorf("stats %+v", st)
	}
}
