package service

import "github.com/kmipd/kmipd/kmip"

// registerObjectOperations registers the managed-object operations. Each
// group lives in its own file.
func (s *Service) registerObjectOperations() {
	s.registerCreationOps()                                  // create.go, register.go, get.go, rekey.go: Create, Create Key Pair, Register, Get, Re-key, Re-key Key Pair
	s.registerAttributeOps()                                 // attributes.go, locate.go: Get Attributes, Get Attribute List, Add/Modify/Delete/Set/Adjust Attribute, Locate
	s.registerLifecycleOps()                                 // lifecycle.go: Activate, Revoke, Destroy, Check, Archive, Recover, Obtain Lease, Get Usage Allocation
	s.registerCryptoOps()                                    // crypto_ops.go: Encrypt, Decrypt, Sign, Signature Verify, MAC, MAC Verify, Hash, RNG Retrieve, RNG Seed
	s.mux.HandleFunc(kmip.OperationDeriveKey, s.deriveKeyOp) // derive.go: Derive Key
	s.registerSplitKeyOps()                                  // splitkey.go: Create Split Key, Join Split Key
	s.registerImpExpOps()                                    // impexp.go: Export, Import
}
