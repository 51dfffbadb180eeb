// Package store keeps Puente's data in PostgreSQL through pgx. It implements the storage the
// domain, the web server and the mail sender need; every write that must not be lost runs in
// a transaction.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/puente-org/puente/domain"
)

// Store is Puente's PostgreSQL storage.
type Store struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

// New wraps an open pool. now is the clock (nil means time.Now); tests inject their own to
// check expiries.
func New(pool *pgxpool.Pool, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{pool: pool, now: now}
}

// Pool returns the underlying pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// inTx runs fn in a transaction, committing if it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// Unreachable reports whether err means the database could not be reached or went away
// mid-request (it is down, restarting, or refusing connections), as opposed to a failure of
// the request itself. This is the one place that knows how pgx reports an outage; the web
// server answers such errors with 503 "unavailable" instead of 500.
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"): // connection exception
			return true
		case pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03": // shutting down, crashed, starting
			return true
		case pgErr.Code == "53300": // too many connections
			return true
		}
		return false // the server answered: the request failed, not the connection
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	// A connection that broke mid-query, or one the pool found closed.
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || pgconn.SafeToRetry(err)
}

// isUniqueViolation reports whether err is a unique-constraint violation.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// notFound wraps domain.ErrNotFound with what was not found.
func notFound(what string) error {
	return &domain.Error{Code: domain.CodeNotFound, ID: "err.not_found", Err: fmt.Errorf("%s: %w", what, pgx.ErrNoRows)}
}
