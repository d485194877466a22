package hsmbackend

import (
	"fmt"
	"testing"

	"github.com/miekg/pkcs11"
)

// TestMasterKeyTemplateWithoutCopyable: the template CreateMasterKey falls
// back to on a PKCS#11 v2.20 module keeps every other attribute.
func TestMasterKeyTemplateWithoutCopyable(t *testing.T) {
	full := masterKeyTemplate("m")
	short := withoutAttribute(masterKeyTemplate("m"), pkcs11.CKA_COPYABLE)
	if len(short) != len(full)-1 {
		t.Fatalf("template has %d attributes, want %d", len(short), len(full)-1)
	}
	for _, a := range short {
		if a.Type == pkcs11.CKA_COPYABLE {
			t.Fatal("CKA_COPYABLE still in the template")
		}
	}
	tests := []struct {
		err  error
		want bool
	}{
		{pkcs11.Error(pkcs11.CKR_ATTRIBUTE_TYPE_INVALID), true},
		{fmt.Errorf("generate: %w", pkcs11.Error(pkcs11.CKR_ATTRIBUTE_TYPE_INVALID)), true},
		{pkcs11.Error(pkcs11.CKR_TEMPLATE_INCONSISTENT), false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := isCKR(tt.err, pkcs11.CKR_ATTRIBUTE_TYPE_INVALID); got != tt.want {
			t.Errorf("isCKR(%v) = %t, want %t", tt.err, got, tt.want)
		}
	}
}
