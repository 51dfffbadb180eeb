package live_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// A server restart (a deploy: everyone gets bye shutdown) keeps the room: the next process
// rebuilds it from the database; everyone resumes with the same participant id, the
// promoted speaker is still a speaker, the hand still raised, the removed person still
// removed, the chat complete; the media starts again on new connections.
func TestRoomSurvivesRestart(t *testing.T) {
	e := newEnv(t)
	host := e.join("host", "host")
	ana := e.join("ana", "attendee")
	ben := e.join("ben", "attendee")
	carla := e.join("carla", "attendee")
	host.send(map[string]any{"type": "stage", "participant_id": ana.id, "on": true})
	ana.expect("role")
	ben.send(map[string]any{"type": "hand", "raised": true})
	host.expectWhere("participant", func(m msg) bool { p := participantOf(m); return p["id"] == ben.id && p["hand"] == true })
	host.send(map[string]any{"type": "remove", "participant_id": carla.id})
	carla.expect("bye")
	for i := range 3 {
		host.send(map[string]any{"type": "chat", "text": fmt.Sprintf("before the restart %d", i)})
	}
	for _, c := range []*client{host, ben} { // both have every message before the restart
		c.expectWhere("chat", func(m msg) bool {
			cm, _ := m["message"].(map[string]any)
			return cm["text"] == "before the restart 2"
		})
	}

	type saved struct {
		id, token string
		since     int64
	}
	keep := map[string]saved{}
	for _, c := range []*client{host, ana, ben} {
		c.mu.Lock()
		keep[c.name] = saved{c.id, c.resume, int64(c.lastChat)}
		c.mu.Unlock()
	}
	e.restartHub()
	for _, c := range []*client{host, ana, ben} {
		if m := c.expect("bye"); m.str("reason") != "shutdown" {
			t.Fatalf("%s: bye %v", c.name, m)
		}
	}

	// The host comes back first and sees the others reconnecting, not gone.
	host2 := e.dialResume("host", keep["host"].token, keep["host"].since)
	w := host2.expect("welcome")
	if w["resumed"] != true || w["media_kept"] != false || participantField(w, "id") != keep["host"].id {
		t.Fatalf("host's resume after the restart: %v", w)
	}
	if chat, _ := w["chat"].([]any); len(chat) != 0 {
		t.Fatalf("the host had every message; the resume replayed %d", len(chat))
	}
	others := map[string]map[string]any{}
	list, _ := w["participants"].([]any)
	for _, x := range list {
		p, _ := x.(map[string]any)
		id, _ := p["id"].(string)
		others[id] = p
	}
	for _, name := range []string{"ana", "ben"} {
		p := others[keep[name].id]
		if p == nil || p["reconnecting"] != true {
			t.Fatalf("%s after the restart, as the host sees them: %v (participants %v)", name, p, list)
		}
	}
	if _, ok := others[carla.id]; ok {
		t.Fatalf("the removed participant is back in the room")
	}

	ana2 := e.dialResume("ana", keep["ana"].token, keep["ana"].since)
	w = ana2.expect("welcome")
	ana2.id = keep["ana"].id
	if participantField(w, "id") != keep["ana"].id || participantField(w, "role") != "speaker" {
		t.Fatalf("ana after the restart: %v", w["you"])
	}
	ben2 := e.dialResume("ben", keep["ben"].token, 0)
	w = ben2.expect("welcome")
	if participantField(w, "id") != keep["ben"].id || participantField(w, "hand") != true {
		t.Fatalf("ben after the restart: %v", w["you"])
	}
	if chat, _ := w["chat"].([]any); len(chat) != 3 {
		t.Fatalf("ben asked for the chat from the start and got %d messages, want 3", len(chat))
	}
	host2.expectWhere("participant", func(m msg) bool {
		p := participantOf(m)
		return p["id"] == keep["ben"].id && p["reconnecting"] == false && p["hand"] == true
	})
	if m := e.dial("carla", e.token("carla", "attendee")).expect("error"); m.str("code") != "forbidden" {
		t.Fatalf("removed person joined after the restart: %v", m)
	}

	// The speaker publishes again on new connections; ben receives her.
	ana2.publish(true, false)
	tr := ben2.nextTrack(keep["ana"].id, "camera")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if got := readPackets(ctx, tr, 20, true); got.err != nil {
		t.Fatal(got.err)
	}

	// Attendance: the rows of the first process were closed when it stopped, new ones
	// opened on resume; nobody has two open rows.
	var open, people int
	if err := e.pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT person_id) FROM attendance WHERE occurrence_id = $1 AND left_at IS NULL`, e.occ).Scan(&open, &people); err != nil {
		t.Fatal(err)
	}
	if open != 3 || people != 3 {
		t.Fatalf("%d open attendance rows for %d people, want one each for host, ana and ben", open, people)
	}
}

// rawHello opens a websocket without media and says hello; it returns the first answer
// (welcome or error) and the connection.
func (e *env) rawHello(hello map[string]any) (msg, *websocket.Conn, error) {
	h := http.Header{"Origin": {e.srv.URL}}
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.srv.URL, "http"), h)
	if err != nil {
		return nil, nil, err
	}
	if err := ws.WriteJSON(hello); err != nil {
		ws.Close()
		return nil, nil, err
	}
	_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		var m msg
		if err := ws.ReadJSON(&m); err != nil {
			ws.Close()
			return nil, nil, err
		}
		if t := m.str("type"); t == "welcome" || t == "error" {
			return m, ws, nil
		}
	}
}

// Everyone in a 200-person room resumes within the same second: each gets their own
// participant back, nobody is refused, nothing leaks (goleak in newEnv).
func TestResumeStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("200 participants")
	}
	e := newEnv(t)
	names := e.addAttendees(200)
	type person struct {
		id, token string
		ws        *websocket.Conn
	}
	people := make([]person, len(names))
	for i, name := range names {
		w, ws, err := e.rawHello(map[string]any{"type": "hello", "v": 1, "token": e.token(name, "attendee")})
		if err != nil || w.str("type") != "welcome" {
			t.Fatalf("%s: %v %v", name, w, err)
		}
		people[i] = person{id: participantField(w, "id").(string), token: w.str("resume_token"), ws: ws}
	}
	for _, p := range people {
		_ = p.ws.UnderlyingConn().Close() // all dropped at once
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(people))
	for i := range people {
		wg.Go(func() {
			w, ws, err := e.rawHello(map[string]any{"type": "hello", "v": 1, "resume": people[i].token, "since": 0})
			if err != nil {
				errs <- err
				return
			}
			defer ws.Close()
			if w.str("type") != "welcome" || participantField(w, "id") != people[i].id {
				errs <- fmt.Errorf("%s: %v", names[i], w)
				return
			}
			_ = ws.WriteJSON(map[string]any{"type": "leave"})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
