package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/kmipd/kmipd/certs"
	"github.com/kmipd/kmipd/hsmbackend"
)

const devTokenLabel = "kmipd-dev" //nolint:gosec // G101: a PKCS#11 token label, not a credential

func devCommand() *cli.Command {
	return &cli.Command{
		Name:  "dev",
		Usage: "run a development server: dev certificates, a SoftHSM token and a database under --data-dir",
		Description: "On first use creates DIR/certs (CA, server and client certificates), a SoftHSM token under\n" +
			"DIR/softhsm (random PINs in 0600 files there) with its master key, and the database DIR/kmipd.db;\n" +
			"then serves. Re-running reuses what exists. Not for production: the PINs sit beside the token.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data-dir", Value: "./var", Usage: "where the development state lives"},
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:5696", Usage: "address to serve on"},
			&cli.StringFlag{Name: "pkcs11-module", Usage: "SoftHSM library (default: the Debian paths)"},
			&cli.StringFlag{Name: "log-level", Value: "info"},
			&cli.BoolFlag{Name: "rsa", Usage: "use RSA-2048 instead of ECDSA P-256 for new certificates"},
			&cli.StringFlag{Name: "pprof-listen", Usage: "loopback address for Go's profiler, e.g. 127.0.0.1:6060"},
		},
		Action: func(c *cli.Context) error {
			cfg, err := prepareDev(c.String("data-dir"), c.String("listen"), c.String("pkcs11-module"), c.Bool("rsa"), c.App.Writer)
			if err != nil {
				return err
			}
			cfg.LogLevel = c.String("log-level")
			cfg.InteropTesting = true // a development server: test harnesses may drive it
			if cfg.PprofListen = c.String("pprof-listen"); cfg.PprofListen != "" && !isLoopbackAddr(cfg.PprofListen) {
				return fail(fmt.Errorf("--pprof-listen %q is not a loopback address", cfg.PprofListen), "use 127.0.0.1:PORT: the profiler has no authentication")
			}
			return runServer(c.Context, cfg, newLogger(cfg), func(addr string) { printConnectHelp(c.App.Writer, cfg, addr) })
		},
	}
}

// prepareDev creates (or reuses) the development state and returns the
// configuration that serves it.
func prepareDev(dir, listen, module string, rsa bool, out io.Writer) (*Config, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fail(err, "")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fail(fmt.Errorf("data dir %s: %w", dir, err), "pick a writable --data-dir")
	}
	opts := certs.DevOptions{}
	if rsa {
		opts.KeyAlgorithm = certs.KeyRSA2048
	}
	paths, err := certs.EnsureDev(filepath.Join(dir, "certs"), opts)
	if err != nil {
		return nil, fail(err, "move the broken file aside and re-run to create a new one")
	}
	if len(paths.Created) > 0 {
		fmt.Fprintf(out, "created development certificates in %s: %v\n", paths.Dir, paths.Created)
	}

	if module == "" {
		if module, err = hsmbackend.FindSoftHSMModule(); err != nil {
			return nil, fail(err, "apt-get install -y softhsm2, or give --pkcs11-module")
		}
	}
	conf, err := hsmbackend.WriteSoftHSMConfig(dir)
	if err != nil {
		return nil, fail(err, "")
	}
	// SoftHSM reads its configuration at C_Initialize: set it before the
	// module is loaded by anything in this process.
	if err := os.Setenv("SOFTHSM2_CONF", conf); err != nil {
		return nil, fail(err, "")
	}
	hsmDir := filepath.Dir(conf)
	userPINFile := filepath.Join(hsmDir, "user.pin")
	soPINFile := filepath.Join(hsmDir, "so.pin")
	if _, err := os.Stat(userPINFile); errors.Is(err, os.ErrNotExist) {
		userPIN, soPIN := randomPIN(), randomPIN()
		defer userPIN.Clear()
		defer soPIN.Clear()
		if err := hsmbackend.InitDevToken(module, devTokenLabel, soPIN, userPIN); err != nil {
			return nil, fail(err, "remove "+hsmDir+" to start over with a new token")
		}
		if err := writeSecretFile(soPINFile, soPIN); err != nil {
			return nil, err
		}
		if err := writeSecretFile(userPINFile, userPIN); err != nil {
			return nil, err
		}
		fmt.Fprintf(out, "created SoftHSM token %q in %s (PINs in 0600 files there)\n", devTokenLabel, hsmDir)
	}

	settings := map[string]setting{}
	for _, k := range configKeys {
		settings[k.name] = setting{k.def, "default"}
	}
	set := func(k, v string) { settings[k] = setting{v, "kmipd dev"} }
	set("listen", listen)
	set("data-dir", dir)
	set("tls-cert", paths.ServerCert)
	set("tls-key", paths.ServerKey)
	set("tls-client-ca", paths.CACert)
	set("pkcs11-module", module)
	set("pkcs11-token-label", devTokenLabel)
	set("pkcs11-pin-file", userPINFile)
	cfg, err := buildConfig(settings)
	if err != nil {
		return nil, fail(err, "")
	}
	if err := ensureMasterKey(cfg, out); err != nil {
		return nil, err
	}
	return cfg, nil
}

func randomPIN() hsmbackend.Secret {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	pin := []byte(hex.EncodeToString(b))
	clear(b)
	return hsmbackend.NewSecret(pin)
}

func writeSecretFile(path string, s hsmbackend.Secret) error {
	line := make([]byte, 0, s.Len()+1) // a copy of the PIN: cleared below
	line = append(line, s.Bytes()...)
	line = append(line, '\n')
	defer clear(line)
	if err := os.WriteFile(path, line, 0o600); err != nil {
		return fail(fmt.Errorf("write %s: %w", path, err), "")
	}
	return nil
}

func printConnectHelp(w io.Writer, cfg *Config, addr string) {
	certsDir := filepath.Dir(cfg.TLSCert)
	host, port := splitHostPort(addr)
	fmt.Fprintf(w, `
kmipd is serving KMIP on %s (development mode).

  CA:          %s
  client cert: %s
  client key:  %s

PyKMIP:
  /usr/bin/python3 -c 'from kmip.pie.client import ProxyKmipClient; from kmip import enums
  c = ProxyKmipClient(hostname="%s", port=%s, cert="%s", key="%s", ca="%s")
  c.open(); uid = c.create(enums.CryptographicAlgorithm.AES, 256); print(uid, c.get(uid)); c.close()'

Stop with Ctrl-C. State lives in %s; delete it to start over.
`, addr, cfg.ClientCA, filepath.Join(certsDir, "client.pem"), filepath.Join(certsDir, "client-key.pem"),
		host, port, filepath.Join(certsDir, "client.pem"), filepath.Join(certsDir, "client-key.pem"), cfg.ClientCA, cfg.DataDir)
}
