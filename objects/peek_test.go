package objects

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// peekUntilShared calls Peek until it answers from the memo (the memo
// admits an object at its second miss), and returns that shared object.
func peekUntilShared(t *testing.T, s *BoltStore, id string) *Object {
	t.Helper()
	for range 4 {
		o, err := s.Peek(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if o == s.memo.trusted(id) {
			return o
		}
	}
	t.Fatalf("Peek(%s) never answered from the memo", id)
	return nil
}

// TestPeekReflectsWrites: Peek shares the memoized object while nothing
// writes, and every write that returned is seen by the next Peek.
func TestPeekReflectsWrites(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	mustCreate(t, s, newKey("k", nameAttr("k/rev-1")))
	first := peekUntilShared(t, s, "k")
	if again, _ := s.Peek(ctx, "k"); again != first {
		t.Error("a second Peek with no write between copied the object")
	}
	steps := []struct {
		name  string
		write func() error
		check func(o *Object, err error) error
	}{
		{
			name: "update",
			write: func() error {
				_, err := s.Update(ctx, "k", func(o *Object) error { o.SetAttr(nameAttr("k/rev-2")); return nil })
				return err
			},
			check: func(o *Object, err error) error {
				if err != nil || nameOf(o) != "k/rev-2" || o.Revision != 2 {
					return fmt.Errorf("Peek = revision %v name %q, %w; want revision 2", revisionOf(o), nameOf(o), err)
				}
				return nil
			},
		},
		{
			name: "apply",
			write: func() error {
				return s.Apply(ctx, nil, []Change{{ID: "k", Fn: func(o *Object) error { o.SetAttr(nameAttr("k/rev-3")); return nil }}})
			},
			check: func(o *Object, err error) error {
				if err != nil || nameOf(o) != "k/rev-3" {
					return fmt.Errorf("Peek = name %q, %w; want k/rev-3", nameOf(o), err)
				}
				return nil
			},
		},
		{
			name:  "delete",
			write: func() error { return s.Delete(ctx, "k") },
			check: func(o *Object, err error) error {
				if err == nil {
					return fmt.Errorf("Peek after Delete = %v, want ErrNotFound", nameOf(o))
				}
				return nil
			},
		},
	}
	for _, step := range steps {
		if step.name != "delete" {
			peekUntilShared(t, s, "k") // the memo holds the version before the write
		}
		if err := step.write(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if err := step.check(s.Peek(ctx, "k")); err != nil {
			t.Errorf("%s: %v", step.name, err)
		}
	}
}

func revisionOf(o *Object) any {
	if o == nil {
		return nil
	}
	return o.Revision
}

// TestMemoDistrustsReadsOverlappingWrites replays the race a Peek without
// transaction must survive: a reader reads a record, a write replaces and
// forgets it, then the reader memoizes what it read. That entry must not be
// trusted, or Peek would serve the old version until the next write.
func TestMemoDistrustsReadsOverlappingWrites(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	mustCreate(t, s, newKey("k", nameAttr("k/rev-1")))
	epoch := s.memo.currentEpoch() // the reader starts
	oldRec := mustRecord(t, s, "k")
	old, err := decodeRecord(oldRec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, "k", func(o *Object) error { o.SetAttr(nameAttr("k/rev-2")); return nil }); err != nil {
		t.Fatal(err)
	}
	s.memo.put("k", oldRec, old, epoch) // the reader finishes
	if s.memo.trusted("k") != nil {
		t.Fatal("an entry read before a write was trusted after it")
	}
	if o, err := s.Peek(ctx, "k"); err != nil || nameOf(o) != "k/rev-2" {
		t.Fatalf("Peek = %q, %v; want k/rev-2", nameOf(o), err)
	}
	// The stale entry is replaced by the next reads, which trust again.
	if o := peekUntilShared(t, s, "k"); nameOf(o) != "k/rev-2" {
		t.Errorf("shared object %q, want k/rev-2", nameOf(o))
	}
}

// TestPeekDuringUpdates: no Peek returns a version older than the last
// write that had returned when the Peek began, and every version is whole
// (its Name says which revision wrote it). Run with -race: Peek's readers
// share objects, which must then never be written.
func TestPeekDuringUpdates(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	const ids, updates = 3, 30
	var done [ids]atomic.Uint64 // revision of the last Update returned, per key
	for i := range ids {
		mustCreate(t, s, newKey(fmt.Sprint("k", i), nameAttr(fmt.Sprint("k", i, "/rev-1"))))
		done[i].Store(1)
	}
	var readers sync.WaitGroup
	stop := make(chan struct{})
	for g := range 4 {
		readers.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				i := (g + n) % ids
				floor := done[i].Load()
				o, err := s.Peek(ctx, fmt.Sprint("k", i))
				if err != nil {
					t.Error(err)
					return
				}
				if o.Revision < floor {
					t.Errorf("Peek k%d: revision %d, but revision %d had been written", i, o.Revision, floor)
				}
				if want := fmt.Sprint(o.ID, "/rev-", o.Revision); nameOf(o) != want {
					t.Errorf("Peek %s: revision %d with name %q", o.ID, o.Revision, nameOf(o))
				}
			}
		})
	}
	var writers sync.WaitGroup
	for i := range ids {
		writers.Go(func() {
			for range updates {
				o, err := s.Update(ctx, fmt.Sprint("k", i), func(o *Object) error {
					o.SetAttr(nameAttr(fmt.Sprint(o.ID, "/rev-", o.Revision+1)))
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
				done[i].Store(o.Revision)
			}
		})
	}
	writers.Wait()
	close(stop)
	readers.Wait()
}
