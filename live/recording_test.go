package live_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/live"
	"github.com/puente-org/puente/sfu"
	"github.com/puente-org/puente/store"
	"github.com/puente-org/puente/store/livestore"
)

// fakeRecorder is the media side of recording at its interface: it notes what the room
// told it (the capture itself is tested in its own package).
type fakeRecorder struct {
	mu       sync.Mutex
	calls    []string
	on       map[string]bool // participant → last word
	segments []int
	stops    int
	onStop   func() // called at Stop, before it returns
}

func (f *fakeRecorder) Start(_ context.Context, rec domain.Recording, segment int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("start %d/%d", rec.ID, segment))
	f.segments = append(f.segments, segment)
	return nil
}

func (f *fakeRecorder) Record(participant string, _ int64, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("record %s %v", participant, on))
	f.on[participant] = on
}

func (f *fakeRecorder) Stop(context.Context) error {
	f.mu.Lock()
	f.calls = append(f.calls, "stop")
	f.stops++
	onStop := f.onStop
	f.mu.Unlock()
	if onStop != nil {
		onStop()
	}
	return nil
}

// word is the recorder's last word on a participant: "on", "off" or "" (never told).
func (f *fakeRecorder) word(participant string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	on, ok := f.on[participant]
	switch {
	case !ok:
		return ""
	case on:
		return "on"
	}
	return "off"
}

func (f *fakeRecorder) snapshot() (segments []int, stops int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.segments), f.stops
}

func newRecordingEnv(t *testing.T) (*env, *fakeRecorder) {
	t.Helper()
	rec := &fakeRecorder{on: map[string]bool{}}
	e := newEnvWith(t, func(o *live.Options) {
		o.Recordings = o.Store.(livestore.Rooms)
		o.NewRecorder = func(int64, *sfu.Room) live.Recorder { return rec }
	})
	return e, rec
}

func errorCode(code string) func(msg) bool { return func(m msg) bool { return m.str("code") == code } }

func recordingState(state string) func(msg) bool {
	return func(m msg) bool { return m.str("state") == state }
}

func declined(m msg) []string {
	var out []string
	list, _ := m["declined"].([]any)
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("not within 10 s: %s", what)
}

// onlyRecording is the occurrence's one recording (the test fails when there are more).
func (e *env) onlyRecording(occ int64) (id int64, status string) {
	e.t.Helper()
	if err := e.pool.QueryRow(context.Background(), `SELECT id, status FROM recordings WHERE occurrence_id = $1`, occ).Scan(&id, &status); err != nil {
		e.t.Fatalf("the occurrence's recording: %v", err)
	}
	return id, status
}

func (e *env) recordingLog(id int64) []store.RecordingEvent {
	e.t.Helper()
	log, err := e.store.RecordingEvents(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return log
}

func (e *env) jobs(id int64) int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM recording_jobs WHERE recording_id = $1`, id).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// A host starts recording: everyone, and a late joiner right after its welcome, sees it on.
// An attendee cannot start or stop it; starting twice and stopping when not recording are
// refused with their own codes. A speaker who declines is left out by the recorder (and
// everyone sees who declined); stopping logs who started and who stopped and queues
// exactly one composition.
func TestRecordingInTheRoom(t *testing.T) {
	e, rec := newRecordingEnv(t)
	host := e.join("host", live.RoleHost)
	speaker := e.join("speaker", live.RoleSpeaker)
	ana := e.join("ana", live.RoleAttendee)
	for _, c := range []*client{host, speaker, ana} {
		if m := c.expect("recording"); m.str("state") != "off" || len(declined(m)) != 0 {
			t.Fatalf("%s: state at join %v", c.name, m)
		}
	}

	ana.send(map[string]any{"type": "record", "ref": "a1", "action": "start"})
	if m := ana.expectWhere("error", errorCode("forbidden")); m.str("ref") != "a1" || m.str("message") != "Only a host can start or stop recording." {
		t.Fatalf("attendee's start: %v", m)
	}
	host.send(map[string]any{"type": "record", "ref": "h0", "action": "stop"})
	if m := host.expectWhere("error", errorCode("not_recording")); m.str("ref") != "h0" {
		t.Fatalf("stop when not recording: %v", m)
	}

	host.send(map[string]any{"type": "record", "ref": "h1", "action": "start"})
	for _, c := range []*client{host, speaker, ana} {
		m := c.expectWhere("recording", recordingState("on"))
		if m.str("started_by") != "Host" || m.str("since") == "" {
			t.Fatalf("%s: %v", c.name, m)
		}
	}
	recID, status := e.onlyRecording(e.occ)
	if status != "recording" {
		t.Fatalf("stored status %s", status)
	}
	for _, c := range []*client{host, speaker, ana} {
		if w := rec.word(c.id); w != "on" {
			t.Errorf("recorder's word on %s: %q", c.name, w)
		}
	}
	if segs, _ := rec.snapshot(); !slices.Equal(segs, []int{1}) {
		t.Fatalf("recorder started with segments %v", segs)
	}

	host.send(map[string]any{"type": "record", "ref": "h2", "action": "start"})
	if m := host.expectWhere("error", errorCode("already_recording")); m.str("ref") != "h2" {
		t.Fatalf("second start: %v", m)
	}
	ana.send(map[string]any{"type": "record", "ref": "a2", "action": "stop"})
	ana.expectWhere("error", errorCode("forbidden"))

	// A late joiner is told as it enters, and the recorder hears of it.
	ben := e.join("ben", live.RoleAttendee)
	if m := ben.expect("recording"); m.str("state") != "on" || m.str("started_by") != "Host" {
		t.Fatalf("late joiner: %v", m)
	}
	waitFor(t, "the recorder records ben", func() bool { return rec.word(ben.id) == "on" })

	// The speaker declines: still in the room, left out of the recording; everyone sees it.
	speaker.send(map[string]any{"type": "record_consent", "decline": true})
	for _, c := range []*client{host, speaker, ana, ben} {
		m := c.expectWhere("recording", func(m msg) bool { return len(declined(m)) == 1 })
		if m.str("state") != "on" || declined(m)[0] != speaker.id {
			t.Fatalf("%s: after the decline %v", c.name, m)
		}
	}
	if w := rec.word(speaker.id); w != "off" {
		t.Fatalf("recorder's word on the speaker after the decline: %q", w)
	}
	if w := rec.word(host.id); w != "on" {
		t.Fatalf("recorder's word on the host after the speaker's decline: %q", w)
	}

	// The capture stops before the recording is stored as stopped (and its composition
	// queued): the composition never meets a file still being written.
	var statusAtStop string
	rec.mu.Lock()
	rec.onStop = func() { _, statusAtStop = e.onlyRecording(e.occ) }
	rec.mu.Unlock()
	host.send(map[string]any{"type": "record", "ref": "h3", "action": "stop"})
	for _, c := range []*client{host, speaker, ana, ben} {
		c.expectWhere("recording", recordingState("off"))
	}
	if _, stops := rec.snapshot(); stops != 1 {
		t.Fatalf("recorder stopped %d times", stops)
	}
	if statusAtStop != "recording" {
		t.Fatalf("the recording was %q when the capture stopped, want still recording", statusAtStop)
	}
	if _, status := e.onlyRecording(e.occ); status != "stopped" {
		t.Fatalf("stored status after stop: %s", status)
	}
	if n := e.jobs(recID); n != 1 {
		t.Fatalf("%d composition jobs, want 1", n)
	}
	log := e.recordingLog(recID)
	want := []struct {
		kind   string
		person int64
	}{{"started", e.people["host"].ID}, {"declined", e.people["speaker"].ID}, {"stopped", e.people["host"].ID}}
	if len(log) != len(want) {
		t.Fatalf("log: %+v", log)
	}
	for i, w := range want {
		if log[i].Kind != w.kind || log[i].PersonID != w.person {
			t.Errorf("log[%d] = %+v, want %s by %d", i, log[i], w.kind, w.person)
		}
	}
	host.send(map[string]any{"type": "record", "ref": "h4", "action": "stop"})
	host.expectWhere("error", errorCode("not_recording"))
	if n := e.jobs(recID); n != 1 {
		t.Fatalf("%d composition jobs after a second stop, want 1", n)
	}
}

// A decline said before the recording holds when it starts, and is logged then; undoing it
// puts the speaker back in.
func TestDeclineBeforeRecordingAndUndo(t *testing.T) {
	e, rec := newRecordingEnv(t)
	host := e.join("host", live.RoleHost)
	speaker := e.join("speaker", live.RoleSpeaker)
	speaker.send(map[string]any{"type": "record_consent", "decline": true})
	if m := host.expectWhere("recording", func(m msg) bool { return len(declined(m)) == 1 }); m.str("state") != "off" {
		t.Fatalf("decline before recording: %v", m)
	}
	host.send(map[string]any{"type": "record", "action": "start"})
	host.expectWhere("recording", recordingState("on"))
	if rec.word(speaker.id) != "off" || rec.word(host.id) != "on" {
		t.Fatalf("at start: speaker %q host %q", rec.word(speaker.id), rec.word(host.id))
	}
	speaker.send(map[string]any{"type": "record_consent", "decline": false})
	host.expectWhere("recording", func(m msg) bool { return m.str("state") == "on" && len(declined(m)) == 0 })
	if rec.word(speaker.id) != "on" {
		t.Fatalf("after consenting again: %q", rec.word(speaker.id))
	}
	id, _ := e.onlyRecording(e.occ)
	log := e.recordingLog(id)
	if len(log) != 3 || log[0].Kind != "started" || log[1].Kind != "declined" || log[2].Kind != "consented" || log[2].PersonID != e.people["speaker"].ID {
		t.Fatalf("log: %+v", log)
	}
}

// The session ending while recording stops the recording: everyone leaving closes the room
// (stopped by nobody, with why); a host ending the session (stopped by that host).
func TestRecordingStopsWithTheSession(t *testing.T) {
	e, rec := newRecordingEnv(t)
	host := e.join("host", live.RoleHost)
	ana := e.join("ana", live.RoleAttendee)
	host.send(map[string]any{"type": "record", "action": "start"})
	ana.expectWhere("recording", recordingState("on"))
	id, _ := e.onlyRecording(e.occ)
	ana.close()
	host.close()
	waitFor(t, "the room closes", func() bool { return e.currentHub().Rooms() == 0 })
	waitFor(t, "the recording stops", func() bool { _, s := e.onlyRecording(e.occ); return s == "stopped" })
	log := e.recordingLog(id)
	if last := log[len(log)-1]; last.Kind != "stopped" || last.PersonID != 0 || last.Detail == "" {
		t.Fatalf("stop logged as %+v", last)
	}
	if n := e.jobs(id); n != 1 {
		t.Fatalf("%d composition jobs", n)
	}
	if _, stops := rec.snapshot(); stops != 1 {
		t.Fatalf("recorder stopped %d times", stops)
	}

	// Again, and the host ends the session.
	host = e.join("host", live.RoleHost)
	host.send(map[string]any{"type": "record", "action": "start"})
	host.expectWhere("recording", recordingState("on"))
	var second int64
	if err := e.pool.QueryRow(context.Background(), `SELECT id FROM recordings WHERE occurrence_id = $1 AND status = 'recording'`, e.occ).Scan(&second); err != nil {
		t.Fatal(err)
	}
	host.send(map[string]any{"type": "end"})
	if !host.sawBye("ended") {
		t.Fatal("no bye ended")
	}
	log = e.recordingLog(second)
	if last := log[len(log)-1]; last.Kind != "stopped" || last.PersonID != e.people["host"].ID {
		t.Fatalf("end logged as %+v", last)
	}
	if n := e.jobs(second); n != 1 {
		t.Fatalf("%d composition jobs for the second recording", n)
	}
}

// A server restart closes the capture and goes on as a new segment when the room comes
// back; a recording whose room does not come back is stopped by nobody.
func TestRecordingAcrossRestart(t *testing.T) {
	e, rec := newRecordingEnv(t)
	host := e.join("host", live.RoleHost)
	host.send(map[string]any{"type": "record", "action": "start"})
	host.expectWhere("recording", recordingState("on"))
	id, _ := e.onlyRecording(e.occ)
	// Another session left recording with nobody in its room.
	other := e.otherOccurrence()
	orphan, err := e.store.StartRecording(context.Background(), other, e.people["host"].ID)
	if err != nil {
		t.Fatal(err)
	}
	token := host.resumeToken()
	e.restartHub()
	if !host.sawBye("shutdown") {
		t.Fatal("no bye shutdown")
	}
	segs, stops := rec.snapshot()
	if stops != 1 || !slices.Equal(segs, []int{1, 2}) {
		t.Fatalf("after the restart: segments %v, stops %d", segs, stops)
	}
	if _, s := e.onlyRecording(e.occ); s != "recording" {
		t.Fatalf("the room's recording is %s after the restart", s)
	}
	log := e.recordingLog(id)
	if last := log[len(log)-1]; last.Kind != "segment" {
		t.Fatalf("log after the restart: %+v", log)
	}
	if _, s := e.onlyRecording(other); s != "stopped" {
		t.Fatalf("the orphan recording is %s", s)
	}
	olog := e.recordingLog(orphan.ID)
	if last := olog[len(olog)-1]; last.Kind != "stopped" || last.PersonID != 0 || last.Detail == "" {
		t.Fatalf("orphan's stop: %+v", last)
	}
	// The host comes back and sees the recording on.
	host2 := e.dialResume("host", token, 0)
	host2.expect("welcome")
	if m := host2.expect("recording"); m.str("state") != "on" || m.str("started_by") != "Host" {
		t.Fatalf("after the resume: %v", m)
	}
	waitFor(t, "the recorder records the host again", func() bool { return rec.word(host.id) == "on" })
}

// With StopRecordingOnShutdown the process's stop ends the recording (by nobody, with why)
// and queues its composition; the next process does not resume it.
func TestRecordingStoppedOnShutdown(t *testing.T) {
	rec := &fakeRecorder{on: map[string]bool{}}
	e := newEnvWith(t, func(o *live.Options) {
		o.Recordings = o.Store.(livestore.Rooms)
		o.NewRecorder = func(int64, *sfu.Room) live.Recorder { return rec }
		o.StopRecordingOnShutdown = true
	})
	host := e.join("host", live.RoleHost)
	host.send(map[string]any{"type": "record", "action": "start"})
	host.expectWhere("recording", recordingState("on"))
	id, _ := e.onlyRecording(e.occ)
	e.restartHub()
	if _, s := e.onlyRecording(e.occ); s != "stopped" {
		t.Fatalf("after shutdown: %s", s)
	}
	log := e.recordingLog(id)
	if last := log[len(log)-1]; last.Kind != "stopped" || last.PersonID != 0 || last.Detail != "the server shut down" {
		t.Fatalf("stop logged as %+v", last)
	}
	if n := e.jobs(id); n != 1 {
		t.Fatalf("%d composition jobs", n)
	}
	if segs, stops := rec.snapshot(); !slices.Equal(segs, []int{1}) || stops != 1 {
		t.Fatalf("recorder: segments %v, stops %d", segs, stops)
	}
}
