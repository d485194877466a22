package audit

import (
	"bytes"
	"fmt"
	"os"
	"time"
)

// RepairTornTail cuts a torn last record (ErrTornTail) off the log at path,
// the way an append leaves it when the machine loses power before the log
// is synced, so that the chain can go on from the last whole record. The
// cut bytes are not thrown away: they go to a new file beside the log,
// path + ".torn-" + the UTC time, fsynced before the log is cut. It
// returns how many bytes it cut and that file's name; a log that ends with
// a whole line is left alone (0, "").
//
// It takes the log's lock, so it refuses a log a running kmipd holds, and
// it refuses a tail longer than any record (MaxRecordSize): that is not
// an interrupted append, and the file is evidence to keep as it is. It
// does not verify the records it keeps; run Verify afterwards.
func RepairTornTail(path string) (cut int64, saved string, err error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0) //nolint:gosec // G304: the audit log the operator names
	if err != nil {
		return 0, "", fmt.Errorf("audit: repair %s: %w", path, err)
	}
	defer func() { _ = f.Close() }() // fsynced below where it matters
	if err := lockFile(f); err != nil {
		return 0, "", fmt.Errorf("audit: repair %s: %w (is kmipd running with it?)", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, "", fmt.Errorf("audit: repair %s: %w", path, err)
	}
	size := fi.Size()
	n := min(size, MaxRecordSize+1)
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, size-n); err != nil {
		return 0, "", fmt.Errorf("audit: repair %s: %w", path, err)
	}
	if n == 0 || buf[n-1] == '\n' {
		return 0, "", nil
	}
	i := bytes.LastIndexByte(buf, '\n')
	if i < 0 && size > MaxRecordSize {
		return 0, "", fmt.Errorf("%w: %s: its unterminated tail is longer than any record (%d bytes), so no append was torn there; keep the file as evidence", ErrCorrupt, path, MaxRecordSize)
	}
	tail := buf[i+1:]
	saved = fmt.Sprintf("%s.torn-%s", path, time.Now().UTC().Format("20060102T150405.000000000Z"))
	if err := writeNewFile(saved, tail); err != nil {
		return 0, "", fmt.Errorf("audit: repair %s: keep the torn record: %w", path, err)
	}
	if err := f.Truncate(size - int64(len(tail))); err != nil {
		return 0, "", fmt.Errorf("audit: repair %s: %w (the torn record is also in %s)", path, err, saved)
	}
	if err := f.Sync(); err != nil {
		return 0, "", fmt.Errorf("audit: repair %s: %w", path, err)
	}
	return int64(len(tail)), saved, nil
}
