package server

import (
	"context"
	"net/http"
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
	Ended(ctx context.Context, occID int64) (bool, error)
	// Recording tells whether the session is being recorded now (the join page says so
	// before the person enters).
	Recording(ctx context.Context, occID int64) (bool, error)
	Serve(ctx context.Context, ws *websocket.Conn)
}

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
	role, err := s.app.Admit(c.Request().Context(), p, l, s.o.Live.Ended)
	if err != nil {
		return err
	}
	token, a := s.o.Live.Tokens().Issue(l.Occurrence.ID, p.ID, role, s.o.Now())
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, admissionResponse{Token: token, ExpiresAt: a.Expires, Role: role,
		WebSocketURL: webSocketURL(c), ICEServers: s.o.Live.ICEServers(p.ID)})
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
