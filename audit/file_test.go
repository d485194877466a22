package audit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFileSink(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	s, err := OpenFileSink(path)
	if err != nil {
		t.Fatal(err)
	}
	if rec, err := s.LastRecord(); err != nil || rec != nil {
		t.Fatalf("LastRecord(empty) = %q, %v", rec, err)
	}
	if err := s.Write(context.Background(), []byte("{\"a\":1}\n{\"b\":2}\n")); err != nil {
		t.Fatal(err)
	}
	if rec, err := s.LastRecord(); err != nil || string(rec) != `{"b":2}` {
		t.Fatalf("LastRecord = %q, %v", rec, err)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	// A second sink on the same file is refused while the first holds it.
	if s2, err := OpenFileSink(path); err == nil {
		s2.Close()
		t.Error("second OpenFileSink on a locked log succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Write(context.Background(), []byte("x\n")); err == nil {
		t.Error("Write after Close succeeded")
	}
	// Released on Close.
	s3, err := OpenFileSink(path)
	if err != nil {
		t.Fatalf("reopen after Close: %v", err)
	}
	defer s3.Close()
	if rec, _ := s3.LastRecord(); string(rec) != `{"b":2}` {
		t.Errorf("LastRecord after reopen = %q", rec)
	}
	if err := s3.Write(context.Background(), []byte("{\"c\":3}\n")); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if string(data) != "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n" {
		t.Errorf("file holds %q", data)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s3.Write(ctx, []byte("x\n")); !errors.Is(err, context.Canceled) {
		t.Errorf("Write(canceled) = %v", err)
	}
}

func TestOpenFileSinkRejects(t *testing.T) {
	dir := t.TempDir()
	writable := filepath.Join(dir, "writable.log")
	if err := os.WriteFile(writable, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(writable, 0o620); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{name: "group writable", path: writable, want: "chmod 600"},
		{name: "directory", path: dir, want: "audit: open log"},
		{name: "missing parent", path: filepath.Join(dir, "no", "such", "audit.log"), want: "audit: open log"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := OpenFileSink(tc.path)
			if err == nil {
				s.Close()
				t.Fatal("OpenFileSink succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

// FuzzVerify: Verify must never panic, and must accept only what it can
// account for line by line.
func FuzzVerify(f *testing.F) {
	s := &memSink{}
	l, err := New(s, testKey)
	if err != nil {
		f.Fatal(err)
	}
	for i := range 3 {
		if err := l.Log(context.Background(), event(i)); err != nil {
			f.Fatal(err)
		}
	}
	l.Close()
	good := s.bytes()
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte("\n\n"))
	f.Add([]byte(`{"v":1,"seq":1,"kid":"","prev":"","mac":"` + strings.Repeat("0", 64) + `"}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := Verify(bytes.NewReader(data), testKey)
		if err == nil && rep.Records != bytes.Count(data, []byte("\n")) {
			t.Fatalf("verified %d records in %d lines", rep.Records, bytes.Count(data, []byte("\n")))
		}
		if err == nil && rep.Records > 0 && !bytes.HasPrefix(good, data) {
			t.Fatalf("accepted a log that is not a prefix of the only valid one: %q", data)
		}
	})
}

// TestFileSinkTail: Tail returns whole records only, the last ones that
// fit within its bound.
func TestFileSinkTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	s, err := OpenFileSink(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	if got, err := s.Tail(100); err != nil || len(got) != 0 {
		t.Fatalf("Tail of an empty log: %q, %v", got, err)
	}
	if err := s.Write(context.Background(), []byte("one\ntwo\nthree\n")); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		max  int64
		want string
	}{
		{100, "one\ntwo\nthree\n"},
		{14, "one\ntwo\nthree\n"},
		{13, "two\nthree\n"}, // "ne\n" of the first is cut: left out
		{10, "two\nthree\n"},
		{9, "three\n"},
		{6, "three\n"}, // the cut falls after "\n" of "two": "three\n" is whole
		{5, ""},        // no whole record fits
		{0, ""},
	} {
		got, err := s.Tail(tt.max)
		if err != nil || string(got) != tt.want {
			t.Errorf("Tail(%d) = %q, %v; want %q", tt.max, got, err, tt.want)
		}
	}
}
