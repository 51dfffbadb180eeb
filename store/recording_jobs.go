package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/puente-org/puente/domain"
)

// Composition jobs: a stopped recording gets one job; a runner claims it with a lease (so a
// crashed runner's job is taken again when the lease runs out), reports progress (which
// renews the lease and tells it whether to stop), and finishes it as done or failed. A
// failure is retried with a growing delay, a few times, then the recording is failed with
// the reason. Claims are serialised by an advisory lock so that, across all processes,
// no more jobs run at once than the runners allow.

// ComposeAttempts is how many times a composition is tried before the recording fails.
const ComposeAttempts = 3

// composeBackoff is the wait before attempt n+1 after n failed.
func composeBackoff(n int) time.Duration {
	switch n {
	case 1:
		return 30 * time.Second
	case 2:
		return 2 * time.Minute
	}
	return 10 * time.Minute
}

// ErrComposeCancelled means the job is no longer the runner's to finish: the recording was
// deleted (or otherwise left the composing state), or the job was cancelled or its lease
// taken over by another runner.
var ErrComposeCancelled = errors.New("composition cancelled: the recording or the job changed")

// ComposeJob is a claimed composition job.
type ComposeJob struct {
	ID           int64
	RecordingID  int64
	Attempt      int // 1 for the first try
	OccurrenceID int64
	TrackDir     string
	StartedAt    time.Time
	StoppedAt    *time.Time
}

// ComposeSource is what a composition reads from the database: the track files, the Q&A's
// questions as chapters, and the session's description.
type ComposeSource struct {
	Tracks   []domain.RecordedTrack
	Chapters []domain.RecordingChapter
	Title    string // the session's (or its series') title
	Series   string // the series or conference
	Speakers string // names, comma separated, in order
	Date     string // the session's day in its zone, 2006-01-02
	Language string
	Slug     string // the series' slug and the day: a file name
}

// ComposeJobStatus is a job as the recording page shows it.
type ComposeJobStatus struct {
	ID        int64
	Status    string // queued, running, done, failed, cancelled
	Attempts  int
	Progress  float64
	LastError string
}

// EnqueueCompose queues the composition of a stopped recording (once: a queued or running
// job is returned as is). The claim also queues any stopped recording that has no job, so
// a stop that did not call this is composed all the same.
func (s *Store) EnqueueCompose(ctx context.Context, recordingID int64) (int64, error) {
	var id int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		id, err = s.enqueueCompose(ctx, tx, recordingID)
		return err
	})
	return id, err
}

// enqueueCompose is EnqueueCompose inside the caller's transaction (for the stop of a
// recording).
func (s *Store) enqueueCompose(ctx context.Context, tx pgx.Tx, recordingID int64) (int64, error) {
	var status string
	if err := tx.QueryRow(ctx, `SELECT status FROM recordings WHERE id = $1 FOR UPDATE`, recordingID).Scan(&status); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, notFound("recording")
		}
		return 0, fmt.Errorf("enqueue composition: %w", err)
	}
	var id int64
	err := tx.QueryRow(ctx, `SELECT id FROM recording_jobs WHERE recording_id = $1 AND status IN ('queued', 'running')`,
		recordingID).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("enqueue composition: %w", err)
	}
	if status != string(domain.RecordingStopped) && status != string(domain.RecordingFailed) {
		return 0, &domain.Error{Code: domain.CodeConflict, ID: "recording.compose.not_stopped",
			Err: fmt.Errorf("enqueue composition: recording %d is %s", recordingID, status)}
	}
	now := s.now()
	if err := tx.QueryRow(ctx, `INSERT INTO recording_jobs (recording_id, next_attempt_at, created_at, updated_at)
		VALUES ($1, $2, $2, $2) RETURNING id`, recordingID, now).Scan(&id); err != nil {
		return 0, fmt.Errorf("enqueue composition: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE recordings SET status = 'stopped', failure = '', updated_at = $2 WHERE id = $1`,
		recordingID, now); err != nil {
		return 0, fmt.Errorf("enqueue composition: %w", err)
	}
	return id, nil
}

// ClaimComposeJob takes the next due job, unless workers jobs already run (in any process);
// ok is false when there is nothing to do. The job is the caller's for lease, renewed by
// ComposeProgress.
func (s *Store) ClaimComposeJob(ctx context.Context, workers int, lease time.Duration) (job ComposeJob, ok bool, err error) {
	if workers < 1 {
		workers = 1
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('puente.recording_jobs'))`); err != nil {
			return err
		}
		now := s.now()
		// Stopped recordings without a job get one; jobs of deleted recordings end.
		if _, err := tx.Exec(ctx, `INSERT INTO recording_jobs (recording_id, next_attempt_at, created_at, updated_at)
			SELECT r.id, $1, $1, $1 FROM recordings r
			WHERE r.status = 'stopped'
			  AND NOT EXISTS (SELECT 1 FROM recording_jobs j WHERE j.recording_id = r.id AND j.status IN ('queued', 'running'))`,
			now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE recording_jobs j SET status = 'cancelled', leased_until = NULL, updated_at = $1
			FROM recordings r WHERE r.id = j.recording_id AND r.status NOT IN ('stopped', 'composing')
			  AND (j.status = 'queued' OR (j.status = 'running' AND j.leased_until <= $1))`, now); err != nil {
			return err
		}
		var running int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM recording_jobs WHERE status = 'running' AND leased_until > $1`,
			now).Scan(&running); err != nil {
			return err
		}
		if running >= workers {
			return nil
		}
		for {
			var attempts int
			err := tx.QueryRow(ctx, `SELECT j.id, j.recording_id, j.attempts, r.occurrence_id, r.track_dir, r.started_at, r.stopped_at
				FROM recording_jobs j JOIN recordings r ON r.id = j.recording_id
				WHERE (j.status = 'queued' AND j.next_attempt_at <= $1) OR (j.status = 'running' AND j.leased_until <= $1)
				ORDER BY j.next_attempt_at, j.id LIMIT 1 FOR UPDATE OF j SKIP LOCKED`, now).
				Scan(&job.ID, &job.RecordingID, &attempts, &job.OccurrenceID, &job.TrackDir, &job.StartedAt, &job.StoppedAt)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			if err != nil {
				return err
			}
			if attempts >= ComposeAttempts {
				// Its runner died on the last attempt (the process was killed or crashed).
				if err := s.failCompose(ctx, tx, job.ID, job.RecordingID, attempts,
					"interrupted: the composing process stopped (restarted or killed) during every attempt", now); err != nil {
					return err
				}
				continue
			}
			job.Attempt = attempts + 1
			if _, err := tx.Exec(ctx, `UPDATE recording_jobs SET status = 'running', attempts = $2, progress = 0,
				leased_until = $3, updated_at = $4 WHERE id = $1`, job.ID, job.Attempt, now.Add(lease), now); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE recordings SET status = 'composing', updated_at = $2 WHERE id = $1`,
				job.RecordingID, now); err != nil {
				return err
			}
			ok = true
			return nil
		}
	})
	if err != nil {
		return ComposeJob{}, false, fmt.Errorf("claim composition job: %w", err)
	}
	return job, ok, nil
}

// ComposeSource reads what the composition of a recording needs.
func (s *Store) ComposeSource(ctx context.Context, recordingID int64) (ComposeSource, error) {
	var src ComposeSource
	var started time.Time
	var stopped *time.Time
	var occ int64
	var day time.Time
	err := s.pool.QueryRow(ctx, `SELECT r.occurrence_id, r.started_at, r.stopped_at,
			coalesce(nullif(o.title, ''), e.title), e.title, e.slug, e.language,
			(o.starts_at AT TIME ZONE e.time_zone)::date::timestamp,
			coalesce((SELECT string_agg(sp.name, ', ' ORDER BY sp.position, sp.id) FROM speakers sp WHERE sp.occurrence_id = o.id), '')
		FROM recordings r JOIN occurrences o ON o.id = r.occurrence_id JOIN events e ON e.id = o.event_id
		WHERE r.id = $1`, recordingID).
		Scan(&occ, &started, &stopped, &src.Title, &src.Series, &src.Slug, &src.Language, &day, &src.Speakers)
	if errors.Is(err, pgx.ErrNoRows) {
		return src, notFound("recording")
	}
	if err != nil {
		return src, fmt.Errorf("composition source: %w", err)
	}
	src.Date = day.Format("2006-01-02")
	src.Slug += "-" + src.Date
	rows, err := s.pool.Query(ctx, `SELECT id, recording_id, segment, coalesce(person_id, 0), participant, source, kind, codec,
			file, bytes, clock_rate, first_rtp, first_at, sr_rtp, sr_ntp, duration_ms, complete, problem
		FROM recording_tracks WHERE recording_id = $1 ORDER BY segment, id`, recordingID)
	if err != nil {
		return src, fmt.Errorf("composition source: tracks: %w", err)
	}
	for rows.Next() {
		var t domain.RecordedTrack
		var source string
		var clock int32
		var firstRTP int64
		var firstAt *time.Time
		var srRTP *int64
		var durMS int64
		if err := rows.Scan(&t.ID, &t.RecordingID, &t.Segment, &t.PersonID, &t.Participant, &source, &t.Kind, &t.Codec,
			&t.File, &t.Bytes, &clock, &firstRTP, &firstAt, &srRTP, &t.SRNTP, &durMS, &t.Complete, &t.Problem); err != nil {
			rows.Close()
			return src, fmt.Errorf("composition source: tracks: %w", err)
		}
		t.Source, t.ClockRate, t.FirstRTP = domain.TrackSource(source), uint32(clock), uint32(firstRTP)
		t.Duration = time.Duration(durMS) * time.Millisecond
		if firstAt != nil {
			t.FirstAt = *firstAt
		}
		if srRTP != nil {
			v := uint32(*srRTP)
			t.SRRTP = &v
		}
		src.Tracks = append(src.Tracks, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return src, fmt.Errorf("composition source: tracks: %w", err)
	}
	// Chapters: the questions asked while recording (not those dismissed), in order.
	end := s.now()
	if stopped != nil {
		end = *stopped
	}
	rows, err = s.pool.Query(ctx, `SELECT text, created_at FROM live_questions
		WHERE occurrence_id = $1 AND state <> 'dismissed' AND created_at >= $2 AND created_at <= $3
		ORDER BY created_at, id`, occ, started, end)
	if err != nil {
		return src, fmt.Errorf("composition source: questions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var text string
		var at time.Time
		if err := rows.Scan(&text, &at); err != nil {
			return src, fmt.Errorf("composition source: questions: %w", err)
		}
		src.Chapters = append(src.Chapters, domain.RecordingChapter{At: at.Sub(started), Title: chapterTitle(text)})
	}
	if err := rows.Err(); err != nil {
		return src, fmt.Errorf("composition source: questions: %w", err)
	}
	return src, nil
}

// chapterTitle is a question on one line, cut to a length a player's menu shows.
func chapterTitle(q string) string {
	q = strings.Join(strings.Fields(q), " ")
	const most = 120
	if utf8.RuneCountInString(q) <= most {
		return q
	}
	r := []rune(q)
	return strings.TrimSpace(string(r[:most-1])) + "…"
}

// ComposeProgress records the share done and renews the lease. ErrComposeCancelled means
// the runner must stop: the recording was deleted or the job is no longer its own.
func (s *Store) ComposeProgress(ctx context.Context, job ComposeJob, progress float64, lease time.Duration) error {
	progress = min(max(progress, 0), 1)
	now := s.now()
	tag, err := s.pool.Exec(ctx, `UPDATE recording_jobs j SET progress = $3, leased_until = $4, updated_at = $5
		FROM recordings r
		WHERE j.id = $1 AND j.attempts = $2 AND j.status = 'running' AND r.id = j.recording_id AND r.status = 'composing'`,
		job.ID, job.Attempt, progress, now.Add(lease), now)
	if err != nil {
		return fmt.Errorf("composition progress: %w", err)
	}
	if tag.RowsAffected() == 0 {
		if err := s.cancelCompose(ctx, job); err != nil {
			return err
		}
		return ErrComposeCancelled
	}
	return nil
}

// cancelCompose ends a job whose recording left the composing state (deleted).
func (s *Store) cancelCompose(ctx context.Context, job ComposeJob) error {
	_, err := s.pool.Exec(ctx, `UPDATE recording_jobs j SET status = 'cancelled', leased_until = NULL, updated_at = $3
		FROM recordings r
		WHERE j.id = $1 AND j.attempts = $2 AND j.status = 'running' AND r.id = j.recording_id AND r.status <> 'composing'`,
		job.ID, job.Attempt, s.now())
	if err != nil {
		return fmt.Errorf("cancel composition: %w", err)
	}
	return nil
}

// ComposeDone marks the job done and the recording ready with its composed file, and logs
// 'composed'. ErrComposeCancelled means the recording was deleted (or the job taken over)
// meanwhile: the caller removes the file it stored.
func (s *Store) ComposeDone(ctx context.Context, job ComposeJob, key string, bytes int64, duration time.Duration) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		now := s.now()
		tag, err := tx.Exec(ctx, `UPDATE recordings r SET status = 'ready', composed_key = $2, composed_bytes = $3,
				duration_ms = $4, failure = '', updated_at = $5
			FROM recording_jobs j
			WHERE r.id = $1 AND r.status = 'composing' AND j.id = $6 AND j.attempts = $7 AND j.status = 'running'
			  AND j.recording_id = r.id`,
			job.RecordingID, key, bytes, duration.Milliseconds(), now, job.ID, job.Attempt)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrComposeCancelled
		}
		if _, err := tx.Exec(ctx, `UPDATE recording_jobs SET status = 'done', progress = 1, leased_until = NULL, last_error = '',
			updated_at = $2 WHERE id = $1`, job.ID, now); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO recording_events (recording_id, kind, detail, at) VALUES ($1, 'composed', $2, $3)`,
			job.RecordingID, fmt.Sprintf("%s, %d bytes, %s", key, bytes, duration.Round(time.Second)), now)
		return err
	})
	if errors.Is(err, ErrComposeCancelled) {
		_ = s.cancelCompose(ctx, job)
		return err
	}
	if err != nil {
		return fmt.Errorf("composition done: %w", err)
	}
	return nil
}

// ComposeFailed records a failed attempt and logs 'compose_failed' with the reason (which
// the runner begins with a code, compose.FailureMessageID). With
// retry and attempts left the job waits and is tried again; otherwise (final is true) the
// job fails and so does the recording, with the reason.
func (s *Store) ComposeFailed(ctx context.Context, job ComposeJob, reason string, retry bool) (final bool, err error) {
	reason = cutRunes(reason, 500)
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		now := s.now()
		var status string
		err := tx.QueryRow(ctx, `SELECT j.status FROM recording_jobs j WHERE j.id = $1 AND j.attempts = $2 FOR UPDATE`,
			job.ID, job.Attempt).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && status != "running") {
			return ErrComposeCancelled
		}
		if err != nil {
			return err
		}
		if retry && job.Attempt < ComposeAttempts {
			if _, err := tx.Exec(ctx, `UPDATE recording_jobs SET status = 'queued', leased_until = NULL, last_error = $2,
				next_attempt_at = $3, updated_at = $4 WHERE id = $1`, job.ID, reason, now.Add(composeBackoff(job.Attempt)), now); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `INSERT INTO recording_events (recording_id, kind, detail, at) VALUES ($1, 'compose_failed', $2, $3)`,
				job.RecordingID, fmt.Sprintf("attempt %d of %d, will retry: %s", job.Attempt, ComposeAttempts, reason), now)
			return err
		}
		final = true
		return s.failCompose(ctx, tx, job.ID, job.RecordingID, job.Attempt, reason, now)
	})
	if err != nil && !errors.Is(err, ErrComposeCancelled) {
		err = fmt.Errorf("composition failed: %w", err)
	}
	return final, err
}

// failCompose ends a job and its recording as failed.
func (s *Store) failCompose(ctx context.Context, tx pgx.Tx, jobID, recordingID int64, attempts int, reason string, now time.Time) error {
	if _, err := tx.Exec(ctx, `UPDATE recording_jobs SET status = 'failed', leased_until = NULL, last_error = $2, updated_at = $3
		WHERE id = $1`, jobID, reason, now); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE recordings SET status = 'failed', failure = $2, updated_at = $3
		WHERE id = $1 AND status IN ('stopped', 'composing')`, recordingID, reason, now); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO recording_events (recording_id, kind, detail, at) VALUES ($1, 'compose_failed', $2, $3)`,
		recordingID, fmt.Sprintf("gave up after %d attempts: %s", attempts, reason), now)
	return err
}

// ReleaseComposeJob hands a job back untried (the runner is shutting down): it is queued
// again at once and the attempt does not count.
func (s *Store) ReleaseComposeJob(ctx context.Context, job ComposeJob) error {
	_, err := s.pool.Exec(ctx, `UPDATE recording_jobs SET status = 'queued', attempts = attempts - 1, leased_until = NULL,
		progress = 0, next_attempt_at = $3, updated_at = $3 WHERE id = $1 AND attempts = $2 AND status = 'running'`,
		job.ID, job.Attempt, s.now())
	if err != nil {
		return fmt.Errorf("release composition job: %w", err)
	}
	return nil
}

// ComposeJobOf is the latest composition job of a recording (for its page: progress, the
// last error); not found when it has none.
func (s *Store) ComposeJobOf(ctx context.Context, recordingID int64) (ComposeJobStatus, error) {
	var j ComposeJobStatus
	var p float32
	err := s.pool.QueryRow(ctx, `SELECT id, status, attempts, progress, last_error FROM recording_jobs
		WHERE recording_id = $1 ORDER BY id DESC LIMIT 1`, recordingID).Scan(&j.ID, &j.Status, &j.Attempts, &p, &j.LastError)
	if errors.Is(err, pgx.ErrNoRows) {
		return j, notFound("composition job")
	}
	if err != nil {
		return j, fmt.Errorf("composition job: %w", err)
	}
	j.Progress = float64(p)
	return j, nil
}

// cutRunes cuts s to at most n runes.
func cutRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
