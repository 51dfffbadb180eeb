// Package notices renders the emails that tell people what happened to their registrations
// (confirmed, waitlisted, moved, cancelled, reminders, organisers' messages, …). The outbox
// holds them as typed rows (domain.Notice); the mail deliverer renders each one when it
// delivers it, from the person, registration, session and event as they are then, so the
// email speaks the recipient's current language and shows times in their current zone.
// Nothing is rendered while a registration holds a session's lock.
package notices

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/puente-org/puente/calendar"
	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/frontend"
	"github.com/puente-org/puente/frontend/locales"
	"github.com/puente-org/puente/i18n"
	"github.com/puente-org/puente/links"
	"github.com/puente-org/puente/mail"
	"github.com/puente-org/puente/markdown"
)

// Source reads what a notice is about, as it is now (implemented by the store).
type Source interface {
	NoticeFacts(ctx context.Context, n domain.Notice) (domain.NoticeFacts, error)
}

// Options configure a Renderer. Source, BaseURL and LinkKey are required.
type Options struct {
	Source  Source
	BaseURL *url.URL // public URL for links
	// LinkKey signs the personal join and cancel links: the web server's key.
	LinkKey []byte
	Now     func() time.Time // default time.Now
	Logger  *slog.Logger
}

// Renderer renders notices; it implements mail.Renderer.
type Renderer struct {
	src     Source
	base    *url.URL
	links   *links.Signer
	catalog *i18n.Catalog
	html    *template.Template
	// followHTML is the daily news of what a person follows (follows.go).
	followHTML *template.Template
	// digestHTML is the weekly digest's template.
	digestHTML *template.Template
	now        func() time.Time
	log        *slog.Logger
}

// New loads the catalogues and the email template.
func New(o Options) (*Renderer, error) {
	if o.Source == nil || o.BaseURL == nil || len(o.LinkKey) == 0 {
		return nil, errors.New("notices: Source, BaseURL and LinkKey are required")
	}
	catalog, err := i18n.Load(frontend.Locales(), locales.Default)
	if err != nil {
		return nil, fmt.Errorf("notices: %w", err)
	}
	html, err := template.ParseFS(frontend.Templates(), "mail_registration.html")
	if err != nil {
		return nil, fmt.Errorf("notices: %w", err)
	}
	followHTML, err := template.ParseFS(frontend.Templates(), "mail_follow_updates.html")
	if err != nil {
		return nil, fmt.Errorf("notices: %w", err)
	}
	digestHTML, err := template.ParseFS(frontend.Templates(), "mail_digest.html")
	if err != nil {
		return nil, fmt.Errorf("notices: %w", err)
	}
	r := &Renderer{src: o.Source, base: o.BaseURL, links: links.New(o.LinkKey), catalog: catalog, html: html,
		followHTML: followHTML, digestHTML: digestHTML, now: o.Now, log: o.Logger}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r, nil
}

// Render makes the email of a typed outbox row. A person or registration that no longer
// exists makes it permanently undeliverable (mail.ErrInvalidMessage).
func (r *Renderer) Render(ctx context.Context, m mail.Message) (mail.Message, error) {
	if m.Notice == nil {
		return m, nil
	}
	n := *m.Notice
	if !n.Kind.Valid() {
		return m, fmt.Errorf("%w: unknown notice kind %q", mail.ErrInvalidMessage, n.Kind)
	}
	f, err := r.src.NoticeFacts(ctx, n)
	if err != nil {
		var de *domain.Error
		if errors.As(err, &de) && de.Code == domain.CodeNotFound {
			return m, fmt.Errorf("%w: %s", mail.ErrInvalidMessage, de.Error())
		}
		return m, err
	}
	if superseded(n.Kind, f.Place.Status) {
		return m, fmt.Errorf("%w: a %s notice for a place now %s", mail.ErrSuperseded, n.Kind, f.Place.Status)
	}
	e, err := r.Email(n, f)
	if err != nil {
		return m, err
	}
	m.To, m.Subject, m.Text, m.HTML, m.ICS = e.To, e.Subject, e.Text, e.HTML, e.ICS
	if e.ReplyTo != "" {
		m.ReplyTo = e.ReplyTo
	}
	if n.List != "" {
		if err := r.listMail(ctx, n, f, &m); err != nil {
			return m, err
		}
	} else if err := r.checkSuppressed(ctx, m.To); err != nil {
		return m, err
	}
	return m, nil
}

// Email is a rendered notice.
type Email struct {
	To, Subject, Text, HTML, ICS string
	ReplyTo                      string // a relayed message's sender
}

// reader is who reads a notice: their language and zone.
type reader struct {
	lang string
	l    *i18n.Localizer
	zone *time.Location // nil: the event's
}

// readerOf is who reads: their profile's language, else the language of the page they acted
// from, else the language of the event's talks (a speaker added by address, an account made
// by an admin), else the default.
func (r *Renderer) readerOf(p domain.Person, fallbackLangs ...string) reader {
	lang := r.catalog.Negotiate("", append([]string{p.Profile.Language}, fallbackLangs...)...)
	rd := reader{lang: lang, l: r.catalog.Localizer(lang)}
	if p.Profile.TimeZone != "" {
		if loc, err := time.LoadLocation(p.Profile.TimeZone); err == nil {
			rd.zone = loc
		}
	}
	return rd
}

// Email renders notice n about f.
func (r *Renderer) Email(n domain.Notice, f domain.NoticeFacts) (Email, error) {
	if n.Kind == domain.NoticeWeeklyDigest {
		return r.weeklyDigest(n, f)
	}
	rd := r.readerOf(f.Person, n.Payload.Lang, f.Event.Language)
	switch n.Kind {
	case domain.NoticeEventRegistration:
		return r.eventRegistration(rd, n, f)
	case domain.NoticeFollowUpdates:
		return r.followUpdates(rd, n, f)
	}
	if n.Kind == domain.NoticeContact {
		return r.contact(rd, n, f)
	}
	if n.Kind == domain.NoticeAnnouncement {
		return r.announcement(rd, n, f)
	}
	return r.registration(rd, n, f)
}

// texts are the catalogue keys of a notice: the lead paragraph and the subject.
type texts struct{ lead, subject string }

var kindTexts = map[domain.NoticeKind]texts{
	domain.NoticeConfirmed:          {"mail.reg.lead_confirmed", "mail.reg.subject_confirmed"},
	domain.NoticeWaitlisted:         {"mail.reg.lead_waitlisted", "mail.reg.subject_waitlisted"},
	domain.NoticePending:            {"mail.reg.lead_pending", "mail.reg.subject_pending"},
	domain.NoticeHeld:               {"mail.reg.lead_held", "mail.reg.subject_held"},
	domain.NoticeSpeakerAdded:       {"mail.reg.lead_speaker", "mail.reg.subject_speaker"},
	domain.NoticeApproved:           {"mail.reg.lead_approved", "mail.reg.subject_approved"},
	domain.NoticePromoted:           {"mail.reg.lead_promoted", "mail.reg.subject_promoted"},
	domain.NoticeDeclined:           {"mail.reg.lead_declined", "mail.reg.subject_declined"},
	domain.NoticeRemovedByOrganiser: {"mail.reg.lead_removed_by_organiser", "mail.reg.subject_removed_by_organiser"},
	domain.NoticeMoved:              {"mail.reg.lead_moved", "mail.reg.subject_moved"},
	domain.NoticeCancelled:          {"mail.reg.lead_cancelled", "mail.reg.subject_cancelled"},
	domain.NoticeRemoved:            {"mail.reg.lead_removed", "mail.reg.subject_removed"},
	domain.NoticeReminder:           {"mail.reg.lead_reminder", "mail.reg.subject_reminder"},
	domain.NoticeMessage:            {"mail.reg.lead_message", "mail.reg.subject_message"},
}

// ended reports whether a notice says the person no longer has a place.
func ended(k domain.NoticeKind) bool {
	switch k {
	case domain.NoticeCancelled, domain.NoticeRemoved, domain.NoticeDeclined, domain.NoticeRemovedByOrganiser:
		return true
	}
	return false
}

func active(status domain.RegistrationStatus) bool {
	return status.Valid() && status.Active()
}

// registrationMail is what the registration email template shows.
type registrationMail struct {
	Lang       string
	Greeting   string
	Lead       string
	Title      string
	When       string
	Other      string
	Reason     string
	Speakers   string
	Abstract   string
	JoinLabel  string
	JoinURL    string
	PageLabel  string
	PageURL    string
	Cancel     string
	CancelURL  string
	Footer     string
	SignIn     string
	SignInURL  string
	Confirm    string
	ConfirmURL string
	Notes      []string // paragraphs after the session (the whole-series summary's)
}

func (r *Renderer) registration(rd reader, n domain.Notice, f domain.NoticeFacts) (Email, error) {
	l, e, o := rd.l, f.Event, f.Occurrence
	if o.ID == 0 && n.Payload.Occurrence != nil {
		o = *n.Payload.Occurrence // a removed session, as it was
	}
	if o.ID == 0 {
		return Email{}, fmt.Errorf("%w: the session of a %s notice is gone", mail.ErrInvalidMessage, n.Kind)
	}
	title := sessionTitle(e, o)
	w := rd.l.When(o.Start, o.End, e.TimeZone, rd.zone)
	t := kindTexts[n.Kind]
	m := registrationMail{Lang: rd.lang, Greeting: l.T("mail.reg.greeting", "Name", greetingName(f.Person, o)),
		Lead: l.T(t.lead, "Position", f.Place.Position, "Email", f.Person.Email), Title: title, When: w.String(), Other: w.Other,
		PageLabel: l.T("mail.reg.page"), PageURL: r.absURL("/occurrences/" + strconv.FormatInt(o.ID, 10)),
		Footer: l.T("mail.reg.footer")}
	if n.Kind == domain.NoticeMoved && n.Payload.PreviousStart != nil && !n.Payload.PreviousStart.Equal(o.Start) {
		was := rd.l.When(*n.Payload.PreviousStart, n.Payload.PreviousStart.Add(o.End.Sub(o.Start)), e.TimeZone, rd.zone)
		m.Reason = l.T("mail.notice.previously", "When", was.Day+", "+was.Time)
	}
	if n.Kind == domain.NoticeCancelled || n.Kind == domain.NoticeRemoved {
		m.Reason = n.Payload.CancelReason
		if m.Reason == "" {
			m.Reason = o.CancelReason
		}
	}
	var names []string
	for _, sp := range o.Speakers {
		name := sp.Name
		if sp.Affiliation != "" {
			name += " (" + sp.Affiliation + ")"
		}
		names = append(names, name)
	}
	m.Speakers = strings.Join(names, ", ")
	m.Abstract = markdown.Plain(o.Abstract, 600)
	stillActive := !ended(n.Kind) && active(f.Place.Status)
	if stillActive && f.Place.Status == domain.RegConfirmed {
		m.JoinLabel = l.T("mail.reg.join", "Minutes", int(e.JoinWindow/time.Minute))
		m.JoinURL = r.joinURL(f.Place)
	}
	if stillActive {
		m.Cancel = l.T("mail.reg.cancel")
		m.CancelURL = r.cancelURL(f.Place)
	}
	if stillActive && f.Place.Status == domain.RegHeld {
		// Registered by email: the place is only held until the address is confirmed.
		m.Confirm = l.T("registration.confirm_line", "Minutes", int(domain.UnconfirmedHold/time.Minute))
		m.ConfirmURL = r.absURL("/registrations/confirm/" + r.links.Token(links.Confirm, f.Place.ID, f.Place.LinkNonce))
	}
	if n.Kind == domain.NoticeSpeakerAdded {
		m.Footer = l.T("mail.reg.footer_speaker")
	}
	if n.Payload.SignInURL != "" {
		m.SignIn, m.SignInURL = l.T("registration.sign_in_line"), n.Payload.SignInURL
	}
	subject := l.T(t.subject, "Title", title) + " · " + w.Day
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
	if m.ConfirmURL != "" {
		lines = append(lines, "", m.Confirm, m.ConfirmURL)
	}
	if m.JoinURL != "" {
		lines = append(lines, "", m.JoinLabel, m.JoinURL)
	}
	lines = append(lines, "", m.PageLabel+": "+m.PageURL)
	if m.CancelURL != "" {
		lines = append(lines, "", m.Cancel+": "+m.CancelURL)
	}
	lines = append(lines, "", m.Footer)
	if m.SignInURL != "" {
		lines = append(lines, "", m.SignIn, m.SignInURL)
	}
	text := strings.Join(lines, "\n")
	if n.Kind == domain.NoticeMessage {
		// The organisers' own words, then the session as above; no calendar entry.
		return Email{To: f.Person.Email, Subject: n.Payload.Subject,
			Text: n.Payload.Body + "\n\n— " + e.Title + "\n\n" + text}, nil
	}
	var html bytes.Buffer
	if err := r.html.Execute(&html, m); err != nil {
		return Email{}, fmt.Errorf("render a %s notice: %w", n.Kind, err)
	}
	return Email{To: f.Person.Email, Subject: subject, Text: text, HTML: html.String(),
		ICS: r.calendarEntry(rd, n.Kind, e, o, f.Place, m.JoinURL)}, nil
}

// calendarEntry is the .ics of a notice: the session, confirmed, for someone who has a
// place; a cancellation when the session or their place is gone; nothing for someone
// waiting or awaiting approval (a calendar entry would promise a place they do not have).
func (r *Renderer) calendarEntry(rd reader, k domain.NoticeKind, e domain.Event, o domain.Occurrence, p domain.NoticePlace, joinURL string) string {
	switch {
	case k == domain.NoticeCancelled || k == domain.NoticeRemoved || k == domain.NoticeRemovedByOrganiser:
		o.Status = domain.StatusCancelled
		joinURL = ""
	case ended(k) || p.Status != domain.RegConfirmed || o.Status == domain.StatusCancelled:
		return ""
	}
	b, err := calendar.OccurrenceICS(e, o, joinURL, calendar.Options{Host: r.base.Hostname(),
		BaseURL: strings.TrimSuffix(r.base.String(), "/"), Name: e.Title, Now: r.now(), Labels: Labels(rd.l)})
	if err != nil {
		r.log.Warn("calendar entry for an email", "occurrence", o.ID, "err", err)
		return ""
	}
	return string(b)
}

// Labels are the calendar's words in l's language.
func Labels(l *i18n.Localizer) calendar.Labels {
	return calendar.Labels{Cancelled: l.T("ics.cancelled"), Speaker: l.T("ics.speaker"), Speakers: l.T("ics.speakers"),
		Join: l.T("ics.join"), JoinOnline: l.T("ics.join_online"), MyFeed: l.T("ics.my_feed")}
}

// MySeminarsPath is the page (on the web server) where a person finds every session they
// registered for, with its join link and its cancellation: the one link of the
// whole-series email.
const MySeminarsPath = "/my-seminars"

// eventRegistration is the one email of a whole-series or conference registration: a
// summary (how many sessions, the first and the last in the reader's zone, how many are
// full or await approval) and one link, to the person's page of their seminars, where each
// session has its join link and its cancellation. A long series would otherwise make an
// email of a hundred links.
func (r *Renderer) eventRegistration(rd reader, n domain.Notice, f domain.NoticeFacts) (Email, error) {
	l, e := rd.l, f.Event
	m := registrationMail{Lang: rd.lang, Greeting: l.T("mail.reg.greeting", "Name", f.Person.DisplayName()), Title: e.Title,
		PageLabel: l.T("mail.event.my_seminars"), PageURL: r.absURL(MySeminarsPath), Footer: l.T("mail.reg.footer")}
	waiting, pending := 0, 0
	for _, s := range f.Sessions {
		switch s.Place.Status {
		case domain.RegWaitlisted:
			waiting++
		case domain.RegPending:
			pending++
		}
	}
	switch count := len(f.Sessions); count {
	case 0:
		m.Lead = l.T("mail.event.lead_none", "Title", e.Title)
	case 1:
		m.Lead = l.T("mail.event.lead_summary", "Title", e.Title, "Count", count)
		o := f.Sessions[0].Occurrence
		m.When = l.When(o.Start, o.End, e.TimeZone, rd.zone).String()
	default:
		m.Lead = l.T("mail.event.lead_summary", "Title", e.Title, "Count", count)
		first, last := f.Sessions[0].Occurrence, f.Sessions[count-1].Occurrence
		m.When = l.T("mail.event.first_last", "First", l.When(first.Start, first.End, e.TimeZone, rd.zone).String(),
			"Last", l.When(last.Start, last.End, e.TimeZone, rd.zone).String())
	}
	if waiting > 0 {
		m.Notes = append(m.Notes, l.T("mail.event.waiting", "Count", waiting))
	}
	if pending > 0 {
		m.Notes = append(m.Notes, l.T("mail.event.pending", "Count", pending))
	}
	m.Notes = append(m.Notes, l.T("mail.event.where"))
	if n.Payload.SignInURL != "" {
		m.SignIn, m.SignInURL = l.T("registration.sign_in_line"), n.Payload.SignInURL
	}
	lines := []string{m.Greeting, "", m.Lead, "", m.Title}
	if m.When != "" {
		lines = append(lines, m.When)
	}
	for _, note := range m.Notes {
		lines = append(lines, "", note)
	}
	lines = append(lines, "", m.PageLabel+": "+m.PageURL, "", m.Footer)
	if m.SignInURL != "" {
		lines = append(lines, "", m.SignIn, m.SignInURL)
	}
	var html bytes.Buffer
	if err := r.html.Execute(&html, m); err != nil {
		return Email{}, fmt.Errorf("render a %s notice: %w", n.Kind, err)
	}
	return Email{To: f.Person.Email, Subject: l.T("mail.event.subject", "Title", e.Title), Text: strings.Join(lines, "\n"),
		HTML: html.String()}, nil
}

// sessionTitle is a session's own title, else its event's.
func sessionTitle(e domain.Event, o domain.Occurrence) string {
	if o.Title != "" {
		return o.Title
	}
	return e.Title
}

// joinURL and cancelURL are a place's personal links, signed with its current nonce.
func (r *Renderer) joinURL(p domain.NoticePlace) string {
	return r.absURL("/join/" + r.links.Token(links.Join, p.ID, p.LinkNonce))
}

func (r *Renderer) cancelURL(p domain.NoticePlace) string {
	return r.absURL("/registrations/cancel/" + r.links.Token(links.Cancel, p.ID, p.LinkNonce))
}

// absURL is a public URL under the base URL (which may include a path prefix).
func (r *Renderer) absURL(path string) string {
	u := *r.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = ""
	return u.String()
}

// greetingName is how an email greets its reader: their name, else the name the organisers
// gave a speaker with that address, else the address itself.
func greetingName(p domain.Person, o domain.Occurrence) string {
	if p.Profile.Name != "" {
		return p.Profile.Name
	}
	for _, sp := range o.Speakers {
		if sp.Name != "" && strings.EqualFold(sp.Email, p.Email) {
			return sp.Name
		}
	}
	return p.DisplayName()
}

// superseded reports whether a notice announcing a place is out of date: the place has
// changed since (a person told "you are on the waitlist" who has a place by now gets the
// "promoted" notice instead, not both). Notices about the session (moved, cancelled,
// reminders, messages) always go.
func superseded(k domain.NoticeKind, status domain.RegistrationStatus) bool {
	var want domain.RegistrationStatus
	switch k {
	case domain.NoticeConfirmed, domain.NoticeApproved, domain.NoticePromoted:
		want = domain.RegConfirmed
	case domain.NoticeWaitlisted:
		want = domain.RegWaitlisted
	case domain.NoticePending:
		want = domain.RegPending
	case domain.NoticeHeld:
		want = domain.RegHeld
	default:
		return false
	}
	return status != want
}
