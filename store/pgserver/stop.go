//go:build unix

package pgserver

import (
	"context"
	"syscall"
	"time"
)

// stopGrace is how long a fast shutdown may take before harsher signals follow.
const stopGrace = 30 * time.Second

// Stop shuts down a server this process started (fast shutdown: sessions are ended, then a
// checkpoint) and waits for it to exit; a server we only attached to is left running.
// Calling Stop again returns the first result.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return s.stopErr
	}
	s.stopped = true
	switch {
	case s.child != nil:
		s.stopErr = s.child.stop(ctx, syscall.SIGINT, stopGrace)
	case s.embedded != nil:
		s.stopErr = stopEmbedded(ctx, s.embedded, s.embeddedLog)
	default:
		return nil
	}
	if s.stopErr != nil {
		s.log.Error("stopping PostgreSQL", "pid", s.pid, "err", s.stopErr)
	} else {
		s.log.Info("PostgreSQL stopped", "pid", s.pid)
	}
	return s.stopErr
}
