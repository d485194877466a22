package hsmbackend

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

// The few PKCS#11 v2.40 types this file needs, spelled as the standard
// header spells them (pkcs11t.h); CK_ULONG is unsigned long on every
// platform PKCS#11 modules are built for with the default packing.
typedef unsigned long kmipd_ck_ulong;
typedef unsigned char kmipd_ck_byte;

typedef struct {
	kmipd_ck_ulong mechanism;
	void *pParameter;
	kmipd_ck_ulong ulParameterLen;
} kmipd_ck_mechanism;

// CK_GCM_PARAMS (PKCS#11 v2.40 §2.12.3).
typedef struct {
	kmipd_ck_byte *pIv;
	kmipd_ck_ulong ulIvLen;
	kmipd_ck_ulong ulIvBits;
	kmipd_ck_byte *pAAD;
	kmipd_ck_ulong ulAADLen;
	kmipd_ck_ulong ulTagBits;
} kmipd_ck_gcm_params;

// CK_ATTRIBUTE.
typedef struct {
	kmipd_ck_ulong type;
	void *pValue;
	kmipd_ck_ulong ulValueLen;
} kmipd_ck_attribute;

typedef kmipd_ck_ulong (*kmipd_init_fn)(kmipd_ck_ulong, kmipd_ck_mechanism *, kmipd_ck_ulong);
typedef kmipd_ck_ulong (*kmipd_op_fn)(kmipd_ck_ulong, kmipd_ck_byte *, kmipd_ck_ulong, kmipd_ck_byte *, kmipd_ck_ulong *);
typedef kmipd_ck_ulong (*kmipd_generate_key_fn)(kmipd_ck_ulong, kmipd_ck_mechanism *, kmipd_ck_attribute *, kmipd_ck_ulong, kmipd_ck_ulong *);
typedef kmipd_ck_ulong (*kmipd_wrap_key_fn)(kmipd_ck_ulong, kmipd_ck_mechanism *, kmipd_ck_ulong, kmipd_ck_ulong, kmipd_ck_byte *, kmipd_ck_ulong *);
typedef kmipd_ck_ulong (*kmipd_digest_init_fn)(kmipd_ck_ulong, kmipd_ck_mechanism *);
typedef kmipd_ck_ulong (*kmipd_digest_key_fn)(kmipd_ck_ulong, kmipd_ck_ulong);
typedef kmipd_ck_ulong (*kmipd_digest_final_fn)(kmipd_ck_ulong, kmipd_ck_byte *, kmipd_ck_ulong *);
typedef kmipd_ck_ulong (*kmipd_destroy_fn)(kmipd_ck_ulong, kmipd_ck_ulong);

typedef struct {
	void *handle;
	kmipd_init_fn encrypt_init, decrypt_init;
	kmipd_op_fn encrypt, decrypt;
	// The generation path (kmipd_generate_wrapped); all NULL unless the
	// module exports every one of them.
	kmipd_generate_key_fn generate_key;
	kmipd_wrap_key_fn wrap_key;
	kmipd_digest_init_fn digest_init;
	kmipd_digest_key_fn digest_key;
	kmipd_digest_final_fn digest_final;
	kmipd_destroy_fn destroy_object;
} kmipd_direct;

#define KMIPD_CKM_AES_GCM 0x1087UL
#define KMIPD_CKM_SHA256 0x250UL
#define KMIPD_CKA_CLASS 0x0UL
#define KMIPD_CKA_TOKEN 0x1UL
#define KMIPD_CKA_PRIVATE 0x2UL
#define KMIPD_CKA_KEY_TYPE 0x100UL
#define KMIPD_CKA_SENSITIVE 0x103UL
#define KMIPD_CKA_VALUE_LEN 0x161UL
#define KMIPD_CKA_EXTRACTABLE 0x162UL
#define KMIPD_CKR_BUFFER_TOO_SMALL 0x150UL

// kmipd_direct_open finds the entry points of the module at path, which
// must already be loaded (RTLD_NOLOAD: this never loads a library). It
// returns NULL when the module is not loaded or does not export them.
static kmipd_direct *kmipd_direct_open(const char *path) {
	void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
	if (h == NULL) {
		return NULL;
	}
	kmipd_direct *d = calloc(1, sizeof *d);
	if (d == NULL) {
		dlclose(h);
		return NULL;
	}
	d->handle = h;
	d->encrypt_init = (kmipd_init_fn)dlsym(h, "C_EncryptInit");
	d->encrypt = (kmipd_op_fn)dlsym(h, "C_Encrypt");
	d->decrypt_init = (kmipd_init_fn)dlsym(h, "C_DecryptInit");
	d->decrypt = (kmipd_op_fn)dlsym(h, "C_Decrypt");
	if (!d->encrypt_init || !d->encrypt || !d->decrypt_init || !d->decrypt) {
		dlclose(h);
		free(d);
		return NULL;
	}
	d->generate_key = (kmipd_generate_key_fn)dlsym(h, "C_GenerateKey");
	d->wrap_key = (kmipd_wrap_key_fn)dlsym(h, "C_WrapKey");
	d->digest_init = (kmipd_digest_init_fn)dlsym(h, "C_DigestInit");
	d->digest_key = (kmipd_digest_key_fn)dlsym(h, "C_DigestKey");
	d->digest_final = (kmipd_digest_final_fn)dlsym(h, "C_DigestFinal");
	d->destroy_object = (kmipd_destroy_fn)dlsym(h, "C_DestroyObject");
	if (!d->generate_key || !d->wrap_key || !d->digest_init || !d->digest_key || !d->digest_final || !d->destroy_object) {
		d->generate_key = NULL;
	}
	return d;
}

static int kmipd_direct_can_generate(const kmipd_direct *d) { return d->generate_key != NULL; }

// kmipd_generate_wrapped generates a secret key as a session object with
// mechanism gen_mech (value_len bytes long unless value_len is 0), wraps
// it with wrap_mech under wrapping_key into out (*out_len: its size, then
// the wrapped length), optionally digests it with SHA-256 into sum (32
// bytes; *sum_ok says whether that worked), and destroys the object, whose
// C_DestroyObject result goes to *destroy_rv. The template is
// extractableSessionKey's. It returns the first failure of C_GenerateKey or
// C_WrapKey, and sets *wrap_failed if it was C_WrapKey's. On
// CKR_BUFFER_TOO_SMALL from C_WrapKey nothing is kept: the caller retries
// with the size *out_len gives.
static kmipd_ck_ulong kmipd_generate_wrapped(const kmipd_direct *d, kmipd_ck_ulong session,
		kmipd_ck_ulong gen_mech, kmipd_ck_ulong key_type, kmipd_ck_ulong value_len, int private_object,
		kmipd_ck_ulong wrap_mech, kmipd_ck_ulong wrapping_key, kmipd_ck_byte *out, kmipd_ck_ulong *out_len,
		kmipd_ck_byte *sum, int *sum_ok, int *wrap_failed, kmipd_ck_ulong *destroy_rv) {
	kmipd_ck_ulong class_secret = 4; // CKO_SECRET_KEY
	kmipd_ck_byte yes = 1, no = 0, priv = private_object ? 1 : 0;
	kmipd_ck_attribute tmpl[] = {
		{KMIPD_CKA_CLASS, &class_secret, sizeof class_secret},
		{KMIPD_CKA_KEY_TYPE, &key_type, sizeof key_type},
		{KMIPD_CKA_TOKEN, &no, 1},
		{KMIPD_CKA_PRIVATE, &priv, 1},
		{KMIPD_CKA_SENSITIVE, &yes, 1},
		{KMIPD_CKA_EXTRACTABLE, &yes, 1},
		{KMIPD_CKA_VALUE_LEN, &value_len, sizeof value_len},
	};
	kmipd_ck_ulong n = value_len ? 7 : 6;
	kmipd_ck_mechanism gen = {gen_mech, NULL, 0};
	kmipd_ck_ulong key = 0;
	*sum_ok = 0;
	*wrap_failed = 0;
	*destroy_rv = 0;
	kmipd_ck_ulong rv = d->generate_key(session, &gen, tmpl, n, &key);
	if (rv != 0) {
		return rv;
	}
	kmipd_ck_mechanism wrap = {wrap_mech, NULL, 0};
	rv = d->wrap_key(session, &wrap, wrapping_key, key, out, out_len);
	*wrap_failed = rv != 0;
	if (rv == 0 && sum != NULL) {
		kmipd_ck_mechanism sha = {KMIPD_CKM_SHA256, NULL, 0};
		kmipd_ck_ulong sum_len = 32;
		if (d->digest_init(session, &sha) == 0) {
			if (d->digest_key(session, key) == 0) {
				*sum_ok = d->digest_final(session, sum, &sum_len) == 0 && sum_len == 32;
			} else {
				// End the digest operation (PKCS#11 v2.40 §5.10: a
				// failed C_DigestKey may leave it active).
				kmipd_ck_byte scratch[64];
				kmipd_ck_ulong scratch_len = sizeof scratch;
				d->digest_final(session, scratch, &scratch_len);
			}
		}
	}
	*destroy_rv = d->destroy_object(session, key);
	return rv;
}

static void kmipd_direct_close(kmipd_direct *d) {
	dlclose(d->handle);
	free(d);
}

// kmipd_gcm runs C_EncryptInit (C_DecryptInit) with CKM_AES_GCM and then
// one C_Encrypt (C_Decrypt) into out, whose size *out_len gives. On
// CKR_BUFFER_TOO_SMALL the operation stays active and *out_len is the size
// needed: the caller finishes it with kmipd_gcm_finish.
static kmipd_ck_ulong kmipd_gcm(const kmipd_direct *d, int encrypt, kmipd_ck_ulong session, kmipd_ck_ulong key,
		kmipd_ck_byte *iv, kmipd_ck_ulong iv_len, kmipd_ck_byte *aad, kmipd_ck_ulong aad_len, kmipd_ck_ulong tag_bits,
		kmipd_ck_byte *in, kmipd_ck_ulong in_len, kmipd_ck_byte *out, kmipd_ck_ulong *out_len) {
	kmipd_ck_gcm_params params = { iv, iv_len, iv_len * 8, aad, aad_len, tag_bits };
	kmipd_ck_mechanism mech = { KMIPD_CKM_AES_GCM, &params, sizeof params };
	kmipd_ck_ulong rv = (encrypt ? d->encrypt_init : d->decrypt_init)(session, &mech, key);
	if (rv != 0) {
		return rv;
	}
	return (encrypt ? d->encrypt : d->decrypt)(session, in, in_len, out, out_len);
}

static kmipd_ck_ulong kmipd_gcm_finish(const kmipd_direct *d, int encrypt, kmipd_ck_ulong session,
		kmipd_ck_byte *in, kmipd_ck_ulong in_len, kmipd_ck_byte *out, kmipd_ck_ulong *out_len) {
	return (encrypt ? d->encrypt : d->decrypt)(session, in, in_len, out, out_len);
}
*/
import "C"

import (
	"unsafe"

	"github.com/miekg/pkcs11"
)

// directCalls calls the module's C_EncryptInit/C_Encrypt and
// C_DecryptInit/C_Decrypt for AES-GCM itself, in one cgo call per
// operation, with the parameters on the C stack and the output written
// straight into Go memory; and likewise the five calls of a Create
// (generateWrapped).
//
// Why not through miekg/pkcs11 as everything else: for one GCM operation
// it makes six cgo calls (allocating and freeing the parameters, the init,
// C_Encrypt once to learn the length and once more to encrypt into memory
// it allocated, and the free) and copies the input and the output. On
// SoftHSM 2.6.1 that is 1.3 µs of 10 for 64 bytes and 5 µs of 20.5 for
// 4 KiB (BenchmarkEncryptAESGCM, direct/ against miekg/), and AES-GCM is
// the operation kmipd's throughput is measured by.
//
// It is used only when the loaded module exports those four functions by
// name, as SoftHSM and the common HSM libraries do (PKCS#11 only requires
// C_GetFunctionList); otherwise every call goes through miekg/pkcs11.
type directCalls struct {
	d *C.kmipd_direct
}

// openDirect returns the direct calls into the already loaded module at
// path, or nil when they are not available.
func openDirect(path string) *directCalls {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	d := C.kmipd_direct_open(cpath)
	if d == nil {
		return nil
	}
	return &directCalls{d: d}
}

// close drops the reference to the module that openDirectGCM took; it must
// run before the module is unloaded.
func (g *directCalls) close() {
	C.kmipd_direct_close(g.d)
	g.d = nil
}

// gcm encrypts (or decrypts) in with AES-GCM under key in session s and
// returns the output, or the module's error as a pkcs11.Error. The
// parameters have been checked (checkGCM).
func (g *directCalls) gcm(encrypt bool, s pkcs11.SessionHandle, key pkcs11.ObjectHandle, iv, aad []byte, tagBits int, in []byte) ([]byte, error) {
	enc := C.int(0)
	size := len(in) // a decryption is shorter than its input
	if encrypt {
		enc, size = 1, len(in)+tagBits/8
	}
	out := make([]byte, max(size, 1))
	outLen := C.kmipd_ck_ulong(len(out))
	inPtr, inLen := bytesArg(in)
	ivPtr, ivLen := bytesArg(iv)
	var aadPtr *C.kmipd_ck_byte // NULL when there is none, as miekg/pkcs11 passes it
	if len(aad) > 0 {
		aadPtr = (*C.kmipd_ck_byte)(unsafe.Pointer(&aad[0]))
	}
	aadLen := C.kmipd_ck_ulong(len(aad))
	rv := C.kmipd_gcm(g.d, enc, C.kmipd_ck_ulong(s), C.kmipd_ck_ulong(key),
		ivPtr, ivLen, aadPtr, aadLen, C.kmipd_ck_ulong(tagBits),
		inPtr, inLen, (*C.kmipd_ck_byte)(unsafe.Pointer(&out[0])), &outLen)
	if rv == C.kmipd_ck_ulong(pkcs11.CKR_BUFFER_TOO_SMALL) && int(outLen) > len(out) && int(outLen) <= MaxDataLen+tagBits/8 {
		// Not expected for GCM; finish the operation, which a
		// CKR_BUFFER_TOO_SMALL leaves active (PKCS#11 v2.40 §5.2).
		out = make([]byte, int(outLen))
		rv = C.kmipd_gcm_finish(g.d, enc, C.kmipd_ck_ulong(s), inPtr, inLen, (*C.kmipd_ck_byte)(unsafe.Pointer(&out[0])), &outLen)
	}
	if rv != 0 {
		clear(out)
		return nil, pkcs11.Error(rv)
	}
	if int(outLen) > len(out) {
		// A module that wrote more than it was given room for: say so
		// rather than slice out of bounds.
		return nil, pkcs11.Error(pkcs11.CKR_GENERAL_ERROR)
	}
	return out[:outLen], nil
}

// bytesArg passes b to C: a pointer valid for the call and its length. An
// empty slice is passed as a pointer to a zero byte, not NULL, because
// modules check data pointers before lengths (SoftHSM answers NULL with
// CKR_ARGUMENTS_BAD); the length 0 says there is nothing there.
func bytesArg(b []byte) (*C.kmipd_ck_byte, C.kmipd_ck_ulong) {
	if len(b) == 0 {
		b = []byte{0}
		return (*C.kmipd_ck_byte)(unsafe.Pointer(&b[0])), 0
	}
	return (*C.kmipd_ck_byte)(unsafe.Pointer(&b[0])), C.kmipd_ck_ulong(len(b))
}

// canGenerate reports whether the module exports what generateWrapped
// calls.
func (g *directCalls) canGenerate() bool { return C.kmipd_direct_can_generate(g.d) != 0 }

// generated is what generateWrapped made.
type generated struct {
	blob []byte // the key wrapped
	sum  []byte // its SHA-256, nil if not asked for or the module could not
	// wrapFailed says that err came from C_WrapKey, not C_GenerateKey.
	wrapFailed bool
	// destroyErr is C_DestroyObject's failure: the session object
	// outlived the call, and dies with the session.
	destroyErr error
}

// generateWrapped is a Create in one cgo call: C_GenerateKey of a secret
// key with extractableSessionKey's template (valueLen bytes long, unless
// 0: the mechanism implies it), C_WrapKey under wrappingKey, with digest
// the key's SHA-256 (C_DigestInit, C_DigestKey, C_DigestFinal), and
// C_DestroyObject.
//
// Besides the cgo calls and the C allocations miekg/pkcs11 makes for the
// template and the output, it saves a whole wrap: miekg's WrapKey asks the
// module for the length first, and SoftHSM computes the wrap to answer.
// Here the output has room for any RFC 5649 wrap of the key.
func (g *directCalls) generateWrapped(s pkcs11.SessionHandle, genMech, keyType uint, valueLen int,
	wrapMech uint, wrappingKey pkcs11.ObjectHandle, digest bool) (generated, error) {
	out := make([]byte, max(valueLen, 24)+16) // RFC 5649 §4.1: the key padded to 8 bytes, plus 8
	priv := C.int(0)
	if sessionObjectPrivate {
		priv = 1
	}
	for {
		var (
			res               generated
			sumBuf            [32]byte
			sumPtr            *C.kmipd_ck_byte
			sumOK, wrapFailed C.int
			destroyRV         C.kmipd_ck_ulong
			outLen            = C.kmipd_ck_ulong(len(out))
		)
		if digest {
			sumPtr = (*C.kmipd_ck_byte)(unsafe.Pointer(&sumBuf[0]))
		}
		rv := C.kmipd_generate_wrapped(g.d, C.kmipd_ck_ulong(s), C.kmipd_ck_ulong(genMech), C.kmipd_ck_ulong(keyType),
			C.kmipd_ck_ulong(valueLen), priv, C.kmipd_ck_ulong(wrapMech), C.kmipd_ck_ulong(wrappingKey),
			(*C.kmipd_ck_byte)(unsafe.Pointer(&out[0])), &outLen, sumPtr, &sumOK, &wrapFailed, &destroyRV)
		if destroyRV != 0 {
			res.destroyErr = pkcs11.Error(destroyRV)
		}
		res.wrapFailed = wrapFailed != 0
		if rv == C.KMIPD_CKR_BUFFER_TOO_SMALL && res.wrapFailed && int(outLen) > len(out) && int(outLen) <= MaxMaterialLen+64 {
			// Not expected; the key it wrapped is gone, and the next
			// round generates another.
			out = make([]byte, int(outLen))
			continue
		}
		if rv != 0 {
			return res, pkcs11.Error(rv)
		}
		if int(outLen) > len(out) {
			return res, pkcs11.Error(pkcs11.CKR_GENERAL_ERROR)
		}
		res.blob = out[:outLen]
		if sumOK != 0 {
			res.sum = sumBuf[:]
		}
		return res, nil
	}
}

// direct returns the module's direct calls, or nil when they are not
// available or this Backend was told not to use them (tests compare both
// paths).
func (b *Backend) direct() *directCalls {
	if b.viaMiekgOnly {
		return nil
	}
	return b.mod.direct
}
