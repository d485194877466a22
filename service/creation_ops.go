package service

// registerCreationOps is being written.
func (s *Service) registerCreationOps() {}
