package service

// registerObjectOperations registers the managed-object operations.
func (s *Service) registerObjectOperations() {
}
