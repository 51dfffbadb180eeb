package server_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/puente-org/puente/live"
	"github.com/puente-org/puente/server"
	"github.com/puente-org/puente/sfu"
	"github.com/puente-org/puente/store"
	"github.com/puente-org/puente/store/livestore"
)

// newLiveEnv is a programme server (clock at 2026-01-01 09:00 UTC) with live rooms on
// loopback, and a series whose first talk starts at 09:20 with a 30-minute join window.
func newLiveEnv(t *testing.T) (p *progEnv, first, second string) {
	t.Helper()
	media, err := sfu.New(sfu.Config{Network: sfu.Network{TCPPort: -1, LoopbackOnly: true}})
	if err != nil {
		t.Fatal(err)
	}
	var hub *live.Hub
	p = newProgEnv(t, func(o *server.Options) {
		o.LinkKey = []byte(strings.Repeat("k", 32))
		hub = live.NewHub(live.Options{Store: livestore.New(o.Store.(*store.Store)), SFU: media, Tokens: live.NewTokens(o.LinkKey), Now: o.Now})
		o.Live = hub
	})
	t.Cleanup(func() { hub.Close(); _ = media.Close() })
	s := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Live Seminar", "timezone": "UTC",
		"start_date": "2026-01-01", "start_time": "09:20", "join_window_minutes": 30, "capacity": 1, "rrule": "FREQ=WEEKLY;COUNT=2"})
	occ := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%v/occurrences?from=2026-01-01&to=2026-01-31", s["id"]), nil))
	if len(occ) < 2 {
		t.Fatalf("occurrences: %v", occ)
	}
	return p, fmt.Sprintf("/api/v1/occurrences/%v", occ[0]["id"]), fmt.Sprintf("/api/v1/occurrences/%v", occ[1]["id"])
}

// Who may enter a room, as what, and when.
func TestLiveAdmission(t *testing.T) {
	p, occ, next := newLiveEnv(t)
	p.must(201, "attendee", "POST", occ+"/registrations", map[string]any{})
	waiting := p.addPeople(1)[0]
	p.must(201, waiting, "POST", occ+"/registrations", map[string]any{}) // capacity 1: waitlisted

	for role, want := range map[string]string{"organiser": "host", "admin": "host", "attendee": "attendee"} {
		out := p.must(200, role, "POST", occ+"/admission", nil)
		if out["role"] != want || !strings.HasPrefix(out["token"].(string), "v1.") || !strings.HasSuffix(out["websocket_url"].(string), "/live/ws") {
			t.Errorf("%s: admission %v", role, out)
		}
	}
	if code, out := p.call("other", "POST", occ+"/admission", nil); code != 403 || !strings.Contains(fmt.Sprint(out), "registered") {
		t.Errorf("unregistered person: %d %v", code, out)
	}
	if code, out := p.call(waiting, "POST", occ+"/admission", nil); code != 403 || !strings.Contains(fmt.Sprint(out), "waiting list") {
		t.Errorf("waitlisted person: %d %v", code, out)
	}
	if code, _ := p.call("", "POST", occ+"/admission", nil); code != 401 {
		t.Errorf("signed out: %d", code)
	}
	// The next week's talk is not open yet, even to its organiser.
	if code, out := p.call("organiser", "POST", next+"/admission", nil); code != 409 || !strings.Contains(fmt.Sprint(out), "opens at") {
		t.Errorf("next week's room: %d %v", code, out)
	}

	// A personal join link works without signing in; a forged one does not.
	box, err := p.store.Mailbox(t.Context(), 50)
	if err != nil {
		t.Fatal(err)
	}
	var link string
	for _, m := range box {
		if m.To == "attendee@example.org" {
			link = regexp.MustCompile(`/join/([A-Za-z0-9._-]+)`).FindStringSubmatch(m.Text)[1]
			break
		}
	}
	if link == "" {
		t.Fatal("no join link mailed to the attendee")
	}
	if out := p.must(200, "", "POST", "/api/v1/join/"+link+"/admission", nil); out["role"] != "attendee" {
		t.Errorf("link admission: %v", out)
	}
	if code, _ := p.call("", "POST", "/api/v1/join/"+link+"x/admission", nil); code != 404 {
		t.Errorf("forged link: %d", code)
	}
}

// The websocket opens only from the site's own pages, and a token opens one connection.
func TestLiveWebSocketOriginAndToken(t *testing.T) {
	p, occ, _ := newLiveEnv(t)
	out := p.must(200, "organiser", "POST", occ+"/admission", nil)
	wsURL := "ws" + strings.TrimPrefix(p.ts.URL, "http") + "/live/ws"

	_, res, err := websocket.DefaultDialer.Dial(wsURL, http.Header{"Origin": {"https://evil.example"}})
	if err == nil || res == nil || res.StatusCode != 403 {
		t.Fatalf("foreign origin: %v %v", err, res)
	}
	if _, res, err := websocket.DefaultDialer.Dial(wsURL, nil); err == nil || res.StatusCode != 403 {
		t.Fatalf("no origin: %v %v", err, res)
	}

	dial := func() *websocket.Conn {
		ws, _, err := websocket.DefaultDialer.Dial(wsURL, http.Header{"Origin": {p.ts.URL}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ws.Close() })
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		if err := ws.WriteJSON(map[string]any{"type": "hello", "v": 1, "token": out["token"]}); err != nil {
			t.Fatal(err)
		}
		return ws
	}
	var m map[string]any
	first := dial()
	if err := first.ReadJSON(&m); err != nil || m["type"] != "welcome" {
		t.Fatalf("welcome: %v %v", m, err)
	}
	if m["you"].(map[string]any)["role"] != "host" || m["you"].(map[string]any)["name"] != "Organiser" {
		t.Fatalf("welcome you: %v", m["you"])
	}
	second := dial()
	if err := second.ReadJSON(&m); err != nil || m["type"] != "error" || m["code"] != "token_used" {
		t.Fatalf("second use of the token: %v %v", m, err)
	}
}

// The join page says the session is being recorded before the person enters, when it is,
// and not otherwise; in the reader's language; the room's indicator is there for everyone.
func TestJoinPageRecordingNotice(t *testing.T) {
	var st *store.Store
	media, err := sfu.New(sfu.Config{Network: sfu.Network{TCPPort: -1, LoopbackOnly: true}})
	if err != nil {
		t.Fatal(err)
	}
	var hub *live.Hub
	p := newProgEnv(t, func(o *server.Options) {
		o.LinkKey = []byte(strings.Repeat("k", 32))
		st = o.Store.(*store.Store)
		rooms := livestore.New(st)
		hub = live.NewHub(live.Options{Store: rooms, Recordings: rooms, SFU: media, Tokens: live.NewTokens(o.LinkKey), Now: o.Now})
		o.Live = hub
	})
	t.Cleanup(func() { hub.Close(); _ = media.Close() })
	s := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Live Seminar", "timezone": "UTC",
		"start_date": "2026-01-01", "start_time": "09:20", "join_window_minutes": 30})
	occs := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%v/occurrences?from=2026-01-01&to=2026-01-31", s["id"]), nil))
	p.must(201, "attendee", "POST", fmt.Sprintf("/api/v1/occurrences/%v/registrations", occs[0]["id"]), nil)
	room := fmt.Sprintf("/occurrences/%v/room", occs[0]["id"])
	occID := int64(occs[0]["id"].(float64))

	notices := map[string]string{"en": "This session is being recorded.", "es": "Esta sesión se está grabando."}
	look := func(who, lang string) string {
		t.Helper()
		b := p.browser(lang)
		b.signIn(who + "@example.org")
		r := b.get(room)
		if r.status != 200 {
			t.Fatalf("%s: %s %d", who, room, r.status)
		}
		if !strings.Contains(r.body, `id="recording-indicator" class="recording-indicator" role="status" hidden`) {
			t.Errorf("%s's room page lacks the room's recording indicator", who)
		}
		return r.body
	}
	for _, c := range []struct{ who, lang string }{{"organiser", "en"}, {"attendee", "es"}} {
		if body := look(c.who, c.lang); strings.Contains(body, `id="recording-notice"`) || strings.Contains(body, notices[c.lang]+" ") {
			t.Errorf("%s (%s): a recording notice while not recording", c.who, c.lang)
		}
	}
	organiser, err := st.PersonByEmail(t.Context(), "organiser@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.StartRecording(t.Context(), occID, organiser.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ who, lang string }{{"organiser", "en"}, {"attendee", "es"}} {
		body := look(c.who, c.lang)
		notice := regexp.MustCompile(`(?s)<p class="notice warn recording-notice" id="recording-notice" role="status">.*?</p>`).FindString(body)
		if !strings.Contains(notice, notices[c.lang]) {
			t.Errorf("%s (%s): no recording notice on the pre-join screen: %q", c.who, c.lang, notice)
		}
		if strings.Index(body, `id="recording-notice"`) > strings.Index(body, `id="prejoin"`) {
			t.Errorf("%s (%s): the notice comes after the pre-join screen", c.who, c.lang)
		}
	}
	if _, err := st.StopRecording(t.Context(), occID, organiser.ID, ""); err != nil {
		t.Fatal(err)
	}
	if body := look("attendee", "es"); strings.Contains(body, `id="recording-notice"`) {
		t.Error("a recording notice after the recording stopped")
	}
}
