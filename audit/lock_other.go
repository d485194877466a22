//go:build !unix

package audit

import "os"

// lockFile is a no-op where flock(2) does not exist; running two servers on
// one log there is the operator's mistake to avoid.
func lockFile(*os.File) error { return nil }
