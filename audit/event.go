package audit

import (
	"slices"
	"time"
	"unicode/utf8"
)

// Event is one audited operation. Every field is a plain string so this
// package stays free of KMIP and ACL types; the service fills them in.
type Event struct {
	// Time of the request; zero means the time Log is called.
	Time time.Time
	// RequestID ties the record to server logs (e.g. connection and batch
	// item).
	RequestID string
	// Subject is the authenticated client (from its TLS certificate).
	Subject string
	Tenant  string
	// Operation is the KMIP operation name, e.g. "Create".
	Operation string
	// ObjectID is the Unique Identifier the operation acted on, if any.
	ObjectID string
	// Result is the KMIP Result Status, e.g. "Success" or "OperationFailed".
	Result string
	// Reason is the Result Reason or a short error; never key material.
	Reason string
	// Rule names the ACL rule that allowed or denied the request.
	Rule string
	// Remote is the client's network address.
	Remote string
	// Fields holds extra attributes. Values whose key is in the Logger's
	// sensitive set are replaced by their HMAC.
	Fields map[string]string
}

// topFields are the JSON names of Event's string fields, in the order
// records carry them; they are also the names WithSensitive matches. The
// order and names are part of the record format (doc.go): changing them
// changes what a record looks like, though old records keep verifying.
var topFields = [...]string{
	"request_id", "subject", "tenant", "operation", "object_id",
	"result", "reason", "rule", "remote",
}

// topValues returns ev's string fields in topFields order.
func (ev *Event) topValues() [len(topFields)]string {
	return [...]string{
		ev.RequestID, ev.Subject, ev.Tenant, ev.Operation, ev.ObjectID,
		ev.Result, ev.Reason, ev.Rule, ev.Remote,
	}
}

// maxStackFields is how many Fields keys appendEvent sorts without a heap
// allocation; events carry a handful at most.
const maxStackFields = 8

// appendEvent appends ev's JSON object to dst, with sensitive values replaced
// by their HMAC; ev.Time must be set. The bytes are exactly those
// encoding/json.Marshal produced for this object in earlier versions (fields
// in topFields order, empty ones left out, Fields keys sorted bytewise, strings
// escaped as appendJSONString does), so a log keeps one format across
// versions. The JSON is built by hand because Marshal's reflection, map copy
// and key sort were most of the CPU and allocations of Log.
func appendEvent(dst []byte, ev *Event, sensitive map[string]bool, k *keys) []byte {
	// Time is "time" in UTC, RFC 3339 with nanoseconds. Its only bytes are
	// digits, '-', ':', '.', 'T' and 'Z' (a year beyond 9999 just has more
	// digits), none of which JSON escapes, so it is appended as it is.
	dst = append(dst, `{"time":"`...)
	dst = ev.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, '"')

	vals := ev.topValues()
	for i, name := range topFields {
		v := vals[i]
		if v == "" { // omitted, as omitempty did
			continue
		}
		dst = append(dst, ',', '"')
		dst = append(dst, name...) // plain ASCII, nothing to escape
		dst = append(dst, '"', ':')
		dst = appendValue(dst, name, v, sensitive, k)
	}

	if len(ev.Fields) == 0 {
		return append(dst, '}')
	}
	var stack [maxStackFields]string
	names := stack[:0]
	for name := range ev.Fields {
		names = append(names, name)
	}
	// Bytewise order of the raw keys, as encoding/json sorts map keys.
	slices.Sort(names)
	dst = append(dst, `,"fields":{`...)
	for i, name := range names {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, name)
		dst = append(dst, ':')
		dst = appendValue(dst, name, ev.Fields[name], sensitive, k)
	}
	return append(dst, '}', '}')
}

// appendValue appends v as a JSON string, or its HMAC token if name is
// sensitive. An empty value stays empty: there is nothing to hide.
func appendValue(dst []byte, name, v string, sensitive map[string]bool, k *keys) []byte {
	if v != "" && sensitive[name] {
		dst = append(dst, '"')
		dst = k.appendHMACValue(dst, v) // "hmac-sha256:" and hex: no escaping
		return append(dst, '"')
	}
	return appendJSONString(dst, v)
}

// jsonPlain tells which ASCII bytes appendJSONString copies as they are.
var jsonPlain = func() (plain [utf8.RuneSelf]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		plain[c] = true
	}
	for _, c := range `"\<>&` {
		plain[c] = false
	}
	return plain
}()

// appendJSONString appends s as a quoted JSON string (RFC 8259 §7), escaped
// exactly as encoding/json.Marshal escapes strings, because records written
// by Marshal must keep the same bytes for the same event:
//   - '"' and backslash are backslash-escaped; \b \f \n \r \t use their short
//     forms, and every other byte below 0x20 is \u00XX (lower-case hex). So a
//     hostile value cannot end the line and forge a record.
//   - '<', '>' and '&' are \u003c, \u003e and \u0026 (Marshal's HTML-safe
//     default).
//   - U+2028 and U+2029 are \u2028 and \u2029.
//   - Each byte that is not part of valid UTF-8 becomes \ufffd.
//
// Everything else, including DEL and valid multi-byte UTF-8, is copied.
func appendJSONString(dst []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	copied := 0 // s[:copied] is already in dst
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonPlain[c] {
				i++
				continue
			}
			dst = append(dst, s[copied:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default: // other control bytes, '<', '>', '&'
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			copied = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1: // not UTF-8
			dst = append(dst, s[copied:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[copied:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		copied = i
	}
	dst = append(dst, s[copied:]...)
	return append(dst, '"')
}
