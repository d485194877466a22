package objects

import (
	"bytes"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// This file holds the Name uniqueness rule (see Names in store.go): a live
// object's Name value is not carried by another live object of its
// tenant. It is checked in the transaction that writes, before anything
// is written, so that two concurrent writes cannot both take one name.

// nameValues returns o's Name values, as the name index keeps them.
func nameValues(o *Object) []string {
	var out []string
	for _, a := range o.Attributes {
		if a.Name != attrName {
			continue
		}
		if s, ok := nameText(a.Value); ok {
			out = append(out, s)
		}
	}
	return out
}

// holdsName reports whether o holds the Name value name: o is live (not
// Destroyed or Destroyed Compromised, archived or not, as Locate's
// StorageOnLine|StorageArchival selects) and carries it.
func holdsName(o *Object, name string) bool {
	return !isDestroyed(o.State) && slices.Contains(nameValues(o), name)
}

// checkNames checks every Name value the pending writes ws add: all those
// of a new object, those a change adds (names an object already had in
// its tenant are not checked again, so that a change unrelated to names
// never fails on duplicates stored before this check existed). The other objects are
// seen as they will be after the write: the pending version of the
// objects ws writes, the stored one of the others. The name index finds
// the stored candidates; the record decides, since a long name is indexed
// by its hash. On failure it returns the write refused, and a
// *NameTakenError or the failure to read another object.
func checkNames(tx *bolt.Tx, ws []*pendingWrite) (refused *pendingWrite, err error) {
	for i, w := range ws {
		if isDestroyed(w.o.State) {
			continue // a destroyed object holds no name
		}
		for _, name := range nameValues(w.o) {
			if !w.isNew && w.o.Tenant == w.oldTenant && slices.Contains(w.oldNames, name) {
				continue
			}
			taken, err := nameTakenInTx(tx, ws, i, name)
			if err != nil {
				return w, err
			}
			if taken {
				return w, &NameTakenError{Name: name}
			}
		}
	}
	return nil, nil
}

// nameTakenInTx reports whether an object other than ws[self], of the same
// tenant, holds name once ws is written.
func nameTakenInTx(tx *bolt.Tx, ws []*pendingWrite, self int, name string) (bool, error) {
	me := ws[self].o
	for j, w := range ws {
		if j != self && w.o.Tenant == me.Tenant && holdsName(w.o, name) {
			return true, nil
		}
	}
	pending := func(id []byte) bool {
		return slices.ContainsFunc(ws, func(w *pendingWrite) bool { return w.o.ID == string(id) })
	}
	objs := tx.Bucket(bucketObjects)
	r := prefixRange(lp(idxName.prefix(), []byte(name)))
	c := tx.Bucket(bucketIndex).Cursor()
	for k, id := c.Seek(r.lo); k != nil && (r.hi == nil || bytes.Compare(k, r.hi) < 0); k, id = c.Next() {
		if pending(id) {
			continue // seen above, as it will be
		}
		raw := objs.Get(id)
		if raw == nil {
			continue
		}
		// Only read inside the transaction, before anything is written:
		// no copy is needed.
		o, err := decodeRecord(raw)
		if err != nil {
			return false, fmt.Errorf("object %q: %w", id, err)
		}
		if o.Tenant == me.Tenant && holdsName(o, name) {
			return true, nil
		}
	}
	return false, nil
}
