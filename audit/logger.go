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
	lastMAC string // mac of record seq
	pending *batch // records waiting for the flusher
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
	lastMAC string
	done    chan struct{} // closed once err is set
	err     error
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
			l.seq, l.lastMAC = meta.Seq, mac
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
	l.keyMu.RLock()
	if l.keys == nil {
		l.keyMu.RUnlock()
		return ErrClosed
	}
	ej, err := encodeEvent(ev, time.Now(), l.sensitive, l.keys)
	l.keyMu.RUnlock()
	if err != nil {
		return fmt.Errorf("audit: encode %s: %w", opName(ev), err)
	}

	l.mu.Lock()
	switch {
	case l.closed:
		l.mu.Unlock()
		return ErrClosed
	case l.failed != nil:
		l.mu.Unlock()
		return fmt.Errorf("%w: %w", ErrFailed, l.failed)
	}
	if n := recordSize(ej, l.lastMAC); n > MaxRecordSize {
		l.mu.Unlock()
		return fmt.Errorf("%w: %s record would be %d bytes, limit %d", ErrRecordTooLarge, opName(ev), n, MaxRecordSize)
	}
	b := l.pending
	if b == nil {
		b = &batch{done: make(chan struct{})}
		l.pending = b
	}
	seq := l.seq + 1
	// keys cannot be cleared here: Close sets closed (checked above under mu)
	// before it clears them, and clears them under mu.
	b.buf, l.lastMAC = l.keys.appendRecord(b.buf, seq, ej, l.lastMAC)
	l.seq = seq
	b.lastSeq, b.lastMAC = seq, l.lastMAC
	l.mu.Unlock()

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
	b.buf = nil
	l.mu.Lock()
	if err != nil {
		if l.failed == nil {
			l.failed = err
		}
	} else {
		l.headSeq, l.headMAC = b.lastSeq, b.lastMAC
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
