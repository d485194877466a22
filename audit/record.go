package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"strconv"
	"sync"
)

// MaxRecordSize bounds one record, newline included. Audit records are a few
// hundred bytes; the bound keeps a hostile attribute value from growing the
// log (and every reader's buffer) without limit.
const MaxRecordSize = 64 << 10

// recordVersion is the "v" field; bump it with any change to the format
// described in doc.go.
const recordVersion = 1

const (
	macHexLen = 2 * sha256.Size
	macPrefix = `,"mac":"`
	macEnd    = `"}`
	// macSuffixLen is the fixed length of `,"mac":"<64 hex>"}`.
	macSuffixLen = len(macPrefix) + macHexLen + len(macEnd)
	kidHexLen    = 16
)

// keys holds what is derived from the audit key; see "Record format" in
// doc.go for why there are separate keys.
type keys struct {
	chain []byte
	value []byte
	kid   string

	// chainMAC is HMAC-SHA256 under chain, reset for each record rather than
	// built anew, which saves allocations and two SHA-256 blocks per record.
	// It is not safe for concurrent use: recordMAC's callers take turns
	// (Logger under its mu; New and Verify use keys of their own).
	chainMAC hash.Hash
	// chainSum receives chainMAC's sum: a local array would escape to the
	// heap through the hash.Hash interface.
	chainSum []byte
	// valueMACs holds *valueMAC for appendHMACValue, which Log calls from
	// many goroutines at once.
	valueMACs *sync.Pool
}

// valueMAC is an HMAC-SHA256 under keys.value with a buffer to pass it a
// string without a heap allocation per value.
type valueMAC struct {
	h   hash.Hash
	buf []byte
	sum []byte // h's sum, kept for the same reason as keys.chainSum
}

// maxValueBuf bounds the buffer a pooled valueMAC keeps.
const maxValueBuf = 1 << 10

func deriveKeys(key []byte) (*keys, error) {
	if len(key) < MinKeySize {
		return nil, fmt.Errorf("%w: %d bytes, want at least %d", ErrKeySize, len(key), MinKeySize)
	}
	kid := derive(key, "key-id")
	defer clear(kid)
	k := &keys{
		chain: derive(key, "chain"),
		value: derive(key, "value"),
		kid:   hex.EncodeToString(kid[:kidHexLen/2]),
	}
	k.chainMAC = hmac.New(sha256.New, k.chain)
	k.chainSum = make([]byte, 0, sha256.Size)
	k.valueMACs = &sync.Pool{New: func() any {
		return &valueMAC{h: hmac.New(sha256.New, k.value), sum: make([]byte, 0, sha256.Size)}
	}}
	return k, nil
}

func derive(key []byte, label string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("kmipd-audit-v1 " + label))
	return m.Sum(nil)
}

// clear zeroes the derived keys and drops the HMAC states built from them.
// crypto/hmac offers no way to zero its key-derived state; dropping it
// leaves it to the garbage collector, as every per-record HMAC was before.
// Callers make sure no other method of k runs during or after clear.
func (k *keys) clear() {
	clear(k.chain)
	clear(k.value)
	k.chainMAC = nil
	k.valueMACs = nil
}

// hmacValue is the correlation token for a sensitive value.
func (k *keys) hmacValue(v string) string {
	return string(k.appendHMACValue(nil, v))
}

// appendHMACValue appends hmacValue(v) to dst. It is safe for concurrent use.
func (k *keys) appendHMACValue(dst []byte, v string) []byte {
	m := k.valueMACs.Get().(*valueMAC)
	m.h.Reset()
	if len(v) <= maxValueBuf {
		m.buf = append(m.buf[:0], v...)
		m.h.Write(m.buf)
		clear(m.buf) // it held the sensitive value
	} else {
		m.h.Write([]byte(v))
	}
	m.sum = m.h.Sum(m.sum[:0])
	dst = append(dst, "hmac-sha256:"...)
	dst = hex.AppendEncode(dst, m.sum)
	k.valueMACs.Put(m)
	return dst
}

// closingBrace is the "}" recordMAC appends; a package variable because a
// literal passed to the hash.Hash interface would be allocated per call.
var closingBrace = []byte{'}'}

// recordMAC computes the mac of a line's unMACed form: the bytes before the
// mac field, then "}". Calls must not overlap; see chainMAC.
func (k *keys) recordMAC(head []byte) [sha256.Size]byte {
	m := k.chainMAC
	m.Reset()
	m.Write(head)
	m.Write(closingBrace)
	k.chainSum = m.Sum(k.chainSum[:0])
	return [sha256.Size]byte(k.chainSum)
}

// appendRecord appends one complete line (newline included) to dst and
// returns it with the line's mac in hex, which aliases dst: copy it before
// dst changes. eventJSON is the event's JSON object; its braces are dropped
// so its fields sit between the header and prev.
func (k *keys) appendRecord(dst []byte, seq uint64, eventJSON, prev []byte) ([]byte, []byte) {
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
	sum := k.recordMAC(dst[start:])
	dst = append(dst, macPrefix...)
	macStart := len(dst)
	dst = hex.AppendEncode(dst, sum[:])
	dst = append(dst, macEnd...)
	dst = append(dst, '\n')
	return dst, dst[macStart : macStart+macHexLen]
}

// recordSize is the length appendRecord will produce, so Log can refuse an
// oversized record before advancing the chain.
func recordSize(eventJSON, prev []byte) int {
	const fixed = len(`{"v":`) + len(`,"seq":`) + 20 + len(`,"kid":"`) + kidHexLen + len(`",`) +
		len(`,"prev":"`) + len(`"`) + macSuffixLen + 1
	return fixed + 1 + len(eventJSON) - 2 + len(prev)
}

// recordMeta is what verification needs from a record.
type recordMeta struct {
	V    int     `json:"v"`
	Seq  uint64  `json:"seq"`
	KID  string  `json:"kid"`
	Time string  `json:"time"`
	Prev *string `json:"prev"`
}

// checkLine authenticates one line (without its newline) and returns its
// metadata and mac. The reason it returns on failure never quotes the line:
// a record may hold values an operator should not see in an error.
func (k *keys) checkLine(line []byte) (recordMeta, string, string) {
	var meta recordMeta
	if len(line) == 0 {
		return meta, "", "empty line"
	}
	if len(line) < 2+macSuffixLen || line[0] != '{' {
		return meta, "", "not a record (truncated or malformed)"
	}
	suffix := line[len(line)-macSuffixLen:]
	if !bytes.HasPrefix(suffix, []byte(macPrefix)) || !bytes.HasSuffix(suffix, []byte(macEnd)) {
		return meta, "", "not a record: it does not end with a mac field (truncated or malformed)"
	}
	macHex := suffix[len(macPrefix) : len(macPrefix)+macHexLen]
	var got [sha256.Size]byte
	if !isLowerHex(macHex) {
		return meta, "", "mac field is not lower-case hex"
	}
	if _, err := hex.Decode(got[:], macHex); err != nil {
		return meta, "", "mac field is not hex"
	}
	want := k.recordMAC(line[:len(line)-macSuffixLen])
	if !hmac.Equal(got[:], want[:]) {
		// Tell a wrong key apart from an altered record, if the kid parses.
		var probe struct {
			KID string `json:"kid"`
		}
		if json.Unmarshal(line, &probe) == nil && len(probe.KID) == kidHexLen && probe.KID != k.kid {
			return meta, "", fmt.Sprintf("record written under another key (key id %s, this key is %s)", probe.KID, k.kid)
		}
		return meta, "", "mac mismatch: record altered"
	}
	// The mac is good, so the JSON is ours; a failure here means a bug or a
	// leaked key, and is reported rather than trusted.
	if err := json.Unmarshal(line, &meta); err != nil {
		return meta, "", "authenticated record is not valid JSON"
	}
	if meta.V != recordVersion {
		return meta, "", fmt.Sprintf("unsupported record version %d", meta.V)
	}
	if meta.Prev == nil {
		return meta, "", "record has no prev field"
	}
	return meta, string(macHex), ""
}

func isLowerHex(b []byte) bool {
	for _, c := range b {
		isDigit := '0' <= c && c <= '9'
		isLowerAF := 'a' <= c && c <= 'f'
		if !isDigit && !isLowerAF {
			return false
		}
	}
	return true
}
