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

// announcementJSON is an announcement in the API.
type announcementJSON struct {
	ID           int64      `json:"id"`
	EventID      int64      `json:"event_id"`
	OccurrenceID int64      `json:"occurrence_id,omitempty"`
	Subject      string     `json:"subject"`
	Body         string     `json:"body"`
	BodyHTML     string     `json:"body_html"`
	Audience     string     `json:"audience,omitempty"` // only for those who manage the event
	Status       string     `json:"status"`
	SendAt       *time.Time `json:"send_at,omitempty"`
	SentAt       *time.Time `json:"sent_at,omitempty"`
	Recipients   *int       `json:"recipients,omitempty"` // only for those who manage the event
	PageURL      string     `json:"page_url,omitempty"`   // sent ones: their page in the archive
}

func (s *Server) toAnnouncementJSON(e domain.Event, a domain.Announcement, manager bool) announcementJSON {
	j := announcementJSON{ID: a.ID, EventID: a.EventID, OccurrenceID: a.OccurrenceID, Subject: a.Subject, Body: a.Body,
		BodyHTML: string(markdown.Render(a.Body)), Status: a.Status, SendAt: a.SendAt, SentAt: a.SentAt}
	if manager {
		j.Audience, j.Recipients = string(a.Audience), &a.Recipients
	} else {
		j.SendAt = nil
	}
	if a.Status == domain.AnnouncementSent {
		j.PageURL = s.absURL(announcementPath(e, a.ID), nil)
	}
	return j
}

func announcementPath(e domain.Event, id int64) string {
	return notices.ArchivePath(e) + "/" + strconv.FormatInt(id, 10)
}

// announcementRequest is the API's announcement: send_at is RFC 3339.
type announcementRequest struct {
	Subject      *string `json:"subject"`
	Body         *string `json:"body"`
	Audience     *string `json:"audience"`
	OccurrenceID *int64  `json:"occurrence_id"`
	SendAt       *string `json:"send_at"`
}

func (r announcementRequest) input() (app.AnnouncementInput, error) {
	in := app.AnnouncementInput{Subject: r.Subject, Body: r.Body, Audience: r.Audience, OccurrenceID: r.OccurrenceID}
	if r.SendAt != nil && strings.TrimSpace(*r.SendAt) != "" {
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(*r.SendAt))
		if err != nil {
			return in, domain.Invalid("send_at", "err.announce.send_at_format")
		}
		in.SendAt = &t
	}
	return in, nil
}

// apiPostAnnouncement writes an announcement to a series' or conference's list: sent now,
// or at send_at.
func (s *Server) apiPostAnnouncement(kind domain.EventKind) echo.HandlerFunc {
	return func(c echo.Context) error {
		e, err := s.managedEventOfKind(c, kind)
		if err != nil {
			return err
		}
		var req announcementRequest
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		in, err := req.input()
		if err != nil {
			return err
		}
		if in.Subject == nil {
			in.Subject = new(string)
		}
		if in.Body == nil {
			in.Body = new(string)
		}
		if in.Audience == nil {
			in.Audience = new(string)
		}
		a, err := s.app.PostAnnouncement(c.Request().Context(), actor(c), e.ID, in)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusCreated, s.toAnnouncementJSON(e, a, true))
	}
}

// apiTestAnnouncement sends the organiser a test copy of an announcement.
func (s *Server) apiTestAnnouncement(kind domain.EventKind) echo.HandlerFunc {
	return func(c echo.Context) error {
		e, err := s.managedEventOfKind(c, kind)
		if err != nil {
			return err
		}
		var req announcementRequest
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		in, err := req.input()
		if err != nil {
			return err
		}
		if err := s.app.TestAnnouncement(c.Request().Context(), actor(c), e.ID, in); err != nil {
			return err
		}
		return c.JSON(http.StatusAccepted, map[string]string{"status": "sent", "to": personOf(c).Email})
	}
}

// apiPreviewAnnouncement answers an announcement as the email will look, in the reader's
// language and zone.
func (s *Server) apiPreviewAnnouncement(kind domain.EventKind) echo.HandlerFunc {
	return func(c echo.Context) error {
		e, err := s.managedEventOfKind(c, kind)
		if err != nil {
			return err
		}
		var req announcementRequest
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		in, err := req.input()
		if err != nil {
			return err
		}
		em, err := s.previewAnnouncement(c, e, in)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]string{"subject": em.Subject, "text": em.Text, "html": em.HTML})
	}
}

// previewAnnouncement renders what an organiser wrote as its recipients will get it (in
// the organiser's language and zone), after the same checks as sending.
func (s *Server) previewAnnouncement(c echo.Context, e domain.Event, in app.AnnouncementInput) (notices.Email, error) {
	in.SendAt = nil
	a := domain.Announcement{EventID: e.ID}
	if in.Subject != nil {
		a.Subject = *in.Subject
	}
	if in.Body != nil {
		a.Body = *in.Body
	}
	if in.Audience != nil {
		a.Audience = domain.Audience(*in.Audience)
	}
	if in.OccurrenceID != nil {
		a.OccurrenceID = *in.OccurrenceID
	}
	a, err := a.Normalize(s.o.Now())
	if err != nil {
		return notices.Email{}, err
	}
	var o domain.Occurrence
	if a.OccurrenceID != 0 {
		l, err := s.o.Store.OccurrenceByID(c.Request().Context(), a.OccurrenceID)
		if err != nil || l.Event.ID != e.ID {
			return notices.Email{}, domain.Invalid("occurrence_id", "err.announce.session_unknown")
		}
		o = l.Occurrence
	}
	return notices.Announcement(localizerOf(c), viewerZone(c), e, o, a.Subject, a.Body, false, s.absURL(notices.ArchivePath(e), nil))
}

// apiAnnouncements is the archive of an event's list: its sent announcements, latest first,
// for anyone who may see the event. Its organisers may also ask for the scheduled or the
// cancelled ones (?status=).
func (s *Server) apiAnnouncements(kind domain.EventKind) echo.HandlerFunc {
	return func(c echo.Context) error {
		e, err := s.eventOfKind(c, kind)
		if err != nil {
			return err
		}
		status := c.QueryParam("status")
		switch status {
		case "", domain.AnnouncementSent:
			status = domain.AnnouncementSent
		case domain.AnnouncementScheduled, domain.AnnouncementCancelled:
			if err := s.canManage(c, e); err != nil {
				return err
			}
		default:
			return domain.Invalid("status", "err.announce.status")
		}
		list, err := s.o.Store.Announcements(c.Request().Context(), store.AnnouncementFilter{EventID: e.ID, Status: status, Limit: 200})
		if err != nil {
			return err
		}
		manager := s.managesQuietly(c, e)
		out := make([]announcementJSON, 0, len(list))
		for _, a := range list {
			out = append(out, s.toAnnouncementJSON(e, a, manager))
		}
		return c.JSON(http.StatusOK, map[string]any{"items": out})
	}
}

// announcementFromPath loads the announcement in the path with its event.
func (s *Server) announcementFromPath(c echo.Context) (domain.Announcement, domain.Event, error) {
	id, err := pathID(c, "id")
	if err != nil {
		return domain.Announcement{}, domain.Event{}, err
	}
	a, err := s.o.Store.AnnouncementByID(c.Request().Context(), id)
	if err != nil {
		return a, domain.Event{}, err
	}
	e, err := s.o.Store.EventByID(c.Request().Context(), a.EventID)
	return a, e, err
}

// apiGetAnnouncement is one announcement: a sent one for anyone, the others for the
// event's organisers only (not found for anyone else).
func (s *Server) apiGetAnnouncement(c echo.Context) error {
	a, e, err := s.announcementFromPath(c)
	if err != nil {
		return err
	}
	manager := s.managesQuietly(c, e)
	if a.Status != domain.AnnouncementSent && !manager {
		return domain.ErrNotFound
	}
	return c.JSON(http.StatusOK, s.toAnnouncementJSON(e, a, manager))
}

// apiEditAnnouncement changes a scheduled announcement before it goes.
func (s *Server) apiEditAnnouncement(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var req announcementRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	in, err := req.input()
	if err != nil {
		return err
	}
	a, err := s.app.EditAnnouncement(c.Request().Context(), actor(c), id, in)
	if err != nil {
		return err
	}
	e, err := s.o.Store.EventByID(c.Request().Context(), a.EventID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.toAnnouncementJSON(e, a, true))
}

// apiCancelAnnouncement cancels a scheduled announcement: it never goes.
func (s *Server) apiCancelAnnouncement(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	a, err := s.app.CancelAnnouncement(c.Request().Context(), actor(c), id)
	if err != nil {
		return err
	}
	e, err := s.o.Store.EventByID(c.Request().Context(), a.EventID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.toAnnouncementJSON(e, a, true))
}

// archiveItem is a sent announcement as the archive pages show it.
type archiveItem struct {
	ID       int64
	Subject  string
	Sent     string // the day it was sent, in the reader's zone
	Path     string
	BodyHTML template.HTML
}

type archivePage struct {
	Event     domain.Event
	EventPath string
	Archive   string
	Items     []archiveItem
	One       *archiveItem // the page of one announcement
}

func (s *Server) archiveItemOf(c echo.Context, e domain.Event, a domain.Announcement) archiveItem {
	it := archiveItem{ID: a.ID, Subject: a.Subject, Path: announcementPath(e, a.ID)}
	if a.SentAt != nil {
		loc := viewerZone(c)
		if loc == nil {
			loc, _ = time.LoadLocation(e.TimeZone)
		}
		if loc == nil {
			loc = time.UTC
		}
		it.Sent = localizerOf(c).LongDate(a.SentAt.In(loc))
	}
	return it
}

// eventOfSlug loads the event at a page's address, of the kind the address names.
func (s *Server) eventOfSlug(c echo.Context, kind domain.EventKind) (domain.Event, error) {
	e, err := s.o.Store.EventBySlug(c.Request().Context(), c.Param("slug"))
	if err != nil {
		return e, err
	}
	if e.Kind != kind {
		return e, echo.ErrNotFound
	}
	return e, nil
}

// announcementsPage is the public archive of a series' or conference's list: the sent
// announcements, latest first, each with its page. It is shown to whoever may see the
// event's own page (a public event, or an unlisted one to those who have its link).
func (s *Server) announcementsPage(kind domain.EventKind) echo.HandlerFunc {
	return func(c echo.Context) error {
		e, err := s.eventOfSlug(c, kind)
		if err != nil {
			return err
		}
		list, err := s.o.Store.Announcements(c.Request().Context(),
			store.AnnouncementFilter{EventID: e.ID, Status: domain.AnnouncementSent, Limit: 500})
		if err != nil {
			return err
		}
		p := archivePage{Event: e, EventPath: s.eventPath(e), Archive: notices.ArchivePath(e)}
		for _, a := range list {
			p.Items = append(p.Items, s.archiveItemOf(c, e, a))
		}
		return s.render(c, http.StatusOK, "announcements.html", p)
	}
}

// announcementPage is one sent announcement of the archive.
func (s *Server) announcementPage(kind domain.EventKind) echo.HandlerFunc {
	return func(c echo.Context) error {
		e, err := s.eventOfSlug(c, kind)
		if err != nil {
			return err
		}
		a, ae, err := s.announcementFromPath(c)
		if err != nil {
			return err
		}
		if ae.ID != e.ID || a.Status != domain.AnnouncementSent {
			return echo.ErrNotFound
		}
		it := s.archiveItemOf(c, e, a)
		it.BodyHTML = markdown.Render(a.Body)
		return s.render(c, http.StatusOK, "announcements.html", archivePage{Event: e, EventPath: s.eventPath(e), Archive: notices.ArchivePath(e), One: &it})
	}
}
