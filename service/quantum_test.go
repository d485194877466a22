package service

import (
	"testing"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

func TestCheckQuantumSafe(t *testing.T) {
	safe := []kmip.Attribute{attr(attrQuantumSafe, ttlv.Bool(0, true))}
	unsafe := []kmip.Attribute{attr(attrQuantumSafe, ttlv.Bool(0, false))}
	tests := []struct {
		name  string
		attrs []kmip.Attribute
		alg   kmip.CryptographicAlgorithm
		bits  int32
		ok    bool
	}{
		{"AES-256 is safe", safe, kmip.CryptographicAlgorithmAES, 256, true},
		{"AES-128 is not", safe, kmip.CryptographicAlgorithmAES, 128, false},
		{"3DES never is", safe, kmip.CryptographicAlgorithmDES3, 192, false},
		{"not asked: anything goes", unsafe, kmip.CryptographicAlgorithmAES, 128, true},
		{"no attribute: anything goes", nil, kmip.CryptographicAlgorithmDES3, 192, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkQuantumSafe(tt.attrs, tt.alg, tt.bits)
			if (err == nil) != tt.ok {
				t.Fatalf("checkQuantumSafe = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && kmip.ReasonOf(err) != kmip.ResultReasonGeneralFailure {
				t.Fatalf("reason %v, want General Failure (QS-M-2-20)", kmip.ReasonOf(err))
			}
		})
	}
}
