package server

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/app"
	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/i18n"
	"github.com/puente-org/puente/photo"
)

// Keys for values a request carries through the middleware chain.
const (
	keyRequestID = "puente.request_id"
	keyPerson    = "puente.person"
	keyBearer    = "puente.bearer"
	keyLocalizer = "puente.localizer"
	keyCSRF      = "puente.csrf"
)

const (
	sessionCookie = "puente_session"
	langCookie    = "puente_lang"
	flashCookie   = "puente_flash"
	csrfCookie    = "puente_csrf"
)

func requestIDOf(c echo.Context) string { s, _ := c.Get(keyRequestID).(string); return s }

// personOf returns the signed-in person, or nil.
func personOf(c echo.Context) *domain.Person { p, _ := c.Get(keyPerson).(*domain.Person); return p }

func localizerOf(c echo.Context) *i18n.Localizer {
	l, _ := c.Get(keyLocalizer).(*i18n.Localizer)
	return l
}

func isAPI(c echo.Context) bool { return strings.HasPrefix(c.Request().URL.Path, "/api/") }

// recoverPanics turns a panic into a logged 500 instead of a dropped connection.
func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				s.log.Error("panic serving request", "request_id", requestIDOf(c), "panic", fmt.Sprint(r),
					"stack", string(debug.Stack()))
				err = &domain.Error{Code: domain.CodeInternal, ID: "error.message.internal", Err: fmt.Errorf("panic: %v", r)}
			}
		}()
		return next(c)
	}
}

// requestID gives every request an ID, echoed in X-Request-ID, logs and error pages. An
// incoming ID is kept only if it is short and plain, so it cannot forge log lines.
func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if !plainID(id) {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		c.Set(keyRequestID, id)
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
}

func plainID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// logRequests writes one structured line per request. It logs the path, never the query
// string (sign-in links carry their secret there) nor any header with credentials.
func (s *Server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err) // write the response now so the status below is the real one
		}
		status := c.Response().Status
		level := slog.LevelInfo
		switch {
		case status >= 500:
			level = slog.LevelError
		case c.Request().URL.Path == "/healthz" || c.Request().URL.Path == "/readyz" || c.Request().URL.Path == "/metrics" ||
			strings.HasPrefix(c.Request().URL.Path, staticPrefix):
			level = slog.LevelDebug
		}
		attrs := []slog.Attr{
			slog.String("request_id", requestIDOf(c)),
			slog.String("method", c.Request().Method),
			slog.String("path", loggedPath(c)),
			slog.Int("status", status),
			slog.Int64("bytes", c.Response().Size),
			slog.Duration("duration", time.Since(start)),
			slog.String("client", c.RealIP()),
		}
		if p := personOf(c); p != nil {
			attrs = append(attrs, slog.Int64("person", p.ID))
		}
		s.log.LogAttrs(c.Request().Context(), level, "request", attrs...)
		return nil
	}
}

// securityHeaders: a strict content security policy (no inline scripts or styles, no
// framing), no referrer leaking paths to other sites, no MIME sniffing.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		// The live room's websocket is same-origin; browsers before CSP level 3 need it named.
		ws := "ws://"
		if c.Scheme() == "https" {
			ws = "wss://"
		}
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"connect-src 'self' "+ws+c.Request().Host+"; media-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(self), microphone=(self), display-capture=(self), geolocation=()")
		return next(c)
	}
}

// limitBody refuses bodies over the limit with 413: at once when Content-Length says so,
// and otherwise (a chunked body) as soon as reading passes the limit, which the readers of
// the body (JSON and form decoding) report as http.MaxBytesError.
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		limit := s.o.MaxBodyBytes
		if r.Method == http.MethodPost && photoUpload(r.URL.Path) {
			// A photo straight from a camera; package photo bounds the file itself.
			limit = max(limit, photo.MaxBytes+64<<10)
		}
		if r.Method == http.MethodPost && recordingUpload(r.URL.Path) {
			// An organiser's own recording; the app bounds the file itself.
			limit = max(limit, app.MaxRecordingUpload+1<<20)
		}
		if r.ContentLength > limit {
			if recordingUpload(r.URL.Path) {
				return domain.New(domain.CodeTooLarge, "err.recording.too_large")
			}
			if limit != s.o.MaxBodyBytes {
				return photo.TooLarge()
			}
			return domain.New(domain.CodeTooLarge, "err.body.too_large")
		}
		r.Body = http.MaxBytesReader(c.Response(), r.Body, limit)
		if limit > s.o.MaxBodyBytes && recordingUpload(r.URL.Path) {
			r.Body = &patientBody{ReadCloser: r.Body, rc: http.NewResponseController(c.Response())}
		}
		return next(c)
	}
}

// authenticate finds who is making the request: a bearer token (API only) or the session
// cookie. A bad bearer token is an error; a stale cookie just means signed out.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		if auth := c.Request().Header.Get(echo.HeaderAuthorization); auth != "" && isAPI(c) {
			scheme, token, ok := strings.Cut(auth, " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
				return domain.New(domain.CodeUnauthenticated, "err.auth.bearer")
			}
			p, err := s.o.Store.PersonByAPIToken(ctx, domain.HashSecret(strings.TrimSpace(token)))
			if err != nil {
				return err
			}
			c.Set(keyPerson, &p)
			c.Set(keyBearer, true)
			return next(c)
		}
		if ck, err := c.Cookie(sessionCookie); err == nil && ck.Value != "" {
			p, err := s.o.Store.PersonBySession(ctx, domain.HashSecret(ck.Value))
			switch code := domain.ErrorCode(err); {
			case err == nil:
				c.Set(keyPerson, &p)
			case code == domain.CodeUnauthenticated || code == domain.CodeNotFound:
				s.clearCookie(c, sessionCookie) // ended or expired: carry on signed out
			default:
				return err
			}
		}
		return next(c)
	}
}

// chooseLanguage: the signed-in person's (their profile's, which the switcher also sets,
// so pages and emails agree), else one picked with the switcher on this browser, else the
// browser's Accept-Language, else the default. An unknown value is ignored.
func (s *Server) chooseLanguage(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		var explicit []string
		if p := personOf(c); p != nil && p.Profile.Language != "" {
			explicit = append(explicit, p.Profile.Language)
		}
		if ck, err := c.Cookie(langCookie); err == nil {
			explicit = append(explicit, ck.Value)
		}
		lang := s.catalog.Negotiate(c.Request().Header.Get("Accept-Language"), explicit...)
		c.Set(keyLocalizer, s.catalog.Localizer(lang))
		c.Response().Header().Add("Vary", "Accept-Language, Cookie")
		return next(c)
	}
}

// csrf protects every state-changing request made with a session cookie: forms carry the
// token in _csrf, scripts in X-CSRF-Token. API requests without a session cookie (bearer
// tokens, or anonymous) carry no ambient credentials to abuse and need none; they get their
// 401/403 from the authorisation checks instead.
//
// The token is a MAC of the session's own secret, so a token from one session (another
// person's, or this browser's before it signed out and in again) never passes for another,
// and a cookie planted by a neighbouring site cannot forge one. Before a session exists (the
// sign-in forms) it is a MAC of a random per-browser cookie instead.
func (s *Server) csrf(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if b, _ := c.Get(keyBearer).(bool); b {
			return next(c)
		}
		if _, err := c.Cookie(sessionCookie); err != nil && isAPI(c) {
			return next(c)
		}
		token := s.csrfToken(s.csrfBinding(c))
		c.Set(keyCSRF, token)
		switch c.Request().Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
			return next(c)
		}
		if isUnsubscribe(c) { // the link itself is the credential (RFC 8058 one-click POST)
			return next(c)
		}
		sent := c.Request().Header.Get("X-CSRF-Token")
		if sent == "" {
			if err := parseForm(c.Request()); err != nil {
				return err
			}
			sent = c.Request().FormValue("_csrf")
		}
		if subtle.ConstantTimeCompare([]byte(sent), []byte(token)) != 1 {
			return &domain.Error{Code: domain.CodeForbidden, Field: "_csrf", Err: errCSRFMismatch, ID: "error.message.csrf"}
		}
		return next(c)
	}
}

var errCSRFMismatch = errors.New("csrf token missing or not this session's")

// parseForm reads a form body, telling a body over the limit (413) from a malformed one.
func parseForm(r *http.Request) error {
	var err error
	if strings.HasPrefix(r.Header.Get(echo.HeaderContentType), echo.MIMEMultipartForm) {
		err = r.ParseMultipartForm(1 << 20)
	} else {
		err = r.ParseForm()
	}
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooLarge):
		return &domain.Error{Code: domain.CodeTooLarge, ID: "err.body.too_large", Err: err}
	default:
		return &domain.Error{Code: domain.CodeInvalid, ID: "err.form.unreadable", Err: err}
	}
}

// csrfBinding is what the request's CSRF token is bound to: the session cookie of a
// signed-in browser, else a random cookie set here on first sight.
func (s *Server) csrfBinding(c echo.Context) string {
	if personOf(c) != nil {
		if ck, err := c.Cookie(sessionCookie); err == nil && ck.Value != "" {
			return "session:" + ck.Value
		}
	}
	if ck, err := c.Cookie(csrfCookie); err == nil && len(ck.Value) >= 32 {
		return "browser:" + ck.Value
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	c.SetCookie(&http.Cookie{Name: csrfCookie, Value: v, Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: 12 * 3600})
	return "browser:" + v
}

func (s *Server) csrfToken(binding string) string {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte(binding))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// errSignIn is the answer to a request that needs a person and has none.
var errSignIn = domain.New(domain.CodeUnauthenticated, "err.auth.sign_in")

// requireSignIn sends a signed-out browser to the sign-in page and tells an API client 401.
func (s *Server) requireSignIn(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if personOf(c) != nil {
			return next(c)
		}
		if isAPI(c) || c.Request().Method != http.MethodGet {
			return errSignIn
		}
		return c.Redirect(http.StatusSeeOther, "/sign-in?next="+urlQueryEscape(c.Request().URL.RequestURI()))
	}
}

// requireAdmin allows site admins only; it follows requireSignIn.
func (s *Server) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if p := personOf(c); p == nil || !p.IsAdmin {
			return domain.New(domain.CodeForbidden, "error.message.forbidden")
		}
		return next(c)
	}
}

// requireDevMailAccess: the local mailbox shows sign-in links, so only site admins may read
// it, and, when the development setting allows it (DevMailOpen, on by default only for a
// loopback base URL), requests that really come from this machine: the connection's
// address, with no proxy header saying it was forwarded.
func (s *Server) requireDevMailAccess(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if p := personOf(c); p != nil && p.IsAdmin {
			return next(c)
		}
		if s.o.DevMailOpen && fromLoopback(c.Request()) {
			return next(c)
		}
		return domain.New(domain.CodeForbidden, "error.message.dev_mail_closed")
	}
}

// metricsAccess serves /metrics to this machine (a direct loopback connection), to the
// configured client addresses, or to a request with the configured bearer token; everyone
// else gets 404, as if there were nothing there.
func (s *Server) metricsAccess(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.metricsAllowed(c) {
			return next(c)
		}
		return echo.ErrNotFound
	}
}

func (s *Server) metricsAllowed(c echo.Context) bool {
	r := c.Request()
	if fromLoopback(r) {
		return true
	}
	if tok := s.o.MetricsToken; tok != "" {
		scheme, got, ok := strings.Cut(r.Header.Get(echo.HeaderAuthorization), " ")
		if ok && strings.EqualFold(scheme, "Bearer") &&
			subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(tok)) == 1 {
			return true
		}
	}
	if len(s.o.MetricsAllow) > 0 {
		// RealIP is the connection's address unless TrustProxy takes it from the proxy.
		if ip, err := netip.ParseAddr(c.RealIP()); err == nil {
			ip = ip.Unmap()
			for _, p := range s.o.MetricsAllow {
				if p.Contains(ip) {
					return true
				}
			}
		}
	}
	return false
}

func fromLoopback(r *http.Request) bool {
	if r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("Forwarded") != "" {
		return false // came through a proxy: the real client is elsewhere
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loggedPath is the request's path as the log shows it: a path that carries a secret (a
// personal link's or unsubscribe link's token, a personal feed's file name) is logged as
// its route ("/unsubscribe/:token"), so whoever reads the logs cannot use the links.
func loggedPath(c echo.Context) string {
	if c.Param("token") != "" || strings.HasPrefix(c.Path(), "/feeds/personal/") {
		return c.Path()
	}
	return c.Request().URL.Path
}
