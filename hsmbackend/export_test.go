package hsmbackend

import (
	"context"
	"fmt"

	"github.com/miekg/pkcs11"
)

// HoldSession borrows a pool session until release is called, so tests can
// exhaust the pool.
func (b *Backend) HoldSession(ctx context.Context) (release func(), err error) {
	s, err := b.acquire(ctx, "hold")
	if err != nil {
		return nil, err
	}
	return func() { b.release(s, false) }, nil
}

// IdleSessions reports how many sessions sit in the pool.
func (b *Backend) IdleSessions() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.idle)
}

// MasterAttrs are the attributes of a master key object the tests inspect.
var MasterAttrs = []uint{
	pkcs11.CKA_TOKEN, pkcs11.CKA_PRIVATE, pkcs11.CKA_SENSITIVE, pkcs11.CKA_EXTRACTABLE,
	pkcs11.CKA_MODIFIABLE, pkcs11.CKA_COPYABLE, pkcs11.CKA_WRAP, pkcs11.CKA_UNWRAP,
	pkcs11.CKA_ENCRYPT, pkcs11.CKA_DECRYPT,
}

// MasterKeyInUse reports the MasterAttrs of the object that wraps and
// unwraps under the master key labelled label (the session copy, or the
// token object), and whether the Backend holds it as a copy. It fails if
// the Backend has not adopted the key yet.
func (b *Backend) MasterKeyInUse(ctx context.Context, label string) (attrs map[uint]bool, copied bool, err error) {
	b.mu.Lock()
	mk, ok := b.masters[label]
	b.mu.Unlock()
	if !ok {
		return nil, false, fmt.Errorf("master key %q not adopted", label)
	}
	attrs, err = b.readBools(ctx, mk.obj, MasterAttrs)
	return attrs, mk.copied, err
}

// TokenMasterKey reports the MasterAttrs of the token object of the master
// key labelled label.
func (b *Backend) TokenMasterKey(ctx context.Context, label string) (map[uint]bool, error) {
	h, err := b.tokenMaster(ctx, label)
	if err != nil {
		return nil, err
	}
	return b.readBools(ctx, h, MasterAttrs)
}

// SetTokenMasterKeyAttr changes a boolean attribute of the token object of
// the master key labelled label, as any holder of the user PIN could.
func (b *Backend) SetTokenMasterKeyAttr(ctx context.Context, label string, attr uint, v bool) error {
	h, err := b.tokenMaster(ctx, label)
	if err != nil {
		return err
	}
	return b.withSession(ctx, "set attribute", func(s pkcs11.SessionHandle) error {
		return b.p.SetAttributeValue(s, h, []*pkcs11.Attribute{pkcs11.NewAttribute(attr, v)})
	})
}

// UseTokenMasterKey makes the Backend wrap and unwrap under the token
// object of the master key labelled label, destroying its session copy, as
// it does for a master key the token will not copy.
func (b *Backend) UseTokenMasterKey(ctx context.Context, label string) error {
	h, err := b.tokenMaster(ctx, label)
	if err != nil {
		return err
	}
	return b.withSession(ctx, "use token master key", func(s pkcs11.SessionHandle) error {
		b.masterMu.Lock()
		defer b.masterMu.Unlock()
		b.mu.Lock()
		old := b.masters[label]
		b.masters[label] = masterKey{obj: h}
		b.mu.Unlock()
		if old.copied {
			return b.p.DestroyObject(b.keeper, old.obj)
		}
		return nil
	})
}

// CountMasterKeyCopies counts the session objects of this process labelled
// label on the Backend's token: the session copies of that master key made
// by every open Backend.
func (b *Backend) CountMasterKeyCopies(ctx context.Context, label string) (int, error) {
	var n int
	err := b.withSession(ctx, "count copies", func(s pkcs11.SessionHandle) error {
		hs, err := findObjects(b.p, s, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		}, 100)
		n = len(hs)
		return err
	})
	return n, err
}

// CountSessionSecretKeys counts the session secret keys that b's sessions
// can see: the master key copies and any temporary key left behind.
func (b *Backend) CountSessionSecretKeys(ctx context.Context) (int, error) {
	var n int
	err := b.withSession(ctx, "count session keys", func(s pkcs11.SessionHandle) error {
		hs, err := findObjects(b.p, s, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		}, 1000)
		n = len(hs)
		return err
	})
	return n, err
}

// CreateOldMasterKey creates the master key under the configured label
// with the template of kmipd before session copies: CKA_MODIFIABLE false,
// CKA_COPYABLE left to its default. The Backend adopts it on first use.
func (b *Backend) CreateOldMasterKey(ctx context.Context) error {
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, masterKeyBytes),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, b.master),
		pkcs11.NewAttribute(pkcs11.CKA_ID, b.master),
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
	return b.withSession(ctx, "create old master key", func(s pkcs11.SessionHandle) error {
		_, err := b.p.GenerateKey(s, mech(pkcs11.CKM_AES_KEY_GEN), tmpl)
		return err
	})
}

// tokenMaster finds the token object of the master key labelled label,
// without the checks of findMasterKey.
func (b *Backend) tokenMaster(ctx context.Context, label string) (pkcs11.ObjectHandle, error) {
	var h pkcs11.ObjectHandle
	err := b.withSession(ctx, "find token master key", func(s pkcs11.SessionHandle) error {
		hs, err := findObjects(b.p, s, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		}, 2)
		if err != nil {
			return err
		}
		if len(hs) != 1 {
			return fmt.Errorf("%d token objects labelled %q", len(hs), label)
		}
		h = hs[0]
		return nil
	})
	return h, err
}

// readBools reads boolean attributes of h.
func (b *Backend) readBools(ctx context.Context, h pkcs11.ObjectHandle, types []uint) (map[uint]bool, error) {
	tmpl := make([]*pkcs11.Attribute, len(types))
	for i, t := range types {
		tmpl[i] = pkcs11.NewAttribute(t, nil)
	}
	out := map[uint]bool{}
	err := b.withSession(ctx, "read attributes", func(s pkcs11.SessionHandle) error {
		attrs, err := b.p.GetAttributeValue(s, h, tmpl)
		if err != nil {
			return err
		}
		for _, a := range attrs {
			out[a.Type] = boolAttr(a.Value)
		}
		return nil
	})
	return out, err
}

// UseMiekgOnly makes b call the module only through miekg/pkcs11, also
// where direct.go would call it itself, so tests can compare the paths.
func (b *Backend) UseMiekgOnly(v bool) { b.viaMiekgOnly = v }

// HasDirectGCM reports whether b's module exports the entry points
// direct.go calls.
func (b *Backend) HasDirectGCM() bool { return b.mod.direct != nil }

// HasDirectGenerate reports whether b's module exports what the one-call
// Create (directCalls.generateWrapped) needs.
func (b *Backend) HasDirectGenerate() bool { return b.mod.direct != nil && b.mod.direct.canGenerate() }
