package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/puente-org/puente/domain"
)

// DirectoryEntry is a person's own directory entry (the zero entry, not listed, when they
// never saved one).
func (s *Store) DirectoryEntry(ctx context.Context, personID int64) (domain.DirectoryEntry, error) {
	d := domain.DirectoryEntry{Visible: []domain.DirectoryField{}, Topics: []string{}, LookingFor: []domain.LookingFor{}}
	var visible, looking []string
	err := s.pool.QueryRow(ctx, `SELECT listed, visible, topics, looking_for, bio, orcid, website
		FROM directory_entries WHERE person_id = $1`, personID).
		Scan(&d.Listed, &visible, &d.Topics, &looking, &d.Bio, &d.ORCID, &d.Website)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, nil
	}
	if err != nil {
		return d, fmt.Errorf("directory entry of %d: %w", personID, err)
	}
	for _, v := range visible {
		d.Visible = append(d.Visible, domain.DirectoryField(v))
	}
	for _, l := range looking {
		d.LookingFor = append(d.LookingFor, domain.LookingFor(l))
	}
	return d, nil
}

// SaveDirectoryEntry writes a person's directory entry (already normalised).
func (s *Store) SaveDirectoryEntry(ctx context.Context, personID int64, d domain.DirectoryEntry) error {
	visible := make([]string, 0, len(d.Visible))
	for _, v := range d.Visible {
		visible = append(visible, string(v))
	}
	looking := make([]string, 0, len(d.LookingFor))
	for _, l := range d.LookingFor {
		looking = append(looking, string(l))
	}
	topics := d.Topics
	if topics == nil {
		topics = []string{}
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO directory_entries
		(person_id, listed, visible, topics, looking_for, bio, orcid, website, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (person_id) DO UPDATE SET listed = $2, visible = $3, topics = $4, looking_for = $5,
			bio = $6, orcid = $7, website = $8, updated_at = $9`,
		personID, d.Listed, visible, topics, looking, d.Bio, d.ORCID, d.Website, s.now())
	if err != nil {
		return fmt.Errorf("save directory entry of %d: %w", personID, err)
	}
	return nil
}

// shownEntries are the listed entries with only the fields each person chose to show
// (the others empty), so that neither the answer nor a search or a filter can reach a
// hidden field. No address is ever selected.
const shownEntries = `SELECT p.id,
		CASE WHEN 'name' = ANY (d.visible) THEN p.name ELSE '' END AS name,
		CASE WHEN 'affiliation' = ANY (d.visible) THEN p.affiliation ELSE '' END AS affiliation,
		CASE WHEN 'country' = ANY (d.visible) THEN p.country ELSE '' END AS country,
		CASE WHEN 'career_stage' = ANY (d.visible) THEN p.career_stage ELSE '' END AS career_stage,
		CASE WHEN 'topics' = ANY (d.visible) THEN d.topics ELSE '{}' END AS topics,
		CASE WHEN 'looking_for' = ANY (d.visible) THEN d.looking_for ELSE '{}' END AS looking_for,
		CASE WHEN 'bio' = ANY (d.visible) THEN d.bio ELSE '' END AS bio,
		CASE WHEN 'links' = ANY (d.visible) THEN d.orcid ELSE '' END AS orcid,
		CASE WHEN 'links' = ANY (d.visible) THEN d.website ELSE '' END AS website,
		NOT EXISTS (SELECT 1 FROM list_optouts o WHERE o.person_id = p.id AND o.list_id = 'directory-contact') AS contactable
	FROM directory_entries d JOIN people p ON p.id = d.person_id
	WHERE d.listed`

const listingColumns = `id, name, affiliation, country, career_stage, topics, looking_for, bio, orcid, website, contactable`

func scanListing(row pgx.Row) (domain.DirectoryListing, error) {
	var l domain.DirectoryListing
	var stage string
	var looking []string
	err := row.Scan(&l.PersonID, &l.Name, &l.Affiliation, &l.Country, &stage, &l.Topics, &looking, &l.Bio, &l.ORCID, &l.Website, &l.Contactable)
	l.CareerStage = domain.CareerStage(stage)
	for _, v := range looking {
		l.LookingFor = append(l.LookingFor, domain.LookingFor(v))
	}
	return l, err
}

// Directory searches the listed entries: every word of the query in the shown name,
// affiliation, topics or bio, and each filter on the shown field, accents and case aside
// (puente_fold, as the programme's search). Named entries first, by name.
func (s *Store) Directory(ctx context.Context, f domain.DirectoryFilter) ([]domain.DirectoryListing, error) {
	rows, err := s.pool.Query(ctx, `WITH shown AS (`+shownEntries+`)
		SELECT `+listingColumns+` FROM shown
		WHERE ($1 = '' OR country = $1)
		  AND ($2 = '' OR career_stage = $2)
		  AND ($3 = '' OR EXISTS (SELECT 1 FROM unnest(topics) t WHERE puente_fold(t) = puente_fold($3)))
		  AND ($4 = '' OR $4 = ANY (looking_for))
		  AND puente_fold(name || ' ' || affiliation || ' ' || array_to_string(topics, ' ') || ' ' || bio)
		      LIKE ALL (SELECT '%' || puente_fold(w) || '%' FROM unnest($5::text[]) w)
		ORDER BY name = '', puente_fold(name), id
		LIMIT $6`,
		f.Country, string(f.CareerStage), f.Topic, string(f.LookingFor), searchWords(f.Query), f.Limit)
	if err != nil {
		return nil, fmt.Errorf("search the directory: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.DirectoryListing, error) { return scanListing(r) })
	if err != nil {
		return nil, fmt.Errorf("search the directory: %w", err)
	}
	return list, nil
}

// errNotListed: nobody listed has that id (whether the person exists is not told).
var errNotListed = domain.New(domain.CodeNotFound, "err.directory.not_listed")

// DirectoryListing is one listed entry as other members see it; a person who is not
// listed is not found.
func (s *Store) DirectoryListing(ctx context.Context, personID int64) (domain.DirectoryListing, error) {
	l, err := scanListing(s.pool.QueryRow(ctx, `WITH shown AS (`+shownEntries+`)
		SELECT `+listingColumns+` FROM shown WHERE id = $1`, personID))
	if errors.Is(err, pgx.ErrNoRows) {
		return l, errNotListed
	}
	if err != nil {
		return l, fmt.Errorf("directory entry %d: %w", personID, err)
	}
	return l, nil
}

// SendContact relays a message from one member to a listed one: it records the sending
// and writes the notice (rendered in the recipient's language at delivery, with the
// sender as Reply-To) in one transaction. The sender's row is locked while their recent
// messages are counted, so that concurrent sends cannot together pass the limits
// (domain.ContactsPerHour, domain.ContactsPerDay), which hold across restarts and servers.
func (s *Store) SendContact(ctx context.Context, senderID, recipientID int64, m domain.ContactMessage) error {
	now := s.now()
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT true FROM people WHERE id = $1 FOR NO KEY UPDATE`, senderID).Scan(&exists); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return notFound("sender")
			}
			return fmt.Errorf("lock sender: %w", err)
		}
		var listed, optedOut bool
		err := tx.QueryRow(ctx, `SELECT d.listed, EXISTS (SELECT 1 FROM list_optouts o
				WHERE o.person_id = d.person_id AND o.list_id = $2)
			FROM directory_entries d WHERE d.person_id = $1`, recipientID, string(domain.ListContact)).Scan(&listed, &optedOut)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && !listed) {
			return errNotListed
		}
		if err != nil {
			return fmt.Errorf("read recipient: %w", err)
		}
		if optedOut {
			return domain.New(domain.CodeForbidden, "err.directory.no_messages")
		}
		var lastHour, lastDay int
		err = tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE created_at > $2), count(*)
			FROM directory_contacts WHERE sender_id = $1 AND created_at > $3`,
			senderID, now.Add(-domain.ContactHour), now.Add(-domain.ContactDay)).Scan(&lastHour, &lastDay)
		if err != nil {
			return fmt.Errorf("count messages sent: %w", err)
		}
		if lastHour >= domain.ContactsPerHour {
			return domain.New(domain.CodeRateLimited, "err.directory.contact_hourly", "Max", domain.ContactsPerHour)
		}
		if lastDay >= domain.ContactsPerDay {
			return domain.New(domain.CodeRateLimited, "err.directory.contact_daily", "Max", domain.ContactsPerDay)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO directory_contacts (sender_id, recipient_id, created_at) VALUES ($1, $2, $3)`,
			senderID, recipientID, now); err != nil {
			return fmt.Errorf("record message: %w", err)
		}
		return s.enqueueNotice(ctx, tx, domain.Notice{Kind: domain.NoticeContact, PersonID: recipientID,
			List: domain.ListContact, Payload: domain.NoticePayload{Subject: m.Subject, Body: m.Body, SenderID: senderID}})
	})
}

// MemberCounts counts the members (every account) by country and by career stage ("" for
// not given). The counts are raw: a report shows them through domain.NewMemberReport.
func (s *Store) MemberCounts(ctx context.Context) (byCountry, byStage map[string]int, err error) {
	byCountry, byStage = map[string]int{}, map[string]int{}
	rows, err := s.pool.Query(ctx, `SELECT 'country', country, count(*) FROM people GROUP BY country
		UNION ALL SELECT 'stage', career_stage, count(*) FROM people GROUP BY career_stage`)
	if err != nil {
		return nil, nil, fmt.Errorf("count members: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var by, key string
		var n int
		if err := rows.Scan(&by, &key, &n); err != nil {
			return nil, nil, fmt.Errorf("count members: %w", err)
		}
		if by == "country" {
			byCountry[key] = n
		} else {
			byStage[key] = n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("count members: %w", err)
	}
	return byCountry, byStage, nil
}
