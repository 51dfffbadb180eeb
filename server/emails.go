package server

import (
	"strings"

	"github.com/puente-org/puente/calendar"
	"github.com/puente-org/puente/links"
	"github.com/puente-org/puente/notices"
	"github.com/puente-org/puente/store"
)

// Registration emails are written into the outbox as typed rows (what happened, to whom,
// about what) by the store, in the change's transaction, through the use cases of package
// app, and rendered by package notices when the mail deliverer delivers them, in the
// recipient's language and zone as they are then. The server itself only queues sign-in
// emails (through app as well).

func (s *Server) joinURL(r store.Registration) string {
	return s.absURL("/join/"+s.links.Token(links.Join, r.ID, r.LinkNonce), nil)
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
