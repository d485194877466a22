// Package objects owns kmipd's managed objects: the Object record, its
// lifecycle state machine, and the persistent store behind the Store
// interface (today BoltStore over go.etcd.io/bbolt; a clustered store can
// implement the same interface later).
//
// It must not know PKCS#11, the ACL, the audit log or the network. Plaintext
// key bytes never reach it: secret material arrives already wrapped under an
// HSM master key (WrappedMaterial), and only non-secret material (a public
// key's SubjectPublicKeyInfo, a certificate's DER) is stored as is.
//
// # Lifecycle
//
// lifecycle.go holds the one table of state transitions allowed by KMIP 1.4
// §3.22 (2.0 §4.50), and the date-driven transitions (Activation Date,
// Deactivation Date) that the service applies with ApplyDates before it
// acts on an object.
//
// # Storage layout
//
// A BoltStore file has one bucket of records keyed by Unique Identifier, one
// bucket mapping a creation sequence number to the identifier (creation
// order, which Locate returns newest first: KMIP 2.0 §6.1.27), a meta bucket
// holding the schema version, and one index bucket in which every Locate
// index has its own key prefix (schema 1 had a bucket per index; one bucket
// lets a commit share the pages near the root among them), and, from schema
// 3, a journal bucket of the notes callers attach to their writes
// (WithJournal; journal.go). Records are
// a version byte followed by a TTLV Structure whose private tags live in the
// 0x54xxxx extension range (record.go documents them all). Open runs
// migrate, which upgrades older schemas and refuses newer ones
// (ErrSchemaTooNew).
//
// # Durability and concurrency
//
// Every write is one bbolt read-write transaction, fsynced and committed
// before the call returns; NoSync is never used. Apply writes several
// objects in one transaction (a key pair, a Re-key moving names), and
// every write that gives an object a Name checks in its own transaction
// that no other live object of the tenant has it (names.go).
//
// Create, Update, Apply and Delete go through a group commit (groupCommit
// in bolt.go) so that concurrent writers share one commit and its fsyncs.
// There is no timer: a write that finds no commit running commits at once;
// writes that arrive while one runs queue, and the next commit, which
// starts as soon as that one ends, takes them all (up to MaxBatchSize). If
// a transaction function fails, the batch is rolled back, that function
// runs again alone to report its own error, and the others are retried
// without it, as in bbolt's Batch. A transaction function may therefore
// run more than once, so every one is idempotent: it starts from the
// stored state each time, and an Update callback must only change the
// Object it is given. The objects' own failures (ErrExists, ErrNameTaken,
// an Update callback's error) are reported beside the transaction, not as
// its error, so they never make the others run again. Close refuses new
// writes (ErrClosed) and waits for the accepted ones to commit.
//
// An Object is a plain value: Get and Update return a fresh copy that
// belongs to the caller, and nothing in it aliases the database. Get
// memoizes the decoded form of the records it reads (memo.go) and answers
// with a deep copy (Object.Clone) while the stored record is byte for byte
// the one it was decoded from, which it checks in its read transaction.
//
// # Locate
//
// Locate (KMIP 1.4 §4.9, 2.0 §6.1.27) picks the most selective indexed
// filter of a Query to find candidates, then checks every filter against
// each candidate's record, so unindexed attributes work too, only slower.
// Indexes are kept in the same transaction as the record they describe.
package objects
