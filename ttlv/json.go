package ttlv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// JSONOptions configures the JSON encoding (KMIP Profiles §5.5). Its fields
// mean what they mean in XMLOptions.
type JSONOptions struct {
	Names       Names
	Limits      Limits
	Placeholder func(tag Tag, typ Type, value string) (Value, bool, error)
}

// MarshalJSON returns the JSON form of v (KMIP Profiles §5.5):
// {"tag":"RequestMessage","value":[...]} for a structure and
// {"tag":"BatchCount","type":"Integer","value":1} for a primitive.
func MarshalJSON(v Value, names Names) ([]byte, error) {
	return JSONOptions{Names: names}.Marshal(v)
}

// UnmarshalJSON parses the JSON form of one item.
func UnmarshalJSON(data []byte, names Names) (Value, error) {
	return JSONOptions{Names: names}.Unmarshal(data)
}

// maxJSONSafe bounds the Long Integers written as JSON numbers: beyond
// 2^53 a number loses precision in many JSON parsers, so those are written
// as hex strings.
const maxJSONSafe = 1 << 53

// Marshal returns the JSON form of v, on one line. Tags without a name are
// written in hex ("0x540001"), enumerations without a name in hex
// ("0x80000001"), masks as bit names joined by '|', Byte Strings in hex,
// Big Integers as "0x" and hex, Date-Times in ISO 8601.
func (o JSONOptions) Marshal(v Value) ([]byte, error) {
	w := jsonWriter{names: o.Names}
	if err := w.item(&v, nil); err != nil {
		clear(w.b)
		return nil, err
	}
	return w.b, nil
}

// Unmarshal parses the JSON form of one item. Integers, Long Integers,
// Enumerations and Intervals may be numbers or "0x" hex strings; an Integer
// mask may be a string of bit names separated by '|'; an Enumeration a name.
func (o JSONOptions) Unmarshal(data []byte) (Value, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	r := &jsonReader{d: d, names: o.Names, lim: o.Limits.withDefaults(), placeholder: o.Placeholder}
	tok, err := d.Token()
	if err != nil {
		return Value{}, r.tokenErr(err)
	}
	if tok != json.Delim('{') {
		return Value{}, syntaxErr(r.off(), 0, ErrSyntax, "JSON item is not an object")
	}
	v, err := r.object(1, nil)
	if err != nil {
		return Value{}, err
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return Value{}, syntaxErr(r.off(), 0, ErrSyntax, "data after the JSON item")
	}
	return v, nil
}

type jsonWriter struct {
	wbuf
	names Names
}

// quote writes s, which must be UTF-8, as a JSON string (RFC 8259 §7).
func (w *jsonWriter) quote(s []byte) {
	const hexDigits = "0123456789abcdef"
	w.grow(6*len(s) + 2)
	// Work on a local copy of the slice header in the loop, then store it.
	dst := w.b
	dst = append(dst, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		default:
			dst = append(dst, c)
		}
	}
	dst = append(dst, '"')
	w.b = dst
}

func (w *jsonWriter) quoteString(s string) { w.quote([]byte(s)) }

func (w *jsonWriter) item(v *Value, preceding []Value) error {
	if !v.Type.Valid() {
		return fmt.Errorf("ttlv: marshal JSON: tag %v: unknown item type %v", v.Tag, v.Type)
	}
	name := ""
	if w.names != nil {
		name, _ = w.names.TagName(v.Tag)
	}
	if name == "" || !utf8.ValidString(name) {
		name = v.Tag.String()
	}
	w.str(`{"tag":`)
	w.quoteString(name)
	if v.Type == TypeStructure {
		w.str(`,"value":[`)
		for i := range v.children {
			if i > 0 {
				w.byte(',')
			}
			if err := w.item(&v.children[i], v.children[:i]); err != nil {
				return err
			}
		}
		w.str("]}")
		return nil
	}
	w.str(`,"type":"`)
	w.str(v.Type.String())
	w.str(`","value":`)
	ctx := v.Tag
	if w.names != nil {
		ctx = valueTag(w.names, v.Tag, preceding)
	}
	switch v.Type {
	case TypeInteger:
		s, isMask := formatInt(w.names, ctx, v.Int(), "|")
		if isMask {
			w.quoteString(s)
		} else {
			w.str(s)
		}
	case TypeLongInteger:
		if n := v.Long(); n > -maxJSONSafe && n < maxJSONSafe {
			w.str(strconv.FormatInt(n, 10))
		} else {
			w.str(fmt.Sprintf(`"0x%016X"`, v.num))
		}
	case TypeBigInteger:
		w.str(`"0x`)
		w.hex(v.raw)
		w.byte('"')
	case TypeEnumeration:
		w.quoteString(formatEnum(w.names, ctx, v.Enum()))
	case TypeBoolean:
		w.str(strconv.FormatBool(v.Bool()))
	case TypeTextString:
		if !utf8.Valid(v.raw) {
			return fmt.Errorf("ttlv: marshal JSON: tag %v: text string is not UTF-8", v.Tag)
		}
		w.quote(v.raw)
	case TypeByteString:
		w.byte('"')
		w.hex(v.raw)
		w.byte('"')
	case TypeDateTime:
		w.quoteString(formatDateTime(v.Long()))
	case TypeDateTimeExtended:
		w.quoteString(formatDateTimeExtended(v.Long()))
	case TypeInterval:
		w.str(strconv.FormatUint(uint64(v.Interval()), 10))
	default:
		// Unreachable: Structures are written above and unknown types
		// refused at the top.
	}
	w.byte('}')
	return nil
}

type jsonReader struct {
	d           *json.Decoder
	names       Names
	lim         Limits
	placeholder func(Tag, Type, string) (Value, bool, error)
	items       int
	size        int
}

func (r *jsonReader) off() int { return int(r.d.InputOffset()) }

func (r *jsonReader) tokenErr(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return syntaxErr(r.off(), 0, ErrSyntax, "JSON: %v", err)
	}
	return fmt.Errorf("ttlv: reading JSON: %w", err)
}

func (r *jsonReader) token() (json.Token, error) {
	tok, err := r.d.Token()
	if err != nil {
		return nil, r.tokenErr(err)
	}
	return tok, nil
}

// skip consumes one value of an unknown member, nesting at most
// MaxDepth-depth levels.
func (r *jsonReader) skip(depth int) error {
	n := 0
	for {
		tok, err := r.token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			n++
			if depth+n > r.lim.MaxDepth {
				return syntaxErr(r.off(), 0, ErrTooDeep, "nesting deeper than %d", r.lim.MaxDepth)
			}
		case json.Delim('}'), json.Delim(']'):
			n--
		}
		if n == 0 {
			return nil
		}
	}
}

// object parses the rest of an item whose '{' has been read.
func (r *jsonReader) object(depth int, preceding []Value) (Value, error) {
	r.items++
	if r.items > r.lim.MaxItems {
		return Value{}, syntaxErr(r.off(), 0, ErrTooManyItems, "more than %d items", r.lim.MaxItems)
	}
	if depth > r.lim.MaxDepth {
		return Value{}, syntaxErr(r.off(), 0, ErrTooDeep, "nesting deeper than %d", r.lim.MaxDepth)
	}
	var (
		tagS, typS                string
		hasTag, hasType, hasValue bool
		isArray                   bool
		scalar                    json.Token
		kids                      []Value
	)
	for r.d.More() {
		tok, err := r.token()
		if err != nil {
			return Value{}, err
		}
		key, _ := tok.(string)
		switch key {
		case "tag", "type":
			if (key == "tag" && hasTag) || (key == "type" && hasType) {
				return Value{}, syntaxErr(r.off(), 0, ErrSyntax, "duplicate %q", key)
			}
			tok, err := r.token()
			if err != nil {
				return Value{}, err
			}
			s, ok := tok.(string)
			if !ok {
				return Value{}, syntaxErr(r.off(), 0, ErrSyntax, "%q is not a string", key)
			}
			if key == "tag" {
				tagS, hasTag = s, true
			} else {
				typS, hasType = s, true
			}
		case "value":
			if hasValue {
				return Value{}, syntaxErr(r.off(), 0, ErrSyntax, `duplicate "value"`)
			}
			hasValue = true
			tok, err := r.token()
			if err != nil {
				return Value{}, err
			}
			switch tok {
			case json.Delim('['):
				// Only a structure has an array value; its children are
				// read now even if "type" comes later.
				isArray = true
				for r.d.More() {
					tok, err := r.token()
					if err != nil {
						return Value{}, err
					}
					if tok != json.Delim('{') {
						return Value{}, syntaxErr(r.off(), 0, ErrSyntax, "structure member is not an object")
					}
					kid, err := r.object(depth+1, kids)
					if err != nil {
						return Value{}, err
					}
					kids = append(kids, kid)
				}
				if _, err := r.token(); err != nil { // ']'
					return Value{}, err
				}
			case json.Delim('{'), nil:
				return Value{}, syntaxErr(r.off(), 0, ErrSyntax, "value is an object or null")
			default:
				scalar = tok
			}
		default:
			if err := r.skip(depth); err != nil {
				return Value{}, err
			}
		}
	}
	if _, err := r.token(); err != nil { // '}'
		return Value{}, err
	}
	if !hasTag {
		return Value{}, syntaxErr(r.off(), 0, ErrSyntax, `item without "tag"`)
	}
	tag, ok := ParseTag(tagS)
	if !ok && r.names != nil {
		tag, ok = r.names.TagByName(tagS)
	}
	if !ok {
		return Value{}, syntaxErr(r.off(), 0, ErrUnknownName, "unknown tag %q", tagS)
	}
	typ := TypeStructure
	if hasType {
		if typ, ok = ParseType(typS); !ok {
			return Value{}, syntaxErr(r.off(), tag, ErrBadType, "unknown type %q", typS)
		}
	}
	if typ == TypeStructure {
		if hasValue && !isArray {
			return Value{}, syntaxErr(r.off(), tag, ErrSyntax, "structure value is not an array")
		}
		if err := r.grow(tag, headerLen); err != nil {
			return Value{}, err
		}
		return Struct(tag, kids...), nil
	}
	if !hasValue || isArray {
		return Value{}, syntaxErr(r.off(), tag, ErrSyntax, "%v without a scalar value", typ)
	}
	v, err := r.primitive(tag, typ, scalar, preceding)
	if err != nil {
		return Value{}, withPlace(err, r.off(), tag)
	}
	if err := r.grow(tag, encodedLen(&v)); err != nil {
		return Value{}, err
	}
	return v, nil
}

func (r *jsonReader) grow(tag Tag, n int) error {
	r.size += n
	if r.size > r.lim.MaxMessageSize {
		return syntaxErr(r.off(), tag, ErrTooLarge, "message exceeds %d bytes", r.lim.MaxMessageSize)
	}
	return nil
}

func (r *jsonReader) primitive(tag Tag, typ Type, tok json.Token, preceding []Value) (Value, error) {
	ctx := tag
	if r.names != nil {
		ctx = valueTag(r.names, tag, preceding)
	}
	switch x := tok.(type) {
	case string:
		if r.placeholder != nil && strings.HasPrefix(x, "$") {
			v, ok, err := r.placeholder(tag, typ, x)
			if err != nil {
				return Value{}, &SyntaxError{Reason: fmt.Sprintf("placeholder %q: %v", x, err), Err: err}
			}
			if ok {
				v.Tag = tag
				return v, nil
			}
		}
		return parseScalar(r.names, tag, ctx, typ, x)
	case json.Number:
		s := string(x)
		switch typ {
		case TypeInteger:
			i, err := strconv.ParseInt(s, 10, 32)
			if err == nil {
				return Int(tag, int32(i)), nil
			}
		case TypeLongInteger:
			i, err := strconv.ParseInt(s, 10, 64)
			if err == nil {
				return Long(tag, i), nil
			}
		case TypeEnumeration:
			u, err := strconv.ParseUint(s, 10, 32)
			if err == nil {
				return Enum(tag, uint32(u)), nil
			}
		case TypeInterval:
			u, err := strconv.ParseUint(s, 10, 32)
			if err == nil {
				return Interval(tag, uint32(u)), nil
			}
		case TypeBigInteger:
			b, err := parseBigIntDecimal(s)
			if err == nil {
				return BigIntRaw(tag, b), nil
			}
		default:
			// Not a numeric type: refused below.
		}
		if typ == TypeBigInteger {
			// The number may be key material: do not repeat it.
			return Value{}, valueErr(ErrBadValue, "big integer is not an integer")
		}
		return Value{}, valueErr(ErrBadValue, "number %s is not a valid %v", s, typ)
	case bool:
		if typ == TypeBoolean {
			return Bool(tag, x), nil
		}
	}
	return Value{}, valueErr(ErrBadValue, "JSON value %v is not a valid %v", tok, typ)
}
