package hsmbackend_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmipd/kmipd/hsmbackend"
)

func TestSecretRedacts(t *testing.T) {
	s := hsmbackend.NewSecret([]byte("hunter2"))
	cfg := hsmbackend.Config{TokenLabel: "t", PIN: s}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("msg", "pin", s)
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"%v":    fmt.Sprintf("%v", s),
		"%s":    fmt.Sprintf("%s", s),
		"%x":    fmt.Sprintf("%x", s),
		"%X":    fmt.Sprintf("%X", s),
		"%q":    fmt.Sprintf("%q", s),
		"%d":    fmt.Sprintf("%d", s),
		"%#v":   fmt.Sprintf("%#v", s),
		"%+v":   fmt.Sprintf("%+v", cfg),
		"%#v c": fmt.Sprintf("%#v", cfg),
		"json":  string(js),
		"slog":  logged.String(),
		"Strng": s.String(),
	}
	for name, out := range outputs {
		if strings.Contains(out, "hunter2") || strings.Contains(out, "68756e74657232") {
			t.Errorf("%s reveals the secret: %s", name, out)
		}
		if !strings.Contains(out, "REDACTED") {
			t.Errorf("%s lacks the redaction marker: %s", name, out)
		}
	}
	if string(s.Bytes()) != "hunter2" || s.Len() != 7 || s.IsZero() {
		t.Fatal("Bytes/Len/IsZero")
	}
	c := s
	s.Clear()
	if !bytes.Equal(c.Bytes(), make([]byte, 7)) {
		t.Error("Clear did not wipe the shared bytes")
	}
}

func TestNewSecretCopies(t *testing.T) {
	b := []byte("1234")
	s := hsmbackend.NewSecret(b)
	clear(b)
	if string(s.Bytes()) != "1234" {
		t.Fatal("NewSecret kept the caller's buffer")
	}
}

func TestPINFromFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		content []byte // nil: no file
		want    string
		wantErr bool
	}{
		{name: "plain", content: []byte("1234"), want: "1234"},
		{name: "newline", content: []byte("1234\n"), want: "1234"},
		{name: "crlf", content: []byte("1234\r\n"), want: "1234"},
		{name: "only one newline trimmed", content: []byte("1234\n\n"), want: "1234\n"},
		{name: "spaces kept", content: []byte(" 12 34 \n"), want: " 12 34 "},
		{name: "max length", content: bytes.Repeat([]byte("x"), hsmbackend.MaxPINLen), want: strings.Repeat("x", hsmbackend.MaxPINLen)},
		{name: "too long", content: bytes.Repeat([]byte("x"), hsmbackend.MaxPINLen+1), wantErr: true},
		{name: "empty", content: []byte{}, wantErr: true},
		{name: "only newline", content: []byte("\n"), wantErr: true},
		{name: "missing", content: nil, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_"))
			if tt.content != nil {
				if err := os.WriteFile(path, tt.content, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			s, err := hsmbackend.PINFromFile(path)
			if tt.wantErr {
				if err == nil {
					t.Fatal("PINFromFile succeeded")
				}
				if tt.content != nil && bytes.Contains([]byte(err.Error()), []byte("xxxx")) {
					t.Error("error shows file content")
				}
				if !strings.Contains(err.Error(), path) {
					t.Errorf("error %q does not name the file", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(s.Bytes()) != tt.want {
				t.Fatalf("PIN = %q, want %q", s.Bytes(), tt.want)
			}
		})
	}
}

func TestPINFromEnv(t *testing.T) {
	const name = "KMIPD_TEST_PIN_FROM_ENV"
	tests := []struct {
		name    string
		set     bool
		value   string
		want    string
		wantErr bool
	}{
		{name: "set", set: true, value: "9876", want: "9876"},
		{name: "newline", set: true, value: "9876\n", want: "9876"},
		{name: "empty", set: true, value: "", wantErr: true},
		{name: "unset", set: false, wantErr: true},
		{name: "too long", set: true, value: strings.Repeat("p", hsmbackend.MaxPINLen+1), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.set {
				t.Setenv(name, tt.value)
			} else {
				t.Setenv(name, "x") // restores the environment afterwards
				if err := os.Unsetenv(name); err != nil {
					t.Fatal(err)
				}
			}
			s, err := hsmbackend.PINFromEnv(name)
			if tt.wantErr {
				if err == nil {
					t.Fatal("PINFromEnv succeeded")
				}
				if !strings.Contains(err.Error(), name) {
					t.Errorf("error %q does not name the variable", err)
				}
				return
			}
			if err != nil || string(s.Bytes()) != tt.want {
				t.Fatalf("PINFromEnv = %q, %v", s.Bytes(), err)
			}
		})
	}
}

func TestErrorsKeepCKR(t *testing.T) {
	// Sentinel messages are plain so wrapped errors read well.
	for _, e := range []error{hsmbackend.ErrBadWrappedKey, hsmbackend.ErrPoolTimeout, hsmbackend.ErrKeyNotFound} {
		if strings.HasPrefix(e.Error(), "hsm:") {
			t.Errorf("sentinel %q repeats the package prefix", e)
		}
		if errors.Unwrap(e) != nil {
			t.Errorf("sentinel %q wraps something", e)
		}
	}
}
