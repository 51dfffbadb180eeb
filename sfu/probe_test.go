package sfu

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// fakeEstimator is a probeEstimator whose results the test decides: a probe's result is
// the path's capacity (or nothing, done after a timeout, when lost), and a result above
// the estimate lifts it, as the real estimator does.
type fakeEstimator struct {
	estimate int
	capacity int  // what a probe measures: min(capacity, what it sent)
	lost     bool // results come back done with 0 bps (the cluster's feedback timed out)
	open     int  // the open cluster's id, 0: none
	nextID   int
	begun    []int // ids begun
	ended    []int // ids ended
	// measure, when set, is what a probe measures instead of capacity.
	measure func() int
}

func (f *fakeEstimator) TargetBitrate() int { return f.estimate }

func (f *fakeEstimator) BeginProbe() int {
	if f.open != 0 {
		return 0
	}
	f.nextID++
	f.open = f.nextID
	f.begun = append(f.begun, f.open)
	return f.open
}

func (f *fakeEstimator) EndProbe(id int) {
	if id == f.open {
		f.open = 0
	}
	f.ended = append(f.ended, id)
}

func (f *fakeEstimator) ProbeResult(id int) (int, bool) {
	if f.lost {
		return 0, true
	}
	got := f.capacity
	if f.measure != nil {
		got = f.measure()
	}
	if got > f.estimate {
		f.estimate = got
	}
	return got, true
}

// probeClock drives a prober like the peer's loops do, with an injected time.
type probeClock struct {
	t   *testing.T
	c   *prober
	now time.Time
}

// run steps the controller until it went idle again after a probe (or, with no probe
// started within the wait, returns false) and returns the probe's action log.
type probeRun struct {
	started, succeeded, failed bool
	at                         time.Time // when it started
	target                     int
	padded, packets            int
	last                       time.Duration // time from the cluster's start to its end
	size                       int           // padding bytes a packet
}

func (pc *probeClock) probe(need probeNeed, within time.Duration) (probeRun, bool) {
	pc.t.Helper()
	var r probeRun
	deadline := pc.now.Add(within)
	for pc.c.idle() {
		a := pc.c.step(pc.now, need)
		if a.started {
			r.started, r.at, r.target = true, pc.now, pc.c.target
			pc.follow(&r, a, need)
			return r, true
		}
		if a.wait <= 0 {
			a.wait = 500 * time.Millisecond // the selection loop's period
		}
		if pc.now.Add(a.wait).After(deadline) {
			return r, false
		}
		pc.now = pc.now.Add(min(a.wait, 500*time.Millisecond))
	}
	pc.t.Fatal("the controller was not idle")
	return r, false
}

func (pc *probeClock) follow(r *probeRun, a probeAction, need probeNeed) {
	for i := 0; ; i++ {
		if i > 10_000 {
			pc.t.Fatal("the probe never ended")
		}
		if a.pad > 0 {
			size := a.padSize + rtpHeaderBytes
			if a.padSize < minPaddingSize || a.padSize > paddingSize {
				pc.t.Fatalf("%d padding bytes a packet", a.padSize)
			}
			n := (a.pad + size - 1) / size
			pc.c.sent(n*size, n)
			r.padded += n * size
			r.packets += n
			r.size = a.padSize
		}
		if a.end {
			pc.c.finishSending(pc.now)
		}
		if pc.c.state == probeWaiting && r.last == 0 {
			r.last = pc.now.Sub(r.at)
		}
		if a.succeeded || a.failed {
			r.succeeded, r.failed = a.succeeded, a.failed
			return
		}
		pc.now = pc.now.Add(a.wait)
		a = pc.c.step(pc.now, need)
	}
}

// allocatorTakes is the viewer's need once the allocator has stepped up as far as the
// estimate covers (the controller probes the step after only then).
func allocatorTakes(n probeNeed, est int) probeNeed {
	for len(n.steps) > 0 && n.stepNeed(n.steps[0]) <= est {
		n.media = n.steps[0] + n.audio
		n.steps = n.steps[1:]
	}
	return n
}

// twoCameras: the viewer shows two cameras large, gets both on the low layer (and audio).
func twoCameras() probeNeed {
	tracks := []TrackDemand{
		{ID: "a", Bitrates: [3]int{150_000, 500_000, 1_700_000}, MaxLayer: layerHigh},
		{ID: "b", Bitrates: [3]int{150_000, 500_000, 1_700_000}, MaxLayer: layerHigh},
	}
	demand, media, steps := stepsUp(tracks, []int{layerLow, layerLow})
	return probeNeed{video: true, audio: 48_000, demand: demand + 48_000, media: media + 48_000, steps: steps}
}

func TestStepsUp(t *testing.T) {
	n := twoCameras()
	want := []int{650_000, 1_000_000, 2_200_000, 3_400_000}
	if len(n.steps) != len(want) {
		t.Fatalf("steps %v, want %v", n.steps, want)
	}
	for i := range want {
		if n.steps[i] != want[i] {
			t.Fatalf("steps %v, want %v", n.steps, want)
		}
	}
	if n.demand != 3_448_000 || n.media != 348_000 {
		t.Fatalf("demand %d, media %d", n.demand, n.media)
	}
	// A paused track steps to its lowest layer first; a layer the track lacks is skipped;
	// a track not shown asks nothing.
	d, now, steps := stepsUp([]TrackDemand{
		{ID: "cam", Bitrates: [3]int{100_000, 0, 900_000}, MaxLayer: layerHigh},
		{ID: "hidden", Bitrates: [3]int{100_000, 300_000, 900_000}, MaxLayer: layerPaused},
	}, []int{layerPaused, layerPaused})
	if d != 900_000 || now != 0 || len(steps) != 2 || steps[0] != 100_000 || steps[1] != 900_000 {
		t.Fatalf("demand %d, now %d, steps %v", d, now, steps)
	}
}

// TestProbeChains: a viewer below its demand is probed at once; each probe aims at the
// next step up (with the allocator's margin and some more), at most twice the estimate;
// successful probes follow each other a second apart, larger each time, until the
// estimate covers the demand; then there is nothing more to probe.
func TestProbeChains(t *testing.T) {
	est := &fakeEstimator{estimate: 400_000, capacity: 100_000_000}
	pc := &probeClock{t: t, c: &prober{est: est}, now: time.Unix(1000, 0)}
	need := twoCameras()
	var last probeRun
	for i := 0; ; i++ {
		before := est.estimate
		r, ok := pc.probe(need, 5*time.Second)
		if !ok {
			break
		}
		if i > 10 {
			t.Fatal("probing never stopped")
		}
		if !r.succeeded {
			t.Fatalf("probe %d failed", i)
		}
		growth := probeMaxGrowth
		if i == 0 {
			growth = probeFirstGrowth // until a probe succeeds
		}
		if r.target > growth*before || r.target <= before {
			t.Errorf("probe %d: target %d from an estimate of %d", i, r.target, before)
		}
		if float64(r.target) > float64(need.demand)*probeDemandCap {
			t.Errorf("probe %d: target %d above the demand %d ×1.25", i, r.target, need.demand)
		}
		if i > 0 {
			if gap := r.at.Sub(last.at); gap > 2*time.Second {
				t.Errorf("probe %d came %v after the one before", i, gap)
			}
			if r.target <= last.target {
				t.Errorf("probe %d: target %d after %d", i, r.target, last.target)
			}
		}
		// The padding makes up the target with the media over the cluster.
		dur := probeDurationFor(r.target)
		wantPad := float64(r.target-need.media) * dur.Seconds() / 8
		if p := float64(r.padded); p < 0.9*wantPad || p > 1.2*wantPad+float64(r.size+rtpHeaderBytes) {
			t.Errorf("probe %d: %d padding bytes, want about %.0f", i, r.padded, wantPad)
		}
		if r.packets < probeMinPackets || r.last < dur-probeTick || r.last > dur+2*probeTick {
			t.Errorf("probe %d: %d packets over %v", i, r.packets, r.last)
		}
		last = r
		need = allocatorTakes(need, est.estimate)
	}
	if last.target == 0 {
		t.Fatal("no probe")
	}
	if full := twoCameras(); float64(est.estimate) < float64(full.stepNeed(full.steps[len(full.steps)-1])) {
		t.Errorf("probing stopped at an estimate of %v, below the demand's need", est.estimate)
	}
	if len(est.begun) != len(est.ended) || est.open != 0 {
		t.Errorf("clusters begun %v, ended %v", est.begun, est.ended)
	}
}

// TestProbeBackoff: probes that fail (a result below 90% of the target, or none) are
// retried 2, 4, 8, 16 then every 30 s; one success brings the quick pace back.
func TestProbeBackoff(t *testing.T) {
	est := &fakeEstimator{estimate: 400_000, capacity: 420_000}
	pc := &probeClock{t: t, c: &prober{est: est}, now: time.Unix(1000, 0)}
	need := twoCameras()
	var gaps []time.Duration
	var prev probeRun
	for i := range 7 {
		if i == 3 {
			est.lost = true // a cluster whose feedback never came fails as well
		}
		r, ok := pc.probe(need, time.Minute)
		if !ok || !r.failed {
			t.Fatalf("probe %d: started %v, failed %v", i, ok, r.failed)
		}
		if i > 0 {
			gaps = append(gaps, r.at.Sub(prev.at)-(prev.last+probePoll))
		}
		prev = r
	}
	want := []time.Duration{2, 4, 8, 16, 30, 30}
	for i, g := range gaps {
		// the controller is looked at every 500 ms between probes
		if w := want[i] * time.Second; g < w || g > w+500*time.Millisecond {
			t.Errorf("back-off %d: %v, want %v", i, g, w)
		}
	}
	est.lost, est.capacity = false, 900_000
	r, ok := pc.probe(need, time.Minute)
	if !ok || !r.succeeded {
		t.Fatalf("the probe after the path grew: %+v", r)
	}
	need = allocatorTakes(need, est.estimate)
	r2, ok := pc.probe(need, 5*time.Second)
	if !ok || r2.at.Sub(r.at) > 2*time.Second {
		t.Fatalf("after a success the next probe came %v later (started %v)", r2.at.Sub(r.at), ok)
	}
}

// TestProbeClimbsToOneLargeLayerQuickly: a viewer of one 2 Mbps layer, its video paused at
// the 300 kbps start, is probed again as soon as a success leaves the estimate short of the
// layer, so that its first picture does not wait a second per doubling; once a probe covers
// the layer, nothing more is probed (the demand is met).
func TestProbeClimbsToOneLargeLayerQuickly(t *testing.T) {
	est := &fakeEstimator{estimate: 300_000, capacity: 100_000_000}
	pc := &probeClock{t: t, c: &prober{est: est}, now: time.Unix(1000, 0)}
	tracks := []TrackDemand{{ID: "talk", Bitrates: [3]int{0, 0, 2_000_000}, MaxLayer: layerHigh}}
	demand, media, steps := stepsUp(tracks, []int{layerPaused})
	need := probeNeed{video: true, audio: 48_000, demand: demand + 48_000, media: media + 48_000, steps: steps}
	// The path has room: a probe measures what it aimed at.
	est.measure = func() int { return pc.c.target }
	var runs []probeRun
	for {
		r, ok := pc.probe(need, 5*time.Second)
		if !ok {
			break
		}
		if !r.succeeded {
			t.Fatalf("probe %d failed", len(runs))
		}
		if runs = append(runs, r); len(runs) > 10 {
			t.Fatal("probing never stopped")
		}
	}
	if len(runs) < 2 {
		t.Fatalf("%d probes: want a climb of several", len(runs))
	}
	for i := 1; i < len(runs); i++ {
		// the next probe at the selection loop's next look (every 500 ms here)
		if gap := runs[i].at.Sub(runs[i-1].at) - runs[i-1].last; gap > 500*time.Millisecond+probePoll {
			t.Errorf("probe %d came %v after the one before ended, want at once", i, gap)
		}
	}
	if float64(est.estimate) < float64(need.stepNeed(need.steps[0])) {
		t.Errorf("probing stopped at %d, short of the layer's need", est.estimate)
	}
	took := runs[len(runs)-1].at.Sub(runs[0].at) + runs[len(runs)-1].last
	t.Logf("%d probes, %v from the first to the last's end; estimate %d", len(runs), took, est.estimate)
}

// TestNoProbeRightAfterAFall: an estimate that falls (congestion) holds the next probe,
// chained after a success or not, for probeAfterFall; a steady one does not.
func TestNoProbeRightAfterAFall(t *testing.T) {
	est := &fakeEstimator{estimate: 400_000, capacity: 900_000}
	pc := &probeClock{t: t, c: &prober{est: est}, now: time.Unix(1000, 0)}
	need := twoCameras()
	first, ok := pc.probe(need, 5*time.Second)
	if !ok || !first.succeeded {
		t.Fatalf("first probe: %+v", first)
	}
	need = allocatorTakes(need, est.estimate)
	// The path falls: the estimate goes from 900 to 500 kbps while the chain waits.
	pc.c.step(pc.now, need) // the controller sees 900 kbps
	est.estimate, est.capacity = 500_000, 1_000_000
	fell := pc.now
	r, ok := pc.probe(need, 10*time.Second)
	if !ok {
		t.Fatal("no probe after the fall")
	}
	if gap := r.at.Sub(fell); gap < probeAfterFall {
		t.Errorf("a probe %v after the estimate fell, want %v at least", gap, probeAfterFall)
	}
	// Steady now: the chain goes on at its pace.
	need = allocatorTakes(need, est.estimate)
	r2, ok := pc.probe(need, 5*time.Second)
	if !ok || r2.at.Sub(r.at) > probeChain+time.Second {
		t.Errorf("after a success on a steady estimate the next probe came %v later (started %v)", r2.at.Sub(r.at), ok)
	}
}

// TestProbeNothingToDo: no probe without video, without an estimate, or when the estimate
// already covers the demand (with the allocator's margin); none while another cluster is
// open, and then one as soon as it is closed.
func TestProbeNothingToDo(t *testing.T) {
	need := twoCameras()
	for _, c := range []struct {
		name string
		est  int
		need probeNeed
	}{
		{"no video", 400_000, probeNeed{demand: need.demand, media: need.media, steps: need.steps, audio: need.audio}},
		{"no estimate", 0, need},
		{"at demand", need.stepNeed(need.steps[len(need.steps)-1]), need},
		{"no tracks", 400_000, probeNeed{video: true}},
		// The estimate covers the next step: the allocator takes it before the one after
		// is probed (a probe overshooting now could cost the step it has).
		{"next step covered", need.stepNeed(need.steps[0]), need},
	} {
		est := &fakeEstimator{estimate: c.est, capacity: 100_000_000}
		pc := &probeClock{t: t, c: &prober{est: est}, now: time.Unix(1000, 0)}
		if _, ok := pc.probe(c.need, 10*time.Second); ok || len(est.begun) != 0 {
			t.Errorf("%s: probed", c.name)
		}
	}
	// Just below the demand's need (the allocator took every step before): one probe,
	// aimed no higher than the demand ×1.25.
	est := &fakeEstimator{estimate: need.stepNeed(need.steps[len(need.steps)-1]) - 1, capacity: 100_000_000}
	pc := &probeClock{t: t, c: &prober{est: est}, now: time.Unix(1000, 0)}
	if r, ok := pc.probe(allocatorTakes(need, est.estimate), time.Second); !ok || float64(r.target) > float64(need.demand)*probeDemandCap {
		t.Errorf("below the demand: probed %v, target %d", ok, r.target)
	}

	// Another cluster is open: the controller waits for it.
	est = &fakeEstimator{estimate: 400_000, capacity: 100_000_000, open: 99}
	pc = &probeClock{t: t, c: &prober{est: est}, now: time.Unix(1000, 0)}
	a := pc.c.step(pc.now, need)
	if a.started || !pc.c.idle() || a.wait != probeBusyRetry {
		t.Fatalf("with a cluster open: %+v", a)
	}
	est.open = 0
	if a := pc.c.step(pc.now.Add(a.wait), need); !a.started {
		t.Fatal("no probe once the other cluster closed")
	}
}

// TestProbeSlowPath: on a slow path (30 kbps, audio only left) a probe's padding stays
// small: its packets are small, and it adds about what it aims to, not ten full packets.
func TestProbeSlowPath(t *testing.T) {
	est := &fakeEstimator{estimate: 30_000, capacity: 30_000}
	// A path probed before (its first probe may aim at three times the estimate).
	pc := &probeClock{t: t, c: &prober{est: est, succeededOnce: true}, now: time.Unix(1000, 0)}
	tracks := []TrackDemand{{ID: "a", Bitrates: [3]int{150_000, 500_000, 1_700_000}, MaxLayer: layerHigh}}
	demand, media, steps := stepsUp(tracks, []int{layerPaused})
	need := probeNeed{video: true, audio: 48_000, demand: demand + 48_000, media: media + 48_000, steps: steps}
	r, ok := pc.probe(need, time.Second)
	if !ok {
		t.Fatal("no probe")
	}
	if r.target != 60_000 || r.packets < probeMinPackets {
		t.Fatalf("target %d, %d packets", r.target, r.packets)
	}
	// 60 kbps aimed at, 48 kbps of audio: a tenth of the target at least in padding,
	// 90 bytes over 120 ms; the ten packets' headers make it 28 bytes each.
	if r.size != minPaddingSize || r.padded > probeMinPackets*(minPaddingSize+rtpHeaderBytes)+rtpHeaderBytes+minPaddingSize {
		t.Errorf("%d padding bytes a packet, %d bytes in all", r.size, r.padded)
	}
}

// TestProbeAbort: a probe stopped midway (the viewer leaves) closes its cluster.
func TestProbeAbort(t *testing.T) {
	est := &fakeEstimator{estimate: 400_000, capacity: 100_000_000}
	c := &prober{est: est}
	if a := c.step(time.Unix(1000, 0), twoCameras()); !a.started {
		t.Fatal("no probe")
	}
	c.abort()
	if !c.idle() || est.open != 0 || len(est.ended) != 1 {
		t.Fatalf("after abort: idle %v, open %d, ended %v", c.idle(), est.open, est.ended)
	}
}

// rtpLog keeps every packet a client receives on its video tracks, padding included.
type rtpLog struct {
	videoLog[rtp.Packet]
	ssrc uint32 // the video track's, guarded by mu
}

func (c *rtcClient) logRTP() *rtpLog {
	r := &rtpLog{}
	logVideo(c, &r.videoLog, func(tr *webrtc.TrackRemote, pkt *rtp.Packet) rtp.Packet {
		r.ssrc = uint32(tr.SSRC())
		return *pkt.Clone()
	})
	return r
}

func (r *rtpLog) snapshot() ([]rtp.Packet, uint32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.pkts), r.ssrc
}

// waitMore waits until the log has n more packets than now.
func (r *rtpLog) waitMore(t *testing.T, n int) {
	t.Helper()
	from := r.count()
	waitFor(t, fmt.Sprintf("%d more packets", n), func() bool { return r.count() >= from+n })
}

func isPadding(p rtp.Packet) bool { return p.Padding && len(p.Payload) == 0 }

// videoDown is the server's DownTrack of the client's video.
func videoDown(t *testing.T, c *rtcClient) *DownTrack {
	t.Helper()
	var d *DownTrack
	waitFor(t, c.name+"'s video track", func() bool {
		for _, x := range c.peer.received() {
			if x.pub.video && x.binding.Load() != nil {
				d = x
				return true
			}
		}
		return false
	})
	return d
}

// TestPaddingContinuity: a viewer receives padding-only packets between media packets,
// from a real Pion SFU over the virtual network: its sequence numbers go on without a gap
// or a duplicate across the padding and the media after it, also when padding comes while
// its video is paused (the camera muted) and the video resumes. A NACK for a padding
// sequence number resends nothing; a NACK for media packets from before the padding, and
// between padding runs, resends those packets as they were.
func TestPaddingContinuity(t *testing.T) {
	verifyNoLeaks(t)
	const sfuIP, pubIP, viewerIP = "10.0.0.1", "10.0.0.2", "10.0.0.3"
	lab := newVnetLab(t, sfuIP, pubIP, viewerIP)
	// What the SFU sends, as its interceptors see it: the viewer's SRTP drops a second copy
	// of a packet it already has (replay protection), so resends are seen leaving.
	out := &sentLog{}
	s := lab.sfuWith(sfuIP, func(c *Config) {
		c.Interceptors = func(_ *webrtc.MediaEngine, ir *interceptor.Registry) error {
			ir.Add(out)
			return nil
		}
	})
	room := s.NewRoom("padding")
	t.Cleanup(room.Close)

	viewer := joinClient(t, room, lab.api(viewerIP), "viewer", false)
	log := viewer.logRTP()
	pub := joinClient(t, room, lab.api(pubIP), "pub", true)
	pub.publishVideo(t)
	log.waitMore(t, 20)
	d := videoDown(t, viewer)

	// Padding runs between media packets (media every 10 ms).
	for range 5 {
		if n := d.writePadding(4, paddingSize); n != 4 {
			t.Fatalf("wrote %d padding packets of 4", n)
		}
		time.Sleep(15 * time.Millisecond)
	}
	log.waitMore(t, 10)
	// NACKs, before the video pauses: the first padding packet, and the media packets just
	// before and just after the first padding run.
	pkts, ssrc := log.snapshot()
	first := slices.IndexFunc(pkts, isPadding)
	if first < 1 {
		t.Fatal("no media before the padding")
	}
	next := first + slices.IndexFunc(pkts[first:], func(p rtp.Packet) bool { return !isPadding(p) })
	before, after, padSeq := pkts[first-1], pkts[next], pkts[first].SequenceNumber
	n := out.count()
	nack := func(seq uint16) {
		t.Helper()
		err := viewer.down.WriteRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{SenderSSRC: 1, MediaSSRC: ssrc, Nacks: []rtcp.NackPair{{PacketID: seq}}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	nack(padSeq)
	nack(before.SequenceNumber)
	nack(after.SequenceNumber)
	var again []rtp.Packet
	waitFor(t, "the media packets resent", func() bool {
		pkts := out.since(n, ssrc)
		again = again[:0]
		for _, p := range pkts {
			if p.SequenceNumber == before.SequenceNumber || p.SequenceNumber == after.SequenceNumber || p.SequenceNumber == padSeq {
				again = append(again, p)
			}
		}
		return len(again) >= 2
	})
	time.Sleep(100 * time.Millisecond) // the NACKs were answered in order: nothing more comes
	got := map[uint16]int{}
	for _, p := range out.since(n, ssrc) {
		switch p.SequenceNumber {
		case padSeq:
			t.Errorf("a NACK for padding %d resent a packet (padding %v, %d bytes)", padSeq, isPadding(p), len(p.Payload))
		case before.SequenceNumber, after.SequenceNumber:
			got[p.SequenceNumber]++
			want := before
			if p.SequenceNumber == after.SequenceNumber {
				want = after
			}
			if p.Timestamp != want.Timestamp || !bytes.Equal(p.Payload, want.Payload) {
				t.Errorf("packet %d resent with timestamp %d and another payload (first sent at %d)", p.SequenceNumber, p.Timestamp, want.Timestamp)
			}
		}
	}
	if got[before.SequenceNumber] != 1 || got[after.SequenceNumber] != 1 {
		t.Errorf("resent %v, want %d and %d once", got, before.SequenceNumber, after.SequenceNumber)
	}

	// Padding while the video is paused (muted: nothing forwarded until a keyframe after
	// the unmute), then the video again.
	pub.peer.Mute("video", true)
	time.Sleep(50 * time.Millisecond)
	if n := d.writePadding(6, 100); n != 6 {
		t.Fatalf("wrote %d padding packets of 6 while paused", n)
	}
	pub.peer.Mute("video", false)
	log.waitMore(t, 20)

	pkts, _ = log.snapshot()
	pads, afterPad := 0, 0
	var lastMedia rtp.Packet
	for i, p := range pkts {
		if isPadding(p) {
			pads++
			if p.PaddingSize != paddingSize && p.PaddingSize != 100 {
				t.Errorf("packet %d: %d padding bytes", i, p.PaddingSize)
			}
			if p.SSRC != ssrc || p.PayloadType != pkts[0].PayloadType {
				t.Errorf("packet %d: padding on SSRC %d PT %d", i, p.SSRC, p.PayloadType)
			}
			if lastMedia.SSRC != 0 && p.Timestamp != lastMedia.Timestamp {
				t.Errorf("packet %d: padding timestamp %d after media at %d", i, p.Timestamp, lastMedia.Timestamp)
			}
		} else {
			if i > 0 && isPadding(pkts[i-1]) {
				afterPad++
			}
			lastMedia = p
		}
		if i > 0 && p.SequenceNumber != pkts[i-1].SequenceNumber+1 {
			t.Errorf("packet %d (padding %v): sequence number %d after %d", i, isPadding(p), p.SequenceNumber, pkts[i-1].SequenceNumber)
		}
	}
	if pads != 5*4+6 || afterPad < 5 {
		t.Fatalf("%d padding packets received (want 26), %d runs followed by media", pads, afterPad)
	}

	// After the pause the viewer's video went on from a keyframe: what came before it is
	// of no use to its decoder, and is not sent again.
	n = out.count()
	nack(before.SequenceNumber)
	time.Sleep(200 * time.Millisecond)
	for _, p := range out.since(n, ssrc) {
		if p.SequenceNumber == before.SequenceNumber {
			t.Errorf("packet %d, from before the resume's keyframe, was sent again", p.SequenceNumber)
		}
	}
}

// sentLog is an interceptor that keeps every RTP packet the SFU's PeerConnections send.
type sentLog struct {
	mu   sync.Mutex
	pkts []rtp.Packet
}

func (s *sentLog) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &sentLogger{s: s}, nil
}

func (s *sentLog) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pkts)
}

// since is the packets sent on ssrc after the first n.
func (s *sentLog) since(n int, ssrc uint32) []rtp.Packet {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []rtp.Packet
	for _, p := range s.pkts[n:] {
		if p.SSRC == ssrc {
			out = append(out, p)
		}
	}
	return out
}

type sentLogger struct {
	interceptor.NoOp
	s *sentLog
}

func (l *sentLogger) BindLocalStream(_ *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		l.s.mu.Lock()
		l.s.pkts = append(l.s.pkts, rtp.Packet{Header: h.Clone(), Payload: slices.Clone(payload)})
		l.s.mu.Unlock()
		return w.Write(h, payload, a)
	})
}

// lockedEstimator is a probeEstimator shared by the viewer's loops: each probe measures
// what the path carries, up to twice the estimate it started from (what the padding
// aimed at, at most) and up to the path's capacity.
type lockedEstimator struct {
	mu       sync.Mutex
	estimate int
	capacity int
	open     int
	begun    int
	at       map[int]int // the estimate when each cluster began
}

func (f *lockedEstimator) TargetBitrate() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.estimate
}

func (f *lockedEstimator) BeginProbe() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.open != 0 {
		return 0
	}
	f.begun++
	f.open = f.begun
	f.at[f.open] = f.estimate
	return f.open
}

func (f *lockedEstimator) EndProbe(id int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.open == id {
		f.open = 0
	}
}

func (f *lockedEstimator) ProbeResult(id int) (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	bps := min(f.capacity, 2*f.at[id])
	f.estimate = max(f.estimate, bps)
	return bps, true
}

func (f *lockedEstimator) probes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.begun
}

// TestProbeClimbs: a viewer whose estimate only fits the low layer is probed as soon as it
// receives video; padding reaches it, the probes chain and lift the estimate until it
// covers the high layer, the viewer moves up to it, and probing stops.
func TestProbeClimbs(t *testing.T) {
	verifyNoLeaks(t)
	const sfuIP, pubIP, viewerIP = "10.0.0.1", "10.0.0.2", "10.0.0.3"
	lab := newVnetLab(t, sfuIP, pubIP, viewerIP)
	metrics := NewMetrics(prometheus.NewRegistry())
	s := lab.sfuWith(sfuIP, func(c *Config) {
		c.KeyframeInterval, c.LayerSelectInterval = 200*time.Millisecond, 100*time.Millisecond
		c.Metrics = metrics
	})
	room := s.NewRoom("probe")
	t.Cleanup(room.Close)

	viewer := joinClient(t, room, lab.api(viewerIP), "viewer", false)
	est := &lockedEstimator{estimate: 250_000, capacity: 5_000_000, at: map[int]int{}}
	var pe probeEstimator = est
	viewer.peer.probeEst.Store(&pe)
	viewer.peer.SetEstimator(est.TargetBitrate)
	log := viewer.logRTP()
	pub := joinClient(t, room, lab.api(pubIP), "pub", true)
	pub.publishSimulcast(t, []string{"l", "m", "h"})
	id := trackOf(t, viewer)

	waitFor(t, "the viewer on the low layer", func() bool { return viewer.peer.Stats().Layers[id] == "low" })
	waitFor(t, "the viewer on the high layer", func() bool { return viewer.peer.Stats().Layers[id] == "high" })
	// 250 kbps → 500 → 1,000 → 2,000: then the estimate covers the high layer (900 kbps
	// measured) with the margin, and there is nothing more to probe.
	if n := est.probes(); n < 3 || n > 4 {
		t.Errorf("%d probes, want 3", n)
	}
	pkts, _ := log.snapshot()
	pads := 0
	for _, p := range pkts {
		if isPadding(p) {
			pads++
		}
	}
	if pads < 3*probeMinPackets {
		t.Errorf("the viewer received %d padding packets", pads)
	}
	n := est.probes()
	time.Sleep(1500 * time.Millisecond)
	if m := est.probes(); m != n {
		t.Errorf("%d more probes at the demand", m-n)
	}
	if got := counterValue(t, metrics.probes.WithLabelValues("started")); got != float64(n) {
		t.Errorf("probes started: metric %v, estimator %d", got, n)
	}
	if got := counterValue(t, metrics.probes.WithLabelValues("succeeded")); got != float64(n) {
		t.Errorf("probes succeeded: metric %v of %d", got, n)
	}
	if got := counterValue(t, metrics.paddingBytes); got < float64(pads*(minPaddingSize+rtpHeaderBytes)) {
		t.Errorf("padding bytes: metric %v, %d packets received", got, pads)
	}
}

// counterValue reads a Prometheus counter.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestPaddingLatePacket: a layer's packet that arrives late, after padding went out
// behind the packets that followed it, is not forwarded: its place in the viewer's
// numbering is taken (by padding). The packets after it go on in order.
func TestPaddingLatePacket(t *testing.T) {
	pub := benchPublication()
	l := pub.layer(layerHigh)
	d := newDownTrack(pub, &Peer{ID: "viewer", room: pub.Owner.room})
	w := &captureWriter{}
	if _, err := d.Bind(captureContext{&benchTrackContext{ssrc: 0x5555, codecs: benchCodecs}, w}); err != nil {
		t.Fatal(err)
	}
	pub.addDown(d)
	now := time.Now().UnixNano()
	var pkt rtp.Packet
	send := func(seq uint16, key bool) int {
		now += int64(10 * time.Millisecond)
		_, raw := vp8Packet(t, layerHigh, seq, uint32(seq)*900, seq, uint8(seq), key)
		return l.forwardPacket(&pkt, raw, now)
	}
	if send(100, true) != 1 || send(102, false) != 1 {
		t.Fatal("not forwarded")
	}
	if n := d.writePadding(3, paddingSize); n != 3 {
		t.Fatalf("%d padding packets", n)
	}
	if send(101, false) != 0 {
		t.Error("a packet from before the padding was forwarded after it")
	}
	if send(103, false) != 1 || send(104, false) != 1 {
		t.Fatal("not forwarded")
	}
	// 101 was missing when 102 came: a gap the viewer can NACK (it is resent as 101), then
	// no gap and no number twice.
	if len(w.pkts) > 1 && w.pkts[1].SequenceNumber != w.pkts[0].SequenceNumber+2 {
		t.Errorf("packet 1: sequence number %d after %d", w.pkts[1].SequenceNumber, w.pkts[0].SequenceNumber)
	}
	for i := 2; i < len(w.pkts); i++ {
		if w.pkts[i].SequenceNumber != w.pkts[i-1].SequenceNumber+1 {
			t.Errorf("packet %d: sequence number %d after %d", i, w.pkts[i].SequenceNumber, w.pkts[i-1].SequenceNumber)
		}
	}
	if len(w.pkts) != 7 {
		t.Fatalf("%d packets written, want 7", len(w.pkts))
	}
	// Retransmissions: the media before and after the padding, not the padding.
	sent := slices.Clone(w.pkts)
	if !d.resend(sent[0].SequenceNumber + 1) {
		t.Error("the missing packet 101 was not resent")
	} else if p := w.pkts[len(w.pkts)-1]; p.SequenceNumber != sent[0].SequenceNumber+1 || p.Timestamp != sent[0].Timestamp+900 {
		t.Errorf("101 resent as %d at %d", p.SequenceNumber, p.Timestamp)
	}
	for i, p := range sent {
		if got := d.resend(p.SequenceNumber); got == (p.Padding && len(p.Payload) == 0) {
			t.Errorf("packet %d (padding %v): resent %v", i, p.Padding, got)
		}
	}
	// The segment goes on for longer than the sequence numbers take to wrap: every packet
	// is forwarded (the look for late packets ends early).
	for seq := uint16(105); seq != 104; seq++ {
		if send(seq, false) != 1 {
			t.Fatalf("packet %d not forwarded", seq)
		}
	}
}

// BenchmarkPadding: a probe's padding on a viewer's track that forwards media, a run of
// padding packets then a media packet (which starts a segment after them), per padding
// packet. It must allocate nothing.
func BenchmarkPadding(b *testing.B) {
	d, w, pkt := benchStarted(b)
	const run = 4
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += run {
		if d.writePadding(run, paddingSize) != run {
			b.Fatal("padding not written")
		}
		if !benchWrite(d, pkt, false) {
			b.Fatal("media not written after the padding")
		}
		pkt.SequenceNumber++
		pkt.Timestamp += 3000
	}
	b.StopTimer()
	if w.seq != d.lastSeq {
		b.Fatalf("last sequence number written %d, the track's %d", w.seq, d.lastSeq)
	}
}
