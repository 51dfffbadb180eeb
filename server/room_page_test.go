package server_test

import (
	"fmt"
	"strings"
	"testing"
)

// The room page opens on the device check, not in the room: for the event's organiser
// (a host) the check starts with the camera preview (data-on-stage), for a registered
// attendee it does not; both in the reader's language.
func TestRoomPageStartsWithDeviceCheck(t *testing.T) {
	p := newProgEnv(t) // the clock: 2026-01-01 09:00 UTC
	s := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Morning Talk", "timezone": "UTC",
		"start_date": "2026-01-01", "start_time": "09:10"})
	occs := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%v/occurrences?from=2026-01-01&to=2026-01-31", s["id"]), nil))
	p.must(201, "attendee", "POST", fmt.Sprintf("/api/v1/occurrences/%v/registrations", occs[0]["id"]), nil)
	room := fmt.Sprintf("/occurrences/%v/room", occs[0]["id"])
	for _, c := range []struct {
		who, lang, stage, heading string
	}{
		{"organiser", "en", "true", "Before you join"},
		{"attendee", "es", "false", "Antes de entrar"},
	} {
		b := p.browser(c.lang)
		b.signIn(c.who + "@example.org")
		r := b.get(room)
		if r.status != 200 {
			t.Fatalf("%s: %s %d", c.who, room, r.status)
		}
		for _, want := range []string{`id="prejoin"`, `data-on-stage="` + c.stage + `"`, c.heading, `id="join-button"`, `id="room-view" class="room-view" hidden`,
			`id="room-announce" class="visually-hidden" aria-live="polite"`} {
			if !strings.Contains(r.body, want) {
				t.Errorf("%s's room page lacks %s", c.who, want)
			}
		}
	}
}
