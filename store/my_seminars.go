package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/puente-org/puente/domain"
)

// EventsByIDs reads the events with these ids, by title; ids that name no event are left
// out.
func (s *Store) EventsByIDs(ctx context.Context, ids []int64) ([]domain.Event, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+eventColumns+` FROM events e WHERE e.id = ANY($1) ORDER BY e.title, e.id`, ids)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.Event, error) { return scanEvent(r) })
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return out, nil
}

// EventRegistrationsOf lists the events a person holds an active whole-series or
// conference registration for.
func (s *Store) EventRegistrationsOf(ctx context.Context, personID int64) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT event_id FROM event_registrations WHERE person_id = $1 AND status = 'active'
		ORDER BY created_at, id`, personID)
	if err != nil {
		return nil, fmt.Errorf("whole-event registrations: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("whole-event registrations: %w", err)
	}
	return ids, nil
}

// EventCounts are the figures of a series or conference on its organisers' dashboard,
// added over its sessions.
type EventCounts struct {
	Upcoming   int // sessions still to come, not cancelled
	Registered int // places taken (confirmed, or held for a confirmation)
	Waitlisted int
	Pending    int // awaiting the organisers' approval
	// Attended: registrations whose person entered the session's live room (the live rooms
	// record each join in attendance); hosts and speakers without a registration are not
	// counted.
	Attended int
	Whole    int // active whole-series or conference registrations
}

// CountsOfEvents reads the dashboard figures of these events (the store's clock decides
// what is upcoming), in one query.
func (s *Store) CountsOfEvents(ctx context.Context, ids []int64) (map[int64]EventCounts, error) {
	out := make(map[int64]EventCounts, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT e.id,
		(SELECT count(*) FROM occurrences o WHERE o.event_id = e.id AND o.status = 'scheduled' AND o.ends_at > $2),
		count(r.id) FILTER (WHERE r.status IN ('confirmed', 'held')),
		count(r.id) FILTER (WHERE r.status = 'waitlisted'),
		count(r.id) FILTER (WHERE r.status = 'pending'),
		count(r.id) FILTER (WHERE EXISTS (SELECT 1 FROM attendance a WHERE a.occurrence_id = r.occurrence_id AND a.person_id = r.person_id)),
		(SELECT count(*) FROM event_registrations er WHERE er.event_id = e.id AND er.status = 'active')
		FROM events e
		LEFT JOIN occurrences o ON o.event_id = e.id
		LEFT JOIN registrations r ON r.occurrence_id = o.id
		WHERE e.id = ANY($1) GROUP BY e.id`, ids, s.now())
	if err != nil {
		return nil, fmt.Errorf("event counts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var c EventCounts
		if err := rows.Scan(&id, &c.Upcoming, &c.Registered, &c.Waitlisted, &c.Pending, &c.Attended, &c.Whole); err != nil {
			return nil, fmt.Errorf("event counts: %w", err)
		}
		out[id] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("event counts: %w", err)
	}
	return out, nil
}
