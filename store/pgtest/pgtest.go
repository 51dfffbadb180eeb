// Package pgtest gives each test its own freshly migrated PostgreSQL database.
//
// The server is TEST_DATABASE_URL, else DATABASE_URL, else a private throwaway server that
// Main starts (pgserver, durability off, on tmpfs when there is room). Main publishes the
// private server as TEST_DATABASE_URL in the process environment, so New finds it and so
// do subprocesses a test starts. Without Main and without a URL, New fails the test: a
// server is not started lazily, as only Main can stop it when the tests end.
//
// The migrations are applied once per server into a template database named after their
// hash; each New then clones it, which takes milliseconds.
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestX(t *testing.T) {
//		pool := pgtest.New(t)
//		...
//	}
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// setupTimeout bounds making one database, including building the template the first time.
const setupTimeout = 2 * time.Minute

// New returns a pool on a fresh, migrated database of its own, closed and dropped when the
// test ends.
func New(t testing.TB) *pgxpool.Pool {
	t.Helper()
	url := NewURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatalf("pgtest: open pool: %v", err)
	}
	t.Cleanup(pool.Close) // runs before NewURL's drop: cleanups run last-in first-out
	return pool
}

// NewURL is New for code that opens its own connections: it returns the database's
// connection string. The database is dropped when the test ends, closing any connection
// still open.
func NewURL(t testing.TB) string {
	t.Helper()
	base, err := serverURL()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: connect to the test server: %v", err)
	}
	defer func() { _ = admin.Close(context.Background()) }()

	tmpl, err := templateName()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if err := ensureTemplate(ctx, admin, base, tmpl); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	version, err := serverVersion(ctx, admin)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	name := "t_" + randomHex(8)
	sql := "CREATE DATABASE " + ident(name) + " TEMPLATE " + ident(tmpl)
	if version >= 150000 {
		// FILE_COPY: PostgreSQL 15's default, WAL_LOG, copies block by block through the
		// WAL, which is slower for small databases.
		sql += " STRATEGY FILE_COPY"
	}
	if _, err := admin.Exec(ctx, sql); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		if err := dropDatabase(base, name, version); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	dsn, err := withDatabase(base, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return dsn
}

// dropDatabase runs at cleanup, when the test's context is already cancelled.
func dropDatabase(base, name string, version int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	sql := "DROP DATABASE IF EXISTS " + ident(name)
	if version >= 130000 {
		sql += " WITH (FORCE)" // connections the code under test left open
	}
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// serverURL is the test server's connection string, from the environment.
func serverURL() (string, error) {
	for _, k := range []string{envTestURL, "DATABASE_URL"} {
		if v := os.Getenv(k); v != "" {
			return v, nil
		}
	}
	return "", fmt.Errorf("no test database: call pgtest.Main(m) from TestMain, or set %s", envTestURL)
}

func serverVersion(ctx context.Context, conn *pgx.Conn) (int, error) {
	var v int
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&v); err != nil {
		return 0, fmt.Errorf("server version: %w", err)
	}
	return v, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error
	return hex.EncodeToString(b)
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }
