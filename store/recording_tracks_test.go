package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/puente-org/puente/domain"
)

// A recorded track is entered incomplete when its file starts, and its end (size, length,
// alignment, problem) is written when it closes; the recording's log keeps dropped tracks.
func TestRecordingTracks(t *testing.T) {
	ctx := context.Background()
	s, clk, occA, _, ana := liveStoreFixture(t)
	var recID int64
	if err := s.Pool().QueryRow(ctx, `INSERT INTO recordings (occurrence_id, started_by, started_at, created_at, updated_at)
		VALUES ($1, $2, $3, $3, $3) RETURNING id`, occA, ana.ID, clk.Now()).Scan(&recID); err != nil {
		t.Fatal(err)
	}
	if n, err := s.NextRecordingSegment(ctx, recID); err != nil || n != 1 {
		t.Fatalf("first segment: %d %v", n, err)
	}
	cam := domain.RecordedTrack{RecordingID: recID, Segment: 1, PersonID: ana.ID, Participant: "p-ana", Source: domain.SourceCamera,
		Kind: "video", Codec: "video/VP8", File: "s1-p-ana-camera-1.webm", ClockRate: 90000}
	id, err := s.AddTrack(ctx, cam)
	if err != nil || id == 0 {
		t.Fatalf("add: %d %v", id, err)
	}
	mic := domain.RecordedTrack{RecordingID: recID, Segment: 2, Participant: "p-guest", Source: domain.SourceMicrophone,
		Kind: "audio", Codec: "audio/opus", File: "s2-p-guest-microphone-2.webm", ClockRate: 48000}
	micID, err := s.AddTrack(ctx, mic)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.NextRecordingSegment(ctx, recID); err != nil || n != 3 {
		t.Fatalf("after segment 2: %d %v", n, err)
	}
	list, err := s.RecordingTracks(ctx, recID)
	if err != nil || len(list) != 2 || list[0].ID != id || list[0].Complete || list[0].PersonID != ana.ID || list[1].PersonID != 0 ||
		list[0].ClockRate != 90000 || list[0].SRRTP != nil || !list[0].FirstAt.IsZero() {
		t.Fatalf("entered: %+v %v", list, err)
	}

	first := time.Date(2026, 3, 1, 12, 0, 1, 250_000_000, time.UTC)
	srNTP := time.Date(2026, 3, 1, 12, 0, 2, 0, time.UTC)
	srRTP := uint32(4_000_000_000) // beyond int32: stored without loss
	cam.ID, cam.Bytes, cam.Duration, cam.Complete = id, 123456, 2960*time.Millisecond, true
	cam.FirstRTP, cam.FirstAt, cam.SRRTP, cam.SRNTP = 3_999_000_000, first, &srRTP, &srNTP
	if err := s.FinishTrack(ctx, cam); err != nil {
		t.Fatal(err)
	}
	mic.ID, mic.File, mic.Problem, mic.Bytes = micID, "s2-p-guest-microphone-2.webm.partial", "no space left on device", 4096
	if err := s.FinishTrack(ctx, mic); err != nil {
		t.Fatal(err)
	}
	list, err = s.RecordingTracks(ctx, recID)
	if err != nil || len(list) != 2 {
		t.Fatal(err)
	}
	got := list[0]
	if !got.Complete || got.Bytes != 123456 || got.Duration != 2960*time.Millisecond || got.FirstRTP != 3_999_000_000 ||
		!got.FirstAt.Equal(first) || got.SRRTP == nil || *got.SRRTP != srRTP || got.SRNTP == nil || !got.SRNTP.Equal(srNTP) {
		t.Fatalf("finished camera: %+v", got)
	}
	if m := list[1]; m.Complete || m.Problem != "no space left on device" || !strings.HasSuffix(m.File, ".partial") || m.Segment != 2 {
		t.Fatalf("finished microphone: %+v", m)
	}
	// An unknown track is not found.
	if err := s.FinishTrack(ctx, domain.RecordedTrack{ID: micID + 100}); code(err) != domain.CodeNotFound {
		t.Fatalf("unknown track: %v", err)
	}

	if err := s.LogRecordingEvent(ctx, recID, "track_dropped", "camera of p-ana: dropped", ana.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.LogRecordingEvent(ctx, recID, "no_such_kind", "", 0); err == nil {
		t.Fatal("an unknown kind was logged")
	}
	var kind, detail string
	var person int64
	if err := s.Pool().QueryRow(ctx, `SELECT kind, detail, person_id FROM recording_events WHERE recording_id = $1`, recID).
		Scan(&kind, &detail, &person); err != nil || kind != "track_dropped" || person != ana.ID || detail != "camera of p-ana: dropped" {
		t.Fatalf("log: %q %q %d %v", kind, detail, person, err)
	}
}
