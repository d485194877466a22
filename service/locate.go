package service

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// Locate limits. KMIP 1.4 §4.9: without Maximum Items the server "MAY
// impose an internal maximum limit due to resource limitations". The
// result cap stays above the 65,535 that MySQL's keyring_kmip pages with.
const (
	maxLocateItems = 1 << 17 // identifiers in one response
	maxLocateScan  = 1 << 20 // matches counted for Located Items
	maxDueUpdates  = 1 << 14 // date-driven state changes applied per Locate
)

// latestDate is the first second of the year 10000. KMIP 1.4 §4.9: "If a
// Date attribute is set to its largest possible value, then it is
// equivalent to an undefined attribute"; dates from here on are read as
// that, which also keeps every date the store compares within its range.
const latestDate = 253402300800

// locateRequest is a parsed Locate request payload.
type locateRequest struct {
	query       objects.Query
	offsetGiven bool // Offset Items present: answer with Located Items
	byState     bool // a State filter: date-driven changes must be applied first
}

// locate answers Locate (KMIP 1.4 §4.9, 2.0 §6.1.27): the identifiers of
// the subject's tenant's objects matching every attribute given, after
// Offset Items and up to Maximum Items. With Offset Items the response
// carries Located Items, the count of all matches, as in the OASIS
// TC-OFFSET vectors.
//
// The spec leaves the order to the server. kmipd answers KMIP 1.4 and
// later newest first, and 1.0 to 1.3 oldest first, as the OASIS test
// cases of each version expect (TC-OFFSET-1-14 and -20 against
// TC-OFFSET-1-13): a 1.x client paging with Offset Items sees the order
// the reference server of its version gave.
func (s *Service) locate(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	lr, err := parseLocate(req)
	if err != nil {
		return ttlv.Value{}, err
	}
	lr.query.OldestFirst = !req.Version.AtLeast(kmip.V1_4)
	tenant := SubjectFrom(ctx).Tenant
	if lr.byState {
		if err := s.applyDueDates(ctx, tenant); err != nil {
			return ttlv.Value{}, err
		}
	}
	ids, total, counted, err := s.runLocate(ctx, lr.query, tenant, lr.offsetGiven)
	if err != nil {
		return ttlv.Value{}, err
	}
	out := make([]ttlv.Value, 0, len(ids)+1)
	if lr.offsetGiven && counted && req.Version.AtLeast(kmip.V1_3) {
		// Located Items is an Integer: a larger count saturates.
		located := max(min(total, math.MaxInt32), 0)
		out = append(out, ttlv.Int(kmip.TagLocatedItems, int32(located)))
	}
	for _, id := range ids {
		out = append(out, ttlv.Text(kmip.TagUniqueIdentifier, id))
	}
	return kmip.Payload(out...), nil
}

// parseLocate turns a Locate payload into a store query. Attributes come
// as 1.x Attribute structures in the payload (KMIP 1.4 Table 190), in a 1.x
// Template-Attribute (as FortiGate sends them), or as the items of a 2.x
// Attributes structure (2.0 Table 229). Attribute Indexes are ignored
// (§4.9).
func parseLocate(req *kmip.Request) (locateRequest, error) {
	var (
		lr     locateRequest
		attrs  []kmip.Attribute
		member kmip.ObjectGroupMember
	)
	invalid := func(format string, args ...any) (locateRequest, error) {
		return locateRequest{}, kmip.Errorf(kmip.ResultReasonInvalidField, format, args...)
	}
	for _, c := range req.Payload.Children() {
		switch c.Tag {
		case kmip.TagMaximumItems:
			if c.Type != ttlv.TypeInteger || c.Int() < 0 {
				return invalid("maximum items must be a non-negative integer")
			}
			lr.query.MaxItems = int(c.Int())
		case kmip.TagOffsetItems:
			if c.Type != ttlv.TypeInteger || c.Int() < 0 {
				return invalid("offset items must be a non-negative integer")
			}
			lr.query.Offset = int(c.Int())
			lr.offsetGiven = true
		case kmip.TagStorageStatusMask:
			if c.Type != ttlv.TypeInteger {
				return invalid("storage status mask must be an integer")
			}
			// The store's bits are the spec's (KMIP 1.4 §9.1.3.3.2, 2.0
			// §12.3: on-line 1, archival 2, destroyed 4); unknown bits
			// are ignored.
			bits := uint32(c.Int()) //nolint:gosec // G115: a bit mask travels as a KMIP Integer (KMIP 1.4 §9.1.3.3); its 32 bits are reinterpreted, not converted
			lr.query.Storage = objects.StorageStatus(bits) & (objects.StorageOnLine | objects.StorageArchival | objects.StorageDestroyed)
			if lr.query.Storage == 0 && bits != 0 {
				return invalid("storage status mask 0x%X has no known bit", bits)
			}
		case kmip.TagObjectGroupMember:
			if c.Type != ttlv.TypeEnumeration {
				return invalid("object group member must be an enumeration")
			}
			member = kmip.ObjectGroupMember(c.Enum())
			if member != kmip.ObjectGroupMemberGroupMemberFresh && member != kmip.ObjectGroupMemberGroupMemberDefault {
				return invalid("unknown object group member %v", member)
			}
		case kmip.TagAttribute:
			a, err := kmip.ParseAttribute(c)
			if err != nil {
				return locateRequest{}, err
			}
			attrs = append(attrs, a)
		case kmip.TagAttributes, kmip.TagTemplateAttribute:
			as, err := kmip.ParseAttributes(c)
			if err != nil {
				return locateRequest{}, err
			}
			attrs = append(attrs, as...)
		}
	}
	filters, byState, err := locateFilters(attrs)
	if err != nil {
		return locateRequest{}, err
	}
	lr.query.Filters, lr.byState = filters, byState
	// KMIP 1.4 §4.9: Object Group Member applies with an Object Group.
	if member != 0 && locateHasFilter(filters, attrObjectGroup) {
		switch member {
		case kmip.ObjectGroupMemberGroupMemberFresh:
			// Fresh objects of the group (§3.34: not yet served).
			lr.query.Filters = append(lr.query.Filters, objects.Equals(attrFresh, ttlv.Bool(0, true)))
		case kmip.ObjectGroupMemberGroupMemberDefault:
			// Our policy for the group's default object: its newest
			// member matching the request.
			lr.query.MaxItems = 1
		}
	}
	return lr, nil
}

func locateHasFilter(fs []objects.Filter, name string) bool {
	for _, f := range fs {
		if f.Name == name {
			return true
		}
	}
	return false
}

// locateFilters turns the request's attributes into store filters: each a
// match on its value (objects.Filter documents the rules of KMIP 2.0
// §6.1.27: structures match on the fields given, a usage mask on the bits
// given), except dates: one instance of a date attribute matches that
// instant, two match the range between them, ends included (§4.9).
func locateFilters(attrs []kmip.Attribute) ([]objects.Filter, bool, error) {
	var (
		out     []objects.Filter
		byState bool
		dates   = map[string][]ttlv.Value{}
		order   []string
	)
	for _, a := range attrs {
		if a.Value.IsZero() {
			return nil, false, kmip.Errorf(kmip.ResultReasonInvalidField, "locate: attribute %q has no value", a.Name)
		}
		if isDateValue(a.Value) {
			if _, ok := dates[a.Name]; !ok {
				order = append(order, a.Name)
			}
			dates[a.Name] = append(dates[a.Name], a.Value)
			continue
		}
		if a.Name == attrState {
			byState = true
		}
		out = append(out, objects.Equals(a.Name, a.Value))
	}
	for _, name := range order {
		vs := dates[name]
		switch len(vs) {
		case 1:
			if dateSeconds(vs[0]) >= latestDate {
				continue // the largest value: as if not given
			}
			out = append(out, objects.Equals(name, vs[0]))
		case 2:
			lo, hi := vs[0], vs[1]
			if dateSeconds(lo) > dateSeconds(hi) {
				lo, hi = hi, lo
			}
			var from, to time.Time
			if dateSeconds(lo) > 0 {
				from = lo.Time()
			} else {
				from = time.Unix(0, 0)
			}
			if dateSeconds(hi) < latestDate {
				to = hi.Time()
			}
			if to.IsZero() && dateSeconds(lo) <= 0 {
				out = append(out, objects.Filter{Name: name}) // any value
				continue
			}
			out = append(out, objects.Between(name, from, to))
		default:
			return nil, false, kmip.Errorf(kmip.ResultReasonInvalidField, "locate: %d instances of %q; a date takes one value or a range of two", len(vs), name)
		}
	}
	return out, byState, nil
}

// dateSeconds is a Date-Time or Date-Time Extended in whole seconds.
func dateSeconds(v ttlv.Value) int64 {
	if v.Type == ttlv.TypeDateTimeExtended {
		return v.Long() / 1e6
	}
	return v.Long()
}

// runLocate runs q for the subject's tenant and pages the result. With
// wantTotal it also counts every match (counted is false when there are
// more than maxLocateScan).
//
// An empty tenant is a real tenant to the policy (acl.Decide compares
// tenants for equality) but means "any tenant" to objects.Query, so for a
// subject without one the matches are checked one by one.
func (s *Service) runLocate(ctx context.Context, q objects.Query, tenant string, wantTotal bool) (ids []string, total int, counted bool, err error) {
	offset, limit := q.Offset, q.MaxItems
	if limit <= 0 || limit > maxLocateItems {
		limit = maxLocateItems
	}
	q.Tenant = tenant
	if tenant != "" && !wantTotal {
		q.MaxItems = limit
		ids, err = s.store.Locate(ctx, q)
		if err != nil {
			return nil, 0, false, storeError(err, "")
		}
		return ids, 0, false, nil
	}
	q.Offset, q.MaxItems = 0, maxLocateScan
	all, err := s.store.Locate(ctx, q)
	if err != nil {
		return nil, 0, false, storeError(err, "")
	}
	counted = len(all) < maxLocateScan
	if tenant == "" {
		// Without a total, stop once the page is full.
		need := -1
		if !wantTotal {
			need = offset + limit
		}
		all, err = s.ownTenantless(ctx, all, need)
		if err != nil {
			return nil, 0, false, err
		}
	}
	total = len(all)
	if offset >= len(all) {
		return nil, total, counted, nil
	}
	all = all[offset:]
	if len(all) > limit {
		all = all[:limit]
	}
	return all, total, counted, nil
}

// ownTenantless keeps the identifiers of objects without a tenant, in
// order, stopping after need of them (need < 0: all).
func (s *Service) ownTenantless(ctx context.Context, ids []string, need int) ([]string, error) {
	out := ids[:0]
	for _, id := range ids {
		if need >= 0 && len(out) >= need {
			break
		}
		o, err := s.store.Get(ctx, id)
		if err != nil {
			if errors.Is(err, objects.ErrNotFound) {
				continue // destroyed and purged since
			}
			return nil, storeError(err, id)
		}
		if o.Tenant == "" {
			out = append(out, id)
		}
	}
	return out, nil
}

// applyDueDates persists the date-driven state changes (KMIP 1.4 §3.22:
// Activation Date reached, Deactivation Date reached) of the tenant's
// objects, so that a Locate by State sees the state Get Attributes would
// report. Both lookups go through the store's date index.
func (s *Service) applyDueDates(ctx context.Context, tenant string) error {
	now := s.now()
	due := []struct {
		state kmip.State
		date  string
	}{
		{kmip.StatePreActive, attrActivationDate},
		{kmip.StateActive, attrDeactivationDate},
	}
	for _, d := range due {
		ids, err := s.store.Locate(ctx, objects.Query{
			Filters:  []objects.Filter{objects.Between(d.date, time.Time{}, now)},
			States:   []kmip.State{d.state},
			Tenant:   tenant,
			Storage:  objects.StorageOnLine | objects.StorageArchival,
			MaxItems: maxDueUpdates,
		})
		if err != nil {
			return storeError(err, "")
		}
		for _, id := range ids {
			_, err := s.store.Update(ctx, id, func(o *objects.Object) error {
				objects.ApplyDates(o, now)
				return nil
			})
			if err != nil && !errors.Is(err, objects.ErrNotFound) {
				return storeError(err, id)
			}
		}
	}
	return nil
}
