package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/puente-org/puente/domain"
)

// SessionLifetime is how long a browser session lasts without use; each day of use extends it.
const SessionLifetime = 30 * 24 * time.Hour

func insertSession(ctx context.Context, tx pgx.Tx, personID int64, sess NewSession, now time.Time) error {
	if _, err := tx.Exec(ctx, `INSERT INTO sessions (token_hash, person_id, created_at, expires_at, last_seen_at)
		VALUES ($1, $2, $3, $4, $3)`, sess.TokenHash, personID, now, sess.ExpiresAt); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// PersonBySession returns the person signed in with this session, extending the session
// at most once a day so that reading pages does not write on every request. It runs on
// every signed-in request, so the session and its person are read in one query.
func (s *Store) PersonBySession(ctx context.Context, tokenHash []byte) (domain.Person, error) {
	now := s.now()
	var lastSeen time.Time
	p, err := scanPerson(s.pool.QueryRow(ctx, `SELECT `+personColumns+`, s.last_seen_at FROM people
		JOIN (SELECT person_id, last_seen_at FROM sessions WHERE token_hash = $1 AND expires_at > $2) s
		ON s.person_id = people.id`, tokenHash, now), &lastSeen)
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.Person{}, domain.New(domain.CodeUnauthenticated, "err.session.ended")
	}
	if err != nil {
		return domain.Person{}, fmt.Errorf("read session: %w", err)
	}
	if now.Sub(lastSeen) > 24*time.Hour {
		if _, err := s.pool.Exec(ctx, `UPDATE sessions SET last_seen_at = $2, expires_at = $3 WHERE token_hash = $1`,
			tokenHash, now, now.Add(SessionLifetime)); err != nil {
			return domain.Person{}, fmt.Errorf("extend session: %w", err)
		}
	}
	return p, nil
}

// EndSession signs a browser session out.
func (s *Store) EndSession(ctx context.Context, tokenHash []byte) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, tokenHash); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

// Tidy removes what has expired: sessions, used or stale sign-in links, and undelivered
// outbox messages past their use. It returns how many rows it removed or discarded.
func (s *Store) Tidy(ctx context.Context) (int64, error) {
	now := s.now()
	var total int64
	for _, q := range []string{
		`DELETE FROM sessions WHERE expires_at < $1`,
		`DELETE FROM sign_in_links WHERE expires_at < $1::timestamptz - interval '1 day'`,
		// unsubscribe links are kept a month past their life, so an old one still says
		// "expired" rather than "not valid"
		`DELETE FROM list_tokens WHERE expires_at < $1::timestamptz - interval '30 days'`,
		discardExpiredMail,
		// The weekly digests' record is only needed for the current week; a quarter is kept.
		`DELETE FROM weekly_digests WHERE week < ($1::timestamptz - interval '92 days')::date`,
	} {
		tag, err := s.pool.Exec(ctx, q, now)
		if err != nil {
			return total, fmt.Errorf("tidy: %w", err)
		}
		total += tag.RowsAffected()
	}
	return total, nil
}
