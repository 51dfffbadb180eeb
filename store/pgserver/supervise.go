//go:build unix

package pgserver

import (
	"context"
	"time"
)

// Restart back-off: the first restart comes quickly, later ones after a doubling wait, and
// a server that then ran for stableAfter counts as healthy again.
const (
	restartMin  = 500 * time.Millisecond
	restartMax  = 30 * time.Second
	stableAfter = time.Minute
	pollEvery   = 500 * time.Millisecond // watching a server that is not our child
)

// Supervise keeps the server running until ctx ends or Stop is called: when postgres exits
// without being asked to (killed, crashed, out of memory), it is logged and started again
// on the same directory and socket, so open pools reconnect on their own, with a doubling
// back-off while restarts fail. It blocks; run it in its own goroutine, from the process
// that serves (a short-lived command has no use for it).
func (s *Server) Supervise(ctx context.Context) {
	backoff := restartMin
	up := time.Now()
	for {
		stopWatch := make(chan struct{})
		exited := await(ctx, s.quit, s.watchExit(stopWatch))
		close(stopWatch)
		if !exited {
			return
		}
		s.mu.Lock()
		stopped, pid, reason := s.stopped, s.pid, s.exitReason()
		s.mu.Unlock()
		if stopped {
			return
		}
		if time.Since(up) >= stableAfter {
			backoff = restartMin
		}
		s.log.Error("PostgreSQL exited unexpectedly; restarting it", "pid", pid, "exit", reason,
			"dir", s.dataDir, "retry_in", backoff)
		for {
			t := time.NewTimer(backoff)
			waited := await(ctx, s.quit, t.C)
			t.Stop()
			if !waited {
				return
			}
			backoff = min(2*backoff, restartMax)
			n, err := s.relaunch(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				s.log.Error("restarting PostgreSQL failed", "err", err, "retry_in", backoff)
				continue
			}
			s.mu.Lock()
			if s.stopped { // Stop came while we were starting: the new one goes too
				s.mu.Unlock()
				_ = n.Stop(context.WithoutCancel(ctx))
				return
			}
			s.adopt(n)
			s.mu.Unlock()
			up = time.Now()
			s.log.Warn("PostgreSQL restarted", "pid", n.pid, "owned", n.owned, "previous_pid", pid)
			break
		}
	}
}

// await waits for c and reports whether it came before ctx ended or quit was closed
// (Stop was called).
func await[T any](ctx context.Context, quit <-chan struct{}, c <-chan T) bool {
	select {
	case <-ctx.Done():
		return false
	case <-quit:
		return false
	case <-c:
		return true
	}
}

// watchExit returns a channel closed when the current postgres process has exited: our
// child's own wait, or (a server we attached to, or the embedded fallback's detached one)
// polling its pid until stop is closed.
func (s *Server) watchExit(stop <-chan struct{}) <-chan struct{} {
	s.mu.Lock()
	c, pid := s.child, s.pid
	s.mu.Unlock()
	if c != nil {
		return c.done
	}
	gone := make(chan struct{})
	go func() {
		t := time.NewTicker(pollEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			if !processAlive(pid) {
				close(gone)
				return
			}
		}
	}()
	return gone
}

// exitReason describes how our child ended (called with mu held).
func (s *Server) exitReason() string {
	if s.child != nil && s.child.exited() {
		if s.child.err != nil {
			return s.child.err.Error()
		}
		return "exited with status 0"
	}
	return "process gone"
}

// adopt takes over the process n runs (called with mu held).
func (s *Server) adopt(n *Server) {
	if s.embeddedLog != nil && s.embeddedLog != n.embeddedLog {
		_ = s.embeddedLog.Close()
	}
	s.host, s.port, s.password, s.pid, s.owned = n.host, n.port, n.password, n.pid, n.owned
	s.child, s.embedded, s.embeddedLog = n.child, n.embedded, n.embeddedLog
}
