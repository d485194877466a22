package ttlv

import (
	"bytes"
	"math/big"
	"time"
)

// Tag is a 3-byte KMIP tag (KMIP 1.4 §9.1.1.1). Only the low 24 bits are used.
type Tag uint32

// Type is the 1-byte Item Type (KMIP 1.4 §9.1.1.2, Table 286; 2.0 §10.1.1.2 adds
// Date-Time Extended).
type Type uint8

// Item types as coded on the wire.
const (
	TypeStructure        Type = 0x01
	TypeInteger          Type = 0x02
	TypeLongInteger      Type = 0x03
	TypeBigInteger       Type = 0x04
	TypeEnumeration      Type = 0x05
	TypeBoolean          Type = 0x06
	TypeTextString       Type = 0x07
	TypeByteString       Type = 0x08
	TypeDateTime         Type = 0x09
	TypeInterval         Type = 0x0A
	TypeDateTimeExtended Type = 0x0B
)

// Value is one TTLV item: a primitive or a Structure with its children.
//
// A Value produced by Decode shares memory with the decoded input: Text,
// Bytes and the children of a structure point into the caller's buffer and
// into one arena allocated per message. The caller must not modify the
// input while the Value is in use. Values are immutable once built; the
// constructors copy nothing but the children slice header.
type Value struct {
	Tag  Tag
	Type Type

	// num holds Integer (sign-extended int32), Long Integer, Enumeration,
	// Boolean (0 or 1), Date-Time (seconds since the epoch), Interval
	// (seconds) and Date-Time Extended (microseconds since the epoch).
	num uint64
	// raw holds Text String (UTF-8), Byte String and Big Integer (two's
	// complement, big-endian, as on the wire) content.
	raw []byte
	// children of a Structure, in wire order.
	children []Value
}

// Struct builds a Structure. The children slice is kept, not copied.
func Struct(tag Tag, children ...Value) Value {
	return Value{Tag: tag, Type: TypeStructure, children: children}
}

// Int builds an Integer.
func Int(tag Tag, v int32) Value { return Value{Tag: tag, Type: TypeInteger, num: uint64(int64(v))} }

// Long builds a Long Integer.
func Long(tag Tag, v int64) Value { return Value{Tag: tag, Type: TypeLongInteger, num: uint64(v)} }

// Enum builds an Enumeration.
func Enum(tag Tag, v uint32) Value { return Value{Tag: tag, Type: TypeEnumeration, num: uint64(v)} }

// Bool builds a Boolean.
func Bool(tag Tag, v bool) Value {
	var n uint64
	if v {
		n = 1
	}
	return Value{Tag: tag, Type: TypeBoolean, num: n}
}

// Text builds a Text String.
func Text(tag Tag, s string) Value { return Value{Tag: tag, Type: TypeTextString, raw: []byte(s)} }

// Bytes builds a Byte String. The slice is kept, not copied.
func Bytes(tag Tag, b []byte) Value { return Value{Tag: tag, Type: TypeByteString, raw: b} }

// DateTime builds a Date-Time with second precision (KMIP 1.4 §9.1.1.4).
func DateTime(tag Tag, t time.Time) Value {
	return Value{Tag: tag, Type: TypeDateTime, num: uint64(t.Unix())}
}

// DateTimeExtended builds a 2.0 Date-Time Extended with microsecond precision.
func DateTimeExtended(tag Tag, t time.Time) Value {
	return Value{Tag: tag, Type: TypeDateTimeExtended, num: uint64(t.UnixMicro())}
}

// Interval builds an Interval in seconds.
func Interval(tag Tag, seconds uint32) Value {
	return Value{Tag: tag, Type: TypeInterval, num: uint64(seconds)}
}

// BigInt builds a Big Integer from x, encoded as two's complement big-endian
// and sign-extended to a multiple of 8 bytes (KMIP 1.4 §9.1.1.4).
func BigInt(tag Tag, x *big.Int) Value {
	return Value{Tag: tag, Type: TypeBigInteger, raw: bigIntBytes(x)}
}

// BigIntRaw builds a Big Integer from its wire bytes (two's complement,
// big-endian, length a multiple of 8). The slice is kept, not copied.
func BigIntRaw(tag Tag, b []byte) Value { return Value{Tag: tag, Type: TypeBigInteger, raw: b} }

// Int returns an Integer's value.
func (v Value) Int() int32 { return int32(int64(v.num)) }

// Long returns a Long Integer's value.
func (v Value) Long() int64 { return int64(v.num) }

// Enum returns an Enumeration's value.
func (v Value) Enum() uint32 { return uint32(v.num) }

// Bool returns a Boolean's value.
func (v Value) Bool() bool { return v.num != 0 }

// Text returns a Text String's value (a copy).
func (v Value) Text() string { return string(v.raw) }

// Bytes returns the content of a Text String, Byte String or Big Integer. The
// result aliases the Value's memory; do not modify it.
func (v Value) Bytes() []byte { return v.raw }

// Time returns a Date-Time or Date-Time Extended as a time in UTC.
func (v Value) Time() time.Time {
	if v.Type == TypeDateTimeExtended {
		return time.UnixMicro(int64(v.num)).UTC()
	}
	return time.Unix(int64(v.num), 0).UTC()
}

// Interval returns an Interval in seconds.
func (v Value) Interval() uint32 { return uint32(v.num) }

// Raw64 returns the numeric payload of a fixed-size primitive as stored: the
// 64-bit pattern used by Integer, Long Integer, Enumeration, Boolean,
// Date-Time, Interval and Date-Time Extended.
func (v Value) Raw64() uint64 { return v.num }

// BigInt returns a Big Integer's value.
func (v Value) BigInt() *big.Int { return bigIntFromBytes(v.raw) }

// Children returns a Structure's children in order. The result aliases the
// Value's memory; do not modify it.
func (v Value) Children() []Value { return v.children }

// Child returns the first child with the given tag.
func (v Value) Child(tag Tag) (Value, bool) {
	for i := range v.children {
		if v.children[i].Tag == tag {
			return v.children[i], true
		}
	}
	return Value{}, false
}

// Has reports whether a child with the given tag exists.
func (v Value) Has(tag Tag) bool {
	_, ok := v.Child(tag)
	return ok
}

// All returns every child with the given tag, in order.
func (v Value) All(tag Tag) []Value {
	var out []Value
	for i := range v.children {
		if v.children[i].Tag == tag {
			out = append(out, v.children[i])
		}
	}
	return out
}

// IsZero reports whether v is the zero Value (no tag, no type).
func (v Value) IsZero() bool { return v.Tag == 0 && v.Type == 0 }

// Equal reports whether a and b have the same tag, type and content,
// recursively and in order.
func Equal(a, b Value) bool {
	if a.Tag != b.Tag || a.Type != b.Type || a.num != b.num {
		return false
	}
	if !bytes.Equal(a.raw, b.raw) || len(a.children) != len(b.children) {
		return false
	}
	for i := range a.children {
		if !Equal(a.children[i], b.children[i]) {
			return false
		}
	}
	return true
}

// bigIntBytes encodes x as two's complement big-endian, sign-extended to a
// multiple of 8 bytes, at least 8.
func bigIntBytes(x *big.Int) []byte {
	if x == nil {
		x = new(big.Int)
	}
	if x.Sign() >= 0 {
		b := x.Bytes()
		// One extra bit keeps the sign positive.
		n := (len(b)*8 + 1 + 63) / 64 * 8
		if len(b) > 0 && b[0]&0x80 == 0 {
			n = (len(b) + 7) / 8 * 8
		}
		if n == 0 {
			n = 8
		}
		out := make([]byte, n)
		copy(out[n-len(b):], b)
		return out
	}
	// Negative: two's complement of |x| over n bytes. -2^(k-1) fits in k
	// bits, so the bits needed are those of |x|-1 plus the sign bit.
	abs := new(big.Int).Neg(x)
	bitLen := new(big.Int).Sub(abs, big.NewInt(1)).BitLen()
	n := (bitLen + 1 + 63) / 64 * 8
	mod := new(big.Int).Lsh(big.NewInt(1), uint(n*8))
	tc := new(big.Int).Sub(mod, abs).Bytes()
	out := make([]byte, n)
	for i := range out[:n-len(tc)] {
		out[i] = 0xff
	}
	copy(out[n-len(tc):], tc)
	return out
}

// bigIntFromBytes decodes two's complement big-endian bytes.
func bigIntFromBytes(b []byte) *big.Int {
	x := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		x.Sub(x, new(big.Int).Lsh(big.NewInt(1), uint(len(b)*8)))
	}
	return x
}
