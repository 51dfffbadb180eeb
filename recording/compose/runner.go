package compose

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/puente-org/puente/recording/storage"
	"github.com/puente-org/puente/store"
)

// Jobs is the job queue the runner works from (package store).
type Jobs interface {
	ClaimComposeJob(ctx context.Context, workers int, lease time.Duration) (store.ComposeJob, bool, error)
	ComposeSource(ctx context.Context, recordingID int64) (store.ComposeSource, error)
	ComposeProgress(ctx context.Context, job store.ComposeJob, progress float64, lease time.Duration) error
	ComposeDone(ctx context.Context, job store.ComposeJob, key string, bytes int64, duration time.Duration) error
	ComposeFailed(ctx context.Context, job store.ComposeJob, reason string, retry bool) (final bool, err error)
	ReleaseComposeJob(ctx context.Context, job store.ComposeJob) error
}

// Runner composes queued recordings in the background, Workers at a time across every
// process sharing the database (one by default: composing takes both cores of a small
// machine), and stores each MP4 in Storage.
type Runner struct {
	Jobs     Jobs
	Storage  storage.Storage
	Composer Composer
	Workers  int           // jobs at once across all processes; 0 is 1
	Tracks   string        // the directory relative track directories are under (the data directory)
	TempDir  string        // where compositions are written before they are stored; "" is the system's
	Lease    time.Duration // how long a claimed job is the runner's without news; 0 is 2 minutes
	Beat     time.Duration // how often progress is saved (renewing the lease, noticing a deletion); 0 is Lease/4
	Poll     time.Duration // how often the queue is looked at when idle; 0 is 10 seconds
	Logger   *slog.Logger
}

func (r *Runner) workers() int { return max(r.Workers, 1) }

func (r *Runner) lease() time.Duration {
	if r.Lease <= 0 {
		return 2 * time.Minute
	}
	return r.Lease
}

func (r *Runner) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

// Run works until ctx ends. A job cut short by the end is handed back for the next start.
func (r *Runner) Run(ctx context.Context) {
	if err := r.Composer.Check(); err != nil {
		// Jobs are still claimed: each attempt fails with this reason, so the recording
		// page says what is wrong instead of waiting for ever.
		r.logger().ErrorContext(ctx, "recordings cannot be composed", "err", err)
	}
	poll := r.Poll
	if poll <= 0 {
		poll = 10 * time.Second
	}
	var wg sync.WaitGroup
	for range r.workers() {
		wg.Go(func() {
			for {
				worked, err := r.RunOnce(ctx)
				if err != nil && ctx.Err() == nil {
					r.logger().ErrorContext(ctx, "composition queue", "err", err)
				}
				if worked && err == nil {
					continue
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(poll):
				}
			}
		})
	}
	wg.Wait()
}

// RunOnce claims one job and runs it; worked is false when none was due (or the workers
// were all busy).
func (r *Runner) RunOnce(ctx context.Context) (worked bool, err error) {
	job, ok, err := r.Jobs.ClaimComposeJob(ctx, r.workers(), r.lease())
	if err != nil || !ok {
		return false, err
	}
	log := r.logger().With("recording", job.RecordingID, "job", job.ID, "attempt", job.Attempt)
	log.InfoContext(ctx, "composing a recording")
	return true, r.run(ctx, job, log)
}

// outcome of one attempt.
type outcome struct {
	key      string
	bytes    int64
	duration time.Duration
}

func (r *Runner) run(ctx context.Context, job store.ComposeJob, log *slog.Logger) error {
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var progress atomic.Uint64 // float64 bits
	var cancelled atomic.Bool
	beat := r.Beat
	if beat <= 0 {
		beat = r.lease() / 4
	}
	done := make(chan struct{})
	var beats sync.WaitGroup
	beats.Go(func() {
		t := time.NewTicker(beat)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			err := r.Jobs.ComposeProgress(jctx, job, math.Float64frombits(progress.Load()), r.lease())
			if errors.Is(err, store.ErrComposeCancelled) {
				cancelled.Store(true)
				cancel()
				return
			}
			if err != nil && jctx.Err() == nil {
				log.WarnContext(jctx, "composition progress not saved", "err", err)
			}
		}
	})
	out, err := r.attempt(jctx, job, func(p float64) { progress.Store(math.Float64bits(p)) })
	close(done)
	beats.Wait()

	// Bookkeeping outlives a cancelled run (shutdown), within bounds.
	bctx, bcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer bcancel()
	switch {
	case cancelled.Load():
		if out.key != "" {
			_ = r.Storage.Delete(bctx, out.key)
		}
		log.InfoContext(ctx, "composition cancelled: the recording was deleted or the job taken over")
		return nil
	case ctx.Err() != nil:
		if out.key != "" {
			_ = r.Storage.Delete(bctx, out.key)
		}
		log.InfoContext(bctx, "composition interrupted by shutdown; it will run again")
		return r.Jobs.ReleaseComposeJob(bctx, job)
	case err != nil:
		final, ferr := r.Jobs.ComposeFailed(bctx, job, Failure(err), !errors.Is(err, ErrNoTracks))
		if errors.Is(ferr, store.ErrComposeCancelled) {
			return nil
		}
		log.WarnContext(ctx, "composition failed", "err", err, "final", final)
		return ferr
	}
	if err := r.Jobs.ComposeDone(bctx, job, out.key, out.bytes, out.duration); err != nil {
		_ = r.Storage.Delete(bctx, out.key)
		if errors.Is(err, store.ErrComposeCancelled) {
			log.InfoContext(ctx, "composition cancelled at the end: the recording was deleted")
			return nil
		}
		return err
	}
	log.InfoContext(ctx, "recording composed", "key", out.key, "bytes", out.bytes, "duration", out.duration)
	return nil
}

// attempt composes into a temporary directory and stores the file.
func (r *Runner) attempt(ctx context.Context, job store.ComposeJob, progress func(float64)) (outcome, error) {
	src, err := r.Jobs.ComposeSource(ctx, job.RecordingID)
	if err != nil {
		return outcome{}, err
	}
	dir := job.TrackDir
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(r.Tracks, dir)
	}
	tmp, err := os.MkdirTemp(r.TempDir, "puente-compose-")
	if err != nil {
		return outcome{}, fmt.Errorf("compose: temporary directory: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	file := filepath.Join(tmp, "recording.mp4")
	res, err := r.Composer.Compose(ctx, Input{
		TrackDir: dir, Tracks: src.Tracks, Chapters: src.Chapters, Start: job.StartedAt,
		Meta: Meta{Title: src.Title, Series: src.Series, Speakers: src.Speakers, Date: src.Date, Language: src.Language},
	}, file, progress)
	if err != nil {
		return outcome{}, err
	}
	name := src.Slug
	if name == "" {
		name = strconv.FormatInt(job.RecordingID, 10)
	}
	key := fmt.Sprintf("recordings/%d/%s.mp4", job.RecordingID, name)
	f, err := os.Open(file)
	if err != nil {
		return outcome{}, fmt.Errorf("compose: %w", err)
	}
	defer func() { _ = f.Close() }()
	if err := r.Storage.Put(ctx, key, f, res.Bytes, "video/mp4"); err != nil {
		return outcome{}, fmt.Errorf("store the composed recording: %w", errStorage{err})
	}
	if ctx.Err() != nil {
		// Stored just as it was cancelled: the caller removes it.
		return outcome{key: key}, ctx.Err()
	}
	return outcome{key: key, bytes: res.Bytes, duration: res.Duration}, nil
}

// errStorage marks a failure to store the composed file.
type errStorage struct{ err error }

func (e errStorage) Error() string { return e.err.Error() }
func (e errStorage) Unwrap() error { return e.err }

// The failure codes a recording's failure text begins with ("code: detail").
const (
	FailFFmpegMissing = "ffmpeg_missing"
	FailNoTracks      = "no_tracks"
	FailFFmpeg        = "ffmpeg_failed"
	FailStorage       = "storage"
	FailInterrupted   = "interrupted" // written by the store when runners died on every attempt
	FailOther         = "other"
)

// Failure is the text stored for a failed composition: a code, then the detail for the
// organisers and the log.
func Failure(err error) string {
	var es errStorage
	code := FailOther
	switch {
	case errors.Is(err, ErrFFmpegMissing):
		code = FailFFmpegMissing
	case errors.Is(err, ErrNoTracks):
		code = FailNoTracks
	case errors.As(err, &es):
		code = FailStorage
	case errors.Is(err, errFFmpeg):
		code = FailFFmpeg
	}
	return code + ": " + err.Error()
}

// FailureMessageID is the catalogue message that explains a recording's failure text in
// the reader's language (the detail after the code stays as written, for organisers).
func FailureMessageID(failure string) string {
	code, _, _ := strings.Cut(failure, ":")
	switch code {
	case FailFFmpegMissing, FailNoTracks, FailFFmpeg, FailStorage, FailInterrupted:
		return "recording.compose.failed." + code
	}
	return "recording.compose.failed.other"
}
