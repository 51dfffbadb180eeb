package programme

import (
	"slices"
	"time"

	"github.com/puente-org/puente/domain"
)

// Floating returns t's clock reading (year, month, day, hour, minute, second, nanosecond) as a
// wall time: a time.Time in time.UTC that stands for that local reading, whatever t's location.
func Floating(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// WallIn returns the wall time that the instant t reads on the clocks of loc.
func WallIn(t time.Time, loc *time.Location) time.Time {
	return Floating(t.In(loc))
}

// Resolve turns a wall time in loc into an instant (in loc). A wall time that does not exist
// (spring-forward gap) or exists twice (fall-back overlap) is reported as a *domain.Error for
// field, naming the date and the change of clocks.
func Resolve(loc *time.Location, wall time.Time, field string) (time.Time, error) {
	if loc == nil {
		return time.Time{}, domain.Invalid("timezone", "err.timezone.choose")
	}
	wall = Floating(wall)
	sols, gap := solve(loc, wall)
	switch {
	case len(sols) == 1:
		return sols[0], nil
	case len(sols) == 0 && gap:
		return time.Time{}, domain.Invalid(field, "err.time.gap", "Time", wall.Format("15:04"), "Date", wall, "Zone", loc.String())
	case len(sols) > 1:
		return time.Time{}, domain.Invalid(field, "err.time.overlap", "Time", wall.Format("15:04"), "Date", wall, "Zone", loc.String())
	default: // cannot happen with consistent zone data; resolve as RFC 5545 says
		return ResolveLenient(loc, wall), nil
	}
}

// ResolveLenient turns a wall time in loc into an instant (in loc) without failing, as RFC 5545
// section 3.3.5 says: a time in a gap is read with the offset in force before the gap (so 01:30
// on the day London's clocks go forward is 02:30 BST), and a time in an overlap means its first
// occurrence. Expand uses it so that a series saved before a change of tz rules still shows
// every meeting; use it for any stored wall time, and Resolve for input.
func ResolveLenient(loc *time.Location, wall time.Time) time.Time {
	wall = Floating(wall)
	sols, gap := solve(loc, wall)
	if len(sols) > 0 {
		return sols[0]
	}
	if gap {
		if off, ok := offsetBeforeGap(loc, wall); ok {
			return wall.Add(-time.Duration(off) * time.Second).In(loc)
		}
	}
	return time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), wall.Nanosecond(), loc)
}

// zonePeriod is a stretch of time with one UTC offset.
type zonePeriod struct {
	start, end time.Time // zero = unbounded
	offset     int       // seconds east of UTC
}

// periodsAround lists the zone periods of loc that cover the instants a wall time can stand for
// (UTC offsets lie between -12 h and +14 h, so between wall-15h and wall+13h), in order.
func periodsAround(loc *time.Location, wall time.Time) []zonePeriod {
	lo := wall.Add(-15 * time.Hour)
	hi := wall.Add(13 * time.Hour)
	var ps []zonePeriod
	t := lo
	for i := 0; i < 16; i++ {
		tl := t.In(loc)
		_, off := tl.Zone()
		s, e := tl.ZoneBounds()
		ps = append(ps, zonePeriod{start: s, end: e, offset: off})
		if e.IsZero() || e.After(hi) || !e.After(t) {
			break
		}
		t = e
	}
	return ps
}

// solve returns the instants (sorted) whose clock reading in loc is wall, and whether wall falls
// in a spring-forward gap.
func solve(loc *time.Location, wall time.Time) (sols []time.Time, gap bool) {
	ps := periodsAround(loc, wall)
	for _, p := range ps {
		cand := wall.Add(-time.Duration(p.offset) * time.Second)
		if (p.start.IsZero() || !cand.Before(p.start)) && (p.end.IsZero() || cand.Before(p.end)) {
			if len(sols) == 0 || !sols[len(sols)-1].Equal(cand) {
				sols = append(sols, cand.In(loc))
			}
		}
	}
	if len(sols) == 0 {
		_, gap = offsetBeforeGap(loc, wall)
	}
	return sols, gap
}

// offsetBeforeGap reports the UTC offset in force just before the gap that contains wall.
func offsetBeforeGap(loc *time.Location, wall time.Time) (int, bool) {
	ps := periodsAround(loc, wall)
	for i := 0; i+1 < len(ps); i++ {
		p, q := ps[i], ps[i+1]
		if q.offset <= p.offset || p.end.IsZero() {
			continue
		}
		from := p.end.Add(time.Duration(p.offset) * time.Second) // first missing reading
		to := p.end.Add(time.Duration(q.offset) * time.Second)   // first reading after the gap
		if !wall.Before(from) && wall.Before(to) {
			return p.offset, true
		}
	}
	return 0, false
}

// CheckOwnTimes checks wall times that do not come from a rule (talks moved to a time of
// their own, extra talks, conference sessions) against loc, as when an event's time zone
// changes: like the series' rule, none may fall in a time the clocks skip or repeat. The
// first problem is reported for field "timezone", naming the talk's date and time.
func CheckOwnTimes(loc *time.Location, walls []time.Time) error {
	walls = slices.Clone(walls)
	slices.SortFunc(walls, func(a, b time.Time) int { return Floating(a).Compare(Floating(b)) })
	for _, w := range walls {
		w = Floating(w)
		sols, gap := solve(loc, w)
		switch {
		case len(sols) == 0 && gap:
			return domain.Invalid("timezone", "err.timezone.own_time_gap", "Time", w.Format("15:04"), "Date", w, "Zone", loc.String())
		case len(sols) > 1:
			return domain.Invalid("timezone", "err.timezone.own_time_overlap", "Time", w.Format("15:04"), "Date", w, "Zone", loc.String())
		}
	}
	return nil
}
