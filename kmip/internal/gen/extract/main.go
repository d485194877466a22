package main

import (
	"flag"
	"fmt"
	"go/build"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The three documents, oldest first. The 1.4 document describes all of
// 1.0-1.4; 2.0 removed parts of 1.x; 2.1 only adds to 2.0.
var docs = []struct {
	ver  string
	file string
}{
	{"1.4", "kmip-spec-v1.4-os.txt"},
	{"2.0", "kmip-spec-v2.0-os.txt"},
	{"2.1", "kmip-spec-v2.1-os.txt"},
}

// verbose is the -v flag.
var verbose bool

const (
	d14 = iota
	d20
	d21
)

// tagSince1x gives the 1.x version that introduced a tag found in the 1.4
// table. The 1.4 document does not say, but tags were assigned
// sequentially: each minor version appended its tags after the last one of
// the previous version (the 1.0 list is alphabetical up to Y, 0x4200A0,
// followed by Password, 0x4200A1). The boundaries below are the last tag of
// each version's own tag table:
//
//	1.0: 0x420001-0x4200A1 (last: Password)
//	1.1: 0x4200A2-0x4200B7 (Device Identifier ... X.509 Certificate Subject)
//	1.2: 0x4200B8-0x4200D3 (Key Value Location ... Attestation Capable Indicator)
//	1.3: 0x4200D4-0x4200F7 (Offset Items ... Capability Information)
//	1.4: 0x4200F8-0x420124 (Key Wrap Type ... Replace Existing)
//
// They agree with the features each version introduced (1.1 Device
// credentials, X.509 attributes; 1.2 Encrypt/Sign/attestation and the
// Cryptographic Parameters fields for GCM/CTR; 1.3 Locate paging, streaming,
// RNG and validation/capability queries; 1.4 RSA-PSS/OAEP parameters,
// Export/Import, certificate name fields and Sensitive/Extractable), and
// with the OASIS test vectors: kmip/names_test.go checks that no 1.0-1.3
// message uses a tag introduced after its protocol version.
func tagSince1x(v uint32) string {
	switch {
	case v <= 0x4200A1:
		return "1.0"
	case v <= 0x4200B7:
		return "1.1"
	case v <= 0x4200D3:
		return "1.2"
	case v <= 0x4200F7:
		return "1.3"
	default:
		return "1.4"
	}
}

// tagEnumExceptions links tags to the enumeration or mask they use where
// the names differ. Same-named tags and enumerations are linked
// automatically when the tag is Enumeration- (or, for masks,
// Integer-) typed.
var tagEnumExceptions = map[string]string{
	// 1.4 §2.1.5 / 2.0 §2.1.5: Mask Generator Hashing Algorithm "Enumeration, see 9.1.3.2.16".
	"Mask Generator Hashing Algorithm": "Hashing Algorithm",
	// 2.0 §4.x: Attribute Reference is "Enumeration (Tag)": its value is a tag.
	"Attribute Reference": "Tag",
	// 2.0 §2.1.9: Extension Type is "Enumeration (Item Type)" (an Integer in 1.x).
	"Extension Type": "Item Type",
	// 2.0 §4.31: Linked Object Identifier is "Text String/Enumeration/Integer";
	// the Enumeration form takes Unique Identifier values (2.0 §11.56).
	"Linked Object Identifier": "Unique Identifier",
}

// enumNameFixes replaces an enumeration value name as printed by the one
// the rest of the world uses. The printed name is kept as an alias.
var enumNameFixes = map[string]map[string]string{
	// 1.4 Table 325 prints the note "(Non Repudiation)" inside the name;
	// the vectors use ContentCommitment.
	"Cryptographic Usage Mask": {"Content Commitment (Non Repudiation)": "Content Commitment"},
	// 2.0/2.1 §11.30 misspell MGF1 as "MFG1"; 1.4 §9.1.3.2.49 and the 2.0
	// vectors use MGF1.
	"Mask Generator": {"MFG1": "MGF1"},
}

func main() {
	specDir := flag.String("specs", "/work/shared/specs", "directory with the KMIP specification text files")
	outDir := flag.String("out", "kmip/spec", "directory to write the tables to")
	pkcs11Dir := flag.String("pkcs11", filepath.Join(build.Default.GOPATH, "pkg", "mod", "github.com", "miekg", "pkcs11@v1.1.2"),
		"directory with the PKCS#11 headers pkcs11f.h and pkcs11t.h")
	flag.BoolVar(&verbose, "v", false, "print where the 1.4 and 2.0 attribute rules differ")
	flag.Parse()
	var all [3][]table
	for i, d := range docs {
		b, err := os.ReadFile(filepath.Join(*specDir, d.file))
		if err != nil {
			log.Fatalf("extract: read %s: %v", d.file, err)
		}
		all[i] = parseTables(string(b))
	}
	x := &extraction{docs: all}
	x.tags()
	x.types()
	x.enums()
	if err := x.pkcs11(*pkcs11Dir); err != nil {
		log.Fatalf("extract: %v", err)
	}
	x.link()
	x.attributes()
	for name, fn := range map[string]func() [][]string{
		"tags.csv":         x.tagRows,
		"enums.csv":        func() [][]string { return x.valueRows("enum") },
		"masks.csv":        func() [][]string { return x.valueRows("mask") },
		"enumerations.csv": x.enumerationRows,
		"attributes.csv":   x.attributeRows,
	} {
		if err := writeCSV(filepath.Join(*outDir, name), fn()); err != nil {
			log.Fatalf("extract: %v", err)
		}
	}
}

type tagDef struct {
	name  string
	value uint32
	in    [3]bool
	types [2]map[string]int // 0: 1.x, 1: 2.x; type → number of definitions seen
	enum  string
	ref14 []string // 1.4 Appendix C references to §9.1.3.2.x / §9.1.3.3.x
	since string
	until string
}

type enumValue struct {
	value uint32
	names [3]string // name in each document, "" if absent
}

type enumDef struct {
	name    string
	kind    string    // "enum" or "mask"
	section [3]string // section number in each document
	values  map[uint32]*enumValue
	base    string // 1.x version of the enumeration's first tag
}

type attrDef struct {
	name    string
	tag     string
	in      [3]bool
	section [3]string
	rules   [3]map[string]string
}

type extraction struct {
	docs   [3][]table
	tagsBy map[string]*tagDef
	tagsV  map[uint32]*tagDef
	enumsB map[string]*enumDef
	attrs  map[string]*attrDef
}

var hexRE = regexp.MustCompile(`^(?:0x)?([0-9A-Fa-f]{6,8})\b`)

func isPlaceholder(name string) bool {
	return name == "" || strings.HasPrefix(name, "(") || name == "Extensions" || name == "Reserved"
}

func (x *extraction) tags() {
	x.tagsBy = map[string]*tagDef{}
	x.tagsV = map[uint32]*tagDef{}
	for i, ts := range x.docs {
		var found bool
		for _, t := range ts {
			isTagTable14 := i == d14 && t.Caption == "Tag Values"
			isTagTable2x := i != d14 && t.Heading == "Tag Enumeration"
			if !isTagTable14 && !isTagTable2x {
				continue
			}
			found = true
			for _, r := range t.Rows {
				if len(r) != 2 || isPlaceholder(r[0]) {
					continue
				}
				m := hexRE.FindStringSubmatch(r[1])
				if m == nil {
					continue
				}
				v64, _ := strconv.ParseUint(m[1], 16, 32)
				v := uint32(v64)
				td := x.tagsV[v]
				if td == nil {
					td = &tagDef{value: v}
					x.tagsV[v] = td
				}
				if td.name != "" && td.name != r[0] {
					log.Fatalf("extract: tag 0x%06X renamed from %q to %q in %s; add alias support", v, td.name, r[0], docs[i].ver)
				}
				td.name = r[0]
				td.in[i] = true
			}
		}
		if !found {
			log.Fatalf("extract: no tag table in %s", docs[i].ver)
		}
	}
	for _, td := range x.tagsV {
		x.tagsBy[td.name] = td
		switch {
		case td.in[d14]:
			td.since = tagSince1x(td.value)
		case td.in[d20]:
			td.since = "2.0"
		default:
			td.since = "2.1"
		}
		switch {
		case td.in[d21]:
		case td.in[d20]:
			td.until = "2.0"
		default:
			td.until = "1.4"
		}
		if td.in[d14] && !td.in[d20] && td.in[d21] {
			log.Fatalf("extract: tag %s missing from 2.0 only", td.name)
		}
	}
}

var (
	seeRE  = regexp.MustCompile(`,?\s+(?:see|See)\s.*$`)
	refRE  = regexp.MustCompile(`9\.1\.3\.[23]\.\d+`)
	typeRE = regexp.MustCompile(`Structure|Long Integer|Big Integer|Integer|Enumeration|Boolean|Text ?[Ss]tring|Byte ?String|Date[- ]Time Extended|Date[- ]Time|Interval`)
)

// typeNames maps the spec's spelling to the XML profile's type names.
var typeNames = map[string]string{
	"Structure": "Structure", "Long Integer": "LongInteger", "Big Integer": "BigInteger",
	"Integer": "Integer", "Enumeration": "Enumeration", "Boolean": "Boolean",
	"Text String": "TextString", "TextString": "TextString", "Text string": "TextString",
	"Byte String": "ByteString", "ByteString": "ByteString",
	"Date-Time": "DateTime", "Date Time": "DateTime",
	"Date-Time Extended": "DateTimeExtended", "Date Time Extended": "DateTimeExtended",
	"Interval": "Interval",
}

// encodingTypes reads an Encoding cell. "*", "Varies" and "Any" mean the
// type depends on context; structures named by their content ("RNG
// Parameters (see 2.1.18)", "Object Data Structure") are structures.
func encodingTypes(cell string) []string {
	switch {
	case cell == "*" || strings.HasPrefix(cell, "Varies") || strings.HasPrefix(cell, "Any "):
		return []string{"*"}
	case strings.HasPrefix(cell, "RNG Parameters") || cell == "Attribute Object" || cell == "Object Data Structure":
		return []string{"Structure"}
	}
	var out []string
	for _, m := range typeRE.FindAllString(cell, -1) {
		if t := typeNames[m]; t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// typeFixes gives the item type of tags that have no Encoding column
// anywhere but whose type the text states. Tags in neither list keep an
// unknown type (the 2.0 Server Information fields, Tag, Interop Identifier,
// ...): the spec does not say.
var typeFixes = map[string]string{
	"Offset Items":     "Integer",    // 1.4 §4.9: "An Integer object that indicates ..."
	"Located Items":    "Integer",    // 1.4 §4.9: "An Integer object that indicates ..."
	"Digested Data":    "ByteString", // 1.4 §4.31: "The digested data ... (as a Byte String)"
	"Replace Existing": "Boolean",    // 1.4 §4.41 Import: "A Boolean."
	"Request Count":    "Integer",    // 2.0 §6.1.29 Login: "The integer count ..."
	"Ephemeral":        "Boolean",    // 2.0 §8.3 Request Batch Item: "... Boolean."
	// 1.4 §3.47 and 2.0 §4.9: the Comment table misprints the tag as
	// "Description" (Text String); 1.4 §3.49 / 2.0 §4.3 misprint Always
	// Sensitive as "Sensitive" (Boolean).
	"Comment":          "TextString",
	"Always Sensitive": "Boolean",
}

// types collects the item type of each tag from every field table
// ("Object"/"Item" | "Encoding") and, for 1.4, from Appendix C.
func (x *extraction) types() {
	for i, ts := range x.docs {
		major := 0
		if i != d14 {
			major = 1
		}
		for _, t := range ts {
			if len(t.Rows) == 0 || len(t.Rows[0]) < 2 {
				continue
			}
			h := t.Rows[0]
			col := -1
			switch {
			case (h[0] == "Object" || h[0] == "Item") && h[1] == "Encoding":
				col = 1
			case len(h) >= 3 && h[0] == "Object" && h[1] == "Defined" && h[2] == "Type":
				col = 2 // 1.4 Appendix C, Tag Cross-reference
			}
			if col < 0 {
				continue
			}
			for _, r := range t.Rows[1:] {
				if len(r) <= col {
					continue
				}
				name := seeRE.ReplaceAllString(r[0], "")
				td := x.tagsBy[name]
				if td == nil || !td.in[i] {
					continue
				}
				if col == 2 {
					td.ref14 = append(td.ref14, refRE.FindAllString(r[1], -1)...)
				}
				for _, ty := range encodingTypes(r[col]) {
					if td.types[major] == nil {
						td.types[major] = map[string]int{}
					}
					td.types[major][ty]++
				}
			}
		}
	}
	for _, td := range x.tagsV {
		in := [2]bool{td.in[d14], td.in[d20] || td.in[d21]}
		for j := range 2 {
			if f := typeFixes[td.name]; f != "" && in[j] {
				td.types[j] = map[string]int{f: 1}
			}
		}
		// A tag typed in only one major version has the same type in the
		// other (e.g. the 1.4 Certificate Subject CN, named only in the
		// 1.4 tag table, is a Text String as in 2.0 §4.6).
		switch {
		case in[0] && in[1] && len(td.types[0]) == 0:
			td.types[0] = td.types[1]
		case in[0] && in[1] && len(td.types[1]) == 0:
			td.types[1] = td.types[0]
		}
	}
}

// valueRE matches a value cell; 1.4 marks some values "00000006 (deprecated)".
var valueRE = regexp.MustCompile(`^(?:0x)?([0-9A-Fa-f]{8})(?:\s*\(deprecated\))?$`)

func (x *extraction) enums() {
	x.enumsB = map[string]*enumDef{}
	for i, ts := range x.docs {
		for _, t := range ts {
			var kind string
			switch {
			case i == d14 && strings.HasPrefix(t.Section, "9.1.3.2."):
				kind = "enum"
			case i == d14 && strings.HasPrefix(t.Section, "9.1.3.3."):
				kind = "mask"
			case i != d14 && strings.HasPrefix(t.Section, "11."):
				kind = "enum"
			case i != d14 && strings.HasPrefix(t.Section, "12."):
				kind = "mask"
			default:
				continue
			}
			name := strings.TrimSuffix(t.Heading, " Enumeration")
			if name == "Tag" {
				continue // the tag table itself, see tags()
			}
			if len(t.Rows) > 1 && len(t.Rows[1]) == 2 && t.Rows[1][0] == "Name" && t.Rows[1][1] == "Value" && x.enumsB[name] == nil {
				// A table with only Extensions (1.4 Opaque Data Type)
				// still defines the enumeration.
				x.enumsB[name] = &enumDef{name: name, kind: kind, values: map[uint32]*enumValue{}}
			}
			if ed := x.enumsB[name]; ed != nil {
				ed.section[i] = t.Section
			}
			for _, r := range t.Rows {
				if len(r) < 2 || isPlaceholder(r[0]) {
					continue
				}
				m := valueRE.FindStringSubmatch(r[1])
				if m == nil {
					continue
				}
				v64, _ := strconv.ParseUint(m[1], 16, 32)
				ed := x.enumsB[name]
				if ed == nil {
					ed = &enumDef{name: name, kind: kind, values: map[uint32]*enumValue{}}
					x.enumsB[name] = ed
				}
				if ed.kind != kind {
					log.Fatalf("extract: %s is both enum and mask", name)
				}
				ed.section[i] = t.Section
				ev := ed.values[uint32(v64)]
				if ev == nil {
					ev = &enumValue{value: uint32(v64)}
					ed.values[ev.value] = ev
				}
				if ev.names[i] != "" && ev.names[i] != r[0] {
					log.Fatalf("extract: %s 0x%08X named %q and %q in %s", name, ev.value, ev.names[i], r[0], docs[i].ver)
				}
				ev.names[i] = r[0]
			}
		}
	}
}

// link attaches enumerations to tags and works out each enumeration's base
// version.
func (x *extraction) link() {
	sec14 := map[string]string{}
	for _, ed := range x.enumsB {
		if s := ed.section[d14]; s != "" {
			sec14[s] = ed.name
		}
	}
	for _, td := range x.tagsV {
		want := "Enumeration"
		if ed := x.enumsB[td.name]; ed != nil && ed.kind == "mask" {
			want = "Integer"
		}
		typed := td.types[0][want] > 0 || td.types[1][want] > 0
		untyped := len(td.types[0])+len(td.types[1]) == 0
		switch {
		case tagEnumExceptions[td.name] != "":
			td.enum = tagEnumExceptions[td.name]
		case x.enumsB[td.name] != nil && (typed || untyped):
			// Tags only named in payload tables (Object | REQUIRED |
			// Description) have no Encoding column; the enumeration of the
			// same name gives their type.
			td.enum = td.name
			for j, in := range [2]bool{td.in[d14], td.in[d20] || td.in[d21]} {
				if in && len(td.types[j]) == 0 {
					td.types[j] = map[string]int{want: 1}
				}
			}
		default:
			for _, ref := range td.ref14 {
				if n := sec14[ref]; n != "" {
					td.enum = n
				}
			}
		}
		if td.enum == "" && td.types[0]["Enumeration"]+td.types[1]["Enumeration"] > 0 {
			log.Printf("extract: warning: Enumeration tag %s has no enumeration", td.name)
		}
	}
	for _, ed := range x.enumsB {
		for _, td := range x.tagsV {
			if td.enum == ed.name && (ed.base == "" || verLess(td.since, ed.base)) {
				ed.base = td.since
			}
		}
		if ed.base == "" {
			log.Printf("extract: warning: enumeration %s is used by no tag", ed.name)
			ed.base = "1.0"
		}
	}
}

// certAttrSection20 is 2.0 §4.6 Certificate Attributes.
const certAttrSection20 = "4.6"

var ruleKeys = []string{
	"SHALL always have a value",
	"Initially set by",
	"Modifiable by server",
	"Modifiable by client",
	"Deletable by client",
	"Multiple instances permitted",
	"When implicitly set",
	"Applies to Object Types",
}

// attributes reads every attribute rules table (1.4 §3, 2.x §4): the
// attribute is the enclosing section, its tag the tag of the same name.
func (x *extraction) attributes() {
	x.attrs = map[string]*attrDef{}
	add := func(i int, name, section string, rules map[string]string) {
		if x.tagsBy[name] == nil {
			log.Fatalf("extract: attribute %q (%s §%s) has no tag of that name", name, docs[i].ver, section)
		}
		ad := x.attrs[name]
		if ad == nil {
			ad = &attrDef{name: name, tag: name}
			x.attrs[name] = ad
		}
		ad.in[i] = true
		ad.section[i] = section
		ad.rules[i] = rules
	}
	for i, ts := range x.docs {
		for k, t := range ts {
			if t.Caption == "Attribute Rules" || (i == d14 && !strings.HasPrefix(t.Section, "3.")) || (i != d14 && !strings.HasPrefix(t.Section, "4.")) {
				continue
			}
			rules := map[string]string{}
			for _, r := range t.Rows {
				if len(r) == 2 && slices.Contains(ruleKeys, r[0]) {
					rules[r[0]] = r[1]
				}
			}
			if rules["Modifiable by server"] == "" {
				continue
			}
			if t.Heading != "Certificate Attributes" {
				if i == d20 && t.Section == certAttrSection20 {
					log.Fatalf("extract: 2.0 §%s is no longer Certificate Attributes", certAttrSection20)
				}
				add(i, t.Heading, t.Section, rules)
				continue
			}
			// 2.0 §4.6: one rules table for every Certificate Subject/Issuer
			// field listed in the preceding table.
			for j := k - 1; j >= 0 && ts[j].Section == t.Section; j-- {
				if len(ts[j].Rows) > 0 && len(ts[j].Rows[0]) == 2 && ts[j].Rows[0][0] == "Item" {
					for _, r := range ts[j].Rows[1:] {
						add(i, r[0], t.Section, rules)
					}
					break
				}
			}
		}
	}
	// 2.0 §4.53 / 2.1 §4.60 Vendor Attribute has no rules table; it replaces
	// the 1.x Custom Attribute (1.4 §3.39), whose rules the text repeats
	// ("x" for client-created, "y" for server-created attributes). It is
	// carried in an Attribute structure.
	custom := x.attrs["Custom Attribute"]
	if custom == nil {
		log.Fatal("extract: no Custom Attribute in 1.4")
	}
	for _, s := range []struct {
		i       int
		section string
	}{{d20, "4.53"}, {d21, "4.60"}} {
		ad := x.attrs["Vendor Attribute"]
		if ad == nil {
			ad = &attrDef{name: "Vendor Attribute", tag: "Attribute"}
			x.attrs[ad.name] = ad
		}
		ad.in[s.i] = true
		ad.section[s.i] = s.section
		ad.rules[s.i] = custom.rules[d14]
	}
}

func verLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	ma, _ := strconv.Atoi(pa[0])
	mb, _ := strconv.Atoi(pb[0])
	na, _ := strconv.Atoi(pa[1])
	nb, _ := strconv.Atoi(pb[1])
	return ma < mb || ma == mb && na < nb
}

// typeList orders the types seen for a tag by how often the spec uses them.
func typeList(m map[string]int) string {
	var ts []string
	for t := range m {
		ts = append(ts, t)
	}
	slices.SortFunc(ts, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	return strings.Join(ts, "|")
}

func (x *extraction) tagRows() [][]string {
	rows := [][]string{{"name", "value", "since", "until", "type_1x", "type_2x", "enum"}}
	vals := make([]uint32, 0, len(x.tagsV))
	for v := range x.tagsV {
		vals = append(vals, v)
	}
	slices.Sort(vals)
	for _, v := range vals {
		td := x.tagsV[v]
		var t1, t2 string
		if td.in[d14] {
			t1 = typeList(td.types[0])
		}
		if td.in[d20] || td.in[d21] {
			t2 = typeList(td.types[1])
		}
		rows = append(rows, []string{td.name, fmt.Sprintf("0x%06X", v), td.since, td.until, t1, t2, td.enum})
	}
	return rows
}

// valueRows lists each value of each enumeration (or mask). A value whose
// name changed between documents has one row per name; the first row is
// the name to print (the newest spelling, after enumNameFixes).
func (x *extraction) valueRows(kind string) [][]string {
	rows := [][]string{{"enum", "value", "name", "since", "until"}}
	for _, en := range x.sortedEnums() {
		ed := x.enumsB[en]
		if ed.kind != kind {
			continue
		}
		vals := make([]uint32, 0, len(ed.values))
		for v := range ed.values {
			vals = append(vals, v)
		}
		slices.Sort(vals)
		for _, v := range vals {
			ev := ed.values[v]
			// Per document, the (fixed) name; the names in order of
			// preference: newest first.
			var names []string
			fixed := [3]string{}
			for i, n := range ev.names {
				fixed[i] = n
				if f := enumNameFixes[en][n]; f != "" {
					fixed[i] = f
				}
			}
			for i := 2; i >= 0; i-- {
				for _, n := range []string{fixed[i], ev.names[i]} {
					if n != "" && !slices.Contains(names, n) {
						names = append(names, n)
					}
				}
			}
			for _, n := range names {
				var in [3]bool
				for i := range 3 {
					in[i] = fixed[i] == n || ev.names[i] == n
				}
				since, until := x.span(in, ed.base)
				rows = append(rows, []string{en, fmt.Sprintf("0x%08X", v), n, since, until})
			}
		}
	}
	return rows
}

// span turns presence in the three documents into a since/until pair; base
// is the 1.x version for something present in 1.4.
func (x *extraction) span(in [3]bool, base string) (since, until string) {
	switch {
	case in[d14]:
		since = base
	case in[d20]:
		since = "2.0"
	default:
		since = "2.1"
	}
	switch {
	case in[d21]:
	case in[d20]:
		until = "2.0"
	default:
		until = "1.4"
	}
	return since, until
}

func (x *extraction) sortedEnums() []string {
	var ns []string
	for n := range x.enumsB {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return ns
}

func (x *extraction) enumerationRows() [][]string {
	rows := [][]string{{"enum", "kind", "since", "until", "section_1_4", "section_2_0", "section_2_1"}}
	for _, en := range x.sortedEnums() {
		ed := x.enumsB[en]
		in := [3]bool{ed.section[0] != "", ed.section[1] != "", ed.section[2] != ""}
		since, until := x.span(in, ed.base)
		rows = append(rows, []string{en, ed.kind, since, until, ed.section[0], ed.section[1], ed.section[2]})
	}
	return rows
}

func (x *extraction) attributeRows() [][]string {
	head := []string{"name", "tag", "since", "until", "section_1_4", "section_2_0", "section_2_1"}
	for _, k := range ruleKeys {
		head = append(head, strings.ToLower(strings.ReplaceAll(k, " ", "_")))
	}
	rows := [][]string{head}
	var ns []string
	for n := range x.attrs {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	for _, n := range ns {
		ad := x.attrs[n]
		since, until := x.span(ad.in, x.tagsBy[ad.tag].since)
		switch {
		case ad.tag == "Attribute":
			since = "2.0" // Vendor Attribute: the tag is older than the attribute
		case ad.section[d20] == certAttrSection20 && !ad.in[d14]:
			// The Certificate Subject/Issuer fields (tags 0x420108-0x42011F)
			// were added in 1.4 for these attributes, but only 2.0 §4.6
			// describes them; the 1.4 test cases (TC-CERTATTR-1-14) already
			// use them as 1.x attribute names.
			since = x.tagsBy[ad.tag].since
		}
		// Rules from the newest document that defines the attribute.
		var rules map[string]string
		for i := 2; i >= 0 && rules == nil; i-- {
			rules = ad.rules[i]
		}
		if ad.rules[d14] != nil && ad.rules[d20] != nil {
			for _, k := range ruleKeys {
				if verbose && ad.rules[d14][k] != ad.rules[d20][k] {
					log.Printf("extract: note: %s %q: 1.4 %q, 2.0 %q", n, k, ad.rules[d14][k], ad.rules[d20][k])
				}
			}
		}
		row := []string{n, ad.tag, since, until, ad.section[0], ad.section[1], ad.section[2]}
		for _, k := range ruleKeys {
			row = append(row, rules[k])
		}
		rows = append(rows, row)
	}
	return rows
}
