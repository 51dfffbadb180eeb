package notices

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/frontend"
	"github.com/puente-org/puente/i18n"
	"github.com/puente-org/puente/markdown"
)

// announcementMail is what the announcement email template shows.
type announcementMail struct {
	Lang      string
	From      string // the series or conference
	Test      string // a test's warning, "" for the real thing
	Subject   string
	Session   string // the session whose registrants it is for, if one
	When      string
	Other     string
	Body      template.HTML // the organisers' Markdown, rendered and sanitised
	PageLabel string
	PageURL   string
	Footer    string // for one session's registrants: which session
}

// Announcement is an announcement as the email its reader gets: l is the reader's
// language, zone their time zone (nil: the event's), o the session it is for (zero for
// the whole event), test whether it is the organiser's test copy. The body is rendered
// from Markdown and sanitised (package markdown) for the HTML part and read back as text
// for the text part, so neither carries a script or an event handler. The organisers'
// page for writing announcements shows the same rendering as its preview.
func Announcement(l *i18n.Localizer, zone *time.Location, e domain.Event, o domain.Occurrence, subject, body string,
	test bool, archiveURL string) (Email, error) {
	tmpl, err := template.ParseFS(frontend.Templates(), "mail_announcement.html")
	if err != nil {
		return Email{}, fmt.Errorf("announcement template: %w", err)
	}
	return announcement(tmpl, l, zone, e, o, subject, body, test, archiveURL)
}

func announcement(tmpl *template.Template, l *i18n.Localizer, zone *time.Location, e domain.Event, o domain.Occurrence,
	subject, body string, test bool, archiveURL string) (Email, error) {
	m := announcementMail{Lang: l.Lang(), From: e.Title, Subject: subject, Body: markdown.Render(body),
		PageLabel: l.T("mail.announce.archive"), PageURL: archiveURL}
	if test {
		m.Test = l.T("mail.announce.test_note")
		subject = l.T("mail.announce.test_subject", "Subject", subject)
	}
	if o.ID != 0 {
		w := l.When(o.Start, o.End, e.TimeZone, zone)
		m.Session, m.When, m.Other = sessionTitle(e, o), w.String(), w.Other
		m.Footer = l.T("mail.announce.footer_session", "Title", m.Session)
	}
	lines := []string{e.Title}
	if m.Test != "" {
		lines = append(lines, "", m.Test)
	}
	if m.Session != "" {
		lines = append(lines, "", m.Session, m.When)
		if m.Other != "" {
			lines = append(lines, "("+m.Other+")")
		}
	}
	// Why the reader receives it, and how to leave, is the list's footer (added to every
	// list email); a session's registrants are told which session.
	lines = append(lines, "", markdown.Text(body), "", m.PageLabel+": "+m.PageURL)
	if m.Footer != "" {
		lines = append(lines, "", m.Footer)
	}
	var html bytes.Buffer
	if err := tmpl.Execute(&html, m); err != nil {
		return Email{}, fmt.Errorf("render an announcement: %w", err)
	}
	return Email{Subject: subject, Text: strings.Join(lines, "\n"), HTML: html.String()}, nil
}

// ArchivePath is the public archive of an event's announcements (the web server serves it).
func ArchivePath(e domain.Event) string {
	if e.Kind == domain.KindConference {
		return "/conferences/" + e.Slug + "/announcements"
	}
	return "/series/" + e.Slug + "/announcements"
}

// announcement renders an announcement notice for its reader. A notice with no list is
// the organiser's test copy.
func (r *Renderer) announcement(rd reader, n domain.Notice, f domain.NoticeFacts) (Email, error) {
	tmpl, err := template.ParseFS(frontend.Templates(), "mail_announcement.html")
	if err != nil {
		return Email{}, fmt.Errorf("announcement template: %w", err)
	}
	em, err := announcement(tmpl, rd.l, rd.zone, f.Event, f.Occurrence, n.Payload.Subject, n.Payload.Body, n.List == "",
		r.absURL(ArchivePath(f.Event)))
	em.To = f.Person.Email
	return em, err
}
