package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/puente-org/puente/domain"
)

// Recording in the live room: starting and stopping, the consent log (who started and
// who stopped, each speaker's decline and consent), and segments after a restart. Every
// change is one transaction with its log entry; stopping also queues the composition job.

// The kinds of recording_events this file writes.
const (
	RecordingEventStarted   = "started"
	RecordingEventStopped   = "stopped"
	RecordingEventDeclined  = "declined"
	RecordingEventConsented = "consented"
	RecordingEventSegment   = "segment"
)

// ErrAlreadyRecording refuses a second recording of a session while one runs.
func ErrAlreadyRecording() *domain.Error {
	return domain.New(domain.CodeConflict, "err.recording.room.already_recording")
}

// ErrNotRecording refuses to stop (or resume) a recording that is not running.
func ErrNotRecording() *domain.Error {
	return domain.New(domain.CodeConflict, "err.recording.room.not_recording")
}

// RecordingEvent is one entry of a recording's log.
type RecordingEvent struct {
	ID       int64
	Kind     string
	PersonID int64 // 0: nobody (the server) or an account since deleted
	Detail   string
	At       time.Time
}

const liveRecordingColumns = `id, occurrence_id, status, COALESCE(started_by, 0), started_at, COALESCE(stopped_by, 0), stopped_at,
	track_dir, composed_key, composed_bytes, duration_ms, access, failure`

func scanLiveRecording(row pgx.Row) (domain.Recording, error) {
	var r domain.Recording
	var status, access string
	var ms int64
	err := row.Scan(&r.ID, &r.OccurrenceID, &status, &r.StartedBy, &r.StartedAt, &r.StoppedBy, &r.StoppedAt,
		&r.TrackDir, &r.ComposedKey, &r.ComposedBytes, &ms, &access, &r.Failure)
	r.Status, r.Access, r.Duration = domain.RecordingStatus(status), domain.RecordingAccess(access), time.Duration(ms)*time.Millisecond
	return r, err
}

func nullPerson(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

func logRecordingEvent(ctx context.Context, tx pgx.Tx, recID int64, kind string, personID int64, detail string, at time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO recording_events (recording_id, kind, person_id, detail, at) VALUES ($1, $2, $3, $4, $5)`,
		recID, kind, nullPerson(personID), detail, at)
	if err != nil {
		return fmt.Errorf("log recording %d %s: %w", recID, kind, err)
	}
	return nil
}

// StartRecording starts recording an occurrence's session for personID (a host) and logs
// who started it. A session has at most one running recording (the index
// recordings_running): a second start gets ErrAlreadyRecording, also when two hosts start
// at once. The recording's access is its event's default; its track directory is its id
// (relative to the recordings directory).
func (s *Store) StartRecording(ctx context.Context, occID, personID int64) (domain.Recording, error) {
	now := s.now()
	var rec domain.Recording
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		rec, err = scanLiveRecording(tx.QueryRow(ctx, `INSERT INTO recordings (occurrence_id, status, started_by, started_at, access, created_at, updated_at)
			SELECT o.id, 'recording', $2, $3, e.recording_access, $3, $3 FROM occurrences o JOIN events e ON e.id = o.event_id WHERE o.id = $1
			RETURNING `+liveRecordingColumns, occID, nullPerson(personID), now))
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("start recording of occurrence %d: %w", occID, domain.ErrNotFound)
		case isUniqueViolation(err):
			return ErrAlreadyRecording()
		case err != nil:
			return fmt.Errorf("start recording of occurrence %d: %w", occID, err)
		}
		rec.TrackDir = strconv.FormatInt(rec.ID, 10)
		if _, err := tx.Exec(ctx, `UPDATE recordings SET track_dir = $2 WHERE id = $1`, rec.ID, rec.TrackDir); err != nil {
			return fmt.Errorf("name recording %d's directory: %w", rec.ID, err)
		}
		return logRecordingEvent(ctx, tx, rec.ID, RecordingEventStarted, personID, "", now)
	})
	if err != nil {
		return domain.Recording{}, err
	}
	return rec, nil
}

// StopRecording stops the occurrence's running recording, logs who stopped it (personID
// 0: nobody, the server, with the reason in detail) and queues its composition, all in one
// transaction. With no recording running it returns ErrNotRecording.
func (s *Store) StopRecording(ctx context.Context, occID, personID int64, detail string) (domain.Recording, error) {
	now := s.now()
	var rec domain.Recording
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		rec, err = scanLiveRecording(tx.QueryRow(ctx, `UPDATE recordings SET status = 'stopped', stopped_by = $2, stopped_at = $3, updated_at = $3
			WHERE occurrence_id = $1 AND status = 'recording' RETURNING `+liveRecordingColumns, occID, nullPerson(personID), now))
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return ErrNotRecording()
		case err != nil:
			return fmt.Errorf("stop recording of occurrence %d: %w", occID, err)
		}
		if err := logRecordingEvent(ctx, tx, rec.ID, RecordingEventStopped, personID, detail, now); err != nil {
			return err
		}
		// The composition job, in the same transaction as the stop (once: enqueueCompose
		// finds a job already queued).
		_, err = s.enqueueCompose(ctx, tx, rec.ID)
		return err
	})
	if err != nil {
		return domain.Recording{}, err
	}
	return rec, nil
}

// ResumeSegment continues a running recording as a new segment (after a server restart:
// the files of the previous segment end where the previous process stopped) and returns
// the segment's number, from 2. A recording that is not running gets ErrNotRecording.
func (s *Store) ResumeSegment(ctx context.Context, recID int64) (int, error) {
	now := s.now()
	var segment int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var status string
		err := tx.QueryRow(ctx, `SELECT status FROM recordings WHERE id = $1 FOR UPDATE`, recID).Scan(&status)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("recording %d: %w", recID, domain.ErrNotFound)
		case err != nil:
			return fmt.Errorf("recording %d: %w", recID, err)
		case status != string(domain.RecordingRunning):
			return ErrNotRecording()
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM recording_events WHERE recording_id = $1 AND kind = 'segment'`, recID).Scan(&n); err != nil {
			return fmt.Errorf("segments of recording %d: %w", recID, err)
		}
		segment = n + 2
		if _, err := tx.Exec(ctx, `UPDATE recordings SET updated_at = $2 WHERE id = $1`, recID, now); err != nil {
			return fmt.Errorf("resume recording %d: %w", recID, err)
		}
		return logRecordingEvent(ctx, tx, recID, RecordingEventSegment, 0, "segment "+strconv.Itoa(segment)+": resumed after a server restart", now)
	})
	return segment, err
}

// AddRecordingEvent adds one entry to a recording's log (kind one of recording_events'
// kinds; personID 0: nobody). It does what the capture's LogRecordingEvent does; the two
// may become one.
func (s *Store) AddRecordingEvent(ctx context.Context, recID int64, kind, detail string, personID int64) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		return logRecordingEvent(ctx, tx, recID, kind, personID, detail, s.now())
	})
}

// RunningRecording is the occurrence's running recording, if one runs.
func (s *Store) RunningRecording(ctx context.Context, occID int64) (domain.Recording, bool, error) {
	rec, err := scanLiveRecording(s.pool.QueryRow(ctx, `SELECT `+liveRecordingColumns+` FROM recordings WHERE occurrence_id = $1 AND status = 'recording'`, occID))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return domain.Recording{}, false, nil
	case err != nil:
		return domain.Recording{}, false, fmt.Errorf("running recording of occurrence %d: %w", occID, err)
	}
	return rec, true, nil
}

// RunningRecordings lists every recording still running (after a crash: to resume or stop).
func (s *Store) RunningRecordings(ctx context.Context) ([]domain.Recording, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+liveRecordingColumns+` FROM recordings WHERE status = 'recording' ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("running recordings: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.Recording, error) { return scanLiveRecording(row) })
	if err != nil {
		return nil, fmt.Errorf("running recordings: %w", err)
	}
	return out, nil
}

// RecordingDeclines is, for each person who declined or consented during a recording,
// whether their last word was a decline (to restore the room's memory after a restart).
func (s *Store) RecordingDeclines(ctx context.Context, recID int64) (map[int64]bool, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT ON (person_id) person_id, kind = 'declined' FROM recording_events
		WHERE recording_id = $1 AND kind IN ('declined', 'consented') AND person_id IS NOT NULL ORDER BY person_id, id DESC`, recID)
	if err != nil {
		return nil, fmt.Errorf("declines of recording %d: %w", recID, err)
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var person int64
		var declined bool
		if err := rows.Scan(&person, &declined); err != nil {
			return nil, fmt.Errorf("declines of recording %d: %w", recID, err)
		}
		out[person] = declined
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("declines of recording %d: %w", recID, err)
	}
	return out, nil
}

// RecordingEvents is a recording's log, oldest first: the consent record.
func (s *Store) RecordingEvents(ctx context.Context, recID int64) ([]RecordingEvent, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, kind, COALESCE(person_id, 0), detail, at FROM recording_events WHERE recording_id = $1 ORDER BY id`, recID)
	if err != nil {
		return nil, fmt.Errorf("log of recording %d: %w", recID, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (RecordingEvent, error) {
		var e RecordingEvent
		err := row.Scan(&e.ID, &e.Kind, &e.PersonID, &e.Detail, &e.At)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("log of recording %d: %w", recID, err)
	}
	return out, nil
}

// RecordingMetadata is what a recording's files say about it (the composed MP4's tags):
// the session, its series or conference, when, who spoke, who started and stopped the
// recording and who declined to be recorded.
type RecordingMetadata struct {
	Title     string    // the occurrence's title, else its event's
	Event     string    // the series' or conference's title
	Date      time.Time // the session's start
	Speakers  []string  // the programme's speakers, by name
	StartedBy string    // names ("" when the account is gone or nobody)
	StoppedBy string
	Declined  int // how many people were left out at their request (their last word)
}

// Tags are the metadata as MP4 tags (ffmpeg's -metadata key=value): title, album (the
// series), artist (the speakers), date, comment (the consent record).
func (m RecordingMetadata) Tags() map[string]string {
	comment := "Recorded in Puente"
	if m.StartedBy != "" {
		comment += "; started by " + m.StartedBy
	}
	if m.StoppedBy != "" {
		comment += "; stopped by " + m.StoppedBy
	}
	if m.Declined > 0 {
		comment += "; " + strconv.Itoa(m.Declined) + " participant(s) declined to be recorded and were left out"
	}
	artist := ""
	for i, s := range m.Speakers {
		if i > 0 {
			artist += ", "
		}
		artist += s
	}
	tags := map[string]string{"title": m.Title, "album": m.Event, "comment": comment}
	if artist != "" {
		tags["artist"] = artist
	}
	if !m.Date.IsZero() {
		tags["date"] = m.Date.UTC().Format("2006-01-02")
	}
	return tags
}

// RecordingMetadata reads what a recording's files should say about it.
func (s *Store) RecordingMetadata(ctx context.Context, recID int64) (RecordingMetadata, error) {
	var occID, startedBy, stoppedBy int64
	if err := s.pool.QueryRow(ctx, `SELECT occurrence_id, COALESCE(started_by, 0), COALESCE(stopped_by, 0) FROM recordings WHERE id = $1`, recID).
		Scan(&occID, &startedBy, &stoppedBy); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return RecordingMetadata{}, notFound(fmt.Sprintf("recording %d", recID))
		}
		return RecordingMetadata{}, fmt.Errorf("recording %d: %w", recID, err)
	}
	l, err := s.OccurrenceByID(ctx, occID)
	if err != nil {
		return RecordingMetadata{}, err
	}
	m := RecordingMetadata{Title: l.Occurrence.Title, Event: l.Event.Title, Date: l.Occurrence.Start}
	if m.Title == "" {
		m.Title = l.Event.Title
	}
	for _, sp := range l.Occurrence.Speakers {
		if sp.Name != "" {
			m.Speakers = append(m.Speakers, sp.Name)
		}
	}
	for _, who := range []struct {
		id  int64
		out *string
	}{{startedBy, &m.StartedBy}, {stoppedBy, &m.StoppedBy}} {
		if who.id == 0 {
			continue
		}
		if *who.out, err = s.RoomName(ctx, occID, who.id); err != nil {
			return RecordingMetadata{}, err
		}
	}
	declines, err := s.RecordingDeclines(ctx, recID)
	if err != nil {
		return RecordingMetadata{}, err
	}
	for _, d := range declines {
		if d {
			m.Declined++
		}
	}
	return m, nil
}
