package service

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kmipd/kmipd/objects"
)

// Shared test scaffolding of the service package: every group's test
// environment opens its store and keeps its clock through these.

// testClock is a settable clock for WithClock, safe for concurrent use.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t.
func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Add moves the clock forward by d.
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// openTestStore opens a bbolt store in a fresh temporary directory, closed
// (and its close checked) when the test ends. It returns the file's path
// for tests that scan or reopen it.
func openTestStore(tb testing.TB) (*objects.BoltStore, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "kmipd.db")
	st, err := objects.Open(path, objects.Options{})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() {
		if err := st.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	return st, path
}
