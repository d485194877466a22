package service

import (
	"context"
	"crypto/subtle"
	"encoding/binary"

	"github.com/kmipd/kmipd/hsmbackend"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
)

// Symmetric encryption and decryption in the HSM: AES and Triple DES in
// ECB, CBC and CTR modes, AES-GCM (NIST SP 800-38A, 800-38D).
//
// PKCS#5 padding (PKCS#7 for 16-byte blocks, RFC 5652 §6.3) is applied and
// checked here rather than by CKM_*_CBC_PAD: it is not secret, it works
// for ECB too, and it lets an empty plaintext be padded to one block.

// blockCipher is what a symmetric operation needs to know of its key.
type blockCipher struct {
	kind      hsmbackend.Algorithm // AES or DES3
	blockSize int
}

// blockCipherOf maps the object's Cryptographic Algorithm to a block
// cipher; other algorithms cannot encrypt (KMIP 1.4 §11.30: Permission
// Denied, "Object specified is not able to be used for encryption").
func blockCipherOf(o *objects.Object) (blockCipher, error) {
	switch objectAlgorithm(o) {
	case kmip.CryptographicAlgorithmAES:
		return blockCipher{hsmbackend.AES, 16}, nil
	case kmip.CryptographicAlgorithmDES3:
		return blockCipher{hsmbackend.DES3, 8}, nil
	default:
		return blockCipher{}, notUsableFor(o, "encryption")
	}
}

// cipherUse is the KeyUse of symmetric keys. Encrypt and Decrypt share one
// cached handle; the KMIP usage mask was checked before the HSM is asked.
func cipherUse(kind hsmbackend.Algorithm) hsmbackend.KeyUse {
	return hsmbackend.KeyUse{Kind: kind, Encrypt: true, Decrypt: true}
}

// gcmDefaultIVLen is the IV length of a server-generated GCM IV: 96 bits,
// the length SP 800-38D §8.2 recommends.
const gcmDefaultIVLen = 12

// GCM tag lengths in bytes: SP 800-38D §5.2.1.2 allows 4 to 16.
const (
	gcmMinTagLen     = 4
	gcmMaxTagLen     = 16
	gcmDefaultTagLen = 16
)

// blockResult is the output of a symmetric encryption.
type blockResult struct {
	data, iv, tag []byte
	ivGenerated   bool
}

// defaultPadding is the padding when the parameters name none. The OASIS
// reference server pads CBC with PKCS#5 and leaves ECB unpadded
// (CS-BC-M-13-20 encrypts 33 bytes in CBC without a Padding Method into
// 48; CS-BC-M-1 encrypts one ECB block into one).
func defaultPadding(mode kmip.BlockCipherMode) kmip.PaddingMethod {
	if mode == kmip.BlockCipherModeCBC {
		return kmip.PaddingMethodPKCS5
	}
	return kmip.PaddingMethodNone
}

// symEncrypt encrypts r.data with the symmetric key o.
func (c *cryptoOps) symEncrypt(ctx context.Context, o *objects.Object, bc blockCipher, p cryptoParams, r *cryptoRequest) (blockResult, error) {
	var res blockResult
	switch p.mode {
	case kmip.BlockCipherModeGCM:
		return c.gcmEncrypt(ctx, o, bc, p, r)
	case kmip.BlockCipherModeECB, kmip.BlockCipherModeCBC, kmip.BlockCipherModeCTR:
	case 0:
		return res, kmip.Errorf(kmip.ResultReasonInvalidField, "no block cipher mode given for %s", o.ID)
	default:
		return res, kmip.Errorf(kmip.ResultReasonInvalidField, "block cipher mode %v is not supported", p.mode)
	}
	bp, err := c.blockParams(ctx, bc, p, r, true)
	if err != nil {
		return res, err
	}
	if bp.generated {
		res.iv, res.ivGenerated = bp.iv, true
	}
	in := r.data
	switch bp.padding {
	case kmip.PaddingMethodPKCS5:
		in = pkcs5Pad(r.data, bc.blockSize)
		defer clear(in)
	case kmip.PaddingMethodNone:
		if p.mode != kmip.BlockCipherModeCTR && len(in)%bc.blockSize != 0 {
			return res, kmip.Errorf(kmip.ResultReasonCryptographicFailure, "data of %d bytes is not a multiple of the %d-byte block and no padding was asked for", len(in), bc.blockSize)
		}
	default: // blockParams admits no other padding
	}
	if len(in) == 0 {
		res.data = []byte{}
		return res, nil
	}
	err = c.withKey(ctx, o, cipherUse(bc.kind), func(h hsmbackend.Handle) error {
		var err error
		res.data, err = c.s.hsm.Encrypt(ctx, h, bp.params, in)
		return err
	})
	if err != nil {
		return res, cryptoHSMError("encrypt", err)
	}
	return res, nil
}

// symDecrypt decrypts r.data with the symmetric key o.
func (c *cryptoOps) symDecrypt(ctx context.Context, o *objects.Object, bc blockCipher, p cryptoParams, r *cryptoRequest) ([]byte, error) {
	switch p.mode {
	case kmip.BlockCipherModeGCM:
		return c.gcmDecrypt(ctx, o, bc, p, r)
	case kmip.BlockCipherModeECB, kmip.BlockCipherModeCBC, kmip.BlockCipherModeCTR:
	case 0:
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "no block cipher mode given for %s", o.ID)
	default:
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "block cipher mode %v is not supported", p.mode)
	}
	bp, err := c.blockParams(ctx, bc, p, r, false)
	if err != nil {
		return nil, err
	}
	in := r.data
	if p.mode != kmip.BlockCipherModeCTR && len(in)%bc.blockSize != 0 {
		return nil, kmip.Errorf(kmip.ResultReasonCryptographicFailure, "ciphertext of %d bytes is not a multiple of the %d-byte block", len(in), bc.blockSize)
	}
	if len(in) == 0 {
		if bp.padding == kmip.PaddingMethodPKCS5 {
			return nil, kmip.Errorf(kmip.ResultReasonCryptographicFailure, "padded ciphertext is empty")
		}
		return []byte{}, nil
	}
	var out []byte
	err = c.withKey(ctx, o, cipherUse(bc.kind), func(h hsmbackend.Handle) error {
		var err error
		out, err = c.s.hsm.Decrypt(ctx, h, bp.params, in)
		return err
	})
	if err != nil {
		return nil, cryptoHSMError("decrypt", err)
	}
	if bp.padding == kmip.PaddingMethodPKCS5 {
		n, ok := pkcs5Unpad(out, bc.blockSize)
		if !ok {
			clear(out)
			return nil, kmip.Errorf(kmip.ResultReasonCryptographicFailure, "bad padding")
		}
		out = out[:n]
	}
	return out, nil
}

// resolvedBlock is what blockParams resolves.
type resolvedBlock struct {
	params    hsmbackend.BlockParams
	padding   kmip.PaddingMethod
	iv        []byte
	generated bool
}

// blockParams resolves mode, padding and IV for ECB, CBC and CTR. An IV
// comes from the request, or for Encrypt from the HSM's RNG when Random IV
// is set (KMIP 1.4 §4.29: "The IV/Counter/Nonce MAY also be omitted from
// the request if the cryptographic parameters indicate that the server
// shall generate a Random IV on behalf of the client").
func (c *cryptoOps) blockParams(ctx context.Context, bc blockCipher, p cryptoParams, r *cryptoRequest, encrypt bool) (resolvedBlock, error) {
	var rb resolvedBlock
	rb.padding = p.padding
	if rb.padding == 0 {
		rb.padding = defaultPadding(p.mode)
	}
	switch rb.padding {
	case kmip.PaddingMethodNone, kmip.PaddingMethodPKCS5:
	default:
		return rb, kmip.Errorf(kmip.ResultReasonInvalidField, "padding method %v is not supported for block ciphers", rb.padding)
	}
	switch p.mode {
	case kmip.BlockCipherModeECB:
		// An IV is meaningless in ECB; one sent anyway is ignored.
		rb.params = hsmbackend.BlockParams{Mode: hsmbackend.ModeECB}
	case kmip.BlockCipherModeCBC:
		iv, gen, err := c.requestIV(ctx, p, r, encrypt, bc.blockSize)
		if err != nil {
			return rb, err
		}
		if len(iv) != bc.blockSize {
			return rb, kmip.Errorf(kmip.ResultReasonInvalidField, "CBC needs an IV of %d bytes, got %d", bc.blockSize, len(iv))
		}
		rb.params = hsmbackend.BlockParams{Mode: hsmbackend.ModeCBC, IV: iv}
		rb.iv, rb.generated = iv, gen
	case kmip.BlockCipherModeCTR:
		if bc.kind != hsmbackend.AES {
			return rb, kmip.Errorf(kmip.ResultReasonInvalidField, "CTR mode is offered for AES only")
		}
		if rb.padding != kmip.PaddingMethodNone {
			return rb, kmip.Errorf(kmip.ResultReasonInvalidField, "CTR mode takes no padding")
		}
		bits := 0
		if p.hasCounterLength {
			bits = int(p.counterLength)
			if bits < 1 || bits > 128 {
				return rb, kmip.Errorf(kmip.ResultReasonInvalidField, "counter length of %d bits (want 1 to 128)", bits)
			}
		}
		iv, gen, err := c.requestIV(ctx, p, r, encrypt, 16)
		if err != nil {
			return rb, err
		}
		block, cbits, err := counterBlock(iv, bits, p)
		if err != nil {
			return rb, err
		}
		rb.params = hsmbackend.BlockParams{Mode: hsmbackend.ModeCTR, IV: block, CounterBits: cbits}
		rb.iv, rb.generated = block, gen
	default:
		return rb, kmip.Errorf(kmip.ResultReasonInvalidField, "block cipher mode %v is not supported", p.mode)
	}
	return rb, nil
}

// requestIV returns the request's IV, or a random one of n bytes for an
// Encrypt whose parameters set Random IV. A missing IV is Invalid Message,
// as the OASIS vectors expect (CS-BC-M-11 "missing-iv").
func (c *cryptoOps) requestIV(ctx context.Context, p cryptoParams, r *cryptoRequest, encrypt bool, n int) ([]byte, bool, error) {
	if r.hasIV {
		return r.iv, false, nil
	}
	if encrypt && p.randomIV {
		iv, err := c.ivs.read(ctx, n)
		if err != nil {
			return nil, false, cryptoHSMError("random IV", err)
		}
		return iv, true, nil
	}
	return nil, false, missing("IV/counter/nonce")
}

// counterBlock builds the 16-byte initial counter block of CTR mode from
// an IV (SP 800-38A §B.2): a whole block is used as is; a shorter nonce is
// followed by the Initial Counter Value (default 0; RFC 3686 uses 1) in the
// remaining bytes, which then form the counter.
func counterBlock(iv []byte, counterBits int, p cryptoParams) ([]byte, int, error) {
	switch {
	case len(iv) == 16:
		return iv, counterBits, nil
	case len(iv) >= 4 && len(iv) < 16:
		rest := 16 - len(iv)
		block := make([]byte, 16)
		copy(block, iv)
		var ctr [8]byte
		if p.hasInitialCtr {
			binary.BigEndian.PutUint64(ctr[:], uint64(p.initialCounter)) //nolint:gosec // cryptoLength admits no negative value
		}
		if rest >= 8 {
			copy(block[16-8:], ctr[:])
		} else {
			copy(block[len(iv):], ctr[8-rest:])
		}
		if counterBits == 0 {
			counterBits = rest * 8
		}
		return block, counterBits, nil
	}
	return nil, 0, kmip.Errorf(kmip.ResultReasonInvalidField, "CTR needs a 16-byte counter block or a nonce of 4 to 15 bytes, got %d", len(iv))
}

// gcmTagLen resolves the tag length in bytes. An out-of-range Tag Length is
// General Failure, as the OASIS vectors expect (CS-BC-M-GCM-1: Tag Length 1
// and 32 answer "invalid-tag-length" with General Failure).
func gcmTagLen(p cryptoParams) (int, error) {
	n := gcmDefaultTagLen
	if p.hasTagLength {
		n = int(p.tagLength)
	}
	if n < gcmMinTagLen || n > gcmMaxTagLen {
		return 0, kmip.Errorf(kmip.ResultReasonGeneralFailure, "invalid tag length %d (want %d to %d bytes)", n, gcmMinTagLen, gcmMaxTagLen)
	}
	return n, nil
}

// gcmIVLen is the length of a server-generated GCM IV: IV Length (bits)
// when given, else 96 bits.
func gcmIVLen(p cryptoParams) (int, error) {
	if !p.hasIVLength {
		return gcmDefaultIVLen, nil
	}
	if p.ivLength%8 != 0 || p.ivLength < 8 || p.ivLength > 1024 {
		return 0, kmip.Errorf(kmip.ResultReasonInvalidField, "GCM IV length of %d bits (want a multiple of 8 up to 1024)", p.ivLength)
	}
	return int(p.ivLength / 8), nil
}

func (c *cryptoOps) gcmEncrypt(ctx context.Context, o *objects.Object, bc blockCipher, p cryptoParams, r *cryptoRequest) (blockResult, error) {
	var res blockResult
	if bc.kind != hsmbackend.AES {
		return res, kmip.Errorf(kmip.ResultReasonInvalidField, "GCM is offered for AES only")
	}
	tagLen, err := gcmTagLen(p)
	if err != nil {
		return res, err
	}
	n, err := gcmIVLen(p)
	if err != nil {
		return res, err
	}
	iv, gen, err := c.requestIV(ctx, p, r, true, n)
	if err != nil {
		return res, err
	}
	if len(iv) < 1 || len(iv) > 128 {
		return res, kmip.Errorf(kmip.ResultReasonInvalidField, "GCM IV of %d bytes (want 1 to 128)", len(iv))
	}
	var out []byte
	err = c.withKey(ctx, o, cipherUse(bc.kind), func(h hsmbackend.Handle) error {
		var err error
		out, err = c.s.hsm.EncryptAESGCM(ctx, h, iv, r.aad, r.data, tagLen*8)
		return err
	})
	if err != nil {
		return res, cryptoHSMError("encrypt", err)
	}
	if len(out) < tagLen {
		return res, kmip.Errorf(kmip.ResultReasonCryptographicFailure, "HSM returned a short GCM output")
	}
	res.data, res.tag = out[:len(out)-tagLen], out[len(out)-tagLen:]
	if gen {
		res.iv, res.ivGenerated = iv, true
	}
	return res, nil
}

func (c *cryptoOps) gcmDecrypt(ctx context.Context, o *objects.Object, bc blockCipher, p cryptoParams, r *cryptoRequest) ([]byte, error) {
	if bc.kind != hsmbackend.AES {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "GCM is offered for AES only")
	}
	if !r.hasIV {
		return nil, missing("IV/counter/nonce")
	}
	if len(r.iv) < 1 || len(r.iv) > 128 {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "GCM IV of %d bytes (want 1 to 128)", len(r.iv))
	}
	if !r.hasTag {
		return nil, missing("authenticated encryption tag")
	}
	tagLen := len(r.tag)
	if p.hasTagLength && int(p.tagLength) != tagLen {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "tag of %d bytes but tag length %d", tagLen, p.tagLength)
	}
	if tagLen < gcmMinTagLen || tagLen > gcmMaxTagLen {
		return nil, kmip.Errorf(kmip.ResultReasonGeneralFailure, "invalid tag length %d (want %d to %d bytes)", tagLen, gcmMinTagLen, gcmMaxTagLen)
	}
	in := make([]byte, 0, len(r.data)+tagLen)
	in = append(append(in, r.data...), r.tag...)
	var out []byte
	err := c.withKey(ctx, o, cipherUse(bc.kind), func(h hsmbackend.Handle) error {
		var err error
		out, err = c.s.hsm.DecryptAESGCM(ctx, h, r.iv, r.aad, in, tagLen*8)
		return err
	})
	if err != nil {
		return nil, cryptoHSMError("decrypt", err)
	}
	if out == nil {
		out = []byte{}
	}
	return out, nil
}

// pkcs5Pad returns a padded copy of data (RFC 5652 §6.3): 1 to bs bytes,
// each holding the pad length.
func pkcs5Pad(data []byte, bs int) []byte {
	n := bs - len(data)%bs
	out := make([]byte, len(data)+n)
	copy(out, data)
	for i := len(data); i < len(out); i++ {
		out[i] = byte(n) //nolint:gosec // n is 1 to bs (at most 16)
	}
	return out
}

// pkcs5Unpad returns the length of the plaintext in the padded b, checking
// every pad byte without branching on secret data.
func pkcs5Unpad(b []byte, bs int) (int, bool) {
	if len(b) == 0 || len(b)%bs != 0 {
		return 0, false
	}
	n := int(b[len(b)-1])
	good := subtle.ConstantTimeLessOrEq(1, n) & subtle.ConstantTimeLessOrEq(n, bs)
	for i := 1; i <= bs; i++ {
		// Bytes within the pad must equal n; bytes before it are free.
		inPad := subtle.ConstantTimeLessOrEq(i, n)
		eq := subtle.ConstantTimeByteEq(b[len(b)-i], byte(n)) //nolint:gosec // n is a byte value
		good &= eq | (inPad ^ 1)
	}
	if good != 1 {
		return 0, false
	}
	return len(b) - n, true
}
