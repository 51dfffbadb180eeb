//go:build unix

package pgserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// lockStart takes an exclusive flock on path, waiting (bounded by ctx) while another
// process holds it. Checking for a running server, initdb and starting postgres happen under
// this lock, so two processes starting at once never both run initdb or both start postgres:
// the second waits, then finds the first one's server and attaches. The kernel drops the lock
// if the holder dies, and Go opens files close-on-exec, so postgres never inherits it.
func lockStart(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open start lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = f.Close() }, nil // closing releases the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("take start lock: %w", err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("wait for another process starting PostgreSQL in this directory: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
