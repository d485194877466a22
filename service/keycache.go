package service

import (
	"bytes"
	"container/list"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/kmipd/kmipd/hsmbackend"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
)

// # The key cache
//
// A cryptographic operation needs the key inside the HSM as a session
// object (hsmbackend.UnwrapKey). Unwrapping costs a C_UnwrapKey round trip
// per request, so unwrapped keys are kept as HSM Handles in a cache keyed
// by Unique Identifier and key use, bounded in size (least recently used
// entries are evicted first) and in time (an entry lives TTL after its
// unwrap, however often it is used). The plaintext key never enters the
// cache: only the opaque Handle does.
//
// Invalidation is by validation on use, not by notification. Every
// operation loads the object from the store first (a read, never a write),
// and the cache entry remembers the object's Revision and its wrapped blob:
// an entry whose Revision or blob differs from the object just read is a
// miss and is replaced. Since the store bumps the Revision on every Update
// (objects.Store), any Revoke, Destroy, Archive, Re-key, state change or
// attribute change invalidates the entry implicitly, without the other
// handlers knowing the cache exists. State, dates and usage mask are
// checked on the object read, before the cache is consulted, so a revoked
// key can never be used from the cache.
//
// Handles are reference counted: an evicted or replaced entry is destroyed
// in the HSM (hsmbackend.DestroyHandle) only once no operation uses it, so
// a handle number is never reused under a running operation. A Handle the
// HSM no longer knows (hsmbackend.ErrKeyNotFound, e.g. its session was
// lost) is dropped and the key unwrapped again (see cryptoOps.withKey).
//
// Expired entries are removed when the cache is next used; an idle server
// keeps them until then (or until the Backend closes, which destroys every
// session object).

// KeyCacheConfig bounds the key cache.
type KeyCacheConfig struct {
	// MaxEntries bounds the number of unwrapped keys kept in the HSM.
	// Zero or negative disables the cache.
	MaxEntries int
	// TTL bounds how long an unwrapped key stays in the HSM after its
	// unwrap. Zero or negative disables the cache: every operation unwraps
	// the key and destroys it afterwards.
	TTL time.Duration
}

// Defaults of the key cache of a Service built without other instructions.
const (
	DefaultKeyCacheEntries = 1024
	DefaultKeyCacheTTL     = 5 * time.Minute
)

// KeyCacheStats counts cache use since the Service started.
type KeyCacheStats struct {
	// Hits and Misses count lookups; a disabled cache only misses.
	Hits, Misses uint64
	// Evictions counts entries dropped for room (least recently used) or
	// because the HSM lost their Handle; Expired those past their TTL.
	Evictions, Expired uint64
	// Entries is the number of cached Handles now.
	Entries int
}

// keyCacheDestroyTimeout bounds the destruction of evicted handles, which
// runs detached from the request that caused the eviction.
const keyCacheDestroyTimeout = 10 * time.Second

// keyUnwrapper is the part of hsmbackend.Backend the cache needs.
type keyUnwrapper interface {
	UnwrapKey(ctx context.Context, w hsmbackend.Wrapped, use hsmbackend.KeyUse) (hsmbackend.Handle, error)
	DestroyHandle(ctx context.Context, h hsmbackend.Handle) error
}

var _ keyUnwrapper = (*hsmbackend.Backend)(nil)

type keyCacheKey struct {
	id      string
	use     hsmbackend.KeyUse
	variant string
}

// keySource says which Handle an operation needs: the object's key
// unwrapped with use, or when variant is set, a Handle that load makes
// from the object in another way (a short HMAC key padded to its block,
// see crypto_ops.go). Entries of different uses or variants are distinct.
type keySource struct {
	use     hsmbackend.KeyUse
	variant string
	load    func(ctx context.Context) (hsmbackend.Handle, error)
}

type keyCacheEntry struct {
	key     keyCacheKey
	rev     uint64
	blob    []byte // copy of the wrapped blob: not secret, identifies the material
	h       hsmbackend.Handle
	expires time.Time
	refs    int
	dead    bool // out of the map; destroy when refs drops to 0
	lru     *list.Element
	fifo    *list.Element
}

// keyCache is safe for concurrent use.
type keyCache struct {
	hsm keyUnwrapper
	cfg KeyCacheConfig
	now func() time.Time
	log hclog.Logger

	mu      sync.Mutex
	entries map[keyCacheKey]*keyCacheEntry
	lru     *list.List // front: most recently used
	fifo    *list.List // front: oldest unwrap, so first to expire
	stats   KeyCacheStats
}

func newKeyCache(hsm keyUnwrapper, cfg KeyCacheConfig, now func() time.Time, log hclog.Logger) *keyCache {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &keyCache{
		hsm: hsm, cfg: cfg, now: now, log: log,
		entries: make(map[keyCacheKey]*keyCacheEntry),
		lru:     list.New(),
		fifo:    list.New(),
	}
}

func (c *keyCache) enabled() bool { return c.cfg.MaxEntries > 0 && c.cfg.TTL > 0 }

// keyRef is one operation's use of a cached Handle; give it back with
// release (or discard).
type keyRef struct {
	e *keyCacheEntry
}

// acquire returns a Handle for o's wrapped material as src says, from the
// cache when an entry for the same Revision and blob exists, else by
// unwrapping. o.Wrapped must be non-nil.
func (c *keyCache) acquire(ctx context.Context, o *objects.Object, src keySource) (keyRef, error) {
	k := keyCacheKey{id: o.ID, use: src.use, variant: src.variant}
	if c.enabled() {
		c.mu.Lock()
		victims := c.expireLocked()
		if e, ok := c.entries[k]; ok {
			if e.rev == o.Revision && bytes.Equal(e.blob, o.Wrapped.Blob) {
				e.refs++
				c.lru.MoveToFront(e.lru)
				c.stats.Hits++
				c.mu.Unlock()
				c.destroy(ctx, victims)
				return keyRef{e: e}, nil
			}
			// Stale: the object changed since the unwrap.
			victims = append(victims, c.removeLocked(e)...)
		}
		c.stats.Misses++
		c.mu.Unlock()
		c.destroy(ctx, victims)
	} else {
		c.mu.Lock()
		c.stats.Misses++
		c.mu.Unlock()
	}

	var h hsmbackend.Handle
	var err error
	if src.load != nil {
		h, err = src.load(ctx)
	} else {
		h, err = c.hsm.UnwrapKey(ctx, fromStored(o.Wrapped), src.use)
	}
	if err != nil {
		return keyRef{}, err
	}
	e := &keyCacheEntry{key: k, rev: o.Revision, blob: bytes.Clone(o.Wrapped.Blob), h: h, refs: 1}
	if !c.enabled() {
		e.dead = true
		return keyRef{e: e}, nil
	}
	c.mu.Lock()
	var victims []hsmbackend.Handle
	if old, ok := c.entries[k]; ok {
		// Another request unwrapped the same key meanwhile: keep the
		// newer one in the cache, the other dies when released.
		victims = append(victims, c.removeLocked(old)...)
	}
	e.expires = c.now().Add(c.cfg.TTL)
	c.entries[k] = e
	e.lru = c.lru.PushFront(e)
	e.fifo = c.fifo.PushBack(e)
	for len(c.entries) > c.cfg.MaxEntries {
		oldest := c.lru.Back().Value.(*keyCacheEntry)
		c.stats.Evictions++
		victims = append(victims, c.removeLocked(oldest)...)
	}
	c.mu.Unlock()
	c.destroy(ctx, victims)
	return keyRef{e: e}, nil
}

// release ends one use of r's Handle.
func (c *keyCache) release(ctx context.Context, r keyRef) {
	if r.e == nil {
		return
	}
	c.mu.Lock()
	r.e.refs--
	var victims []hsmbackend.Handle
	if r.e.dead && r.e.refs == 0 {
		victims = append(victims, r.e.h)
	}
	c.mu.Unlock()
	c.destroy(ctx, victims)
}

// discard ends one use of r's Handle and drops the entry: the HSM no
// longer knows the Handle (ErrKeyNotFound).
func (c *keyCache) discard(ctx context.Context, r keyRef) {
	if r.e == nil {
		return
	}
	c.mu.Lock()
	if !r.e.dead {
		c.removeLocked(r.e) // r holds a reference, so nothing to destroy yet
		c.stats.Evictions++
	}
	r.e.refs--
	var victims []hsmbackend.Handle
	if r.e.refs == 0 {
		victims = append(victims, r.e.h)
	}
	c.mu.Unlock()
	c.destroy(ctx, victims)
}

// Invalidate drops every entry of the object id. Nothing needs to call it
// for correctness (see the validation on use above); it frees HSM memory
// early, e.g. after Destroy.
func (c *keyCache) Invalidate(ctx context.Context, id string) {
	c.mu.Lock()
	var victims []hsmbackend.Handle
	for k, e := range c.entries {
		if k.id == id {
			victims = append(victims, c.removeLocked(e)...)
		}
	}
	c.mu.Unlock()
	c.destroy(ctx, victims)
}

// Purge drops every entry, e.g. before the Backend closes.
func (c *keyCache) Purge(ctx context.Context) {
	c.mu.Lock()
	var victims []hsmbackend.Handle
	for _, e := range c.entries {
		victims = append(victims, c.removeLocked(e)...)
	}
	c.mu.Unlock()
	c.destroy(ctx, victims)
}

// Stats returns the counters.
func (c *keyCache) Stats() KeyCacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.stats
	st.Entries = len(c.entries)
	return st
}

// expireLocked removes the entries whose TTL has passed.
func (c *keyCache) expireLocked() []hsmbackend.Handle {
	var victims []hsmbackend.Handle
	now := c.now()
	for f := c.fifo.Front(); f != nil; f = c.fifo.Front() {
		e := f.Value.(*keyCacheEntry)
		if now.Before(e.expires) {
			break
		}
		c.stats.Expired++
		victims = append(victims, c.removeLocked(e)...)
	}
	return victims
}

// removeLocked takes e out of the cache and returns its Handle for
// destruction when no operation uses it; otherwise the last release
// destroys it.
func (c *keyCache) removeLocked(e *keyCacheEntry) []hsmbackend.Handle {
	if e.dead {
		return nil
	}
	e.dead = true
	delete(c.entries, e.key)
	c.lru.Remove(e.lru)
	c.fifo.Remove(e.fifo)
	if e.refs == 0 {
		return []hsmbackend.Handle{e.h}
	}
	return nil
}

// destroy destroys Handles outside the lock, detached from the request's
// cancellation: a handle left behind would stay in the HSM until its
// session closes.
func (c *keyCache) destroy(ctx context.Context, hs []hsmbackend.Handle) {
	if len(hs) == 0 {
		return
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), keyCacheDestroyTimeout)
	defer cancel()
	for _, h := range hs {
		if err := c.hsm.DestroyHandle(dctx, h); err != nil && !errors.Is(err, hsmbackend.ErrKeyNotFound) {
			c.log.Warn("destroy cached key handle failed", "error", err)
		}
	}
}

// readVariant names the cache entries that hold a key unwrapped only to be
// read (hsmbackend.UnwrapReadable), for Get: their Handles can do no
// cryptography, so they never mix with the entries of crypto operations.
const readVariant = "read"

// readSecret returns the plaintext of o's wrapped material (the key bytes,
// or a private key's PKCS#8 DER), which the caller must clear. Serving a
// key repeatedly (Get) then costs one C_GetAttributeValue instead of an
// unwrap, a read and a destroy each time: the unwrapped, readable session
// object stays in the key cache under the same Revision and blob checks as
// the other entries. Only the Handle is cached, never the plaintext.
func (s *Service) readSecret(ctx context.Context, o *objects.Object) ([]byte, error) {
	if o.Wrapped == nil {
		return nil, kmip.Errorf(kmip.ResultReasonKeyValueNotPresent, "object %s has no key value", o.ID)
	}
	w := fromStored(o.Wrapped)
	if s.crypto == nil {
		return s.hsm.Unwrap(ctx, w)
	}
	var plain []byte
	src := keySource{variant: readVariant, load: func(ctx context.Context) (hsmbackend.Handle, error) {
		return s.hsm.UnwrapReadable(ctx, w)
	}}
	err := s.crypto.withKeySource(ctx, o, src, func(h hsmbackend.Handle) error {
		var err error
		plain, err = s.hsm.ReadValue(ctx, h, w)
		return err
	})
	if err != nil {
		return nil, err
	}
	return plain, nil
}
