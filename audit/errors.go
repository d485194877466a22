package audit

import (
	"errors"
	"fmt"
)

// Errors returned by this package. Callers test them with errors.Is.
var (
	// ErrClosed is returned by Log after Close.
	ErrClosed = errors.New("audit: logger closed")

	// ErrFailed is returned by Log after a sink failure; the first failure is
	// wrapped alongside it. The Logger stays failed until it is recreated.
	ErrFailed = errors.New("audit: logger stopped after a sink failure")

	// ErrCorrupt is returned by New when the sink's last record does not
	// verify, and by OpenFileSink for a file that cannot be an audit log.
	ErrCorrupt = errors.New("audit: log corrupt")

	// ErrTornTail is returned, wrapping ErrCorrupt, for a log whose last
	// line has no newline: a record cut short, as an append the machine
	// lost power during leaves it. RepairTornTail cuts it off.
	ErrTornTail = fmt.Errorf("%w: last record torn", ErrCorrupt)

	// ErrChainBroken is wrapped by every *ChainError from Verify.
	ErrChainBroken = errors.New("audit: chain broken")

	// ErrRecordTooLarge is returned by Log for an event whose record would
	// exceed MaxRecordSize.
	ErrRecordTooLarge = errors.New("audit: record too large")

	// ErrKeySize is returned for an audit key shorter than MinKeySize.
	ErrKeySize = errors.New("audit: key too short")
)

// ChainError reports the first line at which Verify found the chain broken.
type ChainError struct {
	// Line is the 1-based line number in the verified stream.
	Line int
	// WantSeq is the sequence number the record on Line should have had.
	WantSeq uint64
	// Reason says what is wrong, without quoting record contents.
	Reason string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("audit: chain broken at line %d (want seq %d): %s", e.Line, e.WantSeq, e.Reason)
}

// Unwrap makes errors.Is(err, ErrChainBroken) true.
func (e *ChainError) Unwrap() error { return ErrChainBroken }
