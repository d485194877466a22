package service

import (
	"context"
	"crypto/cipher"
	"crypto/subtle"
	"fmt"

	"github.com/kmipd/kmipd/hsmbackend"
)

// CMAC (NIST SP 800-38B, RFC 4493 for AES) built from the two block
// operations every HSM offers: one ECB encryption of the zero block (the
// subkey L) and a CBC encryption with a zero IV of the prepared message
// (the CBC-MAC). The key stays in the HSM; only L and the subkeys derived
// from it exist in process memory, and are cleared after use. The Go
// standard library has no CMAC and hsmbackend exposes no CKM_AES_CMAC, so
// this is our own implementation, tested against the RFC 4493 vectors.

// cmacEngine encrypts under the MAC key.
type cmacEngine interface {
	blockSize() int
	// ecb encrypts exactly one block.
	ecb(block []byte) ([]byte, error)
	// cbc encrypts whole blocks in CBC mode with a zero IV.
	cbc(data []byte) ([]byte, error)
}

// cmacMinTagLen is the shortest MAC CMAC verification accepts: SP 800-38B
// §A.2 advises at least 64 bits.
const cmacMinTagLen = 8

// cmacSum returns the full-length CMAC of msg.
func cmacSum(e cmacEngine, msg []byte) ([]byte, error) {
	b := e.blockSize()
	var rb byte
	switch b {
	case 16:
		rb = 0x87 // SP 800-38B §5.3: R128
	case 8:
		rb = 0x1b // R64
	default:
		return nil, fmt.Errorf("cmac: block size %d", b)
	}
	zero := make([]byte, b)
	l, err := e.ecb(zero)
	if err != nil {
		return nil, err
	}
	defer clear(l)
	if len(l) != b {
		return nil, fmt.Errorf("cmac: cipher returned %d bytes for one block", len(l))
	}
	k1 := cmacDouble(l, rb)
	defer clear(k1)
	k2 := cmacDouble(k1, rb)
	defer clear(k2)

	// RFC 4493 §2.4 steps 2-4: n blocks, the last one complete or padded
	// with 10...0, then XORed with K1 or K2.
	n := (len(msg) + b - 1) / b
	complete := n > 0 && len(msg)%b == 0
	if n == 0 {
		n = 1
	}
	buf := make([]byte, n*b)
	defer clear(buf)
	copy(buf, msg)
	last := buf[(n-1)*b:]
	if complete {
		subtle.XORBytes(last, last, k1)
	} else {
		last[len(msg)-(n-1)*b] = 0x80
		subtle.XORBytes(last, last, k2)
	}
	out, err := e.cbc(buf)
	if err != nil {
		return nil, err
	}
	if len(out) != len(buf) {
		return nil, fmt.Errorf("cmac: cipher returned %d bytes for %d", len(out), len(buf))
	}
	t := make([]byte, b)
	copy(t, out[len(out)-b:])
	clear(out)
	return t, nil
}

// cmacDouble is the doubling in GF(2^b) of SP 800-38B §6.1: shift left by
// one bit, XOR with Rb when the bit shifted out was set. Constant time.
func cmacDouble(in []byte, rb byte) []byte {
	out := make([]byte, len(in))
	var carry byte
	for i := len(in) - 1; i >= 0; i-- {
		out[i] = in[i]<<1 | carry
		carry = in[i] >> 7
	}
	out[len(out)-1] ^= rb & -carry
	return out
}

// cmacVerify reports whether mac is msg's CMAC, or a truncation of it of
// at least cmacMinTagLen bytes (SP 800-38B §6.3 allows truncated tags).
func cmacVerify(e cmacEngine, msg, mac []byte) (bool, error) {
	t, err := cmacSum(e, msg)
	if err != nil {
		return false, err
	}
	if len(mac) < cmacMinTagLen || len(mac) > len(t) {
		return false, nil
	}
	return subtle.ConstantTimeCompare(t[:len(mac)], mac) == 1, nil
}

// goCMAC is a cmacEngine over a Go cipher.Block, for tests against the
// RFC 4493 vectors.
type goCMAC struct{ b cipher.Block }

func (g goCMAC) blockSize() int { return g.b.BlockSize() }

func (g goCMAC) ecb(block []byte) ([]byte, error) {
	out := make([]byte, len(block))
	g.b.Encrypt(out, block)
	return out, nil
}

func (g goCMAC) cbc(data []byte) ([]byte, error) {
	out := make([]byte, len(data))
	// CBC-MAC starts from the zero block by definition (SP 800-38B §6.2).
	cipher.NewCBCEncrypter(g.b, make([]byte, g.b.BlockSize())).CryptBlocks(out, data) //nolint:gosec // CMAC's IV is zero by definition
	return out, nil
}

// hsmCMAC is a cmacEngine over an AES or DES3 key in the HSM.
type hsmCMAC struct {
	ctx context.Context
	hsm *hsmbackend.Backend
	h   hsmbackend.Handle
}

func (e hsmCMAC) blockSize() int {
	if e.h.Kind() == hsmbackend.DES3 {
		return 8
	}
	return 16
}

func (e hsmCMAC) ecb(block []byte) ([]byte, error) {
	return e.hsm.Encrypt(e.ctx, e.h, hsmbackend.BlockParams{Mode: hsmbackend.ModeECB}, block)
}

func (e hsmCMAC) cbc(data []byte) ([]byte, error) {
	iv := make([]byte, e.blockSize())
	return e.hsm.Encrypt(e.ctx, e.h, hsmbackend.BlockParams{Mode: hsmbackend.ModeCBC, IV: iv}, data)
}
