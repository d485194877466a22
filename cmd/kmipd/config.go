package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/kmipd/kmipd/audit"
	"github.com/kmipd/kmipd/hsmbackend"
	"github.com/kmipd/kmipd/service"
)

// configKey is one setting: a config-file key, a flag of the same name and
// the environment variable KMIPD_<NAME> (dashes as underscores).
type configKey struct {
	name  string
	def   string
	usage string
}

// configKeys is the single list of settings; the README's configuration
// reference is written from it.
var configKeys = []configKey{
	{"listen", "0.0.0.0:5696", "address to serve KMIP over TLS on"},
	{"data-dir", "/var/lib/kmipd", "directory for the database, audit log and audit key"},
	{"db", "", "database file (default: <data-dir>/kmipd.db)"},
	{"tls-cert", "", "server certificate chain, PEM (required)"},
	{"tls-key", "", "server private key, PEM (required)"},
	{"tls-client-ca", "", "CA bundle that client certificates must chain to, PEM (required)"},
	{"tls-allow-client-without-eku", "false", "accept client certificates that lack the clientAuth extended key usage (vCenter)"},
	{"pkcs11-module", "", "PKCS#11 module (default: SoftHSM at the Debian paths)"},
	{"pkcs11-token-label", "kmipd", "label of the HSM token"},
	{"pkcs11-pin-file", "", "file holding the token user PIN (or set KMIPD_PKCS11_PIN)"},
	{"pkcs11-max-sessions", "8", "HSM sessions in the pool"},
	{"master-key-label", "kmipd-master-v1", "label of the HSM master wrapping key"},
	{"key-cache-entries", "1024", "unwrapped keys kept in the HSM for cryptographic operations (0 disables the cache)"},
	{"key-cache-ttl", "5m", "how long an unwrapped key stays cached (0 disables the cache)"},
	{"max-rsa-bits", "4096", "largest RSA key pair generated, 2048 to 8192 (SoftHSM takes about 20 s for 8192 bits, holding an HSM session)"},
	{"max-connections", "1024", "concurrent client connections"},
	{"handshake-timeout", "10s", "TLS handshake time limit"},
	{"read-timeout", "30s", "time to read a message once it has started"},
	{"idle-timeout", "5m", "time a connection may wait between messages"},
	{"write-timeout", "30s", "time to write a response"},
	{"shutdown-timeout", "30s", "time in-flight messages get on SIGTERM"},
	{"max-message-size", "1048576", "largest request message in bytes"},
	{"max-depth", "32", "deepest structure nesting in a request"},
	{"max-items", "65536", "most TTLV items in a request"},
	{"audit-log", "", "audit log file (default: <data-dir>/audit.log)"},
	{"audit-key-file", "", "audit HMAC key file (default: <data-dir>/audit.key, created on first use)"},
	{"audit-sync", "writes", "writes (every record is written before its response and fsynced within audit-sync-delay; a change to the store carries a write-journal entry that rebuilds its record after a power failure) or always (every record is fsynced before its response)"},
	{"audit-sync-delay", "10ms", "longest time a record waits for its fsync under audit-sync = writes (at most 1s)"},
	{"log-level", "info", "trace, debug, info, warn or error"},
	{"log-json", "false", "log as JSON lines"},
	{"pprof-listen", "", "loopback address for Go's profiler (net/http/pprof), e.g. 127.0.0.1:6060; empty: off"},
}

// pinEnv is the only other way to give the PIN: never argv.
const pinEnv = "KMIPD_PKCS11_PIN"

func envName(key string) string {
	return "KMIPD_" + strings.ToUpper(strings.ReplaceAll(key, "-", "_"))
}

// configFlags returns a flag per config key (plus --config), each also read
// from its KMIPD_* variable by urfave/cli.
func configFlags(overrides map[string]string) []cli.Flag {
	flags := []cli.Flag{&cli.StringFlag{Name: "config", Usage: "configuration file (key = value lines)", EnvVars: []string{"KMIPD_CONFIG"}}}
	for _, k := range configKeys {
		def := k.def
		if o, ok := overrides[k.name]; ok {
			def = o
		}
		flags = append(flags, &cli.StringFlag{Name: k.name, Value: def, Usage: k.usage, EnvVars: []string{envName(k.name)}})
	}
	return flags
}

// Config is the validated configuration of `kmipd serve`.
type Config struct {
	Listen                    string
	DataDir, DB               string
	TLSCert, TLSKey, ClientCA string
	AllowClientWithoutEKU     bool
	PKCS11Module              string
	TokenLabel                string
	PINFile                   string
	MaxSessions               int
	MasterKeyLabel            string
	KeyCacheEntries           int
	KeyCacheTTL               time.Duration
	MaxRSABits                int
	MaxConnections            int
	HandshakeTimeout          time.Duration
	ReadTimeout               time.Duration
	IdleTimeout               time.Duration
	WriteTimeout              time.Duration
	ShutdownTimeout           time.Duration
	MaxMessageSize            int
	MaxDepth                  int
	MaxItems                  int
	AuditLog, AuditKeyFile    string
	AuditSync                 service.AuditSync
	AuditSyncDelay            time.Duration
	LogLevel                  string
	LogJSON                   bool
	PprofListen               string
	// InteropTesting registers the Interop test-control operation (KMIP
	// 2.0 §6.1.25), which "SHALL NOT be available in a production
	// server": `kmipd dev` sets it, and no configuration key does.
	InteropTesting bool
}

// source says where a value came from, for error messages.
type setting struct {
	value  string
	source string // "flag --x or KMIPD_X", "file f:line", "default"
}

// loadSettings merges, per key: flag or environment, then the config file,
// then the default.
func loadSettings(c *cli.Context) (map[string]setting, error) {
	out := make(map[string]setting, len(configKeys))
	file := map[string]setting{}
	if path := c.String("config"); path != "" {
		var err error
		if file, err = readConfigFile(path); err != nil {
			return nil, err
		}
	}
	for _, k := range configKeys {
		switch {
		case c.IsSet(k.name):
			out[k.name] = setting{c.String(k.name), "--" + k.name + " / " + envName(k.name)}
		case file[k.name].source != "":
			out[k.name] = file[k.name]
		default:
			out[k.name] = setting{c.String(k.name), "default"}
		}
	}
	return out, nil
}

// readConfigFile parses `key = value` lines; # starts a comment. Unknown
// keys are errors: a typo must not silently fall back to a default.
func readConfigFile(path string) (map[string]setting, error) {
	f, err := os.Open(path) //nolint:gosec // G304: the operator names the config file
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	defer f.Close() //nolint:errcheck // read-only: the scanner's error is what matters
	known := map[string]bool{}
	for _, k := range configKeys {
		known[k.name] = true
	}
	out := map[string]setting{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		where := fmt.Sprintf("%s:%d", path, n)
		if !ok || key == "" {
			return nil, fmt.Errorf("%s: expected `key = value`", where)
		}
		if !known[key] {
			if key == "pkcs11-pin" || key == "pin" {
				return nil, fmt.Errorf("%s: PINs are not read from the config file; use pkcs11-pin-file or %s", where, pinEnv)
			}
			return nil, fmt.Errorf("%s: unknown key %q (see `kmipd serve --help` for the keys)", where, key)
		}
		if uq, err := strconv.Unquote(val); err == nil {
			val = uq
		}
		out[key] = setting{val, where}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return out, nil
}

// configError names the key, where its value came from, and what to do.
func configError(key string, s setting, problem, hint string) error {
	return fmt.Errorf("config key %s (from %s): %s — %s", key, s.source, problem, hint)
}

// buildConfig validates the merged settings.
func buildConfig(s map[string]setting) (*Config, error) {
	var errs []error
	str := func(k string) string { return s[k].value }
	dur := func(k string) time.Duration {
		d, err := time.ParseDuration(str(k))
		if err != nil || d <= 0 {
			errs = append(errs, configError(k, s[k], fmt.Sprintf("%q is not a positive duration", str(k)), "write it like 30s or 5m"))
		}
		return d
	}
	num := func(k string) int {
		n, err := strconv.Atoi(str(k))
		if err != nil || n <= 0 {
			errs = append(errs, configError(k, s[k], fmt.Sprintf("%q is not a positive whole number", str(k)), "write a number like 1024"))
		}
		return n
	}
	nonNegative := func(k string) int {
		n, err := strconv.Atoi(str(k))
		if err != nil || n < 0 {
			errs = append(errs, configError(k, s[k], fmt.Sprintf("%q is not a whole number ≥ 0", str(k)), "write a number like 1024, or 0 to disable"))
		}
		return n
	}
	nonNegativeDur := func(k string) time.Duration {
		if str(k) == "0" {
			return 0
		}
		d, err := time.ParseDuration(str(k))
		if err != nil || d < 0 {
			errs = append(errs, configError(k, s[k], fmt.Sprintf("%q is not a duration", str(k)), "write it like 5m, or 0 to disable"))
		}
		return d
	}
	boolean := func(k string) bool {
		b, err := strconv.ParseBool(str(k))
		if err != nil {
			errs = append(errs, configError(k, s[k], fmt.Sprintf("%q is not true or false", str(k)), "write true or false"))
		}
		return b
	}
	rsaBits := func(k string) int {
		n, err := strconv.Atoi(str(k))
		if err != nil || n < 2048 || n > hsmbackend.MaxRSABits || n%8 != 0 {
			errs = append(errs, configError(k, s[k], fmt.Sprintf("%q is not a key size from 2048 to %d bits", str(k), hsmbackend.MaxRSABits), "write 2048, 3072 or 4096 (or up to 8192, a multiple of 8)"))
		}
		return n
	}
	auditSync := func(k string) service.AuditSync {
		a, err := service.ParseAuditSync(str(k))
		if err != nil {
			errs = append(errs, configError(k, s[k], fmt.Sprintf("%q is not a sync policy", str(k)), "write writes or always"))
		}
		return a
	}
	auditSyncDelay := func(k string) time.Duration {
		d, err := time.ParseDuration(str(k))
		if err != nil || d <= 0 || d > audit.MaxSyncDelay {
			errs = append(errs, configError(k, s[k], fmt.Sprintf("%q is not a duration in (0, %v]", str(k), audit.MaxSyncDelay), "write it like 10ms"))
		}
		return d
	}
	cfg := &Config{
		Listen:                str("listen"),
		DataDir:               str("data-dir"),
		DB:                    str("db"),
		TLSCert:               str("tls-cert"),
		TLSKey:                str("tls-key"),
		ClientCA:              str("tls-client-ca"),
		AllowClientWithoutEKU: boolean("tls-allow-client-without-eku"),
		PKCS11Module:          str("pkcs11-module"),
		TokenLabel:            str("pkcs11-token-label"),
		PINFile:               str("pkcs11-pin-file"),
		MaxSessions:           num("pkcs11-max-sessions"),
		MasterKeyLabel:        str("master-key-label"),
		KeyCacheEntries:       nonNegative("key-cache-entries"),
		KeyCacheTTL:           nonNegativeDur("key-cache-ttl"),
		MaxRSABits:            rsaBits("max-rsa-bits"),
		MaxConnections:        num("max-connections"),
		HandshakeTimeout:      dur("handshake-timeout"),
		ReadTimeout:           dur("read-timeout"),
		IdleTimeout:           dur("idle-timeout"),
		WriteTimeout:          dur("write-timeout"),
		ShutdownTimeout:       dur("shutdown-timeout"),
		MaxMessageSize:        num("max-message-size"),
		MaxDepth:              num("max-depth"),
		MaxItems:              num("max-items"),
		AuditLog:              str("audit-log"),
		AuditKeyFile:          str("audit-key-file"),
		AuditSync:             auditSync("audit-sync"),
		AuditSyncDelay:        auditSyncDelay("audit-sync-delay"),
		LogLevel:              str("log-level"),
		LogJSON:               boolean("log-json"),
		PprofListen:           str("pprof-listen"),
	}
	if cfg.DB == "" {
		cfg.DB = filepath.Join(cfg.DataDir, "kmipd.db")
	}
	if cfg.AuditLog == "" {
		cfg.AuditLog = filepath.Join(cfg.DataDir, "audit.log")
	}
	if cfg.AuditKeyFile == "" {
		cfg.AuditKeyFile = filepath.Join(cfg.DataDir, "audit.key")
	}
	for _, k := range []string{"tls-cert", "tls-key", "tls-client-ca"} {
		if str(k) == "" {
			errs = append(errs, configError(k, s[k], "not set", "give a PEM file (kmipd dev creates a development set)"))
		} else if _, err := os.Stat(str(k)); err != nil {
			errs = append(errs, configError(k, s[k], "cannot read "+str(k), "check the path and permissions"))
		}
	}
	switch cfg.LogLevel {
	case "trace", "debug", "info", "warn", "error":
	default:
		errs = append(errs, configError("log-level", s["log-level"], fmt.Sprintf("%q is not a level", cfg.LogLevel), "use trace, debug, info, warn or error"))
	}
	if cfg.PprofListen != "" && !isLoopbackAddr(cfg.PprofListen) {
		errs = append(errs, configError("pprof-listen", s["pprof-listen"], fmt.Sprintf("%q is not a loopback address", cfg.PprofListen),
			"the profiler has no authentication: use 127.0.0.1:PORT or [::1]:PORT"))
	}
	if cfg.MaxMessageSize > 0 && cfg.MaxMessageSize < 1024 {
		errs = append(errs, configError("max-message-size", s["max-message-size"], "below 1024 bytes", "no KMIP client works with less"))
	}
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return cfg, nil
}
