package ttlv

import (
	"encoding/hex"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Conversions between primitive values and the strings of the XML and JSON
// encodings (KMIP Profiles §5.4.1.5, §5.5.1.5). Parsers return a
// *SyntaxError without offset or tag, which the caller fills in.

func valueErr(sentinel error, format string, args ...any) *SyntaxError {
	return &SyntaxError{Reason: fmt.Sprintf(format, args...), Err: sentinel}
}

// parseHex parses "0x" followed by 1 to bits/4 hex digits. ok is false when
// s has no 0x prefix.
func parseHex(s string, bits int) (u uint64, ok bool, err error) {
	h, ok := strings.CutPrefix(s, "0x")
	if !ok {
		h, ok = strings.CutPrefix(s, "0X")
	}
	if !ok {
		return 0, false, nil
	}
	if len(h) == 0 || len(h) > bits/4 {
		return 0, true, valueErr(ErrBadValue, "hex value %q does not have 1 to %d digits", s, bits/4)
	}
	u, perr := strconv.ParseUint(h, 16, bits)
	if perr != nil {
		return 0, true, valueErr(ErrBadValue, "bad hex value %q", s)
	}
	return u, true, nil
}

func formatEnum(names Names, ctx Tag, v uint32) string {
	if names != nil {
		if s, ok := names.EnumName(ctx, v); ok {
			return s
		}
	}
	return fmt.Sprintf("0x%08X", v)
}

func parseEnum(names Names, ctx Tag, s string) (uint32, error) {
	if names != nil {
		if v, ok := names.EnumByName(ctx, s); ok {
			return v, nil
		}
	}
	t := strings.TrimSpace(s)
	if u, ok, err := parseHex(t, 32); ok {
		return uint32(u), err
	}
	if u, err := strconv.ParseUint(t, 10, 32); err == nil {
		return uint32(u), nil
	}
	return 0, valueErr(ErrUnknownName, "unknown enumeration value %q", s)
}

// formatInt spells an Integer: bit names joined by sep for a mask (residual
// bits in hex), decimal otherwise. isMask reports which.
func formatInt(names Names, ctx Tag, v int32, sep string) (s string, isMask bool) {
	var bits []MaskBit
	if names != nil {
		bits = names.MaskBits(ctx)
	}
	if bits == nil || v == 0 {
		return strconv.FormatInt(int64(v), 10), false
	}
	rest := uint32(v)
	var parts []string
	for _, b := range bits {
		if b.Value != 0 && rest&b.Value == b.Value {
			parts = append(parts, b.Name)
			rest &^= b.Value
		}
	}
	if rest != 0 {
		parts = append(parts, fmt.Sprintf("0x%08X", rest))
	}
	return strings.Join(parts, sep), true
}

func isMaskSep(r rune) bool {
	return r == '|' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
}

// parseInt parses an Integer: decimal, 0x hex, or for a mask the names of
// its bits (and hex or decimal parts) separated by whitespace or '|', in any
// order.
func parseInt(names Names, ctx Tag, s string) (int32, error) {
	t := strings.TrimSpace(s)
	if i, err := strconv.ParseInt(t, 10, 32); err == nil {
		return int32(i), nil
	}
	if u, ok, err := parseHex(t, 32); ok && err == nil {
		return int32(uint32(u)), nil
	}
	var bits []MaskBit
	if names != nil {
		bits = names.MaskBits(ctx)
	}
	parts := strings.FieldsFunc(t, isMaskSep)
	if len(parts) == 0 || (bits == nil && len(parts) == 1) {
		return 0, valueErr(ErrBadValue, "integer value %q is not a number", s)
	}
	var v uint32
next:
	for _, p := range parts {
		if u, ok, err := parseHex(p, 32); ok {
			if err != nil {
				return 0, err
			}
			v |= uint32(u)
			continue
		}
		if u, err := strconv.ParseUint(p, 10, 32); err == nil {
			v |= uint32(u)
			continue
		}
		for _, b := range bits {
			if b.Name == p {
				v |= b.Value
				continue next
			}
		}
		if bits == nil {
			return 0, valueErr(ErrBadValue, "integer value %q is not a number", s)
		}
		return 0, valueErr(ErrUnknownName, "unknown mask bit %q", p)
	}
	return int32(v), nil
}

func parseLong(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if u, ok, err := parseHex(t, 64); ok {
		return int64(u), err
	}
	i, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		return 0, valueErr(ErrBadValue, "long integer value %q is not a number", s)
	}
	return i, nil
}

func parseInterval(s string) (uint32, error) {
	t := strings.TrimSpace(s)
	if u, ok, err := parseHex(t, 32); ok {
		return uint32(u), err
	}
	u, err := strconv.ParseUint(t, 10, 32)
	if err != nil {
		return 0, valueErr(ErrBadValue, "interval value %q is not a number of seconds", s)
	}
	return uint32(u), nil
}

func parseBool(s string) (bool, error) {
	t := strings.TrimSpace(s)
	switch t {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	if u, ok, err := parseHex(t, 64); ok && err == nil && u <= 1 {
		return u == 1, nil
	}
	return false, valueErr(ErrBadValue, "boolean value %q, want true or false", s)
}

const (
	isoSeconds = "2006-01-02T15:04:05-07:00"
	isoMicros  = "2006-01-02T15:04:05.000000-07:00"
)

// formatTime writes t (UTC) in ISO 8601 with a numeric offset, as the
// vectors do, or, for a year ISO 8601 cannot write in 4 digits, the raw
// 64-bit value in hex.
func formatTime(t time.Time, layout string, raw uint64) string {
	if y := t.Year(); y < 0 || y > 9999 {
		return fmt.Sprintf("0x%016X", raw)
	}
	return t.Format(layout)
}

func formatDateTime(secs int64) string {
	return formatTime(time.Unix(secs, 0).UTC(), isoSeconds, uint64(secs))
}

func formatDateTimeExtended(micros int64) string {
	return formatTime(time.UnixMicro(micros).UTC(), isoMicros, uint64(micros))
}

// parseTime parses ISO 8601 (RFC 3339, with or without fractional seconds;
// without an offset it is taken as UTC) or a 0x hex raw value. It returns
// the time, or raw with isRaw set.
func parseTime(s string) (t time.Time, raw int64, isRaw bool, err error) {
	v := strings.TrimSpace(s)
	if u, ok, err := parseHex(v, 64); ok {
		return time.Time{}, int64(u), true, err
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, 0, false, nil
	}
	if t, err := time.Parse("2006-01-02T15:04:05.999999999", v); err == nil {
		return t, 0, false, nil
	}
	return time.Time{}, 0, false, valueErr(ErrBadValue, "date-time value %q is not ISO 8601", s)
}

func parseDateTime(s string) (int64, error) {
	t, raw, isRaw, err := parseTime(s)
	if err != nil || isRaw {
		return raw, err
	}
	return t.Unix(), nil
}

func parseDateTimeExtended(s string) (int64, error) {
	t, raw, isRaw, err := parseTime(s)
	if err != nil || isRaw {
		return raw, err
	}
	return t.UnixMicro(), nil
}

// parseHexBytes decodes a Byte String: hex in either case, with or without
// a 0x prefix.
func parseHexBytes(s string) ([]byte, error) {
	h := strings.TrimSpace(s)
	if p, ok := strings.CutPrefix(h, "0x"); ok {
		h = p
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return nil, valueErr(ErrBadValue, "byte string is not hex")
	}
	return b, nil
}

// parseBigIntHex decodes a Big Integer written as two's complement
// big-endian hex (with or without 0x) and sign-extends it to a multiple of
// 8 bytes (KMIP 1.4 §9.1.1.4).
func parseBigIntHex(s string) ([]byte, error) {
	h := strings.TrimSpace(s)
	if p, ok := strings.CutPrefix(h, "0x"); ok {
		h = p
	}
	if len(h)%2 == 1 {
		h = "0" + h
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return nil, valueErr(ErrBadValue, "big integer is not hex")
	}
	if len(b)%8 == 0 {
		return b, nil
	}
	n := (len(b) + 7) &^ 7
	out := make([]byte, n)
	if b[0]&0x80 != 0 {
		for i := range out[:n-len(b)] {
			out[i] = 0xFF
		}
	}
	copy(out[n-len(b):], b)
	return out, nil
}

// parseBigIntDecimal decodes a Big Integer written as a decimal number.
func parseBigIntDecimal(s string) ([]byte, error) {
	x, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return nil, valueErr(ErrBadValue, "big integer is not a number")
	}
	return bigIntBytes(x), nil
}

// parseScalar parses the string form of a primitive of type typ. ctx is the
// tag whose names apply (see ContextNames).
func parseScalar(names Names, tag, ctx Tag, typ Type, s string) (Value, error) {
	switch typ {
	case TypeInteger:
		i, err := parseInt(names, ctx, s)
		return Int(tag, i), err
	case TypeLongInteger:
		i, err := parseLong(s)
		return Long(tag, i), err
	case TypeBigInteger:
		b, err := parseBigIntHex(s)
		return BigIntRaw(tag, b), err
	case TypeEnumeration:
		u, err := parseEnum(names, ctx, s)
		return Enum(tag, u), err
	case TypeBoolean:
		b, err := parseBool(s)
		return Bool(tag, b), err
	case TypeTextString:
		return Text(tag, s), nil
	case TypeByteString:
		b, err := parseHexBytes(s)
		return Bytes(tag, b), err
	case TypeDateTime:
		n, err := parseDateTime(s)
		return Value{Tag: tag, Type: TypeDateTime, num: uint64(n)}, err
	case TypeDateTimeExtended:
		n, err := parseDateTimeExtended(s)
		return Value{Tag: tag, Type: TypeDateTimeExtended, num: uint64(n)}, err
	case TypeInterval:
		u, err := parseInterval(s)
		return Interval(tag, u), err
	default:
		return Value{}, valueErr(ErrBadType, "type %v has no scalar form", typ)
	}
}
