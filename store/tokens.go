package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/puente-org/puente/domain"
)

// APIToken is a personal API token's record (never the secret itself).
type APIToken struct {
	ID         int64
	PersonID   int64
	Name       string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// CreateAPIToken records a new token under its hash.
func (s *Store) CreateAPIToken(ctx context.Context, personID int64, name string, tokenHash []byte) (APIToken, error) {
	name, err := domain.NormalizeTokenName(name)
	if err != nil {
		return APIToken{}, err
	}
	t := APIToken{PersonID: personID, Name: name}
	err = s.pool.QueryRow(ctx, `INSERT INTO api_tokens (person_id, name, token_hash, created_at)
		VALUES ($1, $2, $3, $4) RETURNING id, created_at`, personID, name, tokenHash, s.now()).Scan(&t.ID, &t.CreatedAt)
	if err != nil {
		return APIToken{}, fmt.Errorf("create api token: %w", err)
	}
	return t, nil
}

// ListAPITokens lists a person's tokens, newest first, revoked ones included.
func (s *Store) ListAPITokens(ctx context.Context, personID int64) ([]APIToken, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, person_id, name, created_at, last_used_at, revoked_at
		FROM api_tokens WHERE person_id = $1 ORDER BY id DESC`, personID)
	if err != nil {
		return nil, fmt.Errorf("list api tokens: %w", err)
	}
	tokens, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (APIToken, error) {
		var t APIToken
		err := r.Scan(&t.ID, &t.PersonID, &t.Name, &t.CreatedAt, &t.LastUsedAt, &t.RevokedAt)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("list api tokens: %w", err)
	}
	return tokens, nil
}

// RevokeAPIToken revokes one of a person's tokens. Revoking twice is harmless.
func (s *Store) RevokeAPIToken(ctx context.Context, personID, tokenID int64) error {
	tag, err := s.pool.Exec(ctx, `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, $3)
		WHERE id = $1 AND person_id = $2`, tokenID, personID, s.now())
	if err != nil {
		return fmt.Errorf("revoke api token: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("API token")
	}
	return nil
}

// RevokeAPITokenByID revokes any token (for site admins and the command line).
func (s *Store) RevokeAPITokenByID(ctx context.Context, tokenID int64) (APIToken, error) {
	var t APIToken
	err := s.pool.QueryRow(ctx, `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, $2)
		WHERE id = $1 RETURNING id, person_id, name, created_at, last_used_at, revoked_at`, tokenID, s.now()).
		Scan(&t.ID, &t.PersonID, &t.Name, &t.CreatedAt, &t.LastUsedAt, &t.RevokedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, notFound("API token")
	}
	if err != nil {
		return t, fmt.Errorf("revoke api token: %w", err)
	}
	return t, nil
}

// RevokeAPITokenBySecret revokes the token with that hash.
func (s *Store) RevokeAPITokenBySecret(ctx context.Context, tokenHash []byte) (APIToken, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT id FROM api_tokens WHERE token_hash = $1`, tokenHash).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return APIToken{}, notFound("API token")
	}
	if err != nil {
		return APIToken{}, fmt.Errorf("find api token: %w", err)
	}
	return s.RevokeAPITokenByID(ctx, id)
}

// PersonByAPIToken authenticates a bearer token and records when it was last used (at most
// once a minute per token, so API traffic does not write on every request).
func (s *Store) PersonByAPIToken(ctx context.Context, tokenHash []byte) (domain.Person, error) {
	now := s.now()
	var tokenID int64
	var lastUsed *time.Time
	p, err := scanPerson(s.pool.QueryRow(ctx, `SELECT `+personColumns+`, t.token_id, t.last_used_at FROM people
		JOIN (SELECT id AS token_id, person_id, last_used_at FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL) t
		ON t.person_id = people.id`, tokenHash), &tokenID, &lastUsed)
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.Person{}, domain.New(domain.CodeUnauthenticated, "err.token.unknown")
	}
	if err != nil {
		return domain.Person{}, fmt.Errorf("read api token: %w", err)
	}
	if lastUsed == nil || now.Sub(*lastUsed) > time.Minute {
		if _, err := s.pool.Exec(ctx, `UPDATE api_tokens SET last_used_at = $2 WHERE id = $1`, tokenID, now); err != nil {
			return domain.Person{}, fmt.Errorf("record api token use: %w", err)
		}
	}
	return p, nil
}
