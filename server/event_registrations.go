package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/app"
	"github.com/puente-org/puente/domain"
)

func (s *Server) apiRegisterForEvent(kind domain.EventKind) echo.HandlerFunc {
	return func(c echo.Context) error {
		e, err := s.eventOfKind(c, kind)
		if err != nil {
			return err
		}
		var in app.RegistrationForm
		if err := decodeOptionalJSON(c, &in); err != nil {
			return err
		}
		res, err := s.app.RegisterForEvent(c.Request().Context(), actor(c), e.ID, in)
		if err != nil {
			return err
		}
		sessions := make([]registrationJSON, 0, len(res.Sessions))
		for _, r := range res.Sessions {
			sessions = append(sessions, toRegistrationJSON(r, false))
		}
		status := http.StatusOK
		if res.Created {
			status = http.StatusCreated
		}
		return c.JSON(status, map[string]any{"status": "active", "sessions": sessions})
	}
}

func (s *Server) apiCancelEventRegistration(kind domain.EventKind) echo.HandlerFunc {
	return func(c echo.Context) error {
		e, err := s.eventOfKind(c, kind)
		if err != nil {
			return err
		}
		if err := s.app.CancelEventRegistration(c.Request().Context(), actor(c), e.ID); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]string{"status": "cancelled"})
	}
}

func (s *Server) registerForEventFromPage(c echo.Context) error {
	e, err := s.eventFromPath(c)
	if err != nil {
		return err
	}
	if _, err := s.app.RegisterForEvent(c.Request().Context(), actor(c), e.ID, app.RegistrationForm{}); err != nil {
		return err
	}
	s.flash(c, "registration.flash_event")
	return c.Redirect(http.StatusSeeOther, s.eventPath(e))
}

func (s *Server) cancelEventRegistrationFromPage(c echo.Context) error {
	e, err := s.eventFromPath(c)
	if err != nil {
		return err
	}
	if err := s.app.CancelEventRegistration(c.Request().Context(), actor(c), e.ID); err != nil {
		return err
	}
	s.flash(c, "registration.flash_cancelled")
	return c.Redirect(http.StatusSeeOther, s.eventPath(e))
}
