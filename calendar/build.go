package calendar

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	ics "github.com/arran4/golang-ical"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/markdown"
	"github.com/puente-org/puente/programme"
)

// builder collects one calendar.
type builder struct {
	o      Options
	cal    *ics.Calendar
	feed   bool // a subscribed feed: refresh hints and X-WR-TIMEZONE
	cut    time.Time
	zones  []*zoneUse
	events []ics.Component
	size   int               // rough output size, to size the buffer
	plain  map[string]string // markdown.Plain by source: overrides repeat the event's description
}

// zoneUse is a zone some date-time refers to, with the span of instants referred to.
type zoneUse struct {
	tzid   string
	loc    *time.Location
	lo, hi time.Time
}

func newBuilder(o Options, feed bool) *builder {
	o = o.normalised()
	return &builder{o: o, cal: ics.NewCalendarFor("Puente"), feed: feed, cut: o.cutoff(), plain: map[string]string{}}
}

// plainText is markdown.Plain, once per distinct source in a calendar (it costs about half a
// millisecond a call).
func (b *builder) plainText(src string) string {
	if strings.TrimSpace(src) == "" {
		return ""
	}
	p, ok := b.plain[src]
	if !ok {
		p = markdown.Plain(src, descriptionMax)
		b.plain[src] = p
	}
	return p
}

// keep reports whether an occurrence that ends at end is recent enough for the feed.
func (b *builder) keep(end time.Time) bool { return !end.Before(b.cut) }

// zone loads a zone and notes that the feed uses it.
func (b *builder) zone(tzid string) (*zoneUse, error) {
	for _, z := range b.zones {
		if z.tzid == tzid {
			return z, nil
		}
	}
	loc, err := programme.Rule{Zone: tzid}.Location()
	if err != nil {
		return nil, fmt.Errorf("calendar: zone %q: %w", tzid, err)
	}
	z := &zoneUse{tzid: tzid, loc: loc}
	b.zones = append(b.zones, z)
	return z, nil
}

func (z *zoneUse) cover(t time.Time) {
	if z.lo.IsZero() || t.Before(z.lo) {
		z.lo = t
	}
	if z.hi.IsZero() || t.After(z.hi) {
		z.hi = t
	}
}

// wallProp adds a DATE-TIME property in the zone's local time.
func (b *builder) wallProp(c *ics.ComponentBase, name ics.ComponentProperty, z *zoneUse, wall time.Time) {
	z.cover(programme.ResolveLenient(z.loc, wall))
	c.AddProperty(name, programme.Floating(wall).Format(wallFormat), ics.WithTZID(z.tzid))
}

func (b *builder) finish() []byte {
	o := b.o
	cal := b.cal
	cal.SetProductId(ProdID)
	cal.SetMethod(ics.MethodPublish)
	cal.SetCalscale("GREGORIAN")
	if o.Name != "" {
		cal.SetName(o.Name)
		cal.SetXWRCalName(o.Name)
	}
	if o.FeedURL != "" {
		cal.SetUrl(o.FeedURL)
		calProp(cal, "SOURCE", o.FeedURL, ics.WithValue(string(ics.ValueDataTypeUri)))
	}
	if b.feed {
		d := icalDuration(o.Refresh)
		calProp(cal, "REFRESH-INTERVAL", d, ics.WithValue(string(ics.ValueDataTypeDuration)))
		cal.SetXPublishedTTL(d)
		if len(b.zones) == 1 {
			cal.SetXWRTimezone(b.zones[0].tzid)
		}
	}
	for _, z := range b.zones {
		hi := z.hi
		if hi.Before(o.Now) {
			hi = o.Now
		}
		cal.Components = append(cal.Components, vtimezone(z.tzid, z.loc, z.lo.Add(-48*time.Hour), hi))
	}
	cal.Components = append(cal.Components, b.events...)
	return encode(cal, b.size+2048*len(b.zones)+1024)
}

func calProp(cal *ics.Calendar, name, value string, params ...ics.PropertyParameter) {
	p := ics.CalendarProperty{BaseProperty: ics.BaseProperty{IANAToken: name, Value: value, ICalParameters: map[string][]string{}}}
	for _, pp := range params {
		k, v := pp.KeyValue()
		p.ICalParameters[k] = v
	}
	cal.CalendarProperties = append(cal.CalendarProperties, p)
}

// icalDuration formats a duration as an RFC 5545 DURATION (PT6H, PT1H30M, P1D…).
func icalDuration(d time.Duration) string {
	d = d.Round(time.Second)
	if d < time.Second {
		d = time.Second
	}
	s := "P"
	if days := d / (24 * time.Hour); days > 0 && d%(24*time.Hour) == 0 {
		return s + strconv.Itoa(int(days)) + "D"
	}
	s += "T"
	if h := d / time.Hour; h > 0 {
		s += strconv.Itoa(int(h)) + "H"
	}
	if m := d % time.Hour / time.Minute; m > 0 {
		s += strconv.Itoa(int(m)) + "M"
	}
	if sec := d % time.Minute / time.Second; sec > 0 {
		s += strconv.Itoa(int(sec)) + "S"
	}
	return s
}

// event adds the VEVENTs of one series or conference to a public feed.
func (b *builder) event(d *EventData) error {
	e := &d.Event
	if e.Kind == domain.KindConference {
		for i := range d.Occurrences {
			occ := &d.Occurrences[i]
			if b.keep(occ.End) {
				if err := b.single(e, occ, occurrenceUID(b.o.Host, occ.ID), nil, ""); err != nil {
					return err
				}
			}
		}
		return nil
	}
	rule := programme.RuleOf(*e)
	if rule.RRule == "" && len(rule.RDates) == 0 {
		return b.oneOff(d, rule)
	}
	return b.series(d, rule)
}

// oneOff writes a series without recurrence: one VEVENT with the series UID.
func (b *builder) oneOff(d *EventData, rule programme.Rule) error {
	e := &d.Event
	var main *domain.Occurrence
	for i := range d.Occurrences {
		occ := &d.Occurrences[i]
		if occ.Origin == "generated" && main == nil {
			main = occ
			continue
		}
		if b.keep(occ.End) {
			if err := b.single(e, occ, occurrenceUID(b.o.Host, occ.ID), nil, ""); err != nil {
				return err
			}
		}
	}
	if main == nil { // no row (yet): the event as it is scheduled
		z, err := b.zone(e.TimeZone)
		if err != nil {
			return err
		}
		start := programme.ResolveLenient(z.loc, rule.Start)
		main = &domain.Occurrence{EventID: e.ID, Origin: "generated", StartLocal: rule.Start, Duration: e.Duration,
			Start: start, End: start.Add(eventDuration(e)), Status: domain.StatusScheduled}
		ws := rule.Start
		main.OriginalStart = &ws
	}
	if !b.keep(main.End) {
		return nil
	}
	return b.single(e, main, seriesUID(b.o.Host, e.ID), nil, "")
}

func eventDuration(e *domain.Event) time.Duration {
	if e.Duration > 0 {
		return e.Duration
	}
	return time.Hour
}

func occDuration(e *domain.Event, occ *domain.Occurrence) time.Duration {
	if occ.Duration > 0 {
		return occ.Duration
	}
	return eventDuration(e)
}

// differs reports whether a generated occurrence needs an override of the master.
func differs(e *domain.Event, occ *domain.Occurrence) bool {
	return occ.Status == domain.StatusCancelled ||
		!programme.Floating(occ.StartLocal).Equal(programme.Floating(*occ.OriginalStart)) ||
		occDuration(e, occ) != eventDuration(e) ||
		(occ.Title != "" && occ.Title != e.Title) ||
		strings.TrimSpace(occ.Abstract) != "" ||
		len(occ.Speakers) > 0
}

// series writes a recurring series: the master, its overrides and its own-UID occurrences.
func (b *builder) series(d *EventData, rule programme.Rule) error {
	e := &d.Event
	z, err := b.zone(e.TimeZone)
	if err != nil {
		return err
	}
	rrule := ""
	if rule.RRule != "" {
		if rrule, err = programme.CanonicalRRule(rule.RRule, e.TimeZone); err != nil {
			return fmt.Errorf("calendar: series %d: %w", e.ID, err)
		}
		rule.RRule = rrule
	}

	// The rule's instances over the span of the stored generated occurrences tell overrides
	// (their original start is an instance) from rows the rule no longer yields, and find the
	// instances without a row.
	var lo, hi time.Time
	for i := range d.Occurrences {
		occ := &d.Occurrences[i]
		if occ.Origin != "generated" || occ.OriginalStart == nil {
			continue
		}
		w := programme.Floating(*occ.OriginalStart)
		if lo.IsZero() || w.Before(lo) {
			lo = w
		}
		if w.After(hi) {
			hi = w
		}
	}
	instances := map[int64]bool{}
	var missing []time.Time // instances within [lo, hi] without an occurrence
	if !lo.IsZero() {
		from := programme.ResolveLenient(z.loc, lo).Add(-time.Minute)
		to := programme.ResolveLenient(z.loc, hi).Add(time.Minute)
		insts, err := rule.Expand(from, to, 100000)
		if err != nil {
			return fmt.Errorf("calendar: series %d: %w", e.ID, err)
		}
		for _, in := range insts {
			instances[in.Wall.Unix()] = true
		}
		seen := make(map[int64]bool, len(d.Occurrences))
		for i := range d.Occurrences {
			if occ := &d.Occurrences[i]; occ.Origin == "generated" && occ.OriginalStart != nil {
				seen[programme.Floating(*occ.OriginalStart).Unix()] = true
			}
		}
		for _, in := range insts {
			if !seen[in.Wall.Unix()] {
				missing = append(missing, in.Wall)
			}
		}
	}

	// The master.
	master := ics.NewEvent(seriesUID(b.o.Host, e.ID))
	mc := &master.ComponentBase
	b.stamp(mc, e.Sequence, e.UpdatedAt, time.Time{})
	start := programme.ResolveLenient(z.loc, rule.Start)
	b.wallProp(mc, ics.ComponentPropertyDtStart, z, rule.Start)
	b.wallProp(mc, ics.ComponentPropertyDtEnd, z, programme.WallIn(start.Add(eventDuration(e)), z.loc))
	if rrule != "" {
		mc.AddProperty(ics.ComponentPropertyRrule, rrule)
		if u := untilOf(rrule); !u.IsZero() {
			z.cover(u)
		} else {
			z.cover(b.o.Now)
		}
	}
	for _, w := range sortedWalls(rule.RDates) {
		b.wallProp(mc, ics.ComponentPropertyRdate, z, w)
	}
	for _, w := range sortedWalls(append(slices.Clone(rule.ExDates), missing...)) {
		b.wallProp(mc, ics.ComponentPropertyExdate, z, w)
	}
	mc.AddProperty(ics.ComponentPropertySummary, e.Title)
	page := b.eventPage(e)
	mc.AddProperty(ics.ComponentPropertyDescription, description(b.o.Labels, b.plainText(e.Description), nil, "", "", page))
	if loc := location(e.Venue); loc != "" {
		mc.AddProperty(ics.ComponentPropertyLocation, loc)
	}
	if page != "" {
		mc.AddProperty(ics.ComponentPropertyUrl, page)
	}
	mc.AddProperty(ics.ComponentPropertyStatus, string(ics.ObjectStatusConfirmed))
	b.add(master, 800)

	// Overrides and occurrences of their own, in order.
	occs := make([]*domain.Occurrence, 0, len(d.Occurrences))
	for i := range d.Occurrences {
		occs = append(occs, &d.Occurrences[i])
	}
	slices.SortStableFunc(occs, func(a, b *domain.Occurrence) int { return a.Start.Compare(b.Start) })
	for _, occ := range occs {
		if occ.Origin == "generated" && occ.OriginalStart != nil && instances[programme.Floating(*occ.OriginalStart).Unix()] {
			if !differs(e, occ) {
				continue
			}
			orig := programme.ResolveLenient(z.loc, *occ.OriginalStart)
			if !b.keep(occ.End) && !b.keep(orig.Add(eventDuration(e))) {
				continue
			}
			if err := b.single(e, occ, master.Id(), occ.OriginalStart, ""); err != nil {
				return err
			}
			continue
		}
		if b.keep(occ.End) {
			if err := b.single(e, occ, occurrenceUID(b.o.Host, occ.ID), nil, ""); err != nil {
				return err
			}
		}
	}
	return nil
}

// untilOf returns the UNTIL of a canonical RRULE (UTC), or zero.
func untilOf(rrule string) time.Time {
	for _, part := range strings.Split(rrule, ";") {
		if v, ok := strings.CutPrefix(part, "UNTIL="); ok {
			if t, err := time.Parse(utcFormat, v); err == nil {
				return t
			}
		}
	}
	return time.Time{}
}

func sortedWalls(ws []time.Time) []time.Time {
	out := make([]time.Time, 0, len(ws))
	for _, w := range ws {
		out = append(out, programme.Floating(w).Truncate(time.Second))
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return slices.CompactFunc(out, func(a, b time.Time) bool { return a.Equal(b) })
}

func (b *builder) add(c ics.Component, size int) {
	b.events = append(b.events, c)
	b.size += size
}

// stamp adds DTSTAMP, SEQUENCE and LAST-MODIFIED.
func (b *builder) stamp(c *ics.ComponentBase, seq int, updated, updated2 time.Time) {
	c.SetDtStampTime(b.o.Now)
	c.SetSequence(max(seq, 0))
	if updated2.After(updated) {
		updated = updated2
	}
	if !updated.IsZero() {
		c.SetModifiedAt(updated.Truncate(time.Second))
	}
}

// single adds one occurrence as a VEVENT: an override (recurrenceID set), an occurrence of its
// own, a one-off series, or a personal item (joinURL set).
func (b *builder) single(e *domain.Event, occ *domain.Occurrence, uid string, recurrenceID *time.Time, joinURL string) error {
	z, err := b.zone(e.TimeZone)
	if err != nil {
		return err
	}
	ev := ics.NewEvent(uid)
	c := &ev.ComponentBase
	b.stamp(c, e.Sequence+occ.Sequence, e.UpdatedAt, occ.UpdatedAt)
	if recurrenceID != nil {
		b.wallProp(c, ics.ComponentPropertyRecurrenceId, z, *recurrenceID)
	}
	startWall := programme.Floating(occ.StartLocal)
	start := programme.ResolveLenient(z.loc, startWall)
	b.wallProp(c, ics.ComponentPropertyDtStart, z, startWall)
	b.wallProp(c, ics.ComponentPropertyDtEnd, z, programme.WallIn(start.Add(occDuration(e, occ)), z.loc))

	cancelled := occ.Status == domain.StatusCancelled
	title := occ.Title
	if title == "" {
		title = e.Title
	}
	labels := b.o.Labels
	if cancelled {
		title = labels.Cancelled + ": " + title
	}
	c.AddProperty(ics.ComponentPropertySummary, title)
	text := occ.Abstract
	if strings.TrimSpace(text) == "" {
		text = e.Description
	}
	page := b.occurrencePage(occ.ID)
	reason := ""
	if cancelled {
		reason = labels.Cancelled + "."
		if r := strings.TrimSpace(occ.CancelReason); r != "" {
			reason = labels.Cancelled + ": " + r
		}
	}
	if cancelled {
		joinURL = ""
	}
	c.AddProperty(ics.ComponentPropertyDescription, description(labels, b.plainText(text), occ.Speakers, reason, joinURL, page))
	if loc := location(e.Venue); loc != "" {
		c.AddProperty(ics.ComponentPropertyLocation, loc)
	}
	switch {
	case joinURL != "":
		c.AddProperty(ics.ComponentPropertyUrl, joinURL)
		c.AddProperty("CONFERENCE", joinURL, ics.WithValue(string(ics.ValueDataTypeUri)),
			&ics.KeyValues{Key: "FEATURE", Value: []string{"AUDIO", "VIDEO"}},
			&ics.KeyValues{Key: "LABEL", Value: []string{labels.JoinOnline}})
	case page != "":
		c.AddProperty(ics.ComponentPropertyUrl, page)
	}
	if cancelled {
		c.AddProperty(ics.ComponentPropertyStatus, string(ics.ObjectStatusCancelled))
	} else {
		c.AddProperty(ics.ComponentPropertyStatus, string(ics.ObjectStatusConfirmed))
	}
	b.add(ev, 600+len(text))
	return nil
}

func (b *builder) eventPage(e *domain.Event) string {
	if b.o.BaseURL == "" || e.Slug == "" {
		return ""
	}
	if e.Kind == domain.KindConference {
		return b.o.BaseURL + "/conferences/" + url.PathEscape(e.Slug)
	}
	return b.o.BaseURL + "/series/" + url.PathEscape(e.Slug)
}

func (b *builder) occurrencePage(id int64) string {
	if b.o.BaseURL == "" || id == 0 {
		return ""
	}
	return b.o.BaseURL + "/occurrences/" + strconv.FormatInt(id, 10)
}

// description is the plain-text DESCRIPTION: the cancel reason first, then the text, the
// speakers, the join link and the public page.
func description(labels Labels, text string, speakers []domain.Speaker, reason, join, page string) string {
	var parts []string
	if reason != "" {
		parts = append(parts, reason)
	}
	if text != "" {
		parts = append(parts, text)
	}
	if len(speakers) > 0 {
		names := make([]string, 0, len(speakers))
		for _, s := range speakers {
			n := strings.TrimSpace(s.Name)
			if a := strings.TrimSpace(s.Affiliation); a != "" {
				n += " (" + a + ")"
			}
			names = append(names, n)
		}
		label := labels.Speaker + ": "
		if len(names) > 1 {
			label = labels.Speakers + ": "
		}
		parts = append(parts, label+strings.Join(names, "; "))
	}
	if join != "" {
		parts = append(parts, labels.Join+": "+join)
	}
	if page != "" {
		parts = append(parts, page)
	}
	return strings.Join(parts, "\n\n")
}

// location is the venue: name, room and address, as far as set.
func location(v domain.Venue) string {
	var parts []string
	for _, s := range []string{v.Name, v.Room, v.Address} {
		if s = strings.TrimSpace(s); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ", ")
}
