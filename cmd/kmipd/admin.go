package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/kmipd/kmipd/audit"
	"github.com/kmipd/kmipd/hsmbackend"
	"github.com/kmipd/kmipd/objects"
)

func splitHostPort(addr string) (string, string) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, "5696"
	}
	if h == "" || h == "0.0.0.0" || h == "::" {
		h = "127.0.0.1"
	}
	return h, p
}

// ensureMasterKey creates the master key when the token has none: for
// `kmipd dev` and `kmipd init` only; `serve` refuses to start without one.
func ensureMasterKey(cfg *Config, out io.Writer) error {
	b, err := openHSM(context.Background(), cfg, newLogger(cfg), true)
	if err != nil {
		return err
	}
	defer b.Close() //nolint:errcheck // the key exists (or not) once CreateMasterKey returns; logout cannot change that
	err = b.CreateMasterKey(context.Background())
	switch {
	case errors.Is(err, hsmbackend.ErrMasterKeyExists):
		return nil
	case err != nil:
		return fail(err, "")
	}
	fmt.Fprintf(out, "created master wrapping key %q in token %q\n", cfg.MasterKeyLabel, cfg.TokenLabel)
	return nil
}

func initCommand() *cli.Command {
	return &cli.Command{
		Name:  "init",
		Usage: "create the HSM master wrapping key (once per token); refuses to overwrite one",
		Flags: configFlags(map[string]string{"tls-cert": "-", "tls-key": "-", "tls-client-ca": "-"}),
		Action: func(c *cli.Context) error {
			cfg, err := configForTool(c)
			if err != nil {
				return err
			}
			b, err := openHSM(c.Context, cfg, newLogger(cfg), true)
			if err != nil {
				return err
			}
			defer b.Close() //nolint:errcheck // the key exists (or not) once CreateMasterKey returns; logout cannot change that
			if err := b.CreateMasterKey(c.Context); err != nil {
				if errors.Is(err, hsmbackend.ErrMasterKeyExists) {
					return fail(err, "the token already has its master key; nothing to do (use another master-key-label to start a new one)")
				}
				return fail(err, "")
			}
			fmt.Fprintf(c.App.Writer, "created master wrapping key %q in token %q\n", cfg.MasterKeyLabel, cfg.TokenLabel)
			return nil
		},
	}
}

// configForTool builds the configuration for commands that need no TLS
// files (init, backup): "-" placeholders stand in for them.
func configForTool(c *cli.Context) (*Config, error) {
	settings, err := loadSettings(c)
	if err != nil {
		return nil, fail(err, "fix the configuration file")
	}
	for _, k := range []string{"tls-cert", "tls-key", "tls-client-ca"} {
		if settings[k].value == "" || settings[k].value == "-" {
			settings[k] = setting{os.DevNull, "not needed"}
		}
	}
	cfg, err := buildConfig(settings)
	if err != nil {
		return nil, fail(err, "")
	}
	return cfg, nil
}

func backupCommand() *cli.Command {
	flags := configFlags(map[string]string{"tls-cert": "-", "tls-key": "-", "tls-client-ca": "-"})
	flags = append(flags, &cli.StringFlag{Name: "out", Required: true, Usage: "file to write the snapshot to (must not exist)"})
	return &cli.Command{
		Name:  "backup",
		Usage: "write a consistent snapshot of the database (wrapped key material only)",
		Description: "While kmipd runs, the snapshot is taken by the server through its admin socket in data-dir;\n" +
			"when it does not run, the database is read directly. Either way the copy is consistent.",
		Flags: flags,
		Action: func(c *cli.Context) error {
			cfg, err := configForTool(c)
			if err != nil {
				return err
			}
			out := c.String("out")
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) //nolint:gosec // G304: the operator names the file with --out
			if err != nil {
				return fail(fmt.Errorf("backup --out: %w", err), "name a file that does not exist yet")
			}
			n, how, err := takeBackup(c.Context, cfg, f)
			if err == nil {
				err = f.Sync()
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = checkBackup(out)
			}
			if err != nil {
				// A partial snapshot must not be left looking like a backup.
				if rerr := os.Remove(out); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
					err = fmt.Errorf("%w; removing the partial snapshot failed too: %w", err, rerr)
				}
				return fail(fmt.Errorf("backup to %s: %w", out, err), "check that data-dir names the server's data directory")
			}
			fmt.Fprintf(c.App.Writer, "wrote %d bytes to %s (%s)\n", n, out, how)
			return nil
		},
	}
}

// takeBackup asks the running server over its admin socket; when no server
// runs, it opens the database itself.
func takeBackup(ctx context.Context, cfg *Config, w io.Writer) (int64, string, error) {
	if _, err := os.Stat(adminSocketPath(cfg.DataDir)); err == nil {
		n, err := backupOnline(ctx, cfg.DataDir, w)
		if err == nil {
			return n, "online, from the running server", nil
		}
		if n > 0 {
			return n, "", err
		}
		// A stale socket: fall through to the offline path.
	}
	st, err := openStore(cfg)
	if err != nil {
		return 0, "", err
	}
	// The snapshot is taken in one read transaction and checked afterwards
	// (checkBackup); closing the source database cannot change it.
	defer st.Close() //nolint:errcheck // see above
	n, err := st.Backup(ctx, w)
	return n, "offline", err
}

// checkBackup opens the snapshot as a store: a truncated or corrupt
// snapshot is refused rather than left looking like a backup.
func checkBackup(path string) error {
	st, err := objects.Open(path, objects.Options{})
	if err != nil {
		return fmt.Errorf("snapshot does not open: %w", err)
	}
	return st.Close()
}

func configCommand() *cli.Command {
	return &cli.Command{
		Name:  "config",
		Usage: "configuration tools",
		Subcommands: []*cli.Command{{
			Name:  "check",
			Usage: "validate the configuration (file, flags and environment) and exit",
			Flags: configFlags(nil),
			Action: func(c *cli.Context) error {
				settings, err := loadSettings(c)
				if err != nil {
					return fail(err, "fix the configuration file")
				}
				if _, err := buildConfig(settings); err != nil {
					return fail(err, "")
				}
				fmt.Fprintln(c.App.Writer, "configuration ok")
				return nil
			},
		}},
	}
}

func auditCommand() *cli.Command {
	return &cli.Command{
		Name:  "audit",
		Usage: "audit log tools",
		Subcommands: []*cli.Command{{
			Name:  "verify",
			Usage: "verify the audit log's hash chain",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "log", Required: true, Usage: "audit log file"},
				&cli.StringFlag{Name: "key-file", Required: true, Usage: "audit HMAC key file"},
			},
			Action: func(c *cli.Context) error {
				key, err := audit.LoadKey(c.String("key-file"))
				if err != nil {
					return fail(err, "give the audit-key-file the server uses")
				}
				f, err := os.Open(c.String("log"))
				if err != nil {
					return fail(err, "")
				}
				defer f.Close() //nolint:errcheck // read-only: Verify's result is what matters
				rep, err := audit.Verify(f, key)
				if err != nil {
					return fail(fmt.Errorf("audit log %s: %w", c.String("log"), err), "the log was altered or truncated at the record named; keep the file as evidence")
				}
				fmt.Fprintf(c.App.Writer, "audit log ok: %d records\n", rep.Records)
				return nil
			},
		}, {
			Name:  "repair",
			Usage: "cut off a last record torn by a crash, keeping its bytes in a file beside the log",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "log", Required: true, Usage: "audit log file (kmipd must be stopped)"},
			},
			Action: func(c *cli.Context) error {
				log := c.String("log")
				cut, saved, err := audit.RepairTornTail(log)
				if err != nil {
					return fail(err, "stop kmipd first; a log that is not merely torn stays as it is, as evidence")
				}
				if cut == 0 {
					fmt.Fprintf(c.App.Writer, "audit log %s ends with a whole record: nothing to repair\n", log)
					return nil
				}
				fmt.Fprintf(c.App.Writer, "audit log %s: cut %d bytes of a record torn by a crash; they are in %s. Next: kmipd audit verify --log %s --key-file FILE\n", log, cut, saved, log)
				return nil
			},
		}},
	}
}
