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

// Follow makes a person follow an event (idempotent).
func (s *Store) Follow(ctx context.Context, personID, eventID int64) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO follows (person_id, event_id, created_at) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING`, personID, eventID, s.now())
	if err != nil {
		return fmt.Errorf("follow: %w", err)
	}
	return nil
}

// Unfollow stops following (idempotent).
func (s *Store) Unfollow(ctx context.Context, personID, eventID int64) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM follows WHERE person_id = $1 AND event_id = $2`, personID, eventID); err != nil {
		return fmt.Errorf("unfollow: %w", err)
	}
	// News not yet sent that only this follow brought is dropped with it.
	return s.dropUnfollowedNews(ctx, personID)
}

// Followed lists the ids of the events a person follows.
func (s *Store) Followed(ctx context.Context, personID int64) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT event_id FROM follows WHERE person_id = $1 ORDER BY event_id`, personID)
	if err != nil {
		return nil, fmt.Errorf("followed: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("followed: %w", err)
	}
	return ids, nil
}
