package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestTablesUpToDate reruns the extraction and compares it with the
// committed kmip/spec tables. It needs the specification text, which is
// not part of the repository.
func TestTablesUpToDate(t *testing.T) {
	const specs = "../../../../../shared/specs"
	if _, err := os.Stat(filepath.Join(specs, "kmip-spec-v1.4-os.txt")); err != nil {
		t.Skipf("no KMIP specification text at %s: %v", specs, err)
	}
	if testing.Short() {
		t.Skip("builds and runs the extractor")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	dir := t.TempDir()
	cmd := exec.Command(goBin, "run", ".", "-specs", specs, "-out", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run extract: %v\n%s", err, out)
	}
	for _, name := range []string{"tags.csv", "enums.csv", "masks.csv", "enumerations.csv", "attributes.csv"} {
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("../../../spec", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("kmip/spec/%s differs from the extraction: rerun go run ./kmip/internal/gen/extract", name)
		}
	}
}

func TestEncodingTypes(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"Text String", []string{"TextString"}},
		{"Enumeration, see 9.1.3.2.12", []string{"Enumeration"}},
		{"Text String, Enumeration or Integer", []string{"TextString", "Enumeration", "Integer"}},
		{"Byte String: for wrapped Key Value; Structure: for plaintext Key Value", []string{"ByteString", "Structure"}},
		{"Date-Time Extended", []string{"DateTimeExtended"}},
		{"Date-Time", []string{"DateTime"}},
		{"Long Integer", []string{"LongInteger"}},
		{"*", []string{"*"}},
		{"Varies based on Credential Type.", []string{"*"}},
		{"RNG Parameters (see 2.1.18)", []string{"Structure"}},
		{"Attribute", nil},
	}
	for _, tt := range tests {
		got := encodingTypes(tt.in)
		if len(got) != len(tt.want) {
			t.Errorf("encodingTypes(%q) = %q, want %q", tt.in, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("encodingTypes(%q) = %q, want %q", tt.in, got, tt.want)
				break
			}
		}
	}
}

func TestParseTables(t *testing.T) {
	const text = `9.1.3.2.11 Name Type Enumeration

                    ┌──────────────────────────────┐
                    │          Name Type           │
                    ├───────────────┬──────────────┤
                    │Name           │Value         │
                    ├───────────────┼──────────────┤
                    │Uninterpreted  │00000001      │
                    │Text String    │              │
                    ├───────────────┼──────────────┤
                    │URI            │00000002      │
                    └───────────────┴──────────────┘

Table 294: Name Type Enumeration
`
	ts := parseTables(text)
	if len(ts) != 1 {
		t.Fatalf("%d tables, want 1", len(ts))
	}
	tb := ts[0]
	if tb.Section != "9.1.3.2.11" || tb.Heading != "Name Type Enumeration" || tb.Caption != "Name Type Enumeration" {
		t.Errorf("table %q §%s %q", tb.Caption, tb.Section, tb.Heading)
	}
	want := [][]string{{"Name Type"}, {"Name", "Value"}, {"Uninterpreted Text String", "00000001"}, {"URI", "00000002"}}
	if len(tb.Rows) != len(want) {
		t.Fatalf("rows %q, want %q", tb.Rows, want)
	}
	for i := range want {
		if len(tb.Rows[i]) != len(want[i]) {
			t.Errorf("row %d = %q, want %q", i, tb.Rows[i], want[i])
			continue
		}
		for j := range want[i] {
			if tb.Rows[i][j] != want[i][j] {
				t.Errorf("row %d = %q, want %q", i, tb.Rows[i], want[i])
			}
		}
	}
}
