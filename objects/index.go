package objects

import (
	"crypto/sha256"
	"encoding/binary"
	"strings"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// Attribute names this package gives a meaning to (KMIP 1.4 §3, 2.0 §4).
const (
	attrUniqueIdentifier = "Unique Identifier"
	attrName             = "Name"
	attrObjectType       = "Object Type"
	attrState            = "State"
	attrAlgorithm        = "Cryptographic Algorithm"
	attrUsageMask        = "Cryptographic Usage Mask"
	attrObjectGroup      = "Object Group"
	attrActivationDate   = "Activation Date"
	attrDeactivationDate = "Deactivation Date"
)

// dateIndexed lists the Date-Time attributes kept in the date index, so a
// Locate by date or date range (KMIP 2.0 §6.1.27) reads a key range instead
// of every record.
var dateIndexed = map[string]bool{
	"Initial Date":               true,
	attrActivationDate:           true,
	attrDeactivationDate:         true,
	"Process Start Date":         true,
	"Protect Stop Date":          true,
	"Compromise Date":            true,
	"Compromise Occurrence Date": true,
	"Destroy Date":               true,
	"Archive Date":               true,
	"Last Change Date":           true,
	"Original Creation Date":     true,
}

// isCustom reports whether name is a custom attribute: "x-" for client and
// "y-" for server defined ones (KMIP 1.4 §2.1.1), or a 2.x Vendor Attribute
// named "vendor:name" (see kmip.Attribute).
func isCustom(name string) bool {
	return strings.HasPrefix(name, "x-") || strings.HasPrefix(name, "y-") || strings.Contains(name, ":")
}

// The index. Every entry of every index lives in one bucket, under its
// index's one-byte kind, so that the entries a Create adds (some ten, one
// per index) share the branch pages near the root: each bbolt commit
// rewrites, and fsyncs, every page on the path to every leaf it changed;
// with a bucket per index (schema 1) that path began at each bucket's own
// root. See TestCommitPages for what a Create writes.
//
// Every key ends with the object's 8-byte creation sequence number, so
// entries for one value come out in creation order and two objects never
// share a key; every value is the object's identifier.
var bucketIndex = []byte("index")

// indexKind is the first byte of an index key: which index it belongs to.
type indexKind byte

const (
	idxName   indexKind = 'n' // lp(Name Value) | seq
	idxType   indexKind = 't' // u32(Object Type) | seq
	idxState  indexKind = 's' // u32(State) | seq
	idxAlg    indexKind = 'a' // u32(Cryptographic Algorithm) | seq
	idxGroup  indexKind = 'g' // lp(Object Group) | seq
	idxCustom indexKind = 'c' // lp(name) | lp(valueKey) | seq
	idxTenant indexKind = 'T' // lp(Tenant) | seq
	idxDate   indexKind = 'd' // lp(name) | i64(micros) | seq
)

// prefix starts a key of the kind's index.
func (k indexKind) prefix() []byte { return []byte{byte(k)} }

// legacyIndexBuckets are schema 1's bucket per index, which schema 2
// merged into bucketIndex. Schema 1 also indexed the Owner, which no
// query the service makes names; Locate still filters by it, from the
// records.
var legacyIndexBuckets = [][]byte{
	[]byte("idx.name"), []byte("idx.type"), []byte("idx.state"), []byte("idx.alg"), []byte("idx.group"),
	[]byte("idx.custom"), []byte("idx.owner"), []byte("idx.tenant"), []byte("idx.date"),
}

// maxIndexField is the longest field kept verbatim in an index key; longer
// ones are replaced by their SHA-256, since bbolt keys are limited to 32 KiB
// and a client may send a huge Name. The record check after the index
// lookup makes collisions harmless.
const maxIndexField = 256

// lp appends a length-prefixed field, so that one field is never a prefix
// of another and a scan for "ab" does not return "abc".
func lp(dst, field []byte) []byte {
	n := len(field)
	if n > maxIndexField {
		sum := sha256.Sum256(field)
		dst = binary.BigEndian.AppendUint16(dst, 0x8000|sha256.Size)
		return append(dst, sum[:]...)
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	return append(dst, field...)
}

// u32 appends a fixed-width enumeration field.
func u32(dst []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(dst, v) }

// i64 appends a signed value so that byte order is numeric order.
func i64(dst []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(v)^(1<<63)) //nolint:gosec // G115: two's complement bits with the sign flipped sort numerically
}

// nameText returns the Name Value of a Name attribute (a Structure, KMIP
// 1.4 §3.2), or the text itself when given as a plain Text String.
func nameText(v ttlv.Value) (string, bool) {
	switch v.Type {
	case ttlv.TypeTextString:
		return v.Text(), true
	case ttlv.TypeStructure:
		if nv, ok := v.Child(kmip.TagNameValue); ok && nv.Type == ttlv.TypeTextString {
			return nv.Text(), true
		}
		return "", false
	default:
		return "", false
	}
}

// valueKey is the index form of a primitive value, agreeing with
// valueMatches: equal exactly when the values match. Date-Time and
// Date-Time Extended share one form since they compare as instants.
// Structures have no key (they match by subset, which an exact key cannot
// express).
func valueKey(v ttlv.Value) ([]byte, bool) {
	switch v.Type {
	case ttlv.TypeStructure, 0:
		return nil, false
	case ttlv.TypeDateTime, ttlv.TypeDateTimeExtended:
		m, _ := dateMicros(v)
		return i64([]byte{byte(ttlv.TypeDateTime)}, m), true
	case ttlv.TypeTextString, ttlv.TypeByteString, ttlv.TypeBigInteger:
		return append([]byte{byte(v.Type)}, v.Bytes()...), true
	default:
		return binary.BigEndian.AppendUint64([]byte{byte(v.Type)}, v.Raw64()), true
	}
}

// indexEntry is one key of the index; its first byte is its indexKind.
type indexEntry struct {
	key []byte
}

// indexEntries lists every index key of o; all of them map to o.ID.
func indexEntries(o *Object) []indexEntry {
	seq := binary.BigEndian.AppendUint64(nil, o.seq)
	key := func(prefix []byte) indexEntry { return indexEntry{append(prefix, seq...)} }
	out := []indexEntry{
		key(u32(idxType.prefix(), uint32(o.ObjectType))),
		key(u32(idxState.prefix(), uint32(o.State))),
		key(lp(idxTenant.prefix(), []byte(o.Tenant))),
	}
	for _, a := range o.Attributes {
		switch {
		case a.Name == attrName:
			if s, ok := nameText(a.Value); ok {
				out = append(out, key(lp(idxName.prefix(), []byte(s))))
			}
		case a.Name == attrAlgorithm && a.Value.Type == ttlv.TypeEnumeration:
			out = append(out, key(u32(idxAlg.prefix(), a.Value.Enum())))
		case a.Name == attrObjectGroup && a.Value.Type == ttlv.TypeTextString:
			out = append(out, key(lp(idxGroup.prefix(), a.Value.Bytes())))
		case dateIndexed[a.Name]:
			if m, ok := dateMicros(a.Value); ok {
				out = append(out, key(i64(lp(idxDate.prefix(), []byte(a.Name)), m)))
			}
		case isCustom(a.Name):
			if vk, ok := valueKey(a.Value); ok {
				out = append(out, key(lp(lp(idxCustom.prefix(), []byte(a.Name)), vk)))
			}
		}
	}
	return out
}

// diffEntries returns the entries of old not in new (to delete) and of new
// not in old (to add), so an Update touches only what changed.
func diffEntries(old, new []indexEntry) (del, add []indexEntry) {
	k := func(e indexEntry) string { return string(e.key) }
	inOld := make(map[string]struct{}, len(old))
	for _, e := range old {
		inOld[k(e)] = struct{}{}
	}
	inNew := make(map[string]struct{}, len(new))
	for _, e := range new {
		inNew[k(e)] = struct{}{}
		if _, ok := inOld[k(e)]; !ok {
			add = append(add, e)
		}
	}
	for _, e := range old {
		if _, ok := inNew[k(e)]; !ok {
			del = append(del, e)
		}
	}
	return del, add
}
