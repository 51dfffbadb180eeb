package bwe

import (
	"testing"
	"time"
)

// clock is a fake time source the tests move by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

const audio = 40_000

// camera is a three-layer camera at the bitrates the browsers are asked for.
func camera(id string) Track {
	return Track{ID: id, Bitrates: [3]int{150_000, 500_000, 1_700_000}, MaxLayer: High}
}

func screen(id string) Track {
	return Track{ID: id, Screen: true, Bitrates: [3]int{0, 0, 1_200_000}, MaxLayer: High}
}

func TestAllocateByEstimate(t *testing.T) {
	for _, tc := range []struct {
		name     string
		estimate int
		want     Layer
	}{
		{"fast viewer", 5_000_000, High},
		{"just enough for high", 1_740_000, High},
		{"a little less", 1_700_000, Mid},
		{"1 Mbps", 1_000_000, Mid},
		{"300 kbps", 300_000, Low},
		{"80 kbps", 80_000, Paused},
		{"less than the audio", 20_000, Paused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{t: time.Unix(1000, 0)}
			got := NewAllocator(c.now).Allocate(tc.estimate, audio, []Track{camera("cam")})
			if got["cam"] != tc.want {
				t.Errorf("Allocate(%d) = %v, want %v", tc.estimate, got["cam"], tc.want)
			}
		})
	}
}

func TestAudioIsReserved(t *testing.T) {
	a := NewAllocator((&clock{t: time.Unix(1000, 0)}).now)
	// 180 kbps covers the low layer alone, but not with 40 kbps of audio.
	if got := a.Allocate(180_000, audio, []Track{camera("cam")}); got["cam"] != Paused {
		t.Errorf("with audio: %v, want paused", got["cam"])
	}
	b := NewAllocator((&clock{t: time.Unix(1000, 0)}).now)
	if got := b.Allocate(180_000, 0, []Track{camera("cam")}); got["cam"] != Low {
		t.Errorf("without audio: %v, want low", got["cam"])
	}
}

func TestScreenWinsOverCamera(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	tracks := []Track{camera("cam"), screen("slides")}
	// 1.3 Mbps: the screen share (1.2 Mbps) fits, the camera's low layer does not as well.
	got := NewAllocator(c.now).Allocate(1_300_000, audio, tracks)
	if got["slides"] != High || got["cam"] != Paused {
		t.Errorf("1.3 Mbps: %v, want the screen share and no camera", got)
	}
	got = NewAllocator(c.now).Allocate(1_500_000, audio, tracks)
	if got["slides"] != High || got["cam"] != Low {
		t.Errorf("1.5 Mbps: %v, want the screen share and the camera's low layer", got)
	}
	got = NewAllocator(c.now).Allocate(500_000, audio, tracks)
	if got["slides"] != Paused || got["cam"] != Low {
		t.Errorf("500 kbps: %v, want the camera's low layer when the screen share does not fit", got)
	}
}

func TestLowestLayersFirst(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	tracks := []Track{camera("a"), camera("b"), camera("c")}
	// 3 × 150k fits, one more mid (+350k) fits, not two.
	got := NewAllocator(c.now).Allocate(audio+450_000+350_000+100_000, audio, tracks)
	n := map[Layer]int{}
	for _, l := range got {
		n[l]++
	}
	if n[Low] != 2 || n[Mid] != 1 {
		t.Errorf("got %v, want every camera on low and one on mid", got)
	}
	got = NewAllocator(c.now).Allocate(audio+400_000, audio, tracks)
	n = map[Layer]int{}
	for _, l := range got {
		n[l]++
	}
	if n[Low] != 2 || n[Paused] != 1 {
		t.Errorf("got %v, want two cameras on low, one paused", got)
	}
}

func TestDisplaySizeAndMissingLayers(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	small := camera("cam")
	small.MaxLayer = Low
	if got := NewAllocator(c.now).Allocate(5_000_000, audio, []Track{small}); got["cam"] != Low {
		t.Errorf("small tile: %v, want low", got["cam"])
	}
	hidden := camera("cam")
	hidden.MaxLayer = Paused
	if got := NewAllocator(c.now).Allocate(5_000_000, audio, []Track{hidden}); got["cam"] != Paused {
		t.Errorf("hidden: %v, want paused", got["cam"])
	}
	onlyHigh := Track{ID: "cam", Bitrates: [3]int{0, 0, 1_000_000}, MaxLayer: Low}
	if got := NewAllocator(c.now).Allocate(5_000_000, audio, []Track{onlyHigh}); got["cam"] != High {
		t.Errorf("only h, small tile: %v, want h (all there is)", got["cam"])
	}
	noMid := Track{ID: "cam", Bitrates: [3]int{150_000, 0, 1_700_000}, MaxLayer: High}
	if got := NewAllocator(c.now).Allocate(1_000_000, audio, []Track{noMid}); got["cam"] != Low {
		t.Errorf("no mid at 1 Mbps: %v, want low", got["cam"])
	}
	none := Track{ID: "cam", MaxLayer: High}
	if got := NewAllocator(c.now).Allocate(5_000_000, audio, []Track{none}); got["cam"] != Paused {
		t.Errorf("no layers: %v, want paused", got["cam"])
	}
	// Paused upstream: counted at its nominal bitrate so that it can be chosen.
	resumable := Track{ID: "cam", Bitrates: [3]int{150_000, Unmeasured, Unmeasured}, MaxLayer: High}
	if got := NewAllocator(c.now).Allocate(5_000_000, audio, []Track{resumable}); got["cam"] != High {
		t.Errorf("unmeasured layers on a fast link: %v, want high", got["cam"])
	}
	if got := NewAllocator(c.now).Allocate(1_000_000, audio, []Track{resumable}); got["cam"] != Mid {
		t.Errorf("unmeasured layers at 1 Mbps: %v, want mid", got["cam"])
	}
}

// run feeds an estimate trace (one value a second) and counts the layer switches.
func run(a *Allocator, c *clock, trace []int) (last Layer, switches int) {
	last = Paused
	for i, e := range trace {
		l := a.Allocate(e, audio, []Track{camera("cam")})["cam"]
		if i > 0 && l != last {
			switches++
		}
		last = l
		c.advance(time.Second)
	}
	return last, switches
}

func repeat(v, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestDegradeAndRecover(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	a := NewAllocator(c.now)
	var trace []int
	trace = append(trace, repeat(3_000_000, 10)...) // high
	trace = append(trace, repeat(250_000, 10)...)   // collapse: low at once
	trace = append(trace, repeat(3_000_000, 20)...) // recovery: high after the hold
	last, switches := run(a, c, trace)
	if last != High {
		t.Errorf("after recovery: %v, want high", last)
	}
	if switches > 4 || switches < 2 {
		t.Errorf("%d switches, want 2 to 4", switches)
	}

	// Step down at once, up only after the hold.
	c = &clock{t: time.Unix(1000, 0)}
	a = NewAllocator(c.now)
	if l := a.Allocate(3_000_000, audio, []Track{camera("cam")})["cam"]; l != High {
		t.Fatalf("start: %v", l)
	}
	c.advance(time.Second)
	if l := a.Allocate(700_000, audio, []Track{camera("cam")})["cam"]; l != Mid {
		t.Fatalf("congested: %v, want mid at once", l)
	}
	// The hold counts from the first report that covers high.
	for range 3 {
		c.advance(time.Second)
		if l := a.Allocate(3_000_000, audio, []Track{camera("cam")})["cam"]; l != Mid {
			t.Fatalf("within the hold: %v, want mid", l)
		}
	}
	c.advance(time.Second)
	if l := a.Allocate(3_000_000, audio, []Track{camera("cam")})["cam"]; l != High {
		t.Fatalf("after the hold: %v, want high", l)
	}
}

func TestPausedAndBack(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	a := NewAllocator(c.now)
	var trace []int
	trace = append(trace, repeat(400_000, 5)...)
	trace = append(trace, repeat(80_000, 10)...)
	trace = append(trace, repeat(400_000, 10)...)
	last, switches := run(a, c, trace)
	if last != Low || switches != 2 {
		t.Errorf("ended on %v after %d switches, want low after 2 (paused and back)", last, switches)
	}
}

func TestNoFlappingOnNoise(t *testing.T) {
	// Mid plus audio costs 540 kbps; high plus audio 1.74 Mbps. An estimate wobbling ±10%
	// around either threshold must not make the viewer flap.
	for _, center := range []int{540_000, 1_740_000} {
		c := &clock{t: time.Unix(1000, 0)}
		a := NewAllocator(c.now)
		trace := repeat(3_000_000, 5)
		for i := range 120 {
			f := []float64{1.1, 0.9, 1.05, 0.95, 1.0, 0.92, 1.08}[i%7]
			trace = append(trace, int(float64(center)*f))
		}
		_, switches := run(a, c, trace)
		if switches > 4 {
			t.Errorf("around %d bps: %d switches, want at most 4", center, switches)
		}
	}
}

func TestRepeatedDownSwitchesLengthenTheHold(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	a := NewAllocator(c.now)
	tracks := []Track{camera("cam")}
	a.Allocate(3_000_000, audio, tracks)
	for _, want := range []time.Duration{3 * time.Second, 6 * time.Second, 12 * time.Second} {
		c.advance(upGrace) // past the grace of the last step up
		if l := a.Allocate(700_000, audio, tracks)["cam"]; l != Mid {
			t.Fatalf("down: %v", l)
		}
		waited := time.Duration(0)
		for a.Allocate(3_000_000, audio, tracks)["cam"] != High {
			c.advance(time.Second)
			waited += time.Second
			if waited > time.Minute {
				t.Fatal("never stepped up")
			}
		}
		if waited != want {
			t.Errorf("stepped up after %v, want %v", waited, want)
		}
	}
	// Quiet for longer than the memory: back to the base hold.
	c.advance(time.Minute)
	a.Allocate(700_000, audio, tracks)
	waited := time.Duration(0)
	for a.Allocate(3_000_000, audio, tracks)["cam"] != High {
		c.advance(time.Second)
		waited += time.Second
	}
	if waited != 3*time.Second {
		t.Errorf("after a quiet minute: stepped up after %v, want 3s", waited)
	}
}

// TestStepUpIsNotUndoneByItsKeyframe: a dip right after a step up that still covers the
// layer the track came from is waited out for upGrace; a deeper one is not.
func TestStepUpIsNotUndoneByItsKeyframe(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	a := NewAllocator(c.now)
	cam := []Track{camera("cam")}
	a.Allocate(3_000_000, audio, cam)
	// dipRightAfterClimb: the estimate climbs back, the viewer steps up to high after the
	// hold, and half a second later the estimate dips to bps.
	dipRightAfterClimb := func(bps int) Layer {
		for a.Allocate(3_000_000, audio, cam)["cam"] != High {
			c.advance(500 * time.Millisecond)
		}
		c.advance(500 * time.Millisecond)
		return a.Allocate(bps, audio, cam)["cam"]
	}
	c.advance(time.Second)
	if l := a.Allocate(700_000, audio, cam)["cam"]; l != Mid {
		t.Fatalf("down: %v, want mid", l)
	}
	if l := dipRightAfterClimb(1_200_000); l != High {
		t.Fatalf("a dip to mid's budget right after the step up: %v, want high kept", l)
	}
	c.advance(upGrace)
	if l := a.Allocate(1_200_000, audio, cam)["cam"]; l != Mid {
		t.Fatalf("the same dip after the grace: %v, want mid", l)
	}
	// Deeper than the layer it came from: down at once, grace or not.
	if l := dipRightAfterClimb(300_000); l != Low {
		t.Fatalf("a fall to 300 kbps right after the step up: %v, want low", l)
	}
}

func TestForgetsTracks(t *testing.T) {
	a := NewAllocator(nil)
	a.Allocate(3_000_000, audio, []Track{camera("a"), camera("b")})
	a.Allocate(3_000_000, audio, []Track{camera("b")})
	if len(a.tracks) != 1 {
		t.Errorf("%d tracks kept, want 1", len(a.tracks))
	}
}

func TestLayerForSize(t *testing.T) {
	for _, tc := range []struct {
		w, h int
		want Layer
	}{
		{0, 0, Paused},
		{-5, 100, Paused},
		{160, 90, Low},
		{320, 180, Low},
		{360, 200, Low},
		{180, 320, Low}, // portrait
		{400, 225, Mid},
		{640, 360, Mid},
		{320, 400, Mid}, // tall tile: the small side decides
		{800, 450, High},
		{1920, 1080, High},
		{1 << 30, 1 << 30, High},
	} {
		if got := LayerForSize(tc.w, tc.h); got != tc.want {
			t.Errorf("LayerForSize(%d, %d) = %v, want %v", tc.w, tc.h, got, tc.want)
		}
	}
}

func TestNewTrackIsNotCongestion(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	a := NewAllocator(c.now)
	a.Allocate(2_000_000, audio, []Track{camera("a")})
	c.advance(time.Second)
	// A second camera arrives: a steps down to make room, at the same estimate.
	got := a.Allocate(2_000_000, audio, []Track{camera("a"), camera("b")})
	if got["a"] != Mid || got["b"] != Mid {
		t.Errorf("two cameras at 2 Mbps: %v, want both on mid", got)
	}
	if a.downs != 0 {
		t.Errorf("%d down-switches counted, want none", a.downs)
	}
}

// TestLowestLayerIsNotPausedOnAWobble: a viewer on the lowest layer whose estimate dips a
// little under that layer's need keeps its picture; one whose estimate stays well under it
// for a second is paused; one whose link collapses is paused at once.
func TestLowestLayerIsNotPausedOnAWobble(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	a := NewAllocator(c.now)
	cam := []Track{camera("cam")}
	if l := a.Allocate(audio+160_000, audio, cam)["cam"]; l != Low {
		t.Fatalf("start: %v, want low", l)
	}
	for _, video := range []int{140_000, 125_000, 150_000, 122_000} { // within 80% of 150 kbps
		c.advance(500 * time.Millisecond)
		if l := a.Allocate(audio+video, audio, cam)["cam"]; l != Low {
			t.Fatalf("%d bps left for video: %v, want low", video, l)
		}
	}
	// Under 80% but over half: kept for a second, in case the estimate climbs back.
	for _, video := range []int{100_000, 100_000, 160_000, 100_000, 100_000} {
		c.advance(500 * time.Millisecond)
		if l := a.Allocate(audio+video, audio, cam)["cam"]; l != Low {
			t.Fatalf("%d bps left for video, less than a second: %v, want low", video, l)
		}
	}
	c.advance(500 * time.Millisecond)
	if l := a.Allocate(audio+100_000, audio, cam)["cam"]; l != Paused {
		t.Fatalf("100 kbps left for video for a second: %v, want paused", l)
	}
	// Paused, it comes back only when the layer fits (with the margin), not on the wobble.
	c.advance(500 * time.Millisecond)
	if l := a.Allocate(audio+140_000, audio, cam)["cam"]; l != Paused {
		t.Fatalf("back at 140 kbps: %v, want still paused", l)
	}

	// A collapse (under half the lowest layer) pauses at once.
	b := NewAllocator(c.now)
	b.Allocate(audio+160_000, audio, cam)
	c.advance(500 * time.Millisecond)
	if l := b.Allocate(audio+70_000, audio, cam)["cam"]; l != Paused {
		t.Fatalf("70 kbps left for video: %v, want paused at once", l)
	}
}
