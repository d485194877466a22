package hsmbackend

import (
	"context"
	"crypto"
	"encoding/asn1"
	"encoding/binary"
	"fmt"
	"math/big"
	"math/bits"

	"github.com/miekg/pkcs11"
)

// MaxDataLen bounds the data of one Encrypt, Decrypt, Sign or HMAC call.
const MaxDataLen = 4 << 20

// Mode is a block cipher mode for Encrypt and Decrypt.
type Mode int

// Block cipher modes (NIST SP 800-38A). The zero value is invalid.
const (
	// ModeECB: data must be whole blocks. No IV.
	ModeECB Mode = iota + 1
	// ModeCBC without padding: data must be whole blocks.
	ModeCBC
	// ModeCBCPad is CBC with PKCS #7 padding (CKM_AES_CBC_PAD,
	// CKM_DES3_CBC_PAD).
	ModeCBCPad
	// ModeCTR is AES counter mode; the IV is the 16-byte initial counter
	// block.
	ModeCTR
)

func (m Mode) String() string {
	switch m {
	case ModeECB:
		return "ECB"
	case ModeCBC:
		return "CBC"
	case ModeCBCPad:
		return "CBC-PAD"
	case ModeCTR:
		return "CTR"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// BlockParams are the parameters of Encrypt and Decrypt.
type BlockParams struct {
	Mode Mode
	// IV is the initialisation vector (CBC) or initial counter block (CTR):
	// one block. Nil for ECB.
	IV []byte
	// CounterBits is the number of low-order bits of the counter block that
	// are incremented (CTR only, 1 to 128; 0 means 128).
	CounterBits int
}

// blockMechanism picks the PKCS#11 mechanism for kind and p, checking the
// IV against the block size.
func blockMechanism(kind Algorithm, p BlockParams) (*pkcs11.Mechanism, error) {
	var block int
	var ecb, cbc, cbcPad, ctr uint
	switch kind {
	case AES:
		block, ecb, cbc, cbcPad, ctr = 16, pkcs11.CKM_AES_ECB, pkcs11.CKM_AES_CBC, pkcs11.CKM_AES_CBC_PAD, pkcs11.CKM_AES_CTR
	case DES3:
		block, ecb, cbc, cbcPad = 8, pkcs11.CKM_DES3_ECB, pkcs11.CKM_DES3_CBC, pkcs11.CKM_DES3_CBC_PAD
	default:
		return nil, fmt.Errorf("%w: %v is not a block cipher", ErrInvalidSpec, kind)
	}
	needIV := func() error {
		if len(p.IV) != block {
			return fmt.Errorf("%w: %v %v needs an IV of %d bytes, got %d", ErrInvalidSpec, kind, p.Mode, block, len(p.IV))
		}
		return nil
	}
	switch p.Mode {
	case ModeECB:
		if len(p.IV) != 0 {
			return nil, fmt.Errorf("%w: ECB takes no IV", ErrInvalidSpec)
		}
		return pkcs11.NewMechanism(ecb, nil), nil
	case ModeCBC, ModeCBCPad:
		if err := needIV(); err != nil {
			return nil, err
		}
		m := cbc
		if p.Mode == ModeCBCPad {
			m = cbcPad
		}
		return pkcs11.NewMechanism(m, p.IV), nil
	case ModeCTR:
		if ctr == 0 {
			return nil, fmt.Errorf("%w: CTR mode is for AES only", ErrInvalidSpec)
		}
		if err := needIV(); err != nil {
			return nil, err
		}
		cb := p.CounterBits
		if cb == 0 {
			cb = 128
		}
		if cb < 1 || cb > 128 {
			return nil, fmt.Errorf("%w: CTR counter of %d bits (want 1 to 128)", ErrInvalidSpec, cb)
		}
		return pkcs11.NewMechanism(ctr, ctrParams(uint8(cb), p.IV)), nil
	}
	return nil, fmt.Errorf("%w: unknown mode %v", ErrInvalidSpec, p.Mode)
}

// ctrParams encodes CK_AES_CTR_PARAMS {CK_ULONG ulCounterBits; CK_BYTE
// cb[16];} (PKCS#11 v2.40 curr §2.10.3). miekg/pkcs11 has no helper. A
// CK_ULONG is a C unsigned long in native byte order, the size of a Go
// uint on the LP64 and ILP32 platforms cgo targets here (not Windows).
// counterBits is at most 128 (checked by the caller), hence a uint8.
func ctrParams(counterBits uint8, iv []byte) []byte {
	n := bits.UintSize / 8
	out := make([]byte, n+16)
	if n == 8 {
		binary.NativeEndian.PutUint64(out, uint64(counterBits))
	} else {
		binary.NativeEndian.PutUint32(out, uint32(counterBits))
	}
	copy(out[n:], iv)
	return out
}

func checkData(op string, data []byte, allowEmpty bool) error {
	if len(data) > MaxDataLen {
		return fmt.Errorf("hsm: %s: %w: %d bytes of data (max %d)", op, ErrInvalidData, len(data), MaxDataLen)
	}
	if !allowEmpty && len(data) == 0 {
		return fmt.Errorf("hsm: %s: %w: no data", op, ErrInvalidData)
	}
	return nil
}

// Encrypt encrypts data with the AES or DES3 key h in the mode of p.
func (b *Backend) Encrypt(ctx context.Context, h Handle, p BlockParams, data []byte) ([]byte, error) {
	return b.blockOp(ctx, h, p, data, true)
}

// Decrypt decrypts data with the AES or DES3 key h in the mode of p. With
// ModeCBCPad a bad padding fails with ErrInvalidData.
func (b *Backend) Decrypt(ctx context.Context, h Handle, p BlockParams, data []byte) ([]byte, error) {
	return b.blockOp(ctx, h, p, data, false)
}

func (b *Backend) blockOp(ctx context.Context, h Handle, p BlockParams, data []byte, encrypt bool) ([]byte, error) {
	op := fmt.Sprintf("decrypt %v-%v", h.kind, p.Mode)
	if encrypt {
		op = fmt.Sprintf("encrypt %v-%v", h.kind, p.Mode)
	}
	if err := b.checkHandle(op, h); err != nil {
		return nil, err
	}
	if err := checkData(op, data, false); err != nil {
		return nil, err
	}
	m, err := blockMechanism(h.kind, p)
	if err != nil {
		return nil, fmt.Errorf("hsm: %s: %w", op, err)
	}
	return b.cipher(ctx, op, h, m, data, encrypt)
}

// cipher runs one single-part C_Encrypt or C_Decrypt.
func (b *Backend) cipher(ctx context.Context, op string, h Handle, m *pkcs11.Mechanism, data []byte, encrypt bool) ([]byte, error) {
	var out []byte
	err := b.withSession(ctx, op, func(s pkcs11.SessionHandle) error {
		ms := []*pkcs11.Mechanism{m}
		if encrypt {
			if err := b.p.EncryptInit(s, ms, h.obj); err != nil {
				return opError(op, err)
			}
			var err error
			out, err = b.p.Encrypt(s, data)
			return opError(op, err)
		}
		if err := b.p.DecryptInit(s, ms, h.obj); err != nil {
			return opError(op, err)
		}
		var err error
		out, err = b.p.Decrypt(s, data)
		return opErrorAs(op, err, decryptOverride)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// decryptOverride: SoftHSM 2.6 reports a failed GCM tag check or bad CBC
// padding as CKR_GENERAL_ERROR (or CKR_FUNCTION_FAILED), which during
// C_Decrypt can only be the data's fault.
func decryptOverride(rv pkcs11.Error) error {
	switch uint(rv) {
	case pkcs11.CKR_GENERAL_ERROR, pkcs11.CKR_FUNCTION_FAILED:
		return ErrInvalidData
	}
	return nil
}

// checkGCM checks the AES-GCM parameters (NIST SP 800-38D §5.2.1).
func checkGCM(h Handle, iv, aad []byte, tagBits int) error {
	if h.kind != AES {
		return fmt.Errorf("%w: GCM needs an AES key, not %v", ErrInvalidSpec, h.kind)
	}
	if len(iv) < 1 || len(iv) > 128 {
		return fmt.Errorf("%w: GCM IV of %d bytes (want 1 to 128; 12 is usual)", ErrInvalidSpec, len(iv))
	}
	if tagBits < 32 || tagBits > 128 || tagBits%8 != 0 {
		return fmt.Errorf("%w: GCM tag of %d bits (want a multiple of 8 from 32 to 128)", ErrInvalidSpec, tagBits)
	}
	if len(aad) > MaxDataLen {
		return fmt.Errorf("%w: %d bytes of additional data (max %d)", ErrInvalidData, len(aad), MaxDataLen)
	}
	return nil
}

// gcm runs one AES-GCM encryption or decryption of data with the key h,
// through the module's own entry points when it exports them (direct.go),
// else through miekg/pkcs11. A failed tag check is ErrInvalidData.
func (b *Backend) gcm(ctx context.Context, op string, h Handle, iv, aad []byte, tagBits int, data []byte, encrypt bool) ([]byte, error) {
	if err := checkGCM(h, iv, aad, tagBits); err != nil {
		return nil, fmt.Errorf("hsm: %s: %w", op, err)
	}
	g := b.direct()
	if g == nil {
		gp := pkcs11.NewGCMParams(iv, aad, tagBits)
		defer gp.Free()
		return b.cipher(ctx, op, h, pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, gp), data, encrypt)
	}
	var out []byte
	err := b.withSession(ctx, op, func(s pkcs11.SessionHandle) error {
		var err error
		out, err = g.gcm(encrypt, s, h.obj, iv, aad, tagBits, data)
		if encrypt {
			return opError(op, err)
		}
		return opErrorAs(op, err, decryptOverride)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// EncryptAESGCM encrypts plaintext with the AES key h in GCM mode and
// returns the ciphertext followed by the tag of tagBits bits. The caller
// supplies the IV and must never reuse one with the same key.
func (b *Backend) EncryptAESGCM(ctx context.Context, h Handle, iv, aad, plaintext []byte, tagBits int) ([]byte, error) {
	const op = "encrypt AES-GCM"
	if err := b.checkHandle(op, h); err != nil {
		return nil, err
	}
	if err := checkData(op, plaintext, true); err != nil {
		return nil, err
	}
	return b.gcm(ctx, op, h, iv, aad, tagBits, plaintext, true)
}

// DecryptAESGCM decrypts ciphertext (followed by its tag of tagBits bits)
// with the AES key h in GCM mode. A failed tag check is ErrInvalidData.
func (b *Backend) DecryptAESGCM(ctx context.Context, h Handle, iv, aad, ciphertext []byte, tagBits int) ([]byte, error) {
	const op = "decrypt AES-GCM"
	if err := b.checkHandle(op, h); err != nil {
		return nil, err
	}
	if err := checkData(op, ciphertext, false); err != nil {
		return nil, err
	}
	if err := checkGCM(h, iv, aad, tagBits); err != nil {
		return nil, fmt.Errorf("hsm: %s: %w", op, err)
	}
	if len(ciphertext) < tagBits/8 {
		return nil, fmt.Errorf("hsm: %s: %w: shorter than the tag", op, ErrInvalidData)
	}
	return b.gcm(ctx, op, h, iv, aad, tagBits, ciphertext, false)
}

// SignScheme is a signature scheme for Sign.
type SignScheme int

// Signature schemes. The zero value is invalid.
const (
	// RSAPKCS1v15 is RSASSA-PKCS1-v1_5 (RFC 8017 §8.2).
	RSAPKCS1v15 SignScheme = iota + 1
	// RSAPSS is RSASSA-PSS (RFC 8017 §8.1) with MGF1 over the same hash
	// and a salt as long as the hash.
	RSAPSS
	// ECDSA returns the signature as an ASN.1 DER SEQUENCE {r, s}
	// (RFC 3279 §2.2.3), what crypto/ecdsa.VerifyASN1 and X.509 expect.
	ECDSA
	// EdDSA is pure Ed25519 (RFC 8032); the hash must be zero. SoftHSM
	// 2.6.1 cannot wrap Ed25519 keys, so no Handle for one exists there.
	EdDSA
)

var hashMechs = map[crypto.Hash]struct {
	digest, rsaPKCS, rsaPSS, mgf, hmac uint
}{
	crypto.SHA1:   {pkcs11.CKM_SHA_1, pkcs11.CKM_SHA1_RSA_PKCS, pkcs11.CKM_SHA1_RSA_PKCS_PSS, pkcs11.CKG_MGF1_SHA1, pkcs11.CKM_SHA_1_HMAC},
	crypto.SHA224: {pkcs11.CKM_SHA224, pkcs11.CKM_SHA224_RSA_PKCS, pkcs11.CKM_SHA224_RSA_PKCS_PSS, pkcs11.CKG_MGF1_SHA224, pkcs11.CKM_SHA224_HMAC},
	crypto.SHA256: {pkcs11.CKM_SHA256, pkcs11.CKM_SHA256_RSA_PKCS, pkcs11.CKM_SHA256_RSA_PKCS_PSS, pkcs11.CKG_MGF1_SHA256, pkcs11.CKM_SHA256_HMAC},
	crypto.SHA384: {pkcs11.CKM_SHA384, pkcs11.CKM_SHA384_RSA_PKCS, pkcs11.CKM_SHA384_RSA_PKCS_PSS, pkcs11.CKG_MGF1_SHA384, pkcs11.CKM_SHA384_HMAC},
	crypto.SHA512: {pkcs11.CKM_SHA512, pkcs11.CKM_SHA512_RSA_PKCS, pkcs11.CKM_SHA512_RSA_PKCS_PSS, pkcs11.CKG_MGF1_SHA512, pkcs11.CKM_SHA512_HMAC},
}

// Sign signs data with the private key h. For RSA and ECDSA, hash names
// the digest the token computes over data; ECDSA hashes in Go first
// because SoftHSM offers only the raw CKM_ECDSA. A zero hash means data
// is already what the raw mechanism signs (a DigestInfo for RSAPKCS1v15,
// a digest for ECDSA; not allowed for RSAPSS).
func (b *Backend) Sign(ctx context.Context, h Handle, scheme SignScheme, hash crypto.Hash, data []byte) ([]byte, error) {
	op := fmt.Sprintf("sign %v", h.kind)
	if err := b.checkHandle(op, h); err != nil {
		return nil, err
	}
	if err := checkData(op, data, true); err != nil {
		return nil, err
	}
	hm, known := hashMechs[hash]
	if hash != 0 && !known {
		return nil, fmt.Errorf("hsm: %s: %w: hash %v", op, ErrInvalidSpec, hash)
	}
	var m *pkcs11.Mechanism
	switch {
	case scheme == RSAPKCS1v15 && h.kind == RSA:
		if hash == 0 {
			m = pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS, nil)
		} else {
			m = pkcs11.NewMechanism(hm.rsaPKCS, nil)
		}
	case scheme == RSAPSS && h.kind == RSA:
		if hash == 0 {
			return nil, fmt.Errorf("hsm: %s: %w: RSA-PSS needs a hash", op, ErrInvalidSpec)
		}
		m = pkcs11.NewMechanism(hm.rsaPSS, pkcs11.NewPSSParams(hm.digest, hm.mgf, uint(hash.Size())))
	case scheme == ECDSA && h.kind == EC:
		m = pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil)
		if hash != 0 {
			hh := hash.New()
			hh.Write(data)
			data = hh.Sum(nil)
		}
	case scheme == EdDSA && h.kind == Ed25519:
		if hash != 0 {
			return nil, fmt.Errorf("hsm: %s: %w: Ed25519 signs the message, not a hash", op, ErrInvalidSpec)
		}
		m = pkcs11.NewMechanism(ckmEdDSA, nil)
	default:
		return nil, fmt.Errorf("hsm: %s: %w: scheme %d does not fit a %v key", op, ErrInvalidSpec, scheme, h.kind)
	}
	var sig []byte
	err := b.withSession(ctx, op, func(s pkcs11.SessionHandle) error {
		if err := b.p.SignInit(s, []*pkcs11.Mechanism{m}, h.obj); err != nil {
			return opError(op, err)
		}
		var err error
		sig, err = b.p.Sign(s, data)
		return opError(op, err)
	})
	if err != nil {
		return nil, err
	}
	if scheme == ECDSA {
		return ecdsaDER(op, sig)
	}
	return sig, nil
}

// ecdsaDER converts PKCS#11's r||s (v2.40 curr §2.3.1) to DER.
func ecdsaDER(op string, rs []byte) ([]byte, error) {
	if len(rs) == 0 || len(rs)%2 != 0 {
		return nil, fmt.Errorf("hsm: %s: module returned a %d-byte ECDSA signature", op, len(rs))
	}
	half := len(rs) / 2
	der, err := asn1.Marshal(struct{ R, S *big.Int }{
		new(big.Int).SetBytes(rs[:half]), new(big.Int).SetBytes(rs[half:]),
	})
	if err != nil {
		return nil, fmt.Errorf("hsm: %s: encode signature: %w", op, err)
	}
	return der, nil
}

// HMAC computes the HMAC of data (RFC 2104) under the generic secret key h
// with the given hash.
func (b *Backend) HMAC(ctx context.Context, h Handle, hash crypto.Hash, data []byte) ([]byte, error) {
	op := fmt.Sprintf("HMAC-%v", hash)
	m, err := b.hmacMech(op, h, hash, data)
	if err != nil {
		return nil, err
	}
	var mac []byte
	err = b.withSession(ctx, op, func(s pkcs11.SessionHandle) error {
		if err := b.p.SignInit(s, []*pkcs11.Mechanism{m}, h.obj); err != nil {
			return opError(op, err)
		}
		var err error
		mac, err = b.p.Sign(s, data)
		return opError(op, err)
	})
	if err != nil {
		return nil, err
	}
	return mac, nil
}

// VerifyHMAC checks mac against data in the token (C_Verify), so the
// comparison is the token's and constant-time there. A mismatch is
// ErrSignatureInvalid.
func (b *Backend) VerifyHMAC(ctx context.Context, h Handle, hash crypto.Hash, data, mac []byte) error {
	op := fmt.Sprintf("verify HMAC-%v", hash)
	m, err := b.hmacMech(op, h, hash, data)
	if err != nil {
		return err
	}
	if len(mac) == 0 || len(mac) > 64 {
		return fmt.Errorf("hsm: %s: %w: MAC of %d bytes", op, ErrSignatureInvalid, len(mac))
	}
	return b.withSession(ctx, op, func(s pkcs11.SessionHandle) error {
		if err := b.p.VerifyInit(s, []*pkcs11.Mechanism{m}, h.obj); err != nil {
			return opError(op, err)
		}
		return opError(op, b.p.Verify(s, data, mac))
	})
}

func (b *Backend) hmacMech(op string, h Handle, hash crypto.Hash, data []byte) (*pkcs11.Mechanism, error) {
	if err := b.checkHandle(op, h); err != nil {
		return nil, err
	}
	if h.kind != GenericSecret {
		return nil, fmt.Errorf("hsm: %s: %w: HMAC needs a generic secret key, not %v", op, ErrInvalidSpec, h.kind)
	}
	if err := checkData(op, data, true); err != nil {
		return nil, err
	}
	hm, ok := hashMechs[hash]
	if !ok {
		return nil, fmt.Errorf("hsm: %s: %w: hash %v", op, ErrInvalidSpec, hash)
	}
	return pkcs11.NewMechanism(hm.hmac, nil), nil
}
