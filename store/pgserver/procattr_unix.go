//go:build unix && !linux

package pgserver

import "syscall"

// procAttr: own process group, so a terminal's Ctrl-C reaches Puente only. There is no
// parent-death signal outside Linux: if Puente is killed outright, postgres keeps running
// and the next start attaches to it.
func procAttr(u serverUser) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Setpgid:    true,
		Credential: u.credential(),
	}
}
