package programme

import (
	"strings"
	"time"

	"github.com/teambition/rrule-go"

	"github.com/puente-org/puente/domain"
)

// Words is what Describe, Preview and FormatPair need of a language: its catalogue's messages
// (rule.*, date.*, list.and, time.your_time) and CLDR's day, month and city names. An
// *i18n.Localizer is one; programme itself holds no text.
type Words interface {
	T(id string, args ...any) string
	Weekday(d time.Weekday) string
	Month(m time.Month) string
	City(zone string) string
	Date(id string, t time.Time) string
}

// Describe says a rule in words: "Every 2 weeks on Thursday, until 17 Dec 2026" / "Cada 2
// semanas, el jueves, hasta el 17 dic 2026", "First Tuesday of every month", "Once". A rule it
// cannot put into words is returned as it is.
func Describe(value string, start time.Time, zone string, w Words) string {
	if value == "" {
		return w.T("rule.once")
	}
	r, err := parseRRule(value)
	if err != nil {
		return value
	}
	loc, err := loadZone(zone)
	if err != nil {
		return value
	}
	start = Floating(start)
	what, ok := r.describeRepeat(start, w)
	if !ok {
		return value
	}
	switch {
	case r.Count > 0:
		what = w.T("rule.end_count", "What", what, "Count", r.Count)
	case r.Until != untilNone:
		what = w.T("rule.end_until", "What", what, "Date", w.Date("date.medium", r.lastDate(start, loc)))
	}
	return what
}

// describeRepeat says how often the rule repeats, without its end.
func (r *parsedRule) describeRepeat(start time.Time, w Words) (string, bool) {
	n := r.Interval
	switch r.Freq {
	case rrule.DAILY:
		if r.hasByExcept() {
			return "", false
		}
		return w.T("rule.daily", "Count", n), true
	case rrule.WEEKLY:
		if r.hasByExcept("BYDAY") {
			return "", false
		}
		var days []time.Weekday
		for _, d := range r.ByDay {
			days = append(days, d.Day)
		}
		if len(days) == 0 {
			days = []time.Weekday{start.Weekday()}
		}
		days = sortedWeekdays(days)
		names := make([]string, len(days))
		for i, d := range days {
			names[i] = w.Weekday(d)
		}
		return w.T("rule.weekly", "Count", n, "Days", joinAnd(names, w)), true
	case rrule.MONTHLY:
		if nth, day, ok := r.monthlyNth(); ok {
			if nth < -1 || nth == 0 || nth > 5 {
				return "", false
			}
			// DayNum lets a language make the ordinal agree with the day (Portuguese "o
			// primeiro sábado", "a primeira terça-feira").
			return w.T("rule.monthly_nth", "Count", n, "Nth", nth, "Day", w.Weekday(day), "DayNum", int(day)), true
		}
		if r.hasByExcept("BYMONTHDAY") || len(r.ByMonthDay) > 1 {
			return "", false
		}
		day := start.Day()
		if len(r.ByMonthDay) == 1 {
			day = r.ByMonthDay[0]
		}
		switch {
		case day == -1:
			return w.T("rule.monthly_last", "Count", n), true
		case day < 0:
			return "", false
		}
		return w.T("rule.monthly_day", "Count", n, "Day", day), true
	case rrule.YEARLY:
		month, day := start.Month(), start.Day()
		if r.hasByExcept("BYMONTH", "BYMONTHDAY") || len(r.ByMonth) > 1 || len(r.ByMonthDay) > 1 {
			return "", false
		}
		if len(r.ByMonth) == 1 {
			month = time.Month(r.ByMonth[0])
		}
		if len(r.ByMonthDay) == 1 {
			day = r.ByMonthDay[0]
		}
		if day < 1 {
			return "", false
		}
		return w.T("rule.yearly", "Count", n, "Day", day, "Month", w.Month(month)), true
	}
	return "", false
}

// joinAnd joins words as "a, b and c" / "a, b y c" / "a, b e c".
func joinAnd(words []string, w Words) string {
	if len(words) <= 1 {
		return strings.Join(words, "")
	}
	return w.T("list.and", "List", strings.Join(words[:len(words)-1], ", "), "Last", words[len(words)-1])
}

// PreviewItem is one upcoming meeting as the series form shows it.
type PreviewItem struct {
	Start   time.Time // the instant, in the series' zone
	InZone  string    // "Thu 12 Feb 2026, 15:00 GMT" (in the series' zone)
	InOther string    // "12:00 -03" in the other zone ("" when none); the date is added when it differs
}

// MaxPreview is the most items Preview returns.
const MaxPreview = 100

// Preview validates the rule and lists its next n meetings (n <= 0: 10) starting at or after
// from, in the series' zone and in the zone other ("" for none). An unknown other zone is a
// *domain.Error for field "other_timezone"; a rule Validate refuses gives Validate's error.
func Preview(r Rule, other string, from time.Time, n int, w Words) ([]PreviewItem, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	var oloc *time.Location
	if other != "" {
		var err error
		if oloc, err = loadZone(other); err != nil {
			de, _ := domain.AsError(err)
			return nil, de.WithField("other_timezone")
		}
	}
	if n <= 0 {
		n = 10
	}
	n = min(n, MaxPreview)
	insts, err := r.Expand(from, from.AddDate(MaxYear-MinYear, 0, 0), n)
	if err != nil {
		return nil, err
	}
	out := make([]PreviewItem, len(insts))
	for i, in := range insts {
		s := in.Start
		out[i] = PreviewItem{
			Start:  s,
			InZone: w.Date("date.short_year", s) + ", " + clockZone(s),
		}
		if oloc != nil {
			o := s.In(oloc)
			out[i].InOther = clockZone(o)
			if dateOf(Floating(o)) != dateOf(Floating(s)) {
				out[i].InOther += " (" + w.Date("date.short", o) + ")"
			}
		}
	}
	return out, nil
}

// clockZone formats "15:00 GMT" / "12:00 -03".
func clockZone(t time.Time) string {
	name, _ := t.Zone()
	return t.Format("15:04") + " " + name
}

// FormatPair shows an instant as "15:00 London · 11:00 your time" (English) or
// "15:00 Londres · 11:00 tu hora" (Spanish): first in the series' zone, then in the viewer's.
// When both zones read the same clock at t, it shows only "15:00 your time"; when the viewer's
// date differs, it is added ("08:00 your time (Fri 13 Feb)"). A nil viewerZone shows only the
// series' time; a nil seriesZone means t's own location.
func FormatPair(t time.Time, seriesZone, viewerZone *time.Location, w Words) string {
	if seriesZone == nil {
		seriesZone = t.Location()
	}
	s := t.In(seriesZone)
	if viewerZone == nil {
		return s.Format("15:04") + " " + w.City(seriesZone.String())
	}
	v := t.In(viewerZone)
	viewer := w.T("time.your_time", "Time", v.Format("15:04"))
	if dateOf(Floating(v)) != dateOf(Floating(s)) {
		viewer += " (" + w.Date("date.short", v) + ")"
	}
	_, so := s.Zone()
	_, vo := v.Zone()
	if so == vo {
		return viewer
	}
	return s.Format("15:04") + " " + w.City(seriesZone.String()) + " · " + viewer
}
