// Package signaling is the wire protocol of Puente's live rooms (docs/signaling.md): the
// message types, a strict decoder for what clients send, typed values for what the server
// sends, and a websocket connection with one reader and one writer goroutine.
//
// It is the bottom layer: it knows nothing of seminars, tokens or rooms, and imports nothing
// of Puente's. Package live builds rooms on it.
package signaling

import (
	"encoding/json"
	"fmt"
	"time"
)

// Version is the protocol version a client must announce in hello.
const Version = 1

// MaxMessageBytes is the largest message a client may send; a bigger frame closes the
// connection with close code 1009.
const MaxMessageBytes = 64 << 10

// Message types. The first group is sent by clients, the second by the server; offer,
// answer, candidate, chat and question travel both ways with different fields.
const (
	TypeHello     = "hello"
	TypeOffer     = "offer"
	TypeAnswer    = "answer"
	TypeCandidate = "candidate"
	TypeChat      = "chat"
	TypeAsk       = "ask"
	TypeUpvote    = "upvote"
	TypeHand      = "hand"
	TypeMute      = "mute"
	TypeStage     = "stage"
	TypeRemove    = "remove"
	TypeQuestion  = "question"
	TypeEnd       = "end"
	TypeLeave     = "leave"
	TypeRestart   = "restart"
	TypeView      = "view"
	TypeStats     = "stats" // also from the server
	TypeRecord    = "record"
	TypeConsent   = "record_consent"

	TypeWelcome     = "welcome"
	TypeParticipant = "participant"
	TypeLeft        = "left"
	TypeMuted       = "muted"
	TypeRole        = "role"
	TypeError       = "error"
	TypeBye         = "bye"
	TypeSpeaker     = "speaker"
	TypeVideoPaused = "video_paused"
	TypeLayers      = "layers"
	TypeRecording   = "recording"
)

// Error codes (docs/signaling.md, "Errors"). The comment says whether the connection
// carries on after the error.
const (
	CodeBadMessage    = "bad_message"    // continues
	CodeUnknownType   = "unknown_type"   // continues
	CodeTooLarge      = "too_large"      // continues
	CodeRateLimited   = "rate_limited"   // continues (closed after MaxDropped)
	CodeHelloFirst    = "hello_first"    // closed
	CodeBadVersion    = "bad_version"    // closed
	CodeInvalidToken  = "invalid_token"  // closed
	CodeTokenUsed     = "token_used"     // closed
	CodeSessionEnded  = "session_ended"  // closed
	CodeForbidden     = "forbidden"      // continues
	CodeNotFound      = "not_found"      // continues
	CodeBadSDP        = "bad_sdp"        // continues
	CodeInternal      = "internal"       // continues
	CodeResumeRefused = "resume_refused" // closed: join again with a new join token

	CodeAlreadyRecording     = "already_recording"     // continues: record start while recording
	CodeNotRecording         = "not_recording"         // continues: record stop while not recording
	CodeRecordingUnavailable = "recording_unavailable" // continues: this server does not record
)

// Actions of a record message.
const (
	RecordStart = "start"
	RecordStop  = "stop"
)

// States of a recording message.
const (
	RecordingOn  = "on"
	RecordingOff = "off"
)

// The two peer connections of a participant (docs/signaling.md §3).
const (
	PCUp   = "up"   // publishing: the client offers
	PCDown = "down" // receiving: the server offers
)

// Media sources named in an offer's tracks and in a participant's publishing list.
const (
	SourceCamera     = "camera"
	SourceScreen     = "screen"
	SourceMicrophone = "microphone"
)

// Kinds of media a mute message stops or resumes.
const (
	KindAudio  = "audio"
	KindVideo  = "video"
	KindScreen = "screen"
)

// Question states.
const (
	StateOpen      = "open"
	StateAnswered  = "answered"
	StateDismissed = "dismissed"
)

// Roles in a room.
const (
	RoleHost     = "host"
	RoleSpeaker  = "speaker"
	RoleAttendee = "attendee"
)

// Reasons of a bye.
const (
	ByeRemoved  = "removed"
	ByeEnded    = "ended"
	ByeReplaced = "replaced"
	ByeShutdown = "shutdown"
	ByeRevoked  = "revoked" // the person's right to the room ended (registration cancelled)
)

// Candidate is a trickled ICE candidate as the browser's RTCIceCandidateInit. An empty
// Candidate string is the browser's end-of-candidates marker.
type Candidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// Incoming is one decoded client message; only the fields of its type are meaningful.
// Decode fills it; MarshalJSON writes it back in the wire format (for Go clients and tests).
type Incoming struct {
	Type string
	Ref  string

	V      int    // hello
	Token  string // hello: a join token (a new participant), or
	Resume string // hello: a resume token (the same participant again)
	Since  int64  // hello with resume: the id of the last chat message the client has

	PC     string            // offer, answer, candidate: "up" or "down"; restart: "down"
	SDP    string            // offer, answer
	Tracks map[string]string // offer: track id → "camera" | "screen" | "microphone"

	Candidate *Candidate // candidate

	Text string // chat, ask: trimmed of surrounding white space

	QuestionID int64 // upvote, question
	Up         bool  // upvote: true unless the client sent "up": false

	Raised bool // hand

	ParticipantID string // mute, stage, remove
	Kind          string // mute: "audio" | "video" | "screen"
	Muted         bool   // mute

	On bool // stage; stats: the host wants the debug view

	View map[string]Size // view: received track id → display size (0×0: not shown)

	State string // question: "open" | "answered" | "dismissed"

	Action  string // record: "start" | "stop"
	Decline bool   // record_consent: true to be left out of the recording, false to be recorded again
}

// MarshalJSON writes the message as a client would send it: type, ref when set, and the
// fields of its type only. Decode(MarshalJSON(m)) gives m back for every message Decode
// accepts.
func (in Incoming) MarshalJSON() ([]byte, error) {
	m := map[string]any{"type": in.Type}
	if in.Ref != "" {
		m["ref"] = in.Ref
	}
	switch in.Type {
	case TypeHello:
		m["v"] = in.V
		if in.Resume != "" {
			m["resume"], m["since"] = in.Resume, in.Since
		} else {
			m["token"] = in.Token
		}
	case TypeRestart:
		m["pc"] = in.PC
	case TypeOffer:
		tracks := in.Tracks
		if tracks == nil {
			tracks = map[string]string{}
		}
		m["pc"], m["sdp"], m["tracks"] = in.PC, in.SDP, tracks
	case TypeAnswer:
		m["pc"], m["sdp"] = in.PC, in.SDP
	case TypeCandidate:
		var c Candidate
		if in.Candidate != nil {
			c = *in.Candidate
		}
		m["pc"], m["candidate"] = in.PC, c
	case TypeChat, TypeAsk:
		m["text"] = in.Text
	case TypeUpvote:
		m["question_id"], m["up"] = in.QuestionID, in.Up
	case TypeHand:
		m["raised"] = in.Raised
	case TypeMute:
		m["participant_id"], m["kind"], m["muted"] = in.ParticipantID, in.Kind, in.Muted
	case TypeStage:
		m["participant_id"], m["on"] = in.ParticipantID, in.On
	case TypeRemove:
		m["participant_id"] = in.ParticipantID
	case TypeQuestion:
		m["question_id"], m["state"] = in.QuestionID, in.State
	case TypeView:
		view := in.View
		if view == nil {
			view = map[string]Size{}
		}
		m["tracks"] = view
	case TypeStats:
		m["on"] = in.On
	case TypeRecord:
		m["action"] = in.Action
	case TypeConsent:
		m["decline"] = in.Decline
	case TypeEnd, TypeLeave:
	default:
		return nil, fmt.Errorf("signaling: cannot encode a client message of type %q", in.Type)
	}
	return json.Marshal(m)
}

// UnmarshalJSON is Decode, for code that receives client messages inside other JSON.
func (in *Incoming) UnmarshalJSON(data []byte) error {
	m, e := Decode(data)
	if e != nil {
		return e
	}
	*in = m
	return nil
}

// Error is a protocol error to send back to a client (ErrorMessage turns it into the
// message); it also implements error.
type Error struct {
	Code    string
	Message string
	Ref     string // the ref of the message that caused it, if any
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "signaling: " + e.Code
	}
	return "signaling: " + e.Code + ": " + e.Message
}

// Errorf makes an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithRef returns a copy of e that echoes ref.
func (e *Error) WithRef(ref string) *Error {
	c := *e
	c.Ref = ref
	return &c
}

// Participant is someone in the room as others see them. ID is per connection, never an
// account id. Publishing lists the sources they currently send (always a list, never null).
//
// Reconnecting is true while the participant's connection is gone but the grace period
// has not ended: they are still in the room and will likely be back.
type Participant struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Role         string   `json:"role"`
	Hand         bool     `json:"hand"`
	AudioMuted   bool     `json:"audio_muted"`
	VideoMuted   bool     `json:"video_muted"`
	ScreenMuted  bool     `json:"screen_muted"`
	Reconnecting bool     `json:"reconnecting"`
	Publishing   []string `json:"publishing"`
}

// MarshalJSON writes a nil Publishing as [] so clients can iterate it without checks.
func (p Participant) MarshalJSON() ([]byte, error) {
	type plain Participant
	if p.Publishing == nil {
		p.Publishing = []string{}
	}
	return json.Marshal(plain(p))
}

// Author is who wrote a chat message or asked a question. Questions carry the name only
// (docs/signaling.md): leave ParticipantID empty there.
type Author struct {
	ParticipantID string `json:"participant_id,omitempty"`
	Name          string `json:"name"`
}

// ChatMessage is one chat message.
type ChatMessage struct {
	ID     int64     `json:"id"`
	Author Author    `json:"author"`
	Text   string    `json:"text"`
	At     time.Time `json:"at"`
}

// Question is one question with its vote count.
type Question struct {
	ID     int64     `json:"id"`
	Author Author    `json:"author"`
	Text   string    `json:"text"`
	Votes  int       `json:"votes"`
	State  string    `json:"state"`
	At     time.Time `json:"at"`
}

// ICEServer is one STUN or TURN server as the browser's RTCIceServer.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// TrackInfo tells a receiver whose track it is and which source.
type TrackInfo struct {
	ParticipantID string `json:"participant_id"`
	Source        string `json:"source"`
}

// OccurrenceInfo names the occurrence the room belongs to.
type OccurrenceInfo struct {
	ID    int64  `json:"id"`
	Title string `json:"title"`
}

// Welcome answers a valid hello.
type Welcome struct {
	Type         string         `json:"type"` // always "welcome"
	V            int            `json:"v"`
	You          Participant    `json:"you"`
	Occurrence   OccurrenceInfo `json:"occurrence"`
	Participants []Participant  `json:"participants"`
	Chat         []ChatMessage  `json:"chat"`
	Questions    []Question     `json:"questions"`
	MyVotes      []int64        `json:"my_votes"`
	ICEServers   []ICEServer    `json:"ice_servers"`
	// ResumeToken lets this participant come back within the grace period (hello with
	// resume); each welcome gives a new one and the previous one stops working.
	ResumeToken string `json:"resume_token"`
	// GraceSeconds is how long the room keeps a participant whose connection dropped.
	GraceSeconds int `json:"grace_seconds"`
	// Resumed is true when this welcome answers a hello with resume: Chat then holds only
	// the messages after the client's since (none missed, none twice).
	Resumed bool `json:"resumed"`
	// MediaKept is true (only when resumed) when the server kept the participant's peer
	// connections: the client keeps its own and restarts ICE. False: the client closes its
	// peer connections, answers the server's new down offer and publishes again.
	MediaKept bool `json:"media_kept"`
}

// MarshalJSON fills in type and v when left zero and writes nil lists as [], so a client
// never meets null where the protocol promises a list.
func (w Welcome) MarshalJSON() ([]byte, error) {
	type plain Welcome
	w.Type = TypeWelcome
	if w.V == 0 {
		w.V = Version
	}
	if w.Participants == nil {
		w.Participants = []Participant{}
	}
	if w.Chat == nil {
		w.Chat = []ChatMessage{}
	}
	if w.Questions == nil {
		w.Questions = []Question{}
	}
	if w.MyVotes == nil {
		w.MyVotes = []int64{}
	}
	if w.ICEServers == nil {
		w.ICEServers = []ICEServer{}
	}
	return json.Marshal(plain(w))
}

// SDPMsg is a server offer (pc "down", with tracks) or answer (pc "up").
type SDPMsg struct {
	Type   string               `json:"type"`
	PC     string               `json:"pc"`
	SDP    string               `json:"sdp"`
	Tracks map[string]TrackInfo `json:"tracks,omitzero"` // omitted when nil; {} when empty
}

// CandidateMsg is a server ICE candidate.
type CandidateMsg struct {
	Type      string    `json:"type"`
	PC        string    `json:"pc"`
	Candidate Candidate `json:"candidate"`
}

// ParticipantMsg tells that someone joined or changed.
type ParticipantMsg struct {
	Type        string      `json:"type"`
	Participant Participant `json:"participant"`
}

// LeftMsg tells that someone left.
type LeftMsg struct {
	Type          string `json:"type"`
	ParticipantID string `json:"participant_id"`
}

// ChatMsg carries one chat message.
type ChatMsg struct {
	Type    string      `json:"type"`
	Message ChatMessage `json:"message"`
}

// QuestionMsg carries a new or changed question.
type QuestionMsg struct {
	Type     string   `json:"type"`
	Question Question `json:"question"`
}

// MutedMsg tells a client that a host muted or unmuted its media.
type MutedMsg struct {
	Type  string `json:"type"`
	Kind  string `json:"kind"`
	Muted bool   `json:"muted"`
	By    string `json:"by"`
}

// RoleMsg tells a client its role changed.
type RoleMsg struct {
	Type string `json:"type"`
	Role string `json:"role"`
}

// ErrorMsg refuses something a client sent.
type ErrorMsg struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Ref     string `json:"ref,omitempty"`
}

// ByeMsg announces that the server is about to close the connection.
type ByeMsg struct {
	Type    string `json:"type"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// SDPMessage is a server offer or answer (typ TypeOffer or TypeAnswer); tracks are omitted
// when nil.
func SDPMessage(typ, pc, sdp string, tracks map[string]TrackInfo) any {
	return SDPMsg{Type: typ, PC: pc, SDP: sdp, Tracks: tracks}
}

// CandidateMessage is a server ICE candidate for the peer connection pc.
func CandidateMessage(pc string, c Candidate) any {
	return CandidateMsg{Type: TypeCandidate, PC: pc, Candidate: c}
}

// ParticipantMessage tells that p joined or changed.
func ParticipantMessage(p Participant) any {
	return ParticipantMsg{Type: TypeParticipant, Participant: p}
}

// LeftMessage tells that the participant id left.
func LeftMessage(id string) any { return LeftMsg{Type: TypeLeft, ParticipantID: id} }

// ChatMessageOut carries the chat message m.
func ChatMessageOut(m ChatMessage) any { return ChatMsg{Type: TypeChat, Message: m} }

// QuestionMessage carries the question q.
func QuestionMessage(q Question) any { return QuestionMsg{Type: TypeQuestion, Question: q} }

// MutedMessage tells a client that the participant by muted (or unmuted) its kind of media.
func MutedMessage(kind string, muted bool, by string) any {
	return MutedMsg{Type: TypeMuted, Kind: kind, Muted: muted, By: by}
}

// RoleMessage tells a client its new role.
func RoleMessage(role string) any { return RoleMsg{Type: TypeRole, Role: role} }

// ErrorMessage turns e into the error message; a nil e becomes an internal error.
func ErrorMessage(e *Error) any {
	if e == nil {
		return ErrorMsg{Type: TypeError, Code: CodeInternal, Message: "internal error"}
	}
	return ErrorMsg{Type: TypeError, Code: e.Code, Message: e.Message, Ref: e.Ref}
}

// ByeMessage announces the close of the connection with one of the Bye* reasons.
func ByeMessage(reason, message string) any {
	return ByeMsg{Type: TypeBye, Reason: reason, Message: message}
}

// Size is a display size in CSS pixels.
type Size struct {
	Width  int `json:"width"`
	Height int `json:"height"`
}

// SpeakerMsg names the participant speaking now ("" when nobody is).
type SpeakerMsg struct {
	Type          string `json:"type"`
	ParticipantID string `json:"participant_id"`
}

// SpeakerMessage tells everyone who speaks now.
func SpeakerMessage(participantID string) any {
	return SpeakerMsg{Type: TypeSpeaker, ParticipantID: participantID}
}

// VideoPausedMsg tells a viewer that its video is paused (or back) to keep its audio: its
// link cannot carry even the lowest layer.
type VideoPausedMsg struct {
	Type   string `json:"type"`
	Paused bool   `json:"paused"`
}

// VideoPausedMessage is a video_paused message.
func VideoPausedMessage(paused bool) any {
	return VideoPausedMsg{Type: TypeVideoPaused, Paused: paused}
}

// Simulcast layers, by rid, from the largest.
const (
	LayerHigh = "h" // 1280×720
	LayerMid  = "m" // 640×360
	LayerLow  = "l" // 320×180
)

// LayersMsg tells a publisher which simulcast layers of a source someone needs: it should
// encode those (RTCRtpSender.setParameters, active) and may stop the others.
type LayersMsg struct {
	Type   string          `json:"type"`
	Source string          `json:"source"`
	Active map[string]bool `json:"active"` // rid → needed
}

// LayersMessage is a layers message.
func LayersMessage(source string, active map[string]bool) any {
	return LayersMsg{Type: TypeLayers, Source: source, Active: active}
}

// ViewerStats is what the host's debug view shows of one viewer.
type ViewerStats struct {
	ParticipantID string            `json:"participant_id"`
	EstimateKbps  int               `json:"estimate_kbps"`
	Layers        map[string]string `json:"layers"` // received track id → "high", "mid", "low", "paused"
	VideoPaused   bool              `json:"video_paused"`
}

// StatsMsg is the host's debug view: every viewer's estimate and layers.
type StatsMsg struct {
	Type    string        `json:"type"`
	Viewers []ViewerStats `json:"viewers"`
}

// StatsMessage is a stats message.
func StatsMessage(v []ViewerStats) any {
	if v == nil {
		v = []ViewerStats{}
	}
	return StatsMsg{Type: TypeStats, Viewers: v}
}

// RecordingMsg tells everyone whether the session is being recorded: sent to each
// newcomer right after its welcome, and to everyone when a recording starts or stops or
// someone declines (or consents again).
type RecordingMsg struct {
	Type      string     `json:"type"`
	State     string     `json:"state"`           // "on" or "off"
	StartedBy string     `json:"started_by"`      // the name of who started it ("" when off or unknown)
	Since     *time.Time `json:"since,omitempty"` // when it started; absent when off
	Declined  []string   `json:"declined"`        // participant ids left out of the recording
}

// RecordingMessage is a recording message; on false gives state "off".
func RecordingMessage(on bool, startedBy string, since time.Time, declined []string) any {
	m := RecordingMsg{Type: TypeRecording, State: RecordingOff, Declined: declined}
	if m.Declined == nil {
		m.Declined = []string{}
	}
	if on {
		m.State, m.StartedBy = RecordingOn, startedBy
		t := since.UTC()
		m.Since = &t
	}
	return m
}

// Encoded is a message ready to be written to a websocket. A room encodes a broadcast once
// and queues the same bytes to every connection; they must not be modified afterwards.
type Encoded []byte

// Encode turns an outgoing message into JSON. An Encoded or json.RawMessage passes through
// unchanged (no copy).
func Encode(v any) (Encoded, error) {
	switch m := v.(type) {
	case Encoded:
		return m, nil
	case json.RawMessage:
		return Encoded(m), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("signaling: encode %T: %w", v, err)
	}
	return b, nil
}
