package live

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/sfu"
	"github.com/puente-org/puente/signaling"
)

// client is one websocket connection: before hello a stranger, after it a member of a room.
// Its handlers run on the connection's reader goroutine; fields other members' actions
// change (role, hand, mutes, publishing) are guarded by the room's mutex.
type client struct {
	hub  *Hub
	conn *signaling.Conn
	id   string
	log  *slog.Logger

	// Set once at hello.
	room       *Room
	adm        Admission
	name       string
	attendance int64
	peer       *sfu.Peer

	role       string
	hand       bool
	audioMuted bool
	videoMuted bool
	publishing []string
	left       bool
}

func (c *client) participantLocked() signaling.Participant {
	pub := c.publishing
	if pub == nil {
		pub = []string{}
	}
	return signaling.Participant{ID: c.id, Name: c.name, Role: c.role, Hand: c.hand,
		AudioMuted: c.audioMuted, VideoMuted: c.videoMuted, Publishing: pub}
}

func (c *client) fail(ref string, code, msg string) {
	c.conn.SendValue(signaling.ErrorMessage(&signaling.Error{Code: code, Message: msg, Ref: ref}))
}

// handle runs one decoded message.
func (c *client) handle(m signaling.Incoming) {
	if c.room == nil {
		c.hello(m)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch m.Type {
	case signaling.TypeHello:
		c.fail(m.Ref, signaling.CodeBadMessage, "You are already in the room.")
	case signaling.TypeOffer:
		c.offer(m)
	case signaling.TypeAnswer:
		if err := c.peer.HandleAnswer(m.SDP); err != nil {
			c.mediaError(m.Ref, err)
		}
	case signaling.TypeCandidate:
		if err := c.peer.AddCandidate(m.PC, candidateInit(m.Candidate)); err != nil {
			c.mediaError(m.Ref, err)
		}
	case signaling.TypeChat:
		c.chat(ctx, m)
	case signaling.TypeAsk:
		c.ask(ctx, m)
	case signaling.TypeUpvote:
		c.upvote(ctx, m)
	case signaling.TypeHand:
		c.room.mu.Lock()
		c.hand = m.Raised
		c.room.mu.Unlock()
		c.room.changed(c)
	case signaling.TypeMute:
		c.mute(m)
	case signaling.TypeStage:
		c.stage(m)
	case signaling.TypeRemove:
		c.remove(m)
	case signaling.TypeQuestion:
		c.markQuestion(ctx, m)
	case signaling.TypeEnd:
		if !c.allowHost(m.Ref, "Only a host can end the session.") {
			return
		}
		c.log.Info("session ended by host")
		c.hub.markEnded(c.room.occID)
		c.room.closeAll(signaling.ByeMessage("ended", "The host has ended this session. Thank you for coming."))
	case signaling.TypeLeave:
		c.conn.Close(nil)
	default:
		c.fail(m.Ref, signaling.CodeUnknownType, "Unknown message type.")
	}
}

func candidateInit(c *signaling.Candidate) webrtc.ICECandidateInit {
	if c == nil {
		return webrtc.ICECandidateInit{}
	}
	return webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment}
}

// hello admits the connection. The signaling layer has already made sure the first
// message is a hello of this protocol version (hello_first, bad_version).
func (c *client) hello(m signaling.Incoming) {
	a, perr := c.hub.admit(m.Token)
	if perr != nil {
		perr.Ref = m.Ref
		c.conn.Close(signaling.ErrorMessage(perr))
		return
	}
	if err := c.join(a); err != nil {
		c.log.Error("join failed", "err", err)
		c.conn.Close(signaling.ErrorMessage(&signaling.Error{Code: signaling.CodeInternal, Message: "The room could not be opened. Try again in a moment.", Ref: m.Ref}))
	}
}

// join enters the room: welcome with the room's state, everyone else told, then media.
func (c *client) join(a Admission) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := c.hub
	person, err := h.o.Store.Participant(ctx, a.OccurrenceID, a.PersonID)
	if err != nil {
		return err
	}
	session, err := h.o.Store.Session(ctx, a.OccurrenceID)
	if err != nil {
		return err
	}
	c.adm, c.role, c.name = a, a.Role, person.Name
	c.log = c.log.With("room", "occurrence-"+strconv.FormatInt(a.OccurrenceID, 10), "person", a.PersonID)
	for {
		r, err := h.room(a.OccurrenceID, session.Title)
		if err != nil {
			return err
		}
		err = c.enter(ctx, r)
		if errors.Is(err, errRoomClosed) {
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	if id, err := h.o.Store.RecordJoin(ctx, a.OccurrenceID, a.PersonID); err != nil {
		c.log.Warn("attendance not recorded", "err", err)
	} else {
		c.attendance = id
	}
	c.log.Info("joined", "role", c.role)
	peer, err := c.room.media.Join(c.id, c.role != RoleAttendee, sfu.PeerEvents{
		SendSDP: func(typ, pc, sdp string, tracks map[string]sfu.TrackInfo) {
			var ti map[string]signaling.TrackInfo
			if tracks != nil {
				ti = make(map[string]signaling.TrackInfo, len(tracks))
				for id, t := range tracks {
					ti[id] = signaling.TrackInfo{ParticipantID: t.ParticipantID, Source: t.Source}
				}
			}
			c.conn.SendValue(signaling.SDPMessage(typ, pc, sdp, ti))
		},
		SendCandidate: func(pc string, ci webrtc.ICECandidateInit) {
			c.conn.SendValue(signaling.CandidateMessage(pc, signaling.Candidate{Candidate: ci.Candidate, SDPMid: ci.SDPMid,
				SDPMLineIndex: ci.SDPMLineIndex, UsernameFragment: ci.UsernameFragment}))
		},
		PublishingChanged: func(sources []string) {
			c.room.mu.Lock()
			c.publishing = sources
			c.room.mu.Unlock()
			c.room.changed(c)
		},
		Failed: func(pc string) { c.log.Info("media connection failed", "pc", pc) },
	})
	if err != nil {
		return err
	}
	c.room.mu.Lock()
	c.peer = peer
	if c.left { // closed meanwhile
		c.room.mu.Unlock()
		peer.Close()
		return nil
	}
	c.room.mu.Unlock()
	return nil
}

// enter adds the client to the room and sends the welcome, under the room's text lock so
// the history and what follows line up.
func (c *client) enter(ctx context.Context, r *Room) error {
	h := c.hub
	r.textMu.Lock()
	defer r.textMu.Unlock()
	chat, err := h.o.Store.ChatHistory(ctx, r.occID, h.o.HistorySize)
	if err != nil {
		return err
	}
	qs, err := h.o.Store.LiveQuestions(ctx, r.occID)
	if err != nil {
		return err
	}
	votes, err := h.o.Store.MyVotes(ctx, r.occID, c.adm.PersonID)
	if err != nil {
		return err
	}
	w := signaling.Welcome{Type: signaling.TypeWelcome, V: signaling.Version,
		Occurrence: signaling.OccurrenceInfo{ID: r.occID, Title: r.title},
		Chat:       make([]signaling.ChatMessage, 0, len(chat)),
		Questions:  make([]signaling.Question, 0, len(qs)),
		MyVotes:    votes,
		ICEServers: h.ICEServers(c.adm.PersonID),
	}
	if w.MyVotes == nil {
		w.MyVotes = []int64{}
	}
	for _, m := range chat {
		w.Chat = append(w.Chat, chatOut(m, ""))
	}
	for _, q := range qs {
		w.Questions = append(w.Questions, questionOut(q))
	}
	var replaced []*client
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return errRoomClosed
	}
	for _, m := range r.members {
		if m.adm.PersonID == c.adm.PersonID {
			replaced = append(replaced, m)
		}
	}
	c.room = r
	r.members[c.id] = c
	w.You = c.participantLocked()
	w.Participants = r.participantsLocked()
	c.conn.SendValue(w)
	if enc, err := signaling.Encode(signaling.ParticipantMessage(w.You)); err == nil {
		r.broadcastLocked(enc, c)
	}
	r.mu.Unlock()
	h.o.Metrics.participantJoined(c.role)
	for _, m := range replaced {
		m.conn.Close(signaling.ByeMessage("replaced", "You joined this session from another window or device."))
	}
	return nil
}

// leave releases everything the connection used.
func (c *client) leave() {
	r := c.room
	if r == nil {
		return
	}
	r.mu.Lock()
	c.left = true
	peer := c.peer
	role := c.role
	delete(r.members, c.id)
	r.mu.Unlock()
	if peer != nil {
		peer.Close()
	}
	r.broadcast(signaling.LeftMessage(c.id), nil)
	c.hub.o.Metrics.participantLeft(role)
	if c.attendance != 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := c.hub.o.Store.RecordLeave(ctx, c.attendance); err != nil {
			c.log.Warn("attendance leave not recorded", "err", err)
		}
		cancel()
	}
	c.log.Info("left")
	c.hub.dropIfEmpty(r)
}

func (c *client) isHost() bool {
	c.room.mu.Lock()
	defer c.room.mu.Unlock()
	return c.role == RoleHost
}

func (c *client) offer(m signaling.Incoming) {
	if m.PC != sfu.Up {
		c.fail(m.Ref, signaling.CodeBadMessage, "Offers are for the up connection; the server offers on the down connection.")
		return
	}
	if err := c.peer.HandleOffer(m.SDP, m.Tracks); err != nil {
		c.mediaError(m.Ref, err)
	}
}

func (c *client) mediaError(ref string, err error) {
	switch {
	case errors.Is(err, sfu.ErrForbidden):
		c.fail(ref, signaling.CodeForbidden, "Only hosts and speakers can send audio and video. Raise your hand to be invited onto the stage.")
	case errors.Is(err, sfu.ErrBadSDP):
		c.log.Info("bad session description", "err", err)
		c.fail(ref, signaling.CodeBadSDP, "The session description could not be used.")
	case errors.Is(err, sfu.ErrClosed):
	default:
		c.log.Error("media", "err", err)
		c.fail(ref, signaling.CodeInternal, "The server could not set up the media.")
	}
}

func (c *client) storeError(ref string, err error) {
	switch domain.ErrorCode(err) {
	case domain.CodeNotFound:
		c.fail(ref, signaling.CodeNotFound, "There is no such question in this session.")
	case domain.CodeInvalid:
		// The page shows its own words for the code (live.error_bad_message); this text is
		// for other clients of the protocol, and never a raw error.
		c.fail(ref, signaling.CodeBadMessage, "That text cannot be saved: it is empty, too long, or has characters that cannot be stored.")
	default:
		c.log.Error("store", "err", err)
		c.fail(ref, signaling.CodeInternal, "That could not be saved. Try again.")
	}
}

func (c *client) chat(ctx context.Context, m signaling.Incoming) {
	r := c.room
	r.textMu.Lock()
	defer r.textMu.Unlock()
	msg, err := c.hub.o.Store.AddChat(ctx, r.occID, c.adm.PersonID, c.name, m.Text)
	if err != nil {
		c.storeError(m.Ref, err)
		return
	}
	r.broadcast(signaling.ChatMessageOut(chatOut(msg, c.id)), nil)
}

func (c *client) ask(ctx context.Context, m signaling.Incoming) {
	r := c.room
	r.textMu.Lock()
	defer r.textMu.Unlock()
	q, err := c.hub.o.Store.AskQuestion(ctx, r.occID, c.adm.PersonID, c.name, m.Text)
	if err != nil {
		c.storeError(m.Ref, err)
		return
	}
	r.broadcast(signaling.QuestionMessage(questionOut(q)), nil)
}

func (c *client) upvote(ctx context.Context, m signaling.Incoming) {
	r := c.room
	r.textMu.Lock()
	defer r.textMu.Unlock()
	q, err := c.hub.o.Store.VoteQuestion(ctx, r.occID, m.QuestionID, c.adm.PersonID, m.Up)
	if err != nil {
		c.storeError(m.Ref, err)
		return
	}
	r.broadcast(signaling.QuestionMessage(questionOut(q)), nil)
}

func (c *client) markQuestion(ctx context.Context, m signaling.Incoming) {
	if !c.allowHost(m.Ref, "Only a host can mark questions.") {
		return
	}
	r := c.room
	r.textMu.Lock()
	defer r.textMu.Unlock()
	q, err := c.hub.o.Store.SetQuestionState(ctx, r.occID, m.QuestionID, m.State)
	if err != nil {
		c.storeError(m.Ref, err)
		return
	}
	r.broadcast(signaling.QuestionMessage(questionOut(q)), nil)
}

// allowHost refuses a host action (with why) to anyone who is not a host.
func (c *client) allowHost(ref, why string) bool {
	if c.isHost() {
		return true
	}
	c.fail(ref, signaling.CodeForbidden, why)
	return false
}

// hostTarget is the participant a host action is about, or nil after telling the client
// why not (not a host, no such participant).
func (c *client) hostTarget(ref, id, why string) *client {
	if !c.allowHost(ref, why) {
		return nil
	}
	return c.target(ref, id)
}

// target finds the participant an action is about.
func (c *client) target(ref, id string) *client {
	t := c.room.member(id)
	if t == nil {
		c.fail(ref, signaling.CodeNotFound, "That participant is not in the room (any more).")
	}
	return t
}

func (c *client) mute(m signaling.Incoming) {
	t := c.target(m.Ref, m.ParticipantID)
	if t == nil {
		return
	}
	r := c.room
	r.mu.Lock()
	if why := c.muteRefusalLocked(t); why != "" {
		r.mu.Unlock()
		c.fail(m.Ref, signaling.CodeForbidden, why)
		return
	}
	switch m.Kind {
	case "audio":
		t.audioMuted = m.Muted
	case "video":
		t.videoMuted = m.Muted
	}
	peer := t.peer
	r.mu.Unlock()
	if peer != nil {
		peer.Mute(m.Kind, m.Muted)
	}
	if t != c {
		c.log.Info("host muted participant", "target", t.id, "kind", m.Kind, "muted", m.Muted)
		t.conn.SendValue(signaling.MutedMessage(m.Kind, m.Muted, c.id))
	}
	r.changed(t)
}

// muteRefusalLocked says why c may not mute t ("" when it may): people mute themselves
// (attendees send nothing to mute), hosts mute anyone but another host.
func (c *client) muteRefusalLocked(t *client) string {
	switch {
	case t == c && c.role == RoleAttendee:
		return "Attendees do not send audio or video."
	case t != c && c.role != RoleHost:
		return "Only a host can mute someone else."
	case t != c && t.role == RoleHost:
		return "Hosts cannot be muted by another host."
	}
	return ""
}

func (c *client) stage(m signaling.Incoming) {
	t := c.hostTarget(m.Ref, m.ParticipantID, "Only a host can invite people onto the stage.")
	if t == nil {
		return
	}
	r := c.room
	r.mu.Lock()
	switch {
	case t.role == RoleHost:
		r.mu.Unlock()
		c.fail(m.Ref, signaling.CodeForbidden, "Hosts are always on the stage.")
		return
	case m.On && t.role == RoleSpeaker, !m.On && t.role == RoleAttendee:
		r.mu.Unlock()
		return // already there
	}
	from := t.role
	if m.On {
		t.role = RoleSpeaker
	} else {
		t.role = RoleAttendee
		t.audioMuted, t.videoMuted = false, false
	}
	t.hand = false
	peer, to := t.peer, t.role
	r.mu.Unlock()
	c.hub.o.Metrics.roleChanged(from, to)
	c.log.Info("stage", "target", t.id, "role", to)
	if peer != nil {
		peer.SetCanPublish(m.On)
	}
	t.conn.SendValue(signaling.RoleMessage(to))
	r.changed(t)
}

func (c *client) remove(m signaling.Incoming) {
	t := c.hostTarget(m.Ref, m.ParticipantID, "Only a host can remove someone.")
	if t == nil {
		return
	}
	c.room.mu.Lock()
	theirRole := t.role
	c.room.mu.Unlock()
	if t == c || theirRole == RoleHost {
		c.fail(m.Ref, signaling.CodeForbidden, "Hosts cannot be removed.")
		return
	}
	c.log.Info("host removed participant", "target", t.id)
	c.hub.markRemoved(c.room.occID, t.adm.PersonID)
	t.conn.Close(signaling.ByeMessage("removed", "A host removed you from this session."))
}

func chatOut(m ChatMessage, participantID string) signaling.ChatMessage {
	return signaling.ChatMessage{ID: m.ID, Author: signaling.Author{ParticipantID: participantID, Name: m.AuthorName}, Text: m.Text, At: m.At.UTC()}
}

func questionOut(q Question) signaling.Question {
	return signaling.Question{ID: q.ID, Author: signaling.Author{Name: q.AuthorName}, Text: q.Text, Votes: q.Votes, State: q.State, At: q.At.UTC()}
}
