package server

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/links"
	"github.com/puente-org/puente/live"
	"github.com/puente-org/puente/signaling"
	"github.com/puente-org/puente/store"
)

// LiveRooms is what the web server needs of the live sessions.
type LiveRooms interface {
	Tokens() *live.Tokens
	ICEServers(personID int64) []signaling.ICEServer
	Ended(occID int64) bool
	Serve(ctx context.Context, ws *websocket.Conn)
}

// How long around an occurrence its room is open (docs/signaling.md, Admission).
const (
	attendeeGrace = 30 * time.Minute
	stageEarly    = time.Hour
	stageGrace    = time.Hour
)

type admissionResponse struct {
	Token        string                `json:"token"`
	ExpiresAt    time.Time             `json:"expires_at"`
	Role         string                `json:"role"`
	WebSocketURL string                `json:"websocket_url"`
	ICEServers   []signaling.ICEServer `json:"ice_servers"`
}

// apiAdmission gives a signed-in person a join token for an occurrence's room.
func (s *Server) apiAdmission(c echo.Context) error {
	l, err := s.occurrenceFromPath(c)
	if err != nil {
		return err
	}
	return s.admit(c, l, *personOf(c))
}

// linkAdmission gives the holder of a personal join link a join token.
func (s *Server) linkAdmission(c echo.Context) error {
	r, l, err := s.registrationFromLink(c, links.Join)
	if err != nil {
		return err
	}
	p, err := s.o.Store.PersonByID(c.Request().Context(), r.PersonID)
	if err != nil {
		return err
	}
	return s.admit(c, l, p)
}

func (s *Server) admit(c echo.Context, l store.Listed, p domain.Person) error {
	if s.o.Live == nil {
		return domain.New(domain.CodeUnavailable, "err.live.unavailable")
	}
	role, err := s.roomRole(c.Request().Context(), l, p)
	if err != nil {
		return err
	}
	if err := s.roomOpen(l, role); err != nil {
		return err
	}
	if role != live.RoleHost && s.o.Live.Ended(l.Occurrence.ID) {
		return domain.New(domain.CodeConflict, "err.live.ended")
	}
	token, a := s.o.Live.Tokens().Issue(l.Occurrence.ID, p.ID, role, s.o.Now())
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, admissionResponse{Token: token, ExpiresAt: a.Expires, Role: role,
		WebSocketURL: webSocketURL(c), ICEServers: s.o.Live.ICEServers(p.ID)})
}

// roomRole is a person's role in an occurrence's room: host (site admins, the event's
// organisers), speaker (the occurrence's speakers with an account), attendee (confirmed
// registrants); anyone else is refused.
func (s *Server) roomRole(ctx context.Context, l store.Listed, p domain.Person) (string, error) {
	if p.IsAdmin || slices.Contains(l.Event.Organisers, p.ID) {
		return live.RoleHost, nil
	}
	for _, sp := range l.Occurrence.Speakers {
		if sp.PersonID != nil && *sp.PersonID == p.ID {
			return live.RoleSpeaker, nil
		}
	}
	regs, err := s.o.Store.Registrations(ctx, store.RegistrationFilter{OccurrenceID: l.Occurrence.ID, PersonID: p.ID})
	if err != nil {
		return "", err
	}
	for _, r := range regs {
		switch r.Status {
		case store.RegConfirmed:
			return live.RoleAttendee, nil
		case store.RegWaitlisted:
			return "", domain.New(domain.CodeForbidden, "err.live.waitlisted", "N", r.Position)
		}
	}
	return "", domain.New(domain.CodeForbidden, "err.live.not_registered")
}

// roomWindow is when an occurrence's room is open to a role.
func roomWindow(l store.Listed, role string) (opens, closes time.Time) {
	early, grace := l.Event.JoinWindow, attendeeGrace
	if role != live.RoleAttendee {
		early, grace = max(early, stageEarly), stageGrace
	}
	return l.Occurrence.Start.Add(-early), l.Occurrence.End.Add(grace)
}

// roomOpen checks the time: attendees from the join window to 30 minutes after the end;
// hosts and speakers from an hour before (or the join window, if longer) to an hour after.
func (s *Server) roomOpen(l store.Listed, role string) error {
	o := l.Occurrence
	if o.Status == domain.StatusCancelled {
		return domain.New(domain.CodeConflict, "err.live.cancelled")
	}
	opens, closes := roomWindow(l, role)
	now := s.o.Now()
	switch {
	case now.Before(opens):
		return domain.New(domain.CodeConflict, "err.live.opens_at", "Date", opens.UTC(), "Time", opens.UTC().Format("15:04 MST"))
	case !now.Before(closes):
		return domain.New(domain.CodeConflict, "err.live.over")
	}
	return nil
}

// webSocketURL is the room websocket on the host the page came from (same origin, so the
// origin check and the page's content security policy agree).
func webSocketURL(c echo.Context) string {
	scheme := "ws"
	if c.Scheme() == "https" {
		scheme = "wss"
	}
	return scheme + "://" + c.Request().Host + "/live/ws"
}

// originAllowed: the base URL's origin, and the origin of the page's own address (same
// origin behind a proxy that keeps the Host header), scheme included: an http page may not
// open the socket of an https site, nor the reverse. Default ports and case are ignored.
func (s *Server) originAllowed(c echo.Context) func(*http.Request) bool {
	own := signaling.NewUpgrader([]string{s.o.BaseURL.String(), c.Scheme() + "://" + c.Request().Host})
	return func(r *http.Request) bool { return own.OriginAllowed(r.Header.Get("Origin")) }
}

// liveSocket upgrades a request from one of our own pages to the room websocket.
func (s *Server) liveSocket(c echo.Context) error {
	if s.o.Live == nil {
		return domain.New(domain.CodeUnavailable, "err.live.unavailable")
	}
	allowed := s.originAllowed(c)
	if !allowed(c.Request()) {
		return domain.New(domain.CodeForbidden, "err.live.origin")
	}
	up := websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 4096, HandshakeTimeout: 10 * time.Second,
		CheckOrigin: allowed}
	ws, err := up.Upgrade(c.Response(), c.Request(), nil)
	if err != nil {
		return nil // the upgrader has answered
	}
	s.o.Live.Serve(c.Request().Context(), ws)
	return nil
}
