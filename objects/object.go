package objects

import (
	"fmt"
	"time"

	"github.com/kmipd/kmipd/kmip"
)

// Object is one managed object as the store keeps it (KMIP 1.4 §2.2, 2.0
// §2.2): its identity, lifecycle state, attributes and key material.
//
// ObjectType and State are authoritative here; a "State" attribute in
// Attributes, if the service keeps one, is updated alongside by ApplyDates.
type Object struct {
	ID         string
	ObjectType kmip.ObjectType
	State      kmip.State
	Attributes []kmip.Attribute

	// Wrapped is the secret key material, encrypted under an HSM master
	// key. It is nil for objects without secret material and after Destroy
	// (KMIP 1.4 §4.21: the key material is destroyed, the metadata may be
	// retained).
	Wrapped *WrappedMaterial

	// Public is non-secret material stored as is: a public key's
	// SubjectPublicKeyInfo, a certificate's DER, an opaque object's bytes.
	Public []byte

	// KeyFormat is the Key Format Type the material was registered or
	// generated in, so Get can answer in the same format by default.
	KeyFormat uint32

	// Owner and Tenant say whose object this is; the ACL decides what they
	// mean. Both are indexed for Locate.
	Owner, Tenant string

	// Created and Updated are set by the store (UTC, microsecond
	// precision); Created is kept as given when non-zero at Create.
	Created, Updated time.Time

	// Archived marks an object moved to archival storage (KMIP 1.4 §4.22
	// Archive); Locate skips it unless asked for archived objects.
	Archived bool

	// Revision counts stored versions: 1 after Create, +1 per Update.
	Revision uint64

	// seq is the creation sequence number, assigned by the store at Create
	// and never changed; Locate orders results by it.
	seq uint64
}

// WrappedMaterial is secret key material encrypted under a master key that
// never leaves the HSM. The store keeps it as opaque bytes.
type WrappedMaterial struct {
	// MasterKey names the wrapping key in the HSM (a label or handle
	// reference), so a key rotation can tell which blobs to rewrap.
	MasterKey string
	// Mechanism names the wrapping mechanism (e.g. "CKM_AES_KEY_WRAP_KWP").
	Mechanism string
	// Blob is the wrapped key.
	Blob []byte
	// Len is the length of the material inside Blob when the HSM padded
	// it before wrapping (hsmbackend.Wrapped.Len); 0 when the material
	// gives its own length.
	Len int
}

// String never shows the blob, only its size, so the material cannot leak
// into a log line by accident.
func (w *WrappedMaterial) String() string {
	if w == nil {
		return "<nil>"
	}
	return fmt.Sprintf("WrappedMaterial{MasterKey:%q Mechanism:%q Blob:%d bytes}", w.MasterKey, w.Mechanism, len(w.Blob))
}

// GoString is String, so %#v redacts too.
func (w *WrappedMaterial) GoString() string { return w.String() }

// Attr returns the instance of the named attribute with the lowest index.
func (o *Object) Attr(name string) (kmip.Attribute, bool) {
	best := -1
	for i := range o.Attributes {
		if o.Attributes[i].Name == name && (best < 0 || o.Attributes[i].Index < o.Attributes[best].Index) {
			best = i
		}
	}
	if best < 0 {
		return kmip.Attribute{}, false
	}
	return o.Attributes[best], true
}

// AttrsNamed returns every instance of the named attribute, in stored order.
func (o *Object) AttrsNamed(name string) []kmip.Attribute {
	var out []kmip.Attribute
	for _, a := range o.Attributes {
		if a.Name == name {
			out = append(out, a)
		}
	}
	return out
}

// SetAttr replaces the instance with a's name and index, or appends a if
// there is none (KMIP 1.4 §4.15 Modify Attribute, 2.0 §6.1.47 Set
// Attribute).
func (o *Object) SetAttr(a kmip.Attribute) {
	for i := range o.Attributes {
		if o.Attributes[i].Name == a.Name && o.Attributes[i].Index == a.Index {
			o.Attributes[i] = a
			return
		}
	}
	o.Attributes = append(o.Attributes, a)
}

// AddAttr appends a new instance of a's attribute with the next free index
// (one more than the highest in use, 0 for the first) and returns that
// index: the server, not the client, assigns it (KMIP 1.4 §4.14 Add
// Attribute).
func (o *Object) AddAttr(a kmip.Attribute) int {
	next := 0
	for _, b := range o.Attributes {
		if b.Name == a.Name && b.Index >= next {
			next = b.Index + 1
		}
	}
	a.Index = next
	o.Attributes = append(o.Attributes, a)
	return next
}

// DeleteAttr removes the instance with the given name and index and reports
// whether there was one. Other instances keep their indexes: "The
// Attribute Index of an attribute SHALL NOT change when other instances are
// added or deleted" (KMIP 1.4 §2.1.1).
func (o *Object) DeleteAttr(name string, index int) bool {
	for i := range o.Attributes {
		if o.Attributes[i].Name == name && o.Attributes[i].Index == index {
			o.Attributes = append(o.Attributes[:i], o.Attributes[i+1:]...)
			return true
		}
	}
	return false
}
