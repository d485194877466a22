package audit

import (
	"encoding/json"
	"time"
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

// eventJSON fixes the JSON names of Event; they are also the names that
// WithSensitive matches for the top-level fields.
type eventJSON struct {
	Time      string            `json:"time"`
	RequestID string            `json:"request_id,omitempty"`
	Subject   string            `json:"subject,omitempty"`
	Tenant    string            `json:"tenant,omitempty"`
	Operation string            `json:"operation,omitempty"`
	ObjectID  string            `json:"object_id,omitempty"`
	Result    string            `json:"result,omitempty"`
	Reason    string            `json:"reason,omitempty"`
	Rule      string            `json:"rule,omitempty"`
	Remote    string            `json:"remote,omitempty"`
	Fields    map[string]string `json:"fields,omitempty"`
}

// encodeEvent copies ev with sensitive values replaced by their HMAC (the
// caller's Fields map is never modified) and returns its JSON object.
// encoding/json escapes control characters, so a hostile value cannot start
// a new line and forge a record.
func encodeEvent(ev Event, now time.Time, sensitive map[string]bool, k *keys) ([]byte, error) {
	t := ev.Time
	if t.IsZero() {
		t = now
	}
	hide := func(name, v string) string {
		if v != "" && sensitive[name] {
			return k.hmacValue(v)
		}
		return v
	}
	out := eventJSON{
		Time:      t.UTC().Format(time.RFC3339Nano),
		RequestID: hide("request_id", ev.RequestID),
		Subject:   hide("subject", ev.Subject),
		Tenant:    hide("tenant", ev.Tenant),
		Operation: hide("operation", ev.Operation),
		ObjectID:  hide("object_id", ev.ObjectID),
		Result:    hide("result", ev.Result),
		Reason:    hide("reason", ev.Reason),
		Rule:      hide("rule", ev.Rule),
		Remote:    hide("remote", ev.Remote),
	}
	if len(ev.Fields) > 0 {
		out.Fields = make(map[string]string, len(ev.Fields))
		for name, v := range ev.Fields {
			out.Fields[name] = hide(name, v)
		}
	}
	// Map keys are sorted by encoding/json, so equal events encode equally.
	return json.Marshal(out)
}
