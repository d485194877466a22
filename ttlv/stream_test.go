package ttlv

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"
	"testing/iotest"
)

func TestReadMessage(t *testing.T) {
	msg := Marshal(Struct(tagRequestMessage, Int(tagBatchCount, 1), Text(tagUniqueIdentifier, "abc")))
	two := append(bytes.Clone(msg), msg...)
	tests := []struct {
		name    string
		in      []byte
		lim     Limits
		want    []byte
		wantErr error
	}{
		{"whole", msg, Limits{}, msg, nil},
		{"empty stream", nil, Limits{}, nil, io.EOF},
		{"partial header", msg[:5], Limits{}, nil, io.ErrUnexpectedEOF},
		{"header only", msg[:8], Limits{}, nil, io.ErrUnexpectedEOF},
		{"partial body", msg[:len(msg)-1], Limits{}, nil, io.ErrUnexpectedEOF},
		{"not a structure", mustHex(t, "42000D02 00000004 00000001 00000000"), Limits{}, nil, ErrBadType},
		{"length not multiple of 8", mustHex(t, "42007801 00000004 00000000"), Limits{}, nil, ErrBadLength},
		{"exactly the limit", msg, Limits{MaxMessageSize: len(msg)}, msg, nil},
		{"one byte over the limit", msg, Limits{MaxMessageSize: len(msg) - 1}, nil, ErrTooLarge},
		{"4 GiB", mustHex(t, "42007801 FFFFFFF8"), Limits{}, nil, ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range []io.Reader{bytes.NewReader(tc.in), iotest.OneByteReader(bytes.NewReader(tc.in))} {
				got, err := ReadMessage(r, nil, tc.lim)
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if !bytes.Equal(got, tc.want) {
					t.Errorf("message = %x, want %x", got, tc.want)
				}
			}
		})
	}
	t.Run("two in a row", func(t *testing.T) {
		r := bytes.NewReader(two)
		buf := make([]byte, 0, 4096)
		for i := range 2 {
			got, err := ReadMessage(r, buf, Limits{})
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("message %d: %x, %v", i, got, err)
			}
			if &got[0] != &buf[:1][0] {
				t.Errorf("message %d not read into the caller's buffer", i)
			}
		}
		if _, err := ReadMessage(r, buf, Limits{}); !errors.Is(err, io.EOF) {
			t.Errorf("after the last message: %v, want io.EOF", err)
		}
	})
	t.Run("header error carries the header", func(t *testing.T) {
		h := mustHex(t, "42007801 7FFFFFF8")
		_, err := ReadMessage(bytes.NewReader(h), nil, Limits{})
		var he *HeaderError
		if !errors.As(err, &he) || !bytes.Equal(he.Header[:], h) {
			t.Fatalf("err = %#v, want a *HeaderError with the header", err)
		}
		if !IsEncodingError(err) {
			t.Errorf("IsEncodingError = false")
		}
		if he.Tag() != 0x420078 {
			t.Errorf("Tag() = %v", he.Tag())
		}
		want := "ttlv: message header 420078017ffffff8: message of 2147483648 bytes exceeds limit of 1048576"
		if err.Error() != want {
			t.Errorf("Error() = %q, want %q", err, want)
		}
	})
	t.Run("read error", func(t *testing.T) {
		boom := errors.New("boom")
		_, err := ReadMessage(iotest.ErrReader(boom), nil, Limits{})
		if !errors.Is(err, boom) || IsEncodingError(err) {
			t.Errorf("err = %v, want boom, not an encoding error", err)
		}
	})
}

// A header declaring a 4 GiB message must be refused before anything is
// allocated for the body.
func TestReadMessageHugeHeaderAllocatesNothing(t *testing.T) {
	hdr := mustHex(t, "42007801 FFFFFFF8")
	r := bytes.NewReader(hdr)
	buf := make([]byte, 0, 64)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	allocs := testing.AllocsPerRun(100, func() {
		r.Reset(hdr)
		if _, err := ReadMessage(r, buf, Limits{}); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err = %v", err)
		}
	})
	runtime.ReadMemStats(&after)
	// The *HeaderError is all that may be allocated.
	if allocs > 1 {
		t.Errorf("%v allocations per refused header", allocs)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 101*1024 {
		t.Errorf("refusing 101 huge headers allocated %d bytes", d)
	}
}
