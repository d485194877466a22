package ttlv

import (
	"encoding/binary"
	"slices"
)

// EncodedLen returns the length of v in binary TTLV, header and padding
// included.
func (v Value) EncodedLen() int { return encodedLen(&v) }

func encodedLen(v *Value) int {
	switch v.Type {
	case TypeStructure:
		n := headerLen
		for i := range v.children {
			n += encodedLen(&v.children[i])
		}
		return n
	case TypeTextString, TypeByteString, TypeBigInteger:
		return headerLen + (len(v.raw)+7)&^7
	default:
		return headerLen + 8
	}
}

// Marshal returns the binary TTLV encoding of v.
func Marshal(v Value) []byte {
	return appendValue(make([]byte, 0, encodedLen(&v)), &v)
}

// Append appends the binary TTLV encoding of v to dst and returns the
// extended slice. It allocates only to grow dst, at most once.
//
// Append does not validate v beyond what the encoding forces: a Boolean is
// written as 0 or 1, and a Big Integer whose content is not a multiple of 8
// bytes is sign-extended to one (KMIP 1.4 §9.1.1.4). Items of an unknown type
// are written with an empty value, which Decode refuses.
func Append(dst []byte, v Value) []byte {
	if n := encodedLen(&v); cap(dst)-len(dst) < n {
		dst = slices.Grow(dst, n)
	}
	return appendValue(dst, &v)
}

func appendHeader(dst []byte, tag Tag, typ Type, l int) []byte {
	return append(dst, byte(tag>>16), byte(tag>>8), byte(tag), byte(typ),
		byte(l>>24), byte(l>>16), byte(l>>8), byte(l))
}

var zeros [8]byte

func appendValue(dst []byte, v *Value) []byte {
	switch v.Type {
	case TypeStructure:
		start := len(dst)
		dst = appendHeader(dst, v.Tag, TypeStructure, 0)
		for i := range v.children {
			dst = appendValue(dst, &v.children[i])
		}
		// Back-patch the length now that the children are written.
		binary.BigEndian.PutUint32(dst[start+4:], uint32(len(dst)-start-headerLen))
		return dst
	case TypeInteger, TypeEnumeration, TypeInterval:
		dst = appendHeader(dst, v.Tag, v.Type, 4)
		return append(binary.BigEndian.AppendUint32(dst, uint32(v.num)), 0, 0, 0, 0)
	case TypeLongInteger, TypeDateTime, TypeDateTimeExtended:
		dst = appendHeader(dst, v.Tag, v.Type, 8)
		return binary.BigEndian.AppendUint64(dst, v.num)
	case TypeBoolean:
		dst = appendHeader(dst, v.Tag, v.Type, 8)
		var n uint64
		if v.num != 0 {
			n = 1
		}
		return binary.BigEndian.AppendUint64(dst, n)
	case TypeTextString, TypeByteString:
		dst = appendHeader(dst, v.Tag, v.Type, len(v.raw))
		dst = append(dst, v.raw...)
		return append(dst, zeros[:(8-len(v.raw)%8)%8]...)
	case TypeBigInteger:
		return appendBigIntRaw(dst, v.Tag, v.raw)
	default:
		return appendHeader(dst, v.Tag, v.Type, 0)
	}
}

// appendBigIntRaw writes a Big Integer whose two's complement content is
// raw, sign-extending it to a multiple of 8 bytes.
func appendBigIntRaw(dst []byte, tag Tag, raw []byte) []byte {
	n := (len(raw) + 7) &^ 7
	dst = appendHeader(dst, tag, TypeBigInteger, n)
	var fill byte
	if len(raw) > 0 && raw[0]&0x80 != 0 {
		fill = 0xFF
	}
	for range n - len(raw) {
		dst = append(dst, fill)
	}
	return append(dst, raw...)
}
