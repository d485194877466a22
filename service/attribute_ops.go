package service

// registerAttributeOps is being written.
func (s *Service) registerAttributeOps() {}
