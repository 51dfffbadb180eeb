//go:build !unix

package pgserver

import (
	"context"
	"errors"
)

type child struct{}

// Start is not available here: running postgres as a child relies on Unix sockets, process
// groups and flock.
func Start(ctx context.Context, o Options) (*Server, error) {
	return nil, errors.New("pgserver: a private PostgreSQL server needs a Unix-like system; set DATABASE_URL to an existing database")
}

// Supervise does nothing: Start never succeeds on this system.
func (s *Server) Supervise(ctx context.Context) {}

// Stop does nothing: Start never succeeds on this system.
func (s *Server) Stop(ctx context.Context) error { return nil }
