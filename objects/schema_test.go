package objects

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// writeRaw creates a bbolt file and lets fill write whatever it likes.
func writeRaw(t *testing.T, fill func(tx *bolt.Tx) error) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kmipd.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(fill); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// A schema 0 file, as written before versioning: only an objects bucket,
// records without sequence numbers, no indexes. Open must build the rest.
func TestMigrateV0(t *testing.T) {
	base := time.Date(2023, 5, 1, 0, 0, 0, 0, time.UTC)
	var fixture []*Object
	for i, name := range []string{"oldest", "middle", "newest"} {
		o := newKey("v0-"+name, nameAttr(name), groupAttr("legacy"))
		o.Created, o.Updated, o.Revision = base.Add(time.Duration(i)*time.Hour), base, 3
		fixture = append(fixture, o)
	}
	path := writeRaw(t, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(bucketObjects)
		if err != nil {
			return err
		}
		// Stored out of creation order: the identifiers sort differently.
		for _, i := range []int{2, 0, 1} {
			if err := b.Put([]byte(fixture[i].ID), encodeRecord(fixture[i])); err != nil {
				return err
			}
		}
		return nil
	})

	s, err := Open(path, testOptions)
	if err != nil {
		t.Fatalf("Open v0: %v", err)
	}
	defer s.Close()
	checkConsistent(t, s)
	ctx := context.Background()
	for _, o := range fixture {
		got, err := s.Get(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameObject(t, got, o)
	}
	ids, err := s.Locate(ctx, Query{Filters: []Filter{Equals(attrObjectGroup, ttlv.Text(kmip.TagObjectGroup, "legacy"))}})
	want := []string{"v0-newest", "v0-middle", "v0-oldest"}
	if err != nil || !equalIDs(ids, want) {
		t.Errorf("Locate after migration = %v, %v; want %v", ids, err, want)
	}
	if ids, _ := s.Locate(ctx, Query{Filters: []Filter{Equals(attrName, ttlv.Text(0, "middle"))}}); !equalIDs(ids, []string{"v0-middle"}) {
		t.Errorf("Locate by name after migration = %v", ids)
	}
	mustCreate(t, s, newKey("after"))
	if ids, _ := s.Locate(ctx, Query{}); len(ids) != 4 || ids[0] != "after" {
		t.Errorf("new object not newest after migration: %v", ids)
	}
	var v uint32
	_ = s.db.View(func(tx *bolt.Tx) error { v, err = readSchema(tx); return err })
	if v != schemaVersion {
		t.Errorf("schema after migration = %d, want %d", v, schemaVersion)
	}
}

// writeV1 writes a schema 1 file of two keys: a bucket per index, the
// Owner among them, each with a stale entry that no record explains, and
// a half-built index bucket as an upgrade cut short leaves it.
func writeV1(t *testing.T) string {
	t.Helper()
	var fixture []*Object
	for i, name := range []string{"first", "second"} {
		o := newKey("v1-"+name, nameAttr(name), groupAttr("legacy"), algAttr(algAES))
		o.seq, o.Owner, o.Tenant = uint64(i+1), "CN=app", "payments"
		fixture = append(fixture, o)
	}
	path := writeRaw(t, func(tx *bolt.Tx) error {
		if err := fillV1(tx, fixture, encodeRecord); err != nil {
			return err
		}
		for _, name := range append(slices.Clone(legacyIndexBuckets), bucketIndex) {
			b, err := tx.CreateBucket(name)
			if err != nil {
				return err
			}
			if err := b.Put([]byte("stale"), []byte("v1-gone")); err != nil {
				return err
			}
		}
		return nil
	})
	return path
}

// fillV1 writes the buckets a schema 1 file shares with schema 2: the
// schema version, objs' records (with encode, and their seq), and the
// creation order.
func fillV1(tx *bolt.Tx, objs []*Object, encode func(*Object) []byte) error {
	meta, err := tx.CreateBucket(bucketMeta)
	if err != nil {
		return err
	}
	if err := meta.Put(keySchema, binary.BigEndian.AppendUint32(nil, 1)); err != nil {
		return err
	}
	records, err := tx.CreateBucket(bucketObjects)
	if err != nil {
		return err
	}
	seqs, err := tx.CreateBucket(bucketSeq)
	if err != nil {
		return err
	}
	var last uint64
	for _, o := range objs {
		if err := records.Put([]byte(o.ID), encode(o)); err != nil {
			return err
		}
		if err := seqs.Put(seqKey(o.seq), []byte(o.ID)); err != nil {
			return err
		}
		last = max(last, o.seq)
	}
	return seqs.SetSequence(last)
}

// Open upgrades a schema 1 file: it drops the old buckets and builds the
// one index bucket from the records, in chunks (here of one record).
func TestMigrateV1(t *testing.T) {
	defer func(n int) { migrateChunk = n }(migrateChunk)
	migrateChunk = 1
	path := writeV1(t)

	s, err := Open(path, testOptions)
	if err != nil {
		t.Fatalf("Open v1: %v", err)
	}
	defer s.Close()
	checkConsistent(t, s)
	_ = s.db.View(func(tx *bolt.Tx) error {
		for _, name := range legacyIndexBuckets {
			if tx.Bucket(name) != nil {
				t.Errorf("bucket %s survived the migration", name)
			}
		}
		return nil
	})
	ctx := context.Background()
	if ids, err := s.Locate(ctx, Query{Filters: []Filter{Equals(attrName, ttlv.Text(0, "second"))}}); err != nil || !equalIDs(ids, []string{"v1-second"}) {
		t.Errorf("Locate by name after migration = %v, %v", ids, err)
	}
	if ids, err := s.Locate(ctx, Query{Owner: "CN=app", Tenant: "payments"}); err != nil || !equalIDs(ids, []string{"v1-second", "v1-first"}) {
		t.Errorf("Locate by owner and tenant after migration = %v, %v", ids, err)
	}
	mustCreate(t, s, newKey("after"))
	if ids, _ := s.Locate(ctx, Query{}); len(ids) != 3 || ids[0] != "after" {
		t.Errorf("new object not newest after migration: %v", ids)
	}
}

// An upgrade cut short after the index was built, before the schema was
// raised: the file is still schema 1 with its old buckets, which the older
// kmipd reads, and the next Open finishes the upgrade.
func TestMigrateV1Interrupted(t *testing.T) {
	path := writeV1(t)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := buildIndex(db, 1); err != nil {
		t.Fatal(err)
	}
	_ = db.View(func(tx *bolt.Tx) error {
		if v, _ := readSchema(tx); v != 1 {
			t.Errorf("schema %d after the index was built, want still 1", v)
		}
		for _, name := range legacyIndexBuckets {
			if tx.Bucket(name) == nil {
				t.Errorf("bucket %s is gone before the schema was raised", name)
			}
		}
		return nil
	})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, testOptions)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkConsistent(t, s)
	if ids, err := s.Locate(context.Background(), Query{Filters: []Filter{Equals(attrName, ttlv.Text(0, "first"))}}); err != nil || !equalIDs(ids, []string{"v1-first"}) {
		t.Errorf("Locate by name after the upgrade = %v, %v", ids, err)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := writeRaw(t, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		return b.Put(keySchema, binary.BigEndian.AppendUint32(nil, schemaVersion+1))
	})
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(path, testOptions)
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open = %v, want ErrSchemaTooNew", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("Open changed a database with a newer schema")
	}
}

func TestOpenRejectsDamagedMeta(t *testing.T) {
	tests := []struct {
		name string
		fill func(tx *bolt.Tx) error
	}{
		{"short schema key", func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket(bucketMeta)
			if err != nil {
				return err
			}
			return b.Put(keySchema, []byte{1})
		}},
		{"undecodable v0 record", func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket(bucketObjects)
			if err != nil {
				return err
			}
			return b.Put([]byte("x"), []byte{recordFormat, 1, 2, 3})
		}},
		{"record under the wrong key", func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket(bucketObjects)
			if err != nil {
				return err
			}
			return b.Put([]byte("x"), encodeRecord(newKey("y")))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeRaw(t, tt.fill)
			if s, err := Open(path, testOptions); err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
		})
	}
}

func TestOpenTwiceSequentially(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kmipd.db")
	for range 3 {
		s, err := Open(path, testOptions)
		if err != nil {
			t.Fatal(err)
		}
		checkConsistent(t, s)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMigrateV2: a schema 2 store (the release before the journal) opens
// as schema 3 with its objects and an empty journal that writes use.
func TestMigrateV2(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kmipd.db")
	s, err := Open(path, testOptions)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, newKey("v2-key"))
	// Make it what schema 2 wrote: no journal bucket, version 2.
	err = s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketJournal); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keySchema, binary.BigEndian.AppendUint32(nil, 2))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(path, testOptions)
	if err != nil {
		t.Fatalf("Open v2: %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Get(ctx, "v2-key"); err != nil {
		t.Errorf("object after migration: %v", err)
	}
	if err := s.Create(WithJournal(ctx, "j1", []byte("entry")), newKey("v3-key")); err != nil {
		t.Fatal(err)
	}
	if entries, err := s.Journal(ctx); err != nil || len(entries) != 1 {
		t.Errorf("journal after migration: %v, %v", entries, err)
	}
	_ = s.db.View(func(tx *bolt.Tx) error {
		if v, err := readSchema(tx); err != nil || v != schemaVersion {
			t.Errorf("schema after migration: %d, %v; want %d", v, err, schemaVersion)
		}
		return nil
	})
	checkConsistent(t, s)
}
