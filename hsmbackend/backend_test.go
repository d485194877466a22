package hsmbackend_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kmipd/kmipd/hsmbackend"
	"github.com/kmipd/kmipd/hsmbackend/hsmtest"
)

// open opens cfg and closes the Backend when the test ends.
func open(t *testing.T, cfg hsmbackend.Config) *hsmbackend.Backend {
	t.Helper()
	b, err := hsmbackend.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestOpen(t *testing.T) {
	good := hsmtest.NewConfig(t)
	bare := hsmtest.NewToken(t) // no master key
	uint0 := uint(0)
	tests := []struct {
		name    string
		cfg     func() hsmbackend.Config
		wantErr error
		wantMsg []string // substrings of the error
	}{
		{name: "ok", cfg: func() hsmbackend.Config { return good }},
		{name: "wrong PIN", wantErr: hsmbackend.ErrPINIncorrect, cfg: func() hsmbackend.Config {
			c := good
			c.PIN = hsmbackend.NewSecret([]byte("not-the-pin"))
			return c
		}},
		{name: "empty PIN", wantErr: hsmbackend.ErrPINIncorrect, cfg: func() hsmbackend.Config {
			c := good
			c.PIN = hsmbackend.Secret{}
			return c
		}},
		{name: "missing token", wantErr: hsmbackend.ErrTokenNotFound, wantMsg: []string{"no-such-token"}, cfg: func() hsmbackend.Config {
			c := good
			c.TokenLabel = "no-such-token"
			return c
		}},
		{name: "no label nor slot", wantErr: hsmbackend.ErrTokenNotFound, cfg: func() hsmbackend.Config {
			c := good
			c.TokenLabel = ""
			return c
		}},
		{name: "label too long", wantErr: hsmbackend.ErrInvalidSpec, cfg: func() hsmbackend.Config {
			c := good
			c.TokenLabel = strings.Repeat("x", 33)
			return c
		}},
		{name: "slot with other label", wantErr: hsmbackend.ErrTokenNotFound, cfg: func() hsmbackend.Config {
			c := good
			c.TokenLabel = bare.TokenLabel
			s := slotOf(t, good)
			c.Slot = &s
			return c
		}},
		{name: "slot only", cfg: func() hsmbackend.Config {
			c := good
			c.TokenLabel = ""
			s := slotOf(t, good)
			c.Slot = &s
			return c
		}},
		{name: "invalid slot", wantErr: hsmbackend.ErrTokenNotFound, cfg: func() hsmbackend.Config {
			c := good
			c.TokenLabel = ""
			bad := ^uint0
			c.Slot = &bad
			return c
		}},
		{name: "bad module", wantErr: hsmbackend.ErrModuleLoad, cfg: func() hsmbackend.Config {
			c := good
			c.ModulePath = "/nonexistent/libnothing.so"
			return c
		}},
		{name: "module not a library", wantErr: hsmbackend.ErrModuleLoad, cfg: func() hsmbackend.Config {
			c := good
			c.ModulePath = "/etc/hostname"
			return c
		}},
		{name: "master key missing", wantErr: hsmbackend.ErrMasterKeyMissing, wantMsg: []string{hsmbackend.DefaultMasterKeyLabel, "kmipd init"}, cfg: func() hsmbackend.Config {
			return bare
		}},
		{name: "master key missing allowed", cfg: func() hsmbackend.Config {
			c := bare
			c.AllowMissingMasterKey = true
			return c
		}},
		{name: "other master key label", wantErr: hsmbackend.ErrMasterKeyMissing, wantMsg: []string{"rotated-v2"}, cfg: func() hsmbackend.Config {
			c := good
			c.MasterKeyLabel = "rotated-v2"
			return c
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := hsmbackend.Open(context.Background(), tt.cfg())
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				if err := b.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				return
			}
			if err == nil {
				b.Close()
				t.Fatalf("Open succeeded, want %v", tt.wantErr)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Open: %v, want %v", err, tt.wantErr)
			}
			for _, m := range tt.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
}

func slotOf(t *testing.T, cfg hsmbackend.Config) uint {
	t.Helper()
	c := cfg
	c.AllowMissingMasterKey = true
	b, err := hsmbackend.Open(context.Background(), c)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer b.Close()
	return b.Slot()
}

func TestOpenCanceled(t *testing.T) {
	cfg := hsmtest.NewConfig(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := hsmbackend.Open(ctx, cfg); !errors.Is(err, context.Canceled) {
		t.Fatalf("Open with canceled ctx: %v", err)
	}
}

func TestWrongPINDoesNotLeakPIN(t *testing.T) {
	cfg := hsmtest.NewConfig(t)
	cfg.PIN = hsmbackend.NewSecret([]byte("s3cret-wrong-pin"))
	_, err := hsmbackend.Open(context.Background(), cfg)
	if !errors.Is(err, hsmbackend.ErrPINIncorrect) {
		t.Fatalf("Open: %v", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error reveals the PIN: %v", err)
	}
	// The CKR code stays reachable for logs.
	if !strings.Contains(err.Error(), "CKR_PIN_INCORRECT") {
		t.Errorf("error lost the CKR code: %v", err)
	}
}

// Two Backends on one token share the process-wide login (PKCS#11 §5.6);
// the second must still present the right PIN, and closing one must not
// log the other out.
func TestTwoBackendsOneToken(t *testing.T) {
	ctx := context.Background()
	cfg := hsmtest.NewConfig(t)
	b1 := open(t, cfg)
	b2 := open(t, cfg)

	wrong := cfg
	wrong.PIN = hsmbackend.NewSecret([]byte("wrong"))
	if _, err := hsmbackend.Open(ctx, wrong); !errors.Is(err, hsmbackend.ErrPINIncorrect) {
		t.Fatalf("Open with wrong PIN while logged in: %v", err)
	}

	w, err := b1.GenerateSecret(ctx, hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 128})
	if err != nil {
		t.Fatal(err)
	}
	if err := b1.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b2.Unwrap(ctx, w); err != nil {
		t.Fatalf("second Backend after first closed: %v", err)
	}
}

func TestMasterKey(t *testing.T) {
	ctx := context.Background()
	cfg := hsmtest.NewToken(t)

	init := cfg
	init.AllowMissingMasterKey = true
	b := open(t, init)
	if _, err := b.GenerateSecret(ctx, hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 256}); !errors.Is(err, hsmbackend.ErrMasterKeyMissing) {
		t.Fatalf("GenerateSecret without master key: %v", err)
	}
	if err := b.CreateMasterKey(ctx); err != nil {
		t.Fatalf("CreateMasterKey: %v", err)
	}
	if err := b.CreateMasterKey(ctx); !errors.Is(err, hsmbackend.ErrMasterKeyExists) {
		t.Fatalf("second CreateMasterKey: %v", err)
	}
	w, err := b.GenerateSecret(ctx, hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 256})
	if err != nil {
		t.Fatal(err)
	}
	if w.MasterKey != hsmbackend.DefaultMasterKeyLabel || w.Mechanism != hsmbackend.MechanismAESKeyWrapPad {
		t.Errorf("Wrapped = %+v", w)
	}

	// The key is on the token: a later Open finds it without the flag,
	// and can read what the first Backend wrapped.
	b2 := open(t, cfg)
	if err := b2.CreateMasterKey(ctx); !errors.Is(err, hsmbackend.ErrMasterKeyExists) {
		t.Fatalf("CreateMasterKey on reopened token: %v", err)
	}
	if _, err := b2.Unwrap(ctx, w); err != nil {
		t.Fatalf("Unwrap after reopen: %v", err)
	}

	// A second master key under another label coexists; blobs name theirs.
	rot := cfg
	rot.MasterKeyLabel = "kmipd-master-v2"
	rot.AllowMissingMasterKey = true
	b3 := open(t, rot)
	if err := b3.CreateMasterKey(ctx); err != nil {
		t.Fatal(err)
	}
	w3, err := b3.GenerateSecret(ctx, hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 128})
	if err != nil {
		t.Fatal(err)
	}
	if w3.MasterKey != "kmipd-master-v2" {
		t.Errorf("MasterKey = %q", w3.MasterKey)
	}
	for _, x := range []hsmbackend.Wrapped{w, w3} {
		if _, err := b3.Unwrap(ctx, x); err != nil {
			t.Errorf("Unwrap under %q: %v", x.MasterKey, err)
		}
	}
}

func TestPoolTimeout(t *testing.T) {
	cfg := hsmtest.NewConfig(t)
	tests := []struct {
		name     string
		poolWait time.Duration
		ctx      func() (context.Context, context.CancelFunc)
		alsoIs   error
	}{
		{name: "context deadline", poolWait: -1, alsoIs: context.DeadlineExceeded, ctx: func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		}},
		{name: "context canceled", poolWait: time.Minute, alsoIs: context.Canceled, ctx: func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(20*time.Millisecond, cancel)
			return ctx, cancel
		}},
		{name: "pool wait", poolWait: 50 * time.Millisecond, ctx: func() (context.Context, context.CancelFunc) {
			return context.WithCancel(context.Background())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg
			c.MaxSessions = 1
			c.PoolWait = tt.poolWait
			b := open(t, c)
			release, err := b.HoldSession(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer release()
			ctx, cancel := tt.ctx()
			defer cancel()
			start := time.Now()
			_, err = b.Random(ctx, 16)
			if !errors.Is(err, hsmbackend.ErrPoolTimeout) {
				t.Fatalf("Random with exhausted pool: %v", err)
			}
			if tt.alsoIs != nil && !errors.Is(err, tt.alsoIs) {
				t.Errorf("error %v does not wrap %v", err, tt.alsoIs)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("waited %v", d)
			}
		})
	}
}

func TestPoolBound(t *testing.T) {
	cfg := hsmtest.NewConfig(t)
	cfg.MaxSessions = 2
	b := open(t, cfg)
	ctx := context.Background()
	r1, err := b.HoldSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := b.HoldSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	if _, err := b.HoldSession(short); !errors.Is(err, hsmbackend.ErrPoolTimeout) {
		t.Fatalf("third session: %v", err)
	}
	r1()
	r2()
	if n := b.IdleSessions(); n != 2 {
		t.Errorf("idle sessions = %d, want 2", n)
	}
	// A done context fails fast even when a session is free.
	done, cancel2 := context.WithCancel(ctx)
	cancel2()
	if _, err := b.Random(done, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Random with canceled ctx: %v", err)
	}
}

// Session objects are visible to every session of the application, so a
// Handle made on one pooled session works on another.
func TestHandleAcrossSessions(t *testing.T) {
	ctx := context.Background()
	cfg := hsmtest.NewConfig(t)
	cfg.MaxSessions = 2
	b := open(t, cfg)
	w, err := b.GenerateSecret(ctx, hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 256})
	if err != nil {
		t.Fatal(err)
	}
	// Hold a session (s1), so UnwrapKey opens s2.
	release, err := b.HoldSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h, err := b.UnwrapKey(ctx, w, hsmbackend.KeyUse{Kind: hsmbackend.AES, Encrypt: true, Decrypt: true})
	if err != nil {
		t.Fatal(err)
	}
	release()
	// The pool is LIFO: s1 was returned last, so the next operation runs
	// on s1, not on s2 where the object was created.
	if n := b.IdleSessions(); n != 2 {
		t.Fatalf("idle = %d, want 2", n)
	}
	iv := make([]byte, 12)
	ct, err := b.EncryptAESGCM(ctx, h, iv, nil, []byte("hello"), 128)
	if err != nil {
		t.Fatalf("use handle on another session: %v", err)
	}
	pt, err := b.DecryptAESGCM(ctx, h, iv, nil, ct, 128)
	if err != nil || string(pt) != "hello" {
		t.Fatalf("DecryptAESGCM = %q, %v", pt, err)
	}
}

func TestClose(t *testing.T) {
	ctx := context.Background()
	cfg := hsmtest.NewConfig(t)
	b, err := hsmbackend.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	w, err := b.GenerateSecret(ctx, hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: 128})
	if err != nil {
		t.Fatal(err)
	}
	h, err := b.UnwrapKey(ctx, w, hsmbackend.KeyUse{Kind: hsmbackend.AES, Encrypt: true})
	if err != nil {
		t.Fatal(err)
	}

	// Close waits for a borrowed session to come back.
	release, err := b.HoldSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- b.Close() }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) with a session in use", err)
	case <-time.After(50 * time.Millisecond):
	}
	release()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := b.Random(ctx, 8); !errors.Is(err, hsmbackend.ErrClosed) {
		t.Fatalf("Random after Close: %v", err)
	}
	if _, err := b.Encrypt(ctx, h, hsmbackend.BlockParams{Mode: hsmbackend.ModeECB}, make([]byte, 16)); !errors.Is(err, hsmbackend.ErrClosed) {
		t.Fatalf("Encrypt after Close: %v", err)
	}
}

func TestCloseWakesWaiters(t *testing.T) {
	cfg := hsmtest.NewConfig(t)
	cfg.MaxSessions = 1
	cfg.PoolWait = -1
	b, err := hsmbackend.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	release, err := b.HoldSession(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() {
		_, err := b.Random(context.Background(), 4)
		waited <- err
	}()
	time.Sleep(20 * time.Millisecond)
	closed := make(chan error, 1)
	go func() { closed <- b.Close() }()
	select {
	case err := <-waited:
		if !errors.Is(err, hsmbackend.ErrClosed) {
			t.Errorf("waiter got %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter not woken by Close")
	}
	release()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	cfg := hsmtest.NewConfig(t)
	cfg.MaxSessions = 3
	b := open(t, cfg)
	workers, rounds := 12, 5
	if testing.Short() {
		rounds = 2
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for i := range workers {
		wg.Go(func() {
			for range rounds {
				w, err := b.WrapSecret(ctx, hsmbackend.GenericSecret, []byte{byte(i), 1, 2, 3, 4, 5, 6, 7, 8})
				if err != nil {
					errs <- err
					return
				}
				pt, err := b.Unwrap(ctx, w)
				if err != nil {
					errs <- err
					return
				}
				if pt[0] != byte(i) || len(pt) != 9 {
					errs <- errors.New("round trip mismatch")
				}
				if _, err := b.Random(ctx, 32); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := b.IdleSessions(); n > 3 {
		t.Errorf("idle sessions = %d, more than MaxSessions", n)
	}
}
