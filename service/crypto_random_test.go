package service

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
)

// countingRandom is a fake random source (a counter, in big-endian
// 32-bit words) that counts its draws and can be made to fail.
type countingRandom struct {
	next  uint32
	calls int
	fail  error
}

func (r *countingRandom) random(_ context.Context, n int) ([]byte, error) {
	r.calls++
	if r.fail != nil {
		return nil, r.fail
	}
	out := make([]byte, 0, n+4)
	for len(out) < n {
		out = binary.BigEndian.AppendUint32(out, r.next)
		r.next++
	}
	return out[:n], nil
}

func TestIVPool(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		sizes     []int
		wantCalls int
	}{
		{"one gcm iv", []int{12}, 1},
		{"one refill serves many", []int{12, 16, 12, 16, 8}, 1},
		{"refill when short", repeatN(12, ivPoolRefill/12+1), 2},
		{"large ivs bypass the pool", []int{ivPoolMax + 1, 128}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &countingRandom{}
			p := &ivPool{random: src.random}
			for _, n := range tt.sizes {
				iv, err := p.read(ctx, n)
				if err != nil {
					t.Fatal(err)
				}
				if len(iv) != n {
					t.Fatalf("iv of %d bytes, want %d", len(iv), n)
				}
			}
			if src.calls != tt.wantCalls {
				t.Errorf("%d draws from the HSM, want %d", src.calls, tt.wantCalls)
			}
		})
	}
}

// TestIVPoolNoReuse draws IVs of mixed sizes over several refills and
// checks that no source byte is handed out twice.
func TestIVPoolNoReuse(t *testing.T) {
	ctx := context.Background()
	var handed int
	calls := 0
	p := &ivPool{random: func(_ context.Context, n int) ([]byte, error) {
		calls++
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(calls) // each draw is recognisable
		}
		return b, nil
	}}
	used := map[int]int{} // draw -> bytes handed out from it
	for i := range 2000 {
		n := 8 + i%3*4 // 8, 12, 16
		iv, err := p.read(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range iv {
			if c != iv[0] {
				t.Fatal("an IV spans two draws")
			}
		}
		used[int(iv[0])] += n
		handed += n
	}
	for draw, n := range used {
		if n > ivPoolRefill {
			t.Errorf("draw %d handed out %d bytes of %d", draw, n, ivPoolRefill)
		}
	}
	if min := handed / ivPoolRefill; calls < min {
		t.Errorf("%d draws for %d bytes", calls, handed)
	}
}

func TestIVPoolError(t *testing.T) {
	boom := errors.New("token gone")
	src := &countingRandom{fail: boom}
	p := &ivPool{random: src.random}
	if _, err := p.read(context.Background(), 12); !errors.Is(err, boom) {
		t.Fatalf("read: %v, want %v", err, boom)
	}
	src.fail = nil
	if iv, err := p.read(context.Background(), 12); err != nil || len(iv) != 12 {
		t.Fatalf("read after recovery: %x, %v", iv, err)
	}
}

func repeatN(v, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}
