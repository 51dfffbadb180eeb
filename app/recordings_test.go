package app_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/puente-org/puente/app"
	"github.com/puente-org/puente/domain"
)

// The one rule for who may watch a recording, for every kind of person and setting.
func TestMayWatchRecording(t *testing.T) {
	event := domain.Event{ID: 1, Organisers: []int64{10}}
	person := func(id int64, admin bool) app.Actor {
		return app.Actor{Person: &domain.Person{ID: id, IsAdmin: admin, IsOrganiser: id == 20}}
	}
	people := []struct {
		name       string
		who        app.Actor
		registered bool
	}{
		{"anonymous", app.Actor{}, false},
		{"anonymous claiming a registration", app.Actor{}, true}, // cannot be: no person
		{"attendee not registered", person(30, false), false},
		{"registrant", person(31, false), true},
		{"organiser of the event", person(10, false), false},
		{"organiser of other events", person(20, false), false},
		{"organiser of other events, registered", person(20, false), true},
		{"site admin", person(40, true), false},
	}
	want := map[domain.RecordingAccess][]bool{
		domain.RecordingPublic:      {true, true, true, true, true, true, true, true},
		domain.RecordingRegistrants: {false, false, false, true, true, false, true, true},
		domain.RecordingOrganisers:  {false, false, false, false, true, false, false, true},
		"nonsense":                  {false, false, false, false, true, false, false, true},
	}
	for access, ws := range want {
		for i, p := range people {
			if got := app.MayWatchRecording(p.who, event, access, p.registered); got != ws[i] {
				t.Errorf("%s, %s: %v, want %v", access, p.name, got, ws[i])
			}
		}
	}
}

// Deleting a recording leaves nothing of the session's media on disk: its per-track files
// go (when an organiser deletes it, and by the hourly sweep for those the retention period
// deleted); another recording's files stay.
func TestDeletedRecordingsLeaveNoTrackFiles(t *testing.T) {
	f := newFixture(t, 10)
	ctx := context.Background()
	tracks := t.TempDir()
	a, err := app.New(app.Options{Store: f.st, Now: f.clk.Now, LinkKey: f.key, RecordingTracks: tracks})
	if err != nil {
		t.Fatal(err)
	}
	record := func() domain.Recording {
		t.Helper()
		rec, err := f.st.StartRecording(ctx, f.occID, f.people["Olga"].ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(tracks, rec.TrackDir), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tracks, rec.TrackDir, "s1-p1-camera-1.webm"), []byte("media"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := f.st.StopRecording(ctx, f.occID, f.people["Olga"].ID, ""); err != nil {
			t.Fatal(err)
		}
		return rec
	}
	first, second := record(), record()
	// An organiser deletes the first (the recording is not composed: deleting is allowed).
	if _, err := a.DeleteRecording(ctx, f.as("Olga"), first.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(tracks, first.TrackDir)); !os.IsNotExist(err) {
		t.Errorf("the deleted recording's track files are still on disk: %v", err)
	}
	if _, err := os.Stat(filepath.Join(tracks, second.TrackDir, "s1-p1-camera-1.webm")); err != nil {
		t.Errorf("another recording's files went too: %v", err)
	}
	// The second is deleted by other means (the retention period): the sweep removes it.
	if err := f.st.MarkRecordingDeleted(ctx, second.ID, 0, "retention"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.ExpireRecordings(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(tracks, second.TrackDir)); !os.IsNotExist(err) {
		t.Errorf("the swept recording's track files are still on disk: %v", err)
	}
	if left, err := f.st.DeletedTrackDirs(ctx, 10); err != nil || len(left) != 0 {
		t.Errorf("track directories still listed: %v %v", left, err)
	}
}
