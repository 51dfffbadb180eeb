package signaling

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

type decodeCase struct {
	name string
	in   string
	want Incoming // when code is empty
	code string   // the error code expected
	ref  string   // the ref the error must echo
}

func ptr[T any](v T) *T { return &v }

// jsonStr quotes s as a JSON string.
func jsonStr(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func tracksJSON(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = jsonStr("t"+strings.Repeat("x", i)) + `:"camera"`
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func tracksMap(n int) map[string]string {
	m := map[string]string{}
	for i := range n {
		m["t"+strings.Repeat("x", i)] = SourceCamera
	}
	return m
}

var decodeCases = []decodeCase{
	// The envelope.
	{name: "not json", in: `hello`, code: CodeBadMessage},
	{name: "empty", in: ``, code: CodeBadMessage},
	{name: "array", in: `[{"type":"end"}]`, code: CodeBadMessage},
	{name: "null", in: `null`, code: CodeBadMessage},
	{name: "string", in: `"end"`, code: CodeBadMessage},
	{name: "number", in: `1`, code: CodeBadMessage},
	{name: "no type", in: `{"ref":"a"}`, code: CodeBadMessage, ref: "a"},
	{name: "type null", in: `{"type":null,"ref":"a"}`, code: CodeBadMessage, ref: "a"},
	{name: "type number", in: `{"type":1,"ref":"a"}`, code: CodeBadMessage, ref: "a"},
	{name: "type object", in: `{"type":{},"ref":"a"}`, code: CodeBadMessage, ref: "a"},
	{name: "type in other case is another key", in: `{"Type":"end"}`, code: CodeBadMessage},
	{name: "unknown type", in: `{"type":"dance","ref":"a"}`, code: CodeUnknownType, ref: "a"},
	{name: "upper-case type", in: `{"type":"END","ref":"a"}`, code: CodeUnknownType, ref: "a"},
	{name: "empty type", in: `{"type":"","ref":"a"}`, code: CodeUnknownType, ref: "a"},
	{name: "server type", in: `{"type":"welcome","ref":"a"}`, code: CodeUnknownType, ref: "a"},
	{name: "long unknown type", in: `{"type":"` + strings.Repeat("é", 5000) + `"}`, code: CodeUnknownType},
	{name: "trailing data", in: `{"type":"end"} x`, code: CodeBadMessage},
	{name: "two objects", in: `{"type":"end"}{"type":"end"}`, code: CodeBadMessage},
	{name: "invalid utf-8", in: "{\"type\":\"chat\",\"ref\":\"a\",\"text\":\"\xff\"}", code: CodeBadMessage},
	{name: "invalid utf-8 in unknown field", in: "{\"type\":\"end\",\"x\":\"\xc3\"}", code: CodeBadMessage},
	{name: "deep nesting", in: `{"type":"end","x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`, code: CodeBadMessage},
	{name: "too big", in: `{"type":"end","x":"` + strings.Repeat("a", MaxMessageBytes) + `"}`, code: CodeTooLarge},
	{name: "white space around", in: " \n{ \"type\" : \"end\" , \"ref\" : \"a\" }\t", want: Incoming{Type: TypeEnd, Ref: "a"}},
	{name: "ref absent", in: `{"type":"end"}`, want: Incoming{Type: TypeEnd}},
	{name: "ref null", in: `{"type":"end","ref":null}`, want: Incoming{Type: TypeEnd}},
	{name: "ref 64 characters", in: `{"type":"end","ref":"` + strings.Repeat("ü", 64) + `"}`, want: Incoming{Type: TypeEnd, Ref: strings.Repeat("ü", 64)}},
	{name: "ref 65 characters", in: `{"type":"end","ref":"` + strings.Repeat("a", 65) + `"}`, code: CodeTooLarge},
	{name: "ref number", in: `{"type":"end","ref":7}`, code: CodeBadMessage},
	{name: "unknown fields ignored", in: `{"type":"end","future":{"a":[1,2,{"b":null}]},"Ref":5}`, want: Incoming{Type: TypeEnd}},
	{name: "duplicate key: the last wins", in: `{"type":"chat","text":"a","text":"b"}`, want: Incoming{Type: TypeChat, Text: "b"}},

	// hello
	{name: "hello", in: `{"type":"hello","ref":"h","v":1,"token":"v1.abc"}`, want: Incoming{Type: TypeHello, Ref: "h", V: 1, Token: "v1.abc"}},
	{name: "hello longest token", in: `{"type":"hello","v":1,"token":"` + strings.Repeat("t", MaxTokenBytes) + `"}`, want: Incoming{Type: TypeHello, V: 1, Token: strings.Repeat("t", MaxTokenBytes)}},
	{name: "hello token too long", in: `{"type":"hello","ref":"h","v":1,"token":"` + strings.Repeat("t", MaxTokenBytes+1) + `"}`, code: CodeTooLarge, ref: "h"},
	{name: "hello no v", in: `{"type":"hello","ref":"h","token":"t"}`, code: CodeBadMessage, ref: "h"},
	{name: "hello v null", in: `{"type":"hello","ref":"h","v":null,"token":"t"}`, code: CodeBadMessage, ref: "h"},
	{name: "hello v string", in: `{"type":"hello","ref":"h","v":"1","token":"t"}`, code: CodeBadMessage, ref: "h"},
	{name: "hello v fraction", in: `{"type":"hello","ref":"h","v":1.5,"token":"t"}`, code: CodeBadMessage, ref: "h"},
	{name: "hello v exponent", in: `{"type":"hello","ref":"h","v":1e0,"token":"t"}`, code: CodeBadMessage, ref: "h"},
	{name: "hello v huge", in: `{"type":"hello","ref":"h","v":99999999999999999999,"token":"t"}`, code: CodeBadMessage, ref: "h"},
	{name: "hello v 2", in: `{"type":"hello","ref":"h","v":2,"token":"t"}`, code: CodeBadVersion, ref: "h"},
	{name: "hello v 0", in: `{"type":"hello","ref":"h","v":0,"token":"t"}`, code: CodeBadVersion, ref: "h"},
	{name: "hello v 2 without token", in: `{"type":"hello","ref":"h","v":2}`, code: CodeBadVersion, ref: "h"},
	{name: "hello no token", in: `{"type":"hello","ref":"h","v":1}`, code: CodeBadMessage, ref: "h"},
	{name: "hello empty token", in: `{"type":"hello","ref":"h","v":1,"token":""}`, code: CodeBadMessage, ref: "h"},
	{name: "hello token number", in: `{"type":"hello","ref":"h","v":1,"token":12}`, code: CodeBadMessage, ref: "h"},
	{name: "hello resume", in: `{"type":"hello","v":1,"resume":"r1.4.x","since":17}`, want: Incoming{Type: TypeHello, V: 1, Resume: "r1.4.x", Since: 17}},
	{name: "hello resume without since", in: `{"type":"hello","v":1,"resume":"r1.4.x"}`, want: Incoming{Type: TypeHello, V: 1, Resume: "r1.4.x"}},
	{name: "hello resume and token", in: `{"type":"hello","ref":"h","v":1,"resume":"r","token":"t"}`, code: CodeBadMessage, ref: "h"},
	{name: "hello empty resume", in: `{"type":"hello","ref":"h","v":1,"resume":""}`, code: CodeBadMessage, ref: "h"},
	{name: "hello resume too long", in: `{"type":"hello","ref":"h","v":1,"resume":"` + strings.Repeat("r", MaxTokenBytes+1) + `"}`, code: CodeTooLarge, ref: "h"},
	{name: "hello negative since", in: `{"type":"hello","ref":"h","v":1,"resume":"r","since":-1}`, code: CodeBadMessage, ref: "h"},
	{name: "hello since string", in: `{"type":"hello","ref":"h","v":1,"resume":"r","since":"3"}`, code: CodeBadMessage, ref: "h"},
	{name: "restart", in: `{"type":"restart","pc":"down"}`, want: Incoming{Type: TypeRestart, PC: PCDown}},
	{name: "restart up", in: `{"type":"restart","ref":"r","pc":"up"}`, code: CodeBadMessage, ref: "r"},
	{name: "restart no pc", in: `{"type":"restart","ref":"r"}`, code: CodeBadMessage, ref: "r"},
	{name: "view", in: `{"type":"view","tracks":{"t1":{"width":320,"height":180},"t2":{"width":0,"height":0}}}`,
		want: Incoming{Type: TypeView, View: map[string]Size{"t1": {320, 180}, "t2": {0, 0}}}},
	{name: "view absurd sizes are clamped", in: `{"type":"view","tracks":{"t1":{"width":1e12,"height":-5},"t2":{"width":640.7,"height":360}}}`,
		want: Incoming{Type: TypeView, View: map[string]Size{"t1": {7680, 0}, "t2": {640, 360}}}},
	{name: "view size not an object", in: `{"type":"view","ref":"v","tracks":{"t1":5}}`, code: CodeBadMessage, ref: "v"},
	{name: "view size strings", in: `{"type":"view","ref":"v","tracks":{"t1":{"width":"big","height":1}}}`, code: CodeBadMessage, ref: "v"},
	{name: "view no tracks", in: `{"type":"view","ref":"v"}`, code: CodeBadMessage, ref: "v"},
	{name: "stats", in: `{"type":"stats","on":true}`, want: Incoming{Type: TypeStats, On: true}},
	{name: "stats no on", in: `{"type":"stats","ref":"s"}`, code: CodeBadMessage, ref: "s"},

	// record, record_consent
	{name: "record start", in: `{"type":"record","ref":"r","action":"start"}`, want: Incoming{Type: TypeRecord, Ref: "r", Action: RecordStart}},
	{name: "record stop", in: `{"type":"record","action":"stop"}`, want: Incoming{Type: TypeRecord, Action: RecordStop}},
	{name: "record no action", in: `{"type":"record","ref":"r"}`, code: CodeBadMessage, ref: "r"},
	{name: "record other action", in: `{"type":"record","ref":"r","action":"pause"}`, code: CodeBadMessage, ref: "r"},
	{name: "record upper-case action", in: `{"type":"record","action":"START"}`, code: CodeBadMessage},
	{name: "record action not a string", in: `{"type":"record","action":true}`, code: CodeBadMessage},
	{name: "record_consent decline", in: `{"type":"record_consent","ref":"c","decline":true}`, want: Incoming{Type: TypeConsent, Ref: "c", Decline: true}},
	{name: "record_consent consent", in: `{"type":"record_consent","decline":false}`, want: Incoming{Type: TypeConsent}},
	{name: "record_consent no decline", in: `{"type":"record_consent","ref":"c"}`, code: CodeBadMessage, ref: "c"},
	{name: "record_consent decline a string", in: `{"type":"record_consent","decline":"yes"}`, code: CodeBadMessage},
	{name: "recording is the server's", in: `{"type":"recording","state":"on"}`, code: CodeUnknownType},

	// offer
	{name: "offer", in: `{"type":"offer","ref":"o","pc":"up","sdp":"v=0\r\n","tracks":{"a":"camera","b":"microphone","c":"screen"}}`,
		want: Incoming{Type: TypeOffer, Ref: "o", PC: PCUp, SDP: "v=0\r\n", Tracks: map[string]string{"a": SourceCamera, "b": SourceMicrophone, "c": SourceScreen}}},
	{name: "offer no tracks published", in: `{"type":"offer","pc":"up","sdp":"v=0","tracks":{}}`, want: Incoming{Type: TypeOffer, PC: PCUp, SDP: "v=0", Tracks: map[string]string{}}},
	{name: "offer 16 tracks", in: `{"type":"offer","pc":"up","sdp":"v=0","tracks":` + tracksJSON(16) + `}`, want: Incoming{Type: TypeOffer, PC: PCUp, SDP: "v=0", Tracks: tracksMap(16)}},
	{name: "offer 17 tracks", in: `{"type":"offer","ref":"o","pc":"up","sdp":"v=0","tracks":` + tracksJSON(17) + `}`, code: CodeTooLarge, ref: "o"},
	{name: "offer longest sdp", in: `{"type":"offer","pc":"up","sdp":"` + strings.Repeat("s", MaxSDPBytes) + `","tracks":{}}`, want: Incoming{Type: TypeOffer, PC: PCUp, SDP: strings.Repeat("s", MaxSDPBytes), Tracks: map[string]string{}}},
	{name: "offer sdp too long", in: `{"type":"offer","ref":"o","pc":"up","sdp":"` + strings.Repeat("s", MaxSDPBytes+1) + `","tracks":{}}`, code: CodeTooLarge, ref: "o"},
	{name: "offer pc down", in: `{"type":"offer","ref":"o","pc":"down","sdp":"v=0","tracks":{}}`, code: CodeBadMessage, ref: "o"},
	{name: "offer pc missing", in: `{"type":"offer","ref":"o","sdp":"v=0","tracks":{}}`, code: CodeBadMessage, ref: "o"},
	{name: "offer sdp missing", in: `{"type":"offer","ref":"o","pc":"up","tracks":{}}`, code: CodeBadMessage, ref: "o"},
	{name: "offer sdp empty", in: `{"type":"offer","ref":"o","pc":"up","sdp":"","tracks":{}}`, code: CodeBadMessage, ref: "o"},
	{name: "offer sdp object", in: `{"type":"offer","ref":"o","pc":"up","sdp":{"type":"offer"},"tracks":{}}`, code: CodeBadMessage, ref: "o"},
	{name: "offer tracks missing", in: `{"type":"offer","ref":"o","pc":"up","sdp":"v=0"}`, code: CodeBadMessage, ref: "o"},
	{name: "offer tracks array", in: `{"type":"offer","ref":"o","pc":"up","sdp":"v=0","tracks":["camera"]}`, code: CodeBadMessage, ref: "o"},
	{name: "offer unknown source", in: `{"type":"offer","ref":"o","pc":"up","sdp":"v=0","tracks":{"a":"webcam"}}`, code: CodeBadMessage, ref: "o"},
	{name: "offer source number", in: `{"type":"offer","ref":"o","pc":"up","sdp":"v=0","tracks":{"a":1}}`, code: CodeBadMessage, ref: "o"},
	{name: "offer source null", in: `{"type":"offer","ref":"o","pc":"up","sdp":"v=0","tracks":{"a":null}}`, code: CodeBadMessage, ref: "o"},
	{name: "offer empty track id", in: `{"type":"offer","ref":"o","pc":"up","sdp":"v=0","tracks":{"":"camera"}}`, code: CodeBadMessage, ref: "o"},
	{name: "offer track id too long", in: `{"type":"offer","ref":"o","pc":"up","sdp":"v=0","tracks":{"` + strings.Repeat("i", MaxTrackIDBytes+1) + `":"camera"}}`, code: CodeTooLarge, ref: "o"},

	// answer
	{name: "answer", in: `{"type":"answer","ref":"a","pc":"down","sdp":"v=0"}`, want: Incoming{Type: TypeAnswer, Ref: "a", PC: PCDown, SDP: "v=0"}},
	{name: "answer ignores tracks", in: `{"type":"answer","pc":"down","sdp":"v=0","tracks":{"a":"bogus"}}`, want: Incoming{Type: TypeAnswer, PC: PCDown, SDP: "v=0"}},
	{name: "answer pc up", in: `{"type":"answer","ref":"a","pc":"up","sdp":"v=0"}`, code: CodeBadMessage, ref: "a"},
	{name: "answer sdp number", in: `{"type":"answer","ref":"a","pc":"down","sdp":0}`, code: CodeBadMessage, ref: "a"},
	{name: "answer sdp too long", in: `{"type":"answer","ref":"a","pc":"down","sdp":"` + strings.Repeat("s", MaxSDPBytes+1) + `"}`, code: CodeTooLarge, ref: "a"},

	// candidate
	{name: "candidate", in: `{"type":"candidate","ref":"c","pc":"up","candidate":{"candidate":"candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}}`,
		want: Incoming{Type: TypeCandidate, Ref: "c", PC: PCUp, Candidate: &Candidate{Candidate: "candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host", SDPMid: ptr("0"), SDPMLineIndex: ptr[uint16](0), UsernameFragment: ptr("abcd")}}},
	{name: "candidate end of candidates", in: `{"type":"candidate","pc":"down","candidate":{"candidate":""}}`, want: Incoming{Type: TypeCandidate, PC: PCDown, Candidate: &Candidate{}}},
	{name: "candidate nulls", in: `{"type":"candidate","pc":"down","candidate":{"candidate":"c","sdpMid":null,"sdpMLineIndex":null,"usernameFragment":null}}`, want: Incoming{Type: TypeCandidate, PC: PCDown, Candidate: &Candidate{Candidate: "c"}}},
	{name: "candidate largest index", in: `{"type":"candidate","pc":"down","candidate":{"candidate":"c","sdpMLineIndex":65535}}`, want: Incoming{Type: TypeCandidate, PC: PCDown, Candidate: &Candidate{Candidate: "c", SDPMLineIndex: ptr[uint16](65535)}}},
	{name: "candidate bad pc", in: `{"type":"candidate","ref":"c","pc":"sideways","candidate":{"candidate":"c"}}`, code: CodeBadMessage, ref: "c"},
	{name: "candidate no pc", in: `{"type":"candidate","ref":"c","candidate":{"candidate":"c"}}`, code: CodeBadMessage, ref: "c"},
	{name: "candidate missing", in: `{"type":"candidate","ref":"c","pc":"up"}`, code: CodeBadMessage, ref: "c"},
	{name: "candidate null", in: `{"type":"candidate","ref":"c","pc":"up","candidate":null}`, code: CodeBadMessage, ref: "c"},
	{name: "candidate string", in: `{"type":"candidate","ref":"c","pc":"up","candidate":"candidate:1"}`, code: CodeBadMessage, ref: "c"},
	{name: "candidate no candidate", in: `{"type":"candidate","ref":"c","pc":"up","candidate":{"sdpMid":"0"}}`, code: CodeBadMessage, ref: "c"},
	{name: "candidate index negative", in: `{"type":"candidate","ref":"c","pc":"up","candidate":{"candidate":"c","sdpMLineIndex":-1}}`, code: CodeBadMessage, ref: "c"},
	{name: "candidate index too big", in: `{"type":"candidate","ref":"c","pc":"up","candidate":{"candidate":"c","sdpMLineIndex":65536}}`, code: CodeBadMessage, ref: "c"},
	{name: "candidate index fraction", in: `{"type":"candidate","ref":"c","pc":"up","candidate":{"candidate":"c","sdpMLineIndex":0.5}}`, code: CodeBadMessage, ref: "c"},
	{name: "candidate index string", in: `{"type":"candidate","ref":"c","pc":"up","candidate":{"candidate":"c","sdpMLineIndex":"0"}}`, code: CodeBadMessage, ref: "c"},
	{name: "candidate mid number", in: `{"type":"candidate","ref":"c","pc":"up","candidate":{"candidate":"c","sdpMid":0}}`, code: CodeBadMessage, ref: "c"},
	{name: "candidate ufrag bool", in: `{"type":"candidate","ref":"c","pc":"up","candidate":{"candidate":"c","usernameFragment":true}}`, code: CodeBadMessage, ref: "c"},
	{name: "candidate too long", in: `{"type":"candidate","ref":"c","pc":"up","candidate":{"candidate":"` + strings.Repeat("c", MaxCandidateBytes+1) + `"}}`, code: CodeTooLarge, ref: "c"},
	{name: "candidate mid too long", in: `{"type":"candidate","ref":"c","pc":"up","candidate":{"candidate":"c","sdpMid":"` + strings.Repeat("m", MaxMidBytes+1) + `"}}`, code: CodeTooLarge, ref: "c"},
	{name: "candidate ufrag too long", in: `{"type":"candidate","ref":"c","pc":"up","candidate":{"candidate":"c","usernameFragment":"` + strings.Repeat("u", MaxUfragBytes+1) + `"}}`, code: CodeTooLarge, ref: "c"},

	// chat
	{name: "chat", in: `{"type":"chat","ref":"m","text":"Hello <b>all</b>"}`, want: Incoming{Type: TypeChat, Ref: "m", Text: "Hello <b>all</b>"}},
	{name: "chat trimmed", in: `{"type":"chat","text":"  two\nlines\t "}`, want: Incoming{Type: TypeChat, Text: "two\nlines"}},
	{name: "chat longest", in: `{"type":"chat","text":"` + strings.Repeat("é", MaxChatChars) + `"}`, want: Incoming{Type: TypeChat, Text: strings.Repeat("é", MaxChatChars)}},
	{name: "chat longest after trimming", in: `{"type":"chat","text":"  ` + strings.Repeat("x", MaxChatChars) + `  "}`, want: Incoming{Type: TypeChat, Text: strings.Repeat("x", MaxChatChars)}},
	{name: "chat too long", in: `{"type":"chat","ref":"m","text":"` + strings.Repeat("é", MaxChatChars+1) + `"}`, code: CodeTooLarge, ref: "m"},
	{name: "chat empty", in: `{"type":"chat","ref":"m","text":""}`, code: CodeBadMessage, ref: "m"},
	{name: "chat blank", in: `{"type":"chat","ref":"m","text":" \n\u00a0\t"}`, code: CodeBadMessage, ref: "m"},
	{name: "chat missing", in: `{"type":"chat","ref":"m"}`, code: CodeBadMessage, ref: "m"},
	{name: "chat number", in: `{"type":"chat","ref":"m","text":5}`, code: CodeBadMessage, ref: "m"},
	{name: "chat array", in: `{"type":"chat","ref":"m","text":["a"]}`, code: CodeBadMessage, ref: "m"},
	{name: "chat NUL", in: `{"type":"chat","ref":"m","text":"a\u0000b"}`, code: CodeBadMessage, ref: "m"},
	{name: "chat escaped lone surrogate", in: `{"type":"chat","text":"a\ud800"}`, want: Incoming{Type: TypeChat, Text: "a\ufffd"}},

	// ask
	{name: "ask", in: `{"type":"ask","ref":"q","text":"Why?"}`, want: Incoming{Type: TypeAsk, Ref: "q", Text: "Why?"}},
	{name: "ask longest", in: `{"type":"ask","text":"` + strings.Repeat("ж", MaxAskChars) + `"}`, want: Incoming{Type: TypeAsk, Text: strings.Repeat("ж", MaxAskChars)}},
	{name: "ask too long", in: `{"type":"ask","ref":"q","text":"` + strings.Repeat("ж", MaxAskChars+1) + `"}`, code: CodeTooLarge, ref: "q"},
	{name: "ask blank", in: `{"type":"ask","ref":"q","text":"   "}`, code: CodeBadMessage, ref: "q"},
	{name: "ask null", in: `{"type":"ask","ref":"q","text":null}`, code: CodeBadMessage, ref: "q"},

	// upvote
	{name: "upvote", in: `{"type":"upvote","ref":"u","question_id":5}`, want: Incoming{Type: TypeUpvote, Ref: "u", QuestionID: 5, Up: true}},
	{name: "upvote up true", in: `{"type":"upvote","question_id":5,"up":true}`, want: Incoming{Type: TypeUpvote, QuestionID: 5, Up: true}},
	{name: "upvote taken back", in: `{"type":"upvote","question_id":5,"up":false}`, want: Incoming{Type: TypeUpvote, QuestionID: 5}},
	{name: "upvote up null", in: `{"type":"upvote","question_id":5,"up":null}`, want: Incoming{Type: TypeUpvote, QuestionID: 5, Up: true}},
	{name: "upvote largest id", in: `{"type":"upvote","question_id":9223372036854775807}`, want: Incoming{Type: TypeUpvote, QuestionID: 9223372036854775807, Up: true}},
	{name: "upvote id overflow", in: `{"type":"upvote","ref":"u","question_id":9223372036854775808}`, code: CodeBadMessage, ref: "u"},
	{name: "upvote up string", in: `{"type":"upvote","ref":"u","question_id":5,"up":"no"}`, code: CodeBadMessage, ref: "u"},
	{name: "upvote up number", in: `{"type":"upvote","ref":"u","question_id":5,"up":0}`, code: CodeBadMessage, ref: "u"},
	{name: "upvote no id", in: `{"type":"upvote","ref":"u"}`, code: CodeBadMessage, ref: "u"},
	{name: "upvote id string", in: `{"type":"upvote","ref":"u","question_id":"5"}`, code: CodeBadMessage, ref: "u"},
	{name: "upvote id zero", in: `{"type":"upvote","ref":"u","question_id":0}`, code: CodeBadMessage, ref: "u"},
	{name: "upvote id negative", in: `{"type":"upvote","ref":"u","question_id":-3}`, code: CodeBadMessage, ref: "u"},
	{name: "upvote id fraction", in: `{"type":"upvote","ref":"u","question_id":5.0}`, code: CodeBadMessage, ref: "u"},

	// hand
	{name: "hand raised", in: `{"type":"hand","ref":"h","raised":true}`, want: Incoming{Type: TypeHand, Ref: "h", Raised: true}},
	{name: "hand lowered", in: `{"type":"hand","raised":false}`, want: Incoming{Type: TypeHand}},
	{name: "hand missing", in: `{"type":"hand","ref":"h"}`, code: CodeBadMessage, ref: "h"},
	{name: "hand string", in: `{"type":"hand","ref":"h","raised":"true"}`, code: CodeBadMessage, ref: "h"},
	{name: "hand number", in: `{"type":"hand","ref":"h","raised":1}`, code: CodeBadMessage, ref: "h"},

	// mute
	{name: "mute", in: `{"type":"mute","ref":"x","participant_id":"p1","kind":"audio","muted":true}`, want: Incoming{Type: TypeMute, Ref: "x", ParticipantID: "p1", Kind: KindAudio, Muted: true}},
	{name: "unmute screen", in: `{"type":"mute","participant_id":"p1","kind":"screen","muted":false}`, want: Incoming{Type: TypeMute, ParticipantID: "p1", Kind: KindScreen}},
	{name: "mute video", in: `{"type":"mute","participant_id":"p1","kind":"video","muted":true}`, want: Incoming{Type: TypeMute, ParticipantID: "p1", Kind: KindVideo, Muted: true}},
	{name: "mute bad kind", in: `{"type":"mute","ref":"x","participant_id":"p1","kind":"both","muted":true}`, code: CodeBadMessage, ref: "x"},
	{name: "mute no kind", in: `{"type":"mute","ref":"x","participant_id":"p1","muted":true}`, code: CodeBadMessage, ref: "x"},
	{name: "mute no muted", in: `{"type":"mute","ref":"x","participant_id":"p1","kind":"audio"}`, code: CodeBadMessage, ref: "x"},
	{name: "mute no participant", in: `{"type":"mute","ref":"x","kind":"audio","muted":true}`, code: CodeBadMessage, ref: "x"},
	{name: "mute empty participant", in: `{"type":"mute","ref":"x","participant_id":"","kind":"audio","muted":true}`, code: CodeBadMessage, ref: "x"},
	{name: "mute participant too long", in: `{"type":"mute","ref":"x","participant_id":"` + strings.Repeat("p", MaxIDBytes+1) + `","kind":"audio","muted":true}`, code: CodeTooLarge, ref: "x"},
	{name: "mute longest participant", in: `{"type":"mute","participant_id":"` + strings.Repeat("p", MaxIDBytes) + `","kind":"audio","muted":true}`, want: Incoming{Type: TypeMute, ParticipantID: strings.Repeat("p", MaxIDBytes), Kind: KindAudio, Muted: true}},

	// stage
	{name: "stage on", in: `{"type":"stage","ref":"s","participant_id":"p2","on":true}`, want: Incoming{Type: TypeStage, Ref: "s", ParticipantID: "p2", On: true}},
	{name: "stage off", in: `{"type":"stage","participant_id":"p2","on":false}`, want: Incoming{Type: TypeStage, ParticipantID: "p2"}},
	{name: "stage no on", in: `{"type":"stage","ref":"s","participant_id":"p2"}`, code: CodeBadMessage, ref: "s"},
	{name: "stage participant number", in: `{"type":"stage","ref":"s","participant_id":2,"on":true}`, code: CodeBadMessage, ref: "s"},

	// remove
	{name: "remove", in: `{"type":"remove","ref":"r","participant_id":"p3"}`, want: Incoming{Type: TypeRemove, Ref: "r", ParticipantID: "p3"}},
	{name: "remove no participant", in: `{"type":"remove","ref":"r"}`, code: CodeBadMessage, ref: "r"},
	{name: "remove participant object", in: `{"type":"remove","ref":"r","participant_id":{"id":"p3"}}`, code: CodeBadMessage, ref: "r"},

	// question
	{name: "question answered", in: `{"type":"question","ref":"q","question_id":7,"state":"answered"}`, want: Incoming{Type: TypeQuestion, Ref: "q", QuestionID: 7, State: StateAnswered}},
	{name: "question open", in: `{"type":"question","question_id":7,"state":"open"}`, want: Incoming{Type: TypeQuestion, QuestionID: 7, State: StateOpen}},
	{name: "question dismissed", in: `{"type":"question","question_id":7,"state":"dismissed"}`, want: Incoming{Type: TypeQuestion, QuestionID: 7, State: StateDismissed}},
	{name: "question bad state", in: `{"type":"question","ref":"q","question_id":7,"state":"closed"}`, code: CodeBadMessage, ref: "q"},
	{name: "question no state", in: `{"type":"question","ref":"q","question_id":7}`, code: CodeBadMessage, ref: "q"},
	{name: "question no id", in: `{"type":"question","ref":"q","state":"open"}`, code: CodeBadMessage, ref: "q"},
	{name: "question id bool", in: `{"type":"question","ref":"q","question_id":true,"state":"open"}`, code: CodeBadMessage, ref: "q"},

	// end, leave
	{name: "end", in: `{"type":"end","ref":"e"}`, want: Incoming{Type: TypeEnd, Ref: "e"}},
	{name: "leave", in: `{"type":"leave"}`, want: Incoming{Type: TypeLeave}},
	{name: "leave with fields", in: `{"type":"leave","text":5,"v":"x"}`, want: Incoming{Type: TypeLeave}},
}

func TestDecode(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range decodeCases {
		if seen[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			got, e := Decode([]byte(tc.in))
			if tc.code != "" {
				if e == nil {
					t.Fatalf("Decode accepted it: %+v; want error %s", got, tc.code)
				}
				if e.Code != tc.code || e.Ref != tc.ref {
					t.Fatalf("error = %+v; want code %s, ref %q", e, tc.code, tc.ref)
				}
				if e.Message == "" || len(e.Message) > 200 {
					t.Errorf("error message %q: want a short explanation", e.Message)
				}
				if got.Ref != e.Ref {
					t.Errorf("Incoming.Ref = %q, error ref %q", got.Ref, e.Ref)
				}
				return
			}
			if e != nil {
				t.Fatalf("Decode: %v (ref %q)", e, e.Ref)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Decode =\n%#v\nwant\n%#v", got, tc.want)
			}
		})
	}
}

// Every message type the decoder knows has valid and invalid cases in the table.
func TestDecodeCasesCoverEveryType(t *testing.T) {
	valid, invalid := map[string]bool{}, map[string]bool{}
	for _, tc := range decodeCases {
		in, _ := Decode([]byte(tc.in))
		if tc.code == "" {
			valid[in.Type] = true
		} else if in.Type != "" {
			invalid[in.Type] = true
		}
	}
	for _, typ := range []string{TypeHello, TypeOffer, TypeAnswer, TypeCandidate, TypeChat, TypeAsk, TypeUpvote,
		TypeHand, TypeMute, TypeStage, TypeRemove, TypeQuestion, TypeEnd, TypeLeave, TypeRestart, TypeView, TypeStats} {
		if !valid[typ] {
			t.Errorf("no valid case for %q", typ)
		}
		if !invalid[typ] && typ != TypeEnd && typ != TypeLeave {
			t.Errorf("no invalid case for %q", typ)
		}
	}
}

// MarshalJSON writes what Decode reads.
func TestIncomingRoundTrip(t *testing.T) {
	for _, tc := range decodeCases {
		if tc.code != "" {
			continue
		}
		b, err := json.Marshal(tc.want)
		if err != nil {
			t.Fatalf("%s: marshal: %v", tc.name, err)
		}
		got, e := Decode(b)
		if e != nil {
			t.Fatalf("%s: decode %s: %v", tc.name, b, e)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Fatalf("%s: round trip =\n%#v\nwant\n%#v", tc.name, got, tc.want)
		}
		var via Incoming
		if err := json.Unmarshal(b, &via); err != nil || !reflect.DeepEqual(via, tc.want) {
			t.Fatalf("%s: json.Unmarshal = %#v, %v", tc.name, via, err)
		}
	}
	if _, err := json.Marshal(Incoming{Type: "dance"}); err == nil {
		t.Error("marshalling an unknown type succeeded")
	}
	var in Incoming
	err := json.Unmarshal([]byte(`{"type":"chat","ref":"r","text":""}`), &in)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeBadMessage || e.Ref != "r" {
		t.Errorf("json.Unmarshal of a bad message: %v", err)
	}
}

func TestErrorString(t *testing.T) {
	e := &Error{Code: CodeTooLarge, Message: `"text" is too long`, Ref: "r"}
	if got := e.Error(); got != `signaling: too_large: "text" is too long` {
		t.Errorf("Error() = %q", got)
	}
	if got := (&Error{Code: CodeInternal}).Error(); got != "signaling: internal" {
		t.Errorf("Error() = %q", got)
	}
	w := e.WithRef("x")
	if w.Ref != "x" || e.Ref != "r" {
		t.Errorf("WithRef changed the original or did not set: %+v %+v", e, w)
	}
}

func TestUnknownTypeMessageClipped(t *testing.T) {
	_, e := Decode([]byte(`{"type":"` + strings.Repeat("é", 5000) + `"}`))
	if e == nil || len(e.Message) > 120 {
		t.Fatalf("error = %+v", e)
	}
}
