package objects

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// testOptions are the production options: the group commit has no delay
// to shorten for tests.
var testOptions = Options{}

// openTest opens a store in a fresh directory. At cleanup it checks the
// bbolt file's consistency and that every index matches the records, then
// closes the store.
func openTest(t testing.TB) (*BoltStore, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kmipd.db")
	s, err := Open(path, testOptions)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		checkConsistent(t, s)
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, path
}

// checkConsistent verifies the bbolt structure, and that the index and
// creation-order buckets hold exactly what the records imply.
func checkConsistent(t testing.TB, s *BoltStore) {
	t.Helper()
	err := s.db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("bbolt check: %v", err)
		}
		want := map[string]string{}
		err := tx.Bucket(bucketObjects).ForEach(func(k, v []byte) error {
			o, err := decodeRecord(bytes.Clone(v))
			if err != nil {
				return err
			}
			want[string(bucketSeq)+"|"+string(seqKey(o.seq))] = o.ID
			for _, e := range indexEntries(o) {
				want[string(bucketIndex)+"|"+string(e.key)] = o.ID
			}
			return nil
		})
		if err != nil {
			return err
		}
		got := map[string]string{}
		for _, b := range allDerivedBuckets() {
			err := tx.Bucket(b).ForEach(func(k, v []byte) error {
				got[string(b)+"|"+string(k)] = string(v)
				return nil
			})
			if err != nil {
				return err
			}
		}
		for k, id := range want {
			if got[k] != id {
				t.Errorf("index entry %q: got %q, want %q", k, got[k], id)
			}
		}
		for k, id := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("stale index entry %q -> %q", k, id)
			}
		}
		return nil
	})
	if err != nil {
		t.Errorf("consistency check: %v", err)
	}
}

func nameAttr(s string) kmip.Attribute {
	return kmip.Attribute{Name: attrName, Value: ttlv.Struct(kmip.TagName,
		ttlv.Text(kmip.TagNameValue, s),
		ttlv.Enum(kmip.TagNameType, 1), // Uninterpreted Text String
	)}
}

func algAttr(alg uint32) kmip.Attribute {
	return kmip.Attribute{Name: attrAlgorithm, Value: ttlv.Enum(kmip.TagCryptographicAlgorithm, alg)}
}

func groupAttr(g string) kmip.Attribute {
	return kmip.Attribute{Name: attrObjectGroup, Value: ttlv.Text(kmip.TagObjectGroup, g)}
}

func dateAttr(name string, tag ttlv.Tag, t time.Time) kmip.Attribute {
	return kmip.Attribute{Name: name, Value: ttlv.DateTime(tag, t)}
}

func customAttr(name string, v ttlv.Value) kmip.Attribute {
	return kmip.Attribute{Name: name, Value: v}
}

// newKey is a symmetric key object with the given attributes.
func newKey(id string, attrs ...kmip.Attribute) *Object {
	return &Object{
		ID:         id,
		ObjectType: kmip.ObjectTypeSymmetricKey,
		State:      kmip.StatePreActive,
		Attributes: attrs,
		Wrapped:    &WrappedMaterial{MasterKey: "mk1", Mechanism: "CKM_AES_KEY_WRAP_KWP", Blob: []byte("wrapped:" + id)},
		KeyFormat:  1,
		Owner:      "alice",
		Tenant:     "t1",
	}
}

func mustCreate(t testing.TB, s Store, objs ...*Object) {
	t.Helper()
	for _, o := range objs {
		if err := s.Create(context.Background(), o); err != nil {
			t.Fatalf("Create %s: %v", o.ID, err)
		}
	}
}

// bulkCreate stores objects in order through the same code as Create, but
// in one transaction: one fsync instead of one each keeps tests fast on a
// loaded machine.
func bulkCreate(t testing.TB, s *BoltStore, objs ...*Object) {
	t.Helper()
	err := s.db.Update(func(tx *bolt.Tx) error {
		recs := make([][]byte, len(objs))
		for i, o := range objs {
			rec, err := prepareCreate(o)
			if err != nil {
				return err
			}
			recs[i] = rec
		}
		written, failed, err := writeInTx(tx, objs, recs, nil)
		if err != nil {
			return err
		}
		if failed != nil {
			return failed
		}
		for i, o := range objs {
			o.seq = written[i].seq
		}
		return nil
	})
	if err != nil {
		t.Fatalf("bulkCreate: %v", err)
	}
}

func equalIDs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// sameObject compares what the store must round-trip.
func sameObject(t testing.TB, got, want *Object) {
	t.Helper()
	if got.ID != want.ID || got.ObjectType != want.ObjectType || got.State != want.State ||
		got.KeyFormat != want.KeyFormat || got.Owner != want.Owner || got.Tenant != want.Tenant ||
		got.Archived != want.Archived || got.Revision != want.Revision ||
		!got.Created.Equal(want.Created) || !got.Updated.Equal(want.Updated) ||
		!bytes.Equal(got.Public, want.Public) {
		t.Errorf("object mismatch:\n got %+v\nwant %+v", got, want)
	}
	if (got.Wrapped == nil) != (want.Wrapped == nil) {
		t.Errorf("wrapped: got %v, want %v", got.Wrapped, want.Wrapped)
	} else if got.Wrapped != nil && (got.Wrapped.MasterKey != want.Wrapped.MasterKey ||
		got.Wrapped.Mechanism != want.Wrapped.Mechanism || !bytes.Equal(got.Wrapped.Blob, want.Wrapped.Blob)) {
		t.Errorf("wrapped: got %v, want %v", got.Wrapped, want.Wrapped)
	}
	if len(got.Attributes) != len(want.Attributes) {
		t.Fatalf("attributes: got %d, want %d", len(got.Attributes), len(want.Attributes))
	}
	for i := range got.Attributes {
		g, w := got.Attributes[i], want.Attributes[i]
		if g.Name != w.Name || g.Index != w.Index || !ttlv.Equal(g.Value, w.Value) {
			t.Errorf("attribute %d: got %+v, want %+v", i, g, w)
		}
	}
}
