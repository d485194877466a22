package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The reference encoder below is the encoding/json code that wrote records
// before appendEvent replaced it. Records must keep exactly its bytes, so
// the tests compare the two on hostile input. It is test code only.

type refEventJSON struct {
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

func refHMACValue(k *keys, v string) string {
	m := hmac.New(sha256.New, k.value)
	m.Write([]byte(v))
	var sum [sha256.Size]byte
	return "hmac-sha256:" + hex.EncodeToString(m.Sum(sum[:0]))
}

func refEncodeEvent(ev Event, now time.Time, sensitive map[string]bool, k *keys) ([]byte, error) {
	t := ev.Time
	if t.IsZero() {
		t = now
	}
	hide := func(name, v string) string {
		if v != "" && sensitive[name] {
			return refHMACValue(k, v)
		}
		return v
	}
	out := refEventJSON{
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
	return json.Marshal(out)
}

func refAppendRecord(k *keys, dst []byte, seq uint64, eventJSON []byte, prev string) ([]byte, string) {
	start := len(dst)
	dst = append(dst, `{"v":`...)
	dst = strconv.AppendInt(dst, recordVersion, 10)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, `,"kid":"`...)
	dst = append(dst, k.kid...)
	dst = append(dst, `",`...)
	dst = append(dst, eventJSON[1:len(eventJSON)-1]...)
	dst = append(dst, `,"prev":"`...)
	dst = append(dst, prev...)
	dst = append(dst, '"')
	m := hmac.New(sha256.New, k.chain)
	m.Write(dst[start:])
	m.Write([]byte{'}'})
	mac := hex.EncodeToString(m.Sum(nil))
	dst = append(dst, macPrefix...)
	dst = append(dst, mac...)
	dst = append(dst, macEnd...)
	dst = append(dst, '\n')
	return dst, mac
}

// hostileStrings are values an attacker or a buggy client might put in an
// event: everything encoding/json escapes, and the edges of UTF-8.
var hostileStrings = []string{
	"",
	"plain",
	`quote " and backslash \ and \"escaped\"`,
	"control \x00\x01\x07\b\t\n\v\f\r\x1b\x1f end",
	"forged\n{\"v\":1,\"seq\":2}",
	"\x7f DEL stays",
	"<script>alert('x')</script> & more",
	"line\u2028sep\u2029para",
	"\u2027\u202a neighbours of the separators",
	"invalid \xff\xfe utf-8 \xc3 \xe2\x80 \xed\xa0\x80 surrogate",
	"\xf0\x9f\x94\x91 emoji and é ß 日本",
	"\xf4\x90\x80\x80 beyond U+10FFFF",
	"\xc0\xaf overlong",
	"trailing partial \xe2\x80",
	"\ufffd real replacement char",
	strings.Repeat(`<&>"\`, 2000),
	strings.Repeat("long value ", 500),
}

func encodeTestEvents() []Event {
	base := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	evs := []Event{
		{},           // every field empty, time from now
		{Time: base}, // only a time
		event(1),     // a typical record
		{Time: base, Fields: map[string]string{}},        // empty, non-nil Fields
		{Time: base, Fields: map[string]string{"k": ""}}, // empty value is kept
		{Time: base.In(time.FixedZone("x", -7*3600)), Operation: "Get"},
		{Time: time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC), Operation: "Get"},
		{Time: time.Date(12345, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		{Time: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)},
		{
			Time: base, Subject: "CN=bob", Tenant: "t", Reason: "r",
			Fields: map[string]string{
				"password": "hunter2", "pin": "", "token": "<tok&>",
				"b": "2", "a": "1", "A": "0", "é": "acute", "\xff": "bad key",
				"\xfe": "other bad key", "<k>": "v", "k\"q": "v", "": "empty key",
				"k\u2028": "sep", "secret": strings.Repeat("s", 100),
			},
		},
	}
	for i, s := range hostileStrings {
		evs = append(evs, Event{
			Time: base.Add(time.Duration(i)), RequestID: s, Subject: s, Tenant: s,
			Operation: s, ObjectID: s, Result: s, Reason: s, Rule: s, Remote: s,
			Fields: map[string]string{s: s, "password": s, "x" + s: "y"},
		})
	}
	return evs
}

// sensitiveSets covers no sensitive names, the defaults, and top-level names.
var sensitiveSets = []map[string]bool{
	{},
	{"password": true, "pin": true, "secret": true, "credential": true, "token": true},
	{"password": true, "subject": true, "remote": true, "object_id": true, "request_id": true, "\xff": true, "<k>": true},
}

// encodeBoth encodes ev into a record both ways and fails on any difference.
func encodeBoth(t *testing.T, k *keys, ev Event, sens map[string]bool, now time.Time, seq uint64, prev string) string {
	t.Helper()
	want, err := refEncodeEvent(ev, now, sens, k)
	if err != nil {
		t.Fatalf("reference encoder: %v", err)
	}
	withTime := ev
	if withTime.Time.IsZero() {
		withTime.Time = now
	}
	got := appendEvent([]byte("junk before"), &withTime, sens, k)[len("junk before"):]
	if !bytes.Equal(got, want) {
		t.Fatalf("event JSON differs from encoding/json\n got: %q\nwant: %q", got, want)
	}
	wantLine, wantMAC := refAppendRecord(k, nil, seq, want, prev)
	gotLine, gotMAC := k.appendRecord([]byte("x"), seq, got, []byte(prev))
	if !bytes.Equal(gotLine[1:], wantLine) || string(gotMAC) != wantMAC {
		t.Fatalf("record differs\n got: %q\nwant: %q", gotLine[1:], wantLine)
	}
	return wantMAC
}

func TestAppendEventMatchesEncodingJSON(t *testing.T) {
	k, err := deriveKeys(testKey)
	if err != nil {
		t.Fatal(err)
	}
	defer k.clear()
	now := time.Date(2030, 6, 7, 8, 9, 10, 11, time.UTC)
	for si, sens := range sensitiveSets {
		prev := ""
		for i, ev := range encodeTestEvents() {
			t.Run(strconv.Itoa(si)+"/"+strconv.Itoa(i), func(t *testing.T) {
				prev = encodeBoth(t, k, ev, sens, now, uint64(i+1), prev)
			})
		}
	}
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range hostileStrings {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("appendJSONString(%q)\n got: %s\nwant: %s", s, got, want)
		}
	}
	// Every single byte and every 2-byte sequence (which covers each
	// ASCII escape and each lone or paired invalid UTF-8 byte).
	for a := range 256 {
		for b := range 257 {
			s := string([]byte{byte(a)})
			if b < 256 {
				s += string([]byte{byte(b)})
			}
			want, _ := json.Marshal(s)
			if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
				t.Fatalf("appendJSONString(%q) = %s, want %s", s, got, want)
			}
		}
	}
}

// TestNewRecordsVerify checks that a log mixing records written by the
// reference encoder (an old log) and by Logger verifies as one chain.
func TestNewRecordsVerify(t *testing.T) {
	k, err := deriveKeys(testKey)
	if err != nil {
		t.Fatal(err)
	}
	defer k.clear()
	var old []byte
	prev := ""
	for i, ev := range encodeTestEvents()[:5] {
		ej, err := refEncodeEvent(ev, time.Now(), defaultSensitiveSet(), k)
		if err != nil {
			t.Fatal(err)
		}
		old, prev = refAppendRecord(k, old, uint64(i+1), ej, prev)
	}
	path := filepath.Join(t.TempDir(), "audit.log")
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	fs, err := OpenFileSink(path)
	if err != nil {
		t.Fatal(err)
	}
	l := newLogger(t, fs) // continues the old chain, or fails
	logged := 0
	for _, ev := range encodeTestEvents() {
		err := l.Log(t.Context(), ev)
		switch {
		case errors.Is(err, ErrRecordTooLarge): // the long hostile values
		case err != nil:
			t.Fatal(err)
		default:
			logged++
		}
	}
	if logged < 20 {
		t.Fatalf("only %d events logged", logged)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(bytes.NewReader(data), testKey)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if want := 5 + logged; rep.Records != want {
		t.Fatalf("verified %d records, want %d", rep.Records, want)
	}
}

func defaultSensitiveSet() map[string]bool {
	m := map[string]bool{}
	for _, n := range defaultSensitive {
		m[n] = true
	}
	return m
}

func FuzzAppendEvent(f *testing.F) {
	for _, s := range hostileStrings[:len(hostileStrings)-2] {
		f.Add(s, s, "password")
	}
	k, err := deriveKeys(testKey)
	if err != nil {
		f.Fatal(err)
	}
	sens := sensitiveSets[2]
	now := time.Date(2030, 6, 7, 8, 9, 10, 11, time.UTC)
	f.Fuzz(func(t *testing.T, a, b, c string) {
		ev := Event{Time: now, Subject: a, Reason: b, Remote: c, Fields: map[string]string{a: b, c: a, "password": c}}
		encodeBoth(t, k, ev, sens, now, 3, "")
	})
}

// BenchmarkEncodeRecord measures the per-record CPU work of Log without I/O
// or locking: encoding the event and appending the chained, MACed line.
func BenchmarkEncodeRecord(b *testing.B) {
	k, err := deriveKeys(testKey)
	if err != nil {
		b.Fatal(err)
	}
	defer k.clear()
	plain := event(1)
	plain.Fields = map[string]string{"name": "payroll-key"}
	withSecret := event(1)
	withSecret.Fields = map[string]string{"name": "payroll-key", "password": "hunter2", "algorithm": "AES"}
	sens := map[string]bool{"password": true, "subject": true}
	for _, bc := range []struct {
		name string
		ev   Event
	}{{"plain", plain}, {"sensitive", withSecret}} {
		b.Run(bc.name, func(b *testing.B) {
			var dst, ej, prev []byte
			b.ReportAllocs()
			for b.Loop() {
				ej = appendEvent(ej[:0], &bc.ev, sens, k)
				var mac []byte
				dst, mac = k.appendRecord(dst[:0], 7, ej, prev)
				prev = append(prev[:0], mac...)
			}
		})
	}
}

// TestAppendJSONStringGolden pins the escaping with literal bytes, so the
// format stays fixed even if a later encoding/json escaped differently.
func TestAppendJSONStringGolden(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", `""`},
		{`a"b\c`, `"a\"b\\c"`},
		{"\b\f\n\r\t\x00\x1f\x7f", `"\b\f\n\r\t\u0000\u001f` + "\x7f" + `"`},
		{"<a>&", `"\u003ca\u003e\u0026"`},
		{"x\u2028y\u2029z", `"x\u2028y\u2029z"`},
		{"\xff\xc3(é", `"\ufffd\ufffd(é"`},
	} {
		if got := string(appendJSONString(nil, tc.in)); got != tc.want {
			t.Errorf("appendJSONString(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
