package server

import (
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/i18n"
)

// Dates and zone names come from the localizer: CLDR's day, month and city names in the
// order the catalogue's date patterns give ("Thursday 12 March 2026", "jueves 12 de marzo de
// 2026", "quinta-feira, 12 de março de 2026").

// viewerZone is the reader's zone: their profile's, else the one their browser reported
// (cookie puente_tz, set by zone.js), else nil (unknown).
func viewerZone(c echo.Context) *time.Location {
	if p := personOf(c); p != nil && p.Profile.TimeZone != "" {
		if loc, err := time.LoadLocation(p.Profile.TimeZone); err == nil {
			return loc
		}
	}
	if ck, err := c.Cookie("puente_tz"); err == nil {
		name, _ := url.QueryUnescape(ck.Value) // zone.js encodes the "/" in "America/Santiago"
		if domain.ValidTimeZone(name) == nil {
			if loc, err := time.LoadLocation(name); err == nil {
				return loc
			}
		}
	}
	return nil
}

// when describes an occurrence's time for a reader: in their zone, with the event's own
// zone alongside when its clock differs ("Thu 12 Mar, 12:00 your time · 15:00 London").
type when struct {
	Day      string // the reader's local day, long form
	Time     string // the reader's local start–end
	Zone     string // the reader's zone name (or the event's, if the reader's is unknown)
	Other    string // the event's clock, when different: "15:00 London"
	ISO      string // RFC 3339 start, for <time datetime>
	Sortable time.Time
}

func describeWhen(start, end time.Time, eventZone string, viewer *time.Location, l *i18n.Localizer) when {
	evLoc, err := time.LoadLocation(eventZone)
	if err != nil {
		evLoc = time.UTC
	}
	loc := viewer
	if loc == nil {
		loc = evLoc
	}
	s, e := start.In(loc), end.In(loc)
	w := when{Day: l.LongDate(s), Time: s.Format("15:04") + "–" + e.Format("15:04"), Zone: zoneLabel(l, loc, s),
		ISO: start.In(evLoc).Format(time.RFC3339), Sortable: s}
	es := start.In(evLoc)
	if es.Format("2006-01-02 15:04") != s.Format("2006-01-02 15:04") {
		w.Other = es.Format("15:04") + " " + l.City(eventZone)
		if es.Format(time.DateOnly) != s.Format(time.DateOnly) {
			w.Other = l.ShortDate(es) + ", " + w.Other
		}
	}
	return w
}

// zoneLabel is "London (GMT)" or "Santiago (-03)" ("Londres (GMT)" in Spanish).
func zoneLabel(l *i18n.Localizer, loc *time.Location, at time.Time) string {
	abbr, _ := at.In(loc).Zone()
	city := l.City(loc.String())
	if city == abbr {
		return city // "UTC", not "UTC (UTC)"
	}
	return city + " (" + abbr + ")"
}
