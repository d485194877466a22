package objects

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// commitLog records what a store's group commit does, through its hooks.
type commitLog struct {
	mu      sync.Mutex
	batches []int  // writes per batch transaction, in order
	failed  []bool // whether each of those transactions failed
	hold    *commitHold

	// queued gets a value each time a write queues behind a commit.
	queued chan int
}

// commitHold stops the group commit after one transaction, with the lead
// still held, so that writes started meanwhile queue.
type commitHold struct {
	held    chan struct{} // closed once the transaction has ended and waits
	release chan struct{}
}

// watchCommits installs hooks on s. It must be called before s is shared.
func watchCommits(s *BoltStore) *commitLog {
	l := &commitLog{queued: make(chan int, 1000)}
	s.commits.hooks = commitHooks{
		queued: func(depth int) { l.queued <- depth },
		committed: func(writes int, err error) {
			l.mu.Lock()
			l.batches = append(l.batches, writes)
			l.failed = append(l.failed, err != nil)
			h := l.hold
			l.hold = nil
			l.mu.Unlock()
			if h != nil {
				close(h.held)
				<-h.release
			}
		},
	}
	return l
}

// holdNext makes the next batch transaction wait, once it has ended, until
// release is closed.
func (l *commitLog) holdNext() *commitHold {
	h := &commitHold{held: make(chan struct{}), release: make(chan struct{})}
	l.mu.Lock()
	l.hold = h
	l.mu.Unlock()
	return h
}

// awaitQueued waits until n more writes have queued behind a commit.
func (l *commitLog) awaitQueued(n int) {
	for range n {
		<-l.queued
	}
}

func (l *commitLog) snapshot() (batches []int, failed []bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.batches), slices.Clone(l.failed)
}

func (l *commitLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.batches, l.failed = nil, nil
}

// isClosed reports whether close has begun refusing writes.
func (g *groupCommit) isClosed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closed
}

// startHeldLeader starts a Create of id that becomes the leader, and
// returns once its transaction has ended and is held by h, with the lead
// still taken. The Create's result arrives on the returned channel.
func startHeldLeader(s *BoltStore, l *commitLog, id string) (*commitHold, <-chan error) {
	h := l.holdNext()
	res := make(chan error, 1)
	go func() { res <- s.Create(context.Background(), newKey(id)) }()
	<-h.held
	return h, res
}

// A write with no other in progress commits its own batch of one at once:
// it never queues, so nothing (no timer, no other write) can delay it.
func TestGroupCommitLoneWriteCommitsAlone(t *testing.T) {
	s, _ := openTest(t)
	l := watchCommits(s)
	ctx := context.Background()
	tests := []struct {
		name  string
		write func() error
	}{
		{"create", func() error { return s.Create(ctx, newKey("k1", nameAttr("n1"))) }},
		{"update", func() error {
			_, err := s.Update(ctx, "k1", func(o *Object) error { o.AddAttr(groupAttr("g")); return nil })
			return err
		}},
		{"apply", func() error {
			return s.Apply(ctx, []*Object{newKey("k2")}, []Change{{ID: "k1", Fn: func(*Object) error { return nil }}})
		}},
		{"refused update", func() error {
			_, err := s.Update(ctx, "k1", func(*Object) error { return ErrInvalidTransition })
			if !errors.Is(err, ErrInvalidTransition) {
				return fmt.Errorf("got %w, want ErrInvalidTransition", err)
			}
			return nil
		}},
		{"duplicate create", func() error {
			if err := s.Create(ctx, newKey("k1")); !errors.Is(err, ErrExists) {
				return fmt.Errorf("got %w, want ErrExists", err)
			}
			return nil
		}},
		{"delete", func() error { return s.Delete(ctx, "k2") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l.reset()
			if err := tc.write(); err != nil {
				t.Fatal(err)
			}
			batches, failed := l.snapshot()
			if !slices.Equal(batches, []int{1}) || slices.Contains(failed, true) {
				t.Errorf("transactions %v (failed %v), want one of one write", batches, failed)
			}
			select {
			case depth := <-l.queued:
				t.Errorf("a lone write queued (depth %d)", depth)
			default:
			}
		})
	}
}

// Writes that arrive while a commit runs all go into the next commit,
// up to MaxBatchSize each.
func TestGroupCommitTakesQueuedWrites(t *testing.T) {
	tests := []struct {
		name     string
		queued   int
		maxBatch int
		want     []int // writes per transaction, the held leader's first
	}{
		{"one", 1, 0, []int{1, 1}},
		{"all in one", 12, 0, []int{1, 12}},
		{"capped", 8, 3, []int{1, 3, 3, 2}},
		{"no batching", 3, 1, []int{1, 1, 1, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(filepath.Join(t.TempDir(), "kmipd.db"), Options{MaxBatchSize: tc.maxBatch})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			l := watchCommits(s)
			hold, leaderErr := startHeldLeader(s, l, "leader")
			errs := make([]error, tc.queued)
			var wg sync.WaitGroup
			for i := range tc.queued {
				wg.Go(func() { errs[i] = s.Create(context.Background(), newKey(fmt.Sprintf("q%d", i))) })
			}
			l.awaitQueued(tc.queued)
			close(hold.release)
			wg.Wait()
			if err := <-leaderErr; err != nil {
				t.Errorf("leader: %v", err)
			}
			for i, err := range errs {
				if err != nil {
					t.Errorf("queued write %d: %v", i, err)
				}
				if _, err := s.Get(context.Background(), fmt.Sprintf("q%d", i)); err != nil {
					t.Errorf("queued write %d not stored: %v", i, err)
				}
			}
			if batches, _ := l.snapshot(); !slices.Equal(batches, tc.want) {
				t.Errorf("transactions of %v writes, want %v", batches, tc.want)
			}
			checkConsistent(t, s)
		})
	}
}

var errBoom = errors.New("boom")

// A transaction function that fails (error or panic) gets its own failure;
// the others in its batch still commit.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	tests := []struct {
		name    string
		writes  int
		failing []int // which queued writes fail
		panics  bool
		want    []int // writes per batch transaction after the held leader's
		// failRuns is how often each failing function runs: once in a
		// batch and once alone, or only once if that batch held it alone.
		failRuns []int
	}{
		{"first fails", 4, []int{0}, false, []int{4, 3}, []int{2}},
		{"middle fails", 4, []int{2}, false, []int{4, 3}, []int{2}},
		{"last fails", 4, []int{3}, false, []int{4, 3}, []int{2}},
		{"two fail", 5, []int{1, 3}, false, []int{5, 4, 3}, []int{2, 2}},
		{"all fail", 2, []int{0, 1}, false, []int{2, 1}, []int{2, 1}},
		{"one panics", 4, []int{1}, true, []int{4, 3}, []int{2}},
		// Alone in its batch, a failing function already ran alone:
		// its error needs no second run.
		{"lone error", 1, []int{0}, false, []int{1}, []int{1}},
		// A panic is raised again in its own goroutine.
		{"lone panic", 1, []int{0}, true, []int{1}, []int{2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openTest(t)
			l := watchCommits(s)
			hold, leaderErr := startHeldLeader(s, l, "leader")
			runs := make([]int, tc.writes) // each written by its own fn only
			errs := make([]error, tc.writes)
			panicked := make([]any, tc.writes)
			var wg sync.WaitGroup
			for i := range tc.writes {
				fails := slices.Contains(tc.failing, i)
				wg.Go(func() {
					defer func() { panicked[i] = recover() }()
					errs[i] = s.write(func(tx *bolt.Tx) error {
						runs[i]++
						b, err := tx.CreateBucketIfNotExists([]byte("test-commit"))
						if err != nil {
							return err
						}
						if err := b.Put(fmt.Appendf(nil, "w%d", i), []byte("v")); err != nil {
							return err
						}
						switch {
						case fails && tc.panics:
							panic(fmt.Sprintf("write %d", i))
						case fails:
							return fmt.Errorf("write %d: %w", i, errBoom)
						}
						return nil
					})
				})
				// One at a time, so that the queue's order is the index's.
				l.awaitQueued(1)
			}
			close(hold.release)
			wg.Wait()
			if err := <-leaderErr; err != nil {
				t.Errorf("leader: %v", err)
			}
			batches, _ := l.snapshot()
			if want := append([]int{1}, tc.want...); !slices.Equal(batches, want) {
				t.Errorf("transactions of %v writes, want %v", batches, want)
			}
			stored := map[string]bool{}
			err := s.db.View(func(tx *bolt.Tx) error {
				b := tx.Bucket([]byte("test-commit"))
				if b == nil { // every write failed
					return nil
				}
				return b.ForEach(func(k, _ []byte) error {
					stored[string(k)] = true
					return nil
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.writes {
				fails := slices.Contains(tc.failing, i)
				switch {
				case fails && tc.panics:
					if panicked[i] != fmt.Sprintf("write %d", i) {
						t.Errorf("write %d: panic %v, want it raised in its own goroutine", i, panicked[i])
					}
				case fails:
					if !errors.Is(errs[i], errBoom) || errs[i].Error() != fmt.Sprintf("write %d: boom", i) {
						t.Errorf("write %d = %v, want its own error", i, errs[i])
					}
				default:
					if errs[i] != nil || panicked[i] != nil {
						t.Errorf("write %d = %v (panic %v), want success", i, errs[i], panicked[i])
					}
				}
				if stored[fmt.Sprintf("w%d", i)] == fails {
					t.Errorf("write %d stored = %v, want %v", i, !fails, fails)
				}
				if f := slices.Index(tc.failing, i); f >= 0 && runs[i] != tc.failRuns[f] {
					t.Errorf("failing write %d ran %d times, want %d", i, runs[i], tc.failRuns[f])
				}
				if !fails && (runs[i] < 1 || runs[i] > len(tc.want)) {
					t.Errorf("write %d ran %d times, want 1 to %d", i, runs[i], len(tc.want))
				}
			}
		})
	}
}

// Close waits for the writes it accepted, even queued ones, and refuses
// the rest with ErrClosed.
func TestCloseWaitsForAcceptedWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kmipd.db")
	s, err := Open(path, testOptions)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l := watchCommits(s)
	hold, leaderErr := startHeldLeader(s, l, "leader")
	const queued = 5
	errs := make([]error, queued)
	var wg sync.WaitGroup
	for i := range queued {
		wg.Go(func() { errs[i] = s.Create(ctx, newKey(fmt.Sprintf("q%d", i))) })
	}
	l.awaitQueued(queued)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	for !s.commits.isClosed() {
		runtime.Gosched()
	}

	// The commit is still held: a write that queued would hang here.
	refused := map[string]error{
		"Create": s.Create(ctx, newKey("late")),
		"Apply":  s.Apply(ctx, []*Object{newKey("late2")}, nil),
		"Delete": s.Delete(ctx, "leader"),
	}
	_, refused["Update"] = s.Update(ctx, "leader", func(*Object) error { return nil })
	for op, err := range refused {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", op, err)
		}
	}

	close(hold.release)
	wg.Wait()
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-leaderErr; err != nil {
		t.Errorf("leader: %v", err)
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("queued write %d: %v", i, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	s, err = Open(path, testOptions)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ids, err := s.Locate(ctx, Query{})
	if err != nil || len(ids) != queued+1 {
		t.Errorf("after reopen: %v, %v; want the leader and %d queued writes", ids, err, queued)
	}
	checkConsistent(t, s)
}

// Many writers of every kind: each write is committed exactly once, in a
// batch no larger than the cap, and the store ends consistent.
func TestGroupCommitManyWriters(t *testing.T) {
	for _, maxBatch := range []int{0, 1, 4} {
		t.Run(fmt.Sprintf("MaxBatchSize=%d", maxBatch), func(t *testing.T) {
			s, err := Open(filepath.Join(t.TempDir(), "kmipd.db"), Options{MaxBatchSize: maxBatch})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			l := watchCommits(s)
			ctx := context.Background()
			const goroutines, rounds = 16, 4
			const writesPerRound = 4 // Create, Update, Create, Delete
			var wg sync.WaitGroup
			errs := make(chan error, goroutines*rounds*writesPerRound)
			for g := range goroutines {
				wg.Go(func() {
					for r := range rounds {
						keep, gone := fmt.Sprintf("keep-%d-%d", g, r), fmt.Sprintf("gone-%d-%d", g, r)
						errs <- s.Create(ctx, newKey(keep, nameAttr(keep)))
						_, err := s.Update(ctx, keep, func(o *Object) error { o.AddAttr(groupAttr("updated")); return nil })
						errs <- err
						errs <- s.Create(ctx, newKey(gone, nameAttr(gone)))
						errs <- s.Delete(ctx, gone)
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			batches, failed := l.snapshot()
			total, limit := 0, cmp.Or(maxBatch, defaultMaxBatchSize)
			for i, n := range batches {
				if failed[i] {
					t.Errorf("transaction %d of %d writes failed", i, n)
				}
				if n > limit {
					t.Errorf("transaction %d has %d writes, cap %d", i, n, limit)
				}
				total += n
			}
			if total != goroutines*rounds*writesPerRound {
				t.Errorf("%d writes committed, want %d", total, goroutines*rounds*writesPerRound)
			}
			t.Logf("%d writes in %d transactions", total, len(batches))
			ids, err := s.Locate(ctx, Query{Filters: []Filter{Equals(attrObjectGroup, groupAttr("updated").Value)}})
			if err != nil || len(ids) != goroutines*rounds {
				t.Errorf("Locate updated = %d (%v), want %d", len(ids), err, goroutines*rounds)
			}
			if all, err := s.Locate(ctx, Query{}); err != nil || len(all) != goroutines*rounds {
				t.Errorf("Locate all = %d (%v), want %d", len(all), err, goroutines*rounds)
			}
			checkConsistent(t, s)
		})
	}
}

// TestCommitPages bounds the pages a commit writes, each of which the
// fsync must carry to disk: the commit loop's cost, and so Create's
// throughput, follows it. One AES key with a name, created in a store of
// 10,000 like it, wrote 37 pages in schema 1 and record format 1; the one
// index bucket (bucketIndex), compact records (encodeAttribute) and fuller
// pages (fillRecords) bring it to 27. The service's journal entry adds
// one and a half (28).
func TestCommitPages(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a store of 10,000 objects")
	}
	s, _ := openTest(t)
	ctx := context.Background()
	n := 0
	batch := func(size int) []*Object {
		objs := make([]*Object, size)
		for i := range objs {
			n++
			objs[i] = aesKey(fmt.Sprintf("0197a000-0000-7000-8000-%012d", n))
		}
		return objs
	}
	for range 100 {
		if err := s.Apply(ctx, batch(100), nil); err != nil {
			t.Fatal(err)
		}
	}
	// The service's journal entry (WithJournal) of a Create: about 250
	// bytes of JSON under a 52-byte ID that sorts by time.
	entry := bytes.Repeat([]byte("e"), 250)
	journal := 0
	tests := []struct {
		creates  int
		journal  bool
		maxPages float64
	}{
		{1, false, 28},
		{7, false, 31},
		{1, true, 30},
	}
	for _, tt := range tests {
		const commits = 20
		pagesWritten := func() int64 { st := s.db.Stats(); return st.TxStats.GetWrite() }
		before := pagesWritten()
		for range commits {
			wctx := ctx
			if tt.journal {
				journal++
				wctx = WithJournal(ctx, fmt.Sprintf("%016x-0123456789abcdef-%016x", 1<<60, journal), entry)
			}
			if err := s.Apply(wctx, batch(tt.creates), nil); err != nil {
				t.Fatal(err)
			}
		}
		pages := float64(pagesWritten()-before) / commits
		t.Logf("%d creates per commit, journal %v: %.1f pages written", tt.creates, tt.journal, pages)
		if pages > tt.maxPages {
			t.Errorf("%d creates per commit, journal %v, wrote %.1f pages, want at most %.0f", tt.creates, tt.journal, pages, tt.maxPages)
		}
	}
}
