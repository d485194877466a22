package objects

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/kmipd/kmipd/ttlv"
)

// Locate returns the identifiers of matching objects; see Store and Query.
func (s *BoltStore) Locate(ctx context.Context, q Query) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("locate: %w", err)
	}
	var ids []string
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		ids, err = locate(ctx, tx, &q)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("locate: %w", err)
	}
	return ids, nil
}

// keyRange is the index keys k with lo <= k < hi; a nil hi is unbounded.
type keyRange struct{ lo, hi []byte }

// source is one way to find candidates: ranges of one index's keys, or for
// a Unique Identifier filter the identifier itself.
type source struct {
	kind   indexKind // which index the ranges are in; zero for id
	ranges []keyRange
	id     []byte
}

// candidate is a possible match: its creation sequence and identifier.
type candidate struct {
	seq uint64
	id  []byte
}

func prefixRange(p []byte) keyRange { return keyRange{lo: p, hi: prefixEnd(p)} }

// prefixEnd is the smallest key greater than every key starting with p,
// or nil if there is none.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// sources lists the indexes that can answer a part of q, most selective
// kinds first: that order is only a guess, which plan refines by counting.
// Every source must return a superset of the objects matching its
// condition; matches has the final word.
func sources(q *Query) []source {
	var out, late []source
	for _, f := range q.Filters {
		switch {
		case f.isPresence():
			// Not indexed: an attribute whose value has an unexpected
			// type has no index entry, yet is present.
		case f.Name == attrUniqueIdentifier && f.Value.Type == ttlv.TypeTextString:
			out = append(out, source{id: f.Value.Bytes()})
		case f.isRange() && dateIndexed[f.Name]:
			out = append(out, source{kind: idxDate, ranges: []keyRange{dateRange(f.Name, microsOrMin(f), microsOrMax(f))}})
		case f.isRange():
		case f.Name == attrName:
			if s, ok := nameText(f.Value); ok {
				out = append(out, source{kind: idxName, ranges: []keyRange{prefixRange(lp(idxName.prefix(), []byte(s)))}})
			}
		case f.Name == attrObjectGroup && f.Value.Type == ttlv.TypeTextString:
			out = append(out, source{kind: idxGroup, ranges: []keyRange{prefixRange(lp(idxGroup.prefix(), f.Value.Bytes()))}})
		case dateIndexed[f.Name]:
			if m, ok := dateMicros(f.Value); ok {
				out = append(out, source{kind: idxDate, ranges: []keyRange{dateRange(f.Name, m, m)}})
			}
		case isCustom(f.Name):
			if vk, ok := valueKey(f.Value); ok {
				out = append(out, source{kind: idxCustom, ranges: []keyRange{prefixRange(lp(lp(idxCustom.prefix(), []byte(f.Name)), vk))}})
			}
		case f.Name == attrAlgorithm && f.Value.Type == ttlv.TypeEnumeration:
			late = append(late, enumSource(idxAlg, f.Value.Enum()))
		case f.Name == attrState && f.Value.Type == ttlv.TypeEnumeration:
			late = append(late, enumSource(idxState, f.Value.Enum()))
		case f.Name == attrObjectType && f.Value.Type == ttlv.TypeEnumeration:
			late = append(late, enumSource(idxType, f.Value.Enum()))
		}
	}
	// The Owner has no index (see legacyIndexBuckets): matches checks it.
	if q.Tenant != "" {
		out = append(out, source{kind: idxTenant, ranges: []keyRange{prefixRange(lp(idxTenant.prefix(), []byte(q.Tenant)))}})
	}
	if len(q.States) > 0 {
		src := source{kind: idxState}
		for _, st := range q.States {
			src.ranges = append(src.ranges, prefixRange(u32(idxState.prefix(), uint32(st))))
		}
		late = append(late, src)
	}
	if len(q.ObjectTypes) > 0 {
		src := source{kind: idxType}
		for _, t := range q.ObjectTypes {
			src.ranges = append(src.ranges, prefixRange(u32(idxType.prefix(), uint32(t))))
		}
		late = append(late, src)
	}
	return append(out, late...)
}

func enumSource(kind indexKind, v uint32) source {
	return source{kind: kind, ranges: []keyRange{prefixRange(u32(kind.prefix(), v))}}
}

func microsOrMin(f Filter) int64 {
	if f.From.IsZero() {
		return math.MinInt64
	}
	return microsOf(f.From)
}

func microsOrMax(f Filter) int64 {
	if f.To.IsZero() {
		return math.MaxInt64
	}
	return microsOf(f.To)
}

// dateRange covers the date index entries of name with from <= t <= to.
func dateRange(name string, from, to int64) keyRange {
	p := lp(idxDate.prefix(), []byte(name))
	if from > to {
		return keyRange{lo: i64(bytes.Clone(p), 0), hi: i64(bytes.Clone(p), 0)} // empty
	}
	r := keyRange{lo: i64(bytes.Clone(p), from)}
	if to == math.MaxInt64 {
		r.hi = prefixEnd(p)
	} else {
		r.hi = i64(bytes.Clone(p), to+1)
	}
	return r
}

// scan calls fn for each key in src, in key order, until fn returns false.
func (src *source) scan(tx *bolt.Tx, fn func(k, v []byte) bool) {
	if src.id != nil {
		if tx.Bucket(bucketObjects).Get(src.id) != nil {
			fn(nil, src.id)
		}
		return
	}
	c := tx.Bucket(bucketIndex).Cursor()
	for _, r := range src.ranges {
		for k, v := c.Seek(r.lo); k != nil && (r.hi == nil || bytes.Compare(k, r.hi) < 0); k, v = c.Next() {
			if !fn(k, v) {
				return
			}
		}
	}
}

// count returns the number of entries in src, stopping at limit.
func (src *source) count(tx *bolt.Tx, limit int) int {
	n := 0
	src.scan(tx, func(_, _ []byte) bool {
		n++
		return n < limit
	})
	return n
}

// candidates returns src's objects, newest first (oldest first if
// oldestFirst), each once.
func (src *source) candidates(tx *bolt.Tx, oldestFirst bool) []candidate {
	var out []candidate
	src.scan(tx, func(k, v []byte) bool {
		var seq uint64
		if len(k) >= 8 {
			seq = binary.BigEndian.Uint64(k[len(k)-8:])
		}
		out = append(out, candidate{seq: seq, id: v})
		return true
	})
	newer := -1 // how a newer candidate compares: first unless oldestFirst
	if oldestFirst {
		newer = 1
	}
	slices.SortFunc(out, func(a, b candidate) int {
		switch {
		case a.seq > b.seq:
			return newer
		case a.seq < b.seq:
			return -newer
		}
		return bytes.Compare(a.id, b.id)
	})
	return slices.CompactFunc(out, func(a, b candidate) bool { return bytes.Equal(a.id, b.id) })
}

// plan picks the source with the fewest entries. Counting stops at the best
// count so far, so the cost stays near the size of the winner.
func plan(tx *bolt.Tx, srcs []source) (best *source, empty bool) {
	if len(srcs) == 1 {
		return &srcs[0], false
	}
	bestN := math.MaxInt
	for i := range srcs {
		n := srcs[i].count(tx, bestN)
		if n < bestN {
			best, bestN = &srcs[i], n
		}
		if n == 0 {
			return nil, true
		}
	}
	return best, false
}

// locate runs q inside tx.
func locate(ctx context.Context, tx *bolt.Tx, q *Query) ([]string, error) {
	offset, limit := max(q.Offset, 0), q.MaxItems
	if limit <= 0 {
		limit = math.MaxInt
	}
	var (
		out     []string
		matched int
		visited int
		err     error
	)
	objs := tx.Bucket(bucketObjects)
	// visit checks one candidate; it returns false to stop.
	visit := func(id []byte) bool {
		visited++
		if visited%256 == 0 {
			if err = ctx.Err(); err != nil {
				return false
			}
		}
		raw := objs.Get(id)
		if raw == nil {
			return true
		}
		// Only read inside the transaction, so no copy is needed.
		o, derr := decodeRecord(raw)
		if derr != nil {
			err = fmt.Errorf("object %q: %w", id, derr)
			return false
		}
		if !matches(o, q) {
			return true
		}
		matched++
		if matched > offset {
			out = append(out, string(id))
		}
		return len(out) < limit
	}

	srcs := sources(q)
	if len(srcs) == 0 {
		// No index applies: every record in creation order, newest first
		// unless the query asks for the oldest.
		c := tx.Bucket(bucketSeq).Cursor()
		first, next := c.Last, c.Prev
		if q.OldestFirst {
			first, next = c.First, c.Next
		}
		for k, v := first(); k != nil; k, v = next() {
			if !visit(v) {
				break
			}
		}
		return out, err
	}
	best, empty := plan(tx, srcs)
	if empty {
		return nil, nil
	}
	for _, c := range best.candidates(tx, q.OldestFirst) {
		if !visit(c.id) {
			break
		}
	}
	return out, err
}

// matches reports whether o satisfies every condition of q.
func matches(o *Object, q *Query) bool {
	destroyed := isDestroyed(o.State)
	storage := q.Storage
	if storage == 0 {
		storage = StorageOnLine
	}
	// KMIP 2.0 §6.1.27: never a destroyed or archived object unless the
	// mask asks for that kind; an on-line object only if it asks for those.
	if destroyed && storage&StorageDestroyed == 0 ||
		o.Archived && storage&StorageArchival == 0 ||
		!destroyed && !o.Archived && storage&StorageOnLine == 0 {
		return false
	}
	if len(q.ObjectTypes) > 0 && !slices.Contains(q.ObjectTypes, o.ObjectType) ||
		len(q.States) > 0 && !slices.Contains(q.States, o.State) ||
		q.Owner != "" && q.Owner != o.Owner ||
		q.Tenant != "" && q.Tenant != o.Tenant {
		return false
	}
	for i := range q.Filters {
		if !filterMatches(o, &q.Filters[i]) {
			return false
		}
	}
	return true
}

// objectValues returns the values f.Name has on o: the Object's own field
// for the attributes it keeps outside Attributes, else every instance.
func objectValues(o *Object, name string) []ttlv.Value {
	switch name {
	case attrUniqueIdentifier:
		return []ttlv.Value{ttlv.Text(0, o.ID)}
	case attrObjectType:
		return []ttlv.Value{ttlv.Enum(0, uint32(o.ObjectType))}
	case attrState:
		return []ttlv.Value{ttlv.Enum(0, uint32(o.State))}
	}
	var vs []ttlv.Value
	for _, a := range o.Attributes {
		if a.Name == name {
			vs = append(vs, a.Value)
		}
	}
	return vs
}

func filterMatches(o *Object, f *Filter) bool {
	vs := objectValues(o, f.Name)
	switch {
	case f.isPresence():
		return len(vs) > 0
	case f.isRange():
		from, to := microsOrMin(*f), microsOrMax(*f)
		for _, v := range vs {
			if m, ok := dateMicros(v); ok && from <= m && m <= to {
				return true
			}
		}
		return false
	}
	for _, v := range vs {
		if valueMatches(f.Name, f.Value, v) {
			return true
		}
	}
	return false
}

// valueMatches applies the Locate matching rules of KMIP 2.0 §6.1.27 to one
// attribute instance; see Filter. Tags are compared only inside structures:
// the top-level tag depends on the protocol version the value came in.
func valueMatches(name string, want, have ttlv.Value) bool {
	switch {
	case name == attrName && want.Type == ttlv.TypeTextString:
		s, ok := nameText(have)
		return ok && s == want.Text()
	case name == attrUsageMask && want.Type == ttlv.TypeInteger && have.Type == ttlv.TypeInteger:
		return have.Int()&want.Int() == want.Int()
	case want.Type == ttlv.TypeStructure && have.Type == ttlv.TypeStructure:
		hk := have.Children()
		for _, w := range want.Children() {
			if !slices.ContainsFunc(hk, func(h ttlv.Value) bool { return h.Tag == w.Tag && valueMatches("", w, h) }) {
				return false
			}
		}
		return true
	}
	if wm, ok := dateMicros(want); ok {
		hm, ok := dateMicros(have)
		return ok && wm == hm
	}
	return want.Type == have.Type && want.Raw64() == have.Raw64() && bytes.Equal(want.Bytes(), have.Bytes())
}
