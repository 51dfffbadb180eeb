package live

import (
	"errors"
	"log/slog"
	"strconv"
	"sync"

	"github.com/puente-org/puente/sfu"
	"github.com/puente-org/puente/signaling"
)

// Room is one occurrence's live session.
type Room struct {
	hub   *Hub
	occID int64
	title string
	media *sfu.Room
	log   *slog.Logger

	// textMu orders chat and question writes with their broadcasts, and a newcomer's
	// history with what it receives after: nothing missed, nothing twice.
	textMu sync.Mutex

	mu      sync.Mutex
	members map[string]*client
	closed  bool
}

var errRoomClosed = errors.New("room closed")

func newRoom(h *Hub, occID int64, title string) *Room {
	name := "occurrence-" + strconv.FormatInt(occID, 10)
	return &Room{hub: h, occID: occID, title: title, media: h.o.SFU.NewRoom(name),
		log: h.log.With("room", name), members: map[string]*client{}}
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

// broadcast sends one message to every member but skip, encoding it once.
func (r *Room) broadcast(v any, skip *client) {
	enc, err := signaling.Encode(v)
	if err != nil {
		r.log.Error("encode broadcast", "err", err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.broadcastLocked(enc, skip)
}

func (r *Room) broadcastLocked(enc signaling.Encoded, skip *client) {
	for _, m := range r.members {
		if m != skip {
			m.conn.Send(enc)
		}
	}
}

// changed tells everyone about a member's new state.
func (r *Room) changed(c *client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.members[c.id] != c {
		return
	}
	enc, err := signaling.Encode(signaling.ParticipantMessage(c.participantLocked()))
	if err != nil {
		return
	}
	r.broadcastLocked(enc, nil)
}

func (r *Room) member(id string) *client {
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

// closeAll ends every connection with a last message.
func (r *Room) closeAll(final any) {
	r.mu.Lock()
	members := make([]*client, 0, len(r.members))
	for _, m := range r.members {
		members = append(members, m)
	}
	r.mu.Unlock()
	for _, m := range members {
		m.conn.Close(final)
	}
}
