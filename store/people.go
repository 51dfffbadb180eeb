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

const personColumns = `id, email, name, affiliation, country, career_stage, language, time_zone,
	is_admin, is_organiser, created_at, ` + weeklyDigestColumn

// weeklyDigestColumn: whether the person receives the weekly digest: they asked for it and
// have not left its list since (a one-click unsubscribe records only the opt-out).
const weeklyDigestColumn = `(people.weekly_digest AND NOT EXISTS (SELECT 1 FROM list_optouts lo
	WHERE lo.person_id = people.id AND lo.list_id = 'weekly-digest'))`

// scanPerson scans personColumns, then any extra columns of the row into extra.
func scanPerson(row pgx.Row, extra ...any) (domain.Person, error) {
	var p domain.Person
	var stage string
	dest := []any{&p.ID, &p.Email, &p.Profile.Name, &p.Profile.Affiliation, &p.Profile.Country,
		&stage, &p.Profile.Language, &p.Profile.TimeZone, &p.IsAdmin, &p.IsOrganiser, &p.CreatedAt,
		&p.Profile.WeeklyDigest}
	err := row.Scan(append(dest, extra...)...)
	p.Profile.CareerStage = domain.CareerStage(stage)
	return p, err
}

// NewPerson is what creating an account needs.
type NewPerson struct {
	Email       string
	Name        string
	IsAdmin     bool
	IsOrganiser bool
}

// CreatePerson creates an account. An existing address is a conflict.
func (s *Store) CreatePerson(ctx context.Context, np NewPerson) (domain.Person, error) {
	email, err := domain.NormalizeEmail(np.Email)
	if err != nil {
		return domain.Person{}, err
	}
	prof, err := domain.Profile{Name: np.Name}.Normalize()
	if err != nil {
		return domain.Person{}, err
	}
	p, err := scanPerson(s.pool.QueryRow(ctx, `
		INSERT INTO people (email, name, is_admin, is_organiser, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)
		RETURNING `+personColumns, email, prof.Name, np.IsAdmin, np.IsOrganiser, s.now()))
	if isUniqueViolation(err) {
		return domain.Person{}, &domain.Error{Code: domain.CodeConflict, Field: "email",
			ID: "err.account.exists", Args: []any{"Email", domain.Clip(email)}}
	}
	if err != nil {
		return domain.Person{}, fmt.Errorf("create person: %w", err)
	}
	return p, nil
}

// ensurePerson returns the account for email, creating it if missing. The very first
// account of an installation becomes site admin, so a fresh install can be administered
// without the command line (as in most self-hosted software; documented in operations).
func ensurePerson(ctx context.Context, tx pgx.Tx, email string, now time.Time) (p domain.Person, created bool, err error) {
	p, err = scanPerson(tx.QueryRow(ctx, `SELECT `+personColumns+` FROM people WHERE lower(email) = lower($1)`, email))
	if err == nil {
		return p, false, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return p, false, fmt.Errorf("find person: %w", err)
	}
	// Serialise first-account creation so two concurrent first sign-ins cannot both
	// become admin, and concurrent sign-ins of one address cannot both insert.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('puente.people'))`); err != nil {
		return p, false, fmt.Errorf("lock people: %w", err)
	}
	p, err = scanPerson(tx.QueryRow(ctx, `
		INSERT INTO people (email, is_admin, created_at, updated_at)
		VALUES ($1, NOT EXISTS (SELECT 1 FROM people), $2, $2)
		ON CONFLICT ((lower(email))) DO NOTHING
		RETURNING `+personColumns, email, now))
	if errors.Is(err, pgx.ErrNoRows) { // created meanwhile by another sign-in
		p, err = scanPerson(tx.QueryRow(ctx, `SELECT `+personColumns+` FROM people WHERE lower(email) = lower($1)`, email))
		return p, false, err
	}
	if err != nil {
		return p, false, fmt.Errorf("create person: %w", err)
	}
	return p, true, nil
}

// EnsurePerson returns the account for email, creating it if missing.
func (s *Store) EnsurePerson(ctx context.Context, email string) (p domain.Person, created bool, err error) {
	email, err = domain.NormalizeEmail(email)
	if err != nil {
		return p, false, err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		p, created, err = ensurePerson(ctx, tx, email, s.now())
		return err
	})
	return p, created, err
}

// PersonByID returns one person.
func (s *Store) PersonByID(ctx context.Context, id int64) (domain.Person, error) {
	p, err := scanPerson(s.pool.QueryRow(ctx, `SELECT `+personColumns+` FROM people WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return p, notFound("person")
	}
	if err != nil {
		return p, fmt.Errorf("person %d: %w", id, err)
	}
	return p, nil
}

// PersonByEmail returns the account with that address (compared case-insensitively).
func (s *Store) PersonByEmail(ctx context.Context, email string) (domain.Person, error) {
	p, err := scanPerson(s.pool.QueryRow(ctx, `SELECT `+personColumns+` FROM people WHERE lower(email) = lower($1)`,
		strings.TrimSpace(email)))
	if errors.Is(err, pgx.ErrNoRows) {
		return p, notFound("person with that email address")
	}
	if err != nil {
		return p, fmt.Errorf("person by email: %w", err)
	}
	return p, nil
}

// UpdateProfile validates and saves a person's profile.
func (s *Store) UpdateProfile(ctx context.Context, id int64, prof domain.Profile) (domain.Person, error) {
	prof, err := prof.Normalize()
	if err != nil {
		return domain.Person{}, err
	}
	var p domain.Person
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		// Ticking or unticking the digest is joining or leaving its list, as on the
		// preferences page: leaving sets aside a digest still waiting in the outbox, joining
		// undoes an earlier one-click unsubscribe.
		var receives bool
		err := tx.QueryRow(ctx, `SELECT `+weeklyDigestColumn+` FROM people WHERE id = $1 FOR UPDATE`, id).Scan(&receives)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("person")
		}
		if err != nil {
			return fmt.Errorf("update profile: %w", err)
		}
		if receives != prof.WeeklyDigest {
			if err := setListMembership(ctx, tx, id, domain.ListWeeklyDigest, prof.WeeklyDigest, s.now()); err != nil {
				return err
			}
		}
		p, err = scanPerson(tx.QueryRow(ctx, `
			UPDATE people SET name = $2, affiliation = $3, country = $4, career_stage = $5,
			       language = $6, time_zone = $7, weekly_digest = $9, updated_at = $8
			WHERE id = $1 RETURNING `+personColumns,
			id, prof.Name, prof.Affiliation, prof.Country, string(prof.CareerStage), prof.Language, prof.TimeZone, s.now(),
			prof.WeeklyDigest))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("person")
		}
		if err != nil {
			return fmt.Errorf("update profile: %w", err)
		}
		return nil
	})
	return p, err
}

// Learned is what Puente learns about a person without asking: the time zone their
// browser reports, the language of the pages they use, the name they typed in a
// registration form.
type Learned struct {
	Name, Language, TimeZone string
}

// usable keeps only the values that are valid; the others are dropped, not refused: the
// person did not type them where an error could be shown.
func (l Learned) usable() Learned {
	var out Learned
	if p, err := (domain.Profile{Name: l.Name}).Normalize(); err == nil {
		out.Name = p.Name
	}
	if p, err := (domain.Profile{Language: l.Language}).Normalize(); err == nil {
		out.Language = p.Language
	}
	if p, err := (domain.Profile{TimeZone: l.TimeZone}).Normalize(); err == nil {
		out.TimeZone = p.TimeZone
	}
	return out
}

// LearnProfile saves what was learned about a person where their profile has nothing
// yet: a value they chose is never overwritten, and an invalid one is ignored.
func (s *Store) LearnProfile(ctx context.Context, id int64, l Learned) (domain.Person, error) {
	l = l.usable()
	p, err := scanPerson(s.pool.QueryRow(ctx, `
		UPDATE people SET
		       name = CASE WHEN name = '' THEN $2 ELSE name END,
		       language = CASE WHEN language = '' THEN $3 ELSE language END,
		       time_zone = CASE WHEN time_zone = '' THEN $4 ELSE time_zone END,
		       updated_at = CASE WHEN (name = '' AND $2 <> '') OR (language = '' AND $3 <> '')
		                          OR (time_zone = '' AND $4 <> '') THEN $5 ELSE updated_at END
		WHERE id = $1 RETURNING `+personColumns, id, l.Name, l.Language, l.TimeZone, s.now()))
	if errors.Is(err, pgx.ErrNoRows) {
		return p, notFound("person")
	}
	if err != nil {
		return p, fmt.Errorf("learn profile: %w", err)
	}
	return p, nil
}

// SetLanguage saves the language a person chose (with the language switch).
func (s *Store) SetLanguage(ctx context.Context, id int64, lang string) error {
	prof, err := domain.Profile{Language: lang}.Normalize()
	if err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `UPDATE people SET language = $2, updated_at = $3 WHERE id = $1 AND language <> $2`,
		id, prof.Language, s.now())
	if err != nil {
		return fmt.Errorf("set language: %w", err)
	}
	if tag.RowsAffected() == 0 {
		if _, err := s.PersonByID(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// SetRoles grants or withdraws the site-wide roles. The last site admin cannot withdraw
// their own admin role: someone must remain able to manage people.
func (s *Store) SetRoles(ctx context.Context, id int64, admin, organiser bool) (domain.Person, error) {
	var p domain.Person
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('puente.people'))`); err != nil {
			return fmt.Errorf("lock people: %w", err)
		}
		if !admin {
			var others int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM people WHERE is_admin AND id <> $1`, id).Scan(&others); err != nil {
				return fmt.Errorf("count admins: %w", err)
			}
			var wasAdmin bool
			err := tx.QueryRow(ctx, `SELECT is_admin FROM people WHERE id = $1`, id).Scan(&wasAdmin)
			if errors.Is(err, pgx.ErrNoRows) {
				return notFound("person")
			}
			if err != nil {
				return fmt.Errorf("read roles: %w", err)
			}
			if wasAdmin && others == 0 {
				return &domain.Error{Code: domain.CodeConflict, Field: "is_admin", ID: "err.admin.last"}
			}
		}
		var err error
		p, err = scanPerson(tx.QueryRow(ctx, `
			UPDATE people SET is_admin = $2, is_organiser = $3, updated_at = $4
			WHERE id = $1 RETURNING `+personColumns, id, admin, organiser, s.now()))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("person")
		}
		if err != nil {
			return fmt.Errorf("set roles: %w", err)
		}
		return nil
	})
	return p, err
}

// PeoplePage is one page of a people listing.
type PeoplePage struct {
	People []domain.Person
	Total  int
}

// ListPeople lists people whose name or email contains query, newest first.
func (s *Store) ListPeople(ctx context.Context, query string, limit, offset int) (PeoplePage, error) {
	var page PeoplePage
	pattern := "%" + escapeLike(strings.TrimSpace(query)) + "%"
	rows, err := s.pool.Query(ctx, `
		SELECT `+personColumns+`, count(*) OVER ()
		FROM people WHERE email ILIKE $1 OR name ILIKE $1
		ORDER BY id DESC LIMIT $2 OFFSET $3`, pattern, limit, offset)
	if err != nil {
		return page, fmt.Errorf("list people: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		p, err := scanPerson(rows, &page.Total)
		if err != nil {
			return page, fmt.Errorf("list people: %w", err)
		}
		page.People = append(page.People, p)
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("list people: %w", err)
	}
	return page, nil
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
