// Package live runs live sessions: who is in each occurrence's room and with which role,
// hands, the stage, chat and questions, and the host's controls. It joins the websocket
// protocol (package signaling), the media (package sfu) and the storage it declares
// (Store); it knows nothing of the database.
//
// A room's standing (who is in it, their roles, hands, mutes, removals, whether it ended)
// is kept through the Store, so it outlives connections and the process; memory holds what
// is live: connections, peers and tracks. A participant whose connection drops stays in the
// room for a grace period and comes back with a resume token (docs/signaling.md §5).
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
	// Grace is how long a participant whose connection dropped stays in the room, waiting
	// to resume (default 30 s).
	Grace time.Duration
	// RightsEvery is how often the rooms check that everyone in them still has the right
	// to be there (default 3 s).
	RightsEvery time.Duration
	// TouchEvery is how often open attendance is noted as still open (default 10 s): a crash
	// loses at most that much of anyone's attendance.
	TouchEvery time.Duration
	// Recordings keeps recordings and their consent log (nil: this server does not record;
	// a host's record gets recording_unavailable).
	Recordings RecordingStore
	// NewRecorder gives a room its media side of recording (nil, or a nil result: NoRecorder,
	// which captures nothing). media is the room's SFU room, whose publications it captures.
	NewRecorder func(occID int64, media *sfu.Room) Recorder
	// StopRecordingOnShutdown stops running recordings when the process stops (by nobody,
	// the reason logged). By default they are only suspended (the capture's files closed)
	// and go on as a new segment when their rooms come back with the next process, as the
	// rooms themselves do.
	StopRecordingOnShutdown bool
}

// statsEvery is how often hosts who asked get every viewer's estimate and layers.
const statsEvery = 2 * time.Second

// maxReplay is the most chat messages a resume replays; a client away for longer gets the
// last HistorySize instead.
const maxReplay = 1000

// Hub holds the rooms of one process. A room is in memory while someone is in it (or
// within their grace period).
type Hub struct {
	o   Options
	log *slog.Logger

	mu     sync.Mutex
	rooms  map[int64]*Room
	closed bool
	wg     sync.WaitGroup // connections
	stop   chan struct{}  // ends the background loop
	loop   sync.WaitGroup
}

// NewHub makes a hub; Start recovers the rooms a previous process left and starts the
// background checks.
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
	if o.Grace <= 0 {
		o.Grace = 30 * time.Second
	}
	if o.RightsEvery <= 0 {
		o.RightsEvery = 3 * time.Second
	}
	if o.TouchEvery <= 0 {
		o.TouchEvery = 10 * time.Second
	}
	if o.Conn.Logger == nil {
		o.Conn.Logger = o.Logger
	}
	return &Hub{o: o, log: o.Logger, rooms: map[int64]*Room{}, stop: make(chan struct{})}
}

// Start closes the attendance a crashed process left open, reopens the rooms that had
// people in them (those people wait in their grace period for their clients to resume),
// and starts the background checks (rights, attendance). Close stops them.
func (h *Hub) Start(ctx context.Context) error {
	n, err := h.o.Store.CloseOpenAttendance(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		h.log.Info("closed attendance left open by the previous run", "rows", n)
	}
	occs, err := h.o.Store.PresentRooms(ctx)
	if err != nil {
		return err
	}
	for _, occ := range occs {
		if _, err := h.room(ctx, occ); err != nil {
			h.log.Warn("room not reopened", "occurrence", occ, "err", err)
			continue
		}
		h.log.Info("room reopened after a restart", "occurrence", occ)
	}
	if err := h.recoverRecordings(ctx); err != nil {
		h.log.Error("recordings left running by the previous run not recovered", "err", err)
	}
	h.loop.Add(1)
	go h.background()
	return nil
}

// background checks rights and notes attendance until Close.
func (h *Hub) background() {
	defer h.loop.Done()
	rights := time.NewTicker(h.o.RightsEvery)
	touch := time.NewTicker(h.o.TouchEvery)
	stats := time.NewTicker(statsEvery)
	defer rights.Stop()
	defer touch.Stop()
	defer stats.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-rights.C:
			for _, r := range h.openRooms() {
				r.checkRights()
			}
		case <-touch.C:
			h.touchAttendance()
		case <-stats.C:
			for _, r := range h.openRooms() {
				r.sendStats()
			}
		}
	}
}

func (h *Hub) openRooms() []*Room {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*Room, 0, len(h.rooms))
	for _, r := range h.rooms {
		out = append(out, r)
	}
	return out
}

func (h *Hub) touchAttendance() {
	var ids []int64
	for _, r := range h.openRooms() {
		ids = append(ids, r.connectedAttendance()...)
	}
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.o.Store.TouchAttendance(ctx, ids, h.o.Now()); err != nil {
		h.log.Warn("attendance not noted", "err", err)
	}
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
func (h *Hub) Ended(ctx context.Context, occID int64) (bool, error) {
	return h.o.Store.RoomEnded(ctx, occID)
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

	c := &client{hub: h, conn: signaling.NewConn(ws, h.o.Conn)}
	c.log = h.log
	err := c.conn.Run(ctx, c.handle)
	c.ended(err)
	h.o.Metrics.connectionEnded(c.conn)
	if err != nil && !errors.Is(err, context.Canceled) {
		c.log.Debug("connection ended", "err", err)
	}
}

// Close tells everyone the server is stopping, closes every room (the people in them stay
// in the database, to resume with the next process) and waits for the connections to
// finish.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	rooms := make([]*Room, 0, len(h.rooms))
	for _, r := range h.rooms {
		rooms = append(rooms, r)
	}
	h.mu.Unlock()
	close(h.stop)
	h.loop.Wait()
	for _, r := range rooms {
		r.shutdown()
	}
	h.wg.Wait()
	for _, r := range rooms {
		if h.o.StopRecordingOnShutdown {
			r.stopRecordingAtEnd(0, "the server shut down")
		} else {
			r.suspendRecording()
		}
		r.media.Close()
	}
}

func (h *Hub) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

var errStopping = errors.New("the server is stopping")

// room returns the occurrence's room, starting it from the database if needed.
func (h *Hub) room(ctx context.Context, occID int64) (*Room, error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, errStopping
	}
	if r := h.rooms[occID]; r != nil {
		h.mu.Unlock()
		return r, nil
	}
	h.mu.Unlock()
	// Read outside the hub's lock; two starts of one room race harmlessly: the first one
	// registered wins and the other is dropped.
	session, err := h.o.Store.Session(ctx, occID)
	if err != nil {
		return nil, err
	}
	rec, err := h.o.Store.LoadRoom(ctx, occID)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, errStopping
	}
	if r := h.rooms[occID]; r != nil {
		return r, nil
	}
	r := newRoom(h, occID, session.Title, rec)
	h.rooms[occID] = r
	h.o.Metrics.roomOpened()
	r.log.Info("room started", "members", len(rec.Members))
	return r, nil
}

// dropIfEmpty removes a room nobody is in.
func (h *Hub) dropIfEmpty(r *Room) {
	h.mu.Lock()
	if h.closed || h.rooms[r.occID] != r || !r.markClosedIfEmpty() {
		h.mu.Unlock()
		return
	}
	delete(h.rooms, r.occID)
	h.mu.Unlock()
	h.o.Metrics.roomClosed()
	r.stopRecordingAtEnd(0, "everyone left and the room closed")
	r.media.Close()
	r.log.Info("room closed")
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
