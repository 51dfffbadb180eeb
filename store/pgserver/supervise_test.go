//go:build unix

package pgserver

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/puente-org/puente/store"
)

// lockedBuffer collects log lines from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// Killing the private server's postgres: while it is down the pool's errors read as an
// outage (store.Unreachable), the event is logged, postgres comes back on the same socket,
// and the same pool works again.
func TestSuperviseRestartsKilledServer(t *testing.T) {
	var logs lockedBuffer
	s := startServer(t, Options{Dir: testDir(t), Fast: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Supervise(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	pool, err := pgxpool.New(context.Background(), s.ConnString("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var one int
	if err := pool.QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
	first := s.PID()
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}

	outages := 0
	deadline := time.Now().Add(60 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("postgres not back after a minute; log:\n%s", logs.String())
		}
		qctx, qcancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := pool.QueryRow(qctx, "SELECT 1").Scan(&one)
		qcancel()
		if err == nil {
			if s.PID() != first {
				break
			}
			continue // the query raced the kill
		}
		outages++
		t.Logf("outage error: %T %v", err, err)
		if !store.Unreachable(err) {
			t.Fatalf("error during the outage not seen as one: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if outages == 0 {
		t.Errorf("no failed query while postgres was down")
	}
	for _, want := range []string{"PostgreSQL exited unexpectedly", "PostgreSQL restarted"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	if !s.Owned() {
		t.Errorf("restarted server not owned by this process")
	}
	// Stop still stops the restarted server, and the supervisor lets go.
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Supervise still running after Stop")
	}
	if processAlive(s.PID()) {
		t.Errorf("restarted postgres (pid %d) still running after Stop", s.PID())
	}
}
