//go:build unix

package pgserver

import (
	"context"
	"syscall"
	"time"
)

// stopGrace is how long a shutdown may take before harsher signals follow.
const stopGrace = 30 * time.Second

// Stop shuts down a server this process started and waits for it to exit; a server we only
// attached to is left running. Calling Stop again returns the first result.
//
// It uses PostgreSQL's immediate shutdown (SIGQUIT): the server exits within milliseconds,
// without the shutdown checkpoint, and replays its write-ahead log at the next start. Every
// committed transaction is already durable in that log, so nothing is lost; what is saved is
// the 0.1–0.5 s checkpoint, which otherwise leaves the database running visibly after Puente
// has stopped (for instance after `go run`, which exits at once on SIGTERM). The private
// server only ever has Puente's own sessions, all closed before Stop is called. A server
// started with Fast does not flush commits at once, so it gets the ordinary fast shutdown
// (SIGINT) instead, which writes them out.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return s.stopErr
	}
	s.stopped = true
	close(s.quit) // Supervise, if running, lets go
	switch {
	case s.child != nil:
		sig := syscall.SIGQUIT
		if s.fast {
			sig = syscall.SIGINT
		}
		s.stopErr = s.child.stop(ctx, sig, stopGrace)
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
