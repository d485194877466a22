package conformance

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// respXML wraps batch item contents in a 1.4 (or 2.0) response message.
func respXML(ver, item, header string) string {
	minor := "4"
	major := "1"
	switch ver {
	case "2.0":
		major, minor = "2", "0"
	case "1.0":
		minor = "0"
	}
	return `<ResponseMessage><ResponseHeader><ProtocolVersion><ProtocolVersionMajor type="Integer" value="` + major +
		`"/><ProtocolVersionMinor type="Integer" value="` + minor + `"/></ProtocolVersion>` +
		`<TimeStamp type="DateTime" value="$TS"/>` + header + `<BatchCount type="Integer" value="1"/></ResponseHeader>` +
		`<BatchItem>` + item + `</BatchItem></ResponseMessage>`
}

func reqXML(op, payload, header string) string {
	if header != "" {
		// Extra request header fields, before Batch Count.
		return `<RequestMessage>` + strings.Replace(vecHeader, `<BatchCount`, header+`<BatchCount`, 1) + `<BatchItem><Operation type="Enumeration" value="` + op +
			`"/><RequestPayload>` + payload + `</RequestPayload></BatchItem></RequestMessage>`
	}
	return `<RequestMessage>` + vecHeader + `<BatchItem><Operation type="Enumeration" value="` + op +
		`"/><RequestPayload>` + payload + `</RequestPayload></BatchItem></RequestMessage>`
}

// compareCase compares an actual response (XML, "$TS" replaced by the
// clock) with an expected one.
type compareCase struct {
	name     string
	ver      string
	op       string
	req      string // request payload
	want     string // expected batch item contents
	got      string // actual batch item contents
	wantHdr  string // expected extra header fields, before Batch Count
	gotHdr   string // actual extra header fields
	reqHdr   string // extra request header fields
	bind     map[string]string
	setOps   []kmip.Operation
	chosen   []ttlv.Tag
	generate string   // an identifier of a generated object
	sent     []string // literal dates the vector's requests sent
	wantDiff string   // "" for no difference
	wantRule string
}

func runCompareCase(t *testing.T, tt compareCase) (*Difference, *bindings) {
	t.Helper()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	exp, err := parseExpected([]byte(strings.ReplaceAll(respXML(tt.ver, tt.want, tt.wantHdr), "$TS", "$NOW")), testNames)
	if err != nil {
		t.Fatalf("expected: %v", err)
	}
	act, err := ttlv.UnmarshalXML([]byte(strings.ReplaceAll(respXML(tt.ver, tt.got, tt.gotHdr), "$TS", now.Format(time.RFC3339))), testNames)
	if err != nil {
		t.Fatalf("actual: %v", err)
	}
	req, err := ttlv.UnmarshalXML([]byte(reqXML(tt.op, tt.req, tt.reqHdr)), testNames)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	b := newBindings()
	for k, v := range tt.bind {
		if err := b.bind(k, ttlv.Text(kmip.TagUniqueIdentifier, v)); err != nil {
			t.Fatal(err)
		}
	}
	if tt.generate != "" {
		b.objects[tt.generate] = objectFacts{generated: true}
	}
	step := &Step{ServerChosen: map[ttlv.Tag]bool{}}
	for _, tag := range tt.chosen {
		step.ServerChosen[tag] = true
	}
	vec := &Vector{Set: "set", SetOperations: tt.setOps, SetObjectTypes: []kmip.ObjectType{kmip.ObjectTypeSymmetricKey}, RequestTimes: map[uint64]bool{}}
	for _, s := range tt.sent {
		d, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		vec.RequestTimes[uint64(d.Unix())] = true
	}
	c := &comparer{
		names: testNames, b: b, step: step, vec: vec,
		start: now.Add(-time.Minute), now: now, slack: 10 * time.Second,
	}
	return c.message(exp, act, req), c.b
}

const (
	okItem   = `<Operation type="Enumeration" value="Create"/><ResultStatus type="Enumeration" value="Success"/>`
	failItem = `<Operation type="Enumeration" value="Create"/><ResultStatus type="Enumeration" value="OperationFailed"/><ResultReason type="Enumeration" value="PermissionDenied"/>`
)

func pv(major, minor int) string {
	return fmt.Sprintf(`<ProtocolVersion><ProtocolVersionMajor type="Integer" value="%d"/><ProtocolVersionMinor type="Integer" value="%d"/></ProtocolVersion>`, major, minor)
}

func uid(v string) string { return `<UniqueIdentifier type="TextString" value="` + v + `"/>` }

func payload(items ...string) string {
	return `<ResponsePayload>` + strings.Join(items, "") + `</ResponsePayload>`
}

func attr1x(name, typ, value string) string {
	return `<Attribute><AttributeName type="TextString" value="` + name + `"/><AttributeValue type="` + typ + `" value="` + value + `"/></Attribute>`
}

func TestCompare(t *testing.T) {
	getAttrs := func(items ...string) string {
		return `<Operation type="Enumeration" value="GetAttributes"/><ResultStatus type="Enumeration" value="Success"/>` + payload(items...)
	}
	locate := func(items ...string) string {
		return `<Operation type="Enumeration" value="Locate"/><ResultStatus type="Enumeration" value="Success"/>` + payload(items...)
	}
	query := func(items ...string) string {
		return `<Operation type="Enumeration" value="Query"/><ResultStatus type="Enumeration" value="Success"/>` + payload(items...)
	}
	enc := func(items ...string) string {
		return `<Operation type="Enumeration" value="Encrypt"/><ResultStatus type="Enumeration" value="Success"/>` + payload(items...)
	}
	get := func(items ...string) string {
		return `<Operation type="Enumeration" value="Get"/><ResultStatus type="Enumeration" value="Success"/>` + payload(items...)
	}
	keyBlock := func(material string) string {
		return `<SymmetricKey><KeyBlock><KeyFormatType type="Enumeration" value="Raw"/><KeyValue><KeyMaterial type="ByteString" value="` +
			material + `"/></KeyValue></KeyBlock></SymmetricKey>`
	}
	tests := []compareCase{
		{name: "identical", op: "Create", want: okItem, got: okItem},
		{name: "server correlation value the vector lacks", op: "Create", want: okItem, got: okItem,
			gotHdr: `<ServerCorrelationValue type="TextString" value="0a1b2c-9"/>`},
		{name: "server correlation value is the server's", op: "Create", want: okItem, got: okItem,
			wantHdr: `<ServerCorrelationValue type="TextString" value="8034DA-1"/>`,
			gotHdr:  `<ServerCorrelationValue type="TextString" value="0a1b2c-9"/>`},
		{name: "server correlation value must be text", op: "Create", want: okItem, got: okItem,
			gotHdr:   `<ServerCorrelationValue type="Integer" value="9"/>`,
			wantDiff: "want a non-empty Text String", wantRule: RuleServerCorrelation},
		{name: "server correlation value the server keeps from a client that did not ask", op: "Create", want: okItem, got: okItem,
			wantHdr: `<ServerCorrelationValue type="TextString" value="8034DA-1"/>`},
		{name: "server correlation value the server keeps from a client that asked", op: "Create", want: okItem, got: okItem,
			reqHdr:   `<ClientCorrelationValue type="TextString" value="c-1"/>`,
			wantHdr:  `<ServerCorrelationValue type="TextString" value="8034DA-1"/>`,
			wantDiff: "ServerCorrelationValue"},
		{name: "result message is free text", op: "Create",
			want: failItem + `<ResultMessage type="TextString" value="DENIED"/>`,
			got:  failItem + `<ResultMessage type="TextString" value="object is active"/>`},
		{name: "result status names the reason", op: "Create", want: okItem, got: failItem,
			wantDiff: "BatchItem/ResultStatus: got ResultStatus OperationFailed with ResultReason PermissionDenied, want ResultStatus Success"},
		{name: "result reason exact", op: "Create", want: failItem,
			got:      strings.Replace(failItem, "PermissionDenied", "ItemNotFound", 1),
			wantDiff: "BatchItem/ResultReason: got ResultReason ItemNotFound, want ResultReason PermissionDenied"},
		{name: "missing payload", op: "Create", want: okItem + payload(uid("x")), got: okItem,
			wantDiff: "BatchItem: missing ResponsePayload"},
		{name: "extra item", op: "Create", want: okItem, got: okItem + payload(),
			wantDiff: "BatchItem: unexpected ResponsePayload (structure of 0 items) after the last expected item"},
		{name: "order matters", op: "Create",
			want:     okItem + payload(`<ObjectType type="Enumeration" value="SymmetricKey"/>`, uid("a")),
			got:      okItem + payload(uid("a"), `<ObjectType type="Enumeration" value="SymmetricKey"/>`),
			wantDiff: `BatchItem/ResponsePayload/ObjectType: unexpected UniqueIdentifier "a" before it`},
		{name: "binds an identifier", op: "Create", want: okItem + payload(uid("$UNIQUE_IDENTIFIER_0")), got: okItem + payload(uid("id-1"))},
		{name: "bound identifier must match", op: "Create", bind: map[string]string{"$UNIQUE_IDENTIFIER_0": "id-1"},
			want: okItem + payload(uid("$UNIQUE_IDENTIFIER_0")), got: okItem + payload(uid("id-2")),
			wantDiff: "want $UNIQUE_IDENTIFIER_0, bound to", wantRule: RuleUniqueID},
		{name: "labels stand for different objects", op: "Create", bind: map[string]string{"$UNIQUE_IDENTIFIER_0": "id-1"},
			want: okItem + payload(uid("$UNIQUE_IDENTIFIER_1")), got: okItem + payload(uid("id-1")),
			wantDiff: "already bound to $UNIQUE_IDENTIFIER_0", wantRule: RuleUniqueID},
		{name: "now out of window", op: "Create",
			want:     okItem + payload(`<InitialDate type="DateTime" value="$NOW-3600"/>`),
			got:      okItem + payload(`<InitialDate type="DateTime" value="2026-05-01T12:00:00Z"/>`),
			wantDiff: "want $NOW-3600", wantRule: RuleNow},
		{name: "now in window", op: "Create",
			want: okItem + payload(`<InitialDate type="DateTime" value="$NOW-3600"/>`),
			got:  okItem + payload(`<InitialDate type="DateTime" value="2026-05-01T11:00:03Z"/>`)},
		{name: "big integer magnitude", op: "Create",
			want: okItem + payload(`<PublicExponent type="BigInteger" value="0000000000010001"/>`),
			got:  okItem + payload(`<PublicExponent type="BigInteger" value="00000000000000000000000000010001"/>`)},
		{name: "enumeration exact", op: "Create",
			want:     okItem + payload(`<ObjectType type="Enumeration" value="SymmetricKey"/>`),
			got:      okItem + payload(`<ObjectType type="Enumeration" value="PrivateKey"/>`),
			wantDiff: "got ObjectType PrivateKey, want ObjectType SymmetricKey"},
		{name: "attributes as a set", op: "GetAttributes", bind: map[string]string{"$UNIQUE_IDENTIFIER_0": "id"},
			want: getAttrs(uid("$UNIQUE_IDENTIFIER_0"), attr1x("State", "Enumeration", "Active"), attr1x("Cryptographic Length", "Integer", "128")),
			got:  getAttrs(uid("id"), attr1x("Cryptographic Length", "Integer", "128"), attr1x("State", "Enumeration", "Active"))},
		{name: "attribute value differs", op: "GetAttributes",
			want:     getAttrs(uid("id"), attr1x("State", "Enumeration", "Active")),
			got:      getAttrs(uid("id"), attr1x("State", "Enumeration", "PreActive")),
			wantDiff: "BatchItem/ResponsePayload/State/AttributeValue: got AttributeValue PreActive, want AttributeValue Active"},
		{name: "missing attribute", op: "GetAttributes",
			want: getAttrs(uid("id"), attr1x("State", "Enumeration", "Active")), got: getAttrs(uid("id")),
			wantDiff: "missing attribute State", wantRule: RuleAttributeSet},
		{name: "unexpected attribute", op: "GetAttributes", req: uid("id") + `<AttributeName type="TextString" value="State"/>`,
			want: getAttrs(uid("id")), got: getAttrs(uid("id"), attr1x("Cryptographic Length", "Integer", "128")),
			wantDiff: "unexpected attribute Cryptographic Length", wantRule: RuleAttributeSet},
		{name: "all attributes: server-set extra", op: "GetAttributes", req: uid("id"),
			want: getAttrs(uid("id")), got: getAttrs(uid("id"), attr1x("Cryptographic Length", "Integer", "128"))},
		{name: "all attributes: client-set extra", op: "GetAttributes", req: uid("id"),
			want: getAttrs(uid("id")), got: getAttrs(uid("id"), attr1x("Alternative Name", "TextString", "x")),
			wantDiff: "unexpected attribute Alternative Name", wantRule: RuleAttributeSet},
		{name: "policy attributes added and omitted", op: "GetAttributes",
			want: getAttrs(uid("id"), attr1x("Original Creation Date", "DateTime", "$NOW")),
			got:  getAttrs(uid("id"), `<Attribute><AttributeName type="TextString" value="Digest"/><AttributeValue><HashingAlgorithm type="Enumeration" value="SHA_256"/></AttributeValue></Attribute>`)},
		{name: "digest compared by shape", op: "GetAttributes",
			want: getAttrs(uid("id"), `<Attribute><AttributeName type="TextString" value="Digest"/><AttributeValue><HashingAlgorithm type="Enumeration" value="SHA_256"/><DigestValue type="ByteString" value="0011"/></AttributeValue></Attribute>`),
			got:  getAttrs(uid("id"), `<Attribute><AttributeName type="TextString" value="Digest"/><AttributeValue><HashingAlgorithm type="Enumeration" value="SHA_1"/><DigestValue type="ByteString" value="aabbcc"/></AttributeValue></Attribute>`)},
		{name: "attribute index zero", op: "GetAttributes",
			want: getAttrs(uid("id"), attr1x("State", "Enumeration", "Active")),
			got:  getAttrs(uid("id"), `<Attribute><AttributeName type="TextString" value="State"/><AttributeIndex type="Integer" value="0"/><AttributeValue type="Enumeration" value="Active"/></Attribute>`)},
		{name: "attribute index nonzero", op: "GetAttributes",
			want:     getAttrs(uid("id"), attr1x("State", "Enumeration", "Active")),
			got:      getAttrs(uid("id"), `<Attribute><AttributeName type="TextString" value="State"/><AttributeIndex type="Integer" value="1"/><AttributeValue type="Enumeration" value="Active"/></Attribute>`),
			wantDiff: "State/AttributeValue: unexpected AttributeIndex 1 before it"},
		{name: "2.0 attributes as a set", ver: "2.0", op: "GetAttributes",
			want: getAttrs(uid("id"), `<Attributes><State type="Enumeration" value="Active"/><CryptographicLength type="Integer" value="128"/></Attributes>`),
			got:  getAttrs(uid("id"), `<Attributes><CryptographicLength type="Integer" value="128"/><State type="Enumeration" value="Active"/><OriginalCreationDate type="DateTime" value="2026-05-01T12:00:00Z"/></Attributes>`)},
		{name: "2.0 attribute missing", ver: "2.0", op: "GetAttributes",
			want:     getAttrs(uid("id"), `<Attributes><State type="Enumeration" value="Active"/></Attributes>`),
			got:      getAttrs(uid("id"), `<Attributes></Attributes>`),
			wantDiff: "BatchItem/ResponsePayload/Attributes: missing attribute State", wantRule: RuleAttributeSet},
		{name: "locate as a set", op: "Locate", bind: map[string]string{"$UNIQUE_IDENTIFIER_0": "a"},
			want: locate(uid("$UNIQUE_IDENTIFIER_1"), uid("$UNIQUE_IDENTIFIER_0")),
			got:  locate(uid("a"), uid("b"))},
		{name: "locate extra", op: "Locate", bind: map[string]string{"$UNIQUE_IDENTIFIER_0": "a"},
			want: locate(uid("$UNIQUE_IDENTIFIER_0")), got: locate(uid("b"), uid("a")),
			wantDiff: `1 unexpected identifiers in a clean store: UniqueIdentifier "b"`, wantRule: RuleLocateSet},
		{name: "locate missing", op: "Locate", bind: map[string]string{"$UNIQUE_IDENTIFIER_0": "a"},
			want: locate(uid("$UNIQUE_IDENTIFIER_0")), got: locate(),
			wantDiff: "the object of $UNIQUE_IDENTIFIER_0", wantRule: RuleLocateSet},
		{name: "query lists what the set uses", op: "Query", setOps: []kmip.Operation{kmip.OperationCreate},
			want: query(`<Operation type="Enumeration" value="Create"/><Operation type="Enumeration" value="Poll"/>`,
				`<ObjectType type="Enumeration" value="SymmetricKey"/><ObjectType type="Enumeration" value="Template"/>`,
				`<VendorIdentification type="TextString" value="server-vendor.com"/><ServerInformation></ServerInformation>`),
			got: query(`<Operation type="Enumeration" value="Get"/><Operation type="Enumeration" value="Create"/>`,
				`<ObjectType type="Enumeration" value="SymmetricKey"/>`,
				`<VendorIdentification type="TextString" value="kmipd"/><ServerInformation><VendorIdentification type="TextString" value="x"/></ServerInformation>`)},
		{name: "query misses an operation", op: "Query", setOps: []kmip.Operation{kmip.OperationCreate},
			want:     query(`<Operation type="Enumeration" value="Create"/>`),
			got:      query(`<Operation type="Enumeration" value="Get"/>`),
			wantDiff: "Operation Create is not listed", wantRule: RuleQueryProfile},
		{name: "query lists what its version lacks", ver: "1.0", op: "Query",
			want:     query(`<Operation type="Enumeration" value="Create"/>`),
			got:      query(`<Operation type="Enumeration" value="Create"/><Operation type="Enumeration" value="SetAttribute"/>`),
			wantDiff: "Operation SetAttribute is not defined in KMIP 1.0", wantRule: RuleQueryProfile},
		{name: "query misses server information", op: "Query",
			want:     query(`<VendorIdentification type="TextString" value="server-vendor.com"/><ServerInformation></ServerInformation>`),
			got:      query(`<VendorIdentification type="TextString" value="kmipd"/>`),
			wantDiff: "missing ServerInformation", wantRule: RuleQueryProfile},
		{name: "server-chosen IV", op: "Encrypt", req: uid("id") + `<Data type="ByteString" value="0102"/>`,
			want: enc(uid("id"), `<Data type="ByteString" value="00112233"/><IVCounterNonce type="ByteString" value="FF00"/>`),
			got:  enc(uid("id"), `<Data type="ByteString" value="a0b1c2d3"/><IVCounterNonce type="ByteString" value="0e0f"/>`)},
		{name: "server-chosen IV keeps the length", op: "Encrypt", req: uid("id"),
			want:     enc(uid("id"), `<Data type="ByteString" value="00112233"/><IVCounterNonce type="ByteString" value="FF00"/>`),
			got:      enc(uid("id"), `<Data type="ByteString" value="a0b1c2"/><IVCounterNonce type="ByteString" value="0e0f"/>`),
			wantDiff: "compared by type and length", wantRule: RuleServerIV},
		{name: "client IV exact", op: "Encrypt", req: uid("id") + `<IVCounterNonce type="ByteString" value="FF00"/>`,
			want:     enc(uid("id"), `<Data type="ByteString" value="00112233"/>`),
			got:      enc(uid("id"), `<Data type="ByteString" value="a0b1c2d3"/>`),
			wantDiff: "got Data (ByteString, 4 bytes), want Data (ByteString, 4 bytes)"},
		{name: "literal then placeholder", op: "Encrypt", req: uid("id") + `<IVCounterNonce type="ByteString" value="FF00"/>`, chosen: []ttlv.Tag{kmip.TagData},
			want: enc(uid("id"), `<Data type="ByteString" value="00112233"/>`),
			got:  enc(uid("id"), `<Data type="ByteString" value="a0b1c2d3"/>`)},
		{name: "generated key material", op: "Get", generate: "id",
			want: get(`<ObjectType type="Enumeration" value="SymmetricKey"/>`, uid("id"), keyBlock("00112233")),
			got:  get(`<ObjectType type="Enumeration" value="SymmetricKey"/>`, uid("id"), keyBlock("99887766"))},
		{name: "registered key material exact", op: "Get",
			want:     get(`<ObjectType type="Enumeration" value="SymmetricKey"/>`, uid("id"), keyBlock("00112233")),
			got:      get(`<ObjectType type="Enumeration" value="SymmetricKey"/>`, uid("id"), keyBlock("99887766")),
			wantDiff: "KeyMaterial: got KeyMaterial (ByteString, 4 bytes)"},
		{name: "PSS signature", op: "Sign", req: uid("id") + `<CryptographicParameters><PaddingMethod type="Enumeration" value="PSS"/></CryptographicParameters>`,
			want: `<Operation type="Enumeration" value="Sign"/><ResultStatus type="Enumeration" value="Success"/>` + payload(uid("id"), `<SignatureData type="ByteString" value="0011"/>`),
			got:  `<Operation type="Enumeration" value="Sign"/><ResultStatus type="Enumeration" value="Success"/>` + payload(uid("id"), `<SignatureData type="ByteString" value="2233"/>`)},
		{name: "PKCS1 signature exact", op: "Sign", req: uid("id") + `<CryptographicParameters><PaddingMethod type="Enumeration" value="PKCS1V1_5"/></CryptographicParameters>`,
			want:     `<Operation type="Enumeration" value="Sign"/><ResultStatus type="Enumeration" value="Success"/>` + payload(uid("id"), `<SignatureData type="ByteString" value="0011"/>`),
			got:      `<Operation type="Enumeration" value="Sign"/><ResultStatus type="Enumeration" value="Success"/>` + payload(uid("id"), `<SignatureData type="ByteString" value="2233"/>`),
			wantDiff: "SignatureData: got SignatureData"},
		{name: "reference clock", op: "Create",
			want: okItem + payload(`<InitialDate type="DateTime" value="2012-04-27T08:12:24+00:00"/>`),
			got:  okItem + payload(`<InitialDate type="DateTime" value="2026-05-01T11:59:30Z"/>`)},
		{name: "reference clock out of window", op: "Create",
			want:     okItem + payload(`<InitialDate type="DateTime" value="2012-04-27T08:12:24+00:00"/>`),
			got:      okItem + payload(`<InitialDate type="DateTime" value="2026-05-01T11:50:00Z"/>`),
			wantDiff: "want the reference run's 2012-04-27T08:12:24Z", wantRule: RuleReferenceClock},
		{name: "date the client sent is exact", op: "Create", sent: []string{"2012-04-27T08:12:24Z"},
			want:     okItem + payload(`<ActivationDate type="DateTime" value="2012-04-27T08:12:24+00:00"/>`),
			got:      okItem + payload(`<ActivationDate type="DateTime" value="2026-05-01T11:59:30Z"/>`),
			wantDiff: "got ActivationDate 2026-05-01T11:59:30Z, want ActivationDate 2012-04-27T08:12:24Z"},
		{name: "discover versions: the server may speak more", op: "DiscoverVersions",
			want: `<Operation type="Enumeration" value="DiscoverVersions"/><ResultStatus type="Enumeration" value="Success"/>` + payload(pv(1, 4), pv(1, 3)),
			got:  `<Operation type="Enumeration" value="DiscoverVersions"/><ResultStatus type="Enumeration" value="Success"/>` + payload(pv(2, 1), pv(2, 0), pv(1, 4), pv(1, 3), pv(1, 2))},
		{name: "discover versions: order kept", op: "DiscoverVersions",
			want:     `<Operation type="Enumeration" value="DiscoverVersions"/><ResultStatus type="Enumeration" value="Success"/>` + payload(pv(1, 4), pv(1, 3)),
			got:      `<Operation type="Enumeration" value="DiscoverVersions"/><ResultStatus type="Enumeration" value="Success"/>` + payload(pv(1, 3), pv(1, 4)),
			wantDiff: "Protocol Version 1.3 is missing, or out of order", wantRule: RuleDiscoverVersions},
		{name: "discover versions: asked versions exact", op: "DiscoverVersions", req: pv(1, 4),
			want:     `<Operation type="Enumeration" value="DiscoverVersions"/><ResultStatus type="Enumeration" value="Success"/>` + payload(pv(1, 4)),
			got:      `<Operation type="Enumeration" value="DiscoverVersions"/><ResultStatus type="Enumeration" value="Success"/>` + payload(pv(2, 0), pv(1, 4)),
			wantDiff: "ProtocolVersionMajor: got ProtocolVersionMajor 2, want ProtocolVersionMajor 1"},
		{name: "encrypt under a generated key", op: "Encrypt", req: uid("id") + `<Data type="ByteString" value="0102"/>`, generate: "id",
			want: enc(uid("id"), `<Data type="ByteString" value="00112233"/>`),
			got:  enc(uid("id"), `<Data type="ByteString" value="a0b1c2d3"/>`)},
		{name: "captured value", op: "Encrypt", req: uid("id"),
			want: enc(uid("id"), `<Data type="ByteString" value="$DATA_1"/>`),
			got:  enc(uid("id"), `<Data type="ByteString" value="0102"/>`)},
		{name: "captured value type", op: "Encrypt", req: uid("id"),
			want:     enc(uid("id"), `<Data type="ByteString" value="$DATA_1"/>`),
			got:      enc(uid("id"), `<Data type="TextString" value="0102"/>`),
			wantDiff: "got a TextString, want a ByteString ($DATA_1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := runCompareCase(t, tt)
			switch {
			case tt.wantDiff == "" && d != nil:
				t.Fatalf("unexpected difference: %s", d)
			case tt.wantDiff != "" && d == nil:
				t.Fatalf("no difference, want %q", tt.wantDiff)
			case d != nil && !strings.Contains(d.String(), tt.wantDiff):
				t.Fatalf("difference %q, want one containing %q", d, tt.wantDiff)
			case d != nil && d.Rule != tt.wantRule:
				t.Fatalf("rule %q, want %q (%s)", d.Rule, tt.wantRule, d)
			}
		})
	}
}

// TestCompareBindsOnSuccessOnly checks that an attribute tried and not
// matched leaves no binding behind.
func TestCompareBindsOnSuccessOnly(t *testing.T) {
	tt := compareCase{op: "GetAttributes",
		want: `<Operation type="Enumeration" value="GetAttributes"/><ResultStatus type="Enumeration" value="Success"/>` +
			payload(uid("id"), attr1x("Link", "TextString", "$UNIQUE_IDENTIFIER_5"), attr1x("State", "Enumeration", "Active")),
		got: `<Operation type="Enumeration" value="GetAttributes"/><ResultStatus type="Enumeration" value="Success"/>` +
			payload(uid("id"), attr1x("Link", "TextString", "other"), attr1x("State", "Enumeration", "PreActive")),
	}
	d, b := runCompareCase(t, tt)
	if d == nil {
		t.Fatal("no difference")
	}
	if _, ok := b.values["$UNIQUE_IDENTIFIER_5"]; !ok {
		t.Error("the matched Link attribute did not bind $UNIQUE_IDENTIFIER_5")
	}

	tt.got = `<Operation type="Enumeration" value="GetAttributes"/><ResultStatus type="Enumeration" value="Success"/>` +
		payload(uid("id"), attr1x("Link", "Integer", "1"), attr1x("State", "Enumeration", "Active"))
	d, b = runCompareCase(t, tt)
	if d == nil {
		t.Fatal("no difference")
	}
	if _, ok := b.values["$UNIQUE_IDENTIFIER_5"]; ok {
		t.Error("a failed match left a binding")
	}
}

func TestBindingsResolve(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	b := newBindings()
	// Nothing returned yet: nothing to fall back on.
	if _, err := b.resolve(kmip.TagUniqueIdentifier, ttlv.TypeTextString, "$UNIQUE_IDENTIFIER_0", now); err == nil {
		t.Fatal("resolved an identifier before any response")
	}
	// A Create response binds _1; the request then names _0
	// (TC-RNG-ATTR-2-13): the last identifier returned.
	b.recordItem(ttlv.Struct(kmip.TagBatchItem,
		ttlv.Enum(kmip.TagOperation, uint32(kmip.OperationCreate)),
		ttlv.Struct(kmip.TagResponsePayload,
			ttlv.Enum(kmip.TagObjectType, uint32(kmip.ObjectTypeSymmetricKey)),
			ttlv.Text(kmip.TagUniqueIdentifier, "id-7"),
			ttlv.Bytes(kmip.TagData, []byte{1, 2, 3}))), ttlv.Value{}, testNames)
	if err := b.bind("$UNIQUE_IDENTIFIER_1", ttlv.Text(kmip.TagUniqueIdentifier, "id-7")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		tag     ttlv.Tag
		typ     ttlv.Type
		token   string
		want    string // Format of the value
		rule    string
		wantErr string
	}{
		{name: "bound", tag: kmip.TagUniqueIdentifier, typ: ttlv.TypeTextString, token: "$UNIQUE_IDENTIFIER_1", want: "id-7"},
		{name: "fallback", tag: kmip.TagUniqueIdentifier, typ: ttlv.TypeTextString, token: "$UNIQUE_IDENTIFIER_0", want: "id-7", rule: RuleFallbackLastID},
		{name: "latest response", tag: kmip.TagData, typ: ttlv.TypeByteString, token: "$DATA_0", want: "\x01\x02\x03", rule: RuleLatestResponse},
		{name: "nothing to take", tag: kmip.TagMACData, typ: ttlv.TypeByteString, token: "$MAC_DATA", wantErr: "no value to substitute"},
		{name: "type mismatch", tag: kmip.TagUniqueIdentifier, typ: ttlv.TypeByteString, token: "$UNIQUE_IDENTIFIER_1", wantErr: "bound to a TextString"},
		{name: "now", tag: kmip.TagActivationDate, typ: ttlv.TypeDateTime, token: "$NOW-3600", want: now.Add(-time.Hour).Format(time.RFC3339), rule: RuleNow},
		{name: "now on text", tag: kmip.TagActivationDate, typ: ttlv.TypeTextString, token: "$NOW", wantErr: "$NOW on a TextString"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := b.resolve(tt.tag, tt.typ, tt.token, now)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := string(v.Bytes())
			if v.Type == ttlv.TypeDateTime {
				got = v.Time().Format(time.RFC3339)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if tt.rule != "" && !b.used[tt.rule] {
				t.Errorf("rule %s not recorded", tt.rule)
			}
		})
	}

	// Random identifiers: fresh, bound, and the short form is the
	// SHA-256 of the long one.
	long, err := b.resolve(kmip.TagUniqueIdentifier, ttlv.TypeTextString, "$UNIQUE_IDENTIFIER_RANDOM_0", now)
	if err != nil || len(long.Text()) != 36 {
		t.Fatalf("random id %q, %v", long.Text(), err)
	}
	short, err := b.resolve(kmip.TagShortUniqueIdentifier, ttlv.TypeByteString, "$SHORT_UNIQUE_IDENTIFIER_RANDOM_0", now)
	if err != nil || len(short.Bytes()) != 32 {
		t.Fatalf("short random id %d bytes, %v", len(short.Bytes()), err)
	}
	again, _ := b.resolve(kmip.TagUniqueIdentifier, ttlv.TypeTextString, "$UNIQUE_IDENTIFIER_RANDOM_0", now)
	if again.Text() != long.Text() {
		t.Error("a random identifier changed between uses")
	}
	if f := b.objects["id-7"]; !f.generated || f.objectType != kmip.ObjectTypeSymmetricKey {
		t.Error("the Create response's identifier is not recorded as a generated symmetric key")
	}
}

func TestWriteReport(t *testing.T) {
	results := []Result{
		{Name: "s/A-1", ID: "A-1", Set: "s", Version: kmip.V1_4, Passed: true, Steps: 2},
		{Name: "s/A-2", ID: "A-2", Set: "s", Version: kmip.V1_4, Steps: 3, Step: 2, Line: 40,
			Operations: []kmip.Operation{kmip.OperationCreate}, Difference: "BatchItem/ResultStatus: got | x"},
		{Name: "t/B-1", ID: "B-1", Set: "t", Version: kmip.V2_0, Difference: "connect: refused"},
	}
	var sb strings.Builder
	if err := WriteReport(&sb, results, ReportOptions{KnownFailures: map[string]string{"s/A-2": "not yet"}}); err != nil {
		t.Fatal(err)
	}
	out := sb.String()
	for _, want := range []string{
		"| s | 2 | 1 | 1 | 1 |",
		"| t | 1 | 0 | 1 | 0 |",
		"| **total** | 3 | 1 | 2 | 1 |",
		"| A-2 | 1.4 | fail (known) | step 2/3 (Create, line 40): BatchItem/ResultStatus: got \\| x |",
		"| B-1 | 2.0 | **fail** | connect: refused |",
		"| `" + RulePairByOperation + "` |",
		"| 1 | not yet | s/A-2 |",
		"| 1 | not reviewed: cannot run: connect: refused | t/B-1 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	sb.Reset()
	if err := WriteTable(&sb, results); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sb.String(), "1 of 3 vectors passed") {
		t.Errorf("table:\n%s", sb.String())
	}
}
