package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
)

func (s *Server) registerForEvent(c echo.Context, e domain.Event, in registrationInput) (store.EventRegistrationResult, error) {
	p := personOf(c)
	d, err := in.details(*p, e.Questions)
	if err != nil {
		return store.EventRegistrationResult{}, err
	}
	notify, out := s.notifier(c.Request().Context(), p.ID, localizerOf(c).Lang())
	res, err := s.o.Store.RegisterForEvent(c.Request().Context(), e.ID, p.ID, d, notify)
	if err != nil {
		return res, err
	}
	s.sent(c.Request().Context(), out)
	return res, nil
}

func (s *Server) apiRegisterForEvent(kind domain.EventKind) echo.HandlerFunc {
	return func(c echo.Context) error {
		e, err := s.eventOfKind(c, kind)
		if err != nil {
			return err
		}
		var in registrationInput
		if err := decodeOptionalJSON(c, &in); err != nil {
			return err
		}
		res, err := s.registerForEvent(c, e, in)
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
		if err := s.cancelEventRegistration(c, e); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]string{"status": "cancelled"})
	}
}

// cancelEventRegistration cancels the signed-in person's registration for every session of
// e (form or API) and announces the emails it queued.
func (s *Server) cancelEventRegistration(c echo.Context, e domain.Event) error {
	notify, out := s.requestNotifier(c)
	if err := s.o.Store.CancelEventRegistration(c.Request().Context(), e.ID, personOf(c).ID, notify); err != nil {
		return err
	}
	s.sent(c.Request().Context(), out)
	return nil
}

func (s *Server) registerForEventFromPage(c echo.Context) error {
	e, err := s.eventFromPath(c)
	if err != nil {
		return err
	}
	if _, err := s.registerForEvent(c, e, registrationInput{}); err != nil {
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
	if err := s.cancelEventRegistration(c, e); err != nil {
		return err
	}
	s.flash(c, "registration.flash_cancelled")
	return c.Redirect(http.StatusSeeOther, s.eventPath(e))
}
