package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/puente-org/puente/domain"
)

// The recording page's reads and changes (the recordings, their log, the composition job's
// progress, the series' defaults). The capture and composition write the rest.

const recordingColumns = `r.id, r.occurrence_id, r.status, coalesce(r.started_by, 0), r.started_at, coalesce(r.stopped_by, 0),
	r.stopped_at, r.track_dir, r.composed_key, r.composed_bytes, r.duration_ms, r.access, r.failure`

func scanRecording(row pgx.Row) (domain.Recording, error) {
	var r domain.Recording
	var ms int64
	err := row.Scan(&r.ID, &r.OccurrenceID, &r.Status, &r.StartedBy, &r.StartedAt, &r.StoppedBy, &r.StoppedAt,
		&r.TrackDir, &r.ComposedKey, &r.ComposedBytes, &ms, &r.Access, &r.Failure)
	r.Duration = time.Duration(ms) * time.Millisecond
	return r, err
}

// RecordingByID reads one recording (deleted ones too: the caller decides).
func (s *Store) RecordingByID(ctx context.Context, id int64) (domain.Recording, error) {
	r, err := scanRecording(s.pool.QueryRow(ctx, `SELECT `+recordingColumns+` FROM recordings r WHERE r.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, notFound("recording")
	}
	if err != nil {
		return r, fmt.Errorf("read recording %d: %w", id, err)
	}
	return r, nil
}

// RecordingsOfOccurrence lists a session's recordings that are not deleted, newest first.
func (s *Store) RecordingsOfOccurrence(ctx context.Context, occID int64) ([]domain.Recording, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+recordingColumns+` FROM recordings r
		WHERE r.occurrence_id = $1 AND r.status <> 'deleted' ORDER BY r.started_at DESC, r.id DESC`, occID)
	if err != nil {
		return nil, fmt.Errorf("list recordings: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.Recording, error) { return scanRecording(row) })
	if err != nil {
		return nil, fmt.Errorf("list recordings: %w", err)
	}
	return out, nil
}

// RecordingProgress is the composition job's progress (0..1) for a recording, and false
// when it has no job queued or running.
func (s *Store) RecordingProgress(ctx context.Context, recID int64) (float64, bool, error) {
	var p float64
	err := s.pool.QueryRow(ctx, `SELECT progress FROM recording_jobs WHERE recording_id = $1 AND status IN ('queued', 'running')
		ORDER BY id DESC LIMIT 1`, recID).Scan(&p)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("recording progress: %w", err)
	}
	return p, true, nil
}

// RecordingChapters are the questions asked in the session's Q&A while the recording ran
// (not those dismissed), at their time from its start: the same choice and times as the
// composition writes into the file.
func (s *Store) RecordingChapters(ctx context.Context, r domain.Recording) ([]domain.RecordingChapter, error) {
	end := s.now() // a recording still running: everything so far
	if r.StoppedAt != nil {
		end = *r.StoppedAt
	}
	rows, err := s.pool.Query(ctx, `SELECT created_at, text FROM live_questions
		WHERE occurrence_id = $1 AND created_at >= $2 AND created_at <= $3 AND state <> 'dismissed'
		ORDER BY created_at, id`, r.OccurrenceID, r.StartedAt, end)
	if err != nil {
		return nil, fmt.Errorf("recording chapters: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.RecordingChapter, error) {
		var at time.Time
		var c domain.RecordingChapter
		err := row.Scan(&at, &c.Title)
		c.At = at.Sub(r.StartedAt)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("recording chapters: %w", err)
	}
	return out, nil
}

// recordingEvent logs what happened to a recording.
func (s *Store) recordingEvent(ctx context.Context, tx pgx.Tx, recID int64, kind string, by int64, detail string) error {
	var person *int64
	if by != 0 {
		person = &by
	}
	if _, err := tx.Exec(ctx, `INSERT INTO recording_events (recording_id, kind, person_id, detail, at) VALUES ($1, $2, $3, $4, $5)`,
		recID, kind, person, detail, s.now()); err != nil {
		return fmt.Errorf("log recording %d %s: %w", recID, kind, err)
	}
	return nil
}

// RecordingLogEntry is one line of a recording's log.
type RecordingLogEntry struct {
	Kind     string
	PersonID int64
	Detail   string
	At       time.Time
}

// RecordingLog reads a recording's log, oldest first.
func (s *Store) RecordingLog(ctx context.Context, recID int64) ([]RecordingLogEntry, error) {
	rows, err := s.pool.Query(ctx, `SELECT kind, coalesce(person_id, 0), detail, at FROM recording_events
		WHERE recording_id = $1 ORDER BY id`, recID)
	if err != nil {
		return nil, fmt.Errorf("recording log: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[RecordingLogEntry])
	if err != nil {
		return nil, fmt.Errorf("recording log: %w", err)
	}
	return out, nil
}

// SetRecordingAccess changes who may watch a recording, and logs it.
func (s *Store) SetRecordingAccess(ctx context.Context, recID int64, access domain.RecordingAccess, by int64) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE recordings SET access = $2, updated_at = $3 WHERE id = $1 AND status <> 'deleted'`,
			recID, string(access), s.now())
		if err != nil {
			return fmt.Errorf("set recording access: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return notFound("recording")
		}
		return s.recordingEvent(ctx, tx, recID, "access_changed", by, string(access))
	})
}

// ReplaceRecordingFile points a recording at a new composed file (already stored under
// key): the recording is ready with it. Only a ready or failed recording can be replaced
// (a composition still running would overwrite it). It returns the key it replaced, for
// the caller to remove from the storage.
func (s *Store) ReplaceRecordingFile(ctx context.Context, recID int64, key string, size int64, duration time.Duration, by int64) (string, error) {
	var old string
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var status string
		err := tx.QueryRow(ctx, `SELECT status, composed_key FROM recordings WHERE id = $1 FOR UPDATE`, recID).Scan(&status, &old)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("recording")
		}
		if err != nil {
			return fmt.Errorf("replace recording: %w", err)
		}
		switch domain.RecordingStatus(status) {
		case domain.RecordingReady, domain.RecordingFailed:
		case domain.RecordingDeleted:
			return notFound("recording")
		default:
			return domain.New(domain.CodeConflict, "err.recording.not_finished")
		}
		if _, err := tx.Exec(ctx, `UPDATE recordings SET status = 'ready', composed_key = $2, composed_bytes = $3, duration_ms = $4,
			failure = '', updated_at = $5 WHERE id = $1`, recID, key, size, duration.Milliseconds(), s.now()); err != nil {
			return fmt.Errorf("replace recording: %w", err)
		}
		return s.recordingEvent(ctx, tx, recID, "replaced", by, fmt.Sprintf("%d bytes", size))
	})
	if old == key {
		old = ""
	}
	return old, err
}

// MarkRecordingDeleted marks a recording deleted (so nothing serves it any more) and logs
// why. Its stored file stays named in composed_key until RecordingObjectRemoved: the
// caller removes it, and PendingRecordingObjects finds it again if that failed.
func (s *Store) MarkRecordingDeleted(ctx context.Context, recID int64, by int64, detail string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE recordings SET status = 'deleted', updated_at = $2 WHERE id = $1 AND status <> 'deleted'`, recID, s.now())
		if err != nil {
			return fmt.Errorf("delete recording: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return notFound("recording")
		}
		return s.recordingEvent(ctx, tx, recID, "deleted", by, detail)
	})
}

// ExpireRecordings marks deleted the recordings older than their event's retention
// period (counted from when they started), except those still being recorded or
// composed, and logs each. It returns how many.
func (s *Store) ExpireRecordings(ctx context.Context) (int, error) {
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		now := s.now()
		rows, err := tx.Query(ctx, `UPDATE recordings r SET status = 'deleted', updated_at = $1
			FROM occurrences o JOIN events e ON e.id = o.event_id
			WHERE o.id = r.occurrence_id AND e.recording_retention_days IS NOT NULL
			  AND r.status IN ('ready', 'failed')
			  AND r.started_at < $1::timestamptz - make_interval(days => e.recording_retention_days)
			RETURNING r.id, e.recording_retention_days`, now)
		if err != nil {
			return fmt.Errorf("expire recordings: %w", err)
		}
		type expired struct{ id, days int64 }
		list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (expired, error) {
			var e expired
			return e, row.Scan(&e.id, &e.days)
		})
		if err != nil {
			return fmt.Errorf("expire recordings: %w", err)
		}
		for _, e := range list {
			if err := s.recordingEvent(ctx, tx, e.id, "deleted", 0, fmt.Sprintf("retention period of %d days", e.days)); err != nil {
				return err
			}
		}
		n = len(list)
		return nil
	})
	return n, err
}

// PendingRecordingObject is a deleted recording whose stored file is still to be removed.
type PendingRecordingObject struct {
	RecordingID int64
	Key         string
}

// PendingRecordingObjects lists deleted recordings whose stored file is not yet removed.
func (s *Store) PendingRecordingObjects(ctx context.Context, limit int) ([]PendingRecordingObject, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, composed_key FROM recordings WHERE status = 'deleted' AND composed_key <> ''
		ORDER BY id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("pending recording files: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[PendingRecordingObject])
	if err != nil {
		return nil, fmt.Errorf("pending recording files: %w", err)
	}
	return out, nil
}

// RecordingObjectRemoved notes that a deleted recording's file (key) is gone from the
// storage.
func (s *Store) RecordingObjectRemoved(ctx context.Context, recID int64, key string) error {
	if _, err := s.pool.Exec(ctx, `UPDATE recordings SET composed_key = '', composed_bytes = 0, updated_at = $3
		WHERE id = $1 AND status = 'deleted' AND composed_key = $2`, recID, key, s.now()); err != nil {
		return fmt.Errorf("recording file removed: %w", err)
	}
	return nil
}

// RecordingSettings are a series' or conference's choices for its recordings.
type RecordingSettings struct {
	Access        domain.RecordingAccess // for new recordings
	RetentionDays int                    // 0: kept for ever
}

// EventRecordingSettings reads an event's recording settings.
func (s *Store) EventRecordingSettings(ctx context.Context, eventID int64) (RecordingSettings, error) {
	var rs RecordingSettings
	var days *int
	err := s.pool.QueryRow(ctx, `SELECT recording_access, recording_retention_days FROM events WHERE id = $1`, eventID).Scan(&rs.Access, &days)
	if errors.Is(err, pgx.ErrNoRows) {
		return rs, notFound("event")
	}
	if err != nil {
		return rs, fmt.Errorf("recording settings: %w", err)
	}
	if days != nil {
		rs.RetentionDays = *days
	}
	return rs, nil
}

// SetEventRecordingSettings changes them (the app checks the values).
func (s *Store) SetEventRecordingSettings(ctx context.Context, eventID int64, rs RecordingSettings) error {
	var days *int
	if rs.RetentionDays > 0 {
		days = &rs.RetentionDays
	}
	tag, err := s.pool.Exec(ctx, `UPDATE events SET recording_access = $2, recording_retention_days = $3 WHERE id = $1`,
		eventID, string(rs.Access), days)
	if err != nil {
		return fmt.Errorf("set recording settings: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("event")
	}
	return nil
}

// DeletedTrackDirs lists deleted recordings whose per-track files may still be on disk
// (their track_dir is not yet cleared), at most limit.
func (s *Store) DeletedTrackDirs(ctx context.Context, limit int) (map[int64]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, track_dir FROM recordings WHERE status = 'deleted' AND track_dir <> ''
		ORDER BY id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("deleted recordings' tracks: %w", err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var dir string
		if err := rows.Scan(&id, &dir); err != nil {
			return nil, fmt.Errorf("deleted recordings' tracks: %w", err)
		}
		out[id] = dir
	}
	return out, rows.Err()
}

// TrackDirRemoved records that a deleted recording's track files are gone.
func (s *Store) TrackDirRemoved(ctx context.Context, recID int64) error {
	if _, err := s.pool.Exec(ctx, `UPDATE recordings SET track_dir = '' WHERE id = $1 AND status = 'deleted'`, recID); err != nil {
		return fmt.Errorf("deleted recording's tracks: %w", err)
	}
	return nil
}
