package conformance

import (
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kmipd/kmipd/kmip"
)

var testNames = kmip.NewNames()

// loadedSets caches the sets the tests load: parsing them all takes
// seconds under the race detector.
var loadedSets struct {
	sync.Mutex
	sets map[string][]*Vector
}

// loadSet loads one set of the vectors, once per test binary.
func loadSet(t *testing.T, set string) []*Vector {
	t.Helper()
	root := vectorsRoot(t)
	loadedSets.Lock()
	defer loadedSets.Unlock()
	if vs, ok := loadedSets.sets[set]; ok {
		return vs
	}
	vs, err := LoadVectors(root, []string{set}, testNames)
	if err != nil {
		t.Fatal(err)
	}
	if loadedSets.sets == nil {
		loadedSets.sets = map[string][]*Vector{}
	}
	loadedSets.sets[set] = vs
	return vs
}

// TestLoadVectorSets checks every set against the inventory of the
// vectors' README: files, request messages, and the two quirky files.
func TestLoadVectorSets(t *testing.T) {
	tests := []struct {
		set          string
		files, steps int
	}{
		{"kmip-1.0-1.2/mandatory", 57, 402},
		{"kmip-1.3/mandatory", 55, 286},
		{"kmip-1.3/testcases", 39, 114},
		{"kmip-1.4/mandatory", 68, 454},
		{"kmip-1.4/testcases", 110, 565},
		{"kmip-2.0/mandatory", 66, 456},
		{"kmip-2.0/testcases", 60, 425},
	}
	for _, tt := range tests {
		t.Run(tt.set, func(t *testing.T) {
			if testing.Short() && !slices.Contains(MandatorySets, tt.set) {
				t.Skip("-short: mandatory sets only")
			}
			vs := loadSet(t, tt.set)
			steps := 0
			for _, v := range vs {
				steps += len(v.Steps)
				if v.Set != tt.set || v.Version.Major == 0 {
					t.Errorf("%s: set %q version %v", v.ID, v.Set, v.Version)
				}
				if len(v.SetOperations) == 0 {
					t.Errorf("%s: no set operations", v.ID)
				}
			}
			if len(vs) != tt.files || steps != tt.steps {
				t.Errorf("%d files, %d steps; want %d, %d", len(vs), steps, tt.files, tt.steps)
			}
		})
	}
}

// TestVectorQuirks checks the documented handling of the three broken
// upstream files.
func TestVectorQuirks(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: loads the Test Cases sets")
	}
	load := func(set, id string) *Vector {
		t.Helper()
		for _, v := range loadSet(t, set) {
			if v.ID == id {
				return v
			}
		}
		t.Fatalf("%s/%s not found", set, id)
		return nil
	}

	ecdsa := load("kmip-1.4/testcases", "TC-ECDSA-SIGN-1-14")
	if !slices.Contains(ecdsa.Quirks, RuleTrailingContent) {
		t.Errorf("TC-ECDSA-SIGN-1-14: quirks %v, want %s", ecdsa.Quirks, RuleTrailingContent)
	}

	dk := load("kmip-1.4/testcases", "TC-DERIVEKEY-4-10")
	if !slices.Contains(dk.Quirks, RulePairByOperation) {
		t.Errorf("TC-DERIVEKEY-4-10: quirks %v, want %s", dk.Quirks, RulePairByOperation)
	}
	n := len(dk.Steps)
	got := []kmip.Operation{dk.Steps[n-2].Operations[0], dk.Steps[n-1].Operations[0]}
	if want := []kmip.Operation{kmip.OperationRevoke, kmip.OperationDestroy}; !slices.Equal(got, want) {
		t.Errorf("TC-DERIVEKEY-4-10 ends with %v, want %v", got, want)
	}

	// The third, TC-RNG-ATTR-2-13, is handled at run time by rule
	// fallback-last-id; see TestBindingsResolve.
	rng := load("kmip-1.3/testcases", "TC-RNG-ATTR-2-13")
	if len(rng.Quirks) != 0 {
		t.Errorf("TC-RNG-ATTR-2-13: quirks %v, want none at load time", rng.Quirks)
	}

	// CS-BC-M-13: the Encrypt response's literal Data and IV come back
	// as $DATA_0 and $IV_COUNTER_NONCE (rule literal-then-placeholder).
	cs := load("kmip-1.4/mandatory", "CS-BC-M-13-14")
	if sc := cs.Steps[1].ServerChosen; !sc[kmip.TagData] || !sc[kmip.TagIVCounterNonce] {
		t.Errorf("CS-BC-M-13-14 step 2: server-chosen tags %v, want Data and IVCounterNonce", sc)
	}
}

const vecHeader = `<RequestHeader><ProtocolVersion><ProtocolVersionMajor type="Integer" value="1"/><ProtocolVersionMinor type="Integer" value="4"/></ProtocolVersion><BatchCount type="Integer" value="1"/></RequestHeader>`

func vecRequest(op string) string {
	return `<RequestMessage>` + vecHeader + `<BatchItem><Operation type="Enumeration" value="` + op + `"/><RequestPayload/></BatchItem></RequestMessage>`
}

func vecResponse(op string) string {
	return `<ResponseMessage><ResponseHeader><ProtocolVersion><ProtocolVersionMajor type="Integer" value="1"/><ProtocolVersionMinor type="Integer" value="4"/></ProtocolVersion><TimeStamp type="DateTime" value="$NOW"/><BatchCount type="Integer" value="1"/></ResponseHeader><BatchItem><Operation type="Enumeration" value="` + op + `"/><ResultStatus type="Enumeration" value="Success"/></BatchItem></ResponseMessage>`
}

func TestParseVector(t *testing.T) {
	q, qr := vecRequest("Query"), vecResponse("Query")
	d, dr := vecRequest("Destroy"), vecResponse("Destroy")
	r, rr := vecRequest("Revoke"), vecResponse("Revoke")
	tests := []struct {
		name    string
		doc     string
		wantErr string
		steps   int
		quirks  []string
		order   []kmip.Operation
	}{
		{name: "one pair", doc: "<KMIP>\n<!-- c -->\n" + q + qr + "</KMIP>", steps: 1, order: []kmip.Operation{kmip.OperationQuery}},
		{name: "1.0-1.2 root", doc: "<KmipTestCase>" + q + qr + "</KmipTestCase>", steps: 1},
		{name: "two pairs", doc: "<KMIP>" + q + qr + d + dr + "</KMIP>", steps: 2, order: []kmip.Operation{kmip.OperationQuery, kmip.OperationDestroy}},
		{name: "trailing close tag", doc: "<KMIP>" + q + qr + "</KMIP>\n</KMIP>\n", steps: 1, quirks: []string{RuleTrailingContent}},
		{name: "replies out of order", doc: "<KMIP>" + d + r + rr + dr + "</KMIP>", steps: 2, quirks: []string{RulePairByOperation},
			order: []kmip.Operation{kmip.OperationRevoke, kmip.OperationDestroy}},
		{name: "request without response", doc: "<KMIP>" + q + qr + d + "</KMIP>", wantErr: "request without a response"},
		{name: "response without request", doc: "<KMIP>" + qr + "</KMIP>", wantErr: "response without a request"},
		{name: "no pair for response", doc: "<KMIP>" + d + r + qr + "</KMIP>", wantErr: "no pending request"},
		{name: "empty", doc: "<KMIP></KMIP>", wantErr: "no request message"},
		{name: "bad root", doc: "<Foo>" + q + qr + "</Foo>", wantErr: "root element <Foo>"},
		{name: "unknown element", doc: "<KMIP><Foo/></KMIP>", wantErr: "unexpected <Foo>"},
		{name: "text before root", doc: "# note\n<KMIP>" + q + qr + "</KMIP>", wantErr: "text before the root"},
		{name: "unclosed root", doc: "<KMIP>" + q + qr, wantErr: "unexpected EOF"},
		{name: "no root", doc: "  ", wantErr: "no root element"},
		{name: "bad placeholder", doc: "<KMIP>" + strings.Replace(q, `<RequestPayload/>`, `<RequestPayload><UniqueIdentifier type="TextString" value="$lower"/></RequestPayload>`, 1) + qr + "</KMIP>", wantErr: "unexpected character"},
		{name: "unknown tag", doc: "<KMIP>" + strings.Replace(q, `<RequestPayload/>`, `<RequestPayload><NoSuchTag type="Integer" value="1"/></RequestPayload>`, 1) + qr + "</KMIP>", wantErr: "unknown tag"},
		{name: "malformed XML", doc: "<KMIP><RequestMessage></KMIP>", wantErr: "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := ParseVector(filepath.Join("set", "X-1-14.xml"), "set", []byte(tt.doc), testNames)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.ID != "X-1-14" || v.Name() != "set/X-1-14" || v.Version != kmip.V1_4 {
				t.Errorf("id %q name %q version %v", v.ID, v.Name(), v.Version)
			}
			if len(v.Steps) != tt.steps || !slices.Equal(v.Quirks, tt.quirks) {
				t.Errorf("%d steps, quirks %v; want %d, %v", len(v.Steps), v.Quirks, tt.steps, tt.quirks)
			}
			if tt.order != nil {
				var got []kmip.Operation
				for _, s := range v.Steps {
					got = append(got, s.Operations...)
				}
				if !slices.Equal(got, tt.order) {
					t.Errorf("operations %v, want %v", got, tt.order)
				}
			}
		})
	}
}

func TestParseToken(t *testing.T) {
	tests := []struct {
		in      string
		kind    tokenKind
		family  string
		offset  time.Duration
		wantErr bool
	}{
		{in: "$UNIQUE_IDENTIFIER_0", kind: kindID, family: "UNIQUE_IDENTIFIER"},
		{in: "$UNIQUE_IDENTIFIER", kind: kindID, family: "UNIQUE_IDENTIFIER"},
		{in: "$SHORT_UNIQUE_IDENTIFIER_1", kind: kindID, family: "SHORT_UNIQUE_IDENTIFIER"},
		{in: "$UNIQUE_IDENTIFIER_RANDOM_0", kind: kindRandomID, family: "UNIQUE_IDENTIFIER_RANDOM"},
		{in: "$SHORT_UNIQUE_IDENTIFIER_RANDOM_0", kind: kindRandomID, family: "SHORT_UNIQUE_IDENTIFIER_RANDOM"},
		{in: "$NOW", kind: kindNow, family: "NOW"},
		{in: "$NOW-3600", kind: kindNow, family: "NOW", offset: -time.Hour},
		{in: "$NOW+60", kind: kindNow, family: "NOW", offset: time.Minute},
		{in: "$DATA_25", kind: kindCaptured, family: "DATA"},
		{in: "$IV_COUNTER_NONCE", kind: kindCaptured, family: "IV_COUNTER_NONCE"},
		{in: "$CORRELATION_VALUE", kind: kindCaptured, family: "CORRELATION_VALUE"},
		{in: "$NOW*2", wantErr: true},
		{in: "$NOW+x", wantErr: true},
		{in: "$", wantErr: true},
		{in: "DATA", wantErr: true},
		{in: "$data", wantErr: true},
		{in: "$0DATA", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			tok, err := parseToken(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parsed as %+v, want an error", tok)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tok.kind != tt.kind || tok.family != tt.family || tok.offset != tt.offset {
				t.Errorf("got %+v, want kind %d family %s offset %v", tok, tt.kind, tt.family, tt.offset)
			}
		})
	}
}

func TestNaturalLess(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"SKFF-M-2-14", "SKFF-M-10-14", true},
		{"SKFF-M-10-14", "SKFF-M-2-14", false},
		{"CS-AC-M-1-14", "CS-AC-M-OAEP-1-14", true},
		{"A-01", "A-1", false},
		{"A-1", "A-1", false},
		{"A", "A-1", true},
	}
	for _, tt := range tests {
		if got := naturalLess(tt.a, tt.b); got != tt.want {
			t.Errorf("naturalLess(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestSeries checks that the files of a series run together, in order,
// and that only the first of each starts a fresh server.
func TestSeries(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: loads the Test Cases sets")
	}
	tests := []struct {
		set  string
		want []string
	}{
		{"kmip-1.4/mandatory", []string{"SASED-M-1-14", "SASED-M-2-14", "SASED-M-3-14"}},
		{"kmip-1.4/mandatory", []string{"TL-M-1-14", "TL-M-2-14", "TL-M-3-14"}},
		{"kmip-1.3/testcases", []string{"TC-OTP-SETUP-1-13", "TC-OTP-1-13", "TC-OTP-2-13", "TC-OTP-3-13", "TC-OTP-4-13", "TC-OTP-5-13", "TC-OTP-CLEANUP-1-13"}},
		{"kmip-1.4/testcases", []string{"TC-OTP-1-14", "TC-OTP-2-14", "TC-OTP-3-14", "TC-OTP-4-14", "TC-OTP-5-14"}},
	}
	for _, tt := range tests {
		t.Run(tt.set+"/"+tt.want[0], func(t *testing.T) {
			vs := loadSet(t, tt.set)
			start := slices.IndexFunc(vs, func(v *Vector) bool { return v.ID == tt.want[0] })
			if start < 0 || start+len(tt.want) > len(vs) {
				t.Fatalf("%s not found", tt.want[0])
			}
			for i, id := range tt.want {
				v := vs[start+i]
				if v.ID != id || v.Series == "" || v.SeriesStart != (i == 0) {
					t.Errorf("position %d: %s (series %q, start %v), want %s", i, v.ID, v.Series, v.SeriesStart, id)
				}
			}
			if next := start + len(tt.want); next < len(vs) && vs[next].Series == vs[start].Series && !vs[next].SeriesStart {
				t.Errorf("%s continues the series", vs[next].ID)
			}
		})
	}
	// TC-OTP-SETUP-2 is the alternative setup: it runs alone.
	if name, _ := seriesOf("TC-OTP-SETUP-2-13"); name != "" {
		t.Errorf("TC-OTP-SETUP-2-13 is in series %q", name)
	}
}

// TestLoadVectorsRoot checks loading a directory of sets and a set
// directory given as the root.
func TestLoadVectorsRoot(t *testing.T) {
	root := vectorsRoot(t)
	vs, err := LoadVectors(filepath.Join(root, "kmip-2.0", "mandatory"), nil, testNames)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 66 || vs[0].Name() != "kmip-2.0/mandatory/AKLC-M-1-20" {
		t.Errorf("%d vectors, first %s", len(vs), vs[0].Name())
	}
	if _, err := LoadVectors(t.TempDir(), nil, testNames); err == nil || !strings.Contains(err.Error(), "no .xml file") {
		t.Errorf("empty directory: %v", err)
	}
	if _, err := LoadVectors(root, []string{"no/such/set"}, testNames); err == nil {
		t.Error("missing set loaded")
	}
}

// TestRules checks the rule table: every rule named, scoped, explained,
// and named once.
func TestRules(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules {
		if r.ID == "" || r.Scope == "" || r.Action == "" || r.Reason == "" {
			t.Errorf("rule %+v has an empty field", r)
		}
		if seen[r.ID] {
			t.Errorf("rule %s listed twice", r.ID)
		}
		seen[r.ID] = true
	}
	for _, id := range []string{
		RuleExact, RuleCleanStore, RuleStopAtFirst, RuleBatchItems, RuleResultMessage, RuleUniqueID,
		RuleRandomID, RuleFallbackLastID, RuleNow, RuleCaptured, RuleLatestResponse, RuleLiteralPlaceholder,
		RuleServerIV, RuleRNGOutput, RuleGeneratedKey, RuleUnpredictable, RuleQueryProfile, RuleAttributeSet,
		RulePolicyAttributes, RuleAttributeIndex, RuleAllAttributes, RuleLocateSet, RuleBigInteger,
		RuleTrailingContent, RulePairByOperation, RuleXMLValueNormalizing, RuleSeries, RuleReferenceClock,
		RuleDiscoverVersions, RuleExtractionWhitespace,
	} {
		if !seen[id] {
			t.Errorf("rule %s is not in Rules", id)
		}
	}
}

// TestExtractionWhitespace checks that the line wraps the 1.0-1.2
// extraction left in Attribute Names are read as one space.
func TestExtractionWhitespace(t *testing.T) {
	req := strings.Replace(vecRequest("GetAttributes"), `<RequestPayload/>`,
		`<RequestPayload><AttributeName type="TextString" value="Unique   Identifier"/><AttributeName type="TextString" value="State"/></RequestPayload>`, 1)
	v, err := ParseVector("s/X-1-10.xml", "s", []byte("<KmipTestCase>"+req+vecResponse("GetAttributes")+"</KmipTestCase>"), testNames)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(v.Quirks, RuleExtractionWhitespace) {
		t.Errorf("quirks %v, want %s", v.Quirks, RuleExtractionWhitespace)
	}
	if s := string(v.Steps[0].Request); !strings.Contains(s, `value="Unique Identifier"`) || strings.Contains(s, "  Identifier") {
		t.Errorf("request not collapsed:\n%s", s)
	}
}
