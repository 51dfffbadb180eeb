package capture_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/recording/capture"
	"github.com/puente-org/puente/recording/mediatest"
	"github.com/puente-org/puente/recording/trackfile"
	"github.com/puente-org/puente/store"
	"github.com/puente-org/puente/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// The store is the capture's Sink.
var _ capture.Sink = (*store.Store)(nil)

// recordingFixture is a store on a fresh database with one running recording of a session.
func recordingFixture(t *testing.T) (*store.Store, int64, domain.Person) {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)
	s := store.New(pgtest.New(t), func() time.Time { return now })
	org, err := s.CreatePerson(ctx, store.NewPerson{Email: "org@example.org", IsOrganiser: true})
	if err != nil {
		t.Fatal(err)
	}
	ana, err := s.CreatePerson(ctx, store.NewPerson{Email: "ana@example.org", Name: "Ana"})
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.CreateEvent(ctx, domain.Event{Kind: domain.KindSeries, Slug: "rec", Title: "Rec", Language: "en",
		Visibility: "public", TimeZone: "UTC", StartDate: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC), StartTime: "20:00",
		Duration: time.Hour, RRule: "FREQ=WEEKLY;COUNT=1", Registration: "open", Tags: []string{}}, org.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	occs, err := s.Occurrences(ctx, store.OccurrenceFilter{EventID: e.ID})
	if err != nil || len(occs) != 1 {
		t.Fatalf("occurrences: %v %d", err, len(occs))
	}
	var id int64
	if err := s.Pool().QueryRow(ctx, `INSERT INTO recordings (occurrence_id, started_by, started_at, created_at, updated_at)
		VALUES ($1, $2, $3, $3, $3) RETURNING id`, occs[0].Occurrence.ID, org.ID, now).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return s, id, ana
}

// A track fed through its Tap is written and entered in PostgreSQL with its file, size,
// length, alignment and sender report; an H.264 track is refused and logged; nothing is
// added after Stop.
func TestCaptureIntoStore(t *testing.T) {
	ctx := context.Background()
	s, recID, ana := recordingFixture(t)
	dir := t.TempDir()
	c, err := capture.New(capture.Options{Dir: dir, RecordingID: recID, Segment: 2, Sink: s})
	if err != nil {
		t.Fatal(err)
	}
	vp8 := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96}
	tap, err := c.AddTrack(ctx, capture.TrackInfo{PersonID: ana.ID, Participant: "p/ana 1", Source: domain.SourceCamera, Codec: vp8})
	if err != nil {
		t.Fatal(err)
	}
	h264 := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000}}
	if _, err := c.AddTrack(ctx, capture.TrackInfo{PersonID: ana.ID, Participant: "p-ana", Source: domain.SourceScreen, Codec: h264}); !errors.Is(err, trackfile.ErrUnsupportedCodec) {
		t.Fatalf("H.264: %v", err)
	}

	frames := mediatest.VP8(t, 2)
	p := rtp.NewPacketizer(1200, 96, 0x55, &codecs.VP8Payloader{EnablePictureID: true}, rtp.NewRandomSequencer(), 90000)
	ts := uint32(123456)
	for _, f := range frames {
		for _, pk := range p.Packetize(f.Data, 0) {
			pk.Timestamp = ts
			tap.Packet(pk)
			clear(pk.Payload) // the SFU reuses its buffers: the tap must have copied
		}
		ts += 3000
		time.Sleep(time.Millisecond) // a queue of 1024 is not meant for a whole file at once
	}
	srAt := time.Date(2026, 12, 7, 20, 0, 1, 0, time.UTC)
	tap.SenderReport(123456+90000, srAt)
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	tap.Packet(&rtp.Packet{}) // after the end: ignored
	tap.Close()               // twice: harmless
	if _, err := c.AddTrack(ctx, capture.TrackInfo{Participant: "late", Source: domain.SourceMicrophone, Codec: vp8}); !errors.Is(err, capture.ErrStopped) {
		t.Fatalf("after Stop: %v", err)
	}

	tracks, err := s.RecordingTracks(ctx, recID)
	if err != nil || len(tracks) != 1 {
		t.Fatalf("tracks: %+v %v", tracks, err)
	}
	tr := tracks[0]
	if !tr.Complete || tr.Problem != "" || tr.Segment != 2 || tr.PersonID != ana.ID || tr.Kind != "video" || tr.Codec != "video/VP8" ||
		tr.FirstRTP != 123456 || tr.FirstAt.IsZero() || tr.SRRTP == nil || *tr.SRRTP != 123456+90000 || !tr.SRNTP.Equal(srAt) ||
		tr.File != "s2-p_ana_1-camera-1.webm" || tr.ClockRate != 90000 {
		t.Fatalf("entered: %+v", tr)
	}
	st, err := os.Stat(filepath.Join(dir, tr.File))
	if err != nil || st.Size() != tr.Bytes {
		t.Fatalf("file: %v, size %d, entered %d", err, st.Size(), tr.Bytes)
	}
	probe := mediatest.ProbeFile(t, filepath.Join(dir, tr.File))
	if probe.Frames() != len(frames) || probe.Streams[0].CodecName != "vp8" {
		t.Fatalf("ffprobe: %+v", probe)
	}
	if d := tr.Duration; d < 1900*time.Millisecond || d > 2*time.Second {
		t.Fatalf("duration %v", d)
	}
	var kind, detail string
	if err := s.Pool().QueryRow(ctx, `SELECT kind, detail FROM recording_events WHERE recording_id = $1`, recID).Scan(&kind, &detail); err != nil ||
		kind != capture.EventTrackDropped || !strings.Contains(detail, "H264") {
		t.Fatalf("log: %q %q %v", kind, detail, err)
	}
}

// Every way a track ends has its message for the organisers.
func TestProblemKey(t *testing.T) {
	for _, tc := range []struct {
		track domain.RecordedTrack
		want  string
	}{
		{domain.RecordedTrack{Complete: true}, ""},
		{domain.RecordedTrack{Problem: "dropped: the recording could not write this track as fast as it came (disk too slow)"}, "recording.capture.problem.dropped"},
		{domain.RecordedTrack{Problem: "write /x.webm.partial: no space left on device"}, "recording.capture.problem.disk_full"},
		{domain.RecordedTrack{Problem: "nothing was received"}, "recording.capture.problem.nothing_received"},
		{domain.RecordedTrack{Problem: "trackfile: codec not recorded: video/H264"}, "recording.capture.problem.unsupported_codec"},
		{domain.RecordedTrack{}, "recording.capture.problem.cut_short"},
		{domain.RecordedTrack{Problem: "input/output error"}, "recording.capture.problem.write_failed"},
	} {
		if got := capture.ProblemKey(tc.track); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.track.Problem, got, tc.want)
		}
	}
}
