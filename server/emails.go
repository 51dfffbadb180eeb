package server

import (
	"context"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/calendar"
	"github.com/puente-org/puente/links"
	"github.com/puente-org/puente/notices"
	"github.com/puente-org/puente/store"
)

// Registration emails are written into the outbox as typed rows (what happened, to whom,
// about what) by the store, in the change's transaction, and rendered by package notices
// when the mail deliverer delivers them, in the recipient's language and zone as they are
// then. The server only says who made a change and what it adds (an organiser's message, a
// sign-in link), and wakes the deliverer once the change committed.

// outgoing collects emails the server rendered itself (sign-in links), to announce them
// once the change has committed.
type outgoing struct{ emails []store.Email }

// notifier says who makes a change (requester, 0 for an organiser or the system) and the
// language of their page, which their own emails fall back to when their profile names
// none. Call s.sent(ctx, out) after the change succeeded.
func (s *Server) notifier(_ context.Context, requester int64, lang string) (*store.Notify, *outgoing) {
	return &store.Notify{By: requester, Lang: lang}, &outgoing{}
}

// requestNotifier is notifier for a change the request's person makes.
func (s *Server) requestNotifier(c echo.Context) (*store.Notify, *outgoing) {
	var id int64
	if p := personOf(c); p != nil {
		id = p.ID
	}
	return s.notifier(c.Request().Context(), id, localizerOf(c).Lang())
}

// sent wakes the deliverer after a change that may have put emails in the outbox: the SMTP
// sender, or with no SMTP server the local delivery, which renders them for the local
// mailbox (/dev/mail) and the log.
func (s *Server) sent(_ context.Context, _ *outgoing) {
	s.o.MailQueued()
}

func (s *Server) joinURL(r store.Registration) string {
	return s.absURL("/join/"+s.links.Token(links.Join, r.ID, r.LinkNonce), nil)
}

func (s *Server) cancelURL(r store.Registration) string {
	return s.absURL("/registrations/cancel/"+s.links.Token(links.Cancel, r.ID, r.LinkNonce), nil)
}

// calendarOptions are a feed's or download's settings, with the calendar's words in lang
// ("" keeps them English).
func (s *Server) calendarOptions(name, feedURL, lang string) calendar.Options {
	o := calendar.Options{Host: s.o.BaseURL.Hostname(), BaseURL: strings.TrimSuffix(s.o.BaseURL.String(), "/"),
		Name: name, FeedURL: feedURL, Now: s.o.Now()}
	if lang != "" && s.catalog.Supported(lang) {
		o.Labels = notices.Labels(s.catalog.Localizer(lang))
	}
	return o
}

// SendReminders queues the reminders that are due (run every minute by serve).
func (s *Server) SendReminders(ctx context.Context) (int, error) {
	n, err := s.o.Store.SendReminders(ctx)
	if n > 0 {
		s.o.MailQueued()
	}
	return n, err
}
