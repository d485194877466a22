package objects

import (
	"reflect"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// Clone returns a deep copy of o that shares no mutable memory with it: the
// attribute slice, every attribute value's bytes and children, Public and
// the wrapped material are copied. Strings are shared, being immutable.
// Clone of nil is nil.
func (o *Object) Clone() *Object {
	c, _ := o.clone()
	return c
}

// Sizes for cloneSize. They ignore the allocator's rounding: the memo only
// needs its budget to be right to within a small factor.
var (
	objectSize    = int(reflect.TypeFor[Object]().Size())
	wrappedSize   = int(reflect.TypeFor[WrappedMaterial]().Size())
	attributeSize = int(reflect.TypeFor[kmip.Attribute]().Size())
	valueSize     = int(reflect.TypeFor[ttlv.Value]().Size())
)

// clone is Clone, also returning about how many bytes the copy holds
// (strings included, though they are shared), which the memo budgets.
//
// It allocates a handful of times whatever the object's size: the children
// of all structures sit side by side in one slice, and all byte contents in
// one buffer, each piece capped so that an append by the caller cannot run
// into its neighbour.
func (o *Object) clone() (*Object, int) {
	if o == nil {
		return nil, 0
	}
	var n cloneCounts
	n.bytes = len(o.Public)
	size := objectSize + len(o.ID) + len(o.Owner) + len(o.Tenant) + len(o.Attributes)*attributeSize
	if o.Wrapped != nil {
		n.bytes += len(o.Wrapped.Blob)
		size += wrappedSize + len(o.Wrapped.MasterKey) + len(o.Wrapped.Mechanism)
	}
	for _, a := range o.Attributes {
		n.add(a.Value)
		size += len(a.Name)
	}
	size += n.kids*valueSize + n.bytes + n.text

	c := cloner{kids: make([]ttlv.Value, n.kids), bytes: make([]byte, n.bytes)}
	out := *o
	if o.Attributes != nil {
		out.Attributes = make([]kmip.Attribute, len(o.Attributes))
		for i, a := range o.Attributes {
			out.Attributes[i] = kmip.Attribute{Name: a.Name, Index: a.Index, Value: c.value(a.Value)}
		}
	}
	out.Public = c.copyBytes(o.Public)
	if o.Wrapped != nil {
		w := *o.Wrapped
		w.Blob = c.copyBytes(o.Wrapped.Blob)
		out.Wrapped = &w
	}
	return &out, size
}

// cloneCounts sizes a cloner's allocations.
type cloneCounts struct {
	kids  int // children of structures
	bytes int // contents of Byte Strings and Big Integers
	text  int // contents of Text Strings (each copied on its own)
}

func (n *cloneCounts) add(v ttlv.Value) {
	switch v.Type {
	case ttlv.TypeStructure:
		n.kids += len(v.Children())
		for _, k := range v.Children() {
			n.add(k)
		}
	case ttlv.TypeByteString, ttlv.TypeBigInteger:
		n.bytes += len(v.Bytes())
	case ttlv.TypeTextString:
		n.text += len(v.Bytes())
	default:
		// Numbers, booleans and dates live in the Value itself.
	}
}

// cloner hands out the memory that clone allocated up front.
type cloner struct {
	kids  []ttlv.Value
	bytes []byte
}

// value deep-copies v. ttlv has no copy function, so v is rebuilt with the
// constructors, which keep the slices they are given.
func (c *cloner) value(v ttlv.Value) ttlv.Value {
	switch v.Type {
	case ttlv.TypeStructure:
		src := v.Children()
		if len(src) == 0 {
			return ttlv.Struct(v.Tag)
		}
		kids := c.kids[:len(src):len(src)]
		c.kids = c.kids[len(src):]
		for i, k := range src {
			kids[i] = c.value(k)
		}
		return ttlv.Struct(v.Tag, kids...)
	case ttlv.TypeByteString:
		return ttlv.Bytes(v.Tag, c.copyBytes(v.Bytes()))
	case ttlv.TypeBigInteger:
		return ttlv.BigIntRaw(v.Tag, c.copyBytes(v.Bytes()))
	case ttlv.TypeTextString:
		// Text copies the string into a new buffer.
		return ttlv.Text(v.Tag, v.Text())
	default:
		// Numbers, enumerations, booleans, dates and intervals are held
		// in the Value itself, which is copied.
		return v
	}
}

// copyBytes copies b into the cloner's buffer, keeping nil apart from
// empty so that the copy is equal to the original in every respect.
func (c *cloner) copyBytes(b []byte) []byte {
	switch {
	case b == nil:
		return nil
	case len(b) == 0:
		return []byte{}
	}
	n := copy(c.bytes, b)
	out := c.bytes[:n:n]
	c.bytes = c.bytes[n:]
	return out
}
