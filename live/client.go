package live

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/sfu"
	"github.com/puente-org/puente/signaling"
)

// client is one websocket connection: before hello a stranger, after it the connection of
// one participant. Its handlers run on the connection's reader goroutine; what it changes
// of the participant is guarded by the room's locks.
type client struct {
	hub  *Hub
	conn *signaling.Conn
	log  *slog.Logger

	p    *participant // set at hello
	room *Room
	bye  bool // the client said leave
}

func (c *client) fail(ref string, code, msg string) {
	c.conn.SendValue(signaling.ErrorMessage(&signaling.Error{Code: code, Message: msg, Ref: ref}))
}

// current tells whether this connection is still its participant's (a resume elsewhere
// replaces it).
func (c *client) current() bool {
	c.room.mu.Lock()
	defer c.room.mu.Unlock()
	return c.p.conn == c.conn
}

// handle runs one decoded message.
func (c *client) handle(m signaling.Incoming) {
	if c.p == nil {
		c.hello(m)
		return
	}
	if !c.current() {
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
		if peer := c.peer(); peer != nil {
			if err := peer.HandleAnswer(m.SDP); err != nil {
				c.mediaError(m.Ref, err)
			}
		}
	case signaling.TypeCandidate:
		if peer := c.peer(); peer != nil {
			if err := peer.AddCandidate(m.PC, candidateInit(m.Candidate)); err != nil {
				c.mediaError(m.Ref, err)
			}
		}
	case signaling.TypeRestart:
		c.restartICE(m)
	case signaling.TypeView:
		c.view(m)
	case signaling.TypeStats:
		c.wantStats(m)
	case signaling.TypeChat:
		c.chat(ctx, m)
	case signaling.TypeAsk:
		c.ask(ctx, m)
	case signaling.TypeUpvote:
		c.upvote(ctx, m)
	case signaling.TypeHand:
		c.hand(ctx, m)
	case signaling.TypeMute:
		c.mute(ctx, m)
	case signaling.TypeStage:
		c.stage(ctx, m)
	case signaling.TypeRemove:
		c.remove(ctx, m)
	case signaling.TypeQuestion:
		c.markQuestion(ctx, m)
	case signaling.TypeEnd:
		if !c.allowHost(m.Ref, "Only a host can end the session.") {
			return
		}
		c.log.Info("session ended by host")
		if err := c.room.end(ctx, c.p.personID); err != nil {
			c.log.Error("end session", "err", err)
			c.fail(m.Ref, signaling.CodeInternal, "The session could not be ended. Try again.")
		}
	case signaling.TypeRecord:
		c.record(ctx, m)
	case signaling.TypeConsent:
		c.recordConsent(ctx, m)
	case signaling.TypeLeave:
		c.bye = true
		c.conn.Close(nil)
	default:
		c.fail(m.Ref, signaling.CodeUnknownType, "Unknown message type.")
	}
}

func (c *client) peer() *sfu.Peer {
	c.room.mu.Lock()
	defer c.room.mu.Unlock()
	return c.p.peer
}

func candidateInit(c *signaling.Candidate) webrtc.ICECandidateInit {
	if c == nil {
		return webrtc.ICECandidateInit{}
	}
	return webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment}
}

// ended runs when the websocket is gone: a goodbye (leave) or a server-side close for
// good takes the participant out; a lost connection starts the grace period; a stopping
// server lets go of it, still present for the next process.
func (c *client) ended(err error) {
	p := c.p
	if p == nil {
		return
	}
	r := c.room
	r.mu.Lock()
	mine := p.conn == c.conn
	leaving := p.leaving
	r.mu.Unlock()
	switch {
	case !mine: // replaced by a newer connection of the same participant
	case c.hub.isClosed():
		r.suspend(p, c.hub.o.Now())
	case c.bye || leaving:
		r.depart(p, c.hub.o.Now(), func() bool { return p.conn == c.conn })
	default:
		r.connectionLost(p, c.conn)
	}
}

// hello admits the connection: with a join token a (new or returning) person, with a
// resume token the same participant again. The signaling layer has already made sure the
// first message is a hello of this protocol version.
func (c *client) hello(m signaling.Incoming) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var e *signaling.Error
	if m.Resume != "" {
		e = c.resume(ctx, m)
	} else {
		e = c.join(ctx, m)
	}
	if e != nil {
		e.Ref = m.Ref
		c.conn.Close(signaling.ErrorMessage(e))
	}
}

var (
	errNoRight = &signaling.Error{Code: signaling.CodeForbidden, Message: "You no longer have a place in this session."}
	errRemoved = &signaling.Error{Code: signaling.CodeForbidden, Message: "A host removed you from this session."}
	errEnded   = &signaling.Error{Code: signaling.CodeSessionEnded, Message: "The host has ended this session."}
	errRefused = &signaling.Error{Code: signaling.CodeResumeRefused, Message: "This session cannot be resumed: join again."}
	errOpening = &signaling.Error{Code: signaling.CodeInternal, Message: "The room could not be opened. Try again in a moment."}
)

// errorCopy returns a copy, so a caller can set its ref.
func errorCopy(e *signaling.Error) *signaling.Error { c := *e; return &c }

func (c *client) join(ctx context.Context, m signaling.Incoming) *signaling.Error {
	h := c.hub
	a, err := h.o.Tokens.Check(m.Token, h.o.Now())
	if err != nil {
		return &signaling.Error{Code: signaling.CodeInvalidToken, Message: "This join token is not valid or has expired. Reload the page to get a new one."}
	}
	fresh, err := h.o.Store.UseToken(ctx, a.Nonce, a.Expires)
	if err != nil {
		c.log.Error("join token not recorded", "err", err)
		return errorCopy(errOpening)
	}
	if !fresh {
		return &signaling.Error{Code: signaling.CodeTokenUsed, Message: "This join token was already used. Ask for a new one for each connection."}
	}
	role, e := c.rightNow(ctx, a.OccurrenceID, a.PersonID)
	if e != nil {
		return e
	}
	return c.enter(ctx, entry{occID: a.OccurrenceID, personID: a.PersonID, admitted: role})
}

func (c *client) resume(ctx context.Context, m signaling.Incoming) *signaling.Error {
	occID, hash, ok := parseResumeToken(m.Resume)
	if !ok {
		c.hub.o.Metrics.resumeFailed("invalid")
		return errorCopy(errRefused)
	}
	r, err := c.hub.room(ctx, occID)
	if err != nil {
		if domain.ErrorCode(err) == domain.CodeNotFound {
			c.hub.o.Metrics.resumeFailed("invalid")
			return errorCopy(errRefused)
		}
		c.log.Error("room not opened for a resume", "err", err)
		return errorCopy(errOpening)
	}
	p := r.byResumeToken(hash)
	if p == nil {
		c.hub.o.Metrics.resumeFailed("invalid")
		c.hub.dropIfEmpty(r)
		return errorCopy(errRefused)
	}
	role, e := c.rightNow(ctx, occID, p.personID)
	if e != nil {
		c.hub.o.Metrics.resumeFailed("no_right")
		return e
	}
	return c.enter(ctx, entry{occID: occID, personID: p.personID, admitted: role, resume: p, since: m.Since})
}

// rightNow is the person's role in the room as the programme gives it now.
func (c *client) rightNow(ctx context.Context, occID, personID int64) (string, *signaling.Error) {
	rights, err := c.hub.o.Store.Rights(ctx, occID, []int64{personID})
	if err != nil {
		c.log.Error("rights", "err", err)
		return "", errorCopy(errOpening)
	}
	role, ok := rights[personID]
	if !ok {
		return "", errorCopy(errNoRight)
	}
	return role, nil
}

// entry is a hello that passed its token's checks.
type entry struct {
	occID, personID int64
	admitted        string       // the role the programme gives the person
	resume          *participant // set for a resume
	since           int64        // resume: the last chat message the client has
}

// enter puts the connection into its room, retrying when the room closes under it.
func (c *client) enter(ctx context.Context, q entry) *signaling.Error {
	for {
		r, err := c.hub.room(ctx, q.occID)
		if err != nil {
			if errors.Is(err, errStopping) {
				return &signaling.Error{Code: signaling.CodeInternal, Message: "The server is restarting. Try again in a moment."}
			}
			c.log.Error("room not opened", "err", err)
			return errorCopy(errOpening)
		}
		if q.resume != nil && q.resume.room != r {
			return errorCopy(errRefused)
		}
		e := c.enterRoom(ctx, r, q)
		if e == errRoomGone {
			if q.resume != nil {
				return errorCopy(errRefused)
			}
			continue
		}
		if e != nil {
			c.hub.dropIfEmpty(r) // a room started only to refuse someone
		}
		return e
	}
}

var errRoomGone = &signaling.Error{Code: signaling.CodeInternal}

// enterRoom admits the participant (new, returning, or resuming), stores their standing,
// sends the welcome with the room's state, tells the others, then sets up the media.
func (c *client) enterRoom(ctx context.Context, r *Room, q entry) *signaling.Error {
	h := c.hub
	who, err := h.o.Store.Participant(ctx, q.occID, q.personID)
	if err != nil {
		c.log.Error("participant", "err", err)
		return errorCopy(errOpening)
	}
	r.textMu.Lock()
	r.stateMu.Lock()
	textHeld := true
	defer func() {
		if textHeld {
			r.textMu.Unlock()
		}
		r.stateMu.Unlock()
	}()

	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return errRoomGone
	}
	p := q.resume
	if p == nil {
		p = r.people[q.personID]
	}
	if p == nil {
		p = r.newParticipant(Member{OccurrenceID: q.occID, PersonID: q.personID, ParticipantID: newID(), Role: q.admitted})
		r.people[q.personID] = p
	}
	stored := p.m
	ended := r.ended
	r.mu.Unlock()
	isHost := q.admitted == RoleHost
	switch {
	case stored.Removed && !isHost:
		return errorCopy(errRemoved)
	case ended && !isHost:
		return errorCopy(errEnded)
	case q.resume != nil && !stored.Present:
		h.o.Metrics.resumeFailed("left")
		return errorCopy(errRefused)
	}
	if ended {
		if err := h.o.Store.SetEnded(ctx, q.occID, false); err != nil {
			c.log.Error("reopen", "err", err)
			return errorCopy(errOpening)
		}
		r.mu.Lock()
		r.ended = false
		r.mu.Unlock()
		c.log.Info("a host reopened the session")
	}
	m := stored
	m.Role = roleIn(q.admitted, stored)
	m.Present = true
	if isHost {
		m.Removed = false
	}
	token, hash := newResumeToken(q.occID)
	m.ResumeHash = hash
	if m.AttendanceID == 0 {
		id, err := h.o.Store.RecordJoin(ctx, q.occID, q.personID)
		if err != nil {
			c.log.Error("attendance not recorded", "err", err)
			return errorCopy(errOpening)
		}
		m.AttendanceID = id
	}
	if err := h.o.Store.SaveMember(ctx, m); err != nil {
		c.log.Error("member not stored", "err", err)
		return errorCopy(errOpening)
	}

	w := signaling.Welcome{Type: signaling.TypeWelcome, V: signaling.Version,
		Occurrence: signaling.OccurrenceInfo{ID: r.occID, Title: r.title}, ICEServers: h.ICEServers(q.personID),
		ResumeToken: token, GraceSeconds: int(h.o.Grace / time.Second), Resumed: q.resume != nil}
	if e := c.roomText(ctx, r, q, &w); e != nil {
		return e
	}

	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return errRoomGone
	}
	wasPresent := r.members[p.id] == p
	wasRole := p.m.Role
	old := p.conn
	p.m, p.name, p.leaving = m, who.Name, false
	p.conn = c.conn
	r.stopWaitingLocked(p)
	r.members[p.id] = p
	c.p, c.room = p, r
	c.log = p.log
	keep := q.resume != nil && p.peer != nil
	w.MediaKept = keep
	w.You = p.participantLocked()
	w.Participants = r.participantsLocked()
	if q.resume != nil {
		h.o.Metrics.resumed("websocket") // counted before anyone can see the resume
	}
	c.conn.SendValue(w)
	r.tellSpeakerLocked(c.conn)
	c.conn.SendValue(r.recordingMessageLocked())
	if enc, err := signaling.Encode(signaling.ParticipantMessage(w.You)); err == nil {
		r.broadcastLocked(enc, p)
	}
	var stale *sfu.Peer
	if !keep {
		stale, p.peer, p.publishing = p.peer, nil, nil
	}
	r.mu.Unlock()
	r.textMu.Unlock()
	textHeld = false

	switch {
	case !wasPresent:
		h.o.Metrics.participantJoined(m.Role)
	case wasRole != m.Role:
		h.o.Metrics.roleChanged(wasRole, m.Role)
	}
	if old != nil && old != c.conn {
		old.Close(signaling.ByeMessage(signaling.ByeReplaced, "You joined this session from another window or device."))
	}
	if q.resume != nil {
		p.log.Info("resumed", "media_kept", keep)
	} else {
		p.log.Info("joined", "role", m.Role)
	}
	if stale != nil {
		stale.Close()
	}
	if keep {
		c.restartMedia(p)
		r.tellRecorder(p)
		return nil
	}
	if err := c.startMedia(r, p); err != nil {
		c.log.Error("media not set up", "err", err)
		c.fail("", signaling.CodeInternal, "The server could not set up the media.")
	}
	r.tellRecorder(p)
	return nil
}

// roleIn is a person's role when they come (back): hosts are hosts; otherwise a role the
// room gave them (a promotion onto the stage, a move back to the audience) stays; a
// newcomer has the programme's.
func roleIn(admitted string, stored Member) string {
	switch {
	case admitted == RoleHost:
		return RoleHost
	case stored.Role != "" && stored.Role != RoleHost:
		return stored.Role
	}
	return admitted
}

// roomText fills the welcome's chat, questions and votes: the last messages for a
// newcomer, exactly the missed ones for a resume. Call holding the room's textMu.
func (c *client) roomText(ctx context.Context, r *Room, q entry, w *signaling.Welcome) *signaling.Error {
	h := c.hub
	var chat []ChatMessage
	var err error
	if q.resume != nil {
		chat, err = h.o.Store.ChatSince(ctx, r.occID, q.since, maxReplay+1)
		if err == nil && len(chat) > maxReplay {
			chat, err = h.o.Store.ChatHistory(ctx, r.occID, h.o.HistorySize)
		}
	} else {
		chat, err = h.o.Store.ChatHistory(ctx, r.occID, h.o.HistorySize)
	}
	if err != nil {
		c.log.Error("chat history", "err", err)
		return errorCopy(errOpening)
	}
	qs, err := h.o.Store.LiveQuestions(ctx, r.occID)
	if err != nil {
		c.log.Error("questions", "err", err)
		return errorCopy(errOpening)
	}
	votes, err := h.o.Store.MyVotes(ctx, r.occID, q.personID)
	if err != nil {
		c.log.Error("votes", "err", err)
		return errorCopy(errOpening)
	}
	w.Chat = make([]signaling.ChatMessage, 0, len(chat))
	for _, m := range chat {
		w.Chat = append(w.Chat, chatOut(m, ""))
	}
	w.Questions = make([]signaling.Question, 0, len(qs))
	for _, q := range qs {
		w.Questions = append(w.Questions, questionOut(q))
	}
	w.MyVotes = votes
	return nil
}

// startMedia gives the participant a new peer: it receives what the room publishes and,
// on the stage, may publish. Call holding the room's stateMu.
func (c *client) startMedia(r *Room, p *participant) error {
	peer, err := r.media.Join(p.id, p.role() != RoleAttendee, sfu.PeerEvents{
		SendSDP: func(typ, pc, sdp string, tracks map[string]sfu.TrackInfo) {
			var ti map[string]signaling.TrackInfo
			if tracks != nil {
				ti = make(map[string]signaling.TrackInfo, len(tracks))
				for id, t := range tracks {
					ti[id] = signaling.TrackInfo{ParticipantID: t.ParticipantID, Source: t.Source}
				}
			}
			p.send(signaling.SDPMessage(typ, pc, sdp, ti))
		},
		SendCandidate: func(pc string, ci webrtc.ICECandidateInit) {
			p.send(signaling.CandidateMessage(pc, signaling.Candidate{Candidate: ci.Candidate, SDPMid: ci.SDPMid,
				SDPMLineIndex: ci.SDPMLineIndex, UsernameFragment: ci.UsernameFragment}))
		},
		PublishingChanged: func(sources []string) {
			r.mu.Lock()
			p.publishing = sources
			r.mu.Unlock()
			r.changed(p)
		},
		Failed: func(pc string) { p.log.Info("media connection failed", "pc", pc) },
		LayersChanged: func(source string, active map[string]bool) {
			p.send(signaling.LayersMessage(source, active))
		},
		VideoPaused: func(paused bool) { p.send(signaling.VideoPausedMessage(paused)) },
	})
	if err != nil {
		return err
	}
	r.mu.Lock()
	if r.members[p.id] != p || p.conn != c.conn {
		r.mu.Unlock()
		peer.Close() // gone or replaced meanwhile
		return nil
	}
	p.peer = peer
	m := p.m
	r.mu.Unlock()
	// A host's mutes hold for tracks published later (sfu keeps them per source).
	peer.Mute(signaling.KindAudio, m.AudioMuted)
	peer.Mute(signaling.KindVideo, m.VideoMuted)
	peer.Mute(signaling.KindScreen, m.ScreenMuted)
	return nil
}

// restartMedia restarts ICE on a kept peer after a resume: the client answers a new offer
// with new credentials (the path may have changed with the network).
func (c *client) restartMedia(p *participant) {
	r := p.room
	r.mu.Lock()
	peer := p.peer
	r.mu.Unlock()
	if peer == nil {
		return
	}
	if err := peer.RestartICE(); err != nil && !errors.Is(err, sfu.ErrClosed) {
		p.log.Warn("ICE restart after resume", "err", err)
	}
}

// restartICE answers a client's restart of its down connection.
func (c *client) restartICE(m signaling.Incoming) {
	peer := c.peer()
	if peer == nil {
		c.fail(m.Ref, signaling.CodeNotFound, "There is no media connection to restart yet.")
		return
	}
	if err := peer.RestartICE(); err != nil {
		c.mediaError(m.Ref, err)
		return
	}
	c.hub.o.Metrics.resumed("ice")
}

func (c *client) isHost() bool { return c.p.role() == RoleHost }

func (c *client) offer(m signaling.Incoming) {
	if m.PC != sfu.Up {
		c.fail(m.Ref, signaling.CodeBadMessage, "Offers are for the up connection; the server offers on the down connection.")
		return
	}
	peer := c.peer()
	if peer == nil {
		c.fail(m.Ref, signaling.CodeInternal, "The media connection is not ready yet. Try again in a moment.")
		return
	}
	if err := peer.HandleOffer(m.SDP, m.Tracks); err != nil {
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

func (c *client) name() string {
	c.room.mu.Lock()
	defer c.room.mu.Unlock()
	return c.p.name
}

func (c *client) chat(ctx context.Context, m signaling.Incoming) {
	r := c.room
	r.textMu.Lock()
	defer r.textMu.Unlock()
	msg, err := c.hub.o.Store.AddChat(ctx, r.occID, c.p.personID, c.name(), m.Text)
	if err != nil {
		c.storeError(m.Ref, err)
		return
	}
	r.broadcast(signaling.ChatMessageOut(chatOut(msg, c.p.id)), nil)
}

func (c *client) ask(ctx context.Context, m signaling.Incoming) {
	r := c.room
	r.textMu.Lock()
	defer r.textMu.Unlock()
	q, err := c.hub.o.Store.AskQuestion(ctx, r.occID, c.p.personID, c.name(), m.Text)
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
	q, err := c.hub.o.Store.VoteQuestion(ctx, r.occID, m.QuestionID, c.p.personID, m.Up)
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

// stateError tells a client that a change of someone's standing was not stored.
func (c *client) stateError(ref string, err error) {
	c.log.Error("room state not stored", "err", err)
	c.fail(ref, signaling.CodeInternal, "That could not be saved. Try again.")
}

func (c *client) hand(ctx context.Context, m signaling.Incoming) {
	if _, err := c.room.save(ctx, c.p, func(s *Member) { s.Hand = m.Raised }); err != nil {
		c.stateError(m.Ref, err)
		return
	}
	c.room.changed(c.p)
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
func (c *client) hostTarget(ref, id, why string) *participant {
	if !c.allowHost(ref, why) {
		return nil
	}
	return c.target(ref, id)
}

// target finds the participant an action is about.
func (c *client) target(ref, id string) *participant {
	t := c.room.member(id)
	if t == nil {
		c.fail(ref, signaling.CodeNotFound, "That participant is not in the room (any more).")
	}
	return t
}

func (c *client) mute(ctx context.Context, m signaling.Incoming) {
	t := c.target(m.Ref, m.ParticipantID)
	if t == nil {
		return
	}
	r := c.room
	r.stateMu.Lock()
	r.mu.Lock()
	why := muteRefusal(c.p, t, c.p.m.Role, t.m.Role)
	r.mu.Unlock()
	if why != "" {
		r.stateMu.Unlock()
		c.fail(m.Ref, signaling.CodeForbidden, why)
		return
	}
	_, err := r.saveLocked(ctx, t, func(s *Member) {
		switch m.Kind {
		case signaling.KindAudio:
			s.AudioMuted = m.Muted
		case signaling.KindVideo:
			s.VideoMuted = m.Muted
		case signaling.KindScreen:
			s.ScreenMuted = m.Muted
		}
	})
	r.mu.Lock()
	peer := t.peer
	r.mu.Unlock()
	r.stateMu.Unlock()
	if err != nil {
		c.stateError(m.Ref, err)
		return
	}
	if peer != nil {
		peer.Mute(m.Kind, m.Muted)
	}
	if t != c.p {
		c.log.Info("host muted participant", "target", t.id, "kind", m.Kind, "muted", m.Muted)
		t.send(signaling.MutedMessage(m.Kind, m.Muted, c.p.id))
	}
	r.changed(t)
}

// muteRefusal says why p (with role) may not mute t (with theirs), "" when it may: people
// mute themselves (attendees send nothing to mute), hosts mute anyone but another host.
func muteRefusal(p, t *participant, role, theirs string) string {
	switch {
	case t == p && role == RoleAttendee:
		return "Attendees do not send audio or video."
	case t != p && role != RoleHost:
		return "Only a host can mute someone else."
	case t != p && theirs == RoleHost:
		return "Hosts cannot be muted by another host."
	}
	return ""
}

func (c *client) stage(ctx context.Context, m signaling.Incoming) {
	t := c.hostTarget(m.Ref, m.ParticipantID, "Only a host can invite people onto the stage.")
	if t == nil {
		return
	}
	r := c.room
	r.stateMu.Lock()
	from := t.role()
	switch {
	case from == RoleHost:
		r.stateMu.Unlock()
		c.fail(m.Ref, signaling.CodeForbidden, "Hosts are always on the stage.")
		return
	case m.On && from == RoleSpeaker, !m.On && from == RoleAttendee:
		r.stateMu.Unlock()
		return // already there
	}
	to := RoleAttendee
	if m.On {
		to = RoleSpeaker
	}
	_, err := r.saveLocked(ctx, t, func(s *Member) {
		s.Role, s.Hand = to, false
		if !m.On {
			s.AudioMuted, s.VideoMuted, s.ScreenMuted = false, false, false
		}
	})
	r.mu.Lock()
	peer := t.peer
	r.mu.Unlock()
	r.stateMu.Unlock()
	if err != nil {
		c.stateError(m.Ref, err)
		return
	}
	c.hub.o.Metrics.roleChanged(from, to)
	c.log.Info("stage", "target", t.id, "role", to)
	if peer != nil {
		peer.SetCanPublish(m.On)
	}
	t.send(signaling.RoleMessage(to))
	r.changed(t)
}

func (c *client) remove(ctx context.Context, m signaling.Incoming) {
	t := c.hostTarget(m.Ref, m.ParticipantID, "Only a host can remove someone.")
	if t == nil {
		return
	}
	if t == c.p || t.role() == RoleHost {
		c.fail(m.Ref, signaling.CodeForbidden, "Hosts cannot be removed.")
		return
	}
	if _, err := c.room.save(ctx, t, func(s *Member) { s.Removed, s.Hand = true, false }); err != nil {
		c.stateError(m.Ref, err)
		return
	}
	c.log.Info("host removed participant", "target", t.id)
	c.room.closeFor(t, signaling.ByeMessage(signaling.ByeRemoved, "A host removed you from this session."))
}

func chatOut(m ChatMessage, participantID string) signaling.ChatMessage {
	return signaling.ChatMessage{ID: m.ID, Author: signaling.Author{ParticipantID: participantID, Name: m.AuthorName}, Text: m.Text, At: m.At.UTC()}
}

func questionOut(q Question) signaling.Question {
	return signaling.Question{ID: q.ID, Author: signaling.Author{Name: q.AuthorName}, Text: q.Text, Votes: q.Votes, State: q.State, At: q.At.UTC()}
}
