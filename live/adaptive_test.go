package live_test

import (
	"testing"
)

// A host's debug view: every viewer's layers, and a viewer's view size taking a video it
// does not show out of what it gets; attendees may not ask for it.
func TestHostStatsAndViewSizes(t *testing.T) {
	e := newEnv(t)
	host := e.join("host", "host")
	ben := e.join("ben", "attendee")
	host.publish(true, true)
	tr := ben.nextTrack(host.id, "camera")
	trackID := tr.track.ID()

	ben.send(map[string]any{"type": "stats", "on": true})
	if m := ben.expect("error"); m.str("code") != "forbidden" {
		t.Fatalf("an attendee asked for the debug view: %v", m)
	}
	host.send(map[string]any{"type": "stats", "on": true})
	layerOf := func(want string) {
		t.Helper()
		host.expectWhere("stats", func(m msg) bool {
			viewers, _ := m["viewers"].([]any)
			for _, v := range viewers {
				vs, _ := v.(map[string]any)
				if vs["participant_id"] != ben.id {
					continue
				}
				layers, _ := vs["layers"].(map[string]any)
				return layers[trackID] == want
			}
			return false
		})
	}
	layerOf("high") // a single-layer camera is its high layer
	ben.send(map[string]any{"type": "view", "tracks": map[string]any{trackID: map[string]any{"width": 0, "height": 0}}})
	layerOf("paused") // not shown: not sent
	ben.send(map[string]any{"type": "view", "tracks": map[string]any{trackID: map[string]any{"width": 1e9, "height": -3}}})
	layerOf("paused") // absurd: clamped (a height of 0 is not shown)
	ben.send(map[string]any{"type": "view", "tracks": map[string]any{trackID: map[string]any{"width": 640, "height": 360}}})
	layerOf("high")
	host.send(map[string]any{"type": "stats", "on": false})
}
