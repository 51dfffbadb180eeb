package calendar

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	ics "github.com/arran4/golang-ical"
)

// VTIMEZONE from Go's tz data (embedded in the binary through programme's time/tzdata import).
//
// Go does not expose a zone's rules, only its transitions (Time.ZoneBounds), so the rules are
// read back from the transitions. The transitions of a zone from the one in force at the start of
// the feed's span to tzLookahead years past its end are listed; each is a change to an offset, a
// name and a DST flag, at a clock reading (in the offset before it) on some day of some month.
// Transitions of the same kind (same offsets, name, flag, month and clock reading) in consecutive
// years that one yearly rule describes (the nth or last weekday of the month, a weekday within a
// fixed week of days such as Chile's "Sunday on or after the 2nd", or a fixed date) become one
// STANDARD or DAYLIGHT component with an RRULE; the rule in force at the end of the look-ahead
// (the zone's current rule, which Go also applies forever after) is left open, earlier ones end
// with UNTIL (the UTC instant of their last change). A transition that fits no rule (Chile's 2022
// change a week late, a one-off change of offset) becomes a dated component of its own. So an
// independent parser that reads only the VTIMEZONE computes, for every wall time in the span, the
// offset Go computes; and a zone without DST gets a single STANDARD.

// tzLookahead is how many years past the feed's span the transitions are read, so the zone's
// current rule is seen often enough (10 yearly changes) to be told apart from look-alikes.
const tzLookahead = 10

// tzChange is one transition of a zone.
type tzChange struct {
	at       time.Time // the instant
	wall     time.Time // the clock reading just before it, in the offset before (TZOFFSETFROM)
	from, to int       // UTC offsets in seconds
	name     string    // abbreviation after the change
	dst      bool
}

// tzKind groups changes that one yearly rule may describe.
type tzKind struct {
	dst      bool
	from, to int
	name     string
	month    time.Month
	clock    int // seconds since midnight of the wall reading
}

// A yearly rule is one of these day patterns; a run keeps the set still possible as a bit mask.
const (
	patNth    = 0  // bits 0–3: the 1st–4th weekday of the month
	patLast   = 4  // bit 4: the last weekday of the month
	patWindow = 5  // bits 5–26: the weekday within days k..k+6 (k = 1…22)
	patFixed  = 31 // bit 31: the same day of the month
	maxWindow = 22
)

type tzRun struct {
	kind    tzKind
	weekday time.Weekday
	day     int
	mask    uint32
	changes []tzChange
}

// zoneState is what a zone's clocks say at an instant.
type zoneState struct {
	name   string
	offset int
	dst    bool
}

func stateAt(loc *time.Location, t time.Time) zoneState {
	l := t.In(loc)
	name, off := l.Zone()
	return zoneState{name, off, l.IsDST()}
}

// zoneChanges lists the transitions of loc that matter for instants in [lo, hi): the one that
// began the period containing lo (none when no transition precedes it) and all after it before
// hi. Time.ZoneBounds is not trusted blindly: past the zone's table of transitions, Go derives
// periods from the zone's rule year by year, so it reports a boundary at each new year where
// nothing changes, and in leap years it ends the year a day early and then stops advancing.
// Boundaries where nothing changes are skipped, a stuck one is stepped over by a day, and a
// change found that way is located to the second.
func zoneChanges(loc *time.Location, lo, hi time.Time) (initial zoneState, changes []tzChange) {
	initial = stateAt(loc, lo)
	start, _ := lo.In(loc).ZoneBounds()
	for i := 0; !start.IsZero() && i < 100 && stateAt(loc, start.Add(-time.Second)) == initial; i++ {
		start, _ = start.Add(-time.Second).In(loc).ZoneBounds() // a boundary where nothing changed
	}
	if !start.IsZero() && stateAt(loc, start.Add(-time.Second)) != initial {
		changes = append(changes, changeAt(loc, start))
	}
	cur, st := lo, initial
	for len(changes) < 2000 {
		_, end := cur.In(loc).ZoneBounds()
		if end.IsZero() {
			break
		}
		if !end.After(cur) {
			end = cur.Add(24 * time.Hour)
		}
		if !end.Before(hi) {
			break
		}
		next := stateAt(loc, end)
		if next == st {
			cur = end
			continue
		}
		at := end
		if stateAt(loc, end.Add(-time.Second)) != st { // the change is earlier than the bound says
			a, b := cur, end // st at a, not at b
			for b.Sub(a) > time.Second {
				mid := a.Add(b.Sub(a) / 2).Truncate(time.Second)
				if stateAt(loc, mid) == st {
					a = mid
				} else {
					b = mid
				}
			}
			at = b
		}
		changes = append(changes, changeAt(loc, at))
		cur, st = at, stateAt(loc, at)
	}
	return initial, changes
}

func changeAt(loc *time.Location, at time.Time) tzChange {
	before, after := stateAt(loc, at.Add(-time.Second)), stateAt(loc, at)
	return tzChange{
		at:   at,
		wall: at.UTC().Add(time.Duration(before.offset) * time.Second),
		from: before.offset, to: after.offset, name: after.name, dst: after.dst,
	}
}

// dayMask is the set of day patterns that the change's day satisfies, relative to a run that
// started on weekday wd and day-of-month day.
func dayMask(c tzChange, wd time.Weekday, day int) uint32 {
	var m uint32
	d := c.wall.Day()
	if c.wall.Weekday() == wd {
		if n := (d - 1) / 7; n < 4 {
			m |= 1 << (patNth + n)
		}
		if d+7 > daysIn(c.wall.Year(), c.wall.Month()) {
			m |= 1 << patLast
		}
		for k := 1; k <= maxWindow && k+6 <= minDaysIn(c.wall.Month()); k++ {
			if d >= k && d <= k+6 {
				m |= 1 << (patWindow + k - 1)
			}
		}
	}
	if d == day {
		m |= 1 << patFixed
	}
	return m
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func minDaysIn(m time.Month) int {
	if m == time.February {
		return 28
	}
	return daysIn(2001, m)
}

// tzRuns groups changes into runs of consecutive years with a common day pattern.
func tzRuns(changes []tzChange) []*tzRun {
	var runs []*tzRun
	open := map[tzKind]*tzRun{}
	for _, c := range changes {
		k := tzKind{dst: c.dst, from: c.from, to: c.to, name: c.name, month: c.wall.Month(),
			clock: c.wall.Hour()*3600 + c.wall.Minute()*60 + c.wall.Second()}
		if r := open[k]; r != nil {
			last := r.changes[len(r.changes)-1]
			if c.wall.Year() == last.wall.Year()+1 {
				if m := r.mask & dayMask(c, r.weekday, r.day); m != 0 {
					r.mask = m
					r.changes = append(r.changes, c)
					continue
				}
			}
		}
		r := &tzRun{kind: k, weekday: c.wall.Weekday(), day: c.wall.Day(), changes: []tzChange{c}}
		r.mask = dayMask(c, r.weekday, r.day)
		open[k] = r
		runs = append(runs, r)
	}
	return runs
}

// byDay is the RRULE day part of a run's pattern, preferring the usual forms.
func (r *tzRun) byDay() string {
	code := [7]string{"SU", "MO", "TU", "WE", "TH", "FR", "SA"}[r.weekday]
	for n := 0; n < 4; n++ {
		if r.mask&(1<<(patNth+n)) != 0 {
			return "BYDAY=" + strconv.Itoa(n+1) + code
		}
	}
	if r.mask&(1<<patLast) != 0 {
		return "BYDAY=-1" + code
	}
	for k := 1; k <= maxWindow; k++ {
		if r.mask&(1<<(patWindow+k-1)) != 0 {
			days := make([]string, 7)
			for i := range days {
				days[i] = strconv.Itoa(k + i)
			}
			return "BYDAY=" + code + ";BYMONTHDAY=" + strings.Join(days, ",")
		}
	}
	return "BYMONTHDAY=" + strconv.Itoa(r.day)
}

// vtimezone builds the VTIMEZONE of loc for instants in [lo, hi].
func vtimezone(tzid string, loc *time.Location, lo, hi time.Time) *ics.VTimezone {
	horizon := hi.AddDate(tzLookahead, 0, 0)
	initial, changes := zoneChanges(loc, lo, horizon)
	tz := ics.NewTimezone(tzid)
	if len(changes) == 0 { // a zone that never changed (UTC, Etc/GMT+4, …)
		st := ics.NewStandard()
		observance(&st.ComponentBase, time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), initial.offset, initial.offset, initial.name, "")
		tz.Components = append(tz.Components, st)
		return tz
	}
	type part struct {
		first time.Time
		c     ics.Component
	}
	var parts []part
	add := func(c tzChange, rrule string) {
		var cb *ics.ComponentBase
		var comp ics.Component
		if c.dst {
			d := &ics.Daylight{}
			cb, comp = &d.ComponentBase, d
		} else {
			s := ics.NewStandard()
			cb, comp = &s.ComponentBase, s
		}
		observance(cb, c.wall, c.from, c.to, c.name, rrule)
		parts = append(parts, part{c.at, comp})
	}
	for _, r := range tzRuns(changes) {
		first, last := r.changes[0], r.changes[len(r.changes)-1]
		if len(r.changes) < 2 || r.mask == 0 {
			for _, c := range r.changes {
				add(c, "")
			}
			continue
		}
		rule := fmt.Sprintf("FREQ=YEARLY;BYMONTH=%d;%s", int(first.wall.Month()), r.byDay())
		// A rule still in force at the horizon is the zone's current one: left open.
		if last.at.AddDate(1, 0, 8).Before(horizon) {
			rule += ";UNTIL=" + last.at.UTC().Format("20060102T150405Z")
		}
		add(first, rule)
	}
	slices.SortStableFunc(parts, func(a, b part) int { return a.first.Compare(b.first) })
	for _, p := range parts {
		tz.Components = append(tz.Components, p.c)
	}
	return tz
}

func observance(cb *ics.ComponentBase, wall time.Time, from, to int, name, rrule string) {
	cb.AddProperty(ics.ComponentPropertyDtStart, wall.Format(wallFormat))
	cb.AddProperty(ics.ComponentProperty(ics.PropertyTzoffsetfrom), utcOffset(from))
	cb.AddProperty(ics.ComponentProperty(ics.PropertyTzoffsetto), utcOffset(to))
	if name != "" {
		cb.AddProperty(ics.ComponentProperty(ics.PropertyTzname), name)
	}
	if rrule != "" {
		cb.AddProperty(ics.ComponentPropertyRrule, rrule)
	}
}

// utcOffset formats seconds east of UTC as RFC 5545 UTC-OFFSET: +HHMM, or +HHMMSS.
func utcOffset(sec int) string {
	sign := byte('+')
	if sec < 0 {
		sign, sec = '-', -sec
	}
	s := fmt.Sprintf("%c%02d%02d", sign, sec/3600, sec/60%60)
	if sec%60 != 0 {
		s += fmt.Sprintf("%02d", sec%60)
	}
	return s
}
