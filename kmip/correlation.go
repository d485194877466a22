package kmip

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync"
	"sync/atomic"
)

// Server Correlation Values (KMIP 1.4 §6.19): "SHOULD be provided by the
// server and SHOULD be globally unique, and SHOULD be logged by the server
// with each request". kmipd's are a random process identifier and a
// message counter, "3f9a1c0b7e2d-41": unique across restarts and servers
// without coordination, short enough for a log line, and saying nothing
// about the request.
var (
	correlationPrefixOnce sync.Once
	correlationPrefix     string
	correlationCount      atomic.Uint64
)

// newServerCorrelationValue returns the next Server Correlation Value.
func newServerCorrelationValue() string {
	correlationPrefixOnce.Do(func() {
		var b [6]byte
		if _, err := rand.Read(b[:]); err != nil {
			panic(err) // crypto/rand does not fail on the systems kmipd runs on
		}
		correlationPrefix = hex.EncodeToString(b[:]) + "-"
	})
	return correlationPrefix + strconv.FormatUint(correlationCount.Add(1), 10)
}
