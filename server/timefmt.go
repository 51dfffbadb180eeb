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

// when describes an occurrence's time for a reader (i18n.When: pages and emails alike).
type when = i18n.When

func describeWhen(start, end time.Time, eventZone string, viewer *time.Location, l *i18n.Localizer) when {
	return l.When(start, end, eventZone, viewer)
}

// zoneLabel is "London (GMT)" or "Santiago (-03)" ("Londres (GMT)" in Spanish).
func zoneLabel(l *i18n.Localizer, loc *time.Location, at time.Time) string {
	return l.ZoneLabel(loc, at)
}
