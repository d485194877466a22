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
	"slices"
	"sync"
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

	// MaxBatchSize caps the writes sharing one commit (see groupCommit), so
	// that under a flood of writes one transaction cannot grow without
	// bound. Zero means 256.
	MaxBatchSize int
}

// defaultMaxBatchSize is MaxBatchSize when Options leaves it zero. bbolt
// splits pages only at commit, so in a young store, whose index is still
// one page, a batch's index entries all go into one growing node at ten
// places, each put shifting what follows: 256 creates commit in 27 ms on
// an empty store, 1,000 (bbolt's own default cap) took 340 ms. 256 writes
// already share one fsync; more buys nothing.
const defaultMaxBatchSize = 256

// BoltStore is a Store in one bbolt file.
type BoltStore struct {
	db   *bolt.DB
	path string

	// commits runs every write transaction; see write.
	commits *groupCommit

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
	if opts.MaxBatchSize <= 0 {
		opts.MaxBatchSize = defaultMaxBatchSize
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
	if err := migrate(db); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return &BoltStore{
		db:      db,
		path:    path,
		commits: &groupCommit{db: db, maxBatch: opts.MaxBatchSize},
		memo:    newRecordMemo(),
	}, nil
}

// Close refuses new writes (they fail with ErrClosed), waits for those
// already accepted to commit, and closes the database file once reads in
// progress have finished. Reads after Close fail. Close is idempotent.
func (s *BoltStore) Close() error {
	s.commits.close()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close store %s: %w", s.path, err)
	}
	return nil
}

// validate refuses objects the store cannot keep faithfully, and returns
// the record to store. The record is checked against the decoder's rules
// (ttlv.Check) before anything is written, so that a later Get can always
// read it: the codec refuses what the encoder lets through, such as a Text
// String that is not UTF-8 or an item of unknown type.
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
	if err := ttlv.Check(rec[1:], recordLimits); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidObject, err)
	}
	return rec, nil
}

// write runs fn in a read-write transaction, committed and fsynced before
// it returns, through the group commit (groupCommit): concurrent writes
// share one commit and its fsyncs, and fn may then run more than once (see
// doc.go). fn returns an error only for a failure of the transaction itself;
// the objects' own failures go through the caller's variables, so that they
// do not make the batch run again.
func (s *BoltStore) write(fn func(tx *bolt.Tx) error) error {
	return s.commits.write(fn)
}

// groupCommit runs the store's write transactions so that concurrent
// writes share a commit and its fsyncs (bbolt syncs twice per commit: the
// pages, then the meta page), which is most of a write's cost.
//
// It works without a timer. A write that finds no commit running becomes
// the leader and commits at once, usually alone. Writes that arrive while
// a commit runs queue behind it; when it ends, the leader hands the lead
// to the oldest queued write, which commits up to MaxBatchSize of the
// queue (all that arrived meanwhile) as the next batch. So a lone write
// never waits, and under load each commit takes the writes that gathered
// during the previous one. bbolt's DB.Batch, which this replaces, started
// a batch on a MaxBatchDelay timer (or at MaxBatchSize), so under load
// every write waited out the timer before its commit even began.
//
// Failures are isolated as in DB.Batch: when a function fails (an error
// or a panic), the batch is rolled back, that function is run again in a
// transaction of its own by its caller, to report its own error, and the
// others are retried without it. A function may therefore run more than
// once. (One that fails with an error while alone in its batch already
// ran alone, so its error is returned without a second run.)
type groupCommit struct {
	db       *bolt.DB
	maxBatch int

	mu      sync.Mutex
	leading bool           // a write holds the lead: others queue
	queue   []*queuedWrite // oldest first; empty unless leading
	closed  bool           // Close was called: new writes are refused

	// accepted counts the writes in progress, which close waits for.
	accepted sync.WaitGroup

	// hooks let tests watch the commits; unset in production.
	hooks commitHooks
}

// commitHooks observe a groupCommit in tests.
type commitHooks struct {
	// queued is called when a write queues behind a running commit,
	// with the queue's length.
	queued func(depth int)
	// committed is called after each batch transaction, with its number
	// of writes and its error, while the lead is still held and before
	// the writes hear of it.
	committed func(writes int, err error)
}

// queuedWrite is one write waiting for, or part of, a batch.
type queuedWrite struct {
	fn func(*bolt.Tx) error
	// answer carries the write's next step. It is buffered so that the
	// leader never waits for a writer: a write gets at most one answer
	// it has not read yet.
	answer chan answer
}

// answer tells a queued write what happened to it.
type answer struct {
	next nextStep
	err  error // the outcome of the write's commit, when next is done
}

type nextStep int

const (
	done     nextStep = iota // the batch holding the write committed, or failed with err
	lead                     // commit the queue, whose oldest write this is
	runAlone                 // fn failed within a batch: run it in a transaction of its own
)

// write runs fn in a batch transaction and returns once the batch is
// committed and fsynced, or has failed. It returns ErrClosed after close.
func (g *groupCommit) write(fn func(*bolt.Tx) error) error {
	w, leader, depth, err := g.enqueue(fn)
	if err != nil {
		return err
	}
	defer g.accepted.Done()
	a := answer{next: lead}
	if !leader {
		if g.hooks.queued != nil {
			g.hooks.queued(depth)
		}
		a = <-w.answer
	}
	if a.next == lead {
		g.commitQueue() // w is the queue's oldest write, so this answers it
		a = <-w.answer
	}
	if a.next == runAlone {
		return g.db.Update(fn)
	}
	return a.err
}

// enqueue queues a write of fn. leader reports that no commit was running,
// so the caller holds the lead and must commit the queue; otherwise depth
// is the queue's length with the write in it.
func (g *groupCommit) enqueue(fn func(*bolt.Tx) error) (w *queuedWrite, leader bool, depth int, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, false, 0, ErrClosed
	}
	// Under mu, and before close has set closed: close's Wait sees it.
	g.accepted.Add(1)
	w = &queuedWrite{fn: fn, answer: make(chan answer, 1)}
	g.queue = append(g.queue, w)
	leader = !g.leading
	g.leading = true
	return w, leader, len(g.queue), nil
}

// commitQueue is the leader's work: it commits the oldest queued writes
// (at most maxBatch) as one batch, answers them, and hands the lead to the
// oldest write still queued, or gives it up if none is.
func (g *groupCommit) commitQueue() {
	g.mu.Lock()
	n := min(len(g.queue), g.maxBatch)
	batch := slices.Clone(g.queue[:n])
	g.queue = slices.Delete(g.queue, 0, n)
	g.mu.Unlock()

	g.commit(batch)

	g.mu.Lock()
	if len(g.queue) > 0 {
		g.queue[0].answer <- answer{next: lead}
	} else {
		g.leading = false
	}
	g.mu.Unlock()
}

// commit runs batch's functions in arrival order in one transaction and
// answers every write. A function that fails is taken out of the batch
// and told to run alone (unless it was alone already and returned an
// error, which is then its own), and the rest are retried.
func (g *groupCommit) commit(batch []*queuedWrite) {
	for len(batch) > 0 {
		failed, err := g.runBatch(batch)
		if g.hooks.committed != nil {
			g.hooks.committed(len(batch), err)
		}
		var p panicError
		switch {
		case failed < 0:
			for _, w := range batch {
				w.answer <- answer{next: done, err: err}
			}
			return
		case len(batch) == 1 && !errors.As(err, &p):
			batch[0].answer <- answer{next: done, err: err}
			return
		}
		// A panic is rerun alone too, so that it is raised again in its
		// own caller's goroutine rather than lost here.
		batch[failed].answer <- answer{next: runAlone}
		batch = slices.Delete(batch, failed, failed+1)
	}
}

// runBatch runs the functions in one transaction, committed unless one of
// them fails, and returns the index of the one that failed, or -1.
func (g *groupCommit) runBatch(batch []*queuedWrite) (failed int, err error) {
	failed = -1
	err = g.db.Update(func(tx *bolt.Tx) error {
		for i, w := range batch {
			if err := callRecovering(w.fn, tx); err != nil {
				failed = i
				return err
			}
		}
		return nil
	})
	return failed, err
}

// panicError is a transaction function's panic, recovered so that it
// cannot take down the leader, which is committing other callers' writes.
type panicError struct{ value any }

func (p panicError) Error() string { return fmt.Sprintf("panic in write transaction: %v", p.value) }

func callRecovering(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = panicError{v}
		}
	}()
	return fn(tx)
}

// close refuses new writes and waits for the accepted ones to finish.
func (g *groupCommit) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.accepted.Wait()
}

// now is the store's clock, in the precision records keep.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Create stores a new object; see Store.
func (s *BoltStore) Create(ctx context.Context, o *Object) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("create object %q: %w", o.ID, err)
	}
	return s.Apply(ctx, []*Object{o}, nil)
}

// Apply writes new objects and changes to stored ones in one transaction;
// see Store.
func (s *BoltStore) Apply(ctx context.Context, creates []*Object, changes []Change) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("write objects: %w", err)
	}
	// Records of new objects are encoded and checked here, outside the
	// write transaction, which the group commit runs one at a time.
	recs := make([][]byte, len(creates))
	for i, o := range creates {
		rec, err := prepareCreate(o)
		if err != nil {
			return fmt.Errorf("create object %q: %w", o.ID, err)
		}
		recs[i] = rec
	}
	for _, c := range changes {
		defer s.memo.forget(c.ID) // as in Update
	}
	// Failures of the objects themselves (an identifier or a name taken, a
	// change refused) are reported through failed, not returned to write:
	// returning them would make the group commit rerun every other write
	// of the batch. This may run more than once (see doc.go), so every
	// result is set from scratch.
	var (
		written []*Object
		failed  error
	)
	journal := journalOf(ctx)
	err := s.write(func(tx *bolt.Tx) error {
		var err error
		written, failed, err = writeInTx(tx, creates, recs, changes)
		if err != nil || failed != nil {
			return err
		}
		return putJournal(tx, journal)
	})
	if err != nil {
		return fmt.Errorf("write objects: %w", err)
	}
	if failed != nil {
		return failed
	}
	for i, o := range creates {
		o.seq = written[i].seq
	}
	return nil
}

// prepareCreate sets what the store owns in a new object, checks it, and
// returns its record with creation sequence number 0, for setRecordSeq to
// fill in within the write transaction.
func prepareCreate(o *Object) ([]byte, error) {
	t := now()
	if o.Created.IsZero() {
		o.Created = t
	} else {
		o.Created = o.Created.UTC().Truncate(time.Microsecond)
	}
	o.Updated, o.Revision = t, 1
	o.seq = 0
	return validate(o)
}

// pendingWrite is one object a write transaction is about to store.
type pendingWrite struct {
	o *Object
	// old, oldNames and oldTenant are the stored version's index entries,
	// Name values and Tenant; unset for a new object.
	old       []indexEntry
	oldNames  []string
	oldTenant string
	isNew     bool
	// rec is the record of a change, encoded when it was validated; a new
	// object's is encoded once its sequence number is known.
	rec []byte
}

// writeInTx stores the new objects creates (unchanged: copies are stored)
// and applies changes, as one write: it first reads and checks everything,
// then writes only if nothing failed. It returns the objects written,
// creates first then changes, in order. failed is the reason the objects
// could not be written (then nothing was); err is a failure of the
// transaction itself.
//
// recs[i] is the record prepareCreate returned for creates[i].
func writeInTx(tx *bolt.Tx, creates []*Object, recs [][]byte, changes []Change) (written []*Object, failed, err error) {
	ws := make([]*pendingWrite, 0, len(creates)+len(changes))
	// A write names a handful of objects: a linear search is enough.
	given := func(id string) bool {
		return slices.ContainsFunc(ws, func(w *pendingWrite) bool { return w.o.ID == id })
	}
	objs := tx.Bucket(bucketObjects)
	for i, o := range creates {
		if given(o.ID) {
			return nil, fmt.Errorf("create object %q: given twice: %w", o.ID, ErrConflict), nil
		}
		if objs.Get([]byte(o.ID)) != nil {
			return nil, fmt.Errorf("create object %q: %w", o.ID, ErrExists), nil
		}
		stored := *o
		ws = append(ws, &pendingWrite{o: &stored, rec: recs[i], isNew: true})
	}
	for _, c := range changes {
		if given(c.ID) {
			return nil, fmt.Errorf("update object %q: given twice: %w", c.ID, ErrConflict), nil
		}
		w, failed := changeInTx(tx, c)
		if failed != nil {
			return nil, failed, nil
		}
		ws = append(ws, w)
	}
	if w, err := checkNames(tx, ws); err != nil {
		op := "update"
		if w.isNew {
			op = "create"
		}
		return nil, fmt.Errorf("%s object %q: %w", op, w.o.ID, err), nil
	}
	written = make([]*Object, len(ws))
	for i, w := range ws {
		if w.isNew {
			if w.o.seq, err = tx.Bucket(bucketSeq).NextSequence(); err != nil {
				return nil, nil, err
			}
			// In place: if the batch runs again, it is stamped again.
			if err := setRecordSeq(w.rec, w.o.seq); err != nil {
				return nil, nil, fmt.Errorf("create object %q: %w", w.o.ID, err)
			}
		}
		if err := putObject(tx, w.o, w.rec, w.old, w.isNew); err != nil {
			return nil, nil, err
		}
		written[i] = w.o
	}
	return written, nil, nil
}

// changeInTx reads the stored object c.ID and applies c.Fn to it, without
// writing anything. The error is fn's own, or wraps the store's reason.
func changeInTx(tx *bolt.Tx, c Change) (*pendingWrite, error) {
	id := c.ID
	raw := tx.Bucket(bucketObjects).Get([]byte(id))
	if raw == nil {
		return nil, fmt.Errorf("update object %q: %w", id, ErrNotFound)
	}
	// The object outlives the reads: it is written later in the
	// transaction and returned to the caller. Decode a copy.
	o, err := decodeRecord(bytes.Clone(raw))
	if err != nil {
		return nil, fmt.Errorf("update object %q: %w", id, err)
	}
	w := &pendingWrite{old: indexEntries(o), oldNames: nameValues(o), oldTenant: o.Tenant}
	seq, created, revision := o.seq, o.Created, o.Revision
	if err := c.Fn(o); err != nil {
		return nil, err
	}
	if o.ID != id {
		return nil, fmt.Errorf("update object %q: identifier changed to %q: %w", id, o.ID, ErrConflict)
	}
	// What the store owns is restored whatever fn did.
	o.seq, o.Created = seq, created
	o.Revision, o.Updated = revision+1, now()
	if w.rec, err = validate(o); err != nil {
		return nil, fmt.Errorf("update object %q: %w", id, err)
	}
	w.o = o
	return w, nil
}

// putObject writes o's record rec and its index entries, replacing
// oldEntries, those of the version it replaces. A new object also gets its
// creation-order entry.
func putObject(tx *bolt.Tx, o *Object, rec []byte, oldEntries []indexEntry, isNew bool) error {
	id := []byte(o.ID)
	objs, seqs, index := tx.Bucket(bucketObjects), tx.Bucket(bucketSeq), tx.Bucket(bucketIndex)
	objs.FillPercent, seqs.FillPercent, index.FillPercent = fillRecords, fillSeq, fillIndex
	if err := objs.Put(id, rec); err != nil {
		return err
	}
	if isNew {
		if err := seqs.Put(seqKey(o.seq), id); err != nil {
			return err
		}
	}
	del, add := diffEntries(oldEntries, indexEntries(o))
	for _, e := range del {
		if err := index.Delete(e.key); err != nil {
			return err
		}
	}
	for _, e := range add {
		if err := index.Put(e.key, id); err != nil {
			return err
		}
	}
	return nil
}

// How full bbolt fills the pages it splits, per bucket. Its default, 0.5,
// suits keys that arrive in random order. Most of these arrive in order:
// records by time-ordered identifier (NewID), creation order by sequence
// number, index entries at the end of their value's run. Half-full pages
// then only double the pages and deepen the trees, and a commit rewrites
// every page on the path to each leaf it changes: in a store of 10,000
// keys, one Create wrote 31 pages with the default and writes 27 with
// these (TestCommitPages). Records and the index still get some keys out
// of order (a Name, an import, a record that grows), hence not 1.0.
const (
	fillRecords = 0.9
	fillSeq     = 1.0
	fillIndex   = 0.9
)

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
	// Noted before the transaction, for the memo's trust (see recordMemo).
	epoch := s.memo.currentEpoch()
	err := s.db.View(func(tx *bolt.Tx) error {
		stored := tx.Bucket(bucketObjects).Get([]byte(id))
		if stored == nil {
			return nil
		}
		if memoized = s.memo.lookup(id, stored, epoch); memoized != nil {
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
		s.memo.put(id, rec, o, epoch)
	}
	return o, nil
}

// Update changes an object in one transaction; see Store.
func (s *BoltStore) Update(ctx context.Context, id string, fn func(o *Object) error) (*Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("update object %q: %w", id, err)
	}
	// As in Apply: the object's own failures go through failed.
	var (
		out    *Object
		failed error
	)
	// The memo would miss on the new record anyway; forgetting the old one
	// frees it (and its wrapped material) now.
	defer s.memo.forget(id)
	journal := journalOf(ctx)
	err := s.write(func(tx *bolt.Tx) error {
		var (
			written []*Object
			err     error
		)
		out = nil
		written, failed, err = writeInTx(tx, nil, nil, []Change{{ID: id, Fn: fn}})
		if err != nil || failed != nil {
			return err
		}
		out = written[0]
		return putJournal(tx, journal)
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
	journal := journalOf(ctx)
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
		index := tx.Bucket(bucketIndex)
		for _, e := range indexEntries(o) {
			if err := index.Delete(e.key); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketSeq).Delete(seqKey(o.seq)); err != nil {
			return err
		}
		if err := objs.Delete([]byte(id)); err != nil {
			return err
		}
		return putJournal(tx, journal)
	})
	if err == nil {
		err = failed
	}
	if err != nil {
		return fmt.Errorf("delete object %q: %w", id, err)
	}
	return nil
}

// NewID returns a version 7 UUID (RFC 9562 §5.7) in its text form, the
// shape most KMIP servers hand out as Unique Identifier: 48 bits of Unix
// milliseconds, then 74 random bits. Uniqueness rests on the random bits
// (Create still refuses a duplicate with ErrExists).
//
// Why time-ordered: records and index entries are keyed by identifier, and
// random (version 4) identifiers scattered each batch of Creates over as
// many B+tree leaves as it had objects, every one of them rewritten and
// fsynced at commit; time-ordered ones land side by side. The price is
// that an identifier tells its object's creation time to the millisecond,
// which Initial Date tells anyone allowed to read the object anyway.
func (s *BoltStore) NewID(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("new object identifier: %w", err)
	}
	var u [16]byte
	if _, err := rand.Read(u[6:]); err != nil {
		return "", fmt.Errorf("new object identifier: %w", err)
	}
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(time.Now().UnixMilli()))
	copy(u[:6], ms[2:])     // the low 48 bits
	u[6] = u[6]&0x0f | 0x70 // version 7
	u[8] = u[8]&0x3f | 0x80 // variant 10 (RFC 9562 §4.1)
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
