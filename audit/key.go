package audit

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
)

const (
	// KeySize is the size of keys GenerateKeyFile writes: a full SHA-256
	// block of entropy for HMAC-SHA256 (RFC 2104 §3).
	KeySize = 32
	// MinKeySize is the shortest key New and LoadKey accept.
	MinKeySize = 32
	// maxKeyFile bounds what LoadKey reads before it parses anything.
	maxKeyFile = 1024
)

// Key is an audit HMAC key. It converts to []byte for [New]. Its String,
// GoString, Format and MarshalText never reveal the bytes, so a Key that ends
// up in a log line or a JSON dump stays secret.
type Key []byte

const redacted = "audit.Key(REDACTED)"

// String redacts the key for %s and for loggers that call String.
func (Key) String() string { return redacted }

// GoString redacts the key for %#v, which would otherwise print the bytes.
func (Key) GoString() string { return redacted }

// Format covers every fmt verb, including %x and %v, which would otherwise
// print the underlying bytes. A Formatter cannot report an error, and fmt.State
// writes to fmt's own buffer, so the write result has nothing to tell.
func (Key) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// MarshalText keeps encoding/json (which would base64 a []byte) and text
// loggers from printing the key.
func (Key) MarshalText() ([]byte, error) { return []byte("REDACTED"), nil }

// Clear zeroes the key in place; call it once the key is no longer needed.
func (k Key) Clear() { clear(k) }

// GenerateKeyFile creates path (mode 0600, never overwriting an existing
// file, because losing the old key would make the old log unverifiable) and
// writes KeySize random bytes to it.
func GenerateKeyFile(path string) (Key, error) {
	key := make(Key, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("audit: generate key %s: %w", path, err)
	}
	if err := writeNewFile(path, key); err != nil {
		key.Clear()
		return nil, fmt.Errorf("audit: write key %s: %w", path, err)
	}
	return key, nil
}

// writeNewFile creates path (mode 0600, never over an existing file)
// holding data, durably, its directory entry included. On failure it
// removes what it created: a partial file would make the next attempt
// fail (O_EXCL) for no reason the operator could see.
func writeNewFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) //nolint:gosec // G304: the key file, or a file beside the log, the operator's config names
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		_ = os.Remove(path) // best effort: the write error is the one to report
		return err
	}
	return nil
}

// LoadKey reads an audit key file: either exactly 32 raw bytes (what
// GenerateKeyFile writes) or 64 hex digits with an optional trailing newline
// (what `openssl rand -hex 32` prints). Like ssh with its private keys, it
// refuses a file that other users can read or write.
func LoadKey(path string) (Key, error) {
	f, err := os.Open(path) //nolint:gosec // G304: the key file named in the operator's config
	if err != nil {
		return nil, fmt.Errorf("audit: load key: %w", err)
	}
	defer f.Close() //nolint:errcheck // read-only: everything read was checked already
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("audit: load key: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("audit: load key %s: not a regular file", path)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("audit: load key %s: mode %#o lets other users read it, want 0600 (chmod 600 %s)", path, fi.Mode().Perm(), path)
	}
	if fi.Size() > maxKeyFile {
		return nil, fmt.Errorf("audit: load key %s: %d bytes is not a key file", path, fi.Size())
	}
	raw, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		clear(raw)
		return nil, fmt.Errorf("audit: load key %s: %w", path, err)
	}
	defer clear(raw)
	key, err := parseKey(raw)
	if err != nil {
		return nil, fmt.Errorf("audit: load key %s: %w", path, err)
	}
	return key, nil
}

func parseKey(raw []byte) (Key, error) {
	if len(raw) == KeySize {
		return Key(bytes.Clone(raw)), nil
	}
	text := bytes.TrimRight(raw, "\r\n")
	if len(text) == 2*KeySize {
		key := make(Key, KeySize)
		if _, err := hex.Decode(key, text); err == nil {
			return key, nil
		}
		key.Clear()
	}
	return nil, errors.New("want 32 raw bytes or 64 hex digits")
}

func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir) //nolint:gosec // G304: the directory of a file opened above
	if err != nil {
		return err
	}
	defer d.Close() //nolint:errcheck // read-only handle: the Sync result is what matters
	return d.Sync()
}
