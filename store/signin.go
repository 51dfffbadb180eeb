package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/puente-org/puente/domain"
)

// Email is one message to put in the outbox.
type Email struct {
	Kind      string
	To        string
	Subject   string
	Text      string
	HTML      string
	ICS       string // calendar attachment, if any
	Sensitive bool   // blank the body once delivered (it holds a secret link)
	// DiscardAfter: a message not delivered by then is dropped instead of sent late.
	DiscardAfter time.Time
}

// SignInRequest records a new one-time sign-in link and the email that carries it.
type SignInRequest struct {
	Email      string
	TokenHash  []byte
	NextPath   string
	ExpiresAt  time.Time
	Mail       Email
	MaxPerHour int // links one address may ask for per hour
}

// RequestSignIn stores the link and its email in one transaction, so a link is never
// recorded without its email or the other way round. It refuses when the address has asked
// for MaxPerHour links in the last hour.
func (s *Store) RequestSignIn(ctx context.Context, r SignInRequest) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		// Serialise requests for one address so the count below cannot be raced.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('puente.sign_in:' || lower($1)))`, r.Email); err != nil {
			return fmt.Errorf("lock sign-in address: %w", err)
		}
		var recent int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM sign_in_links
			WHERE lower(email) = lower($1) AND created_at > $2`, r.Email, s.now().Add(-time.Hour)).Scan(&recent); err != nil {
			return fmt.Errorf("count sign-in links: %w", err)
		}
		if r.MaxPerHour > 0 && recent >= r.MaxPerHour {
			return &domain.Error{Code: domain.CodeRateLimited, Field: "email",
				ID: "err.signin.too_many"}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO sign_in_links (token_hash, email, next_path, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5)`, r.TokenHash, r.Email, r.NextPath, s.now(), r.ExpiresAt); err != nil {
			return fmt.Errorf("insert sign-in link: %w", err)
		}
		if r.Mail.To == "" {
			return nil // the link travels in another email (a registration confirmation)
		}
		return s.enqueue(ctx, tx, r.Mail)
	})
}

// SignInLink describes a pending link for the confirmation page.
type SignInLink struct {
	Email     string
	NextPath  string
	ExpiresAt time.Time
}

var (
	errLinkUnknown = &domain.Error{Code: domain.CodeExpired, Field: "token",
		ID: "err.signin.link_unknown"}
	errLinkUsed = &domain.Error{Code: domain.CodeExpired, Field: "token",
		ID: "err.signin.link_used"}
	errLinkExpired = &domain.Error{Code: domain.CodeExpired, Field: "token",
		ID: "err.signin.link_expired"}
)

func (s *Store) checkLink(used *time.Time, expires time.Time) error {
	if used != nil {
		return errLinkUsed
	}
	if !s.now().Before(expires) {
		return errLinkExpired
	}
	return nil
}

// PeekSignInLink checks a link without using it.
func (s *Store) PeekSignInLink(ctx context.Context, tokenHash []byte) (SignInLink, error) {
	var l SignInLink
	var used *time.Time
	err := s.pool.QueryRow(ctx, `SELECT email, next_path, expires_at, used_at FROM sign_in_links WHERE token_hash = $1`,
		tokenHash).Scan(&l.Email, &l.NextPath, &l.ExpiresAt, &used)
	if errors.Is(err, pgx.ErrNoRows) {
		return l, errLinkUnknown
	}
	if err != nil {
		return l, fmt.Errorf("read sign-in link: %w", err)
	}
	return l, s.checkLink(used, l.ExpiresAt)
}

// NewSession is a browser session to create.
type NewSession struct {
	TokenHash []byte
	ExpiresAt time.Time
}

// UseSignInLink spends a one-time link: it marks it (and every other open link for the same
// address) used, creates the account if this is its first sign-in, and opens a session, all
// in one transaction. A second use of the same link fails.
func (s *Store) UseSignInLink(ctx context.Context, tokenHash []byte, sess NewSession) (p domain.Person, next string, created bool, err error) {
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var email string
		var used *time.Time
		var expires time.Time
		err := tx.QueryRow(ctx, `SELECT email, next_path, expires_at, used_at FROM sign_in_links
			WHERE token_hash = $1 FOR UPDATE`, tokenHash).Scan(&email, &next, &expires, &used)
		if errors.Is(err, pgx.ErrNoRows) {
			return errLinkUnknown
		}
		if err != nil {
			return fmt.Errorf("read sign-in link: %w", err)
		}
		if err := s.checkLink(used, expires); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE sign_in_links SET used_at = $2
			WHERE lower(email) = lower($1) AND used_at IS NULL`, email, s.now()); err != nil {
			return fmt.Errorf("mark sign-in link used: %w", err)
		}
		p, created, err = ensurePerson(ctx, tx, email, s.now())
		if err != nil {
			return err
		}
		return insertSession(ctx, tx, p.ID, sess, s.now())
	})
	return p, next, created, err
}
