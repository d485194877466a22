package audit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestRepairTornTail: a log torn by a crash is cut back to its last whole
// record, the cut bytes are kept beside it, and the chain goes on from
// there; anything else is left as it is.
func TestRepairTornTail(t *testing.T) {
	good := writeLog(t, testKey, 3, 0)
	lastStart := bytes.LastIndexByte(good[:len(good)-1], '\n') + 1
	tests := []struct {
		name     string
		data     []byte
		wantCut  int
		wantErr  error
		wantKept int // records that verify afterwards
	}{
		{name: "whole", data: good, wantKept: 3},
		{name: "empty", data: nil},
		{name: "torn last record", data: good[:len(good)-10], wantCut: len(good) - 10 - lastStart, wantKept: 2},
		{name: "torn first record", data: good[:20], wantCut: 20},
		{name: "newline lost", data: good[:len(good)-1], wantCut: len(good) - 1 - lastStart, wantKept: 2},
		{name: "tail longer than a record", data: bytes.Repeat([]byte("x"), MaxRecordSize+1), wantErr: ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.log")
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			cut, saved, err := RepairTornTail(path)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("RepairTornTail: %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				if got, _ := os.ReadFile(path); !bytes.Equal(got, tc.data) {
					t.Error("a refused repair changed the log")
				}
				return
			}
			if int(cut) != tc.wantCut {
				t.Errorf("cut %d bytes, want %d", cut, tc.wantCut)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.data[:len(tc.data)-tc.wantCut]) {
				t.Errorf("log after repair is not the data up to the cut")
			}
			if cut == 0 {
				if saved != "" {
					t.Errorf("nothing cut, yet saved %q", saved)
				}
				return
			}
			kept, err := os.ReadFile(saved)
			if err != nil || !bytes.Equal(kept, tc.data[len(tc.data)-tc.wantCut:]) {
				t.Errorf("saved bytes %q, %v; want the cut tail", kept, err)
			}
			rep, err := Verify(bytes.NewReader(got), testKey)
			if err != nil || rep.Records != tc.wantKept {
				t.Errorf("Verify after repair: %d records, %v; want %d", rep.Records, err, tc.wantKept)
			}
			// The chain goes on from the last whole record.
			fs, err := OpenFileSink(path)
			if err != nil {
				t.Fatal(err)
			}
			l, err := New(fs, testKey)
			if err != nil {
				t.Fatalf("New after repair: %v", err)
			}
			if err := l.Log(context.Background(), event(9)); err != nil {
				t.Fatal(err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			after, _ := os.ReadFile(path)
			if rep, err := Verify(bytes.NewReader(after), testKey); err != nil || rep.Records != tc.wantKept+1 {
				t.Errorf("Verify after a new record: %d records, %v", rep.Records, err)
			}
		})
	}
}

// TestRepairTornTailLocked: a log a running server holds is not touched.
func TestRepairTornTailLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	s, err := OpenFileSink(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	if _, _, err := RepairTornTail(path); err == nil {
		t.Fatal("RepairTornTail of a locked log succeeded")
	}
}

// TestNewReportsTornTail: New's error for a torn log is ErrTornTail, which
// kmipd serve answers with the repair command.
func TestNewReportsTornTail(t *testing.T) {
	good := writeLog(t, testKey, 2, 0)
	path := filepath.Join(t.TempDir(), "audit.log")
	if err := os.WriteFile(path, good[:len(good)-5], 0o600); err != nil {
		t.Fatal(err)
	}
	fs, err := OpenFileSink(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = fs.Close() }()
	if _, err := New(fs, testKey); !errors.Is(err, ErrTornTail) || !errors.Is(err, ErrCorrupt) {
		t.Errorf("New: %v, want ErrTornTail (and ErrCorrupt)", err)
	}
}
