package sfu

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/recording/capture"
	"github.com/puente-org/puente/recording/mediatest"
	"github.com/puente-org/puente/recording/trackfile"
)

// The recording tests: real Pion publishers send VP8 and Opus made by ffmpeg through the
// SFU, whose forwarding path feeds a capture (package recording/capture); ffprobe reads
// the files back. The store's Sink is tested against PostgreSQL in package store; here a
// sink in memory keeps what the capture enters.

// memSink is a capture.Sink in memory.
type memSink struct {
	mu     sync.Mutex
	tracks map[int64]domain.RecordedTrack
	events []string // kind: detail
	next   int64
	hang   chan struct{} // when set, AddTrack waits for it to close: a database that hangs
}

func (s *memSink) AddTrack(ctx context.Context, t domain.RecordedTrack) (int64, error) {
	if s.hang != nil {
		select {
		case <-s.hang:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	t.ID = s.next
	if s.tracks == nil {
		s.tracks = map[int64]domain.RecordedTrack{}
	}
	s.tracks[t.ID] = t
	return t.ID, nil
}

func (s *memSink) FinishTrack(_ context.Context, t domain.RecordedTrack) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tracks[t.ID]; !ok {
		return errors.New("no such track")
	}
	s.tracks[t.ID] = t
	return nil
}

func (s *memSink) LogRecordingEvent(_ context.Context, _ int64, kind, detail string, _ int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, kind+": "+detail)
	return nil
}

func (s *memSink) list() []domain.RecordedTrack {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]domain.RecordedTrack, 0, len(s.tracks))
	for id := int64(1); id <= s.next; id++ {
		out = append(out, s.tracks[id])
	}
	return out
}

func (s *memSink) eventList() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.events...)
}

// recordRoom records every publication of room into c from its first packet, as the live
// room does while a recording runs; a publication's tap closes when it ends.
func recordRoom(t *testing.T, room *Room, c *capture.Capture) {
	room.OnPublish(func(pub *Publication) {
		tap, err := c.AddTrack(context.Background(), capture.TrackInfo{Participant: pub.Owner.ID, Source: domain.TrackSource(pub.Source),
			Codec: webrtc.RTPCodecParameters{RTPCodecCapability: pub.Codec()}})
		if err != nil {
			t.Errorf("record %s: %v", pub.ID, err)
			return
		}
		pub.SetRecorder(tap)
		go func() {
			<-pub.Done()
			pub.SetRecorder(nil)
			tap.Close()
		}()
	})
}

// sampleTrack is a track a publisher sends from ffmpeg-made frames, in real time.
type sampleTrack struct {
	track  *webrtc.TrackLocalStaticSample
	sender *webrtc.RTPSender
}

func (c *rtcClient) sampleTrack(t *testing.T, codec webrtc.RTPCodecCapability, id string) *sampleTrack {
	t.Helper()
	track, err := webrtc.NewTrackLocalStaticSample(codec, id, c.name)
	if err != nil {
		t.Fatal(err)
	}
	sender, err := c.up.AddTrack(track)
	if err != nil {
		t.Fatal(err)
	}
	go func() { // read RTCP, as a browser does (the interceptors need it)
		for {
			if _, _, err := sender.ReadRTCP(); err != nil {
				return
			}
		}
	}()
	return &sampleTrack{track: track, sender: sender}
}

// send writes frames at their pace; hold, if set, is called before each frame and may
// ask to leave it out (the publisher goes on, as a muted browser track does).
func (s *sampleTrack) send(frames []mediatest.Frame) {
	tick := time.NewTicker(frames[0].Duration)
	defer tick.Stop()
	for _, f := range frames {
		<-tick.C
		if err := s.track.WriteSample(media.Sample{Data: f.Data, Duration: f.Duration}); err != nil {
			return
		}
	}
}

func waitConnected(t *testing.T, pc *webrtc.PeerConnection) {
	t.Helper()
	waitFor(t, "the up connection", func() bool { return pc.ConnectionState() == webrtc.PeerConnectionStateConnected })
	time.Sleep(100 * time.Millisecond) // DTLS done: the first samples are not dropped
}

var (
	vp8Cap  = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	opusCap = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
)

func within(d, want, tol time.Duration) bool { return d >= want-tol && d <= want+tol }

// A camera and a microphone, a late joiner's camera with a mute in the middle, and a
// screen share stopped and started again are each recorded into their own WebM file, which
// ffprobe reads with the codec, length and frames sent; the sender reports' mapping is
// kept for alignment.
func TestRecordingThroughSFU(t *testing.T) {
	video := mediatest.VP8(t, 3)
	audio := mediatest.Opus(t, 3)
	lab := newVnetLab(t, "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4")
	room := lab.sfu("10.0.0.1").NewRoom("rec")
	t.Cleanup(room.Close)
	dir := t.TempDir()
	sink := &memSink{}
	c, err := capture.New(capture.Options{Dir: dir, RecordingID: 7, Segment: 1, Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	recordRoom(t, room, c)
	viewer := joinClient(t, room, lab.api("10.0.0.2"), "viewer", false)

	ana := joinClient(t, room, lab.api("10.0.0.3"), "ana", true)
	cam := ana.sampleTrack(t, vp8Cap, "ana-cam")
	mic := ana.sampleTrack(t, opusCap, "ana-mic")
	ana.offerUp(t, false, map[string]string{"ana-cam": SourceCamera, "ana-mic": SourceMicrophone})
	waitConnected(t, ana.up)
	var wg sync.WaitGroup
	wg.Go(func() { cam.send(video) })
	wg.Go(func() { mic.send(audio) })

	// Ben joins a second later and mutes his camera from 1 s to 2 s (he goes on sending).
	time.Sleep(time.Second)
	ben := joinClient(t, room, lab.api("10.0.0.4"), "ben", true)
	benCam := ben.sampleTrack(t, vp8Cap, "ben-cam")
	ben.offerUp(t, false, map[string]string{"ben-cam": SourceCamera})
	waitConnected(t, ben.up)
	wg.Go(func() { benCam.send(video) })
	time.Sleep(time.Second)
	ben.peer.Mute("video", true)
	time.Sleep(time.Second)
	ben.peer.Mute("video", false)
	wg.Wait()
	viewer.moreReceived(t, 1) // the viewer got media all along (checked below by count)

	// Ana shares her screen for 1.5 s, stops, and shares again for 1.5 s.
	half := video[:45]
	for i := range 2 {
		id := "ana-screen-" + string(rune('a'+i))
		waitFor(t, "the previous answer", func() bool { return ana.up.SignalingState() == webrtc.SignalingStateStable })
		scr := ana.sampleTrack(t, vp8Cap, id)
		ana.offerUp(t, false, map[string]string{"ana-cam": SourceCamera, "ana-mic": SourceMicrophone, id: SourceScreen})
		waitFor(t, "the answer", func() bool { return ana.up.SignalingState() == webrtc.SignalingStateStable })
		scr.send(half)
		waitFor(t, "the screen share", func() bool { return strings.Contains(strings.Join(ana.peer.Publishing(), ","), SourceScreen) })
		waitFor(t, "the answer", func() bool { return ana.up.SignalingState() == webrtc.SignalingStateStable })
		if err := ana.up.RemoveTrack(scr.sender); err != nil {
			t.Fatal(err)
		}
		ana.offerUp(t, false, map[string]string{"ana-cam": SourceCamera, "ana-mic": SourceMicrophone})
		waitFor(t, "the screen share to end", func() bool { return !strings.Contains(strings.Join(ana.peer.Publishing(), ","), SourceScreen) })
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	tracks := sink.list()
	type want struct {
		participant string
		source      domain.TrackSource
		codec       string
		dur         time.Duration
		frames      [2]int // at least, at most
	}
	wants := []want{
		{"ana", domain.SourceCamera, "vp8", 3 * time.Second, [2]int{len(video) - 5, len(video)}},
		{"ana", domain.SourceMicrophone, "opus", 3 * time.Second, [2]int{len(audio) - 10, len(audio)}},
		{"ben", domain.SourceCamera, "vp8", 3 * time.Second, [2]int{45, 75}}, // a second muted
		{"ana", domain.SourceScreen, "vp8", 1500 * time.Millisecond, [2]int{40, 45}},
		{"ana", domain.SourceScreen, "vp8", 1500 * time.Millisecond, [2]int{40, 45}},
	}
	if len(tracks) != len(wants) {
		t.Fatalf("%d tracks recorded, want %d: %+v", len(tracks), len(wants), tracks)
	}
	files := map[string]bool{}
	for _, w := range wants {
		i := -1
		for j, tr := range tracks {
			if tr.Participant == w.participant && tr.Source == w.source && !files[tr.File] {
				i = j
				break
			}
		}
		if i < 0 {
			t.Fatalf("no track for %+v in %+v", w, tracks)
		}
		tr := tracks[i]
		files[tr.File] = true
		if !tr.Complete || tr.Problem != "" || tr.Bytes == 0 || tr.FirstAt.IsZero() || tr.Segment != 1 || tr.RecordingID != 7 {
			t.Errorf("%s: %+v", tr.File, tr)
			continue
		}
		p := mediatest.ProbeFile(t, filepath.Join(dir, tr.File))
		if len(p.Streams) != 1 || p.Streams[0].CodecName != w.codec {
			t.Errorf("%s: ffprobe %+v", tr.File, p)
			continue
		}
		if d := p.Duration(); !within(d, w.dur, time.Second) || !within(tr.Duration, w.dur, time.Second) {
			t.Errorf("%s: ffprobe duration %v, entered %v, sent %v", tr.File, d, tr.Duration, w.dur)
		}
		if n := p.Frames(); n < w.frames[0] || n > w.frames[1] {
			t.Errorf("%s: %d frames, want %d to %d", tr.File, n, w.frames[0], w.frames[1])
		}
		t.Logf("%s: %s %v, %d frames, sender report %v", tr.File, p.Streams[0].CodecName, p.Duration(), p.Frames(), tr.SRNTP != nil)
	}
	// The sender reports reached the recording (Pion sends one a second).
	if tr := tracks[0]; tr.SRNTP == nil || tr.SRRTP == nil || tr.SRNTP.Sub(time.Now()).Abs() > time.Minute {
		t.Errorf("no plausible sender report mapping for %s: %v", tr.File, tr.SRNTP)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*"+trackfile.PartialSuffix)); len(left) != 0 {
		t.Errorf("partial files left: %v", left)
	}
	if n := viewer.received.Load(); n < 150 {
		t.Errorf("the viewer received %d packets", n)
	}
}

// stuckFile is a file whose writes wait until release is closed: a disk that hangs.
type stuckFile struct {
	*os.File
	release chan struct{}
}

func (f *stuckFile) Write(p []byte) (int, error) {
	<-f.release
	return f.File.Write(p)
}

// fullFile refuses writes past limit bytes, as a full disk does.
type fullFile struct {
	*os.File
	limit, n int64
}

func (f *fullFile) Write(p []byte) (int, error) {
	if f.n+int64(len(p)) > f.limit {
		return 0, syscall.ENOSPC
	}
	n, err := f.File.Write(p)
	f.n += int64(n)
	return n, err
}

// A disk that hangs, or a database that hangs when the track is entered: the track's queue
// overflows and the track is dropped with an alarm (its log entry, the metric), while the
// viewer goes on receiving; nothing is presented as complete. A full disk: the file stays
// partial and its entry says why.
func TestRecordingSlowAndFullDisk(t *testing.T) {
	video := mediatest.VP8(t, 2)
	for _, tc := range []string{"stuck", "full", "sink"} {
		t.Run(tc, func(t *testing.T) {
			lab := newVnetLab(t, "10.0.0.1", "10.0.0.2", "10.0.0.3")
			room := lab.sfu("10.0.0.1").NewRoom("rec")
			t.Cleanup(room.Close)
			dir := t.TempDir()
			sink := &memSink{}
			release := make(chan struct{})
			if tc == "sink" {
				sink.hang = release
			}
			var once sync.Once
			free := func() { once.Do(func() { close(release) }) }
			t.Cleanup(free)
			create := func(name string) (trackfile.File, error) {
				f, err := os.Create(name)
				if err != nil {
					return nil, err
				}
				if tc == "stuck" {
					return &stuckFile{File: f, release: release}, nil
				}
				return &fullFile{File: f, limit: 30_000}, nil
			}
			reg := prometheus.NewRegistry()
			m := capture.NewMetrics(reg)
			c, err := capture.New(capture.Options{Dir: dir, RecordingID: 1, Sink: sink, QueuePackets: 32, Create: create, Metrics: m})
			if err != nil {
				t.Fatal(err)
			}
			recordRoom(t, room, c)
			viewer := joinClient(t, room, lab.api("10.0.0.2"), "viewer", false)
			ana := joinClient(t, room, lab.api("10.0.0.3"), "ana", true)
			cam := ana.sampleTrack(t, vp8Cap, "ana-cam")
			ana.offerUp(t, false, map[string]string{"ana-cam": SourceCamera})
			waitConnected(t, ana.up)
			done := make(chan struct{})
			go func() { defer close(done); cam.send(append(video, video...)) }() // 4 s

			if tc != "full" {
				waitFor(t, "the track to be dropped", func() bool { return len(sink.eventList()) > 0 })
				// The disk still hangs: forwarding goes on.
				viewer.moreReceived(t, 30)
				if ev := sink.eventList(); len(ev) != 1 || !strings.HasPrefix(ev[0], capture.EventTrackDropped+": ") {
					t.Fatalf("events: %v", ev)
				}
				if n := testutil.ToFloat64(m.DroppedCounter()); n != 1 {
					t.Fatalf("dropped tracks counted: %v", n)
				}
				free()
			}
			<-done
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := c.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			tracks := sink.list()
			if len(tracks) != 1 {
				t.Fatalf("tracks: %+v", tracks)
			}
			tr := tracks[0]
			problem := "dropped"
			if tc == "full" {
				problem = "no space left on device"
			}
			if tr.Complete || !strings.Contains(tr.Problem, problem) || !strings.HasSuffix(tr.File, trackfile.PartialSuffix) {
				t.Fatalf("track: %+v", tr)
			}
			if done, _ := filepath.Glob(filepath.Join(dir, "*.webm")); len(done) != 0 {
				t.Fatalf("presented as complete: %v", done)
			}
			if viewer.received.Load() < 20 { // from its first keyframe (a file's publisher makes none on request)
				t.Fatalf("the viewer received %d packets", viewer.received.Load())
			}
		})
	}
}

// ssrcRecorder keeps the SSRC of every packet recorded, in order.
type ssrcRecorder struct {
	mu    sync.Mutex
	ssrcs []uint32
	srs   int
}

func (r *ssrcRecorder) Packet(pkt *rtp.Packet) {
	r.mu.Lock()
	r.ssrcs = append(r.ssrcs, pkt.SSRC)
	r.mu.Unlock()
}

func (r *ssrcRecorder) SenderReport(uint32, time.Time) {
	r.mu.Lock()
	r.srs++
	r.mu.Unlock()
}

func (r *ssrcRecorder) snapshot() []uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint32(nil), r.ssrcs...)
}

// A simulcast camera is recorded from its top layer only, which keeps flowing for the
// recording while the one viewer watches the low layer; without the recorder the top layer
// is paused again.
func TestRecordingSimulcastTopLayer(t *testing.T) {
	const sfuIP, pubIP, viewerIP = "10.0.0.1", "10.0.0.2", "10.0.0.3"
	lab, room := simulcastLab(t, "rec-simulcast", sfuIP, pubIP, viewerIP)
	rec := &ssrcRecorder{}
	pubs := make(chan *Publication, 1)
	room.OnPublish(func(p *Publication) {
		p.SetRecorder(rec)
		pubs <- p
	})
	small := joinClient(t, room, lab.api(viewerIP), "small", false)
	smallRec := small.record()
	pubClient := joinClient(t, room, lab.api(pubIP), "pub", true)
	sp := pubClient.publishSimulcast(t, []string{"l", "m", "h"})
	pub := <-pubs
	small.peer.SetView(trackOf(t, small), 320, 180)
	waitFor(t, "the viewer on l", func() bool { return smallRec.lastLayer(30) == 0 })
	waitFor(t, "three layers", func() bool { return pub.layer(layerHigh) != nil })
	high := pub.layer(layerHigh).ssrc
	from := len(rec.snapshot())
	time.Sleep(time.Second)
	sp.waitInactive(t, "m", true) // nobody needs the middle layer
	sp.waitInactive(t, "h", false)
	got := rec.snapshot()
	first := slices.Index(got, high)
	if first < 0 || len(got)-from < 50 {
		t.Fatalf("recorded %d packets since the top layer came, first of it at %d", len(got)-from, first)
	}
	for i, s := range got[first:] {
		if s != high {
			t.Fatalf("packet %d recorded from SSRC %x, not the top layer's %x", first+i, s, high)
		}
	}
	waitFor(t, "a sender report of the top layer", func() bool { rec.mu.Lock(); defer rec.mu.Unlock(); return rec.srs > 0 })

	pub.SetRecorder(nil)
	sp.waitInactive(t, "h", true)
	n := len(rec.snapshot())
	time.Sleep(200 * time.Millisecond)
	if len(rec.snapshot()) != n {
		t.Fatal("packets recorded after the recorder was removed")
	}
}
