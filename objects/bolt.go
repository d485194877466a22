package objects

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/kmipd/kmipd/ttlv"
)

// Options tune a BoltStore. The zero value is safe and is what production
// uses; there is deliberately no option to turn fsync off.
type Options struct {
	// LockTimeout bounds the wait for the file lock when another process
	// has the database open; Open then fails with ErrLocked. Zero means one
	// second.
	LockTimeout time.Duration

	// MaxBatchDelay is how long a write waits for others to share its
	// commit and fsync (group commit). Longer delays batch more under load
	// but add latency to a lone write. Zero means 2ms.
	MaxBatchDelay time.Duration

	// MaxBatchSize caps the writes sharing one commit. Zero means bbolt's
	// default (1000).
	MaxBatchSize int
}

// BoltStore is a Store in one bbolt file.
type BoltStore struct {
	db   *bolt.DB
	path string

	// writers counts the Create, Update and Delete calls in progress; see
	// write.
	writers atomic.Int32

	// memo spares Get the decoding of records it has decoded before.
	memo *recordMemo
}

var _ Store = (*BoltStore)(nil)

// maxIDLength bounds a Unique Identifier: it is a bbolt key (at most 32 KiB)
// and goes into every index entry.
const maxIDLength = 1024

// Open opens or creates the store at path (file mode 0600) and brings its
// schema up to date. It fails with ErrLocked if another process holds the
// file, and with ErrSchemaTooNew if a newer kmipd wrote it.
func Open(path string, opts Options) (*BoltStore, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = time.Second
	}
	if opts.MaxBatchDelay <= 0 {
		opts.MaxBatchDelay = 2 * time.Millisecond
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: opts.LockTimeout,
		// The free-page list is derived data: bbolt can rebuild it by
		// scanning the file at Open. Not writing it on every commit cuts
		// the pages each commit writes (and fsyncs), which grows with the
		// file; the hashmap form keeps allocation cheap in a large file.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("open store %s: %w (waited %v)", path, ErrLocked, opts.LockTimeout)
		}
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db.MaxBatchDelay = opts.MaxBatchDelay
	if opts.MaxBatchSize > 0 {
		db.MaxBatchSize = opts.MaxBatchSize
	}
	if err := migrate(db); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return &BoltStore{db: db, path: path, memo: newRecordMemo()}, nil
}

// Close closes the database file.
func (s *BoltStore) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close store %s: %w", s.path, err)
	}
	return nil
}

// validate refuses objects the store cannot keep faithfully, and returns
// the record to store. The record is decoded back before anything is
// written, so that a later Get can always read it: the codec refuses what
// the encoder lets through, such as a Text String that is not UTF-8 or an
// item of unknown type.
func validate(o *Object) ([]byte, error) {
	if o.ID == "" || len(o.ID) > maxIDLength {
		return nil, fmt.Errorf("identifier length %d: %w", len(o.ID), ErrInvalidObject)
	}
	for _, a := range o.Attributes {
		if a.Name == "" || a.Value.IsZero() || a.Index < 0 || a.Index > math.MaxInt32 {
			return nil, fmt.Errorf("attribute %q index %d: %w", a.Name, a.Index, ErrInvalidObject)
		}
	}
	// The record keeps the length as an Integer (int32), like the index.
	if o.Wrapped != nil && (o.Wrapped.Len < 0 || o.Wrapped.Len > math.MaxInt32) {
		return nil, fmt.Errorf("wrapped material length %d: %w", o.Wrapped.Len, ErrInvalidObject)
	}
	rec := encodeRecord(o)
	if _, err := ttlv.Decode(rec[1:], recordLimits); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidObject, err)
	}
	return rec, nil
}

// write runs fn in a read-write transaction, committed and fsynced before
// it returns. When other writes are in progress it joins bbolt's Batch, so
// that they share one commit and fsync (group commit; fn may then run more
// than once, see doc.go). A lone write commits at once with Update instead:
// Batch would hold it for MaxBatchDelay waiting for company that is not
// coming, which at one caller is most of a write's latency.
func (s *BoltStore) write(fn func(tx *bolt.Tx) error) error {
	defer s.writers.Add(-1)
	if s.writers.Add(1) == 1 {
		return s.db.Update(fn)
	}
	return s.db.Batch(fn)
}

// now is the store's clock, in the precision records keep.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Create stores a new object; see Store.
func (s *BoltStore) Create(ctx context.Context, o *Object) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("create object %q: %w", o.ID, err)
	}
	if err := prepareCreate(o); err != nil {
		return fmt.Errorf("create object %q: %w", o.ID, err)
	}
	// Batch may run this more than once (see doc.go): it sets every
	// result from scratch and reports "exists" without failing the batch.
	var (
		seq    uint64
		exists bool
	)
	err := s.write(func(tx *bolt.Tx) error {
		var err error
		seq, exists, err = createInTx(tx, o)
		return err
	})
	if err != nil {
		return fmt.Errorf("create object %q: %w", o.ID, err)
	}
	if exists {
		return fmt.Errorf("create object %q: %w", o.ID, ErrExists)
	}
	o.seq = seq
	return nil
}

// prepareCreate checks a new object and sets what the store owns.
func prepareCreate(o *Object) error {
	if _, err := validate(o); err != nil {
		return err
	}
	t := now()
	if o.Created.IsZero() {
		o.Created = t
	} else {
		o.Created = o.Created.UTC().Truncate(time.Microsecond)
	}
	o.Updated, o.Revision = t, 1
	return nil
}

// createInTx stores o under the next sequence number, unless its
// identifier is taken. It does not change o.
func createInTx(tx *bolt.Tx, o *Object) (seq uint64, exists bool, err error) {
	if tx.Bucket(bucketObjects).Get([]byte(o.ID)) != nil {
		return 0, true, nil
	}
	n, err := tx.Bucket(bucketSeq).NextSequence()
	if err != nil {
		return 0, false, err
	}
	stored := *o
	stored.seq = n
	if err := putObject(tx, &stored, encodeRecord(&stored), nil, true); err != nil {
		return 0, false, err
	}
	return n, false, nil
}

// putObject writes o's record rec and its index entries, replacing
// oldEntries, those of the version it replaces. A new object also gets its
// creation-order entry.
func putObject(tx *bolt.Tx, o *Object, rec []byte, oldEntries []indexEntry, isNew bool) error {
	id := []byte(o.ID)
	if err := tx.Bucket(bucketObjects).Put(id, rec); err != nil {
		return err
	}
	if isNew {
		if err := tx.Bucket(bucketSeq).Put(seqKey(o.seq), id); err != nil {
			return err
		}
	}
	del, add := diffEntries(oldEntries, indexEntries(o))
	for _, e := range del {
		if err := tx.Bucket(e.bucket).Delete(e.key); err != nil {
			return err
		}
	}
	for _, e := range add {
		if err := tx.Bucket(e.bucket).Put(e.key, id); err != nil {
			return err
		}
	}
	return nil
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// Get returns a copy of the stored object; see Store.
//
// Most Gets read an object that has not changed since the last one (every
// Encrypt, Decrypt or Sign with the same key), so the decoded form is
// memoized, checked against the stored record, and copied (see recordMemo).
func (s *BoltStore) Get(ctx context.Context, id string) (*Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("get object %q: %w", id, err)
	}
	var rec []byte
	var memoized *Object
	err := s.db.View(func(tx *bolt.Tx) error {
		stored := tx.Bucket(bucketObjects).Get([]byte(id))
		if stored == nil {
			return nil
		}
		if memoized = s.memo.lookup(id, stored); memoized != nil {
			return nil
		}
		// bbolt's slice is only valid inside the transaction, and the
		// decoded Object aliases what it decodes: copy first.
		rec = bytes.Clone(stored)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("get object %q: %w", id, err)
	}
	if memoized != nil {
		return memoized.Clone(), nil
	}
	if rec == nil {
		return nil, fmt.Errorf("get object %q: %w", id, ErrNotFound)
	}
	o, err := decodeRecord(rec)
	if err != nil {
		return nil, fmt.Errorf("get object %q: %w", id, err)
	}
	if s.memo.admit(id) {
		s.memo.put(id, rec, o)
	}
	return o, nil
}

// Update changes an object in one transaction; see Store.
func (s *BoltStore) Update(ctx context.Context, id string, fn func(o *Object) error) (*Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("update object %q: %w", id, err)
	}
	// Failures of the object itself (not found, fn's error, a bad result)
	// are reported through failed, not returned to Batch: returning them
	// would make Batch rerun every other write of the batch.
	var (
		out    *Object
		failed error
	)
	// The memo would miss on the new record anyway; forgetting the old one
	// frees it (and its wrapped material) now.
	defer s.memo.forget(id)
	err := s.write(func(tx *bolt.Tx) error {
		out, failed = nil, nil
		raw := tx.Bucket(bucketObjects).Get([]byte(id))
		if raw == nil {
			failed = fmt.Errorf("update object %q: %w", id, ErrNotFound)
			return nil
		}
		o, err := decodeRecord(bytes.Clone(raw))
		if err != nil {
			failed = fmt.Errorf("update object %q: %w", id, err)
			return nil
		}
		oldEntries := indexEntries(o)
		seq, created, revision := o.seq, o.Created, o.Revision
		if err := fn(o); err != nil {
			failed = err
			return nil
		}
		if o.ID != id {
			failed = fmt.Errorf("update object %q: identifier changed to %q: %w", id, o.ID, ErrConflict)
			return nil
		}
		// What the store owns is restored whatever fn did.
		o.seq, o.Created = seq, created
		o.Revision, o.Updated = revision+1, now()
		rec, err := validate(o)
		if err != nil {
			failed = fmt.Errorf("update object %q: %w", id, err)
			return nil
		}
		if err := putObject(tx, o, rec, oldEntries, false); err != nil {
			return err
		}
		out = o
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("update object %q: %w", id, err)
	}
	if failed != nil {
		return nil, failed
	}
	return out, nil
}

// Delete removes an object and its index entries; see Store.
func (s *BoltStore) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete object %q: %w", id, err)
	}
	var failed error
	defer s.memo.forget(id) // as in Update
	err := s.write(func(tx *bolt.Tx) error {
		failed = nil
		objs := tx.Bucket(bucketObjects)
		raw := objs.Get([]byte(id))
		if raw == nil {
			failed = ErrNotFound
			return nil
		}
		o, err := decodeRecord(bytes.Clone(raw))
		if err != nil {
			failed = err
			return nil
		}
		for _, e := range indexEntries(o) {
			if err := tx.Bucket(e.bucket).Delete(e.key); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketSeq).Delete(seqKey(o.seq)); err != nil {
			return err
		}
		return objs.Delete([]byte(id))
	})
	if err == nil {
		err = failed
	}
	if err != nil {
		return fmt.Errorf("delete object %q: %w", id, err)
	}
	return nil
}

// NewID returns a random (version 4) UUID in its text form, which is what
// most KMIP servers hand out as Unique Identifier. Uniqueness rests on 122
// random bits; Create still refuses a duplicate with ErrExists.
func (s *BoltStore) NewID(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("new object identifier: %w", err)
	}
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		return "", fmt.Errorf("new object identifier: %w", err)
	}
	u[6] = u[6]&0x0f | 0x40 // version 4 (RFC 9562 §5.4)
	u[8] = u[8]&0x3f | 0x80 // variant 10
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]), nil
}

// Backup writes a consistent copy of the database file to w from one
// read-only transaction, so writers carry on meanwhile. The result is a
// bbolt file that Open accepts.
func (s *BoltStore) Backup(ctx context.Context, w io.Writer) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("backup store %s: %w", s.path, err)
	}
	var n int64
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("backup store %s: %w", s.path, err)
	}
	return n, nil
}
