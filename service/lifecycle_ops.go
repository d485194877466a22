package service

import "github.com/kmipd/kmipd/kmip"

// registerLifecycleOps registers the lifecycle operations: Activate,
// Revoke, Destroy, Archive, Recover, Obtain Lease (lifecycle.go), Check and
// Get Usage Allocation (usage.go). KMIP 1.4 §4.10, §4.17-§4.23; 2.0 §6.1.
func (s *Service) registerLifecycleOps() {
	s.mux.HandleFunc(kmip.OperationActivate, s.activateOp)
	s.mux.HandleFunc(kmip.OperationRevoke, s.revokeOp)
	s.mux.HandleFunc(kmip.OperationDestroy, s.destroyOp)
	s.mux.HandleFunc(kmip.OperationArchive, s.archiveOp)
	s.mux.HandleFunc(kmip.OperationRecover, s.recoverOp)
	s.mux.HandleFunc(kmip.OperationObtainLease, s.obtainLeaseOp)
	s.mux.HandleFunc(kmip.OperationCheck, s.checkOp)
	s.mux.HandleFunc(kmip.OperationGetUsageAllocation, s.getUsageAllocationOp)
}
