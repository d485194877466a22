package service

import (
	"context"
	"crypto/subtle"
	"encoding/binary"

	"github.com/kmipd/kmipd/hsmbackend"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// Multi-part Encrypt and Decrypt. Each part is encrypted in the HSM as far
// as whole blocks allow; the rest waits for the next part. CBC chains
// through the last ciphertext block, CTR through the counter.
//
// AES-GCM in parts (CS-BC-M-GCM-3) is built from its definition (NIST SP
// 800-38D §7): the HSM encrypts in CTR mode from inc32(J0), and GHASH runs
// here under the hash subkey H = AES_K(0^128), which the HSM computes (ECB).
// H and AES_K(J0) are key-derived secrets: they live in process memory for
// the stream's life and are cleared when it ends. A multi-part Decrypt
// necessarily returns plaintext before the tag, checked at the last part,
// has authenticated it; that is the protocol's design.

// cipherStream is the state of one multi-part Encrypt or Decrypt.
type cipherStream struct {
	encrypt     bool
	bc          blockCipher
	mode        kmip.BlockCipherMode
	padding     kmip.PaddingMethod
	chain       []byte // CBC: the next IV; CTR and GCM: the next counter block
	counterBits int    // CTR; GCM counts in 32 bits
	pending     []byte // input not yet processed
	ivOut       []byte // a generated IV, sent with the first response
	gcm         *gcmState
}

type gcmState struct {
	h, ekj0, s    [16]byte
	aadLen, ctLen uint64
	tagLen        int
	tag           []byte // Decrypt: the expected tag
}

func (cs *cipherStream) wipe() {
	clear(cs.pending)
	if cs.gcm != nil {
		clear(cs.gcm.h[:])
		clear(cs.gcm.ekj0[:])
		clear(cs.gcm.s[:])
	}
}

// streamCipher runs multi-part Encrypt and Decrypt.
func (c *cryptoOps) streamCipher(ctx context.Context, req *kmip.Request, r *cryptoRequest, encrypt bool) (ttlv.Value, error) {
	h := streamHandler{op: kmip.OperationDecrypt, usage: kmip.CryptographicUsageMaskDecrypt}
	if encrypt {
		h.op, h.usage = kmip.OperationEncrypt, kmip.CryptographicUsageMaskEncrypt
	}
	h.init = func(ctx context.Context, req *kmip.Request, st *stream, o *objects.Object, r *cryptoRequest) error {
		if o.ObjectType != kmip.ObjectTypeSymmetricKey {
			return wrongObjectType(req, o, "multi-part encryption")
		}
		bc, err := blockCipherOf(o)
		if err != nil {
			return err
		}
		cs := &cipherStream{encrypt: encrypt, bc: bc, mode: st.params.mode}
		switch st.params.mode {
		case kmip.BlockCipherModeGCM:
			err = c.gcmStreamInit(ctx, o, cs, st.params, r)
		case kmip.BlockCipherModeECB, kmip.BlockCipherModeCBC, kmip.BlockCipherModeCTR:
			var rb resolvedBlock
			if rb, err = c.blockParams(ctx, bc, st.params, r, encrypt); err != nil {
				return err
			}
			cs.padding = rb.padding
			cs.chain = append([]byte(nil), rb.params.IV...)
			cs.counterBits = rb.params.CounterBits
			if cs.counterBits == 0 {
				cs.counterBits = 128
			}
			if rb.generated {
				cs.ivOut = append([]byte(nil), cs.chain...)
			}
		case 0:
			err = kmip.Errorf(kmip.ResultReasonInvalidField, "no block cipher mode given for %s", o.ID)
		default:
			err = kmip.Errorf(kmip.ResultReasonInvalidField, "block cipher mode %v is not supported", st.params.mode)
		}
		st.cipher = cs
		return err
	}
	h.update = func(ctx context.Context, req *kmip.Request, st *stream, o *objects.Object, r *cryptoRequest) ([]byte, error) {
		if encrypt && len(r.data) > 0 {
			if err := c.consume(ctx, req, o, kmip.CryptographicUsageMaskEncrypt, len(r.data)); err != nil {
				return nil, err
			}
		}
		return c.cipherPart(ctx, o, st.cipher, r.data, r.final)
	}
	h.final = func(_ context.Context, _ *kmip.Request, st *stream, o *objects.Object, _ *cryptoRequest) (ttlv.Value, error) {
		// update already processed the last part; its output is in
		// st.cipher.lastOut.
		cs := st.cipher
		res := blockResult{data: cs.lastOut()}
		if st.firstOut {
			res.iv, res.ivGenerated = cs.ivOut, cs.ivOut != nil
		}
		if cs.gcm != nil {
			tag := cs.gcmTag()
			if encrypt {
				res.tag = tag
			} else if subtle.ConstantTimeCompare(tag, cs.gcm.tag) != 1 {
				clear(res.data)
				return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonCryptographicFailure, "decrypt failed")
			}
		}
		return cipherPartResponse(o, encrypt, res, nil), nil
	}
	h.partial = func(st *stream, o *objects.Object, out, corr []byte) ttlv.Value {
		res := blockResult{data: out}
		if st.firstOut {
			res.iv, res.ivGenerated = st.cipher.ivOut, st.cipher.ivOut != nil
		}
		return cipherPartResponse(o, encrypt, res, corr)
	}
	return c.streamed(ctx, req, r, h)
}

// cipherPartResponse answers one part of a multi-part Encrypt or Decrypt.
// A part that produced nothing has no Data field, as in the OASIS test
// cases (TC-STREAM-ENC-1, TC-STREAM-ENCDEC-1: a first part shorter than a
// block is answered with the Unique Identifier and Correlation Value only).
func cipherPartResponse(o *objects.Object, encrypt bool, res blockResult, corr []byte) ttlv.Value {
	if len(res.data) == 0 {
		res.data = nil
	}
	if encrypt {
		return encryptResponse(o, res, corr)
	}
	f := []ttlv.Value{idField(o)}
	if res.data != nil {
		f = append(f, ttlv.Bytes(kmip.TagData, res.data))
	}
	if corr != nil {
		f = append(f, corrField(corr))
	}
	return kmip.Payload(f...)
}

// lastOut hands the output of the final part from update to final.
func (cs *cipherStream) lastOut() []byte {
	out := cs.pending
	cs.pending = nil
	if out == nil {
		out = []byte{}
	}
	return out
}

// cipherPart processes one part. For the final part the output is parked
// in cs.pending for lastOut (the final response is built after update).
func (c *cryptoOps) cipherPart(ctx context.Context, o *objects.Object, cs *cipherStream, data []byte, final bool) ([]byte, error) {
	if len(cs.pending)+len(data) > maxCryptoData {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "multi-part data exceeds %d bytes", maxCryptoData)
	}
	in := make([]byte, 0, len(cs.pending)+len(data))
	in = append(append(in, cs.pending...), data...)
	clear(cs.pending)
	cs.pending = nil
	bs := cs.bc.blockSize
	if cs.mode == kmip.BlockCipherModeCTR || cs.mode == kmip.BlockCipherModeGCM {
		bs = 16
	}
	n := len(in) / bs * bs
	if final {
		n = len(in)
		switch {
		case cs.mode == kmip.BlockCipherModeCTR || cs.mode == kmip.BlockCipherModeGCM:
		case cs.encrypt && cs.padding == kmip.PaddingMethodPKCS5:
			padded := pkcs5Pad(in, bs)
			clear(in)
			in, n = padded, len(padded)
		case n%bs != 0:
			clear(in)
			return nil, kmip.Errorf(kmip.ResultReasonCryptographicFailure, "data of %d bytes is not a multiple of the %d-byte block", n, bs)
		case !cs.encrypt && cs.padding == kmip.PaddingMethodPKCS5 && n == 0:
			return nil, kmip.Errorf(kmip.ResultReasonCryptographicFailure, "padded ciphertext is empty")
		}
	} else if !cs.encrypt && cs.padding == kmip.PaddingMethodPKCS5 && n == len(in) && n > 0 {
		// Hold the last block back: it carries the padding.
		n -= bs
	}
	var out []byte
	var err error
	if n > 0 {
		out, err = c.cipherBlocks(ctx, o, cs, in[:n])
	}
	if err == nil && cs.gcm != nil {
		ct := out
		if !cs.encrypt {
			ct = in[:n]
		}
		cs.gcm.s = ghashUpdate(cs.gcm.h, cs.gcm.s, ct)
		cs.gcm.ctLen += uint64(n)
	}
	rest := append([]byte(nil), in[n:]...)
	clear(in)
	if err != nil {
		return nil, cryptoHSMError("multi-part cipher", err)
	}
	if out == nil {
		out = []byte{}
	}
	if final {
		if !cs.encrypt && cs.padding == kmip.PaddingMethodPKCS5 && cs.mode != kmip.BlockCipherModeCTR && cs.mode != kmip.BlockCipherModeGCM {
			m, ok := pkcs5Unpad(out, bs)
			if !ok {
				clear(out)
				return nil, kmip.Errorf(kmip.ResultReasonCryptographicFailure, "bad padding")
			}
			out = out[:m]
		}
		cs.pending = out
		return nil, nil
	}
	cs.pending = rest
	return out, nil
}

// cipherBlocks runs one HSM call over in and advances the chaining state.
func (c *cryptoOps) cipherBlocks(ctx context.Context, o *objects.Object, cs *cipherStream, in []byte) ([]byte, error) {
	var out []byte
	err := c.withKey(ctx, o, cipherUse(cs.bc.kind), func(h hsmbackend.Handle) error {
		out = nil
		op := c.s.hsm.Decrypt
		if cs.encrypt {
			op = c.s.hsm.Encrypt
		}
		switch cs.mode {
		case kmip.BlockCipherModeECB:
			var err error
			out, err = op(ctx, h, hsmbackend.BlockParams{Mode: hsmbackend.ModeECB}, in)
			return err
		case kmip.BlockCipherModeCBC:
			var err error
			out, err = op(ctx, h, hsmbackend.BlockParams{Mode: hsmbackend.ModeCBC, IV: cs.chain}, in)
			return err
		default: // CTR and GCM, below
		}
		// CTR and GCM. GCM's inc32 wraps by definition, which SoftHSM
		// refuses within one call, so a GCM part is cut where the low 32
		// bits wrap. A CTR counter that would wrap is refused by the HSM,
		// as in single-part CTR: it would reuse counter blocks.
		bits := cs.counterBits
		ctr := append([]byte(nil), cs.chain...)
		rest := in
		for len(rest) > 0 {
			take := len(rest)
			if room := ctrRoom(ctr, bits); cs.mode == kmip.BlockCipherModeGCM && room < uint64(take+15)/16 {
				take = int(room) * 16 //nolint:gosec // room is below take/16 here
			}
			part, err := c.s.hsm.Encrypt(ctx, h, hsmbackend.BlockParams{Mode: hsmbackend.ModeCTR, IV: ctr, CounterBits: bits}, rest[:take])
			if err != nil {
				return err
			}
			out = append(out, part...)
			ctr = ctrAdd(ctr, uint64(take+15)/16, bits)
			rest = rest[take:]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch cs.mode {
	case kmip.BlockCipherModeCBC:
		last := out
		if !cs.encrypt {
			last = in
		}
		cs.chain = append(cs.chain[:0], last[len(last)-cs.bc.blockSize:]...)
	case kmip.BlockCipherModeCTR, kmip.BlockCipherModeGCM:
		cs.chain = ctrAdd(cs.chain, uint64(len(in)+15)/16, cs.counterBits)
	default: // ECB does not chain
	}
	return out, nil
}

// ctrAdd adds n to the low bits of a 16-byte counter block, modulo 2^bits,
// leaving the other bits alone (SP 800-38A §B.1).
func ctrAdd(block []byte, n uint64, bits int) []byte {
	hi, lo := binary.BigEndian.Uint64(block[:8]), binary.BigEndian.Uint64(block[8:])
	var mhi, mlo uint64 // mask of the counter bits
	switch {
	case bits >= 128:
		mhi, mlo = ^uint64(0), ^uint64(0)
	case bits > 64:
		mhi, mlo = (uint64(1)<<(bits-64))-1, ^uint64(0)
	case bits == 64:
		mlo = ^uint64(0)
	default:
		mlo = (uint64(1) << bits) - 1
	}
	nlo := lo + n
	carry := uint64(0)
	if nlo < lo {
		carry = 1
	}
	nhi := hi + carry
	out := make([]byte, 16)
	binary.BigEndian.PutUint64(out[:8], hi&^mhi|nhi&mhi)
	binary.BigEndian.PutUint64(out[8:], lo&^mlo|nlo&mlo)
	return out
}

// ctrRoom is the number of blocks before the counter's low bits wrap,
// capped at 2^63.
func ctrRoom(block []byte, bits int) uint64 {
	if bits >= 64 {
		return 1 << 63
	}
	lo := binary.BigEndian.Uint64(block[8:])
	mask := (uint64(1) << bits) - 1
	return mask - lo&mask + 1
}

// gcmStreamInit resolves the GCM parameters and derives H, J0 and
// AES_K(J0) in the HSM (SP 800-38D §7.1 steps 1-2, 6).
func (c *cryptoOps) gcmStreamInit(ctx context.Context, o *objects.Object, cs *cipherStream, p cryptoParams, r *cryptoRequest) error {
	if cs.bc.kind != hsmbackend.AES {
		return kmip.Errorf(kmip.ResultReasonInvalidField, "GCM is offered for AES only")
	}
	tagLen, err := gcmTagLen(p)
	if err != nil {
		return err
	}
	n, err := gcmIVLen(p)
	if err != nil {
		return err
	}
	iv, gen, err := c.requestIV(ctx, p, r, cs.encrypt, n)
	if err != nil {
		return err
	}
	if len(iv) < 1 || len(iv) > 128 {
		return kmip.Errorf(kmip.ResultReasonInvalidField, "GCM IV of %d bytes (want 1 to 128)", len(iv))
	}
	g := &gcmState{tagLen: tagLen}
	if !cs.encrypt {
		// 2.0 §6.1.11: the tag "MUST be supplied on the initial Decrypt
		// request".
		if !r.hasTag {
			return missing("authenticated encryption tag")
		}
		if p.hasTagLength && int(p.tagLength) != len(r.tag) {
			return kmip.Errorf(kmip.ResultReasonInvalidField, "tag of %d bytes but tag length %d", len(r.tag), p.tagLength)
		}
		if len(r.tag) < gcmMinTagLen || len(r.tag) > gcmMaxTagLen {
			return kmip.Errorf(kmip.ResultReasonGeneralFailure, "invalid tag length %d", len(r.tag))
		}
		g.tagLen = len(r.tag)
		g.tag = append([]byte(nil), r.tag...)
	}
	var j0 [16]byte
	err = c.withKey(ctx, o, cipherUse(cs.bc.kind), func(h hsmbackend.Handle) error {
		zero := make([]byte, 16)
		hb, err := c.s.hsm.Encrypt(ctx, h, hsmbackend.BlockParams{Mode: hsmbackend.ModeECB}, zero)
		if err != nil {
			return err
		}
		copy(g.h[:], hb)
		clear(hb)
		if len(iv) == 12 {
			copy(j0[:], iv)
			j0[15] = 1
		} else {
			// J0 = GHASH_H(IV ‖ 0^(s+64) ‖ [len(IV)]_64).
			var lb [16]byte
			binary.BigEndian.PutUint64(lb[8:], uint64(len(iv))*8)
			j0 = ghashUpdate(g.h, ghashUpdate(g.h, [16]byte{}, iv), lb[:])
		}
		ek, err := c.s.hsm.Encrypt(ctx, h, hsmbackend.BlockParams{Mode: hsmbackend.ModeECB}, j0[:])
		if err != nil {
			return err
		}
		copy(g.ekj0[:], ek)
		clear(ek)
		return nil
	})
	if err != nil {
		return cryptoHSMError("GCM setup", err)
	}
	g.s = ghashUpdate(g.h, [16]byte{}, r.aad)
	g.aadLen = uint64(len(r.aad))
	cs.gcm = g
	cs.counterBits = 32
	cs.chain = ctrAdd(j0[:], 1, 32)
	if gen {
		cs.ivOut = iv
	}
	return nil
}

// gcmTag finishes GHASH with the length block and returns the tag (SP
// 800-38D §7.1 steps 5-6).
func (cs *cipherStream) gcmTag() []byte {
	g := cs.gcm
	var lb [16]byte
	binary.BigEndian.PutUint64(lb[:8], g.aadLen*8)
	binary.BigEndian.PutUint64(lb[8:], g.ctLen*8)
	s := ghashUpdate(g.h, g.s, lb[:])
	tag := make([]byte, g.tagLen)
	subtle.XORBytes(tag, s[:g.tagLen], g.ekj0[:g.tagLen])
	clear(s[:])
	return tag
}

// ghashUpdate folds data, zero-padded to whole blocks, into the GHASH
// state y under the subkey h (SP 800-38D §6.4).
func ghashUpdate(h, y [16]byte, data []byte) [16]byte {
	hh := [2]uint64{binary.BigEndian.Uint64(h[:8]), binary.BigEndian.Uint64(h[8:])}
	yy := [2]uint64{binary.BigEndian.Uint64(y[:8]), binary.BigEndian.Uint64(y[8:])}
	for len(data) > 0 {
		var blk [16]byte
		n := copy(blk[:], data)
		data = data[n:]
		yy[0] ^= binary.BigEndian.Uint64(blk[:8])
		yy[1] ^= binary.BigEndian.Uint64(blk[8:])
		yy = gfMul(yy, hh)
	}
	var out [16]byte
	binary.BigEndian.PutUint64(out[:8], yy[0])
	binary.BigEndian.PutUint64(out[8:], yy[1])
	return out
}

// gfMul multiplies in GF(2^128) with GCM's bit order (SP 800-38D §6.3,
// Algorithm 1), one bit at a time and without branches on the operands.
func gfMul(x, y [2]uint64) [2]uint64 {
	var z [2]uint64
	v := y
	for i := range 128 {
		var bit uint64
		if i < 64 {
			bit = x[0] >> (63 - i) & 1
		} else {
			bit = x[1] >> (127 - i) & 1
		}
		m := -bit
		z[0] ^= v[0] & m
		z[1] ^= v[1] & m
		lsb := v[1] & 1
		v[1] = v[1]>>1 | v[0]<<63
		v[0] = v[0]>>1 ^ 0xe100000000000000&-lsb
	}
	return z
}
