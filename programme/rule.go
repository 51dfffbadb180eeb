// Package programme holds the recurrence logic of seminar series: a series is stored as a local
// wall time, an IANA time zone and an RFC 5545 RRULE (plus RDATE/EXDATE), never as UTC instants,
// and this package checks such rules, expands them into meetings, and says them in words.
//
// A "wall time" is a time.Time in time.UTC that stands for a local clock reading (as PostgreSQL
// `timestamp without time zone` comes back through pgx). Rules are expanded in floating time
// (BYDAY, BYMONTHDAY and INTERVAL act on local calendar days) and each wall time is then resolved
// in the series' zone, so a 15:00 London seminar stays at 15:00 London all year.
//
// The package is pure: no I/O, no package-level state. Time zone data is embedded in the binary.
package programme

import (
	"slices"
	"strconv"
	"time"
	_ "time/tzdata" // zones come from the binary, not the host's (often stale) tzdata

	"github.com/teambition/rrule-go"

	"github.com/puente-org/puente/domain"
)

// Limits that Validate enforces.
const (
	MaxPerYear     = 400  // most meetings a rule may give in any year from its start
	ValidationSpan = 3    // years from the start over which gaps and overlaps are checked
	MaxDates       = 1000 // most RDATEs, and most EXDATEs, a series may have
	DefaultLimit   = 1000 // Expand's limit when none is given
	MinYear        = 1970 // earliest year of a start date or extra date
	MaxYear        = 2200 // latest year of a start date or extra date
)

// Rule is a series' schedule.
type Rule struct {
	Zone     string        // IANA zone, e.g. "Europe/London"
	Start    time.Time     // wall time of the first occurrence (date + local start time)
	Duration time.Duration // length of each meeting
	RRule    string        // RFC 5545 RRULE value without the "RRULE:" prefix; "" = a single event
	RDates   []time.Time   // extra occurrences (wall times)
	ExDates  []time.Time   // excluded occurrences (wall times, matching an instance's wall time)
}

// RuleOf is an event's schedule as a recurrence rule: its start date and "HH:MM" local
// start time joined into the first wall time.
func RuleOf(e domain.Event) Rule {
	h, m := 0, 0
	if len(e.StartTime) >= 5 {
		h, _ = strconv.Atoi(e.StartTime[:2])
		m, _ = strconv.Atoi(e.StartTime[3:5])
	}
	d := e.StartDate
	start := time.Date(d.Year(), d.Month(), d.Day(), h, m, 0, 0, time.UTC)
	return Rule{Zone: e.TimeZone, Start: start, Duration: e.Duration, RRule: e.RRule, RDates: e.RDates, ExDates: e.ExDates}
}

// Instance is one occurrence produced by a rule.
type Instance struct {
	Wall  time.Time // local wall time (the RECURRENCE-ID)
	Start time.Time // the instant, in the zone's *time.Location (so .Format shows the right offset)
	End   time.Time // Start + the rule's Duration
}

// Location loads the rule's time zone. An empty zone, "Local" or an unknown name is a
// *domain.Error for field "timezone".
func (r Rule) Location() (*time.Location, error) {
	return loadZone(r.Zone)
}

func loadZone(zone string) (*time.Location, error) {
	switch zone {
	case "":
		return nil, domain.Invalid("timezone", "err.timezone.choose")
	case "Local":
		return nil, domain.Invalid("timezone", "err.timezone.local")
	}
	if err := domain.ValidTimeZone(zone); err != nil {
		return nil, domain.Invalid("timezone", "err.timezone.unknown", "Zone", domain.Clip(zone))
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, domain.Invalid("timezone", "err.timezone.unknown", "Zone", domain.Clip(zone))
	}
	return loc, nil
}

// compiled is a rule ready to expand.
type compiled struct {
	loc   *time.Location
	start time.Time   // wall
	rule  *parsedRule // nil: a single event
	until time.Time   // the rule's UNTIL as a wall time; zero = none
}

// compile loads the zone and parses the rule, without the deeper checks of Validate.
func (r Rule) compile() (*compiled, error) {
	loc, err := r.Location()
	if err != nil {
		return nil, err
	}
	c := &compiled{loc: loc, start: Floating(r.Start).Truncate(time.Second)}
	if r.RRule != "" {
		p, err := parseRRule(r.RRule)
		if err != nil {
			return nil, err
		}
		c.rule = p
		c.until = p.untilWall(loc)
	}
	return c, nil
}

// walls calls yield with the rule's wall times in order, from the start up to and including
// upTo (zero: up to the rule's own end, which the caller must know exists), until yield returns
// false. RDATEs and EXDATEs are not applied here.
func (c *compiled) walls(upTo time.Time, yield func(time.Time) bool) {
	end := upTo
	if !c.until.IsZero() && (end.IsZero() || c.until.Before(end)) {
		end = c.until
	}
	if !end.IsZero() && end.Before(c.start) {
		return
	}
	if c.rule == nil {
		yield(c.start)
		return
	}
	rr, err := rrule.NewRRule(c.rule.options(c.start, end))
	if err != nil { // parseRRule already checked every bound rrule-go checks
		return
	}
	next := rr.Iterator()
	for {
		w, ok := next()
		if !ok || !yield(w) {
			return
		}
	}
}

// firstWall returns the rule's first wall time up to upTo, or zero if there is none. When a rule
// gives nothing, rrule-go only stops looking at the year 9999, which can take a quarter of a
// second; so the search runs on the same calendar moved forward by whole 400-year Gregorian
// cycles (which repeat weekdays, leap years and week numbers exactly) to just below that year.
func (c *compiled) firstWall(upTo time.Time) time.Time {
	years := 0
	for upTo.Year()+years+400 < rrule.MAXYEAR-1 {
		years += 400
	}
	moved := *c
	moved.start = c.start.AddDate(years, 0, 0)
	if !c.until.IsZero() {
		moved.until = c.until.AddDate(years, 0, 0)
	}
	var first time.Time
	moved.walls(upTo.AddDate(years, 0, 0), func(w time.Time) bool {
		first = w
		return false
	})
	if first.IsZero() {
		return first
	}
	return first.AddDate(-years, 0, 0)
}

// key is a comparable form of a wall time.
func key(w time.Time) int64 { return Floating(w).Truncate(time.Second).Unix() }

func wallSet(ts []time.Time) map[int64]bool {
	m := make(map[int64]bool, len(ts))
	for _, t := range ts {
		m[key(t)] = true
	}
	return m
}

// Validate checks everything before anything is saved. Every problem is a *domain.Error naming
// the form field at fault ("timezone", "start_date", "start_time", "duration_minutes", "rrule",
// "rdates" or "exdates") with a message a person can act on. Besides the rule's own syntax it
// checks that the start is the rule's first date (so every calendar client agrees on the
// meetings), that the rule gives at most MaxPerYear meetings in any year, that every EXDATE is a
// meeting of the series, and that no meeting in the first ValidationSpan years (and no RDATE)
// falls in a time that the zone's clocks skip or repeat.
func (r Rule) Validate() error {
	loc, err := r.Location()
	if err != nil {
		return err
	}
	if r.Duration < time.Minute || r.Duration > 24*time.Hour {
		return domain.Invalid("duration_minutes", "err.duration.range")
	}
	if r.Start.IsZero() {
		return domain.Invalid("start_date", "err.start_date.choose")
	}
	start := Floating(r.Start)
	if y := start.Year(); y < MinYear || y > MaxYear {
		return domain.Invalid("start_date", "err.start_date.years", "Min", MinYear, "Max", MaxYear)
	}
	if start.Second() != 0 || start.Nanosecond() != 0 {
		return domain.Invalid("start_time", "err.start_time.whole_minute")
	}
	if err := checkDates("rdates", r.RDates); err != nil {
		return err
	}
	if err := checkDates("exdates", r.ExDates); err != nil {
		return err
	}
	c, err := r.compile()
	if err != nil {
		return err
	}
	ex := wallSet(r.ExDates)
	if c.rule != nil {
		if err := c.checkShape(); err != nil {
			return err
		}
		if err := c.checkRate(); err != nil {
			return err
		}
	}
	if err := c.checkExDates(r.RDates, r.ExDates); err != nil {
		return err
	}
	// Gaps and overlaps: the meetings in the first years (skipping excluded ones), then RDATEs.
	var gapErr error
	c.walls(start.AddDate(ValidationSpan, 0, 0), func(w time.Time) bool {
		if ex[key(w)] {
			return true
		}
		_, gapErr = Resolve(loc, w, "start_time")
		return gapErr == nil
	})
	if gapErr != nil {
		return gapErr
	}
	rdates := slices.Clone(r.RDates)
	slices.SortFunc(rdates, func(a, b time.Time) int { return Floating(a).Compare(Floating(b)) })
	for _, d := range rdates {
		if ex[key(d)] {
			continue
		}
		if _, err := Resolve(loc, d, "rdates"); err != nil {
			return err
		}
	}
	return c.checkNotAllExcluded(r.RDates, ex)
}

// checkDates checks a list of RDATEs or EXDATEs.
func checkDates(field string, ds []time.Time) error {
	if len(ds) > MaxDates {
		return domain.Invalid(field, "err.dates.too_many", "N", len(ds), "Max", MaxDates)
	}
	for _, d := range ds {
		w := Floating(d)
		if d.IsZero() || w.Year() < MinYear || w.Year() > MaxYear {
			return domain.Invalid(field, "err.dates.years", "Min", MinYear, "Max", MaxYear)
		}
		if w.Second() != 0 || w.Nanosecond() != 0 {
			return domain.Invalid(field, "err.dates.whole_minute", "Date", w, "Time", w.Format("15:04:05"))
		}
	}
	return nil
}

// checkShape checks that the rule starts on its start and gives at least one meeting.
func (c *compiled) checkShape() error {
	if !c.until.IsZero() && c.until.Before(c.start) {
		return domain.Invalid("rrule", "err.rrule.ends_before_start",
			"Until", c.until, "UntilTime", c.until.Format("15:04"), "Start", c.start, "StartTime", c.start.Format("15:04"))
	}
	first := c.firstWall(c.start.AddDate(ValidationSpan, 0, 0))
	if first.IsZero() {
		if !c.until.IsZero() && c.until.Before(c.start.AddDate(ValidationSpan, 0, 0)) {
			return domain.Invalid("rrule", "err.rrule.none_until", "Start", c.start, "Until", c.until)
		}
		return domain.Invalid("rrule", "err.rrule.none_span", "Years", ValidationSpan, "Start", c.start)
	}
	if !first.Equal(c.start) {
		field := "start_date"
		if len(c.rule.ByHour) > 0 || len(c.rule.ByMinute) > 0 {
			field = "rrule" // the rule moves the time of day: the rule is at fault, not the start
		}
		return domain.Invalid(field, "err.rrule.first_meeting",
			"Start", c.start, "StartTime", c.start.Format("15:04"), "First", first, "FirstTime", first.Format("15:04"))
	}
	return nil
}

// checkRate checks that the rule gives at most MaxPerYear meetings in any year from the start,
// over ValidationSpan years or two of the rule's periods, whichever is longer.
func (c *compiled) checkRate() error {
	p := c.rule
	end := c.start.AddDate(ValidationSpan, 0, 0)
	var period time.Time
	switch p.Freq {
	case rrule.DAILY:
		period = c.start.AddDate(0, 0, p.Interval)
	case rrule.WEEKLY:
		period = c.start.AddDate(0, 0, 7*p.Interval)
	case rrule.MONTHLY:
		period = c.start.AddDate(0, p.Interval, 0)
	default:
		period = c.start.AddDate(p.Interval, 0, 0)
	}
	if e := period.AddDate(1, 0, 0); e.After(end) {
		end = e
	}
	year, n, worst := 0, 0, 0
	windowEnd := c.start.AddDate(1, 0, 0)
	c.walls(end, func(w time.Time) bool {
		for !w.Before(windowEnd) {
			if n > MaxPerYear {
				return false
			}
			year++
			windowEnd = c.start.AddDate(year+1, 0, 0)
			n = 0
		}
		n++
		worst = max(worst, n)
		return true
	})
	if worst > MaxPerYear {
		return domain.Invalid("rrule", "err.rrule.too_frequent", "N", worst, "Max", MaxPerYear)
	}
	return nil
}

// checkExDates checks that every EXDATE is a meeting of the series (a date of the rule, or an
// RDATE), so that an exclusion never silently stops matching after the time is changed.
func (c *compiled) checkExDates(rdates, exdates []time.Time) error {
	if len(exdates) == 0 {
		return nil
	}
	rd := wallSet(rdates)
	pending := map[int64]time.Time{}
	var last time.Time
	for _, d := range exdates {
		w := Floating(d)
		if rd[key(w)] {
			continue
		}
		pending[key(w)] = w
		if w.After(last) {
			last = w
		}
	}
	if len(pending) > 0 && !last.Before(c.start) {
		c.walls(last, func(w time.Time) bool {
			delete(pending, key(w))
			return len(pending) > 0
		})
	}
	if len(pending) == 0 {
		return nil
	}
	var first time.Time
	for _, w := range pending {
		if first.IsZero() || w.Before(first) {
			first = w
		}
	}
	return domain.Invalid("exdates", "err.exdates.not_meeting", "Date", first, "Time", first.Format("15:04"))
}

// checkNotAllExcluded checks that a finite series keeps at least one meeting.
func (c *compiled) checkNotAllExcluded(rdates []time.Time, ex map[int64]bool) error {
	if len(ex) == 0 {
		return nil
	}
	for _, d := range rdates {
		if !ex[key(d)] {
			return nil
		}
	}
	if c.rule != nil && c.rule.Count == 0 && c.rule.Until == untilNone {
		return nil // an endless rule always has meetings left
	}
	kept := false
	c.walls(time.Time{}, func(w time.Time) bool {
		kept = !ex[key(w)]
		return !kept
	})
	if !kept {
		return domain.Invalid("exdates", "err.exdates.all")
	}
	return nil
}

// Expand returns the instances whose Start lies in [from, to), at most limit of them (limit <= 0
// means DefaultLimit), sorted by Start, RDATEs included and EXDATEs removed. It does not run the
// checks of Validate: a wall time that the zone's clocks skip or repeat (say, after a change of
// tz rules) is resolved as RFC 5545 says, moving forward past a gap and taking the first of two.
func (r Rule) Expand(from, to time.Time, limit int) ([]Instance, error) {
	c, err := r.compile()
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = DefaultLimit
	}
	if !from.Before(to) {
		return nil, nil
	}
	// No UTC offset change moves a wall time by more than a day from its instant.
	const margin = 48 * time.Hour
	lo := WallIn(from, c.loc).Add(-margin)
	hi := WallIn(to, c.loc).Add(margin)
	ex := wallSet(r.ExDates)
	seen := map[int64]bool{}
	var out []Instance
	add := func(w time.Time) {
		k := key(w)
		if ex[k] || seen[k] {
			return
		}
		seen[k] = true
		s := ResolveLenient(c.loc, w)
		if s.Before(from) || !s.Before(to) {
			return
		}
		out = append(out, Instance{Wall: Floating(w).Truncate(time.Second), Start: s, End: s.Add(r.Duration)})
	}
	var cutoff time.Time // once limit instances are found: no later wall can start earlier
	c.walls(hi, func(w time.Time) bool {
		if w.Before(lo) {
			return true
		}
		if !cutoff.IsZero() && w.After(cutoff) {
			return false
		}
		add(w)
		if cutoff.IsZero() && len(out) >= limit {
			cutoff = w.Add(margin)
		}
		return true
	})
	for _, d := range r.RDates {
		if w := Floating(d); !w.Before(lo) && !w.After(hi) {
			add(w)
		}
	}
	slices.SortFunc(out, func(a, b Instance) int {
		if n := a.Start.Compare(b.Start); n != 0 {
			return n
		}
		return a.Wall.Compare(b.Wall)
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// CheckDate checks that a date (or a wall time) given for field lies between MinYear and
// MaxYear, the range every date of the programme keeps to: 1970, the start of the time
// zone database's reliable history, to 2200, far enough for any plan and near enough for
// the zone rules to be meaningful.
func CheckDate(field string, d time.Time) error {
	if y := Floating(d).Year(); y < MinYear || y > MaxYear {
		return domain.Invalid(field, "err.date.years", "Min", MinYear, "Max", MaxYear)
	}
	return nil
}
