package sfu

import (
	"time"

	"sync/atomic"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// Layers of a publication, by index: a simulcast camera has up to three; a track without
// rids has one, at layerHigh (it is the full picture).
const (
	layerPaused = -1
	layerLow    = 0
	layerMid    = 1
	layerHigh   = 2
	numLayers   = 3
	allLayers   = 1<<numLayers - 1
)

// layerNames are the names of the layers in stats and metrics; layerRIDs their rids.
var (
	layerNames = [numLayers]string{"low", "mid", "high"}
	layerRIDs  = [numLayers]string{"l", "m", "h"}
)

// layerName is the name of layer i ("paused" for none).
func layerName(i int) string {
	if i < 0 || i >= numLayers {
		return "paused"
	}
	return layerNames[i]
}

// Nominal bitrates of the layers until measured: what the clients are asked to send.
var nominalBps = [numLayers]int{150_000, 500_000, 1_700_000}

// ridSlot is the layer index of a rid: "l", "m" and "h" (docs/signaling.md §6) have
// theirs; any other rid (a renamed or extra layer) takes the highest free slot, in the
// order the layers arrive, and one that finds no free slot is read and dropped. -1: drop.
func ridSlot(p *Publication, rid string) int {
	for i, r := range layerRIDs {
		if r == rid {
			if p.layers[i].Load() != nil {
				return -1
			}
			return i
		}
	}
	for i := numLayers - 1; i >= 0; i-- {
		// A free slot whose own rid has not come yet might still come: take it anyway,
		// the known rid then finds its slot taken and is dropped.
		if p.layers[i].Load() == nil {
			return i
		}
	}
	return -1
}

// layer is one encoding of a publication, read by its own loop.
type layer struct {
	pub   *Publication
	idx   int
	rid   string
	track *webrtc.TrackRemote
	ssrc  uint32
	cache *packetCache // recent packets for retransmission; nil for audio

	// active: forwarded (some viewer needs it); the publisher is asked to pause it when not.
	active  atomic.Bool
	done    atomic.Bool
	created int64

	lastPLI      atomic.Int64 // unix nanos of the last keyframe request sent upstream
	pliScheduled atomic.Bool  // an urgent keyframe request waits for the end of the interval
	waitingKey   atomic.Int64 // unix nanos since a viewer waits for a keyframe (0: none waits)
	brokenUntil  atomic.Int64 // unix nanos: no viewer is moved to this layer before (no keyframes came)
	lastPacket   atomic.Int64
	resumedAt    atomic.Int64 // unix nanos the publisher was last asked to send it again
	bps          atomic.Int64 // measured bitrate, kept while the layer is paused

	// The measuring window, the layer's loop's only.
	winStart int64
	winBytes int
}

// measureWindow is how long bytes are counted before the bitrate is updated.
const measureWindow = 500 * time.Millisecond

// addLayer adds a layer for track at slot idx; the caller runs its loop.
func (p *Publication) addLayer(idx int, track *webrtc.TrackRemote) *layer {
	l := &layer{pub: p, idx: idx, rid: track.RID(), track: track, ssrc: uint32(track.SSRC()), created: time.Now().UnixNano()}
	if p.video {
		l.cache = &packetCache{}
	}
	p.neededMu.Lock()
	active := p.announced&(1<<idx) != 0 || !p.simulcast
	l.active.Store(active)
	p.layers[idx].Store(l)
	p.neededMu.Unlock()
	p.Owner.room.sfu.metrics.layerState(p.video, idx, active, +1)
	return l
}

// measure counts a packet into the layer's bitrate (bytes over a sliding window).
func (l *layer) measure(n int, now int64) {
	last := l.lastPacket.Swap(now)
	if l.winStart == 0 || now-last > int64(measureWindow) {
		// The first packet, or the first after a pause upstream: a window spanning the
		// pause would measure a fraction of the layer's rate.
		l.winStart, l.winBytes = now, 0
	}
	l.winBytes += n
	if el := now - l.winStart; el >= int64(measureWindow) {
		rate := int64(l.winBytes) * 8 * int64(time.Second) / el
		if old := l.bps.Load(); old > 0 {
			rate = (old + rate) / 2
		}
		l.bps.Store(rate)
		l.winStart, l.winBytes = now, 0
	}
}

// bitrate is the measured bitrate, or the layer's nominal one before a measure.
func (l *layer) bitrate() int {
	if b := l.bps.Load(); b > 0 {
		return int(b)
	}
	if !l.pub.simulcast {
		return nominalBps[layerHigh] * 2 / 3
	}
	return nominalBps[l.idx]
}

// usable tells whether viewers can be given this layer: it exists, its track goes on, it
// sends (unless paused upstream, or just started), and did not leave a viewer waiting for
// a keyframe that never came.
func (l *layer) usable(now int64) bool {
	if l == nil || l.done.Load() || now < l.brokenUntil.Load() {
		return false
	}
	giveUp := max(4*l.pub.Owner.room.sfu.pliGap, 2*time.Second)
	if w := l.waitingKey.Load(); w != 0 && now-w > int64(giveUp) {
		// No keyframe came though asked for: fall back to other layers for a while.
		l.brokenUntil.Store(now + int64(10*time.Second))
		l.waitingKey.Store(0)
		return false
	}
	if !l.active.Load() {
		return true // it will come back when asked to
	}
	// A layer just resumed upstream is given the same time to come back as a new one:
	// its last packet is from before the pause.
	return now-max(l.lastPacket.Load(), l.created, l.resumedAt.Load()) < int64(giveUp)
}

// sawKeyframe notes a keyframe: nobody waits any more.
func (l *layer) sawKeyframe(int64) {
	if l.waitingKey.Load() != 0 {
		l.waitingKey.Store(0)
	}
}

// wantKeyframe asks for a keyframe for a viewer that waits for one.
func (l *layer) wantKeyframe(now int64) {
	if l.waitingKey.Load() == 0 {
		l.waitingKey.CompareAndSwap(0, now)
	}
	l.requestKeyframe(false)
}

// requestKeyframe asks the publisher for a keyframe on this layer, at most once per
// interval, or once per quarter interval when a viewer is starting (urgent). An urgent
// request that comes too soon is not dropped but sent when the quarter interval is over,
// so a viewer who connects just after another one's request still gets its keyframe
// promptly.
func (l *layer) requestKeyframe(urgent bool) {
	p := l.pub
	if !p.video {
		return
	}
	gap := p.Owner.room.sfu.pliGap
	if urgent {
		gap /= 4
	}
	now := time.Now().UnixNano()
	last := l.lastPLI.Load()
	if wait := last + int64(gap) - now; wait > 0 {
		if urgent && l.pliScheduled.CompareAndSwap(false, true) {
			time.AfterFunc(time.Duration(wait), func() {
				l.pliScheduled.Store(false)
				select {
				case <-p.closed:
				default:
					l.requestKeyframe(true)
				}
			})
		}
		return
	}
	if !l.lastPLI.CompareAndSwap(last, now) {
		return
	}
	if err := p.Owner.writeUpRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: l.ssrc}}); err == nil {
		p.Owner.room.sfu.metrics.pli()
	}
}

// highestLayer is the best layer the publication has now (layerHigh when none yet).
func (p *Publication) highestLayer() int {
	for i := numLayers - 1; i >= 0; i-- {
		if p.layers[i].Load() != nil {
			return i
		}
	}
	return layerHigh
}

// updateNeeded works out the layers the viewers need (the union of the layers they get
// and are about to get) and, on a change, stops or resumes forwarding them and tells the
// publisher (PeerEvents.LayersChanged) so it can stop encoding what nobody watches. A
// video without rids (a camera published without simulcast, a screen share) is one layer
// named "" (docs/signaling.md §6): when no viewer shows it, or every viewer that does is
// paused for bandwidth, or there is no viewer at all, the whole video is paused the same
// way. Audio is never paused: every viewer always gets it.
func (p *Publication) updateNeeded() { p.announceNeeded(false) }

// announceNeeded is updateNeeded that, with force, tells the publisher the state of every
// layer present even when nothing changed: a new publication does so once, so the client's
// last word for the source (which it applies to its new sender) is this one's.
func (p *Publication) announceNeeded(force bool) {
	if !p.video || !p.current() {
		return
	}
	// The union is read under the lock, so that of two callers the one that applies its
	// answer last has read the viewers last (a newcomer is never undone by a stale read).
	p.neededMu.Lock()
	var need uint8
	for _, d := range *p.downs.Load() {
		need |= uint8(d.wanted.Load())
	}
	if p.recorder.Load() != nil {
		need |= 1 << p.highestLayer() // the recording takes the top layer
	}
	present := uint8(0)
	for i := range p.layers {
		if p.layers[i].Load() != nil {
			present |= 1 << i
		}
	}
	if !force && need&present == p.announced&present && present == p.announcedPresent {
		p.neededMu.Unlock()
		return
	}
	p.announced, p.announcedPresent = need, present
	active := map[string]bool{}
	var resumed []*layer
	m := p.Owner.room.sfu.metrics
	for i := range p.layers {
		l := p.layers[i].Load()
		if l == nil {
			continue
		}
		on := need&(1<<i) != 0
		active[l.rid] = on
		if on && !l.active.Load() {
			l.resumedAt.Store(time.Now().UnixNano()) // before it reads as active (usable)
		}
		if l.active.Swap(on) != on {
			m.layerState(p.video, i, !on, -1)
			m.layerState(p.video, i, on, +1)
			if on {
				resumed = append(resumed, l)
			}
		}
	}
	if ev := p.Owner.ev.LayersChanged; ev != nil && !p.Owner.closed.Load() {
		ev(p.Source, active) // called under neededMu: the publisher sees the changes in order
	}
	p.neededMu.Unlock()
	for _, l := range resumed {
		l.requestKeyframe(true)
	}
}

// current tells whether the publication is still its owner's for its source. One replaced
// or withdrawn must not speak any more: the client applies "layers" to the source's current
// sender, and the old one's viewers leaving would otherwise pause the new one.
func (p *Publication) current() bool {
	o := p.Owner
	o.pubsMu.Lock()
	defer o.pubsMu.Unlock()
	return o.pubs[p.Source] == p
}

// vp8Indices finds the picture id (-1: none; 7 or 15 bits) and TL0PICIDX (-1: none) in
// a VP8 payload descriptor (RFC 7741 §4.2); ok false if the descriptor is cut short.
func vp8Indices(p []byte) (pic, tl0 int, ok bool) {
	pic, tl0 = -1, -1
	if len(p) < 1 {
		return pic, tl0, false
	}
	if p[0]&0x80 == 0 {
		return pic, tl0, true
	}
	if len(p) < 2 {
		return pic, tl0, false
	}
	ext, i := p[1], 2
	if ext&0x80 != 0 {
		if len(p) <= i {
			return -1, -1, false
		}
		if p[i]&0x80 != 0 {
			if len(p) <= i+1 {
				return -1, -1, false
			}
			pic = int(p[i]&0x7f)<<8 | int(p[i+1])
			i += 2
		} else {
			pic = int(p[i] & 0x7f)
			i++
		}
	}
	if ext&0x40 != 0 {
		if len(p) <= i {
			return -1, -1, false
		}
		tl0 = int(p[i])
	}
	return pic, tl0, true
}

// writeVP8Indices writes a picture id (in the width the descriptor has) and TL0PICIDX
// into a descriptor vp8Indices read; -1 leaves a field.
func writeVP8Indices(p []byte, pic, tl0 int) {
	if len(p) < 2 || p[0]&0x80 == 0 {
		return
	}
	ext, i := p[1], 2
	if ext&0x80 != 0 {
		if p[i]&0x80 != 0 {
			if pic >= 0 {
				p[i] = 0x80 | byte(pic>>8)&0x7f
				p[i+1] = byte(pic)
			}
			i += 2
		} else {
			if pic >= 0 {
				p[i] = byte(pic) & 0x7f
			}
			i++
		}
	}
	if ext&0x40 != 0 && tl0 >= 0 {
		p[i] = byte(tl0)
	}
}
