package service

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/kmipd/kmipd/audit"
	"github.com/kmipd/kmipd/hsmbackend/hsmtest"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// openTestAudit opens an audit log in a fresh directory and returns it
// with its path and key; it is closed when the test ends.
func openTestAudit(t *testing.T) (*audit.Logger, string, []byte) {
	t.Helper()
	dir := t.TempDir()
	key, err := audit.GenerateKeyFile(filepath.Join(dir, "audit.key"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "audit.log")
	sink, err := audit.OpenFileSink(path)
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.New(sink, key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	return l, path, key
}

// verifiedLog reads the audit log at path, checks its chain and returns it.
func verifiedLog(t *testing.T, path string, key []byte) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Verify(bytes.NewReader(raw), key); err != nil {
		t.Fatalf("audit log: %v", err)
	}
	return raw
}

// TestRecoverJournal: of the journal entries a crash left in the store,
// RecoverJournal turns into records those whose records are not in the
// audit log, leaves the others alone, and empties the journal; the chain
// stays whole.
func TestRecoverJournal(t *testing.T) {
	ctx := context.Background()
	st, _ := openTestStore(t)
	al, path, key := openTestAudit(t)
	entry := func(subject, id string) []byte {
		b, err := json.Marshal(journalEntry{Subject: subject, Operation: "Create", Written: []string{id}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	newKey := func(id string) *objects.Object {
		return &objects.Object{ID: id, ObjectType: kmip.ObjectTypeSecretData, State: kmip.StatePreActive}
	}
	// "lost": a change stored whose record never reached the log.
	if err := st.Create(objects.WithJournal(ctx, "j-lost", entry("alice", "k-lost")), newKey("k-lost")); err != nil {
		t.Fatal(err)
	}
	// "kept": a change whose record is in the log (its entry not yet pruned).
	if err := st.Create(objects.WithJournal(ctx, "j-kept", entry("bob", "k-kept")), newKey("k-kept")); err != nil {
		t.Fatal(err)
	}
	if err := al.Record(ctx, audit.Event{Subject: "bob", Operation: "Create", ObjectID: "k-kept", Result: "Success",
		Fields: map[string]string{"journal": "j-kept"}}, audit.Synced); err != nil {
		t.Fatal(err)
	}

	svc := New(WithStore(st), WithAudit(al))
	n, err := svc.RecoverJournal(ctx)
	if err != nil || n != 1 {
		t.Fatalf("RecoverJournal: %d records, %v; want 1, nil", n, err)
	}
	raw := verifiedLog(t, path, key)
	lines := bytes.Split(bytes.TrimSpace(raw), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("%d records, want 2:\n%s", len(lines), raw)
	}
	for _, want := range []string{`"subject":"alice"`, `"result":"Unknown"`, `"journal":"j-lost"`,
		`"objects_written":"k-lost"`, `"recovered":"write journal"`} {
		if !bytes.Contains(lines[1], []byte(want)) {
			t.Errorf("recovered record lacks %s:\n%s", want, lines[1])
		}
	}
	if left, err := st.Journal(ctx); err != nil || len(left) != 0 {
		t.Errorf("journal after recovery: %v, %v; want empty", left, err)
	}
	// Nothing left: a second run writes nothing.
	if n, err := svc.RecoverJournal(ctx); n != 0 || err != nil {
		t.Errorf("second RecoverJournal: %d, %v", n, err)
	}
}

// TestJournalPruned: a Create's entry stays in the store until its record
// is synced; Close prunes it, and its record is in the log.
func TestJournalPruned(t *testing.T) {
	ctx := context.Background()
	st, _ := openTestStore(t)
	al, path, key := openTestAudit(t)
	svc := New(WithStore(st), WithHSM(hsmtest.New(t)), WithAudit(al))
	created, err := svc.ServeKMIP(ctx, &kmip.Request{Version: kmip.V1_4, Operation: kmip.OperationCreate,
		Payload: ttlv.Struct(kmip.TagRequestPayload, creationOT(kmip.ObjectTypeSymmetricKey),
			creationTemplate(kmip.V1_4, creationAlg(kmip.CryptographicAlgorithmAES), creationLen(256),
				creationMask(kmip.CryptographicUsageMaskEncrypt)))})
	if err != nil {
		t.Fatal(err)
	}
	id := creationID(t, created)
	entries, err := st.Journal(ctx)
	if err != nil || len(entries) != 1 || !bytes.Contains(entries[0].Entry, []byte(id)) {
		t.Fatalf("journal after Create: %v, %v; want one entry naming %s", entries, err, id)
	}
	svc.Close(ctx)
	if entries, err := st.Journal(ctx); err != nil || len(entries) != 0 {
		t.Errorf("journal after Close: %v, %v; want empty", entries, err)
	}
	raw := verifiedLog(t, path, key)
	if !bytes.Contains(raw, []byte(`"journal":"`+entries[0].ID+`"`)) || !bytes.Contains(raw, []byte(id)) {
		t.Errorf("no record of the Create naming its entry:\n%s", raw)
	}
}
