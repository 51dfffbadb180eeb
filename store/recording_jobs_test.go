package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
)

// composeFixture is a stopped recording of a session, started at the store's clock.
func composeFixture(t *testing.T) (*store.Store, *clock, int64, int64) {
	t.Helper()
	s, clk, occ, _, ana := liveStoreFixture(t)
	var rec int64
	if err := s.Pool().QueryRow(context.Background(), `INSERT INTO recordings (occurrence_id, status, started_by, started_at,
		stopped_at, created_at, updated_at) VALUES ($1, 'stopped', $2, $3, $4, $3, $3) RETURNING id`,
		occ, ana.ID, clk.Now(), clk.Now().Add(10*time.Minute)).Scan(&rec); err != nil {
		t.Fatal(err)
	}
	return s, clk, occ, rec
}

func recordingStatus(t *testing.T, s *store.Store, id int64) string {
	t.Helper()
	var st string
	if err := s.Pool().QueryRow(context.Background(), `SELECT status FROM recordings WHERE id = $1`, id).Scan(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestComposeQueueLeaseAndRelease(t *testing.T) {
	ctx := context.Background()
	s, clk, _, rec := composeFixture(t)
	id, err := s.EnqueueCompose(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := s.EnqueueCompose(ctx, rec); err != nil || again != id {
		t.Fatalf("second enqueue: %d %v, want %d", again, err, id)
	}
	job, ok, err := s.ClaimComposeJob(ctx, 1, time.Minute)
	if err != nil || !ok || job.ID != id || job.RecordingID != rec || job.Attempt != 1 {
		t.Fatalf("claim: %+v %v %v", job, ok, err)
	}
	if st := recordingStatus(t, s, rec); st != "composing" {
		t.Errorf("recording %s, want composing", st)
	}
	// Running: not enqueued again, not claimed twice.
	if _, err := s.EnqueueCompose(ctx, rec); err != nil {
		t.Errorf("enqueue while running: %v", err)
	}
	if _, ok, _ := s.ClaimComposeJob(ctx, 5, time.Minute); ok {
		t.Fatal("claimed a running job")
	}
	// Progress renews the lease: 50 s later, then 50 s more, it is still ours.
	clk.Add(50 * time.Second)
	if err := s.ComposeProgress(ctx, job, 0.5, time.Minute); err != nil {
		t.Fatal(err)
	}
	clk.Add(50 * time.Second)
	if _, ok, _ := s.ClaimComposeJob(ctx, 1, time.Minute); ok {
		t.Fatal("claimed a job whose lease was renewed")
	}
	// The runner died: when the lease runs out another takes it, as the next attempt.
	clk.Add(time.Minute)
	again, ok, err := s.ClaimComposeJob(ctx, 1, time.Minute)
	if err != nil || !ok || again.ID != id || again.Attempt != 2 {
		t.Fatalf("retake: %+v %v %v", again, ok, err)
	}
	// The first runner's late reports are refused.
	if err := s.ComposeProgress(ctx, job, 0.9, time.Minute); !errors.Is(err, store.ErrComposeCancelled) {
		t.Errorf("stale progress: %v", err)
	}
	if err := s.ComposeDone(ctx, job, "k", 1, time.Second); !errors.Is(err, store.ErrComposeCancelled) {
		t.Errorf("stale done: %v", err)
	}
	// Shutdown hands it back untried.
	if err := s.ReleaseComposeJob(ctx, again); err != nil {
		t.Fatal(err)
	}
	third, ok, err := s.ClaimComposeJob(ctx, 1, time.Minute)
	if err != nil || !ok || third.Attempt != 2 {
		t.Fatalf("after release: %+v %v %v", third, ok, err)
	}
	if err := s.ComposeDone(ctx, third, "recordings/1/x.mp4", 1234, 90*time.Second); err != nil {
		t.Fatal(err)
	}
	if st := recordingStatus(t, s, rec); st != "ready" {
		t.Errorf("recording %s, want ready", st)
	}
	if _, err := s.EnqueueCompose(ctx, rec); domain.ErrorCode(err) != domain.CodeConflict {
		t.Errorf("enqueue a ready recording: %v", err)
	}
}

// A runner that dies on every attempt: the recording fails as interrupted.
func TestComposeQueueGivesUpOnDyingRunners(t *testing.T) {
	ctx := context.Background()
	s, clk, _, rec := composeFixture(t)
	for n := 1; n <= store.ComposeAttempts; n++ {
		job, ok, err := s.ClaimComposeJob(ctx, 1, time.Minute)
		if err != nil || !ok || job.Attempt != n {
			t.Fatalf("claim %d: %+v %v %v", n, job, ok, err)
		}
		clk.Add(2 * time.Minute)
	}
	if _, ok, err := s.ClaimComposeJob(ctx, 1, time.Minute); ok || err != nil {
		t.Fatalf("claimed after the last attempt: %v %v", ok, err)
	}
	var status, failure string
	if err := s.Pool().QueryRow(ctx, `SELECT status, failure FROM recordings WHERE id = $1`, rec).Scan(&status, &failure); err != nil {
		t.Fatal(err)
	}
	if status != "failed" || failure[:len("interrupted:")] != "interrupted:" {
		t.Errorf("recording %s %q", status, failure)
	}
}

// A deleted recording's queued job ends without running.
func TestComposeQueueDeletedRecording(t *testing.T) {
	ctx := context.Background()
	s, _, _, rec := composeFixture(t)
	if _, err := s.EnqueueCompose(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool().Exec(ctx, `UPDATE recordings SET status = 'deleted' WHERE id = $1`, rec); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.ClaimComposeJob(ctx, 1, time.Minute); ok || err != nil {
		t.Fatalf("claimed: %v %v", ok, err)
	}
	if j, err := s.ComposeJobOf(ctx, rec); err != nil || j.Status != "cancelled" {
		t.Errorf("job %+v %v", j, err)
	}
}

// Chapters are the questions asked while recording, not dismissed, cut to one line.
func TestComposeSourceChapters(t *testing.T) {
	ctx := context.Background()
	s, clk, occ, rec := composeFixture(t)
	start := clk.Now()
	ask := func(text string, at time.Duration, state string) {
		if _, err := s.Pool().Exec(ctx, `INSERT INTO live_questions (occurrence_id, text, state, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $4)`, occ, text, state, start.Add(at)); err != nil {
			t.Fatal(err)
		}
	}
	ask("before", -time.Second, "open")
	ask("first\n  question", 90*time.Second, "answered")
	ask("spam", 100*time.Second, "dismissed")
	long := ""
	for range 30 {
		long += "lithium "
	}
	ask(long, 5*time.Minute, "open")
	ask("after", 11*time.Minute, "open")
	src, err := s.ComposeSource(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(src.Chapters) != 2 || src.Chapters[0] != (domain.RecordingChapter{At: 90 * time.Second, Title: "first question"}) ||
		src.Chapters[1].At != 5*time.Minute || len([]rune(src.Chapters[1].Title)) != 120 {
		t.Errorf("chapters: %+v", src.Chapters)
	}
	if src.Title != "Live" || src.Series != "Live" || src.Slug != "live-2026-03-05" || src.Date != "2026-03-05" || src.Language != "en" {
		t.Errorf("source: %+v", src)
	}
}
