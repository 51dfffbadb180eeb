package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/puente-org/puente/domain"
)

func validTrack(t domain.Track) (domain.Track, error) {
	return t.Normalize()
}

// CreateTrack adds a track (a parallel room) to a conference.
func (s *Store) CreateTrack(ctx context.Context, t domain.Track) (domain.Track, error) {
	t, err := validTrack(t)
	if err != nil {
		return t, err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		e, err := eventInTx(ctx, tx, t.EventID, true)
		if err != nil {
			return err
		}
		if e.Kind != domain.KindConference {
			return domain.Invalid("event_id", "err.track.not_conference")
		}
		return tx.QueryRow(ctx, `INSERT INTO tracks (event_id, name, room, position)
			VALUES ($1, $2, $3, (SELECT coalesce(max(position), 0) + 1 FROM tracks WHERE event_id = $1)) RETURNING id, position`,
			t.EventID, t.Name, t.Room).Scan(&t.ID, &t.Position)
	})
	return t, err
}

// Tracks lists a conference's tracks in order.
func (s *Store) Tracks(ctx context.Context, eventID int64) ([]domain.Track, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, event_id, name, room, position FROM tracks WHERE event_id = $1 ORDER BY position, id`, eventID)
	if err != nil {
		return nil, fmt.Errorf("list tracks: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.Track, error) {
		var t domain.Track
		err := r.Scan(&t.ID, &t.EventID, &t.Name, &t.Room, &t.Position)
		return t, err
	})
}

// TrackByID returns one track.
func (s *Store) TrackByID(ctx context.Context, id int64) (domain.Track, error) {
	var t domain.Track
	err := s.pool.QueryRow(ctx, `SELECT id, event_id, name, room, position FROM tracks WHERE id = $1`, id).
		Scan(&t.ID, &t.EventID, &t.Name, &t.Room, &t.Position)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, notFound("track")
	}
	if err != nil {
		return t, fmt.Errorf("read track: %w", err)
	}
	return t, nil
}

// UpdateTrack renames a track or changes its room.
func (s *Store) UpdateTrack(ctx context.Context, t domain.Track) (domain.Track, error) {
	t, err := validTrack(t)
	if err != nil {
		return t, err
	}
	tag, err := s.pool.Exec(ctx, `UPDATE tracks SET name = $2, room = $3 WHERE id = $1`, t.ID, t.Name, t.Room)
	if err != nil {
		return t, fmt.Errorf("update track: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return t, notFound("track")
	}
	return s.TrackByID(ctx, t.ID)
}

// DeleteTrack removes a track; its sessions stay, without a track.
func (s *Store) DeleteTrack(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM tracks WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete track: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("track")
	}
	return nil
}
