package main

import (
	"os"
	"runtime/debug"
)

// defaultGCPercent is the garbage collector's target that kmipd runs with
// when the environment does not set GOGC.
//
// Why not Go's 100: kmipd's live heap is small (the store is bbolt's mmap,
// not heap) while every request allocates its message, its payload and, for
// 4 KiB Encrypts, several copies of the data; at 100 the collector runs
// many times a second and took 6-8% of the server's CPU, plus the
// allocating goroutines' assists. At 400 the heap may grow to five times
// the live data before a cycle: tens of MB more. On the dev VM (make
// bench-server's setup, 5 interleaved runs each) Encrypt 4 KiB at 4
// connections went from 16,400 to 19,400/s; Create and Encrypt 64 B moved
// within noise. GOGC and GOMEMLIMIT in the environment take precedence, as
// Go documents them (runtime package, "Environment Variables").
const defaultGCPercent = 400

// tuneGC applies defaultGCPercent unless GOGC is set.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
}
