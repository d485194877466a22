package conformance

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// The comparison of a response with the vector's expected response. Every
// relaxation it makes is a row of Rules (compare_rules.go); the code cites
// the rule's ID where it applies it.

// markerType stands, in an expected message, for a placeholder: no decoder
// produces it, so it cannot be mistaken for a literal.
const markerType ttlv.Type = 0xF0

// expected is an expected response: the decoded vector message with its
// placeholders marked.
type expected struct {
	v    ttlv.Value // tag and type; the value of a literal primitive
	ph   *PlaceholderUse
	tok  token
	kids []expected
}

// parseExpected parses a response of the vector.
func parseExpected(raw []byte, names *kmip.Names) (expected, error) {
	var phs []PlaceholderUse
	opts := ttlv.XMLOptions{
		Names: names,
		Placeholder: func(tag ttlv.Tag, typ ttlv.Type, s string) (ttlv.Value, bool, error) {
			if _, err := parseToken(s); err != nil {
				return ttlv.Value{}, false, err
			}
			phs = append(phs, PlaceholderUse{Tag: tag, Type: typ, Token: s})
			m := ttlv.Long(tag, int64(len(phs)-1))
			m.Type = markerType
			return m, true, nil
		},
	}
	v, err := opts.Unmarshal(raw)
	if err != nil {
		return expected{}, err
	}
	return toExpected(v, phs), nil
}

func toExpected(v ttlv.Value, phs []PlaceholderUse) expected {
	if v.Type == markerType {
		p := phs[v.Long()]
		tok, _ := parseToken(p.Token) // checked by the hook
		return expected{v: ttlv.Value{Tag: p.Tag, Type: p.Type}, ph: &p, tok: tok}
	}
	e := expected{v: v}
	if v.Type == ttlv.TypeStructure {
		e.kids = make([]expected, len(v.Children()))
		for i, c := range v.Children() {
			e.kids[i] = toExpected(c, phs)
		}
	}
	return e
}

// Difference is the first way a response differs from the vector.
type Difference struct {
	// Path locates the item, e.g.
	// "BatchItem/ResponsePayload/Attribute[2]/AttributeValue".
	Path string
	// Msg says what differs.
	Msg string
	// Rule is the rule under which the comparison was made, "" for
	// exact.
	Rule string
}

func (d *Difference) String() string {
	if d.Path == "" {
		return d.Msg
	}
	return d.Path + ": " + d.Msg
}

// comparer compares one response. Its bindings are the conversation's.
type comparer struct {
	names *kmip.Names
	b     *bindings
	vec   *Vector
	step  *Step
	// start and now bound $NOW (rule placeholder-now).
	start, now time.Time
	slack      time.Duration
	// loose maps tags compared by type and length to the rule that says
	// so, for the batch item being compared.
	loose map[ttlv.Tag]string
	// reqItem is the request batch item of the batch item compared.
	reqItem ttlv.Value
	// ver is the protocol version of the response compared.
	ver kmip.ProtocolVersion
	// allAttributes: the payload compared answers a request for every
	// attribute (rule all-attributes).
	allAttributes bool
	// preceding are the actual items before the one compared, which name
	// the enumeration of a 1.x Attribute Value in messages.
	preceding []ttlv.Value
	// generated: the batch item is a Get or Export of an object the server
	// generated (rule generated-key-material); inKeyValue: below its Key
	// Value.
	generated, inKeyValue bool
}

func (c *comparer) diff(path, rule, format string, args ...any) *Difference {
	return &Difference{Path: path, Msg: fmt.Sprintf(format, args...), Rule: rule}
}

// message compares a whole response message; req is the request sent.
func (c *comparer) message(e expected, a, req ttlv.Value) *Difference {
	if a.Tag != kmip.TagResponseMessage || a.Type != ttlv.TypeStructure {
		return c.diff("", "", "got %s, want a Response Message", c.describe(a))
	}
	a, d := c.serverCorrelation(e, a, req)
	if d != nil {
		return d
	}
	if h, ok := a.Child(kmip.TagResponseHeader); ok {
		pv, _ := h.Child(kmip.TagProtocolVersion)
		maj, _ := pv.Child(kmip.TagProtocolVersionMajor)
		minr, _ := pv.Child(kmip.TagProtocolVersionMinor)
		c.ver = kmip.ProtocolVersion{Major: maj.Int(), Minor: minr.Int()}
	}
	eItems := filterExpected(e.kids, kmip.TagBatchItem, true)
	aItems := a.All(kmip.TagBatchItem)
	rItems := req.All(kmip.TagBatchItem)
	for i := range min(len(eItems), len(aItems)) {
		path := "BatchItem"
		if len(eItems) > 1 {
			path = fmt.Sprintf("BatchItem[%d]", i)
		}
		c.loose = map[ttlv.Tag]string{}
		for t := range c.step.ServerChosen {
			c.loose[t] = RuleLiteralPlaceholder
		}
		// Rule literal-short-identifier.
		c.loose[kmip.TagShortUniqueIdentifier] = RuleLiteralShortID
		c.reqItem = ttlv.Value{}
		if i < len(rItems) {
			c.reqItem = rItems[i]
		}
		c.generated, c.inKeyValue = false, false
		if d := c.value(path, eItems[i], aItems[i]); d != nil {
			return d
		}
		c.b.recordItem(aItems[i], c.reqItem, c.names)
	}
	if len(eItems) != len(aItems) {
		return c.diff("", RuleBatchItems, "got %d batch items, want %d", len(aItems), len(eItems))
	}
	// The header, and nothing but the header besides the batch items.
	c.loose = map[ttlv.Tag]string{}
	return c.children("", filterExpected(e.kids, kmip.TagBatchItem, false), filterActual(a.Children(), kmip.TagBatchItem))
}

// serverCorrelation applies rule server-correlation-value to the response
// header of a: a Server Correlation Value must be a non-empty Text String;
// it is then set to the vector's literal where the vector has one and
// dropped where it has none, so that the rest of the header compares as
// usual. One the vector has and the server left out counts as present
// unless the request carried a Client Correlation Value: kmipd sends it
// only to clients that ask (kmip.handleMessage, for PyKMIP's sake).
func (c *comparer) serverCorrelation(e expected, a, req ttlv.Value) (ttlv.Value, *Difference) {
	h, ok := a.Child(kmip.TagResponseHeader)
	if !ok {
		return a, nil
	}
	got, sent := h.Child(kmip.TagServerCorrelationValue)
	if sent && (got.Type != ttlv.TypeTextString || got.Text() == "") {
		return a, c.diff("ResponseHeader/ServerCorrelationValue", RuleServerCorrelation, "got %s, want a non-empty Text String", c.describe(got))
	}
	var want *ttlv.Value
	for _, eh := range e.kids {
		if eh.v.Tag != kmip.TagResponseHeader {
			continue
		}
		for _, x := range eh.kids {
			if x.v.Tag == kmip.TagServerCorrelationValue && x.ph == nil {
				want = &x.v
			}
		}
	}
	if !sent {
		rh, _ := req.Child(kmip.TagRequestHeader)
		if want == nil || rh.Has(kmip.TagClientCorrelationValue) {
			return a, nil // compared as usual: missing where the vector has one
		}
	}
	kids := make([]ttlv.Value, 0, len(h.Children())+1)
	for _, x := range h.Children() {
		switch {
		case x.Tag == kmip.TagBatchCount && !sent:
			// The server left it out; the vector's goes before Batch Count.
			kids = append(kids, *want, x)
		case x.Tag != kmip.TagServerCorrelationValue:
			kids = append(kids, x)
		case want != nil:
			kids = append(kids, *want)
		}
	}
	msg := make([]ttlv.Value, 0, len(a.Children()))
	for _, x := range a.Children() {
		if x.Tag == kmip.TagResponseHeader {
			x = ttlv.Struct(kmip.TagResponseHeader, kids...)
		}
		msg = append(msg, x)
	}
	c.b.used[RuleServerCorrelation] = true
	return ttlv.Struct(a.Tag, msg...), nil
}

// value compares one item.
func (c *comparer) value(path string, e expected, a ttlv.Value) *Difference {
	if e.ph != nil {
		return c.placeholder(path, e, a)
	}
	if e.v.Tag != a.Tag {
		return c.diff(path, "", "got %s, want %s", c.describe(a), kmip.TagString(e.v.Tag))
	}
	if e.v.Type != a.Type {
		return c.diff(path, "", "got a %v, want a %v", a.Type, e.v.Type)
	}
	if e.v.Type == ttlv.TypeStructure {
		switch e.v.Tag {
		case kmip.TagResponsePayload:
			return c.payload(path, e, a)
		case kmip.TagBatchItem:
			if d := c.resultStatus(path, e, a); d != nil {
				return d
			}
			// Rule result-message-free-text.
			if hasExpected(e.kids, kmip.TagResultMessage) || a.Has(kmip.TagResultMessage) {
				c.b.used[RuleResultMessage] = true
			}
			return c.children(path, filterExpected(e.kids, kmip.TagResultMessage, false), filterActual(a.Children(), kmip.TagResultMessage))
		case kmip.TagAttribute:
			ek, ak := c.attributeIndex(e.kids, a.Children())
			return c.children(path, ek, ak)
		case kmip.TagKeyValue:
			if c.generated {
				inner := c.inKeyValue
				c.inKeyValue = true
				d := c.children(path, e.kids, a.Children())
				c.inKeyValue = inner
				return d
			}
		}
		return c.children(path, e.kids, a.Children())
	}
	if rule := c.looseRule(e.v); rule != "" {
		if !sameLength(e.v, a) {
			return c.diff(path, rule, "got %s, want %s (compared by type and length)", c.describe(a), c.describe(e.v))
		}
		c.b.used[rule] = true
		return nil
	}
	if equalPrimitive(e.v, a) {
		if e.v.Type == ttlv.TypeBigInteger && len(e.v.Bytes()) != len(a.Bytes()) {
			c.b.used[RuleBigInteger] = true
		}
		return nil
	}
	if (e.v.Type == ttlv.TypeDateTime || e.v.Type == ttlv.TypeDateTimeExtended) && !c.vec.RequestTimes[e.v.Raw64()] {
		// Rule reference-clock: a date no request sent is the
		// reference server's clock.
		if d := c.window(path, RuleReferenceClock, describeLiteral(e.v), 0, a); d != nil {
			return d
		}
		c.b.used[RuleReferenceClock] = true
		c.b.clock[e.v.Raw64()] = a
		return nil
	}
	return c.diff(path, "", "got %s, want %s", c.describe(a), c.describe(e.v))
}

// window checks that a Date-Time lies between the start of the file and
// now, shifted by offset, give or take the slack (rules placeholder-now
// and reference-clock).
func (c *comparer) window(path, rule, want string, offset time.Duration, a ttlv.Value) *Difference {
	lo := c.start.Add(offset - c.slack).Truncate(time.Second)
	hi := c.now.Add(offset + c.slack)
	if t := a.Time(); t.Before(lo) || t.After(hi) {
		return c.diff(path, rule, "got %s, want %s: between %s and %s", c.describe(a), want, lo.Format(time.RFC3339), hi.Format(time.RFC3339))
	}
	return nil
}

// describeLiteral names a vector's literal date.
func describeLiteral(v ttlv.Value) string {
	return "the reference run's " + v.Time().Format(time.RFC3339)
}

// resultStatus compares a batch item's Result Status first, and says why
// the server failed: the most useful first difference there is.
func (c *comparer) resultStatus(path string, e expected, a ttlv.Value) *Difference {
	var want ttlv.Value
	for _, x := range e.kids {
		if x.v.Tag == kmip.TagResultStatus && x.ph == nil {
			want = x.v
		}
	}
	got, ok := a.Child(kmip.TagResultStatus)
	if want.IsZero() || !ok || equalPrimitive(want, got) {
		return nil
	}
	why := ""
	if r, ok := a.Child(kmip.TagResultReason); ok {
		why = " " + c.describe(r)
	}
	if m, ok := a.Child(kmip.TagResultMessage); ok && m.Type == ttlv.TypeTextString {
		why += " " + c.describe(m)
	}
	if why != "" {
		why = " with" + why
	}
	return c.diff(join(path, "ResultStatus"), "", "got %s%s, want %s", c.describe(got), why, c.describe(want))
}

// looseRule returns the rule under which v is compared by type and length
// only, or "".
func (c *comparer) looseRule(v ttlv.Value) string {
	if r, ok := c.loose[v.Tag]; ok {
		return r
	}
	if c.generated && (c.inKeyValue || v.Tag == kmip.TagKeyValue) &&
		(v.Type == ttlv.TypeByteString || v.Type == ttlv.TypeBigInteger) {
		return RuleGeneratedKey
	}
	return ""
}

// children compares two lists of items in order.
func (c *comparer) children(path string, ek []expected, ak []ttlv.Value) *Difference {
	counts := map[ttlv.Tag]int{}
	for _, e := range ek {
		counts[e.v.Tag]++
	}
	seen := map[ttlv.Tag]int{}
	for i := range max(len(ek), len(ak)) {
		switch {
		case i >= len(ek):
			return c.diff(path, "", "unexpected %s after the last expected item", c.describe(ak[i]))
		case i >= len(ak):
			return c.diff(path, "", "missing %s", kmip.TagString(ek[i].v.Tag))
		}
		t := ek[i].v.Tag
		name := kmip.TagString(t)
		if counts[t] > 1 {
			name = fmt.Sprintf("%s[%d]", name, seen[t])
		}
		seen[t]++
		c.preceding = ak[:i]
		if ak[i].Tag != t {
			if slices.ContainsFunc(ak[i:], func(x ttlv.Value) bool { return x.Tag == t }) {
				return c.diff(join(path, name), "", "unexpected %s before it", c.describe(ak[i]))
			}
			return c.diff(join(path, name), "", "missing (got %s in its place)", c.describe(ak[i]))
		}
		if d := c.value(join(path, name), ek[i], ak[i]); d != nil {
			return d
		}
	}
	return nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "/" + name
}

// placeholder compares a response item with the placeholder the vector
// has in its place.
func (c *comparer) placeholder(path string, e expected, a ttlv.Value) *Difference {
	ph := e.ph
	if a.Tag != ph.Tag {
		return c.diff(path, "", "got %s, want %s (%s)", c.describe(a), kmip.TagString(ph.Tag), ph.Token)
	}
	if a.Type != ph.Type {
		return c.diff(path, "", "got a %v, want a %v (%s)", a.Type, ph.Type, ph.Token)
	}
	switch e.tok.kind {
	case kindNow:
		// Rule placeholder-now.
		if d := c.window(path, RuleNow, ph.Token, e.tok.offset, a); d != nil {
			return d
		}
		c.b.used[RuleNow] = true
	case kindID, kindRandomID:
		// Rule placeholder-unique-identifier.
		if a.Type != ttlv.TypeTextString && a.Type != ttlv.TypeByteString {
			return c.diff(path, RuleUniqueID, "got a %v for %s", a.Type, ph.Token)
		}
		if v, ok := c.b.values[ph.Token]; ok {
			if !equalPrimitive(v, a) {
				return c.diff(path, RuleUniqueID, "got %s, want %s, bound to %s", c.describe(a), ph.Token, c.describe(v))
			}
			return nil
		}
		if err := c.b.bind(ph.Token, a); err != nil {
			return c.diff(path, RuleUniqueID, "got %s: %v", c.describe(a), err)
		}
		c.b.used[RuleUniqueID] = true
	default:
		// Rule placeholder-captured.
		c.b.values[ph.Token] = a
		c.b.used[RuleCaptured] = true
	}
	return nil
}

// payload compares a Response Payload, by the rules of its operation.
func (c *comparer) payload(path string, e expected, a ttlv.Value) *Difference {
	op := c.operation()
	switch op {
	case kmip.OperationQuery:
		return c.query(path, e, a)
	case kmip.OperationGetAttributes, kmip.OperationGetAttributeList:
		return c.attributes(path, e, a)
	case kmip.OperationLocate:
		return c.locate(path, e, a)
	case kmip.OperationDiscoverVersions:
		reqPayload, _ := c.reqItem.Child(kmip.TagRequestPayload)
		if !reqPayload.Has(kmip.TagProtocolVersion) {
			return c.versions(path, e, a)
		}
	case kmip.OperationRNGRetrieve:
		c.loose[kmip.TagData] = RuleRNGOutput
	case kmip.OperationEncrypt, kmip.OperationDecrypt, kmip.OperationSign, kmip.OperationMAC:
		// Rule unpredictable-crypto-output.
		if id, ok := a.Child(kmip.TagUniqueIdentifier); ok && id.Type == ttlv.TypeTextString {
			f := c.b.objects[id.Text()]
			reqPayload, _ := c.reqItem.Child(kmip.TagRequestPayload)
			asym := op == kmip.OperationEncrypt && f.objectType == kmip.ObjectTypePublicKey
			randomSig := op == kmip.OperationSign && (f.randomizedSigner || randomizedSignature(reqPayload, c.names))
			if f.generated || asym || randomSig {
				for _, t := range cryptoOutputs {
					c.loose[t] = RuleUnpredictable
				}
			}
		}
		// Rule server-chosen-iv.
		reqPayload, _ := c.reqItem.Child(kmip.TagRequestPayload)
		if op == kmip.OperationEncrypt && !reqPayload.Has(kmip.TagIVCounterNonce) && hasExpected(e.kids, kmip.TagIVCounterNonce) {
			for _, t := range []ttlv.Tag{kmip.TagData, kmip.TagIVCounterNonce, kmip.TagAuthenticatedEncryptionTag} {
				c.loose[t] = RuleServerIV
			}
		}
	case kmip.OperationGet, kmip.OperationExport:
		if id, ok := a.Child(kmip.TagUniqueIdentifier); ok && id.Type == ttlv.TypeTextString && c.b.objects[id.Text()].generated {
			c.generated = true
		}
		if op == kmip.OperationExport {
			// Export returns every attribute of the object, in the
			// server's order, beside the object (KMIP 2.0 §6.1.18):
			// compared as Get Attributes naming none is.
			return c.attributes(path, e, a)
		}
	default:
		// Compared exactly (rule exact).
	}
	return c.children(path, e.kids, a.Children())
}

// cryptoOutputs are the items of cryptographic responses that depend on
// the key (rule unpredictable-crypto-output).
var cryptoOutputs = []ttlv.Tag{
	kmip.TagData, kmip.TagIVCounterNonce, kmip.TagAuthenticatedEncryptionTag,
	kmip.TagSignatureData, kmip.TagMACData,
}

// operation is the operation of the request batch item being answered.
func (c *comparer) operation() kmip.Operation {
	if op, ok := c.reqItem.Child(kmip.TagOperation); ok {
		return kmip.Operation(op.Enum())
	}
	return 0
}

// versions compares the answer to a Discover Versions that named no
// version: the vector's versions must come in the same order among the
// server's, which may support more (rule discover-versions).
func (c *comparer) versions(path string, e expected, a ttlv.Value) *Difference {
	got := a.Children()
	j := 0
	for _, x := range e.kids {
		found := false
		for ; j < len(got); j++ {
			trial := *c
			trial.b = c.b.clone()
			if trial.value(path, x, got[j]) == nil {
				found = true
				j++
				break
			}
		}
		if !found {
			return c.diff(path, RuleDiscoverVersions, "%s is missing, or out of order", c.describeVersion(x.value()))
		}
	}
	for _, g := range got {
		if g.Tag != kmip.TagProtocolVersion {
			return c.diff(path, RuleDiscoverVersions, "unexpected %s", c.describe(g))
		}
	}
	c.b.used[RuleDiscoverVersions] = true
	return nil
}

func (c *comparer) describeVersion(v ttlv.Value) string {
	maj, _ := v.Child(kmip.TagProtocolVersionMajor)
	minr, _ := v.Child(kmip.TagProtocolVersionMinor)
	return fmt.Sprintf("Protocol Version %d.%d", maj.Int(), minr.Int())
}

// query compares a Query payload (rule query-profile).
func (c *comparer) query(path string, e expected, a ttlv.Value) *Difference {
	tags := map[ttlv.Tag]ttlv.Type{}
	for _, x := range a.Children() {
		if _, ok := tags[x.Tag]; !ok {
			tags[x.Tag] = x.Type
		}
	}
	has := func(tag ttlv.Tag, v uint32) bool {
		for _, x := range a.All(tag) {
			if x.Type == ttlv.TypeEnumeration && x.Enum() == v {
				return true
			}
		}
		return false
	}
	for _, x := range e.kids {
		t := x.v.Tag
		switch {
		case t == kmip.TagOperation && x.ph == nil:
			op := kmip.Operation(x.v.Enum())
			if slices.Contains(c.vec.SetOperations, op) && !has(t, x.v.Enum()) {
				return c.diff(path, RuleQueryProfile, "Operation %s is not listed; the vectors of %s use it", op, c.vec.Set)
			}
		case t == kmip.TagObjectType && x.ph == nil:
			ot := kmip.ObjectType(x.v.Enum())
			if slices.Contains(c.vec.SetObjectTypes, ot) && !has(t, x.v.Enum()) {
				return c.diff(path, RuleQueryProfile, "Object Type %s is not listed; the vectors of %s use it", ot, c.vec.Set)
			}
		default:
			typ, ok := tags[t]
			if !ok {
				return c.diff(path, RuleQueryProfile, "missing %s", kmip.TagString(t))
			}
			if typ != x.v.Type {
				return c.diff(join(path, kmip.TagString(t)), RuleQueryProfile, "got a %v, want a %v", typ, x.v.Type)
			}
		}
	}
	// What the server adds must exist in the version it answers in
	// (KMIP 1.4 §11.1 and Table 327: a server answers in the negotiated
	// version's terms).
	for _, x := range a.Children() {
		if !kmip.TagDefinedIn(x.Tag, c.ver.Major, c.ver.Minor) {
			return c.diff(join(path, kmip.TagString(x.Tag)), RuleQueryProfile, "%s is not defined in KMIP %s", kmip.TagString(x.Tag), c.ver)
		}
		if x.Type == ttlv.TypeEnumeration && !kmip.EnumDefinedIn(x.Tag, x.Enum(), c.ver.Major, c.ver.Minor) {
			return c.diff(join(path, kmip.TagString(x.Tag)), RuleQueryProfile, "%s is not defined in KMIP %s", c.describe(x), c.ver)
		}
	}
	c.b.used[RuleQueryProfile] = true
	return nil
}

// policyAttribute reports whether an attribute key (1.x name or 2.x tag
// name) is one the server may add or leave out (rule policy-attributes).
func policyAttribute(key string) bool {
	switch key {
	case "Original Creation Date", "OriginalCreationDate",
		"Lease Time", "LeaseTime",
		"Random Number Generator", "RandomNumberGenerator",
		"Digest":
		return true
	}
	return false
}

// shapeOnly reports whether a policy attribute's value is compared by
// shape only (rule policy-attributes).
func shapeOnly(key string) bool {
	switch key {
	case "Random Number Generator", "RandomNumberGenerator", "Digest":
		return true
	}
	return false
}

// attributes compares Get Attributes and Get Attribute List payloads: the
// attributes as a multiset (rule attributes-as-set), the other items in
// order.
func (c *comparer) attributes(path string, e expected, a ttlv.Value) *Difference {
	isAttr := func(t ttlv.Tag) bool {
		return t == kmip.TagAttribute || t == kmip.TagAttributeName || t == kmip.TagAttributeReference
	}
	var eRest, eAttrs []expected
	for _, x := range e.kids {
		if isAttr(x.v.Tag) {
			eAttrs = append(eAttrs, x)
		} else {
			eRest = append(eRest, x)
		}
	}
	var aRest, aAttrs []ttlv.Value
	for _, x := range a.Children() {
		if isAttr(x.Tag) {
			aAttrs = append(aAttrs, x)
		} else {
			aRest = append(aRest, x)
		}
	}
	// Rule all-attributes: Get Attribute List, and Get Attributes naming
	// no attribute, ask for every attribute the object has.
	reqPayload, _ := c.reqItem.Child(kmip.TagRequestPayload)
	c.allAttributes = c.operation() == kmip.OperationGetAttributeList ||
		!reqPayload.Has(kmip.TagAttributeName) && !reqPayload.Has(kmip.TagAttributeReference) && !reqPayload.Has(kmip.TagAttribute)
	// The 2.x Attributes structure is itself compared as a set.
	for i := range eRest {
		if eRest[i].v.Tag != kmip.TagAttributes || i >= len(aRest) || aRest[i].Tag != kmip.TagAttributes {
			continue
		}
		if d := c.attributeSet(join(path, "Attributes"), eRest[i].kids, aRest[i].Children()); d != nil {
			return d
		}
		eRest[i] = expected{v: ttlv.Struct(kmip.TagAttributes)}
		aRest[i] = ttlv.Struct(kmip.TagAttributes)
	}
	if d := c.children(path, eRest, aRest); d != nil {
		return d
	}
	return c.attributeSet(path, eAttrs, aAttrs)
}

// attributeKey names an attribute item: the 1.x Attribute Name, the 2.x
// tag name, or vendor:name for a 2.x Vendor Attribute.
func (c *comparer) attributeKey(v ttlv.Value) string {
	switch {
	case v.Tag == kmip.TagAttribute && v.Type == ttlv.TypeStructure:
		n, _ := v.Child(kmip.TagAttributeName)
		if vid, ok := v.Child(kmip.TagVendorIdentification); ok {
			return vid.Text() + ":" + n.Text()
		}
		return n.Text()
	case v.Tag == kmip.TagAttributeName && v.Type == ttlv.TypeTextString:
		return v.Text()
	case v.Tag == kmip.TagAttributeReference && v.Type == ttlv.TypeEnumeration:
		return kmip.TagString(ttlv.Tag(v.Enum()))
	case v.Tag == kmip.TagAttributeReference && v.Type == ttlv.TypeStructure:
		vid, _ := v.Child(kmip.TagVendorIdentification)
		n, _ := v.Child(kmip.TagAttributeName)
		return vid.Text() + ":" + n.Text()
	}
	return kmip.TagString(v.Tag)
}

// expectedValue turns an expected item without placeholders back into a
// value, for attributeKey; placeholders become empty values of their type.
func (e expected) value() ttlv.Value {
	if e.ph != nil {
		z := zeroOf(e.ph.Type)
		z.Tag = e.ph.Tag
		return z
	}
	if e.v.Type != ttlv.TypeStructure {
		return e.v
	}
	kids := make([]ttlv.Value, len(e.kids))
	for i, k := range e.kids {
		kids[i] = k.value()
		kids[i].Tag = k.v.Tag
	}
	return ttlv.Struct(e.v.Tag, kids...)
}

// attributeSet matches expected attributes with actual ones by key; each
// match is tried on a copy of the bindings, kept only if it succeeds.
func (c *comparer) attributeSet(path string, ek []expected, ak []ttlv.Value) *Difference {
	used := make([]bool, len(ak))
	c.b.used[RuleAttributeSet] = true
	for _, e := range ek {
		key := c.attributeKey(e.value())
		var first *Difference
		matched := false
		for j, a := range ak {
			if used[j] || c.attributeKey(a) != key {
				continue
			}
			trial := *c
			trial.b = c.b.clone()
			var d *Difference
			if shapeOnly(key) {
				d = trial.shape(join(path, key), e, a)
				trial.b.used[RulePolicyAttributes] = true
			} else {
				d = trial.value(join(path, key), e, a)
			}
			if d == nil {
				c.b = trial.b
				used[j], matched = true, true
				break
			}
			if first == nil {
				first = d
			}
		}
		switch {
		case matched:
		case first != nil:
			return first
		case policyAttribute(key):
			c.b.used[RulePolicyAttributes] = true
		default:
			return c.diff(path, RuleAttributeSet, "missing attribute %s", key)
		}
	}
	for j, a := range ak {
		if used[j] {
			continue
		}
		key := c.attributeKey(a)
		if policyAttribute(key) {
			c.b.used[RulePolicyAttributes] = true
			continue
		}
		if c.allAttributes && c.serverSet(key) {
			c.b.used[RuleAllAttributes] = true
			continue
		}
		return c.diff(path, RuleAttributeSet, "unexpected attribute %s", key)
	}
	return nil
}

// serverSet reports whether the attribute keyed key (1.x name or 2.x tag
// name) is one the server sets: "Initially set by" names the server in its
// table (KMIP 1.4 §3, 2.0 §4) (rule all-attributes).
func (c *comparer) serverSet(key string) bool {
	info, ok := kmip.AttributeByName(key)
	if !ok {
		tag, found := c.names.TagByName(key)
		if !found {
			return false
		}
		if info, ok = kmip.AttributeByTag(tag); !ok {
			return false
		}
	}
	return strings.Contains(info.InitiallySetBy, "Server") && info.DefinedIn(c.ver.Major, c.ver.Minor)
}

// shape compares tags and types only (rule policy-attributes).
func (c *comparer) shape(path string, e expected, a ttlv.Value) *Difference {
	t, typ := e.v.Tag, e.v.Type
	if e.ph != nil {
		t, typ = e.ph.Tag, e.ph.Type
	}
	if t != a.Tag || typ != a.Type {
		return c.diff(path, RulePolicyAttributes, "got %s, want a %v %s", c.describe(a), typ, kmip.TagString(t))
	}
	if typ != ttlv.TypeStructure {
		return nil
	}
	ak := a.Children()
	if t == kmip.TagAttribute {
		// A 1.x Attribute: name and index as usual, the value by shape.
		var ek []expected
		ek, ak = c.attributeIndex(e.kids, ak)
		if len(ek) != len(ak) {
			return c.diff(path, RulePolicyAttributes, "got %d items, want %d", len(ak), len(ek))
		}
		for i := range ek {
			var d *Difference
			if ek[i].v.Tag == kmip.TagAttributeValue {
				d = c.shape(join(path, "AttributeValue"), ek[i], ak[i])
			} else {
				d = c.value(join(path, kmip.TagString(ek[i].v.Tag)), ek[i], ak[i])
			}
			if d != nil {
				return d
			}
		}
		return nil
	}
	if len(e.kids) != len(ak) {
		return c.diff(path, RulePolicyAttributes, "got %d items, want %d", len(ak), len(e.kids))
	}
	for i := range e.kids {
		if d := c.shape(join(path, kmip.TagString(e.kids[i].v.Tag)), e.kids[i], ak[i]); d != nil {
			return d
		}
	}
	return nil
}

// attributeIndex drops an Attribute Index of 0 present on one side only
// (rule attribute-index-zero).
func (c *comparer) attributeIndex(ek []expected, ak []ttlv.Value) ([]expected, []ttlv.Value) {
	isZeroIndex := func(t ttlv.Tag, typ ttlv.Type, n int32) bool {
		return t == kmip.TagAttributeIndex && typ == ttlv.TypeInteger && n == 0
	}
	eHas := slices.ContainsFunc(ek, func(x expected) bool { return x.ph == nil && x.v.Tag == kmip.TagAttributeIndex })
	aHas := slices.ContainsFunc(ak, func(x ttlv.Value) bool { return x.Tag == kmip.TagAttributeIndex })
	if eHas == aHas {
		return ek, ak
	}
	if eHas {
		out := slices.DeleteFunc(slices.Clone(ek), func(x expected) bool {
			return x.ph == nil && isZeroIndex(x.v.Tag, x.v.Type, x.v.Int())
		})
		if len(out) != len(ek) {
			c.b.used[RuleAttributeIndex] = true
		}
		return out, ak
	}
	out := slices.DeleteFunc(slices.Clone(ak), func(x ttlv.Value) bool { return isZeroIndex(x.Tag, x.Type, x.Int()) })
	if len(out) != len(ak) {
		c.b.used[RuleAttributeIndex] = true
	}
	return ek, out
}

// locate compares a Locate payload: the identifiers as a set (rule
// locate-as-set), the rest in order.
func (c *comparer) locate(path string, e expected, a ttlv.Value) *Difference {
	eIDs := filterExpected(e.kids, kmip.TagUniqueIdentifier, true)
	aIDs := a.All(kmip.TagUniqueIdentifier)
	if d := c.children(path, filterExpected(e.kids, kmip.TagUniqueIdentifier, false), filterActual(a.Children(), kmip.TagUniqueIdentifier)); d != nil {
		return d
	}
	c.b.used[RuleLocateSet] = true
	used := make([]bool, len(aIDs))
	find := func(v ttlv.Value) bool {
		for j, x := range aIDs {
			if !used[j] && equalPrimitive(v, x) && v.Type == x.Type {
				used[j] = true
				return true
			}
		}
		return false
	}
	var unbound []expected
	for _, x := range eIDs {
		want := x.v
		if x.ph != nil {
			v, ok := c.b.values[x.ph.Token]
			if !ok {
				unbound = append(unbound, x)
				continue
			}
			want = v
		}
		if !find(want) {
			what := c.describe(want)
			if x.ph != nil {
				what = x.ph.Token + ", bound to " + what
			}
			return c.diff(path, RuleLocateSet, "the object of %s was not returned (%d identifiers returned)", what, len(aIDs))
		}
	}
	for _, x := range unbound {
		bound := false
		for j, id := range aIDs {
			if used[j] || id.Type != x.ph.Type {
				continue
			}
			if err := c.b.bind(x.ph.Token, id); err != nil {
				continue
			}
			used[j], bound = true, true
			break
		}
		if !bound {
			return c.diff(path, RuleLocateSet, "no identifier returned for %s (%d returned)", x.ph.Token, len(aIDs))
		}
	}
	var extra []string
	for j, id := range aIDs {
		if !used[j] {
			extra = append(extra, c.describe(id))
		}
	}
	if len(extra) > 0 {
		return c.diff(path, RuleLocateSet, "%d unexpected identifiers in a clean store: %s", len(extra), strings.Join(extra, ", "))
	}
	return nil
}

func filterExpected(ek []expected, tag ttlv.Tag, keep bool) []expected {
	var out []expected
	for _, x := range ek {
		if (x.v.Tag == tag) == keep {
			out = append(out, x)
		}
	}
	return out
}

func filterActual(ak []ttlv.Value, tag ttlv.Tag) []ttlv.Value {
	var out []ttlv.Value
	for _, x := range ak {
		if x.Tag != tag {
			out = append(out, x)
		}
	}
	return out
}

func hasExpected(ek []expected, tag ttlv.Tag) bool {
	return slices.ContainsFunc(ek, func(x expected) bool { return x.v.Tag == tag })
}

// equalPrimitive compares two primitives of the same type; Big Integers
// as unsigned magnitudes (rule big-integer-magnitude).
func equalPrimitive(e, a ttlv.Value) bool {
	if e.Type != a.Type {
		return false
	}
	switch e.Type {
	case ttlv.TypeTextString, ttlv.TypeByteString:
		return bytes.Equal(e.Bytes(), a.Bytes())
	case ttlv.TypeBigInteger:
		return bytes.Equal(magnitude(e.Bytes()), magnitude(a.Bytes()))
	default:
		return e.Raw64() == a.Raw64()
	}
}

func magnitude(b []byte) []byte {
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

// sameLength is the "type and length" comparison.
func sameLength(e, a ttlv.Value) bool {
	if e.Type != a.Type {
		return false
	}
	switch e.Type {
	case ttlv.TypeBigInteger:
		d := len(magnitude(e.Bytes())) - len(magnitude(a.Bytes()))
		return d >= -8 && d <= 8
	case ttlv.TypeTextString, ttlv.TypeByteString:
		return len(e.Bytes()) == len(a.Bytes())
	default:
		return true
	}
}

// describe prints an item for a difference. Byte Strings and Big
// Integers are shown by length only: they may be key material.
func (c *comparer) describe(v ttlv.Value) string {
	name := kmip.TagString(v.Tag)
	switch v.Type {
	case ttlv.TypeStructure:
		return fmt.Sprintf("%s (structure of %d items)", name, len(v.Children()))
	case ttlv.TypeTextString:
		s, limit := v.Text(), 60
		if v.Tag == kmip.TagResultMessage {
			limit = 200
		}
		if len(s) > limit {
			s = s[:limit-3] + "..."
		}
		return name + " " + strconv.Quote(s)
	case ttlv.TypeByteString, ttlv.TypeBigInteger:
		return fmt.Sprintf("%s (%v, %d bytes)", name, v.Type, len(v.Bytes()))
	case ttlv.TypeEnumeration:
		if n, ok := c.names.EnumName(c.names.ValueTag(v.Tag, c.preceding), v.Enum()); ok {
			return name + " " + n
		}
		return fmt.Sprintf("%s 0x%08X", name, v.Enum())
	case ttlv.TypeInteger:
		if bits := c.names.MaskBits(c.names.ValueTag(v.Tag, c.preceding)); bits != nil {
			var parts []string
			for _, b := range bits {
				if bv := uint64(b.Value); v.Raw64()&bv == bv && bv != 0 {
					parts = append(parts, b.Name)
				}
			}
			return fmt.Sprintf("%s %d (%s)", name, v.Int(), strings.Join(parts, " "))
		}
		return fmt.Sprintf("%s %d", name, v.Int())
	case ttlv.TypeLongInteger:
		return fmt.Sprintf("%s %d", name, v.Long())
	case ttlv.TypeBoolean:
		return fmt.Sprintf("%s %t", name, v.Bool())
	case ttlv.TypeDateTime, ttlv.TypeDateTimeExtended:
		return name + " " + v.Time().Format(time.RFC3339)
	case ttlv.TypeInterval:
		return fmt.Sprintf("%s %ds", name, v.Interval())
	}
	return fmt.Sprintf("%s (%v)", name, v.Type)
}
