package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/puente-org/puente/app"
	"github.com/puente-org/puente/recording/storage"
	"github.com/puente-org/puente/server"
	"github.com/puente-org/puente/store"
)

// makeMP4 encodes a real H.264 MP4 of the test pattern with ffmpeg.
func makeMP4(t *testing.T, seconds string) []byte {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg is not installed")
	}
	out := filepath.Join(t.TempDir(), "out.mp4")
	cmd := exec.Command("ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=15",
		"-t", seconds, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-y", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// recordingEnv is a series with one session, people in every role, signed in, and a
// recording whose composed file is in a local storage.
type recordingEnv struct {
	*progEnv
	st       storage.Storage
	occID    int64
	seriesID int64
	recID    int64
	key      string
	mp4      []byte
	browsers map[string]*client
}

// The roles: "" is anonymous; attendee has no registration; registrant is registered for
// the session; fan for the whole series; other organises other things.
var recordingRoles = []string{"", "attendee", "registrant", "fan", "organiser", "other", "admin"}

func newRecordingEnv(t *testing.T) *recordingEnv {
	t.Helper()
	st, err := storage.NewLocal(filepath.Join(t.TempDir(), "recordings"))
	if err != nil {
		t.Fatal(err)
	}
	return newRecordingEnvOn(t, st)
}

func newRecordingEnvOn(t *testing.T, st storage.Storage) *recordingEnv {
	t.Helper()
	p := newProgEnv(t, func(o *server.Options) { o.Recordings = st })
	p.addPerson("registrant", store.NewPerson{Name: "Registrant"})
	p.addPerson("fan", store.NewPerson{Name: "Fan"})
	s := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{
		"title": "Lithium Brines Seminar", "timezone": "America/Santiago", "start_date": "2026-01-08", "start_time": "12:00",
		"duration_minutes": 60, "rrule": "FREQ=WEEKLY;BYDAY=TH;COUNT=3"})
	occ := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%v/occurrences", s["id"]), nil))[0]
	occID := int64(occ["id"].(float64))
	p.must(201, "registrant", "POST", fmt.Sprintf("/api/v1/occurrences/%d/registrations", occID), map[string]any{})
	p.must(201, "fan", "POST", fmt.Sprintf("/api/v1/series/%v/registrations", s["id"]), map[string]any{})

	e := &recordingEnv{progEnv: p, st: st, occID: occID, seriesID: int64(s["id"].(float64)), mp4: makeMP4(t, "2"),
		browsers: map[string]*client{}}
	for _, role := range recordingRoles {
		b := p.browser("en")
		if role != "" {
			b.signIn(role + "@example.org")
		}
		e.browsers[role] = b
	}
	e.recID, e.key = e.addRecording(p.now.Add(-time.Hour), e.mp4)
	return e
}

// addRecording stores a ready recording started at from, with data as its file.
func (e *recordingEnv) addRecording(from time.Time, data []byte) (int64, string) {
	e.t.Helper()
	ctx := context.Background()
	var id int64
	if err := e.store.Pool().QueryRow(ctx, `INSERT INTO recordings (occurrence_id, status, started_by, started_at, stopped_at,
		composed_bytes, duration_ms, created_at, updated_at) VALUES ($1, 'ready', $2, $3, $4, $5, 2000, $3, $3) RETURNING id`,
		e.occID, e.ids["organiser"], from, from.Add(30*time.Minute), len(data)).Scan(&id); err != nil {
		e.t.Fatal(err)
	}
	key := fmt.Sprintf("recordings/%d/session.mp4", id)
	if err := e.st.Put(ctx, key, bytes.NewReader(data), int64(len(data)), "video/mp4"); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.store.Pool().Exec(ctx, `UPDATE recordings SET composed_key = $2 WHERE id = $1`, id, key); err != nil {
		e.t.Fatal(err)
	}
	return id, key
}

func (e *recordingEnv) setAccess(access string) {
	e.t.Helper()
	if _, err := e.store.Pool().Exec(context.Background(), `UPDATE recordings SET access = $2 WHERE id = $1`, e.recID, access); err != nil {
		e.t.Fatal(err)
	}
}

func (e *recordingEnv) logKinds(id int64) []string {
	e.t.Helper()
	log, err := e.store.RecordingLog(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	var kinds []string
	for _, l := range log {
		kinds = append(kinds, l.Kind)
	}
	return kinds
}

// Every role against every access setting, on the page and on the file URL, with a range.
func TestRecordingAccessPerRole(t *testing.T) {
	e := newRecordingEnv(t)
	page := fmt.Sprintf("/occurrences/%d/recording", e.occID)
	file := fmt.Sprintf("/recordings/%d/file", e.recID)
	player := fmt.Sprintf(`src="/recordings/%d/file"`, e.recID)
	may := map[string]map[string]bool{
		"public":      {"": true, "attendee": true, "registrant": true, "fan": true, "organiser": true, "other": true, "admin": true},
		"registrants": {"registrant": true, "fan": true, "organiser": true, "admin": true},
		"organisers":  {"organiser": true, "admin": true},
	}
	for _, access := range []string{"public", "registrants", "organisers"} {
		e.setAccess(access)
		for _, role := range recordingRoles {
			name := role
			if name == "" {
				name = "anonymous"
			}
			b, want := e.browsers[role], may[access][role]
			r := b.get(page)
			if r.status != 200 {
				t.Fatalf("%s, %s: page %d", access, name, r.status)
			}
			if got := strings.Contains(r.body, player); got != want {
				t.Errorf("%s, %s: page shows the player: %v, want %v", access, name, got, want)
			}
			if want && !strings.Contains(r.body, "No transcript yet") {
				t.Errorf("%s, %s: no transcript slot", access, name)
			}
			fr := b.do("GET", file, nil, map[string]string{"Range": "bytes=100-199"})
			if !want {
				wantStatus := http.StatusForbidden
				if role == "" {
					wantStatus = http.StatusUnauthorized
				}
				if fr.status != wantStatus || strings.Contains(fr.body, string(e.mp4[100:200])) {
					t.Errorf("%s, %s: file %d, want %d", access, name, fr.status, wantStatus)
				}
				continue
			}
			if fr.status != http.StatusPartialContent || fr.body != string(e.mp4[100:200]) ||
				fr.header.Get("Content-Range") != fmt.Sprintf("bytes 100-199/%d", len(e.mp4)) {
				t.Errorf("%s, %s: range: %d, %d bytes, Content-Range %q", access, name, fr.status, len(fr.body), fr.header.Get("Content-Range"))
			}
			cc := fr.header.Get("Cache-Control")
			if access != "public" && !strings.Contains(cc, "private") {
				t.Errorf("%s, %s: Cache-Control %q lets shared caches keep it", access, name, cc)
			}
		}
	}

	// The session page links to the recording for those who may see it.
	e.setAccess("organisers")
	if r := e.browsers["attendee"].get(fmt.Sprintf("/occurrences/%d", e.occID)); strings.Contains(r.body, `id="recording-link"`) {
		t.Error("the session page links an organisers-only recording for an attendee")
	}
	if r := e.browsers["organiser"].get(fmt.Sprintf("/occurrences/%d", e.occID)); !strings.Contains(r.body, `id="recording-link"`) {
		t.Error("the session page does not link the recording for its organiser")
	}
}

// What a seeking player and a download need: the whole file, several ranges, a bad
// range, If-Range, the ETag, and the attachment.
func TestRecordingFileRanges(t *testing.T) { testRecordingFileRanges(t, newRecordingEnv(t)) }

// The same from an S3-compatible store (gofakes3 on loopback).
func TestRecordingFileRangesS3(t *testing.T) {
	backend := s3mem.New()
	ts := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(ts.Close)
	if err := backend.CreateBucket("puente"); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(ts.URL)
	st, err := storage.NewS3(storage.S3Config{Endpoint: u.Host, Bucket: "puente", AccessKey: "ak", SecretKey: "sk", Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	testRecordingFileRanges(t, newRecordingEnvOn(t, st))
}

func testRecordingFileRanges(t *testing.T, e *recordingEnv) {
	e.setAccess("registrants")
	b := e.browsers["registrant"]
	file := fmt.Sprintf("/recordings/%d/file", e.recID)
	size := len(e.mp4)

	whole := b.get(file)
	if whole.status != 200 || whole.body != string(e.mp4) || whole.header.Get("Accept-Ranges") != "bytes" ||
		whole.header.Get("Content-Type") != "video/mp4" {
		t.Fatalf("whole file: %d, %d bytes of %d, %v", whole.status, len(whole.body), size, whole.header)
	}
	etag := whole.header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	// A player seeking: one request per jump, the last one open-ended.
	for _, rg := range [][2]int{{0, 1}, {size / 2, size/2 + 999}, {size - 10, -1}} {
		h := fmt.Sprintf("bytes=%d-", rg[0])
		end := size - 1
		if rg[1] >= 0 {
			h, end = fmt.Sprintf("bytes=%d-%d", rg[0], rg[1]), rg[1]
		}
		r := b.do("GET", file, nil, map[string]string{"Range": h})
		if r.status != 206 || r.body != string(e.mp4[rg[0]:end+1]) {
			t.Errorf("%s: %d, %d bytes", h, r.status, len(r.body))
		}
	}
	if r := b.do("GET", file, nil, map[string]string{"Range": fmt.Sprintf("bytes=%d-", size+10)}); r.status != http.StatusRequestedRangeNotSatisfiable ||
		r.header.Get("Content-Range") != fmt.Sprintf("bytes */%d", size) {
		t.Errorf("range past the end: %d %q", r.status, r.header.Get("Content-Range"))
	}
	// Two ranges in one request: multipart/byteranges.
	if r := b.do("GET", file, nil, map[string]string{"Range": "bytes=0-9,100-109"}); r.status != 206 ||
		!strings.HasPrefix(r.header.Get("Content-Type"), "multipart/byteranges") || !strings.Contains(r.body, string(e.mp4[100:110])) {
		t.Errorf("two ranges: %d %q", r.status, r.header.Get("Content-Type"))
	}
	// If-Range with this ETag: the range; with another: the whole (changed) file.
	if r := b.do("GET", file, nil, map[string]string{"Range": "bytes=100-199", "If-Range": etag}); r.status != 206 {
		t.Errorf("If-Range with the current ETag: %d", r.status)
	}
	if r := b.do("GET", file, nil, map[string]string{"Range": "bytes=100-199", "If-Range": `"stale"`}); r.status != 200 || len(r.body) != size {
		t.Errorf("If-Range with a stale ETag: %d, %d bytes", r.status, len(r.body))
	}
	if r := b.do("GET", file, nil, map[string]string{"If-None-Match": etag}); r.status != http.StatusNotModified {
		t.Errorf("If-None-Match: %d", r.status)
	}
	d := b.get(fmt.Sprintf("/recordings/%d/download", e.recID))
	if d.status != 200 || d.body != string(e.mp4) || !strings.HasPrefix(d.header.Get("Content-Disposition"), "attachment") ||
		!strings.Contains(d.header.Get("Content-Disposition"), ".mp4") {
		t.Errorf("download: %d %q", d.status, d.header.Get("Content-Disposition"))
	}
	if !strings.HasPrefix(whole.header.Get("Content-Disposition"), "inline") {
		t.Errorf("file: Content-Disposition %q", whole.header.Get("Content-Disposition"))
	}
	if r := e.browsers[""].do("GET", fmt.Sprintf("/recordings/%d/download", e.recID), nil, map[string]string{"Range": "bytes=0-99"}); r.status != 401 {
		t.Errorf("anonymous download: %d", r.status)
	}
	if r := b.get("/recordings/999999/file"); r.status != 404 {
		t.Errorf("no such recording: %d", r.status)
	}
}

// Chapters from the Q&A at their time from the recording's start; a click seeks (the
// buttons carry the seconds the page script seeks to).
func TestRecordingChapters(t *testing.T) {
	e := newRecordingEnv(t)
	e.setAccess("public")
	var started time.Time
	ctx := context.Background()
	if err := e.store.Pool().QueryRow(ctx, `SELECT started_at FROM recordings WHERE id = $1`, e.recID).Scan(&started); err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct {
		at    time.Duration
		text  string
		state string
	}{{65 * time.Second, "How stable is the brine?", "answered"}, {-time.Minute, "Before the recording", "open"},
		{10 * time.Minute, "Spam", "dismissed"}, {125 * time.Second, "And the cost per tonne?", "open"}} {
		if _, err := e.store.Pool().Exec(ctx, `INSERT INTO live_questions (occurrence_id, text, state, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $4)`, e.occID, q.text, q.state, started.Add(q.at)); err != nil {
			t.Fatal(err)
		}
	}
	r := e.browsers[""].get(fmt.Sprintf("/occurrences/%d/recording", e.occID))
	for _, want := range []string{`data-seek="65"><time>1:05</time></button> How stable is the brine?`,
		`data-seek="125"><time>2:05</time></button> And the cost per tonne?`, `/static/recording.`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	for _, not := range []string{"Before the recording", "Spam"} {
		if strings.Contains(r.body, not) {
			t.Errorf("the page shows %q as a chapter", not)
		}
	}
}

// uploadRecording posts a file to the replace form.
func (c *client) uploadRecording(path string, data []byte, csrf string) response {
	c.e.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	_ = w.WriteField("_csrf", csrf)
	part, _ := w.CreateFormFile("file", "mine.mp4")
	_, _ = part.Write(data)
	_ = w.Close()
	return c.do("POST", path, &body, map[string]string{"Content-Type": w.FormDataContentType()})
}

func TestRecordingReplaceAndDeleteByOrganisersOnly(t *testing.T) {
	e := newRecordingEnv(t)
	e.setAccess("public")
	page := fmt.Sprintf("/occurrences/%d/recording", e.occID)
	replace := fmt.Sprintf("/organise/recordings/%d/replace", e.recID)
	del := fmt.Sprintf("/organise/recordings/%d/delete", e.recID)
	access := fmt.Sprintf("/organise/recordings/%d/access", e.recID)
	file := fmt.Sprintf("/recordings/%d/file", e.recID)
	newMP4 := makeMP4(t, "1")

	org := e.browsers["organiser"]
	r := org.get(page)
	if !strings.Contains(r.body, `id="replace-form-`) || !strings.Contains(r.body, `id="delete-form-`) || !strings.Contains(r.body, `id="recording-settings-form"`) {
		t.Fatal("the organiser's page offers no replace, delete or settings")
	}
	for _, role := range []string{"attendee", "registrant", "other"} {
		b := e.browsers[role]
		if r := b.get(page); strings.Contains(r.body, `id="replace-form-`) || strings.Contains(r.body, `id="delete-form-`) {
			t.Errorf("%s is offered the organisers' tools", role)
		}
		if r := b.uploadRecording(replace, newMP4, b.csrf); r.status != 403 {
			t.Errorf("%s replaces: %d, want 403", role, r.status)
		}
		if r := b.post(del, url.Values{"confirm": {"1"}}); r.status != 403 {
			t.Errorf("%s deletes: %d, want 403", role, r.status)
		}
		if r := b.post(access, url.Values{"access": {"public"}}); r.status != 403 {
			t.Errorf("%s changes access: %d, want 403", role, r.status)
		}
	}
	// Without the CSRF token even the organiser is refused.
	if r := org.uploadRecording(replace, newMP4, "forged"); r.status != 403 {
		t.Errorf("replace without the CSRF token: %d", r.status)
	}
	if r := org.do("POST", del, strings.NewReader("confirm=1"), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); r.status != 403 {
		t.Errorf("delete without the CSRF token: %d", r.status)
	}
	if got := e.browsers[""].get(file); got.body != string(e.mp4) {
		t.Fatal("the file changed after refused requests")
	}

	// Not an MP4, or an MP4 without video: refused, the recording unchanged.
	org.get(page)
	if r := org.uploadRecording(replace, []byte("not a video at all"), org.csrf); r.status != 400 || !strings.Contains(r.body, "not an MP4") {
		t.Errorf("replace with text: %d", r.status)
	}
	// The organiser's own MP4 replaces it; the old file is gone from the storage.
	org.get(page)
	if r := org.uploadRecording(replace, newMP4, org.csrf); r.status != 303 || r.header.Get("Location") != page {
		t.Fatalf("replace: %d %s", r.status, r.body)
	}
	if got := e.browsers[""].get(file); got.status != 200 || got.body != string(newMP4) {
		t.Fatalf("after replace the file is %d bytes, want the new %d", len(got.body), len(newMP4))
	}
	if _, err := e.st.Stat(context.Background(), e.key); err == nil {
		t.Error("the replaced file is still stored")
	}
	rec, err := e.store.RecordingByID(context.Background(), e.recID)
	if err != nil || rec.Status != "ready" || rec.ComposedBytes != int64(len(newMP4)) || rec.Duration < 900*time.Millisecond || rec.Duration > 1200*time.Millisecond {
		t.Errorf("after replace: %+v %v", rec, err)
	}
	if k := e.logKinds(e.recID); !strings.Contains(strings.Join(k, ","), "replaced") {
		t.Errorf("log %v has no replaced", k)
	}

	// Access: the organiser narrows it; an attendee loses the file at once.
	org.get(page)
	if r := org.post(access, url.Values{"access": {"organisers"}}); r.status != 303 {
		t.Fatalf("access: %d", r.status)
	}
	if r := e.browsers["attendee"].get(file); r.status != 403 {
		t.Errorf("attendee after access narrowed: %d", r.status)
	}

	// Delete: a confirmation page first, then gone for everyone, file included.
	org.get(page)
	r = org.post(del, url.Values{})
	if r.status != 200 || !strings.Contains(r.body, `id="delete-confirm-form"`) {
		t.Fatalf("delete without confirming: %d", r.status)
	}
	if r := org.post(del, url.Values{"confirm": {"1"}, "step": {"confirm"}}); r.status != 303 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := org.get(file); r.status != 404 {
		t.Errorf("file after delete: %d", r.status)
	}
	if r := e.browsers["admin"].get(page); strings.Contains(r.body, "data-player") || !strings.Contains(r.body, `id="no-recording"`) {
		t.Error("the page still shows the deleted recording")
	}
	rec, _ = e.store.RecordingByID(context.Background(), e.recID)
	if rec.Status != "deleted" || rec.ComposedKey != "" {
		t.Errorf("after delete: %+v", rec)
	}
	entries, _ := os.ReadDir(filepath.Join(e.st.(*storage.Local).Root(), "recordings", strconv.FormatInt(e.recID, 10)))
	if len(entries) != 0 {
		t.Errorf("files left after delete: %v", entries)
	}
	if k := e.logKinds(e.recID); k[len(k)-1] != "deleted" {
		t.Errorf("log %v does not end with deleted", k)
	}
}

// The retention period, set on the page by an organiser, deletes a recording older than
// it (row and file) and keeps a newer one.
func TestRecordingRetention(t *testing.T) {
	e := newRecordingEnv(t)
	org := e.browsers["organiser"]
	page := fmt.Sprintf("/occurrences/%d/recording", e.occID)
	settings := fmt.Sprintf("/organise/events/%d/recording-settings", e.seriesID)
	e.browsers["other"].get(page)
	if r := e.browsers["other"].post(settings, url.Values{"default_access": {"public"}, "retention_days": {"1"}}); r.status != 403 {
		t.Errorf("another organiser sets retention: %d", r.status)
	}
	org.get(page)
	if r := org.post(settings, url.Values{"default_access": {"public"}, "retention_days": {"99999"}}); r.status != 400 {
		t.Errorf("retention of 99999 days: %d", r.status)
	}
	if r := org.post(settings, url.Values{"default_access": {"organisers"}, "retention_days": {"30"}, "back": {page}}); r.status != 303 || r.header.Get("Location") != page {
		t.Fatalf("settings: %d %s", r.status, r.header.Get("Location"))
	}
	rs, err := e.store.EventRecordingSettings(context.Background(), e.seriesID)
	if err != nil || rs.RetentionDays != 30 || rs.Access != "organisers" {
		t.Fatalf("settings stored: %+v %v", rs, err)
	}
	oldID, oldKey := e.addRecording(e.now.Add(-40*24*time.Hour), e.mp4)
	newID, newKey := e.recID, e.key // started an hour ago

	key := make([]byte, 32)
	_, _ = rand.Read(key)
	uc, err := app.New(app.Options{Store: e.store, LinkKey: key, Recordings: e.st, Now: func() time.Time { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	expired, removed, err := uc.ExpireRecordings(context.Background())
	if err != nil || expired != 1 || removed != 1 {
		t.Fatalf("ExpireRecordings: %d expired, %d removed, %v", expired, removed, err)
	}
	old, _ := e.store.RecordingByID(context.Background(), oldID)
	if old.Status != "deleted" {
		t.Errorf("old recording: %s", old.Status)
	}
	if _, err := e.st.Stat(context.Background(), oldKey); err == nil {
		t.Error("the old recording's file is still stored")
	}
	if k := e.logKinds(oldID); len(k) == 0 || k[len(k)-1] != "deleted" {
		t.Errorf("old recording's log: %v", k)
	}
	kept, _ := e.store.RecordingByID(context.Background(), newID)
	if kept.Status != "ready" {
		t.Errorf("new recording: %s", kept.Status)
	}
	if _, err := e.st.Stat(context.Background(), newKey); err != nil {
		t.Errorf("the new recording's file: %v", err)
	}
	// Running again changes nothing.
	if expired, removed, err := uc.ExpireRecordings(context.Background()); err != nil || expired != 0 || removed != 0 {
		t.Errorf("second run: %d, %d, %v", expired, removed, err)
	}
}

// While composing the page shows the job's progress; a failed recording shows its reason
// to the organisers and nothing to others.
func TestRecordingProgressAndFailure(t *testing.T) {
	e := newRecordingEnv(t)
	ctx := context.Background()
	pool := e.store.Pool()
	if _, err := pool.Exec(ctx, `UPDATE recordings SET status = 'deleted' WHERE id = $1`, e.recID); err != nil {
		t.Fatal(err)
	}
	var composing, failed int64
	if err := pool.QueryRow(ctx, `INSERT INTO recordings (occurrence_id, status, started_at, access, created_at, updated_at)
		VALUES ($1, 'composing', $2, 'public', $2, $2) RETURNING id`, e.occID, e.now).Scan(&composing); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO recording_jobs (recording_id, status, progress, next_attempt_at, created_at, updated_at)
		VALUES ($1, 'running', 0.42, $2, $2, $2)`, composing, e.now); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `INSERT INTO recordings (occurrence_id, status, started_at, access, failure, created_at, updated_at)
		VALUES ($1, 'failed', $2, 'public', 'ffmpeg exited with status 1', $2, $2) RETURNING id`, e.occID, e.now.Add(-time.Hour)).Scan(&failed); err != nil {
		t.Fatal(err)
	}
	page := fmt.Sprintf("/occurrences/%d/recording", e.occID)
	for _, role := range []string{"", "attendee", "organiser"} {
		r := e.browsers[role].get(page)
		if !strings.Contains(r.body, fmt.Sprintf(`id="composing-%d"`, composing)) || !strings.Contains(r.body, `value="42"`) {
			t.Errorf("%q: no progress shown", role)
		}
		if got := strings.Contains(r.body, "ffmpeg exited with status 1"); got != (role == "organiser") {
			t.Errorf("%q: failure reason shown: %v", role, got)
		}
		if r := e.browsers[role].get(fmt.Sprintf("/recordings/%d/file", composing)); r.status != 404 {
			t.Errorf("%q: file of a recording being composed: %d", role, r.status)
		}
	}
}
