package domain

import "time"

// RecordingStatus is where a recording is in its life.
type RecordingStatus string

// The states of a recording.
const (
	RecordingRunning   RecordingStatus = "recording" // tracks are being written
	RecordingStopped   RecordingStatus = "stopped"   // stopped; composition queued
	RecordingComposing RecordingStatus = "composing" // the composition job runs
	RecordingReady     RecordingStatus = "ready"     // the composed MP4 can be watched
	RecordingFailed    RecordingStatus = "failed"    // composition gave up (Failure says why)
	RecordingDeleted   RecordingStatus = "deleted"   // removed by an organiser or the retention period
)

// RecordingAccess is who may watch a recording.
type RecordingAccess string

// Who may watch.
const (
	RecordingPublic      RecordingAccess = "public"      // anyone who may see the session's page
	RecordingRegistrants RecordingAccess = "registrants" // people registered for the session, and its organisers
	RecordingOrganisers  RecordingAccess = "organisers"  // the event's organisers (and site admins)
)

// Valid reports whether a is one of the above.
func (a RecordingAccess) Valid() bool {
	return a == RecordingPublic || a == RecordingRegistrants || a == RecordingOrganisers
}

// Recording is one recording of a session.
type Recording struct {
	ID            int64
	OccurrenceID  int64
	Status        RecordingStatus
	StartedBy     int64 // 0: the person's account is gone
	StartedAt     time.Time
	StoppedBy     int64
	StoppedAt     *time.Time
	TrackDir      string // where the per-track files are
	ComposedKey   string // the composed MP4's key in the storage, "" until ready
	ComposedBytes int64
	Duration      time.Duration
	Access        RecordingAccess
	Failure       string
}

// TrackSource is what a recorded track carries.
type TrackSource string

// Track sources.
const (
	SourceCamera     TrackSource = "camera"
	SourceScreen     TrackSource = "screen"
	SourceMicrophone TrackSource = "microphone"
)

// RecordedTrack is one per-track file of a recording (one per published track and
// segment; a server restart starts a new segment).
type RecordedTrack struct {
	ID          int64
	RecordingID int64
	Segment     int
	PersonID    int64
	Participant string
	Source      TrackSource
	Kind        string // audio or video
	Codec       string // e.g. "video/VP8", "audio/opus"
	File        string // relative to the recording's TrackDir
	Bytes       int64
	ClockRate   uint32
	// Alignment: the RTP timestamp of the first sample written and when it arrived; the
	// last sender report's RTP and NTP times, when one was seen.
	FirstRTP uint32
	FirstAt  time.Time
	SRRTP    *uint32
	SRNTP    *time.Time
	Duration time.Duration
	Complete bool   // closed cleanly
	Problem  string // why not (a full disk, a crash), for the organisers
}

// RecordingChapter is a point in a recording worth jumping to: a question asked in the
// session's Q&A, at its time from the recording's start.
type RecordingChapter struct {
	At    time.Duration
	Title string
}
