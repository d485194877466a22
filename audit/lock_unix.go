//go:build unix

package audit

import (
	"os"
	"syscall"
)

// lockFile takes a non-blocking exclusive flock(2); the kernel drops it when
// the file is closed or the process dies, so a crash never leaves it stale.
func lockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}
