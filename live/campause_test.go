package live_test

import (
	"testing"
)

// A camera published without simulcast that nobody shows: its publisher gets "layers" for
// the camera with the rid "" false (stop sending it), and true again when a viewer shows
// it (docs/signaling.md §6).
func TestWholeCameraLayersMessage(t *testing.T) {
	e := newEnv(t)
	host := e.join("host", "host")
	ben := e.join("ben", "attendee")
	host.publish(true, true)
	tr := ben.nextTrack(host.id, "camera")
	trackID := tr.track.ID()

	whole := func(want bool) {
		t.Helper()
		host.expectWhere("layers", func(m msg) bool {
			active, _ := m["active"].(map[string]any)
			on, ok := active[""].(bool)
			return m.str("source") == "camera" && ok && on == want && len(active) == 1
		})
	}
	ben.send(map[string]any{"type": "view", "tracks": map[string]any{trackID: map[string]any{"width": 0, "height": 0}}})
	whole(false)
	ben.send(map[string]any{"type": "view", "tracks": map[string]any{trackID: map[string]any{"width": 640, "height": 360}}})
	whole(true)
}
