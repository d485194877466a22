package ttlv

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Sentinel errors. Every decoding error of this package wraps exactly one of
// them, usually inside a *SyntaxError that says where.
var (
	// ErrTruncated: the input ends before the item its header announces.
	ErrTruncated = errors.New("ttlv: truncated")
	// ErrTooLarge: the message exceeds Limits.MaxMessageSize.
	ErrTooLarge = errors.New("ttlv: message too large")
	// ErrTooDeep: structures nest deeper than Limits.MaxDepth.
	ErrTooDeep = errors.New("ttlv: nesting too deep")
	// ErrTooManyItems: the message holds more than Limits.MaxItems items.
	ErrTooManyItems = errors.New("ttlv: too many items")
	// ErrBadPadding: a padding byte is not zero (KMIP 1.4 §9.1.1.3).
	ErrBadPadding = errors.New("ttlv: nonzero padding")
	// ErrBadLength: a declared length does not fit the item type, or a
	// structure's length is not the sum of its children.
	ErrBadLength = errors.New("ttlv: bad length")
	// ErrBadType: an unknown item type, or not the type expected.
	ErrBadType = errors.New("ttlv: bad item type")
	// ErrBadValue: a value not allowed by its type: a Boolean other than 0
	// or 1, a Text String that is not UTF-8, or an XML/JSON value that does
	// not parse as its type.
	ErrBadValue = errors.New("ttlv: bad value")
	// ErrUnknownName: an XML/JSON tag or enumeration name that the Names in
	// use do not know.
	ErrUnknownName = errors.New("ttlv: unknown name")
	// ErrSyntax: malformed XML or JSON, or a document that does not have
	// the shape of a TTLV item.
	ErrSyntax = errors.New("ttlv: malformed document")
)

var sentinels = [...]error{
	ErrTruncated, ErrTooLarge, ErrTooDeep, ErrTooManyItems, ErrBadPadding,
	ErrBadLength, ErrBadType, ErrBadValue, ErrUnknownName, ErrSyntax,
}

// SyntaxError reports where and why an input is not valid TTLV (or not a
// valid XML/JSON form of it). It unwraps to one of the sentinel errors.
type SyntaxError struct {
	// Offset is the byte offset in the input of the item at fault (for
	// XML and JSON, the decoder's input offset when the fault was seen).
	Offset int
	// Tag is the tag of the item at fault, 0 when not yet known.
	Tag Tag
	// Reason says what is wrong, in words.
	Reason string
	// Err is the sentinel the error unwraps to.
	Err error
}

func (e *SyntaxError) Error() string {
	if e.Tag != 0 {
		return fmt.Sprintf("ttlv: offset %d, tag %v: %s", e.Offset, e.Tag, e.Reason)
	}
	return fmt.Sprintf("ttlv: offset %d: %s", e.Offset, e.Reason)
}

func (e *SyntaxError) Unwrap() error { return e.Err }

// HeaderError is returned by ReadMessage when a message header announces a
// message it will not read: too large, or not a structure. Header holds the
// 8 header bytes, so that a server can still learn the tag and frame an
// error response. It unwraps to ErrTooLarge, ErrBadType or ErrBadLength.
type HeaderError struct {
	Header [8]byte
	// Limit is the MaxMessageSize in force.
	Limit int
	Err   error
}

// Tag returns the tag in the header.
func (e *HeaderError) Tag() Tag {
	return Tag(uint32(e.Header[0])<<16 | uint32(e.Header[1])<<8 | uint32(e.Header[2]))
}

func (e *HeaderError) Error() string {
	l := binary.BigEndian.Uint32(e.Header[4:])
	var reason string
	switch {
	case errors.Is(e.Err, ErrBadType):
		reason = fmt.Sprintf("item type %v is not Structure", Type(e.Header[3]))
	case errors.Is(e.Err, ErrBadLength):
		reason = fmt.Sprintf("structure length %d is not a multiple of 8", l)
	case errors.Is(e.Err, ErrTooLarge):
		reason = fmt.Sprintf("message of %d bytes exceeds limit of %d", uint64(l)+headerLen, e.Limit)
	default:
		reason = fmt.Sprint(e.Err)
	}
	return fmt.Sprintf("ttlv: message header %x: %s", e.Header[:], reason)
}

func (e *HeaderError) Unwrap() error { return e.Err }

// IsEncodingError reports whether err comes from malformed or oversized
// input (binary, XML or JSON) rather than from I/O. A server maps all of
// these to the result reason Invalid Message (or Response Too Large).
func IsEncodingError(err error) bool {
	if err == nil {
		return false
	}
	var se *SyntaxError
	if errors.As(err, &se) {
		return true
	}
	var he *HeaderError
	if errors.As(err, &he) {
		return true
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func syntaxErr(off int, tag Tag, sentinel error, format string, args ...any) *SyntaxError {
	return &SyntaxError{Offset: off, Tag: tag, Reason: fmt.Sprintf(format, args...), Err: sentinel}
}
