//go:build unix

package compose

import "syscall"

// lowerPriority makes a process nice (10), so media forwarding comes first.
func lowerPriority(pid int) error {
	return syscall.Setpriority(syscall.PRIO_PROCESS, pid, 10)
}
