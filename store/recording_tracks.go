package store

import (
	"context"
	"fmt"
	"time"

	"github.com/puente-org/puente/domain"
)

// The per-track files of recordings (package recording/capture's Sink): one row per
// published track and segment, entered when its file is started and completed when it
// ends; and the recording's log.

// AddTrack enters a track whose file is being written (not complete yet) and returns its id.
func (s *Store) AddTrack(ctx context.Context, t domain.RecordedTrack) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO recording_tracks (recording_id, segment, person_id, participant, source,
			kind, codec, file, clock_rate, created_at)
		VALUES ($1, $2, NULLIF($3, 0), $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		t.RecordingID, max(t.Segment, 1), t.PersonID, t.Participant, string(t.Source), t.Kind, t.Codec, t.File,
		int64(t.ClockRate), s.now()).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("add recording track %s: %w", t.File, err)
	}
	return id, nil
}

// FinishTrack records how a track's file ended: its name (the partial one when it is not
// complete), size, length, alignment and problem.
func (s *Store) FinishTrack(ctx context.Context, t domain.RecordedTrack) error {
	var srRTP *int64
	if t.SRRTP != nil {
		v := int64(*t.SRRTP)
		srRTP = &v
	}
	var firstAt any
	if !t.FirstAt.IsZero() {
		firstAt = t.FirstAt
	}
	tag, err := s.pool.Exec(ctx, `UPDATE recording_tracks SET file = $2, bytes = $3, duration_ms = $4, complete = $5,
			problem = $6, first_rtp = $7, first_at = $8, sr_rtp = $9, sr_ntp = $10
		WHERE id = $1`,
		t.ID, t.File, t.Bytes, t.Duration.Milliseconds(), t.Complete, t.Problem, int64(t.FirstRTP), firstAt, srRTP, t.SRNTP)
	if err != nil {
		return fmt.Errorf("finish recording track %d: %w", t.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return notFound(fmt.Sprintf("recording track %d", t.ID))
	}
	return nil
}

// RecordingTracks lists a recording's tracks by segment and id.
func (s *Store) RecordingTracks(ctx context.Context, recordingID int64) ([]domain.RecordedTrack, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, recording_id, segment, COALESCE(person_id, 0), participant, source, kind,
			codec, file, bytes, clock_rate, first_rtp, first_at, sr_rtp, sr_ntp, duration_ms, complete, problem
		FROM recording_tracks WHERE recording_id = $1 ORDER BY segment, id`, recordingID)
	if err != nil {
		return nil, fmt.Errorf("recording tracks: %w", err)
	}
	defer rows.Close()
	var out []domain.RecordedTrack
	for rows.Next() {
		var t domain.RecordedTrack
		var source string
		var clock, firstRTP, ms int64
		var firstAt *time.Time
		var srRTP *int64
		if err := rows.Scan(&t.ID, &t.RecordingID, &t.Segment, &t.PersonID, &t.Participant, &source, &t.Kind,
			&t.Codec, &t.File, &t.Bytes, &clock, &firstRTP, &firstAt, &srRTP, &t.SRNTP, &ms, &t.Complete, &t.Problem); err != nil {
			return nil, fmt.Errorf("recording tracks: %w", err)
		}
		t.Source, t.ClockRate, t.FirstRTP = domain.TrackSource(source), uint32(clock), uint32(firstRTP)
		if firstAt != nil {
			t.FirstAt = *firstAt
		}
		if srRTP != nil {
			v := uint32(*srRTP)
			t.SRRTP = &v
		}
		t.Duration = time.Duration(ms) * time.Millisecond
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("recording tracks: %w", err)
	}
	return out, nil
}

// LogRecordingEvent appends to a recording's log (personID 0: nobody in particular).
func (s *Store) LogRecordingEvent(ctx context.Context, recordingID int64, kind, detail string, personID int64) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO recording_events (recording_id, kind, person_id, detail, at)
		VALUES ($1, $2, NULLIF($3, 0), $4, $5)`, recordingID, kind, personID, detail, s.now())
	if err != nil {
		return fmt.Errorf("log recording event %s: %w", kind, err)
	}
	return nil
}

// NextRecordingSegment is the segment a capture of the recording starts now: 1 for the
// first, and after a server restart the one after the last that has tracks.
func (s *Store) NextRecordingSegment(ctx context.Context, recordingID int64) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT COALESCE(MAX(segment), 0) + 1 FROM recording_tracks WHERE recording_id = $1`,
		recordingID).Scan(&n); err != nil {
		return 0, fmt.Errorf("next recording segment: %w", err)
	}
	return n, nil
}
