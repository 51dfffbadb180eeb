package server

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/domain"
)

// Day and month names for the interface languages (Go's time package speaks English only).
var (
	weekdayNames = map[string][7]string{
		"en": {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"},
		"es": {"domingo", "lunes", "martes", "miércoles", "jueves", "viernes", "sábado"},
	}
	monthNames = map[string][12]string{
		"en": {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
		"es": {"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"},
	}
)

// longDate is "Thursday 12 March 2026" / "jueves 12 de marzo de 2026".
func longDate(t time.Time, lang string) string {
	wd, mn := weekdayNames[lang], monthNames[lang]
	if lang == "es" {
		return fmt.Sprintf("%s %d de %s de %d", wd[t.Weekday()], t.Day(), mn[t.Month()-1], t.Year())
	}
	return fmt.Sprintf("%s %d %s %d", weekdayNames["en"][t.Weekday()], t.Day(), monthNames["en"][t.Month()-1], t.Year())
}

// shortDate is "Thu 12 Mar" / "jue 12 mar".
func shortDate(t time.Time, lang string) string {
	wd, mn := weekdayNames[lang], monthNames[lang]
	if _, ok := weekdayNames[lang]; !ok {
		wd, mn = weekdayNames["en"], monthNames["en"]
	}
	return fmt.Sprintf("%s %d %s", cut3(wd[t.Weekday()]), t.Day(), cut3(mn[t.Month()-1]))
}

func cut3(s string) string {
	r := []rune(s)
	if len(r) > 3 {
		r = r[:3]
	}
	return string(r)
}

// zoneCity is the last part of an IANA name, for people: "America/Argentina/Buenos_Aires"
// → "Buenos Aires".
func zoneCity(zone string) string {
	if i := strings.LastIndexByte(zone, '/'); i >= 0 {
		zone = zone[i+1:]
	}
	return strings.ReplaceAll(zone, "_", " ")
}

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

func describeWhen(start, end time.Time, eventZone string, viewer *time.Location, lang string) when {
	evLoc, err := time.LoadLocation(eventZone)
	if err != nil {
		evLoc = time.UTC
	}
	loc := viewer
	if loc == nil {
		loc = evLoc
	}
	s, e := start.In(loc), end.In(loc)
	w := when{Day: longDate(s, lang), Time: s.Format("15:04") + "–" + e.Format("15:04"), Zone: zoneLabel(loc, s),
		ISO: start.In(evLoc).Format(time.RFC3339), Sortable: s}
	es := start.In(evLoc)
	if es.Format("2006-01-02 15:04") != s.Format("2006-01-02 15:04") {
		w.Other = es.Format("15:04") + " " + zoneCity(eventZone)
		if es.Format(time.DateOnly) != s.Format(time.DateOnly) {
			w.Other = shortDate(es, lang) + ", " + w.Other
		}
	}
	return w
}

// zoneLabel is "London (GMT)" or "Santiago (-03)".
func zoneLabel(loc *time.Location, at time.Time) string {
	abbr, _ := at.In(loc).Zone()
	city := zoneCity(loc.String())
	if city == abbr {
		return city // "UTC", not "UTC (UTC)"
	}
	return city + " (" + abbr + ")"
}
