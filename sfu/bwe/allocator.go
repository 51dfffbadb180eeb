// Package bwe decides what each viewer receives from its estimated bandwidth: the
// Allocator chooses a simulcast layer per video track (audio first, then screen shares,
// then cameras), and Estimators give every PeerConnection the SFU makes a send-side
// bandwidth estimate (Pion's GCC over transport-wide congestion control feedback, with the
// receiver's REMB as the fallback).
//
// It knows nothing of rooms or peers: package sfu feeds it numbers and applies its choices.
package bwe

import (
	"sort"
	"time"
)

// Layer is a simulcast layer, ordered by size.
type Layer int

// Layers: Paused means the viewer receives no video for the track.
const (
	Paused Layer = -1
	Low    Layer = 0
	Mid    Layer = 1
	High   Layer = 2
)

// String is the name the stats messages use.
func (l Layer) String() string {
	switch l {
	case Low:
		return "low"
	case Mid:
		return "mid"
	case High:
		return "high"
	}
	return "paused"
}

// Unmeasured, as a Track's bitrate, marks a layer that exists but sends nothing now (it is
// paused upstream because nobody needed it): the Allocator counts it at its nominal
// bitrate so that it can be chosen, and then resumed.
const Unmeasured = -1

// maxBitrate bounds a measured bitrate, so absurd figures cannot overflow the sums.
const maxBitrate = 1_000_000_000

// Nominal bitrates of the layers the browsers are asked to encode (1280×720, 640×360 and
// 320×180), used for Unmeasured layers.
var nominal = [3]int{150_000, 500_000, 1_700_000}

// Track is one video track a viewer receives.
type Track struct {
	ID     string
	Screen bool
	// Bitrates are the measured bitrates in bps of the l, m and h layers; 0: the layer
	// does not exist (a screen share or a non-simulcast track has only one); Unmeasured:
	// it exists but is paused upstream (any negative value counts as Unmeasured).
	Bitrates [3]int
	// MaxLayer is the largest layer useful at the viewer's display size (LayerForSize);
	// Paused: the track is not shown.
	MaxLayer Layer
}

// Hysteresis settings.
const (
	// upMargin: a step up waits until the estimate covers the new layers with 15% to spare.
	upMargin = 1.15
	// baseHold: ... continuously for this long.
	baseHold = 3 * time.Second
	// Each down-switch less than downMemory after the previous one doubles the hold, up to
	// maxHold, so that a link hovering around a layer's bitrate does not flap.
	downMemory = 30 * time.Second
	maxHold    = 24 * time.Second
	// upGrace: for this long after a step up, a dip that still covers the layer the track
	// came from does not undo the step. The switch itself sends a keyframe, a burst that
	// can queue on the path for a moment and read as congestion.
	upGrace = 2 * time.Second
	// pauseMargin: a video on its lowest layer is paused only when the budget falls under
	// this part of that layer's bitrate, for pauseAfter without a break, or under
	// collapseMargin of it at once (the link collapsed: the audio must not wait).
	pauseMargin    = 0.8
	pauseAfter     = time.Second
	collapseMargin = 0.5
)

// Allocator chooses each track's layer for one viewer. It keeps hysteresis state per
// track id; it is not safe for concurrent use (one per viewer, called from one goroutine).
type Allocator struct {
	now    func() time.Time
	tracks map[string]*trackState
	// The viewer's down-switches caused by the estimate: how many in a row came less than
	// downMemory apart, and when the last one was.
	downs    int
	lastDown time.Time
	// lastBudget: the video budget of the previous call.
	lastBudget int
}

type trackState struct {
	cur Layer
	// upSince: since when the estimate (with the margin) has covered a higher layer than
	// cur, without a break; zero when it does not. upTo: the least such layer since then.
	upSince time.Time
	upTo    Layer
	// shortSince: since when the budget has been too short for the track's lowest layer
	// (with pauseMargin), without a break; zero when it is not.
	shortSince time.Time
	// upAt: when the track last stepped up, from upFrom.
	upAt   time.Time
	upFrom Layer
}

// NewAllocator returns an Allocator that reads the time from now (time.Now if nil).
func NewAllocator(now func() time.Time) *Allocator {
	if now == nil {
		now = time.Now
	}
	return &Allocator{now: now, tracks: make(map[string]*trackState)}
}

// Allocate chooses a layer for every track from the viewer's estimate (bps) and the audio it
// receives (bps, reserved first). Tracks not passed again are forgotten.
//
// A new track gets at once what fits. After that, a layer steps down as soon as the estimate
// no longer covers the chosen layers, and steps up only when the estimate has covered the
// higher one with a 15% margin for the hold time (none before the first down-switch; then
// 3 s, doubled by every down-switch that follows another within 30 s, at most 24 s).
func (a *Allocator) Allocate(estimateBps, audioBps int, tracks []Track) map[string]Layer {
	now := a.now()
	budget := estimateBps - max(audioBps, 0)
	fits := fill(budget, tracks)
	fitsUp := fill(int(float64(budget)/upMargin), tracks)

	seen := make(map[string]bool, len(tracks))
	cur := make([]Layer, len(tracks))
	for i, t := range tracks {
		seen[t.ID] = true
		s, ok := a.tracks[t.ID]
		if !ok {
			s = &trackState{cur: fits[i]}
			a.tracks[t.ID] = s
		}
		// What is no longer available or useful (a layer gone, a smaller tile) goes at
		// once, and does not count as congestion.
		s.cur = clampLayer(t, s.cur)
		cur[i] = s.cur
	}
	for id := range a.tracks {
		if !seen[id] {
			delete(a.tracks, id)
		}
	}

	if cost(tracks, cur) > budget {
		// Pausing a video costs the viewer the picture: a track shown on its lowest layer
		// keeps it while the budget is within pauseMargin of what it needs, so that an
		// estimate wobbling around that layer's bitrate does not blank the video.
		// Under that margin it is kept for pauseAfter more, unless the budget fell under
		// collapseMargin: an estimate knocked down by one overuse signal (a burst of delay
		// on a busy machine, a probe that overshot) climbs back within a second.
		keep := fill(int(float64(budget)/pauseMargin), tracks)
		collapsed := fill(int(float64(budget)/collapseMargin), tracks)
		for i := range fits {
			s := a.tracks[tracks[i].ID]
			if fits[i] != Paused || cur[i] == Paused {
				s.shortSince = time.Time{}
				continue
			}
			if keep[i] != Paused {
				s.shortSince = time.Time{}
				fits[i] = nextLayer(tracks[i], Paused)
				continue
			}
			if s.shortSince.IsZero() {
				s.shortSince = now
			}
			if collapsed[i] != Paused && now.Sub(s.shortSince) < pauseAfter {
				fits[i] = nextLayer(tracks[i], Paused)
			}
		}
		a.stepDown(now, tracks, cur, fits, budget < a.lastBudget)
	} else {
		for _, s := range a.tracks {
			s.shortSince = time.Time{}
		}
		a.stepUp(now, tracks, cur, fitsUp, budget)
	}

	a.lastBudget = budget
	out := make(map[string]Layer, len(tracks))
	for _, t := range tracks {
		out[t.ID] = a.tracks[t.ID].cur
	}
	return out
}

// stepDown lowers every track to what fits now. It counts as a down-switch for the hold
// when the estimate fell (not when a new track or a larger layer takes a share).
func (a *Allocator) stepDown(now time.Time, tracks []Track, cur, fits []Layer, fell bool) {
	down := false
	for i, t := range tracks {
		s := a.tracks[t.ID]
		s.upSince = time.Time{}
		if fits[i] < cur[i] && fits[i] >= s.upFrom && !s.upAt.IsZero() && now.Sub(s.upAt) < upGrace {
			continue // the step up's own keyframe, most likely: wait and see
		}
		if fits[i] < cur[i] {
			s.cur = fits[i]
			down = true
		}
	}
	if !down || !fell {
		return
	}
	if !a.lastDown.IsZero() && now.Sub(a.lastDown) < downMemory {
		a.downs++
	} else {
		a.downs = 1
	}
	a.lastDown = now
}

// stepUp raises the tracks whose higher layer the estimate has covered, with the margin,
// for the hold time, as long as the whole choice still fits with the margin.
func (a *Allocator) stepUp(now time.Time, tracks []Track, cur, fitsUp []Layer, budget int) {
	hold := a.hold(now)
	for _, i := range priority(tracks) {
		t := tracks[i]
		s := a.tracks[t.ID]
		if fitsUp[i] <= cur[i] {
			s.upSince = time.Time{}
			continue
		}
		if s.upSince.IsZero() {
			s.upSince, s.upTo = now, fitsUp[i]
		}
		s.upTo = min(s.upTo, fitsUp[i])
		if now.Sub(s.upSince) < hold {
			continue
		}
		next := append([]Layer(nil), cur...)
		next[i] = s.upTo
		if float64(cost(tracks, next))*upMargin > float64(budget) {
			continue
		}
		copy(cur, next)
		s.upAt, s.upFrom = now, s.cur
		s.cur, s.upSince = s.upTo, time.Time{}
	}
}

// hold is how long a higher layer must be covered before the viewer steps up.
func (a *Allocator) hold(now time.Time) time.Duration {
	if a.downs == 0 {
		// Nothing has flapped yet: a viewer starting out (or that never met congestion)
		// climbs as soon as the estimate covers the next layer with the margin. Its
		// estimate rises only by probes the path passed or by slow increases.
		return 0
	}
	if a.downs <= 1 || now.Sub(a.lastDown) >= downMemory {
		return baseHold
	}
	h := baseHold
	for range a.downs - 1 {
		h *= 2
		if h >= maxHold {
			return maxHold
		}
	}
	return h
}

// fill shares budget among the tracks: screen shares before cameras; within each group, the
// lowest layer for everyone before anyone gets a higher one. A track whose next layer does
// not fit stays where it is.
func fill(budget int, tracks []Track) []Layer {
	got := make([]Layer, len(tracks))
	for i := range got {
		got[i] = Paused
	}
	left := budget
	for _, group := range [][]int{indices(tracks, true), indices(tracks, false)} {
		for {
			progress := false
			for _, i := range group {
				next := nextLayer(tracks[i], got[i])
				if next == Paused {
					continue
				}
				extra := bitrate(tracks[i], next) - bitrate(tracks[i], got[i])
				if extra > left {
					continue
				}
				got[i], left = next, left-extra
				progress = true
			}
			if !progress {
				break
			}
		}
	}
	return got
}

// indices are the tracks that are (or are not) screen shares, in a stable order.
func indices(tracks []Track, screen bool) []int {
	var out []int
	for i, t := range tracks {
		if t.Screen == screen {
			out = append(out, i)
		}
	}
	sort.SliceStable(out, func(x, y int) bool { return tracks[out[x]].ID < tracks[out[y]].ID })
	return out
}

// priority orders all tracks as fill serves them.
func priority(tracks []Track) []int {
	return append(indices(tracks, true), indices(tracks, false)...)
}

// nextLayer is the next layer up from l that exists and is useful; Paused if none. A track
// whose layers are all larger than its display needs still gets its smallest one.
func nextLayer(t Track, l Layer) Layer {
	if t.MaxLayer == Paused {
		return Paused
	}
	lowest := Paused
	for c := Low; c <= High; c++ {
		if t.Bitrates[c] != 0 {
			lowest = c
			break
		}
	}
	if lowest == Paused {
		return Paused
	}
	for c := l + 1; c <= High; c++ {
		if t.Bitrates[c] == 0 {
			continue
		}
		if c > t.MaxLayer && c != lowest {
			return Paused
		}
		return c
	}
	return Paused
}

// clampLayer lowers l to what the track still has and needs.
func clampLayer(t Track, l Layer) Layer {
	if l == Paused {
		return Paused
	}
	best := Paused
	for c := Paused; ; {
		n := nextLayer(t, c)
		if n == Paused || n > l {
			return best
		}
		best, c = n, n
	}
}

// bitrate is what layer l of t costs; Paused costs nothing.
func bitrate(t Track, l Layer) int {
	if l == Paused {
		return 0
	}
	if b := t.Bitrates[l]; b > 0 {
		return min(b, maxBitrate)
	}
	return nominal[l]
}

func cost(tracks []Track, layers []Layer) int {
	sum := 0
	for i, t := range tracks {
		sum += bitrate(t, layers[i])
	}
	return sum
}

// Sizes of the low layer; mid and high are twice and four times as large.
const lowWidth, lowHeight = 320, 180

// slack: a layer still serves a display up to 1/8 larger than itself.
const slack = 1.125

// LayerForSize is the largest layer useful at a display size in pixels: 0×0 (or less) is not
// shown (Paused); up to about 320×180 Low; up to about 640×360 Mid; larger High. The larger
// dimension is compared with 320 and the smaller with 180, and the larger ratio decides, so
// a portrait tile counts like the landscape one; "about" is 1/8 more.
func LayerForSize(width, height int) Layer {
	if width <= 0 || height <= 0 {
		return Paused
	}
	long, short := max(width, height), min(width, height)
	r := max(float64(long)/lowWidth, float64(short)/lowHeight)
	switch {
	case r <= slack:
		return Low
	case r <= 2*slack:
		return Mid
	}
	return High
}
