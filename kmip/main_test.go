package kmip

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the package when a server goroutine outlives the tests:
// every test's Server is shut down in its cleanup, so any connection or
// accept loop still running is a leak (miekg/dns's leak_test does the
// same per test).
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := serverGoroutines(5 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "kmip: server goroutines leaked by the tests:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// serverGoroutines waits up to d for the Server's goroutines to exit and
// returns the stacks of those still running.
func serverGoroutines(d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		buf := make([]byte, 4<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaked []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "kmip.(*serverConn).serve") || strings.Contains(g, "kmip.(*Server).Serve(") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 || time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
