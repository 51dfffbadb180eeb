package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/programme"
)

// checkOwnTimesInZone refuses a change of an event's time zone that would put one of its
// upcoming talks with a time of its own (moved, extra, or a conference session) in a time
// the new zone's clocks skip or repeat: the rule the series' own schedule keeps to.
func (s *Store) checkOwnTimesInZone(ctx context.Context, tx pgx.Tx, e domain.Event) error {
	loc, err := time.LoadLocation(e.TimeZone)
	if err != nil {
		return domain.Invalid("timezone", "err.timezone.choose")
	}
	rows, err := tx.Query(ctx, `SELECT start_local FROM occurrences WHERE event_id = $1 AND ends_at >= $2
		AND status = 'scheduled' AND (origin <> 'generated' OR moved)`, e.ID, s.now())
	if err != nil {
		return fmt.Errorf("read own times: %w", err)
	}
	walls, err := pgx.CollectRows(rows, pgx.RowTo[time.Time])
	if err != nil {
		return fmt.Errorf("read own times: %w", err)
	}
	return programme.CheckOwnTimes(loc, walls)
}
