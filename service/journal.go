package service

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kmipd/kmipd/audit"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
)

// The write journal keeps the audit trail of changes whole without an
// fsync of the audit log per change (AuditSyncWrites).
//
// Every store write of a request carries a journal entry that describes
// the request (objects.WithJournal), so the store's own commit makes the
// entry durable together with the change, and only with it. The request's
// audit record then needs only to be written (audit.Written) before the
// response, not fsynced: if the machine loses power before the audit log
// is synced, the next start finds the entry and writes the record from it
// (RecoverJournal). Entries whose records are synced are deleted in the
// background, about once a second (pruneJournal).
//
// This is stronger than fsyncing the record after the store's commit,
// which a crash between the two left without a record; and it spares each
// write request an fsync, which was most of a Create's wait after the
// store's own commit.

// journalPruneInterval is how often entries whose records were written are
// synced and deleted.
const journalPruneInterval = time.Second

// recoverScanBytes bounds how much of the audit log's tail RecoverJournal
// reads to find the records of entries that were not deleted yet. Entries
// live about journalPruneInterval after their records are written, so the
// records to look for are in the last second or two of the log.
const recoverScanBytes = 64 << 20

// writeJournal is the service's side of the journal.
type writeJournal struct {
	prefix string // random per process, so IDs never repeat across restarts
	next   atomic.Uint64
	now    func() time.Time

	mu       sync.Mutex
	recorded []string // entries whose audit records are written, to delete
	running  bool     // pruneLoop runs
	stopped  bool     // stopJournal was called

	stop chan struct{} // closed by stopJournal to end pruneLoop
	done chan struct{} // closed when pruneLoop returns
}

func newWriteJournal(now func() time.Time) *writeJournal {
	var r [8]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read does not fail (Go 1.24+)
	// Time first, so that IDs sort in the order entries were made.
	return &writeJournal{
		prefix: fmt.Sprintf("%016x-%s-", time.Now().UnixNano(), hex.EncodeToString(r[:])),
		now:    now,
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
}

func (j *writeJournal) newID() string {
	return fmt.Sprintf("%s%016x", j.prefix, j.next.Add(1))
}

// journalEntry is what an entry says of its request: the audit record's
// fields known before the request ends, and the objects it wrote.
type journalEntry struct {
	Time      time.Time `json:"time"`
	RequestID string    `json:"request_id,omitempty"`
	Subject   string    `json:"subject,omitempty"`
	Tenant    string    `json:"tenant,omitempty"`
	Operation string    `json:"operation,omitempty"`
	ObjectID  string    `json:"object_id,omitempty"`
	Remote    string    `json:"remote,omitempty"`
	Written   []string  `json:"written,omitempty"`
}

// journalContext returns ctx carrying the journal entry of ctx's request,
// with ids among the objects it wrote, when the service journals; else
// ctx. writeTrackingStore calls it before every write.
func journalContext(ctx context.Context, ids ...string) context.Context {
	w := effectsOf(ctx)
	if w == nil || w.journal == nil {
		return ctx
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.journalID == "" {
		w.journalID = w.journal.newID()
		w.entry = journalEntry{
			Time:      w.journal.now(),
			RequestID: requestID(w.req),
			Subject:   w.sub.Name,
			Tenant:    w.sub.Tenant,
			Operation: w.req.Operation.String(),
			ObjectID:  uniqueIdentifierOf(w.req),
		}
		if info := kmip.ConnInfoFrom(ctx); info != nil && info.RemoteAddr != nil {
			w.entry.Remote = info.RemoteAddr.String()
		}
	}
	for _, id := range ids {
		if !slices.Contains(w.entry.Written, id) {
			w.entry.Written = append(w.entry.Written, id)
		}
	}
	entry, err := json.Marshal(&w.entry)
	if err != nil { // strings, a time and a slice: cannot fail
		panic(err)
	}
	return objects.WithJournal(ctx, w.journalID, entry)
}

// journalRecorded notes that the audit record of entry id is written, so
// that the next prune deletes the entry once the log is synced. The first
// call starts the pruning.
func (s *Service) journalRecorded(id string) {
	j := s.journal
	j.mu.Lock()
	j.recorded = append(j.recorded, id)
	start := !j.running && !j.stopped
	j.running = j.running || start
	j.mu.Unlock()
	if start {
		go s.pruneLoop()
	}
}

func (s *Service) pruneLoop() {
	defer close(s.journal.done)
	tick := time.NewTicker(journalPruneInterval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			s.pruneJournal(context.Background())
		case <-s.journal.stop:
			s.pruneJournal(context.Background())
			return
		}
	}
}

// pruneJournal syncs the audit log, which makes every record written so far
// durable, and then deletes the entries of the records that were written
// before it. On failure the entries stay for the next try (or for
// RecoverJournal): an entry too many costs a duplicate record at worst.
func (s *Service) pruneJournal(ctx context.Context) {
	j := s.journal
	j.mu.Lock()
	ids := j.recorded
	j.recorded = nil
	j.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	err := s.audit.Sync()
	if err == nil {
		err = s.store.DeleteJournal(ctx, ids)
	}
	if err != nil {
		s.log.Warn("write journal: entries kept for the next try", "entries", len(ids), "error", err)
		j.mu.Lock()
		j.recorded = append(ids, j.recorded...)
		j.mu.Unlock()
	}
}

// stopJournal prunes a last time and stops the pruning. Entries of
// requests still running stay for RecoverJournal.
func (s *Service) stopJournal() {
	j := s.journal
	if j == nil {
		return
	}
	j.mu.Lock()
	if j.stopped {
		j.mu.Unlock()
		return
	}
	j.stopped = true
	running := j.running
	j.mu.Unlock()
	if running {
		close(j.stop)
		<-j.done
		return
	}
	s.pruneJournal(context.Background())
}

// RecoverJournal writes the audit records that a crash lost: for every
// journal entry left in the store whose record is not in the last
// recoverScanBytes of the audit log, a record made from the entry, with
// result "Unknown" (the change is stored; whether the client heard of it
// is not known) and fields journal=<id>, recovered="write journal". It
// then deletes the entries. Call it once after New, before serving, and
// only with a store no other server is using. It returns how many records
// it wrote.
func (s *Service) RecoverJournal(ctx context.Context) (int, error) {
	if s.store == nil || s.audit == nil {
		return 0, nil
	}
	entries, err := s.store.Journal(ctx)
	if err != nil || len(entries) == 0 {
		return 0, err
	}
	var tail []byte
	if r, ok := s.audit.(interface {
		RecentRecords(maxBytes int64) ([]byte, error)
	}); ok {
		if tail, err = r.RecentRecords(recoverScanBytes); err != nil {
			return 0, fmt.Errorf("write journal: read the audit log: %w", err)
		}
	}
	n := 0
	ids := make([]string, 0, len(entries))
	for _, e := range entries {
		ids = append(ids, e.ID)
		// The record carries the ID as a JSON string (field "journal").
		if bytes.Contains(tail, []byte(`"`+e.ID+`"`)) {
			continue
		}
		var je journalEntry
		if err := json.Unmarshal(e.Entry, &je); err != nil {
			je = journalEntry{Time: s.now()}
			s.log.Error("write journal: unreadable entry; recording it as such", "entry", e.ID, "error", err)
		}
		ev := audit.Event{
			Time: je.Time, RequestID: je.RequestID, Subject: je.Subject, Tenant: je.Tenant,
			Operation: je.Operation, ObjectID: je.ObjectID, Remote: je.Remote,
			Result: "Unknown",
			Reason: "recovered from the write journal: the change is stored, its record was lost in a crash",
			Fields: map[string]string{"journal": e.ID, "recovered": "write journal"},
		}
		if len(je.Written) > 0 {
			ev.Fields["objects_written"] = strings.Join(je.Written, ",")
		}
		if err := s.audit.Record(ctx, ev, audit.Synced); err != nil {
			return n, fmt.Errorf("write journal: record entry %s: %w", e.ID, err)
		}
		n++
	}
	if err := s.store.DeleteJournal(ctx, ids); err != nil {
		return n, fmt.Errorf("write journal: %w", err)
	}
	return n, nil
}
