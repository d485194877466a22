package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/urfave/cli/v2"

	"github.com/kmipd/kmipd/audit"
	"github.com/kmipd/kmipd/hsmbackend"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/service"
	"github.com/kmipd/kmipd/ttlv"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "serve KMIP over mutual TLS",
		Description: "Every setting is a flag, a KMIPD_<KEY> environment variable, or a `key = value` line of --config,\n" +
			"in that order of precedence. The token PIN comes only from --pkcs11-pin-file or " + pinEnv + ".",
		Flags: configFlags(nil),
		Action: func(c *cli.Context) error {
			settings, err := loadSettings(c)
			if err != nil {
				return fail(err, "fix the configuration file")
			}
			cfg, err := buildConfig(settings)
			if err != nil {
				return fail(err, "")
			}
			return runServer(c.Context, cfg, newLogger(cfg), nil)
		},
	}
}

func newLogger(cfg *Config) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       "kmipd",
		Level:      hclog.LevelFromString(cfg.LogLevel),
		JSONFormat: cfg.LogJSON,
		Output:     os.Stderr,
	})
}

// readPIN takes the PIN from pkcs11-pin-file, else from KMIPD_PKCS11_PIN.
func readPIN(cfg *Config) (hsmbackend.Secret, error) {
	if cfg.PINFile != "" {
		pin, err := hsmbackend.PINFromFile(cfg.PINFile)
		if err != nil {
			return hsmbackend.Secret{}, fail(err, "config key pkcs11-pin-file: the file must exist, be readable by kmipd and hold the PIN")
		}
		return pin, nil
	}
	pin, err := hsmbackend.PINFromEnv(pinEnv)
	if err != nil {
		return hsmbackend.Secret{}, fail(errors.New("no HSM PIN given"), "set pkcs11-pin-file (a 0600 file holding the PIN) or the "+pinEnv+" environment variable")
	}
	return pin, nil
}

func modulePath(cfg *Config) (string, error) {
	if cfg.PKCS11Module != "" {
		return cfg.PKCS11Module, nil
	}
	p, err := hsmbackend.FindSoftHSMModule()
	if err != nil {
		return "", fail(err, "set pkcs11-module to your HSM's PKCS#11 library, or apt-get install softhsm2")
	}
	return p, nil
}

func openHSM(ctx context.Context, cfg *Config, log hclog.Logger, allowMissingMaster bool) (*hsmbackend.Backend, error) {
	mod, err := modulePath(cfg)
	if err != nil {
		return nil, err
	}
	pin, err := readPIN(cfg)
	if err != nil {
		return nil, err
	}
	defer pin.Clear()
	b, err := hsmbackend.Open(ctx, hsmbackend.Config{
		ModulePath:            mod,
		TokenLabel:            cfg.TokenLabel,
		PIN:                   pin,
		MaxSessions:           cfg.MaxSessions,
		MasterKeyLabel:        cfg.MasterKeyLabel,
		AllowMissingMasterKey: allowMissingMaster,
		Logger:                log.Named("hsm"),
	})
	switch {
	case errors.Is(err, hsmbackend.ErrMasterKeyMissing):
		return nil, fail(err, "create it once with `kmipd init` (same flags); kmipd never creates one silently")
	case errors.Is(err, hsmbackend.ErrPINIncorrect):
		return nil, fail(err, "check pkcs11-pin-file / "+pinEnv)
	case errors.Is(err, hsmbackend.ErrTokenNotFound):
		return nil, fail(err, "check pkcs11-token-label and pkcs11-module (softhsm2-util --show-slots lists SoftHSM tokens)")
	case err != nil:
		return nil, fail(err, "check pkcs11-module")
	}
	return b, nil
}

func openStore(cfg *Config) (*objects.BoltStore, error) {
	if err := os.MkdirAll(filepath.Dir(cfg.DB), 0o700); err != nil {
		return nil, fail(fmt.Errorf("config key db: %w", err), "the directory must be writable by kmipd")
	}
	st, err := objects.Open(cfg.DB, objects.Options{})
	if errors.Is(err, objects.ErrLocked) {
		return nil, fail(err, "another kmipd is using "+cfg.DB+"; stop it or use another data-dir")
	}
	if err != nil {
		return nil, fail(err, "check config key db ("+cfg.DB+")")
	}
	return st, nil
}

func openAudit(cfg *Config) (*audit.Logger, func() error, error) {
	key, err := audit.LoadKey(cfg.AuditKeyFile)
	if errors.Is(err, os.ErrNotExist) {
		key, err = audit.GenerateKeyFile(cfg.AuditKeyFile)
	}
	if err != nil {
		return nil, nil, fail(err, "config key audit-key-file: kmipd needs to read (or create, 0600) it")
	}
	sink, err := audit.OpenFileSink(cfg.AuditLog)
	if err != nil {
		return nil, nil, fail(err, "config key audit-log: the file must be writable by kmipd")
	}
	l, err := audit.New(sink, key, audit.WithSyncDelay(cfg.AuditSyncDelay))
	key.Clear()
	if err != nil {
		_ = sink.Close() // the verification error is the one to report; nothing was written
		if errors.Is(err, audit.ErrTornTail) {
			// A power failure during an append; the store's write journal
			// rebuilds any record of a change that the cut loses.
			return nil, nil, fail(err, "run kmipd audit repair --log "+cfg.AuditLog+" (it keeps the torn bytes), then start kmipd again")
		}
		return nil, nil, fail(err, "the audit log "+cfg.AuditLog+" fails verification; keep it for investigation and move it aside to start a new chain")
	}
	return l, l.Close, nil
}

// runServer wires the server and serves until SIGINT/SIGTERM. started, if
// not nil, is called with the listening address.
func runServer(ctx context.Context, cfg *Config, log hclog.Logger, started func(addr string)) error {
	reloader := &tlsReloader{certFile: cfg.TLSCert, keyFile: cfg.TLSKey, caFile: cfg.ClientCA}
	if err := reloader.load(); err != nil {
		return fail(err, "check the PEM files")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fail(fmt.Errorf("config key data-dir: %w", err), "the directory must be writable by kmipd")
	}
	hsm, err := openHSM(ctx, cfg, log, false)
	if err != nil {
		return err
	}
	defer closeAndLog(log, "HSM", hsm.Close)
	store, err := openStore(cfg)
	if err != nil {
		return err
	}
	defer closeAndLog(log, "database", store.Close)
	auditLog, closeAudit, err := openAudit(cfg)
	if err != nil {
		return err
	}
	defer closeAndLog(log, "audit log", closeAudit)
	stopAdmin, err := serveAdmin(ctx, cfg.DataDir, store, log.Named("admin"))
	if err != nil {
		return fail(err, "the data directory must be writable by kmipd")
	}
	defer stopAdmin()
	if cfg.PprofListen != "" {
		_, stopPprof, err := servePprof(ctx, cfg.PprofListen, log.Named("pprof"))
		if err != nil {
			return fail(fmt.Errorf("config key pprof-listen: %w", err), "pick a free loopback address, e.g. 127.0.0.1:6060")
		}
		defer stopPprof()
	}

	opts := []service.Option{
		service.WithStore(store),
		service.WithHSM(hsm),
		service.WithAudit(auditLog),
		service.WithAuditSync(cfg.AuditSync),
		service.WithLogger(log.Named("service")),
		service.WithProtectionStorageMask(storageMaskFor(cfg)),
		service.WithKeyCache(service.KeyCacheConfig{MaxEntries: cfg.KeyCacheEntries, TTL: cfg.KeyCacheTTL}),
		service.WithMaxRSABits(cfg.MaxRSABits),
	}
	if cfg.InteropTesting {
		opts = append(opts, service.WithInteropTesting())
	}
	svc := service.New(opts...)
	defer svc.Close(context.Background())
	// Before serving: records a crash lost, from the store's write journal.
	recovered, err := svc.RecoverJournal(ctx)
	if err != nil {
		return fail(err, "the audit log (config key audit-log) and the database (db) must both be writable")
	}
	if recovered > 0 {
		log.Warn("wrote audit records lost in a crash, from the write journal", "records", recovered)
	}
	srv := &kmip.Server{
		Handler:          svc,
		HandshakeTimeout: cfg.HandshakeTimeout,
		ReadTimeout:      cfg.ReadTimeout,
		IdleTimeout:      cfg.IdleTimeout,
		WriteTimeout:     cfg.WriteTimeout,
		MaxConnections:   cfg.MaxConnections,
		Limits:           ttlv.Limits{MaxMessageSize: cfg.MaxMessageSize, MaxDepth: cfg.MaxDepth, MaxItems: cfg.MaxItems},
		Logger:           log.Named("kmip"),
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Listen)
	if err != nil {
		return fail(fmt.Errorf("config key listen: %w", err), "pick a free address, e.g. 127.0.0.1:5696")
	}
	tl := tls.NewListener(ln, reloader.serverTLSConfig(cfg.AllowClientWithoutEKU))

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(tl) }()
	log.Info("serving KMIP", "addr", ln.Addr().String(), "version", service.Version, "db", cfg.DB, "token", cfg.TokenLabel)
	if started != nil {
		started(ln.Addr().String())
	}
	for {
		select {
		case err := <-errc:
			if errors.Is(err, kmip.ErrServerClosed) {
				return nil
			}
			return fail(err, "")
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				if err := reloader.load(); err != nil {
					log.Error("certificate reload failed; keeping the old ones", "error", err)
				} else {
					log.Info("certificates reloaded")
				}
				continue
			}
			log.Info("shutting down; finishing messages in flight", "signal", sig.String(), "timeout", cfg.ShutdownTimeout)
			sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
			err := srv.Shutdown(sctx)
			cancel()
			if err != nil {
				log.Warn("shutdown timed out; connections closed", "error", err)
			}
			logServeExit(log, <-errc)
			return nil
		case <-ctx.Done():
			srv.Close()
			logServeExit(log, <-errc)
			return nil
		}
	}
}

// closeAndLog runs one of runServer's deferred closes. The server has
// stopped by then, so a failure can only be reported: it may mean the last
// writes did not reach the disk or the token, which the operator must know.
func closeAndLog(log hclog.Logger, what string, closeFn func() error) {
	if err := closeFn(); err != nil {
		log.Error("shutdown: closing the "+what+" failed", "error", err)
	}
}

// logServeExit reports how Serve ended once a shutdown was asked for:
// ErrServerClosed is the expected outcome, anything else is worth a line.
func logServeExit(log hclog.Logger, err error) {
	if err != nil && !errors.Is(err, kmip.ErrServerClosed) {
		log.Warn("serve loop ended with an error during shutdown", "error", err)
	}
}

// storageMaskFor is where key material is protected: SoftHSM keeps its
// token in files (Software); any other PKCS#11 module is taken to be a
// hardware HSM (KMIP 2.0 §12.2 Protection Storage Mask).
func storageMaskFor(cfg *Config) kmip.ProtectionStorageMask {
	mod, err := modulePath(cfg)
	if err != nil || strings.Contains(strings.ToLower(filepath.Base(mod)), "softhsm") {
		return kmip.ProtectionStorageMaskSoftware
	}
	return kmip.ProtectionStorageMaskHardware
}
