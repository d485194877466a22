package pkcs12

import (
	"bytes"
	"testing"
)

// TestRC2KnownAnswers checks RC2 against the test vectors of RFC 2268 §5,
// both directions.
func TestRC2KnownAnswers(t *testing.T) {
	tests := []struct {
		key           string // hex
		effectiveBits int
		plaintext     string // hex
		ciphertext    string // hex
	}{
		{"0000000000000000", 63, "0000000000000000", "ebb773f993278eff"},
		{"ffffffffffffffff", 64, "ffffffffffffffff", "278b27e42e2f0d49"},
		{"3000000000000000", 64, "1000000000000001", "30649edf9be7d2c2"},
		{"88", 64, "0000000000000000", "61a8a244adacccf0"},
		{"88bca90e90875a", 64, "0000000000000000", "6ccf4308974c267f"},
		{"88bca90e90875a7f0f79c384627bafb2", 64, "0000000000000000", "1a807d272bbe5db1"},
		{"88bca90e90875a7f0f79c384627bafb2", 128, "0000000000000000", "2269552ab0f85ca6"},
		{"88bca90e90875a7f0f79c384627bafb216f80a6f85920584c42fceb0be255daf1e", 129, "0000000000000000", "5b78d3a43dfff1f1"},
	}
	for _, tc := range tests {
		c := newRC2(mustHex(t, tc.key), tc.effectiveBits)
		pt, ct := mustHex(t, tc.plaintext), mustHex(t, tc.ciphertext)
		got := make([]byte, rc2BlockSize)
		c.Encrypt(got, pt)
		if !bytes.Equal(got, ct) {
			t.Errorf("RC2 key %s, %d bits: Encrypt = %x, want %x", tc.key, tc.effectiveBits, got, ct)
		}
		c.Decrypt(got, ct)
		if !bytes.Equal(got, pt) {
			t.Errorf("RC2 key %s, %d bits: Decrypt = %x, want %x", tc.key, tc.effectiveBits, got, pt)
		}
	}
}
