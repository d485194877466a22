package service

import (
	"bytes"
	"testing"

	"github.com/kmipd/kmipd/kmip"
)

// TestGetFromKeyCache: Get reads key material through a cached, readable
// HSM object (readSecret): repeated Gets hit the cache and serve the same
// bytes; a change of the object (a new Revision) is a miss and still serves
// the right bytes; a destroyed key is not served; and with the cache
// disabled Get works the same.
func TestGetFromKeyCache(t *testing.T) {
	ver := kmip.V1_4
	keys := []struct {
		name string
		alg  kmip.CryptographicAlgorithm
		key  []byte
	}{
		{"AES-256", kmip.CryptographicAlgorithmAES, bytes.Repeat([]byte{0x5A}, 32)},
		// 13 bytes: SoftHSM pads it to 16 when wrapping; Get must trim.
		{"HMAC 13 bytes", kmip.CryptographicAlgorithmHMACSHA256, []byte("thirteen byte")},
	}
	for _, cached := range []bool{true, false} {
		for _, k := range keys {
			name := k.name + "/cached"
			if !cached {
				name = k.name + "/uncached"
			}
			t.Run(name, func(t *testing.T) {
				e := newCreationEnv(t)
				if !cached {
					e.svc = New(WithStore(e.store), WithHSM(e.svc.hsm), WithKeyCache(KeyCacheConfig{}))
				}
				id := e.registerSymmetric(t, ver, k.alg, k.key)
				material := func() []byte {
					_, m := creationMaterial(t, e.get(t, ver, id))
					return m.Bytes()
				}
				before := e.svc.KeyCacheStats()
				for range 3 {
					if got := material(); !bytes.Equal(got, k.key) {
						t.Fatalf("get served %x, want %x", got, k.key)
					}
				}
				st := e.svc.KeyCacheStats()
				if cached && st.Hits-before.Hits < 1 {
					t.Errorf("repeated gets made no cache hit: %+v", st)
				}
				if !cached && st.Entries != 0 {
					t.Errorf("disabled cache holds %d entries", st.Entries)
				}
				// A change of the object invalidates the entry by Revision.
				e.must(t, ver, kmip.OperationAddAttribute, creationUID(id),
					kmip.EncodeAttribute(creationName("renamed-"+k.name), ver, false))
				misses := e.svc.KeyCacheStats().Misses
				if got := material(); !bytes.Equal(got, k.key) {
					t.Fatalf("get after a change served %x, want %x", got, k.key)
				}
				if got := e.svc.KeyCacheStats().Misses; got != misses+1 {
					t.Errorf("get after a change: %d misses, want %d", got, misses+1)
				}
				e.must(t, ver, kmip.OperationDestroy, creationUID(id))
				if _, err := e.call(ver, kmip.OperationGet, creationUID(id)); err == nil {
					t.Error("a destroyed key was served")
				}
			})
		}
	}
}
