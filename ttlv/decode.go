package ttlv

import (
	"encoding/binary"
	"unicode/utf8"
)

// headerLen is the size of an item header: 3-byte tag, 1-byte type, 4-byte
// length (KMIP 1.4 §9.1.1).
const headerLen = 8

// Decode parses b, which must hold exactly one TTLV item (normally a whole
// Request or Response Message), into a Value.
//
// It is strict, per KMIP 1.4 §9.1.1: the length of Integer, Enumeration and
// Interval must be 4; of Long Integer, Boolean, Date-Time and Date-Time
// Extended 8; of Big Integer a multiple of 8; a Boolean is 0 or 1; a Text
// String is UTF-8; padding bytes are zero; a structure's length is exactly
// the sum of its children's padded lengths; unknown types are refused.
// Size, depth and item count are bounded by lim (zero fields: defaults)
// before anything is allocated.
//
// The result aliases b: Text String, Byte String and Big Integer contents
// point into it, so b must not change while the Value is in use. Decode
// allocates once, an arena holding every item but the outer one.
func Decode(b []byte, lim Limits) (Value, error) {
	c, err := check(b, lim)
	if err != nil {
		return Value{}, err
	}
	bl := builder{b: b}
	if c.items > 1 {
		bl.arena = make([]Value, c.items-1)
	}
	var v Value
	bl.fill(&v, 0)
	return v, nil
}

// Check reports whether Decode would accept b under lim, with the error
// Decode would return, without building a Value: it allocates nothing. A
// writer that must only ever store what it can read back (a record about
// to be written) checks with it.
func Check(b []byte, lim Limits) error {
	_, err := check(b, lim)
	return err
}

// check runs the first pass of Decode over b.
func check(b []byte, lim Limits) (checker, error) {
	lim = lim.withDefaults()
	if len(b) > lim.MaxMessageSize {
		return checker{}, syntaxErr(0, 0, ErrTooLarge, "message of %d bytes exceeds limit of %d", len(b), lim.MaxMessageSize)
	}
	c := checker{b: b, maxDepth: lim.MaxDepth, maxItems: lim.MaxItems}
	end, err := c.item(0, len(b), 1)
	if err != nil {
		return checker{}, err
	}
	if end != len(b) {
		return checker{}, syntaxErr(end, 0, ErrBadLength, "%d trailing bytes after the message", len(b)-end)
	}
	return c, nil
}

// checker is the first pass of Decode: it validates the input and counts
// items, allocating nothing.
type checker struct {
	b        []byte
	maxDepth int
	maxItems int
	items    int
}

// item checks the item at off, which must end by end, and returns the
// offset just past it (padding included).
func (c *checker) item(off, end, depth int) (int, error) {
	b := c.b
	if end-off < headerLen {
		if end == len(b) {
			return 0, syntaxErr(off, 0, ErrTruncated, "header needs %d bytes, %d left", headerLen, end-off)
		}
		return 0, syntaxErr(off, 0, ErrBadLength, "%d bytes left in the enclosing structure, not a whole item", end-off)
	}
	tag := Tag(uint32(b[off])<<16 | uint32(b[off+1])<<8 | uint32(b[off+2]))
	typ := Type(b[off+3])
	l := uint64(binary.BigEndian.Uint32(b[off+4:]))
	c.items++
	if c.items > c.maxItems {
		return 0, syntaxErr(off, tag, ErrTooManyItems, "more than %d items", c.maxItems)
	}
	if depth > c.maxDepth {
		return 0, syntaxErr(off, tag, ErrTooDeep, "nesting deeper than %d", c.maxDepth)
	}
	vs := off + headerLen
	avail := uint64(end - vs)
	// Every value is padded to a multiple of 8 (KMIP 1.4 §9.1.1.3); for
	// structures and Big Integers the length already is one.
	padded := (l + 7) &^ 7
	if padded > avail {
		if end == len(b) {
			return 0, syntaxErr(off, tag, ErrTruncated, "%v length %d needs %d bytes, %d left", typ, l, padded, avail)
		}
		return 0, syntaxErr(off, tag, ErrBadLength, "%v length %d exceeds the enclosing structure (%d bytes left)", typ, l, avail)
	}
	ve := vs + int(l)
	switch typ {
	case TypeStructure:
		if l%8 != 0 {
			return 0, syntaxErr(off, tag, ErrBadLength, "structure length %d is not a multiple of 8", l)
		}
		for p := vs; p < ve; {
			var err error
			if p, err = c.item(p, ve, depth+1); err != nil {
				return 0, err
			}
		}
		return ve, nil
	case TypeInteger, TypeEnumeration, TypeInterval:
		if l != 4 {
			return 0, syntaxErr(off, tag, ErrBadLength, "%v length %d, want 4", typ, l)
		}
	case TypeLongInteger, TypeDateTime, TypeDateTimeExtended:
		if l != 8 {
			return 0, syntaxErr(off, tag, ErrBadLength, "%v length %d, want 8", typ, l)
		}
	case TypeBoolean:
		if l != 8 {
			return 0, syntaxErr(off, tag, ErrBadLength, "%v length %d, want 8", typ, l)
		}
		// KMIP 1.4 §9.1.1.4: Boolean is 0 (False) or 1 (True).
		if u := binary.BigEndian.Uint64(b[vs:]); u > 1 {
			return 0, syntaxErr(off, tag, ErrBadValue, "boolean value %#x, want 0 or 1", u)
		}
	case TypeBigInteger:
		if l%8 != 0 {
			return 0, syntaxErr(off, tag, ErrBadLength, "big integer length %d is not a multiple of 8", l)
		}
	case TypeTextString:
		if !utf8.Valid(b[vs:ve]) {
			return 0, syntaxErr(off, tag, ErrBadValue, "text string is not UTF-8")
		}
	case TypeByteString:
	default:
		return 0, syntaxErr(off, tag, ErrBadType, "unknown item type 0x%02X", uint8(typ))
	}
	pe := vs + int(padded)
	for _, x := range b[ve:pe] {
		if x != 0 {
			return 0, syntaxErr(off, tag, ErrBadPadding, "nonzero padding after %v value", typ)
		}
	}
	return pe, nil
}

// builder is the second pass of Decode, over input the checker accepted.
type builder struct {
	b     []byte
	arena []Value
	next  int
}

// fill decodes the item at off into v and returns the offset past it.
func (bl *builder) fill(v *Value, off int) int {
	b := bl.b
	v.Tag = Tag(uint32(b[off])<<16 | uint32(b[off+1])<<8 | uint32(b[off+2]))
	v.Type = Type(b[off+3])
	l := int(binary.BigEndian.Uint32(b[off+4:]))
	vs := off + headerLen
	ve := vs + l
	switch v.Type {
	case TypeStructure:
		// Count the direct children by hopping over their headers, so that
		// they can sit side by side in the arena.
		n := 0
		for p := vs; p < ve; n++ {
			p += headerLen + (int(binary.BigEndian.Uint32(b[p+4:]))+7)&^7
		}
		if n > 0 {
			kids := bl.arena[bl.next : bl.next+n : bl.next+n]
			bl.next += n
			p := vs
			for i := range kids {
				p = bl.fill(&kids[i], p)
			}
			v.children = kids
		}
		return ve
	case TypeInteger:
		v.num = uint64(int64(int32(binary.BigEndian.Uint32(b[vs:]))))
	case TypeEnumeration, TypeInterval:
		v.num = uint64(binary.BigEndian.Uint32(b[vs:]))
	case TypeLongInteger, TypeDateTime, TypeDateTimeExtended, TypeBoolean:
		v.num = binary.BigEndian.Uint64(b[vs:])
	default: // Text String, Byte String, Big Integer
		v.raw = b[vs:ve:ve]
	}
	return vs + (l+7)&^7
}
