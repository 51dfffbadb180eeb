package pgtest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/puente-org/puente/store/pgserver"
)

// envTestURL names the test server. Main sets it for a private server.
const envTestURL = "TEST_DATABASE_URL"

// Main runs the tests of a package that uses New, for TestMain. With no database URL in the
// environment it starts a private server for the tests and stops and removes it afterwards.
// It exits the process with the tests' status.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if _, err := serverURL(); err == nil {
		return m.Run()
	}
	dir, err := os.MkdirTemp(tempBase(), "puente-pgtest-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()

	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := pgserver.Start(ctx, pgserver.Options{Dir: dir, Logger: log, Fast: true})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: no %s and no DATABASE_URL, and a private server failed: %v\n", envTestURL, err)
		return 1
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := srv.Stop(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		}
	}()
	if err := os.Setenv(envTestURL, srv.ConnString("postgres")); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		return 1
	}
	return m.Run()
}
