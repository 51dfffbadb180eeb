package signaling

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// ErrOriginNotAllowed is returned by Upgrade when the request's Origin is not allowed (the
// client has already been answered 403).
var ErrOriginNotAllowed = errors.New("signaling: origin not allowed")

// Upgrader turns GET /live/ws into a websocket after checking the Origin header: only the
// server's own origin may open a room's websocket, so that another site's page cannot use a
// visitor's browser to join.
type Upgrader struct {
	allowed map[string]bool
	ws      websocket.Upgrader
}

// NewUpgrader allows the given origins, each scheme://host[:port] (a base URL with a path is
// cut to its origin). Matching is exact apart from case and a default port (:443 for https,
// :80 for http). A request without an Origin header is refused.
func NewUpgrader(allowedOrigins []string) *Upgrader {
	u := &Upgrader{allowed: make(map[string]bool, len(allowedOrigins))}
	for _, o := range allowedOrigins {
		if n, ok := normalizeOrigin(o); ok {
			u.allowed[n] = true
		}
	}
	u.ws = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		// Signaling writes are rare and small: idle connections need not each hold a
		// write buffer.
		WriteBufferPool: &sync.Pool{},
		CheckOrigin:     func(*http.Request) bool { return true }, // checked in Upgrade
	}
	return u
}

// OriginAllowed reports whether a websocket may be opened from origin.
func (u *Upgrader) OriginAllowed(origin string) bool {
	n, ok := normalizeOrigin(origin)
	return ok && u.allowed[n]
}

// Upgrade checks the Origin and upgrades the connection. On failure the client has been
// answered (403 with a plain message for a bad origin, 400 and the like from gorilla) and
// the error says why.
func (u *Upgrader) Upgrade(w http.ResponseWriter, r *http.Request) (*websocket.Conn, error) {
	if !u.OriginAllowed(r.Header.Get("Origin")) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte("This origin may not open a live room connection.\n"))
		return nil, ErrOriginNotAllowed
	}
	return u.ws.Upgrade(w, r, nil)
}

// normalizeOrigin returns scheme://host[:port] in lower case without a default port.
func normalizeOrigin(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "null") {
		return "", false
	}
	p, err := url.Parse(s)
	if err != nil || p.Host == "" || p.User != nil || (p.Scheme != "http" && p.Scheme != "https") {
		return "", false
	}
	host := strings.ToLower(p.Host)
	scheme := strings.ToLower(p.Scheme)
	switch {
	case scheme == "https" && strings.HasSuffix(host, ":443"):
		host = strings.TrimSuffix(host, ":443")
	case scheme == "http" && strings.HasSuffix(host, ":80"):
		host = strings.TrimSuffix(host, ":80")
	}
	return scheme + "://" + host, true
}
