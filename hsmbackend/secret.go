package hsmbackend

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
)

// MaxPINLen bounds PINs read from files and the environment. PKCS#11 tokens
// accept far shorter PINs (SoftHSM: 255 bytes); the bound only keeps a
// mistaken path (a key file, /dev/zero) from being slurped into memory.
const MaxPINLen = 1024

const redacted = "[REDACTED]"

// Secret holds a PIN or another short secret. Its String, GoString and
// Format methods, its text and JSON encodings and its slog value all print
// "[REDACTED]", so a Secret that reaches a log line by mistake leaks nothing.
// Read the bytes with Bytes; wipe them with Clear when done.
type Secret struct {
	b []byte
}

// NewSecret copies b into a new Secret. The caller may clear b afterwards.
func NewSecret(b []byte) Secret {
	return Secret{b: bytes.Clone(b)}
}

// Bytes returns the secret's bytes. They are shared with the Secret: do not
// modify them and do not keep them beyond the Secret's life.
func (s Secret) Bytes() []byte { return s.b }

// Len returns the length of the secret in bytes.
func (s Secret) Len() int { return len(s.b) }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return len(s.b) == 0 }

// Clear overwrites the secret's bytes with zeros. Copies of the Secret value
// share the bytes and are cleared too.
func (s Secret) Clear() { clear(s.b) }

// String implements fmt.Stringer and never reveals the secret.
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer and never reveals the secret.
func (s Secret) GoString() string { return "hsmbackend.Secret(" + redacted + ")" }

// Format implements fmt.Formatter so that every verb, %x and %q included,
// prints the redaction marker.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, s.GoString())
		return
	}
	_, _ = io.WriteString(f, redacted)
}

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText implements encoding.TextMarshaler (used by encoding/json too)
// and never reveals the secret.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// PINFromFile reads a PIN from path. One trailing newline ("\n" or "\r\n")
// is removed, since editors and `echo` add it; any other byte is part of the
// PIN. An empty PIN is an error.
func PINFromFile(path string) (Secret, error) {
	f, err := os.Open(path) //nolint:gosec // G304: the PIN file named in the operator's config
	if err != nil {
		return Secret{}, fmt.Errorf("hsm: read PIN file %s: %w", path, err)
	}
	defer f.Close() //nolint:errcheck // read-only: the read result is what matters
	// Read one byte more than allowed to detect an oversized file without
	// trusting its reported size.
	buf := make([]byte, MaxPINLen+1)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		clear(buf)
		return Secret{}, fmt.Errorf("hsm: read PIN file %s: %w", path, err)
	}
	if n > MaxPINLen {
		clear(buf)
		return Secret{}, fmt.Errorf("hsm: read PIN file %s: longer than %d bytes", path, MaxPINLen)
	}
	pin := trimNewline(buf[:n])
	if len(pin) == 0 {
		clear(buf)
		return Secret{}, fmt.Errorf("hsm: read PIN file %s: file is empty", path)
	}
	s := NewSecret(pin)
	clear(buf)
	return s, nil
}

// PINFromEnv reads a PIN from the environment variable name, removing one
// trailing newline. An unset or empty variable is an error.
func PINFromEnv(name string) (Secret, error) {
	v, ok := os.LookupEnv(name)
	if !ok {
		return Secret{}, fmt.Errorf("hsm: PIN variable %s is not set", name)
	}
	if len(v) > MaxPINLen {
		return Secret{}, fmt.Errorf("hsm: PIN variable %s: longer than %d bytes", name, MaxPINLen)
	}
	pin := trimNewline([]byte(v))
	if len(pin) == 0 {
		return Secret{}, fmt.Errorf("hsm: PIN variable %s is empty", name)
	}
	// pin is our own copy of the string's bytes; hand it over without a
	// second copy.
	return Secret{b: pin}, nil
}

func trimNewline(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}
