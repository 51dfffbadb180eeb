package pgserver

import "syscall"

// procAttr: own process group, so a terminal's Ctrl-C reaches Puente only and Puente stops
// postgres after its own graceful shutdown; SIGINT (fast shutdown) when the parent dies,
// even by SIGKILL. Go sets the death signal after switching credentials, which would
// otherwise clear it.
func procAttr(u serverUser) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Setpgid:    true,
		Pdeathsig:  syscall.SIGINT,
		Credential: u.credential(),
	}
}
