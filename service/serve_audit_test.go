package service

import (
	"context"
	"slices"
	"testing"

	"github.com/kmipd/kmipd/audit"
	"github.com/kmipd/kmipd/hsmbackend/hsmtest"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// auditRecorder is an Auditor that keeps what it is given.
type auditRecorder struct {
	events       []audit.Event
	durabilities []audit.Durability
}

func (r *auditRecorder) Record(_ context.Context, ev audit.Event, d audit.Durability) error {
	r.events = append(r.events, ev)
	r.durabilities = append(r.durabilities, d)
	return nil
}

// Sync has nothing to do: the records are in memory.
func (r *auditRecorder) Sync() error { return nil }

// last returns the durability of the last record.
func (r *auditRecorder) last(t *testing.T) audit.Durability {
	t.Helper()
	if len(r.durabilities) == 0 {
		t.Fatal("no audit record")
	}
	return r.durabilities[len(r.durabilities)-1]
}

// TestServeKMIPAuditsCorrelation: the choke point records every operation
// with the message's Server Correlation Value as its request_id (KMIP 1.4
// §6.19: "SHOULD be logged by the server with each request"), so a client
// holding the value finds its record.
func TestServeKMIPAuditsCorrelation(t *testing.T) {
	rec := &auditRecorder{}
	svc := New(WithAudit(rec))
	query := kmip.Payload(ttlv.Enum(kmip.TagQueryFunction, uint32(kmip.QueryFunctionQueryOperations)))
	tests := []struct {
		name   string
		header *kmip.RequestHeader
		want   string
	}{
		{"1.4 message", &kmip.RequestHeader{ServerCorrelationValue: "0a1b2c3d4e5f-7"}, "0a1b2c3d4e5f-7"},
		{"no header", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec.events = nil
			if _, err := svc.ServeKMIP(context.Background(), &kmip.Request{
				Version: kmip.V1_4, Header: tt.header, Operation: kmip.OperationQuery, Payload: query,
			}); err != nil {
				t.Fatal(err)
			}
			if len(rec.events) != 1 {
				t.Fatalf("%d audit events, want 1", len(rec.events))
			}
			ev := rec.events[0]
			if ev.RequestID != tt.want || ev.Operation != "Query" || ev.Result != "Success" {
				t.Errorf("audit event %+v, want request_id %q for a successful Query", ev, tt.want)
			}
		})
	}
}

// TestAuditDurabilityFollowsStoreWrites: under AuditSyncWrites a request
// that wrote to the store has its record written (not fsynced) and carries
// a journal entry, stored by the store's commit, whose ID the record names
// (journal.go); the record of one that wrote nothing is written, without an
// entry. This holds for requests that write only sometimes (the first Get
// of a key clears Fresh). Under AuditSyncAlways every record is fsynced
// and there is no journal.
func TestAuditDurabilityFollowsStoreWrites(t *testing.T) {
	for _, policy := range []AuditSync{AuditSyncWrites, AuditSyncAlways} {
		t.Run(policy.String(), func(t *testing.T) {
			st, _ := openTestStore(t)
			rec := &auditRecorder{}
			svc := New(WithStore(st), WithHSM(hsmtest.New(t)), WithAudit(rec), WithAuditSync(policy))
			defer svc.Close(context.Background())
			call := func(op kmip.Operation, fields ...ttlv.Value) (ttlv.Value, error) {
				return svc.ServeKMIP(context.Background(), &kmip.Request{
					Version: kmip.V1_4, Operation: op, Payload: ttlv.Struct(kmip.TagRequestPayload, fields...),
				})
			}
			want := audit.Written
			if policy == AuditSyncAlways {
				want = audit.Synced
			}
			// tried: the request tried to write; stored: it changed
			// something, so the store holds its entry.
			check := func(step string, tried, stored bool) {
				t.Helper()
				if got := rec.last(t); got != want {
					t.Errorf("%s: durability %v, want %v", step, got, want)
				}
				id := rec.events[len(rec.events)-1].Fields["journal"]
				if wantID := tried && policy == AuditSyncWrites; (id != "") != wantID {
					t.Fatalf("%s: journal %q, want one: %v", step, id, wantID)
				}
				if id == "" {
					return
				}
				entries, err := st.Journal(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if got := slices.ContainsFunc(entries, func(e objects.JournalEntry) bool { return e.ID == id }); got != stored {
					t.Errorf("%s: journal entry %s in the store: %v, want %v", step, id, got, stored)
				}
			}
			created, err := call(kmip.OperationCreate, creationOT(kmip.ObjectTypeSymmetricKey),
				creationTemplate(kmip.V1_4, creationAlg(kmip.CryptographicAlgorithmAES), creationLen(256),
					creationMask(kmip.CryptographicUsageMaskEncrypt|kmip.CryptographicUsageMaskDecrypt)))
			if err != nil {
				t.Fatal(err)
			}
			check("Create", true, true)
			uid := creationUID(creationID(t, created))
			steps := []struct {
				name   string
				op     kmip.Operation
				fields []ttlv.Value
				tried  bool
				stored bool
			}{
				{"Query writes nothing", kmip.OperationQuery, []ttlv.Value{ttlv.Enum(kmip.TagQueryFunction, uint32(kmip.QueryFunctionQueryOperations))}, false, false},
				{"first Get clears Fresh", kmip.OperationGet, []ttlv.Value{uid}, true, true},
				{"second Get writes nothing", kmip.OperationGet, []ttlv.Value{uid}, false, false},
				{"Get Attributes writes nothing", kmip.OperationGetAttributes, []ttlv.Value{uid}, false, false},
				{"Activate writes", kmip.OperationActivate, []ttlv.Value{uid}, true, true},
				// Its record names the entry its write would have stored.
				{"a refused Activate tried to write", kmip.OperationActivate, []ttlv.Value{uid}, true, false},
				{"Get of an unknown object writes nothing", kmip.OperationGet, []ttlv.Value{ttlv.Text(kmip.TagUniqueIdentifier, "no-such-object")}, false, false},
			}
			for _, step := range steps {
				call(step.op, step.fields...) //nolint:errcheck // some steps are meant to fail; the record is what is checked
				check(step.name, step.tried, step.stored)
			}
		})
	}
}

// TestAuditNamesOtherObjects: a record names, besides its object_id, the
// objects the request read or created on the way (auditsync.go).
func TestAuditNamesOtherObjects(t *testing.T) {
	ver := kmip.V2_0
	tests := []struct {
		name string
		// run returns the request's object_id and the ids expected in
		// objects_read and objects_created ("" for none).
		run func(t *testing.T, e *creationEnv) (primary, read, created string)
	}{
		{"create key pair: the public key", func(t *testing.T, e *creationEnv) (string, string, string) {
			priv, pub := ecdhCreatePair(t, e, ver, kmip.RecommendedCurveP256, kmip.CryptographicUsageMaskSign)
			return priv, "", pub
		}},
		{"get as PKCS#12: the password and the chain", func(t *testing.T, e *creationEnv) (string, string, string) {
			f := registerPKCS12Fixture(t, e, ver)
			e.get(t, ver, f.keyID, ttlv.Enum(kmip.TagKeyFormatType, uint32(kmip.KeyFormatTypePKCS12)))
			return f.keyID, f.passwordID + "," + f.leafID + "," + f.caID, ""
		}},
		{"register PKCS#12: the password, and the certificates made", func(t *testing.T, e *creationEnv) (string, string, string) {
			im := newPKCS12Import(t, pkcs12TestPassword, "")
			pw := registerPassword(t, e, ver, pkcs12TestPassword, true)
			p, err := e.registerPKCS12(ver, pkcs12KeyObject(im.container, false), attr(attrLink, attrsLink(kmip.LinkTypePKCS12PasswordLink, pw)))
			if err != nil {
				t.Fatal(err)
			}
			key := e.object(t, creationID(t, p))
			leaf := linkedIDs(key, kmip.LinkTypePKCS12CertificateLink)[0]
			ca := linkedIDs(e.object(t, leaf), kmip.LinkTypeCertificateLink)[0]
			return key.ID, pw, leaf + "," + ca
		}},
		{"re-key: the key replaced", func(t *testing.T, e *creationEnv) (string, string, string) {
			old := e.registerSymmetric(t, ver, kmip.CryptographicAlgorithmAES, make([]byte, 32))
			p := e.must(t, ver, kmip.OperationReKey, creationUID(old))
			return creationID(t, p), old, ""
		}},
		{"get: nothing else", func(t *testing.T, e *creationEnv) (string, string, string) {
			id := e.registerSymmetric(t, ver, kmip.CryptographicAlgorithmAES, make([]byte, 32))
			e.get(t, ver, id)
			return id, "", ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &auditRecorder{}
			e := newCreationEnvWith(t, WithAudit(rec))
			primary, read, created := tt.run(t, e)
			ev := rec.events[len(rec.events)-1]
			if ev.ObjectID != primary || ev.Fields["objects_read"] != read || ev.Fields["objects_created"] != created {
				t.Errorf("record names %q, read %q, created %q; want %q, %q, %q",
					ev.ObjectID, ev.Fields["objects_read"], ev.Fields["objects_created"], primary, read, created)
			}
		})
	}
}
