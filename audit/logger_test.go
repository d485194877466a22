package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var testKey = bytes.Repeat([]byte{0x42}, KeySize)

// memSink keeps records in memory and counts Write, Append and Sync calls.
// durable is how many bytes of buf a Write or Sync has covered.
type memSink struct {
	mu       sync.Mutex
	buf      bytes.Buffer
	writes   int
	appends  int
	syncs    int
	durable  int
	fail     error
	syncFail error
	closed   bool
}

func (s *memSink) Write(_ context.Context, rec []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.writes++
	s.buf.Write(rec)
	if s.syncFail != nil {
		// Write is append and fsync: the bytes are there, not durable.
		return s.syncFail
	}
	s.durable = s.buf.Len()
	return nil
}

func (s *memSink) Append(_ context.Context, rec []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.appends++
	s.buf.Write(rec)
	return nil
}

func (s *memSink) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.syncFail != nil {
		return s.syncFail
	}
	s.syncs++
	s.durable = s.buf.Len()
	return nil
}

// counts returns the sink's call counters and whether all it holds is durable.
func (s *memSink) counts() (writes, appends, syncs int, allDurable bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes, s.appends, s.syncs, s.durable == s.buf.Len()
}

func (s *memSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

func (s *memSink) bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.buf.Bytes())
}

func newLogger(t testing.TB, sink Sink, opts ...Option) *Logger {
	t.Helper()
	l, err := New(sink, testKey, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func event(i int) Event {
	return Event{
		Time:      time.Date(2026, 1, 2, 3, 4, 5, i, time.UTC),
		RequestID: fmt.Sprintf("req-%d", i),
		Subject:   "CN=alice",
		Tenant:    "acme",
		Operation: "Create",
		ObjectID:  fmt.Sprintf("obj-%d", i),
		Result:    "Success",
		Rule:      "allow-crypto-officers",
		Remote:    "192.0.2.1:50123",
	}
}

// writeLog logs events base+1 … base+n and returns the log's bytes.
func writeLog(t *testing.T, key []byte, n, base int) []byte {
	t.Helper()
	s := &memSink{}
	l, err := New(s, key)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		if err := l.Log(context.Background(), event(base+i)); err != nil {
			t.Fatalf("Log %d: %v", i, err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return s.bytes()
}

func TestLogAndVerify(t *testing.T) {
	s := &memSink{}
	l := newLogger(t, s)
	for i := 1; i <= 10; i++ {
		if err := l.Log(context.Background(), event(i)); err != nil {
			t.Fatalf("Log %d: %v", i, err)
		}
	}
	seq, mac := l.Head()
	rep, err := Verify(bytes.NewReader(s.bytes()), testKey)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if rep.Records != 10 || rep.LastSeq != 10 || seq != 10 || rep.LastMAC != mac {
		t.Errorf("report %+v, head (%d, %s)", rep, seq, mac)
	}
	if !rep.FirstTime.Equal(event(1).Time) || !rep.LastTime.Equal(event(10).Time) {
		t.Errorf("times %v..%v", rep.FirstTime, rep.LastTime)
	}
	lines := strings.Split(strings.TrimSuffix(string(s.bytes()), "\n"), "\n")
	if len(lines) != 10 {
		t.Fatalf("%d lines, want 10", len(lines))
	}
	want := `{"v":1,"seq":1,"kid":"` + rep.KeyID + `","time":"2026-01-02T03:04:05.000000001Z","request_id":"req-1","subject":"CN=alice","tenant":"acme","operation":"Create","object_id":"obj-1","result":"Success","rule":"allow-crypto-officers","remote":"192.0.2.1:50123","prev":"","mac":"`
	if !strings.HasPrefix(lines[0], want) {
		t.Errorf("first record\n got %s\nwant prefix %s", lines[0], want)
	}
}

func TestVerifyEmpty(t *testing.T) {
	rep, err := Verify(strings.NewReader(""), testKey)
	if err != nil || rep.Records != 0 {
		t.Fatalf("Verify(empty) = %+v, %v", rep, err)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	good := writeLog(t, testKey, 6, 0)
	other := writeLog(t, testKey, 6, 100) // same key, different chain
	otherKey := writeLog(t, bytes.Repeat([]byte{7}, KeySize), 6, 0)
	split := func(b []byte) [][]byte { return bytes.SplitAfter(bytes.Clone(b), []byte("\n"))[:6] }
	join := func(lines [][]byte) []byte { return bytes.Join(lines, nil) }

	tests := []struct {
		name     string
		mutate   func() []byte
		wantLine int
		reason   string
	}{
		{name: "flip byte in body", wantLine: 3, reason: "mac mismatch", mutate: func() []byte {
			l := split(good)
			i := bytes.Index(l[2], []byte("alice"))
			l[2][i] ^= 0x01
			return join(l)
		}},
		{name: "flip byte in mac", wantLine: 3, reason: "mac mismatch", mutate: func() []byte {
			l := split(good)
			n := len(l[2])
			if l[2][n-5] == '0' {
				l[2][n-5] = '1'
			} else {
				l[2][n-5] = '0'
			}
			return join(l)
		}},
		{name: "mac upper-cased", wantLine: 2, reason: "hex", mutate: func() []byte {
			l := split(good)
			n := len(l[1])
			copy(l[1][n-67:n-3], bytes.ToUpper(l[1][n-67:n-3]))
			if bytes.Equal(l[1], split(good)[1]) {
				t.Skip("mac happened to have no letters")
			}
			return join(l)
		}},
		{name: "delete middle line", wantLine: 3, reason: "seq is 4", mutate: func() []byte {
			l := split(good)
			return join(append(l[:2:2], l[3:]...))
		}},
		{name: "delete first line", wantLine: 1, reason: "seq is 2", mutate: func() []byte {
			return join(split(good)[1:])
		}},
		{name: "swap lines", wantLine: 3, reason: "seq is 4", mutate: func() []byte {
			l := split(good)
			l[2], l[3] = l[3], l[2]
			return join(l)
		}},
		{name: "duplicate line", wantLine: 3, reason: "seq is 2", mutate: func() []byte {
			l := split(good)
			return join(append([][]byte{l[0], l[1], l[1]}, l[2:]...))
		}},
		{name: "truncate a middle line", wantLine: 4, reason: "not a record", mutate: func() []byte {
			l := split(good)
			l[3] = append(l[3][:len(l[3])/2], '\n')
			return join(l)
		}},
		{name: "truncate last line", wantLine: 6, reason: "no newline", mutate: func() []byte {
			return good[:len(good)-40]
		}},
		{name: "drop final newline", wantLine: 6, reason: "no newline", mutate: func() []byte {
			return good[:len(good)-1]
		}},
		{name: "truncate file mid-record", wantLine: 4, reason: "no newline", mutate: func() []byte {
			l := split(good)
			return append(join(l[:3]), l[3][:20]...)
		}},
		{name: "join two lines", wantLine: 2, reason: "mac mismatch", mutate: func() []byte {
			l := split(good)
			l[1] = l[1][:len(l[1])-1]
			return join(l)
		}},
		{name: "insert empty line", wantLine: 3, reason: "empty line", mutate: func() []byte {
			l := split(good)
			return join(append([][]byte{l[0], l[1], []byte("\n")}, l[2:]...))
		}},
		{name: "splice record from another chain", wantLine: 3, reason: "prev", mutate: func() []byte {
			l := split(good)
			l[2] = split(other)[2]
			return join(l)
		}},
		{name: "wrong key", wantLine: 1, reason: "another key", mutate: func() []byte {
			return otherKey
		}},
		{name: "not json", wantLine: 1, reason: "not a record", mutate: func() []byte {
			return []byte("hello\n")
		}},
		{name: "line too long", wantLine: 7, reason: "longer than", mutate: func() []byte {
			return append(bytes.Clone(good), bytes.Repeat([]byte("x"), MaxRecordSize+10)...)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Verify(bytes.NewReader(tc.mutate()), testKey)
			var ce *ChainError
			if !errors.As(err, &ce) {
				t.Fatalf("Verify error = %v, want *ChainError", err)
			}
			if !errors.Is(err, ErrChainBroken) {
				t.Errorf("error does not wrap ErrChainBroken")
			}
			if ce.Line != tc.wantLine || !strings.Contains(ce.Reason, tc.reason) {
				t.Errorf("got line %d %q, want line %d mentioning %q", ce.Line, ce.Reason, tc.wantLine, tc.reason)
			}
			if rep.Records != tc.wantLine-1 {
				t.Errorf("report counts %d good records, want %d", rep.Records, tc.wantLine-1)
			}
			if strings.Contains(err.Error(), "alice") {
				t.Errorf("error quotes record contents: %v", err)
			}
		})
	}
}

func TestSensitiveFields(t *testing.T) {
	log := func(key []byte, opts ...Option) (string, *Logger) {
		s := &memSink{}
		l, err := New(s, key, opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		ev := event(1)
		ev.Fields = map[string]string{"name": "payroll-key", "password": "hunter2", "algorithm": "AES", "empty": ""}
		ev2 := event(2)
		ev2.Fields = map[string]string{"name": "payroll-key"}
		for _, e := range []Event{ev, ev2} {
			if err := l.Log(context.Background(), e); err != nil {
				t.Fatal(err)
			}
		}
		if ev.Fields["name"] != "payroll-key" {
			t.Error("Log modified the caller's Fields map")
		}
		return string(s.bytes()), l
	}
	out, l := log(testKey, WithSensitive("name", "subject", "empty"))
	tok := l.HMAC("payroll-key")
	if !strings.HasPrefix(tok, "hmac-sha256:") || len(tok) != len("hmac-sha256:")+64 {
		t.Fatalf("HMAC token %q", tok)
	}
	for _, secret := range []string{"payroll-key", "hunter2", "alice"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains sensitive value %q:\n%s", secret, out)
		}
	}
	if n := strings.Count(out, `"name":"`+tok+`"`); n != 2 {
		t.Errorf("name token appears %d times, want 2 (equal values must correlate)", n)
	}
	for _, plain := range []string{`"algorithm":"AES"`, `"empty":""`, `"operation":"Create"`, `"tenant":"acme"`} {
		if !strings.Contains(out, plain) {
			t.Errorf("log lacks %s", plain)
		}
	}
	if !strings.Contains(out, `"subject":"`+l.HMAC("CN=alice")+`"`) {
		t.Error("top-level subject not HMACed")
	}

	// Deterministic under one key, different under another.
	out2, l2 := log(testKey, WithSensitive("name", "subject", "empty"))
	if l2.HMAC("payroll-key") != tok || !strings.Contains(out2, tok) {
		t.Error("HMAC not deterministic under the same key")
	}
	_, l3 := log(bytes.Repeat([]byte{1}, KeySize))
	if l3.HMAC("payroll-key") == tok {
		t.Error("HMAC equal under different keys")
	}
	// The value token is not the chain MAC of anything: the keys differ.
	k, _ := deriveKeys(testKey)
	if bytes.Equal(k.chain, k.value) {
		t.Error("chain and value keys are equal")
	}
}

func TestHostileValuesStayOnOneLine(t *testing.T) {
	s := &memSink{}
	l := newLogger(t, s)
	ev := event(1)
	ev.Subject = "x\n{\"v\":1,\"seq\":2}\r\n\u2028"
	ev.Fields = map[string]string{"a\nb": "\x00\xff"}
	if err := l.Log(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(s.bytes(), []byte("\n")); n != 1 {
		t.Fatalf("record spans %d lines", n)
	}
	if _, err := Verify(bytes.NewReader(s.bytes()), testKey); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentLog(t *testing.T) {
	goroutines, per := 64, 20
	if testing.Short() {
		goroutines, per = 16, 10
	}
	path := filepath.Join(t.TempDir(), "audit.log")
	fs, err := OpenFileSink(path)
	if err != nil {
		t.Fatal(err)
	}
	cs := &countingSink{Sink: fs}
	l := newLogger(t, cs)
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*per)
	for g := range goroutines {
		wg.Go(func() {
			for i := range per {
				ev := event(g*per + i)
				ev.RequestID = fmt.Sprintf("g%d-i%d", g, i)
				if err := l.Log(context.Background(), ev); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(bytes.NewReader(data), testKey)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	total := goroutines * per
	if rep.Records != total {
		t.Errorf("%d records, want %d", rep.Records, total)
	}
	for g := range goroutines {
		for i := range per {
			if !bytes.Contains(data, fmt.Appendf(nil, `"request_id":"g%d-i%d"`, g, i)) {
				t.Fatalf("record g%d-i%d missing", g, i)
			}
		}
	}
	t.Logf("%d records in %d writes", total, cs.n())
}

type countingSink struct {
	Sink
	mu     sync.Mutex
	writes int // Write and Append calls
	syncs  int // Write and Sync calls: what costs an fsync
}

func (c *countingSink) Write(ctx context.Context, rec []byte) error {
	c.mu.Lock()
	c.writes++
	c.syncs++
	c.mu.Unlock()
	return c.Sink.Write(ctx, rec)
}

func (c *countingSink) Append(ctx context.Context, rec []byte) error {
	c.mu.Lock()
	c.writes++
	c.mu.Unlock()
	return c.Sink.Append(ctx, rec)
}

func (c *countingSink) Sync() error {
	c.mu.Lock()
	c.syncs++
	c.mu.Unlock()
	return c.Sink.Sync()
}

func (c *countingSink) n() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes
}

func (c *countingSink) fsyncs() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.syncs
}

// gateSink blocks every Write until release is closed.
type gateSink struct {
	memSink
	entered chan struct{}
	release chan struct{}
}

func (g *gateSink) Write(ctx context.Context, rec []byte) error {
	g.entered <- struct{}{}
	select {
	case <-g.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.memSink.Write(ctx, rec)
}

// waitQueued waits until want records wait in l's pending batch.
func waitQueued(t *testing.T, l *Logger, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l.mu.Lock()
		queued := 0
		if l.pending != nil {
			queued = bytes.Count(l.pending.buf, []byte("\n"))
		}
		l.mu.Unlock()
		if queued == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d records queued, want %d", queued, want)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestGroupCommit checks that records arriving while a write is in flight
// share the next write: N callers, 2 writes.
func TestGroupCommit(t *testing.T) {
	const n = 50
	s := &gateSink{entered: make(chan struct{}, n), release: make(chan struct{})}
	l := newLogger(t, s)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	logOne := func(i int) {
		wg.Go(func() {
			if err := l.Log(context.Background(), event(i)); err != nil {
				errs <- err
			}
		})
	}
	logOne(0)
	<-s.entered // the first record's write is in flight
	for i := 1; i < n; i++ {
		logOne(i)
	}
	waitQueued(t, l, n-1)
	close(s.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if s.writes != 2 {
		t.Errorf("%d records took %d writes, want 2", n, s.writes)
	}
	if rep, err := Verify(bytes.NewReader(s.bytes()), testKey); err != nil || rep.Records != n {
		t.Errorf("Verify = %+v, %v", rep, err)
	}
}

// appendGateSink blocks the first Append until release is closed.
type appendGateSink struct {
	memSink
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (g *appendGateSink) Append(ctx context.Context, rec []byte) error {
	g.once.Do(func() {
		g.entered <- struct{}{}
		<-g.release
	})
	return g.memSink.Append(ctx, rec)
}

// TestWrittenRecordsFollowTheWriter: Written records that gather while a
// caller appends its own are appended by that caller before it returns
// (writeFollowing), not handed to the flusher.
func TestWrittenRecordsFollowTheWriter(t *testing.T) {
	const n = 20
	s := &appendGateSink{entered: make(chan struct{}, 1), release: make(chan struct{})}
	l := newLogger(t, s)
	first := make(chan error, 1)
	go func() { first <- l.Record(context.Background(), event(0), Written) }()
	<-s.entered // the first record's append is in flight
	var wg sync.WaitGroup
	for i := 1; i < n; i++ {
		wg.Go(func() {
			if err := l.Record(context.Background(), event(i), Written); err != nil {
				t.Error(err)
			}
		})
	}
	waitQueued(t, l, n-1)
	close(s.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	appends := s.appends
	s.mu.Unlock()
	if appends != 2 {
		t.Errorf("when the first caller returned, %d appends had happened, want 2: its own and the batch that gathered behind it", appends)
	}
	wg.Wait()
	if rep, err := Verify(bytes.NewReader(s.bytes()), testKey); err != nil || rep.Records != n {
		t.Errorf("Verify = %+v, %v", rep, err)
	}
}

func TestReopenContinuesChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	for round := range 3 {
		fs, err := OpenFileSink(path)
		if err != nil {
			t.Fatal(err)
		}
		l, err := New(fs, testKey)
		if err != nil {
			t.Fatalf("round %d: New: %v", round, err)
		}
		if seq, _ := l.Head(); seq != uint64(round*4) {
			t.Errorf("round %d: resumed at seq %d, want %d", round, seq, round*4)
		}
		for i := range 4 {
			if err := l.Log(context.Background(), event(i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := Verify(f, testKey)
	if err != nil || rep.Records != 12 {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("log mode %#o, want 0600", fi.Mode().Perm())
	}
}

func TestNewRefusesCorruptTail(t *testing.T) {
	good := writeLog(t, testKey, 3, 0)
	tests := []struct {
		name string
		data []byte
		key  []byte
	}{
		{name: "altered last record", data: bytes.Replace(good, []byte(`"obj-3"`), []byte(`"obj-9"`), 1)},
		{name: "torn last record", data: good[:len(good)-10]},
		{name: "garbage", data: []byte("not an audit log\n")},
		{name: "wrong key", data: good, key: bytes.Repeat([]byte{9}, KeySize)},
		{name: "last record too long", data: append(bytes.Repeat([]byte("x"), MaxRecordSize+1), '\n')},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.log")
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			fs, err := OpenFileSink(path)
			if err != nil {
				t.Fatal(err)
			}
			defer fs.Close()
			key := testKey
			if tc.key != nil {
				key = tc.key
			}
			l, err := New(fs, key)
			if err == nil {
				l.Close()
				t.Fatal("New succeeded on a corrupt log")
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("error %v does not wrap ErrCorrupt", err)
			}
			t.Log(err)
		})
	}
}

func TestSinkFailureFailsClosed(t *testing.T) {
	boom := errors.New("disk on fire")
	s := &memSink{}
	l := newLogger(t, s)
	if err := l.Log(context.Background(), event(1)); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.fail = boom
	s.mu.Unlock()
	if err := l.Log(context.Background(), event(2)); !errors.Is(err, boom) {
		t.Fatalf("Log with failing sink = %v, want %v", err, boom)
	}
	// The sink recovers, but the Logger must not: its chain state is unknown.
	s.mu.Lock()
	s.fail = nil
	s.mu.Unlock()
	err := l.Log(context.Background(), event(3))
	if !errors.Is(err, ErrFailed) || !errors.Is(err, boom) {
		t.Fatalf("Log after failure = %v, want ErrFailed wrapping the cause", err)
	}
	if seq, _ := l.Head(); seq != 1 {
		t.Errorf("Head seq %d, want 1 (last durable)", seq)
	}
}

func TestLogContext(t *testing.T) {
	t.Run("canceled before", func(t *testing.T) {
		s := &memSink{}
		l := newLogger(t, s)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := l.Log(ctx, event(1)); !errors.Is(err, context.Canceled) {
			t.Fatalf("Log = %v, want context.Canceled", err)
		}
		l.Close()
		if len(s.bytes()) != 0 {
			t.Error("record written despite canceled context")
		}
	})
	t.Run("deadline while waiting", func(t *testing.T) {
		s := &gateSink{entered: make(chan struct{}, 4), release: make(chan struct{})}
		l := newLogger(t, s)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if err := l.Log(ctx, event(1)); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Log = %v, want DeadlineExceeded", err)
		}
		close(s.release)
	})
}

func TestRecordTooLarge(t *testing.T) {
	s := &memSink{}
	l := newLogger(t, s)
	ev := event(1)
	ev.Fields = map[string]string{"blob": strings.Repeat("a", MaxRecordSize)}
	if err := l.Log(context.Background(), ev); !errors.Is(err, ErrRecordTooLarge) {
		t.Fatalf("Log = %v, want ErrRecordTooLarge", err)
	}
	// Just under the limit works, and the refused record left no gap.
	ev.Fields["blob"] = strings.Repeat("a", MaxRecordSize-1000)
	if err := l.Log(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(bytes.NewReader(s.bytes()), testKey)
	if err != nil || rep.Records != 1 {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}

func TestClose(t *testing.T) {
	s := &memSink{}
	l, err := New(s, testKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Log(context.Background(), event(1)); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := l.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	if !s.closed {
		t.Error("sink not closed")
	}
	if err := l.Log(context.Background(), event(2)); !errors.Is(err, ErrClosed) {
		t.Errorf("Log after Close = %v, want ErrClosed", err)
	}
	if l.HMAC("x") != "" {
		t.Error("HMAC works after Close")
	}
}

func TestCloseDrainsConcurrentLogs(t *testing.T) {
	s := &memSink{}
	l, err := New(s, testKey)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := range 32 {
		wg.Go(func() {
			if l.Log(context.Background(), event(i)) == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		})
	}
	time.Sleep(time.Millisecond)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	// Every acknowledged record is in the log, and the log verifies.
	rep, err := Verify(bytes.NewReader(s.bytes()), testKey)
	if err != nil || rep.Records != ok {
		t.Fatalf("Verify = %+v, %v; %d acknowledged", rep, err, ok)
	}
}

func TestNewRejects(t *testing.T) {
	if _, err := New(&memSink{}, make([]byte, 16)); !errors.Is(err, ErrKeySize) {
		t.Errorf("New(16-byte key) = %v, want ErrKeySize", err)
	}
	if _, err := New(nil, testKey); err == nil {
		t.Error("New(nil sink) succeeded")
	}
	if _, err := Verify(strings.NewReader(""), nil); !errors.Is(err, ErrKeySize) {
		t.Errorf("Verify(nil key) = %v, want ErrKeySize", err)
	}
}

func BenchmarkLogConcurrent(b *testing.B) {
	for _, sinkName := range []string{"file", "memory"} {
		for _, d := range []Durability{Synced, Written} {
			name := sinkName + "/synced"
			if d == Written {
				name = sinkName + "/written"
			}
			b.Run(name, func(b *testing.B) {
				var sink Sink = &memSink{}
				if sinkName == "file" {
					fs, err := OpenFileSink(filepath.Join(b.TempDir(), "audit.log"))
					if err != nil {
						b.Fatal(err)
					}
					sink = fs
				}
				cs := &countingSink{Sink: sink}
				l := newLogger(b, cs)
				ev := event(1)
				ev.Fields = map[string]string{"name": "payroll-key"}
				b.ReportAllocs()
				b.SetParallelism(16) // many clients per core, as a server sees
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := l.Record(context.Background(), ev, d); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.StopTimer()
				b.ReportMetric(float64(cs.n())/float64(b.N), "writes/op")
				b.ReportMetric(float64(cs.fsyncs())/float64(b.N), "fsyncs/op")
			})
		}
	}
}

// waitHead waits until the Logger's durable head reaches seq; the deadline
// only guards against a hang, it measures nothing.
func waitHead(t *testing.T, l *Logger, seq uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if got, _ := l.Head(); got == seq {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("head stuck at %d, want %d", got, seq)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestRecordDurability(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		delay time.Duration // sync delay; long ones must be met by something else
		run   func(t *testing.T, l *Logger)
		// want: sink calls after run and Close, and the durable head seq
		writes, appends, syncs int
	}{
		{
			name: "synced record is written with fsync",
			run: func(t *testing.T, l *Logger) {
				if err := l.Record(ctx, event(1), Synced); err != nil {
					t.Fatal(err)
				}
				if seq, _ := l.Head(); seq != 1 {
					t.Errorf("head %d right after a Synced record, want 1", seq)
				}
			},
			writes: 1,
		},
		{
			name:  "written record is appended, then synced by the timer",
			delay: time.Millisecond,
			run: func(t *testing.T, l *Logger) {
				if err := l.Record(ctx, event(1), Written); err != nil {
					t.Fatal(err)
				}
				waitHead(t, l, 1)
			},
			appends: 1, syncs: 1,
		},
		{
			name:  "a synced record covers the written ones before it",
			delay: MaxSyncDelay,
			run: func(t *testing.T, l *Logger) {
				for i := 1; i <= 3; i++ {
					if err := l.Record(ctx, event(i), Written); err != nil {
						t.Fatal(err)
					}
				}
				if seq, _ := l.Head(); seq != 0 {
					t.Errorf("head %d before any sync, want 0", seq)
				}
				if err := l.Record(ctx, event(4), Synced); err != nil {
					t.Fatal(err)
				}
				if seq, _ := l.Head(); seq != 4 {
					t.Errorf("head %d after a Synced record, want 4", seq)
				}
			},
			appends: 3, writes: 1,
		},
		{
			name:  "close syncs what is only appended",
			delay: MaxSyncDelay,
			run: func(t *testing.T, l *Logger) {
				if err := l.Record(ctx, event(1), Written); err != nil {
					t.Fatal(err)
				}
			},
			appends: 1, syncs: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &memSink{}
			l, err := New(s, testKey, WithSyncDelay(tt.delay))
			if err != nil {
				t.Fatal(err)
			}
			tt.run(t, l)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			w, a, sy, durable := s.counts()
			if w != tt.writes || a != tt.appends || sy != tt.syncs {
				t.Errorf("sink calls: %d writes, %d appends, %d syncs; want %d, %d, %d", w, a, sy, tt.writes, tt.appends, tt.syncs)
			}
			if !durable {
				t.Error("records left unsynced after Close")
			}
			if rep, err := Verify(bytes.NewReader(s.bytes()), testKey); err != nil || rep.Records == 0 {
				t.Errorf("Verify = %+v, %v", rep, err)
			}
		})
	}
}

// TestSyncFailureFailsClosed: when the fsync owed to Written records fails,
// records already answered may be lost, so nothing more is accepted.
func TestSyncFailureFailsClosed(t *testing.T) {
	boom := errors.New("fsync: input/output error")
	s := &memSink{syncFail: boom}
	l := newLogger(t, s, WithSyncDelay(time.Millisecond))
	if err := l.Record(context.Background(), event(1), Written); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := l.Record(context.Background(), event(2), Written)
		if errors.Is(err, ErrFailed) && errors.Is(err, boom) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Record after a failed sync = %v, want ErrFailed wrapping the cause", err)
		}
		time.Sleep(time.Millisecond)
	}
	if seq, _ := l.Head(); seq != 0 {
		t.Errorf("head %d, want 0: nothing was ever synced", seq)
	}
}

// TestFileSinkAppendSurvivesReopen: appended records are in the file as soon
// as Append returns (a kill -9 of kmipd cannot lose them), and a new Logger
// continues their chain.
func TestFileSinkAppendSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	fs, err := OpenFileSink(path)
	if err != nil {
		t.Fatal(err)
	}
	l, err := New(fs, testKey, WithSyncDelay(MaxSyncDelay))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if err := l.Record(context.Background(), event(i), Written); err != nil {
			t.Fatal(err)
		}
	}
	// Read the file before Close, as another process would after a crash.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := Verify(bytes.NewReader(data), testKey); err != nil || rep.Records != 3 {
		t.Fatalf("file before Close: Verify = %+v, %v; want 3 records", rep, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	fs2, err := OpenFileSink(path)
	if err != nil {
		t.Fatal(err)
	}
	l2 := newLogger(t, fs2)
	if err := l2.Log(context.Background(), event(4)); err != nil {
		t.Fatal(err)
	}
	l2.Close()
	data, _ = os.ReadFile(path)
	if rep, err := Verify(bytes.NewReader(data), testKey); err != nil || rep.Records != 4 {
		t.Errorf("after reopen: Verify = %+v, %v; want 4 records", rep, err)
	}
}
