package service

import (
	"context"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"math/bits"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
)

// ChaCha20 and ChaCha20-Poly1305 Encrypt and Decrypt (KMIP 2.0 §11.11
// Cryptographic Algorithm ChaCha20, ChaCha20Poly1305; [CHACHA], RFC 8439).
//
// SoftHSM 2.6 has no ChaCha20 mechanism, so the cipher runs here in Go on
// the key unwrapped for the one call (as RSA decryption does,
// crypto_asym.go); the plaintext key and every keystream block are cleared
// after use. The primitives are written from RFC 8439: the block function
// (§2.3), the cipher (§2.4), Poly1305 (§2.5), its key generation (§2.6) and
// the AEAD construction (§2.8).
//
// Nonces. A 12-byte IV/Counter/Nonce is the RFC 8439 nonce with a 32-bit
// block counter; an 8-byte one is Bernstein's original nonce with a 64-bit
// counter, which is what the OASIS vectors send (CS-BC-M-CHACHA20-1-20 to
// -3-20: their outputs are the [CHACHA] reference outputs); a 16-byte one
// is the whole of state words 12-15 (a little-endian 32-bit counter, then
// a 96-bit nonce, as OpenSSL takes it). ChaCha20-Poly1305 takes the 12-byte
// nonce only (RFC 8439 §2.8).

// chachaKeyLen is the ChaCha20 key length: 256 bits (RFC 8439 §2.3).
const chachaKeyLen = 32

// chachaBlockLen is the length of one keystream block (RFC 8439 §2.3).
const chachaBlockLen = 64

// poly1305TagLen is the full Poly1305 tag (RFC 8439 §2.5).
const poly1305TagLen = 16

// chachaMinTagLen is the shortest ChaCha20-Poly1305 tag the server makes
// or checks. RFC 8439 defines only the 16-byte tag; the OASIS reference
// server checks a tag truncated to 12 bytes (CS-BC-M-CHACHA20POLY1305-1-20
// step 6 succeeds) and refuses Tag Length 1 and 32 as General Failure
// ("invalid-tag-length", steps 7-8). Below 96 bits a forgery gets cheap,
// so 12 is the floor, as SP 800-38D §5.2.1.2 advises for GCM.
const chachaMinTagLen = 12

// chachaDefaultNonceLen is the length of a server-generated nonce: the
// 96-bit RFC 8439 nonce.
const chachaDefaultNonceLen = 12

// errChaChaCounter is returned when the data would wrap the block counter,
// which would reuse keystream (RFC 8439 §2.4: at most 2^32 blocks).
var errChaChaCounter = errors.New("chacha20: block counter would wrap")

// chachaCipher is ChaCha20 keyed and positioned at a block: the key words
// (state words 4-11) and state words 12-15 (counter and nonce).
type chachaCipher struct {
	key [8]uint32
	// w12 to w15 are state words 12-15. The block counter is w12, or with
	// wide set the 64-bit w12 (low) and w13 (high), as in [CHACHA].
	w    [4]uint32
	wide bool
}

// newChaCha keys a cipher with a 32-byte key, a nonce of 8, 12 or 16 bytes
// (see the file comment) and an initial block counter. A 16-byte nonce
// carries its own counter and ctr must be 0.
func newChaCha(key, nonce []byte, ctr uint64) (*chachaCipher, error) {
	if len(key) != chachaKeyLen {
		return nil, errors.New("chacha20: key is not 32 bytes")
	}
	c := &chachaCipher{}
	for i := range c.key {
		c.key[i] = binary.LittleEndian.Uint32(key[4*i:])
	}
	switch len(nonce) {
	case 8:
		c.wide = true
		c.w[0], c.w[1] = uint32(ctr), uint32(ctr>>32) //nolint:gosec // split of a 64-bit counter
		c.w[2] = binary.LittleEndian.Uint32(nonce[0:])
		c.w[3] = binary.LittleEndian.Uint32(nonce[4:])
	case 12:
		if ctr > 0xffffffff {
			return nil, errChaChaCounter
		}
		c.w[0] = uint32(ctr)
		for i := 1; i < 4; i++ {
			c.w[i] = binary.LittleEndian.Uint32(nonce[4*(i-1):])
		}
	case 16:
		if ctr != 0 {
			return nil, errors.New("chacha20: a 16-byte nonce carries its own counter")
		}
		for i := range c.w {
			c.w[i] = binary.LittleEndian.Uint32(nonce[4*i:])
		}
	default:
		return nil, errors.New("chacha20: nonce is not 8, 12 or 16 bytes")
	}
	return c, nil
}

// wipe clears the key.
func (c *chachaCipher) wipe() {
	clear(c.key[:])
	clear(c.w[:])
}

// quarterRound is the ChaCha quarter round (RFC 8439 §2.1).
func quarterRound(a, b, c, d uint32) (uint32, uint32, uint32, uint32) {
	a += b
	d = bits.RotateLeft32(d^a, 16)
	c += d
	b = bits.RotateLeft32(b^c, 12)
	a += b
	d = bits.RotateLeft32(d^a, 8)
	c += d
	b = bits.RotateLeft32(b^c, 7)
	return a, b, c, d
}

// block writes the keystream block at the current counter into out (RFC
// 8439 §2.3: 20 rounds, then the input added word by word, serialized
// little-endian).
func (c *chachaCipher) block(out *[chachaBlockLen]byte) {
	var in [16]uint32
	// "expand 32-byte k" (RFC 8439 §2.3).
	in[0], in[1], in[2], in[3] = 0x61707865, 0x3320646e, 0x79622d32, 0x6b206574
	copy(in[4:12], c.key[:])
	copy(in[12:], c.w[:])
	x := in
	for range 10 {
		// Column rounds.
		x[0], x[4], x[8], x[12] = quarterRound(x[0], x[4], x[8], x[12])
		x[1], x[5], x[9], x[13] = quarterRound(x[1], x[5], x[9], x[13])
		x[2], x[6], x[10], x[14] = quarterRound(x[2], x[6], x[10], x[14])
		x[3], x[7], x[11], x[15] = quarterRound(x[3], x[7], x[11], x[15])
		// Diagonal rounds.
		x[0], x[5], x[10], x[15] = quarterRound(x[0], x[5], x[10], x[15])
		x[1], x[6], x[11], x[12] = quarterRound(x[1], x[6], x[11], x[12])
		x[2], x[7], x[8], x[13] = quarterRound(x[2], x[7], x[8], x[13])
		x[3], x[4], x[9], x[14] = quarterRound(x[3], x[4], x[9], x[14])
	}
	for i := range x {
		binary.LittleEndian.PutUint32(out[4*i:], x[i]+in[i])
	}
	clear(x[:])
	clear(in[:])
}

// remaining returns how many blocks the counter can still produce before
// it wraps (2^64 saturates).
func (c *chachaCipher) remaining() uint64 {
	if c.wide {
		used := uint64(c.w[1])<<32 | uint64(c.w[0])
		if used == 0 {
			return ^uint64(0)
		}
		return -used
	}
	return 1<<32 - uint64(c.w[0])
}

// advance moves the counter to the next block.
func (c *chachaCipher) advance() {
	c.w[0]++
	if c.wide && c.w[0] == 0 {
		c.w[1]++
	}
}

// xorKeyStream sets dst to src XOR the keystream from the current counter
// on (RFC 8439 §2.4). dst and src must be the same length; they may be the
// same slice. It refuses data that would wrap the counter.
func (c *chachaCipher) xorKeyStream(dst, src []byte) error {
	n := (uint64(len(src)) + chachaBlockLen - 1) / chachaBlockLen
	if n > c.remaining() {
		return errChaChaCounter
	}
	var ks [chachaBlockLen]byte
	defer clear(ks[:])
	for len(src) > 0 {
		c.block(&ks)
		c.advance()
		m := min(len(src), chachaBlockLen)
		subtle.XORBytes(dst[:m], src[:m], ks[:m])
		dst, src = dst[m:], src[m:]
	}
	return nil
}

// poly1305 is a Poly1305 accumulator (RFC 8439 §2.5): h is the 130-bit
// accumulator in three 64-bit limbs, r the clamped multiplier, s the
// one-time pad added at the end. Arithmetic is on fixed-width limbs with
// no branch on secret values.
type poly1305 struct {
	h0, h1, h2 uint64
	r0, r1     uint64
	s0, s1     uint64
}

// newPoly1305 takes the 32-byte one-time key: r (clamped) then s.
func newPoly1305(key *[32]byte) *poly1305 {
	return &poly1305{
		// Clamp r (RFC 8439 §2.5): clear the top four bits of bytes 3, 7,
		// 11, 15 and the bottom two bits of bytes 4, 8, 12.
		r0: binary.LittleEndian.Uint64(key[0:]) & 0x0ffffffc0fffffff,
		r1: binary.LittleEndian.Uint64(key[8:]) & 0x0ffffffc0ffffffc,
		s0: binary.LittleEndian.Uint64(key[16:]),
		s1: binary.LittleEndian.Uint64(key[24:]),
	}
}

// wipe clears the state.
func (p *poly1305) wipe() { *p = poly1305{} }

// mulAdd adds one 16-byte block m (as a little-endian number plus hibit
// times 2^128) to the accumulator and multiplies by r modulo 2^130-5.
//
// Bounds: r0, r1 < 2^60 (clamped), and h2 stays below 8, so h2*r fits in
// 64 bits and the product is below 2^255. The reduction folds the bits
// above 2^130 back in times 5 (2^130 = 5 mod p), leaving h below
// 2^130 + 2^128: only partly reduced, which the next round tolerates and
// sum finishes.
func (p *poly1305) mulAdd(m0, m1, hibit uint64) {
	h0, c := bits.Add64(p.h0, m0, 0)
	h1, c := bits.Add64(p.h1, m1, c)
	h2 := p.h2 + c + hibit

	// h * r as four 64-bit columns.
	t0hi, t0lo := bits.Mul64(h0, p.r0)
	ahi, alo := bits.Mul64(h0, p.r1)
	bhi, blo := bits.Mul64(h1, p.r0)
	t1lo, c := bits.Add64(alo, blo, 0)
	t1hi := ahi + bhi + c
	chi, clo := bits.Mul64(h1, p.r1)
	t2lo, c := bits.Add64(clo, h2*p.r0, 0)
	t2hi := chi + c
	t3 := h2 * p.r1

	m0w := t0lo
	m1w, c := bits.Add64(t0hi, t1lo, 0)
	m2w, c := bits.Add64(t1hi, t2lo, c)
	m3w := t2hi + t3 + c

	// Reduce: low 130 bits plus 5 times the rest, as 4*high + high.
	h0, h1, h2 = m0w, m1w, m2w&3
	high0, high1 := m2w&^3, m3w // 4*high
	h0, c = bits.Add64(h0, high0, 0)
	h1, c = bits.Add64(h1, high1, c)
	h2 += c
	high0, high1 = m2w>>2|m3w<<62, m3w>>2 // high
	h0, c = bits.Add64(h0, high0, 0)
	h1, c = bits.Add64(h1, high1, c)
	h2 += c
	p.h0, p.h1, p.h2 = h0, h1, h2
}

// padded absorbs the whole 16-byte blocks of m; a trailing partial block is
// zero-padded to 16 bytes and absorbed as a whole block, which is what the
// AEAD's pad16 does (RFC 8439 §2.8).
func (p *poly1305) padded(m []byte) {
	for len(m) >= 16 {
		p.mulAdd(binary.LittleEndian.Uint64(m[0:]), binary.LittleEndian.Uint64(m[8:]), 1)
		m = m[16:]
	}
	if len(m) > 0 {
		var b [16]byte
		copy(b[:], m)
		p.mulAdd(binary.LittleEndian.Uint64(b[0:]), binary.LittleEndian.Uint64(b[8:]), 1)
		clear(b[:])
	}
}

// final absorbs the last bytes of a plain Poly1305 message: whole blocks
// as usual, then a short block with a 0x01 byte after it and no 2^128 bit
// (RFC 8439 §2.5.1).
func (p *poly1305) final(m []byte) {
	n := len(m) &^ 15
	p.padded(m[:n])
	if rest := m[n:]; len(rest) > 0 {
		var b [16]byte
		copy(b[:], rest)
		b[len(rest)] = 1
		p.mulAdd(binary.LittleEndian.Uint64(b[0:]), binary.LittleEndian.Uint64(b[8:]), 0)
		clear(b[:])
	}
}

// sum finishes: h is reduced modulo 2^130-5 in constant time (h < 2p, so
// one conditional subtraction suffices), and (h + s) mod 2^128 is the
// tag, little-endian.
func (p *poly1305) sum(tag *[poly1305TagLen]byte) {
	// g = h + 5 - 2^130; keep g when h + 5 reaches 2^130, i.e. h >= p.
	g0, c := bits.Add64(p.h0, 5, 0)
	g1, c := bits.Add64(p.h1, 0, c)
	g2 := p.h2 + c
	mask := -(g2 >> 2) // all ones when h >= p
	h0 := p.h0 ^ (mask & (p.h0 ^ g0))
	h1 := p.h1 ^ (mask & (p.h1 ^ g1))
	h0, c = bits.Add64(h0, p.s0, 0)
	h1, _ = bits.Add64(h1, p.s1, c)
	binary.LittleEndian.PutUint64(tag[0:], h0)
	binary.LittleEndian.PutUint64(tag[8:], h1)
}

// poly1305Sum is the Poly1305 MAC of msg under a 32-byte one-time key
// (RFC 8439 §2.5).
func poly1305Sum(key *[32]byte, msg []byte) [poly1305TagLen]byte {
	p := newPoly1305(key)
	defer p.wipe()
	p.final(msg)
	var tag [poly1305TagLen]byte
	p.sum(&tag)
	return tag
}

// chachaPolyTag computes the AEAD tag over aad and the ciphertext (RFC
// 8439 §2.8): the Poly1305 key is the first 32 bytes of keystream block 0
// (§2.6), and the MAC input is aad, ciphertext, each zero-padded to 16
// bytes, then both lengths as 64-bit little-endian numbers.
func chachaPolyTag(key, nonce, aad, ct []byte) ([poly1305TagLen]byte, error) {
	var tag [poly1305TagLen]byte
	c, err := newChaCha(key, nonce, 0)
	if err != nil {
		return tag, err
	}
	defer c.wipe()
	var blk [chachaBlockLen]byte
	c.block(&blk)
	var otk [32]byte
	copy(otk[:], blk[:32])
	clear(blk[:])
	p := newPoly1305(&otk)
	clear(otk[:])
	defer p.wipe()
	p.padded(aad)
	p.padded(ct)
	var lens [16]byte
	binary.LittleEndian.PutUint64(lens[0:], uint64(len(aad)))
	binary.LittleEndian.PutUint64(lens[8:], uint64(len(ct)))
	p.padded(lens[:])
	p.sum(&tag)
	return tag, nil
}

// chachaPolySeal encrypts plaintext and returns the ciphertext and the
// full tag (RFC 8439 §2.8: the data is encrypted from block counter 1).
func chachaPolySeal(key, nonce, aad, plaintext []byte) ([]byte, [poly1305TagLen]byte, error) {
	if len(nonce) != 12 {
		return nil, [poly1305TagLen]byte{}, errors.New("chacha20-poly1305: nonce is not 12 bytes")
	}
	c, err := newChaCha(key, nonce, 1)
	if err != nil {
		return nil, [poly1305TagLen]byte{}, err
	}
	defer c.wipe()
	ct := make([]byte, len(plaintext))
	if err := c.xorKeyStream(ct, plaintext); err != nil {
		return nil, [poly1305TagLen]byte{}, err
	}
	tag, err := chachaPolyTag(key, nonce, aad, ct)
	if err != nil {
		return nil, [poly1305TagLen]byte{}, err
	}
	return ct, tag, nil
}

// errChaChaAuth is a tag that does not verify.
var errChaChaAuth = errors.New("chacha20-poly1305: message authentication failed")

// chachaPolyOpen checks tag (the whole tag, or a truncation of it to at
// least chachaMinTagLen bytes) in constant time and only then decrypts.
func chachaPolyOpen(key, nonce, aad, ct, tag []byte) ([]byte, error) {
	if len(nonce) != 12 {
		return nil, errors.New("chacha20-poly1305: nonce is not 12 bytes")
	}
	if len(tag) < chachaMinTagLen || len(tag) > poly1305TagLen {
		return nil, errors.New("chacha20-poly1305: bad tag length")
	}
	want, err := chachaPolyTag(key, nonce, aad, ct)
	if err != nil {
		return nil, err
	}
	ok := subtle.ConstantTimeCompare(want[:len(tag)], tag) == 1
	clear(want[:])
	if !ok {
		return nil, errChaChaAuth
	}
	c, err := newChaCha(key, nonce, 1)
	if err != nil {
		return nil, err
	}
	defer c.wipe()
	out := make([]byte, len(ct))
	if err := c.xorKeyStream(out, ct); err != nil {
		clear(out)
		return nil, err
	}
	return out, nil
}

// The service side: parameters, key, dispatch.

// isChaChaKey reports whether o is a ChaCha20 or ChaCha20-Poly1305 key, for
// the Encrypt and Decrypt dispatch (crypto_ops.go).
func isChaChaKey(o *objects.Object) bool { return isChaChaAlgorithm(objectAlgorithm(o)) }

// isChaChaAlgorithm reports whether a is ChaCha20 or ChaCha20-Poly1305,
// whose keys are 256 bits (RFC 8439 §2.3).
func isChaChaAlgorithm(a kmip.CryptographicAlgorithm) bool {
	return a == kmip.CryptographicAlgorithmChaCha20 || a == kmip.CryptographicAlgorithmChaCha20Poly1305
}

// chachaSpec is what the parameters resolve to.
type chachaSpec struct {
	aead   bool
	tagLen int    // AEAD, Encrypt: tag bytes to return
	ctr    uint64 // plain ChaCha20: initial block counter
}

// chachaResolve resolves the Cryptographic Parameters for a ChaCha key. A
// ChaCha20-Poly1305 key always runs the AEAD; a ChaCha20 key runs it when
// the parameters ask (Block Cipher Mode AEAD or Cryptographic Algorithm
// ChaCha20Poly1305), else the plain stream cipher, starting at Initial
// Counter Value (default 0, as the OASIS vectors expect). Padding is
// meaningless for a stream cipher: only None is accepted.
func chachaResolve(o *objects.Object, p cryptoParams, encrypt bool) (chachaSpec, error) {
	var cs chachaSpec
	keyAEAD := objectAlgorithm(o) == kmip.CryptographicAlgorithmChaCha20Poly1305
	switch p.alg {
	case 0:
		cs.aead = keyAEAD
	case kmip.CryptographicAlgorithmChaCha20Poly1305:
		cs.aead = true
	case kmip.CryptographicAlgorithmChaCha20:
		if keyAEAD {
			// Keep an AEAD key to the AEAD: unauthenticated use of the
			// same key would give up what its owner chose it for.
			return cs, kmip.Errorf(kmip.ResultReasonInvalidField, "a ChaCha20-Poly1305 key is used only as an AEAD")
		}
	default:
		return cs, kmip.Errorf(kmip.ResultReasonInvalidField, "cryptographic algorithm %v does not match the ChaCha20 key %s", p.alg, o.ID)
	}
	switch p.mode {
	case 0:
	case kmip.BlockCipherModeAEAD:
		cs.aead = true
	default:
		return cs, kmip.Errorf(kmip.ResultReasonInvalidField, "block cipher mode %v is not offered for ChaCha20", p.mode)
	}
	if p.padding != 0 && p.padding != kmip.PaddingMethodNone {
		return cs, kmip.Errorf(kmip.ResultReasonInvalidField, "padding method %v is not offered for the ChaCha20 stream cipher", p.padding)
	}
	if cs.aead {
		if encrypt {
			cs.tagLen = poly1305TagLen
			if p.hasTagLength {
				cs.tagLen = int(p.tagLength)
			}
			if cs.tagLen < chachaMinTagLen || cs.tagLen > poly1305TagLen {
				// General Failure, as for GCM (gcmTagLen).
				return cs, kmip.Errorf(kmip.ResultReasonGeneralFailure, "invalid tag length %d (want %d to %d bytes)", cs.tagLen, chachaMinTagLen, poly1305TagLen)
			}
		}
		return cs, nil
	}
	if p.hasInitialCtr {
		cs.ctr = uint64(p.initialCounter) //nolint:gosec // cryptoLength admits no negative value
	}
	return cs, nil
}

// chachaNonceLen is the length of a nonce the server generates: IV Length
// (bits) when given, 64 or 96 bits for ChaCha20 and 96 bits for the AEAD,
// else 96 bits.
func chachaNonceLen(p cryptoParams, aead bool) (int, error) {
	if !p.hasIVLength {
		return chachaDefaultNonceLen, nil
	}
	if p.ivLength == 96 || (p.ivLength == 64 && !aead) {
		return int(p.ivLength / 8), nil
	}
	return 0, kmip.Errorf(kmip.ResultReasonInvalidField, "ChaCha20 IV length of %d bits is not offered", p.ivLength)
}

// chachaCheckNonce checks the nonce length for the resolved spec.
func chachaCheckNonce(cs chachaSpec, nonce []byte) error {
	if cs.aead {
		if len(nonce) != 12 {
			return kmip.Errorf(kmip.ResultReasonInvalidField, "ChaCha20-Poly1305 needs a nonce of 12 bytes, got %d", len(nonce))
		}
		return nil
	}
	switch len(nonce) {
	case 8, 12:
		return nil
	case 16:
		if cs.ctr != 0 {
			return kmip.Errorf(kmip.ResultReasonInvalidField, "a 16-byte ChaCha20 IV carries its own counter: no initial counter value with it")
		}
		return nil
	}
	return kmip.Errorf(kmip.ResultReasonInvalidField, "ChaCha20 needs a nonce of 8, 12 or 16 bytes, got %d", len(nonce))
}

// chachaKey unwraps o's key for one call. The caller must clear it.
func (c *cryptoOps) chachaKey(ctx context.Context, o *objects.Object) ([]byte, error) {
	if o.Wrapped == nil {
		return nil, kmip.Errorf(kmip.ResultReasonKeyValueNotPresent, "object %s has no key value", o.ID)
	}
	if o.Wrapped.Len != 0 && o.Wrapped.Len != chachaKeyLen {
		return nil, chachaBadKey(o, o.Wrapped.Len)
	}
	k, err := c.s.hsm.Unwrap(ctx, fromStored(o.Wrapped))
	if err != nil {
		return nil, cryptoHSMError("unwrap key", err)
	}
	if len(k) != chachaKeyLen {
		n := len(k)
		clear(k)
		return nil, chachaBadKey(o, n)
	}
	return k, nil
}

// chachaBadKey is the error for a ChaCha key that is not 256 bits: it
// cannot be used (KMIP 1.4 §11.30 Permission Denied, as blockCipherOf).
func chachaBadKey(o *objects.Object, n int) error {
	return kmip.Errorf(kmip.ResultReasonPermissionDenied, "object %s is a ChaCha20 key of %d bytes, not %d: it cannot be used for encryption", o.ID, n, chachaKeyLen)
}

// chachaEncrypt encrypts r.data with the ChaCha key o, after charging the
// Usage Limits (consume). Parameters are checked before the key is
// unwrapped or usage charged.
func (c *cryptoOps) chachaEncrypt(ctx context.Context, req *kmip.Request, o *objects.Object, p cryptoParams, r *cryptoRequest) (blockResult, error) {
	var res blockResult
	cs, err := chachaResolve(o, p, true)
	if err != nil {
		return res, err
	}
	n, err := chachaNonceLen(p, cs.aead)
	if err != nil {
		return res, err
	}
	nonce, gen, err := c.requestIV(ctx, p, r, true, n)
	if err != nil {
		return res, err
	}
	if err := chachaCheckNonce(cs, nonce); err != nil {
		return res, err
	}
	if err := c.consume(ctx, req, o, kmip.CryptographicUsageMaskEncrypt, len(r.data)); err != nil {
		return res, err
	}
	key, err := c.chachaKey(ctx, o)
	if err != nil {
		return res, err
	}
	defer clear(key)
	if cs.aead {
		ct, tag, err := chachaPolySeal(key, nonce, r.aad, r.data)
		if err != nil {
			return res, chachaFailure("encrypt", err)
		}
		res.data, res.tag = ct, append([]byte(nil), tag[:cs.tagLen]...)
	} else {
		ch, err := newChaCha(key, nonce, cs.ctr)
		if err != nil {
			return res, chachaFailure("encrypt", err)
		}
		defer ch.wipe()
		res.data = make([]byte, len(r.data))
		if err := ch.xorKeyStream(res.data, r.data); err != nil {
			return blockResult{}, chachaFailure("encrypt", err)
		}
	}
	if gen {
		res.iv, res.ivGenerated = nonce, true
	}
	return res, nil
}

// chachaDecrypt decrypts r.data with the ChaCha key o. For the AEAD the
// tag is checked first; a tag that does not verify is Cryptographic
// Failure (CS-BC-M-CHACHA20POLY1305-1-20 steps 3-5).
func (c *cryptoOps) chachaDecrypt(ctx context.Context, o *objects.Object, p cryptoParams, r *cryptoRequest) ([]byte, error) {
	cs, err := chachaResolve(o, p, false)
	if err != nil {
		return nil, err
	}
	if !r.hasIV {
		return nil, missing("IV/counter/nonce")
	}
	if err := chachaCheckNonce(cs, r.iv); err != nil {
		return nil, err
	}
	if cs.aead {
		if !r.hasTag {
			return nil, missing("authenticated encryption tag")
		}
		if p.hasTagLength && int(p.tagLength) != len(r.tag) {
			return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "tag of %d bytes but tag length %d", len(r.tag), p.tagLength)
		}
		if len(r.tag) < chachaMinTagLen || len(r.tag) > poly1305TagLen {
			return nil, kmip.Errorf(kmip.ResultReasonGeneralFailure, "invalid tag length %d (want %d to %d bytes)", len(r.tag), chachaMinTagLen, poly1305TagLen)
		}
	}
	key, err := c.chachaKey(ctx, o)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	if cs.aead {
		out, err := chachaPolyOpen(key, r.iv, r.aad, r.data, r.tag)
		if err != nil {
			return nil, chachaFailure("decrypt", err)
		}
		return out, nil
	}
	ch, err := newChaCha(key, r.iv, cs.ctr)
	if err != nil {
		return nil, chachaFailure("decrypt", err)
	}
	defer ch.wipe()
	out := make([]byte, len(r.data))
	if err := ch.xorKeyStream(out, r.data); err != nil {
		clear(out)
		return nil, chachaFailure("decrypt", err)
	}
	return out, nil
}

// chachaFailure maps a primitive's error: a tag that does not verify or a
// counter that would wrap is Cryptographic Failure (KMIP 1.4 §11.30-11.31
// "Cryptographic error during ..."). The other errors cannot happen after
// the checks above; they get the same reason.
func chachaFailure(op string, err error) error {
	return kmip.Errorf(kmip.ResultReasonCryptographicFailure, "%s failed: %v", op, err)
}
