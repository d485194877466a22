package objects

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

// TestJournal: a write made with WithJournal stores its entry in the same
// transaction when it changes something, and not when it fails.
func TestJournal(t *testing.T) {
	s, _ := openTest(t)
	bg := context.Background()
	mustCreate(t, s, newKey("k1", nameAttr("taken")))
	refuse := errors.New("refused")
	for _, tc := range []struct {
		name    string
		write   func(ctx context.Context) error
		wantErr bool
	}{
		{"create", func(ctx context.Context) error { return s.Create(ctx, newKey("k2")) }, false},
		{"create with a name taken", func(ctx context.Context) error { return s.Create(ctx, newKey("k3", nameAttr("taken"))) }, true},
		{"create of an id taken", func(ctx context.Context) error { return s.Create(ctx, newKey("k1")) }, true},
		{"update", func(ctx context.Context) error {
			_, err := s.Update(ctx, "k1", func(o *Object) error { o.Owner = "bob"; return nil })
			return err
		}, false},
		{"update refused", func(ctx context.Context) error {
			_, err := s.Update(ctx, "k1", func(*Object) error { return refuse })
			return err
		}, true},
		{"update of a missing object", func(ctx context.Context) error {
			_, err := s.Update(ctx, "nope", func(*Object) error { return nil })
			return err
		}, true},
		{"apply", func(ctx context.Context) error {
			return s.Apply(ctx, []*Object{newKey("k4")}, []Change{{ID: "k2", Fn: func(o *Object) error { o.Owner = "carol"; return nil }}})
		}, false},
		{"apply with a change refused", func(ctx context.Context) error {
			return s.Apply(ctx, []*Object{newKey("k5")}, []Change{{ID: "k2", Fn: func(*Object) error { return refuse }}})
		}, true},
		{"delete", func(ctx context.Context) error { return s.Delete(ctx, "k4") }, false},
		{"delete of a missing object", func(ctx context.Context) error { return s.Delete(ctx, "k4") }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "j-" + tc.name
			err := tc.write(WithJournal(bg, id, []byte("entry "+tc.name)))
			if (err != nil) != tc.wantErr {
				t.Fatalf("write: %v, want error %v", err, tc.wantErr)
			}
			got := journalEntry(t, s, id)
			switch {
			case tc.wantErr && got != nil:
				t.Errorf("failed write left entry %q", got)
			case !tc.wantErr && string(got) != "entry "+tc.name:
				t.Errorf("entry %q, want %q", got, "entry "+tc.name)
			}
		})
	}
	// A write without a journal leaves none.
	before, err := s.Journal(bg)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, newKey("k6"))
	after, err := s.Journal(bg)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("a write without a journal changed it: %d entries, then %d", len(before), len(after))
	}
}

func journalEntry(t *testing.T, s *BoltStore, id string) []byte {
	t.Helper()
	entries, err := s.Journal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.ID == id {
			return e.Entry
		}
	}
	return nil
}

// TestDeleteJournal: entries survive a reopen until deleted, and deleting
// absent ones is no error.
func TestDeleteJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kmipd.db")
	s, err := Open(path, testOptions)
	if err != nil {
		t.Fatal(err)
	}
	bg := context.Background()
	for _, id := range []string{"b", "a", "c"} {
		if err := s.Create(WithJournal(bg, "j"+id, []byte(id)), newKey(id)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, testOptions)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	entries, err := s.Journal(bg)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 || entries[0].ID != "ja" || string(entries[0].Entry) != "a" || entries[2].ID != "jc" {
		t.Fatalf("after reopen: %+v, want ja, jb, jc in order", entries)
	}
	if err := s.DeleteJournal(bg, []string{"jc", "ja", "absent"}); err != nil {
		t.Fatal(err)
	}
	entries, err = s.Journal(bg)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].ID != "jb" {
		t.Errorf("after delete: %+v, want jb alone", entries)
	}
	checkConsistent(t, s)
}
