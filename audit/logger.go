package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Sink stores records. Implementations must be safe for concurrent use,
// though the Logger calls Write from one goroutine at a time.
type Sink interface {
	// Write stores record, which holds one or more complete JSON lines
	// (each ending in '\n'), in order, and returns nil only once all of them,
	// and every record Appended before, are durable. It must not keep record
	// after returning.
	Write(ctx context.Context, record []byte) error
	// Append stores record like Write but may return before it is durable:
	// once it returns, the records must survive a crash of this process (a
	// file's bytes are in the kernel's page cache), not yet a crash of the
	// machine. The next Write or Sync makes them durable.
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
	pending *batch // records waiting for the flusher
	spare   []byte // a written batch's buffer, empty, for the next batch
	failed  error  // first sink failure; sticky
	closed  bool
	headSeq uint64 // last durable record
	headMAC string

	// Written records appended but not yet synced. Only the flusher
	// goroutine touches these.
	syncDelay time.Duration
	unsynced  bool   // the sink holds appended, unsynced records
	appendSeq uint64 // last appended record
	appendMAC [macHexLen]byte

	kick   chan struct{} // wakes the flusher; capacity 1
	quit   chan struct{} // closed by Close
	exited chan struct{} // closed when the flusher returns
	ctx    context.Context
	cancel context.CancelFunc
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
	b, seq, err := l.add(&ev, d)
	if err != nil {
		return err
	}

	l.wake()
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

// add encodes ev and appends its record to the pending batch, returning the
// batch and the record's seq. The event is encoded before mu is taken so that
// concurrent callers encode in parallel; only the chaining is serial.
func (l *Logger) add(ev *Event, d Durability) (*batch, uint64, error) {
	ejp := eventBufs.Get().(*[]byte)
	defer putEventBuf(ejp)
	l.keyMu.RLock()
	if l.keys == nil {
		l.keyMu.RUnlock()
		return nil, 0, ErrClosed
	}
	ej := appendEvent((*ejp)[:0], ev, l.sensitive, l.keys)
	l.keyMu.RUnlock()
	*ejp = ej

	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return nil, 0, ErrClosed
	case l.failed != nil:
		return nil, 0, fmt.Errorf("%w: %w", ErrFailed, l.failed)
	}
	if n := recordSize(ej, l.lastMAC); n > MaxRecordSize {
		return nil, 0, fmt.Errorf("%w: %s record would be %d bytes, limit %d", ErrRecordTooLarge, opName(*ev), n, MaxRecordSize)
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
	return b, seq, nil
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

// flusher is the group-commit loop: while one batch is in the sink, new
// records gather in the next, so concurrent callers share a write and an
// fsync. It also keeps the promise of Written: appended records are synced
// within syncDelay.
func (l *Logger) flusher() {
	defer close(l.exited)
	var (
		syncTimer *time.Timer
		syncDue   <-chan time.Time // non-nil while appended records wait
	)
	for {
		select {
		case <-l.kick:
			l.flush(false)
		case <-syncDue:
			syncDue = nil
			l.flush(true)
		case <-l.quit:
			// Close set closed before quit, so nothing new can arrive.
			l.flush(true)
			if syncTimer != nil {
				syncTimer.Stop()
			}
			return
		}
		switch {
		case l.unsynced && syncDue == nil:
			if syncTimer == nil {
				syncTimer = time.NewTimer(l.syncDelay)
			} else {
				syncTimer.Reset(l.syncDelay)
			}
			syncDue = syncTimer.C
		case !l.unsynced && syncDue != nil:
			syncTimer.Stop()
			syncDue = nil
		}
	}
}

// flush writes the pending batch: with Sink.Write (an fsync) when a Synced
// record is in it or forceSync is set, else with Sink.Append. With nothing
// pending and forceSync set, it syncs appended records.
func (l *Logger) flush(forceSync bool) {
	l.mu.Lock()
	b := l.pending
	l.pending = nil
	failed := l.failed
	l.mu.Unlock()
	if b == nil {
		if forceSync && failed == nil && l.unsynced {
			l.syncAppended()
		}
		return
	}
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

// syncAppended fsyncs records that were only appended.
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
