package ttlv

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// XMLOptions configures the XML encoding (KMIP Profiles §5.4). The zero
// value has no names (every tag in the <TTLV tag="0x42006A"> form, every
// enumeration in hex), default limits and no placeholder hook.
type XMLOptions struct {
	// Names spells tags, enumerations and masks. May be nil.
	Names Names
	// Limits bounds decoding: depth, item count and the size of the
	// binary TTLV the document stands for.
	Limits Limits
	// Placeholder, if set, is called while decoding for every primitive
	// whose value attribute starts with '$' (the vectors' $NOW-3600,
	// $UNIQUE_IDENTIFIER_0, $DATA, ...). It returns the value to use and
	// true, or false to parse the text as usual. The returned Value's tag
	// is replaced by tag. This package never interprets placeholders.
	Placeholder func(tag Tag, typ Type, value string) (Value, bool, error)
	// Indent, when not empty, puts each element on its own line, indented
	// by one Indent per level. Used by Marshal only.
	Indent string
}

// MarshalXML returns the XML form of v, indented by two spaces, one element
// per line as in the OASIS vectors.
func MarshalXML(v Value, names Names) ([]byte, error) {
	return XMLOptions{Names: names, Indent: "  "}.Marshal(v)
}

// UnmarshalXML parses the XML form of one item (e.g. a <RequestMessage>).
// Comments, processing instructions and whitespace around it are allowed.
func UnmarshalXML(data []byte, names Names) (Value, error) {
	return XMLOptions{Names: names}.Unmarshal(data)
}

// DecodeXMLElement parses the element that start opened, whose start token
// d has just returned; d is left after its end tag. A vector runner walks a
// <KMIP> file of many messages with it.
func DecodeXMLElement(d *xml.Decoder, start xml.StartElement, names Names) (Value, error) {
	return XMLOptions{Names: names}.DecodeElement(d, start)
}

// Marshal returns the XML form of v. It fails when a Text String holds
// what XML cannot carry: invalid UTF-8 or a control character other than
// tab, newline and carriage return (XML 1.0 §2.2).
func (o XMLOptions) Marshal(v Value) ([]byte, error) {
	w := xmlWriter{names: o.Names, indent: o.Indent}
	if err := w.item(&v, 0, nil); err != nil {
		clear(w.b)
		return nil, err
	}
	return w.b, nil
}

// Unmarshal parses the XML form of one item.
func (o XMLOptions) Unmarshal(data []byte) (Value, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	r := o.reader(d)
	var v Value
	found := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			if !found {
				return Value{}, syntaxErr(int(d.InputOffset()), 0, ErrSyntax, "no XML element")
			}
			return v, nil
		}
		if err != nil {
			return Value{}, r.tokenErr(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if found {
				return Value{}, syntaxErr(int(d.InputOffset()), 0, ErrSyntax, "more than one top-level element")
			}
			found = true
			if v, err = r.element(t, 1, nil); err != nil {
				return Value{}, err
			}
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return Value{}, syntaxErr(int(d.InputOffset()), 0, ErrSyntax, "text outside the element")
			}
		}
	}
}

// DecodeElement parses the element that start opened; see DecodeXMLElement.
func (o XMLOptions) DecodeElement(d *xml.Decoder, start xml.StartElement) (Value, error) {
	r := o.reader(d)
	return r.element(start, 1, nil)
}

func (o XMLOptions) reader(d *xml.Decoder) *xmlReader {
	return &xmlReader{d: d, names: o.Names, lim: o.Limits.withDefaults(), placeholder: o.Placeholder}
}

type xmlWriter struct {
	wbuf
	names  Names
	indent string
}

func (w *xmlWriter) newline(depth int) {
	if w.indent == "" {
		return
	}
	if len(w.b) > 0 {
		w.byte('\n')
	}
	for range depth {
		w.str(w.indent)
	}
}

// isXMLName reports whether s can be an element name as it stands. Tag
// names are ASCII CamelCase; anything else goes in the TTLV form.
func isXMLName(s string) bool {
	if s == "" || s == "TTLV" || strings.HasPrefix(strings.ToLower(s), "xml") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// isXMLText reports whether s is UTF-8 made of XML 1.0 characters only.
func isXMLText(s []byte) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && n == 1 {
			return false
		}
		switch {
		case r == 0x9 || r == 0xA || r == 0xD:
		case r >= 0x20 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
		default:
			return false
		}
		i += n
	}
	return true
}

// attrStart writes ` name="`; the value and closing quote follow.
func (w *xmlWriter) attrStart(name string) {
	w.byte(' ')
	w.str(name)
	w.str(`="`)
}

func (w *xmlWriter) attr(name, value string) {
	w.attrStart(name)
	w.escape([]byte(value))
	w.byte('"')
}

// escape writes s, which isXMLText accepted, as attribute content. Tab,
// newline and carriage return are escaped too, so that attribute-value
// normalisation (XML 1.0 §3.3.3) cannot turn them into spaces.
func (w *xmlWriter) escape(s []byte) {
	w.grow(len(s))
	for _, c := range s {
		switch c {
		case '&':
			w.str("&amp;")
		case '<':
			w.str("&lt;")
		case '>':
			w.str("&gt;")
		case '"':
			w.str("&quot;")
		case '\t':
			w.str("&#x9;")
		case '\n':
			w.str("&#xA;")
		case '\r':
			w.str("&#xD;")
		default:
			w.byte(c)
		}
	}
}

func (w *xmlWriter) item(v *Value, depth int, preceding []Value) error {
	if !v.Type.Valid() {
		return fmt.Errorf("ttlv: marshal XML: tag %v: unknown item type %v", v.Tag, v.Type)
	}
	name := ""
	if w.names != nil {
		if n, ok := w.names.TagName(v.Tag); ok && isXMLName(n) {
			name = n
		}
	}
	w.newline(depth)
	w.byte('<')
	if name != "" {
		w.str(name)
	} else {
		name = "TTLV"
		w.str(name)
		w.attr("tag", v.Tag.String())
	}
	if v.Type == TypeStructure {
		w.byte('>')
		for i := range v.children {
			if err := w.item(&v.children[i], depth+1, v.children[:i]); err != nil {
				return err
			}
		}
		if len(v.children) > 0 {
			w.newline(depth)
		}
		w.str("</")
		w.str(name)
		w.byte('>')
		return nil
	}
	w.attr("type", v.Type.String())
	ctx := v.Tag
	if w.names != nil {
		ctx = valueTag(w.names, v.Tag, preceding)
	}
	var s string
	switch v.Type {
	case TypeInteger:
		s, _ = formatInt(w.names, ctx, v.Int(), " ")
	case TypeLongInteger:
		s = strconv.FormatInt(v.Long(), 10)
	case TypeEnumeration:
		s = formatEnum(w.names, ctx, v.Enum())
	case TypeBoolean:
		s = strconv.FormatBool(v.Bool())
	case TypeDateTime:
		s = formatDateTime(v.Long())
	case TypeDateTimeExtended:
		s = formatDateTimeExtended(v.Long())
	case TypeInterval:
		s = strconv.FormatUint(uint64(v.Interval()), 10)
	case TypeTextString:
		// Written straight from the Value, never through a string copy: it
		// may be a password.
		if !isXMLText(v.raw) {
			return fmt.Errorf("ttlv: marshal XML: tag %v: text string holds characters XML cannot carry", v.Tag)
		}
		w.attrStart("value")
		w.escape(v.raw)
		w.str(`"/>`)
		return nil
	case TypeByteString, TypeBigInteger:
		// Key material: hex straight into the buffer.
		w.attrStart("value")
		w.hex(v.raw)
		w.str(`"/>`)
		return nil
	default:
		// Unreachable: Structures are written above and unknown types
		// refused at the top.
	}
	w.attr("value", s)
	w.str("/>")
	return nil
}

type xmlReader struct {
	d           *xml.Decoder
	names       Names
	lim         Limits
	placeholder func(Tag, Type, string) (Value, bool, error)
	items       int
	size        int
}

func (r *xmlReader) off() int { return int(r.d.InputOffset()) }

// tokenErr converts an error of the XML decoder.
func (r *xmlReader) tokenErr(err error) error {
	var se *xml.SyntaxError
	if errors.As(err, &se) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return syntaxErr(r.off(), 0, ErrSyntax, "XML: %v", err)
	}
	return fmt.Errorf("ttlv: reading XML: %w", err)
}

// grow accounts for n more bytes of binary TTLV.
func (r *xmlReader) grow(tag Tag, n int) error {
	r.size += n
	if r.size > r.lim.MaxMessageSize {
		return syntaxErr(r.off(), tag, ErrTooLarge, "message exceeds %d bytes", r.lim.MaxMessageSize)
	}
	return nil
}

func (r *xmlReader) tag(name string) (Tag, bool) {
	if t, ok := ParseTag(name); ok {
		return t, true
	}
	if r.names != nil {
		return r.names.TagByName(name)
	}
	return 0, false
}

func (r *xmlReader) element(start xml.StartElement, depth int, preceding []Value) (Value, error) {
	r.items++
	if r.items > r.lim.MaxItems {
		return Value{}, syntaxErr(r.off(), 0, ErrTooManyItems, "more than %d items", r.lim.MaxItems)
	}
	if depth > r.lim.MaxDepth {
		return Value{}, syntaxErr(r.off(), 0, ErrTooDeep, "nesting deeper than %d", r.lim.MaxDepth)
	}
	var tagAttr, typeAttr, valueAttr string
	var hasTag, hasType, hasValue bool
	for _, a := range start.Attr {
		switch a.Name.Local {
		case "tag":
			tagAttr, hasTag = a.Value, true
		case "type":
			typeAttr, hasType = a.Value, true
		case "value":
			valueAttr, hasValue = a.Value, true
		}
	}
	// KMIP Profiles §5.4.1.2: the element is named after the tag, or is
	// <TTLV tag="0x540001"> for a tag without a name.
	name := start.Name.Local
	if hasTag || name == "TTLV" {
		name = tagAttr
	}
	tag, ok := r.tag(name)
	if !ok {
		return Value{}, syntaxErr(r.off(), 0, ErrUnknownName, "unknown tag %q", name)
	}
	typ := TypeStructure
	if hasType {
		if typ, ok = ParseType(typeAttr); !ok {
			return Value{}, syntaxErr(r.off(), tag, ErrBadType, "unknown type %q", typeAttr)
		}
	}
	if typ == TypeStructure {
		if hasValue {
			return Value{}, syntaxErr(r.off(), tag, ErrSyntax, "structure with a value attribute")
		}
		if err := r.grow(tag, headerLen); err != nil {
			return Value{}, err
		}
		var kids []Value
		for {
			tok, err := r.d.Token()
			if err != nil {
				return Value{}, r.tokenErr(err)
			}
			switch t := tok.(type) {
			case xml.StartElement:
				kid, err := r.element(t, depth+1, kids)
				if err != nil {
					return Value{}, err
				}
				kids = append(kids, kid)
			case xml.EndElement:
				return Struct(tag, kids...), nil
			case xml.CharData:
				if len(bytes.TrimSpace(t)) != 0 {
					return Value{}, syntaxErr(r.off(), tag, ErrSyntax, "text inside a structure")
				}
			}
		}
	}
	v, err := r.primitive(tag, typ, valueAttr, preceding)
	if err != nil {
		return Value{}, err
	}
	if err := r.grow(tag, encodedLen(&v)); err != nil {
		return Value{}, err
	}
	for {
		tok, err := r.d.Token()
		if err != nil {
			return Value{}, r.tokenErr(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return Value{}, syntaxErr(r.off(), tag, ErrSyntax, "element inside a %v", typ)
		case xml.EndElement:
			return v, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return Value{}, syntaxErr(r.off(), tag, ErrSyntax, "text inside a %v element", typ)
			}
		}
	}
}

func (r *xmlReader) primitive(tag Tag, typ Type, s string, preceding []Value) (Value, error) {
	if r.placeholder != nil && strings.HasPrefix(s, "$") {
		v, ok, err := r.placeholder(tag, typ, s)
		if err != nil {
			return Value{}, &SyntaxError{Offset: r.off(), Tag: tag, Reason: fmt.Sprintf("placeholder %q: %v", s, err), Err: err}
		}
		if ok {
			v.Tag = tag
			return v, nil
		}
	}
	ctx := tag
	if r.names != nil {
		ctx = valueTag(r.names, tag, preceding)
	}
	v, err := parseScalar(r.names, tag, ctx, typ, s)
	if err != nil {
		return Value{}, withPlace(err, r.off(), tag)
	}
	return v, nil
}

// withPlace fills in the offset and tag of a *SyntaxError from the scalar
// parsers.
func withPlace(err error, off int, tag Tag) error {
	var se *SyntaxError
	if errors.As(err, &se) {
		se.Offset, se.Tag = off, tag
		return se
	}
	return err
}
