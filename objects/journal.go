package objects

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// bucketJournal holds journal entries (WithJournal): entry ID -> entry.
var bucketJournal = []byte("journal")

// JournalEntry is a note a caller attached to its writes (WithJournal).
type JournalEntry struct {
	ID    string
	Entry []byte
}

type journalKey struct{}

// WithJournal returns ctx carrying a journal entry. Every write the store
// makes with the returned ctx that changes something (Create, Update,
// Apply, Delete that succeed) also stores entry under id, in the same
// transaction: the entry is durable if and only if one of those writes
// is. Writes that fail leave no entry. Later writes with the same id
// store the same entry again.
//
// The service attaches a description of the request to its writes, so
// that a change is never durable without a durable note of it even before
// the request's audit record is synced; it deletes entries once their
// records are (DeleteJournal), and turns what a crash left behind into
// records at the next start (Journal). The store does not look inside.
func WithJournal(ctx context.Context, id string, entry []byte) context.Context {
	return context.WithValue(ctx, journalKey{}, &JournalEntry{ID: id, Entry: entry})
}

func journalOf(ctx context.Context) *JournalEntry {
	j, _ := ctx.Value(journalKey{}).(*JournalEntry)
	return j
}

// putJournal stores ctx's journal entry, if it carries one, in tx.
func putJournal(tx *bolt.Tx, j *JournalEntry) error {
	if j == nil {
		return nil
	}
	return tx.Bucket(bucketJournal).Put([]byte(j.ID), j.Entry)
}

// Journal returns the stored journal entries in ID order; see Store.
func (s *BoltStore) Journal(ctx context.Context) ([]JournalEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	var out []JournalEntry
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketJournal).ForEach(func(k, v []byte) error {
			out = append(out, JournalEntry{ID: string(k), Entry: bytes.Clone(v)})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	return out, nil
}

// DeleteJournal removes journal entries; see Store.
func (s *BoltStore) DeleteJournal(ctx context.Context, ids []string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete journal entries: %w", err)
	}
	if len(ids) == 0 {
		return nil
	}
	// In key order: the deletes then walk the bucket's leaves once.
	keys := make([][]byte, len(ids))
	for i, id := range ids {
		keys[i] = []byte(id)
	}
	slices.SortFunc(keys, bytes.Compare)
	err := s.write(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketJournal)
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete journal entries: %w", err)
	}
	return nil
}

// migrateV2 adds the journal bucket.
func migrateV2(tx *bolt.Tx) error {
	if _, err := tx.CreateBucketIfNotExists(bucketJournal); err != nil {
		return fmt.Errorf("create bucket %s: %w", bucketJournal, err)
	}
	return nil
}
