package compose_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/recording/compose"
	"github.com/puente-org/puente/recording/storage"
	"github.com/puente-org/puente/store"
	"github.com/puente-org/puente/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// dirStorage is a minimal local storage for these tests (the real ones are in package
// storage): a file per key, written aside and renamed.
type dirStorage struct{ root string }

func (d dirStorage) path(key string) string { return filepath.Join(d.root, filepath.FromSlash(key)) }

func (d dirStorage) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	p := d.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".put-")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(f.Name()) }()
	if n, err := io.Copy(f, r); err != nil || n != size {
		_ = f.Close()
		return fmt.Errorf("put %s: %d of %d bytes: %v", key, n, size, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), p)
}

func (d dirStorage) Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, storage.Object, error) {
	f, err := os.Open(d.path(key))
	if err != nil {
		return nil, storage.Object{}, storage.ErrNotFound
	}
	fi, _ := f.Stat()
	return f, storage.Object{Key: key, Size: fi.Size()}, nil
}

func (d dirStorage) Stat(ctx context.Context, key string) (storage.Object, error) {
	fi, err := os.Stat(d.path(key))
	if err != nil {
		return storage.Object{}, storage.ErrNotFound
	}
	return storage.Object{Key: key, Size: fi.Size()}, nil
}

func (d dirStorage) Delete(ctx context.Context, key string) error {
	if err := os.Remove(d.path(key)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// files lists the regular files under dir.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fixture is a series session with two speakers, a stopped recording of it whose track
// directory holds the given files, and questions asked 2 s and 3.5 s into the recording
// (and one dismissed, and one before it began).
type fixture struct {
	pool      *pgxpool.Pool
	store     *store.Store
	clock     *clock
	trackDir  string
	recording int64
	started   time.Time
}

func newFixture(t *testing.T, pool *pgxpool.Pool) *fixture {
	t.Helper()
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s := store.New(pool, clk.Now)
	org, err := s.CreatePerson(ctx, store.NewPerson{Email: "org@example.org", IsOrganiser: true})
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.CreateEvent(ctx, domain.Event{Kind: domain.KindSeries, Slug: "lithium", Title: "Lithium seminar", Language: "pt",
		Visibility: "public", TimeZone: "America/Santiago", StartDate: time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC), StartTime: "12:00",
		Duration: time.Hour, RRule: "FREQ=WEEKLY;COUNT=1", Registration: "open", Tags: []string{}}, org.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	occs, err := s.Occurrences(ctx, store.OccurrenceFilter{EventID: e.ID})
	if err != nil || len(occs) != 1 {
		t.Fatalf("occurrences: %v %d", err, len(occs))
	}
	occ := occs[0].Occurrence.ID
	f := &fixture{pool: pool, store: s, clock: clk, trackDir: t.TempDir(), started: time.Date(2026, 3, 5, 15, 0, 0, 0, time.UTC)}
	if _, err := pool.Exec(ctx, `UPDATE occurrences SET title = 'Brines of Atacama' WHERE id = $1`, occ); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO speakers (occurrence_id, position, name) VALUES ($1, 1, 'Bo Li'), ($1, 0, 'Ana Souza')`, occ); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `INSERT INTO recordings (occurrence_id, status, started_by, started_at, stopped_by, stopped_at,
		track_dir, created_at, updated_at) VALUES ($1, 'stopped', $2, $3, $2, $4, $5, $3, $4) RETURNING id`,
		occ, org.ID, f.started, f.started.Add(time.Minute), f.trackDir).Scan(&f.recording); err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct {
		text  string
		at    time.Duration
		state string
	}{{"How pure is the carbonate?", 2 * time.Second, "open"}, {"Spam", 2500 * time.Millisecond, "dismissed"},
		{"Before the start", -time.Minute, "open"}, {"And the\nwater use?", 3500 * time.Millisecond, "answered"}} {
		if _, err := pool.Exec(ctx, `INSERT INTO live_questions (occurrence_id, author_name, text, state, created_at, updated_at)
			VALUES ($1, 'X', $2, $3, $4, $4)`, occ, q.text, q.state, f.started.Add(q.at)); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// track adds a recording_tracks row for a file in the track directory.
func (f *fixture) track(t *testing.T, source domain.TrackSource, kind, file string, clockRate int) {
	t.Helper()
	if _, err := f.pool.Exec(context.Background(), `INSERT INTO recording_tracks (recording_id, source, kind, codec, file, clock_rate,
		first_rtp, first_at, complete, created_at) VALUES ($1, $2, $3, $4, $5, $6, 1234, $7, true, $7)`,
		f.recording, string(source), kind, map[string]string{"audio": "audio/opus", "video": "video/VP8"}[kind], file, clockRate,
		f.started.Add(50*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
}

func lavfi(t *testing.T, out string, args ...string) {
	t.Helper()
	full := append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y"}, args...)
	if b, err := exec.Command("/usr/bin/ffmpeg", append(full, out)...).CombinedOutput(); err != nil {
		t.Fatalf("make %s: %v\n%s", out, err, b)
	}
}

// media writes a camera (VP8) and a microphone (Opus) of secs seconds and their rows.
func (f *fixture) media(t *testing.T, secs int) {
	t.Helper()
	lavfi(t, filepath.Join(f.trackDir, "cam.webm"), "-f", "lavfi", "-i", fmt.Sprintf("testsrc=s=320x240:r=15:d=%d", secs),
		"-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "200k", "-f", "webm")
	lavfi(t, filepath.Join(f.trackDir, "mic.webm"), "-f", "lavfi", "-i", fmt.Sprintf("sine=f=440:r=48000:d=%d", secs),
		"-c:a", "libopus", "-b:a", "32k", "-f", "webm")
	f.track(t, domain.SourceCamera, "video", "cam.webm", 90000)
	f.track(t, domain.SourceMicrophone, "audio", "mic.webm", 48000)
}

type recordingRow struct {
	Status, Key, Failure string
	Bytes, DurationMS    int64
}

func (f *fixture) row(t *testing.T) recordingRow {
	t.Helper()
	var r recordingRow
	if err := f.pool.QueryRow(context.Background(), `SELECT status, composed_key, failure, composed_bytes, duration_ms
		FROM recordings WHERE id = $1`, f.recording).Scan(&r.Status, &r.Key, &r.Failure, &r.Bytes, &r.DurationMS); err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fixture) events(t *testing.T) []string {
	t.Helper()
	rows, err := f.pool.Query(context.Background(), `SELECT kind || ': ' || detail FROM recording_events WHERE recording_id = $1 ORDER BY id`, f.recording)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func (f *fixture) job(t *testing.T) store.ComposeJobStatus {
	t.Helper()
	j, err := f.store.ComposeJobOf(context.Background(), f.recording)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// TestRunnerComposesAndStores: a stopped recording is queued by the claim, composed with its
// chapters and metadata, stored under its key and marked ready.
func TestRunnerComposesAndStores(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, pgtest.New(t))
	f.media(t, 5)
	st := dirStorage{root: t.TempDir()}
	tmp := t.TempDir()
	r := &compose.Runner{Jobs: f.store, Storage: st, TempDir: tmp, Beat: 100 * time.Millisecond}
	worked, err := r.RunOnce(ctx)
	if err != nil || !worked {
		t.Fatalf("RunOnce: %v %v", worked, err)
	}
	row := f.row(t)
	want := fmt.Sprintf("recordings/%d/lithium-2026-03-05.mp4", f.recording)
	if row.Status != "ready" || row.Key != want || row.Failure != "" || math.Abs(float64(row.DurationMS)-5000) > 1000 {
		t.Fatalf("recording: %+v, want ready at %s", row, want)
	}
	obj, err := st.Stat(ctx, want)
	if err != nil || obj.Size != row.Bytes {
		t.Fatalf("stored: %+v %v, row says %d bytes", obj, err, row.Bytes)
	}
	if j := f.job(t); j.Status != "done" || j.Progress != 1 || j.Attempts != 1 {
		t.Errorf("job: %+v", j)
	}
	if ev := f.events(t); len(ev) != 1 || !strings.HasPrefix(ev[0], "composed: "+want) {
		t.Errorf("events: %q", ev)
	}
	if left := files(t, tmp); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	out, err := exec.Command("/usr/bin/ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_chapters",
		"-show_streams", st.path(want)).Output()
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Streams []struct {
			CodecName string `json:"codec_name"`
		} `json:"streams"`
		Format struct {
			Tags map[string]string `json:"tags"`
		} `json:"format"`
		Chapters []struct {
			StartTime string            `json:"start_time"`
			Tags      map[string]string `json:"tags"`
		} `json:"chapters"`
	}
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Streams) < 2 || p.Streams[0].CodecName != "h264" || p.Streams[1].CodecName != "aac" {
		t.Errorf("streams: %+v", p.Streams)
	}
	if p.Format.Tags["title"] != "Brines of Atacama" || p.Format.Tags["artist"] != "Ana Souza, Bo Li" ||
		p.Format.Tags["album"] != "Lithium seminar" || p.Format.Tags["date"] != "2026-03-05" {
		t.Errorf("metadata: %v", p.Format.Tags)
	}
	var chapters []string
	for _, c := range p.Chapters {
		chapters = append(chapters, c.StartTime+" "+c.Tags["title"])
	}
	// The output begins with the first track, 50 ms after the recording started.
	if got := strings.Join(chapters, " | "); got != "0.000000 Brines of Atacama | 1.950000 How pure is the carbonate? | 3.450000 And the water use?" {
		t.Errorf("chapters: %s", got)
	}
	// Nothing more to do.
	if worked, err := r.RunOnce(ctx); worked || err != nil {
		t.Errorf("second RunOnce: %v %v", worked, err)
	}
}

// TestRunnerFFmpegMissing: each attempt fails with a reason naming the setting; after the
// last, the recording is failed with it.
func TestRunnerFFmpegMissing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, pgtest.New(t))
	f.media(t, 1)
	st := dirStorage{root: t.TempDir()}
	r := &compose.Runner{Jobs: f.store, Storage: st, Composer: compose.Composer{FFmpeg: "/opt/none/ffmpeg", Setting: "PUENTE_FFMPEG"}}
	for attempt := 1; attempt <= store.ComposeAttempts; attempt++ {
		worked, err := r.RunOnce(ctx)
		if err != nil || !worked {
			t.Fatalf("attempt %d: %v %v", attempt, worked, err)
		}
		j := f.job(t)
		if j.Attempts != attempt || !strings.Contains(j.LastError, "PUENTE_FFMPEG") || !strings.Contains(j.LastError, "/opt/none/ffmpeg") {
			t.Fatalf("after attempt %d: %+v", attempt, j)
		}
		if attempt < store.ComposeAttempts {
			if j.Status != "queued" || f.row(t).Status != "composing" {
				t.Fatalf("after attempt %d: job %+v, recording %+v", attempt, j, f.row(t))
			}
			// Not due again at once.
			if worked, err := r.RunOnce(ctx); worked || err != nil {
				t.Fatalf("retried without waiting: %v %v", worked, err)
			}
			f.clock.Add(15 * time.Minute)
		}
	}
	row := f.row(t)
	if row.Status != "failed" || !strings.HasPrefix(row.Failure, "ffmpeg_missing: ") || !strings.Contains(row.Failure, "PUENTE_FFMPEG") ||
		row.Key != "" || compose.FailureMessageID(row.Failure) != "recording.compose.failed.ffmpeg_missing" {
		t.Errorf("recording: %+v", row)
	}
	if j := f.job(t); j.Status != "failed" {
		t.Errorf("job: %+v", j)
	}
	ev := f.events(t)
	if len(ev) != store.ComposeAttempts || !strings.HasPrefix(ev[len(ev)-1], "compose_failed: gave up") {
		t.Errorf("events: %q", ev)
	}
	if left := files(t, st.root); len(left) != 0 {
		t.Errorf("stored: %v", left)
	}
	f.clock.Add(time.Hour)
	if worked, err := r.RunOnce(ctx); worked || err != nil {
		t.Errorf("a failed recording was taken again: %v %v", worked, err)
	}
}

// TestRunnerCorruptInput: ffmpeg cannot read a track; the recording fails, nothing is
// stored and no temporary file is left.
func TestRunnerCorruptInput(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, pgtest.New(t))
	garbage := make([]byte, 100000)
	for i := range garbage {
		garbage[i] = byte(i * 31 >> 2)
	}
	copy(garbage, "\x1a\x45\xdf\xa3") // an EBML header's id, then noise
	if err := os.WriteFile(filepath.Join(f.trackDir, "cam.webm"), garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	f.track(t, domain.SourceCamera, "video", "cam.webm", 90000)
	st := dirStorage{root: t.TempDir()}
	tmp := t.TempDir()
	r := &compose.Runner{Jobs: f.store, Storage: st, TempDir: tmp}
	for range store.ComposeAttempts {
		if worked, err := r.RunOnce(ctx); err != nil || !worked {
			t.Fatalf("RunOnce: %v %v", worked, err)
		}
		f.clock.Add(15 * time.Minute)
	}
	row := f.row(t)
	if row.Status != "failed" || !strings.HasPrefix(row.Failure, "ffmpeg_failed: ") || strings.Contains(row.Failure, f.trackDir) {
		t.Errorf("recording: %+v", row)
	}
	t.Logf("failure: %s", row.Failure)
	if left := files(t, st.root); len(left) != 0 {
		t.Errorf("stored: %v", left)
	}
	if left := files(t, tmp); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// counting wraps the real queue and counts the jobs running in the runners that share it.
type counting struct {
	compose.Jobs
	now, most *atomic.Int32
	after     func(store.ComposeJob, float64)
}

func (c counting) ClaimComposeJob(ctx context.Context, workers int, lease time.Duration) (store.ComposeJob, bool, error) {
	j, ok, err := c.Jobs.ClaimComposeJob(ctx, workers, lease)
	if ok {
		n := c.now.Add(1)
		for m := c.most.Load(); n > m && !c.most.CompareAndSwap(m, n); m = c.most.Load() {
		}
	}
	return j, ok, err
}

// The job stops counting before the queue hears of its end: until then no other claim can
// succeed.
func (c counting) ComposeDone(ctx context.Context, j store.ComposeJob, key string, bytes int64, d time.Duration) error {
	c.now.Add(-1)
	return c.Jobs.ComposeDone(ctx, j, key, bytes, d)
}

func (c counting) ComposeFailed(ctx context.Context, j store.ComposeJob, reason string, retry bool) (bool, error) {
	c.now.Add(-1)
	return c.Jobs.ComposeFailed(ctx, j, reason, retry)
}

func (c counting) ReleaseComposeJob(ctx context.Context, j store.ComposeJob) error {
	c.now.Add(-1)
	return c.Jobs.ReleaseComposeJob(ctx, j)
}

func (c counting) ComposeProgress(ctx context.Context, j store.ComposeJob, p float64, lease time.Duration) error {
	if c.after != nil {
		c.after(j, p)
	}
	return c.Jobs.ComposeProgress(ctx, j, p, lease)
}

// TestRunnersOneAtATime: two processes' runners (two stores, two pools) with one worker
// each, and three recordings: never two compositions at once, and all three are composed.
func TestRunnersOneAtATime(t *testing.T) {
	url := pgtest.NewURL(t)
	pools := make([]*pgxpool.Pool, 2)
	for i := range pools {
		p, err := pgxpool.New(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		pools[i] = p
	}
	f := newFixture(t, pools[0])
	f.media(t, 2)
	ids := []int64{f.recording}
	for range 2 {
		var id int64
		if err := pools[0].QueryRow(context.Background(), `INSERT INTO recordings (occurrence_id, status, started_at, stopped_at, track_dir,
			created_at, updated_at) SELECT occurrence_id, 'stopped', started_at, stopped_at, track_dir, created_at, updated_at
			FROM recordings WHERE id = $1 RETURNING id`, f.recording).Scan(&id); err != nil {
			t.Fatal(err)
		}
		if _, err := pools[0].Exec(context.Background(), `INSERT INTO recording_tracks (recording_id, source, kind, codec, file, clock_rate,
			first_rtp, first_at, created_at) SELECT $1, source, kind, codec, file, clock_rate, first_rtp, first_at, created_at
			FROM recording_tracks WHERE recording_id = $2`, id, f.recording); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	// The second process's store reads the same clock.
	stores := []*store.Store{f.store, store.New(pools[1], f.clock.Now)}
	var now, most atomic.Int32
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	st := dirStorage{root: t.TempDir()}
	var wg sync.WaitGroup
	for _, s := range stores {
		r := &compose.Runner{Jobs: counting{Jobs: s, now: &now, most: &most}, Storage: st, Workers: 1, Poll: 20 * time.Millisecond,
			Beat: 50 * time.Millisecond}
		wg.Go(func() { r.Run(ctx) })
	}
	for {
		var ready int
		if err := pools[0].QueryRow(ctx, `SELECT count(*) FROM recordings WHERE status = 'ready'`).Scan(&ready); err != nil {
			t.Fatal(err)
		}
		if ready == len(ids) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("only %d of %d composed", ready, len(ids))
		case <-time.After(100 * time.Millisecond):
		}
	}
	cancel()
	wg.Wait()
	if most.Load() != 1 {
		t.Errorf("at most %d compositions ran at once, want 1", most.Load())
	}
	if n := len(files(t, st.root)); n != len(ids) {
		t.Errorf("%d files stored, want %d", n, len(ids))
	}
}

// TestRunnerRecordingDeletedWhileComposing: the deletion (of the recording, or of its whole
// session) is noticed at the next progress report; ffmpeg stops, nothing is stored, the job
// ends cancelled.
func TestRunnerRecordingDeletedWhileComposing(t *testing.T) {
	for _, tc := range []struct{ name, sql string }{
		{"recording deleted", `UPDATE recordings SET status = 'deleted' WHERE id = $1`},
		{"session removed", `DELETE FROM occurrences WHERE id = (SELECT occurrence_id FROM recordings WHERE id = $1)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, pgtest.New(t))
			f.media(t, 60)
			st := dirStorage{root: t.TempDir()}
			tmp := t.TempDir()
			var deleted atomic.Bool
			var now, most atomic.Int32
			jobs := counting{Jobs: f.store, now: &now, most: &most, after: func(j store.ComposeJob, p float64) {
				if p > 0 && !deleted.Swap(true) {
					if _, err := f.pool.Exec(ctx, tc.sql, j.RecordingID); err != nil {
						t.Error(err)
					}
				}
			}}
			r := &compose.Runner{Jobs: jobs, Storage: st, TempDir: tmp, Beat: 50 * time.Millisecond}
			worked, err := r.RunOnce(ctx)
			if err != nil || !worked {
				t.Fatalf("RunOnce: %v %v", worked, err)
			}
			if !deleted.Load() {
				t.Fatal("the composition ended before any progress was reported")
			}
			if left := files(t, st.root); len(left) != 0 {
				t.Errorf("stored: %v", left)
			}
			if left := files(t, tmp); len(left) != 0 {
				t.Errorf("temporary files left: %v", left)
			}
			var n int
			if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM recordings WHERE id = $1`, f.recording).Scan(&n); err != nil || n == 0 {
				return // gone with its session, and its job with it
			}
			if j := f.job(t); j.Status != "cancelled" || j.Progress >= 1 {
				t.Errorf("job: %+v", j)
			}
			if row := f.row(t); row.Status != "deleted" || row.Key != "" {
				t.Errorf("recording: %+v", row)
			}
			if ev := f.events(t); len(ev) != 0 {
				t.Errorf("events: %q", ev)
			}
		})
	}
}
