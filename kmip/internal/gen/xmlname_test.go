package main

import "testing"

func TestXMLName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Activation Date", "ActivationDate"},
		{"Unique Batch Item ID", "UniqueBatchItemID"},
		{"IV/Counter/Nonce", "IVCounterNonce"},
		{"MAC/Signature Key Information", "MACSignatureKeyInformation"},
		{"Common Template-Attribute", "CommonTemplateAttribute"},
		{"X.509 Certificate Identifier", "X_509CertificateIdentifier"},
		{"PKCS#12 Friendly Name", "PKCS_12FriendlyName"},
		{"CRT Coefficient", "CRTCoefficient"},
		{"SHA-256", "SHA_256"},
		{"SHA3-256", "SHA3_256"},
		{"SHA-3-256", "SHA_3_256"},
		{"HMAC-SHA256", "HMAC_SHA256"},
		{"PKCS#1", "PKCS_1"},
		{"X.509", "X_509"},
		{"ANSI X9.31", "ANSIX9_31"},
		{"FIPS 186-2", "FIPS186_2"},
		{"P-256", "P_256"},
		{"Dual-EC", "Dual_EC"},
		{"3DES", "DES3"},
		{"Re-key Key Pair", "ReKeyKeyPair"},
		{"On-line storage", "OnLineStorage"},
		{"SHA-256 with RSA Encryption", "SHA_256WithRSAEncryption"},
		{"Polynomial Sharing GF (2^8)", "PolynomialSharingGF2_8"},
		{"Tape Library Server KMIP v1.0", "TapeLibraryServerKMIPV1_0"},
		{"Suite B minLOS_128 Server KMIP v1.0", "SuiteBMinLOS_128ServerKMIPV1_0"},
		{"C_Initialize", "C_Initialize"},
		{"HOST_MEMORY", "HOST_MEMORY"},
		{"Content Commitment (Non Repudiation)", "ContentCommitmentNonRepudiation"},
		{"Qlength", "Qlength"},
		{"D", "D"},
	}
	for _, tt := range tests {
		if got := xmlName(tt.in); got != tt.want {
			t.Errorf("xmlName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestVersion(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"", 0, true}, {"1.0", 100, true}, {"1.4", 104, true}, {"2.1", 201, true},
		{"2", 0, false}, {"1.x", 0, false}, {"1.100", 0, false},
	}
	for _, tt := range tests {
		got, err := version(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("version(%q) = %d, %v; want %d, ok %t", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
