package server

import (
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/i18n"
	"github.com/puente-org/puente/markdown"
	"github.com/puente-org/puente/store"
)

// listedView is an occurrence as pages show it.
type listedView struct {
	ID           int64
	Title        string
	EventTitle   string
	EventPath    string
	EventKind    string
	When         when
	Speakers     []domain.Speaker
	Status       string
	Reason       string
	Moved        bool
	Extra        bool
	Tags         []string
	TrackID      int64
	AbstractHTML template.HTML
	Excerpt      string
	StatusLabel  string
	MovedLabel   string
	OwnTitle     string // the talk's own title, "" when it has none (a series page then names its speakers)
	TBA          string // what a series page shows for a talk with neither title nor speakers
	NextDayLabel string // what "+1" means, for screen readers
	Plenary      bool   // a conference session with no track: it spans them all
	PlenaryLabel string
	// Places: Limited when the event has a capacity; PlacesLabel is "3 places left" or
	// "Full: join the waiting list" (set by withPlaces).
	Limited     bool
	Full        bool
	PlacesLabel string
	capacity    int
}

func (s *Server) view(c echo.Context, l store.Listed) listedView {
	o := l.Occurrence
	v := listedView{ID: o.ID, Title: occurrenceTitle(l), EventTitle: l.Event.Title, EventPath: s.eventPath(l.Event),
		EventKind: string(l.Event.Kind), When: describeWhen(o.Start, o.End, l.Event.TimeZone, viewerZone(c), localizerOf(c)),
		Speakers: o.Speakers, Status: o.Status, Reason: o.CancelReason, Moved: o.Moved, Extra: o.Origin == "extra",
		Tags: l.Event.Tags, AbstractHTML: markdown.Render(o.Abstract), Excerpt: markdown.Plain(o.Abstract, 200),
		StatusLabel: localizerOf(c).T("status." + o.Status), MovedLabel: localizerOf(c).T("status.moved"),
		OwnTitle: o.Title, TBA: localizerOf(c).T("series.tba"), NextDayLabel: localizerOf(c).T("time.next_day", "Count", 1), capacity: l.Event.Capacity}
	if o.TrackID != nil {
		v.TrackID = *o.TrackID
	} else {
		v.Plenary = l.Event.Kind == domain.KindConference
		v.PlenaryLabel = localizerOf(c).T("conference.plenary_badge")
	}
	return v
}

// withPlaces says, for each talk of an event with a capacity that is still open for
// registration, how many places are left, from the count registering decides by.
func (s *Server) withPlaces(c echo.Context, views []listedView) error {
	var ids []int64
	for _, v := range views {
		if v.capacity > 0 && v.Status == domain.StatusScheduled {
			ids = append(ids, v.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	taken, err := s.o.Store.PlacesTaken(c.Request().Context(), ids)
	if err != nil {
		return err
	}
	l := localizerOf(c)
	for i := range views {
		v := &views[i]
		if v.capacity <= 0 || v.Status != domain.StatusScheduled {
			continue
		}
		left := max(v.capacity-taken[v.ID], 0)
		v.Limited, v.Full = true, left == 0
		if v.Full {
			v.PlacesLabel = l.T("places.full")
		} else {
			v.PlacesLabel = l.T("places.left", "Count", left)
		}
	}
	return nil
}

type dayGroup struct {
	Day   string
	Items []listedView
}

// byDay groups occurrences by the reader's local day, in order.
func byDay(items []listedView) []dayGroup {
	var out []dayGroup
	for _, it := range items {
		if len(out) == 0 || out[len(out)-1].Day != it.When.Day {
			out = append(out, dayGroup{Day: it.When.Day})
		}
		out[len(out)-1].Items = append(out[len(out)-1].Items, it)
	}
	return out
}

type programmePage struct {
	Days                 []dayGroup
	Query, Tag, Language string
	Series, Format       string
	Calendar             bool       // the month view, else the list
	Month                *monthGrid // the month view's grid
	MonthValue           string     // the month asked for ("2026-03"), kept when filters change
	ListURL, CalendarURL string     // the two views with the same filters
	Tags                 []string
	AllSeries            []option
	ZoneKnown            bool
	Feed                 subscribe
}

// programmeQuery is what the programme was asked to show, checked.
type programmeQuery struct {
	q, tag, language, series, format string
	calendar                         bool
	month                            string // "2026-03", "" for the current one
}

func parseProgrammeQuery(c echo.Context) (programmeQuery, error) {
	pq := programmeQuery{tag: c.QueryParam("tag"), language: c.QueryParam("language"), series: c.QueryParam("series"),
		format: c.QueryParam("format"), calendar: c.QueryParam("view") == "calendar", month: c.QueryParam("month")}
	var err error
	if pq.q, err = domain.SearchQuery(c.QueryParam("q")); err != nil {
		return pq, err
	}
	if err := domain.CheckStorable("tag", pq.tag, pq.language, pq.series, pq.month); err != nil {
		return pq, err
	}
	if err := domain.ValidFormat(pq.format); err != nil {
		return pq, err
	}
	return pq, nil
}

// values are the filters as a query string, with the view and month given.
func (pq programmeQuery) values(calendar bool, month string) url.Values {
	v := url.Values{}
	for k, x := range map[string]string{"q": pq.q, "tag": pq.tag, "language": pq.language, "series": pq.series, "format": pq.format} {
		if x != "" {
			v.Set(k, x)
		}
	}
	if calendar {
		v.Set("view", "calendar")
		if month != "" {
			v.Set("month", month)
		}
	}
	return v
}

// programme is the public programme: upcoming talks across series and conferences, as a
// list or a month's calendar, in the reader's zone.
func (s *Server) programme(c echo.Context) error {
	ctx := c.Request().Context()
	pq, err := parseProgrammeQuery(c)
	if err != nil {
		return err
	}
	f := store.OccurrenceFilter{From: s.o.Now(), To: s.o.Now().AddDate(0, 6, 0), Query: pq.q, Tag: pq.tag, Language: pq.language,
		Format: pq.format, PublicOnly: true, Limit: 300}
	var month monthSpan
	if pq.calendar {
		if month, err = parseMonth(pq.month, s.o.Now(), viewerZone(c)); err != nil {
			return err
		}
		f.From, f.To, f.Limit, f.IncludeCancelled = month.from, month.to, 1000, true
	}
	if pq.series != "" {
		e, err := s.o.Store.EventBySlug(ctx, pq.series)
		if err != nil {
			return err
		}
		f.EventID, f.PublicOnly = e.ID, false
	}
	list, err := s.o.Store.Occurrences(ctx, f)
	if err != nil {
		return err
	}
	views := make([]listedView, 0, len(list))
	for _, l := range list {
		views = append(views, s.view(c, l))
	}
	events, _, err := s.o.Store.ListEvents(ctx, store.EventFilter{Limit: 200})
	if err != nil {
		return err
	}
	topics, err := s.o.Store.Topics(ctx)
	if err != nil {
		return err
	}
	fq := url.Values{}
	if pq.tag != "" {
		fq.Set("tag", pq.tag)
	}
	if pq.language != "" {
		fq.Set("language", pq.language)
	}
	pp := programmePage{Query: pq.q, Tag: pq.tag, Language: pq.language, Series: pq.series, Format: pq.format,
		Calendar: pq.calendar, MonthValue: pq.month, ListURL: "/programme?" + pq.values(false, "").Encode(),
		CalendarURL: "/programme?" + pq.values(true, pq.month).Encode(), Tags: mergeTopics(domain.SuggestedTags(), topics, pq.tag),
		ZoneKnown: viewerZone(c) != nil, Feed: subscribeFor(s.absURL("/feeds/programme.ics", fq))}
	if pq.calendar {
		pp.Month = s.monthGrid(c, month, views, pq)
	} else {
		pp.Days = byDay(views)
	}
	for _, e := range events {
		pp.AllSeries = append(pp.AllSeries, option{Code: e.Slug, Name: e.Title})
	}
	sort.Slice(pp.AllSeries, func(i, j int) bool { return pp.AllSeries[i].Name < pp.AllSeries[j].Name })
	return s.render(c, http.StatusOK, "programme.html", pp)
}

// mergeTopics is the topic filter's choices: the suggested topics, then those events use,
// each once whatever its case, and the chosen one even if no event has it any more.
func mergeTopics(suggested, used []string, chosen string) []string {
	seen := map[string]bool{}
	var out []string
	for _, list := range [][]string{suggested, used, {chosen}} {
		for _, t := range list {
			if k := strings.ToLower(t); t != "" && !seen[k] {
				seen[k] = true
				out = append(out, t)
			}
		}
	}
	return out
}

type eventPage struct {
	Event           domain.Event
	DescriptionHTML template.HTML
	Recurrence      string
	ZoneLabel       string
	Next            *listedView  // the next talk of a series (first page only)
	Months          []monthGroup // the talks after it, by the reader's month
	Pager           pager
	PastPage        bool // the page of past talks
	HasPast         bool
	Tracks          []timetableTrack
	TrackCount      int // at least 1: the timetable's columns after the time
	Timetable       []timetableDay
	CanManage       bool
	ZoneKnown       bool
	Feed            subscribe
	Following       bool
	Registered      bool // holds a whole-series or conference registration
}

func (s *Server) eventPageData(c echo.Context, e domain.Event, past bool) (eventPage, error) {
	ctx := c.Request().Context()
	ep := eventPage{Event: e, DescriptionHTML: markdown.Render(e.Description), CanManage: s.managesQuietly(c, e),
		ZoneKnown: viewerZone(c) != nil, Feed: subscribeFor(s.absURL("/feeds"+s.eventPath(e)+".ics", nil))}
	loc, _ := time.LoadLocation(e.TimeZone)
	if loc == nil {
		loc = time.UTC
	}
	ep.ZoneLabel = localizerOf(c).ZoneName(loc)
	if p := personOf(c); p != nil {
		followed, err := s.o.Store.Followed(ctx, p.ID)
		if err != nil {
			return ep, err
		}
		ep.Following = slices.Contains(followed, e.ID)
		if ep.Registered, err = s.o.Store.EventRegistered(ctx, e.ID, p.ID); err != nil {
			return ep, err
		}
	}
	if e.Kind == domain.KindSeries {
		return ep, s.seriesTalks(c, &ep, past)
	}
	list, err := s.o.Store.Occurrences(ctx, store.OccurrenceFilter{EventID: e.ID, IncludeCancelled: true, Limit: 400})
	if err != nil {
		return ep, err
	}
	views := make([]listedView, 0, len(list))
	for _, l := range list {
		views = append(views, s.view(c, l))
	}
	tracks, err := s.o.Store.Tracks(ctx, e.ID)
	if err != nil {
		return ep, err
	}
	ep.Tracks, ep.TrackCount = timetableTracks(tracks), max(len(tracks), 1)
	if err := s.withPlaces(c, views); err != nil {
		return ep, err
	}
	ep.Timetable = timetable(views, tracks)
	return ep, nil
}

// Talks per page: the series page (after its next talk) and the page of past talks.
const (
	upcomingPerPage = 20
	pastPerPage     = 20
)

// seriesTalks fills a series page: the next talk first, then a page of the following
// ones grouped by the reader's month; or, for past, a page of past talks, latest first.
func (s *Server) seriesTalks(c echo.Context, ep *eventPage, past bool) error {
	ctx := c.Request().Context()
	ep.Recurrence = describeRule(ep.Event, localizerOf(c))
	ep.PastPage = past
	page, err := pageParam(c)
	if err != nil {
		return err
	}
	now := s.o.Now()
	perPage := upcomingPerPage
	f := store.OccurrenceFilter{EventID: ep.Event.ID, IncludeCancelled: true, From: now, To: now.AddDate(1, 0, 0),
		Offset: (page - 1) * perPage, Limit: perPage + 2}
	if past {
		perPage = pastPerPage
		f = store.OccurrenceFilter{EventID: ep.Event.ID, IncludeCancelled: true, EndedBy: now, Newest: true,
			Offset: (page - 1) * perPage, Limit: perPage + 1}
	} else if page > 1 {
		f.Offset++ // the next talk is shown on its own on the first page
		f.Limit--
	}
	list, err := s.o.Store.Occurrences(ctx, f)
	if err != nil {
		return err
	}
	views := make([]listedView, 0, len(list))
	for _, l := range list {
		views = append(views, s.view(c, l))
	}
	if !past {
		if err := s.withPlaces(c, views); err != nil {
			return err
		}
		if page == 1 && len(views) > 0 {
			next := views[0]
			ep.Next, views = &next, views[1:]
		}
	}
	if len(views) > perPage {
		views, ep.Pager.Next = views[:perPage], page+1
	}
	if page > 1 {
		ep.Pager.Prev = page - 1
	}
	if page > 1 && len(views) == 0 && ep.Next == nil {
		return echo.ErrNotFound
	}
	ep.Months = byMonth(views, localizerOf(c))
	if !past {
		older, err := s.o.Store.Occurrences(ctx, store.OccurrenceFilter{EventID: ep.Event.ID, IncludeCancelled: true, EndedBy: now, Limit: 1})
		if err != nil {
			return err
		}
		ep.HasPast = len(older) > 0
	}
	return nil
}

// pager links a listing's pages (0: no such page).
type pager struct{ Prev, Next int }

// pageParam reads ?page=N (1 when absent).
func pageParam(c echo.Context) (int, error) {
	v := c.QueryParam("page")
	if v == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 10000 {
		return 0, domain.Invalid("page", "err.page.number")
	}
	return n, nil
}

// monthGroup is the talks of one month of the reader's calendar.
type monthGroup struct {
	Month string // "March 2026", "marzo de 2026"
	Items []listedView
}

// byMonth groups talks (in order) by the month they start in on the reader's clock.
func byMonth(items []listedView, l *i18n.Localizer) []monthGroup {
	var out []monthGroup
	var last string
	for _, it := range items {
		t := it.When.Sortable
		if key := t.Format("2006-01"); len(out) == 0 || key != last {
			last = key
			out = append(out, monthGroup{Month: l.T("date.month_year", "Month", l.Month(t.Month()), "Year", t.Year())})
		}
		out[len(out)-1].Items = append(out[len(out)-1].Items, it)
	}
	return out
}

func (s *Server) seriesPage(c echo.Context) error {
	e, err := s.o.Store.EventBySlug(c.Request().Context(), c.Param("slug"))
	if err != nil {
		return err
	}
	if e.Kind != domain.KindSeries {
		return c.Redirect(http.StatusMovedPermanently, s.eventPath(e))
	}
	ep, err := s.eventPageData(c, e, false)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "series.html", ep)
}

// seriesPastPage lists a series' past talks, latest first, a page at a time.
func (s *Server) seriesPastPage(c echo.Context) error {
	e, err := s.o.Store.EventBySlug(c.Request().Context(), c.Param("slug"))
	if err != nil {
		return err
	}
	if e.Kind != domain.KindSeries {
		return echo.ErrNotFound
	}
	ep, err := s.eventPageData(c, e, true)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "series_past.html", ep)
}

func (s *Server) conferencePage(c echo.Context) error {
	e, err := s.o.Store.EventBySlug(c.Request().Context(), c.Param("slug"))
	if err != nil {
		return err
	}
	if e.Kind != domain.KindConference {
		return c.Redirect(http.StatusMovedPermanently, s.eventPath(e))
	}
	ep, err := s.eventPageData(c, e, false)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "conference.html", ep)
}

// timetableDay is one day of a conference: a row per start time, a cell per track; a
// plenary (a session with no track) has a row of its own that spans every track.
type timetableDay struct {
	Day  string
	Rows []timetableRow
}

type timetableRow struct {
	Time    string
	Other   string // the conference's own clock, when the reader's differs
	Plenary []listedView
	Cells   []timetableCell // one per track (none in a plenary row)
	sortKey string
}

type timetableCell struct {
	Colour   int // the track's colour (track-c0 … track-c5)
	Sessions []listedView
}

// trackColours is how many colours tracks take in turn (style.css: .track-c0 …).
const trackColours = 6

// timetableTrack is a track's column heading.
type timetableTrack struct {
	Name, Room string
	Colour     int
}

func timetableTracks(tracks []domain.Track) []timetableTrack {
	out := make([]timetableTrack, len(tracks))
	for i, t := range tracks {
		out[i] = timetableTrack{Name: t.Name, Room: t.Room, Colour: i % trackColours}
	}
	return out
}

func timetable(views []listedView, tracks []domain.Track) []timetableDay {
	col := map[int64]int{}
	for i, t := range tracks {
		col[t.ID] = i
	}
	var days []timetableDay
	for _, g := range byDay(views) {
		day := timetableDay{Day: g.Day}
		rowIndex := map[string]int{}
		for _, v := range g.Items {
			c, onTrack := col[v.TrackID]
			key := v.When.Sortable.Format("15:04")
			if !onTrack {
				key += " plenary" // before the track sessions starting at the same time
			} else {
				key += " tracks"
			}
			i, ok := rowIndex[key]
			if !ok {
				i = len(day.Rows)
				rowIndex[key] = i
				row := timetableRow{Time: v.When.Time, Other: v.When.Other, sortKey: key}
				if onTrack {
					row.Cells = make([]timetableCell, len(tracks))
					for j := range row.Cells {
						row.Cells[j].Colour = j % trackColours
					}
				}
				day.Rows = append(day.Rows, row)
			}
			if onTrack {
				day.Rows[i].Cells[c].Sessions = append(day.Rows[i].Cells[c].Sessions, v)
			} else {
				day.Rows[i].Plenary = append(day.Rows[i].Plenary, v)
			}
		}
		sort.SliceStable(day.Rows, func(a, b int) bool { return day.Rows[a].sortKey < day.Rows[b].sortKey })
		days = append(days, day)
	}
	return days
}

type occurrencePage struct {
	Registration *store.Registration
	CanRegister  bool
	IsSpeaker    bool
	Form         profilePage
	Occ          listedView
	Event        domain.Event
	Venue        domain.Venue
	Duration     int
	CanManage    bool
	ZoneKnown    bool
	Waitlist     bool // full: the action offered is joining the waiting list
	Recordings   int  // recordings the page links to (recording.html)
}

func (s *Server) occurrencePage(c echo.Context) error {
	l, err := s.occurrenceFromPath(c)
	if err != nil {
		return err
	}
	op := occurrencePage{Occ: s.view(c, l), Event: l.Event,
		Venue: l.Event.Venue, Duration: int(l.Occurrence.Duration / time.Minute), CanManage: s.managesQuietly(c, l.Event),
		ZoneKnown: viewerZone(c) != nil}
	op.CanRegister = s.app.RegistrationOpen(l)
	if op.CanRegister {
		places := []listedView{op.Occ}
		if err := s.withPlaces(c, places); err != nil {
			return err
		}
		op.Occ = places[0]
		// Registering for a full session in open mode puts one on the waiting list.
		op.Waitlist = op.Occ.Full && l.Event.Registration == domain.RegistrationOpen
	}
	if p := personOf(c); p != nil {
		for _, sp := range l.Occurrence.Speakers {
			op.IsSpeaker = op.IsSpeaker || (sp.PersonID != nil && *sp.PersonID == p.ID)
		}
		regs, err := s.o.Store.Registrations(c.Request().Context(), store.RegistrationFilter{OccurrenceID: l.Occurrence.ID, PersonID: p.ID})
		if err != nil {
			return err
		}
		if len(regs) > 0 && regs[0].Status.Active() {
			op.Registration = &regs[0]
		}
		if op.CanRegister && op.Registration == nil {
			if op.Form, err = s.profilePage(c, p.Profile); err != nil {
				return err
			}
		}
	}
	recs, err := s.app.SessionRecordings(c.Request().Context(), actor(c), l)
	if err != nil {
		return err
	}
	op.Recordings = len(recs)
	return s.render(c, http.StatusOK, "occurrence.html", op)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
