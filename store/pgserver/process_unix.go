//go:build unix

package pgserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// child is a process started by launch.
type child struct {
	cmd  *exec.Cmd
	pid  int
	done chan struct{} // closed once the process has exited and been reaped
	err  error         // cmd.Wait's result, valid after done
}

// launch starts cmd from a goroutine locked to its OS thread for the child's whole life.
// The parent-death signal (see procAttr) fires when the thread that forked the child exits,
// not the process; an ordinary goroutine may end up on a thread the runtime retires, which
// would stop postgres for no reason. The locked thread is never unlocked, so it ends only
// after the child is gone, or when Puente itself dies, which is the point.
func launch(cmd *exec.Cmd) (*child, error) {
	c := &child{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		c.pid = cmd.Process.Pid
		started <- nil
		c.err = cmd.Wait()
		close(c.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return c, nil
}

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop asks the child to stop with sig and waits up to grace; then sends SIGQUIT (postgres:
// immediate shutdown) and finally SIGKILL. Backends need no signal of their own: they run in
// their own sessions and exit when they notice the postmaster is gone. ctx ending cuts the
// waits short.
func (c *child) stop(ctx context.Context, sig syscall.Signal, grace time.Duration) error {
	steps := []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{sig, grace}, {syscall.SIGQUIT, 5 * time.Second}, {syscall.SIGKILL, 5 * time.Second}}
	for i, st := range steps {
		if c.exited() {
			break
		}
		err := c.cmd.Process.Signal(st.sig) // safe against pid reuse once reaped
		if err != nil && !errors.Is(err, syscall.ESRCH) && !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("signal postgres (pid %d): %w", c.pid, err)
		}
		hurry := ctx.Done()
		if i == len(steps)-1 {
			hurry = nil // after SIGKILL, always give the kernel its moment
		}
		t := time.NewTimer(st.wait)
		select {
		case <-c.done:
		case <-t.C:
		case <-hurry: // asked to hurry: on to the next, harsher signal
		}
		t.Stop()
	}
	select {
	case <-c.done:
		return nil
	default:
		return fmt.Errorf("postgres (pid %d) did not exit after SIGKILL", c.pid)
	}
}

// processAlive reports whether pid exists and is not a zombie (a zombie is dead but waits for
// a parent that may never reap it, e.g. in a container whose init does not).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true // no /proc (macOS): kill(0) is all we have
	}
	// The state follows the parenthesised command name, which may itself contain ")".
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}
