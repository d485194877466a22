package service

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kmipd/kmipd/hsmbackend/hsmtest"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
)

// creationBarrierStore holds every Locate until n of them are waiting, so
// that n concurrent Creates all pass the early name check
// (crCheckNamesFree) before any of them writes: only the store's own check
// can then keep the name unique.
type creationBarrierStore struct {
	objects.Store
	n       int32
	arrived atomic.Int32
	all     chan struct{}
}

func (s *creationBarrierStore) Locate(ctx context.Context, q objects.Query) ([]string, error) {
	ids, err := s.Store.Locate(ctx, q)
	if s.arrived.Add(1) == s.n {
		close(s.all)
	}
	select {
	case <-s.all:
	case <-time.After(10 * time.Second): // not all came: let the test fail on its counts
	}
	return ids, err
}

// TestCreationConcurrentCreatesOneName: of concurrent Creates of one Name,
// exactly one succeeds; the others get Invalid Field (1.4 §11.2) or Non
// Unique Name Attribute (2.0).
func TestCreationConcurrentCreatesOneName(t *testing.T) {
	const racers = 4
	for _, tc := range []struct {
		ver  kmip.ProtocolVersion
		want kmip.ResultReason
	}{
		{creationV14, kmip.ResultReasonInvalidField},
		{creationV20, kmip.ResultReasonNonUniqueNameAttribute},
	} {
		t.Run(tc.ver.String(), func(t *testing.T) {
			st, _ := openTestStore(t)
			bs := &creationBarrierStore{Store: st, n: racers, all: make(chan struct{})}
			svc := New(WithStore(bs), WithHSM(hsmtest.New(t)))
			name := fmt.Sprint("contested-", tc.ver)
			start := make(chan struct{})
			errs := make([]error, racers)
			var wg sync.WaitGroup
			for g := range racers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, errs[g] = svc.ServeKMIP(context.Background(), &kmip.Request{
						Version:   tc.ver,
						Operation: kmip.OperationCreate,
						Payload: kmip.Payload(creationOT(kmip.ObjectTypeSymmetricKey), creationTemplate(tc.ver,
							creationAlg(kmip.CryptographicAlgorithmAES), creationLen(128), creationName(name))),
					})
				}()
			}
			close(start)
			wg.Wait()
			won := 0
			for _, err := range errs {
				if err == nil {
					won++
					continue
				}
				creationReason(t, err, tc.want)
			}
			if won != 1 {
				t.Fatalf("%d Creates of %q succeeded, want 1 (errors %v)", won, name, errs)
			}
		})
	}
}

// A Name given to both keys of a pair is refused before the HSM work, and
// Re-key still moves the names to the replacement (one store transaction).
func TestCreationPairNamesAndRekey(t *testing.T) {
	for _, tc := range []struct {
		ver  kmip.ProtocolVersion
		want kmip.ResultReason
	}{
		{creationV14, kmip.ResultReasonInvalidField},
		{creationV20, kmip.ResultReasonNonUniqueNameAttribute},
	} {
		t.Run(tc.ver.String(), func(t *testing.T) {
			e := newCreationEnv(t)
			_, err := e.call(tc.ver, kmip.OperationCreateKeyPair,
				creationAttrs(tc.ver, kmip.TagCommonTemplateAttribute, kmip.TagCommonAttributes,
					creationAlg(kmip.CryptographicAlgorithmEC), creationLen(256), creationName("both")))
			creationReason(t, err, tc.want)
			if ids, err := e.store.Locate(context.Background(), objects.Query{}); err != nil || len(ids) != 0 {
				t.Errorf("refused pair left objects: %v, %v", ids, err)
			}

			old := creationID(t, e.must(t, tc.ver, kmip.OperationCreate, creationOT(kmip.ObjectTypeSymmetricKey),
				creationTemplate(tc.ver, creationAlg(kmip.CryptographicAlgorithmAES), creationLen(128), creationName("moving"))))
			repl := creationID(t, e.must(t, tc.ver, kmip.OperationReKey, creationUID(old)))
			if got := creationNames(e.object(t, repl)); len(got) != 1 || got[0] != "moving" {
				t.Errorf("replacement names %v, want [moving]", got)
			}
			if got := creationNames(e.object(t, old)); len(got) != 0 {
				t.Errorf("existing key keeps names %v", got)
			}
			// The name is held again: a new Create of it is refused.
			_, err = e.call(tc.ver, kmip.OperationCreate, creationOT(kmip.ObjectTypeSymmetricKey),
				creationTemplate(tc.ver, creationAlg(kmip.CryptographicAlgorithmAES), creationLen(128), creationName("moving")))
			creationReason(t, err, tc.want)
		})
	}
}
