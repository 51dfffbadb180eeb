package server

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/app"
	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
)

type registrationJSON struct {
	ID             int64                     `json:"id"`
	OccurrenceID   int64                     `json:"occurrence_id"`
	Status         domain.RegistrationStatus `json:"status"`
	Position       int                       `json:"position,omitempty"`
	AttendedMin    int                       `json:"attended_minutes"`
	Email          string                    `json:"email,omitempty"` // organisers only
	Name           string                    `json:"name"`
	Affiliation    string                    `json:"affiliation"`
	Country        string                    `json:"country"`
	CareerStage    string                    `json:"career_stage"`
	ConsentContact bool                      `json:"consent_contact"`
	Answers        domain.Answers            `json:"answers"`
	CreatedAt      time.Time                 `json:"created_at"`
	UpdatedAt      time.Time                 `json:"updated_at"`
}

func toRegistrationJSON(r store.Registration, withEmail bool) registrationJSON {
	j := registrationJSON{ID: r.ID, OccurrenceID: r.OccurrenceID, Status: r.Status, Position: r.Position,
		AttendedMin: int(r.Attended / time.Minute),
		Name:        r.Details.Name, Affiliation: r.Details.Affiliation, Country: r.Details.Country,
		CareerStage: string(r.Details.CareerStage), ConsentContact: r.Details.ConsentContact, Answers: r.Details.Answers,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if withEmail {
		j.Email = r.Email
	}
	return j
}

// apiRegister registers the signed-in person for an occurrence.
func (s *Server) apiRegister(c echo.Context) error {
	l, err := s.occurrenceFromPath(c)
	if err != nil {
		return err
	}
	var in app.RegistrationForm
	if err := decodeOptionalJSON(c, &in); err != nil {
		return err
	}
	res, err := s.app.Register(c.Request().Context(), actor(c), l.Occurrence.ID, in)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	return c.JSON(status, toRegistrationJSON(res.Registration, false))
}

func (s *Server) apiCancelMyRegistration(c echo.Context) error {
	l, err := s.occurrenceFromPath(c)
	if err != nil {
		return err
	}
	cancelled, err := s.app.CancelRegistration(c.Request().Context(), actor(c), l.Occurrence.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toRegistrationJSON(cancelled, false))
}

func (s *Server) apiMyRegistrations(c echo.Context) error {
	regs, err := s.o.Store.Registrations(c.Request().Context(), store.RegistrationFilter{PersonID: personOf(c).ID})
	if err != nil {
		return err
	}
	out := make([]registrationJSON, 0, len(regs))
	for _, r := range regs {
		out = append(out, toRegistrationJSON(r, false))
	}
	return c.JSON(http.StatusOK, map[string]any{"items": out})
}

// registrationList answers an organiser's list with counts by status.
func (s *Server) registrationList(c echo.Context, f store.RegistrationFilter) error {
	if st := domain.RegistrationStatus(c.QueryParam("status")); st != "" {
		if !st.Valid() {
			return domain.Invalid("status", "err.registration.status")
		}
		f.Status = st
	}
	regs, err := s.o.Store.Registrations(c.Request().Context(), f)
	if err != nil {
		return err
	}
	counts := map[domain.RegistrationStatus]int{}
	out := make([]registrationJSON, 0, len(regs))
	for _, r := range regs {
		counts[r.Status]++
		out = append(out, toRegistrationJSON(r, true))
	}
	return c.JSON(http.StatusOK, map[string]any{"items": out, "counts": counts})
}

func (s *Server) apiOccurrenceRegistrations(c echo.Context) error {
	l, err := s.occurrenceFromPath(c)
	if err != nil {
		return err
	}
	if err := s.canManage(c, l.Event); err != nil {
		return err
	}
	return s.registrationList(c, store.RegistrationFilter{OccurrenceID: l.Occurrence.ID})
}

func (s *Server) apiEventRegistrations(kind domain.EventKind) echo.HandlerFunc {
	return func(c echo.Context) error {
		e, err := s.managedEventOfKind(c, kind)
		if err != nil {
			return err
		}
		return s.registrationList(c, store.RegistrationFilter{EventID: e.ID})
	}
}

// apiActOnRegistration: an organiser approves, declines, promotes, removes or moves (to
// another session, body {"occurrence_id": N}) one registration.
func (s *Server) apiActOnRegistration(c echo.Context) error {
	r, err := s.managedRegistration(c)
	if err != nil {
		return err
	}
	if action := domain.RegistrationAction(c.Param("action")); action == domain.ActionMove {
		var in struct {
			OccurrenceID int64 `json:"occurrence_id"`
		}
		if err := decodeJSON(c, &in); err != nil {
			return err
		}
		r, err = s.app.MoveRegistration(c.Request().Context(), actor(c), r.ID, in.OccurrenceID)
	} else {
		r, err = s.app.Act(c.Request().Context(), actor(c), r.ID, action)
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toRegistrationJSON(r, true))
}

// apiNewRegistrationLinks revokes the personal links of the signed-in person's own
// registration and emails the confirmation again with fresh ones.
func (s *Server) apiNewRegistrationLinks(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	r, err := s.app.RenewLinks(c.Request().Context(), actor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toRegistrationJSON(r, true))
}

// managedRegistration loads the registration in the path for one of its event's organisers.
func (s *Server) managedRegistration(c echo.Context) (store.Registration, error) {
	id, err := pathID(c, "id")
	if err != nil {
		return store.Registration{}, err
	}
	r, _, err := s.app.ManagedRegistration(c.Request().Context(), actor(c), id)
	return r, err
}

// apiMessageRegistrants sends the organisers' message to everyone registered.
func (s *Server) apiMessageRegistrants(c echo.Context) error {
	l, err := s.occurrenceFromPath(c)
	if err != nil {
		return err
	}
	if err := s.canManage(c, l.Event); err != nil {
		return err
	}
	var in app.Message
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	n, err := s.app.MessageRegistrants(c.Request().Context(), actor(c), l.Occurrence.ID, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]int{"recipients": n})
}
