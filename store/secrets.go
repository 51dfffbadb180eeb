package store

import (
	"context"
	"crypto/rand"
	"fmt"
)

// Secret returns the named server secret, creating a random 32-byte one the first time
// (several instances starting at once agree on one).
func (s *Store) Secret(ctx context.Context, name string) ([]byte, error) {
	fresh := make([]byte, 32)
	_, _ = rand.Read(fresh)
	var v []byte
	err := s.pool.QueryRow(ctx, `INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING value`, name, fresh, s.now()).Scan(&v)
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	return v, nil
}
