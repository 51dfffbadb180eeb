package server

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/app"
	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/links"
	"github.com/puente-org/puente/store"
)

// registerFromPage registers the signed-in person from the occurrence page's form.
func (s *Server) registerFromPage(c echo.Context) error {
	l, err := s.occurrenceFromPath(c)
	if err != nil {
		return err
	}
	// The name typed here, the page's language and the browser's zone complete the
	// profile where it has none (before registering, so the confirmation uses them).
	c.Set(keyPerson, s.learn(c, personOf(c), c.FormValue("name")))
	consent := c.FormValue("consent_contact") == "1"
	in := app.RegistrationForm{Name: strPtr(c.FormValue("name")), Affiliation: strPtr(c.FormValue("affiliation")),
		Country: strPtr(c.FormValue("country")), CareerStage: strPtr(c.FormValue("career_stage")), ConsentContact: &consent,
		Answers: formAnswers(c, l.Event.Questions)}
	res, err := s.app.Register(c.Request().Context(), actor(c), l.Occurrence.ID, in)
	if err != nil {
		return err
	}
	s.flash(c, "registration.flash_"+string(res.Registration.Status))
	return c.Redirect(http.StatusSeeOther, "/occurrences/"+itoa(l.Occurrence.ID))
}

func (s *Server) unregisterFromPage(c echo.Context) error {
	l, err := s.occurrenceFromPath(c)
	if err != nil {
		return err
	}
	if _, err := s.app.CancelRegistration(c.Request().Context(), actor(c), l.Occurrence.ID); err != nil {
		return err
	}
	s.flash(c, "registration.flash_cancelled")
	return c.Redirect(http.StatusSeeOther, "/occurrences/"+itoa(l.Occurrence.ID))
}

// newLinksFromPage revokes the personal links of the signed-in person's registration for
// the occurrence and emails fresh ones.
func (s *Server) newLinksFromPage(c echo.Context) error {
	l, err := s.occurrenceFromPath(c)
	if err != nil {
		return err
	}
	if _, err := s.app.RenewLinksFor(c.Request().Context(), actor(c), l.Occurrence.ID); err != nil {
		return err
	}
	s.flash(c, "registration.flash_new_links")
	return c.Redirect(http.StatusSeeOther, "/occurrences/"+itoa(l.Occurrence.ID))
}

type registrationsPage struct {
	Occ      *listedView // nil: every session of the event
	Event    domain.Event
	Items    []store.Registration
	Counts   map[string]int // by status, for the page's tabs
	Status   domain.RegistrationStatus
	CSVPath  string
	Sessions map[int64]string // session titles and times, for the event-wide list
	MoveTo   []option         // other upcoming sessions a registration can move to
}

// eventRegistrationsPage lists the registrations of every session of a series or conference.
func (s *Server) eventRegistrationsPage(c echo.Context) error {
	e, err := s.managedEvent(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	all, err := s.o.Store.Registrations(ctx, store.RegistrationFilter{EventID: e.ID})
	if err != nil {
		return err
	}
	list, err := s.o.Store.Occurrences(ctx, store.OccurrenceFilter{EventID: e.ID, IncludeCancelled: true, Limit: 2000})
	if err != nil {
		return err
	}
	rp := registrationsPage{Event: e, Counts: map[string]int{}, Status: domain.RegistrationStatus(c.QueryParam("status")), Sessions: map[int64]string{},
		CSVPath: "/organise/events/" + itoa(e.ID) + "/registrations.csv"}
	for _, l := range list {
		v := s.view(c, l)
		rp.Sessions[l.Occurrence.ID] = v.When.Day + " " + v.When.Time + " · " + v.Title
	}
	for _, r := range all {
		rp.Counts[string(r.Status)]++
		if rp.Status == "" || r.Status == rp.Status {
			rp.Items = append(rp.Items, r)
		}
	}
	return s.render(c, http.StatusOK, "registrations.html", rp)
}

func (s *Server) registrationsPage(c echo.Context) error {
	l, err := s.managedOccurrence(c)
	if err != nil {
		return err
	}
	f := store.RegistrationFilter{OccurrenceID: l.Occurrence.ID, Status: domain.RegistrationStatus(c.QueryParam("status"))}
	all, err := s.o.Store.Registrations(c.Request().Context(), store.RegistrationFilter{OccurrenceID: l.Occurrence.ID})
	if err != nil {
		return err
	}
	v := s.view(c, l)
	rp := registrationsPage{Occ: &v, Event: l.Event, Counts: map[string]int{}, Status: f.Status,
		CSVPath: "/organise/occurrences/" + itoa(l.Occurrence.ID) + "/registrations.csv"}
	others, err := s.o.Store.Occurrences(c.Request().Context(), store.OccurrenceFilter{EventID: l.Event.ID, From: s.o.Now(), Limit: 100})
	if err != nil {
		return err
	}
	for _, o := range others {
		if o.Occurrence.ID != l.Occurrence.ID {
			ov := s.view(c, o)
			rp.MoveTo = append(rp.MoveTo, option{Code: itoa(o.Occurrence.ID), Name: ov.When.Day + " " + ov.When.Time + " · " + ov.Title})
		}
	}
	for _, r := range all {
		rp.Counts[string(r.Status)]++
		if f.Status == "" || r.Status == f.Status {
			rp.Items = append(rp.Items, r)
		}
	}
	return s.render(c, http.StatusOK, "registrations.html", rp)
}

// csvSafe stops a spreadsheet from reading a cell as a formula (CSV injection).
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// registrationsCSV writes registrations as UTF-8 CSV with a byte-order mark, so that
// spreadsheet programs open accents correctly, and RFC 4180 quoting.
func (s *Server) registrationsCSV(c echo.Context, name string, regs []store.Registration, titles map[int64]string, qs []domain.Question) error {
	var buf bytes.Buffer
	buf.WriteString("\ufeff")
	w := csv.NewWriter(&buf)
	w.UseCRLF = true
	header := []string{"occurrence", "session", "status", "waitlist_position", "name", "email", "affiliation", "country",
		"career_stage", "consent_contact", "registered_at", "attended_minutes"}
	for _, q := range qs {
		header = append(header, csvSafe(q.Label))
	}
	_ = w.Write(header)
	for _, r := range regs {
		pos := ""
		if r.Position > 0 {
			pos = fmt.Sprint(r.Position)
		}
		row := []string{itoa(r.OccurrenceID), csvSafe(titles[r.OccurrenceID]), string(r.Status), pos, csvSafe(r.Details.Name),
			csvSafe(r.Email), csvSafe(r.Details.Affiliation), r.Details.Country, string(r.Details.CareerStage),
			fmt.Sprint(r.Details.ConsentContact), r.CreatedAt.UTC().Format("2006-01-02 15:04:05"), fmt.Sprint(int(r.Attended.Minutes()))}
		for _, q := range qs {
			row = append(row, csvSafe(answerText(r.Details.Answers[q.ID])))
		}
		_ = w.Write(row)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

func (s *Server) occurrenceRegistrationsCSV(c echo.Context) error {
	l, err := s.managedOccurrence(c)
	if err != nil {
		return err
	}
	regs, err := s.o.Store.Registrations(c.Request().Context(), store.RegistrationFilter{OccurrenceID: l.Occurrence.ID})
	if err != nil {
		return err
	}
	title := occurrenceTitle(l) + " " + l.Occurrence.StartLocal.Format("2006-01-02 15:04")
	return s.registrationsCSV(c, "registrations-"+l.Event.Slug+"-"+l.Occurrence.StartLocal.Format("2006-01-02"), regs,
		map[int64]string{l.Occurrence.ID: title}, l.Event.Questions)
}

func (s *Server) eventRegistrationsCSV(c echo.Context) error {
	e, err := s.managedEvent(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	regs, err := s.o.Store.Registrations(ctx, store.RegistrationFilter{EventID: e.ID})
	if err != nil {
		return err
	}
	list, err := s.o.Store.Occurrences(ctx, store.OccurrenceFilter{EventID: e.ID, IncludeCancelled: true, Limit: 1000})
	if err != nil {
		return err
	}
	titles := map[int64]string{}
	for _, l := range list {
		titles[l.Occurrence.ID] = occurrenceTitle(l) + " " + l.Occurrence.StartLocal.Format("2006-01-02 15:04")
	}
	return s.registrationsCSV(c, "registrations-"+e.Slug, regs, titles, e.Questions)
}

func (s *Server) actFromPage(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	r, l, err := s.app.ManagedRegistration(c.Request().Context(), actor(c), id)
	if err != nil {
		return err
	}
	action := domain.RegistrationAction(c.Param("action"))
	removing := action == domain.ActionRemove && r.Status.Active()
	if (removing || action == domain.ActionDecline) && c.FormValue("confirm") != "1" {
		// Removing someone takes their place away, declining turns their request down, and
		// both tell them by email: confirmed first.
		v := s.view(c, l)
		back := "/organise/occurrences/" + itoa(r.OccurrenceID) + "/registrations"
		who := r.Details.Name
		if who == "" {
			who = r.Email
		}
		lz := localizerOf(c)
		warning, button := "organise.remove_confirm_warning", "organise.remove_confirm_button"
		if !removing {
			warning, button = "organise.decline_confirm_warning", "organise.decline_confirm_button"
		}
		if r.PersonID == 0 { // a deleted account's place: nobody to tell
			warning, who = "account.remove_anonymous_warning", lz.T("account.deleted_registrant")
		}
		return s.confirmDelete(c, deleteConfirm{Title: lz.T("organise.confirm_session_title", "Title", v.Title, "Day", v.When.Day, "Time", v.When.Time),
			Action: "/organise/registrations/" + itoa(r.ID) + "/" + string(action), Back: back,
			Warning: lz.T(warning, "Name", who, "Email", r.Email),
			Button:  lz.T(button)})
	}
	if action == domain.ActionMove {
		to, err := strconv.ParseInt(c.FormValue("occurrence_id"), 10, 64)
		if err != nil {
			return domain.Invalid("occurrence_id", "err.move.choose")
		}
		if _, err := s.app.MoveRegistration(c.Request().Context(), actor(c), r.ID, to); err != nil {
			return err
		}
	} else if _, err := s.app.Act(c.Request().Context(), actor(c), r.ID, action); err != nil {
		return err
	}
	s.flash(c, "organise.saved")
	return c.Redirect(http.StatusSeeOther, "/organise/occurrences/"+itoa(r.OccurrenceID)+"/registrations")
}

func (s *Server) messageFromPage(c echo.Context) error {
	l, err := s.managedOccurrence(c)
	if err != nil {
		return err
	}
	m := app.Message{Subject: c.FormValue("subject"), Body: c.FormValue("body")}
	if _, err := s.app.MessageRegistrants(c.Request().Context(), actor(c), l.Occurrence.ID, m); err != nil {
		return err
	}
	s.flash(c, "registration.message_sent")
	return c.Redirect(http.StatusSeeOther, "/organise/occurrences/"+itoa(l.Occurrence.ID)+"/registrations")
}

// registerByEmail lets someone who is not signed in register with their email address: it
// finds or creates their account, registers them (the confirmation email goes out) and
// emails a sign-in link that brings them back to the session, signed in.
func (s *Server) registerByEmail(c echo.Context) error {
	l, err := s.occurrenceFromPath(c)
	if err != nil {
		return err
	}
	addr, err := domain.NormalizeEmail(c.FormValue("email"))
	if err != nil {
		return err
	}
	if !s.limiter.Allow(c.RealIP()) {
		return &domain.Error{Code: domain.CodeRateLimited, Field: "email", ID: "error.message.rate_limited"}
	}
	consent := c.FormValue("consent_contact") == "1"
	in := app.ByEmail{Email: addr, Form: app.RegistrationForm{Name: strPtr(c.FormValue("name")), Affiliation: strPtr(c.FormValue("affiliation")),
		ConsentContact: &consent, Answers: formAnswers(c, l.Event.Questions)},
		// An account this form makes starts with its name, language and zone.
		Learned: s.learned(c, c.FormValue("name")),
		// A one-time sign-in link travels in the confirmation email itself (that outbox
		// row is sensitive).
		SignInLink: s.signInURL, SignInNext: "/occurrences/" + itoa(l.Occurrence.ID)}
	res, err := s.app.RegisterByEmail(c.Request().Context(), actor(c), l.Occurrence.ID, in)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "signin.html", signInPage{Email: addr, Sent: true, Registered: true,
		Held: res.Registration.ConfirmBy != nil})
}

type confirmPage struct {
	State string // "ask", "done", "invalid", "expired"
	Occ   *listedView
	Token string
}

// confirmLink shows the page of a registration's confirmation link: a button (a GET alone,
// as mail scanners make, confirms nothing), or a clear page for a forged or expired link.
func (s *Server) confirmLink(c echo.Context) error {
	return s.confirmRegistration(c, false)
}

// confirmByLink confirms the registration: a held place becomes the person's.
func (s *Server) confirmByLink(c echo.Context) error {
	return s.confirmRegistration(c, true)
}

func (s *Server) confirmRegistration(c echo.Context, confirm bool) error {
	c.Response().Header().Set("Referrer-Policy", "no-referrer")
	token := c.Param("token")
	ctx := c.Request().Context()
	r, l, err := s.app.ByLink(ctx, links.Confirm, token)
	if domain.ErrorCode(err) == domain.CodeNotFound { // unknown, forged or revoked
		return s.render(c, http.StatusNotFound, "registration_confirm.html", confirmPage{State: "invalid"})
	}
	if err != nil {
		return err
	}
	v := s.view(c, l)
	page := confirmPage{State: "ask", Occ: &v, Token: token}
	expired := r.Status == domain.RegCancelled || r.Status == domain.RegDeclined || (r.ConfirmBy != nil && !s.o.Now().Before(*r.ConfirmBy))
	switch {
	case expired:
		page.State = "expired"
		return s.render(c, http.StatusGone, "registration_confirm.html", page)
	case r.ConfirmBy == nil:
		page.State = "done"
		return s.render(c, http.StatusOK, "registration_confirm.html", page)
	case !confirm:
		return s.render(c, http.StatusOK, "registration_confirm.html", page)
	}
	if _, err := s.app.ConfirmHeld(ctx, actor(c), token); err != nil {
		if domain.ErrorCode(err) == domain.CodeExpired {
			page.State = "expired"
			return s.render(c, http.StatusGone, "registration_confirm.html", page)
		}
		return err
	}
	page.State = "done"
	return s.render(c, http.StatusOK, "registration_confirm.html", page)
}

// formAnswers reads the answers to the event's questions from a form (fields answer_<id>).
func formAnswers(c echo.Context, qs []domain.Question) domain.Answers {
	form, _ := c.FormParams()
	out := domain.Answers{}
	for _, q := range qs {
		vals := form["answer_"+q.ID]
		if len(vals) == 0 {
			continue
		}
		if q.Kind == domain.QuestionMultiple {
			out[q.ID] = vals
		} else {
			out[q.ID] = vals[0]
		}
	}
	return out
}

// answerText is an answer as a spreadsheet cell.
func answerText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []string:
		return strings.Join(x, "; ")
	case []any:
		parts := make([]string, 0, len(x))
		for _, p := range x {
			parts = append(parts, fmt.Sprint(p))
		}
		return strings.Join(parts, "; ")
	}
	return ""
}
