package objects

import (
	"bytes"
	"context"
	"fmt"
	"hash/maphash"
	"math/big"
	"reflect"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// scribble overwrites everything reachable from o that a caller could
// change in place: slice elements, byte contents (Value.Bytes exposes Text
// Strings too), structure children, the wrapped material.
func scribble(o *Object) {
	var value func(v ttlv.Value)
	value = func(v ttlv.Value) {
		for i := range v.Bytes() {
			v.Bytes()[i] = '!'
		}
		kids := v.Children()
		for i := range kids {
			value(kids[i])
			kids[i] = ttlv.Int(kmip.TagAttributeValue, -1)
		}
	}
	for i := range o.Attributes {
		value(o.Attributes[i].Value)
		o.Attributes[i] = kmip.Attribute{Name: "scribbled", Value: ttlv.Bool(kmip.TagAttributeValue, true)}
	}
	o.Attributes = append(o.Attributes[:0], kmip.Attribute{Name: "appended"})
	for i := range o.Public {
		o.Public[i] = '!'
	}
	o.Public = append(o.Public, '!')
	if o.Wrapped != nil {
		for i := range o.Wrapped.Blob {
			o.Wrapped.Blob[i] = '!'
		}
		o.Wrapped.Blob = append(o.Wrapped.Blob, '!')
		o.Wrapped.MasterKey, o.Wrapped.Mechanism, o.Wrapped.Len = "scribbled", "scribbled", 99
	}
	o.ID, o.Owner, o.Revision, o.seq = "scribbled", "scribbled", 99, 99
}

// everyType is an object whose attributes use every TTLV type, nested.
func everyType() *Object {
	o := fullObject()
	o.Attributes = append(o.Attributes,
		customAttr("x-big", ttlv.BigInt(kmip.TagAttributeValue, big.NewInt(-123456789))),
		customAttr("x-long", ttlv.Long(kmip.TagAttributeValue, -1<<40)),
		customAttr("x-interval", ttlv.Interval(kmip.TagAttributeValue, 3600)),
		customAttr("x-ext", ttlv.DateTimeExtended(kmip.TagAttributeValue, o.Created)),
		customAttr("x-empty-struct", ttlv.Struct(kmip.TagAttributeValue)),
		customAttr("x-empty-bytes", ttlv.Bytes(kmip.TagAttributeValue, []byte{})),
		customAttr("x-empty-text", ttlv.Text(kmip.TagAttributeValue, "")),
		customAttr("x-nested", ttlv.Struct(kmip.TagAttributeValue,
			ttlv.Struct(kmip.TagLink, ttlv.Bytes(kmip.TagDigestValue, []byte{1, 2, 3}),
				ttlv.Text(kmip.TagLinkedObjectIdentifier, "deep")),
			ttlv.Bool(kmip.TagFresh, true))),
	)
	o.Wrapped.Len = 17
	return o
}

func TestClone(t *testing.T) {
	tests := []struct {
		name string
		obj  func() *Object
	}{
		{"every value type", everyType},
		{"typical AES key", func() *Object { return aesKey("aes") }},
		{"decoded record", func() *Object {
			o, err := decodeRecord(encodeRecord(everyType()))
			if err != nil {
				t.Fatal(err)
			}
			return o
		}},
		{"no material", func() *Object { o := fullObject(); o.Wrapped, o.Public = nil, nil; return o }},
		{"no attributes", func() *Object { o := fullObject(); o.Attributes = nil; return o }},
		{"empty blob and public", func() *Object {
			o := fullObject()
			o.Wrapped.Blob, o.Public = []byte{}, []byte{}
			return o
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Changing the copy leaves the original alone...
			o := tt.obj()
			want := encodeRecord(o)
			c := o.Clone()
			if !reflect.DeepEqual(c, o) {
				t.Fatalf("clone differs:\n got %+v\nwant %+v", c, o)
			}
			scribble(c)
			if got := encodeRecord(o); !bytes.Equal(got, want) {
				t.Error("changing the clone changed the original")
			}
			// ...and the other way round.
			o = tt.obj()
			c = o.Clone()
			scribble(o)
			if got := encodeRecord(c); !bytes.Equal(got, want) {
				t.Error("changing the original changed the clone")
			}
		})
	}
	if (*Object)(nil).Clone() != nil {
		t.Error("Clone of nil is not nil")
	}
}

// TestGetResultsAreIndependent: whatever a caller does to what Get returned,
// decoded (first Get) or copied from the memo (later ones), later Gets
// return the stored object.
func TestGetResultsAreIndependent(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	want := everyType()
	want.ID = "k"
	mustCreate(t, s, want)
	for i := range 4 {
		got, err := s.Get(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		sameObject(t, got, want)
		if got.seq != want.seq {
			t.Errorf("Get %d: seq %d, want %d", i, got.seq, want.seq)
		}
		scribble(got)
	}
	if s.memo.lookup("k", mustRecord(t, s, "k"), s.memo.currentEpoch()) == nil {
		t.Error("the object was not memoized")
	}
}

func mustRecord(t *testing.T, s *BoltStore, id string) []byte {
	t.Helper()
	var rec []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		rec = bytes.Clone(tx.Bucket(bucketObjects).Get([]byte(id)))
		return nil
	})
	if err != nil || rec == nil {
		t.Fatalf("record %s: %v", id, err)
	}
	return rec
}

// TestGetSeesEveryWrite: the memo never serves a record that was replaced,
// whether the write went through Update and Delete (which forget it) or
// changed the file behind the memo's back.
func TestGetSeesEveryWrite(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		write func(t *testing.T, s *BoltStore)
		want  string // the Name then expected, "" for ErrNotFound
	}{
		{"Update", func(t *testing.T, s *BoltStore) {
			if _, err := s.Update(ctx, "k", func(o *Object) error { o.SetAttr(nameAttr("two")); return nil }); err != nil {
				t.Fatal(err)
			}
		}, "two"},
		{"Delete", func(t *testing.T, s *BoltStore) {
			if err := s.Delete(ctx, "k"); err != nil {
				t.Fatal(err)
			}
		}, ""},
		{"Delete and Create again", func(t *testing.T, s *BoltStore) {
			if err := s.Delete(ctx, "k"); err != nil {
				t.Fatal(err)
			}
			mustCreate(t, s, newKey("k", nameAttr("three")))
		}, "three"},
		{"record rewritten without the memo knowing", func(t *testing.T, s *BoltStore) {
			o, err := decodeRecord(mustRecord(t, s, "k"))
			if err != nil {
				t.Fatal(err)
			}
			old := indexEntries(o)
			o.SetAttr(nameAttr("four"))
			err = s.db.Update(func(tx *bolt.Tx) error {
				return putObject(tx, o, encodeRecord(o), old, false)
			})
			if err != nil {
				t.Fatal(err)
			}
		}, "four"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openTest(t)
			mustCreate(t, s, newKey("k", nameAttr("one")))
			for range 3 { // the third Get is served by the memo
				if o, err := s.Get(ctx, "k"); err != nil || nameOf(o) != "one" {
					t.Fatalf("Get before the write = %v, %v", nameOf(o), err)
				}
			}
			tt.write(t, s)
			for range 3 {
				o, err := s.Get(ctx, "k")
				switch {
				case tt.want == "" && err == nil:
					t.Fatalf("Get after the write found %q", nameOf(o))
				case tt.want != "" && (err != nil || nameOf(o) != tt.want):
					t.Fatalf("Get after the write = %q, %v; want %q", nameOf(o), err, tt.want)
				}
			}
		})
	}
}

func nameOf(o *Object) string {
	if o == nil {
		return ""
	}
	a, ok := o.Attr(attrName)
	if !ok {
		return ""
	}
	v, _ := a.Value.Child(kmip.TagNameValue)
	return v.Text()
}

// TestGetDuringUpdates runs Gets, which scribble over their results, against
// Updates. Every Get must return one stored version whole: the Name
// attribute says which revision wrote it (prefixed with the identifier:
// Names are unique per tenant). Run with -race.
func TestGetDuringUpdates(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	const ids, updates = 3, 20
	for i := range ids {
		mustCreate(t, s, newKey(fmt.Sprint("k", i), nameAttr(fmt.Sprint("k", i, "/rev-1"))))
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				o, err := s.Get(ctx, fmt.Sprint("k", (g+n)%ids))
				if err != nil {
					t.Error(err)
					return
				}
				if want := fmt.Sprint(o.ID, "/rev-", o.Revision); nameOf(o) != want {
					t.Errorf("Get %s: revision %d with name %q", o.ID, o.Revision, nameOf(o))
				}
				scribble(o)
			}
		}()
	}
	var writers sync.WaitGroup
	for i := range ids {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for range updates {
				_, err := s.Update(ctx, fmt.Sprint("k", i), func(o *Object) error {
					o.SetAttr(nameAttr(fmt.Sprint(o.ID, "/rev-", o.Revision+1)))
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	writers.Wait()
	close(stop)
	wg.Wait()
}

func TestMemoBounds(t *testing.T) {
	small := encodeRecord(newKey("k"))
	big := encodeRecord(func() *Object { o := newKey("k"); o.Public = make([]byte, memoMaxRecord); return o }())
	tests := []struct {
		name        string
		rec         []byte
		n           int
		wantEntries int
	}{
		{"a few", small, 10, 10},
		{"more than the entry limit", small, memoMaxEntries + 50, memoMaxEntries},
		{"records too large", big, 3, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newRecordMemo()
			o, err := decodeRecord(bytes.Clone(tt.rec))
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.n {
				m.put(fmt.Sprint("id-", i), tt.rec, o, 0)
			}
			m.put("id-0", tt.rec, o, 0) // replacing an entry keeps the count right
			sum := 0
			for _, e := range m.entries {
				sum += e.cost
			}
			if len(m.entries) != tt.wantEntries || m.bytes != sum || m.bytes > memoMaxBytes {
				t.Errorf("%d entries of %d bytes (sum of costs %d); want %d entries", len(m.entries), m.bytes, sum, tt.wantEntries)
			}
			for id := range m.entries {
				m.forget(id)
			}
			if len(m.entries) != 0 || m.bytes != 0 {
				t.Errorf("after forgetting all: %d entries of %d bytes", len(m.entries), m.bytes)
			}
		})
	}
}

// TestMemoByteBudget: large records hit the byte budget before the entry
// limit.
func TestMemoByteBudget(t *testing.T) {
	o := newKey("k")
	o.Public = make([]byte, memoMaxRecord/2)
	rec := encodeRecord(o)
	m := newRecordMemo()
	for i := range memoMaxEntries {
		m.put(fmt.Sprint("id-", i), rec, o, 0)
	}
	if m.bytes > memoMaxBytes || len(m.entries) >= memoMaxEntries {
		t.Errorf("%d entries of %d bytes, want at most %d bytes", len(m.entries), m.bytes, memoMaxBytes)
	}
}

func TestMemoAdmit(t *testing.T) {
	m := newRecordMemo()
	// b must not share a's slot, or it would push a out.
	slot := func(id string) uint64 { return maphash.String(m.seed, id) % memoSeenSlots }
	b := "b"
	for i := 0; slot(b) == slot("a"); i++ {
		b = fmt.Sprint("b", i)
	}
	steps := []struct {
		id   string
		want bool
	}{
		{"a", false}, // first miss
		{"a", true},  // second
		{b, false},
		{"a", true},
		{b, true},
	}
	for i, st := range steps {
		if got := m.admit(st.id); got != st.want {
			t.Errorf("step %d: admit(%q) = %v, want %v", i, st.id, got, st.want)
		}
	}
}
