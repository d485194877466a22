package conformance

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// The OASIS XML test vectors: each file is one ordered conversation of
// <RequestMessage>/<ResponseMessage> pairs inside <KMIP> (or <KmipTestCase>
// in the extracted 1.0-1.2 set), see shared/conformance/README.md.

// Sets of vectors, as directories under the testcases root.
var (
	// MandatorySets are run by default: the 1.4 and 2.0 profile test
	// cases a conforming server must pass.
	MandatorySets = []string{"kmip-1.4/mandatory", "kmip-2.0/mandatory"}
	// ExtraSets are run too with KMIPD_CONFORMANCE_ALL=1: the older
	// mandatory sets and the Test Cases committee notes.
	ExtraSets = []string{
		"kmip-1.3/mandatory", "kmip-1.0-1.2/mandatory",
		"kmip-1.4/testcases", "kmip-2.0/testcases", "kmip-1.3/testcases",
	}
)

// maxVectorSize bounds a vector file; the largest OASIS file is about
// 200 KB.
const maxVectorSize = 8 << 20

// Vector is one test vector file.
type Vector struct {
	// ID is the file name without ".xml", e.g. "SKFF-M-9-14".
	ID string
	// Set is the file's directory relative to the vectors root, e.g.
	// "kmip-1.4/mandatory"; for files in the root itself, the root's last
	// two path elements, which name the set in the usual layout.
	Set string
	// Path is the file's path.
	Path string
	// Version is the protocol version of the first request.
	Version kmip.ProtocolVersion
	// Steps are the request/response pairs in the order they are run.
	Steps []Step
	// Quirks lists the IDs of the rules (see Rules) that had to be applied
	// to read the file: a malformed end, replies out of order.
	Quirks []string
	// Series names the series of files the vector belongs to, "" for
	// none; SeriesStart is true for the first file of a series that ran
	// (rule series). A server keeps its store from one file of a series to
	// the next.
	Series      string
	SeriesStart bool
	// RequestTimes holds the literal Date-Time values a request sends
	// before any response shows them (rule reference-clock).
	RequestTimes map[uint64]bool
	// EchoedTimes holds the literal Date-Time values a request sends
	// after a response showed them first: the reference server's clock,
	// sent back (rule echoed-reference-clock).
	EchoedTimes map[uint64]bool
	// SetOperations and SetObjectTypes are the operations and object
	// types that the requests of all the vectors of the same set use,
	// sorted: what Query must report for the set's profile (rule
	// query-profile).
	SetOperations  []kmip.Operation
	SetObjectTypes []kmip.ObjectType
}

// Name is "set/ID", the name of the vector's subtest and its key in the
// known-failures list.
func (v *Vector) Name() string { return v.Set + "/" + v.ID }

// Step is one request and the response it must get.
type Step struct {
	// Request and Response are the raw XML of the two elements, parsed
	// again at run time so that placeholders take the values of the
	// conversation so far.
	Request, Response []byte
	// RequestLine and ResponseLine are the elements' line numbers in the
	// file, for messages.
	RequestLine, ResponseLine int
	// Operations are the operations of the request's batch items.
	Operations []kmip.Operation
	// ObjectTypes are the Object Types the request names.
	ObjectTypes []kmip.ObjectType
	// Version is the request's protocol version.
	Version kmip.ProtocolVersion
	// RequestPlaceholders and ResponsePlaceholders list the placeholders
	// of each message in document order.
	RequestPlaceholders, ResponsePlaceholders []PlaceholderUse
	// ResponseTags is the set of tags that occur in the response.
	ResponseTags map[ttlv.Tag]bool
	// ServerChosen are tags whose literal values in this response are the
	// reference server's choice and are compared by type and length only,
	// because a later request takes them back through an unbound
	// placeholder (rule literal-then-placeholder).
	ServerChosen map[ttlv.Tag]bool
}

// PlaceholderUse is one placeholder in a message.
type PlaceholderUse struct {
	Tag   ttlv.Tag
	Type  ttlv.Type
	Token string
}

// message is one top-level element of a vector file.
type message struct {
	request bool
	raw     []byte
	line    int
	ops     []kmip.Operation
	phs     []PlaceholderUse
	tags    map[ttlv.Tag]bool
	times   []uint64             // the Date-Time values of the message
	objects []kmip.ObjectType    // the Object Types a request names
	version kmip.ProtocolVersion // a request's protocol version
}

// ParseVector reads the vector file data (named path, in set).
func ParseVector(path, set string, data []byte, names *kmip.Names) (*Vector, error) {
	if len(data) > maxVectorSize {
		return nil, fmt.Errorf("vector %s: %d bytes exceeds the limit of %d", path, len(data), maxVectorSize)
	}
	v := &Vector{
		ID:   strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)),
		Set:  set,
		Path: path,
	}
	msgs, trailing, err := splitMessages(data)
	if err != nil {
		return nil, fmt.Errorf("vector %s: %w", path, err)
	}
	if trailing {
		v.Quirks = append(v.Quirks, RuleTrailingContent)
	}
	collapsed := false
	for i := range msgs {
		if raw, ok := collapseAttributeNames(msgs[i].raw); ok {
			msgs[i].raw, collapsed = raw, true
		}
	}
	if collapsed {
		v.Quirks = append(v.Quirks, RuleExtractionWhitespace)
	}
	v.RequestTimes, v.EchoedTimes = map[uint64]bool{}, map[uint64]bool{}
	shown := map[uint64]bool{} // the Date-Times of the responses so far
	for i := range msgs {
		if err := scanMessage(&msgs[i], names); err != nil {
			return nil, fmt.Errorf("vector %s: line %d: %w", path, msgs[i].line, err)
		}
		for _, t := range msgs[i].times {
			switch {
			case !msgs[i].request:
				shown[t] = true
			case shown[t]:
				v.EchoedTimes[t] = true
			default:
				v.RequestTimes[t] = true
			}
		}
	}
	steps, reordered, err := pairMessages(msgs)
	if err != nil {
		return nil, fmt.Errorf("vector %s: %w", path, err)
	}
	if reordered {
		v.Quirks = append(v.Quirks, RulePairByOperation)
	}
	if len(steps) == 0 {
		return nil, fmt.Errorf("vector %s: no request message", path)
	}
	v.Steps = steps
	markServerChosen(v.Steps)
	v.Version = steps[0].Version
	if v.Version.Major == 0 {
		return nil, fmt.Errorf("vector %s: the first request has no protocol version", path)
	}
	return v, nil
}

// splitMessages returns the top-level messages of a vector file, reading
// up to the end of the root element. trailing reports non-blank content
// after it: TC-ECDSA-SIGN-1-14 ends with a second </KMIP> (rule
// trailing-content), which a conforming XML parser refuses.
func splitMessages(data []byte) (msgs []message, trailing bool, err error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	var root string
	for {
		off := d.InputOffset()
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			if root == "" {
				return nil, false, errors.New("no root element")
			}
			return nil, false, fmt.Errorf("root element <%s> is not closed", root)
		}
		if err != nil {
			return nil, false, fmt.Errorf("line %d: %w", lineAt(data, d.InputOffset()), err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root == "" {
				if t.Name.Local != "KMIP" && t.Name.Local != "KmipTestCase" {
					return nil, false, fmt.Errorf("root element <%s>, want <KMIP> or <KmipTestCase>", t.Name.Local)
				}
				root = t.Name.Local
				continue
			}
			var req bool
			switch t.Name.Local {
			case "RequestMessage":
				req = true
			case "ResponseMessage":
			default:
				return nil, false, fmt.Errorf("line %d: unexpected <%s> in <%s>", lineAt(data, off), t.Name.Local, root)
			}
			if err := d.Skip(); err != nil {
				return nil, false, fmt.Errorf("line %d: %w", lineAt(data, off), err)
			}
			end := d.InputOffset()
			msgs = append(msgs, message{request: req, raw: data[off:end:end], line: lineAt(data, off)})
		case xml.EndElement:
			// The root's end: stop here, whatever follows.
			rest := data[d.InputOffset():]
			return msgs, len(bytes.TrimSpace(rest)) != 0, nil
		case xml.CharData:
			if root == "" && len(bytes.TrimSpace(t)) != 0 {
				return nil, false, errors.New("text before the root element")
			}
		}
	}
}

// attributeNameRE matches a 1.x Attribute Name whose value holds a run of
// whitespace.
var attributeNameRE = regexp.MustCompile(`(<AttributeName\s+type="TextString"\s+value=")([^"]*\s\s[^"]*)(")`)

// collapseAttributeNames collapses runs of whitespace in Attribute Names:
// the 1.0-1.2 set was extracted from HTML with its line wraps left in
// ("Unique   Identifier"), which no server knows (rule
// extraction-whitespace). It reports whether anything changed.
func collapseAttributeNames(raw []byte) ([]byte, bool) {
	if !attributeNameRE.Match(raw) {
		return raw, false
	}
	return attributeNameRE.ReplaceAllFunc(raw, func(m []byte) []byte {
		p := attributeNameRE.FindSubmatch(m)
		name := strings.Join(strings.Fields(string(p[2])), " ")
		return []byte(string(p[1]) + name + string(p[3]))
	}), true
}

func lineAt(data []byte, off int64) int {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	return 1 + bytes.Count(data[:off], []byte{'\n'})
}

// scanMessage parses a message once at load time with placeholders
// replaced by markers, to check that it parses and to record its
// operations, placeholders, tags and request dates.
func scanMessage(m *message, names *kmip.Names) error {
	opts := ttlv.XMLOptions{
		Names: names,
		Placeholder: func(tag ttlv.Tag, typ ttlv.Type, s string) (ttlv.Value, bool, error) {
			if _, err := parseToken(s); err != nil {
				return ttlv.Value{}, false, err
			}
			m.phs = append(m.phs, PlaceholderUse{Tag: tag, Type: typ, Token: s})
			marker := ttlv.Long(tag, 0)
			marker.Type = markerType
			return marker, true, nil
		},
	}
	v, err := opts.Unmarshal(m.raw)
	if err != nil {
		return err
	}
	m.tags = map[ttlv.Tag]bool{}
	walk(v, func(x ttlv.Value) {
		m.tags[x.Tag] = true
		switch {
		case x.Type == ttlv.TypeDateTime || x.Type == ttlv.TypeDateTimeExtended:
			m.times = append(m.times, x.Raw64())
		case !m.request:
		case x.Tag == kmip.TagObjectType && x.Type == ttlv.TypeEnumeration:
			m.objects = append(m.objects, kmip.ObjectType(x.Enum()))
		}
	})
	if h, ok := v.Child(kmip.TagRequestHeader); ok {
		pv, _ := h.Child(kmip.TagProtocolVersion)
		maj, _ := pv.Child(kmip.TagProtocolVersionMajor)
		minr, _ := pv.Child(kmip.TagProtocolVersionMinor)
		m.version = kmip.ProtocolVersion{Major: maj.Int(), Minor: minr.Int()}
	}
	for _, bi := range v.All(kmip.TagBatchItem) {
		if op, ok := bi.Child(kmip.TagOperation); ok {
			m.ops = append(m.ops, kmip.Operation(op.Enum()))
		} else {
			m.ops = append(m.ops, 0)
		}
	}
	return nil
}

// zeroOf is a value of type typ standing in for a placeholder.
func zeroOf(typ ttlv.Type) ttlv.Value {
	switch typ {
	case ttlv.TypeStructure:
		return ttlv.Struct(0)
	case ttlv.TypeInteger:
		return ttlv.Int(0, 0)
	case ttlv.TypeLongInteger:
		return ttlv.Long(0, 0)
	case ttlv.TypeBigInteger:
		return ttlv.BigIntRaw(0, make([]byte, 8))
	case ttlv.TypeEnumeration:
		return ttlv.Enum(0, 0)
	case ttlv.TypeBoolean:
		return ttlv.Bool(0, false)
	case ttlv.TypeTextString:
		return ttlv.Text(0, "")
	case ttlv.TypeByteString:
		return ttlv.Bytes(0, nil)
	case ttlv.TypeDateTimeExtended:
		return ttlv.DateTimeExtended(0, unixZero)
	case ttlv.TypeInterval:
		return ttlv.Interval(0, 0)
	default:
		return ttlv.DateTime(0, unixZero)
	}
}

// walk calls fn for v and every item below it, in document order.
func walk(v ttlv.Value, fn func(ttlv.Value)) {
	fn(v)
	for _, c := range v.Children() {
		walk(c, fn)
	}
}

// pairMessages pairs requests with responses. Files alternate request,
// response, ...; where one does not (TC-DERIVEKEY-4-10 sends Destroy and
// Revoke before either reply, and the replies come back Revoke, Destroy),
// each response is paired with the earliest pending request of the same
// operations and the pairs run in the order of the responses, which is the
// order the reference server executed them in (rule pair-by-operation).
func pairMessages(msgs []message) (steps []Step, reordered bool, err error) {
	var pending []message
	for _, m := range msgs {
		if m.request {
			pending = append(pending, m)
			continue
		}
		if len(pending) == 0 {
			return nil, false, fmt.Errorf("line %d: response without a request", m.line)
		}
		i := 0
		if len(pending) > 1 {
			reordered = true
			i = slices.IndexFunc(pending, func(p message) bool { return slices.Equal(p.ops, m.ops) })
			if i < 0 {
				return nil, false, fmt.Errorf("line %d: no pending request has the operations of this response", m.line)
			}
		}
		req := pending[i]
		pending = slices.Delete(pending, i, i+1)
		steps = append(steps, Step{
			Request: req.raw, Response: m.raw,
			RequestLine: req.line, ResponseLine: m.line,
			Operations:           req.ops,
			ObjectTypes:          req.objects,
			Version:              req.version,
			RequestPlaceholders:  req.phs,
			ResponsePlaceholders: m.phs,
			ResponseTags:         m.tags,
		})
	}
	if len(pending) != 0 {
		return nil, false, fmt.Errorf("line %d: request without a response", pending[0].line)
	}
	return steps, reordered, nil
}

// markServerChosen finds response literals that a later request takes
// back through a placeholder no response bound: CS-BC-M-13 answers Encrypt
// with a literal Data and IV/Counter/Nonce (the reference server chose the
// IV) and the next Decrypt sends $DATA_0 and $IV_COUNTER_NONCE. Such a
// literal is compared by type and length (rule literal-then-placeholder).
func markServerChosen(steps []Step) {
	bound := map[string]bool{}
	for j := range steps {
		for _, p := range steps[j].RequestPlaceholders {
			tok, _ := parseToken(p.Token)
			if tok.kind != kindCaptured || bound[p.Token] {
				continue
			}
			bound[p.Token] = true
			for i := j - 1; i >= 0; i-- {
				if steps[i].ResponseTags[p.Tag] {
					if steps[i].ServerChosen == nil {
						steps[i].ServerChosen = map[ttlv.Tag]bool{}
					}
					steps[i].ServerChosen[p.Tag] = true
					break
				}
			}
		}
		for _, p := range steps[j].ResponsePlaceholders {
			bound[p.Token] = true
		}
	}
}

// LoadVectors reads every *.xml file under root/set for each set (all
// directories holding .xml files under root when sets is empty), sorted
// by set in the order given and by ID.
func LoadVectors(root string, sets []string, names *kmip.Names) ([]*Vector, error) {
	if len(sets) == 0 {
		found, err := findSets(root)
		if err != nil {
			return nil, err
		}
		sets = found
	}
	var all []*Vector
	for _, set := range sets {
		dir := filepath.Join(root, filepath.FromSlash(set))
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("load vectors: set %s: %w", set, err)
		}
		var vs []*Vector
		for _, e := range entries {
			if e.IsDir() || !strings.EqualFold(filepath.Ext(e.Name()), ".xml") {
				continue
			}
			path := filepath.Join(dir, e.Name())
			data, err := readLimited(path)
			if err != nil {
				return nil, err
			}
			v, err := ParseVector(path, setName(root, set), data, names)
			if err != nil {
				return nil, err
			}
			vs = append(vs, v)
		}
		if len(vs) == 0 {
			return nil, fmt.Errorf("load vectors: set %s: no .xml file in %s", set, dir)
		}
		sort.Slice(vs, func(i, j int) bool { return naturalLess(vs[i].ID, vs[j].ID) })
		vs = orderSeries(vs)
		fillSetProfile(vs)
		all = append(all, vs...)
	}
	return all, nil
}

// setName names a set: set itself, or for the root ("."), the last two
// elements of its path ("kmip-1.4/mandatory" for .../kmip-1.4/mandatory).
func setName(root, set string) string {
	if set != "." {
		return set
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return set
	}
	parent := filepath.Base(filepath.Dir(abs))
	return parent + "/" + filepath.Base(abs)
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(filepath.Clean(path))
	if err != nil {
		return nil, fmt.Errorf("load vectors: %w", err)
	}
	defer func() { _ = f.Close() }()
	data, err := io.ReadAll(io.LimitReader(f, maxVectorSize+1))
	if err != nil {
		return nil, fmt.Errorf("load vectors: %s: %w", path, err)
	}
	return data, nil
}

// findSets lists the directories under root that hold .xml files, as
// slash-separated paths relative to root.
func findSets(root string) ([]string, error) {
	seen := map[string]bool{}
	var sets []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.EqualFold(filepath.Ext(p), ".xml") {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(p))
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !seen[rel] {
			seen[rel] = true
			sets = append(sets, rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load vectors: %s: %w", root, err)
	}
	if len(sets) == 0 {
		return nil, fmt.Errorf("load vectors: no .xml file under %s", root)
	}
	sort.Strings(sets)
	return sets, nil
}

// fillSetProfile records in each vector the operations and object types
// its set's requests use.
func fillSetProfile(vs []*Vector) {
	ops := map[kmip.Operation]bool{}
	types := map[kmip.ObjectType]bool{}
	for _, v := range vs {
		for _, s := range v.Steps {
			for _, op := range s.Operations {
				if op != 0 {
					ops[op] = true
				}
			}
			for _, t := range s.ObjectTypes {
				types[t] = true
			}
		}
	}
	opList := make([]kmip.Operation, 0, len(ops))
	for op := range ops {
		opList = append(opList, op)
	}
	slices.Sort(opList)
	typeList := make([]kmip.ObjectType, 0, len(types))
	for t := range types {
		typeList = append(typeList, t)
	}
	slices.Sort(typeList)
	for _, v := range vs {
		v.SetOperations, v.SetObjectTypes = opList, typeList
	}
}

// series are the files that continue one conversation: a later file
// Locates and destroys what an earlier one created (SASED-M-3 finds the
// Secret Data SASED-M-2 registered; TL-M-3 the key of TL-M-2; TC-CREG-2
// and -3 the objects of TC-CREG-1; TC-OTP-1..5 the one-time pad of
// TC-OTP-SETUP-1, removed by TC-OTP-CLEANUP-1). TC-OTP-SETUP-2 registers
// another pad under the same name, so it is the alternative setup and runs
// alone: names are unique in a server (KMIP 1.4 §3.2). Members are named
// without the version suffix, in the order they run (rule series).
var series = map[string][]string{
	"SASED-M": {"SASED-M-1", "SASED-M-2", "SASED-M-3"},
	"TL-M":    {"TL-M-1", "TL-M-2", "TL-M-3"},
	"TC-CREG": {"TC-CREG-1", "TC-CREG-2", "TC-CREG-3"},
	"TC-OTP": {"TC-OTP-SETUP-1", "TC-OTP-1", "TC-OTP-2", "TC-OTP-3", "TC-OTP-4", "TC-OTP-5",
		"TC-OTP-CLEANUP-1"},
}

// seriesOf returns the series of a vector ID ("TL-M-2-14") and its
// position in it, or "" when it belongs to none.
func seriesOf(id string) (string, int) {
	stem := id
	if i := strings.LastIndexByte(id, '-'); i > 0 && digitRun(id[i+1:]) == id[i+1:] {
		stem = id[:i] // drop the version suffix
	}
	for name, members := range series {
		if i := slices.Index(members, stem); i >= 0 {
			return name, i
		}
	}
	return "", 0
}

// orderSeries puts the members of each series together, in series order,
// where the first of them stands in vs; it marks each member and the
// first one of each series.
func orderSeries(vs []*Vector) []*Vector {
	groups := map[string][]*Vector{}
	for _, v := range vs {
		if name, _ := seriesOf(v.ID); name != "" {
			v.Series = name
			groups[name] = append(groups[name], v)
		}
	}
	out := make([]*Vector, 0, len(vs))
	for _, v := range vs {
		if v.Series == "" {
			out = append(out, v)
			continue
		}
		g, ok := groups[v.Series]
		if !ok {
			continue // placed with the first member already
		}
		delete(groups, v.Series)
		sort.SliceStable(g, func(i, j int) bool {
			_, a := seriesOf(g[i].ID)
			_, b := seriesOf(g[j].ID)
			return a < b
		})
		for i, m := range g {
			m.SeriesStart = i == 0
			if i > 0 {
				m.Quirks = append(m.Quirks, RuleSeries)
			}
		}
		out = append(out, g...)
	}
	return out
}

// naturalLess orders IDs with their numbers compared as numbers:
// SKFF-M-2-14 before SKFF-M-10-14.
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da != "" && db != "" {
			ta, tb := strings.TrimLeft(da, "0"), strings.TrimLeft(db, "0")
			if len(ta) != len(tb) {
				return len(ta) < len(tb)
			}
			if ta != tb {
				return ta < tb
			}
			a, b = a[len(da):], b[len(db):]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digitRun(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}
