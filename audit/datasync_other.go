//go:build !linux

package audit

import "os"

// syncData makes f's bytes durable; outside Linux that is fsync(2).
func syncData(f *os.File) error { return f.Sync() }
