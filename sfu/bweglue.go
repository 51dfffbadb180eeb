package sfu

import "github.com/puente-org/puente/sfu/bwe"

// bweAllocator is bwe's allocator (priorities, hysteresis) behind the sfu's Allocator.
type bweAllocator struct{ a *bwe.Allocator }

func newBWEAllocator() Allocator { return bweAllocator{a: bwe.NewAllocator(nil)} }

func (b bweAllocator) Allocate(estimateBps, audioBps int, tracks []TrackDemand) map[string]int {
	in := make([]bwe.Track, len(tracks))
	for i, t := range tracks {
		in[i] = bwe.Track{ID: t.ID, Screen: t.Screen, Bitrates: t.Bitrates, MaxLayer: bwe.Layer(t.MaxLayer)}
	}
	got := b.a.Allocate(estimateBps, audioBps, in)
	out := make(map[string]int, len(got))
	for id, l := range got {
		out[id] = int(l)
	}
	return out
}
