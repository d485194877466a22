package ttlv

import (
	"encoding/binary"
	"math/big"
	"time"
)

// Encoder writes binary TTLV directly, without building a Value tree: the
// cheapest way to produce a response on a hot path.
//
//	var e ttlv.Encoder
//	e.Structure(tagResponseMessage, func(e *ttlv.Encoder) {
//		e.Int(tagBatchCount, 1)
//	})
//	msg := e.Bytes()
//
// Structure lengths are back-patched when a structure ends. The zero
// Encoder is ready to use.
//
// Messages may carry key material, so when the Encoder outgrows its buffer
// it zeroes the bytes it had written there before moving on (the caller's
// own bytes before them are left alone).
type Encoder struct {
	buf []byte
	// start is where the Encoder's own bytes begin in buf: what precedes
	// was the caller's dst.
	start int
}

// NewEncoder returns an Encoder that appends to dst.
func NewEncoder(dst []byte) *Encoder { return &Encoder{buf: dst, start: len(dst)} }

// grow makes room for n more bytes, zeroing the Encoder's bytes in the
// array it leaves.
func (e *Encoder) grow(n int) {
	if cap(e.buf)-len(e.buf) >= n {
		return
	}
	nb := make([]byte, len(e.buf), max(2*cap(e.buf), len(e.buf)+n, 512))
	copy(nb, e.buf)
	clear(e.buf[min(e.start, len(e.buf)):])
	e.buf = nb
	e.start = 0
}

// Grow makes room for at least n more bytes, so that writing that much
// does not reallocate: a caller that knows a bound on its output saves the
// intermediate arrays (and their zeroing) of growing by doubling.
func (e *Encoder) Grow(n int) {
	if n > 0 {
		e.grow(n)
	}
}

// Bytes returns everything written so far (including what dst held).
func (e *Encoder) Bytes() []byte { return e.buf }

// Len returns len(e.Bytes()).
func (e *Encoder) Len() int { return len(e.buf) }

// Reset empties the Encoder, keeping its buffer for reuse. Any slice returned
// by Bytes is then overwritten by later writes.
func (e *Encoder) Reset() { e.buf, e.start = e.buf[:0], 0 }

// Structure writes a Structure whose children are what fn writes.
func (e *Encoder) Structure(tag Tag, fn func(e *Encoder)) {
	m := e.Begin(tag)
	fn(e)
	e.End(m)
}

// Begin starts a Structure and returns a mark to pass to End. Begin/End
// pairs must nest.
func (e *Encoder) Begin(tag Tag) int {
	e.grow(headerLen)
	m := len(e.buf)
	e.buf = appendHeader(e.buf, tag, TypeStructure, 0)
	return m
}

// End closes the Structure that the Begin returning mark opened, filling in
// its length.
func (e *Encoder) End(mark int) {
	binary.BigEndian.PutUint32(e.buf[mark+4:], uint32(len(e.buf)-mark-headerLen))
}

// Value writes v.
func (e *Encoder) Value(v Value) {
	e.grow(encodedLen(&v))
	e.buf = appendValue(e.buf, &v)
}

// Int writes an Integer.
func (e *Encoder) Int(tag Tag, v int32) {
	e.grow(headerLen + 8)
	e.buf = appendHeader(e.buf, tag, TypeInteger, 4)
	e.buf = append(binary.BigEndian.AppendUint32(e.buf, uint32(v)), 0, 0, 0, 0)
}

// Long writes a Long Integer.
func (e *Encoder) Long(tag Tag, v int64) {
	e.grow(headerLen + 8)
	e.buf = appendHeader(e.buf, tag, TypeLongInteger, 8)
	e.buf = binary.BigEndian.AppendUint64(e.buf, uint64(v))
}

// Enum writes an Enumeration.
func (e *Encoder) Enum(tag Tag, v uint32) {
	e.grow(headerLen + 8)
	e.buf = appendHeader(e.buf, tag, TypeEnumeration, 4)
	e.buf = append(binary.BigEndian.AppendUint32(e.buf, v), 0, 0, 0, 0)
}

// Bool writes a Boolean.
func (e *Encoder) Bool(tag Tag, v bool) {
	var n uint64
	if v {
		n = 1
	}
	e.grow(headerLen + 8)
	e.buf = appendHeader(e.buf, tag, TypeBoolean, 8)
	e.buf = binary.BigEndian.AppendUint64(e.buf, n)
}

// Text writes a Text String. s should be UTF-8; Decode refuses it otherwise.
func (e *Encoder) Text(tag Tag, s string) {
	e.grow(headerLen + (len(s)+7)&^7)
	e.buf = appendHeader(e.buf, tag, TypeTextString, len(s))
	e.buf = append(e.buf, s...)
	e.buf = append(e.buf, zeros[:(8-len(s)%8)%8]...)
}

// ByteString writes a Byte String.
func (e *Encoder) ByteString(tag Tag, b []byte) {
	e.grow(headerLen + (len(b)+7)&^7)
	e.buf = appendHeader(e.buf, tag, TypeByteString, len(b))
	e.buf = append(e.buf, b...)
	e.buf = append(e.buf, zeros[:(8-len(b)%8)%8]...)
}

// BigInt writes a Big Integer (KMIP 1.4 §9.1.1.4).
func (e *Encoder) BigInt(tag Tag, x *big.Int) {
	b := bigIntBytes(x)
	e.BigIntRaw(tag, b)
	clear(b) // it may be a private key component
}

// BigIntRaw writes a Big Integer from its two's complement big-endian
// bytes, sign-extended to a multiple of 8 bytes.
func (e *Encoder) BigIntRaw(tag Tag, b []byte) {
	e.grow(headerLen + (len(b)+7)&^7)
	e.buf = appendBigIntRaw(e.buf, tag, b)
}

// DateTime writes a Date-Time, in whole seconds.
func (e *Encoder) DateTime(tag Tag, t time.Time) {
	e.grow(headerLen + 8)
	e.buf = appendHeader(e.buf, tag, TypeDateTime, 8)
	e.buf = binary.BigEndian.AppendUint64(e.buf, uint64(t.Unix()))
}

// DateTimeExtended writes a Date-Time Extended, in microseconds (KMIP 2.0
// §10.1.1.4).
func (e *Encoder) DateTimeExtended(tag Tag, t time.Time) {
	e.grow(headerLen + 8)
	e.buf = appendHeader(e.buf, tag, TypeDateTimeExtended, 8)
	e.buf = binary.BigEndian.AppendUint64(e.buf, uint64(t.UnixMicro()))
}

// Interval writes an Interval in seconds.
func (e *Encoder) Interval(tag Tag, seconds uint32) {
	e.grow(headerLen + 8)
	e.buf = appendHeader(e.buf, tag, TypeInterval, 4)
	e.buf = append(binary.BigEndian.AppendUint32(e.buf, seconds), 0, 0, 0, 0)
}
