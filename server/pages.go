package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/domain"
)

// switchLanguage remembers a chosen interface language for a year and goes back. For
// someone signed in it is their choice of language, for emails too: their profile keeps it.
func (s *Server) switchLanguage(c echo.Context) error {
	code := c.Param("code")
	if !s.catalog.Supported(code) {
		return domain.Invalid("lang", "err.lang.unsupported", "Languages", strings.Join(s.catalog.Languages(), ", "))
	}
	if personOf(c) != nil { // for someone signed in, their language for emails too
		if err := s.app.SetLanguage(c.Request().Context(), actor(c), code); err != nil {
			return err
		}
	}
	c.SetCookie(&http.Cookie{Name: langCookie, Value: code, Path: "/", Secure: s.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: 365 * 24 * 3600})
	return c.Redirect(http.StatusSeeOther, localPath(c.QueryParam("next")))
}

// healthz: the process is up.
func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz: the database answers and its schema is up to date.
func (s *Server) readyz(c echo.Context) error {
	if s.o.Ready == nil {
		return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
	defer cancel()
	if err := s.o.Ready(ctx); err != nil {
		// The cause names socket paths, hosts and database users: for the log, not the public.
		s.log.Warn("not ready", "request_id", requestIDOf(c), "err", err)
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}
