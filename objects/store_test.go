package objects

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

func TestCRUD(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	o := newKey("k1", nameAttr("one"), algAttr(3))
	before := time.Now().Add(-time.Second)
	mustCreate(t, s, o)
	if o.Revision != 1 || o.Created.Before(before) || !o.Updated.Equal(o.Created) {
		t.Errorf("after Create: revision %d, created %v, updated %v", o.Revision, o.Created, o.Updated)
	}

	got, err := s.Get(ctx, "k1")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	sameObject(t, got, o)

	if err := s.Create(ctx, newKey("k1")); !errors.Is(err, ErrExists) {
		t.Errorf("second Create = %v, want ErrExists", err)
	}
	if _, err := s.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get missing = %v, want ErrNotFound", err)
	}

	up, err := s.Update(ctx, "k1", func(o *Object) error {
		o.State = kmip.StateActive
		o.AddAttr(nameAttr("uno"))
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if up.Revision != 2 || up.State != kmip.StateActive || up.Updated.Before(o.Updated) || !up.Created.Equal(o.Created) {
		t.Errorf("after Update: %+v", up)
	}
	got, err = s.Get(ctx, "k1")
	if err != nil {
		t.Fatal(err)
	}
	sameObject(t, got, up)

	if _, err := s.Update(ctx, "nope", func(*Object) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("Update missing = %v, want ErrNotFound", err)
	}

	if err := s.Delete(ctx, "k1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get(ctx, "k1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "k1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete = %v, want ErrNotFound", err)
	}
	// The identifier can be reused after a purge.
	mustCreate(t, s, newKey("k1"))
}

func TestGetResultIsOwned(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	mustCreate(t, s, newKey("k", nameAttr("n")))
	a, _ := s.Get(ctx, "k")
	clear(a.Wrapped.Blob) // a caller wiping its copy
	b, _ := s.Get(ctx, "k")
	if string(b.Wrapped.Blob) != "wrapped:k" {
		t.Errorf("clearing one Get result changed another: %q", b.Wrapped.Blob)
	}
}

func TestCreateInvalid(t *testing.T) {
	s, _ := openTest(t)
	long := string(bytes.Repeat([]byte{'a'}, maxIDLength+1))
	tests := []struct {
		name string
		o    *Object
	}{
		{"empty identifier", newKey("")},
		{"long identifier", newKey(long)},
		{"attribute without value", newKey("k", kmip.Attribute{Name: "x-a"})},
		{"attribute without name", newKey("k", kmip.Attribute{Value: ttlv.Int(kmip.TagAttributeValue, 1)})},
		{"negative index", newKey("k", kmip.Attribute{Name: "x-a", Index: -1, Value: ttlv.Int(kmip.TagAttributeValue, 1)})},
		{"negative wrapped length", func() *Object { o := newKey("k"); o.Wrapped.Len = -1; return o }()},
		{"identifier not UTF-8", newKey("k\xff")},
		{"owner not UTF-8", func() *Object { o := newKey("k"); o.Owner = "\xc3"; return o }()},
		{"attribute text not UTF-8", newKey("k", customAttr("x-a", ttlv.Text(kmip.TagAttributeValue, "\xff")))},
		{"nested text not UTF-8", newKey("k", kmip.Attribute{Name: attrName, Value: ttlv.Struct(kmip.TagName, ttlv.Text(kmip.TagNameValue, "\xfe"))})},
		{"unknown item type", newKey("k", customAttr("x-a", ttlv.Value{Tag: kmip.TagAttributeValue, Type: 0x0C}))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Create(context.Background(), tt.o); !errors.Is(err, ErrInvalidObject) {
				t.Errorf("Create = %v, want ErrInvalidObject", err)
			}
			if _, err := s.Get(context.Background(), tt.o.ID); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get after refused Create = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestUpdateFailureWritesNothing(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	mustCreate(t, s, newKey("k", nameAttr("before")))
	boom := errors.New("boom")
	tests := []struct {
		name string
		fn   func(o *Object) error
		want error
	}{
		{"fn error", func(o *Object) error {
			o.Attributes = []kmip.Attribute{nameAttr("after")}
			o.State = kmip.StateActive
			return boom
		}, boom},
		{"identifier changed", func(o *Object) error { o.ID = "other"; return nil }, ErrConflict},
		{"invalid result", func(o *Object) error {
			o.Attributes = append(o.Attributes, kmip.Attribute{Name: "x-bad"})
			return nil
		}, ErrInvalidObject},
		{"unreadable result", func(o *Object) error {
			o.Tenant = "\xff"
			return nil
		}, ErrInvalidObject},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Update(ctx, "k", tt.fn); !errors.Is(err, tt.want) {
				t.Fatalf("Update = %v, want %v", err, tt.want)
			}
			got, err := s.Get(ctx, "k")
			if err != nil {
				t.Fatal(err)
			}
			if got.Revision != 1 || got.State != kmip.StatePreActive || len(got.Attributes) != 1 {
				t.Errorf("failed Update left changes: %+v", got)
			}
			ids, err := s.Locate(ctx, Query{Filters: []Filter{Equals(attrName, ttlv.Text(0, "after"))}})
			if err != nil || len(ids) != 0 {
				t.Errorf("index changed by failed Update: %v, %v", ids, err)
			}
		})
	}
}

// Concurrent read-modify-write cycles must not lose updates: each Update
// reads and writes in one transaction.
func TestUpdateAtomic(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	counter := func(n int32) kmip.Attribute {
		return kmip.Attribute{Name: "x-counter", Value: ttlv.Int(kmip.TagAttributeValue, n)}
	}
	mustCreate(t, s, newKey("k", counter(0)))
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				_, err := s.Update(ctx, "k", func(o *Object) error {
					a, _ := o.Attr("x-counter")
					o.SetAttr(counter(a.Value.Int() + 1))
					return nil
				})
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	o, err := s.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := o.Attr("x-counter")
	if a.Value.Int() != workers*each || o.Revision != workers*each+1 {
		t.Errorf("counter %d revision %d, want %d and %d", a.Value.Int(), o.Revision, workers*each, workers*each+1)
	}
}

// A failing Update in the same batch as successful writes must not undo
// or fail them (objects' own failures do not fail the transaction; see
// also TestGroupCommitIsolatesFailures).
func TestBatchMixedResults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kmipd.db")
	s, err := Open(path, testOptions)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	mustCreate(t, s, newKey("dup"))
	var wg sync.WaitGroup
	results := make([]error, 12)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch i % 3 {
			case 0:
				results[i] = s.Create(ctx, newKey(fmt.Sprintf("new-%d", i)))
			case 1:
				results[i] = s.Create(ctx, newKey("dup"))
			case 2:
				_, results[i] = s.Update(ctx, "dup", func(o *Object) error { return fmt.Errorf("refused %d", i) })
			}
		}()
	}
	wg.Wait()
	for i, err := range results {
		switch i % 3 {
		case 0:
			if err != nil {
				t.Errorf("create %d: %v", i, err)
			} else if _, err := s.Get(ctx, fmt.Sprintf("new-%d", i)); err != nil {
				t.Errorf("get %d: %v", i, err)
			}
		case 1:
			if !errors.Is(err, ErrExists) {
				t.Errorf("duplicate create %d: %v", i, err)
			}
		case 2:
			if err == nil || err.Error() != fmt.Sprintf("refused %d", i) {
				t.Errorf("update %d: %v", i, err)
			}
		}
	}
	checkConsistent(t, s)
}

func TestConcurrentCreates(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	const goroutines, each = 16, 8
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := fmt.Sprintf("g%02d-%d", g, i)
				errs <- s.Create(ctx, newKey(id, nameAttr(id), groupAttr("all")))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for g := range goroutines {
		for i := range each {
			if _, err := s.Get(ctx, fmt.Sprintf("g%02d-%d", g, i)); err != nil {
				t.Errorf("Get: %v", err)
			}
		}
	}
	ids, err := s.Locate(ctx, Query{Filters: []Filter{Equals(attrObjectGroup, ttlv.Text(kmip.TagObjectGroup, "all"))}})
	if err != nil || len(ids) != goroutines*each {
		t.Errorf("Locate found %d (%v), want %d", len(ids), err, goroutines*each)
	}
}

func TestDurableAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kmipd.db")
	ctx := context.Background()
	s, err := Open(path, testOptions)
	if err != nil {
		t.Fatal(err)
	}
	o := fullObject()
	o.Archived = false
	mustCreate(t, s, o, newKey("second", nameAttr("two")))
	if _, err := s.Update(ctx, "second", func(o *Object) error { o.State = kmip.StateActive; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", fi.Mode().Perm())
	}

	s, err = Open(path, testOptions)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Get(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameObject(t, got, o)
	if got, err := s.Get(ctx, "second"); err != nil || got.State != kmip.StateActive || got.Revision != 2 {
		t.Errorf("second after reopen: %+v, %v", got, err)
	}
	ids, err := s.Locate(ctx, Query{})
	if err != nil || !equalIDs(ids, []string{"second", o.ID}) {
		t.Errorf("Locate after reopen = %v, %v", ids, err)
	}
	// Sequence numbers continue after a reopen.
	mustCreate(t, s, newKey("third"))
	if ids, _ := s.Locate(ctx, Query{}); len(ids) != 3 || ids[0] != "third" {
		t.Errorf("Locate = %v, want third first", ids)
	}
	checkConsistent(t, s)
}

func TestOpenLocked(t *testing.T) {
	s, path := openTest(t)
	_ = s
	start := time.Now()
	_, err := Open(path, Options{LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("second Open took %v, want fail-fast", time.Since(start))
	}
}

func TestBackup(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	for i := range 20 {
		bulkCreate(t, s, newKey(fmt.Sprintf("k%d", i), nameAttr(fmt.Sprintf("n%d", i))))
	}
	backup := filepath.Join(t.TempDir(), "backup.db")
	f, err := os.OpenFile(backup, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.Backup(ctx, f)
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(backup); fi.Size() != n || n == 0 {
		t.Errorf("Backup wrote %d, file has %d", n, fi.Size())
	}
	// Writes after the snapshot are not in it.
	mustCreate(t, s, newKey("late"))

	b, err := Open(backup, testOptions)
	if err != nil {
		t.Fatalf("Open backup: %v", err)
	}
	defer b.Close()
	checkConsistent(t, b)
	for i := range 20 {
		if _, err := b.Get(ctx, fmt.Sprintf("k%d", i)); err != nil {
			t.Errorf("backup Get: %v", err)
		}
	}
	if _, err := b.Get(ctx, "late"); !errors.Is(err, ErrNotFound) {
		t.Errorf("backup has a later write: %v", err)
	}
	if ids, err := b.Locate(ctx, Query{Filters: []Filter{Equals(attrName, ttlv.Text(0, "n7"))}}); err != nil || !equalIDs(ids, []string{"k7"}) {
		t.Errorf("backup Locate = %v, %v", ids, err)
	}
}

func TestNewID(t *testing.T) {
	s, _ := openTest(t)
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	before := time.Now().UnixMilli()
	var last string
	for range 1000 {
		id, err := s.NewID(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !re.MatchString(id) {
			t.Fatalf("NewID = %q, not a UUIDv7", id)
		}
		if seen[id] {
			t.Fatalf("NewID repeated %q", id)
		}
		seen[id] = true
		// The first 48 bits are the Unix time in milliseconds, so
		// identifiers of later objects sort after those of earlier ones,
		// give or take the random bits within one millisecond.
		ms, err := strconv.ParseInt(strings.ReplaceAll(id[:13], "-", ""), 16, 64)
		if err != nil || ms < before || ms > time.Now().UnixMilli() {
			t.Fatalf("NewID = %q: time field %d outside [%d, now]", id, ms, before)
		}
		if last != "" && id[:13] < last[:13] {
			t.Fatalf("NewID %q sorts before the earlier %q", id, last)
		}
		last = id
	}
}

func TestCanceledContext(t *testing.T) {
	s, _ := openTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	checks := map[string]error{
		"Create": s.Create(ctx, newKey("k")),
		"Delete": s.Delete(ctx, "k"),
	}
	_, checks["Get"] = s.Get(ctx, "k")
	_, checks["Update"] = s.Update(ctx, "k", func(*Object) error { return nil })
	_, checks["Locate"] = s.Locate(ctx, Query{})
	_, checks["NewID"] = s.NewID(ctx)
	_, checks["Backup"] = s.Backup(ctx, &bytes.Buffer{})
	for op, err := range checks {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s = %v, want context.Canceled", op, err)
		}
	}
}
