package objects

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkCreateUnderLoad mimics the service's Create at 1, 4 and 16
// connections: each goroutine works hsmWork (the HSM generating and
// wrapping the key), then stores a typical AES-256 key, and again, so that
// writes arrive while others commit, as they do in kmipd. The audit fsync
// that follows in the service is left out.
//
// The work is a spin, not time.Sleep: a sleep this short lasts about a
// millisecond on the test machines, and SoftHSM's work is CPU in this
// process anyway. The spin yields, as a cgo call into the HSM gives up its
// P (after 20µs), so that the goroutine committing is not starved of one.
//
// ns/op is wall time per create across all goroutines (creates per second
// = 1e9 / ns/op); µs/create is the mean latency of the store's Create.
func BenchmarkCreateUnderLoad(b *testing.B) {
	const hsmWork = 150 * time.Microsecond
	for _, conns := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			s := openBench(b)
			ctx := context.Background()
			var started, storeNanos atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			for range conns {
				wg.Go(func() {
					for started.Add(1) <= int64(b.N) {
						spin(hsmWork)
						id, err := s.NewID(ctx)
						if err != nil {
							b.Error(err)
							return
						}
						t0 := time.Now()
						if err := s.Create(ctx, aesKey(id)); err != nil {
							b.Error(err)
							return
						}
						storeNanos.Add(int64(time.Since(t0)))
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(storeNanos.Load())/float64(b.N)/1e3, "µs/create")
		})
	}
}

// spin keeps the CPU busy for d, yielding to other goroutines.
func spin(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
		runtime.Gosched()
	}
}
