package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Sink stores records. Implementations must be safe for concurrent use,
// though the Logger makes one call at a time (from whichever goroutine is
// writing).
type Sink interface {
	// Write stores record, which holds one or more complete JSON lines
	// (each ending in '\n'), in order, and returns nil only once all of them,
	// and every record Appended before, are durable. It must not keep record
	// after returning.
	Write(ctx context.Context, record []byte) error
	// Append stores record like Write but may return before it is durable
	// (it should not block for long: a caller of Logger.Record may be the
	// one waiting for it). Once it returns, the records must survive a
	// crash of this process (a file's bytes are in the kernel's page
	// cache), not yet a crash of the machine. The next Write or Sync makes
	// them durable.
	Append(ctx context.Context, record []byte) error
	// Sync makes everything written or appended so far durable.
	Sync() error
	// Close releases the sink. Records are already durable.
	Close() error
}

// TailReader is implemented by sinks that can return their last record, so
// that New continues the chain across restarts instead of starting over.
// A sink without it (a socket, say) starts a new chain at seq 1.
type TailReader interface {
	// LastRecord returns the last line without its newline, or nil for an
	// empty sink. It fails if the sink ends in a partial line.
	LastRecord() ([]byte, error)
}

// defaultSensitive are field names whose values are HMACed even when the
// caller forgot to say so. Secrets should never reach an Event; this is the
// safety net.
var defaultSensitive = []string{"password", "pin", "secret", "credential", "token"}

// Option configures New.
type Option func(*Logger)

// Durability says how far a record must have gone when Record returns.
type Durability int

const (
	// Synced records are durable (fsynced) when Record returns: they survive
	// a power failure the moment the caller acts on them.
	Synced Durability = iota
	// Written records are in the sink when Record returns, so they survive a
	// crash or kill -9 of the server, and are synced within the Logger's sync
	// delay (WithSyncDelay) or by the next Synced record, whichever comes
	// first. A power failure can lose at most that window of them. The chain
	// stays intact either way: a later Synced record's fsync covers every
	// record before it, and what a power failure can cut is only a tail.
	Written
)

// DefaultSyncDelay bounds how long a Written record may stay unsynced.
const DefaultSyncDelay = 10 * time.Millisecond

// MaxSyncDelay is the largest delay WithSyncDelay accepts.
const MaxSyncDelay = time.Second

// WithSyncDelay sets how long a Written record may wait for its fsync.
// Values outside (0, MaxSyncDelay] are ignored.
func WithSyncDelay(d time.Duration) Option {
	return func(l *Logger) {
		if d > 0 && d <= MaxSyncDelay {
			l.syncDelay = d
		}
	}
}

// WithSensitive adds names whose values Log replaces by their HMAC: keys of
// Event.Fields, or the JSON names of Event's own fields ("subject", "tenant",
// "remote", "object_id", "request_id", "reason", ...).
func WithSensitive(names ...string) Option {
	return func(l *Logger) {
		for _, n := range names {
			l.sensitive[n] = true
		}
	}
}

// Logger writes chained, MACed records to a Sink. It is safe for concurrent
// use; see "Fail closed" in the package documentation.
type Logger struct {
	sink      Sink
	sensitive map[string]bool // read-only after New

	// keyMu guards keys, which Close clears while Log may still be encoding.
	keyMu sync.RWMutex
	keys  *keys

	mu      sync.Mutex
	seq     uint64 // last sequence number handed out
	lastMAC []byte // mac of record seq in hex; nil before the first record
	pending *batch // records no writer has taken yet
	spare   []byte // a written batch's buffer, empty, for the next batch
	failed  error  // first sink failure; sticky
	closed  bool
	headSeq uint64 // last durable record
	headMAC string

	// writing is held by the one goroutine writing to the sink: a caller
	// of Record that found no writer, or the flusher. It keeps batches in
	// chain order and the bookkeeping below consistent.
	writing bool
	idle    *sync.Cond // on mu; broadcast when writing is released

	// Written records appended but not yet synced.
	syncDelay  time.Duration
	unsynced   bool   // the sink holds appended, unsynced records
	appendSeq  uint64 // last appended record
	appendMAC  [macHexLen]byte
	syncTimer  *time.Timer // fires syncDelay after records were first left unsynced
	syncArmed  bool        // syncTimer is running
	syncWanted bool        // the timer fired while another goroutine was writing

	kick     chan struct{} // wakes the flusher to write; capacity 1
	syncKick chan struct{} // wakes the flusher to sync; capacity 1
	quit     chan struct{} // closed by Close
	exited   chan struct{} // closed when the flusher returns
	ctx      context.Context
	cancel   context.CancelFunc
}

// batch is one group commit: every record appended while the previous batch
// was being written.
type batch struct {
	buf     []byte
	sync    bool // a Synced record is in buf: Write rather than Append
	lastSeq uint64
	lastMAC [macHexLen]byte
	done    chan struct{} // closed once err is set
	err     error
}

// maxSpareBatch bounds the batch buffer a Logger keeps between batches: a
// burst of large records should not pin its memory for good.
const maxSpareBatch = 256 << 10

// maxPooledEventBuf bounds the event buffers kept in eventBufs, for the same
// reason: a rare 64 KiB event should not keep 64 KiB per pool slot.
const maxPooledEventBuf = 4 << 10

// eventBufs holds buffers for an event's JSON between its encoding and its
// copy into a batch.
var eventBufs = sync.Pool{New: func() any { return new([]byte) }}

func putEventBuf(p *[]byte) {
	if cap(*p) > maxPooledEventBuf {
		return
	}
	// The JSON may hold values the caller did not mean to keep around.
	clear(*p)
	*p = (*p)[:0]
	eventBufs.Put(p)
}

// New returns a Logger writing to sink under key (at least MinKeySize bytes;
// the Logger keeps only keys derived from it, so the caller may clear key).
// If sink is a TailReader, New verifies its last record and continues the
// chain from it; a last record that does not verify under key is
// ErrCorrupt, and New refuses to start.
func New(sink Sink, key []byte, opts ...Option) (*Logger, error) {
	if sink == nil {
		return nil, errors.New("audit: nil sink")
	}
	k, err := deriveKeys(key)
	if err != nil {
		return nil, err
	}
	l := &Logger{
		sink:      sink,
		keys:      k,
		sensitive: make(map[string]bool),
		kick:      make(chan struct{}, 1),
		syncKick:  make(chan struct{}, 1),
		syncDelay: DefaultSyncDelay,
		quit:      make(chan struct{}),
		exited:    make(chan struct{}),
	}
	for _, n := range defaultSensitive {
		l.sensitive[n] = true
	}
	for _, o := range opts {
		o(l)
	}
	if tr, ok := sink.(TailReader); ok {
		last, err := tr.LastRecord()
		if err != nil {
			k.clear()
			return nil, fmt.Errorf("%w; cannot continue the audit chain", err)
		}
		if last != nil {
			meta, mac, reason := k.checkLine(last)
			if reason != "" {
				k.clear()
				return nil, fmt.Errorf("%w: %slast record: %s; run `kmipd audit verify` and move the file aside to start a new log",
					ErrCorrupt, sinkName(sink), reason)
			}
			l.seq, l.lastMAC = meta.Seq, []byte(mac)
			l.headSeq, l.headMAC = meta.Seq, mac
		}
	}
	l.idle = sync.NewCond(&l.mu)
	l.syncTimer = time.AfterFunc(time.Hour, l.syncDue)
	l.syncTimer.Stop()
	l.ctx, l.cancel = context.WithCancel(context.Background())
	go l.flusher()
	return l, nil
}

// Log records ev and returns nil only once the record is durable: it is
// Record with Synced.
func (l *Logger) Log(ctx context.Context, ev Event) error {
	return l.Record(ctx, ev, Synced)
}

// Record records ev and returns nil once the record has gone as far as d
// says (see Durability). An error means the request must fail. If ctx ends
// first Record returns its error; the record may still be written, and the
// log then shows an attempt whose response the client never got, which is
// the safe side to err on.
func (l *Logger) Record(ctx context.Context, ev Event, d Durability) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("audit: %s: %w", opName(ev), err)
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now() // ev is our copy; the caller's is untouched
	}
	b, seq, next, err := l.add(&ev, d)
	if err != nil {
		return err
	}
	switch next {
	case writeIt:
		l.writeBatch(b, nil, false)
		l.writeFollowing()
		l.releaseWriting()
	case wakeFlusher:
		l.wake()
	case leaveToWriter:
	}
	what := "durable"
	if d == Written {
		what = "written"
	}
	select {
	case <-b.done:
		if b.err != nil {
			return fmt.Errorf("audit: record %d (%s) not %s: %w", seq, opName(ev), what, b.err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: record %d (%s) not confirmed %s: %w", seq, opName(ev), what, ctx.Err())
	}
}

// wake tells the flusher there is work.
func (l *Logger) wake() {
	select {
	case l.kick <- struct{}{}:
	default: // the flusher is already due to run
	}
}

// afterAdd says who writes the batch a record went into (see "Group
// commit" below).
type afterAdd int

const (
	// writeIt: the caller took the batch (writing is set) and appends it.
	writeIt afterAdd = iota
	// wakeFlusher: the batch needs an fsync and nobody is writing.
	wakeFlusher
	// leaveToWriter: another goroutine is writing; when it is done it
	// wakes the flusher for this batch.
	leaveToWriter
)

// add encodes ev and appends its record to the pending batch, returning the
// batch, the record's seq and who writes the batch. The event is encoded
// before mu is taken so that concurrent callers encode in parallel; only
// the chaining is serial.
func (l *Logger) add(ev *Event, d Durability) (*batch, uint64, afterAdd, error) {
	ejp := eventBufs.Get().(*[]byte)
	defer putEventBuf(ejp)
	l.keyMu.RLock()
	if l.keys == nil {
		l.keyMu.RUnlock()
		return nil, 0, 0, ErrClosed
	}
	ej := appendEvent((*ejp)[:0], ev, l.sensitive, l.keys)
	l.keyMu.RUnlock()
	*ejp = ej

	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return nil, 0, 0, ErrClosed
	case l.failed != nil:
		return nil, 0, 0, fmt.Errorf("%w: %w", ErrFailed, l.failed)
	}
	if n := recordSize(ej, l.lastMAC); n > MaxRecordSize {
		return nil, 0, 0, fmt.Errorf("%w: %s record would be %d bytes, limit %d", ErrRecordTooLarge, opName(*ev), n, MaxRecordSize)
	}
	b := l.pending
	if b == nil {
		b = &batch{buf: l.spare, done: make(chan struct{})}
		l.spare = nil
		l.pending = b
	}
	if d != Written {
		b.sync = true
	}
	seq := l.seq + 1
	// keys cannot be cleared here: Close sets closed (checked above under mu)
	// before it clears them, and clears them under mu.
	var mac []byte
	b.buf, mac = l.keys.appendRecord(b.buf, seq, ej, l.lastMAC)
	l.lastMAC = append(l.lastMAC[:0], mac...)
	l.seq = seq
	b.lastSeq = seq
	copy(b.lastMAC[:], mac)
	switch {
	case l.writing:
		return b, seq, leaveToWriter, nil
	case b.sync:
		// An fsync is left to the flusher so that a caller whose context
		// ends while the disk is slow can return (see Record).
		return b, seq, wakeFlusher, nil
	default:
		// Appending to a file is a copy into the page cache: the caller
		// does it, with no hand-off between goroutines. l.failed is nil
		// (checked above), so writeBatch gets none.
		l.pending = nil
		l.writing = true
		return b, seq, writeIt, nil
	}
}

// sinkName names a sink that knows its path, for error messages.
func sinkName(s Sink) string {
	if p, ok := s.(interface{ Path() string }); ok {
		return p.Path() + ": "
	}
	return ""
}

func opName(ev Event) string {
	if ev.Operation == "" {
		return "event"
	}
	return ev.Operation
}

// Group commit. Records are appended to the pending batch. A caller of
// Record with a Written record that finds nobody writing takes the batch and
// appends it itself (add decides, under the same lock), so an uncontended
// record costs no hand-off between goroutines; batches that need an fsync
// go to the flusher. Records that arrive meanwhile gather in the next
// batch: a caller that was appending appends up to maxFollowingBatches of
// those too before it returns (writeFollowing), and whatever is left, or
// needs an fsync, wakes the flusher, so concurrent callers share a write
// and an fsync. The flusher also keeps the promise of Written: appended
// records are synced within syncDelay.

// flusher writes the batches that gathered while a caller was writing, syncs
// appended records when syncTimer fires, and flushes everything on Close.
func (l *Logger) flusher() {
	defer close(l.exited)
	for {
		select {
		case <-l.kick:
			l.flushAsWriter(false)
		case <-l.syncKick:
			l.flushAsWriter(true)
		case <-l.quit:
			// Close set closed before quit, so nothing new can arrive; a
			// caller may still be writing its batch.
			l.mu.Lock()
			for l.writing {
				l.idle.Wait()
			}
			l.mu.Unlock()
			l.flushAsWriter(true)
			l.syncTimer.Stop()
			return
		}
	}
}

// syncDue runs when syncTimer fires.
func (l *Logger) syncDue() {
	l.mu.Lock()
	l.syncArmed = false
	l.mu.Unlock()
	select {
	case l.syncKick <- struct{}{}:
	default: // a sync is already due
	}
}

// flushAsWriter writes the pending batch, with an fsync if forceSync is set
// or a Synced record is in it; with nothing pending and forceSync set, it
// syncs appended records. If another goroutine is writing it leaves the
// work to it: that writer wakes the flusher again when it is done.
func (l *Logger) flushAsWriter(forceSync bool) {
	l.mu.Lock()
	if l.writing {
		l.syncWanted = l.syncWanted || forceSync
		l.mu.Unlock()
		return
	}
	forceSync = forceSync || l.syncWanted
	l.syncWanted = false
	b := l.pending
	l.pending = nil
	failed := l.failed
	if b == nil && (!forceSync || failed != nil || !l.unsynced) {
		l.mu.Unlock()
		return
	}
	l.writing = true
	l.mu.Unlock()
	if b == nil {
		l.syncAppended()
	} else {
		l.writeBatch(b, failed, forceSync)
	}
	l.releaseWriting()
}

// maxFollowingBatches bounds the batches a caller of Record writes after
// its own (writeFollowing), so that a steady stream of records cannot keep
// one caller from its response.
const maxFollowingBatches = 2

// writeFollowing is a caller's work after it appended its own batch while
// holding writing: the records that gathered meanwhile are appended too,
// by this goroutine, rather than handed to the flusher, which would cost
// their callers a wake-up of the flusher and its scheduling before their
// own (measured: a fifth of the time an Encrypt's goroutine waited at 16
// connections). Only batches that need no fsync are taken, as in add, and
// at most maxFollowingBatches; releaseWriting hands anything left to the
// flusher.
func (l *Logger) writeFollowing() {
	for range maxFollowingBatches {
		l.mu.Lock()
		b := l.pending
		if b == nil || b.sync || l.failed != nil {
			l.mu.Unlock()
			return
		}
		l.pending = nil
		l.mu.Unlock()
		l.writeBatch(b, nil, false)
	}
}

// releaseWriting ends a write: it arms or stops the sync timer, wakes
// goroutines waiting for the writer to finish, and wakes the flusher if
// records or a sync are waiting.
func (l *Logger) releaseWriting() {
	l.mu.Lock()
	l.writing = false
	switch {
	case l.unsynced && !l.syncArmed:
		l.syncArmed = true
		l.syncTimer.Reset(l.syncDelay)
	case !l.unsynced && l.syncArmed:
		l.syncArmed = false
		l.syncTimer.Stop()
	}
	more := l.pending != nil
	syncWanted := l.syncWanted
	l.idle.Broadcast()
	l.mu.Unlock()
	if more {
		l.wake()
	}
	if syncWanted {
		select {
		case l.syncKick <- struct{}{}:
		default:
		}
	}
}

// writeBatch writes b (the caller holds writing): with Sink.Write (an fsync)
// when a Synced record is in it or forceSync is set, else with Sink.Append.
// A logger that already failed fails the batch without touching the sink.
func (l *Logger) writeBatch(b *batch, failed error, forceSync bool) {
	if failed != nil {
		b.err = failed
		close(b.done)
		return
	}
	sync := b.sync || forceSync
	var err error
	if sync {
		err = l.sink.Write(l.ctx, b.buf)
	} else {
		err = l.sink.Append(l.ctx, b.buf)
	}
	clear(b.buf)
	l.mu.Lock()
	// The sink does not keep the buffer, so the next batch can reuse it
	// rather than grow a new one record by record.
	if cap(b.buf) <= maxSpareBatch {
		l.spare = b.buf[:0]
	}
	b.buf = nil
	switch {
	case err != nil:
		if l.failed == nil {
			l.failed = err
		}
	case sync:
		l.headSeq, l.headMAC = b.lastSeq, string(b.lastMAC[:])
		l.unsynced = false
	default:
		l.appendSeq, l.appendMAC = b.lastSeq, b.lastMAC
		l.unsynced = true
	}
	l.mu.Unlock()
	b.err = err
	close(b.done)
}

// syncAppended fsyncs records that were only appended (the caller holds
// writing).
func (l *Logger) syncAppended() {
	err := l.sink.Sync()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		// Records already answered may be lost; refuse everything after
		// (fail closed) so that the loss cannot grow.
		if l.failed == nil {
			l.failed = err
		}
		return
	}
	l.unsynced = false
	l.headSeq, l.headMAC = l.appendSeq, string(l.appendMAC[:])
}

// Head returns the sequence number and mac of the last durable record (0 and
// "" for an empty log). Publishing them outside the log (a metric, a second
// system) lets Verify's result be checked for records cut off the end.
func (l *Logger) Head() (seq uint64, mac string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.headSeq, l.headMAC
}

// HMAC returns the token Log writes for a sensitive value, so an operator
// holding the key can search the log for a value they know.
func (l *Logger) HMAC(value string) string {
	l.keyMu.RLock()
	defer l.keyMu.RUnlock()
	if l.keys == nil {
		return ""
	}
	return l.keys.hmacValue(value)
}

// RecentRecords returns the last records written that fit in maxBytes,
// whole lines only, when the sink can read them back (a FileSink can);
// otherwise it returns nil. The service's write journal looks in them for
// records that a crash may have lost.
func (l *Logger) RecentRecords(maxBytes int64) ([]byte, error) {
	t, ok := l.sink.(interface {
		Tail(maxBytes int64) ([]byte, error)
	})
	if !ok {
		return nil, nil
	}
	return t.Tail(maxBytes)
}

// Sync calls the sink's Sync. Log does not need it: records are durable when
// Log returns.
func (l *Logger) Sync() error {
	return l.sink.Sync()
}

// Close waits for pending records to be written, closes the sink and clears
// the derived keys. Log fails with ErrClosed afterwards. Close is idempotent.
func (l *Logger) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()

	close(l.quit)
	<-l.exited
	l.cancel()

	l.keyMu.Lock()
	l.mu.Lock()
	l.keys.clear()
	l.keys = nil
	l.mu.Unlock()
	l.keyMu.Unlock()

	if err := l.sink.Close(); err != nil {
		return fmt.Errorf("audit: close sink: %w", err)
	}
	return nil
}
