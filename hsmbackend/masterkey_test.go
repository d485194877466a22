package hsmbackend_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/miekg/pkcs11"

	"github.com/kmipd/kmipd/hsmbackend"
	"github.com/kmipd/kmipd/hsmbackend/hsmtest"
)

// copyNotice is the start of the Info message Open logs when it cannot
// copy a master key.
const copyNotice = "master key not copied to a session object"

// masterKinds are the two kinds of master key a token may hold: one from
// CreateMasterKey, and one from a kmipd that made master keys
// CKA_MODIFIABLE=false, which SoftHSM will not copy to a session object.
var masterKinds = []struct {
	name   string
	create func(*hsmbackend.Backend, context.Context) error
	copied bool
}{
	{name: "new", create: (*hsmbackend.Backend).CreateMasterKey, copied: true},
	{name: "old", create: (*hsmbackend.Backend).CreateOldMasterKey, copied: false},
}

// tokenWithMaster initialises a token and creates its master key (under
// cfg.MasterKeyLabel, if set) with create.
func tokenWithMaster(t *testing.T, label string, create func(*hsmbackend.Backend, context.Context) error) hsmbackend.Config {
	t.Helper()
	cfg := hsmtest.NewToken(t)
	cfg.MasterKeyLabel = label
	addMaster(t, cfg, create)
	return cfg
}

// addMaster creates a master key under cfg.MasterKeyLabel with create.
func addMaster(t *testing.T, cfg hsmbackend.Config, create func(*hsmbackend.Backend, context.Context) error) {
	t.Helper()
	init := cfg
	init.AllowMissingMasterKey = true
	b, err := hsmbackend.Open(context.Background(), init)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := create(b, context.Background()); err != nil {
		t.Fatalf("create master key %q: %v", cfg.MasterKeyLabel, err)
	}
}

// logTo makes cfg log to a buffer, returned.
func logTo(cfg *hsmbackend.Config) *syncBuffer {
	buf := &syncBuffer{}
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Output: buf, Level: hclog.Info})
	return buf
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestMasterKeySessionCopy: a master key from CreateMasterKey is copied to
// a session object at Open, and wraps and unwraps use the copy, which is
// the same key as the token object; an old master key is used directly,
// and Open says so once, naming it.
func TestMasterKeySessionCopy(t *testing.T) {
	ctx := context.Background()
	label := hsmbackend.DefaultMasterKeyLabel
	for _, kind := range masterKinds {
		t.Run(kind.name, func(t *testing.T) {
			cfg := tokenWithMaster(t, label, kind.create)

			tok := open(t, cfg)
			got, err := tok.TokenMasterKey(ctx, label)
			if err != nil {
				t.Fatal(err)
			}
			// A new master key is modifiable and copyable; an old one is not
			// modifiable. Both stay sensitive and unextractable.
			wantTok := map[uint]bool{
				pkcs11.CKA_TOKEN: true, pkcs11.CKA_PRIVATE: true, pkcs11.CKA_SENSITIVE: true, pkcs11.CKA_EXTRACTABLE: false,
				pkcs11.CKA_MODIFIABLE: kind.copied, pkcs11.CKA_COPYABLE: true, pkcs11.CKA_WRAP: true, pkcs11.CKA_UNWRAP: true,
				pkcs11.CKA_ENCRYPT: false, pkcs11.CKA_DECRYPT: false,
			}
			checkAttrs(t, "token master key", got, wantTok)
			// The token object wraps and unwraps here: blobs made with it must
			// open with the copy and the other way round.
			if err := tok.UseTokenMasterKey(ctx, label); err != nil {
				t.Fatal(err)
			}

			logs := logTo(&cfg)
			b := open(t, cfg)
			inUse, copied, err := b.MasterKeyInUse(ctx, label)
			if err != nil {
				t.Fatal(err)
			}
			if copied != kind.copied {
				t.Errorf("master key copied = %v, want %v", copied, kind.copied)
			}
			want := wantTok
			if kind.copied {
				// The copy is a frozen session object, otherwise the same key.
				want = map[uint]bool{
					pkcs11.CKA_TOKEN: false, pkcs11.CKA_PRIVATE: true, pkcs11.CKA_SENSITIVE: true, pkcs11.CKA_EXTRACTABLE: false,
					pkcs11.CKA_MODIFIABLE: false, pkcs11.CKA_COPYABLE: true, pkcs11.CKA_WRAP: true, pkcs11.CKA_UNWRAP: true,
					pkcs11.CKA_ENCRYPT: false, pkcs11.CKA_DECRYPT: false,
				}
			}
			checkAttrs(t, "master key in use", inUse, want)

			for _, dir := range []struct {
				name         string
				wrap, unwrap *hsmbackend.Backend
			}{
				{"copy to token object", b, tok},
				{"token object to copy", tok, b},
			} {
				w, err := dir.wrap.GenerateSecret(ctx, hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 256})
				if err != nil {
					t.Fatalf("%s: GenerateSecret: %v", dir.name, err)
				}
				if w.MasterKey != label {
					t.Errorf("%s: blob names master key %q, want %q", dir.name, w.MasterKey, label)
				}
				want, err := dir.wrap.Unwrap(ctx, w)
				if err != nil {
					t.Fatalf("%s: Unwrap by the wrapping Backend: %v", dir.name, err)
				}
				got, err := dir.unwrap.Unwrap(ctx, w)
				if err != nil {
					t.Fatalf("%s: Unwrap: %v", dir.name, err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s: the two Backends unwrap different keys", dir.name)
				}
			}

			if n := strings.Count(logs.String(), copyNotice); n != btoi(!kind.copied) {
				t.Errorf("%d notices that the master key was not copied, want %d; log:\n%s", n, btoi(!kind.copied), logs)
			}
			if !kind.copied && !strings.Contains(logs.String(), "label="+label) {
				t.Errorf("notice does not name the master key %q:\n%s", label, logs)
			}
		})
	}
}

// TestMasterKeyCopyAcrossReopen: blobs wrapped under the session copy
// open after the Backend is closed and the token opened again, with the
// token object or a new copy, and the other way round.
func TestMasterKeyCopyAcrossReopen(t *testing.T) {
	ctx := context.Background()
	cfg := hsmtest.NewConfig(t)
	label := hsmbackend.DefaultMasterKeyLabel
	steps := []struct {
		name     string
		useToken bool // wrap and unwrap under the token object
	}{
		{"copy", false},
		{"token object", true},
		{"copy again", false},
	}
	var blobs []hsmbackend.Wrapped
	var plain [][]byte
	for _, step := range steps {
		b, err := hsmbackend.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if step.useToken {
			if err := b.UseTokenMasterKey(ctx, label); err != nil {
				t.Fatal(err)
			}
		}
		for i, w := range blobs {
			got, err := b.Unwrap(ctx, w)
			if err != nil {
				t.Fatalf("%s: Unwrap blob %d: %v", step.name, i, err)
			}
			if !bytes.Equal(got, plain[i]) {
				t.Errorf("%s: blob %d unwraps to another key", step.name, i)
			}
		}
		w, err := b.GenerateSecret(ctx, hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 128})
		if err != nil {
			t.Fatal(err)
		}
		p, err := b.Unwrap(ctx, w)
		if err != nil {
			t.Fatal(err)
		}
		blobs, plain = append(blobs, w), append(plain, p)
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMasterKeyCopyRotation: a master key named only by a blob (after a
// rotation) is adopted on first use, copied if it can be, once however
// many operations need it at the same time.
func TestMasterKeyCopyRotation(t *testing.T) {
	ctx := context.Background()
	const oldLabel, newLabel = "kmipd-master-v1", "kmipd-master-v2"
	for _, kind := range masterKinds {
		t.Run(kind.name, func(t *testing.T) {
			cfg := tokenWithMaster(t, oldLabel, kind.create)
			b1 := open(t, cfg)
			w, err := b1.GenerateSecret(ctx, hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 256})
			if err != nil {
				t.Fatal(err)
			}
			if err := b1.Close(); err != nil {
				t.Fatal(err)
			}

			rot := cfg
			rot.MasterKeyLabel = newLabel
			addMaster(t, rot, (*hsmbackend.Backend).CreateMasterKey)
			logs := logTo(&rot)
			b := open(t, rot)
			if _, _, err := b.MasterKeyInUse(ctx, oldLabel); err == nil {
				t.Fatalf("master key %q adopted before a blob named it", oldLabel)
			}
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for range 8 {
				wg.Go(func() {
					if _, err := b.Unwrap(ctx, w); err != nil {
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("Unwrap under %q: %v", oldLabel, err)
			}
			for _, c := range []struct {
				label  string
				copied bool
			}{{oldLabel, kind.copied}, {newLabel, true}} {
				_, copied, err := b.MasterKeyInUse(ctx, c.label)
				if err != nil {
					t.Fatal(err)
				}
				if copied != c.copied {
					t.Errorf("master key %q copied = %v, want %v", c.label, copied, c.copied)
				}
				n, err := b.CountMasterKeyCopies(ctx, c.label)
				if err != nil {
					t.Fatal(err)
				}
				if n != btoi(c.copied) {
					t.Errorf("%d session copies of %q, want %d", n, c.label, btoi(c.copied))
				}
			}
			if n := strings.Count(logs.String(), copyNotice); n != btoi(!kind.copied) {
				t.Errorf("%d notices that a master key was not copied, want %d; log:\n%s", n, btoi(!kind.copied), logs)
			}
		})
	}
}

// TestCloseDestroysMasterKeyCopy: each Backend has its own copy, and
// closing one leaves no copy of it behind and the other working.
func TestCloseDestroysMasterKeyCopy(t *testing.T) {
	ctx := context.Background()
	label := hsmbackend.DefaultMasterKeyLabel
	for _, kind := range masterKinds {
		t.Run(kind.name, func(t *testing.T) {
			cfg := tokenWithMaster(t, label, kind.create)
			stays := open(t, cfg)
			b, err := hsmbackend.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			copies := func() int {
				t.Helper()
				n, err := stays.CountMasterKeyCopies(ctx, label)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			if n, want := copies(), 2*btoi(kind.copied); n != want {
				t.Fatalf("%d session copies with two Backends open, want %d", n, want)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			if n, want := copies(), btoi(kind.copied); n != want {
				t.Errorf("%d session copies after Close of one Backend, want %d", n, want)
			}
			if _, err := stays.GenerateSecret(ctx, hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 128}); err != nil {
				t.Errorf("other Backend after Close: %v", err)
			}
		})
	}
}

// TestMasterKeyModified: a master key is modifiable, but not so far that
// it could leave the HSM, and Open refuses one whose usage was widened.
func TestMasterKeyModified(t *testing.T) {
	tests := []struct {
		attr       uint
		value      bool
		wantSetErr bool   // the token refuses the change
		wantOpen   string // substring of Open's error after the change; "" if it succeeds
	}{
		{attr: pkcs11.CKA_SENSITIVE, value: false, wantSetErr: true},
		{attr: pkcs11.CKA_EXTRACTABLE, value: true, wantSetErr: true},
		{attr: pkcs11.CKA_PRIVATE, value: false, wantSetErr: true},
		{attr: pkcs11.CKA_TOKEN, value: false, wantSetErr: true},
		{attr: pkcs11.CKA_DECRYPT, value: true, wantOpen: "CKA_DECRYPT is true"},
		{attr: pkcs11.CKA_ENCRYPT, value: true, wantOpen: "CKA_ENCRYPT is true"},
		{attr: pkcs11.CKA_SIGN, value: true, wantOpen: "CKA_SIGN is true"},
		{attr: pkcs11.CKA_VERIFY, value: true, wantOpen: "CKA_VERIFY is true"},
		{attr: pkcs11.CKA_DERIVE, value: true, wantOpen: "CKA_DERIVE is true"},
		{attr: pkcs11.CKA_WRAP, value: false, wantOpen: "CKA_WRAP is false"},
		{attr: pkcs11.CKA_UNWRAP, value: false, wantOpen: "CKA_UNWRAP is false"},
	}
	for _, tt := range tests {
		t.Run(attrName(tt.attr), func(t *testing.T) {
			ctx := context.Background()
			cfg := hsmtest.NewConfig(t)
			b := open(t, cfg)
			err := b.SetTokenMasterKeyAttr(ctx, hsmbackend.DefaultMasterKeyLabel, tt.attr, tt.value)
			if (err != nil) != tt.wantSetErr {
				t.Fatalf("set %v to %v: %v, want error %v", attrName(tt.attr), tt.value, err, tt.wantSetErr)
			}
			b2, err := hsmbackend.Open(ctx, cfg)
			if tt.wantOpen == "" {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				b2.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantOpen) {
				if err == nil {
					b2.Close()
				}
				t.Fatalf("Open: %v, want an error saying %q", err, tt.wantOpen)
			}
		})
	}
}

func checkAttrs(t *testing.T, what string, got, want map[uint]bool) {
	t.Helper()
	for a, w := range want {
		if got[a] != w {
			t.Errorf("%s: %s = %v, want %v", what, attrName(a), got[a], w)
		}
	}
}

var attrNames = map[uint]string{
	pkcs11.CKA_TOKEN: "CKA_TOKEN", pkcs11.CKA_PRIVATE: "CKA_PRIVATE", pkcs11.CKA_SENSITIVE: "CKA_SENSITIVE",
	pkcs11.CKA_EXTRACTABLE: "CKA_EXTRACTABLE", pkcs11.CKA_MODIFIABLE: "CKA_MODIFIABLE", pkcs11.CKA_COPYABLE: "CKA_COPYABLE",
	pkcs11.CKA_WRAP: "CKA_WRAP", pkcs11.CKA_UNWRAP: "CKA_UNWRAP", pkcs11.CKA_ENCRYPT: "CKA_ENCRYPT",
	pkcs11.CKA_DECRYPT: "CKA_DECRYPT", pkcs11.CKA_SIGN: "CKA_SIGN", pkcs11.CKA_VERIFY: "CKA_VERIFY", pkcs11.CKA_DERIVE: "CKA_DERIVE",
}

func attrName(a uint) string { return attrNames[a] }

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
