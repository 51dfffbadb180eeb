package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
)

type registrationInput struct {
	Name           *string `json:"name"`
	Affiliation    *string `json:"affiliation"`
	Country        *string `json:"country"`
	CareerStage    *string `json:"career_stage"`
	ConsentContact *bool   `json:"consent_contact"`
	// Answers to the event's own questions, by question id.
	Answers domain.Answers `json:"answers"`
}

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

// details fills the form from the person's profile, overridden by what they sent, and
// checks it with the profile's rules.
func (in registrationInput) details(p domain.Person, questions []domain.Question) (store.RegistrationDetails, error) {
	prof := p.Profile
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&prof.Name, in.Name)
	set(&prof.Affiliation, in.Affiliation)
	set(&prof.Country, in.Country)
	if in.CareerStage != nil {
		prof.CareerStage = domain.CareerStage(*in.CareerStage)
	}
	prof, err := prof.Normalize()
	if err != nil {
		return store.RegistrationDetails{}, err
	}
	d := store.RegistrationDetails{Name: prof.Name, Affiliation: prof.Affiliation, Country: prof.Country, CareerStage: prof.CareerStage}
	if in.ConsentContact != nil {
		d.ConsentContact = *in.ConsentContact
	}
	if strings.TrimSpace(d.Name) == "" {
		d.Name = p.DisplayName()
	}
	d.Answers, err = domain.CheckAnswers(questions, in.Answers)
	return d, err
}

// register registers the signed-in person for an occurrence (form or API) and announces the
// emails it queued.
func (s *Server) register(c echo.Context, l store.Listed, in registrationInput) (store.RegisterResult, error) {
	p := personOf(c)
	d, err := in.details(*p, l.Event.Questions)
	if err != nil {
		return store.RegisterResult{}, err
	}
	notify, out := s.requestNotifier(c)
	res, err := s.o.Store.Register(c.Request().Context(), l.Occurrence.ID, p.ID, d, notify)
	if err != nil {
		return res, err
	}
	s.sent(c.Request().Context(), out)
	return res, nil
}

// apiRegister registers the signed-in person for an occurrence.
func (s *Server) apiRegister(c echo.Context) error {
	p := personOf(c)
	l, err := s.occurrenceFromPath(c)
	if err != nil {
		return err
	}
	var in registrationInput
	if err := decodeOptionalJSON(c, &in); err != nil {
		return err
	}
	res, err := s.register(c, l, in)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
		s.log.Info("registered", "occurrence", l.Occurrence.ID, "person", p.ID, "status", res.Registration.Status)
	}
	return c.JSON(status, toRegistrationJSON(res.Registration, false))
}

func (s *Server) apiCancelMyRegistration(c echo.Context) error {
	p := personOf(c)
	l, err := s.occurrenceFromPath(c)
	if err != nil {
		return err
	}
	notify, out := s.requestNotifier(c)
	cancelled, promoted, err := s.o.Store.CancelRegistration(c.Request().Context(), l.Occurrence.ID, p.ID, notify)
	if err != nil {
		return err
	}
	s.sent(c.Request().Context(), out)
	for _, r := range promoted {
		s.log.Info("promoted from the waitlist", "occurrence", l.Occurrence.ID, "person", r.PersonID)
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
	notify, out := s.requestNotifier(c)
	if c.Param("action") == "move" {
		var in struct {
			OccurrenceID int64 `json:"occurrence_id"`
		}
		if err := decodeJSON(c, &in); err != nil {
			return err
		}
		moved, err := s.o.Store.MoveRegistration(c.Request().Context(), r.ID, in.OccurrenceID, notify)
		if err != nil {
			return err
		}
		s.sent(c.Request().Context(), out)
		return c.JSON(http.StatusOK, toRegistrationJSON(moved, true))
	}
	r, err = s.o.Store.ActOnRegistration(c.Request().Context(), r.ID, domain.RegistrationAction(c.Param("action")), notify)
	if err != nil {
		return err
	}
	s.sent(c.Request().Context(), out)
	return c.JSON(http.StatusOK, toRegistrationJSON(r, true))
}

// apiNewRegistrationLinks revokes the personal links of the signed-in person's own
// registration and emails the confirmation again with fresh ones.
func (s *Server) apiNewRegistrationLinks(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	notify, out := s.requestNotifier(c)
	r, err := s.o.Store.RenewRegistrationLinks(c.Request().Context(), id, personOf(c).ID, notify)
	if err != nil {
		return err
	}
	s.sent(c.Request().Context(), out)
	return c.JSON(http.StatusOK, toRegistrationJSON(r, true))
}

// managedRegistration loads the registration in the path for one of its event's organisers.
func (s *Server) managedRegistration(c echo.Context) (store.Registration, error) {
	id, err := pathID(c, "id")
	if err != nil {
		return store.Registration{}, err
	}
	r, err := s.o.Store.RegistrationByID(c.Request().Context(), id)
	if err != nil {
		return r, err
	}
	l, err := s.o.Store.OccurrenceByID(c.Request().Context(), r.OccurrenceID)
	if err != nil {
		return r, err
	}
	return r, s.canManage(c, l.Event)
}

type messageInput struct {
	Subject string `json:"subject"`
	Body    string `json:"body"`
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
	var in messageInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	n, err := s.messageRegistrants(c, l, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]int{"recipients": n})
}

func (s *Server) messageRegistrants(c echo.Context, l store.Listed, in messageInput) (int, error) {
	subject, err := text("subject", in.Subject, 200, true)
	if err != nil {
		return 0, err
	}
	body, err := text("body", in.Body, 10000, true)
	if err != nil {
		return 0, err
	}
	notify, out := s.notifier(c.Request().Context(), 0, "")
	notify.Subject, notify.Body = subject, body
	n, err := s.o.Store.MessageRegistrants(c.Request().Context(), l.Occurrence.ID, notify)
	if err != nil {
		return 0, err
	}
	s.sent(c.Request().Context(), out)
	return n, nil
}
