// FuzzDecode runs its seed corpus (the decoder table) with every `go test ./signaling/`.
// CI additionally fuzzes it:
//
//	go test -run '^$' -fuzz FuzzDecode -fuzztime 10s ./signaling/
package signaling

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

var knownCodes = map[string]bool{
	CodeBadMessage: true, CodeUnknownType: true, CodeTooLarge: true, CodeRateLimited: true,
	CodeHelloFirst: true, CodeBadVersion: true, CodeInvalidToken: true, CodeTokenUsed: true,
	CodeSessionEnded: true, CodeForbidden: true, CodeNotFound: true, CodeBadSDP: true, CodeInternal: true,
}

func FuzzDecode(f *testing.F) {
	for _, tc := range decodeCases {
		if len(tc.in) <= 4096 { // the long ones only test limits and slow the fuzzer down
			f.Add([]byte(tc.in))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in, e := Decode(data)
		if e != nil {
			if !knownCodes[e.Code] {
				t.Fatalf("unknown error code %q", e.Code)
			}
			if e.Message == "" || !utf8.ValidString(e.Message) || len(e.Message) > 200 {
				t.Fatalf("bad error message %q", e.Message)
			}
			if e.Ref != in.Ref || utf8.RuneCountInString(e.Ref) > MaxRefChars {
				t.Fatalf("error ref %q, Incoming ref %q", e.Ref, in.Ref)
			}
			if in.Type != "" && !knownClientType(in.Type) {
				t.Fatalf("failed message with type %q", in.Type)
			}
			return
		}
		checkValid(t, in)
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatalf("re-encode %#v: %v", in, err)
		}
		again, e := Decode(b)
		if e != nil {
			t.Fatalf("re-encoded message %s refused: %v", b, e)
		}
		if !reflect.DeepEqual(in, again) {
			t.Fatalf("re-decoded\n%#v\nwant\n%#v", again, in)
		}
	})
}

// checkValid re-checks an accepted message against the protocol, independently of the decoder.
func checkValid(t *testing.T, in Incoming) {
	t.Helper()
	fail := func(why string) { t.Fatalf("accepted %#v: %s", in, why) }
	if utf8.RuneCountInString(in.Ref) > 64 {
		fail("ref too long")
	}
	oneOf := func(s string, set ...string) bool {
		for _, x := range set {
			if s == x {
				return true
			}
		}
		return false
	}
	switch in.Type {
	case TypeHello:
		if in.V != 1 || (in.Token == "") == (in.Resume == "") || len(in.Token) > 1024 || len(in.Resume) > 1024 || in.Since < 0 {
			fail("bad hello")
		}
	case TypeOffer, TypeAnswer:
		if in.SDP == "" || len(in.SDP) > 60000 {
			fail("bad sdp")
		}
		if in.Type == TypeOffer && (in.PC != "up" || in.Tracks == nil || len(in.Tracks) > 16) {
			fail("bad offer")
		}
		if in.Type == TypeAnswer && (in.PC != "down" || in.Tracks != nil) {
			fail("bad answer")
		}
		for id, src := range in.Tracks {
			if id == "" || !oneOf(src, "camera", "screen", "microphone") {
				fail("bad track")
			}
		}
	case TypeCandidate:
		if !oneOf(in.PC, "up", "down") || in.Candidate == nil {
			fail("bad candidate")
		}
	case TypeChat, TypeAsk:
		limit := 2000
		if in.Type == TypeAsk {
			limit = 500
		}
		if strings.TrimSpace(in.Text) != in.Text || in.Text == "" || utf8.RuneCountInString(in.Text) > limit ||
			!utf8.ValidString(in.Text) || strings.ContainsRune(in.Text, 0) {
			fail("bad text")
		}
	case TypeUpvote:
		if in.QuestionID <= 0 {
			fail("bad question id")
		}
	case TypeQuestion:
		if in.QuestionID <= 0 || !oneOf(in.State, "open", "answered", "dismissed") {
			fail("bad question")
		}
	case TypeMute:
		if !oneOf(in.Kind, "audio", "video", "screen") {
			fail("bad kind")
		}
		fallthrough
	case TypeStage, TypeRemove:
		if in.ParticipantID == "" || len(in.ParticipantID) > 64 {
			fail("bad participant id")
		}
	case TypeRestart:
		if in.PC != "down" {
			fail("bad restart")
		}
	case TypeView:
		if in.View == nil || len(in.View) > 64 {
			fail("bad view")
		}
		for id, sz := range in.View {
			if id == "" || sz.Width < 0 || sz.Height < 0 || sz.Width > 7680 || sz.Height > 4320 {
				fail("bad view size")
			}
		}
	case TypeRecord:
		if !oneOf(in.Action, "start", "stop") {
			fail("bad record action")
		}
	case TypeStats, TypeConsent:
	case TypeHand, TypeEnd, TypeLeave:
	default:
		fail("unknown type")
	}
}
