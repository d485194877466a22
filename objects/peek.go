package objects

import (
	"context"
	"fmt"
)

// Peek returns the object for reading only; see Store. An object read
// recently and not written since comes straight from the memo, without a
// read transaction, a decode or a copy: the path of a cryptographic
// operation on a cached key (see recordMemo for why that cannot be stale).
func (s *BoltStore) Peek(ctx context.Context, id string) (*Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("get object %q: %w", id, err)
	}
	if o := s.memo.trusted(id); o != nil {
		return o, nil
	}
	// Get's result is the caller's own, so it is a valid (if unshared)
	// answer; Get also memoizes the record for the next Peek.
	return s.Get(ctx, id)
}
