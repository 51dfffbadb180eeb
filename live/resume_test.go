package live_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/puente-org/puente/live"
	"github.com/puente-org/puente/signaling"
)

func participantOf(m msg) map[string]any {
	p, _ := m["participant"].(map[string]any)
	return p
}

// watch records every participant and left message a client gets about one participant
// id, so a test can say the others never saw someone leave.
type watch struct {
	mu   sync.Mutex
	seen []string // "reconnecting", "back", "left"
}

// follow drains c's events into w (for participant id) until stop is closed; other
// messages are kept for expect.
func (c *client) follow(id string, w *watch, stop chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case m := <-c.events:
				switch m.str("type") {
				case "participant":
					p := participantOf(m)
					if p["id"] == id {
						w.mu.Lock()
						if p["reconnecting"] == true {
							w.seen = append(w.seen, "reconnecting")
						} else {
							w.seen = append(w.seen, "back")
						}
						w.mu.Unlock()
					}
				case "left":
					if m.str("participant_id") == id {
						w.mu.Lock()
						w.seen = append(w.seen, "left")
						w.mu.Unlock()
					}
				}
			}
		}
	}()
	return &wg
}

func (w *watch) has(s string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, x := range w.seen {
		if x == s {
			return true
		}
	}
	return false
}

func (w *watch) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !w.has(s) {
		if time.Now().After(deadline) {
			t.Fatalf("never saw %q (saw %v)", s, w.seen)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A speaker promoted from the audience, with a raised hand, loses the websocket: the
// others see them reconnecting (never leaving); they resume with the same id, role and
// hand, and their video reaches the viewers again.
func TestPromotedSpeakerResumes(t *testing.T) {
	e := newEnv(t)
	host := e.join("host", "host")
	ana := e.join("ana", "attendee")
	ben := e.join("ben", "attendee")
	host.send(map[string]any{"type": "stage", "participant_id": ana.id, "on": true})
	if r := ana.expect("role"); r.str("role") != "speaker" {
		t.Fatalf("role %v", r)
	}
	ana.send(map[string]any{"type": "hand", "raised": true})
	host.expectWhere("participant", func(m msg) bool { p := participantOf(m); return p["id"] == ana.id && p["hand"] == true })
	ana.publish(true, true)
	tr := ben.nextTrack(ana.id, "camera")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if got := readPackets(ctx, tr, 20, true); got.err != nil {
		t.Fatal(got.err)
	}

	w := &watch{}
	stop := make(chan struct{})
	wg := host.follow(ana.id, w, stop)
	ana.dropSocket()
	w.waitFor(t, "reconnecting")
	welcome := e.reconnect(ana)
	if welcome.str("type") != "welcome" || welcome["resumed"] != true || welcome["media_kept"] != true {
		t.Fatalf("resume answered %v", welcome)
	}
	you, _ := welcome["you"].(map[string]any)
	if you["id"] != ana.id || you["role"] != "speaker" || you["hand"] != true || you["reconnecting"] != false {
		t.Fatalf("resumed as %v, want id %s, speaker, hand raised", you, ana.id)
	}
	w.waitFor(t, "back")
	close(stop)
	wg.Wait()
	if n := e.metric("puente_live_reconnects_total", ""); n != 1 {
		t.Errorf("reconnects counted: %v, want 1", n)
	}
	if n := e.metric("puente_live_resumes_total", "websocket"); n != 1 {
		t.Errorf("websocket resumes counted: %v, want 1", n)
	}
	if n := e.metric("puente_live_participants_in_grace", ""); n != 0 {
		t.Errorf("participants in grace after the resume: %v", n)
	}
	if w.has("left") {
		t.Fatalf("the host saw ana leave: %v", w.seen)
	}
	// Her video reaches ben again after the resume (the server restarted ICE on her kept
	// connections).
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if got := readPackets(ctx2, tr, 30, true); got.err != nil {
		t.Fatalf("ben after ana's resume: %v", got.err)
	}
	// The old resume token no longer works; the new one does.
	if tok := ana.resumeToken(); tok == "" || tok == you["resume_token"] {
		t.Fatalf("resume token not renewed")
	}
}

// Chat said while a viewer was away reaches it exactly once after the resume, and nothing
// said before is sent twice.
func TestChatWhileAwayArrivesOnce(t *testing.T) {
	e := newEnv(t)
	host := e.join("host", "host")
	ben := e.join("ben", "attendee")
	for i := range 3 {
		host.send(map[string]any{"type": "chat", "text": fmt.Sprintf("before %d", i)})
		ben.expectWhere("chat", func(m msg) bool {
			cm, _ := m["message"].(map[string]any)
			return cm["text"] == fmt.Sprintf("before %d", i)
		})
	}
	ben.dropSocket()
	host.expectWhere("participant", func(m msg) bool { p := participantOf(m); return p["id"] == ben.id && p["reconnecting"] == true })
	for i := range 5 {
		host.send(map[string]any{"type": "chat", "text": fmt.Sprintf("while away %d", i)})
		host.expectWhere("chat", func(m msg) bool {
			cm, _ := m["message"].(map[string]any)
			return cm["text"] == fmt.Sprintf("while away %d", i)
		})
	}
	w := e.reconnect(ben)
	if chat, _ := w["chat"].([]any); len(chat) != 5 {
		t.Fatalf("resume replayed %d messages, want the 5 said while away: %v", len(chat), w["chat"])
	}
	host.send(map[string]any{"type": "chat", "text": "after"})
	ben.expectWhere("chat", func(m msg) bool { cm, _ := m["message"].(map[string]any); return cm["text"] == "after" })
	counts := ben.chatCounts()
	if len(counts) != 9 {
		t.Fatalf("ben saw %d distinct messages, want 9: %v", len(counts), counts)
	}
	for id, n := range counts {
		if n != 1 {
			t.Fatalf("message %v reached ben %d times", id, n)
		}
	}
}

// Past the grace period the others see the participant leave, and their attendance ends
// when the connection dropped, not when the grace period did.
func TestGracePeriodEnds(t *testing.T) {
	e := newEnvWith(t, func(o *live.Options) { o.Grace = 700 * time.Millisecond })
	host := e.join("host", "host")
	ben := e.join("ben", "attendee")
	ben.send(map[string]any{"type": "hand", "raised": true})
	host.expectWhere("participant", func(m msg) bool { p := participantOf(m); return p["id"] == ben.id && p["hand"] == true })
	dropped := time.Now()
	ben.dropSocket()
	host.expectWhere("participant", func(m msg) bool { p := participantOf(m); return p["id"] == ben.id && p["reconnecting"] == true })
	if n := e.metric("puente_live_participants_in_grace", ""); n != 1 {
		t.Errorf("participants in grace: %v, want 1", n)
	}
	host.expectWhere("left", func(m msg) bool { return m.str("participant_id") == ben.id })
	if n := e.metric("puente_live_participants_in_grace", ""); n != 0 {
		t.Errorf("participants in grace after it ended: %v, want 0", n)
	}
	// Too late to resume.
	if m := e.reconnect(ben); m.str("type") != "error" || m.str("code") != "resume_refused" {
		t.Fatalf("resume after the grace period: %v", m)
	}
	var left time.Time
	if err := e.pool.QueryRow(context.Background(), `SELECT left_at FROM attendance WHERE person_id = $1`, e.people["ben"].ID).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left.After(dropped.Add(500 * time.Millisecond)) {
		t.Fatalf("attendance ended at %v, the connection dropped at %v", left, dropped)
	}
	// Coming back with a join token is a fresh entry: same participant id, hand lowered.
	again := e.join("ben", "attendee")
	if again.id != ben.id {
		t.Fatalf("participant id after coming back: %s, was %s", again.id, ben.id)
	}
	w := host.expectWhere("participant", func(m msg) bool { return participantOf(m)["id"] == again.id })
	if participantOf(w)["hand"] != false {
		t.Fatalf("hand still raised after leaving for good: %v", w)
	}
}

// A removed participant cannot resume, nor join again.
func TestRemovedCannotResume(t *testing.T) {
	e := newEnv(t)
	host := e.join("host", "host")
	ana := e.join("ana", "attendee")
	tok := ana.resumeToken()
	host.send(map[string]any{"type": "remove", "participant_id": ana.id})
	if m := ana.expect("bye"); m.str("reason") != "removed" {
		t.Fatalf("bye %v", m)
	}
	if m := e.reconnectWith(ana, tok); m.str("code") != "forbidden" {
		t.Fatalf("removed participant resumed: %v", m)
	}
	if m := e.dial("ana", e.token("ana", "attendee")).expect("error"); m.str("code") != "forbidden" {
		t.Fatalf("removed person rejoined: %v", m)
	}
}

// A host mutes a shared screen and unmutes it: screen_muted is what everyone is told.
func TestScreenMuteAndUnmute(t *testing.T) {
	e := newEnv(t)
	host := e.join("host", "host")
	speaker := e.join("speaker", "speaker")
	for _, muted := range []bool{true, false} {
		host.send(map[string]any{"type": "mute", "participant_id": speaker.id, "kind": "screen", "muted": muted})
		if m := speaker.expect("muted"); m.str("kind") != "screen" || m["muted"] != muted {
			t.Fatalf("muted message %v", m)
		}
		host.expectWhere("participant", func(m msg) bool {
			p := participantOf(m)
			return p["id"] == speaker.id && p["screen_muted"] == muted
		})
	}
}

// Resume tokens that are forged, malformed, reused or for another room are refused with a
// clear error; a resume of a participant still connected closes the old connection.
func TestBadResumes(t *testing.T) {
	e := newEnv(t)
	host := e.join("host", "host")
	ben := e.join("ben", "attendee")
	old := ben.resumeToken()
	other := e.otherOccurrence()
	for _, tok := range []string{
		"nonsense",
		"r1.x.y",
		strings.Replace(old, old[len(old)-6:], "AAAAAA", 1),                              // forged: right shape, wrong secret
		"r1.999999." + old[strings.LastIndex(old, ".")+1:],                               // a room that does not exist
		"r1." + strconv.FormatInt(other, 10) + "." + old[strings.LastIndex(old, ".")+1:], // another room
		"r1.1." + strings.Repeat("A", 43),
	} {
		bad := e.dialResume("ben", tok, 0)
		if m := bad.expect("error"); m.str("code") != "resume_refused" {
			t.Fatalf("resume with %q: %v", tok, m)
		}
	}
	if n := e.metric("puente_live_resume_failures_total", "invalid"); n != 6 {
		t.Errorf("refused resumes counted: %v, want 6", n)
	}
	// Resuming while still connected: the old connection gets bye replaced.
	w := e.reconnectWith(ben, old)
	if w.str("type") != "welcome" || participantField(w, "id") != ben.id {
		t.Fatalf("resume while connected: %v", w)
	}
	if !ben.sawBye("replaced") {
		t.Fatalf("the old connection was not told it was replaced")
	}
	// Reused: the token of that resume was replaced by a new one.
	if m := e.dialResume("ben", old, 0).expect("error"); m.str("code") != "resume_refused" {
		t.Fatalf("reused resume token: %v", m)
	}
	host.expectWhere("participant", func(m msg) bool { return participantOf(m)["id"] == ben.id })
}

func participantField(w msg, k string) any {
	you, _ := w["you"].(map[string]any)
	return you[k]
}

// A person whose registration is cancelled is taken out of the room within seconds, and a
// join token issued before no longer admits.
func TestCancelledRegistrationIsTakenOut(t *testing.T) {
	e := newEnv(t)
	host := e.join("host", "host")
	ana := e.join("ana", "attendee")
	spare := e.token("ana", "attendee")
	if _, _, err := e.store.CancelRegistration(context.Background(), e.occ, e.people["ana"].ID, nil); err != nil {
		t.Fatal(err)
	}
	if m := ana.expect("bye"); m.str("reason") != signaling.ByeRevoked {
		t.Fatalf("bye %v", m)
	}
	host.expectWhere("left", func(m msg) bool { return m.str("participant_id") == ana.id })
	if m := e.dial("ana", spare).expect("error"); m.str("code") != "forbidden" {
		t.Fatalf("a token from before the cancellation admitted: %v", m)
	}
}

// Promotions, demotions and reconnections at once: no race (go test -race), and the end
// state is what the last change said.
func TestConcurrentStageAndReconnect(t *testing.T) {
	e := newEnv(t)
	host := e.join("host", "host")
	ana := e.join("ana", "attendee")
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range 20 {
			host.send(map[string]any{"type": "stage", "participant_id": ana.id, "on": i%2 == 0})
			host.send(map[string]any{"type": "mute", "participant_id": ana.id, "kind": "audio", "muted": i%2 == 0})
		}
	}()
	go func() {
		defer wg.Done()
		for range 5 {
			ana.dropSocket()
			if w := e.reconnect(ana); w.str("type") != "welcome" {
				t.Errorf("resume refused: %v", w)
				return
			}
		}
	}()
	wg.Wait()
	host.send(map[string]any{"type": "stage", "participant_id": ana.id, "on": true})
	host.expectWhere("participant", func(m msg) bool {
		p := participantOf(m)
		return p["id"] == ana.id && p["role"] == "speaker" && p["reconnecting"] == false
	})
}
