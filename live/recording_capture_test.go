package live_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/puente-org/puente/live"
	"github.com/puente-org/puente/recording/roomrec"
	"github.com/puente-org/puente/sfu"
	"github.com/puente-org/puente/store/livestore"
)

// The real recorder in a live room: a host starts recording and publishes camera and
// microphone, and the speaker, who declined, publishes too; when the host stops, the
// host's two tracks are on disk as complete WebM files with their records in
// PostgreSQL, nothing of the one who declined is recorded, and one composition job is
// queued.
func TestRecordingCapturesTheRoomsTracks(t *testing.T) {
	dir := t.TempDir()
	var e *env
	e = newEnvWith(t, func(o *live.Options) {
		o.Recordings = o.Store.(livestore.Rooms)
		o.NewRecorder = func(_ int64, room *sfu.Room) live.Recorder {
			return roomrec.New(room, roomrec.Options{Dir: dir, Sink: e.store})
		}
	})
	host := e.join("host", live.RoleHost)
	shy := e.join("speaker", live.RoleSpeaker)
	ana := e.join("ana", live.RoleAttendee)
	speaker := host // the one recorded
	for _, c := range []*client{host, shy, ana} {
		c.expect("recording")
	}
	shy.send(map[string]any{"type": "record_consent", "decline": true})
	host.send(map[string]any{"type": "record", "action": "start"})
	for _, c := range []*client{host, shy, ana} {
		c.expectWhere("recording", recordingState("on"))
	}
	recID, _ := e.onlyRecording(e.occ)

	speaker.publish(true, true)
	shy.publish(true, true)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	// Media flows to the attendee; let two seconds of it be recorded.
	if got := readPackets(ctx, ana.nextTrack(speaker.id, "camera"), 30, true); got.err != nil {
		t.Fatal(got.err)
	}
	time.Sleep(2 * time.Second)
	host.send(map[string]any{"type": "record", "action": "stop"})
	host.expectWhere("recording", recordingState("off"))
	waitFor(t, "the recording stopped", func() bool { _, st := e.onlyRecording(e.occ); return st == "stopped" })

	tracks, err := e.store.RecordingTracks(context.Background(), recID)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, tr := range tracks {
		if tr.Participant == shy.id {
			t.Errorf("the speaker, who declined, was recorded: %+v", tr)
		}
		if tr.Participant != speaker.id {
			continue
		}
		got[string(tr.Source)] = true
		if !tr.Complete || tr.Bytes == 0 || tr.Duration < time.Second {
			t.Errorf("track %s: complete %v, %d bytes, %v (%s)", tr.Source, tr.Complete, tr.Bytes, tr.Duration, tr.Problem)
		}
		// under the recording's track directory (its id), as the composition reads them
		if fi, err := os.Stat(filepath.Join(dir, strconv.FormatInt(recID, 10), filepath.FromSlash(tr.File))); err != nil || fi.Size() != tr.Bytes {
			t.Errorf("track %s: file %s: %v", tr.Source, tr.File, err)
		}
	}
	if !got["camera"] || !got["microphone"] {
		t.Fatalf("recorded %v of the host, want camera and microphone: %+v", got, tracks)
	}
	if partial, _ := filepath.Glob(filepath.Join(dir, "*", "*.partial")); len(partial) != 0 {
		t.Errorf("files left unfinished: %v", partial)
	}
	if n := e.jobs(recID); n != 1 {
		t.Errorf("%d composition jobs, want 1", n)
	}
}
