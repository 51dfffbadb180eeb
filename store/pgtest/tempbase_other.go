//go:build !linux

package pgtest

import "os"

// tempBase: tmpfs at /dev/shm is a Linux habit; elsewhere use the usual temp directory.
func tempBase() string { return os.TempDir() }
