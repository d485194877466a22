package service

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kmipd/kmipd/acl"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// Tests of Login, Delegated Login and Logout, and of requests presenting
// tickets (tickets.go, tickets_ops.go).

// ticketClient is a client of a ticket test: its TLS identity.
func ticketClient(name, tenant string) context.Context {
	cert := &x509.Certificate{Subject: pkix.Name{CommonName: name, OrganizationalUnit: []string{tenant}}}
	return kmip.WithConnInfo(context.Background(), &kmip.ConnInfo{PeerCertificates: []*x509.Certificate{cert}})
}

// ticketEnv serves requests as different clients, each message with its
// own Server Correlation Value.
type ticketEnv struct {
	svc     *Service
	clock   time.Time
	rec     *auditRecorder
	message int
}

func newTicketEnv() *ticketEnv {
	e := &ticketEnv{clock: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC), rec: &auditRecorder{}}
	e.svc = New(WithAudit(e.rec), WithClock(func() time.Time { return e.clock }))
	return e
}

// call sends one 2.0 message of one item as client ctx, presenting ticket
// unless it is nil.
func (e *ticketEnv) call(ctx context.Context, ticket []byte, op kmip.Operation, fields ...ttlv.Value) (ttlv.Value, error) {
	e.message++
	h := &kmip.RequestHeader{ServerCorrelationValue: fmt.Sprintf("msg-%d", e.message)}
	if ticket != nil {
		h.Authentication = ttlv.Struct(kmip.TagAuthentication, ttlv.Struct(kmip.TagCredential,
			ttlv.Enum(kmip.TagCredentialType, uint32(kmip.CredentialTypeTicket)),
			ttlv.Struct(kmip.TagCredentialValue, ticketStruct(ticket))))
	}
	return e.svc.ServeKMIP(ctx, &kmip.Request{Version: kmip.V2_0, Header: h, Operation: op, Payload: kmip.Payload(fields...)})
}

func ticketStruct(value []byte) ttlv.Value {
	return ttlv.Struct(kmip.TagTicket,
		ttlv.Enum(kmip.TagTicketType, uint32(kmip.TicketTypeLogin)),
		ttlv.Bytes(kmip.TagTicketValue, value))
}

// login runs Login (or Delegated Login when fields carry Rights) and
// returns the ticket value.
func (e *ticketEnv) login(t *testing.T, ctx context.Context, op kmip.Operation, fields ...ttlv.Value) []byte {
	t.Helper()
	p, err := e.call(ctx, nil, op, fields...)
	if err != nil {
		t.Fatalf("%v: %v", op, err)
	}
	tv, _ := p.Child(kmip.TagTicket)
	v, err := ticketValue(tv)
	if err != nil || len(v) != ticketBytes {
		t.Fatalf("%v answered ticket %v (%v)", op, tv, err)
	}
	return v
}

var queryOps = ttlv.Enum(kmip.TagQueryFunction, uint32(kmip.QueryFunctionQueryOperations))

func wantReason(t *testing.T, err error, want kmip.ResultReason) {
	t.Helper()
	if want == 0 {
		if err != nil {
			t.Fatalf("error %v, want success", err)
		}
		return
	}
	creationReason(t, err, want)
}

func TestLoginTicket(t *testing.T) {
	alice, bob := ticketClient("alice", "t1"), ticketClient("bob", "t1")
	count := func(n int32) ttlv.Value { return ttlv.Int(kmip.TagRequestCount, n) }
	lease := func(s uint32) ttlv.Value { return ttlv.Interval(kmip.TagLeaseTime, s) }
	type step struct {
		ctx     context.Context
		advance time.Duration
		logout  bool
		want    kmip.ResultReason
	}
	tests := []struct {
		name  string
		login []ttlv.Value
		steps []step
	}{
		// TC-LOGIN-3-20: a Request Count of 2 allows two requests.
		{"request count", []ttlv.Value{lease(0), count(2)}, []step{
			{ctx: alice}, {ctx: alice}, {ctx: alice, want: kmip.ResultReasonUsageLimitExceeded},
		}},
		{"no count: no limit", nil, []step{{ctx: alice}, {ctx: alice}, {ctx: alice}, {ctx: alice}}},
		// TC-DLOGIN-2-20 asks for a Request Count of 0.
		{"count 0: no limit", []ttlv.Value{count(0)}, []step{{ctx: alice}, {ctx: alice}, {ctx: alice}}},
		// A Login ticket is only the client's own.
		{"other client", nil, []step{{ctx: bob, want: kmip.ResultReasonInvalidTicket}, {ctx: alice}}},
		{"same name, other tenant", nil, []step{{ctx: ticketClient("alice", "t2"), want: kmip.ResultReasonInvalidTicket}}},
		{"lease ends", []ttlv.Value{lease(60)}, []step{
			{ctx: alice, advance: 59 * time.Second}, {ctx: alice, advance: time.Second, want: kmip.ResultReasonInvalidTicket},
		}},
		{"lease 0 is the default lease", []ttlv.Value{lease(0)}, []step{
			{ctx: alice, advance: defaultTicketLease - time.Second}, {ctx: alice, advance: time.Second, want: kmip.ResultReasonInvalidTicket},
		}},
		{"lease capped", []ttlv.Value{lease(uint32((48 * time.Hour).Seconds()))}, []step{
			{ctx: alice, advance: maxTicketLease, want: kmip.ResultReasonInvalidTicket},
		}},
		// TC-LOGIN-2-20.
		{"logout", nil, []step{{ctx: alice}, {ctx: alice, logout: true}, {ctx: alice, want: kmip.ResultReasonInvalidTicket}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTicketEnv()
			tk := e.login(t, alice, kmip.OperationLogin, tt.login...)
			for i, st := range tt.steps {
				e.clock = e.clock.Add(st.advance)
				var err error
				if st.logout {
					_, err = e.call(st.ctx, tk, kmip.OperationLogout, ticketStruct(tk))
				} else {
					_, err = e.call(st.ctx, tk, kmip.OperationQuery, queryOps)
				}
				t.Run(fmt.Sprint("step ", i), func(t *testing.T) { wantReason(t, err, st.want) })
			}
		})
	}
}

// TestTicketCountsMessages: the items of one batch are one request.
func TestTicketCountsMessages(t *testing.T) {
	e := newTicketEnv()
	alice := ticketClient("alice", "t1")
	tk := e.login(t, alice, kmip.OperationLogin, ttlv.Int(kmip.TagRequestCount, 1))
	h := &kmip.RequestHeader{ServerCorrelationValue: "one-message",
		Authentication: ttlv.Struct(kmip.TagAuthentication, ttlv.Struct(kmip.TagCredential,
			ttlv.Enum(kmip.TagCredentialType, uint32(kmip.CredentialTypeTicket)),
			ttlv.Struct(kmip.TagCredentialValue, ticketStruct(tk))))}
	for i := range 3 {
		if _, err := e.svc.ServeKMIP(alice, &kmip.Request{Version: kmip.V2_0, Header: h, Operation: kmip.OperationQuery, Payload: kmip.Payload(queryOps)}); err != nil {
			t.Fatalf("item %d of the message: %v", i, err)
		}
	}
	_, err := e.call(alice, tk, kmip.OperationQuery, queryOps)
	creationReason(t, err, kmip.ResultReasonUsageLimitExceeded)
}

func TestDelegatedTicketRights(t *testing.T) {
	alice, carol := ticketClient("alice", "t1"), ticketClient("carol", "t1")
	ops := func(o ...kmip.Operation) ttlv.Value {
		var v []ttlv.Value
		for _, op := range o {
			v = append(v, ttlv.Enum(kmip.TagOperation, uint32(op)))
		}
		return ttlv.Struct(kmip.TagOperations, v...)
	}
	objs := func(ids ...string) ttlv.Value {
		var v []ttlv.Value
		for _, id := range ids {
			v = append(v, ttlv.Text(kmip.TagUniqueIdentifier, id))
		}
		return ttlv.Struct(kmip.TagObjects, v...)
	}
	// As TC-DLOGIN-2-20: Query anywhere, Get Attributes of one object.
	rights := ttlv.Struct(kmip.TagRights,
		ttlv.Struct(kmip.TagRight, ops(kmip.OperationQuery, kmip.OperationInterop)),
		ttlv.Struct(kmip.TagRight, ops(kmip.OperationGetAttributes), objs("key-0")))
	id := func(s string) ttlv.Value { return ttlv.Text(kmip.TagUniqueIdentifier, s) }
	tests := []struct {
		name   string
		ctx    context.Context
		op     kmip.Operation
		fields []ttlv.Value
		want   kmip.ResultReason
	}{
		{"query", carol, kmip.OperationQuery, []ttlv.Value{queryOps}, 0},
		{"query by the delegating client", alice, kmip.OperationQuery, []ttlv.Value{queryOps}, 0},
		// Allowed by the Right; the object does not exist here.
		{"get attributes of the object", carol, kmip.OperationGetAttributes, []ttlv.Value{id("key-0")}, kmip.ResultReasonOperationNotSupported},
		{"get attributes of another object", carol, kmip.OperationGetAttributes, []ttlv.Value{id("key-1")}, kmip.ResultReasonNotAuthorised},
		{"get attributes naming no object", carol, kmip.OperationGetAttributes, nil, kmip.ResultReasonNotAuthorised},
		{"get of the object", carol, kmip.OperationGet, []ttlv.Value{id("key-0")}, kmip.ResultReasonNotAuthorised},
		{"login", carol, kmip.OperationLogin, nil, kmip.ResultReasonNotAuthorised},
		{"logout", carol, kmip.OperationLogout, nil, kmip.ResultReasonNotAuthorised},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTicketEnv()
			tk := e.login(t, alice, kmip.OperationDelegatedLogin, rights)
			_, err := e.call(tt.ctx, tk, tt.op, tt.fields...)
			wantReason(t, err, tt.want)
			// The request ran as alice, the delegating client; the
			// record names carol when she presented the ticket, and the
			// ticket by its digest only.
			ev := e.rec.events[len(e.rec.events)-1]
			if ev.Subject != "alice" {
				t.Errorf("audited subject %q, want alice", ev.Subject)
			}
			wantPresenter := ""
			if tt.ctx == carol {
				wantPresenter = "t1/carol"
			}
			if ev.Fields["presenter"] != wantPresenter {
				t.Errorf("audited presenter %q, want %q", ev.Fields["presenter"], wantPresenter)
			}
			if ev.Fields["ticket"] == "" || strings.Contains(fmt.Sprint(ev), fmt.Sprintf("%x", tk)) || bytes.Contains([]byte(fmt.Sprint(ev)), tk) {
				t.Errorf("audit record %v: want the ticket's digest, never its value", ev.Fields)
			}
		})
	}
}

func TestLoginRefusals(t *testing.T) {
	alice := ticketClient("alice", "t1")
	right := ttlv.Struct(kmip.TagRight, ttlv.Struct(kmip.TagOperations, ttlv.Enum(kmip.TagOperation, uint32(kmip.OperationQuery))))
	tests := []struct {
		name   string
		op     kmip.Operation
		fields []ttlv.Value
		want   kmip.ResultReason
	}{
		{"negative count", kmip.OperationLogin, []ttlv.Value{ttlv.Int(kmip.TagRequestCount, -1)}, kmip.ResultReasonInvalidField},
		{"lease in the past", kmip.OperationLogin, []ttlv.Value{ttlv.DateTime(kmip.TagLeaseTime, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))}, kmip.ResultReasonInvalidField},
		{"lease of the wrong type", kmip.OperationLogin, []ttlv.Value{ttlv.Text(kmip.TagLeaseTime, "1h")}, kmip.ResultReasonInvalidField},
		{"usage limits", kmip.OperationLogin, []ttlv.Value{ttlv.Struct(kmip.TagUsageLimits)}, kmip.ResultReasonFeatureNotSupported},
		{"rights on a plain login", kmip.OperationLogin, []ttlv.Value{ttlv.Struct(kmip.TagRights, right)}, kmip.ResultReasonInvalidField},
		{"delegated without rights", kmip.OperationDelegatedLogin, nil, kmip.ResultReasonInvalidField},
		{"delegated with empty rights", kmip.OperationDelegatedLogin, []ttlv.Value{ttlv.Struct(kmip.TagRights)}, kmip.ResultReasonInvalidField},
		{"right with usage limits", kmip.OperationDelegatedLogin, []ttlv.Value{ttlv.Struct(kmip.TagRights, ttlv.Struct(kmip.TagRight, ttlv.Struct(kmip.TagUsageLimits)))}, kmip.ResultReasonFeatureNotSupported},
		{"unknown field", kmip.OperationLogin, []ttlv.Value{ttlv.Text(kmip.TagObjectGroup, "x")}, kmip.ResultReasonInvalidField},
		{"logout without ticket", kmip.OperationLogout, nil, kmip.ResultReasonInvalidField},
		{"logout of an unknown ticket", kmip.OperationLogout, []ttlv.Value{ticketStruct(make([]byte, ticketBytes))}, kmip.ResultReasonInvalidTicket},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newTicketEnv().call(alice, nil, tt.op, tt.fields...)
			creationReason(t, err, tt.want)
		})
	}
	t.Run("unknown ticket presented", func(t *testing.T) {
		_, err := newTicketEnv().call(alice, make([]byte, ticketBytes), kmip.OperationQuery, queryOps)
		creationReason(t, err, kmip.ResultReasonInvalidTicket)
	})
	t.Run("a delegated ticket cannot obtain tickets", func(t *testing.T) {
		e := newTicketEnv()
		everything := ttlv.Struct(kmip.TagRights, ttlv.Struct(kmip.TagRight)) // no restriction at all
		tk := e.login(t, alice, kmip.OperationDelegatedLogin, everything)
		carol := ticketClient("carol", "t1")
		for _, op := range []kmip.Operation{kmip.OperationLogin, kmip.OperationDelegatedLogin} {
			fields := []ttlv.Value{}
			if op == kmip.OperationDelegatedLogin {
				fields = append(fields, everything)
			}
			_, err := e.call(carol, tk, op, fields...)
			creationReason(t, err, kmip.ResultReasonNotAuthorised)
		}
		if _, err := e.call(carol, tk, kmip.OperationQuery, queryOps); err != nil {
			t.Fatalf("an unrestricted delegated ticket: %v", err)
		}
	})
	t.Run("malformed ticket is audited as such", func(t *testing.T) {
		e := newTicketEnv()
		h := &kmip.RequestHeader{ServerCorrelationValue: "m", Authentication: ttlv.Struct(kmip.TagAuthentication, ttlv.Struct(kmip.TagCredential,
			ttlv.Enum(kmip.TagCredentialType, uint32(kmip.CredentialTypeTicket)),
			ttlv.Struct(kmip.TagCredentialValue, ttlv.Struct(kmip.TagTicket))))}
		_, err := e.svc.ServeKMIP(alice, &kmip.Request{Version: kmip.V2_0, Header: h, Operation: kmip.OperationQuery, Payload: kmip.Payload(queryOps)})
		creationReason(t, err, kmip.ResultReasonInvalidTicket)
		if got := e.rec.events[len(e.rec.events)-1].Fields["ticket"]; got != "malformed" {
			t.Errorf("audited ticket %q, want malformed", got)
		}
	})
	t.Run("logout of another client's ticket", func(t *testing.T) {
		e := newTicketEnv()
		tk := e.login(t, alice, kmip.OperationLogin)
		_, err := e.call(ticketClient("bob", "t1"), nil, kmip.OperationLogout, ticketStruct(tk))
		creationReason(t, err, kmip.ResultReasonPermissionDenied)
		if _, err := e.call(alice, tk, kmip.OperationQuery, queryOps); err != nil {
			t.Fatalf("the ticket no longer works after a refused logout: %v", err)
		}
	})
}

func TestTicketStoreLimit(t *testing.T) {
	ts := newTicketStore()
	ts.limit = 2
	now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	alice := acl.Subject{Name: "alice"}
	short := func() *ticket { return &ticket{subject: alice, remaining: -1, expires: now.Add(time.Minute)} }
	for range 2 {
		if _, err := ts.issue(short(), now); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ts.issue(short(), now); err == nil {
		t.Fatal("a third ticket over a limit of two was issued")
	}
	// Once the leases end, their places are free again.
	if _, err := ts.issue(short(), now.Add(time.Minute)); err != nil {
		t.Fatalf("after the leases ended: %v", err)
	}
	ts.random = func([]byte) (int, error) { return 0, errors.New("no entropy") }
	if _, err := ts.issue(short(), now.Add(time.Minute)); err == nil {
		t.Fatal("a ticket was issued without randomness")
	}
}
