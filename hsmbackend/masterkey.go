package hsmbackend

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/miekg/pkcs11"
)

// masterKeyBytes is the size of the master wrapping key: AES-256.
const masterKeyBytes = 32

// masterKeyTemplate is the template of the master wrapping key. It lives on
// the token (CKA_TOKEN), needs a login to use (CKA_PRIVATE), can never leave
// the HSM in clear or wrapped form (CKA_SENSITIVE, not CKA_EXTRACTABLE), and
// can do nothing but wrap and unwrap, so a compromised caller cannot use it
// as a general decryption oracle for the blobs (PKCS#11 v2.40 §4.4, §4.10).
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
		pkcs11.NewAttribute(pkcs11.CKA_MODIFIABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, true),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, true),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, false),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, false),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
	}
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
	attrs, err := p.GetAttributeValue(s, hs[0], []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, nil),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, nil),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, nil),
	})
	if err != nil {
		return 0, false, ckrError(fmt.Sprintf("master key %q: read attributes", label), err, nil)
	}
	// Refuse a key someone created by hand with weaker attributes: wrapping
	// under an extractable key would protect nothing.
	want := map[uint]bool{
		pkcs11.CKA_SENSITIVE:   true,
		pkcs11.CKA_EXTRACTABLE: false,
		pkcs11.CKA_WRAP:        true,
		pkcs11.CKA_UNWRAP:      true,
	}
	for _, a := range attrs {
		if a.Type == pkcs11.CKA_VALUE_LEN {
			if n, ok := ulong(a.Value); !ok || n != masterKeyBytes {
				return 0, false, fmt.Errorf("master key %q: not an AES-256 key", label)
			}
			continue
		}
		if boolAttr(a.Value) != want[a.Type] {
			return 0, false, fmt.Errorf("master key %q: unsafe attributes (need sensitive, not extractable, wrap and unwrap)", label)
		}
	}
	return hs[0], true, nil
}

// CreateMasterKey generates the AES-256 master wrapping key inside the HSM
// under the configured label. It refuses with ErrMasterKeyExists if the
// token already has a key with that label: replacing it would make every
// blob wrapped under it unreadable.
func (b *Backend) CreateMasterKey(ctx context.Context) error {
	b.createMu.Lock()
	defer b.createMu.Unlock()
	op := fmt.Sprintf("create master key %q", b.master)
	return b.withSession(ctx, op, func(s pkcs11.SessionHandle) error {
		_, found, err := findMasterKey(b.p, s, b.master)
		if err != nil {
			return fmt.Errorf("hsm: %s: %w", op, err)
		}
		if found {
			return fmt.Errorf("hsm: %s: %w", op, ErrMasterKeyExists)
		}
		h, err := b.p.GenerateKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, masterKeyTemplate(b.master))
		if err != nil {
			return opError(op, err)
		}
		b.mu.Lock()
		b.masters[b.master] = h
		b.mu.Unlock()
		b.log.Info("master key created", "token", b.label, "label", b.master)
		return nil
	})
}

// masterHandle returns the handle of the master key labelled label, looking
// it up on the token the first time (blobs may name an older key after a
// rotation).
func (b *Backend) masterHandle(s pkcs11.SessionHandle, label string) (pkcs11.ObjectHandle, error) {
	b.mu.Lock()
	h, ok := b.masters[label]
	b.mu.Unlock()
	if ok {
		return h, nil
	}
	h, found, err := findMasterKey(b.p, s, label)
	if err != nil {
		return 0, err
	}
	if !found {
		return 0, fmt.Errorf("%w: no AES key labelled %q on token %q; run `kmipd init` to create it", ErrMasterKeyMissing, label, b.label)
	}
	b.mu.Lock()
	b.masters[label] = h
	b.mu.Unlock()
	return h, nil
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
