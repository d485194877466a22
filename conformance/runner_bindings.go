package conformance

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// Placeholders of the vectors ($UNIQUE_IDENTIFIER_0, $NOW-3600, $DATA_1,
// ...): see the README's "Placeholder / variable conventions" and the rules
// placeholder-* in Rules.

type tokenKind int

const (
	// kindID: an identifier the server assigns ($UNIQUE_IDENTIFIER_n,
	// $SHORT_UNIQUE_IDENTIFIER_n). Bound on first sight in a response,
	// equal ever after.
	kindID tokenKind = iota + 1
	// kindRandomID: an identifier the client chooses
	// ($UNIQUE_IDENTIFIER_RANDOM_n, $SHORT_UNIQUE_IDENTIFIER_RANDOM_n),
	// first seen in a request.
	kindRandomID
	// kindNow: $NOW, $NOW+60, $NOW-3600.
	kindNow
	// kindCaptured: a value the server computes ($CORRELATION_VALUE,
	// $DATA_n, $IV_COUNTER_NONCE, $SIGNATURE_DATA, $TICKET_VALUE, ...):
	// checked by type, captured, and sent back in later requests.
	kindCaptured
)

// token is a parsed placeholder.
type token struct {
	kind tokenKind
	// family is the name without its label: "UNIQUE_IDENTIFIER".
	family string
	// offset is the $NOW offset.
	offset time.Duration
}

// parseToken parses a placeholder such as "$UNIQUE_IDENTIFIER_3" or
// "$NOW-3600".
func parseToken(s string) (token, error) {
	name, ok := strings.CutPrefix(s, "$")
	if !ok || name == "" {
		return token{}, fmt.Errorf("placeholder %q does not start with $", s)
	}
	if rest, ok := strings.CutPrefix(name, "NOW"); ok {
		if rest == "" {
			return token{kind: kindNow, family: "NOW"}, nil
		}
		if rest[0] != '+' && rest[0] != '-' {
			return token{}, fmt.Errorf("placeholder %q: want $NOW, $NOW+s or $NOW-s", s)
		}
		secs, err := strconv.ParseInt(rest, 10, 32)
		if err != nil {
			return token{}, fmt.Errorf("placeholder %q: bad offset", s)
		}
		return token{kind: kindNow, family: "NOW", offset: time.Duration(secs) * time.Second}, nil
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !tokenChar(c, i) {
			return token{}, fmt.Errorf("placeholder %q: unexpected character %q", s, c)
		}
	}
	family := name
	if i := strings.LastIndexByte(name, '_'); i > 0 && digitRun(name[i+1:]) == name[i+1:] && i+1 < len(name) {
		family = name[:i]
	}
	switch family {
	case "UNIQUE_IDENTIFIER", "SHORT_UNIQUE_IDENTIFIER":
		return token{kind: kindID, family: family}, nil
	case "UNIQUE_IDENTIFIER_RANDOM", "SHORT_UNIQUE_IDENTIFIER_RANDOM":
		return token{kind: kindRandomID, family: family}, nil
	}
	return token{kind: kindCaptured, family: family}, nil
}

// tokenChar reports whether c may be byte i of a placeholder name: upper
// case letters, underscores, and digits after the first.
func tokenChar(c byte, i int) bool {
	return c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9'
}

// bindings is the state of one conversation: what each placeholder stands
// for, and what the responses so far returned.
type bindings struct {
	// values maps a placeholder ("$UNIQUE_IDENTIFIER_0") to its value.
	values map[string]ttlv.Value
	// owner maps an identifier (as text or hex) to the placeholder bound to
	// it: different labels must stand for different objects.
	owner map[string]string
	// latest holds, per tag, the last value of that tag in any response.
	latest map[ttlv.Tag]ttlv.Value
	// objects holds what the conversation learnt about each object the
	// server created or registered, by identifier.
	objects map[string]objectFacts
	// clock maps a literal Date-Time of the vector's responses that was
	// the reference server's clock to the value the server answered in
	// its place (rules reference-clock, echoed-reference-clock).
	clock map[uint64]ttlv.Value
	// used records the conversation-level rules applied.
	used map[string]bool
}

func newBindings() *bindings {
	return &bindings{
		values:  map[string]ttlv.Value{},
		owner:   map[string]string{},
		latest:  map[ttlv.Tag]ttlv.Value{},
		objects: map[string]objectFacts{},
		clock:   map[uint64]ttlv.Value{},
		used:    map[string]bool{},
	}
}

// clone copies b, for a trial comparison whose bindings are kept only if
// it succeeds.
func (b *bindings) clone() *bindings {
	return &bindings{
		values:  maps.Clone(b.values),
		owner:   maps.Clone(b.owner),
		latest:  b.latest, // written only after an item is compared
		objects: b.objects,
		clock:   maps.Clone(b.clock),
		used:    maps.Clone(b.used),
	}
}

// identityKey is an identifier's key in owner.
func identityKey(v ttlv.Value) string {
	if v.Type == ttlv.TypeTextString {
		return "t:" + v.Text()
	}
	return "b:" + hex.EncodeToString(v.Bytes())
}

// bind binds placeholder s (of kind kindID or kindRandomID) to v, refusing
// an identifier already bound to another label.
func (b *bindings) bind(s string, v ttlv.Value) error {
	if other, ok := b.owner[identityKey(v)]; ok && other != s {
		return fmt.Errorf("%s would stand for the object already bound to %s", s, other)
	}
	b.values[s] = v
	b.owner[identityKey(v)] = s
	return nil
}

// labelIDs replaces in s every identifier bound to a label with the
// label, so that a difference reads the same from run to run and says
// which object it is about.
func (b *bindings) labelIDs(s string) string {
	for tok, v := range b.values {
		if v.Type == ttlv.TypeTextString && len(v.Text()) >= 4 && strings.Contains(tok, "UNIQUE_IDENTIFIER") {
			s = strings.ReplaceAll(s, v.Text(), tok)
		}
	}
	return s
}

// errUnresolved: a request placeholder with nothing to stand for.
var errUnresolved = errors.New("no value to substitute")

// resolve returns the value to send for placeholder s in a request.
func (b *bindings) resolve(tag ttlv.Tag, typ ttlv.Type, s string, now time.Time) (ttlv.Value, error) {
	tok, err := parseToken(s)
	if err != nil {
		return ttlv.Value{}, err
	}
	if tok.kind == kindNow {
		b.used[RuleNow] = true
		return timeValue(typ, now.Add(tok.offset))
	}
	if v, ok := b.values[s]; ok {
		if v.Type != typ {
			return ttlv.Value{}, fmt.Errorf("%s is bound to a %v, the request wants a %v", s, v.Type, typ)
		}
		return v, nil
	}
	switch tok.kind {
	case kindRandomID:
		b.used[RuleRandomID] = true
		v, err := b.randomID(typ, s)
		if err != nil {
			return ttlv.Value{}, err
		}
		return v, b.bind(s, v)
	case kindID:
		// TC-RNG-ATTR-2-13 binds $UNIQUE_IDENTIFIER_1 in the Create
		// response and then sends $UNIQUE_IDENTIFIER_0: the object meant
		// is the last one returned (rule fallback-last-id).
		last, ok := b.latest[kmip.TagUniqueIdentifier]
		if tok.family == "SHORT_UNIQUE_IDENTIFIER" {
			last, ok = b.latest[kmip.TagShortUniqueIdentifier]
		}
		if !ok || last.Type != typ {
			return ttlv.Value{}, fmt.Errorf("%s: %w (no response bound it and no identifier was returned yet)", s, errUnresolved)
		}
		b.used[RuleFallbackLastID] = true
		b.values[s] = last // an alias of the label already bound: no owner check
		return last, nil
	default:
		// CS-BC-M-13: the Encrypt response carries a literal Data and
		// IV, the next Decrypt sends $DATA_0 and $IV_COUNTER_NONCE
		// (rule latest-response).
		v, ok := b.latest[tag]
		if !ok || v.Type != typ {
			return ttlv.Value{}, fmt.Errorf("%s: %w (no earlier response holds a %s)", s, errUnresolved, kmip.TagString(tag))
		}
		b.used[RuleLatestResponse] = true
		b.values[s] = v
		return v, nil
	}
}

// randomID makes a client-chosen identifier: a random UUID-like text, or
// for a Short Unique Identifier the SHA-256 of the matching Unique
// Identifier when one is bound (KMIP 2.0 §4.49), else 32 random bytes.
func (b *bindings) randomID(typ ttlv.Type, s string) (ttlv.Value, error) {
	var r [16]byte
	if _, err := rand.Read(r[:]); err != nil {
		return ttlv.Value{}, fmt.Errorf("%s: %w", s, err)
	}
	switch typ {
	case ttlv.TypeTextString:
		h := hex.EncodeToString(r[:])
		return ttlv.Text(0, h[:8]+"-"+h[8:12]+"-"+h[12:16]+"-"+h[16:20]+"-"+h[20:]), nil
	case ttlv.TypeByteString:
		long := strings.Replace(s, "$SHORT_", "$", 1)
		if v, ok := b.values[long]; ok && v.Type == ttlv.TypeTextString {
			sum := sha256.Sum256([]byte(v.Text()))
			return ttlv.Bytes(0, sum[:]), nil
		}
		out := make([]byte, 32)
		if _, err := rand.Read(out); err != nil {
			return ttlv.Value{}, fmt.Errorf("%s: %w", s, err)
		}
		return ttlv.Bytes(0, out), nil
	default:
		return ttlv.Value{}, fmt.Errorf("%s: a random identifier cannot be a %v", s, typ)
	}
}

// unixZero is the epoch, for typed stand-ins.
var unixZero = time.Unix(0, 0).UTC()

func timeValue(typ ttlv.Type, t time.Time) (ttlv.Value, error) {
	switch typ {
	case ttlv.TypeDateTime:
		return ttlv.DateTime(0, t), nil
	case ttlv.TypeDateTimeExtended:
		return ttlv.DateTimeExtended(0, t), nil
	default:
		return ttlv.Value{}, fmt.Errorf("$NOW on a %v item", typ)
	}
}

// objectFacts is what the runner knows of an object.
type objectFacts struct {
	// generated: the server generated its key material (Create, Create
	// Key Pair, Derive Key, Re-key, ...).
	generated bool
	// objectType is its Object Type, 0 when unknown.
	objectType kmip.ObjectType
	// randomizedSigner: its attributes name a signature scheme with a
	// random input (PSS, DSA, ECDSA).
	randomizedSigner bool
}

// randomizedSignature reports whether v (a request payload, or
// attributes) names a signature scheme with a random input: RSASSA-PSS
// (PKCS #1 v2.2 §8.1), DSA or ECDSA (FIPS 186-4 §4.5, §6.3). 1.x attribute
// values are read through names.
func randomizedSignature(v ttlv.Value, names *kmip.Names) bool {
	found := false
	var visit func(x ttlv.Value, preceding []ttlv.Value)
	visit = func(x ttlv.Value, preceding []ttlv.Value) {
		if x.Type == ttlv.TypeEnumeration {
			switch names.ValueTag(x.Tag, preceding) {
			case kmip.TagPaddingMethod:
				found = found || kmip.PaddingMethod(x.Enum()) == kmip.PaddingMethodPSS
			case kmip.TagCryptographicAlgorithm:
				switch kmip.CryptographicAlgorithm(x.Enum()) {
				case kmip.CryptographicAlgorithmDSA, kmip.CryptographicAlgorithmECDSA, kmip.CryptographicAlgorithmEC:
					found = true
				default:
				}
			case kmip.TagDigitalSignatureAlgorithm:
				d := kmip.DigitalSignatureAlgorithm(x.Enum())
				found = found || d >= kmip.DigitalSignatureAlgorithmRSASSAPSS && d <= kmip.DigitalSignatureAlgorithmECDSAWithSHA512
			default:
			}
		}
		kids := x.Children()
		for i := range kids {
			visit(kids[i], kids[:i])
		}
	}
	visit(v, nil)
	return found
}

// generatingOperations create objects whose key material the server
// chooses: their Get responses hold values no vector can predict.
var generatingOperations = map[kmip.Operation]bool{
	kmip.OperationCreate:         true,
	kmip.OperationCreateKeyPair:  true,
	kmip.OperationDeriveKey:      true,
	kmip.OperationReKey:          true,
	kmip.OperationReKeyKeyPair:   true,
	kmip.OperationCreateSplitKey: true,
}

// recordItem notes what a response batch item returned: the latest value
// of every tag, and what it says of the objects it created or registered.
// It runs as soon as the item is compared, so that later items of the same
// batch see it (TL-M-2: Create + Get).
func (b *bindings) recordItem(resp, req ttlv.Value, names *kmip.Names) {
	payload, ok := resp.Child(kmip.TagResponsePayload)
	if !ok {
		return
	}
	walk(payload, func(x ttlv.Value) {
		if x.Type != ttlv.TypeStructure {
			b.latest[x.Tag] = x
		}
	})
	op, _ := resp.Child(kmip.TagOperation)
	generating := generatingOperations[kmip.Operation(op.Enum())]
	reqPayload, _ := req.Child(kmip.TagRequestPayload)
	randomized := randomizedSignature(reqPayload, names)
	objType, ok := payload.Child(kmip.TagObjectType)
	if !ok {
		objType, _ = reqPayload.Child(kmip.TagObjectType) // Register
	}
	for _, c := range payload.Children() {
		if c.Type != ttlv.TypeTextString {
			continue
		}
		var t kmip.ObjectType
		switch c.Tag {
		case kmip.TagUniqueIdentifier:
			t = kmip.ObjectType(objType.Enum())
		case kmip.TagPrivateKeyUniqueIdentifier:
			t = kmip.ObjectTypePrivateKey
		case kmip.TagPublicKeyUniqueIdentifier:
			t = kmip.ObjectTypePublicKey
		default:
			continue
		}
		f := b.objects[c.Text()]
		f.generated = f.generated || generating
		f.randomizedSigner = f.randomizedSigner || randomized
		if t != 0 {
			f.objectType = t
		}
		b.objects[c.Text()] = f
	}
}

// echoClock replaces in a request each literal Date-Time of echoed (a
// value an earlier response of the vector showed as the reference
// server's clock) with the value this server answered in its place: an
// Import sends back the dates Export returned (TC-IMPEXP-2..5, rule
// echoed-reference-clock). A date no response bound yet is sent as
// written.
func (b *bindings) echoClock(v ttlv.Value, echoed map[uint64]bool) ttlv.Value {
	if v.Type == ttlv.TypeStructure {
		kids := v.Children()
		out := make([]ttlv.Value, len(kids))
		for i, k := range kids {
			out[i] = b.echoClock(k, echoed)
		}
		return ttlv.Struct(v.Tag, out...)
	}
	if v.Type != ttlv.TypeDateTime && v.Type != ttlv.TypeDateTimeExtended || !echoed[v.Raw64()] {
		return v
	}
	got, ok := b.clock[v.Raw64()]
	if !ok || got.Type != v.Type {
		return v
	}
	b.used[RuleEchoedClock] = true
	got.Tag = v.Tag
	return got
}
