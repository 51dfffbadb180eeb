package store_test

import (
	"context"
	"sync"
	"testing"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
)

// A host starts a recording; a second start is refused while it runs; stopping logs who
// stopped, queues exactly one composition job, and a second stop is refused.
func TestStartStopRecording(t *testing.T) {
	ctx := context.Background()
	s, _, occA, _, p := roomFixture(t)
	if _, ok, err := s.RunningRecording(ctx, occA); err != nil || ok {
		t.Fatalf("running before any start: %v %v", ok, err)
	}
	if _, err := s.StopRecording(ctx, occA, p.organiser, ""); errID(err) != "err.recording.room.not_recording" || domain.ErrorCode(err) != domain.CodeConflict {
		t.Fatalf("stop when not recording: %v", err)
	}
	rec, err := s.StartRecording(ctx, occA, p.organiser)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != domain.RecordingRunning || rec.StartedBy != p.organiser || rec.OccurrenceID != occA || rec.TrackDir == "" || rec.Access != domain.RecordingRegistrants {
		t.Fatalf("started: %+v", rec)
	}
	if _, err := s.StartRecording(ctx, occA, p.admin); errID(err) != "err.recording.room.already_recording" {
		t.Fatalf("second start: %v", err)
	}
	if _, err := s.StartRecording(ctx, 99999999, p.admin); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Fatalf("start of no occurrence: %v", err)
	}
	got, ok, err := s.RunningRecording(ctx, occA)
	if err != nil || !ok || got.ID != rec.ID {
		t.Fatalf("running: %+v %v %v", got, ok, err)
	}
	if err := s.AddRecordingEvent(ctx, rec.ID, store.RecordingEventDeclined, "", p.speaker); err != nil {
		t.Fatal(err)
	}
	if err := s.AddRecordingEvent(ctx, rec.ID, store.RecordingEventConsented, "", p.speaker); err != nil {
		t.Fatal(err)
	}
	if err := s.AddRecordingEvent(ctx, rec.ID, store.RecordingEventDeclined, "", p.ana); err != nil {
		t.Fatal(err)
	}
	if err := s.AddRecordingEvent(ctx, rec.ID, "danced", "", p.ana); err == nil {
		t.Fatal("an unknown kind was logged")
	}
	declines, err := s.RecordingDeclines(ctx, rec.ID)
	if err != nil || len(declines) != 2 || declines[p.speaker] || !declines[p.ana] {
		t.Fatalf("declines: %v %v", declines, err)
	}
	stopped, err := s.StopRecording(ctx, occA, p.admin, "")
	if err != nil {
		t.Fatal(err)
	}
	if stopped.Status != domain.RecordingStopped || stopped.StoppedBy != p.admin || stopped.StoppedAt == nil || stopped.StartedBy != p.organiser {
		t.Fatalf("stopped: %+v", stopped)
	}
	if _, err := s.StopRecording(ctx, occA, p.admin, ""); errID(err) != "err.recording.room.not_recording" {
		t.Fatalf("second stop: %v", err)
	}
	var jobs int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM recording_jobs WHERE recording_id = $1 AND status = 'queued'`, rec.ID).Scan(&jobs); err != nil || jobs != 1 {
		t.Fatalf("composition jobs: %d %v", jobs, err)
	}
	log, err := s.RecordingEvents(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		kind   string
		person int64
	}{{"started", p.organiser}, {"declined", p.speaker}, {"consented", p.speaker}, {"declined", p.ana}, {"stopped", p.admin}}
	if len(log) != len(want) {
		t.Fatalf("log: %+v", log)
	}
	for i, w := range want {
		if log[i].Kind != w.kind || log[i].PersonID != w.person {
			t.Errorf("log[%d] = %+v, want %s by %d", i, log[i], w.kind, w.person)
		}
	}
	if _, err := s.ResumeSegment(ctx, rec.ID); errID(err) != "err.recording.room.not_recording" {
		t.Fatalf("resume of a stopped recording: %v", err)
	}
	// A new recording of the same session may start once the first stopped.
	if _, err := s.StartRecording(ctx, occA, p.organiser); err != nil {
		t.Fatalf("start after stop: %v", err)
	}
}

// Two hosts starting at once: exactly one recording starts, the other gets the conflict.
func TestStartRecordingRace(t *testing.T) {
	ctx := context.Background()
	s, _, occA, _, p := roomFixture(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, conflicts := 0, 0
	var other []error
	for i := range 8 {
		who := p.organiser
		if i%2 == 1 {
			who = p.admin
		}
		wg.Go(func() {
			_, err := s.StartRecording(ctx, occA, who)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errID(err) == "err.recording.room.already_recording":
				conflicts++
			default:
				other = append(other, err)
			}
		})
	}
	wg.Wait()
	if wins != 1 || conflicts != 7 || len(other) != 0 {
		t.Fatalf("wins %d, conflicts %d, other %v", wins, conflicts, other)
	}
	var n int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM recording_events e JOIN recordings r ON r.id = e.recording_id
		WHERE r.occurrence_id = $1 AND e.kind = 'started'`, occA).Scan(&n); err != nil || n != 1 {
		t.Fatalf("started events: %d %v", n, err)
	}
}

// After a restart a running recording continues as segment 2, 3, …; the server stops one
// whose room did not come back, by nobody, with the reason.
func TestResumeSegmentAndStopByNobody(t *testing.T) {
	ctx := context.Background()
	s, _, occA, occB, p := roomFixture(t)
	a, err := s.StartRecording(ctx, occA, p.organiser)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.StartRecording(ctx, occB, p.organiser)
	if err != nil {
		t.Fatal(err)
	}
	for want := 2; want <= 3; want++ {
		if n, err := s.ResumeSegment(ctx, a.ID); err != nil || n != want {
			t.Fatalf("segment: %d %v, want %d", n, err, want)
		}
	}
	running, err := s.RunningRecordings(ctx)
	if err != nil || len(running) != 2 || running[0].ID != a.ID || running[1].ID != b.ID {
		t.Fatalf("running: %+v %v", running, err)
	}
	stopped, err := s.StopRecording(ctx, occB, 0, "the server restarted and the room did not come back")
	if err != nil || stopped.StoppedBy != 0 {
		t.Fatalf("stop by nobody: %+v %v", stopped, err)
	}
	log, err := s.RecordingEvents(ctx, b.ID)
	if err != nil || len(log) != 2 || log[1].Kind != "stopped" || log[1].PersonID != 0 || log[1].Detail == "" {
		t.Fatalf("log: %+v %v", log, err)
	}
	logA, err := s.RecordingEvents(ctx, a.ID)
	if err != nil || len(logA) != 3 || logA[1].Kind != "segment" || logA[2].Kind != "segment" {
		t.Fatalf("log of a: %+v %v", logA, err)
	}
}

// A recording's files carry the session's metadata: its title, series, date, speakers and
// the consent record.
func TestRecordingMetadata(t *testing.T) {
	ctx := context.Background()
	s, _, occA, _, p := roomFixture(t)
	rec, err := s.StartRecording(ctx, occA, p.organiser)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddRecordingEvent(ctx, rec.ID, store.RecordingEventDeclined, "", p.speaker); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StopRecording(ctx, occA, p.ana, ""); err != nil {
		t.Fatal(err)
	}
	l, err := s.OccurrenceByID(ctx, occA)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.RecordingMetadata(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	ana, _ := s.RoomName(ctx, occA, p.ana)
	org, _ := s.RoomName(ctx, occA, p.organiser)
	if m.Event != l.Event.Title || m.Title == "" || !m.Date.Equal(l.Occurrence.Start) || len(m.Speakers) != 2 || m.Speakers[0] != "Dra Speaker" ||
		m.StartedBy != org || m.StoppedBy != ana || m.Declined != 1 {
		t.Fatalf("metadata: %+v", m)
	}
	tags := m.Tags()
	if tags["album"] != l.Event.Title || tags["artist"] != "Dra Speaker, No Account" || tags["date"] != l.Occurrence.Start.UTC().Format("2006-01-02") ||
		tags["comment"] == "" || tags["title"] != m.Title {
		t.Fatalf("tags: %v", tags)
	}
	if _, err := s.RecordingMetadata(ctx, 99999999); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Fatalf("metadata of no recording: %v", err)
	}
}
