package hsmbackend

import (
	"errors"
	"fmt"

	"github.com/miekg/pkcs11"
)

// Sentinel errors. Every error returned by this package that stems from a
// PKCS#11 call wraps both the sentinel below (when one applies) and the
// original pkcs11.Error, so callers can test errors.Is(err, ErrKeyNotFound)
// and still log the CKR code.
var (
	// ErrModuleLoad means the PKCS#11 module could not be loaded or
	// C_Initialize failed.
	ErrModuleLoad = errors.New("cannot load PKCS#11 module")
	// ErrTokenNotFound means no slot holds an initialised token with the
	// configured label or slot ID.
	ErrTokenNotFound = errors.New("token not found")
	// ErrTokenExists means InitDevToken found a token that already carries
	// the requested label.
	ErrTokenExists = errors.New("token already exists")
	// ErrPINIncorrect means C_Login rejected the PIN (CKR_PIN_INCORRECT,
	// CKR_PIN_LEN_RANGE), or the PIN differs from the one another Backend of
	// this process logged in with.
	ErrPINIncorrect = errors.New("PIN incorrect")
	// ErrPINLocked means the token refuses further login attempts.
	ErrPINLocked = errors.New("PIN locked")
	// ErrMasterKeyMissing means no master wrapping key carries the
	// configured (or the blob's) label.
	ErrMasterKeyMissing = errors.New("master key missing")
	// ErrMasterKeyExists means CreateMasterKey found a key with the label.
	ErrMasterKeyExists = errors.New("master key already exists")
	// ErrKeyNotFound means a Handle is unknown to the token: destroyed, from
	// a closed Backend, or lost with the session that created it.
	ErrKeyNotFound = errors.New("key not found")
	// ErrKeyUsage means the key may not do what was asked: its usage
	// attributes forbid it (CKR_KEY_FUNCTION_NOT_PERMITTED) or the mechanism
	// does not fit its type (CKR_KEY_TYPE_INCONSISTENT).
	ErrKeyUsage = errors.New("key usage not permitted")
	// ErrMechanismUnsupported means the token lacks a mechanism or function
	// (CKR_MECHANISM_INVALID, CKR_FUNCTION_NOT_SUPPORTED,
	// CKR_RANDOM_SEED_NOT_SUPPORTED, CKR_KEY_NOT_WRAPPABLE, ...). SoftHSM
	// 2.6.1 generates Ed25519 pairs but cannot wrap their private keys, so
	// GenerateKeyPair(Ed25519) fails with it there.
	ErrMechanismUnsupported = errors.New("mechanism not supported")
	// ErrPoolTimeout means no session became free before the context or
	// Config.PoolWait expired.
	ErrPoolTimeout = errors.New("timed out waiting for a session")
	// ErrBadWrappedKey means a Wrapped value is malformed, names an unknown
	// mechanism, or fails the integrity check of the key wrap (RFC 5649).
	ErrBadWrappedKey = errors.New("bad wrapped key")
	// ErrInvalidSpec means a key specification, a length or a parameter is
	// outside what this package or the token accepts.
	ErrInvalidSpec = errors.New("invalid key specification")
	// ErrInvalidData means input data or ciphertext was rejected, e.g. a
	// failed AES-GCM tag check or a wrong length for an unpadded mode.
	ErrInvalidData = errors.New("invalid data")
	// ErrSignatureInvalid means a signature or MAC did not verify.
	ErrSignatureInvalid = errors.New("signature invalid")
	// ErrClosed means the Backend was closed.
	ErrClosed = errors.New("backend closed")
)

// sentinelFor maps a CKR code to a sentinel, or nil if none applies. The
// meaning of some codes depends on the operation, so unwrap and crypto
// operations refine the result (see opError).
func sentinelFor(rv pkcs11.Error) error {
	switch uint(rv) {
	case pkcs11.CKR_PIN_INCORRECT, pkcs11.CKR_PIN_LEN_RANGE, pkcs11.CKR_PIN_INVALID:
		return ErrPINIncorrect
	case pkcs11.CKR_PIN_LOCKED, pkcs11.CKR_PIN_EXPIRED:
		return ErrPINLocked
	case pkcs11.CKR_SLOT_ID_INVALID, pkcs11.CKR_TOKEN_NOT_PRESENT,
		pkcs11.CKR_TOKEN_NOT_RECOGNIZED, pkcs11.CKR_DEVICE_REMOVED:
		return ErrTokenNotFound
	case pkcs11.CKR_KEY_HANDLE_INVALID, pkcs11.CKR_OBJECT_HANDLE_INVALID,
		pkcs11.CKR_WRAPPING_KEY_HANDLE_INVALID, pkcs11.CKR_UNWRAPPING_KEY_HANDLE_INVALID:
		return ErrKeyNotFound
	case pkcs11.CKR_MECHANISM_INVALID, pkcs11.CKR_FUNCTION_NOT_SUPPORTED,
		pkcs11.CKR_RANDOM_SEED_NOT_SUPPORTED, pkcs11.CKR_RANDOM_NO_RNG,
		pkcs11.CKR_CURVE_NOT_SUPPORTED, pkcs11.CKR_KEY_NOT_WRAPPABLE:
		return ErrMechanismUnsupported
	case pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED, pkcs11.CKR_KEY_TYPE_INCONSISTENT:
		return ErrKeyUsage
	case pkcs11.CKR_WRAPPED_KEY_INVALID, pkcs11.CKR_WRAPPED_KEY_LEN_RANGE:
		return ErrBadWrappedKey
	case pkcs11.CKR_KEY_SIZE_RANGE, pkcs11.CKR_TEMPLATE_INCONSISTENT,
		pkcs11.CKR_TEMPLATE_INCOMPLETE, pkcs11.CKR_ATTRIBUTE_VALUE_INVALID,
		pkcs11.CKR_DOMAIN_PARAMS_INVALID, pkcs11.CKR_MECHANISM_PARAM_INVALID:
		return ErrInvalidSpec
	case pkcs11.CKR_DATA_INVALID, pkcs11.CKR_DATA_LEN_RANGE,
		pkcs11.CKR_ENCRYPTED_DATA_INVALID, pkcs11.CKR_ENCRYPTED_DATA_LEN_RANGE:
		return ErrInvalidData
	case pkcs11.CKR_SIGNATURE_INVALID, pkcs11.CKR_SIGNATURE_LEN_RANGE:
		return ErrSignatureInvalid
	}
	return nil
}

// opError wraps err from a PKCS#11 call made by the public operation op:
// "hsm: op: <sentinel> (<pkcs11 error>)", wrapping both.
func opError(op string, err error) error {
	return opErrorAs(op, err, nil)
}

// opErrorAs is opError with an override: when the CKR code is one of those
// the operation reinterprets (e.g. CKR_ENCRYPTED_DATA_INVALID during
// C_UnwrapKey means a bad blob), override returns the sentinel to use.
func opErrorAs(op string, err error, override func(pkcs11.Error) error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("hsm: %w", ckrError(op, err, override))
}

// ckrError is opErrorAs without the "hsm: " prefix, for helpers whose
// errors the public operation wraps again.
func ckrError(what string, err error, override func(pkcs11.Error) error) error {
	if err == nil {
		return nil
	}
	var rv pkcs11.Error
	if !errors.As(err, &rv) {
		return fmt.Errorf("%s: %w", what, err)
	}
	var sentinel error
	if override != nil {
		sentinel = override(rv)
	}
	if sentinel == nil {
		sentinel = sentinelFor(rv)
	}
	if sentinel == nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %w (%w)", what, sentinel, err)
}

// unwrapOverride treats every data-shaped failure of C_UnwrapKey as a bad
// blob: RFC 5649 reports a failed integrity check as invalid data.
func unwrapOverride(rv pkcs11.Error) error {
	switch uint(rv) {
	case pkcs11.CKR_WRAPPED_KEY_INVALID, pkcs11.CKR_WRAPPED_KEY_LEN_RANGE,
		pkcs11.CKR_ENCRYPTED_DATA_INVALID, pkcs11.CKR_ENCRYPTED_DATA_LEN_RANGE,
		pkcs11.CKR_DATA_INVALID, pkcs11.CKR_DATA_LEN_RANGE,
		pkcs11.CKR_GENERAL_ERROR, pkcs11.CKR_FUNCTION_FAILED:
		return ErrBadWrappedKey
	}
	return nil
}

// sessionBroken reports whether err means the session can no longer be
// used and must be dropped from the pool instead of being reused.
func sessionBroken(err error) bool {
	var rv pkcs11.Error
	if !errors.As(err, &rv) {
		return false
	}
	switch uint(rv) {
	case pkcs11.CKR_SESSION_HANDLE_INVALID, pkcs11.CKR_SESSION_CLOSED,
		pkcs11.CKR_DEVICE_REMOVED, pkcs11.CKR_DEVICE_ERROR,
		pkcs11.CKR_TOKEN_NOT_PRESENT, pkcs11.CKR_OPERATION_ACTIVE,
		pkcs11.CKR_USER_NOT_LOGGED_IN, pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED:
		return true
	}
	return false
}
