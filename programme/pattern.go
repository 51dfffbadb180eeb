package programme

import (
	"slices"
	"time"

	"github.com/teambition/rrule-go"

	"github.com/puente-org/puente/domain"
)

// Pattern is the friendly form organisers fill in instead of writing an RRULE.
type Pattern struct {
	Kind     string         // "once", "weekly", "monthly", "custom"
	Interval int            // every N weeks (weekly) / months (monthly); default 1
	Weekdays []time.Weekday // weekly: the days (default: the start date's weekday)
	Nth      int            // monthly: 1..4 or -1 (last) — "first Tuesday of the month"; 0: from the start date
	Weekday  time.Weekday   // monthly: which weekday (used when Nth is given)
	Custom   string         // custom: the RRULE text for experts (its own UNTIL/COUNT; Ends is ignored)
	Ends     string         // "never" (or ""), "until", "count"
	Until    time.Time      // ends=until: the last local date (wall, date part used)
	Count    int            // ends=count
}

// Kinds of Pattern.
const (
	KindOnce    = "once"
	KindWeekly  = "weekly"
	KindMonthly = "monthly"
	KindCustom  = "custom"
)

// Ways a Pattern ends.
const (
	EndsNever = "never"
	EndsUntil = "until"
	EndsCount = "count"
)

// RRule builds the rule value for a series starting at start (wall) in zone. UNTIL is written in
// UTC as the end of the last local day (23:59:59 local, "…Z"), as calendars expect. A "once"
// pattern gives "". A custom rule is tidied by CanonicalRRule. Errors are *domain.Error with
// fields "interval", "weekdays", "nth", "until", "count", "ends", "rrule" or "timezone".
// Whether start is one of the rule's dates is for Rule.Validate to say.
func (p Pattern) RRule(start time.Time, zone string) (string, error) {
	start = Floating(start)
	switch p.Kind {
	case KindOnce:
		return "", nil
	case KindCustom:
		if p.Custom == "" {
			return "", domain.Invalid("rrule", "err.pattern.custom")
		}
		return CanonicalRRule(p.Custom, zone)
	case KindWeekly, KindMonthly:
	default:
		return "", domain.Invalid("rrule", "err.pattern.kind")
	}
	loc, err := loadZone(zone)
	if err != nil {
		return "", err
	}
	interval := p.Interval
	if interval == 0 {
		interval = 1
	}
	if interval < 1 || interval > MaxInterval {
		return "", domain.Invalid("interval", "err.pattern.interval", "Max", MaxInterval)
	}
	r := &parsedRule{Interval: interval, Wkst: time.Monday}
	if p.Kind == KindWeekly {
		r.Freq = rrule.WEEKLY
		days := p.Weekdays
		if len(days) == 0 {
			days = []time.Weekday{start.Weekday()}
		}
		for _, d := range sortedWeekdays(days) {
			if d < time.Sunday || d > time.Saturday {
				return "", domain.Invalid("weekdays", "err.pattern.weekdays")
			}
			if len(r.ByDay) == 0 || r.ByDay[len(r.ByDay)-1].Day != d {
				r.ByDay = append(r.ByDay, dayNum{Day: d})
			}
		}
	} else {
		r.Freq = rrule.MONTHLY
		nth, day := p.Nth, p.Weekday
		if nth == 0 {
			nth, day = nthOf(start), start.Weekday()
		}
		if nth != -1 && (nth < 1 || nth > 4) {
			return "", domain.Invalid("nth", "err.pattern.nth")
		}
		if day < time.Sunday || day > time.Saturday {
			return "", domain.Invalid("weekdays", "err.pattern.weekday")
		}
		r.ByDay = []dayNum{{Day: day, N: nth}}
	}
	switch p.Ends {
	case "", EndsNever:
	case EndsUntil:
		if p.Until.IsZero() {
			return "", domain.Invalid("until", "err.pattern.until")
		}
		last := dateOf(Floating(p.Until))
		if last.Before(dateOf(start)) {
			return "", domain.Invalid("until", "err.pattern.until_before", "Date", start)
		}
		if last.Year() > MaxYear {
			return "", domain.Invalid("until", "err.pattern.until_year", "Year", MaxYear+1)
		}
		r.Until, r.UntilUTC = untilUTC, endOfLocalDay(last, loc)
	case EndsCount:
		if p.Count < 1 || p.Count > MaxCount {
			return "", domain.Invalid("count", "err.pattern.count", "Max", MaxCount)
		}
		r.Count = p.Count
	default:
		return "", domain.Invalid("ends", "err.pattern.ends")
	}
	return r.String(), nil
}

// sortedWeekdays returns days sorted Monday first (as calendars list them).
func sortedWeekdays(days []time.Weekday) []time.Weekday {
	out := slices.Clone(days)
	slices.SortFunc(out, func(a, b time.Weekday) int { return mondayFirst(a) - mondayFirst(b) })
	return out
}

func mondayFirst(d time.Weekday) int { return (int(d) + 6) % 7 }

// nthOf says which of its weekday in the month a date is: 1..4, or -1 for the last
// (a fifth one is the last).
func nthOf(d time.Time) int {
	n := (d.Day()-1)/7 + 1
	if n >= 5 {
		return -1
	}
	return n
}

// dateOf returns the date of a wall time, at midnight.
func dateOf(w time.Time) time.Time {
	return time.Date(w.Year(), w.Month(), w.Day(), 0, 0, 0, 0, time.UTC)
}

// lastDate returns the local date an UNTIL stands for in a form: the date of the last meeting
// it allows, for a series meeting at start's time of day.
func (p *parsedRule) lastDate(start time.Time, loc *time.Location) time.Time {
	switch p.Until {
	case untilDate:
		return p.UntilDate
	case untilUTC:
		w := WallIn(p.UntilUTC, loc)
		d := dateOf(w)
		if w.Sub(d) < Floating(start).Sub(dateOf(Floating(start))) {
			d = d.AddDate(0, 0, -1) // UNTIL falls before that day's meeting time
		}
		return d
	}
	return time.Time{}
}

// PatternOf turns a stored RRULE back into the form. Kind is "custom" (Custom holding the rule)
// when the form cannot show it; Ends, Until and Count are filled in whenever the rule is readable.
func PatternOf(value string, start time.Time, zone string) Pattern {
	if value == "" {
		return Pattern{Kind: KindOnce, Interval: 1, Ends: EndsNever}
	}
	custom := Pattern{Kind: KindCustom, Custom: value, Interval: 1, Ends: EndsNever}
	r, err := parseRRule(value)
	if err != nil {
		return custom
	}
	loc, err := loadZone(zone)
	if err != nil {
		return custom
	}
	pat := Pattern{Interval: r.Interval, Ends: EndsNever}
	switch {
	case r.Count > 0:
		pat.Ends, pat.Count = EndsCount, r.Count
	case r.Until != untilNone:
		pat.Ends, pat.Until = EndsUntil, r.lastDate(start, loc)
	}
	custom.Ends, custom.Count, custom.Until = pat.Ends, pat.Count, pat.Until
	custom.Interval = r.Interval
	start = Floating(start)
	switch {
	case r.Freq == rrule.WEEKLY && !r.hasByExcept("BYDAY") && (!r.HasWkst || r.Wkst == time.Monday || len(r.ByDay) < 2 || r.Interval == 1):
		pat.Kind = KindWeekly
		for _, d := range r.ByDay {
			pat.Weekdays = append(pat.Weekdays, d.Day)
		}
		if len(pat.Weekdays) == 0 {
			pat.Weekdays = []time.Weekday{start.Weekday()}
		}
		pat.Weekdays = sortedWeekdays(pat.Weekdays)
		return pat
	case r.Freq == rrule.MONTHLY:
		if nth, day, ok := r.monthlyNth(); ok && nth >= -1 && nth <= 4 && nth != 0 {
			pat.Kind, pat.Nth, pat.Weekday = KindMonthly, nth, day
			return pat
		}
	}
	return custom
}

// monthlyNth recognises "the Nth weekday of the month", written as BYDAY=2TU or as
// BYDAY=TU;BYSETPOS=2, with no other BY parts.
func (p *parsedRule) monthlyNth() (nth int, day time.Weekday, ok bool) {
	if len(p.ByDay) != 1 {
		return 0, 0, false
	}
	d := p.ByDay[0]
	switch {
	case d.N != 0 && !p.hasByExcept("BYDAY"):
		return d.N, d.Day, true
	case d.N == 0 && len(p.BySetPos) == 1 && !p.hasByExcept("BYDAY", "BYSETPOS"):
		return p.BySetPos[0], d.Day, p.BySetPos[0] >= -5 && p.BySetPos[0] <= 5
	}
	return 0, 0, false
}
