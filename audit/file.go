package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
)

// FileSink appends records to a file; Write fsyncs before it returns,
// Append does not. It
// also implements TailReader, so a Logger continues the file's chain.
type FileSink struct {
	path string

	mu   sync.Mutex
	f    *os.File
	size int64 // bytes known to be in the file
	// err is sticky: after a failed fsync the kernel may have dropped the
	// dirty pages and reported the loss only once, so nothing written to
	// this file descriptor afterwards can be trusted to be durable.
	err    error
	closed bool
}

var (
	_ Sink       = (*FileSink)(nil)
	_ TailReader = (*FileSink)(nil)
)

// OpenFileSink opens or creates path (O_APPEND, mode 0600) and takes an
// exclusive lock on it, so two servers cannot interleave their chains in one
// file. It refuses a file that other users may write, or that does not end
// with a newline (a torn or truncated last record).
func OpenFileSink(path string) (*FileSink, error) {
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, fs.ErrNotExist)

	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600) //nolint:gosec // G304: the audit log named in the operator's config
	if err != nil {
		return nil, fmt.Errorf("audit: open log: %w", err)
	}
	s := &FileSink{path: path, f: f}
	if err := s.init(created); err != nil {
		_ = f.Close() // the init error is the one to report; nothing was written
		return nil, err
	}
	return s, nil
}

func (s *FileSink) init(created bool) error {
	fi, err := s.f.Stat()
	if err != nil {
		return fmt.Errorf("audit: open log %s: %w", s.path, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file", ErrCorrupt, s.path)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("audit: open log %s: mode %#o lets other users write it (chmod 600 %s)", s.path, fi.Mode().Perm(), s.path)
	}
	if err := lockFile(s.f); err != nil {
		return fmt.Errorf("audit: open log %s: %w (is another kmipd using it?)", s.path, err)
	}
	s.size = fi.Size()
	if created {
		// The new directory entry must survive a crash too.
		if err := syncDir(filepath.Dir(s.path)); err != nil {
			return fmt.Errorf("audit: open log %s: sync directory: %w", s.path, err)
		}
	}
	return nil
}

// Path returns the file name given to OpenFileSink.
func (s *FileSink) Path() string { return s.path }

// Write appends record and fsyncs, which also makes every record Appended
// before durable. On a failed write it cuts the file back to its previous
// size, so a partial record is not left behind when possible.
func (s *FileSink) Write(ctx context.Context, record []byte) error {
	return s.write(ctx, record, true)
}

// Append appends record without fsyncing it: once it returns, the record
// is in the kernel's page cache and survives a crash of kmipd, not yet a
// crash of the machine. The next Write or Sync makes it durable.
func (s *FileSink) Append(ctx context.Context, record []byte) error {
	return s.write(ctx, record, false)
}

func (s *FileSink) write(ctx context.Context, record []byte, sync bool) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("audit: write %s: %w", s.path, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	n, err := s.f.Write(record)
	if err != nil {
		if n > 0 {
			if terr := s.f.Truncate(s.size); terr != nil {
				s.err = fmt.Errorf("audit: write %s: %w; cutting off the partial record failed: %w", s.path, err, terr)
				return s.err
			}
		}
		return fmt.Errorf("audit: write %s: %w", s.path, err)
	}
	s.size += int64(n)
	if sync {
		if err := syncData(s.f); err != nil {
			s.err = fmt.Errorf("audit: fsync %s: %w", s.path, err)
			return s.err
		}
	}
	return nil
}

func (s *FileSink) usable() error {
	if s.closed {
		return fmt.Errorf("audit: write %s: %w", s.path, fs.ErrClosed)
	}
	return s.err
}

// Sync fsyncs the file.
func (s *FileSink) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	if err := syncData(s.f); err != nil {
		s.err = fmt.Errorf("audit: fsync %s: %w", s.path, err)
		return s.err
	}
	return nil
}

// Close releases the lock and closes the file.
func (s *FileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("audit: close %s: %w", s.path, err)
	}
	return nil
}

// LastRecord reads backwards from the end of the file, at most
// MaxRecordSize+1 bytes, so opening a large log costs one small read.
func (s *FileSink) LastRecord() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("audit: read %s: %w", s.path, fs.ErrClosed)
	}
	if s.size == 0 {
		return nil, nil
	}
	n := min(s.size, MaxRecordSize+1)
	buf := make([]byte, n)
	if _, err := s.f.ReadAt(buf, s.size-n); err != nil {
		return nil, fmt.Errorf("audit: read %s: %w", s.path, err)
	}
	if buf[n-1] != '\n' {
		return nil, fmt.Errorf("%w: %s does not end with a newline", ErrTornTail, s.path)
	}
	i := bytes.LastIndexByte(buf[:n-1], '\n')
	if i < 0 && n < s.size {
		return nil, fmt.Errorf("%w: %s: last record exceeds %d bytes", ErrCorrupt, s.path, MaxRecordSize)
	}
	return buf[i+1 : n-1], nil
}

// Tail returns the last records of the log that fit in maxBytes, whole
// lines only: a record the limit cuts is left out.
func (s *FileSink) Tail(maxBytes int64) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("audit: read %s: %w", s.path, fs.ErrClosed)
	}
	n := min(s.size, max(maxBytes, 0))
	if n == s.size {
		buf := make([]byte, n)
		if _, err := s.f.ReadAt(buf, 0); err != nil {
			return nil, fmt.Errorf("audit: read %s: %w", s.path, err)
		}
		return buf, nil
	}
	// One byte more, before the window: the window starts with a whole
	// record exactly when that byte ends the record before it.
	buf := make([]byte, n+1)
	if _, err := s.f.ReadAt(buf, s.size-n-1); err != nil {
		return nil, fmt.Errorf("audit: read %s: %w", s.path, err)
	}
	i := bytes.IndexByte(buf, '\n')
	if i < 0 {
		return nil, nil
	}
	return buf[i+1:], nil
}
