package kmip

import "syscall"

// syscallEMFILE is retried by Serve: running out of file descriptors is
// temporary.
var syscallEMFILE = syscall.EMFILE
