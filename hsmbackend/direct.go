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

typedef kmipd_ck_ulong (*kmipd_init_fn)(kmipd_ck_ulong, kmipd_ck_mechanism *, kmipd_ck_ulong);
typedef kmipd_ck_ulong (*kmipd_op_fn)(kmipd_ck_ulong, kmipd_ck_byte *, kmipd_ck_ulong, kmipd_ck_byte *, kmipd_ck_ulong *);

typedef struct {
	void *handle;
	kmipd_init_fn encrypt_init, decrypt_init;
	kmipd_op_fn encrypt, decrypt;
} kmipd_direct;

#define KMIPD_CKM_AES_GCM 0x1087UL

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
	return d;
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

// directGCM calls the module's C_EncryptInit/C_Encrypt and
// C_DecryptInit/C_Decrypt for AES-GCM itself, in one cgo call per
// operation, with the parameters on the C stack and the output written
// straight into Go memory.
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
type directGCM struct {
	d *C.kmipd_direct
}

// openDirectGCM returns the direct calls into the already loaded module at
// path, or nil when they are not available.
func openDirectGCM(path string) *directGCM {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	d := C.kmipd_direct_open(cpath)
	if d == nil {
		return nil
	}
	return &directGCM{d: d}
}

// close drops the reference to the module that openDirectGCM took; it must
// run before the module is unloaded.
func (g *directGCM) close() {
	C.kmipd_direct_close(g.d)
	g.d = nil
}

// gcm encrypts (or decrypts) in with AES-GCM under key in session s and
// returns the output, or the module's error as a pkcs11.Error. The
// parameters have been checked (checkGCM).
func (g *directGCM) gcm(encrypt bool, s pkcs11.SessionHandle, key pkcs11.ObjectHandle, iv, aad []byte, tagBits int, in []byte) ([]byte, error) {
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

// direct returns the module's direct AES-GCM calls, or nil when they are
// not available or this Backend was told not to use them (tests compare
// both paths).
func (b *Backend) direct() *directGCM {
	if b.viaMiekgOnly {
		return nil
	}
	return b.mod.direct
}
