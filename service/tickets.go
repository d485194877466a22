package service

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"sync"
	"time"

	"github.com/kmipd/kmipd/acl"
	"github.com/kmipd/kmipd/kmip"
)

// Tickets: short-lived credentials a client obtains with Login or Delegated
// Login (KMIP 2.0 §6.1.29, §6.1.12) and presents in the Authentication of
// later request headers (Credential Type Ticket, §2.1.2), until the lease
// ends, its Request Count is spent, or Logout (§6.1.30) ends it.
//
// A ticket is a bearer secret: 32 random bytes. The server keeps only the
// SHA-256 of each, so comparing a presented value is a map lookup on its
// digest, which reveals nothing of the stored values through timing, and a
// memory dump of the server holds no usable ticket.
//
// Who a ticket speaks for:
//   - A Login ticket stands for the client that logged in and is accepted
//     only from that same client (same TLS subject and tenant): a ticket
//     stolen from one connection cannot be used by another client.
//   - A Delegated Login ticket is meant to be handed to someone else: any
//     client the TLS layer admits may present it, and its requests run as
//     the client that delegated, limited to the ticket's Rights. The access
//     policy still applies to that client, so a delegation can only narrow
//     what it may do, never widen it.
//
// Tickets live in memory: a restart ends them all, which the clients see
// as Invalid Ticket and answer by logging in again. The store is bounded.

const (
	// ticketBytes is the length of a ticket value.
	ticketBytes = 32
	// defaultTicketLease is the lease of a ticket whose Login asks for
	// none, or for 0.
	defaultTicketLease = time.Hour
	// maxTicketLease caps the lease a Login may ask for.
	maxTicketLease = 24 * time.Hour
	// maxTickets bounds the live tickets; a Login beyond it is refused
	// until leases end or clients log out.
	maxTickets = 100_000
	// maxTicketRights and maxRightItems bound a Delegated Login's Rights.
	maxTicketRights = 64
	maxRightItems   = 1024
)

// ticketDigest identifies a ticket without being it.
type ticketDigest [sha256.Size]byte

// String is the short form of the digest the audit log records.
func (d ticketDigest) String() string { return hex.EncodeToString(d[:8]) }

// ticketRight is one Right of a delegated ticket (KMIP 2.0 §7.28): nil
// Operations or Objects leave that aspect unrestricted.
type ticketRight struct {
	operations []kmip.Operation
	objects    []string
}

// permits reports whether the right allows op on the object named id
// (empty when the request names none).
func (r ticketRight) permits(op kmip.Operation, id string) bool {
	if r.operations != nil && !slices.Contains(r.operations, op) {
		return false
	}
	return r.objects == nil || (id != "" && slices.Contains(r.objects, id))
}

// ticket is a live ticket. subject, delegated, rights and expires never
// change after issue; remaining and lastMessage are guarded by the store.
type ticket struct {
	subject   acl.Subject
	delegated bool
	rights    []ticketRight
	expires   time.Time

	remaining   int    // requests left, or -1 for no limit
	lastMessage string // the request message last counted
}

// permits reports whether the ticket's Rights allow op on id. A Login
// ticket has no Rights and allows what its subject may do.
func (t *ticket) permits(op kmip.Operation, id string) bool {
	if !t.delegated {
		return true
	}
	for _, r := range t.rights {
		if r.permits(op, id) {
			return true
		}
	}
	return false
}

// ticketStore holds the live tickets by digest.
type ticketStore struct {
	mu     sync.Mutex
	live   map[ticketDigest]*ticket
	limit  int                       // maxTickets; tests lower it
	random func([]byte) (int, error) // crypto/rand.Read; tests may replace it
}

func newTicketStore() *ticketStore {
	return &ticketStore{live: map[ticketDigest]*ticket{}, limit: maxTickets, random: rand.Read}
}

// issue records t and returns its value, which the caller hands to the
// client and keeps nowhere.
func (ts *ticketStore) issue(t *ticket, now time.Time) ([]byte, error) {
	value := make([]byte, ticketBytes)
	if _, err := ts.random(value); err != nil {
		return nil, kmip.Errorf(kmip.ResultReasonGeneralFailure, "no randomness for a ticket")
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if len(ts.live) >= ts.limit {
		ts.dropExpiredLocked(now)
		if len(ts.live) >= ts.limit {
			return nil, kmip.Errorf(kmip.ResultReasonPermissionDenied, "the server holds %d live tickets, its limit: log out unused ones or wait for their leases to end", ts.limit)
		}
	}
	ts.live[sha256.Sum256(value)] = t
	return value, nil
}

// use checks a presented ticket value for a request message and counts the
// message against the ticket's Request Count. presenter is the client the
// TLS layer authenticated; message identifies the request message (its
// Server Correlation Value), so that the items of one batch count once.
func (ts *ticketStore) use(value []byte, presenter acl.Subject, message string, now time.Time) (*ticket, ticketDigest, error) {
	d := sha256.Sum256(value)
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t, ok := ts.live[d]
	switch {
	case !ok:
		return nil, d, kmip.Errorf(kmip.ResultReasonInvalidTicket, "the ticket is not valid: it was never issued, has been logged out, or the server restarted; log in again")
	case !now.Before(t.expires):
		delete(ts.live, d)
		return nil, d, kmip.Errorf(kmip.ResultReasonInvalidTicket, "the ticket's lease ended at %s; log in again", t.expires.UTC().Format(time.RFC3339))
	case !t.delegated && !sameClient(t.subject, presenter):
		return nil, d, kmip.Errorf(kmip.ResultReasonInvalidTicket, "the ticket was issued to another client")
	}
	if message == "" || message != t.lastMessage {
		if t.remaining == 0 {
			return nil, d, kmip.Errorf(kmip.ResultReasonUsageLimitExceeded, "the ticket's Request Count is spent; log in again")
		}
		if t.remaining > 0 {
			t.remaining--
		}
		t.lastMessage = message
	}
	return t, d, nil
}

// revoke ends the ticket whose value is given, for Logout. Only the client
// the ticket stands for may end it.
func (ts *ticketStore) revoke(value []byte, by acl.Subject, now time.Time) error {
	d := sha256.Sum256(value)
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t, ok := ts.live[d]
	if !ok || !now.Before(t.expires) {
		delete(ts.live, d)
		return kmip.Errorf(kmip.ResultReasonInvalidTicket, "the ticket is not valid: it was never issued, has been logged out or its lease ended")
	}
	if !sameClient(t.subject, by) {
		return kmip.Errorf(kmip.ResultReasonPermissionDenied, "the ticket was issued to another client, which alone may log it out")
	}
	delete(ts.live, d)
	return nil
}

// dropExpiredLocked forgets the tickets whose lease has ended.
func (ts *ticketStore) dropExpiredLocked(now time.Time) {
	for d, t := range ts.live {
		if !now.Before(t.expires) {
			delete(ts.live, d)
		}
	}
}

// sameClient reports whether a and b are the same client to the access
// policy: the same name in the same tenant.
func sameClient(a, b acl.Subject) bool {
	return a.Name == b.Name && a.Tenant == b.Tenant
}
