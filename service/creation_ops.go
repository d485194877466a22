package service

import "github.com/kmipd/kmipd/kmip"

// registerCreationOps registers the operations that create managed objects
// and hand them out: Create, Create Key Pair, Register, Re-key, Re-key Key
// Pair (create.go, register.go, rekey.go) and Get (get.go), with the Key
// Block conversions and key wrapping of keyformat.go.
func (s *Service) registerCreationOps() {
	s.mux.HandleFunc(kmip.OperationCreate, s.createOp)
	s.mux.HandleFunc(kmip.OperationCreateKeyPair, s.createKeyPairOp)
	s.mux.HandleFunc(kmip.OperationRegister, s.registerOp)
	s.mux.HandleFunc(kmip.OperationReKey, s.reKeyOp)
	s.mux.HandleFunc(kmip.OperationReKeyKeyPair, s.reKeyKeyPairOp)
	s.mux.HandleFunc(kmip.OperationGet, s.getOp)
}
