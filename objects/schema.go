package objects

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"

	bolt "go.etcd.io/bbolt"
)

// schemaVersion is the layout of buckets and keys this binary writes. Bump
// it, and append to migrations, whenever the layout changes.
const schemaVersion = 3

var (
	bucketMeta    = []byte("meta")    // keySchema -> u32 schema version
	bucketObjects = []byte("objects") // Unique Identifier -> record (record.go)
	bucketSeq     = []byte("seq")     // u64 creation sequence -> Unique Identifier
	keySchema     = []byte("schema")
)

// migrations[v] upgrades a database from schema version v to v+1, inside
// the one transaction migrate runs them all in: a failed upgrade leaves the
// file as it was.
var migrations = []func(tx *bolt.Tx) error{
	0: migrateV0,
	1: migrateV1,
	2: migrateV2,
}

// migrate brings db to schemaVersion, or refuses a newer one untouched.
func migrate(db *bolt.DB) error {
	var v uint32
	err := db.View(func(tx *bolt.Tx) error {
		var err error
		v, err = readSchema(tx)
		return err
	})
	if err != nil {
		return err
	}
	if v > schemaVersion {
		return fmt.Errorf("schema version %d, this kmipd knows up to %d: %w", v, schemaVersion, ErrSchemaTooNew)
	}
	if v == schemaVersion {
		return nil
	}
	if v == 1 {
		// Before the one transaction below, which then only drops the
		// old buckets (see migrateV1).
		if err := buildIndex(db, migrateChunk); err != nil {
			return fmt.Errorf("migrate schema 1 to 2: %w", err)
		}
	}
	return db.Update(func(tx *bolt.Tx) error {
		v, err := readSchema(tx) // again: another opener may have won
		if err != nil {
			return err
		}
		for ; v < schemaVersion; v++ {
			if err := migrations[v](tx); err != nil {
				return fmt.Errorf("migrate schema %d to %d: %w", v, v+1, err)
			}
		}
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		return meta.Put(keySchema, binary.BigEndian.AppendUint32(nil, schemaVersion))
	})
}

// readSchema returns the stored schema version; 0 when there is none.
func readSchema(tx *bolt.Tx) (uint32, error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return 0, nil
	}
	b := meta.Get(keySchema)
	if b == nil {
		return 0, nil
	}
	if len(b) != 4 {
		return 0, fmt.Errorf("schema version key has %d bytes, want 4", len(b))
	}
	return binary.BigEndian.Uint32(b), nil
}

// migrateV0 upgrades a file without a schema version: either a new, empty
// file, or one written before versioning, which held only the objects
// bucket (records without a sequence number, no indexes). It creates every
// bucket and rebuilds the creation order and the indexes from the records.
func migrateV0(tx *bolt.Tx) error {
	for _, name := range append([][]byte{bucketMeta, bucketObjects}, allDerivedBuckets()...) {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return reindex(tx)
}

// migrateV1 finishes the merge of schema 1's bucket per index into the
// one index bucket (see bucketIndex), which buildIndex has filled before
// this transaction (or, from schema 0, reindex in migrateV0): it drops the
// old buckets, the Owner index among them.
func migrateV1(tx *bolt.Tx) error {
	if tx.Bucket(bucketIndex) == nil {
		return fmt.Errorf("bucket %s was not built", bucketIndex)
	}
	for _, name := range legacyIndexBuckets {
		if tx.Bucket(name) == nil {
			continue
		}
		if err := tx.DeleteBucket(name); err != nil {
			return fmt.Errorf("drop bucket %s: %w", name, err)
		}
	}
	return nil
}

// migrateChunk is how many records each transaction of buildIndex reads.
// It bounds the memory an upgrade needs, whatever the store's size: one
// transaction for all of a store of 100,000 keys took 350-380 MB of heap,
// chunks of 10,000 at most 42 MB.
var migrateChunk = 10_000

// buildIndex fills the index bucket from the records of a schema 1 store,
// chunk records per transaction, each chunk's entries put in key order (see
// reindex for why). The schema stays 1 until migrateV1's transaction, and
// schema 1 knows nothing of this bucket, so an upgrade cut short leaves a
// store that the older kmipd still opens and this one starts again: the
// bucket is dropped first. The creation order (seq) is the same in both
// schemas and stays as it is.
func buildIndex(db *bolt.DB, chunk int) error {
	err := db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketIndex) != nil {
			if err := tx.DeleteBucket(bucketIndex); err != nil {
				return fmt.Errorf("drop the index of an upgrade cut short: %w", err)
			}
		}
		_, err := tx.CreateBucket(bucketIndex)
		return err
	})
	if err != nil {
		return err
	}
	var after []byte // the last record indexed
	for done := false; !done; {
		err := db.Update(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketObjects).Cursor()
			k, v := c.First()
			if after != nil {
				if k, v = c.Seek(after); bytes.Equal(k, after) {
					k, v = c.Next()
				}
			}
			var entries []indexEntryOf
			for n := 0; k != nil && n < chunk; n++ {
				o, err := decodeRecord(bytes.Clone(v))
				if err != nil {
					return fmt.Errorf("object %q: %w", k, err)
				}
				if string(k) != o.ID {
					return fmt.Errorf("object %q: record says %q: %w", k, o.ID, errBadRecord)
				}
				entries = appendIndexEntries(entries, o)
				after = bytes.Clone(k)
				k, v = c.Next()
			}
			done = k == nil
			index := tx.Bucket(bucketIndex)
			index.FillPercent = fillIndex
			return putSorted(index, entries)
		})
		if err != nil {
			return fmt.Errorf("build the index: %w", err)
		}
	}
	return nil
}

// indexEntryOf is an index key and the identifier it maps to.
type indexEntryOf struct{ key, id []byte }

// appendIndexEntries appends o's index entries.
func appendIndexEntries(dst []indexEntryOf, o *Object) []indexEntryOf {
	id := []byte(o.ID)
	for _, e := range indexEntries(o) {
		dst = append(dst, indexEntryOf{e.key, id})
	}
	return dst
}

// putSorted puts entries into b in key order, each put then an append to
// the node it lands in (see reindex).
func putSorted(b *bolt.Bucket, entries []indexEntryOf) error {
	slices.SortFunc(entries, func(x, y indexEntryOf) int { return bytes.Compare(x.key, y.key) })
	for _, e := range entries {
		if err := b.Put(e.key, e.id); err != nil {
			return fmt.Errorf("object %q: %w", e.id, err)
		}
	}
	return nil
}

// allDerivedBuckets are the buckets reindex rebuilds from the records.
func allDerivedBuckets() [][]byte { return [][]byte{bucketSeq, bucketIndex} }

// reindex rebuilds everything derived from the records: the creation order
// and the indexes. Records without a sequence number get one, in order of
// Created then identifier, after every number already in use, and are
// rewritten with it; other records are left as they are.
//
// The entries are put in key order. bbolt splits pages only at commit, so
// within this one transaction each bucket is a single growing node, and a
// key put anywhere but at its end shifts everything after it: putting
// 100,000 objects' entries object by object took over ten minutes (the
// indexes share one bucket, so each object's entries land all over it);
// sorted, every put is an append.
func reindex(tx *bolt.Tx) error {
	for _, name := range allDerivedBuckets() {
		if tx.Bucket(name) != nil {
			if err := tx.DeleteBucket(name); err != nil {
				return fmt.Errorf("drop bucket %s: %w", name, err)
			}
		}
		if _, err := tx.CreateBucket(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	var (
		seqEntries, indexEntriesAll []indexEntryOf
		unsequenced                 []*Object // records to number, and rewrite
		maxSeq                      uint64
	)
	add := func(o *Object) {
		seqEntries = append(seqEntries, indexEntryOf{seqKey(o.seq), []byte(o.ID)})
		indexEntriesAll = appendIndexEntries(indexEntriesAll, o)
	}
	objs := tx.Bucket(bucketObjects)
	err := objs.ForEach(func(k, v []byte) error {
		o, err := decodeRecord(bytes.Clone(v))
		if err != nil {
			return fmt.Errorf("object %q: %w", k, err)
		}
		if string(k) != o.ID {
			return fmt.Errorf("object %q: record says %q: %w", k, o.ID, errBadRecord)
		}
		if o.seq == 0 {
			unsequenced = append(unsequenced, o)
			return nil
		}
		maxSeq = max(maxSeq, o.seq)
		add(o)
		return nil
	})
	if err != nil {
		return err
	}
	sort.SliceStable(unsequenced, func(i, j int) bool {
		a, b := unsequenced[i], unsequenced[j]
		if !a.Created.Equal(b.Created) {
			return a.Created.Before(b.Created)
		}
		return a.ID < b.ID
	})
	for _, o := range unsequenced {
		maxSeq++
		o.seq = maxSeq
		if err := objs.Put([]byte(o.ID), encodeRecord(o)); err != nil {
			return fmt.Errorf("object %q: %w", o.ID, err)
		}
		add(o)
	}
	seqs, index := tx.Bucket(bucketSeq), tx.Bucket(bucketIndex)
	seqs.FillPercent, index.FillPercent = fillSeq, fillIndex
	if err := putSorted(seqs, seqEntries); err != nil {
		return err
	}
	if err := putSorted(index, indexEntriesAll); err != nil {
		return err
	}
	return seqs.SetSequence(maxSeq)
}
