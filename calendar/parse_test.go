package calendar

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"
	"github.com/teambition/rrule-go"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/programme"
)

// A reader of the feeds that shares nothing with the writer: golang-ical parses, rrule-go
// expands, and every TZID is resolved through the feed's own VTIMEZONE (never Go's zone data).

// instance is one occurrence as a calendar client sees it.
type instance struct {
	UID          string `json:"uid"`
	RecurrenceID string `json:"recurrenceId"` // wall time 20260108T150000, "" when not recurring
	Start        string `json:"start"`        // UTC, RFC 3339
	End          string `json:"end"`
	Status       string `json:"status"`
	Summary      string `json:"summary"`
}

func (i instance) String() string {
	return fmt.Sprintf("%s %s %s–%s %s %q", i.UID, i.RecurrenceID, i.Start, i.End, i.Status, i.Summary)
}

func isoUTC(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func sortInstances(xs []instance) {
	sort.Slice(xs, func(i, j int) bool {
		if xs[i].Start != xs[j].Start {
			return xs[i].Start < xs[j].Start
		}
		return xs[i].UID < xs[j].UID
	})
}

// tzModel is a zone as a VTIMEZONE defines it: its offset changes, in order.
type tzModel struct {
	onsets  []tzOnset
	offsets []int // every offset it uses
}

type tzOnset struct {
	at       time.Time
	from, to int
}

func parseUTCOffset(s string) (int, error) {
	if len(s) != 5 && len(s) != 7 || (s[0] != '+' && s[0] != '-') {
		return 0, fmt.Errorf("bad UTC offset %q", s)
	}
	n := 0
	for i, part := 1, 0; i < len(s); i, part = i+2, part+1 {
		v, err := strconv.Atoi(s[i : i+2])
		if err != nil {
			return 0, fmt.Errorf("bad UTC offset %q", s)
		}
		n += v * [3]int{3600, 60, 1}[part]
	}
	if s[0] == '-' {
		n = -n
	}
	return n, nil
}

func prop(c *ics.ComponentBase, name string) string {
	if p := c.GetProperty(ics.ComponentProperty(name)); p != nil {
		return p.Value
	}
	return ""
}

// newTZModel reads a VTIMEZONE, expanding its observances up to the year until.
func newTZModel(vtz *ics.VTimezone, until int) (*tzModel, error) {
	m := &tzModel{}
	for _, sub := range vtz.Components {
		var cb *ics.ComponentBase
		switch s := sub.(type) {
		case *ics.Standard:
			cb = &s.ComponentBase
		case *ics.Daylight:
			cb = &s.ComponentBase
		default:
			return nil, fmt.Errorf("unexpected component %T in VTIMEZONE", sub)
		}
		from, err := parseUTCOffset(prop(cb, "TZOFFSETFROM"))
		if err != nil {
			return nil, err
		}
		to, err := parseUTCOffset(prop(cb, "TZOFFSETTO"))
		if err != nil {
			return nil, err
		}
		start, err := time.Parse(wallFormat, prop(cb, "DTSTART"))
		if err != nil {
			return nil, fmt.Errorf("observance DTSTART: %w", err)
		}
		walls := []time.Time{start}
		if r := prop(cb, "RRULE"); r != "" {
			opt, err := rrule.StrToROption(r)
			if err != nil {
				return nil, err
			}
			opt.Dtstart = start
			if !opt.Until.IsZero() { // UNTIL is UTC: read it on the clock before the change
				opt.Until = opt.Until.UTC().Add(time.Duration(from) * time.Second)
			}
			rr, err := rrule.NewRRule(*opt)
			if err != nil {
				return nil, err
			}
			walls = rr.Between(start, time.Date(until, 12, 31, 0, 0, 0, 0, time.UTC), true)
		}
		for _, p := range cb.GetProperties(ics.ComponentPropertyRdate) {
			for _, v := range strings.Split(p.Value, ",") {
				w, err := time.Parse(wallFormat, v)
				if err != nil {
					return nil, err
				}
				walls = append(walls, w)
			}
		}
		for _, w := range walls {
			m.onsets = append(m.onsets, tzOnset{at: w.Add(-time.Duration(from) * time.Second), from: from, to: to})
		}
		for _, o := range []int{from, to} {
			if !slices.Contains(m.offsets, o) {
				m.offsets = append(m.offsets, o)
			}
		}
	}
	if len(m.onsets) == 0 {
		return nil, fmt.Errorf("VTIMEZONE without observances")
	}
	slices.SortFunc(m.onsets, func(a, b tzOnset) int { return a.at.Compare(b.at) })
	return m, nil
}

// offsetAt is the offset in force at an instant.
func (m *tzModel) offsetAt(t time.Time) int {
	i := sort.Search(len(m.onsets), func(i int) bool { return m.onsets[i].at.After(t) })
	if i == 0 {
		return m.onsets[0].from
	}
	return m.onsets[i-1].to
}

// resolve turns a wall time into an instant as RFC 5545 says (the first of two; past a gap with
// the offset before it).
func (m *tzModel) resolve(w time.Time) time.Time {
	var best time.Time
	for _, off := range m.offsets {
		t := w.Add(-time.Duration(off) * time.Second)
		if m.offsetAt(t) == off && (best.IsZero() || t.Before(best)) {
			best = t
		}
	}
	if !best.IsZero() {
		return best
	}
	for _, o := range m.onsets {
		lo, hi := o.at.Add(time.Duration(o.from)*time.Second), o.at.Add(time.Duration(o.to)*time.Second)
		if !w.Before(lo) && w.Before(hi) {
			return w.Add(-time.Duration(o.from) * time.Second)
		}
	}
	return w.Add(-time.Duration(m.offsetAt(w)) * time.Second)
}

// parsedFeed is a feed read back.
type parsedFeed struct {
	cal    *ics.Calendar
	zones  map[string]*tzModel
	events []*ics.VEvent
}

func parseFeed(t testing.TB, data []byte) *parsedFeed {
	t.Helper()
	cal, err := ics.ParseCalendar(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("golang-ical cannot parse the feed: %v", err)
	}
	f := &parsedFeed{cal: cal, zones: map[string]*tzModel{}}
	for _, tz := range cal.Timezones() {
		id := prop(&tz.ComponentBase, "TZID")
		if _, dup := f.zones[id]; dup {
			t.Errorf("VTIMEZONE %s appears twice", id)
		}
		m, err := newTZModel(tz, 2045)
		if err != nil {
			t.Fatalf("VTIMEZONE %s: %v", id, err)
		}
		f.zones[id] = m
	}
	f.events = cal.Events()
	return f
}

func (f *parsedFeed) calProp(name string) []string {
	var out []string
	for _, p := range f.cal.CalendarProperties {
		if p.IANAToken == name {
			out = append(out, p.Value)
		}
	}
	return out
}

// when reads a DATE-TIME property: its zone (TZID, or "Z" for UTC), wall time and instant.
func (f *parsedFeed) when(t testing.TB, p *ics.IANAProperty) (zone string, w, at time.Time) {
	t.Helper()
	v := p.Value
	if strings.HasSuffix(v, "Z") {
		at, err := time.Parse(utcFormat, v)
		if err != nil {
			t.Fatalf("%s: %v", p.IANAToken, err)
		}
		return "Z", at, at
	}
	tzid := p.ICalParameters["TZID"]
	if len(tzid) != 1 {
		t.Fatalf("%s:%s is a floating time (no TZID, no Z)", p.IANAToken, v)
	}
	m := f.zones[tzid[0]]
	if m == nil {
		t.Fatalf("%s uses TZID %s, which has no VTIMEZONE in the feed", p.IANAToken, tzid[0])
	}
	w, err := time.Parse(wallFormat, v)
	if err != nil {
		t.Fatalf("%s: %v", p.IANAToken, err)
	}
	return tzid[0], w, m.resolve(w)
}

func (f *parsedFeed) single(t testing.TB, ev *ics.VEvent, name string) *ics.IANAProperty {
	t.Helper()
	ps := ev.GetProperties(ics.ComponentProperty(name))
	if len(ps) != 1 {
		t.Fatalf("%s: %d %s properties", ev.Id(), len(ps), name)
	}
	return ps[0]
}

// expand lists the occurrences that start in [from, to), as a client computes them.
func (f *parsedFeed) expand(t testing.TB, from, to time.Time) []instance {
	t.Helper()
	masters := map[string]*ics.VEvent{}
	overrides := map[string]map[string]*ics.VEvent{}
	var order []string
	for _, ev := range f.events {
		uid := ev.Id()
		if rid := ev.GetProperty(ics.ComponentPropertyRecurrenceId); rid != nil {
			if overrides[uid] == nil {
				overrides[uid] = map[string]*ics.VEvent{}
			}
			if _, dup := overrides[uid][rid.Value]; dup {
				t.Errorf("%s: two overrides for %s", uid, rid.Value)
			}
			overrides[uid][rid.Value] = ev
			continue
		}
		if _, dup := masters[uid]; dup {
			t.Errorf("UID %s used by two events", uid)
		}
		masters[uid] = ev
		order = append(order, uid)
	}
	var out []instance
	emit := func(uid, rid string, ev *ics.VEvent, start, end time.Time) {
		if start.Before(from) || !start.Before(to) {
			return
		}
		out = append(out, instance{UID: uid, RecurrenceID: rid, Start: isoUTC(start), End: isoUTC(end),
			Status: prop(&ev.ComponentBase, "STATUS"), Summary: prop(&ev.ComponentBase, "SUMMARY")})
	}
	timesOf := func(ev *ics.VEvent) (string, time.Time, time.Time, time.Time) {
		zs, ws, s := f.when(t, f.single(t, ev, "DTSTART"))
		ze, _, e := f.when(t, f.single(t, ev, "DTEND"))
		if zs != ze {
			t.Errorf("%s: DTSTART in %s, DTEND in %s", ev.Id(), zs, ze)
		}
		return zs, ws, s, e
	}
	for _, uid := range order {
		ev := masters[uid]
		zone, startWall, start, end := timesOf(ev)
		rr := ev.GetProperties(ics.ComponentPropertyRrule)
		rd := ev.GetProperties(ics.ComponentPropertyRdate)
		if len(rr) == 0 && len(rd) == 0 {
			if len(overrides[uid]) > 0 {
				t.Errorf("%s: overrides of an event that does not recur", uid)
			}
			emit(uid, "", ev, start, end)
			continue
		}
		m := f.zones[zone]
		walls := map[int64]time.Time{}
		if len(rr) > 1 {
			t.Errorf("%s: %d RRULEs", uid, len(rr))
		}
		if len(rr) == 1 {
			opt, err := rrule.StrToROption(rr[0].Value)
			if err != nil {
				t.Fatalf("%s: RRULE: %v", uid, err)
			}
			opt.Dtstart = startWall
			if !opt.Until.IsZero() {
				if !strings.Contains(rr[0].Value, "Z") {
					t.Errorf("%s: UNTIL not in UTC: %s", uid, rr[0].Value)
				}
				u := opt.Until.UTC()
				opt.Until = u.Add(time.Duration(m.offsetAt(u)) * time.Second) // the wall reading of UNTIL
			}
			r, err := rrule.NewRRule(*opt)
			if err != nil {
				t.Fatalf("%s: RRULE: %v", uid, err)
			}
			for _, w := range r.Between(startWall, to.AddDate(0, 3, 0), true) {
				walls[w.Unix()] = w
			}
		}
		dates := func(name string) []time.Time {
			var out []time.Time
			for _, p := range ev.GetProperties(ics.ComponentProperty(name)) {
				for _, v := range strings.Split(p.Value, ",") {
					q := *p
					q.Value = v
					z, w, _ := f.when(t, &q)
					if z != zone {
						t.Errorf("%s: %s in %s, DTSTART in %s", uid, name, z, zone)
					}
					out = append(out, w)
				}
			}
			return out
		}
		for _, w := range dates("RDATE") {
			walls[w.Unix()] = w
		}
		for _, w := range dates("EXDATE") {
			if _, ok := walls[w.Unix()]; !ok {
				t.Errorf("%s: EXDATE %s matches no occurrence", uid, w.Format(wallFormat))
			}
			delete(walls, w.Unix())
		}
		exact := end.Sub(start)
		for rid, o := range overrides[uid] {
			z, w, _ := f.when(t, f.single(t, o, "RECURRENCE-ID"))
			if z != zone {
				t.Errorf("%s: RECURRENCE-ID in %s, DTSTART in %s", uid, z, zone)
			}
			if _, ok := walls[w.Unix()]; !ok {
				t.Errorf("%s: override %s matches no occurrence", uid, rid)
			}
		}
		for _, w := range walls {
			rid := w.Format(wallFormat)
			if o := overrides[uid][rid]; o != nil {
				_, _, s, e := timesOf(o)
				emit(uid, rid, o, s, e)
				continue
			}
			s := m.resolve(w)
			emit(uid, rid, ev, s, s.Add(exact))
		}
	}
	// An override sent alone (a one-event download) stands for itself.
	for uid, os := range overrides {
		if masters[uid] == nil {
			for rid, o := range os {
				_, _, s, e := timesOf(o)
				emit(uid, rid, o, s, e)
			}
		}
	}
	sortInstances(out)
	return out
}

// expected is what the inputs say a client should show in [from, to): programme.Rule.Expand
// for the series plus the occurrence rows (moves, cancellations, titles), minus what is trimmed.
func expected(t testing.TB, ds []EventData, o Options, from, to time.Time) []instance {
	t.Helper()
	o = o.normalised()
	cut := o.cutoff()
	var out []instance
	add := func(e domain.Event, occ *domain.Occurrence, uid, rid string, start, end time.Time) {
		if start.Before(from) || !start.Before(to) {
			return
		}
		status, summary := "CONFIRMED", e.Title
		if occ != nil {
			if occ.Title != "" {
				summary = occ.Title
			}
			if occ.Status == domain.StatusCancelled {
				status, summary = "CANCELLED", "Cancelled: "+summary
			}
		}
		out = append(out, instance{UID: uid, RecurrenceID: rid, Start: isoUTC(start), End: isoUTC(end), Status: status, Summary: summary})
	}
	for _, d := range ds {
		e := d.Event
		occUID := func(occ domain.Occurrence) string {
			return "occurrence-" + strconv.FormatInt(occ.ID, 10) + "@" + o.Host
		}
		if e.Kind == domain.KindConference {
			for i, occ := range d.Occurrences {
				if !occ.End.Before(cut) {
					add(e, &d.Occurrences[i], occUID(occ), "", occ.Start, occ.End)
				}
			}
			continue
		}
		rule := programme.RuleOf(e)
		uid := "series-" + strconv.FormatInt(e.ID, 10) + "@" + o.Host
		byOrig := map[int64]*domain.Occurrence{}
		for i, occ := range d.Occurrences {
			if occ.Origin == "generated" {
				byOrig[occ.OriginalStart.Unix()] = &d.Occurrences[i]
			} else if !occ.End.Before(cut) {
				add(e, &d.Occurrences[i], occUID(occ), "", occ.Start, occ.End)
			}
		}
		insts, err := rule.Expand(from.AddDate(0, -2, 0), to.AddDate(0, 2, 0), 5000)
		if err != nil {
			t.Fatal(err)
		}
		recurring := rule.RRule != "" || len(rule.RDates) > 0
		for _, in := range insts {
			rid := in.Wall.Format(wallFormat)
			if !recurring {
				rid = ""
			}
			if occ := byOrig[in.Wall.Unix()]; occ != nil {
				add(e, occ, uid, rid, occ.Start, occ.End)
			} else {
				add(e, nil, uid, rid, in.Start, in.End)
			}
		}
	}
	sortInstances(out)
	return out
}

func expectedPersonal(items []PersonalItem, o Options) []instance {
	o = o.normalised()
	var out []instance
	for _, it := range items {
		occ := it.Occurrence
		if occ.End.Before(o.cutoff()) {
			continue
		}
		status, summary := "CONFIRMED", it.Event.Title
		if occ.Title != "" {
			summary = occ.Title
		}
		if occ.Status == domain.StatusCancelled {
			status, summary = "CANCELLED", "Cancelled: "+summary
		}
		out = append(out, instance{UID: "occurrence-" + strconv.FormatInt(occ.ID, 10) + "@" + o.Host,
			Start: isoUTC(occ.Start), End: isoUTC(occ.End), Status: status, Summary: summary})
	}
	sortInstances(out)
	return out
}

// compareInstances reports the occurrences missing, extra or different, matched by UID,
// RECURRENCE-ID and (for one-off events) start; at most ten of each.
func compareInstances(t testing.TB, who string, got, want []instance) {
	t.Helper()
	key := func(i instance) string {
		if i.RecurrenceID != "" {
			return i.UID + " " + i.RecurrenceID
		}
		return i.UID + " @" + i.Start
	}
	w := make(map[string]instance, len(want))
	for _, i := range want {
		w[key(i)] = i
	}
	if len(w) != len(want) {
		t.Errorf("%s: the expected occurrences repeat a key", who)
	}
	errs := 0
	report := func(format string, args ...any) {
		t.Helper()
		if errs++; errs <= 10 {
			t.Errorf(format, args...)
		}
	}
	seen := map[string]bool{}
	for _, g := range got {
		k := key(g)
		if seen[k] {
			report("%s: twice: %v", who, g)
		}
		seen[k] = true
		switch x, ok := w[k]; {
		case !ok:
			report("%s: unexpected %v", who, g)
		case x != g:
			report("%s:\n got  %v\n want %v", who, g, x)
		}
	}
	for _, x := range want {
		if !seen[key(x)] {
			report("%s: missing %v", who, x)
		}
	}
	if errs > 10 {
		t.Errorf("%s: %d differences in all (%d occurrences, %d expected)", who, errs, len(got), len(want))
	}
}

// tableRow is a row of calendar.md's table: the London seminar as seen from other zones.
type tableRow struct {
	from, to time.Time // local dates, inclusive
	utc      string
	views    map[string]string
}

var calendarTable = []tableRow{
	{wall(2026, 1, 8, 0, 0), wall(2026, 3, 26, 0, 0), "15:00", map[string]string{
		"Europe/London": "15:00", "America/Santiago": "12:00", "America/Argentina/Buenos_Aires": "12:00", "America/La_Paz": "11:00"}},
	{wall(2026, 4, 2, 0, 0), wall(2026, 4, 2, 0, 0), "14:00", map[string]string{
		"Europe/London": "15:00", "America/Santiago": "11:00", "America/Argentina/Buenos_Aires": "11:00", "America/La_Paz": "10:00"}},
	{wall(2026, 4, 9, 0, 0), wall(2026, 9, 3, 0, 0), "14:00", map[string]string{
		"Europe/London": "15:00", "America/Santiago": "10:00", "America/Argentina/Buenos_Aires": "11:00", "America/La_Paz": "10:00"}},
	{wall(2026, 9, 10, 0, 0), wall(2026, 10, 22, 0, 0), "14:00", map[string]string{
		"Europe/London": "15:00", "America/Santiago": "11:00", "America/Argentina/Buenos_Aires": "11:00", "America/La_Paz": "10:00"}},
	{wall(2026, 10, 29, 0, 0), wall(2026, 12, 31, 0, 0), "15:00", map[string]string{
		"Europe/London": "15:00", "America/Santiago": "12:00", "America/Argentina/Buenos_Aires": "12:00", "America/La_Paz": "11:00"}},
}

// checkTable checks the London seminar's instants, as a reader of the feed computed them,
// against calendar.md's table, viewed from each zone (the viewer's zone comes from Go: it is the
// reader's clock, not the feed's). Moved occurrences are skipped; it returns how many it checked.
func checkTable(t *testing.T, who string, got []instance, moved map[string]bool) int {
	t.Helper()
	london := mustLoc(t, "Europe/London")
	n := 0
	for _, in := range got {
		if in.UID != "series-42@puente.example" || moved[in.RecurrenceID] {
			continue
		}
		start, err := time.Parse(time.RFC3339, in.Start)
		if err != nil {
			t.Fatal(err)
		}
		day := programme.Floating(start.In(london)).Truncate(24 * time.Hour)
		var row *tableRow
		for i := range calendarTable {
			if r := &calendarTable[i]; !day.Before(r.from) && !day.After(r.to) {
				row = r
			}
		}
		if row == nil {
			t.Errorf("%s: %s is on no row of the table", who, in.Start)
			continue
		}
		if got := start.UTC().Format("15:04"); got != row.utc {
			t.Errorf("%s: %s: UTC %s, want %s", who, day.Format("2 Jan"), got, row.utc)
		}
		for zone, want := range row.views {
			if got := start.In(mustLoc(t, zone)).Format("15:04"); got != want {
				t.Errorf("%s: %s seen from %s: %s, want %s", who, day.Format("2 Jan"), zone, got, want)
			}
		}
		n++
	}
	return n
}
