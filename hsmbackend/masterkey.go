package hsmbackend

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/miekg/pkcs11"
)

// masterKeyBytes is the size of the master wrapping key: AES-256.
const masterKeyBytes = 32

// masterKeyTemplate is the template of the master wrapping key. It lives on
// the token (CKA_TOKEN), needs a login to use (CKA_PRIVATE), can never leave
// the HSM in clear or wrapped form (CKA_SENSITIVE, not CKA_EXTRACTABLE), and
// can do nothing but wrap and unwrap, so a compromised caller cannot use it
// as a general decryption oracle for the blobs (PKCS#11 v2.40 §4.4, §4.10).
//
// It is CKA_COPYABLE and CKA_MODIFIABLE so that Open can make the session
// copy that wraps and unwraps use (see masterCopyTemplate): SoftHSM refuses
// every attribute of a C_CopyObject template, CKA_TOKEN included, when the
// source is not modifiable (CKR_ATTRIBUTE_READ_ONLY). Being modifiable does
// not let the key out of the HSM: CKA_SENSITIVE can only go from false to
// true and CKA_EXTRACTABLE only from true to false (§4.10), and CKA_TOKEN
// and CKA_PRIVATE change only in a copy (§4.4); SoftHSM 2.6 refuses each
// change with CKR_ATTRIBUTE_READ_ONLY. What C_SetAttributeValue can change,
// after a CKU_USER login, is the label and the usage attributes, and a PIN
// holder who turns on CKA_DECRYPT gains nothing: CKA_UNWRAP already lets
// them unwrap any blob into a readable object, as Unwrap does. Every
// lookup checks the usage attributes (masterKeyRules) and refuses a key so
// changed.
func masterKeyTemplate(label string) []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, masterKeyBytes),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_ID, label),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_MODIFIABLE, true),
		pkcs11.NewAttribute(pkcs11.CKA_COPYABLE, true),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, true),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, true),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, false),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, false),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
	}
}

// masterCopyTemplate is the C_CopyObject template of the session copy of a
// master key that wraps and unwraps use in place of the token object. The
// copy is the same key (blobs made with either open with the other) and
// keeps every other attribute of the original: sensitive, not extractable,
// wrap and unwrap only, private.
//
// Why a copy: SoftHSM keeps token objects in files and, on every use of
// one, checks whether the token changed on disk (ObjectFile::refresh; about
// 30 system calls per C_WrapKey: open, fstat, read, fcntl locks). A session
// object lives in memory only; with it, SoftHSM 2.6.1 generates and wraps
// a key, or unwraps one, 20-30% faster (BenchmarkGenerateWrapAES256,
// BenchmarkUnwrapAES256 and bench_test.go).
//
// It stays CKA_PRIVATE although a non-private copy would be faster still
// (see sessionObjectPrivate): SoftHSM 2.6 refuses to copy a private object
// into a public one (C_CopyObject: "Check privacy does not downgrade",
// CKR_TEMPLATE_INCONSISTENT), and C_SetAttributeValue cannot change
// CKA_PRIVATE either (CKR_ATTRIBUTE_READ_ONLY).
//
// The copy is not modifiable, so nothing in the process can change its
// usage later. CKA_MODIFIABLE comes last because SoftHSM applies the
// template in order and refuses every attribute after it.
func masterCopyTemplate() []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_MODIFIABLE, false),
	}
}

// withoutAttribute returns tmpl without the attribute of type t.
func withoutAttribute(tmpl []*pkcs11.Attribute, t uint) []*pkcs11.Attribute {
	return slices.DeleteFunc(tmpl, func(a *pkcs11.Attribute) bool { return a.Type == t })
}

// isCKR reports whether err is the PKCS#11 return value rv.
func isCKR(err error, rv uint) bool {
	var e pkcs11.Error
	return errors.As(err, &e) && uint(e) == rv
}

// masterKeyRules are the attributes findMasterKey requires of a master
// key. Refuse a key someone created by hand with weaker attributes:
// wrapping under an extractable key would protect nothing. The usage
// attributes are checked too because a master key from CreateMasterKey is
// modifiable (see masterKeyTemplate): one that can now encrypt, sign or
// derive was changed after creation, and is refused rather than used.
var masterKeyRules = []struct {
	attr uint
	name string
	want bool
}{
	{pkcs11.CKA_SENSITIVE, "CKA_SENSITIVE", true},
	{pkcs11.CKA_EXTRACTABLE, "CKA_EXTRACTABLE", false},
	{pkcs11.CKA_WRAP, "CKA_WRAP", true},
	{pkcs11.CKA_UNWRAP, "CKA_UNWRAP", true},
	{pkcs11.CKA_ENCRYPT, "CKA_ENCRYPT", false},
	{pkcs11.CKA_DECRYPT, "CKA_DECRYPT", false},
	{pkcs11.CKA_SIGN, "CKA_SIGN", false},
	{pkcs11.CKA_VERIFY, "CKA_VERIFY", false},
	{pkcs11.CKA_DERIVE, "CKA_DERIVE", false},
}

// findMasterKey looks up the token AES key labelled label and checks that
// it is safe to use as the master key. found is false if there is none.
func findMasterKey(p *pkcs11.Ctx, s pkcs11.SessionHandle, label string) (h pkcs11.ObjectHandle, found bool, err error) {
	hs, err := findObjects(p, s, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	}, 2)
	if err != nil {
		return 0, false, ckrError(fmt.Sprintf("find master key %q", label), err, nil)
	}
	switch len(hs) {
	case 0:
		return 0, false, nil
	case 1:
	default:
		return 0, false, fmt.Errorf("master key %q: more than one AES key carries the label", label)
	}
	tmpl := []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, nil)}
	for _, r := range masterKeyRules {
		tmpl = append(tmpl, pkcs11.NewAttribute(r.attr, nil))
	}
	attrs, err := p.GetAttributeValue(s, hs[0], tmpl)
	if err != nil {
		return 0, false, ckrError(fmt.Sprintf("master key %q: read attributes", label), err, nil)
	}
	if len(attrs) != len(tmpl) {
		return 0, false, fmt.Errorf("master key %q: read attributes: module returned %d of %d", label, len(attrs), len(tmpl))
	}
	if n, ok := ulong(attrs[0].Value); !ok || n != masterKeyBytes {
		return 0, false, fmt.Errorf("master key %q: not an AES-256 key", label)
	}
	for i, r := range masterKeyRules {
		if got := boolAttr(attrs[i+1].Value); got != r.want {
			return 0, false, fmt.Errorf("master key %q: unsafe attributes: %s is %t (a master key must be sensitive, not extractable, and able to wrap and unwrap only)", label, r.name, got)
		}
	}
	return hs[0], true, nil
}

// masterKey is a master key as wraps and unwraps use it.
type masterKey struct {
	// obj is the handle to wrap and unwrap with: the session copy when
	// copied, else the token object.
	obj pkcs11.ObjectHandle
	// copied says obj is a session object of the Backend's keeper session,
	// destroyed by Close.
	copied bool
}

// CreateMasterKey generates the AES-256 master wrapping key inside the HSM
// under the configured label. It refuses with ErrMasterKeyExists if the
// token already has a key with that label: replacing it would make every
// blob wrapped under it unreadable.
func (b *Backend) CreateMasterKey(ctx context.Context) error {
	op := fmt.Sprintf("create master key %q", b.master)
	return b.withSession(ctx, op, func(s pkcs11.SessionHandle) error {
		b.masterMu.Lock()
		defer b.masterMu.Unlock()
		_, found, err := findMasterKey(b.p, s, b.master)
		if err != nil {
			return fmt.Errorf("hsm: %s: %w", op, err)
		}
		if found {
			return fmt.Errorf("hsm: %s: %w", op, ErrMasterKeyExists)
		}
		gen := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}
		h, err := b.p.GenerateKey(s, gen, masterKeyTemplate(b.master))
		if isCKR(err, pkcs11.CKR_ATTRIBUTE_TYPE_INVALID) {
			// CKA_COPYABLE is new in PKCS#11 v2.40; a v2.20 module does
			// not know it. Its default is true (§4.4), so leave it out.
			h, err = b.p.GenerateKey(s, gen, withoutAttribute(masterKeyTemplate(b.master), pkcs11.CKA_COPYABLE))
		}
		if err != nil {
			return opError(op, err)
		}
		b.log.Info("master key created", "token", b.label, "label", b.master)
		b.adoptMaster(b.master, h)
		return nil
	})
}

// masterHandle returns the handle to wrap and unwrap with under the master
// key labelled label. The first time, it looks the key up on the token
// (blobs may name an older key after a rotation) and makes its session
// copy (see adoptMaster).
func (b *Backend) masterHandle(s pkcs11.SessionHandle, label string) (pkcs11.ObjectHandle, error) {
	if h, ok := b.knownMaster(label); ok {
		return h, nil
	}
	b.masterMu.Lock()
	defer b.masterMu.Unlock()
	// Another operation may have adopted the key while this one waited.
	if h, ok := b.knownMaster(label); ok {
		return h, nil
	}
	h, found, err := findMasterKey(b.p, s, label)
	if err != nil {
		return 0, err
	}
	if !found {
		return 0, fmt.Errorf("%w: no AES key labelled %q on token %q; run `kmipd init` to create it", ErrMasterKeyMissing, label, b.label)
	}
	return b.adoptMaster(label, h), nil
}

// knownMaster returns the handle of a master key already adopted.
func (b *Backend) knownMaster(label string) (pkcs11.ObjectHandle, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	mk, ok := b.masters[label]
	return mk.obj, ok
}

// adoptMaster records the token master key h under label and returns the
// handle to wrap and unwrap with: a session copy of h made in the keeper
// session (masterCopyTemplate), or h itself if the token will not copy it.
// The latter is the case of a master key created by a kmipd that made it
// CKA_MODIFIABLE=false, which SoftHSM copies only unchanged; such a key
// keeps working, only more slowly, so the failure is logged, not returned.
// The caller holds masterMu, which serialises use of the keeper session.
func (b *Backend) adoptMaster(label string, h pkcs11.ObjectHandle) pkcs11.ObjectHandle {
	mk := masterKey{obj: h}
	if c, err := b.p.CopyObject(b.keeper, h, masterCopyTemplate()); err != nil {
		b.log.Info("master key not copied to a session object; wraps and unwraps under it use the token object, which is slower",
			"token", b.label, "label", label, "reason", copyRefusal(err))
	} else {
		mk = masterKey{obj: c, copied: true}
	}
	b.mu.Lock()
	b.masters[label] = mk
	b.mu.Unlock()
	return mk.obj
}

// copyRefusal explains why C_CopyObject refused to copy a master key, for
// the log.
func copyRefusal(err error) string {
	var rv pkcs11.Error
	if errors.As(err, &rv) && (uint(rv) == pkcs11.CKR_ATTRIBUTE_READ_ONLY || uint(rv) == pkcs11.CKR_ACTION_PROHIBITED) {
		return fmt.Sprintf("the key is not modifiable or not copyable, as master keys created by earlier versions of kmipd are (%v)", err)
	}
	return err.Error()
}

// destroyMasterCopies destroys the session copies of the master keys and
// forgets every master handle. Session objects die with their session
// anyway (PKCS#11 v2.40 §5.6, C_CloseSession); destroying them first
// leaves nothing behind should the close fail. The caller holds masterMu.
func (b *Backend) destroyMasterCopies() {
	b.mu.Lock()
	masters := b.masters
	b.masters = map[string]masterKey{}
	b.mu.Unlock()
	for label, mk := range masters {
		if !mk.copied {
			continue
		}
		if err := b.p.DestroyObject(b.keeper, mk.obj); err != nil {
			b.log.Warn("destroy session copy of master key failed", "token", b.label, "label", label, "error", err)
		}
	}
}

// findObjects returns up to max handles matching template.
func findObjects(p *pkcs11.Ctx, s pkcs11.SessionHandle, template []*pkcs11.Attribute, max int) ([]pkcs11.ObjectHandle, error) {
	if err := p.FindObjectsInit(s, template); err != nil {
		return nil, err
	}
	hs, _, err := p.FindObjects(s, max)
	// Always finish the search, or the session stays in search mode.
	if ferr := p.FindObjectsFinal(s); err == nil {
		err = ferr
	}
	return hs, err
}

// ulong decodes a CK_ULONG attribute value (native byte order and size).
func ulong(b []byte) (uint64, bool) {
	switch len(b) {
	case 8:
		return binary.NativeEndian.Uint64(b), true
	case 4:
		return uint64(binary.NativeEndian.Uint32(b)), true
	}
	return 0, false
}

// boolAttr decodes a CK_BBOOL attribute value.
func boolAttr(b []byte) bool { return len(b) == 1 && b[0] != 0 }
