package service

import (
	"errors"
	"testing"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// TestPairSpecRSABounds: an RSA key pair above the server's maximum (by
// default 4096 bits, the largest of the KMIP vectors) is refused before the
// HSM is asked, with the reason the version names for a bad attribute.
func TestPairSpecRSABounds(t *testing.T) {
	v14 := kmip.ProtocolVersion{Major: 1, Minor: 4}
	v20 := kmip.ProtocolVersion{Major: 2, Minor: 0}
	tests := []struct {
		version    kmip.ProtocolVersion
		bits, max  int32
		wantReason kmip.ResultReason // 0: accepted
	}{
		{v14, 2048, DefaultMaxRSABits, 0},
		{v14, 4096, DefaultMaxRSABits, 0},
		{v14, 4104, DefaultMaxRSABits, kmip.ResultReasonInvalidField},
		{v14, 8192, DefaultMaxRSABits, kmip.ResultReasonInvalidField},
		{v20, 8192, DefaultMaxRSABits, kmip.ResultReasonInvalidAttributeValue},
		{v14, 8192, 8192, 0},
		{v14, 3072, 2048, kmip.ResultReasonInvalidField},
		{v14, 1024, 2048, 0},
		{v14, 512, 2048, kmip.ResultReasonInvalidField},
		{v14, 2050, 4096, kmip.ResultReasonInvalidField},
	}
	for _, tt := range tests {
		req := &kmip.Request{Version: tt.version, Operation: kmip.OperationCreateKeyPair}
		attrs := []kmip.Attribute{
			{Name: attrCryptoAlgorithm, Value: ttlv.Enum(kmip.TagCryptographicAlgorithm, uint32(kmip.CryptographicAlgorithmRSA))},
			{Name: attrCryptoLength, Value: ttlv.Int(kmip.TagCryptographicLength, tt.bits)},
		}
		spec, _, bits, err := pairSpec(req, attrs, tt.max)
		if tt.wantReason == 0 {
			if err != nil || spec.Bits != int(tt.bits) || bits != tt.bits {
				t.Errorf("%v RSA-%d, max %d: spec %+v, %v", tt.version, tt.bits, tt.max, spec, err)
			}
			continue
		}
		var kerr *kmip.Error
		if !errors.As(err, &kerr) || kerr.Reason != tt.wantReason {
			t.Errorf("%v RSA-%d, max %d: %v, want reason %v", tt.version, tt.bits, tt.max, err, tt.wantReason)
		}
	}
}
