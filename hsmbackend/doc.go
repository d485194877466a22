// Package hsmbackend is kmipd's only door to the HSM: a small vocabulary
// of our own (Algorithm, SecretSpec, PairSpec, Wrapped, Handle) over
// PKCS#11 (github.com/miekg/pkcs11), developed and tested against SoftHSM
// 2.6.
//
// It owns:
//
//   - loading the PKCS#11 module and logging in to one token as CKU_USER,
//     with a PIN from the configuration (PINFromFile, PINFromEnv), never
//     from argv;
//   - a pool of at most Config.MaxSessions sessions, whose wait honours the
//     caller's context, and one session more, which logged in and holds
//     the session copies of the master keys;
//   - the master wrapping key: AES-256, on the token, sensitive, not
//     extractable, good for wrap and unwrap only (CreateMasterKey), used
//     through a session copy (see "The master key" below);
//   - key generation inside the HSM, with the result wrapped under the
//     master key (GenerateSecret, GenerateKeyPair), and wrapping of
//     caller-supplied material (WrapSecret);
//   - unwrapping to plaintext (Unwrap, for KMIP Get) or into a short-lived
//     key object (UnwrapKey) for Encrypt, Decrypt, EncryptAESGCM,
//     DecryptAESGCM, Sign, HMAC and VerifyHMAC;
//   - the token's random number generator (Random, SeedRandom);
//   - mapping CKR codes to the sentinels of errors.go, keeping the
//     pkcs11.Error in the chain (errors.As works, and logs show the code).
//
// It must not know KMIP (enums, objects, attributes), the object store,
// bbolt, the ACL or the audit log. The service translates KMIP
// Cryptographic Algorithm and Cryptographic Parameters into Algorithm,
// BlockParams and SignScheme, and stores Wrapped values as it likes.
//
// # Wrapped material
//
// Everything is wrapped with CKM_AES_KEY_WRAP_PAD, AES key wrap with
// padding (RFC 5649), under the master key named in Wrapped.MasterKey, so
// blobs survive a rotation to a new label. Secret keys are wrapped as
// their CKA_VALUE, private keys as PKCS#8 PrivateKeyInfo. Unwrapping any
// blob as a generic secret yields those bytes, which is how Unwrap serves
// both. SoftHSM 2.6 zero-pads the material to a multiple of 8 bytes before
// wrapping, so the length recorded inside the blob is the padded one;
// Wrapped.Len carries the true length (0 for PKCS#8, whose DER gives it)
// and must be stored with the blob. SoftHSM 2.6.1 cannot wrap EdDSA private
// keys (CKR_KEY_NOT_WRAPPABLE), so GenerateKeyPair(Ed25519) fails there
// with ErrMechanismUnsupported.
//
// # The master key
//
// CreateMasterKey makes the master key a private token object that can
// never leave the HSM (CKA_SENSITIVE, not CKA_EXTRACTABLE) and can wrap
// and unwrap only. Open, after logging in, copies it (C_CopyObject) into a
// session object, and every wrap and unwrap under that label uses the
// copy: the same key, so blobs and Wrapped.MasterKey are as before. SoftHSM
// checks a token object's file on every use, so the copy makes wrapping
// and unwrapping 20-30% faster there. The copy stays private (SoftHSM will
// not copy a private object into a public one), is not modifiable, and
// belongs to the session that logged in, which the Backend never lends to
// an operation, so the copy lives exactly as long as the Backend; Close
// destroys it. A master key named only by a blob (after a rotation) is
// looked up and copied the first time a blob needs it.
//
// SoftHSM copies a key to a session object only if it is CKA_MODIFIABLE,
// so CreateMasterKey makes it so. That does not let it leave the HSM:
// PKCS#11 v2.40 §4.10 lets CKA_SENSITIVE go only from false to true and
// CKA_EXTRACTABLE only from true to false, and §4.4 lets CKA_TOKEN and
// CKA_PRIVATE change only in a copy. What a holder of the user PIN could
// change, its label and usage, would give them nothing that unwrapping a
// blob into a readable object does not; and the Backend refuses a master
// key that can do more than wrap and unwrap. Master keys created by earlier
// versions are not modifiable and SoftHSM will not copy them; the Backend
// then uses the token object, as before, and logs that once per key at
// Info level.
//
// # Concurrency and process-global state
//
// A Backend is safe for concurrent use. PKCS#11 sessions are not: each
// operation borrows one session from the pool, runs, and returns it
// (crypto11's withSession pattern). A session whose call fails with a
// session-level CKR code is closed instead of returned. When all
// MaxSessions are busy, an operation waits until one frees, its context
// ends, Config.PoolWait passes (ErrPoolTimeout) or the Backend closes
// (ErrClosed).
//
// A PKCS#11 module is process-global: the library is loaded once per
// process, C_Initialize may be called once until C_Finalize, and the login
// state belongs to the token and the whole application, not to a session
// (PKCS#11 v2.40 §5.4, §5.6). This package therefore keeps one registry
// per process: one loaded module per library file (reference counted;
// the last Close calls C_Finalize and unloads it) and one login per token.
// Several Backends may share a token; the second one's PIN is checked
// against a keyed MAC of the first one's, because C_Login would not check
// it again. Closing one Backend closes only its own sessions and does not
// log the others out.
//
// Session objects (Handles, the temporary objects of generation and
// wrapping, the copies of the master keys) are visible to every session of
// the process, so a Handle works whichever pooled session runs the
// operation. A session object dies
// with the session that created it: if that session is dropped as broken,
// or the Backend is closed, its Handles fail with ErrKeyNotFound and the
// caller must unwrap again.
//
// SoftHSM reads its configuration file from the environment variable
// SOFTHSM2_CONF at C_Initialize, that is at the first Open or InitDevToken
// of the process (or the first after every Backend was closed). Set it
// once, before that, and do not change it while a Backend is open.
// WriteSoftHSMConfig writes a private configuration for `kmipd dev`. Tests
// that need several tokens create them all in the one token directory
// (SoftHSM always offers a free slot, InitDevToken takes it), which is what
// package hsmtest does.
//
// # Secrets
//
// PINs travel as Secret, which never prints. Plaintext key material passes
// through this package only in WrapSecret (a private copy, cleared after
// use), Unwrap (returned to the caller, who clears it) and UnwrapKey of
// generic secrets whose length is not a multiple of 8 (cleared at once).
// Two copies are out of our reach: miekg/pkcs11 takes PINs as Go strings,
// and copies attribute values into C memory that it frees without wiping.
// Nothing here logs key material or PINs.
//
// The package needs cgo (miekg/pkcs11 is a cgo binding). The two
// operations throughput is measured by call the module's functions
// themselves, in one cgo call, when the module exports them by name
// (direct.go): AES-GCM (C_EncryptInit, C_Encrypt, C_DecryptInit,
// C_Decrypt) and the generation of a secret key (C_GenerateKey,
// C_WrapKey, the SHA-256 digest, C_DestroyObject). Every other call, and
// these on a module that does not export them, goes through miekg/pkcs11.
package hsmbackend
