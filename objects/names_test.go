package objects

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// withTenant, withState and archived adjust a test object.
func withTenant(o *Object, tenant string) *Object { o.Tenant = tenant; return o }

func withState(o *Object, st kmip.State) *Object { o.State = st; return o }

func archived(o *Object) *Object { o.Archived = true; return o }

// wantNameTaken fails unless err is ErrNameTaken for name.
func wantNameTaken(t *testing.T, err error, name string) {
	t.Helper()
	var nt *NameTakenError
	if !errors.Is(err, ErrNameTaken) || !errors.As(err, &nt) || nt.Name != name {
		t.Errorf("err = %v, want ErrNameTaken for %q", err, name)
	}
}

// TestCreateNameUniqueness: KMIP 1.4 §3.2, per tenant, among live objects.
func TestCreateNameUniqueness(t *testing.T) {
	long := strings.Repeat("n", 2*maxIndexField) // indexed by hash
	tests := []struct {
		name     string
		existing *Object
		create   *Object
		taken    string // the name refused, "" if the create succeeds
	}{
		{"same tenant", newKey("a", nameAttr("n")), newKey("b", nameAttr("n")), "n"},
		{"empty tenant both", withTenant(newKey("a", nameAttr("n")), ""), withTenant(newKey("b", nameAttr("n")), ""), "n"},
		{"second name taken", newKey("a", nameAttr("n")), newKey("b", nameAttr("m"), nameAttr("n")), "n"},
		{"other tenant", newKey("a", nameAttr("n")), withTenant(newKey("b", nameAttr("n")), "t2"), ""},
		{"empty tenant is a tenant", newKey("a", nameAttr("n")), withTenant(newKey("b", nameAttr("n")), ""), ""},
		{"other name", newKey("a", nameAttr("n")), newKey("b", nameAttr("n2")), ""},
		{"name is not a prefix", newKey("a", nameAttr("nn")), newKey("b", nameAttr("n")), ""},
		{"archived holds its name", archived(newKey("a", nameAttr("n"))), newKey("b", nameAttr("n")), "n"},
		{"deactivated holds its name", withState(newKey("a", nameAttr("n")), kmip.StateDeactivated), newKey("b", nameAttr("n")), "n"},
		{"compromised holds its name", withState(newKey("a", nameAttr("n")), kmip.StateCompromised), newKey("b", nameAttr("n")), "n"},
		{"destroyed gives it up", withState(newKey("a", nameAttr("n")), kmip.StateDestroyed), newKey("b", nameAttr("n")), ""},
		{"destroyed compromised gives it up", withState(newKey("a", nameAttr("n")), kmip.StateDestroyedCompromised), newKey("b", nameAttr("n")), ""},
		{"archived destroyed gives it up", archived(withState(newKey("a", nameAttr("n")), kmip.StateDestroyed)), newKey("b", nameAttr("n")), ""},
		{"new destroyed object holds none", newKey("a", nameAttr("n")), withState(newKey("b", nameAttr("n")), kmip.StateDestroyed), ""},
		{"one object, name twice", nil, newKey("b", nameAttr("n"), nameAttr("n")), ""},
		{"long name", newKey("a", nameAttr(long)), newKey("b", nameAttr(long)), long},
		{"long names differ", newKey("a", nameAttr(long)), newKey("b", nameAttr(long+"x")), ""},
		{"plain text name", newKey("a", kmip.Attribute{Name: attrName, Value: ttlv.Text(kmip.TagNameValue, "n")}), newKey("b", nameAttr("n")), "n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openTest(t)
			ctx := context.Background()
			if tt.existing != nil {
				mustCreate(t, s, tt.existing)
			}
			err := s.Create(ctx, tt.create)
			if tt.taken == "" {
				if err != nil {
					t.Fatalf("Create: %v", err)
				}
				return
			}
			wantNameTaken(t, err, tt.taken)
			if _, err := s.Get(ctx, tt.create.ID); !errors.Is(err, ErrNotFound) {
				t.Errorf("refused object was stored: Get = %v", err)
			}
			checkConsistent(t, s)
		})
	}
}

// TestConcurrentCreatesOneName releases many Creates of one name at once:
// exactly one may win, whatever the interleaving and group commit. Run
// with -race.
func TestConcurrentCreatesOneName(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	const rounds, racers = 20, 8
	for r := range rounds {
		name := fmt.Sprint("contested-", r)
		start := make(chan struct{})
		errs := make([]error, racers)
		var wg sync.WaitGroup
		for g := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[g] = s.Create(ctx, newKey(fmt.Sprintf("r%d-g%d", r, g), nameAttr(name)))
			}()
		}
		close(start)
		wg.Wait()
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
				continue
			}
			wantNameTaken(t, err, name)
		}
		if won != 1 {
			t.Fatalf("round %d: %d creates of %q succeeded, want 1", r, won, name)
		}
		ids, err := s.Locate(ctx, Query{Filters: []Filter{Equals(attrName, ttlv.Text(0, name))}})
		if err != nil || len(ids) != 1 {
			t.Fatalf("round %d: Locate %q = %v, %v; want one object", r, name, ids, err)
		}
	}
	checkConsistent(t, s)
}

// forcePut stores o bypassing every check, as a store written before names
// were checked may hold it.
func forcePut(t *testing.T, s *BoltStore, o *Object) {
	t.Helper()
	err := s.db.Update(func(tx *bolt.Tx) error {
		if _, err := prepareCreate(o); err != nil {
			return err
		}
		seq, err := tx.Bucket(bucketSeq).NextSequence()
		if err != nil {
			return err
		}
		o.seq = seq
		return putObject(tx, o, encodeRecord(o), nil, true)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestUpdateNameUniqueness(t *testing.T) {
	rename := func(to string) func(o *Object) error {
		return func(o *Object) error {
			for _, a := range o.AttrsNamed(attrName) {
				o.DeleteAttr(attrName, a.Index)
			}
			o.AddAttr(nameAttr(to))
			return nil
		}
	}
	tests := []struct {
		name   string
		fn     func(o *Object) error
		others []*Object // besides "self", named "mine"
		taken  string
	}{
		{"add a taken name", func(o *Object) error { o.AddAttr(nameAttr("n")); return nil }, []*Object{newKey("a", nameAttr("n"))}, "n"},
		{"rename to a taken name", rename("n"), []*Object{newKey("a", nameAttr("n"))}, "n"},
		{"rename to a free name", rename("free"), []*Object{newKey("a", nameAttr("n"))}, ""},
		{"name of a destroyed object", rename("n"), []*Object{withState(newKey("a", nameAttr("n")), kmip.StateDestroyed)}, ""},
		{"name of another tenant", rename("n"), []*Object{withTenant(newKey("a", nameAttr("n")), "t2")}, ""},
		{"move to a tenant that has the name", func(o *Object) error { o.Tenant = "t2"; return nil }, []*Object{withTenant(newKey("a", nameAttr("mine")), "t2")}, "mine"},
		{"keep its own name", func(o *Object) error { o.AddAttr(nameAttr("mine")); return nil }, nil, ""},
		{"destroy", func(o *Object) error { o.State = kmip.StateDestroyed; o.AddAttr(nameAttr("n")); return nil }, []*Object{newKey("a", nameAttr("n"))}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openTest(t)
			ctx := context.Background()
			mustCreate(t, s, tt.others...)
			mustCreate(t, s, newKey("self", nameAttr("mine")))
			_, err := s.Update(ctx, "self", tt.fn)
			if tt.taken == "" {
				if err != nil {
					t.Fatalf("Update: %v", err)
				}
				return
			}
			wantNameTaken(t, err, tt.taken)
			if got, err := s.Get(ctx, "self"); err != nil || got.Revision != 1 || nameOf(got) != "mine" || got.Tenant != "t1" {
				t.Errorf("refused update was written: %+v, %v", got, err)
			}
			checkConsistent(t, s)
		})
	}
}

// An object that shares a name from before the check existed can still be
// updated, as long as the update adds no taken name.
func TestUpdateKeepsStoredDuplicate(t *testing.T) {
	s, _ := openTest(t)
	mustCreate(t, s, newKey("a", nameAttr("dup")))
	forcePut(t, s, newKey("b", nameAttr("dup")))
	if _, err := s.Update(context.Background(), "b", func(o *Object) error { o.State = kmip.StateActive; return nil }); err != nil {
		t.Errorf("Update of a stored duplicate: %v", err)
	}
}

// Apply moves a name from an existing object to a new one in one
// transaction (Re-key, KMIP 1.4 §4.4), and writes nothing when any part
// fails.
func TestApplyMovesName(t *testing.T) {
	dropNames := func(o *Object) error {
		for _, a := range o.AttrsNamed(attrName) {
			o.DeleteAttr(attrName, a.Index)
		}
		return nil
	}
	keep := func(o *Object) error { o.State = kmip.StateActive; return nil }
	fail := errors.New("refused by fn")
	tests := []struct {
		name    string
		creates []*Object
		changes []Change
		want    error  // nil: written
		taken   string // for ErrNameTaken
	}{
		{"move", []*Object{newKey("new", nameAttr("n"))}, []Change{{ID: "old", Fn: dropNames}}, nil, ""},
		{"no move", []*Object{newKey("new", nameAttr("n"))}, []Change{{ID: "old", Fn: keep}}, ErrNameTaken, "n"},
		{"two new objects, one name", []*Object{newKey("new", nameAttr("m")), newKey("new2", nameAttr("m"))}, nil, ErrNameTaken, "m"},
		{"change fails", []*Object{newKey("new", nameAttr("n"))}, []Change{{ID: "old", Fn: func(*Object) error { return fail }}}, fail, ""},
		{"change of a missing object", []*Object{newKey("new")}, []Change{{ID: "missing", Fn: keep}}, ErrNotFound, ""},
		{"identifier twice", []*Object{newKey("new")}, []Change{{ID: "old", Fn: keep}, {ID: "old", Fn: keep}}, ErrConflict, ""},
		{"new identifier taken", []*Object{newKey("old")}, nil, ErrExists, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openTest(t)
			ctx := context.Background()
			mustCreate(t, s, newKey("old", nameAttr("n")))
			err := s.Apply(ctx, tt.creates, tt.changes)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Apply: %v", err)
				}
				ids, err := s.Locate(ctx, Query{Filters: []Filter{Equals(attrName, ttlv.Text(0, "n"))}})
				if err != nil || !equalIDs(ids, []string{"new"}) {
					t.Errorf("Locate n = %v, %v; want [new]", ids, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Apply = %v, want %v", err, tt.want)
			}
			if tt.taken != "" {
				wantNameTaken(t, err, tt.taken)
			}
			for _, o := range tt.creates {
				if o.ID == "old" {
					continue
				}
				if _, err := s.Get(ctx, o.ID); !errors.Is(err, ErrNotFound) {
					t.Errorf("%s stored by a failed Apply: %v", o.ID, err)
				}
			}
			if got, err := s.Get(ctx, "old"); err != nil || got.Revision != 1 || nameOf(got) != "n" {
				t.Errorf("old changed by a failed Apply: %+v, %v", got, err)
			}
			checkConsistent(t, s)
		})
	}
}
