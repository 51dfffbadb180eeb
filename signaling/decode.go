package signaling

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits of client message fields. Lengths in characters (runes) where the protocol speaks
// of characters, in bytes for identifiers and SDP.
const (
	MaxRefChars       = 64
	MaxTokenBytes     = 1024
	MaxSDPBytes       = 60000
	MaxChatChars      = 2000
	MaxAskChars       = 500
	MaxIDBytes        = 64 // participant ids
	MaxTracks         = 16
	MaxTrackIDBytes   = 256 // browsers use UUIDs; msid allows 64, we are lenient
	MaxCandidateBytes = 2048
	MaxMidBytes       = 256
	MaxUfragBytes     = 256 // RFC 8445: ufrag is at most 256 characters
	MaxViewTracks     = 64  // tracks in one view message
	MaxViewWidth      = 7680
	MaxViewHeight     = 4320
)

// Decode parses and validates one client message: a JSON object (valid UTF-8) with a known
// type, the required fields of that type present with the right JSON types, enumerations
// valid, lengths within the limits above (too_large otherwise) and texts not blank. Unknown
// fields are ignored; null counts as absent. Chat and question texts are returned trimmed.
//
// On failure the *Error has the message's ref when the ref could be read, and the returned
// Incoming has Type (when it is a known type) and Ref set, nothing else. Decode never panics.
func Decode(data []byte) (Incoming, *Error) {
	if len(data) > MaxMessageBytes {
		return Incoming{}, Errorf(CodeTooLarge, "the message is larger than %d bytes", MaxMessageBytes)
	}
	if !utf8.Valid(data) {
		return Incoming{}, Errorf(CodeBadMessage, "the message is not valid UTF-8")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
		return Incoming{}, Errorf(CodeBadMessage, "the message is not a JSON object")
	}
	d := fields{obj: obj}
	var in Incoming

	// The ref first, so that every later error can echo it.
	if ref, ok := d.str("ref", false); ok {
		if n := utf8.RuneCountInString(ref); n > MaxRefChars {
			return Incoming{}, Errorf(CodeTooLarge, `"ref" is longer than %d characters`, MaxRefChars)
		}
		in.Ref = ref
	}
	if d.err != nil {
		return Incoming{}, d.err
	}

	typ, ok := d.str("type", true)
	if !ok {
		return in, d.err.WithRef(in.Ref)
	}
	if !knownClientType(typ) {
		return in, &Error{Code: CodeUnknownType, Message: fmt.Sprintf("unknown message type %q", clip(typ, 64)), Ref: in.Ref}
	}
	in.Type = typ

	full, e := decodeFields(&d, in)
	if e != nil {
		e.Ref = in.Ref
		return in, e
	}
	return full, nil
}

func knownClientType(t string) bool {
	switch t {
	case TypeHello, TypeOffer, TypeAnswer, TypeCandidate, TypeChat, TypeAsk, TypeUpvote,
		TypeHand, TypeMute, TypeStage, TypeRemove, TypeQuestion, TypeEnd, TypeLeave, TypeRestart, TypeView, TypeStats,
		TypeRecord, TypeConsent:
		return true
	}
	return false
}

// decodeFields reads the fields of in.Type. It returns the first problem found (and then
// the caller discards the Incoming).
func decodeFields(d *fields, in Incoming) (Incoming, *Error) {
	switch in.Type {
	case TypeHello:
		// The version first: another version's hello may look different.
		v, _ := d.integer("v", true)
		if d.err != nil {
			return in, d.err
		}
		if v != Version {
			return in, Errorf(CodeBadVersion, "this server speaks version %d of the protocol, not %d", Version, v)
		}
		// A hello carries a join token (a new participant) or a resume token (the same
		// participant again, within the grace period), never both.
		tok, hasTok := d.str("token", false)
		res, hasRes := d.str("resume", false)
		since, _ := d.integer("since", false)
		if d.err != nil {
			return in, d.err
		}
		switch {
		case hasTok && hasRes:
			return in, Errorf(CodeBadMessage, `a hello has "token" or "resume", not both`)
		case !hasTok && !hasRes:
			return in, Errorf(CodeBadMessage, `"token" is missing`)
		case hasTok && tok == "", hasRes && res == "":
			return in, Errorf(CodeBadMessage, `the token is empty`)
		case len(tok) > MaxTokenBytes || len(res) > MaxTokenBytes:
			return in, Errorf(CodeTooLarge, `the token is longer than %d bytes`, MaxTokenBytes)
		case since < 0:
			return in, Errorf(CodeBadMessage, `"since" must not be negative`)
		}
		in.V, in.Token, in.Resume, in.Since = int(v), tok, res, since

	case TypeOffer, TypeAnswer:
		pc, _ := d.str("pc", true)
		sdp, _ := d.str("sdp", true)
		var tracks map[string]string
		if in.Type == TypeOffer {
			tracks = d.tracks("tracks")
		}
		if d.err != nil {
			return in, d.err
		}
		want := PCUp
		if in.Type == TypeAnswer {
			want = PCDown
		}
		if pc != want {
			return in, Errorf(CodeBadMessage, `a client %s must have "pc": %q`, in.Type, want)
		}
		if sdp == "" {
			return in, Errorf(CodeBadMessage, `"sdp" is empty`)
		}
		if len(sdp) > MaxSDPBytes {
			return in, Errorf(CodeTooLarge, `"sdp" is longer than %d bytes`, MaxSDPBytes)
		}
		in.PC, in.SDP, in.Tracks = pc, sdp, tracks

	case TypeCandidate:
		pc, _ := d.str("pc", true)
		c := d.candidate("candidate")
		if d.err != nil {
			return in, d.err
		}
		if pc != PCUp && pc != PCDown {
			return in, Errorf(CodeBadMessage, `"pc" must be "up" or "down"`)
		}
		in.PC, in.Candidate = pc, c

	case TypeChat, TypeAsk:
		text, _ := d.str("text", true)
		if d.err != nil {
			return in, d.err
		}
		text = strings.TrimSpace(text)
		if text == "" {
			return in, Errorf(CodeBadMessage, `"text" is empty`)
		}
		if strings.IndexByte(text, 0) >= 0 {
			// PostgreSQL text cannot hold NUL, and no person types one.
			return in, Errorf(CodeBadMessage, `"text" contains a NUL character`)
		}
		limit := MaxChatChars
		if in.Type == TypeAsk {
			limit = MaxAskChars
		}
		if utf8.RuneCountInString(text) > limit {
			return in, Errorf(CodeTooLarge, `"text" is longer than %d characters`, limit)
		}
		in.Text = text

	case TypeUpvote:
		id := d.questionID()
		up, present := d.boolean("up", false)
		if d.err != nil {
			return in, d.err
		}
		in.QuestionID, in.Up = id, up || !present

	case TypeQuestion:
		id := d.questionID()
		state, _ := d.str("state", true)
		if d.err != nil {
			return in, d.err
		}
		switch state {
		case StateOpen, StateAnswered, StateDismissed:
		default:
			return in, Errorf(CodeBadMessage, `"state" must be "open", "answered" or "dismissed"`)
		}
		in.QuestionID, in.State = id, state

	case TypeHand:
		in.Raised, _ = d.boolean("raised", true)

	case TypeMute:
		in.ParticipantID = d.participantID()
		in.Kind, _ = d.str("kind", true)
		in.Muted, _ = d.boolean("muted", true)
		if d.err == nil {
			switch in.Kind {
			case KindAudio, KindVideo, KindScreen:
			default:
				return in, Errorf(CodeBadMessage, `"kind" must be "audio", "video" or "screen"`)
			}
		}

	case TypeStage:
		in.ParticipantID = d.participantID()
		in.On, _ = d.boolean("on", true)

	case TypeRemove:
		in.ParticipantID = d.participantID()

	case TypeRestart:
		pc, _ := d.str("pc", true)
		if d.err == nil && pc != PCDown {
			return in, Errorf(CodeBadMessage, `"pc" must be "down": the client restarts its own up connection with an offer`)
		}
		in.PC = pc

	case TypeView:
		in.View = d.view("tracks")

	case TypeStats:
		in.On, _ = d.boolean("on", true)

	case TypeRecord:
		action, _ := d.str("action", true)
		if d.err == nil && action != RecordStart && action != RecordStop {
			return in, Errorf(CodeBadMessage, `"action" must be "start" or "stop"`)
		}
		in.Action = action

	case TypeConsent:
		in.Decline, _ = d.boolean("decline", true)

	case TypeEnd, TypeLeave:
		// no fields
	}
	if d.err != nil {
		return in, d.err
	}
	return in, nil
}

// fields reads typed values out of a JSON object and keeps the first error.
type fields struct {
	obj map[string]json.RawMessage
	err *Error
}

func (d *fields) fail(code, format string, args ...any) {
	if d.err == nil {
		d.err = Errorf(code, format, args...)
	}
}

// get returns the raw value of name, or nil when it is absent or null. A missing required
// field is an error.
func (d *fields) get(name string, required bool) json.RawMessage {
	raw := bytes.TrimSpace(d.obj[name])
	if len(raw) == 0 || string(raw) == "null" {
		if required {
			d.fail(CodeBadMessage, "%q is missing", name)
		}
		return nil
	}
	return raw
}

func (d *fields) str(name string, required bool) (string, bool) {
	raw := d.get(name, required)
	if raw == nil {
		return "", false
	}
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		d.fail(CodeBadMessage, "%q must be a string", name)
		return "", false
	}
	return s, true
}

func (d *fields) boolean(name string, required bool) (value, present bool) {
	raw := d.get(name, required)
	switch string(raw) {
	case "":
		return false, false
	case "true":
		return true, true
	case "false":
		return false, true
	}
	d.fail(CodeBadMessage, "%q must be true or false", name)
	return false, false
}

func (d *fields) integer(name string, required bool) (int64, bool) {
	raw := d.get(name, required)
	if raw == nil {
		return 0, false
	}
	var n int64
	// Unmarshal into int64 refuses fractions, exponents and overflow.
	if (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) || json.Unmarshal(raw, &n) != nil {
		d.fail(CodeBadMessage, "%q must be an integer", name)
		return 0, false
	}
	return n, true
}

func (d *fields) questionID() int64 {
	id, ok := d.integer("question_id", true)
	if ok && id <= 0 {
		d.fail(CodeBadMessage, `"question_id" must be positive`)
		return 0
	}
	return id
}

func (d *fields) participantID() string {
	id, ok := d.str("participant_id", true)
	if !ok {
		return ""
	}
	switch {
	case id == "":
		d.fail(CodeBadMessage, `"participant_id" is empty`)
	case len(id) > MaxIDBytes:
		d.fail(CodeTooLarge, `"participant_id" is longer than %d bytes`, MaxIDBytes)
	default:
		return id
	}
	return ""
}

// trackMap reads an object keyed by track ids (an offer's tracks, a view's sizes): at most
// limit of them, each id present and not too long. what names the values for the error.
func (d *fields) trackMap(name, what string, limit int) map[string]json.RawMessage {
	raw := d.get(name, true)
	if raw == nil {
		return nil
	}
	var m map[string]json.RawMessage
	if raw[0] != '{' || json.Unmarshal(raw, &m) != nil {
		d.fail(CodeBadMessage, "%q must be an object of track ids to %s", name, what)
		return nil
	}
	if len(m) > limit {
		d.fail(CodeTooLarge, "%q has more than %d tracks", name, limit)
		return nil
	}
	for id := range m {
		switch {
		case id == "":
			d.fail(CodeBadMessage, "a track id is empty")
			return nil
		case len(id) > MaxTrackIDBytes:
			d.fail(CodeTooLarge, "a track id is longer than %d bytes", MaxTrackIDBytes)
			return nil
		}
	}
	return m
}

func (d *fields) tracks(name string) map[string]string {
	m := d.trackMap(name, "sources", MaxTracks)
	if m == nil {
		return nil
	}
	tracks := make(map[string]string, len(m))
	for id, v := range m {
		var src string
		if len(v) == 0 || v[0] != '"' || json.Unmarshal(v, &src) != nil {
			d.fail(CodeBadMessage, "the source of a track must be a string")
			return nil
		}
		switch src {
		case SourceCamera, SourceScreen, SourceMicrophone:
		default:
			d.fail(CodeBadMessage, `a track's source must be "camera", "screen" or "microphone"`)
			return nil
		}
		tracks[id] = src
	}
	return tracks
}

// view reads a view message's tracks: track id → display size, clamped to 0..MaxViewWidth
// by 0..MaxViewHeight (absurd sizes are clamped, not refused; 0×0 means not shown).
func (d *fields) view(name string) map[string]Size {
	m := d.trackMap(name, "sizes", MaxViewTracks)
	if m == nil {
		return nil
	}
	out := make(map[string]Size, len(m))
	for id, v := range m {
		var sz struct{ Width, Height json.Number }
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.UseNumber()
		if len(v) == 0 || v[0] != '{' || dec.Decode(&sz) != nil {
			d.fail(CodeBadMessage, "the size of a track must be an object with width and height")
			return nil
		}
		w, errW := sz.Width.Float64()
		h, errH := sz.Height.Float64()
		if errW != nil || errH != nil {
			d.fail(CodeBadMessage, "a track's width and height must be numbers")
			return nil
		}
		out[id] = Size{Width: clampDim(w, MaxViewWidth), Height: clampDim(h, MaxViewHeight)}
	}
	return out
}

func clampDim(v float64, limit int) int {
	switch {
	case v != v || v <= 0: // NaN, negative, zero
		return 0
	case v >= float64(limit):
		return limit
	}
	return int(v)
}

func (d *fields) candidate(name string) *Candidate {
	raw := d.get(name, true)
	if raw == nil {
		return nil
	}
	var m map[string]json.RawMessage
	if raw[0] != '{' || json.Unmarshal(raw, &m) != nil {
		d.fail(CodeBadMessage, "%q must be an object", name)
		return nil
	}
	sub := fields{obj: m}
	var c Candidate
	c.Candidate, _ = sub.str("candidate", true)
	if mid, ok := sub.str("sdpMid", false); ok {
		c.SDPMid = &mid
	}
	if idx, ok := sub.integer("sdpMLineIndex", false); ok {
		if idx < 0 || idx > 0xFFFF {
			sub.fail(CodeBadMessage, `"sdpMLineIndex" is out of range`)
		}
		u := uint16(idx)
		c.SDPMLineIndex = &u
	}
	if uf, ok := sub.str("usernameFragment", false); ok {
		c.UsernameFragment = &uf
	}
	switch {
	case sub.err != nil:
	case len(c.Candidate) > MaxCandidateBytes:
		sub.fail(CodeTooLarge, `"candidate" is longer than %d bytes`, MaxCandidateBytes)
	case c.SDPMid != nil && len(*c.SDPMid) > MaxMidBytes:
		sub.fail(CodeTooLarge, `"sdpMid" is longer than %d bytes`, MaxMidBytes)
	case c.UsernameFragment != nil && len(*c.UsernameFragment) > MaxUfragBytes:
		sub.fail(CodeTooLarge, `"usernameFragment" is longer than %d bytes`, MaxUfragBytes)
	}
	if sub.err != nil {
		sub.err.Message = "candidate: " + sub.err.Message
		d.fail(sub.err.Code, "%s", sub.err.Message)
		return nil
	}
	return &c
}

// clip shortens s to at most n bytes without cutting a character.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
