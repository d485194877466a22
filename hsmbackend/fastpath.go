package hsmbackend

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/miekg/pkcs11"
)

// This file holds the variants of key generation and unwrapping that the
// service's hot paths use to avoid a second round trip through the HSM:
// Create needs the Digest of a key it has just generated (KMIP 1.4 §3.17),
// and Get needs the plaintext of a key it serves many times.

// GenerateSecretSHA256 is GenerateSecret that also returns the SHA-256 of
// the generated key value, computed inside the HSM with C_DigestKey
// (PKCS#11 v2.40 §5.10) while the key still exists as a session object, so
// the caller need not unwrap the new key again to compute its Digest. The
// key value never leaves the HSM in clear.
//
// A module that refuses to digest the key (CKR_KEY_INDIGESTIBLE, or no
// CKM_SHA256) still yields the wrapped key, with a nil digest: the caller
// then falls back to Unwrap.
func (b *Backend) GenerateSecretSHA256(ctx context.Context, spec SecretSpec) (Wrapped, []byte, error) {
	return b.generateSecret(ctx, spec, true)
}

// digestKey returns the SHA-256 of the value of the secret key h, or nil
// when the module cannot digest it. A session whose digest operation is
// left active would refuse the next one, so a failure after C_DigestInit
// is finished with C_DigestFinal, whose result is discarded.
func (b *Backend) digestKey(s pkcs11.SessionHandle, h pkcs11.ObjectHandle) []byte {
	if err := b.p.DigestInit(s, mech(pkcs11.CKM_SHA256)); err != nil {
		return nil
	}
	if err := b.p.DigestKey(s, h); err != nil {
		_, _ = b.p.DigestFinal(s)
		return nil
	}
	sum, err := b.p.DigestFinal(s)
	if err != nil || len(sum) != sha256.Size {
		return nil
	}
	return sum
}

// readableTemplate is the template of a key unwrapped only so that its
// value can be read: a session object, not sensitive and so readable with
// C_GetAttributeValue (which PKCS#11 v2.40 §4.2 also makes require
// CKA_EXTRACTABLE), and usable for nothing else. See sessionObjectPrivate
// for why it is not CKA_PRIVATE.
func readableTemplate() []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_GENERIC_SECRET),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, sessionObjectPrivate),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, false),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, false),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, false),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
	}
}

// UnwrapReadable unwraps w into a session object that ReadValue can read
// any number of times, so that a caller serving the same key repeatedly
// (KMIP Get) pays for C_UnwrapKey once, not on every read. The object is a
// private session object of this Backend and can do no cryptography; its
// value is readable only through this process's sessions. Release it with
// DestroyHandle. The Handle's Kind is GenericSecret whatever w holds.
func (b *Backend) UnwrapReadable(ctx context.Context, w Wrapped) (Handle, error) {
	const op = "unwrap readable key"
	if err := w.check(); err != nil {
		return Handle{}, fmt.Errorf("hsm: %s: %w", op, err)
	}
	var h Handle
	err := b.withSession(ctx, op, func(s pkcs11.SessionHandle) error {
		mk, err := b.masterHandle(s, w.MasterKey)
		if err != nil {
			return fmt.Errorf("hsm: %s: %w", op, err)
		}
		obj, err := b.p.UnwrapKey(s, wrapMech, mk, w.Blob, readableTemplate())
		if err != nil {
			return opErrorAs(op, err, unwrapOverride)
		}
		h = Handle{obj: obj, kind: GenericSecret, b: b}
		return nil
	})
	return h, err
}

// ReadValue returns the plaintext of the key h made by UnwrapReadable from
// w: for secret keys the key bytes, for private keys the PKCS#8 DER, as
// Unwrap does. The caller owns the result and must clear it when done. A
// Handle the HSM no longer knows fails with ErrKeyNotFound.
func (b *Backend) ReadValue(ctx context.Context, h Handle, w Wrapped) ([]byte, error) {
	const op = "read key value"
	if err := b.checkHandle(op, h); err != nil {
		return nil, err
	}
	if err := w.check(); err != nil {
		return nil, fmt.Errorf("hsm: %s: %w", op, err)
	}
	var out []byte
	err := b.withSession(ctx, op, func(s pkcs11.SessionHandle) error {
		attrs, err := b.p.GetAttributeValue(s, h.obj, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
		if err != nil {
			return opError(op, err)
		}
		if len(attrs) != 1 {
			return fmt.Errorf("hsm: %s: %w", op, errors.New("module returned no value"))
		}
		v := attrs[0].Value
		if out, err = w.trim(v); err != nil {
			clear(v)
			return fmt.Errorf("hsm: %s: %w", op, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
