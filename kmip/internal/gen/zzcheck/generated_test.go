package kmip

import (
	"bytes"
	"math/bits"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmipd/kmipd/ttlv"
)

// TestGeneratedUpToDate regenerates the tables into a temporary directory
// and compares them with the committed files: kmip/spec and the generated
// code must not drift apart (run `go generate ./kmip/...` to fix).
func TestGeneratedUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the generator")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	dir := t.TempDir()
	cmd := exec.Command(goBin, "run", "./internal/gen", "-spec", "spec", "-out", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run ./internal/gen: %v\n%s", err, out)
	}
	for _, name := range []string{"tags_generated.go", "enums_generated.go", "attributes_generated.go"} {
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go generate ./kmip/...", name)
		}
	}
}

var specVersions = map[SpecVersion]bool{100: true, 101: true, 102: true, 103: true, 104: true, 200: true, 201: true}

func checkSpan(t *testing.T, what string, since, until SpecVersion) {
	t.Helper()
	if !specVersions[since] || until != 0 && (!specVersions[until] || until < since) {
		t.Errorf("%s: bad version range %s-%s", what, since, until)
	}
}

// TestTagTable checks the invariants the lookups rely on.
func TestTagTable(t *testing.T) {
	names := NewNames()
	seen := map[string]bool{}
	n := 0
	for i, e := range tagTable {
		if e.name == "" {
			continue
		}
		n++
		tag := tagBase + ttlv.Tag(i)
		if seen[e.name] {
			t.Errorf("tag name %s twice", e.name)
		}
		seen[e.name] = true
		if got, ok := names.TagByName(e.name); !ok || got != tag {
			t.Errorf("TagByName(%q) = 0x%06X, %t; want 0x%06X", e.name, uint32(got), ok, uint32(tag))
		}
		checkSpan(t, e.name, e.since, e.until)
		if e.enum != nil && !e.enum.mask && !e.enum.isTag {
			for _, x := range e.enum.byName {
				if v, ok := names.EnumByName(tag, x.name); !ok || v != x.value {
					t.Errorf("EnumByName(%s, %q) = 0x%08X, %t; want 0x%08X", e.name, x.name, v, ok, x.value)
				}
			}
			for _, x := range e.enum.byValue {
				if got, ok := names.EnumName(tag, x.value); !ok || got != x.name {
					t.Errorf("EnumName(%s, 0x%08X) = %q, %t; want %q", e.name, x.value, got, ok, x.name)
				}
			}
		}
		if e.type1x == ttlv.TypeEnumeration || e.type2x == ttlv.TypeEnumeration {
			if e.enum == nil {
				t.Errorf("%s is an Enumeration without an enumeration", e.name)
			}
		}
		if e.enum != nil && e.enum.mask && e.type1x != ttlv.TypeInteger && e.type2x != ttlv.TypeInteger {
			t.Errorf("%s holds a mask but is not an Integer", e.name)
		}
		if e.type1x != 0 && e.since >= 200 || e.type2x != 0 && e.until != 0 && e.until < 200 {
			t.Errorf("%s has a type in a major version that does not define it", e.name)
		}
	}
	if n != len(tagsByName) {
		t.Errorf("%d tags, %d in tagsByName", n, len(tagsByName))
	}
	for i := 1; i < len(tagsByName); i++ {
		if tagsByName[i-1].name >= tagsByName[i].name {
			t.Errorf("tagsByName not sorted at %s", tagsByName[i].name)
		}
	}
	if n < 370 {
		t.Errorf("only %d tags", n)
	}
}

// TestEnumTables checks every enumeration and mask reachable from a tag.
func TestEnumTables(t *testing.T) {
	done := map[*enumTable]bool{}
	for _, e := range tagTable {
		en := e.enum
		if en == nil || en.isTag || done[en] {
			continue
		}
		done[en] = true
		for i, x := range en.byValue {
			if i > 0 && en.byValue[i-1].value >= x.value {
				t.Errorf("%s: byValue not sorted at %s", en.name, x.name)
			}
			checkSpan(t, en.name+" "+x.name, x.since, x.until)
			if v, ok := en.valueOf(x.name); !ok || v != x.value {
				t.Errorf("%s: %s not found by name", en.name, x.name)
			}
			if en.mask && bits.OnesCount32(x.value) != 1 {
				t.Errorf("%s: %s is not one bit", en.name, x.name)
			}
			if x.name == "" || strings.ContainsAny(x.name, " -.#/()") {
				t.Errorf("%s: bad XML name %q", en.name, x.name)
			}
		}
		for i, x := range en.byName {
			if i > 0 && en.byName[i-1].name >= x.name {
				t.Errorf("%s: byName not sorted at %s", en.name, x.name)
			}
			if _, ok := en.lookup(x.value); !ok {
				t.Errorf("%s: alias %s of unknown value 0x%08X", en.name, x.name, x.value)
			}
		}
	}
	if len(done) < 60 {
		t.Errorf("only %d enumerations reachable from tags", len(done))
	}
}

// TestAttributeTable checks the attribute table against the tag table.
func TestAttributeTable(t *testing.T) {
	for i, a := range attributeTable {
		if i > 0 && attributeTable[i-1].Name >= a.Name {
			t.Errorf("attributeTable not sorted at %s", a.Name)
		}
		checkSpan(t, a.Name, a.Since, a.Until)
		info, ok := LookupTag(a.Tag)
		if !ok {
			t.Errorf("%s: unknown tag 0x%06X", a.Name, uint32(a.Tag))
			continue
		}
		if a.Since < info.Since || info.Until != 0 && (a.Until == 0 || a.Until > info.Until) {
			t.Errorf("%s (%s-%s) outlives its tag (%s-%s)", a.Name, a.Since, a.Until, info.Since, info.Until)
		}
	}
	for i, x := range attributesByTag {
		if i > 0 && attributesByTag[i-1].tag >= x.tag {
			t.Errorf("attributesByTag not sorted at 0x%06X", uint32(x.tag))
		}
		if attributeTable[x.index].Tag != x.tag {
			t.Errorf("attributesByTag[%d] points at %s", i, attributeTable[x.index].Name)
		}
	}
	if len(attributesByTag) != len(attributeTable)-1 { // all but Vendor Attribute
		t.Errorf("%d attributes, %d by tag", len(attributeTable), len(attributesByTag))
	}
}
