package hsmbackend

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/miekg/pkcs11"
)

// Defaults applied by Open to zero Config fields.
const (
	DefaultMaxSessions    = 8
	DefaultPoolWait       = 30 * time.Second
	DefaultMasterKeyLabel = "kmipd-master-v1"
)

// Config says which token to use and how. The zero value of every optional
// field is a safe default.
type Config struct {
	// ModulePath is the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so.
	ModulePath string
	// TokenLabel selects the token by its label (CK_TOKEN_INFO.label).
	TokenLabel string
	// Slot selects the token by slot ID instead; if TokenLabel is set too,
	// the token in the slot must carry that label.
	Slot *uint
	// PIN is the CKU_USER PIN. Open keeps a private copy for the life of
	// the Backend (to log in again if the token drops every session) and
	// wipes it on Close; the caller may Clear its own copy after Open.
	PIN Secret
	// MaxSessions bounds the PKCS#11 sessions the Backend opens for
	// operations, and so the number of concurrent HSM operations. Default
	// DefaultMaxSessions. The Backend holds one more session, which logs in
	// and owns the session copies of the master keys (see Open).
	MaxSessions int
	// PoolWait bounds how long an operation waits for a free session when
	// all MaxSessions are busy, on top of the caller's context. Zero means
	// DefaultPoolWait; a negative value means only the context bounds it.
	PoolWait time.Duration
	// MasterKeyLabel is the CKA_LABEL of the AES-256 master wrapping key.
	// Default DefaultMasterKeyLabel.
	MasterKeyLabel string
	// AllowMissingMasterKey lets Open succeed on a token without the master
	// key, for `kmipd init`, which then calls CreateMasterKey.
	AllowMissingMasterKey bool
	// Logger receives operational messages (never key material or PINs).
	// Nil discards them.
	Logger hclog.Logger
}

// Backend is an open, logged-in token with its session pool and master
// key. Its methods are safe for concurrent use.
type Backend struct {
	mod *module
	// viaMiekgOnly makes every call go through miekg/pkcs11, also where
	// the module's direct entry points exist (direct.go); for tests.
	viaMiekgOnly bool
	p            *pkcs11.Ctx
	slot         uint
	label        string // token label, for messages
	pin          Secret // private copy, wiped on Close
	master       string // configured master key label
	log          hclog.Logger
	wait         time.Duration

	// slots holds one token per session that is borrowed; its capacity is
	// MaxSessions. A session exists only while borrowed or idle, and one is
	// opened only when none is idle, so at most MaxSessions exist (besides
	// keeper).
	slots   chan struct{}
	closing chan struct{}

	mu      sync.Mutex
	idle    []pkcs11.SessionHandle
	closed  bool
	masters map[string]masterKey // master keys in use, by label

	// keeper is the session that logged in. It is never lent to an
	// operation, so never dropped as broken: it keeps the login and the
	// session copies of the master keys (which die with the session that
	// created them) alive until Close.
	keeper pkcs11.SessionHandle
	// masterMu serialises master key lookups, CreateMasterKey and every
	// use of keeper. It is taken only by operations holding a pool slot
	// (and by Open and Close, which are alone), after any slot and before
	// mu.
	masterMu sync.Mutex
}

// Open loads the module (once per process), finds the token, logs in as
// CKU_USER and looks up the master key. It fails with ErrMasterKeyMissing
// unless the key exists or cfg.AllowMissingMasterKey is set.
//
// Wraps and unwraps use a session copy of the master key, which SoftHSM
// uses faster than the token object (see masterCopyTemplate). Open makes
// it in the session that logged in, which the Backend keeps out of the
// pool until Close. A master key the token will not copy (one created by
// an earlier kmipd) is used directly, and Open logs that at Info level.
func Open(ctx context.Context, cfg Config) (*Backend, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("hsm: open: %w", err)
	}
	if cfg.TokenLabel == "" && cfg.Slot == nil {
		return nil, fmt.Errorf("hsm: open: %w: neither token label nor slot set", ErrTokenNotFound)
	}
	if cfg.TokenLabel != "" {
		if err := checkLabel("token label", cfg.TokenLabel); err != nil {
			return nil, fmt.Errorf("hsm: open: %w", err)
		}
	}
	if cfg.PIN.IsZero() {
		return nil, fmt.Errorf("hsm: open token %q: %w: PIN is empty", cfg.TokenLabel, ErrPINIncorrect)
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = DefaultMaxSessions
	}
	if cfg.PoolWait == 0 {
		cfg.PoolWait = DefaultPoolWait
	}
	if cfg.MasterKeyLabel == "" {
		cfg.MasterKeyLabel = DefaultMasterKeyLabel
	}
	if err := checkLabel("master key label", cfg.MasterKeyLabel); err != nil {
		return nil, fmt.Errorf("hsm: open: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}

	mod, err := acquireModule(cfg.ModulePath)
	if err != nil {
		return nil, fmt.Errorf("hsm: open: %w", err)
	}
	slot, err := findSlot(mod.ctx, cfg.TokenLabel, cfg.Slot)
	if err != nil {
		mod.release()
		return nil, fmt.Errorf("hsm: open: %w", err)
	}
	label := cfg.TokenLabel
	if label == "" {
		label = fmt.Sprintf("slot %d", slot)
	}
	b := &Backend{
		mod:     mod,
		p:       mod.ctx,
		slot:    slot,
		label:   label,
		pin:     NewSecret(cfg.PIN.Bytes()),
		master:  cfg.MasterKeyLabel,
		log:     cfg.Logger,
		wait:    cfg.PoolWait,
		slots:   make(chan struct{}, cfg.MaxSessions),
		closing: make(chan struct{}),
		masters: map[string]masterKey{},
	}
	fail := func(err error) (*Backend, error) {
		b.pin.Clear()
		mod.release()
		return nil, fmt.Errorf("hsm: open token %q: %w", label, err)
	}

	// The first session logs in, which checks the PIN now rather than at
	// the first request; it then becomes the keeper (see Backend.keeper).
	s, err := b.p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return fail(ckrError("open session", err, nil))
	}
	if err := mod.loginToken(slot, s, b.pin.Bytes()); err != nil {
		_ = b.p.CloseSession(s)
		return fail(err)
	}
	h, found, err := findMasterKey(b.p, s, b.master)
	if err == nil && !found && !cfg.AllowMissingMasterKey {
		err = fmt.Errorf("%w: no AES key labelled %q on the token; run `kmipd init` to create it", ErrMasterKeyMissing, b.master)
	}
	if err != nil {
		_ = b.p.CloseSession(s)
		mod.leaveLogin(slot)
		return fail(err)
	}
	b.keeper = s
	if found {
		b.masterMu.Lock()
		b.adoptMaster(b.master, h)
		b.masterMu.Unlock()
	}
	b.log.Debug("token opened", "token", label, "slot", slot, "max_sessions", cfg.MaxSessions, "master_key", b.master, "master_key_found", found)
	return b, nil
}

// Close waits for operations in flight, destroys the session copies of the
// master keys, closes the Backend's sessions (which destroys every Handle
// it created), and releases the module. Calling it again is harmless.
func (b *Backend) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	close(b.closing)
	b.mu.Unlock()

	// Take every pool slot: this waits until all borrowed sessions return.
	for range cap(b.slots) {
		b.slots <- struct{}{}
	}
	b.masterMu.Lock()
	b.destroyMasterCopies()
	var firstErr error
	if err := b.p.CloseSession(b.keeper); err != nil {
		firstErr = opError("close session", err)
	}
	b.masterMu.Unlock()
	b.mu.Lock()
	idle := b.idle
	b.idle = nil
	b.mu.Unlock()
	for _, s := range idle {
		if err := b.p.CloseSession(s); err != nil && firstErr == nil {
			firstErr = opError("close session", err)
		}
	}
	b.mod.leaveLogin(b.slot)
	b.mod.release()
	b.pin.Clear()
	b.log.Debug("token closed", "token", b.label)
	return firstErr
}

// Slot returns the slot ID of the token.
func (b *Backend) Slot() uint { return b.slot }

// MasterKeyLabel returns the label of the master key new material is
// wrapped under.
func (b *Backend) MasterKeyLabel() string { return b.master }

// withSession borrows a session, runs fn, and returns the session to the
// pool, or closes it if fn's error says the session is unusable.
func (b *Backend) withSession(ctx context.Context, op string, fn func(s pkcs11.SessionHandle) error) error {
	s, err := b.acquire(ctx, op)
	if err != nil {
		return err
	}
	err = fn(s)
	b.release(s, sessionBroken(err))
	return err
}

func (b *Backend) acquire(ctx context.Context, op string) (pkcs11.SessionHandle, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("hsm: %s: %w", op, err)
	}
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return 0, fmt.Errorf("hsm: %s: %w", op, ErrClosed)
	}
	select {
	case b.slots <- struct{}{}:
	default:
		if err := b.waitSlot(ctx, op); err != nil {
			return 0, err
		}
	}

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		<-b.slots
		return 0, fmt.Errorf("hsm: %s: %w", op, ErrClosed)
	}
	if n := len(b.idle); n > 0 {
		s := b.idle[n-1]
		b.idle = b.idle[:n-1]
		b.mu.Unlock()
		return s, nil
	}
	b.mu.Unlock()

	s, err := b.p.OpenSession(b.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		<-b.slots
		return 0, opError(op+": open session", err)
	}
	// The login is per token and survives while any session of the process
	// is open; it is lost only if every session was dropped.
	if err := ensureLoggedIn(b.p, s, b.pin.Bytes()); err != nil {
		_ = b.p.CloseSession(s)
		<-b.slots
		return 0, fmt.Errorf("hsm: %s: %w", op, err)
	}
	return s, nil
}

// waitSlot blocks until a pool slot frees, ctx ends, PoolWait passes, or
// the Backend closes. Unlike crypto11's pool, the caller can cancel it.
func (b *Backend) waitSlot(ctx context.Context, op string) error {
	var timeout <-chan time.Time
	if b.wait > 0 {
		t := time.NewTimer(b.wait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case b.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("hsm: %s: %w (%w)", op, ErrPoolTimeout, ctx.Err())
	case <-timeout:
		return fmt.Errorf("hsm: %s: %w after %s", op, ErrPoolTimeout, b.wait)
	case <-b.closing:
		return fmt.Errorf("hsm: %s: %w", op, ErrClosed)
	}
}

func (b *Backend) release(s pkcs11.SessionHandle, broken bool) {
	if broken {
		_ = b.p.CloseSession(s)
		b.log.Warn("dropped broken session", "token", b.label)
	} else {
		b.mu.Lock()
		b.idle = append(b.idle, s)
		b.mu.Unlock()
	}
	<-b.slots
}
