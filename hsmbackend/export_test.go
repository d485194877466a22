package hsmbackend

import "context"

// HoldSession borrows a pool session until release is called, so tests can
// exhaust the pool.
func (b *Backend) HoldSession(ctx context.Context) (release func(), err error) {
	s, err := b.acquire(ctx, "hold")
	if err != nil {
		return nil, err
	}
	return func() { b.release(s, false) }, nil
}

// IdleSessions reports how many sessions sit in the pool.
func (b *Backend) IdleSessions() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.idle)
}
