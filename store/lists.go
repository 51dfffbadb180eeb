package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/puente-org/puente/domain"
)

// ListState reads whether list mail may go to the person now (checked again when a list
// email is delivered: a person who left after it was written does not get it).
func (s *Store) ListState(ctx context.Context, personID int64, list domain.MailList) (domain.ListState, error) {
	var st domain.ListState
	err := s.pool.QueryRow(ctx, `SELECT
		EXISTS (SELECT 1 FROM list_optouts WHERE person_id = p.id AND list_id = $2),
		EXISTS (SELECT 1 FROM mail_suppressions WHERE email = lower(p.email))
		FROM people p WHERE p.id = $1`, personID, string(list)).Scan(&st.Left, &st.Suppressed)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, notFound("person")
	}
	if err != nil {
		return st, fmt.Errorf("list state: %w", err)
	}
	return st, nil
}

// Suppressed reports whether an address bounced or complained: nothing but sign-in links
// goes to it.
func (s *Store) Suppressed(ctx context.Context, email string) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM mail_suppressions WHERE email = lower($1))`, email).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("suppression: %w", err)
	}
	return ok, nil
}

// NewListToken stores a fresh unsubscribe token for one person and one list and returns
// it (only its hash is kept). Each list email gets its own; they expire after
// domain.ListTokenLife.
func (s *Store) NewListToken(ctx context.Context, personID int64, list domain.MailList) (string, error) {
	token, hash := domain.NewSecret(domain.PrefixListToken)
	now := s.now()
	if _, err := s.pool.Exec(ctx, `INSERT INTO list_tokens (hash, person_id, list_id, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5)`, hash, personID, string(list), now, now.Add(domain.ListTokenLife)); err != nil {
		return "", fmt.Errorf("unsubscribe token: %w", err)
	}
	return token, nil
}

// ListToken is an unsubscribe link's token as found.
type ListToken struct {
	PersonID int64
	List     domain.MailList
	Expired  bool
	Used     bool // the person left the list with it before
	Left     bool // the person is off the list now (by this link or otherwise)
}

// ListTokenByHash finds an unsubscribe token (not found: forged, or its person deleted).
func (s *Store) ListTokenByHash(ctx context.Context, hash []byte) (ListToken, error) {
	var t ListToken
	var list string
	err := s.pool.QueryRow(ctx, `SELECT t.person_id, t.list_id, t.expires_at <= $2, t.used_at IS NOT NULL,
		EXISTS (SELECT 1 FROM list_optouts o WHERE o.person_id = t.person_id AND o.list_id = t.list_id)
		FROM list_tokens t WHERE t.hash = $1`, hash, s.now()).Scan(&t.PersonID, &list, &t.Expired, &t.Used, &t.Left)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, notFound("unsubscribe link")
	}
	if err != nil {
		return t, fmt.Errorf("unsubscribe link: %w", err)
	}
	t.List = domain.MailList(list)
	return t, nil
}

// LeaveListByToken takes the token's person off its list, in one transaction: the
// opt-out is recorded, the token marked used, list email not yet delivered to them set
// aside, and for the weekly digest the opt-in itself is turned off (so the profile says
// so). Using a token again changes nothing; an expired one is refused
// (err.unsubscribe.expired).
func (s *Store) LeaveListByToken(ctx context.Context, hash []byte) (ListToken, error) {
	var t ListToken
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var list string
		err := tx.QueryRow(ctx, `SELECT person_id, list_id, expires_at <= $2, used_at IS NOT NULL
			FROM list_tokens WHERE hash = $1 FOR UPDATE`, hash, s.now()).Scan(&t.PersonID, &list, &t.Expired, &t.Used)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("unsubscribe link")
		}
		if err != nil {
			return fmt.Errorf("unsubscribe link: %w", err)
		}
		t.List = domain.MailList(list)
		if t.Expired {
			return &domain.Error{Code: domain.CodeExpired, ID: "err.unsubscribe.expired"}
		}
		if _, err := tx.Exec(ctx, `UPDATE list_tokens SET used_at = coalesce(used_at, $2) WHERE hash = $1`, hash, s.now()); err != nil {
			return fmt.Errorf("unsubscribe link: %w", err)
		}
		t.Left = true
		return setListMembership(ctx, tx, t.PersonID, t.List, false, s.now())
	})
	return t, err
}

// setListMembership puts a person on a list or takes them off it (inside tx).
func setListMembership(ctx context.Context, tx pgx.Tx, personID int64, list domain.MailList, on bool, now time.Time) error {
	if on {
		if _, err := tx.Exec(ctx, `DELETE FROM list_optouts WHERE person_id = $1 AND list_id = $2`, personID, string(list)); err != nil {
			return fmt.Errorf("join list: %w", err)
		}
	} else {
		if _, err := tx.Exec(ctx, `INSERT INTO list_optouts (person_id, list_id, created_at) VALUES ($1, $2, $3)
			ON CONFLICT DO NOTHING`, personID, string(list), now); err != nil {
			return fmt.Errorf("leave list: %w", err)
		}
		// What is still waiting in the outbox for them on this list is not sent.
		if _, err := tx.Exec(ctx, `UPDATE outbox SET status = 'discarded', last_error = 'left the list',
			text_body = '', html_body = '', ics = '' WHERE status = 'pending' AND person_id = $1 AND list_id = $2`,
			personID, string(list)); err != nil {
			return fmt.Errorf("leave list: %w", err)
		}
	}
	if list == domain.ListWeeklyDigest {
		if _, err := tx.Exec(ctx, `UPDATE people SET weekly_digest = $2 WHERE id = $1`, personID, on); err != nil {
			return fmt.Errorf("weekly digest: %w", err)
		}
	}
	return nil
}

// MailPreferences is what a person receives of the lists.
type MailPreferences struct {
	WeeklyDigest bool
	// Left are the lists the person left.
	Left []domain.MailList
}

// MailPreferences reads a person's list preferences.
func (s *Store) MailPreferences(ctx context.Context, personID int64) (MailPreferences, error) {
	var p MailPreferences
	var left []string
	err := s.pool.QueryRow(ctx, `SELECT weekly_digest,
		coalesce((SELECT array_agg(list_id ORDER BY list_id) FROM list_optouts WHERE person_id = p.id), '{}')
		FROM people p WHERE id = $1`, personID).Scan(&p.WeeklyDigest, &left)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, notFound("person")
	}
	if err != nil {
		return p, fmt.Errorf("mail preferences: %w", err)
	}
	for _, l := range left {
		p.Left = append(p.Left, domain.MailList(l))
	}
	return p, nil
}

// SetMailPreferences puts the person on the lists in join and off those in leave, in one
// transaction.
func (s *Store) SetMailPreferences(ctx context.Context, personID int64, join, leave []domain.MailList) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		for _, l := range join {
			if err := setListMembership(ctx, tx, personID, l, true, s.now()); err != nil {
				return err
			}
		}
		for _, l := range leave {
			if err := setListMembership(ctx, tx, personID, l, false, s.now()); err != nil {
				return err
			}
		}
		return nil
	})
}

// Suppression is an address no mail goes to (sign-in links apart).
type Suppression struct {
	Email     string
	Reason    string // bounce or complaint
	Detail    string
	CreatedAt time.Time
}

// Suppress records that an address bounced or complained; mail waiting for it (sign-in
// links apart) is set aside. Recording it again updates the reason.
func (s *Store) Suppress(ctx context.Context, email, reason, detail string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO mail_suppressions (email, reason, detail, created_at) VALUES (lower($1), $2, $3, $4)
			ON CONFLICT (email) DO UPDATE SET reason = EXCLUDED.reason, detail = EXCLUDED.detail`,
			strings.TrimSpace(email), reason, detail, s.now()); err != nil {
			return fmt.Errorf("suppress: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE outbox SET status = 'discarded', last_error = 'address suppressed',
			text_body = '', html_body = '', ics = ''
			WHERE status = 'pending' AND notice_kind <> '' AND lower(to_address) = lower($1)`, strings.TrimSpace(email)); err != nil {
			return fmt.Errorf("suppress: %w", err)
		}
		return nil
	})
}

// Unsuppress lets mail go to an address again; it says whether it was suppressed.
func (s *Store) Unsuppress(ctx context.Context, email string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM mail_suppressions WHERE email = lower($1)`, strings.TrimSpace(email))
	if err != nil {
		return false, fmt.Errorf("unsuppress: %w", err)
	}
	return tag.RowsAffected() > 0, nil
}

// Suppressions lists the suppressed addresses, newest first.
func (s *Store) Suppressions(ctx context.Context) ([]Suppression, error) {
	rows, err := s.pool.Query(ctx, `SELECT email, reason, detail, created_at FROM mail_suppressions ORDER BY created_at DESC, email`)
	if err != nil {
		return nil, fmt.Errorf("suppressions: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Suppression, error) {
		var x Suppression
		err := r.Scan(&x.Email, &x.Reason, &x.Detail, &x.CreatedAt)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("suppressions: %w", err)
	}
	return out, nil
}

// Enqueue writes one notice into the outbox on its own (a list notice that is not part of a
// larger change: a relayed message, a test send). It reports whether it was written: a
// list notice is not, for a person who left the list or whose address is suppressed.
func (s *Store) Enqueue(ctx context.Context, n domain.Notice) (bool, error) {
	sql, args, err := s.noticeInsert(n)
	if err != nil {
		return false, err
	}
	tag, err := s.pool.Exec(ctx, sql, args...)
	if err != nil {
		return false, fmt.Errorf("enqueue %s notice: %w", n.Kind, err)
	}
	return tag.RowsAffected() == 1, nil
}
