package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/recording/storage"
	"github.com/puente-org/puente/store"
)

// RecordingStore is what the recording page's use cases need from the database.
type RecordingStore interface {
	RecordingByID(ctx context.Context, id int64) (domain.Recording, error)
	RecordingsOfOccurrence(ctx context.Context, occID int64) ([]domain.Recording, error)
	SetRecordingAccess(ctx context.Context, recID int64, access domain.RecordingAccess, by int64) error
	ReplaceRecordingFile(ctx context.Context, recID int64, key string, size int64, duration time.Duration, by int64) (string, error)
	MarkRecordingDeleted(ctx context.Context, recID int64, by int64, detail string) error
	ExpireRecordings(ctx context.Context) (int, error)
	PendingRecordingObjects(ctx context.Context, limit int) ([]store.PendingRecordingObject, error)
	DeletedTrackDirs(ctx context.Context, limit int) (map[int64]string, error)
	TrackDirRemoved(ctx context.Context, recID int64) error
	RecordingObjectRemoved(ctx context.Context, recID int64, key string) error
	EventRecordingSettings(ctx context.Context, eventID int64) (store.RecordingSettings, error)
	SetEventRecordingSettings(ctx context.Context, eventID int64, rs store.RecordingSettings) error
	EventRegistered(ctx context.Context, eventID, personID int64) (bool, error)
}

// MayWatchRecording is the one rule for who may watch (and download) a recording of a
// session of event e, given who may: site admins and the event's organisers always;
// with access "registrants" also the people registered (registered: a confirmed place in
// the session, or an active registration for the whole series or conference; a place
// still waited for or asked for is not enough); with "public" anyone who may see the
// session's page, signed in or not.
func MayWatchRecording(who Actor, e domain.Event, access domain.RecordingAccess, registered bool) bool {
	if who.Person != nil && (who.Person.IsAdmin || slices.Contains(e.Organisers, who.Person.ID)) {
		return true
	}
	switch access {
	case domain.RecordingPublic:
		return true
	case domain.RecordingRegistrants:
		return who.Person != nil && registered
	default:
		return false
	}
}

// registeredFor reports whether who has a confirmed place in the session or an active
// registration for its whole event.
func (a *App) registeredFor(ctx context.Context, who Actor, l store.Listed) (bool, error) {
	if who.Person == nil {
		return false, nil
	}
	regs, err := a.store.Registrations(ctx, store.RegistrationFilter{OccurrenceID: l.Occurrence.ID, PersonID: who.Person.ID})
	if err != nil {
		return false, err
	}
	for _, r := range regs {
		if r.Status == domain.RegConfirmed {
			return true, nil
		}
	}
	return a.store.EventRegistered(ctx, l.Event.ID, who.Person.ID)
}

// mayWatch applies MayWatchRecording, reading the registration only when it matters.
func (a *App) mayWatch(ctx context.Context, who Actor, l store.Listed, access domain.RecordingAccess) (bool, error) {
	registered := false
	if access == domain.RecordingRegistrants && !Manages(who, l.Event) {
		var err error
		if registered, err = a.registeredFor(ctx, who, l); err != nil {
			return false, err
		}
	}
	return MayWatchRecording(who, l.Event, access, registered), nil
}

// WatchedRecording is a recording someone may watch, with its session.
type WatchedRecording struct {
	Recording domain.Recording
	Listed    store.Listed
	Manages   bool // who is one of its organisers (or a site admin)
}

// errNoRecording hides a deleted recording, and one whose session is gone.
func errNoRecording() error { return domain.New(domain.CodeNotFound, "err.recording.not_found") }

// WatchRecording loads a recording for someone who wants to watch it or its file: every
// request for the file comes through here. A deleted recording is not found; a recording
// someone may not watch is refused (signing in may help the not signed in).
func (a *App) WatchRecording(ctx context.Context, who Actor, recID int64) (WatchedRecording, error) {
	r, err := a.store.RecordingByID(ctx, recID)
	if err != nil {
		return WatchedRecording{}, err
	}
	if r.Status == domain.RecordingDeleted {
		return WatchedRecording{}, errNoRecording()
	}
	l, err := a.store.OccurrenceByID(ctx, r.OccurrenceID)
	if err != nil {
		return WatchedRecording{}, err
	}
	ok, err := a.mayWatch(ctx, who, l, r.Access)
	if err != nil {
		return WatchedRecording{}, err
	}
	if !ok {
		if who.Person == nil {
			return WatchedRecording{}, ErrSignIn
		}
		return WatchedRecording{}, domain.New(domain.CodeForbidden, "err.recording.forbidden")
	}
	return WatchedRecording{Recording: r, Listed: l, Manages: Manages(who, l.Event)}, nil
}

// SessionRecording is a recording as a session's page lists it.
type SessionRecording struct {
	domain.Recording
	MayWatch bool // false: the page says who may (registrants), without the player
}

// SessionRecordings are the recordings of a session that who may see on its page: all of
// them (failed ones with their reason) for its organisers; for others those they may
// watch, ready or still being prepared, and those for registrants (so the page can say
// that registering, or signing in, opens them). Recordings for organisers only, and failed
// ones, are not shown to others at all.
func (a *App) SessionRecordings(ctx context.Context, who Actor, l store.Listed) ([]SessionRecording, error) {
	all, err := a.store.RecordingsOfOccurrence(ctx, l.Occurrence.ID)
	if err != nil {
		return nil, err
	}
	manages := Manages(who, l.Event)
	var out []SessionRecording
	for _, r := range all {
		if manages {
			out = append(out, SessionRecording{Recording: r, MayWatch: true})
			continue
		}
		if r.Status == domain.RecordingFailed {
			continue
		}
		ok, err := a.mayWatch(ctx, who, l, r.Access)
		if err != nil {
			return nil, err
		}
		if ok || r.Access == domain.RecordingRegistrants {
			out = append(out, SessionRecording{Recording: r, MayWatch: ok})
		}
	}
	return out, nil
}

// ManageRecording loads a recording for one of its event's organisers.
func (a *App) ManageRecording(ctx context.Context, who Actor, recID int64) (domain.Recording, store.Listed, error) {
	r, err := a.store.RecordingByID(ctx, recID)
	if err != nil {
		return r, store.Listed{}, err
	}
	if r.Status == domain.RecordingDeleted {
		return r, store.Listed{}, errNoRecording()
	}
	l, err := a.store.OccurrenceByID(ctx, r.OccurrenceID)
	if err != nil {
		return r, l, err
	}
	return r, l, CanManage(who, l.Event)
}

// SetRecordingAccess changes who may watch a recording (its organisers only).
func (a *App) SetRecordingAccess(ctx context.Context, who Actor, recID int64, access domain.RecordingAccess) error {
	if _, _, err := a.ManageRecording(ctx, who, recID); err != nil {
		return err
	}
	if !access.Valid() {
		return domain.Invalid("access", "err.recording.access")
	}
	return a.store.SetRecordingAccess(ctx, recID, access, who.id())
}

// DeleteRecording deletes a recording (its organisers only): nobody can watch it from
// then on, and its file is removed from the storage (if that fails now, the retention
// job removes it later).
func (a *App) DeleteRecording(ctx context.Context, who Actor, recID int64) (store.Listed, error) {
	r, l, err := a.ManageRecording(ctx, who, recID)
	if err != nil {
		return l, err
	}
	if r.Status == domain.RecordingRunning {
		return l, domain.New(domain.CodeConflict, "err.recording.running")
	}
	if err := a.store.MarkRecordingDeleted(ctx, recID, who.id(), "deleted by an organiser"); err != nil {
		return l, err
	}
	if r.ComposedKey != "" {
		a.removeObject(ctx, recID, r.ComposedKey)
	}
	if err := a.removeDeletedTracks(ctx); err != nil {
		a.log.Warn("removing a deleted recording's track files failed; retried later", "recording", recID, "err", err)
	}
	return l, nil
}

// removeDeletedTracks removes the per-track files of deleted recordings (a deleted
// recording leaves nothing of the session's media on disk), and records each as done.
func (a *App) removeDeletedTracks(ctx context.Context) error {
	if a.recordingTracks == "" {
		return nil
	}
	dirs, err := a.store.DeletedTrackDirs(ctx, 1000)
	if err != nil {
		return err
	}
	for id, dir := range dirs {
		if !filepath.IsLocal(dir) {
			a.log.Error("a deleted recording names a track directory outside the recordings", "recording", id)
			continue
		}
		if err := os.RemoveAll(filepath.Join(a.recordingTracks, dir)); err != nil {
			return fmt.Errorf("remove recording %d's track files: %w", id, err)
		}
		if err := a.store.TrackDirRemoved(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// removeObject removes a deleted recording's file; a failure is logged and retried by
// the retention job.
func (a *App) removeObject(ctx context.Context, recID int64, key string) {
	if a.recordings == nil {
		return
	}
	if err := a.recordings.Delete(ctx, key); err != nil {
		a.log.Warn("removing a deleted recording's file failed; retried later", "recording", recID, "err", err)
		return
	}
	if err := a.store.RecordingObjectRemoved(ctx, recID, key); err != nil {
		a.log.Warn("noting a recording's file removed failed", "recording", recID, "err", err)
	}
}

// MaxRecordingUpload bounds a replacement file (8 GiB).
const MaxRecordingUpload = 8 << 30

// ReplaceRecording stores an organiser's own MP4 as a recording's file. The file must be
// an MP4 with a video stream (checked with ffprobe); it is copied to a temporary file,
// checked, stored under a new key, and only then does the recording point at it, so a
// bad or interrupted upload leaves the recording as it was.
func (a *App) ReplaceRecording(ctx context.Context, who Actor, recID int64, file io.Reader) error {
	r, _, err := a.ManageRecording(ctx, who, recID)
	if err != nil {
		return err
	}
	if r.Status != domain.RecordingReady && r.Status != domain.RecordingFailed {
		return domain.New(domain.CodeConflict, "err.recording.not_finished")
	}
	if a.recordings == nil {
		return domain.New(domain.CodeUnavailable, "err.recording.no_storage")
	}
	tmp, err := os.CreateTemp("", "puente-upload-*.mp4")
	if err != nil {
		return fmt.Errorf("replace recording: %w", err)
	}
	defer func() { _ = tmp.Close(); _ = os.Remove(tmp.Name()) }()
	size, err := io.Copy(tmp, io.LimitReader(file, MaxRecordingUpload+1))
	if err != nil {
		return fmt.Errorf("replace recording: read upload: %w", err)
	}
	if size > MaxRecordingUpload {
		return domain.New(domain.CodeTooLarge, "err.recording.too_large")
	}
	if size == 0 {
		return domain.Invalid("file", "err.recording.missing_file")
	}
	dur, err := a.probeMP4(ctx, tmp.Name())
	if err != nil {
		return err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("replace recording: %w", err)
	}
	key := fmt.Sprintf("recordings/%d/replaced-%d.mp4", recID, a.now().UnixNano())
	if err := a.recordings.Put(ctx, key, tmp, size, "video/mp4"); err != nil {
		return fmt.Errorf("replace recording: %w", err)
	}
	old, err := a.store.ReplaceRecordingFile(ctx, recID, key, size, dur, who.id())
	if err != nil {
		_ = a.recordings.Delete(context.WithoutCancel(ctx), key)
		return err
	}
	if old != "" {
		if err := a.recordings.Delete(ctx, old); err != nil {
			a.log.Warn("removing a replaced recording's old file failed", "recording", recID, "key", old, "err", err)
		}
	}
	return nil
}

// probeMP4 checks with ffprobe that a file is an MP4 (ISO base media, not QuickTime) with
// a video stream, and returns its length.
func (a *App) probeMP4(ctx context.Context, path string) (time.Duration, error) {
	bad := domain.Invalid("file", "err.recording.not_mp4")
	out, err := exec.CommandContext(ctx, a.ffprobe, "-v", "error", "-show_entries",
		"format=format_name,duration:format_tags=major_brand:stream=codec_type", "-of", "json", path).Output()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return 0, bad // ffprobe could not read it
	}
	if err != nil {
		return 0, fmt.Errorf("replace recording: ffprobe: %w", err)
	}
	var probe struct {
		Streams []struct {
			CodecType string `json:"codec_type"`
		} `json:"streams"`
		Format struct {
			FormatName string            `json:"format_name"`
			Duration   string            `json:"duration"`
			Tags       map[string]string `json:"tags"`
		} `json:"format"`
	}
	if err := json.Unmarshal(out, &probe); err != nil {
		return 0, bad
	}
	if !slices.Contains(strings.Split(probe.Format.FormatName, ","), "mp4") ||
		strings.TrimSpace(probe.Format.Tags["major_brand"]) == "qt" {
		return 0, bad
	}
	if !slices.ContainsFunc(probe.Streams, func(s struct {
		CodecType string `json:"codec_type"`
	}) bool {
		return s.CodecType == "video"
	}) {
		return 0, domain.Invalid("file", "err.recording.no_video")
	}
	secs, err := strconv.ParseFloat(probe.Format.Duration, 64)
	if err != nil || secs <= 0 {
		return 0, bad
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// RecordingSettings reads an event's recording settings (its organisers only).
func (a *App) RecordingSettings(ctx context.Context, who Actor, eventID int64) (store.RecordingSettings, error) {
	if _, err := a.managedEvent(ctx, who, eventID); err != nil {
		return store.RecordingSettings{}, err
	}
	return a.store.EventRecordingSettings(ctx, eventID)
}

// SetRecordingSettings changes who may watch an event's new recordings and how long its
// recordings are kept (0 days: for ever; otherwise 1 to 3650).
func (a *App) SetRecordingSettings(ctx context.Context, who Actor, eventID int64, rs store.RecordingSettings) error {
	if _, err := a.managedEvent(ctx, who, eventID); err != nil {
		return err
	}
	if !rs.Access.Valid() {
		return domain.Invalid("default_access", "err.recording.access")
	}
	if rs.RetentionDays < 0 || rs.RetentionDays > 3650 {
		return domain.Invalid("retention_days", "err.recording.retention")
	}
	return a.store.SetEventRecordingSettings(ctx, eventID, rs)
}

// ExpireRecordings is the retention job: recordings older than their series' retention
// period are deleted, and every deleted recording's file still in the storage is removed.
// It returns how many recordings expired and how many files were removed.
func (a *App) ExpireRecordings(ctx context.Context) (expired, removed int, err error) {
	if expired, err = a.store.ExpireRecordings(ctx); err != nil {
		return 0, 0, err
	}
	if err := a.removeDeletedTracks(ctx); err != nil {
		return expired, 0, err
	}
	if a.recordings == nil {
		return expired, 0, nil
	}
	pending, err := a.store.PendingRecordingObjects(ctx, 1000)
	if err != nil {
		return expired, 0, err
	}
	for _, p := range pending {
		if err := a.recordings.Delete(ctx, p.Key); err != nil {
			if errors.Is(err, storage.ErrBadKey) {
				a.log.Error("a deleted recording names a bad key", "recording", p.RecordingID, "err", err)
				continue
			}
			return expired, removed, fmt.Errorf("remove recording %d's file: %w", p.RecordingID, err)
		}
		if err := a.store.RecordingObjectRemoved(ctx, p.RecordingID, p.Key); err != nil {
			return expired, removed, err
		}
		removed++
	}
	return expired, removed, nil
}

// Recordings is the storage of composed recordings (nil when none is configured).
func (a *App) Recordings() storage.Storage { return a.recordings }
