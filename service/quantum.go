package service

import (
	"github.com/kmipd/kmipd/kmip"
)

const attrQuantumSafe = "Quantum Safe"

// checkQuantumSafe refuses to create a key whose Quantum Safe attribute
// (KMIP 2.0 §4.45) is true when the key cannot be: a symmetric key needs
// at least 256 bits (Grover's search halves its strength), and no RSA or
// elliptic-curve key is safe against a quantum computer. The OASIS vector
// QS-M-2-20 expects General Failure for an AES-128 key.
func checkQuantumSafe(attrs []kmip.Attribute, alg kmip.CryptographicAlgorithm, bits int32) error {
	safe := false
	for _, a := range attrs {
		if a.Name == attrQuantumSafe && a.Value.Bool() {
			safe = true
		}
	}
	if !safe {
		return nil
	}
	switch alg {
	case kmip.CryptographicAlgorithmAES, kmip.CryptographicAlgorithmCamellia, kmip.CryptographicAlgorithmHMACSHA256,
		kmip.CryptographicAlgorithmHMACSHA384, kmip.CryptographicAlgorithmHMACSHA512:
		if bits >= 256 {
			return nil
		}
		return kmip.Errorf(kmip.ResultReasonGeneralFailure, "a %d-bit %v key is not quantum safe: 256 bits or more are needed", bits, alg)
	default:
		return kmip.Errorf(kmip.ResultReasonGeneralFailure, "%v keys are not quantum safe", alg)
	}
}
