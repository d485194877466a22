package main

import (
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

func main() {
	specDir := flag.String("spec", "spec", "directory with the tables")
	outDir := flag.String("out", ".", "directory to write the Go files to")
	flag.Parse()
	m, err := load(*specDir)
	if err != nil {
		log.Fatalf("gen: %v", err)
	}
	for name, src := range map[string][]byte{
		"tags_generated.go":       m.tagsFile(),
		"enums_generated.go":      m.enumsFile(),
		"attributes_generated.go": m.attributesFile(),
	} {
		out, err := format.Source(src)
		if err != nil {
			log.Fatalf("gen: format %s: %v", name, err)
		}
		// Generated Go source is committed: readable like any source file.
		if err := os.WriteFile(filepath.Join(*outDir, name), out, 0o644); err != nil { //nolint:gosec // G306: see above
			log.Fatalf("gen: %v", err)
		}
	}
}

type tag struct {
	name, xml, ident string
	value            uint32
	since, until     int
	type1x, type2x   string // primary type, "" if unknown
	enum             string
}

type value struct {
	name, xml, ident string
	value            uint32
	since, until     int
	primary          bool
}

type enum struct {
	name, ident  string
	mask         bool
	since, until int
	sections     [3]string
	values       []value // in file order: by value, primary first
}

type attribute struct {
	name, tag                            string
	since, until                         int
	always, srvMod, cliMod, cliDel, mult bool
	initially, implicitly, appliesTo     string
}

type model struct {
	tags    []tag
	tagByNm map[string]*tag
	enums   []*enum
	enumBy  map[string]*enum
	attrs   []attribute
}

func readCSV(path string) ([]map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close() //nolint:errcheck // read-only: ReadAll's error is what matters
	r := csv.NewReader(f)
	r.Comment = '#'
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("read %s: no header", path)
	}
	var rows []map[string]string
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, h := range recs[0] {
			row[h] = rec[i]
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// version parses "1.4" as 104; "" is 0.
func version(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	maj, min, ok := strings.Cut(s, ".")
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(min)
	if !ok || err1 != nil || err2 != nil || b > 99 {
		return 0, fmt.Errorf("bad version %q", s)
	}
	return a*100 + b, nil
}

func hexValue(s string) (uint32, error) {
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 32)
	if err != nil {
		return 0, fmt.Errorf("bad value %q", s)
	}
	return uint32(v), nil
}

var typeConsts = map[string]string{
	"Structure": "ttlv.TypeStructure", "Integer": "ttlv.TypeInteger", "LongInteger": "ttlv.TypeLongInteger",
	"BigInteger": "ttlv.TypeBigInteger", "Enumeration": "ttlv.TypeEnumeration", "Boolean": "ttlv.TypeBoolean",
	"TextString": "ttlv.TypeTextString", "ByteString": "ttlv.TypeByteString", "DateTime": "ttlv.TypeDateTime",
	"Interval": "ttlv.TypeInterval", "DateTimeExtended": "ttlv.TypeDateTimeExtended",
}

// primaryType keeps the first (most used) of the types "A|B"; "*" (varies)
// and "" give no type.
func primaryType(s string) (string, error) {
	first, _, _ := strings.Cut(s, "|")
	if first == "" || first == "*" {
		return "", nil
	}
	if typeConsts[first] == "" {
		return "", fmt.Errorf("unknown item type %q", first)
	}
	return first, nil
}

func load(dir string) (*model, error) {
	ov, err := loadOverrides(filepath.Join(dir, "xml_names.csv"))
	if err != nil {
		return nil, err
	}
	m := &model{tagByNm: map[string]*tag{}, enumBy: map[string]*enum{}}
	var errs []error
	check := func(err error, what string) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
	}

	tagRows, err := readCSV(filepath.Join(dir, "tags.csv"))
	if err != nil {
		return nil, err
	}
	for _, r := range tagRows {
		t := tag{name: r["name"], enum: r["enum"]}
		t.xml = ov.name("tag", "", t.name)
		t.ident = "Tag" + strings.ReplaceAll(t.xml, "_", "")
		var err error
		t.value, err = hexValue(r["value"])
		check(err, "tag "+t.name)
		t.since, err = version(r["since"])
		check(err, "tag "+t.name)
		t.until, err = version(r["until"])
		check(err, "tag "+t.name)
		t.type1x, err = primaryType(r["type_1x"])
		check(err, "tag "+t.name)
		t.type2x, err = primaryType(r["type_2x"])
		check(err, "tag "+t.name)
		m.tags = append(m.tags, t)
	}
	slices.SortFunc(m.tags, func(a, b tag) int { return int(a.value) - int(b.value) })
	for i := range m.tags {
		m.tagByNm[m.tags[i].name] = &m.tags[i]
	}

	enumRows, err := readCSV(filepath.Join(dir, "enumerations.csv"))
	if err != nil {
		return nil, err
	}
	for _, r := range enumRows {
		e := &enum{name: r["enum"], mask: r["kind"] == "mask"}
		e.ident = strings.ReplaceAll(xmlName(e.name), "_", "")
		e.sections = [3]string{r["section_1_4"], r["section_2_0"], r["section_2_1"]}
		var err error
		e.since, err = version(r["since"])
		check(err, "enumeration "+e.name)
		e.until, err = version(r["until"])
		check(err, "enumeration "+e.name)
		m.enums = append(m.enums, e)
		m.enumBy[e.name] = e
	}
	for _, file := range []string{"enums.csv", "masks.csv"} {
		rows, err := readCSV(filepath.Join(dir, file))
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			e := m.enumBy[r["enum"]]
			if e == nil {
				errs = append(errs, fmt.Errorf("%s: unknown enumeration %q", file, r["enum"]))
				continue
			}
			kind := "enum"
			if e.mask {
				kind = "mask"
			}
			v := value{name: r["name"]}
			v.xml = ov.name(kind, e.name, v.name)
			v.ident = e.ident + strings.ReplaceAll(v.xml, "_", "")
			var err error
			v.value, err = hexValue(r["value"])
			check(err, e.name+" "+v.name)
			v.since, err = version(r["since"])
			check(err, e.name+" "+v.name)
			v.until, err = version(r["until"])
			check(err, e.name+" "+v.name)
			n := len(e.values)
			v.primary = n == 0 || e.values[n-1].value != v.value
			e.values = append(e.values, v)
		}
	}
	for _, a := range ov.aliases {
		e := m.enumBy[a.scope]
		if e == nil {
			errs = append(errs, fmt.Errorf("xml_names.csv: unknown enumeration %q", a.scope))
			continue
		}
		i := slices.IndexFunc(e.values, func(v value) bool { return v.primary && v.name == a.name })
		if i < 0 {
			errs = append(errs, fmt.Errorf("xml_names.csv: %s has no value %q", a.scope, a.name))
			continue
		}
		alias := e.values[i]
		alias.xml, alias.primary = a.xml, false
		e.values = slices.Insert(e.values, i+1, alias)
	}

	attrRows, err := readCSV(filepath.Join(dir, "attributes.csv"))
	if err != nil {
		return nil, err
	}
	for _, r := range attrRows {
		a := attribute{
			name: r["name"], tag: r["tag"],
			always: yes(r["shall_always_have_a_value"]), srvMod: yes(r["modifiable_by_server"]),
			cliMod: yes(r["modifiable_by_client"]), cliDel: yes(r["deletable_by_client"]),
			mult: yes(r["multiple_instances_permitted"]), initially: r["initially_set_by"],
			implicitly: r["when_implicitly_set"], appliesTo: r["applies_to_object_types"],
		}
		var err error
		a.since, err = version(r["since"])
		check(err, "attribute "+a.name)
		a.until, err = version(r["until"])
		check(err, "attribute "+a.name)
		if m.tagByNm[a.tag] == nil {
			errs = append(errs, fmt.Errorf("attribute %s: unknown tag %q", a.name, a.tag))
		}
		m.attrs = append(m.attrs, a)
	}
	slices.SortFunc(m.attrs, func(a, b attribute) int { return strings.Compare(a.name, b.name) })

	for _, t := range m.tags {
		if t.enum != "" && t.enum != "Tag" && m.enumBy[t.enum] == nil {
			errs = append(errs, fmt.Errorf("tag %s: unknown enumeration %q", t.name, t.enum))
		}
	}
	errs = append(errs, m.checkNames()...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

// yes reads a rules-table answer: "Yes", "Yes, only while ...", "Yes for
// PGP keys. No for X.509 certificates." are yes.
func yes(s string) bool { return strings.HasPrefix(s, "Yes") }

// checkNames makes sure names and Go identifiers are unique where they must
// be: tag names and identifiers, every accepted spelling within an
// enumeration, and every generated identifier in the package.
func (m *model) checkNames() []error {
	var errs []error
	idents := map[string]string{}
	ident := func(id, what string) {
		if prev, ok := idents[id]; ok {
			errs = append(errs, fmt.Errorf("identifier %s for both %s and %s", id, prev, what))
		}
		idents[id] = what
	}
	xmlTags := map[string]string{}
	for _, t := range m.tags {
		ident(t.ident, "tag "+t.name)
		if prev, ok := xmlTags[t.xml]; ok {
			errs = append(errs, fmt.Errorf("XML name %s for tags %s and %s", t.xml, prev, t.name))
		}
		xmlTags[t.xml] = t.name
	}
	for _, e := range m.enums {
		ident(e.ident, "enumeration "+e.name)
		names := map[string]uint32{}
		for _, v := range e.values {
			if v.primary {
				ident(v.ident, e.name+" "+v.name)
			}
			if prev, ok := names[v.xml]; ok && prev != v.value {
				errs = append(errs, fmt.Errorf("%s: XML name %s for 0x%08X and 0x%08X", e.name, v.xml, prev, v.value))
			}
			names[v.xml] = v.value
		}
	}
	return errs
}

// overrides is kmip/spec/xml_names.csv: XML spellings that the rule in
// xmlName does not produce.
type overrides struct {
	names   map[[3]string]string // kind, scope, spec name → XML name
	aliases []struct{ scope, name, xml string }
}

func loadOverrides(path string) (*overrides, error) {
	ov := &overrides{names: map[[3]string]string{}}
	rows, err := readCSV(path)
	if errors.Is(err, os.ErrNotExist) {
		return ov, nil
	}
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		switch r["kind"] {
		case "tag", "enum", "mask":
			ov.names[[3]string{r["kind"], r["scope"], r["name"]}] = r["xml"]
		case "alias":
			ov.aliases = append(ov.aliases, struct{ scope, name, xml string }{r["scope"], r["name"], r["xml"]})
		default:
			return nil, fmt.Errorf("%s: unknown kind %q", path, r["kind"])
		}
	}
	return ov, nil
}

func (ov *overrides) name(kind, scope, name string) string {
	if x, ok := ov.names[[3]string{kind, scope, name}]; ok {
		return x
	}
	return xmlName(name)
}
