package pgtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/puente-org/puente/migrations"
)

// templateLockKey is the advisory lock that serialises template builds between processes
// sharing a server (go test runs packages in parallel). Arbitrary: "puente" in ASCII, then 1.
const templateLockKey int64 = 0x7075656e74650001

// templateName names the template after a hash of the migration files: an unchanged set
// reuses the template across runs, a changed one gets a new template.
func templateName() (string, error) {
	h := sha256.New()
	fsys := migrations.FS()
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash migrations: %w", err)
	}
	return "puente_tmpl_" + hex.EncodeToString(h.Sum(nil))[:16], nil
}

// ensureTemplate makes sure the migrated template database name exists, building it if
// needed. It is built under a temporary name while holding the lock, then renamed: a
// template that exists under its real name is always complete, so checking needs no lock.
func ensureTemplate(ctx context.Context, admin *pgx.Conn, base, name string) error {
	if ok, err := databaseExists(ctx, admin, name); err != nil || ok {
		return err
	}
	// admin is a connection of its own (not from a pool), so the session lock stays with us.
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock($1)", templateLockKey); err != nil {
		return fmt.Errorf("template lock: %w", err)
	}
	defer func() { _, _ = admin.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", templateLockKey) }()
	if ok, err := databaseExists(ctx, admin, name); err != nil || ok {
		return err // built by another process while we waited
	}
	return buildTemplate(ctx, admin, base, name)
}

func buildTemplate(ctx context.Context, admin *pgx.Conn, base, name string) error {
	tmp := name + "_build"
	version, err := serverVersion(ctx, admin)
	if err != nil {
		return err
	}
	// A builder killed half-way leaves its database; holding the lock, nobody else uses it.
	drop := "DROP DATABASE IF EXISTS " + ident(tmp)
	if version >= 130000 {
		drop += " WITH (FORCE)"
	}
	if _, err := admin.Exec(ctx, drop); err != nil {
		return fmt.Errorf("drop stale template build: %w", err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident(tmp)+" TEMPLATE template0"); err != nil {
		return fmt.Errorf("create template: %w", err)
	}
	if err := migrate(ctx, base, tmp); err != nil {
		_, _ = admin.Exec(context.Background(), drop)
		return err
	}
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+ident(tmp)+" IS_TEMPLATE true"); err != nil {
		return fmt.Errorf("mark template: %w", err)
	}
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+ident(tmp)+" RENAME TO "+ident(name)); err != nil {
		return fmt.Errorf("publish template: %w", err)
	}
	return nil
}

// migrate applies the migrations to database db the way Puente does at startup.
func migrate(ctx context.Context, base, db string) error {
	dsn, err := withDatabase(base, db)
	if err != nil {
		return err
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("template connection: %w", err)
	}
	sqlDB := stdlib.OpenDB(*cfg)
	err = migrations.Up(ctx, sqlDB, slog.New(slog.DiscardHandler))
	// Closed before the rename, which needs the database to have no sessions.
	if cerr := sqlDB.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("migrate template: %w", err)
	}
	return nil
}

func databaseExists(ctx context.Context, conn *pgx.Conn, name string) (bool, error) {
	var ok bool
	err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("look for template: %w", err)
	}
	return ok, nil
}
