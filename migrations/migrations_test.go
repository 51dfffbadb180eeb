package migrations_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/puente-org/puente/migrations"
	"github.com/puente-org/puente/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// emptyDB returns a database with no schema at all (pgtest's are migrated already).
func emptyDB(t *testing.T) string {
	t.Helper()
	url := pgtest.NewURL(t)
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(context.Background(), `DROP SCHEMA public CASCADE; CREATE SCHEMA public`); err != nil {
		t.Fatal(err)
	}
	return url
}

func open(t *testing.T, url string) *sql.DB {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDBFromPool(pool)
	t.Cleanup(func() { db.Close(); pool.Close() })
	return db
}

// Several instances starting at once all succeed and apply each migration once.
func TestConcurrentStartsMigrateOnce(t *testing.T) {
	url := emptyDB(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		db := open(t, url)
		wg.Go(func() { errs <- migrations.Up(context.Background(), db, log) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent migrate: %v", err)
		}
	}
	db := open(t, url)
	applied, latest, err := migrations.Current(context.Background(), db)
	if err != nil || applied != latest || latest < 1 {
		t.Fatalf("applied %d latest %d: %v", applied, latest, err)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM goose_db_version WHERE version_id = $1`, latest).Scan(&n); err != nil || n != 1 {
		t.Fatalf("migration %d recorded %d times (%v)", latest, n, err)
	}
}

// Every migration can be rolled back and applied again.
func TestDownAndUpAgain(t *testing.T) {
	url := emptyDB(t)
	db := open(t, url)
	ctx := context.Background()
	p, err := migrations.Provider(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 0); err != nil {
		t.Fatalf("down to 0: %v", err)
	}
	var tables int
	if err := db.QueryRow(`SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'goose_db_version'`).Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("tables left after rolling everything back: %d (%v)", tables, err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
}
