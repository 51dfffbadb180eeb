package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// FeedNonce returns the nonce that a person's personal feed URL is signed with.
func (s *Store) FeedNonce(ctx context.Context, personID int64) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT feed_nonce FROM people WHERE id = $1`, personID).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, notFound("person")
	}
	if err != nil {
		return 0, fmt.Errorf("feed nonce: %w", err)
	}
	return n, nil
}

// NewFeedNonce revokes a person's personal feed URL and returns the nonce of the new one.
func (s *Store) NewFeedNonce(ctx context.Context, personID int64) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `UPDATE people SET feed_nonce = feed_nonce + 1 WHERE id = $1 RETURNING feed_nonce`, personID).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, notFound("person")
	}
	if err != nil {
		return 0, fmt.Errorf("new feed nonce: %w", err)
	}
	return n, nil
}
