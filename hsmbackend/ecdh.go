package hsmbackend

import (
	"context"
	"fmt"

	"github.com/miekg/pkcs11"
)

// MaxECPointLen bounds the peer public point of DeriveECDH: an
// uncompressed P-521 point (SEC 1 §2.3.3) is 133 bytes.
const MaxECPointLen = 1 + 2*66

// DeriveECDH agrees a secret with the EC private key h (unwrapped with
// KeyUse.Derive) and the peer's public point (uncompressed, SEC 1 §2.3.3)
// by CKM_ECDH1_DERIVE with CKD_NULL (PKCS#11 v2.40 §2.3.15): the secret is
// the x-coordinate of the shared point, which the module truncates to
// spec's length when spec asks for fewer bytes. The secret is made as a
// session object of spec's kind, wrapped under the master key and
// destroyed, so it never exists outside the HSM in clear. It also returns
// the SHA-256 of the secret when the module can digest it (nil
// otherwise; see GenerateSecretSHA256).
//
// A point not on the private key's curve fails in the module (OpenSSL
// checks it) with ErrInvalidData.
func (b *Backend) DeriveECDH(ctx context.Context, h Handle, peerPoint []byte, spec SecretSpec) (Wrapped, []byte, error) {
	op := fmt.Sprintf("derive %v-%d by ECDH", spec.Kind, spec.Bits)
	if err := b.checkHandle(op, h); err != nil {
		return Wrapped{}, nil, err
	}
	if h.kind != EC {
		return Wrapped{}, nil, fmt.Errorf("hsm: %s: %w: the base key is %v, not EC", op, ErrInvalidSpec, h.kind)
	}
	if len(peerPoint) < 3 || len(peerPoint) > MaxECPointLen || peerPoint[0] != 4 {
		return Wrapped{}, nil, fmt.Errorf("hsm: %s: %w: the peer point is not an uncompressed point of at most %d bytes", op, ErrInvalidSpec, MaxECPointLen)
	}
	n, err := spec.bytes()
	if err != nil {
		return Wrapped{}, nil, fmt.Errorf("hsm: %s: %w", op, err)
	}
	tmpl := extractableSessionKey(pkcs11.CKO_SECRET_KEY, spec.Kind.keyType())
	if spec.Kind != DES3 {
		// DES3 keys have an implied length; SoftHSM refuses
		// CKA_VALUE_LEN for them.
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, n))
	}
	params := pkcs11.NewECDH1DeriveParams(pkcs11.CKD_NULL, nil, peerPoint)
	m := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_ECDH1_DERIVE, params)}
	var (
		w   Wrapped
		sum []byte
	)
	err = b.withSession(ctx, op, func(s pkcs11.SessionHandle) error {
		obj, err := b.p.DeriveKey(s, m, h.obj, tmpl)
		if err != nil {
			return opErrorAs(op, err, ecdhOverride)
		}
		defer b.destroy(s, obj)
		if w, err = b.wrap(s, obj); err != nil {
			return fmt.Errorf("hsm: %s: %w", op, err)
		}
		w.Len = n
		sum = b.digestKey(s, obj)
		return nil
	})
	if err != nil {
		return Wrapped{}, nil, err
	}
	return w, sum, nil
}

// ecdhOverride reads the failures of C_DeriveKey with CKM_ECDH1_DERIVE
// that only the peer's point can cause as invalid data: SoftHSM answers
// CKR_GENERAL_ERROR for a point that is not on the private key's curve.
func ecdhOverride(rv pkcs11.Error) error {
	switch uint(rv) {
	case pkcs11.CKR_GENERAL_ERROR, pkcs11.CKR_FUNCTION_FAILED,
		pkcs11.CKR_MECHANISM_PARAM_INVALID, pkcs11.CKR_DOMAIN_PARAMS_INVALID,
		pkcs11.CKR_ARGUMENTS_BAD:
		return ErrInvalidData
	}
	return nil
}
