package audit

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenerateAndLoadKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.key")
	k, err := GenerateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(k) != KeySize || bytes.Equal(k, make([]byte, KeySize)) {
		t.Fatalf("generated key has %d bytes or is zero", len(k))
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Size() != KeySize {
		t.Errorf("key file mode %#o size %d, want 0600 and %d", fi.Mode().Perm(), fi.Size(), KeySize)
	}
	loaded, err := LoadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(loaded, k) {
		t.Error("LoadKey returned a different key")
	}
	if _, err := GenerateKeyFile(path); err == nil {
		t.Error("GenerateKeyFile overwrote an existing key")
	}
	if again, _ := LoadKey(path); !bytes.Equal(again, k) {
		t.Error("key file changed by the refused GenerateKeyFile")
	}
	// A loaded Key is usable by New directly.
	l, err := New(&memSink{}, loaded)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
}

func TestLoadKeyFormats(t *testing.T) {
	raw := bytes.Repeat([]byte{0xab}, KeySize)
	raw[0] = '\n' // a raw key may contain newline bytes anywhere
	hexKey := hex.EncodeToString(raw)
	tests := []struct {
		name    string
		data    []byte
		perm    os.FileMode
		want    []byte
		wantErr string
	}{
		{name: "raw", data: raw, perm: 0o600, want: raw},
		{name: "hex", data: []byte(hexKey), perm: 0o600, want: raw},
		{name: "hex newline", data: []byte(hexKey + "\n"), perm: 0o400, want: raw},
		{name: "hex crlf", data: []byte(hexKey + "\r\n"), perm: 0o600, want: raw},
		{name: "short", data: raw[:16], perm: 0o600, wantErr: "want 32 raw bytes"},
		{name: "bad hex", data: []byte(strings.Repeat("zz", KeySize)), perm: 0o600, wantErr: "want 32 raw bytes"},
		{name: "empty", data: nil, perm: 0o600, wantErr: "want 32 raw bytes"},
		{name: "too big", data: bytes.Repeat([]byte("a"), 4096), perm: 0o600, wantErr: "not a key file"},
		{name: "group readable", data: raw, perm: 0o640, wantErr: "chmod 600"},
		{name: "world readable", data: raw, perm: 0o604, wantErr: "chmod 600"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "k")
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.perm); err != nil {
				t.Fatal(err)
			}
			k, err := LoadKey(path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("LoadKey error = %v, want %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), hexKey[2:20]) {
					t.Error("error leaks key bytes")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(k, tc.want) {
				t.Error("wrong key bytes")
			}
		})
	}
	if _, err := LoadKey(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("LoadKey(missing) succeeded")
	}
}

func TestKeyRedacted(t *testing.T) {
	k := Key(bytes.Repeat([]byte{0xc3}, KeySize))
	hexKey := hex.EncodeToString(k)
	j, err := json.Marshal(struct{ K Key }{k})
	if err != nil {
		t.Fatal(err)
	}
	outputs := []string{
		k.String(), k.GoString(),
		fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s %x %X %q %d", k, k, k, k, k, k, k, k),
		fmt.Sprintf("%v", []any{k}), string(j),
	}
	for _, out := range outputs {
		if strings.Contains(strings.ToLower(out), "c3c3") || strings.Contains(out, hexKey) || strings.Contains(out, "195") || strings.Contains(out, "w8PD") {
			t.Errorf("key bytes leak: %s", out)
		}
		if !strings.Contains(out, "REDACTED") {
			t.Errorf("output %q does not say REDACTED", out)
		}
	}
	k.Clear()
	if !bytes.Equal(k, make([]byte, KeySize)) {
		t.Error("Clear left key bytes")
	}
}
