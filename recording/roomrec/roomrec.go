// Package roomrec is a live room's media side of recording: it attaches the per-track
// capture (package capture) to the room's SFU publications while a recording runs, for the
// participants the room says may be recorded (a speaker who declined is left out), and to
// the tracks published later (late joiners, a screen share started, a replaced track).
// It implements live.Recorder.
package roomrec

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/pion/webrtc/v4"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/recording/capture"
	"github.com/puente-org/puente/sfu"
)

// Options configure the recorders of one server.
type Options struct {
	// Dir is the recordings' directory; a recording's tracks go under Dir/<TrackDir>.
	Dir     string
	Sink    capture.Sink
	Logger  *slog.Logger
	Metrics *capture.Metrics
}

// Recorder records one room's tracks.
type Recorder struct {
	o     Options
	media *sfu.Room
	log   *slog.Logger

	mu      sync.Mutex
	cap     *capture.Capture // nil while not recording
	ctx     context.Context  // the capture's, for adding tracks
	cancel  context.CancelFunc
	allowed map[string]bool // the room's last word per participant
	people  map[string]int64
	taps    map[*sfu.Publication]*capture.Tap
}

// New makes the recorder of one room's media.
func New(media *sfu.Room, o Options) *Recorder {
	r := &Recorder{o: o, media: media, log: o.Logger, allowed: map[string]bool{}, people: map[string]int64{},
		taps: map[*sfu.Publication]*capture.Tap{}}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	media.OnPublish(r.published)
	return r
}

// Start begins capturing segment of rec: the current publications of the participants
// allowed, then every one published until Stop.
func (r *Recorder) Start(ctx context.Context, rec domain.Recording, segment int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cap != nil {
		return errors.New("roomrec: already recording")
	}
	dir := rec.TrackDir
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(r.o.Dir, dir)
	}
	c, err := capture.New(capture.Options{Dir: dir, RecordingID: rec.ID, Segment: segment, Sink: r.o.Sink,
		Logger: r.log, Metrics: r.o.Metrics})
	if err != nil {
		return err
	}
	r.cap = c
	r.ctx, r.cancel = context.WithCancel(context.WithoutCancel(ctx))
	for _, p := range r.media.Publications() {
		r.attachLocked(p)
	}
	return nil
}

// Record says whether a participant's tracks may be recorded; false stops their capture
// at once. It never blocks on the disk.
func (r *Recorder) Record(participant string, personID int64, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.allowed[participant], r.people[participant] = on, personID
	if r.cap == nil {
		return
	}
	for _, p := range r.media.Publications() {
		if p.Owner == nil || p.Owner.ID != participant {
			continue
		}
		if on {
			r.attachLocked(p)
		} else {
			r.detachLocked(p)
		}
	}
}

// Stop ends the capture: every file is closed (and its record finished) before it returns.
func (r *Recorder) Stop(ctx context.Context) error {
	r.mu.Lock()
	c := r.cap
	for p := range r.taps {
		r.detachLocked(p)
	}
	r.cap = nil
	cancel := r.cancel
	r.mu.Unlock()
	if c == nil {
		return nil
	}
	err := c.Stop(ctx)
	if cancel != nil {
		cancel()
	}
	return err
}

// published attaches a new publication (the SFU calls it on the publisher's goroutine).
func (r *Recorder) published(p *sfu.Publication) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cap != nil {
		r.attachLocked(p)
	}
}

func (r *Recorder) attachLocked(p *sfu.Publication) {
	if p.Owner == nil || !r.allowed[p.Owner.ID] || r.taps[p] != nil {
		return
	}
	tap, err := r.cap.AddTrack(r.ctx, capture.TrackInfo{PersonID: r.people[p.Owner.ID], Participant: p.Owner.ID,
		Source: domain.TrackSource(p.Source), Codec: webrtc.RTPCodecParameters{RTPCodecCapability: p.Codec()}})
	if err != nil {
		r.log.Warn("a track is not recorded", "publication", p.ID, "err", err)
		return
	}
	r.taps[p] = tap
	p.SetRecorder(tap)
	go func() {
		select {
		case <-p.Done():
			r.mu.Lock()
			if r.taps[p] == tap {
				r.detachLocked(p)
			}
			r.mu.Unlock()
		case <-tap.Done():
		}
	}()
}

func (r *Recorder) detachLocked(p *sfu.Publication) {
	tap := r.taps[p]
	if tap == nil {
		return
	}
	p.SetRecorder(nil)
	tap.Close()
	delete(r.taps, p)
}
