package ttlv

import (
	"encoding/binary"
	"errors"
	"io"
)

// ReadMessage reads one TTLV message from r: the 8-byte header, then the
// body it announces. It returns the whole message (header included), which
// lives in buf when cap(buf) suffices and in a new slice otherwise.
//
// The header is checked before the body is read or any room made for it:
// the type must be Structure and the message, header included, no larger
// than lim.MaxMessageSize, so a header claiming 4 GiB costs nothing. Those
// failures are a *HeaderError carrying the header, so that a server can
// still answer; it unwraps to ErrBadType, ErrBadLength or ErrTooLarge.
//
// With no byte read it returns io.EOF; when the stream ends inside the
// header or body, io.ErrUnexpectedEOF. Other read errors are returned as
// they are. ReadMessage does not validate the body: Decode does.
func ReadMessage(r io.Reader, buf []byte, lim Limits) ([]byte, error) {
	lim = lim.withDefaults()
	if cap(buf) < headerLen {
		buf = make([]byte, headerLen, 512)
	}
	hdr := buf[:headerLen]
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, err
	}
	l := uint64(binary.BigEndian.Uint32(hdr[4:]))
	var refuse error
	switch {
	case Type(hdr[3]) != TypeStructure:
		refuse = ErrBadType
	case l%8 != 0:
		refuse = ErrBadLength
	case l+headerLen > uint64(lim.MaxMessageSize):
		refuse = ErrTooLarge
	}
	if refuse != nil {
		e := &HeaderError{Limit: lim.MaxMessageSize, Err: refuse}
		copy(e.Header[:], hdr)
		return nil, e
	}
	total := headerLen + int(l)
	if cap(buf) < total {
		nb := make([]byte, total)
		copy(nb, hdr)
		buf = nb
	}
	msg := buf[:total]
	if _, err := io.ReadFull(r, msg[headerLen:]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return msg, nil
}
