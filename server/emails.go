package server

import (
	"bytes"
	"context"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/calendar"
	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/links"
	"github.com/puente-org/puente/markdown"
	"github.com/puente-org/puente/store"
)

// registrationMail is what the registration emails show.
type registrationMail struct {
	Lang      string
	Greeting  string
	Lead      string
	Title     string
	When      string
	Other     string
	Reason    string
	Speakers  string
	Abstract  string
	JoinLabel string
	JoinURL   string
	PageLabel string
	PageURL   string
	Cancel    string
	CancelURL string
	Footer    string
}

// outgoing collects the emails a change puts in the outbox, to announce them once the
// change has committed.
type outgoing struct{ emails []store.Email }

// notifier renders the registration emails, in the recipient's language and time zone.
// For someone who chose no language, the language of their own request (requester, lang)
// is used when they caused the email themselves; others get the default. Call
// s.sent(ctx, out) after the change succeeded.
func (s *Server) notifier(ctx context.Context, requester int64, lang string) (store.Notify, *outgoing) {
	out := &outgoing{}
	// It runs inside the store's transaction: it must not use the database itself (the
	// registration carries the recipient), or concurrent changes could starve the pool.
	return func(kind string, e domain.Event, o domain.Occurrence, r store.Registration) (*store.Email, error) {
		fallback := ""
		if r.PersonID == requester {
			fallback = lang
		}
		m, err := s.registrationEmail(kind, e, o, r, r.Recipient, fallback)
		if m != nil {
			out.emails = append(out.emails, *m)
		}
		return m, err
	}, out
}

// sent announces committed emails: it wakes the sender, or, with no SMTP server, prints
// them to the log (the zero-setup mailbox also shows them at /dev/mail).
func (s *Server) sent(ctx context.Context, out *outgoing) {
	if len(out.emails) == 0 {
		return
	}
	if s.o.DevMail {
		for _, m := range out.emails {
			s.log.InfoContext(ctx, "email kept in the outbox (no SMTP_URL set); read it at /dev/mail",
				"to", m.To, "subject", m.Subject, "body", m.Text)
		}
		return
	}
	s.o.MailQueued()
}

func (s *Server) registrationEmail(kind string, e domain.Event, o domain.Occurrence, r store.Registration, p domain.Person, fallbackLang string) (*store.Email, error) {
	lang := s.catalog.Negotiate("", p.Profile.Language, fallbackLang)
	l := s.catalog.Localizer(lang)
	var viewer *time.Location
	if p.Profile.TimeZone != "" {
		viewer, _ = time.LoadLocation(p.Profile.TimeZone)
	}
	w := describeWhen(o.Start, o.End, e.TimeZone, viewer, l)
	title := o.Title
	if title == "" {
		title = e.Title
	}
	occURL := s.absURL("/occurrences/"+itoa(o.ID), nil)
	m := registrationMail{Lang: lang, Greeting: l.T("mail.reg.greeting", "Name", p.DisplayName()),
		Lead: l.T("mail.reg.lead_"+kind, "Position", r.Position, "Email", p.Email), Title: title,
		When: w.Day + ", " + w.Time + " " + w.Zone, Other: w.Other, PageLabel: l.T("mail.reg.page"), PageURL: occURL,
		Footer: l.T("mail.reg.footer")}
	if kind == "cancelled" || kind == "removed" {
		m.Reason = o.CancelReason
	}
	var names []string
	for _, sp := range o.Speakers {
		n := sp.Name
		if sp.Affiliation != "" {
			n += " (" + sp.Affiliation + ")"
		}
		names = append(names, n)
	}
	m.Speakers = strings.Join(names, ", ")
	m.Abstract = markdown.Plain(o.Abstract, 600)
	if kind == "speaker" { // a speaker added by the organisers: no registration, no personal links
		m.Footer = l.T("mail.reg.footer_speaker")
	}
	active := kind != "cancelled" && kind != "removed" && kind != "declined" && kind != "removed_by_organiser" && kind != "speaker"
	if active && (r.Status == store.RegConfirmed) {
		m.JoinLabel, m.JoinURL = l.T("mail.reg.join", "Minutes", int(e.JoinWindow/time.Minute)), s.joinURL(r)
	}
	if active {
		m.Cancel, m.CancelURL = l.T("mail.reg.cancel"), s.cancelURL(r)
	}
	var html bytes.Buffer
	if err := s.mailPages["mail_registration.html"].Execute(&html, m); err != nil {
		return nil, err
	}
	lines := []string{m.Greeting, "", m.Lead, "", m.Title, m.When}
	if m.Other != "" {
		lines = append(lines, "("+m.Other+")")
	}
	if m.Reason != "" {
		lines = append(lines, "", m.Reason)
	}
	if m.Speakers != "" {
		lines = append(lines, m.Speakers)
	}
	if m.Abstract != "" {
		lines = append(lines, "", m.Abstract)
	}
	if m.JoinURL != "" {
		lines = append(lines, "", m.JoinLabel, m.JoinURL)
	}
	lines = append(lines, "", m.PageLabel+": "+m.PageURL)
	if m.CancelURL != "" {
		lines = append(lines, "", m.Cancel+": "+m.CancelURL)
	}
	lines = append(lines, "", m.Footer)
	subject := l.T("mail.reg.subject_"+kind, "Title", title) + " · " + w.Day
	mailKind := "registration_" + kind
	if kind == "speaker" {
		mailKind = "speaker_added"
	}
	return &store.Email{Kind: mailKind, To: p.Email, Subject: subject, Text: strings.Join(lines, "\n"),
		HTML: html.String(), ICS: s.occurrenceICS(e, o, m.JoinURL)}, nil
}

func (s *Server) joinURL(r store.Registration) string {
	return s.absURL("/join/"+s.links.Token(links.Join, r.ID, r.LinkNonce), nil)
}

func (s *Server) cancelURL(r store.Registration) string {
	return s.absURL("/registrations/cancel/"+s.links.Token(links.Cancel, r.ID, r.LinkNonce), nil)
}

// occurrenceICS is the calendar entry attached to registration emails (with the personal
// join link for confirmed places); "" when it cannot be built (the email still goes).
func (s *Server) occurrenceICS(e domain.Event, o domain.Occurrence, joinURL string) string {
	b, err := calendar.OccurrenceICS(e, o, joinURL, s.calendarOptions(e.Title, ""))
	if err != nil {
		s.log.Warn("calendar entry for an email", "occurrence", o.ID, "err", err)
		return ""
	}
	return string(b)
}

func (s *Server) calendarOptions(name, feedURL string) calendar.Options {
	return calendar.Options{Host: s.o.BaseURL.Hostname(), BaseURL: strings.TrimSuffix(s.o.BaseURL.String(), "/"),
		Name: name, FeedURL: feedURL, Now: s.o.Now()}
}

// SendReminders queues the reminders that are due (run every minute by serve).
func (s *Server) SendReminders(ctx context.Context) (int, error) {
	notify, out := s.notifier(ctx, 0, "")
	n, err := s.o.Store.SendReminders(ctx, notify)
	s.sent(ctx, out)
	return n, err
}

// requestNotifier is notifier for a change the request's person makes.
func (s *Server) requestNotifier(c echo.Context) (store.Notify, *outgoing) {
	var id int64
	if p := personOf(c); p != nil {
		id = p.ID
	}
	return s.notifier(c.Request().Context(), id, localizerOf(c).Lang())
}
