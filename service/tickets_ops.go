package service

import (
	"context"
	"time"

	"github.com/kmipd/kmipd/acl"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// The Login, Delegated Login and Logout operations (KMIP 2.0 §6.1.29,
// §6.1.12, §6.1.30), and how a request presenting a ticket is admitted
// (ticketOf, called by ServeKMIP). See tickets.go for the design.

func (s *Service) registerTicketOperations() {
	s.mux.HandleFunc(kmip.OperationLogin, s.loginOp)
	s.mux.HandleFunc(kmip.OperationDelegatedLogin, s.delegatedLoginOp)
	s.mux.HandleFunc(kmip.OperationLogout, s.logoutOp)
}

// loginOp is Login: a ticket standing for the requesting client.
func (s *Service) loginOp(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	t, err := s.parseLogin(req, false)
	if err != nil {
		return ttlv.Value{}, err
	}
	return s.issueTicket(ctx, t)
}

// delegatedLoginOp is Delegated Login: a ticket any client may present,
// standing for the requesting client within the Rights given.
func (s *Service) delegatedLoginOp(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	t, err := s.parseLogin(req, true)
	if err != nil {
		return ttlv.Value{}, err
	}
	return s.issueTicket(ctx, t)
}

func (s *Service) issueTicket(ctx context.Context, t *ticket) (ttlv.Value, error) {
	t.subject = SubjectFrom(ctx)
	value, err := s.tickets.issue(t, s.now())
	if err != nil {
		return ttlv.Value{}, err
	}
	return kmip.Payload(ttlv.Struct(kmip.TagTicket,
		ttlv.Enum(kmip.TagTicketType, uint32(kmip.TicketTypeLogin)),
		ttlv.Bytes(kmip.TagTicketValue, value))), nil
}

// parseLogin reads the payload of Login (Table 235) or, with delegated,
// Delegated Login (Table 184).
func (s *Service) parseLogin(req *kmip.Request, delegated bool) (*ticket, error) {
	t := &ticket{delegated: delegated, remaining: -1, expires: s.now().Add(defaultTicketLease)}
	haveRights := false
	for _, f := range req.Payload.Children() {
		switch f.Tag {
		case kmip.TagLeaseTime:
			expires, err := ticketExpiry(f, s.now())
			if err != nil {
				return nil, err
			}
			t.expires = expires
		case kmip.TagRequestCount:
			if f.Type != ttlv.TypeInteger || f.Int() < 0 {
				return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "Request Count must be a non-negative Integer")
			}
			// 0 sets no limit, as TC-DLOGIN-2-20 uses it.
			if f.Int() > 0 {
				t.remaining = int(f.Int())
			}
		case kmip.TagUsageLimits:
			return nil, kmip.Errorf(kmip.ResultReasonFeatureNotSupported, "Usage Limits on a ticket are not supported: use Request Count")
		case kmip.TagRights:
			if !delegated {
				return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "Rights belong to Delegated Login, not Login")
			}
			rights, err := parseRights(f)
			if err != nil {
				return nil, err
			}
			t.rights, haveRights = rights, true
		default:
			return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "unexpected %s in a %v request", kmip.TagString(f.Tag), req.Operation)
		}
	}
	if delegated && !haveRights {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "Delegated Login needs Rights (KMIP 2.0 Table 184)")
	}
	return t, nil
}

// ticketExpiry reads a Lease Time, an Interval or a Date-Time (Table 235).
// An Interval of 0 asks for no particular lease and gets the default; a
// longer one than maxTicketLease is shortened to it, as the server may
// grant less than asked.
func ticketExpiry(f ttlv.Value, now time.Time) (time.Time, error) {
	switch f.Type {
	case ttlv.TypeInterval:
		lease := time.Duration(f.Interval()) * time.Second
		if lease == 0 {
			lease = defaultTicketLease
		}
		return now.Add(min(lease, maxTicketLease)), nil
	case ttlv.TypeDateTime:
		at := f.Time()
		if !at.After(now) {
			return time.Time{}, kmip.Errorf(kmip.ResultReasonInvalidField, "the ticket's Lease Time %s is already past", at.UTC().Format(time.RFC3339))
		}
		return minTime(at, now.Add(maxTicketLease)), nil
	default:
		return time.Time{}, kmip.Errorf(kmip.ResultReasonInvalidField, "Lease Time must be an Interval or a Date-Time")
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// parseRights reads a Rights structure: one or more Right (KMIP 2.0 §7.28),
// each restricting what it omits nothing of.
func parseRights(v ttlv.Value) ([]ticketRight, error) {
	if v.Type != ttlv.TypeStructure {
		return nil, crFieldType(v)
	}
	var out []ticketRight
	for _, rv := range v.Children() {
		if rv.Tag != kmip.TagRight || rv.Type != ttlv.TypeStructure {
			return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "Rights holds a %s, not a Right", kmip.TagString(rv.Tag))
		}
		if len(out) == maxTicketRights {
			return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "more than %d Rights", maxTicketRights)
		}
		r, err := parseRight(rv)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "Rights holds no Right")
	}
	return out, nil
}

func parseRight(v ttlv.Value) (ticketRight, error) {
	var r ticketRight
	for _, f := range v.Children() {
		if f.Type != ttlv.TypeStructure {
			return r, crFieldType(f)
		}
		if len(f.Children()) > maxRightItems {
			return r, kmip.Errorf(kmip.ResultReasonInvalidField, "a Right lists more than %d items", maxRightItems)
		}
		switch f.Tag {
		case kmip.TagOperations:
			r.operations = []kmip.Operation{}
			for _, op := range f.Children() {
				if op.Tag != kmip.TagOperation || op.Type != ttlv.TypeEnumeration {
					return r, kmip.Errorf(kmip.ResultReasonInvalidField, "Operations holds a %s, not an Operation", kmip.TagString(op.Tag))
				}
				r.operations = append(r.operations, kmip.Operation(op.Enum()))
			}
		case kmip.TagObjects:
			r.objects = []string{}
			for _, id := range f.Children() {
				if id.Tag != kmip.TagUniqueIdentifier || id.Type != ttlv.TypeTextString {
					return r, kmip.Errorf(kmip.ResultReasonInvalidField, "Objects holds a %s, not a Unique Identifier text", kmip.TagString(id.Tag))
				}
				r.objects = append(r.objects, id.Text())
			}
		case kmip.TagUsageLimits:
			return r, kmip.Errorf(kmip.ResultReasonFeatureNotSupported, "Usage Limits in a Right are not supported: use the ticket's Request Count")
		default:
			return r, kmip.Errorf(kmip.ResultReasonInvalidField, "unexpected %s in a Right", kmip.TagString(f.Tag))
		}
	}
	return r, nil
}

// logoutOp is Logout: the ticket in the payload ends.
func (s *Service) logoutOp(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	tv, ok := req.Payload.Child(kmip.TagTicket)
	if !ok {
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonInvalidField, "Logout needs the Ticket to end")
	}
	value, err := ticketValue(tv)
	if err != nil {
		return ttlv.Value{}, err
	}
	if err := s.tickets.revoke(value, SubjectFrom(ctx), s.now()); err != nil {
		return ttlv.Value{}, err
	}
	return kmip.Payload(), nil
}

// ticketValue returns the value of a Ticket structure (KMIP 2.0 §7.33).
func ticketValue(t ttlv.Value) ([]byte, error) {
	typ, ok1 := t.Child(kmip.TagTicketType)
	val, ok2 := t.Child(kmip.TagTicketValue)
	switch {
	case t.Type != ttlv.TypeStructure || !ok1 || !ok2 || typ.Type != ttlv.TypeEnumeration || val.Type != ttlv.TypeByteString:
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "a Ticket needs a Ticket Type enumeration and a Ticket Value byte string")
	case kmip.TicketType(typ.Enum()) != kmip.TicketTypeLogin:
		return nil, kmip.Errorf(kmip.ResultReasonInvalidTicket, "Ticket Type %d is not one kmipd issues", typ.Enum())
	}
	return val.Bytes(), nil
}

// ticketOf admits a request that presents a ticket in its header's
// Authentication (KMIP 2.0 §2.1.2, Credential Type Ticket): it returns the
// ticket, or nil when the request presents none, and the error to answer
// with when the ticket is not accepted. Other credential types are not
// checked: TLS client certificates authenticate kmipd's clients.
func (s *Service) ticketOf(req *kmip.Request, presenter acl.Subject) (*ticket, ticketDigest, error) {
	if req.Header == nil || req.Header.Authentication.IsZero() || !req.Version.Is2x() {
		return nil, ticketDigest{}, nil
	}
	for _, c := range req.Header.Authentication.All(kmip.TagCredential) {
		ct, ok := c.Child(kmip.TagCredentialType)
		if !ok || ct.Type != ttlv.TypeEnumeration || kmip.CredentialType(ct.Enum()) != kmip.CredentialTypeTicket {
			continue
		}
		cv, _ := c.Child(kmip.TagCredentialValue)
		tv, ok := cv.Child(kmip.TagTicket)
		if !ok {
			return nil, ticketDigest{}, kmip.Errorf(kmip.ResultReasonInvalidTicket, "a Ticket credential without a Ticket")
		}
		value, err := ticketValue(tv)
		if err != nil {
			return nil, ticketDigest{}, kmip.Errorf(kmip.ResultReasonInvalidTicket, "%v", err)
		}
		return s.tickets.use(value, presenter, req.Header.ServerCorrelationValue, s.now())
	}
	return nil, ticketDigest{}, nil
}

// uniqueIdentifierOf is the object a request names, "" when none.
func uniqueIdentifierOf(req *kmip.Request) string {
	id, _ := req.UniqueIdentifier()
	return id
}
