package objects

import (
	"bytes"
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// Bounds of a recordMemo. An AES key's entry (its record of about 1.6 KiB
// and the decoded copy, about 2.5 KiB) is about 4 KiB, so the memo holds
// the 1,024 keys most servers work with in about 4 MiB, and never more
// than 8 MiB whatever the records.
const (
	memoMaxEntries = 1024
	memoMaxBytes   = 8 << 20
	// memoMaxRecord: records larger than this (certificates with long
	// chains, big opaque objects) are decoded every time rather than
	// crowd out many keys.
	memoMaxRecord = 16 << 10
	// memoSeenSlots: how many recent misses admit remembers.
	memoSeenSlots = 4096
)

// recordMemo remembers the decoded form of records that Get read recently,
// so that Get of an object that has not changed since copies it (Clone)
// instead of decoding its record again, which costs several times more.
//
// It needs no invalidation to be correct: an entry keeps the record bytes
// it was decoded from, and Get uses it only when those equal the bytes
// stored now, compared inside Get's read transaction. A write the memo did
// not hear of makes the entry miss, never return stale data. Update and
// Delete still forget their object, so that a replaced or deleted record,
// wrapped material included, is not kept longer than needed.
//
// Entries are immutable once stored (but for trusted, which only goes from
// false to true), so readers use an entry without holding the lock. Get hands out clones of an entry's Object; Peek hands
// out the Object itself, read only.
//
// Peek skips the read transaction, so it cannot compare bytes: it uses
// only trusted entries, those stored while no write forgot anything.
// Every write that changes or deletes a stored record forgets it after its
// commit, and forget advances epoch. A reader notes epoch before its read
// transaction and put trusts its entry only if epoch has not moved since:
// a record read before a commit can then never be trusted after it. (A
// Create needs no forget: no entry, trusted or not, exists for an
// identifier that was not stored.)
type recordMemo struct {
	mu      sync.Mutex
	entries map[string]*memoEntry
	bytes   int    // sum of the entries' cost
	epoch   uint64 // forgets so far

	// seen holds hashes of identifiers that missed recently, one per slot
	// (a later miss overwrites); see admit.
	seen [memoSeenSlots]uint64
	seed maphash.Seed
}

type memoEntry struct {
	rec     []byte      // the stored record obj was decoded from (a private copy)
	obj     *Object     // decoded; read only
	cost    int         // approximate bytes held: rec and obj
	trusted atomic.Bool // equal to the stored record until a write forgets it
}

func newRecordMemo() *recordMemo {
	return &recordMemo{entries: make(map[string]*memoEntry), seed: maphash.MakeSeed()}
}

// admit reports whether a record that missed should be memoized: only when
// its identifier missed recently already. Memoizing costs a copy, which
// pays off from the next hit; when Gets spread over more objects than the
// memo holds, most entries would be evicted before any hit, and the copies
// would only add to the decoding. Asking for a second miss keeps those
// one-off reads out, at the price of one more decode for a hot object.
func (m *recordMemo) admit(id string) bool {
	h := maphash.String(m.seed, id)
	slot := &m.seen[h%memoSeenSlots]
	m.mu.Lock()
	defer m.mu.Unlock()
	if *slot == h {
		return true
	}
	*slot = h
	return false
}

// lookup returns the memoized object id if it was decoded from stored, the
// record the caller's transaction reads now. The result belongs to the
// memo: the caller must Clone it, not change it. readEpoch is as for put:
// an entry stored untrusted (a write raced with its reader) becomes
// trusted once a read finds it equal to the stored record with no forget
// since the read began.
func (m *recordMemo) lookup(id string, stored []byte, readEpoch uint64) *Object {
	m.mu.Lock()
	e := m.entries[id]
	m.mu.Unlock()
	if e == nil || !bytes.Equal(e.rec, stored) {
		return nil
	}
	if !e.trusted.Load() {
		m.mu.Lock()
		if m.entries[id] == e && m.epoch == readEpoch {
			e.trusted.Store(true)
		}
		m.mu.Unlock()
	}
	return e.obj
}

// trusted returns the memoized object id if its entry is trusted (see
// recordMemo), else nil. The result belongs to the memo: read only.
func (m *recordMemo) trusted(id string) *Object {
	m.mu.Lock()
	e := m.entries[id]
	m.mu.Unlock()
	if e == nil || !e.trusted.Load() {
		return nil
	}
	return e.obj
}

// currentEpoch returns the epoch to pass to put for a record about to be
// read.
func (m *recordMemo) currentEpoch() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.epoch
}

// put remembers o, decoded from rec, in copies of its own, so that
// nothing the caller does to o or rec reaches the memo. readEpoch is
// currentEpoch from before the transaction that read rec; the entry is
// trusted if no write has forgotten anything since. When the memo is
// full, arbitrary entries make room (Go randomises map iteration order):
// simpler than LRU, and a hot object evicted by chance returns at its next
// Get.
func (m *recordMemo) put(id string, rec []byte, o *Object, readEpoch uint64) {
	if len(rec) > memoMaxRecord {
		return
	}
	obj, size := o.clone()
	e := &memoEntry{rec: bytes.Clone(rec), obj: obj, cost: len(rec) + size}
	m.mu.Lock()
	defer m.mu.Unlock()
	e.trusted.Store(readEpoch == m.epoch)
	m.removeLocked(id)
	for len(m.entries) > 0 && (len(m.entries) >= memoMaxEntries || m.bytes+e.cost > memoMaxBytes) {
		for k := range m.entries {
			m.removeLocked(k)
			break
		}
	}
	m.entries[id] = e
	m.bytes += e.cost
}

// forget drops the entry of id, if any, and distrusts every record read
// before. Writers call it after their commit, never before: a reader
// between a forget and the commit could read the old record and trust it.
func (m *recordMemo) forget(id string) {
	m.mu.Lock()
	m.removeLocked(id)
	m.epoch++
	m.mu.Unlock()
}

func (m *recordMemo) removeLocked(id string) {
	if e, ok := m.entries[id]; ok {
		m.bytes -= e.cost
		delete(m.entries, id)
	}
}
