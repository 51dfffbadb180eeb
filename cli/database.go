package cli

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/puente-org/puente/migrations"
	"github.com/puente-org/puente/store/pgserver"
)

// database is an open pool, plus the private server behind it when there is one.
type database struct {
	pool  *pgxpool.Pool
	sqlDB *sql.DB // the same pool, for goose
	local *pgserver.Server
	where string // for logs: never contains a password
}

const localDatabaseName = "puente"

// openDatabase connects to DATABASE_URL, or starts (or joins) the private server under
// the data dir. On failure nothing is left running.
func openDatabase(ctx context.Context, cfg config, log *slog.Logger) (db *database, err error) {
	db = &database{}
	defer func() {
		if err != nil {
			db.close(context.WithoutCancel(ctx))
		}
	}()
	var pcfg *pgxpool.Config
	if cfg.DatabaseURL != "" {
		if pcfg, err = pgxpool.ParseConfig(cfg.DatabaseURL); err != nil {
			reason := ""
			if inner := errors.Unwrap(err); inner != nil {
				reason = ": " + inner.Error()
			}
			return db, usageError{"DATABASE_URL is not a valid PostgreSQL connection string" + reason +
				" (expected e.g. postgres://user:password@host:5432/dbname)"}
		}
		cc := pcfg.ConnConfig
		db.where = fmt.Sprintf("%s:%d/%s (DATABASE_URL)", cc.Host, cc.Port, cc.Database)
	} else {
		dir := filepath.Join(cfg.DataDir, "postgres")
		db.local, err = pgserver.Start(ctx, pgserver.Options{Dir: dir, Logger: log.With("component", "postgres")})
		if err != nil {
			return db, fmt.Errorf("start the private PostgreSQL server in %s: %w", dir, err)
		}
		if err := ensureLocalDatabase(ctx, db.local.ConnString("postgres")); err != nil {
			return db, err
		}
		db.where = "private server in " + dir
		if pcfg, err = pgxpool.ParseConfig(db.local.ConnString(localDatabaseName)); err != nil {
			return db, fmt.Errorf("private server connection: %w", err)
		}
	}
	pcfg.ConnConfig.ConnectTimeout = 10 * time.Second
	db.pool, err = pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return db, fmt.Errorf("database %s: %w", db.where, err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := db.pool.Ping(pingCtx); err != nil {
		return db, fmt.Errorf("cannot reach the database at %s: %s; check that PostgreSQL is running and the URL is right", db.where, pingReason(err))
	}
	db.sqlDB = stdlib.OpenDBFromPool(db.pool)
	return db, nil
}

// pingReason shortens a connection error to its cause.
func pingReason(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Message
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

// ensureLocalDatabase creates Puente's database in the private server on first start.
func ensureLocalDatabase(ctx context.Context, maintenance string) error {
	conn, err := pgx.Connect(ctx, maintenance)
	if err != nil {
		return fmt.Errorf("connect to the private PostgreSQL server: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, localDatabaseName).Scan(&exists); err != nil {
		return fmt.Errorf("look for the %s database: %w", localDatabaseName, err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, `CREATE DATABASE `+localDatabaseName+` ENCODING 'UTF8'`)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42P04" || pgErr.Code == "23505") {
		return nil // created by another puente process at the same moment
	}
	if err != nil {
		return fmt.Errorf("create the %s database: %w", localDatabaseName, err)
	}
	return nil
}

// openMigrated opens the database and brings its schema up to date.
func openMigrated(ctx context.Context, cfg config, log *slog.Logger) (*database, error) {
	db, err := openDatabase(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	if err := db.migrate(ctx, log); err != nil {
		db.close(context.WithoutCancel(ctx))
		return nil, err
	}
	return db, nil
}

// migrate applies pending migrations under goose's session lock.
func (db *database) migrate(ctx context.Context, log *slog.Logger) error {
	return migrations.Up(ctx, db.sqlDB, log)
}

// ready reports whether the database answers and the schema is current.
func (db *database) ready(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	applied, latest, err := migrations.Current(ctx, db.sqlDB)
	if err != nil {
		return err
	}
	if applied < latest {
		return fmt.Errorf("schema at version %d, %d needed", applied, latest)
	}
	return nil
}

func (db *database) close(ctx context.Context) {
	if db.sqlDB != nil {
		_ = db.sqlDB.Close()
	}
	if db.pool != nil {
		db.pool.Close()
	}
	if db.local != nil {
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		_ = db.local.Stop(ctx)
	}
}

func migrationsProvider(db *database) (*goose.Provider, error) { return migrations.Provider(db.sqlDB) }
