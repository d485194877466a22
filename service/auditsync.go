package service

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/kmipd/kmipd/acl"
	"github.com/kmipd/kmipd/audit"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
)

// AuditSync says which audit records are fsynced before their response.
type AuditSync int

const (
	// AuditSyncWrites writes every record to the log before the response,
	// so a crash of kmipd cannot lose it, and fsyncs it within the audit
	// log's sync delay. A power failure can lose that last window of
	// records, never one in the middle of the chain, and never the record
	// of a change to the object store: every write of a request stores, in
	// the same transaction, a journal entry describing the request, which
	// stands for its record until the log is synced and from which the
	// next start writes the records a crash lost (journal.go). So a change
	// is never durable without its record, or without what rebuilds it.
	AuditSyncWrites AuditSync = iota
	// AuditSyncAlways fsyncs every record before its response.
	AuditSyncAlways
)

// String returns the config spelling.
func (a AuditSync) String() string {
	switch a {
	case AuditSyncWrites:
		return "writes"
	case AuditSyncAlways:
		return "always"
	}
	return fmt.Sprintf("AuditSync(%d)", int(a))
}

// ParseAuditSync reads the config spelling of an AuditSync.
func ParseAuditSync(s string) (AuditSync, error) {
	switch s {
	case "writes":
		return AuditSyncWrites, nil
	case "always":
		return AuditSyncAlways, nil
	}
	return 0, fmt.Errorf("audit sync %q: want \"writes\" or \"always\"", s)
}

// WithAuditSync sets which audit records are fsynced before their response
// (default AuditSyncWrites).
func WithAuditSync(a AuditSync) Option { return func(s *Service) { s.auditSync = a } }

// requestEffects is set, through the request's context, by every write the
// request makes to the store, and collects the objects other than the one
// the request names that it read or created, so that its audit record
// names them too: the Secret Data whose password a PKCS#12 Get used, the
// key that wrapped a Get's answer, the certificates a PKCS#12 Register
// created, the public key of a Create Key Pair.
type requestEffects struct {
	wrote atomic.Bool

	mu      sync.Mutex
	read    []string // ids read besides the request's own, in order, each once
	created []string // ids created besides the one the response names first

	// journal is the service's write journal (journal.go), nil when it
	// keeps none; journalID and entry are this request's entry, the ID
	// set at its first write.
	journal   *writeJournal
	journalID string
	entry     journalEntry
	// req and sub are the request and its subject, for the entry.
	req *kmip.Request
	sub acl.Subject
}

// maxAuditedIDs bounds the ids a record lists per kind; "+N" says how many
// more there were.
const maxAuditedIDs = 16

// noteRead records that the request read object id, unless it is the one
// the request names (already the record's object_id).
func noteRead(ctx context.Context, req *kmip.Request, id string) {
	w := effectsOf(ctx)
	if w == nil {
		return
	}
	if own, _ := req.UniqueIdentifier(); own == id {
		return
	}
	w.mu.Lock()
	if !slices.Contains(w.read, id) {
		w.read = append(w.read, id)
	}
	w.mu.Unlock()
}

// noteCreated records that the request created the objects objs.
func noteCreated(ctx context.Context, objs []*objects.Object) {
	w := effectsOf(ctx)
	if w == nil || len(objs) == 0 {
		return
	}
	w.mu.Lock()
	for _, o := range objs {
		w.created = append(w.created, o.ID)
	}
	w.mu.Unlock()
}

// auditFields adds to fields (allocated if nil and needed) the objects the
// request read or created besides primary, the record's object_id:
// "objects_read" and "objects_created", comma-separated. own is the object
// the request names, which noteRead leaves out: it is read too when the
// record names another (Re-key names the new key, not the one it read).
func (w *requestEffects) auditFields(fields map[string]string, primary, own string) map[string]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	read := w.read
	if own != "" && own != primary && !slices.Contains(read, own) {
		read = append([]string{own}, read...)
	}
	add := func(key string, ids []string) {
		ids = slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return id == primary })
		if len(ids) == 0 {
			return
		}
		v := strings.Join(ids[:min(len(ids), maxAuditedIDs)], ",")
		if len(ids) > maxAuditedIDs {
			v += fmt.Sprintf(",+%d", len(ids)-maxAuditedIDs)
		}
		if fields == nil {
			fields = map[string]string{}
		}
		fields[key] = v
	}
	add("objects_read", read)
	add("objects_created", w.created)
	return fields
}

type requestEffectsKey struct{}

// journalEntryID returns the ID of the request's journal entry, or "" if
// it has none (it wrote nothing, or the service keeps no journal).
func (w *requestEffects) journalEntryID() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.journalID
}

// effectsOf returns the record of what ctx's request does, or nil.
func effectsOf(ctx context.Context) *requestEffects {
	w, _ := ctx.Value(requestEffectsKey{}).(*requestEffects)
	return w
}

// trackRequestEffects returns ctx carrying a fresh record of what its
// request does: whether it writes to the store, what else it reads and
// creates.
func trackRequestEffects(ctx context.Context, journal *writeJournal, req *kmip.Request, sub acl.Subject) (context.Context, *requestEffects) {
	w := &requestEffects{journal: journal, req: req, sub: sub}
	return context.WithValue(ctx, requestEffectsKey{}, w), w
}

// markStoreWrite records that ctx's request writes to the store. It marks
// before the write is tried: a write that fails after reaching the disk
// must not leave a record that is only written, unless its journal entry
// reached the disk with it (auditDurability).
func markStoreWrite(ctx context.Context) {
	if w := effectsOf(ctx); w != nil {
		w.wrote.Store(true)
	}
}

// writeTrackingStore is the Service's view of its store: every write marks
// the request it serves, so that the choke point knows which records to
// fsync before responding (AuditSyncWrites). Wrapping the store rather
// than listing operations keeps the rule true for operations that write
// only sometimes (Get clears Fresh, a crypto operation counts Usage Limits,
// Locate moves objects whose dates have passed).
type writeTrackingStore struct{ objects.Store }

func (t writeTrackingStore) Create(ctx context.Context, o *objects.Object) error {
	markStoreWrite(ctx)
	ctx = journalContext(ctx, o.ID)
	if err := t.Store.Create(ctx, o); err != nil {
		return err
	}
	noteCreated(ctx, []*objects.Object{o})
	return nil
}

func (t writeTrackingStore) Update(ctx context.Context, id string, fn func(o *objects.Object) error) (*objects.Object, error) {
	markStoreWrite(ctx)
	ctx = journalContext(ctx, id)
	return t.Store.Update(ctx, id, fn)
}

func (t writeTrackingStore) Apply(ctx context.Context, creates []*objects.Object, changes []objects.Change) error {
	markStoreWrite(ctx)
	if w := effectsOf(ctx); w != nil && w.journal != nil {
		ids := make([]string, 0, len(creates)+len(changes))
		for _, o := range creates {
			ids = append(ids, o.ID)
		}
		for _, c := range changes {
			ids = append(ids, c.ID)
		}
		ctx = journalContext(ctx, ids...)
	}
	if err := t.Store.Apply(ctx, creates, changes); err != nil {
		return err
	}
	noteCreated(ctx, creates)
	return nil
}

func (t writeTrackingStore) Delete(ctx context.Context, id string) error {
	markStoreWrite(ctx)
	ctx = journalContext(ctx, id)
	return t.Store.Delete(ctx, id)
}

// auditDurability is how far the record of a request must go before the
// response: see AuditSync.
//
// The record of a request whose writes carried a journal entry is only
// written: the store's commit made the entry durable, and the entry stands
// for the record until the audit log is synced (journal.go).
func (s *Service) auditDurability(w *requestEffects) audit.Durability {
	if s.auditSync == AuditSyncAlways || (w.wrote.Load() && w.journalEntryID() == "") {
		return audit.Synced
	}
	return audit.Written
}
