package live_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/rtcp"

	"github.com/puente-org/puente/sfu"
)

// A speaker's audio and video reach three viewers, every payload intact and in order, with
// one system call per packet and viewer, and with the viewers' copies batched (sendmmsg).
func TestMediaReachesEveryViewer(t *testing.T) {
	t.Run("plain writes", func(t *testing.T) { mediaReachesEveryViewer(t, newEnv(t)) })
	t.Run("batched writes", func(t *testing.T) {
		mediaReachesEveryViewer(t, newEnv(t, func(c *sfu.Config) { c.Network.BatchWrites = true }))
	})
}

func mediaReachesEveryViewer(t *testing.T, e *env) {
	speaker := e.join("speaker", "speaker")
	viewers := []*client{e.join("ana", "attendee"), e.join("ben", "attendee"), e.join("carla", "attendee")}
	speaker.publish(true, true)

	var wg sync.WaitGroup
	errs := make(chan error, 2*len(viewers))
	for _, v := range viewers {
		for _, src := range []string{"camera", "microphone"} {
			tr := v.nextTrack(speaker.id, src)
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				got := readPackets(ctx, tr, 60, src == "camera")
				if got.err != nil {
					errs <- fmt.Errorf("%s %s: %w after %d packets", v.name, src, got.err, len(got.numbers))
					return
				}
				if err := got.inOrder(); err != nil {
					errs <- fmt.Errorf("%s %s: %w", v.name, src, err)
				}
				if src == "camera" && !got.keys[0] {
					errs <- fmt.Errorf("%s: video started with packet %d, not a keyframe", v.name, got.numbers[0])
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Everyone sees the speaker publishing.
	viewers[0].expectWhere("participant", func(m msg) bool {
		p, _ := m["participant"].(map[string]any)
		pub, _ := p["publishing"].([]any)
		return p["id"] == speaker.id && len(pub) == 2
	})
}

// A viewer who joins after the start gets a keyframe first: the SFU asks the publisher.
func TestLateViewerStartsAtAKeyframe(t *testing.T) {
	e := newEnv(t)
	speaker := e.join("speaker", "speaker")
	early := e.join("ana", "attendee")
	pub := speaker.publish(true, false)
	tr := early.nextTrack(speaker.id, "camera")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if got := readPackets(ctx, tr, 100, true); got.err != nil { // a second of video: no keyframe since the first
		t.Fatal(got.err)
	}
	for len(pub.plis) > 0 {
		<-pub.plis // keyframe requests so far are the early viewer's
	}
	late := e.join("ben", "attendee")
	lt := late.nextTrack(speaker.id, "camera")
	got := readPackets(ctx, lt, 20, true)
	if got.err != nil {
		t.Fatal(got.err)
	}
	if !got.keys[0] {
		t.Fatalf("the late viewer's first packet (%d) is not a keyframe", got.numbers[0])
	}
	if got.numbers[0] < 100 {
		t.Fatalf("the late viewer got packet %d, from before it joined", got.numbers[0])
	}
	if err := got.inOrder(); err != nil {
		t.Fatal(err)
	}
}

// Attendees only receive: their offers are refused, and the connection carries on.
func TestAttendeeOfferIsRefused(t *testing.T) {
	e := newEnv(t)
	ana := e.join("ana", "attendee")
	ana.publish(true, true)
	m := ana.expect("error")
	if m.str("code") != "forbidden" {
		t.Fatalf("error %v, want forbidden", m)
	}
	ana.send(map[string]any{"type": "chat", "text": "still here"})
	ana.expectWhere("chat", func(m msg) bool { return strings.Contains(fmt.Sprint(m["message"]), "still here") })
}

// The host invites an attendee onto the stage: the attendee can then publish, and others
// receive it; moved back, forwarding stops.
func TestStagePromotionAndBack(t *testing.T) {
	e := newEnv(t)
	host := e.join("host", "host")
	ana := e.join("ana", "attendee")
	ben := e.join("ben", "attendee")
	ana.send(map[string]any{"type": "hand", "raised": true})
	host.expectWhere("participant", func(m msg) bool {
		p, _ := m["participant"].(map[string]any)
		return p["id"] == ana.id && p["hand"] == true
	})
	host.send(map[string]any{"type": "stage", "participant_id": ana.id, "on": true})
	if r := ana.expect("role"); r.str("role") != "speaker" {
		t.Fatalf("role message %v", r)
	}
	ana.publish(true, true)
	tr := ben.nextTrack(ana.id, "camera")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if got := readPackets(ctx, tr, 30, true); got.err != nil {
		t.Fatal(got.err)
	} else if err := got.inOrder(); err != nil {
		t.Fatal(err)
	}

	host.send(map[string]any{"type": "stage", "participant_id": ana.id, "on": false})
	if r := ana.expect("role"); r.str("role") != "attendee" {
		t.Fatalf("role message %v", r)
	}
	// The track ends for ben: reading fails once the SFU removed it.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	got := readPackets(ctx2, tr, 1_000_000, true)
	if got.err == nil || strings.Contains(got.err.Error(), "timeout") {
		t.Fatalf("ben still receives ana's video after she left the stage (%d packets, %v)", len(got.numbers), got.err)
	}
	// And her new offers are refused.
	ana.publish(false, true)
	if m := ana.expect("error"); m.str("code") != "forbidden" {
		t.Fatalf("error %v, want forbidden", m)
	}
}

// A host mutes a speaker's audio: forwarding stops and the speaker is told; unmuting
// resumes it.
func TestMuteStopsForwarding(t *testing.T) {
	e := newEnv(t)
	host := e.join("host", "host")
	speaker := e.join("speaker", "speaker")
	ana := e.join("ana", "attendee")
	speaker.publish(false, true)
	tr := ana.nextTrack(speaker.id, "microphone")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if got := readPackets(ctx, tr, 10, false); got.err != nil {
		t.Fatal(got.err)
	}
	host.send(map[string]any{"type": "mute", "participant_id": speaker.id, "kind": "audio", "muted": true})
	if m := speaker.expect("muted"); m.str("kind") != "audio" || m["muted"] != true || m.str("by") != host.id {
		t.Fatalf("muted message %v", m)
	}
	host.expectWhere("participant", func(m msg) bool {
		p, _ := m["participant"].(map[string]any)
		return p["id"] == speaker.id && p["audio_muted"] == true
	})
	// Packets in flight may still arrive; after that, silence for a second while the
	// speaker keeps sending (50 packets a second).
	drain, cancelDrain := context.WithTimeout(context.Background(), 300*time.Millisecond)
	readPackets(drain, tr, 1_000_000, false)
	cancelDrain()
	quiet, cancelQuiet := context.WithTimeout(context.Background(), time.Second)
	got := readPackets(quiet, tr, 1_000_000, false)
	cancelQuiet()
	if len(got.numbers) > 0 {
		t.Fatalf("%d packets forwarded while muted", len(got.numbers))
	}
	host.send(map[string]any{"type": "mute", "participant_id": speaker.id, "kind": "audio", "muted": false})
	ctx3, cancel3 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel3()
	got = readPackets(ctx3, tr, 10, false)
	if got.err != nil {
		t.Fatalf("no audio after unmuting: %v", got.err)
	}
	if err := got.inOrder(); err != nil { // numbering continues without a gap for the viewer
		t.Fatal(err)
	}
}

// Chat and questions arrive in order for everyone, persist, and come back to latecomers.
func TestChatAndQuestions(t *testing.T) {
	e := newEnv(t)
	host := e.join("host", "host")
	ana := e.join("ana", "attendee")
	ben := e.join("ben", "attendee")
	for i := range 20 {
		c := []*client{ana, ben}[i%2]
		c.send(map[string]any{"type": "chat", "text": fmt.Sprintf("message %02d <b>not bold</b>", i)})
		// Wait for each so the order across two senders is defined.
		host.expectWhere("chat", func(m msg) bool { return strings.Contains(fmt.Sprint(m["message"]), fmt.Sprintf("message %02d", i)) })
	}
	ana.send(map[string]any{"type": "ask", "text": "How long do the cells last?"})
	q := ben.expect("question")["question"].(map[string]any)
	qid := q["id"]
	ben.send(map[string]any{"type": "upvote", "question_id": qid})
	ben.send(map[string]any{"type": "upvote", "question_id": qid}) // one vote per person
	carla := e.join("carla", "attendee")
	carla.send(map[string]any{"type": "upvote", "question_id": qid})
	host.expectWhere("question", func(m msg) bool { return m["question"].(map[string]any)["votes"] == float64(2) })
	host.send(map[string]any{"type": "question", "question_id": qid, "state": "answered"})
	ana.expectWhere("question", func(m msg) bool { return m["question"].(map[string]any)["state"] == "answered" })
	ana.send(map[string]any{"type": "question", "question_id": qid, "state": "dismissed"})
	if m := ana.expect("error"); m.str("code") != "forbidden" {
		t.Fatalf("an attendee marked a question: %v", m)
	}

	// A latecomer gets all of it, in order, as plain text.
	dev := e.dial("dev", e.token("dev", "attendee"))
	w := dev.expect("welcome")
	chat := w["chat"].([]any)
	if len(chat) != 20 {
		t.Fatalf("history has %d messages, want 20", len(chat))
	}
	for i, m := range chat {
		text := m.(map[string]any)["text"].(string)
		if want := fmt.Sprintf("message %02d <b>not bold</b>", i); text != want {
			t.Fatalf("history[%d] = %q, want %q", i, text, want)
		}
	}
	qs := w["questions"].([]any)
	if len(qs) != 1 || qs[0].(map[string]any)["votes"] != float64(2) || qs[0].(map[string]any)["state"] != "answered" {
		t.Fatalf("questions in welcome: %v", qs)
	}
	stored, err := e.store.ChatHistory(context.Background(), e.occ, 0)
	if err != nil || len(stored) != 20 {
		t.Fatalf("stored chat: %d, %v", len(stored), err)
	}
}

// Bad tokens and bad messages get clear errors; the connection stays when it can.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	forged := e.dial("ana", "v1.eyJvIjoxfQ.forged")
	if m := forged.expect("error"); m.str("code") != "invalid_token" {
		t.Fatalf("forged token: %v", m)
	}
	expired, _ := e.tokens.Issue(e.occ, e.people["ana"].ID, "attendee", time.Now().Add(-2*time.Minute))
	if m := e.dial("ana", expired).expect("error"); m.str("code") != "invalid_token" {
		t.Fatalf("expired token: %v", m)
	}
	tok := e.token("ben", "attendee")
	ben := e.dial("ben", tok)
	ben.expect("welcome")
	if m := e.dial("ben", tok).expect("error"); m.str("code") != "token_used" {
		t.Fatalf("second use of a token: %v", m)
	}

	ben.send(map[string]any{"type": "frobnicate", "ref": "r1"})
	if m := ben.expect("error"); m.str("code") != "unknown_type" || m.str("ref") != "r1" {
		t.Fatalf("unknown type: %v", m)
	}
	ben.send(map[string]any{"type": "answer", "pc": "down", "sdp": "v=0 garbage", "ref": "r2"})
	if m := ben.expect("error"); m.str("code") != "bad_sdp" || m.str("ref") != "r2" {
		t.Fatalf("bad sdp: %v", m)
	}
	ben.send(map[string]any{"type": "chat", "text": strings.Repeat("x", 2001)})
	if m := ben.expect("error"); m.str("code") != "too_large" {
		t.Fatalf("long chat: %v", m)
	}
	// Text that cannot be stored (a NUL character) is a bad message with words meant for a
	// person, never an error id or a Go error string.
	ben.send(map[string]any{"type": "chat", "text": "a\u0000b", "ref": "r3"})
	if m := ben.expect("error"); m.str("code") != "bad_message" || m.str("ref") != "r3" ||
		strings.Contains(m.str("message"), "err.") || strings.Contains(m.str("message"), "invalid:") {
		t.Fatalf("chat with a NUL: %v", m)
	}
	ben.send(map[string]any{"type": "upvote", "question_id": 999999})
	if m := ben.expect("error"); m.str("code") != "not_found" {
		t.Fatalf("unknown question: %v", m)
	}
	ben.send(map[string]any{"type": "remove", "participant_id": "nobody"})
	if m := ben.expect("error"); m.str("code") != "forbidden" {
		t.Fatalf("attendee removing: %v", m)
	}
	ben.send(map[string]any{"type": "chat", "text": "still fine"})
	ben.expect("chat")

	// A frame over 64 KiB ends the connection.
	ben.wmu.Lock()
	_ = ben.ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"chat","text":"`+strings.Repeat("y", 70<<10)+`"}`))
	ben.wmu.Unlock()
	select {
	case <-ben.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("an oversized frame did not close the connection")
	}
}

// The host removes someone and ends the session; removed people cannot come back.
func TestRemoveAndEnd(t *testing.T) {
	e := newEnv(t)
	host := e.join("host", "host")
	ana := e.join("ana", "attendee")
	ben := e.join("ben", "attendee")
	host.send(map[string]any{"type": "remove", "participant_id": ana.id})
	if m := ana.expect("bye"); m.str("reason") != "removed" {
		t.Fatalf("bye %v", m)
	}
	host.expectWhere("left", func(m msg) bool { return m.str("participant_id") == ana.id })
	if m := e.dial("ana", e.token("ana", "attendee")).expect("error"); m.str("code") != "forbidden" {
		t.Fatalf("removed person rejoined: %v", m)
	}
	host.send(map[string]any{"type": "end"})
	if m := ben.expect("bye"); m.str("reason") != "ended" {
		t.Fatalf("bye %v", m)
	}
	if m := e.dial("carla", e.token("carla", "attendee")).expect("error"); m.str("code") != "session_ended" {
		t.Fatalf("joined an ended session: %v", m)
	}
	deadline := time.Now().Add(5 * time.Second)
	for e.hub.Rooms() != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := e.hub.Rooms(); n != 0 {
		t.Fatalf("%d rooms left after everyone went", n)
	}
	// Every join and leave was recorded for the attendance report (the last leaves may
	// still be being written when the room is gone).
	var joins, left int
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if err := e.pool.QueryRow(context.Background(), `SELECT count(*), count(left_at) FROM attendance WHERE occurrence_id = $1`, e.occ).Scan(&joins, &left); err != nil {
			t.Fatal(err)
		}
		if left == 3 || time.Now().After(deadline) {
			break
		}
	}
	if joins != 3 || left != 3 {
		t.Fatalf("attendance: %d joins, %d leaves; want 3 and 3", joins, left)
	}
	// A host may reopen it.
	e.join("host", "host")
}

// A viewer that reports a lost packet (NACK) gets it again from the SFU's cache: the same
// payload under the viewer's own sequence number.
func TestLostPacketIsSentAgain(t *testing.T) {
	e := newEnv(t)
	speaker := e.join("speaker", "speaker")
	ana := e.join("ana", "attendee")
	speaker.publish(true, false)
	tr := ana.nextTrack(speaker.id, "camera")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := readPackets(ctx, tr, 30, true)
	if got.err != nil {
		t.Fatal(got.err)
	}
	lost, number := got.seqs[10], got.numbers[10]
	err := ana.down.WriteRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: uint32(tr.track.SSRC()),
		Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{lost})}})
	if err != nil {
		t.Fatal(err)
	}
	for range 200 {
		pkt, _, err := tr.track.ReadRTP()
		if err != nil {
			t.Fatal(err)
		}
		if pkt.SequenceNumber == lost {
			n, _, err := parsePayload(pkt.Payload, true)
			if err != nil || n != number {
				t.Fatalf("retransmission of %d carries packet %d (%v), want %d", lost, n, err, number)
			}
			return
		}
	}
	t.Fatalf("packet %d was not sent again after the NACK", lost)
}
