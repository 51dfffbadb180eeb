package sfu

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// wholePublisher sends one video without rids, as a browser publishing without simulcast
// does: VP8, one packet every 10 ms, a keyframe first, whenever asked and when it starts
// again. Like the page's client, it stops sending while the SFU says (LayersChanged, rid
// "") that nobody needs the video, and goes on with the next sequence number when told.
type wholePublisher struct {
	c        *rtcClient
	track    *webrtc.TrackLocalStaticRTP
	sender   *webrtc.RTPSender
	plis     atomic.Int64 // keyframe requests received
	askKey   atomic.Bool
	inactive atomic.Bool  // the SFU said nobody needs it
	told     atomic.Int64 // LayersChanged messages naming ""
	sent     atomic.Int64
	stop     chan struct{}
	ran      chan struct{} // closed when run returns
	wg       sync.WaitGroup
}

func (c *rtcClient) publishWhole(t *testing.T, source string) *wholePublisher {
	t.Helper()
	track, sender := c.sendTrack(t, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, c.name+"-"+source)
	p := &wholePublisher{c: c, track: track, sender: sender, stop: make(chan struct{}), ran: make(chan struct{})}
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		readPLIs(sender, "", func() {
			p.plis.Add(1)
			p.askKey.Store(true)
		})
	}()
	go p.run()
	t.Cleanup(p.halt)
	c.offerUp(t, false, map[string]string{track.ID(): source})
	return p
}

func (p *wholePublisher) run() {
	defer p.wg.Done()
	defer close(p.ran)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	seq, paused, start := uint16(5000), false, time.Now()
	for n := uint32(0); ; n++ {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		for more := true; more; {
			select {
			case m := <-p.c.layers:
				if on, ok := m[""]; ok {
					p.told.Add(1)
					p.inactive.Store(!on)
				}
			default:
				more = false
			}
		}
		if p.inactive.Load() {
			paused = true
			continue
		}
		key := n == 0 || paused || p.askKey.Swap(false)
		paused = false
		payload := vp8Frame(n, key)
		seq++
		ts := uint32(time.Since(start) * 90000 / time.Second)
		err := p.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, SequenceNumber: seq, Timestamp: ts}, Payload: payload})
		if err != nil && !errors.Is(err, io.ErrClosedPipe) {
			return
		}
		p.sent.Add(1)
	}
}

// stopSending ends the sending loop (it no longer reads LayersChanged either).
func (p *wholePublisher) stopSending() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.ran
}

func (p *wholePublisher) halt() {
	p.stopSending()
	if err := p.c.up.Close(); err != nil {
		p.c.t.Errorf("close up: %v", err)
	}
	p.wg.Wait()
}

// waitInactive waits until the publisher was told that nobody needs its video (or that
// someone does again).
func (p *wholePublisher) waitInactive(t *testing.T, inactive bool) {
	t.Helper()
	waitFor(t, "the whole video told inactive="+map[bool]string{true: "true", false: "false"}[inactive], func() bool {
		return p.told.Load() > 0 && p.inactive.Load() == inactive
	})
}

// wholeLayer is the one layer of the client's publication of source (nil until it comes).
func (c *rtcClient) wholeLayer(source string) *layer {
	c.peer.pubsMu.Lock()
	pub := c.peer.pubs[source]
	c.peer.pubsMu.Unlock()
	if pub == nil {
		return nil
	}
	return pub.layer(layerHigh)
}

// frames keeps what a viewer receives of a whole video: sequence numbers, timestamps and
// whether each packet starts a keyframe.
type frames struct {
	videoLog[got]
}

func (c *rtcClient) recordWhole() *frames {
	f := &frames{}
	logVideo(c, &f.videoLog, func(_ *webrtc.TrackRemote, pkt *rtp.Packet) got {
		return got{seq: pkt.SequenceNumber, ts: pkt.Timestamp, key: vp8Keyframe(pkt.Payload)}
	})
	return f
}

// checkWhole asserts that the viewer's numbering stays continuous across pauses (sequence
// numbers without a gap, timestamps always later) and that the video starts and every
// resumption starts at a keyframe (a resumption: a timestamp step of more than 200 ms).
func checkWhole(t *testing.T, pkts []got) (resumptions int) {
	t.Helper()
	if len(pkts) == 0 {
		t.Fatal("no video received")
	}
	if !pkts[0].key {
		t.Error("the video did not start with a keyframe")
	}
	for i := 1; i < len(pkts); i++ {
		a, b := pkts[i-1], pkts[i]
		if b.seq != a.seq+1 {
			t.Errorf("packet %d: sequence number %d after %d", i, b.seq, a.seq)
		}
		d := b.ts - a.ts
		if d == 0 || d >= 1<<31 {
			t.Errorf("packet %d: timestamp %d after %d", i, b.ts, a.ts)
		}
		if d > 90000/5 {
			resumptions++
			if !b.key {
				t.Errorf("packet %d: resumed on a delta frame", i)
			}
		}
	}
	return resumptions
}

// quiet asserts that the viewer receives (almost) nothing for a while: a packet or two
// may have been on the way when the video was paused.
func quiet(t *testing.T, f *frames, what string) {
	t.Helper()
	before := f.count()
	time.Sleep(400 * time.Millisecond)
	if n := f.count() - before; n > 3 {
		t.Fatalf("%s: the viewer received %d packets while the video was paused", what, n)
	}
}

// pausedGauge reads the paused and forwarded gauges of the "high" layer (a video without
// simulcast is one high layer).
func pausedGauge(t *testing.T, m *Metrics) (paused, forwarded float64) {
	t.Helper()
	read := func(g prometheus.Gauge) float64 {
		var v dto.Metric
		if err := g.Write(&v); err != nil {
			t.Fatal(err)
		}
		return v.GetGauge().GetValue()
	}
	return read(m.pausedLayers.WithLabelValues("high")), read(m.forwardedLayers.WithLabelValues("high"))
}

// TestWholeCameraPaused: a camera published without simulcast that nobody shows is not
// forwarded and its publisher is told (rid "") to stop sending it: first with no viewer in
// the room, then when the only viewer hides it, then when that viewer leaves. A viewer
// joining, or showing it again, has it back at once, from a keyframe asked for, with its
// sequence numbers and timestamps continuous across the pauses. The paused and forwarded
// layer gauges follow.
func TestWholeCameraPaused(t *testing.T) {
	verifyNoLeaks(t)
	const sfuIP, pubIP, viewerIP = "10.0.0.1", "10.0.0.2", "10.0.0.3"
	lab := newVnetLab(t, sfuIP, pubIP, viewerIP)
	metrics := NewMetrics(prometheus.NewRegistry())
	s := lab.sfuWith(sfuIP, func(c *Config) {
		c.KeyframeInterval, c.LayerSelectInterval, c.Metrics = 200*time.Millisecond, 100*time.Millisecond, metrics
	})
	room := s.NewRoom("whole")
	t.Cleanup(room.Close)

	pub := joinClient(t, room, lab.api(pubIP), "pub", true)
	wp := pub.publishWhole(t, SourceCamera)
	wp.waitInactive(t, true) // nobody in the room
	l := pub.wholeLayer(SourceCamera)
	if l == nil || l.active.Load() {
		t.Fatalf("the camera's layer %v is forwarded with no viewer", l)
	}
	if p, f := pausedGauge(t, metrics); p != 1 || f != 0 {
		t.Fatalf("gauges with no viewer: paused %v, forwarded %v; want 1, 0", p, f)
	}
	sentWhilePaused := wp.sent.Load()
	time.Sleep(200 * time.Millisecond)
	if n := wp.sent.Load() - sentWhilePaused; n > 1 {
		t.Fatalf("the publisher sent %d packets after being told to stop", n)
	}

	plis := wp.plis.Load()
	viewer := joinClient(t, room, lab.api(viewerIP), "viewer", false)
	rec := viewer.recordWhole()
	wp.waitInactive(t, false)
	if !l.active.Load() {
		t.Fatal("the camera is not forwarded though a viewer joined")
	}
	waitFor(t, "a keyframe request after the resumption", func() bool { return wp.plis.Load() > plis })
	waitFor(t, "video on the viewer", func() bool { return rec.count() >= 30 })
	if p, f := pausedGauge(t, metrics); p != 0 || f != 1 {
		t.Fatalf("gauges with a viewer: paused %v, forwarded %v; want 0, 1", p, f)
	}

	id := trackOf(t, viewer)
	viewer.peer.SetView(id, 0, 0) // the viewer's page no longer shows it
	wp.waitInactive(t, true)
	if l.active.Load() {
		t.Fatal("the hidden camera is still forwarded")
	}
	quiet(t, rec, "hidden")
	if p, f := pausedGauge(t, metrics); p != 1 || f != 0 {
		t.Fatalf("gauges while hidden: paused %v, forwarded %v; want 1, 0", p, f)
	}

	plis = wp.plis.Load()
	n := rec.count()
	viewer.peer.SetView(id, 640, 360)
	wp.waitInactive(t, false)
	waitFor(t, "a keyframe request after showing it again", func() bool { return wp.plis.Load() > plis })
	waitFor(t, "video on the viewer again", func() bool { return rec.count() >= n+30 })
	if r := checkWhole(t, rec.snapshot()); r != 1 {
		t.Errorf("%d resumptions seen by the viewer, want 1", r)
	}

	viewer.close() // nobody left to show it
	wp.waitInactive(t, true)
	if p, f := pausedGauge(t, metrics); p != 1 || f != 0 {
		t.Fatalf("gauges after the viewer left: paused %v, forwarded %v; want 1, 0", p, f)
	}
}

// TestWholeVideoPausedForBandwidth: when the only viewer of a screen share (one layer, no
// rids) has too little bandwidth for it, the share is paused upstream like a hidden
// camera, and it comes back, from a keyframe, when the estimate recovers.
func TestWholeVideoPausedForBandwidth(t *testing.T) {
	verifyNoLeaks(t)
	viewer, joinPub := simulcastRoom(t, "whole-bw")
	estimate := viewer.estimateFromTest(10_000_000)
	rec := viewer.recordWhole()
	pub := joinPub()
	wp := pub.publishWhole(t, SourceScreen)
	waitFor(t, "the share on the viewer", func() bool { return rec.count() >= 30 })
	if wp.inactive.Load() {
		t.Fatal("the share was paused though shown")
	}

	estimate.Store(30_000)
	wp.waitInactive(t, true)
	if l := pub.wholeLayer(SourceScreen); l == nil || l.active.Load() {
		t.Fatal("the share is still forwarded")
	}
	quiet(t, rec, "no bandwidth")

	plis := wp.plis.Load()
	n := rec.count()
	estimate.Store(10_000_000)
	wp.waitInactive(t, false)
	waitFor(t, "a keyframe request", func() bool { return wp.plis.Load() > plis })
	waitFor(t, "the share back on the viewer", func() bool { return rec.count() >= n+30 })
	if r := checkWhole(t, rec.snapshot()); r != 1 {
		t.Errorf("%d resumptions seen by the viewer, want 1", r)
	}
}

// TestWholeCameraReplaced: a publisher replaces its camera (a new track, the old one
// removed, in one negotiation) while a viewer watches. When the old publication goes, its
// viewer leaving it must not make the server tell the publisher that nobody needs the
// camera: the client would apply that to the new track, which then never starts. The
// viewer gets the new camera, and the publisher is never told to stop it.
func TestWholeCameraReplaced(t *testing.T) {
	verifyNoLeaks(t)
	viewer, joinPub := simulcastRoom(t, "whole-replaced")
	var mu sync.Mutex
	perTrack := map[string]int{}
	count := func(tr *webrtc.TrackRemote, _ *rtp.Packet) {
		mu.Lock()
		perTrack[tr.ID()]++
		mu.Unlock()
	}
	viewer.onRTP.Store(&count)
	pub := joinPub()
	old := pub.publishWhole(t, SourceCamera)
	first := trackOf(t, viewer)
	waitFor(t, "the first camera on the viewer", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return perTrack[first] >= 30
	})

	old.stopSending()
	if err := pub.up.RemoveTrack(old.sender); err != nil {
		t.Fatal(err)
	}
	repl := pub.publishWhole(t, SourceCamera)
	var second string
	waitFor(t, "the new camera on the viewer", func() bool {
		for _, d := range viewer.peer.received() {
			if d.id != first && d.pub.video {
				second = d.id
			}
		}
		mu.Lock()
		defer mu.Unlock()
		return second != "" && perTrack[second] >= 30
	})
	if repl.inactive.Load() {
		t.Fatal("the publisher was told to stop the new camera")
	}
	if l := pub.wholeLayer(SourceCamera); l == nil || !l.active.Load() {
		t.Fatal("the new camera is not forwarded")
	}
}
