package sfu

import (
	"math"
	"time"

	"github.com/puente-org/puente/sfu/bwe"
)

// TrackDemand is what a viewer's layer allocation knows of one video track it receives.
// It has the fields of bwe.Track, so an adapter to bwe.Allocator is a field-by-field copy.
type TrackDemand struct {
	ID       string
	Screen   bool
	Bitrates [3]int // bps of the low, mid and high layers (measured); 0: the layer is absent
	MaxLayer int    // the largest layer useful at the viewer's display size; -1: not shown
}

// Allocator picks the layer of each video track a viewer receives (-1: paused) from the
// viewer's bandwidth estimate. One is made per viewer (it may keep hysteresis state).
// bwe.Allocator fits through an adapter (Config.NewAllocator).
type Allocator interface {
	Allocate(estimateBps, audioBps int, tracks []TrackDemand) map[string]int
}

// unlimitedBps is the estimate of a viewer without an estimator.
const unlimitedBps = math.MaxInt32

// Display sizes: a viewer that never reported one is assumed to show a track this large;
// reports are clamped to maxViewWidth×maxViewHeight.
const (
	defaultViewWidth  = 1280
	defaultViewHeight = 720
	maxViewWidth      = 7680
	maxViewHeight     = 4320
)

// audioBps is what one received audio track is assumed to need.
const audioBps = 48_000

// layerForSize is the largest layer useful at a display size (0×0: not shown).
func layerForSize(w, h int) int { return int(bwe.LayerForSize(w, h)) }

// greedyAllocator gives screens, then cameras, the largest layer that fits what is left of
// the estimate after audio, without hysteresis: the fallback until bwe's allocator is set.
type greedyAllocator struct{}

func (greedyAllocator) Allocate(estimate, audio int, tracks []TrackDemand) map[string]int {
	out := make(map[string]int, len(tracks))
	budget := estimate - audio
	for _, screens := range []bool{true, false} {
		for _, t := range tracks {
			if t.Screen != screens {
				continue
			}
			l := clampLayer(t.MaxLayer, t.Bitrates)
			for l >= 0 && t.Bitrates[l] > budget {
				l = lowerLayer(l, t.Bitrates)
			}
			if l >= 0 {
				budget -= t.Bitrates[l]
			}
			out[t.ID] = l
		}
	}
	return out
}

// clampLayer is the layer to send for a wish: the wish if present, else the best present
// below it, else the lowest present above it (a track shown is never paused for lack of a
// small layer); -1 if the wish is -1 or no layer is present.
func clampLayer(want int, bitrates [3]int) int {
	if want < 0 {
		return layerPaused
	}
	want = min(want, numLayers-1)
	for l := want; l >= 0; l-- {
		if bitrates[l] > 0 {
			return l
		}
	}
	for l := want + 1; l < numLayers; l++ {
		if bitrates[l] > 0 {
			return l
		}
	}
	return layerPaused
}

// lowerLayer is the next present layer below l (-1: none).
func lowerLayer(l int, bitrates [3]int) int {
	for l--; l >= 0; l-- {
		if bitrates[l] > 0 {
			return l
		}
	}
	return layerPaused
}

// selectLoop picks the viewer's layers every selectInterval, and sends its sender reports
// every reportInterval, until the peer closes.
func (p *Peer) selectLoop() {
	defer p.wg.Done()
	t := time.NewTicker(p.room.sfu.selectInterval)
	defer t.Stop()
	var reported time.Time
	for {
		select {
		case <-p.quit:
			return
		case <-t.C:
		case <-p.selectNow:
		}
		p.maybeProbe(p.selectLayers())
		// The sender reports ride on the same timer (reports.go).
		if now := time.Now(); now.Sub(reported) >= reportInterval {
			reported = now
			p.sendReports(now)
		}
	}
}

// estimateBps is the viewer's bandwidth estimate (unlimitedBps when none is known).
func (p *Peer) estimateBps() int {
	if f := p.estimate.Load(); f != nil {
		if e := (*f)(); e > 0 {
			return e
		}
		return unlimitedBps
	}
	if f := p.room.sfu.estimate; f != nil {
		if e := f(p); e > 0 {
			return e
		}
	}
	if p.gcc != nil {
		if e := p.gcc.TargetBitrate(); e > 0 {
			return e
		}
	}
	return unlimitedBps
}

// SetEstimator sets where the viewer's bandwidth estimate comes from (bps; 0 or less:
// unknown, taken as unlimited), instead of Config.EstimateBps.
func (p *Peer) SetEstimator(f func() int) {
	if f == nil {
		p.estimate.Store(nil)
		return
	}
	p.estimate.Store(&f)
}

// selectLayers picks a layer for each video track the viewer receives, from its estimate
// and the size it shows the track at, and tells the viewer when its video is paused. It
// returns what a probe needs to know of the choice.
func (p *Peer) selectLayers() probeNeed {
	downs := p.received()
	now := time.Now().UnixNano()
	audio := 0
	tracks := make([]TrackDemand, 0, len(downs))
	for _, d := range downs {
		if !d.pub.video {
			audio += audioBps
			continue
		}
		t := TrackDemand{ID: d.id, Screen: d.pub.Source == SourceScreen, MaxLayer: layerForSize(d.viewSize())}
		for i := range d.pub.layers {
			if l := d.pub.layers[i].Load(); l.usable(now) {
				t.Bitrates[i] = l.bitrate()
			}
		}
		tracks = append(tracks, t)
	}
	if len(tracks) == 0 {
		p.setVideoPaused(false)
		return probeNeed{}
	}
	estimate := p.estimateBps()
	if estimate < unlimitedBps {
		p.room.sfu.metrics.estimate(estimate)
	}
	got := p.alloc.Allocate(estimate, audio, tracks)
	shown, paused := 0, 0
	byID := make(map[string]int, len(tracks))
	chosen := make([]int, len(tracks))
	for i, t := range tracks {
		byID[t.ID] = i
		l, ok := got[t.ID]
		if !ok {
			l = layerPaused
		}
		if l >= 0 {
			l = clampLayer(l, t.Bitrates) // never a layer the track does not have
		}
		chosen[i] = l
	}
	need := probeNeed{audio: audio}
	for _, d := range downs {
		i, ok := byID[d.id]
		if !ok {
			continue
		}
		t, l := tracks[i], chosen[i]
		// A viewer that shows a video is probed whether or not any came yet: one whose first
		// video did not fit climbs only so.
		need.video = need.video || t.MaxLayer >= 0
		forBandwidth := l < 0 && t.MaxLayer >= 0
		d.setTarget(l, forBandwidth)
		if !t.Screen && t.MaxLayer >= 0 {
			shown++
			if forBandwidth {
				paused++
			}
		}
	}
	p.setVideoPaused(shown > 0 && paused == shown)
	for _, d := range downs {
		d.pub.updateNeeded()
	}
	need.demand, need.media, need.steps = stepsUp(tracks, chosen)
	need.demand += audio
	need.media += audio
	return need
}

// stepsUp lists the video bitrates a viewer goes through from the layers chosen to the
// largest each track's display size allows, one step at a time, the cheapest step first
// (as the allocator, which moves up by one layer of one track at a time). It returns the
// last (the demand), the first (what is sent now) and the steps between.
func stepsUp(tracks []TrackDemand, chosen []int) (demand, now int, steps []int) {
	cur := make([]int, len(tracks))
	want := make([]int, len(tracks))
	rate := func(t TrackDemand, l int) int {
		if l < 0 {
			return 0
		}
		return max(t.Bitrates[l], 0)
	}
	for i, t := range tracks {
		cur[i], want[i] = chosen[i], clampLayer(t.MaxLayer, t.Bitrates)
		now += rate(t, cur[i])
	}
	total := now
	for {
		best, bestUp, bestCost := -1, 0, 0
		for i, t := range tracks {
			if cur[i] >= want[i] {
				continue
			}
			up := cur[i] + 1
			for up < want[i] && t.Bitrates[up] <= 0 {
				up++ // a layer the track does not have
			}
			if c := rate(t, up) - rate(t, cur[i]); best < 0 || c < bestCost {
				best, bestUp, bestCost = i, up, c
			}
		}
		if best < 0 {
			return total, now, steps
		}
		cur[best] = bestUp
		total += bestCost
		steps = append(steps, total)
	}
}

// maybeProbe starts a probe of the viewer's path when its controller says so (probe.go).
// It runs on the selection loop, never on the forwarding path.
func (p *Peer) maybeProbe(need probeNeed) {
	if p.probing.Load() || p.closed.Load() {
		return // a probe is under way: its goroutine has the controller
	}
	est := p.probeEstimator()
	if est == nil {
		return
	}
	if p.probe.est != est {
		p.probe = prober{est: est}
	}
	// Nothing to pad on yet (the video track not negotiated): no cluster is begun.
	d := p.probeTrack()
	if d == nil {
		return
	}
	a := p.probe.step(time.Now(), need)
	if !a.started {
		return
	}
	p.room.sfu.metrics.probeStarted()
	p.probing.Store(true)
	p.wg.Add(1) // the selection loop is counted: Close waits for this one too
	go p.runProbe(d, a)
}

// runProbe sends a probe's padding on d and waits for its result.
func (p *Peer) runProbe(d *DownTrack, a probeAction) {
	defer p.wg.Done()
	// After a success the selection loop is asked to look now (once this probe is over):
	// the allocator may take the step the probe showed room for, or the next probe may
	// follow at once.
	again := false
	defer func() {
		p.probing.Store(false)
		if again {
			p.lookNow()
		}
	}()
	m := p.room.sfu.metrics
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		if a.pad > 0 {
			size := a.padSize + rtpHeaderBytes
			n := d.writePadding((a.pad+size-1)/size, a.padSize)
			p.probe.sent(n*size, n)
			m.padded(n * size)
		}
		if a.end {
			p.probe.finishSending(time.Now())
		}
		if a.succeeded || a.failed {
			again = a.succeeded
			m.probeEnded(a.succeeded)
			p.log.Debug("probe", "target_bps", p.probe.target, "delivered_bps", p.probe.result,
				"estimate_bps", p.probe.est.TargetBitrate(), "ok", a.succeeded, "next_in", a.wait)
		}
		if p.probe.idle() {
			return
		}
		t.Reset(a.wait)
		select {
		case <-p.quit:
			p.probe.abort()
			return
		case <-t.C:
		}
		a = p.probe.step(time.Now(), probeNeed{})
	}
}

// probeTrack is the video track a probe's padding goes on: one the viewer receives video
// on, if any, else one that is bound (its video is paused).
func (p *Peer) probeTrack() *DownTrack {
	var out *DownTrack
	for _, d := range p.received() {
		if !d.pub.video || d.binding.Load() == nil {
			continue
		}
		if d.cur.Load() >= 0 {
			return d
		}
		if out == nil {
			out = d
		}
	}
	return out
}

// probeEstimator is the viewer's estimator (a test's when set); nil when the viewer has
// none, and then it is never probed.
func (p *Peer) probeEstimator() probeEstimator {
	if e := p.probeEst.Load(); e != nil {
		return *e
	}
	if p.gcc == nil {
		return nil
	}
	return p.gcc
}

var _ probeEstimator = (*bwe.Estimator)(nil)

// setVideoPaused tells the viewer (PeerEvents.VideoPaused) when its cameras all become
// paused for bandwidth, and when one comes back.
func (p *Peer) setVideoPaused(paused bool) {
	if p.videoPaused.Swap(paused) == paused {
		return
	}
	if p.ev.VideoPaused != nil && !p.closed.Load() {
		p.ev.VideoPaused(paused)
	}
}

// setTarget makes l the layer the viewer should get; a switch happens at its next keyframe,
// asked for now.
func (d *DownTrack) setTarget(l int, forBandwidth bool) {
	if was := d.pausedBW.Swap(forBandwidth); was != forBandwidth && !d.removed.Load() {
		d.pub.Owner.room.sfu.metrics.videoPaused(forBandwidth)
	}
	if int(d.target.Swap(int32(l))) == l {
		return
	}
	d.updateWanted()
	if l >= 0 && int(d.cur.Load()) != l {
		if tl := d.pub.layer(l); tl != nil && tl.active.Load() {
			tl.requestKeyframe(true)
		}
	}
}

// updateWanted sets the layers this viewer needs upstream: the one it gets and the one it
// is about to get.
func (d *DownTrack) updateWanted() {
	var m uint32
	if d.removed.Load() {
		d.wanted.Store(0)
		return
	}
	if c := d.cur.Load(); c >= 0 {
		m |= 1 << c
	}
	if t := d.target.Load(); t >= 0 {
		m |= 1 << t
	}
	d.wanted.Store(m)
}

// gone marks a DownTrack removed from its publication.
func (d *DownTrack) gone() {
	if d.removed.Swap(true) {
		return
	}
	d.wanted.Store(0)
	if d.pausedBW.Load() {
		d.pub.Owner.room.sfu.metrics.videoPaused(false)
	}
}

// viewSize is the size the viewer shows the track at (the default until it reports).
func (d *DownTrack) viewSize() (int, int) {
	v := d.view.Load()
	if v&(1<<63) == 0 {
		return defaultViewWidth, defaultViewHeight
	}
	return int(v >> 32 & 0x7fffffff), int(v & 0xffffffff)
}

// SetView sets the size at which the viewer shows a track it receives (trackID as in the
// down offer's tracks); 0×0 means not shown. Sizes are clamped to 0…7680 × 0…4320; an
// unknown track is ignored. The layers follow at the next selection.
func (p *Peer) SetView(trackID string, width, height int) {
	width = min(max(width, 0), maxViewWidth)
	height = min(max(height, 0), maxViewHeight)
	if width == 0 || height == 0 {
		width, height = 0, 0
	}
	p.opsMu.Lock()
	d := p.subs[trackID]
	p.opsMu.Unlock()
	if d != nil {
		d.view.Store(1<<63 | uint64(width)<<32 | uint64(height))
	}
}

// PeerStats is what a viewer receives, for the hosts' debug view.
type PeerStats struct {
	EstimateBps int               // the bandwidth estimate; 0: none (unlimited)
	Layers      map[string]string // video track id → "high", "mid", "low" or "paused"
	VideoPaused bool              // every camera shown is paused for bandwidth
}

// Stats reports the viewer's estimate and the layer of each video track it receives.
func (p *Peer) Stats() PeerStats {
	s := PeerStats{Layers: map[string]string{}, VideoPaused: p.videoPaused.Load()}
	if e := p.estimateBps(); e != unlimitedBps {
		s.EstimateBps = e
	}
	for _, d := range p.received() {
		if !d.pub.video {
			continue
		}
		l, t := int(d.cur.Load()), int(d.target.Load())
		if l < 0 || t < 0 {
			l = t // not started yet: the layer it waits for
		}
		s.Layers[d.id] = layerName(l)
	}
	return s
}
