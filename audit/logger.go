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
	// (each ending in '\n'), in order, and returns nil only once all of them
	// are durable. It must not keep record after returning.
	Write(ctx context.Context, record []byte) error
	// Sync flushes anything buffered to stable storage.
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

// Log records ev and returns nil only once the record is durable. An error
// means the request must fail. If ctx ends first Log returns its error; the
// record may still be written, and the log then shows an attempt whose
// response the client never got, which is the safe side to err on.
func (l *Logger) Log(ctx context.Context, ev Event) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("audit: %s: %w", opName(ev), err)
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now() // ev is our copy; the caller's is untouched
	}
	b, seq, err := l.add(&ev)
	if err != nil {
		return err
	}

	select {
	case l.kick <- struct{}{}:
	default: // the flusher is already due to run
	}
	select {
	case <-b.done:
		if b.err != nil {
			return fmt.Errorf("audit: record %d (%s) not durable: %w", seq, opName(ev), b.err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: record %d (%s) not confirmed durable: %w", seq, opName(ev), ctx.Err())
	}
}

// add encodes ev and appends its record to the pending batch, returning the
// batch and the record's seq. The event is encoded before mu is taken so that
// concurrent callers encode in parallel; only the chaining is serial.
func (l *Logger) add(ev *Event) (*batch, uint64, error) {
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

// flusher is the group-commit loop: while one batch is in Sink.Write, new
// records gather in the next, so concurrent callers share an fsync.
func (l *Logger) flusher() {
	defer close(l.exited)
	for {
		select {
		case <-l.kick:
			l.flush()
		case <-l.quit:
			// Close set closed before quit, so nothing new can arrive.
			l.flush()
			return
		}
	}
}

func (l *Logger) flush() {
	l.mu.Lock()
	b := l.pending
	l.pending = nil
	failed := l.failed
	l.mu.Unlock()
	if b == nil {
		return
	}
	if failed != nil {
		b.err = failed
		close(b.done)
		return
	}
	err := l.sink.Write(l.ctx, b.buf)
	clear(b.buf)
	l.mu.Lock()
	// Sink.Write does not keep the buffer, so the next batch can reuse it
	// rather than grow a new one record by record.
	if cap(b.buf) <= maxSpareBatch {
		l.spare = b.buf[:0]
	}
	b.buf = nil
	if err != nil {
		if l.failed == nil {
			l.failed = err
		}
	} else {
		l.headSeq, l.headMAC = b.lastSeq, string(b.lastMAC[:])
	}
	l.mu.Unlock()
	b.err = err
	close(b.done)
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
