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
}

func (s *Server) view(c echo.Context, l store.Listed) listedView {
	o := l.Occurrence
	v := listedView{ID: o.ID, Title: occurrenceTitle(l), EventTitle: l.Event.Title, EventPath: s.eventPath(l.Event),
		EventKind: string(l.Event.Kind), When: describeWhen(o.Start, o.End, l.Event.TimeZone, viewerZone(c), localizerOf(c)),
		Speakers: o.Speakers, Status: o.Status, Reason: o.CancelReason, Moved: o.Moved, Extra: o.Origin == "extra",
		Tags: l.Event.Tags, AbstractHTML: markdown.Render(o.Abstract), Excerpt: markdown.Plain(o.Abstract, 200),
		StatusLabel: localizerOf(c).T("status." + o.Status), MovedLabel: localizerOf(c).T("status.moved")}
	if o.TrackID != nil {
		v.TrackID = *o.TrackID
	}
	return v
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
	Days            []dayGroup
	Past            []listedView
	Tracks          []domain.Track
	Timetable       []timetableDay
	CanManage       bool
	ZoneKnown       bool
	Feed            subscribe
	Following       bool
	Registered      bool // holds a whole-series or conference registration
}

func (s *Server) eventPageData(c echo.Context, e domain.Event) (eventPage, error) {
	ctx := c.Request().Context()
	ep := eventPage{Event: e, DescriptionHTML: markdown.Render(e.Description), CanManage: s.managesQuietly(c, e),
		ZoneKnown: viewerZone(c) != nil, Feed: subscribeFor(s.absURL("/feeds"+s.eventPath(e)+".ics", nil))}
	loc, _ := time.LoadLocation(e.TimeZone)
	ep.ZoneLabel = zoneLabel(localizerOf(c), loc, s.o.Now())
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
	f := store.OccurrenceFilter{EventID: e.ID, IncludeCancelled: true, Limit: 400}
	if e.Kind == domain.KindSeries {
		ep.Recurrence = describeRule(e, localizerOf(c))
		f.From, f.To = s.o.Now(), s.o.Now().AddDate(1, 0, 0)
	}
	list, err := s.o.Store.Occurrences(ctx, f)
	if err != nil {
		return ep, err
	}
	views := make([]listedView, 0, len(list))
	for _, l := range list {
		views = append(views, s.view(c, l))
	}
	if e.Kind == domain.KindConference {
		if ep.Tracks, err = s.o.Store.Tracks(ctx, e.ID); err != nil {
			return ep, err
		}
		ep.Timetable = timetable(views, ep.Tracks)
		return ep, nil
	}
	ep.Days = byDay(views)
	return ep, nil
}

func (s *Server) seriesPage(c echo.Context) error {
	e, err := s.o.Store.EventBySlug(c.Request().Context(), c.Param("slug"))
	if err != nil {
		return err
	}
	if e.Kind != domain.KindSeries {
		return c.Redirect(http.StatusMovedPermanently, s.eventPath(e))
	}
	ep, err := s.eventPageData(c, e)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "series.html", ep)
}

func (s *Server) conferencePage(c echo.Context) error {
	e, err := s.o.Store.EventBySlug(c.Request().Context(), c.Param("slug"))
	if err != nil {
		return err
	}
	if e.Kind != domain.KindConference {
		return c.Redirect(http.StatusMovedPermanently, s.eventPath(e))
	}
	ep, err := s.eventPageData(c, e)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "conference.html", ep)
}

// timetableDay is one day of a conference: a row per start time, a cell per track.
type timetableDay struct {
	Day  string
	Rows []timetableRow
}

type timetableRow struct {
	Time  string
	Other string         // the conference's own clock, when the reader's differs
	Cells [][]listedView // one list per track, then one for sessions without a track
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
			key := v.When.Time[:5]
			i, ok := rowIndex[key]
			if !ok {
				i = len(day.Rows)
				rowIndex[key] = i
				day.Rows = append(day.Rows, timetableRow{Time: v.When.Time, Other: v.When.Other, Cells: make([][]listedView, len(tracks)+1)})
			}
			c, ok := col[v.TrackID]
			if !ok {
				c = len(tracks)
			}
			day.Rows[i].Cells[c] = append(day.Rows[i].Cells[c], v)
		}
		sort.SliceStable(day.Rows, func(a, b int) bool { return day.Rows[a].Time < day.Rows[b].Time })
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
	return s.render(c, http.StatusOK, "occurrence.html", op)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
