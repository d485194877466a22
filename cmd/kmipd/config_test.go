package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/kmipd/kmipd/service"
)

// settingsFrom runs a command with the config flags on args and returns
// what loadSettings made of them.
func settingsFrom(t *testing.T, args ...string) (map[string]setting, error) {
	t.Helper()
	var got map[string]setting
	var gotErr error
	app := &cli.App{
		Name:           "kmipd",
		ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{{
			Name:  "x",
			Flags: configFlags(nil),
			Action: func(c *cli.Context) error {
				got, gotErr = loadSettings(c)
				return nil
			},
		}},
	}
	if err := app.Run(append([]string{"kmipd", "x"}, args...)); err != nil {
		t.Fatalf("app.Run: %v", err)
	}
	return got, gotErr
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kmipd.conf")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestConfigPrecedence: per key, a flag beats the KMIPD_* variable, which
// beats the config file, which beats the default.
func TestConfigPrecedence(t *testing.T) {
	file := writeConfig(t, "# test\nread-timeout = 11s\nidle-timeout = 12s\nwrite-timeout = 13s\n")
	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		key        string
		want       string
		wantSource string
	}{
		{name: "default", key: "handshake-timeout", want: "10s", wantSource: "default"},
		{name: "file over default", key: "read-timeout", want: "11s", wantSource: "kmipd.conf:2"},
		{name: "env over file", env: map[string]string{"KMIPD_IDLE_TIMEOUT": "22s"}, key: "idle-timeout", want: "22s", wantSource: "KMIPD_IDLE_TIMEOUT"},
		{name: "env over default", env: map[string]string{"KMIPD_HANDSHAKE_TIMEOUT": "23s"}, key: "handshake-timeout", want: "23s", wantSource: "KMIPD_HANDSHAKE_TIMEOUT"},
		{name: "flag over env and file", env: map[string]string{"KMIPD_WRITE_TIMEOUT": "33s"}, args: []string{"--write-timeout", "43s"}, key: "write-timeout", want: "43s", wantSource: "--write-timeout"},
		{name: "flag over default", args: []string{"--max-connections=7"}, key: "max-connections", want: "7", wantSource: "--max-connections"},
		{name: "config file from env", env: map[string]string{"KMIPD_CONFIG": file}, key: "read-timeout", want: "11s", wantSource: "kmipd.conf:2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			args := tt.args
			if tt.env["KMIPD_CONFIG"] == "" {
				args = append([]string{"--config", file}, args...)
			}
			s, err := settingsFrom(t, args...)
			if err != nil {
				t.Fatal(err)
			}
			got := s[tt.key]
			if got.value != tt.want || !strings.Contains(got.source, tt.wantSource) {
				t.Errorf("%s = %q from %q; want %q from %q", tt.key, got.value, got.source, tt.want, tt.wantSource)
			}
			if len(s) != len(configKeys) {
				t.Errorf("%d settings for %d keys", len(s), len(configKeys))
			}
		})
	}
}

func TestReadConfigFile(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    map[string]string
		wantErr []string // substrings; the file path is always checked
	}{
		{
			name: "comments, blanks, spaces and quotes",
			body: "# kmipd\n\n   listen=127.0.0.1:1  \n\tdata-dir = \"/srv/kmip data\"\n# read-timeout = 1s\nlog-level = debug # not a comment\n",
			want: map[string]string{"listen": "127.0.0.1:1", "data-dir": "/srv/kmip data", "log-level": "debug # not a comment"},
		},
		{name: "empty value", body: "db =\n", want: map[string]string{"db": ""}},
		{name: "later line wins", body: "listen = a\nlisten = b\n", want: map[string]string{"listen": "b"}},
		{name: "unknown key", body: "listen = x\nread_timeout = 1s\n", wantErr: []string{":2:", `unknown key "read_timeout"`}},
		{name: "no equals sign", body: "\n\nlisten 127.0.0.1\n", wantErr: []string{":3:", "expected `key = value`"}},
		{name: "no key", body: "= 1\n", wantErr: []string{":1:", "expected"}},
		{name: "PIN", body: "pkcs11-pin = 1234\n", wantErr: []string{":1:", "PINs are not read from the config file", "pkcs11-pin-file"}},
		{name: "PIN, short name", body: "listen = x\npin = 1234\n", wantErr: []string{":2:", "PINs are not read"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.body)
			got, err := readConfigFile(path)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("readConfigFile succeeded: %v", got)
				}
				for _, w := range append([]string{path}, tt.wantErr...) {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				if strings.Contains(err.Error(), "1234") {
					t.Errorf("error %q repeats the PIN", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k].value != v || !strings.HasPrefix(got[k].source, path+":") {
					t.Errorf("%s = %q from %q, want %q", k, got[k].value, got[k].source, v)
				}
			}
		})
	}
	if _, err := readConfigFile(filepath.Join(t.TempDir(), "missing.conf")); err == nil || !strings.Contains(err.Error(), "missing.conf") {
		t.Errorf("missing file: %v", err)
	}
}

// defaultSettings is every key at its default, with existing TLS files.
func defaultSettings(t *testing.T) map[string]setting {
	t.Helper()
	dir := t.TempDir()
	s := make(map[string]setting, len(configKeys))
	for _, k := range configKeys {
		s[k.name] = setting{k.def, "default"}
	}
	for _, k := range []string{"tls-cert", "tls-key", "tls-client-ca"} {
		p := filepath.Join(dir, k+".pem")
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		s[k] = setting{p, "test"}
	}
	s["data-dir"] = setting{dir, "test"}
	return s
}

func TestBuildConfig(t *testing.T) {
	cfg, err := buildConfig(defaultSettings(t))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DB != filepath.Join(cfg.DataDir, "kmipd.db") || cfg.AuditLog != filepath.Join(cfg.DataDir, "audit.log") ||
		cfg.AuditKeyFile != filepath.Join(cfg.DataDir, "audit.key") {
		t.Errorf("derived paths: %+v", cfg)
	}
	if cfg.ReadTimeout != 30*time.Second || cfg.IdleTimeout != 5*time.Minute || cfg.MaxConnections != 1024 ||
		cfg.MaxMessageSize != 1<<20 || cfg.AllowClientWithoutEKU || cfg.Listen != "0.0.0.0:5696" ||
		cfg.AuditSync != service.AuditSyncWrites || cfg.AuditSyncDelay != 10*time.Millisecond || cfg.MaxRSABits != service.DefaultMaxRSABits {
		t.Errorf("defaults: %+v", cfg)
	}

	tests := []struct {
		key, value string
		wantErr    []string
	}{
		{"read-timeout", "0s", []string{"config key read-timeout (from file.conf:9)", "positive duration", "30s"}},
		{"idle-timeout", "-5m", []string{"config key idle-timeout", "positive duration"}},
		{"max-connections", "0", []string{"config key max-connections", "positive whole number"}},
		{"max-depth", "1e3", []string{"config key max-depth"}},
		{"tls-allow-client-without-eku", "yes", []string{"config key tls-allow-client-without-eku", "true or false"}},
		{"log-json", "maybe", []string{"config key log-json"}},
		{"log-level", "verbose", []string{"config key log-level", "not a level"}},
		{"max-message-size", "512", []string{"config key max-message-size", "below 1024"}},
		{"tls-cert", "", []string{"config key tls-cert", "not set"}},
		{"tls-client-ca", "/nonexistent/ca.pem", []string{"config key tls-client-ca", "cannot read /nonexistent/ca.pem"}},
		{"tls-allow-client-without-eku", "true", nil},
		{"db", "/elsewhere/k.db", nil},
		{"pprof-listen", "0.0.0.0:6060", []string{"config key pprof-listen", "not a loopback address"}},
		{"pprof-listen", "example.com:6060", []string{"config key pprof-listen", "not a loopback address"}},
		{"pprof-listen", "6060", []string{"config key pprof-listen", "not a loopback address"}},
		{"pprof-listen", "127.0.0.1:6060", nil},
		{"pprof-listen", "[::1]:6060", nil},
		{"pprof-listen", "localhost:0", nil},
		{"audit-sync", "sometimes", []string{"config key audit-sync", "write writes or always"}},
		{"audit-sync", "always", nil},
		{"audit-sync-delay", "0s", []string{"config key audit-sync-delay", "(0, 1s]"}},
		{"audit-sync-delay", "2s", []string{"config key audit-sync-delay", "(0, 1s]"}},
		{"audit-sync-delay", "250ms", nil},
		{"max-rsa-bits", "1024", []string{"config key max-rsa-bits", "from 2048 to 8192 bits"}},
		{"max-rsa-bits", "16384", []string{"config key max-rsa-bits", "from 2048 to 8192 bits"}},
		{"max-rsa-bits", "4100", []string{"config key max-rsa-bits"}},
		{"max-rsa-bits", "big", []string{"config key max-rsa-bits"}},
		{"max-rsa-bits", "8192", nil},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			s := defaultSettings(t)
			s[tt.key] = setting{tt.value, "file.conf:9"}
			cfg, err := buildConfig(s)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if tt.key == "tls-allow-client-without-eku" && !cfg.AllowClientWithoutEKU || tt.key == "db" && cfg.DB != tt.value ||
					tt.key == "audit-sync" && cfg.AuditSync.String() != tt.value ||
					tt.key == "audit-sync-delay" && cfg.AuditSyncDelay.String() != tt.value ||
					tt.key == "max-rsa-bits" && strconv.Itoa(cfg.MaxRSABits) != tt.value {
					t.Errorf("config %+v", cfg)
				}
				return
			}
			if err == nil {
				t.Fatal("buildConfig accepted it")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestEnvName(t *testing.T) {
	for key, want := range map[string]string{
		"listen":                       "KMIPD_LISTEN",
		"tls-allow-client-without-eku": "KMIPD_TLS_ALLOW_CLIENT_WITHOUT_EKU",
		"pkcs11-pin-file":              "KMIPD_PKCS11_PIN_FILE",
	} {
		if got := envName(key); got != want {
			t.Errorf("envName(%q) = %q, want %q", key, got, want)
		}
	}
	// The PIN variable is not a config key: it must never be settable from
	// a file, and no key may shadow it.
	for _, k := range configKeys {
		if envName(k.name) == pinEnv {
			t.Errorf("config key %q reads the PIN variable", k.name)
		}
	}
}

// TestREADMEConfigReference: the README's configuration table lists every
// key of configKeys once, in order, with its environment variable and
// default, and nothing else.
func TestREADMEConfigReference(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## Configuration reference")
	if !ok {
		t.Fatal("README.md has no Configuration reference section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var rows [][]string
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.Trim(strings.TrimSpace(cells[i]), "`")
		}
		rows = append(rows, cells)
	}
	if len(rows) != len(configKeys) {
		t.Errorf("README lists %d keys, configKeys has %d", len(rows), len(configKeys))
	}
	for i, k := range configKeys {
		if i >= len(rows) {
			t.Errorf("README lacks %q", k.name)
			continue
		}
		def := k.def
		if def == "" {
			def = "—"
		}
		want := []string{k.name, envName(k.name), def, k.usage}
		if len(rows[i]) != 4 || rows[i][0] != want[0] || rows[i][1] != want[1] || rows[i][2] != want[2] || rows[i][3] != want[3] {
			t.Errorf("README row %d = %q, want %q", i+1, rows[i], want)
		}
	}
}
