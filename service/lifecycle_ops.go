package service

// registerLifecycleOps is being written.
func (s *Service) registerLifecycleOps() {}
