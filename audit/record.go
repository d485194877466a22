package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
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
}

func deriveKeys(key []byte) (*keys, error) {
	if len(key) < MinKeySize {
		return nil, fmt.Errorf("%w: %d bytes, want at least %d", ErrKeySize, len(key), MinKeySize)
	}
	kid := derive(key, "key-id")
	defer clear(kid)
	return &keys{
		chain: derive(key, "chain"),
		value: derive(key, "value"),
		kid:   hex.EncodeToString(kid[:kidHexLen/2]),
	}, nil
}

func derive(key []byte, label string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("kmipd-audit-v1 " + label))
	return m.Sum(nil)
}

func (k *keys) clear() {
	clear(k.chain)
	clear(k.value)
}

// hmacValue is the correlation token for a sensitive value.
func (k *keys) hmacValue(v string) string {
	m := hmac.New(sha256.New, k.value)
	m.Write([]byte(v))
	var sum [sha256.Size]byte
	return "hmac-sha256:" + hex.EncodeToString(m.Sum(sum[:0]))
}

// recordMAC computes the mac of a line's unMACed form: the bytes before the
// mac field, then "}".
func (k *keys) recordMAC(head []byte) [sha256.Size]byte {
	m := hmac.New(sha256.New, k.chain)
	m.Write(head)
	m.Write([]byte{'}'})
	var sum [sha256.Size]byte
	m.Sum(sum[:0])
	return sum
}

// appendRecord appends one complete line (newline included) to dst.
// eventJSON is the event's JSON object; its braces are dropped so its fields
// sit between the header and prev.
func (k *keys) appendRecord(dst []byte, seq uint64, eventJSON []byte, prev string) ([]byte, string) {
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
	mac := hex.EncodeToString(sum[:])
	dst = append(dst, macPrefix...)
	dst = append(dst, mac...)
	dst = append(dst, macEnd...)
	dst = append(dst, '\n')
	return dst, mac
}

// recordSize is the length appendRecord will produce, so Log can refuse an
// oversized record before advancing the chain.
func recordSize(eventJSON []byte, prev string) int {
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
