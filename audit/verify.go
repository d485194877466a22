package audit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"time"
)

// Report summarises a verified log.
type Report struct {
	// Records is the number of records that verified, before any break.
	Records int
	// LastSeq and LastMAC identify the last good record. Compare them with
	// a copy kept elsewhere (Logger.Head) to detect records cut off the end,
	// which a chain alone cannot show.
	LastSeq uint64
	LastMAC string
	// FirstTime and LastTime are the times of the first and last good
	// records.
	FirstTime, LastTime time.Time
	// KeyID identifies the key the log was verified with (the records' kid).
	KeyID string
}

// Verify reads a log from r and checks every record: its MAC (compared with
// hmac.Equal), that sequence numbers run 1, 2, 3… without gaps, and that each
// prev is the MAC of the record before. It stops at the first broken record
// and returns the report so far with a *ChainError naming the line (and
// wrapping ErrChainBroken). Other errors come from reading r.
//
// A log that starts with a record other than seq 1 fails: records were
// removed from its head.
func Verify(r io.Reader, key []byte) (Report, error) {
	k, err := deriveKeys(key)
	if err != nil {
		return Report{}, err
	}
	defer k.clear()
	rep := Report{KeyID: k.kid}
	br := bufio.NewReaderSize(r, 64<<10)
	var line []byte
	for n := 1; ; n++ {
		want := rep.LastSeq + 1
		var complete bool
		line, complete, err = readLine(br, line[:0])
		switch {
		case errors.Is(err, errLineTooLong):
			return rep, &ChainError{Line: n, WantSeq: want, Reason: fmt.Sprintf("line longer than %d bytes", MaxRecordSize)}
		case err != nil:
			return rep, fmt.Errorf("audit: verify: read line %d: %w", n, err)
		case len(line) == 0 && !complete:
			return rep, nil // end of input
		case !complete:
			return rep, &ChainError{Line: n, WantSeq: want, Reason: "last line has no newline (torn or truncated record)"}
		}
		meta, mac, reason := k.checkLine(line)
		switch {
		case reason != "":
		case meta.Seq != want:
			reason = fmt.Sprintf("seq is %d: a record is missing, duplicated or out of order", meta.Seq)
		case *meta.Prev != rep.LastMAC:
			reason = "prev is not the mac of the previous record"
		}
		if reason != "" {
			return rep, &ChainError{Line: n, WantSeq: want, Reason: reason}
		}
		t, _ := time.Parse(time.RFC3339Nano, meta.Time)
		if rep.Records == 0 {
			rep.FirstTime = t
		}
		rep.Records++
		rep.LastSeq, rep.LastMAC, rep.LastTime = meta.Seq, mac, t
	}
}

var errLineTooLong = errors.New("line too long")

// readLine appends the next line, without its newline, to dst. complete
// reports whether the newline was there; at the end of input it returns an
// empty line and complete false.
func readLine(br *bufio.Reader, dst []byte) ([]byte, bool, error) {
	for {
		frag, err := br.ReadSlice('\n')
		if len(dst)+len(frag) > MaxRecordSize {
			return dst, false, errLineTooLong
		}
		dst = append(dst, frag...)
		switch {
		case err == nil:
			return dst[:len(dst)-1], true, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return dst, false, nil
		default:
			return dst, false, err
		}
	}
}
