package signaling

import (
	"encoding/json"
	"testing"
	"time"
)

// The JSON of every outgoing message, field by field as in docs/signaling.md.
func TestOutgoingJSON(t *testing.T) {
	at := time.Date(2026, 1, 8, 15, 0, 0, 0, time.UTC)
	p := Participant{ID: "p1", Name: "Ada", Role: RoleSpeaker, Hand: true, AudioMuted: true, ScreenMuted: true, Reconnecting: true, Publishing: []string{SourceCamera}}
	pJSON := `{"id":"p1","name":"Ada","role":"speaker","hand":true,"audio_muted":true,"video_muted":false,"screen_muted":true,"reconnecting":true,"publishing":["camera"]}`
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"welcome", Welcome{
			You:          p,
			Occurrence:   OccurrenceInfo{ID: 42, Title: "Talk"},
			Participants: []Participant{p, {ID: "p2", Name: "Bo", Role: RoleAttendee}},
			Chat:         []ChatMessage{{ID: 1, Author: Author{ParticipantID: "p2", Name: "Bo"}, Text: "hi", At: at}},
			Questions:    []Question{{ID: 3, Author: Author{Name: "Bo"}, Text: "why?", Votes: 2, State: StateOpen, At: at}},
			MyVotes:      []int64{3},
			ICEServers:   []ICEServer{{URLs: []string{"turn:example.org:3478?transport=udp"}, Username: "u", Credential: "c"}, {URLs: []string{"stun:example.org"}}},
			ResumeToken:  "r1.42.abc", GraceSeconds: 30, Resumed: true, MediaKept: true,
		}, `{"type":"welcome","v":1,"you":` + pJSON + `,"occurrence":{"id":42,"title":"Talk"},"participants":[` + pJSON +
			`,{"id":"p2","name":"Bo","role":"attendee","hand":false,"audio_muted":false,"video_muted":false,"screen_muted":false,"reconnecting":false,"publishing":[]}],` +
			`"chat":[{"id":1,"author":{"participant_id":"p2","name":"Bo"},"text":"hi","at":"2026-01-08T15:00:00Z"}],` +
			`"questions":[{"id":3,"author":{"name":"Bo"},"text":"why?","votes":2,"state":"open","at":"2026-01-08T15:00:00Z"}],` +
			`"my_votes":[3],"ice_servers":[{"urls":["turn:example.org:3478?transport=udp"],"username":"u","credential":"c"},{"urls":["stun:example.org"]}],` +
			`"resume_token":"r1.42.abc","grace_seconds":30,"resumed":true,"media_kept":true}`},
		{"empty welcome has lists", Welcome{}, `{"type":"welcome","v":1,"you":{"id":"","name":"","role":"","hand":false,"audio_muted":false,"video_muted":false,"screen_muted":false,"reconnecting":false,"publishing":[]},` +
			`"occurrence":{"id":0,"title":""},"participants":[],"chat":[],"questions":[],"my_votes":[],"ice_servers":[],` +
			`"resume_token":"","grace_seconds":0,"resumed":false,"media_kept":false}`},
		{"recording on", RecordingMessage(true, "Ada", at.In(time.FixedZone("X", 3600)), []string{"p2"}),
			`{"type":"recording","state":"on","started_by":"Ada","since":"2026-01-08T15:00:00Z","declined":["p2"]}`},
		{"recording off", RecordingMessage(false, "Ada", at, nil), `{"type":"recording","state":"off","started_by":"","declined":[]}`},
		{"answer", SDPMessage(TypeAnswer, PCUp, "v=0\r\n", nil), `{"type":"answer","pc":"up","sdp":"v=0\r\n"}`},
		{"offer", SDPMessage(TypeOffer, PCDown, "v=0", map[string]TrackInfo{"t1": {ParticipantID: "p1", Source: SourceScreen}}),
			`{"type":"offer","pc":"down","sdp":"v=0","tracks":{"t1":{"participant_id":"p1","source":"screen"}}}`},
		{"offer with no tracks", SDPMessage(TypeOffer, PCDown, "v=0", map[string]TrackInfo{}), `{"type":"offer","pc":"down","sdp":"v=0","tracks":{}}`},
		{"candidate", CandidateMessage(PCDown, Candidate{Candidate: "candidate:1", SDPMid: ptr("0"), SDPMLineIndex: ptr[uint16](0)}),
			`{"type":"candidate","pc":"down","candidate":{"candidate":"candidate:1","sdpMid":"0","sdpMLineIndex":0}}`},
		{"participant", ParticipantMessage(p), `{"type":"participant","participant":` + pJSON + `}`},
		{"left", LeftMessage("p1"), `{"type":"left","participant_id":"p1"}`},
		{"chat", ChatMessageOut(ChatMessage{ID: 9, Author: Author{ParticipantID: "p1", Name: "Ada"}, Text: "<b>x</b> & y", At: at}),
			`{"type":"chat","message":{"id":9,"author":{"participant_id":"p1","name":"Ada"},"text":"\u003cb\u003ex\u003c/b\u003e \u0026 y","at":"2026-01-08T15:00:00Z"}}`},
		{"question", QuestionMessage(Question{ID: 3, Author: Author{Name: "Bo"}, Text: "why?", Votes: 5, State: StateAnswered, At: at}),
			`{"type":"question","question":{"id":3,"author":{"name":"Bo"},"text":"why?","votes":5,"state":"answered","at":"2026-01-08T15:00:00Z"}}`},
		{"muted", MutedMessage(KindAudio, true, "p9"), `{"type":"muted","kind":"audio","muted":true,"by":"p9"}`},
		{"unmuted", MutedMessage(KindVideo, false, "p9"), `{"type":"muted","kind":"video","muted":false,"by":"p9"}`},
		{"role", RoleMessage(RoleSpeaker), `{"type":"role","role":"speaker"}`},
		{"error", ErrorMessage(&Error{Code: CodeForbidden, Message: "attendees cannot publish", Ref: "o1"}),
			`{"type":"error","code":"forbidden","message":"attendees cannot publish","ref":"o1"}`},
		{"error without ref", ErrorMessage(Errorf(CodeNotFound, "no question %d", 4)), `{"type":"error","code":"not_found","message":"no question 4"}`},
		{"nil error", ErrorMessage(nil), `{"type":"error","code":"internal","message":"internal error"}`},
		{"bye", ByeMessage(ByeRemoved, "A host removed you."), `{"type":"bye","reason":"removed","message":"A host removed you."}`},
		{"speaker", SpeakerMessage("p1"), `{"type":"speaker","participant_id":"p1"}`},
		{"video paused", VideoPausedMessage(true), `{"type":"video_paused","paused":true}`},
		{"layers", LayersMessage(SourceCamera, map[string]bool{LayerHigh: false, LayerLow: true, LayerMid: true}),
			`{"type":"layers","source":"camera","active":{"h":false,"l":true,"m":true}}`},
		{"stats", StatsMessage([]ViewerStats{{ParticipantID: "p2", EstimateKbps: 420, Layers: map[string]string{"t1": "low"}}}),
			`{"type":"stats","viewers":[{"participant_id":"p2","estimate_kbps":420,"layers":{"t1":"low"},"video_paused":false}]}`},
		{"empty stats", StatsMessage(nil), `{"type":"stats","viewers":[]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Encode(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
			if !json.Valid(got) {
				t.Error("invalid JSON")
			}
		})
	}
}

func TestEncodePassesEncodedThrough(t *testing.T) {
	m, err := Encode(RoleMessage(RoleHost))
	if err != nil {
		t.Fatal(err)
	}
	again, err := Encode(m)
	if err != nil || string(again) != string(m) || &again[0] != &m[0] {
		t.Errorf("Encode(Encoded) = %s, %v; want the same bytes", again, err)
	}
	raw, err := Encode(json.RawMessage(`{"type":"x"}`))
	if err != nil || string(raw) != `{"type":"x"}` {
		t.Errorf("Encode(RawMessage) = %s, %v", raw, err)
	}
	if _, err := Encode(func() {}); err == nil {
		t.Error("Encode(func) succeeded")
	}
}
