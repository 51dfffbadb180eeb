// Package live runs live sessions: who is in each occurrence's room and with which role,
// hands, the stage, chat and questions, and the host's controls. It joins the websocket
// protocol (package signaling), the media (package sfu) and the storage it declares
// (Store); it knows nothing of the database.
package live

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/puente-org/puente/sfu"
	"github.com/puente-org/puente/signaling"
)

// Options configure a Hub.
type Options struct {
	Store  Store
	SFU    *sfu.SFU
	Tokens *Tokens
	Logger *slog.Logger
	// ICEServers gives a person's STUN/TURN servers (nil: none, host candidates only).
	ICEServers func(personID int64) []signaling.ICEServer
	Metrics    *Metrics
	Conn       signaling.ConnOptions
	Now        func() time.Time
	// HistorySize is how many chat messages a newcomer gets (default 200).
	HistorySize int
}

// Hub holds the rooms of one process. A room exists while someone is in it.
type Hub struct {
	o   Options
	log *slog.Logger

	mu      sync.Mutex
	rooms   map[int64]*Room
	used    map[string]time.Time // nonces of tokens that opened a connection, until they expire
	ended   map[int64]time.Time  // occurrences a host ended, for 12 hours
	removed map[removal]time.Time
	closed  bool
	wg      sync.WaitGroup
}

type removal struct{ occID, personID int64 }

const forgetAfter = 12 * time.Hour

// NewHub makes a hub.
func NewHub(o Options) *Hub {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HistorySize <= 0 {
		o.HistorySize = 200
	}
	if o.Conn.Logger == nil {
		o.Conn.Logger = o.Logger
	}
	return &Hub{o: o, log: o.Logger, rooms: map[int64]*Room{}, used: map[string]time.Time{},
		ended: map[int64]time.Time{}, removed: map[removal]time.Time{}}
}

// Tokens signs join tokens for the admission endpoints.
func (h *Hub) Tokens() *Tokens { return h.o.Tokens }

// ICEServers are a person's ICE servers (for the admission response).
func (h *Hub) ICEServers(personID int64) []signaling.ICEServer {
	if h.o.ICEServers == nil {
		return []signaling.ICEServer{}
	}
	return h.o.ICEServers(personID)
}

// Ended tells whether a host ended the occurrence's session (only hosts may reopen it).
func (h *Hub) Ended(occID int64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.ended[occID]
	return ok && h.o.Now().Sub(t) < forgetAfter
}

// Serve runs one websocket until it ends; it returns once everything the connection used
// is released.
func (h *Hub) Serve(ctx context.Context, ws *websocket.Conn) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		_ = ws.Close()
		return
	}
	h.wg.Add(1)
	h.mu.Unlock()
	defer h.wg.Done()

	c := &client{hub: h, conn: signaling.NewConn(ws, h.o.Conn), id: newID()}
	c.log = h.log.With("participant", c.id)
	err := c.conn.Run(ctx, c.handle)
	c.leave()
	h.o.Metrics.connectionEnded(c.conn)
	if err != nil && !errors.Is(err, context.Canceled) {
		c.log.Debug("connection ended", "err", err)
	}
}

// Close tells everyone the server is stopping, closes every room and waits for the
// connections to finish.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	rooms := make([]*Room, 0, len(h.rooms))
	for _, r := range h.rooms {
		rooms = append(rooms, r)
	}
	h.mu.Unlock()
	for _, r := range rooms {
		r.closeAll(signaling.ByeMessage("shutdown", "The server is restarting. Reconnect in a moment."))
	}
	h.wg.Wait()
}

// admit checks a hello's token and that the person may enter now.
func (h *Hub) admit(token string) (Admission, *signaling.Error) {
	now := h.o.Now()
	a, err := h.o.Tokens.Check(token, now)
	if err != nil {
		return a, &signaling.Error{Code: signaling.CodeInvalidToken, Message: "This join token is not valid or has expired. Reload the page to get a new one."}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for n, exp := range h.used {
		if !now.Before(exp) {
			delete(h.used, n)
		}
	}
	if _, ok := h.used[a.Nonce]; ok {
		return a, &signaling.Error{Code: signaling.CodeTokenUsed, Message: "This join token was already used. Ask for a new one for each connection."}
	}
	h.used[a.Nonce] = a.Expires
	if t, ok := h.removed[removal{a.OccurrenceID, a.PersonID}]; ok && now.Sub(t) < forgetAfter && a.Role != RoleHost {
		return a, &signaling.Error{Code: signaling.CodeForbidden, Message: "A host removed you from this session."}
	}
	if t, ok := h.ended[a.OccurrenceID]; ok && now.Sub(t) < forgetAfter {
		if a.Role != RoleHost {
			return a, &signaling.Error{Code: signaling.CodeSessionEnded, Message: "The host has ended this session."}
		}
		delete(h.ended, a.OccurrenceID) // a host reopens it
	}
	return a, nil
}

// room returns the occurrence's room, making it if needed.
func (h *Hub) room(occID int64, title string) (*Room, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, errors.New("the server is stopping")
	}
	if r := h.rooms[occID]; r != nil {
		return r, nil
	}
	r := newRoom(h, occID, title)
	h.rooms[occID] = r
	h.o.Metrics.roomOpened()
	return r, nil
}

// dropIfEmpty removes a room nobody is in.
func (h *Hub) dropIfEmpty(r *Room) {
	h.mu.Lock()
	if h.rooms[r.occID] != r || !r.markClosedIfEmpty() {
		h.mu.Unlock()
		return
	}
	delete(h.rooms, r.occID)
	h.mu.Unlock()
	h.o.Metrics.roomClosed()
	r.media.Close()
	r.log.Info("room closed")
}

func (h *Hub) markEnded(occID int64) {
	h.mu.Lock()
	h.ended[occID] = h.o.Now()
	h.mu.Unlock()
}

func (h *Hub) markRemoved(occID, personID int64) {
	h.mu.Lock()
	h.removed[removal{occID, personID}] = h.o.Now()
	h.mu.Unlock()
}

// Rooms counts open rooms.
func (h *Hub) Rooms() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.rooms)
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
