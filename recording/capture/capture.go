// Package capture records one segment of a recording: every published track it is given
// goes, as received from the SFU's forwarding path, into its own WebM file (package
// trackfile), and is entered in the recording's list of tracks through a Sink. The
// forwarding path only copies each packet into a bounded queue; the track's own goroutine
// writes the file. A track whose queue overflows (the disk is too slow) is given up with an
// alarm rather than allowed to slow the forwarding.
package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/recording/trackfile"
)

// ErrStopped is returned by AddTrack after Stop.
var ErrStopped = errors.New("capture: the recording segment has stopped")

// Recording event kinds written through the Sink.
const EventTrackDropped = "track_dropped"

// Sink keeps the recording's list of tracks and its log (the store implements it).
type Sink interface {
	// AddTrack enters a track whose file is being written; it returns the track's id.
	AddTrack(ctx context.Context, t domain.RecordedTrack) (int64, error)
	// FinishTrack records how the track's file ended (by t.ID).
	FinishTrack(ctx context.Context, t domain.RecordedTrack) error
	// LogRecordingEvent appends to the recording's log (personID 0: nobody).
	LogRecordingEvent(ctx context.Context, recordingID int64, kind, detail string, personID int64) error
}

// Options configure a Capture.
type Options struct {
	Dir          string // the recording's track directory (created if missing)
	RecordingID  int64
	Segment      int // 1 for the first; a server restart continues with the next
	Sink         Sink
	Logger       *slog.Logger
	QueuePackets int              // each track's queue (default 1024 packets: ~1 s of 720p video)
	Now          func() time.Time // default time.Now
	// Create opens a track's file (default os.Create): tests inject slow or full disks.
	Create func(name string) (trackfile.File, error)
	// SinkTimeout bounds each call to the Sink (default 10 s).
	SinkTimeout time.Duration
	Metrics     *Metrics // nil: not counted
}

// TrackInfo describes a published track to record.
type TrackInfo struct {
	PersonID    int64
	Participant string
	Source      domain.TrackSource
	Codec       webrtc.RTPCodecParameters
}

// Capture records one segment of a recording.
type Capture struct {
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	stopped bool
	taps    []*Tap
	seq     int
	wg      sync.WaitGroup

	errMu sync.Mutex
	errs  []error
}

// New prepares a segment's capture.
func New(opts Options) (*Capture, error) {
	if opts.Sink == nil {
		return nil, errors.New("capture: no sink")
	}
	if opts.Dir == "" {
		return nil, errors.New("capture: no directory")
	}
	if opts.Segment < 1 {
		opts.Segment = 1
	}
	if opts.QueuePackets <= 0 {
		opts.QueuePackets = 1024
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SinkTimeout <= 0 {
		opts.SinkTimeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("capture: track directory: %w", err)
	}
	return &Capture{opts: opts, log: opts.Logger.With("recording", opts.RecordingID, "segment", opts.Segment)}, nil
}

// AddTrack starts recording a track and returns the Tap the SFU feeds
// (sfu.Publication.SetRecorder). It does not wait for the Sink: the track's entry is made
// by the track's own goroutine while its first packets queue, so a slow database cannot
// delay a publication (if the entry takes longer than the queue lasts, the track is
// dropped with the alarm). A codec that is not recorded is refused (with
// trackfile.ErrUnsupportedCodec) and logged in the recording's log, so that the organisers
// know which track is missing.
func (c *Capture) AddTrack(ctx context.Context, ti TrackInfo) (*Tap, error) {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return nil, ErrStopped
	}
	c.seq++
	n := c.seq
	c.mu.Unlock()
	kind := "audio"
	if strings.HasPrefix(strings.ToLower(ti.Codec.MimeType), "video/") {
		kind = "video"
	}
	name := fmt.Sprintf("s%d-%s-%s-%d.webm", c.opts.Segment, safeName(ti.Participant), ti.Source, n)
	w, err := trackfile.New(trackfile.Options{Path: filepath.Join(c.opts.Dir, name), Codec: ti.Codec, Create: c.opts.Create})
	if err != nil {
		detail := fmt.Sprintf("%s %s of %s not recorded: %v", ti.Source, ti.Codec.MimeType, ti.Participant, err)
		c.log.Warn("track not recorded", "participant", ti.Participant, "source", ti.Source, "codec", ti.Codec.MimeType, "err", err)
		// Logged in the background (Stop waits for it): the caller may be a publication's
		// start, which a slow database must not hold up.
		c.mu.Lock()
		if c.stopped {
			c.mu.Unlock()
			return nil, ErrStopped
		}
		c.wg.Add(1)
		c.mu.Unlock()
		go func() {
			defer c.wg.Done()
			if lerr := c.logEvent(context.WithoutCancel(ctx), EventTrackDropped, detail, ti.PersonID); lerr != nil {
				c.log.Error("recording: logging a track not recorded", "err", lerr)
				c.fail(lerr)
			}
		}()
		return nil, fmt.Errorf("capture: %w", err)
	}
	rec := domain.RecordedTrack{RecordingID: c.opts.RecordingID, Segment: c.opts.Segment, PersonID: ti.PersonID,
		Participant: ti.Participant, Source: ti.Source, Kind: kind, Codec: ti.Codec.MimeType, File: name, ClockRate: ti.Codec.ClockRate}
	t := &Tap{c: c, w: w, rec: rec, meta: rec, now: c.opts.Now, queue: make(chan queued, c.opts.QueuePackets),
		closing: make(chan struct{}), overflow: make(chan struct{}), alarmed: make(chan struct{}), done: make(chan struct{})}
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		w.Abort("the recording stopped")
		return nil, ErrStopped
	}
	c.taps = append(c.taps, t)
	c.wg.Add(1)
	c.mu.Unlock()
	c.opts.Metrics.started()
	go t.run()
	return t, nil
}

// Stop closes every track's file and waits for them (or ctx). It returns what went wrong
// entering the tracks' ends; a track's own problem (a full disk) is in its entry, not here.
func (c *Capture) Stop(ctx context.Context) error {
	c.mu.Lock()
	c.stopped = true
	taps := c.taps
	c.mu.Unlock()
	for _, t := range taps {
		t.Close()
	}
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("capture: waiting for the track files: %w", ctx.Err())
	}
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return errors.Join(c.errs...)
}

func (c *Capture) fail(err error) {
	c.errMu.Lock()
	c.errs = append(c.errs, err)
	c.errMu.Unlock()
}

func (c *Capture) logEvent(ctx context.Context, kind, detail string, personID int64) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.SinkTimeout)
	defer cancel()
	if err := c.opts.Sink.LogRecordingEvent(ctx, c.opts.RecordingID, kind, detail, personID); err != nil {
		return fmt.Errorf("capture: log %s: %w", kind, err)
	}
	return nil
}

// queued is a packet copied off the forwarding path.
type queued struct {
	raw []byte
	at  time.Time
}

// srMapping is a sender report's mapping of RTP time to wall-clock time.
type srMapping struct {
	rtp uint32
	ntp time.Time
}

// Tap is one recorded track: what the SFU feeds. Its methods never block.
type Tap struct {
	c    *Capture
	w    *trackfile.Writer
	rec  domain.RecordedTrack // the entry, the track's goroutine's (and Track's after done)
	meta domain.RecordedTrack // the entry as first made, never changed: for the alarm
	now  func() time.Time

	queue    chan queued
	closing  chan struct{} // closed by Close
	overflow chan struct{} // closed when the queue overflowed
	alarmed  chan struct{} // closed when the overflow's alarm was raised
	done     chan struct{} // closed when the file is finished and entered
	once     sync.Once
	dropped  atomic.Bool
	sr       atomic.Pointer[srMapping]

	info trackfile.Info // the file's end, after done
}

// Packet copies pkt into the track's queue. When the queue is full (the file is written
// more slowly than packets come), the track is given up: its file stays incomplete, and an
// alarm is raised (a log line, the recording's log, a metric). Safe for concurrent use.
func (t *Tap) Packet(pkt *rtp.Packet) {
	if t.dropped.Load() {
		return
	}
	select {
	case <-t.closing:
		return
	default:
	}
	raw := make([]byte, pkt.MarshalSize())
	n, err := pkt.MarshalTo(raw)
	if err != nil {
		return
	}
	select {
	case t.queue <- queued{raw: raw[:n], at: t.now()}:
	default:
		if t.dropped.CompareAndSwap(false, true) {
			close(t.overflow)
			go t.alarm() // not on the forwarding path: the Sink may be slow too
		}
	}
}

// SenderReport keeps the publisher's latest mapping of the track's RTP clock to wall time.
func (t *Tap) SenderReport(rtpTS uint32, ntp time.Time) {
	t.sr.Store(&srMapping{rtp: rtpTS, ntp: ntp})
}

// Close ends the track (its publication ended, or the recording stops): what is queued is
// written and the file finished, on the track's goroutine. It does not wait.
func (t *Tap) Close() { t.once.Do(func() { close(t.closing) }) }

// Done is closed when the track's file is finished and its entry updated.
func (t *Tap) Done() <-chan struct{} { return t.done }

// Info is how the track's file ended; valid after Done.
func (t *Tap) Info() trackfile.Info { <-t.done; return t.info }

// Dropped tells whether the track was given up because its queue overflowed.
func (t *Tap) Dropped() bool { return t.dropped.Load() }

// Track is the track's entry as last written (its end after Done).
func (t *Tap) Track() domain.RecordedTrack { <-t.done; return t.rec }

const dropProblem = "dropped: the recording could not write this track as fast as it came (disk too slow)"

func (t *Tap) alarm() {
	defer close(t.alarmed)
	c := t.c
	c.log.Error("recording track dropped: its queue overflowed", "participant", t.meta.Participant, "source", t.meta.Source,
		"file", t.meta.File, "queue", cap(t.queue))
	c.opts.Metrics.dropped()
	detail := fmt.Sprintf("%s of %s (%s): %s", t.meta.Source, t.meta.Participant, t.meta.File, dropProblem)
	if err := c.logEvent(context.Background(), EventTrackDropped, detail, t.meta.PersonID); err != nil {
		c.log.Error("recording: logging a dropped track", "err", err)
		c.fail(err)
	}
}

// run writes the queued packets until the track closes or is dropped.
func (t *Tap) run() {
	defer t.c.wg.Done()
	defer close(t.done)
	c := t.c
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.SinkTimeout)
	id, err := c.opts.Sink.AddTrack(ctx, t.rec)
	cancel()
	if err != nil {
		// Without its entry the file would be found by nobody: give the track up.
		c.log.Error("recording track dropped: its entry could not be made", "file", t.rec.File, "err", err)
		c.fail(fmt.Errorf("capture: enter track %s: %w", t.rec.File, err))
		t.dropped.Store(true)
		t.info = t.w.Abort("dropped: its entry could not be made")
		return
	}
	t.rec.ID = id
	var info trackfile.Info
	broken := false
loop:
	for {
		select {
		case q := <-t.queue:
			t.write(q, &broken)
		case <-t.overflow:
			break loop
		case <-t.closing:
			// Write what was queued before the close.
			for {
				select {
				case q := <-t.queue:
					t.write(q, &broken)
					continue
				default:
				}
				break loop
			}
		}
	}
	if t.dropped.Load() {
		<-t.alarmed // its entry in the recording's log comes before the track's end
		info = t.w.Abort(dropProblem)
	} else {
		info = t.w.Close()
	}
	t.finish(info)
}

func (t *Tap) write(q queued, broken *bool) {
	if *broken {
		return
	}
	pkt := &rtp.Packet{}
	if err := pkt.Unmarshal(q.raw); err != nil {
		return
	}
	if err := t.w.WriteRTP(pkt, q.at); err != nil {
		*broken = true
		t.c.log.Error("recording track stopped: the file cannot be written", "file", t.rec.File, "err", err)
		t.c.opts.Metrics.failed()
	}
}

// finish enters the file's end.
func (t *Tap) finish(info trackfile.Info) {
	c := t.c
	t.info = info
	r := t.rec
	r.Bytes, r.Duration, r.Complete, r.Problem = info.Bytes, info.Duration, info.Complete, info.Problem
	if info.Complete {
		r.File = filepath.Base(info.Path)
	} else {
		r.File = filepath.Base(info.Path) // the partial name: never the final one
		if !strings.HasSuffix(r.File, trackfile.PartialSuffix) {
			r.File += trackfile.PartialSuffix
		}
	}
	if info.HasFirst {
		r.FirstRTP, r.FirstAt = info.FirstRTP, info.FirstAt
	}
	if sr := t.sr.Load(); sr != nil {
		rtpTS, ntp := sr.rtp, sr.ntp
		r.SRRTP, r.SRNTP = &rtpTS, &ntp
	}
	t.rec = r
	c.opts.Metrics.skippedPackets(info.Skipped)
	if !info.Complete {
		c.log.Warn("recording track incomplete", "file", r.File, "problem", info.Problem, "packets", info.Packets, "skipped", info.Skipped)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.SinkTimeout)
	defer cancel()
	if err := c.opts.Sink.FinishTrack(ctx, r); err != nil {
		c.log.Error("recording: entering a track's end", "file", r.File, "err", err)
		c.fail(fmt.Errorf("capture: finish track %s: %w", r.File, err))
	}
}

// safeName keeps letters, digits, '-' and '_' of a participant's id for a file name.
func safeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 40 {
			break
		}
	}
	if b.Len() == 0 {
		return "anon"
	}
	return b.String()
}

// Metrics counts recorded tracks for Prometheus. A nil *Metrics counts nothing.
type Metrics struct {
	tracks, drops, failures, skipped prometheus.Counter
}

// NewMetrics registers the capture's metrics.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		tracks:   prometheus.NewCounter(prometheus.CounterOpts{Name: "puente_recording_tracks_total", Help: "Tracks recorded (files started)."}),
		drops:    prometheus.NewCounter(prometheus.CounterOpts{Name: "puente_recording_tracks_dropped_total", Help: "Recorded tracks given up because the disk could not keep up (their queue overflowed)."}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "puente_recording_track_write_failures_total", Help: "Recorded tracks whose file could not be written (a full disk)."}),
		skipped:  prometheus.NewCounter(prometheus.CounterOpts{Name: "puente_recording_skipped_packets_total", Help: "Packets or frames left out of recordings: unreadable payloads, video before its first keyframe."}),
	}
	reg.MustRegister(m.tracks, m.drops, m.failures, m.skipped)
	return m
}

func (m *Metrics) started() {
	if m != nil {
		m.tracks.Inc()
	}
}

func (m *Metrics) dropped() {
	if m != nil {
		m.drops.Inc()
	}
}

func (m *Metrics) failed() {
	if m != nil {
		m.failures.Inc()
	}
}

func (m *Metrics) skippedPackets(n int) {
	if m != nil && n > 0 {
		m.skipped.Add(float64(n))
	}
}

// DroppedCounter is the counter of dropped tracks (for tests and dashboards).
func (m *Metrics) DroppedCounter() prometheus.Counter { return m.drops }

// ProblemKey is the catalogue key (frontend/locales) of the message that tells organisers
// what happened to a track, from its entry's Problem; "" when there was none.
func ProblemKey(t domain.RecordedTrack) string {
	p := t.Problem
	switch {
	case t.Complete && p == "":
		return ""
	case strings.HasPrefix(p, "dropped"):
		return "recording.capture.problem.dropped"
	case strings.Contains(p, "no space left"):
		return "recording.capture.problem.disk_full"
	case strings.Contains(p, "nothing was received"):
		return "recording.capture.problem.nothing_received"
	case strings.Contains(p, trackfile.ErrUnsupportedCodec.Error()):
		return "recording.capture.problem.unsupported_codec"
	case p == "":
		return "recording.capture.problem.cut_short" // never closed: the server stopped
	}
	return "recording.capture.problem.write_failed"
}
