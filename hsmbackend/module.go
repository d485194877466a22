package hsmbackend

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/miekg/pkcs11"
)

// A PKCS#11 module is process-global state: dlopen returns the same library
// for the same file, and C_Initialize may be called only once until
// C_Finalize (PKCS#11 v2.40 §5.4, CKR_CRYPTOKI_ALREADY_INITIALIZED). Login
// state is per token and per application, not per session (§5.6): every
// session of the process sees the token as logged in once one session
// logged in. The registry below therefore shares one initialised module per
// library file and one login per token among all Backends of the process.

// registry is the process-wide table of loaded modules.
var registry = struct {
	mu      sync.Mutex
	modules map[string]*module
	// pinKey keys the MAC of each token's PIN, so a second Backend on a
	// token that is already logged in must present the same PIN without
	// this process keeping the PIN itself in a comparable form.
	pinKey []byte
}{modules: map[string]*module{}}

// module is one loaded and initialised PKCS#11 library.
type module struct {
	path string // canonical path, the registry key
	ctx  *pkcs11.Ctx
	refs int
	// finalize is false when someone else in the process had already
	// initialised the library; then it is not ours to finalise.
	finalize bool
	// logins counts the Backends per slot and the MAC of the PIN they use;
	// guarded by registry.mu.
	logins map[uint]*login
	// direct is the module's entry points called without miekg/pkcs11
	// for AES-GCM and Create (direct.go), nil when the module does not
	// export them.
	// Set before the module is shared, read-only after.
	direct *directCalls
}

type login struct {
	refs   int
	pinMAC []byte
}

// canonicalModulePath resolves symlinks so two spellings of one library
// share one registry entry (they share one dlopen handle anyway).
func canonicalModulePath(path string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("%w: module path is empty", ErrModuleLoad)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrModuleLoad, path, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrModuleLoad, path, err)
	}
	return real, nil
}

// acquireModule loads and initialises the library at path, or takes one
// more reference to it if this process already did.
func acquireModule(path string) (*module, error) {
	canon, err := canonicalModulePath(path)
	if err != nil {
		return nil, err
	}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if m := registry.modules[canon]; m != nil {
		m.refs++
		return m, nil
	}
	ctx := pkcs11.New(canon)
	if ctx == nil {
		return nil, fmt.Errorf("%w: %s: dlopen failed or C_GetFunctionList missing", ErrModuleLoad, canon)
	}
	finalize := true
	if err := ctx.Initialize(); err != nil {
		var rv pkcs11.Error
		if errors.As(err, &rv) && uint(rv) == pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED {
			finalize = false
		} else {
			ctx.Destroy()
			return nil, fmt.Errorf("%w: %s: C_Initialize: %w", ErrModuleLoad, canon, err)
		}
	}
	m := &module{path: canon, ctx: ctx, refs: 1, finalize: finalize, logins: map[uint]*login{}, direct: openDirect(canon)}
	registry.modules[canon] = m
	return m, nil
}

// release drops one reference; the last one finalises and unloads the
// library, which also closes every session and logs out every token.
func (m *module) release() {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	m.refs--
	if m.refs > 0 {
		return
	}
	delete(registry.modules, m.path)
	if m.direct != nil {
		m.direct.close()
	}
	if m.finalize {
		_ = m.ctx.Finalize()
	}
	m.ctx.Destroy()
}

// pinMAC returns HMAC-SHA-256 of pin under the per-process key.
// Caller holds registry.mu.
func pinMAC(pin []byte) []byte {
	if registry.pinKey == nil {
		registry.pinKey = make([]byte, 32)
		_, _ = rand.Read(registry.pinKey) // crypto/rand.Read never fails (Go 1.24+)
	}
	h := hmac.New(sha256.New, registry.pinKey)
	h.Write(pin)
	return h.Sum(nil)
}

// loginToken logs session s's token in as CKU_USER and records one more
// Backend on the slot. If another Backend of this process already uses the
// token, C_Login would not check the PIN again (the token is logged in for
// the whole process), so the PIN must instead match the MAC recorded by the
// first Backend. The registry lock is held across C_Login so that two
// Backends opening the same token at once cannot both skip the check.
func (m *module) loginToken(slot uint, s pkcs11.SessionHandle, pin []byte) error {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	mac := pinMAC(pin)
	if l := m.logins[slot]; l != nil {
		if !hmac.Equal(l.pinMAC, mac) {
			return fmt.Errorf("login: %w: differs from the PIN of the Backend already open on this token", ErrPINIncorrect)
		}
		if err := ensureLoggedIn(m.ctx, s, pin); err != nil {
			return err
		}
		l.refs++
		return nil
	}
	if err := ensureLoggedIn(m.ctx, s, pin); err != nil {
		return err
	}
	m.logins[slot] = &login{refs: 1, pinMAC: mac}
	return nil
}

// ensureLoggedIn logs the token of s in unless it already is (by this
// process; PKCS#11 v2.40 §5.6). CKR_USER_ALREADY_LOGGED_IN from a race with
// another session counts as success.
func ensureLoggedIn(p *pkcs11.Ctx, s pkcs11.SessionHandle, pin []byte) error {
	info, err := p.GetSessionInfo(s)
	if err != nil {
		return ckrError("login: session info", err, nil)
	}
	if info.State == pkcs11.CKS_RW_USER_FUNCTIONS || info.State == pkcs11.CKS_RO_USER_FUNCTIONS {
		return nil
	}
	// miekg/pkcs11 takes the PIN as a Go string; that copy cannot be wiped.
	err = p.Login(s, pkcs11.CKU_USER, string(pin))
	var rv pkcs11.Error
	if errors.As(err, &rv) && uint(rv) == pkcs11.CKR_USER_ALREADY_LOGGED_IN {
		return nil
	}
	return ckrError("login", err, nil)
}

// leaveLogin undoes joinLogin.
func (m *module) leaveLogin(slot uint) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if l := m.logins[slot]; l != nil {
		l.refs--
		if l.refs <= 0 {
			delete(m.logins, slot)
		}
	}
}

// softHSMPaths are the places Debian, Ubuntu, Fedora, Alpine and Homebrew
// install SoftHSM 2.
var softHSMPaths = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib64/pkcs11/libsofthsm2.so",
	"/usr/lib/pkcs11/libsofthsm2.so",
	"/usr/lib64/softhsm/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
	"/opt/homebrew/lib/softhsm/libsofthsm2.so",
}

// FindSoftHSMModule returns the path of the first SoftHSM 2 library found
// in the usual install locations.
func FindSoftHSMModule() (string, error) {
	for _, p := range softHSMPaths {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("hsm: find SoftHSM: %w: not found in %s (install softhsm2)", ErrModuleLoad, strings.Join(softHSMPaths, ", "))
}

// WriteSoftHSMConfig writes dir/softhsm/softhsm2.conf, pointing SoftHSM at
// the token directory dir/softhsm/tokens (created with mode 0700), and
// returns the path of the file. SoftHSM reads the file named by the
// environment variable SOFTHSM2_CONF once, at C_Initialize; the caller must
// set it before the first Open or InitDevToken of the process (see the
// package documentation).
func WriteSoftHSMConfig(dir string) (confPath string, err error) {
	base, err := filepath.Abs(filepath.Join(dir, "softhsm"))
	if err != nil {
		return "", fmt.Errorf("hsm: write SoftHSM config in %s: %w", dir, err)
	}
	tokens := filepath.Join(base, "tokens")
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		return "", fmt.Errorf("hsm: write SoftHSM config: %w", err)
	}
	if strings.ContainsAny(tokens, "\n\r") {
		return "", fmt.Errorf("hsm: write SoftHSM config: token directory %q contains a newline", tokens)
	}
	conf := filepath.Join(base, "softhsm2.conf")
	body := "# Written by kmipd. SoftHSM reads this file once, at C_Initialize.\n" +
		"directories.tokendir = " + tokens + "\n" +
		"objectstore.backend = file\n" +
		"log.level = ERROR\n" +
		"slots.removable = false\n"
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		return "", fmt.Errorf("hsm: write SoftHSM config: %w", err)
	}
	return conf, nil
}

// maxLabelLen is the size of CK_TOKEN_INFO.label (PKCS#11 v2.40 §3.2).
const maxLabelLen = 32

func checkLabel(what, label string) error {
	switch {
	case label == "":
		return fmt.Errorf("%w: %s is empty", ErrInvalidSpec, what)
	case len(label) > maxLabelLen:
		return fmt.Errorf("%w: %s %q is longer than %d bytes", ErrInvalidSpec, what, label, maxLabelLen)
	case strings.TrimRight(label, " ") != label:
		// Token labels are blank-padded; trailing blanks cannot be told apart.
		return fmt.Errorf("%w: %s %q ends with a blank", ErrInvalidSpec, what, label)
	}
	return nil
}

// InitDevToken initialises the first uninitialised slot of the module at
// modulePath as a token labelled label, with the given security officer
// and user PINs (C_InitToken, then C_InitPIN as the SO). It is meant for
// development tokens (`kmipd dev`) and tests on SoftHSM, whose module always
// offers one free slot. It fails with ErrTokenExists if a token already has
// the label. The master key is not created; Open the token with
// Config.AllowMissingMasterKey and call CreateMasterKey.
func InitDevToken(modulePath, label string, soPIN, userPIN Secret) error {
	if err := checkLabel("token label", label); err != nil {
		return fmt.Errorf("hsm: init token: %w", err)
	}
	if soPIN.IsZero() || userPIN.IsZero() {
		return fmt.Errorf("hsm: init token %q: %w: empty PIN", label, ErrInvalidSpec)
	}
	m, err := acquireModule(modulePath)
	if err != nil {
		return fmt.Errorf("hsm: init token %q: %w", label, err)
	}
	defer m.release()
	p := m.ctx

	slots, err := p.GetSlotList(true)
	if err != nil {
		return opError("init token: list slots", err)
	}
	free, haveFree := uint(0), false
	for _, s := range slots {
		ti, err := p.GetTokenInfo(s)
		if err != nil {
			continue // a slot may empty itself between the calls
		}
		if ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			if !haveFree {
				free, haveFree = s, true
			}
			continue
		}
		if ti.Label == label {
			return fmt.Errorf("hsm: init token %q: %w in slot %d", label, ErrTokenExists, s)
		}
	}
	if !haveFree {
		return fmt.Errorf("hsm: init token %q: %w: no uninitialised slot", label, ErrTokenNotFound)
	}
	// miekg/pkcs11 takes PINs as Go strings; the copies cannot be wiped.
	if err := p.InitToken(free, string(soPIN.Bytes()), label); err != nil {
		return opError(fmt.Sprintf("init token %q: C_InitToken", label), err)
	}
	// SoftHSM may renumber the slot once it holds a token; look it up again.
	slot, err := findSlot(p, label, nil)
	if err != nil {
		return fmt.Errorf("hsm: init token %q: %w", label, err)
	}
	s, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return opError(fmt.Sprintf("init token %q: open session", label), err)
	}
	// The token is initialised (or not) once C_InitPIN returns, and a failed
	// C_Logout or C_CloseSession cannot change that. This is the fresh
	// token's only session, and closing a token's last session returns it
	// to the public state (PKCS#11 v2.40 base §5.6 C_CloseSession), so a
	// failed C_Logout leaves no SO login behind either.
	defer p.CloseSession(s) //nolint:errcheck // see above
	if err := p.Login(s, pkcs11.CKU_SO, string(soPIN.Bytes())); err != nil {
		return opError(fmt.Sprintf("init token %q: SO login", label), err)
	}
	defer p.Logout(s) //nolint:errcheck // see above
	if err := p.InitPIN(s, string(userPIN.Bytes())); err != nil {
		return opError(fmt.Sprintf("init token %q: C_InitPIN", label), err)
	}
	return nil
}

// findSlot returns the slot holding an initialised token labelled label, or,
// when slotID is set, checks that slot (and its label, unless label is
// empty).
func findSlot(p *pkcs11.Ctx, label string, slotID *uint) (uint, error) {
	if slotID != nil {
		ti, err := p.GetTokenInfo(*slotID)
		if err != nil {
			return 0, ckrError(fmt.Sprintf("token in slot %d", *slotID), err, func(pkcs11.Error) error { return ErrTokenNotFound })
		}
		if ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			return 0, fmt.Errorf("%w: slot %d holds an uninitialised token", ErrTokenNotFound, *slotID)
		}
		if label != "" && ti.Label != label {
			return 0, fmt.Errorf("%w: slot %d holds token %q, not %q", ErrTokenNotFound, *slotID, ti.Label, label)
		}
		return *slotID, nil
	}
	slots, err := p.GetSlotList(true)
	if err != nil {
		return 0, ckrError("list slots", err, nil)
	}
	var found []uint
	for _, s := range slots {
		ti, err := p.GetTokenInfo(s)
		if err != nil || ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			continue
		}
		if ti.Label == label {
			found = append(found, s)
		}
	}
	switch len(found) {
	case 0:
		return 0, fmt.Errorf("%w: no token labelled %q", ErrTokenNotFound, label)
	case 1:
		return found[0], nil
	default:
		return 0, fmt.Errorf("%d tokens are labelled %q (slots %v); set the slot ID", len(found), label, found)
	}
}
