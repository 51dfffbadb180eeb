//go:build !unix

package compose

// lowerPriority does nothing where processes have no niceness.
func lowerPriority(int) error { return nil }
