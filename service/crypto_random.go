package service

import (
	"context"
	"sync"
)

// # Server-generated IVs
//
// An Encrypt with Random IV set (KMIP 1.4 §4.29) needs a fresh IV from the
// HSM's random number generator. One C_GenerateRandom per request costs a
// session round trip for 12 or 16 bytes; instead IVs are cut from a buffer
// that is refilled from the HSM in bulk (ivPoolRefill bytes at a time).
// Every byte is handed out once: the buffer is consumed from the front and
// never rewound, so no two IVs share bytes (GCM's IV uniqueness, NIST SP
// 800-38D §8.2.2, rests on the 96 random bits of each IV). The buffer
// lives in process memory like the request itself; IVs are not secret
// once sent, but CBC's must be unpredictable (SP 800-38A Appendix C),
// which they stay: nobody outside the process sees the unused bytes.

// ivPoolRefill is how many random bytes one refill draws from the HSM.
const ivPoolRefill = 4096

// ivPoolMax is the largest IV taken from the pool; longer ones (GCM
// allows up to 128 bytes) go to the HSM directly.
const ivPoolMax = 64

// ivPool hands out random bytes drawn from the HSM in bulk. It is safe for
// concurrent use.
type ivPool struct {
	random func(ctx context.Context, n int) ([]byte, error)

	mu  sync.Mutex
	buf []byte // unused random bytes
}

// read returns n fresh random bytes, owned by the caller.
func (p *ivPool) read(ctx context.Context, n int) ([]byte, error) {
	if n > ivPoolMax {
		return p.random(ctx, n)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) < n {
		// The few bytes left are dropped rather than stitched to the
		// next draw: simpler, and a waste of under ivPoolMax bytes.
		clear(p.buf)
		b, err := p.random(ctx, ivPoolRefill)
		if err != nil {
			p.buf = nil
			return nil, err
		}
		p.buf = b
	}
	out := make([]byte, n)
	copy(out, p.buf[:n])
	clear(p.buf[:n])
	p.buf = p.buf[n:]
	return out, nil
}
