// Package migrations holds Puente's database schema as numbered SQL files, embedded in the
// binary, and runs them with goose under a PostgreSQL session lock so that several instances
// starting at once are safe.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed *.sql
var files embed.FS

// FS returns the embedded SQL files.
func FS() fs.FS { return files }

// Provider builds a goose provider over db that holds a PostgreSQL session advisory lock
// while it works.
func Provider(db *sql.DB) (*goose.Provider, error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, files, goose.WithSessionLocker(locker))
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return p, nil
}

// Up applies every pending migration and logs each one applied.
func Up(ctx context.Context, db *sql.DB, log *slog.Logger) error {
	p, err := Provider(db)
	if err != nil {
		return err
	}
	results, err := p.Up(ctx)
	for _, r := range results {
		if r.Error == nil {
			log.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
		}
	}
	if err != nil {
		var partial *goose.PartialError
		if errors.As(err, &partial) && partial.Failed != nil {
			return fmt.Errorf("migration %s failed: %w", partial.Failed.Source.Path, partial.Err)
		}
		return fmt.Errorf("migrate up: %w", err)
	}
	return nil
}

// Current reports the applied version and the newest version available.
func Current(ctx context.Context, db *sql.DB) (applied, latest int64, err error) {
	p, err := Provider(db)
	if err != nil {
		return 0, 0, err
	}
	applied, err = p.GetDBVersion(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("read schema version: %w", err)
	}
	srcs := p.ListSources()
	if len(srcs) > 0 {
		latest = srcs[len(srcs)-1].Version
	}
	return applied, latest, nil
}
