package objects

import (
	"context"
	"io"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// Store keeps managed objects. The service sees only this interface, so a
// clustered store can replace BoltStore. Every method that writes commits
// durably before it returns.
type Store interface {
	// Create stores a new object. It fails with ErrExists if o.ID is taken,
	// and with ErrNameTaken (see Names below) if o is live and one of its
	// Name values is taken. The store sets Revision to 1 and Updated (and
	// Created, if zero).
	Create(ctx context.Context, o *Object) error

	// Get returns the object, or ErrNotFound. The caller owns the result.
	Get(ctx context.Context, id string) (*Object, error)

	// Peek is Get for a caller that only reads the object: the result may
	// be shared with other callers and must not be changed, not even its
	// slices. In exchange a store may answer from memory without a
	// transaction and without a copy. It reflects every write that
	// returned before Peek was called.
	Peek(ctx context.Context, id string) (*Object, error)

	// Update reads the object, calls fn on it and stores the result, all in
	// one transaction; Revision is incremented and Updated set. If fn
	// returns an error nothing is written and Update returns that error.
	// fn may be called more than once (group commit retries a batch), each
	// time with a fresh copy of the stored object, so it must have no side
	// effects beyond changing that object. It runs while the store's write
	// lock is held, so HSM calls and other slow work belong before Update.
	// Changing o.ID is ErrConflict; changes to Revision, Created and Updated
	// are overwritten by the store. A Name value fn adds that is taken (see
	// Names below) is ErrNameTaken; the names the object had are not
	// checked again.
	Update(ctx context.Context, id string, fn func(o *Object) error) (*Object, error)

	// Apply stores the new objects creates and applies changes to stored
	// ones in one transaction: all are written or none is. Each new object
	// is as for Create, each change as for Update (fn may run more than
	// once), and the Names are checked on the result of the whole
	// transaction, so a Re-key can move a Name from the existing key to its
	// replacement in one step. An identifier given twice is ErrConflict.
	Apply(ctx context.Context, creates []*Object, changes []Change) error

	// Delete removes the object and its index entries, or returns
	// ErrNotFound. Destroy normally keeps the metadata (an Update that
	// drops Wrapped and sets the state); Delete is for purging it.
	Delete(ctx context.Context, id string) error

	// Locate returns the identifiers of the objects matching q, newest
	// first (KMIP 2.0 §6.1.27), after applying q.Offset and q.MaxItems.
	Locate(ctx context.Context, q Query) ([]string, error)

	// NewID returns a fresh Unique Identifier.
	NewID(ctx context.Context) (string, error)

	// Journal returns the journal entries that writes stored (see
	// WithJournal) and DeleteJournal has not removed, in ID order.
	Journal(ctx context.Context) ([]JournalEntry, error)

	// DeleteJournal removes the journal entries with these IDs, durably;
	// IDs without an entry are ignored.
	DeleteJournal(ctx context.Context, ids []string) error

	// Backup writes a consistent snapshot of the whole store to w while
	// the store stays online, and returns the number of bytes written.
	Backup(ctx context.Context, w io.Writer) (int64, error)

	// Close releases the store. It must not be used afterwards.
	Close() error
}

// Names: the store refuses, in the transaction that writes it, a live
// object (one not in state Destroyed or Destroyed Compromised, archived or
// not: what Locate finds with StorageOnLine|StorageArchival) carrying a
// Name value that another live object of the same Tenant carries (KMIP 1.4
// §3.2; the tenant is the key management domain, and "" is a tenant like
// any other). A destroyed object keeps its metadata but gives up its names.
// Checking in the writing transaction is what keeps two concurrent creates
// from both taking one name.

// Change is one Update within Apply: Fn changes the stored object ID, with
// the same rules as Store.Update's fn.
type Change struct {
	ID string
	Fn func(o *Object) error
}

// StorageStatus is the Locate Storage Status Mask (KMIP 1.4 §9.1.3.3.2,
// 2.0 §12.3): which kinds of storage to search.
type StorageStatus uint32

// Storage Status Mask bits (KMIP 2.0 §12.3, Table 457).
const (
	StorageOnLine    StorageStatus = 0x1 // neither archived nor destroyed
	StorageArchival  StorageStatus = 0x2 // archived (Object.Archived)
	StorageDestroyed StorageStatus = 0x4 // state Destroyed or Destroyed Compromised
)

// Query is a Locate request: every condition must hold (a conjunction).
// The zero Query matches every on-line object.
type Query struct {
	// Filters are attribute conditions; see Filter.
	Filters []Filter

	// ObjectTypes and States, when non-empty, restrict the result to
	// objects whose type (state) is one of those listed.
	ObjectTypes []kmip.ObjectType
	States      []kmip.State

	// Owner and Tenant, when non-empty, must equal the object's.
	Owner, Tenant string

	// Storage selects on-line, archived and destroyed objects. Zero means
	// on-line only, as when the field is omitted (KMIP 2.0 §6.1.27): an
	// archived object is returned only if StorageArchival is set, a
	// destroyed one only if StorageDestroyed is set.
	Storage StorageStatus

	// Offset matching objects are skipped, then at most MaxItems are
	// returned (zero: no limit). KMIP 1.4 §4.9 Offset Items, Maximum Items.
	Offset, MaxItems int

	// OldestFirst returns matches in creation order; by default the newest
	// come first. KMIP leaves the order to the server (1.4 §4.9); the
	// OASIS test cases of KMIP 1.3 expect the oldest first, those of 1.4
	// and 2.0 the newest (TC-OFFSET-1-13 against TC-OFFSET-1-14).
	OldestFirst bool
}

// Filter is one attribute condition of a Query, on the attribute called
// Name (as in kmip.Attribute.Name; "Object Type", "State" and "Unique
// Identifier" test the Object's own fields). An object matches if any
// instance of the attribute does. The condition is one of:
//
//   - Value set: the instance equals Value, whatever Value's tag. Following
//     KMIP 2.0 §6.1.27, a Structure matches if every field given is present
//     and matches (a Link with only the Linked Object Identifier matches
//     any Link Type), and a Cryptographic Usage Mask matches if it has every
//     bit of Value set. A Date-Time and a Date-Time Extended compare as
//     instants. For "Name", a Text String Value is compared to the Name
//     Value.
//   - Value zero, From or To set: a Date-Time instance lies in [From, To],
//     both ends included; a zero end is unbounded (§6.1.27 date ranges).
//   - neither: the attribute is present.
type Filter struct {
	Name     string
	Value    ttlv.Value
	From, To time.Time
}

// Equals is a Filter matching the attribute's value.
func Equals(name string, v ttlv.Value) Filter { return Filter{Name: name, Value: v} }

// Between is a Filter matching a date attribute within [from, to].
func Between(name string, from, to time.Time) Filter {
	return Filter{Name: name, From: from, To: to}
}

func (f Filter) isRange() bool { return f.Value.IsZero() && (!f.From.IsZero() || !f.To.IsZero()) }

func (f Filter) isPresence() bool { return f.Value.IsZero() && f.From.IsZero() && f.To.IsZero() }
