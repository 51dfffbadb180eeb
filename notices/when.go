package notices

import (
	"fmt"
	"strings"
	"time"
)

// The same reading of a time as the pages give (server/timefmt.go): the reader's day and
// clock with their zone, and the event's own clock alongside when it differs.

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

// zoneCity is the last part of an IANA name: "America/Argentina/Buenos_Aires" → "Buenos Aires".
func zoneCity(zone string) string {
	if i := strings.LastIndexByte(zone, '/'); i >= 0 {
		zone = zone[i+1:]
	}
	return strings.ReplaceAll(zone, "_", " ")
}

// zoneLabel is "London (GMT)" or "Santiago (-03)".
func zoneLabel(loc *time.Location, at time.Time) string {
	abbr, _ := at.In(loc).Zone()
	city := zoneCity(loc.String())
	if city == abbr {
		return city
	}
	return city + " (" + abbr + ")"
}

// when is an occurrence's time for a reader.
type when struct {
	Day   string // the reader's local day, long form
	Time  string // the reader's local start–end
	Zone  string // the reader's zone (or the event's, if the reader's is unknown)
	Other string // the event's clock, when different: "15:00 London"
}

func (w when) String() string { return w.Day + ", " + w.Time + " " + w.Zone }

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
	w := when{Day: longDate(s, lang), Time: s.Format("15:04") + "–" + e.Format("15:04"), Zone: zoneLabel(loc, s)}
	es := start.In(evLoc)
	if es.Format("2006-01-02 15:04") != s.Format("2006-01-02 15:04") {
		w.Other = es.Format("15:04") + " " + zoneCity(eventZone)
		if es.Format(time.DateOnly) != s.Format(time.DateOnly) {
			w.Other = shortDate(es, lang) + ", " + w.Other
		}
	}
	return w
}
