package pgtest

import (
	"os"
	"syscall"
)

// minShmFree: /dev/shm is used for the private server only when it has this much room.
// Containers often give it 64 MB, and each test database takes about 8 MB.
const minShmFree = 1 << 30

// tempBase prefers tmpfs: with fsync off, creating a database is then a memory copy.
func tempBase() string {
	var st syscall.Statfs_t
	if err := syscall.Statfs("/dev/shm", &st); err == nil && st.Bavail*uint64(st.Bsize) >= minShmFree {
		return "/dev/shm"
	}
	return os.TempDir()
}
