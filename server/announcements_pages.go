package server

import (
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/app"
	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/markdown"
	"github.com/puente-org/puente/notices"
	"github.com/puente-org/puente/store"
)

// announceForm is the organisers' page for an event's announcements: the form to write one
// (or change a scheduled one), its preview, and the scheduled and sent ones.
type announceForm struct {
	Event     domain.Event
	Action    string
	Editing   *domain.Announcement // a scheduled one being changed
	V         map[string]string
	Error     string
	Field     string
	Sessions  []option
	Zone      string // the zone send_at is read in
	Preview   *announcePreview
	Scheduled []scheduledItem
	Sent      []archiveItem
	Archive   string
	Done      string // what was just done (a test sent)
}

type announcePreview struct {
	Subject string
	HTML    template.HTML
	Session string
	When    string
	Text    string
}

type scheduledItem struct {
	ID      int64
	Subject string
	SendAt  string
}

// formZone is the zone an organiser's sending time is read in: theirs, else the event's.
func formZone(c echo.Context, e domain.Event) *time.Location {
	if loc := viewerZone(c); loc != nil {
		return loc
	}
	if loc, err := time.LoadLocation(e.TimeZone); err == nil {
		return loc
	}
	return time.UTC
}

func (s *Server) announceFormFor(c echo.Context, e domain.Event) (announceForm, error) {
	ctx := c.Request().Context()
	loc := formZone(c, e)
	f := announceForm{Event: e, Action: "/organise/events/" + itoa(e.ID) + "/announcements", V: map[string]string{"audience": "both"},
		Zone: localizerOf(c).ZoneName(loc), Archive: notices.ArchivePath(e)}
	occs, err := s.o.Store.Occurrences(ctx, store.OccurrenceFilter{EventID: e.ID, From: s.o.Now(), Limit: 100})
	if err != nil {
		return f, err
	}
	for _, l := range occs {
		v := s.view(c, l)
		f.Sessions = append(f.Sessions, option{Code: itoa(l.Occurrence.ID), Name: v.Title + " · " + v.When.DayShort + " " + v.When.Time})
	}
	list, err := s.o.Store.Announcements(ctx, store.AnnouncementFilter{EventID: e.ID, Status: domain.AnnouncementScheduled})
	if err != nil {
		return f, err
	}
	for _, a := range list {
		f.Scheduled = append(f.Scheduled, scheduledItem{ID: a.ID, Subject: a.Subject,
			SendAt: localizerOf(c).LongDate(a.SendAt.In(loc)) + ", " + a.SendAt.In(loc).Format("15:04")})
	}
	sent, err := s.o.Store.Announcements(ctx, store.AnnouncementFilter{EventID: e.ID, Status: domain.AnnouncementSent, Limit: 20})
	if err != nil {
		return f, err
	}
	for _, a := range sent {
		f.Sent = append(f.Sent, s.archiveItemOf(c, e, a))
	}
	return f, nil
}

// announceInputFromForm reads the form: the sending time is a local date and time in the
// organiser's zone, empty for now.
func announceInputFromForm(c echo.Context, loc *time.Location) (app.AnnouncementInput, error) {
	subject, body, audience := c.FormValue("subject"), c.FormValue("body"), c.FormValue("audience")
	in := app.AnnouncementInput{Subject: &subject, Body: &body, Audience: &audience}
	occ := int64(0)
	if v := c.FormValue("occurrence_id"); v != "" && v != "0" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return in, domain.Invalid("occurrence_id", "err.announce.session_unknown")
		}
		occ = n
	}
	in.OccurrenceID = &occ
	if c.FormValue("when") == "later" {
		v := strings.TrimSpace(c.FormValue("send_at"))
		t, err := time.ParseInLocation("2006-01-02T15:04", v, loc)
		if err != nil {
			return in, domain.Invalid("send_at", "err.announce.send_at_format")
		}
		in.SendAt = &t
	}
	return in, nil
}

// organiseAnnouncements is the organisers' page of an event's announcements.
func (s *Server) organiseAnnouncements(c echo.Context) error {
	e, err := s.managedEvent(c)
	if err != nil {
		return err
	}
	f, err := s.announceFormFor(c, e)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "organise_announcements.html", f)
}

// refuseAnnounceForm shows the form again as typed, with the problem.
func (s *Server) refuseAnnounceForm(c echo.Context, f announceForm, err error) error {
	de, ok := domain.AsError(err)
	if !ok || (de.Code != domain.CodeInvalid && de.Code != domain.CodeConflict) {
		return err
	}
	refillForm(c, f.V)
	f.Error, f.Field = s.localize(c, de), de.Field
	return s.render(c, http.StatusBadRequest, "organise_announcements.html", f)
}

// announceFromPage previews, tests, sends or schedules an announcement from the form
// (do=preview, test or send).
func (s *Server) announceFromPage(c echo.Context) error {
	e, err := s.managedEvent(c)
	if err != nil {
		return err
	}
	f, err := s.announceFormFor(c, e)
	if err != nil {
		return err
	}
	return s.announceAction(c, e, f, 0)
}

// editAnnouncementPage is the form for a scheduled announcement.
func (s *Server) editAnnouncementPage(c echo.Context) error {
	a, e, err := s.managedAnnouncementFromPath(c)
	if err != nil {
		return err
	}
	f, err := s.announceFormFor(c, e)
	if err != nil {
		return err
	}
	f.Action, f.Editing = "/organise/announcements/"+itoa(a.ID), &a
	loc := formZone(c, e)
	f.V = map[string]string{"subject": a.Subject, "body": a.Body, "audience": string(a.Audience), "when": "later",
		"occurrence_id": itoa(a.OccurrenceID)}
	if a.SendAt != nil {
		f.V["send_at"] = a.SendAt.In(loc).Format("2006-01-02T15:04")
	}
	return s.render(c, http.StatusOK, "organise_announcements.html", f)
}

// editAnnouncementFromPage previews, tests, saves (do=send) or cancels (do=cancel) a
// scheduled announcement.
func (s *Server) editAnnouncementFromPage(c echo.Context) error {
	a, e, err := s.managedAnnouncementFromPath(c)
	if err != nil {
		return err
	}
	f, err := s.announceFormFor(c, e)
	if err != nil {
		return err
	}
	f.Action, f.Editing = "/organise/announcements/"+itoa(a.ID), &a
	return s.announceAction(c, e, f, a.ID)
}

func (s *Server) managedAnnouncementFromPath(c echo.Context) (domain.Announcement, domain.Event, error) {
	a, e, err := s.announcementFromPath(c)
	if err != nil {
		return a, e, err
	}
	return a, e, s.canManage(c, e)
}

func (s *Server) announceAction(c echo.Context, e domain.Event, f announceForm, editing int64) error {
	ctx := c.Request().Context()
	back := "/organise/events/" + itoa(e.ID) + "/announcements"
	if c.FormValue("do") == "cancel" && editing != 0 {
		if _, err := s.app.CancelAnnouncement(ctx, actor(c), editing); err != nil {
			return s.refuseAnnounceForm(c, f, err)
		}
		s.flash(c, "announce.cancelled")
		return c.Redirect(http.StatusSeeOther, back)
	}
	in, err := announceInputFromForm(c, formZone(c, e))
	if err != nil {
		return s.refuseAnnounceForm(c, f, err)
	}
	switch c.FormValue("do") {
	case "preview":
		em, err := s.previewAnnouncement(c, e, in)
		if err != nil {
			return s.refuseAnnounceForm(c, f, err)
		}
		p := &announcePreview{Subject: em.Subject, HTML: markdown.Render(*in.Body), Text: em.Text}
		if *in.OccurrenceID != 0 {
			if l, err := s.o.Store.OccurrenceByID(ctx, *in.OccurrenceID); err == nil {
				v := s.view(c, l)
				p.Session, p.When = v.Title, v.When.Day+", "+v.When.Time+" "+v.When.Zone
			}
		}
		refillForm(c, f.V)
		f.Preview = p
		return s.render(c, http.StatusOK, "organise_announcements.html", f)
	case "test":
		if err := s.app.TestAnnouncement(ctx, actor(c), e.ID, in); err != nil {
			return s.refuseAnnounceForm(c, f, err)
		}
		refillForm(c, f.V)
		// The page again, as typed: the organiser goes on writing.
		f.Done = localizerOf(c).T("announce.test_sent", "Email", personOf(c).Email)
		return s.render(c, http.StatusOK, "organise_announcements.html", f)
	case "send":
		if editing != 0 {
			if in.SendAt == nil {
				return s.refuseAnnounceForm(c, f, domain.Invalid("send_at", "err.announce.send_at_format"))
			}
			if _, err := s.app.EditAnnouncement(ctx, actor(c), editing, in); err != nil {
				return s.refuseAnnounceForm(c, f, err)
			}
			s.flash(c, "announce.saved")
			return c.Redirect(http.StatusSeeOther, back)
		}
		a, err := s.app.PostAnnouncement(ctx, actor(c), e.ID, in)
		if err != nil {
			return s.refuseAnnounceForm(c, f, err)
		}
		if a.Status == domain.AnnouncementSent {
			s.flash(c, "announce.sent")
		} else {
			s.flash(c, "announce.scheduled")
		}
		return c.Redirect(http.StatusSeeOther, back)
	}
	return domain.Invalid("do", "err.form.unreadable")
}
