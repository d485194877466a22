package hsmbackend

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"github.com/miekg/pkcs11"
)

// Limits on caller-supplied sizes, checked before anything is allocated or
// sent to the token.
const (
	// MaxMaterialLen bounds the plaintext WrapSecret accepts and so the
	// size of a generic secret. It is far above any key (an RSA-8192 PKCS#8
	// is under 5 KiB) and keeps hostile requests from filling the HSM.
	MaxMaterialLen = 64 << 10
	// MaxWrappedLen bounds Wrapped.Blob: RFC 5649 adds at most 15 bytes
	// (8 of integrity check, up to 7 of padding) to the wrapped material.
	MaxWrappedLen = MaxMaterialLen + 16
	// MaxRandomLen bounds Random and SeedRandom.
	MaxRandomLen = 64 << 10
	// MinRSABits and MaxRSABits bound RSA key generation. 1024 is allowed
	// because the KMIP conformance vectors use it; above 8192 generation
	// takes minutes.
	MinRSABits = 1024
	MaxRSABits = 8192
)

// MechanismAESKeyWrapPad names the only wrapping mechanism in use:
// CKM_AES_KEY_WRAP_PAD, AES Key Wrap with Padding (RFC 5649), which SoftHSM
// 2.6 supports for secret and private keys (the latter as PKCS#8).
const MechanismAESKeyWrapPad = "CKM_AES_KEY_WRAP_PAD"

// PKCS#11 3.0 values that miekg/pkcs11 v1.1.2 does not define.
const (
	ckkECEdwards           = 0x00000040
	ckmECEdwardsKeyPairGen = 0x00001055
	ckmEdDSA               = 0x00001057
	rsaPublicExponent65537 = 65537
)

// Algorithm is a key algorithm in this package's own terms; the service
// translates KMIP Cryptographic Algorithm values into it.
type Algorithm int

// Algorithms. The zero value is invalid.
const (
	// AES keys of 128, 192 or 256 bits.
	AES Algorithm = iota + 1
	// DES3 is three-key Triple DES: 24 bytes, parity bits included.
	DES3
	// GenericSecret holds any bytes: HMAC keys, and as a carrier for
	// passwords, seeds, opaque data and PKCS#8 private keys.
	GenericSecret
	// RSA key pairs.
	RSA
	// EC key pairs on P-256, P-384 or P-521 (ECDSA, ECDH).
	EC
	// Ed25519 key pairs (PKCS#11 CKK_EC_EDWARDS).
	Ed25519
)

var algorithmNames = map[Algorithm]string{
	AES: "AES", DES3: "DES3", GenericSecret: "GenericSecret",
	RSA: "RSA", EC: "EC", Ed25519: "Ed25519",
}

func (a Algorithm) String() string {
	if n, ok := algorithmNames[a]; ok {
		return n
	}
	return fmt.Sprintf("Algorithm(%d)", int(a))
}

// secret reports whether a is a secret-key algorithm.
func (a Algorithm) secret() bool { return a == AES || a == DES3 || a == GenericSecret }

// keyType returns the PKCS#11 CKK_ value of a.
func (a Algorithm) keyType() uint {
	switch a {
	case AES:
		return pkcs11.CKK_AES
	case DES3:
		return pkcs11.CKK_DES3
	case GenericSecret:
		return pkcs11.CKK_GENERIC_SECRET
	case RSA:
		return pkcs11.CKK_RSA
	case EC:
		return pkcs11.CKK_EC
	case Ed25519:
		return ckkECEdwards
	}
	return ^uint(0)
}

// SecretSpec describes a secret key to generate.
type SecretSpec struct {
	Kind Algorithm // AES, DES3 or GenericSecret
	// Bits is the key length: 128, 192 or 256 for AES; 192 (or 168, the
	// effective length KMIP clients often state) for DES3; any multiple of
	// 8 from 8 to 8*MaxMaterialLen for GenericSecret.
	Bits int
}

// PairSpec describes a key pair to generate.
type PairSpec struct {
	Kind Algorithm // RSA, EC or Ed25519
	// Bits is the RSA modulus length (MinRSABits..MaxRSABits, a multiple
	// of 8). For EC it may stand in for Curve (256, 384, 521).
	Bits int
	// Curve is "P-256", "P-384", "P-521" or CurveSecp256k1 for EC.
	Curve string
}

// Wrapped is key material wrapped under a master key. It is what the store
// keeps; the plaintext exists only inside the HSM and, after Unwrap, in the
// caller's buffer.
type Wrapped struct {
	// MasterKey is the label of the master key, so blobs can be told apart
	// (and rewrapped) after a rotation.
	MasterKey string
	// Mechanism is the wrapping mechanism, MechanismAESKeyWrapPad.
	Mechanism string
	// Blob is the RFC 5649 output. It is not secret.
	Blob []byte
	// Len is the length of the wrapped material in bytes, or 0 when the
	// material is a DER SEQUENCE that gives its own length (the PKCS#8
	// private keys from GenerateKeyPair). Store it with Blob: SoftHSM 2.6
	// zero-pads key material to a multiple of 8 bytes before wrapping, so
	// the length inside the blob is the padded one and Unwrap needs Len to
	// trim the padding. A module that records the true length works too.
	Len int
}

// check validates w before it reaches the token.
func (w Wrapped) check() error {
	if w.Mechanism != MechanismAESKeyWrapPad {
		return fmt.Errorf("%w: mechanism %q, want %s", ErrBadWrappedKey, w.Mechanism, MechanismAESKeyWrapPad)
	}
	if err := checkLabel("master key label", w.MasterKey); err != nil {
		return fmt.Errorf("%w: %w", ErrBadWrappedKey, err)
	}
	// RFC 5649 §4.1: at least one 64-bit block of data plus the AIV, in
	// whole 64-bit blocks.
	if n := len(w.Blob); n < 16 || n%8 != 0 || n > MaxWrappedLen {
		return fmt.Errorf("%w: blob of %d bytes (want a multiple of 8 from 16 to %d)", ErrBadWrappedKey, n, MaxWrappedLen)
	}
	if w.Len < 0 || w.Len > len(w.Blob)-8 {
		return fmt.Errorf("%w: length %d does not fit a blob of %d bytes", ErrBadWrappedKey, w.Len, len(w.Blob))
	}
	return nil
}

// trim cuts the zero padding SoftHSM adds before wrapping (see Wrapped.Len)
// off unwrapped material. The padding is less than 8 bytes and all zero;
// anything else means the blob and its length do not belong together.
func (w Wrapped) trim(v []byte) ([]byte, error) {
	n := w.Len
	if n == 0 {
		var ok bool
		if n, ok = derLen(v); !ok {
			return nil, fmt.Errorf("%w: no length given and the material is not DER", ErrBadWrappedKey)
		}
	}
	if n > len(v) || len(v)-n >= 8 {
		return nil, fmt.Errorf("%w: material of %d bytes, length says %d", ErrBadWrappedKey, len(v), n)
	}
	for _, c := range v[n:] {
		if c != 0 {
			return nil, fmt.Errorf("%w: non-zero padding", ErrBadWrappedKey)
		}
	}
	return v[:n], nil
}

// derLen returns the encoded length of the DER SEQUENCE at the start of v
// (X.690 §8.1.3; definite form, at most 4 length octets).
func derLen(v []byte) (int, bool) {
	if len(v) < 2 || v[0] != 0x30 {
		return 0, false
	}
	l, hdr := int(v[1]), 2
	if l&0x80 != 0 {
		k := l & 0x7f
		if k == 0 || k > 4 || len(v) < 2+k {
			return 0, false
		}
		l = 0
		for _, c := range v[2 : 2+k] {
			l = l<<8 | int(c)
		}
		hdr += k
	}
	if l > len(v)-hdr {
		return 0, false
	}
	return hdr + l, true
}

// Handle is an unwrapped key living in the HSM as a session object of one
// Backend. It is only valid with that Backend and only until DestroyHandle,
// Close, or the loss of the session that created it (then operations fail
// with ErrKeyNotFound and the caller unwraps again). The zero Handle is
// invalid.
type Handle struct {
	obj  pkcs11.ObjectHandle
	kind Algorithm
	b    *Backend
}

// Kind returns the algorithm of the key.
func (h Handle) Kind() Algorithm { return h.kind }

// IsZero reports whether h is the zero Handle.
func (h Handle) IsZero() bool { return h.b == nil }

// KeyUse says what an unwrapped key may do (the CKA_ENCRYPT ... CKA_DERIVE
// attributes of the session object). Encrypt, Verify and Wrap apply to
// secret keys only: UnwrapKey makes private keys, not public ones.
type KeyUse struct {
	Kind    Algorithm
	Encrypt bool
	Decrypt bool
	Sign    bool
	Verify  bool
	Wrap    bool
	Unwrap  bool
	Derive  bool
}

func mech(m uint) []*pkcs11.Mechanism { return []*pkcs11.Mechanism{pkcs11.NewMechanism(m, nil)} }

var wrapMech = mech(pkcs11.CKM_AES_KEY_WRAP_PAD)

// bytes validates spec and returns the key length in bytes.
func (spec SecretSpec) bytes() (int, error) {
	switch spec.Kind {
	case AES:
		if spec.Bits == 128 || spec.Bits == 192 || spec.Bits == 256 {
			return spec.Bits / 8, nil
		}
		return 0, fmt.Errorf("%w: AES key of %d bits (want 128, 192 or 256)", ErrInvalidSpec, spec.Bits)
	case DES3:
		if spec.Bits == 192 || spec.Bits == 168 {
			return 24, nil
		}
		return 0, fmt.Errorf("%w: DES3 key of %d bits (want 192 or 168)", ErrInvalidSpec, spec.Bits)
	case GenericSecret:
		if spec.Bits >= 8 && spec.Bits%8 == 0 && spec.Bits <= 8*MaxMaterialLen {
			return spec.Bits / 8, nil
		}
		return 0, fmt.Errorf("%w: generic secret of %d bits (want a multiple of 8 from 8 to %d)", ErrInvalidSpec, spec.Bits, 8*MaxMaterialLen)
	default:
		return 0, fmt.Errorf("%w: %v is not a secret-key algorithm", ErrInvalidSpec, spec.Kind)
	}
}

// checkSecretLen validates plaintext key material of kind.
func checkSecretLen(kind Algorithm, n int) error {
	switch kind {
	case AES:
		if n == 16 || n == 24 || n == 32 {
			return nil
		}
		return fmt.Errorf("%w: AES key of %d bytes (want 16, 24 or 32)", ErrInvalidSpec, n)
	case DES3:
		if n == 24 {
			return nil
		}
		return fmt.Errorf("%w: DES3 key of %d bytes (want 24)", ErrInvalidSpec, n)
	case GenericSecret:
		if n >= 1 && n <= MaxMaterialLen {
			return nil
		}
		return fmt.Errorf("%w: secret of %d bytes (want 1 to %d)", ErrInvalidSpec, n, MaxMaterialLen)
	default:
		return fmt.Errorf("%w: %v is not a secret-key algorithm", ErrInvalidSpec, kind)
	}
}

// sessionObjectPrivate is CKA_PRIVATE for every session object kmipd
// creates (temporary keys to wrap, cached keys for cryptography, readable
// copies for Get); the master key, a token object, stays private.
//
// A session object is reachable only through the sessions of the
// application that created it (PKCS#11 v2.40 §4.4), and kmipd's sessions
// are always logged in, so CKA_PRIVATE does not narrow who can use one.
// What it changes in SoftHSM is that the value is kept encrypted under the
// token's own key, which lives in the same process, and decrypted on every
// use: that is obfuscation, not a boundary, and it cost 40% of SoftHSM's
// AES-GCM throughput and 45% of its key generation (hsmlimit, 64-byte
// encrypt: 48,000/s private against 85,000/s not). A hardware HSM keeps
// session objects inside itself either way. Sensitivity and
// extractability, which do bound what can be read, are set per template.
const sessionObjectPrivate = false

// extractableSessionKey is the common part of the templates of keys that
// exist only to be wrapped: session objects (gone when the session closes
// even if our destroy fails), sensitive (never readable in clear), but
// extractable, which C_WrapKey requires (PKCS#11 v2.40 §5.13).
func extractableSessionKey(class, keyType uint) []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, class),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyType),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, sessionObjectPrivate),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
	}
}

// destroy removes a temporary session object. A failure is logged, not
// returned: the object is a session object and dies with the session.
func (b *Backend) destroy(s pkcs11.SessionHandle, h pkcs11.ObjectHandle) {
	if err := b.p.DestroyObject(s, h); err != nil {
		b.log.Warn("destroy temporary key failed", "token", b.label, "error", err)
	}
}

// wrap wraps obj under the configured master key.
func (b *Backend) wrap(s pkcs11.SessionHandle, obj pkcs11.ObjectHandle) (Wrapped, error) {
	mk, err := b.masterHandle(s, b.master)
	if err != nil {
		return Wrapped{}, err
	}
	blob, err := b.p.WrapKey(s, wrapMech, mk, obj)
	if err != nil {
		return Wrapped{}, ckrError("wrap", err, nil)
	}
	return Wrapped{MasterKey: b.master, Mechanism: MechanismAESKeyWrapPad, Blob: blob}, nil
}

// GenerateSecret generates a secret key inside the HSM and returns it
// wrapped under the master key; the key never exists outside the HSM in
// clear, and its session object is destroyed before returning.
func (b *Backend) GenerateSecret(ctx context.Context, spec SecretSpec) (Wrapped, error) {
	w, _, err := b.generateSecret(ctx, spec, false)
	return w, err
}

// generateSecret is GenerateSecret; with digest set it also returns the
// SHA-256 of the key value (see GenerateSecretSHA256).
func (b *Backend) generateSecret(ctx context.Context, spec SecretSpec, digest bool) (Wrapped, []byte, error) {
	op := fmt.Sprintf("generate %v-%d", spec.Kind, spec.Bits)
	n, err := spec.bytes()
	if err != nil {
		return Wrapped{}, nil, fmt.Errorf("hsm: %s: %w", op, err)
	}
	// valueLen is the template's CKA_VALUE_LEN, 0 for none.
	var m uint
	valueLen := n
	switch spec.Kind {
	case AES:
		m = pkcs11.CKM_AES_KEY_GEN
	case DES3:
		m = pkcs11.CKM_DES3_KEY_GEN
		valueLen = 0 // implied by the mechanism, which refuses CKA_VALUE_LEN
	case GenericSecret:
		m = pkcs11.CKM_GENERIC_SECRET_KEY_GEN
	default:
		// spec.bytes refused it already; kept so a new kind cannot slip
		// through with mechanism 0 (CKM_RSA_PKCS_KEY_PAIR_GEN).
		return Wrapped{}, nil, fmt.Errorf("hsm: %s: %w: %v is not a secret-key algorithm", op, ErrInvalidSpec, spec.Kind)
	}
	var (
		w   Wrapped
		sum []byte
	)
	err = b.withSession(ctx, op, func(s pkcs11.SessionHandle) error {
		if g := b.direct(); g != nil && g.canGenerate() {
			mk, err := b.masterHandle(s, b.master)
			if err != nil {
				return fmt.Errorf("hsm: %s: %w", op, err)
			}
			res, err := g.generateWrapped(s, m, spec.Kind.keyType(), valueLen, pkcs11.CKM_AES_KEY_WRAP_PAD, mk, digest)
			if res.destroyErr != nil {
				b.log.Warn("destroy temporary key failed", "token", b.label, "error", res.destroyErr)
			}
			switch {
			case err != nil && res.wrapFailed:
				return fmt.Errorf("hsm: %s: %w", op, ckrError("wrap", err, nil))
			case err != nil:
				return opError(op, err)
			}
			w = Wrapped{MasterKey: b.master, Mechanism: MechanismAESKeyWrapPad, Blob: res.blob, Len: n}
			sum = res.sum
			return nil
		}
		tmpl := extractableSessionKey(pkcs11.CKO_SECRET_KEY, spec.Kind.keyType())
		if valueLen > 0 {
			tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, valueLen))
		}
		h, err := b.p.GenerateKey(s, mech(m), tmpl)
		if err != nil {
			return opError(op, err)
		}
		defer b.destroy(s, h)
		if w, err = b.wrap(s, h); err != nil {
			return fmt.Errorf("hsm: %s: %w", op, err)
		}
		w.Len = n
		if digest {
			sum = b.digestKey(s, h)
		}
		return nil
	})
	if err != nil {
		return Wrapped{}, nil, err
	}
	return w, sum, nil
}

// ecCurves maps curve names to the DER of their OID, the CKA_EC_PARAMS
// value (PKCS#11 v2.40 §2.3.3, namedCurve).
var ecCurves = map[string]struct {
	oid   asn1.ObjectIdentifier
	curve elliptic.Curve
}{
	"P-256": {asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}, elliptic.P256()},
	"P-384": {asn1.ObjectIdentifier{1, 3, 132, 0, 34}, elliptic.P384()},
	"P-521": {asn1.ObjectIdentifier{1, 3, 132, 0, 35}, elliptic.P521()},
	// Go has no secp256k1 (curve is nil); SoftHSM (OpenSSL) generates
	// it, and publicSPKI encodes its public key by hand.
	CurveSecp256k1: {oidSecp256k1, nil},
}

// CurveSecp256k1 is the PairSpec.Curve of secp256k1 (SEC 2 v2 §2.4.1).
const CurveSecp256k1 = "secp256k1"

// oidSecp256k1 is the named curve secp256k1 (SEC 2 v2 §A.2.1).
var oidSecp256k1 = asn1.ObjectIdentifier{1, 3, 132, 0, 10}

// oidECPublicKey is id-ecPublicKey (RFC 5480 §2.1.1).
var oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}

// oidEd25519 is id-Ed25519 (RFC 8410), the CKA_EC_PARAMS SoftHSM expects.
var oidEd25519 = asn1.ObjectIdentifier{1, 3, 101, 112}

// curveName resolves PairSpec.Curve, or Bits as a stand-in, to a name.
func (spec PairSpec) curveName() (string, error) {
	if spec.Curve != "" {
		if _, ok := ecCurves[spec.Curve]; ok {
			return spec.Curve, nil
		}
		return "", fmt.Errorf("%w: curve %q (want P-256, P-384, P-521 or secp256k1)", ErrInvalidSpec, spec.Curve)
	}
	switch spec.Bits {
	case 256:
		return "P-256", nil
	case 384:
		return "P-384", nil
	case 521:
		return "P-521", nil
	}
	return "", fmt.Errorf("%w: EC key without a curve (bits %d)", ErrInvalidSpec, spec.Bits)
}

// GenerateKeyPair generates a key pair inside the HSM. It returns the
// private key wrapped under the master key (the wrapped content is the
// PKCS#8 DER, so Unwrap yields a PKCS#8 PrivateKeyInfo) and the public key
// as DER SubjectPublicKeyInfo. Both session objects are destroyed.
func (b *Backend) GenerateKeyPair(ctx context.Context, spec PairSpec) (priv Wrapped, publicSPKI []byte, err error) {
	op := fmt.Sprintf("generate %v key pair", spec.Kind)
	pub := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, spec.Kind.keyType()),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
	}
	prv := append(extractableSessionKey(pkcs11.CKO_PRIVATE_KEY, spec.Kind.keyType()),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true))
	var m uint
	var curve string
	switch spec.Kind {
	case RSA:
		if spec.Bits < MinRSABits || spec.Bits > MaxRSABits || spec.Bits%8 != 0 {
			return Wrapped{}, nil, fmt.Errorf("hsm: %s: %w: %d bits (want a multiple of 8 from %d to %d)", op, ErrInvalidSpec, spec.Bits, MinRSABits, MaxRSABits)
		}
		op = fmt.Sprintf("generate RSA-%d key pair", spec.Bits)
		m = pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN
		pub = append(pub,
			pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS_BITS, spec.Bits),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, big.NewInt(rsaPublicExponent65537).Bytes()))
		prv = append(prv, pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true))
	case EC:
		curve, err = spec.curveName()
		if err != nil {
			return Wrapped{}, nil, fmt.Errorf("hsm: %s: %w", op, err)
		}
		op = fmt.Sprintf("generate EC %s key pair", curve)
		m = pkcs11.CKM_EC_KEY_PAIR_GEN
		params, _ := asn1.Marshal(ecCurves[curve].oid)
		pub = append(pub, pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params))
		prv = append(prv, pkcs11.NewAttribute(pkcs11.CKA_DERIVE, true))
	case Ed25519:
		m = ckmECEdwardsKeyPairGen
		params, _ := asn1.Marshal(oidEd25519)
		pub = append(pub, pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params))
	default:
		return Wrapped{}, nil, fmt.Errorf("hsm: %s: %w: not a key-pair algorithm", op, ErrInvalidSpec)
	}
	err = b.withSession(ctx, op, func(s pkcs11.SessionHandle) error {
		pubH, prvH, err := b.p.GenerateKeyPair(s, mech(m), pub, prv)
		if err != nil {
			return opError(op, err)
		}
		defer b.destroy(s, pubH)
		defer b.destroy(s, prvH)
		if publicSPKI, err = b.publicSPKI(s, pubH, spec.Kind, curve); err != nil {
			return fmt.Errorf("hsm: %s: %w", op, err)
		}
		if priv, err = b.wrap(s, prvH); err != nil {
			return fmt.Errorf("hsm: %s: %w", op, err)
		}
		return nil
	})
	if err != nil {
		return Wrapped{}, nil, err
	}
	return priv, publicSPKI, nil
}

// publicSPKI reads a public key object and encodes it as DER
// SubjectPublicKeyInfo (RFC 5280 §4.1.2.7).
func (b *Backend) publicSPKI(s pkcs11.SessionHandle, h pkcs11.ObjectHandle, kind Algorithm, curve string) ([]byte, error) {
	var pk any
	switch kind {
	case RSA:
		attrs, err := b.p.GetAttributeValue(s, h, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS, nil),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, nil),
		})
		if err != nil {
			return nil, ckrError("read public key", err, nil)
		}
		n := new(big.Int).SetBytes(attrs[0].Value)
		e := new(big.Int).SetBytes(attrs[1].Value)
		if !e.IsInt64() || e.Int64() > 1<<31-1 || e.Int64() < 3 {
			return nil, errors.New("public exponent out of range")
		}
		pk = &rsa.PublicKey{N: n, E: int(e.Int64())}
	case EC, Ed25519:
		attrs, err := b.p.GetAttributeValue(s, h, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, nil),
		})
		if err != nil {
			return nil, ckrError("read public key", err, nil)
		}
		point := ecPoint(attrs[0].Value)
		if kind == Ed25519 {
			if len(point) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("Ed25519 public key of %d bytes", len(point))
			}
			pk = ed25519.PublicKey(point)
			break
		}
		if ecCurves[curve].curve == nil {
			return marshalECSPKI(ecCurves[curve].oid, point)
		}
		epk, err := ecdsa.ParseUncompressedPublicKey(ecCurves[curve].curve, point)
		if err != nil {
			return nil, fmt.Errorf("public point: %w", err)
		}
		pk = epk
	default:
		return nil, fmt.Errorf("%w: %v keys have no public key", ErrInvalidSpec, kind)
	}
	der, err := x509.MarshalPKIXPublicKey(pk)
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	return der, nil
}

// marshalECSPKI encodes an EC public point on a curve Go does not
// implement as SubjectPublicKeyInfo (RFC 5480 §2). The point comes from
// the HSM; only its form (uncompressed, SEC 1 §2.3.3) is checked here.
func marshalECSPKI(curve asn1.ObjectIdentifier, point []byte) ([]byte, error) {
	if len(point) != 65 || point[0] != 4 {
		return nil, fmt.Errorf("public point of %d bytes is not an uncompressed 256-bit point", len(point))
	}
	params, err := asn1.Marshal(curve)
	if err != nil {
		return nil, fmt.Errorf("encode curve: %w", err)
	}
	der, err := asn1.Marshal(struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}{
		pkix.AlgorithmIdentifier{Algorithm: oidECPublicKey, Parameters: asn1.RawValue{FullBytes: params}},
		asn1.BitString{Bytes: point, BitLength: 8 * len(point)},
	})
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	return der, nil
}

// ecPoint strips the DER OCTET STRING that PKCS#11 v2.40 §2.3.3 puts around
// CKA_EC_POINT; some modules return the bare point, which is kept as is.
func ecPoint(v []byte) []byte {
	var inner []byte
	if rest, err := asn1.Unmarshal(v, &inner); err == nil && len(rest) == 0 {
		return inner
	}
	return v
}

// WrapSecret wraps caller-supplied key material (KMIP Register) under the
// master key: it becomes a session object, is wrapped, and is destroyed.
// kind is AES, DES3 or GenericSecret; use GenericSecret for anything that
// is not an AES or DES3 key (HMAC keys, passwords, seeds, opaque data,
// PKCS#8 private keys). plaintext is not retained; the caller still owns
// and should clear it.
func (b *Backend) WrapSecret(ctx context.Context, kind Algorithm, plaintext []byte) (Wrapped, error) {
	op := fmt.Sprintf("wrap %v secret", kind)
	if err := checkSecretLen(kind, len(plaintext)); err != nil {
		return Wrapped{}, fmt.Errorf("hsm: %s: %w", op, err)
	}
	// Our own copy, so it can be wiped whatever the caller does. (The
	// module and miekg/pkcs11 make C copies we cannot wipe; see doc.go.)
	value := make([]byte, len(plaintext))
	copy(value, plaintext)
	defer clear(value)
	tmpl := append(extractableSessionKey(pkcs11.CKO_SECRET_KEY, kind.keyType()),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, value))
	var w Wrapped
	err := b.withSession(ctx, op, func(s pkcs11.SessionHandle) error {
		h, err := b.p.CreateObject(s, tmpl)
		if err != nil {
			return opError(op+": create object", err)
		}
		defer b.destroy(s, h)
		if w, err = b.wrap(s, h); err != nil {
			return fmt.Errorf("hsm: %s: %w", op, err)
		}
		w.Len = len(value)
		return nil
	})
	return w, err
}

// Unwrap returns the plaintext of w: for secret keys the key bytes, for
// private keys from GenerateKeyPair the PKCS#8 DER. The caller owns the
// result and must clear it when done. It unwraps into a short-lived
// session object that is readable (not sensitive) and destroyed at once:
// unwrapping as a generic secret yields the wrapped bytes whatever they are.
func (b *Backend) Unwrap(ctx context.Context, w Wrapped) ([]byte, error) {
	const op = "unwrap"
	if err := w.check(); err != nil {
		return nil, fmt.Errorf("hsm: %s: %w", op, err)
	}
	var out []byte
	err := b.withSession(ctx, op, func(s pkcs11.SessionHandle) error {
		var err error
		out, err = b.unwrapValue(s, w)
		if err != nil {
			return fmt.Errorf("hsm: %s: %w", op, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// unwrapValue unwraps w in session s and returns its trimmed plaintext.
func (b *Backend) unwrapValue(s pkcs11.SessionHandle, w Wrapped) ([]byte, error) {
	mk, err := b.masterHandle(s, w.MasterKey)
	if err != nil {
		return nil, err
	}
	h, err := b.p.UnwrapKey(s, wrapMech, mk, w.Blob, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_GENERIC_SECRET),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, sessionObjectPrivate),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, false),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
	})
	if err != nil {
		return nil, ckrError("C_UnwrapKey", err, unwrapOverride)
	}
	defer b.destroy(s, h)
	attrs, err := b.p.GetAttributeValue(s, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
	if err != nil {
		return nil, ckrError("read value", err, nil)
	}
	out := attrs[0].Value
	trimmed, err := w.trim(out)
	if err != nil {
		clear(out)
		return nil, err
	}
	return trimmed, nil
}

// UnwrapKey unwraps w into a session object usable for cryptography (see
// Encrypt, EncryptAESGCM, Sign and HMAC) with the usage in use. The object
// is sensitive and not extractable. For use.Kind RSA, EC or Ed25519 the
// blob must hold a PKCS#8 private key (from GenerateKeyPair, or registered
// with WrapSecret as GenericSecret). Release it with DestroyHandle.
func (b *Backend) UnwrapKey(ctx context.Context, w Wrapped, use KeyUse) (Handle, error) {
	op := fmt.Sprintf("unwrap %v key", use.Kind)
	if err := w.check(); err != nil {
		return Handle{}, fmt.Errorf("hsm: %s: %w", op, err)
	}
	class := uint(pkcs11.CKO_PRIVATE_KEY)
	switch {
	case use.Kind.secret():
		class = pkcs11.CKO_SECRET_KEY
		if w.Len != 0 {
			if err := checkSecretLen(use.Kind, w.Len); err != nil {
				return Handle{}, fmt.Errorf("hsm: %s: %w", op, err)
			}
		}
	case use.Kind == RSA || use.Kind == EC || use.Kind == Ed25519:
		if use.Encrypt || use.Verify || use.Wrap {
			return Handle{}, fmt.Errorf("hsm: %s: %w: a private key cannot encrypt, verify or wrap", op, ErrInvalidSpec)
		}
	default:
		return Handle{}, fmt.Errorf("hsm: %s: %w: unknown algorithm", op, ErrInvalidSpec)
	}
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, class),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, use.Kind.keyType()),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, sessionObjectPrivate),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, use.Decrypt),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, use.Sign),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, use.Unwrap),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, use.Derive),
	}
	if class == pkcs11.CKO_SECRET_KEY {
		tmpl = append(tmpl,
			pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, use.Encrypt),
			pkcs11.NewAttribute(pkcs11.CKA_VERIFY, use.Verify),
			pkcs11.NewAttribute(pkcs11.CKA_WRAP, use.Wrap))
	}
	// SoftHSM's unwrap keeps the zero padding it added when wrapping (see
	// Wrapped.Len) and refuses CKA_VALUE_LEN in the template, so a generic
	// secret whose length is not a multiple of 8 would come out longer than
	// it went in (which changes HMAC results for keys above the hash's
	// block size). Such keys are unwrapped to plaintext inside this
	// function and created again with the exact value.
	exact := use.Kind == GenericSecret && w.Len%8 != 0
	var h Handle
	err := b.withSession(ctx, op, func(s pkcs11.SessionHandle) error {
		var obj pkcs11.ObjectHandle
		if exact {
			v, err := b.unwrapValue(s, w)
			if err != nil {
				return fmt.Errorf("hsm: %s: %w", op, err)
			}
			obj, err = b.p.CreateObject(s, append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_VALUE, v)))
			clear(v)
			if err != nil {
				return opError(op+": create object", err)
			}
		} else {
			mk, err := b.masterHandle(s, w.MasterKey)
			if err != nil {
				return fmt.Errorf("hsm: %s: %w", op, err)
			}
			obj, err = b.p.UnwrapKey(s, wrapMech, mk, w.Blob, tmpl)
			if err != nil {
				return opErrorAs(op, err, unwrapOverride)
			}
		}
		h = Handle{obj: obj, kind: use.Kind, b: b}
		return nil
	})
	return h, err
}

// checkHandle rejects zero Handles and Handles of another Backend.
func (b *Backend) checkHandle(op string, h Handle) error {
	if h.b != b {
		return fmt.Errorf("hsm: %s: %w: handle is zero or belongs to another backend", op, ErrKeyNotFound)
	}
	return nil
}

// DestroyHandle destroys the session object behind h.
func (b *Backend) DestroyHandle(ctx context.Context, h Handle) error {
	const op = "destroy handle"
	if err := b.checkHandle(op, h); err != nil {
		return err
	}
	return b.withSession(ctx, op, func(s pkcs11.SessionHandle) error {
		return opError(op, b.p.DestroyObject(s, h.obj))
	})
}

// Random returns n bytes from the token's random number generator
// (C_GenerateRandom), 1 <= n <= MaxRandomLen.
func (b *Backend) Random(ctx context.Context, n int) ([]byte, error) {
	op := fmt.Sprintf("random %d bytes", n)
	if n < 1 || n > MaxRandomLen {
		return nil, fmt.Errorf("hsm: %s: %w: want 1 to %d bytes", op, ErrInvalidSpec, MaxRandomLen)
	}
	var out []byte
	err := b.withSession(ctx, op, func(s pkcs11.SessionHandle) error {
		var err error
		out, err = b.p.GenerateRandom(s, n)
		if err == nil && len(out) != n {
			err = fmt.Errorf("module returned %d bytes", len(out))
		}
		return opError(op, err)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SeedRandom mixes seed into the token's random number generator
// (C_SeedRandom). Tokens that do not accept seeds fail with
// ErrMechanismUnsupported (CKR_RANDOM_SEED_NOT_SUPPORTED).
func (b *Backend) SeedRandom(ctx context.Context, seed []byte) error {
	const op = "seed random"
	if len(seed) < 1 || len(seed) > MaxRandomLen {
		return fmt.Errorf("hsm: %s: %w: seed of %d bytes (want 1 to %d)", op, ErrInvalidSpec, len(seed), MaxRandomLen)
	}
	return b.withSession(ctx, op, func(s pkcs11.SessionHandle) error {
		return opError(op, b.p.SeedRandom(s, seed))
	})
}
