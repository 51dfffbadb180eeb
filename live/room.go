package live

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/puente-org/puente/sfu"
	"github.com/puente-org/puente/signaling"
)

// Room is one occurrence's live session in this process.
//
// Locks, always taken in this order: textMu orders chat and question writes with their
// broadcasts, and a newcomer's history with what it receives after (nothing missed,
// nothing twice); stateMu orders writes of members' standing to the database with the
// memory that mirrors them, and a participant's media setup; mu guards the maps and every
// participant's fields. Nothing waits on the database or the network while holding mu.
type Room struct {
	hub   *Hub
	occID int64
	title string
	media *sfu.Room
	log   *slog.Logger

	textMu  sync.Mutex
	stateMu sync.Mutex
	// recMu orders recording changes (start, stop, consent, a newcomer told to the
	// recorder) with their writes and the recorder's calls; taken alone, before mu.
	recMu    sync.Mutex
	recorder Recorder

	mu      sync.Mutex
	people  map[int64]*participant  // everyone the room knows, present or not, by person
	members map[string]*participant // present: connected, or within the grace period
	ended   bool
	closed  bool
	// recording is the running recording, nil when none.
	recording *roomRecording
}

var errRoomClosed = errors.New("room closed")

// newRoom builds the room's memory from its stored state: people who were present when
// the previous process stopped are waiting, within a new grace period, for their clients
// to resume.
func newRoom(h *Hub, occID int64, title string, rec RoomRecord) *Room {
	name := "occurrence-" + strconv.FormatInt(occID, 10)
	r := &Room{hub: h, occID: occID, title: title, media: h.o.SFU.NewRoom(name),
		log: h.log.With("room", name), people: map[int64]*participant{}, members: map[string]*participant{},
		ended: rec.Ended}
	r.recorder = h.newRecorder(occID, r.media)
	r.watchSpeaker()
	now := h.o.Now()
	for _, m := range rec.Members {
		// An attendance row a stored member points to was opened by another process; Start
		// closed it. A resume opens a new one.
		m.AttendanceID = 0
		p := r.newParticipant(m)
		r.people[m.PersonID] = p
		if m.Present && !rec.Ended {
			r.members[p.id] = p
			r.waitLocked(p, now)
			h.o.Metrics.participantJoined(m.Role)
		}
	}
	if len(r.members) > 0 {
		r.loadNames()
	}
	return r
}

// loadNames reads the names of the people waiting after a restart, so the others see who
// is reconnecting.
func (r *Room) loadNames() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, p := range r.members {
		if who, err := r.hub.o.Store.Participant(ctx, r.occID, p.personID); err == nil {
			p.name = who.Name
		}
	}
}

func (r *Room) newParticipant(m Member) *participant {
	return &participant{room: r, id: m.ParticipantID, personID: m.PersonID, m: m,
		log: r.log.With("participant", m.ParticipantID, "person", m.PersonID)}
}

// participant is one person in the room. It outlives a connection: within the grace
// period it keeps its id, role, hand and media, and a resume attaches a new connection.
// Every field after log is guarded by the room's mu.
type participant struct {
	room     *Room
	id       string
	personID int64
	log      *slog.Logger

	m          Member // the stored standing, as last written
	name       string
	conn       *signaling.Conn // nil while reconnecting
	dropped    time.Time       // when the connection went; zero while connected
	grace      *time.Timer
	leaving    bool // the server is closing the connection for good (removed, ended, revoked)
	stats      bool // a host who asked for the debug view (stats messages)
	peer       *sfu.Peer
	publishing []string
	declined   bool // asked not to be recorded (record_consent)
}

func (p *participant) participantLocked() signaling.Participant {
	pub := p.publishing
	if pub == nil {
		pub = []string{}
	}
	return signaling.Participant{ID: p.id, Name: p.name, Role: p.m.Role, Hand: p.m.Hand,
		AudioMuted: p.m.AudioMuted, VideoMuted: p.m.VideoMuted, ScreenMuted: p.m.ScreenMuted,
		Reconnecting: p.conn == nil, Publishing: pub}
}

// send queues a message on the participant's connection; while it is reconnecting there
// is none and the message is dropped (a resume gives the state again).
func (p *participant) send(v any) {
	p.room.mu.Lock()
	c := p.conn
	p.room.mu.Unlock()
	if c != nil {
		c.SendValue(v)
	}
}

func (p *participant) role() string {
	p.room.mu.Lock()
	defer p.room.mu.Unlock()
	return p.m.Role
}

// save writes a change of a participant's standing to the database, then to memory; on
// failure nothing changes.
func (r *Room) save(ctx context.Context, p *participant, change func(*Member)) (Member, error) {
	r.stateMu.Lock()
	defer r.stateMu.Unlock()
	return r.saveLocked(ctx, p, change)
}

func (r *Room) saveLocked(ctx context.Context, p *participant, change func(*Member)) (Member, error) {
	r.mu.Lock()
	m := p.m
	r.mu.Unlock()
	change(&m)
	if err := r.hub.o.Store.SaveMember(ctx, m); err != nil {
		r.mu.Lock()
		old := p.m
		r.mu.Unlock()
		return old, err
	}
	r.mu.Lock()
	p.m = m
	r.mu.Unlock()
	return m, nil
}

// waitLocked starts a participant's grace period: still in the room, reconnecting.
func (r *Room) waitLocked(p *participant, since time.Time) {
	p.conn = nil
	p.dropped = since
	if p.grace != nil {
		p.grace.Stop()
	}
	p.grace = time.AfterFunc(r.hub.o.Grace, func() { r.graceOver(p, since) })
	r.hub.o.Metrics.graceStarted()
}

// stopWaitingLocked ends a grace period (a resume, a departure).
func (r *Room) stopWaitingLocked(p *participant) {
	if p.dropped.IsZero() {
		return
	}
	if p.grace != nil {
		p.grace.Stop()
		p.grace = nil
	}
	p.dropped = time.Time{}
	r.hub.o.Metrics.graceEnded()
}

func (r *Room) graceOver(p *participant, since time.Time) {
	r.mu.Lock()
	if p.conn != nil || !p.dropped.Equal(since) || r.members[p.id] != p {
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	r.depart(p, since, func() bool { return p.conn == nil && p.dropped.Equal(since) })
}

// dropped is called when a participant's connection ended without a goodbye: they stay
// in the room, reconnecting, for the grace period.
func (r *Room) connectionLost(p *participant, c *signaling.Conn) {
	r.mu.Lock()
	if p.conn != c {
		r.mu.Unlock()
		return
	}
	r.waitLocked(p, r.hub.o.Now())
	enc, err := signaling.Encode(signaling.ParticipantMessage(p.participantLocked()))
	if err == nil {
		r.broadcastLocked(enc, p)
	}
	r.mu.Unlock()
	r.hub.o.Metrics.reconnecting()
	p.log.Info("connection lost: reconnecting", "grace", r.hub.o.Grace)
}

// depart takes a participant out of the room for good: they are no longer present, their
// hand is lowered, their media closed and their attendance ends at the given time. still
// (called holding the room's mu) says whether the reason to depart still holds: a resume
// may have come in between.
func (r *Room) depart(p *participant, at time.Time, still func() bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r.stateMu.Lock()
	r.mu.Lock()
	if r.members[p.id] != p || !still() {
		r.mu.Unlock()
		r.stateMu.Unlock()
		return
	}
	if !p.dropped.IsZero() {
		p.log.Info("not back within the grace period")
	}
	attendance := p.m.AttendanceID
	r.mu.Unlock()
	if _, err := r.saveLocked(ctx, p, func(m *Member) { m.Present, m.Hand, m.AttendanceID = false, false, 0 }); err != nil {
		p.log.Warn("departure not stored", "err", err)
		r.mu.Lock()
		p.m.Present, p.m.Hand, p.m.AttendanceID = false, false, 0
		r.mu.Unlock()
	}
	if attendance != 0 {
		if err := r.hub.o.Store.RecordLeave(ctx, attendance, at); err != nil {
			p.log.Warn("attendance leave not recorded", "err", err)
		}
	}
	r.mu.Lock()
	delete(r.members, p.id)
	r.stopWaitingLocked(p)
	peer, role, conn := p.peer, p.m.Role, p.conn
	p.peer, p.conn, p.publishing, p.leaving = nil, nil, nil, false
	r.mu.Unlock()
	r.stateMu.Unlock()
	if conn != nil {
		conn.Close(nil)
	}
	if peer != nil {
		peer.Close()
	}
	r.broadcast(signaling.LeftMessage(p.id), nil)
	r.hub.o.Metrics.participantLeft(role)
	p.log.Info("left")
	r.hub.dropIfEmpty(r)
}

// suspend lets go of a participant's connection and media as the process stops; they
// stay present in the database, to resume with the next process.
func (r *Room) suspend(p *participant, at time.Time) {
	r.mu.Lock()
	if r.members[p.id] != p {
		r.mu.Unlock()
		return
	}
	delete(r.members, p.id)
	r.stopWaitingLocked(p)
	peer, attendance, role := p.peer, p.m.AttendanceID, p.m.Role
	p.peer, p.conn = nil, nil
	r.mu.Unlock()
	if peer != nil {
		peer.Close()
	}
	if attendance != 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := r.hub.o.Store.RecordLeave(ctx, attendance, at); err != nil {
			p.log.Warn("attendance leave not recorded", "err", err)
		}
		cancel()
	}
	r.hub.o.Metrics.participantLeft(role)
}

// shutdown says goodbye to every connection as the process stops; people waiting in their
// grace period are let go at once.
func (r *Room) shutdown() {
	r.mu.Lock()
	var conns []*signaling.Conn
	var waiting []*participant
	for _, p := range r.members {
		if p.conn != nil {
			conns = append(conns, p.conn)
		} else {
			waiting = append(waiting, p)
		}
	}
	r.mu.Unlock()
	for _, c := range conns {
		c.Close(signaling.ByeMessage(signaling.ByeShutdown, "The server is restarting. You will be reconnected in a moment."))
	}
	for _, p := range waiting {
		r.mu.Lock()
		at := p.dropped
		r.mu.Unlock()
		r.suspend(p, at)
	}
}

// closeFor closes a participant's connection for good with a last message (removed,
// ended, revoked); one who is reconnecting departs at once.
func (r *Room) closeFor(p *participant, bye any) {
	r.mu.Lock()
	if r.members[p.id] != p {
		r.mu.Unlock()
		return
	}
	p.leaving = true
	c, at := p.conn, p.dropped
	r.mu.Unlock()
	if c != nil {
		c.Close(bye)
		return
	}
	r.depart(p, at, func() bool { return p.conn == nil })
}

func (r *Room) markClosedIfEmpty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.members) > 0 {
		return false
	}
	r.closed = true
	return true
}

// broadcast sends one message to every connected member but skip, encoding it once.
func (r *Room) broadcast(v any, skip *participant) {
	enc, err := signaling.Encode(v)
	if err != nil {
		r.log.Error("encode broadcast", "err", err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.broadcastLocked(enc, skip)
}

func (r *Room) broadcastLocked(enc signaling.Encoded, skip *participant) {
	for _, m := range r.members {
		if m != skip && m.conn != nil {
			m.conn.Send(enc)
		}
	}
}

// changed tells everyone about a member's new state.
func (r *Room) changed(p *participant) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.members[p.id] != p {
		return
	}
	enc, err := signaling.Encode(signaling.ParticipantMessage(p.participantLocked()))
	if err != nil {
		return
	}
	r.broadcastLocked(enc, nil)
}

func (r *Room) member(id string) *participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.members[id]
}

func (r *Room) participantsLocked() []signaling.Participant {
	out := make([]signaling.Participant, 0, len(r.members))
	for _, m := range r.members {
		out = append(out, m.participantLocked())
	}
	return out
}

// byResumeToken finds the participant a resume token was given to.
func (r *Room) byResumeToken(hash []byte) *participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.people {
		if len(p.m.ResumeHash) > 0 && subtle.ConstantTimeCompare(p.m.ResumeHash, hash) == 1 {
			return p
		}
	}
	return nil
}

// end ends the session for everyone: stored first, then everyone is let go.
func (r *Room) end(ctx context.Context, by int64) error {
	r.stateMu.Lock()
	if err := r.hub.o.Store.SetEnded(ctx, r.occID, true); err != nil {
		r.stateMu.Unlock()
		return err
	}
	r.mu.Lock()
	r.ended = true
	members := make([]*participant, 0, len(r.members))
	for _, p := range r.members {
		members = append(members, p)
	}
	r.mu.Unlock()
	r.stateMu.Unlock()
	r.stopRecordingAtEnd(by, "the host ended the session")
	for _, p := range members {
		r.closeFor(p, signaling.ByeMessage(signaling.ByeEnded, "The host has ended this session. Thank you for coming."))
	}
	return nil
}

// checkRights takes out of the room everyone who no longer has a right to it (their
// registration was cancelled, they are no longer an organiser or speaker).
func (r *Room) checkRights() {
	r.mu.Lock()
	people := make([]int64, 0, len(r.members))
	byPerson := make(map[int64]*participant, len(r.members))
	for _, p := range r.members {
		people = append(people, p.personID)
		byPerson[p.personID] = p
	}
	r.mu.Unlock()
	if len(people) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rights, err := r.hub.o.Store.Rights(ctx, r.occID, people)
	if err != nil {
		r.log.Warn("rights not checked", "err", err)
		return
	}
	for person, p := range byPerson {
		if _, ok := rights[person]; ok {
			continue
		}
		p.log.Info("no longer has a right to the room: taken out")
		r.closeFor(p, signaling.ByeMessage(signaling.ByeRevoked, "You no longer have a place in this session."))
	}
}

// connectedAttendance lists the open attendance rows of the people connected now.
func (r *Room) connectedAttendance() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]int64, 0, len(r.members))
	for _, p := range r.members {
		if p.conn != nil && p.m.AttendanceID != 0 {
			out = append(out, p.m.AttendanceID)
		}
	}
	return out
}
