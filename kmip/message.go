package kmip

import (
	"time"

	"github.com/kmipd/kmipd/ttlv"
)

// RequestHeader is the Request Header of a request message (KMIP 1.4 §7.2
// Table 284; 2.0 §8.2 Table 395). Fields a request left out hold their zero
// value; the Has* flags tell absence from an explicit false.
type RequestHeader struct {
	ProtocolVersion        ProtocolVersion
	MaximumResponseSize    int32 // 0: no limit requested
	ClientCorrelationValue string
	// ServerCorrelationValue is set by HandleMessage for 1.4 and later
	// (§6.19), replacing anything a client sent, so that handlers can log
	// it; the response carries it to clients that sent a Client
	// Correlation Value.
	ServerCorrelationValue       string
	AsynchronousIndicator        bool
	AttestationCapableIndicator  bool
	AttestationTypes             []AttestationType
	Authentication               ttlv.Value // zero when absent; parsed by the service
	BatchErrorContinuationOption BatchErrorContinuationOption
	BatchOrderOption             bool
	HasBatchOrderOption          bool
	TimeStamp                    time.Time
	BatchCount                   int32
}

// RequestBatchItem is one operation of a request (KMIP 1.4 §7.2 Table 285;
// 2.0 §8.3 Table 396).
type RequestBatchItem struct {
	Operation         Operation
	Ephemeral         bool
	UniqueBatchItemID []byte
	Payload           ttlv.Value // the Request Payload structure
	MessageExtensions []ttlv.Value
	// Err is set when the item could not be parsed. KMIP 1.4 §11.1: "Error
	// parsing batch item or payload within batch item: batch item fails;
	// Result Status is Operation Failed", reason Invalid Message; the other
	// items are still processed.
	Err error
}

// RequestMessage is a decoded request message.
type RequestMessage struct {
	Header     RequestHeader
	BatchItems []RequestBatchItem
}

// ResponseHeader is the Response Header (KMIP 1.4 §7.2 Table 286; 2.0 §8.5).
type ResponseHeader struct {
	ProtocolVersion        ProtocolVersion
	TimeStamp              time.Time
	Nonce                  ttlv.Value // zero when absent
	AttestationTypes       []AttestationType
	ClientCorrelationValue string
	ServerCorrelationValue string
}

// ResponseBatchItem is one answered operation (KMIP 1.4 Table 287; 2.0 §8.6).
type ResponseBatchItem struct {
	Operation                    Operation // 0: omitted (message-level failures)
	UniqueBatchItemID            []byte
	ResultStatus                 ResultStatus
	ResultReason                 ResultReason // 0: omitted
	ResultMessage                string
	AsynchronousCorrelationValue []byte
	Payload                      ttlv.Value // zero: omitted
	MessageExtension             ttlv.Value // zero: omitted
}

// ResponseMessage is a response to encode.
type ResponseMessage struct {
	Header     ResponseHeader
	BatchItems []ResponseBatchItem
}

// ParseRequestHeader decodes a Request Header structure. Any error is a
// message-level Invalid Message (KMIP 1.4 §11.1 "Message cannot be parsed").
func ParseRequestHeader(v ttlv.Value) (RequestHeader, error) {
	var h RequestHeader
	if v.Tag != TagRequestHeader || v.Type != ttlv.TypeStructure {
		return h, Errorf(ResultReasonInvalidMessage, "request header missing")
	}
	var seen fieldSet
	var haveVersion, haveCount bool
	for _, f := range v.Children() {
		if !seen.add(f.Tag) && f.Tag != TagAttestationType {
			return h, Errorf(ResultReasonInvalidMessage, "request header repeats %s", TagString(f.Tag))
		}
		var err error
		switch f.Tag {
		case TagProtocolVersion:
			h.ProtocolVersion, err = parseProtocolVersion(f)
			haveVersion = err == nil
		case TagMaximumResponseSize:
			err = want(f, ttlv.TypeInteger)
			h.MaximumResponseSize = f.Int()
		case TagClientCorrelationValue:
			err = want(f, ttlv.TypeTextString)
			h.ClientCorrelationValue = f.Text()
		case TagServerCorrelationValue:
			err = want(f, ttlv.TypeTextString)
			h.ServerCorrelationValue = f.Text()
		case TagAsynchronousIndicator:
			err = want(f, ttlv.TypeBoolean)
			h.AsynchronousIndicator = f.Bool()
		case TagAttestationCapableIndicator:
			err = want(f, ttlv.TypeBoolean)
			h.AttestationCapableIndicator = f.Bool()
		case TagAttestationType:
			err = want(f, ttlv.TypeEnumeration)
			h.AttestationTypes = append(h.AttestationTypes, AttestationType(f.Enum()))
		case TagAuthentication:
			err = want(f, ttlv.TypeStructure)
			h.Authentication = f
		case TagBatchErrorContinuationOption:
			err = want(f, ttlv.TypeEnumeration)
			h.BatchErrorContinuationOption = BatchErrorContinuationOption(f.Enum())
		case TagBatchOrderOption:
			err = want(f, ttlv.TypeBoolean)
			h.BatchOrderOption, h.HasBatchOrderOption = f.Bool(), true
		case TagTimeStamp:
			err = want(f, ttlv.TypeDateTime, ttlv.TypeDateTimeExtended)
			h.TimeStamp = f.Time()
		case TagBatchCount:
			err = want(f, ttlv.TypeInteger)
			h.BatchCount, haveCount = f.Int(), true
		default:
			// KMIP 1.4 §11.1: unknown header fields of a newer minor
			// version are ignored; we cannot yet know the version here
			// (it may come later in the header), so unknown fields are
			// ignored and the version is checked by the caller.
		}
		if err != nil {
			return h, err
		}
	}
	if !haveVersion {
		return h, Errorf(ResultReasonInvalidMessage, "request header has no protocol version")
	}
	if !haveCount {
		return h, Errorf(ResultReasonInvalidMessage, "request header has no batch count")
	}
	return h, nil
}

// ParseRequestMessage decodes a Request Message. A header that cannot be
// parsed fails the whole message; a batch item that cannot be parsed fails
// only that item (its Err is set).
func ParseRequestMessage(v ttlv.Value) (*RequestMessage, error) {
	if v.Tag != TagRequestMessage || v.Type != ttlv.TypeStructure {
		return nil, Errorf(ResultReasonInvalidMessage, "not a request message")
	}
	children := v.Children()
	if len(children) == 0 {
		return nil, Errorf(ResultReasonInvalidMessage, "request message is empty")
	}
	h, err := ParseRequestHeader(children[0])
	if err != nil {
		return nil, err
	}
	// Most messages carry one batch item: allocate its room with the
	// message, once.
	mem := &struct {
		msg RequestMessage
		one [1]RequestBatchItem
	}{msg: RequestMessage{Header: h}}
	m := &mem.msg
	if len(children) == 2 {
		m.BatchItems = mem.one[:0]
	} else {
		m.BatchItems = make([]RequestBatchItem, 0, len(children)-1)
	}
	for _, c := range children[1:] {
		if c.Tag != TagBatchItem {
			return nil, Errorf(ResultReasonInvalidMessage, "unexpected %s in request message", TagString(c.Tag))
		}
		m.BatchItems = append(m.BatchItems, parseRequestBatchItem(c))
	}
	if len(m.BatchItems) == 0 {
		return nil, Errorf(ResultReasonInvalidMessage, "request message has no batch item")
	}
	if int(h.BatchCount) != len(m.BatchItems) {
		return nil, Errorf(ResultReasonInvalidMessage, "batch count %d but %d batch items", h.BatchCount, len(m.BatchItems))
	}
	return m, nil
}

func parseRequestBatchItem(v ttlv.Value) RequestBatchItem {
	var b RequestBatchItem
	if v.Type != ttlv.TypeStructure {
		b.Err = Errorf(ResultReasonInvalidMessage, "batch item is not a structure")
		return b
	}
	var seen fieldSet
	var havePayload bool
	for _, f := range v.Children() {
		if !seen.add(f.Tag) && f.Tag != TagMessageExtension {
			b.Err = Errorf(ResultReasonInvalidMessage, "batch item repeats %s", TagString(f.Tag))
			return b
		}
		var err error
		switch f.Tag {
		case TagOperation:
			err = want(f, ttlv.TypeEnumeration)
			b.Operation = Operation(f.Enum())
		case TagEphemeral:
			err = want(f, ttlv.TypeBoolean)
			b.Ephemeral = f.Bool()
		case TagUniqueBatchItemID:
			err = want(f, ttlv.TypeByteString)
			b.UniqueBatchItemID = f.Bytes()
		case TagRequestPayload:
			err = want(f, ttlv.TypeStructure)
			b.Payload, havePayload = f, true
		case TagMessageExtension:
			err = want(f, ttlv.TypeStructure)
			b.MessageExtensions = append(b.MessageExtensions, f)
		}
		if err != nil {
			b.Err = err
			return b
		}
	}
	switch {
	case b.Operation == 0:
		b.Err = Errorf(ResultReasonInvalidMessage, "batch item has no operation")
	case !havePayload:
		b.Err = Errorf(ResultReasonInvalidMessage, "batch item has no request payload")
	}
	return b
}

func parseProtocolVersion(v ttlv.Value) (ProtocolVersion, error) {
	var pv ProtocolVersion
	maj, ok1 := v.Child(TagProtocolVersionMajor)
	minr, ok2 := v.Child(TagProtocolVersionMinor)
	if v.Type != ttlv.TypeStructure || !ok1 || !ok2 || maj.Type != ttlv.TypeInteger || minr.Type != ttlv.TypeInteger {
		return pv, Errorf(ResultReasonInvalidMessage, "malformed protocol version")
	}
	pv.Major, pv.Minor = maj.Int(), minr.Int()
	return pv, nil
}

// ProtocolVersionValue encodes v as a Protocol Version structure.
func ProtocolVersionValue(v ProtocolVersion) ttlv.Value {
	return ttlv.Struct(TagProtocolVersion,
		ttlv.Int(TagProtocolVersionMajor, v.Major),
		ttlv.Int(TagProtocolVersionMinor, v.Minor))
}

// Value encodes the response message as a TTLV tree. Fields the
// response's protocol version does not define are never written (KMIP 1.4
// §11.1; Percona's 1.0 client breaks on a Server Correlation Value), and
// batch item payloads are filtered by FilterForVersion.
func (m *ResponseMessage) Value() ttlv.Value {
	ver := m.Header.ProtocolVersion
	hdr := make([]ttlv.Value, 0, 6)
	hdr = append(hdr, ProtocolVersionValue(ver), ttlv.DateTime(TagTimeStamp, m.Header.TimeStamp))
	if !m.Header.Nonce.IsZero() && ver.AtLeast(V1_2) {
		hdr = append(hdr, m.Header.Nonce)
	}
	if ver.AtLeast(V1_2) {
		for _, t := range m.Header.AttestationTypes {
			hdr = append(hdr, ttlv.Enum(TagAttestationType, uint32(t)))
		}
	}
	if ver.AtLeast(V1_4) {
		if m.Header.ClientCorrelationValue != "" {
			hdr = append(hdr, ttlv.Text(TagClientCorrelationValue, m.Header.ClientCorrelationValue))
		}
		if m.Header.ServerCorrelationValue != "" {
			hdr = append(hdr, ttlv.Text(TagServerCorrelationValue, m.Header.ServerCorrelationValue))
		}
	}
	hdr = append(hdr, ttlv.Int(TagBatchCount, int32(len(m.BatchItems)))) //nolint:gosec // at most one item per request item, which ttlv.Limits.MaxItems bounds

	msg := make([]ttlv.Value, 0, 1+len(m.BatchItems))
	msg = append(msg, ttlv.Struct(TagResponseHeader, hdr...))
	for i := range m.BatchItems {
		msg = append(msg, m.BatchItems[i].value(ver))
	}
	return ttlv.Struct(TagResponseMessage, msg...)
}

func (b *ResponseBatchItem) value(ver ProtocolVersion) ttlv.Value {
	f := make([]ttlv.Value, 0, 7)
	if b.Operation != 0 {
		f = append(f, ttlv.Enum(TagOperation, uint32(b.Operation)))
	}
	if b.UniqueBatchItemID != nil {
		f = append(f, ttlv.Bytes(TagUniqueBatchItemID, b.UniqueBatchItemID))
	}
	f = append(f, ttlv.Enum(TagResultStatus, uint32(b.ResultStatus)))
	if b.ResultReason != 0 {
		f = append(f, ttlv.Enum(TagResultReason, uint32(b.ResultReason)))
	}
	if b.ResultMessage != "" {
		f = append(f, ttlv.Text(TagResultMessage, b.ResultMessage))
	}
	if b.AsynchronousCorrelationValue != nil {
		f = append(f, ttlv.Bytes(TagAsynchronousCorrelationValue, b.AsynchronousCorrelationValue))
	}
	if !b.Payload.IsZero() {
		f = append(f, FilterForVersion(b.Payload, ver))
	}
	if !b.MessageExtension.IsZero() {
		f = append(f, b.MessageExtension)
	}
	return ttlv.Struct(TagBatchItem, f...)
}

// FilterForVersion returns v without the items whose tags the given protocol
// version does not define. Tags outside the spec's tables (extensions,
// 0x54xxxx) are kept. The tree is copied only where something is removed.
func FilterForVersion(v ttlv.Value, ver ProtocolVersion) ttlv.Value {
	if v.Type != ttlv.TypeStructure {
		return v
	}
	children := v.Children()
	var out []ttlv.Value
	for i, c := range children {
		keep := keptIn(c.Tag, ver)
		fc := c
		if keep && c.Type == ttlv.TypeStructure {
			fc = FilterForVersion(c, ver)
		}
		changed := !keep || (c.Type == ttlv.TypeStructure && !sameChildren(fc, c))
		if changed && out == nil {
			out = make([]ttlv.Value, 0, len(children))
			out = append(out, children[:i]...)
		}
		if out != nil && keep {
			out = append(out, fc)
		}
	}
	if out == nil {
		return v
	}
	return ttlv.Struct(v.Tag, out...)
}

// keptIn reports whether a response in version ver may carry tag t: the
// version defines it, or the tables do not know it (an extension). It is
// the test of FilterForVersion, with one table look-up.
func keptIn(t ttlv.Tag, ver ProtocolVersion) bool {
	e, known := lookupTag(t)
	return !known || definedIn(e.since, e.until, ver.Major, ver.Minor)
}

func sameChildren(a, b ttlv.Value) bool {
	ac, bc := a.Children(), b.Children()
	return len(ac) == len(bc) && (len(ac) == 0 || &ac[0] == &bc[0])
}

// appendResponse writes the encoding of m.Value() to e without building
// the tree: every response goes through here, and the tree (and the
// filtered copies of payloads) would be garbage as soon as it is encoded.
// TestAppendResponseMatchesValue holds the two to the same bytes.
func appendResponse(e *ttlv.Encoder, m *ResponseMessage) {
	ver := m.Header.ProtocolVersion
	// One allocation at most: the unfiltered payloads bound what filtering
	// leaves of them, and the fixed fields of a header or item fit in 256
	// bytes beside their variable-length texts and byte strings.
	n := 256 + m.Header.Nonce.EncodedLen() + len(m.Header.ClientCorrelationValue) +
		len(m.Header.ServerCorrelationValue) + 16*len(m.Header.AttestationTypes)
	for i := range m.BatchItems {
		b := &m.BatchItems[i]
		n += 256 + len(b.UniqueBatchItemID) + len(b.ResultMessage) + len(b.AsynchronousCorrelationValue) +
			b.Payload.EncodedLen() + b.MessageExtension.EncodedLen()
	}
	e.Grow(n)

	msg := e.Begin(TagResponseMessage)
	hdr := e.Begin(TagResponseHeader)
	pv := e.Begin(TagProtocolVersion)
	e.Int(TagProtocolVersionMajor, ver.Major)
	e.Int(TagProtocolVersionMinor, ver.Minor)
	e.End(pv)
	e.DateTime(TagTimeStamp, m.Header.TimeStamp)
	if !m.Header.Nonce.IsZero() && ver.AtLeast(V1_2) {
		e.Value(m.Header.Nonce)
	}
	if ver.AtLeast(V1_2) {
		for _, t := range m.Header.AttestationTypes {
			e.Enum(TagAttestationType, uint32(t))
		}
	}
	if ver.AtLeast(V1_4) {
		if m.Header.ClientCorrelationValue != "" {
			e.Text(TagClientCorrelationValue, m.Header.ClientCorrelationValue)
		}
		if m.Header.ServerCorrelationValue != "" {
			e.Text(TagServerCorrelationValue, m.Header.ServerCorrelationValue)
		}
	}
	e.Int(TagBatchCount, int32(len(m.BatchItems))) //nolint:gosec // as in Value
	e.End(hdr)
	for i := range m.BatchItems {
		m.BatchItems[i].append(e, ver)
	}
	e.End(msg)
}

// append writes the encoding of b.value(ver) to e.
func (b *ResponseBatchItem) append(e *ttlv.Encoder, ver ProtocolVersion) {
	m := e.Begin(TagBatchItem)
	if b.Operation != 0 {
		e.Enum(TagOperation, uint32(b.Operation))
	}
	if b.UniqueBatchItemID != nil {
		e.ByteString(TagUniqueBatchItemID, b.UniqueBatchItemID)
	}
	e.Enum(TagResultStatus, uint32(b.ResultStatus))
	if b.ResultReason != 0 {
		e.Enum(TagResultReason, uint32(b.ResultReason))
	}
	if b.ResultMessage != "" {
		e.Text(TagResultMessage, b.ResultMessage)
	}
	if b.AsynchronousCorrelationValue != nil {
		e.ByteString(TagAsynchronousCorrelationValue, b.AsynchronousCorrelationValue)
	}
	if !b.Payload.IsZero() {
		appendFiltered(e, b.Payload, ver)
	}
	if !b.MessageExtension.IsZero() {
		e.Value(b.MessageExtension)
	}
	e.End(m)
}

// appendFiltered writes the encoding of FilterForVersion(v, ver) to e.
func appendFiltered(e *ttlv.Encoder, v ttlv.Value, ver ProtocolVersion) {
	if v.Type != ttlv.TypeStructure {
		e.Value(v)
		return
	}
	m := e.Begin(v.Tag)
	for _, c := range v.Children() {
		if keptIn(c.Tag, ver) {
			appendFiltered(e, c, ver)
		}
	}
	e.End(m)
}

// fieldSet tracks the tags seen in one structure, to refuse repeated
// fields (KMIP 1.4 §11.1: "The same field is contained in a header/batch
// item/payload more than once": Invalid Message). Headers and batch items
// have few fields, so a small slice beats a map.
type fieldSet struct {
	tags [16]ttlv.Tag
	n    int
	more []ttlv.Tag
}

func (s *fieldSet) add(t ttlv.Tag) bool {
	for _, x := range s.tags[:s.n] {
		if x == t {
			return false
		}
	}
	for _, x := range s.more {
		if x == t {
			return false
		}
	}
	if s.n < len(s.tags) {
		s.tags[s.n] = t
		s.n++
	} else {
		s.more = append(s.more, t)
	}
	return true
}

// want checks an item's type.
func want(v ttlv.Value, types ...ttlv.Type) error {
	for _, t := range types {
		if v.Type == t {
			return nil
		}
	}
	return Errorf(ResultReasonInvalidMessage, "%s has the wrong item type", TagString(v.Tag))
}
