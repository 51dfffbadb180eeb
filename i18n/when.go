package i18n

import (
	"strings"
	"time"
)

// When describes a session's time for one reader: in their zone, with the event's own zone
// alongside when its clock differs ("jueves 12 de marzo de 2026, 12:00–13:00 Santiago de
// Chile (-03)" and "15:00 Londres"). Pages and emails use the same description.
type When struct {
	Day      string // the reader's local day, long form
	DayShort string // the same, short: "Thu 12 Mar", "jue 12 mar"
	Time     string // the reader's local start–end
	Zone     string // the reader's zone name (or the event's, if the reader's is unknown)
	ZoneName string // the same zone in words: "Santiago time", "hora de Londres"
	NextDay  int    // days between the start's and the end's local dates (1: ends after midnight)
	Other    string // the event's clock, when different: "15:00 London"
	ISO      string // RFC 3339 start in the event's zone, for <time datetime>
	Sortable time.Time
}

// String is the day, the time and the zone in one line.
func (w When) String() string { return w.Day + ", " + w.Time + " " + w.Zone }

// When describes start–end for a reader in viewer (nil: the event's own zone, eventZone).
func (l *Localizer) When(start, end time.Time, eventZone string, viewer *time.Location) When {
	evLoc, err := time.LoadLocation(eventZone)
	if err != nil {
		evLoc = time.UTC
	}
	loc := viewer
	if loc == nil {
		loc = evLoc
	}
	s, e := start.In(loc), end.In(loc)
	w := When{Day: l.LongDate(s), DayShort: l.ShortDate(s), Time: s.Format("15:04") + "–" + e.Format("15:04"), Zone: l.ZoneLabel(loc, s),
		ISO: start.In(evLoc).Format(time.RFC3339), Sortable: s, ZoneName: l.ZoneName(loc)}
	if end.After(start) {
		// The last minute is end - 1ns: a talk ending at 00:00 ends on its own day.
		w.NextDay = daysBetween(s, end.Add(-time.Nanosecond).In(loc))
	}
	es := start.In(evLoc)
	if es.Format("2006-01-02 15:04") != s.Format("2006-01-02 15:04") {
		w.Other = es.Format("15:04") + " " + l.City(eventZone)
		if es.Format(time.DateOnly) != s.Format(time.DateOnly) {
			w.Other = l.ShortDate(es) + ", " + w.Other
		}
	}
	return w
}

// ZoneLabel is "London (GMT)" ("Londres (GMT)" in Spanish); a zone whose abbreviation is
// only an offset ("-03") is named in words instead: "Santiago time".
func (l *Localizer) ZoneLabel(loc *time.Location, at time.Time) string {
	abbr, _ := at.In(loc).Zone()
	city := l.City(loc.String())
	if city == abbr {
		return city // "UTC", not "UTC (UTC)"
	}
	if abbr == "" || abbr[0] == '+' || abbr[0] == '-' {
		// A zone with no abbreviation of its own ("-03"): one names no place, so the zone
		// in words ("Santiago time").
		return l.ZoneName(loc)
	}
	return city + " (" + abbr + ")"
}

// ZoneName is a zone in words, by its city: "Santiago time", "hora de Santiago de Chile",
// "horário de Londres"; UTC is "UTC". Pages show it instead of an abbreviation such as
// "-03", which names no place.
func (l *Localizer) ZoneName(loc *time.Location) string {
	name := loc.String()
	if name == "UTC" || name == "Local" || name == "" || !strings.Contains(name, "/") || strings.HasPrefix(name, "Etc/") {
		return l.City(name)
	}
	return l.T("time.zone_named", "City", l.City(name))
}

// daysBetween is the number of calendar days from a's date to b's (both in one zone).
func daysBetween(a, b time.Time) int {
	da := time.Date(a.Year(), a.Month(), a.Day(), 0, 0, 0, 0, time.UTC)
	db := time.Date(b.Year(), b.Month(), b.Day(), 0, 0, 0, 0, time.UTC)
	return int(db.Sub(da).Hours() / 24)
}
