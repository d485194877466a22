package pkcs12

import (
	"errors"
	"fmt"
	"hash"
	"unicode/utf8"
	"unsafe"
)

// Diversifier IDs of the PKCS#12 KDF (RFC 7292 Appendix B.3): the same
// password and salt give independent keys for different purposes.
const (
	kdfIDEncryptionKey byte = 1 // Decode's RFC 7292 Appendix C PBEs (Encode uses PBES2)
	kdfIDIV            byte = 2
	kdfIDMACKey        byte = 3
)

// bmpPassword returns password as RFC 7292 Appendix B.1 wants it for the
// PKCS#12 KDF: a BMPString (UTF-16BE, no byte order mark) followed by two
// zero bytes. The empty password is the two zero bytes alone.
//
// BMPString is UCS-2, so characters outside the Basic Multilingual Plane
// cannot be represented; a NUL would end the password early for readers that
// treat it as a C string. Both are refused rather than silently encoded in a
// way another implementation would derive a different key from. Invalid
// UTF-8 is refused too, because PBES2 uses the UTF-8 bytes of the same
// password and both derivations must see the same characters.
//
// The caller owns the result and must clear it.
func bmpPassword(password []byte) ([]byte, error) {
	out, err := appendBMP(make([]byte, 0, 2*len(password)+2), password)
	if err != nil {
		clear(out)
		return nil, fmt.Errorf("%w: %w", ErrPassword, err)
	}
	return append(out, 0, 0), nil
}

// bmpString returns s as the contents of an ASN.1 BMPString (UTF-16BE
// without a terminator), for the friendlyName attribute (RFC 2985 §5.5.1).
func bmpString(s string) ([]byte, error) {
	return appendBMP(make([]byte, 0, 2*len(s)), []byte(s))
}

// appendBMP appends s, UTF-8, to dst as UTF-16BE. s must be valid UTF-8 made
// only of non-NUL characters of the Basic Multilingual Plane; valid UTF-8
// never encodes a surrogate, so every accepted rune maps to exactly one
// UTF-16 code unit.
func appendBMP(dst, s []byte) ([]byte, error) {
	// The messages say neither which character nor where: s may be a
	// password, and errors reach clients and logs.
	for len(s) > 0 {
		r, size := utf8.DecodeRune(s)
		switch {
		case r == utf8.RuneError && size <= 1:
			return dst, errors.New("not valid UTF-8")
		case r == 0:
			return dst, errors.New("contains a NUL character")
		case r > 0xFFFF:
			return dst, errors.New("contains a character outside the Basic Multilingual Plane, which a PKCS#12 BMPString cannot hold (RFC 7292 Appendix B.1)")
		}
		dst = append(dst, byte(r>>8), byte(r)) //nolint:gosec // G115: checked above: r is below 0x10000, two bytes exactly
		s = s[size:]
	}
	return dst, nil
}

// pkcs12KDF derives size bytes with the PKCS#12 key derivation function of
// RFC 7292 Appendix B.2, for the diversifier id, from password (already in
// the B.1 form, see bmpPassword), salt and the iteration count. newHash picks
// H; u and v of B.2 are its Size and BlockSize. It is generic over the hash
// so that published SHA-1 vectors can test it, while Encode uses SHA-256.
//
// The KDF is obsolete for encryption (RFC 8018 replaced it with PBKDF2) but
// RFC 7292 §5.1 still mandates it for the MacData key, and every reader
// derives the MAC key this way.
//
// The caller owns the result and must clear it; every intermediate buffer
// holding password-derived bytes is cleared before returning.
func pkcs12KDF(newHash func() hash.Hash, id byte, password, salt []byte, iterations, size int) []byte {
	h := newHash()
	u, v := h.Size(), h.BlockSize()

	// Steps 1-4: D is v copies of the ID; I = S || P, where S and P are the
	// salt and password repeated to a multiple of v bytes.
	d := make([]byte, v)
	for i := range d {
		d[i] = id
	}
	in := make([]byte, 0, roundUp(len(salt), v)+roundUp(len(password), v))
	in = appendRepeated(in, salt, v)
	in = appendRepeated(in, password, v)
	defer clear(in)

	// Steps 5-7: c = ceil(size/u) blocks A_i = H^iterations(D || I), with
	// I updated between blocks.
	out := make([]byte, 0, (size+u-1)/u*u)
	a := make([]byte, 0, u)
	b := make([]byte, v)
	defer clear(b)
	for len(out) < size {
		h.Reset()
		h.Write(d)
		h.Write(in)
		a = h.Sum(a[:0])
		for j := 1; j < iterations; j++ {
			h.Reset()
			h.Write(a)
			a = h.Sum(a[:0])
		}
		out = append(out, a...)
		if len(out) >= size {
			break
		}
		// Step 6B-C: B is A_i repeated to v bytes; every v-byte block I_j
		// of I becomes (I_j + B + 1) mod 2^(8v).
		for j := range b {
			b[j] = a[j%u]
		}
		for j := 0; j < len(in); j += v {
			addOneAndB(in[j:j+v], b)
		}
	}
	clear(a)
	clear(out[size:])
	return out[:size]
}

// roundUp returns n rounded up to a multiple of v.
func roundUp(n, v int) int { return (n + v - 1) / v * v }

// appendRepeated appends data repeated to roundUp(len(data), v) bytes (RFC
// 7292 Appendix B.2 steps 2-3); empty data appends nothing.
func appendRepeated(dst, data []byte, v int) []byte {
	for i := range roundUp(len(data), v) {
		dst = append(dst, data[i%len(data)])
	}
	return dst
}

// addOneAndB sets block to (block + b + 1) mod 2^(8*len(block)), big-endian,
// as RFC 7292 Appendix B.2 step 6C requires. len(b) must equal len(block).
func addOneAndB(block, b []byte) {
	carry := uint(1)
	for i := len(block) - 1; i >= 0; i-- {
		sum := uint(block[i]) + uint(b[i]) + carry
		block[i] = byte(sum) //nolint:gosec // G115: the low byte of the sum, by design; the rest is the carry
		carry = sum >> 8
	}
}

// passwordView is password as a string for crypto/pbkdf2, which takes one,
// without the copy a conversion would make: that copy would be a string
// holding the password that nobody could clear. The view aliases password,
// so it is valid only while the caller keeps password unchanged, and
// pbkdf2.Key does not keep it.
func passwordView(password []byte) string {
	return unsafe.String(unsafe.SliceData(password), len(password)) //nolint:gosec // G103: a view for the one pbkdf2.Key call, see above
}
