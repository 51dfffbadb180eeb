package pgserver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// errServerGone: the server process went away while we waited for it.
var errServerGone = errors.New("the PostgreSQL server process exited")

// waitReady retries connecting until one succeeds. Only a real connection proves the server
// is ready: the socket appears before postgres finishes recovery. gone reports that the
// server process died, which ends the wait at once.
func waitReady(ctx context.Context, timeout time.Duration, dsn func() string, gone func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	delay := 10 * time.Millisecond
	for {
		err := tryConnect(ctx, dsn())
		if err == nil {
			return nil
		}
		if gone() {
			return fmt.Errorf("%w (last connection error: %v)", errServerGone, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no connection within %v: %w (last connection error: %v)", timeout, ctx.Err(), err)
		case <-time.After(delay):
		}
		delay = min(delay*2, 200*time.Millisecond)
	}
}

func tryConnect(ctx context.Context, dsn string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgconn.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}
