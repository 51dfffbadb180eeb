package server

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/app"
	"github.com/puente-org/puente/docs"
	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/programme"
	"github.com/puente-org/puente/store"
)

type eventJSON struct {
	ID                int64             `json:"id"`
	Kind              string            `json:"kind"`
	Slug              string            `json:"slug"`
	Title             string            `json:"title"`
	Description       string            `json:"description"`
	Tags              []string          `json:"tags"`
	Language          string            `json:"language"`
	Visibility        string            `json:"visibility"`
	Timezone          string            `json:"timezone"`
	StartDate         string            `json:"start_date"`
	StartTime         string            `json:"start_time,omitempty"`
	EndDate           string            `json:"end_date,omitempty"`
	DurationMinutes   int               `json:"duration_minutes"`
	RRule             string            `json:"rrule"`
	Recurrence        string            `json:"recurrence"`
	RDates            []string          `json:"rdates"`
	ExDates           []string          `json:"exdates"`
	Capacity          int               `json:"capacity"`
	Registration      string            `json:"registration"`
	JoinWindowMinutes int               `json:"join_window_minutes"`
	ReminderMinutes   []int             `json:"reminder_minutes"`
	Questions         []domain.Question `json:"questions"`
	Venue             app.VenueInput    `json:"venue"`
	Organisers        []string          `json:"organisers,omitempty"` // only for those who manage it
	PageURL           string            `json:"page_url"`
	FeedURL           string            `json:"feed_url"`
	CreatedAt         time.Time         `json:"created_at"`
	UpdatedAt         time.Time         `json:"updated_at"`
	Tracks            []trackJSON       `json:"tracks,omitempty"`
}

type trackJSON struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Room     string `json:"room"`
	Position int    `json:"position"`
}

func walls(ts []time.Time) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Format("2006-01-02T15:04")
	}
	return out
}

func (s *Server) eventPath(e domain.Event) string {
	if e.Kind == domain.KindConference {
		return "/conferences/" + e.Slug
	}
	return "/series/" + e.Slug
}

func (s *Server) toEventJSON(e domain.Event, lang string) eventJSON {
	j := eventJSON{ID: e.ID, Kind: string(e.Kind), Slug: e.Slug, Title: e.Title, Description: e.Description, Tags: e.Tags,
		Language: e.Language, Visibility: e.Visibility, Timezone: e.TimeZone, StartDate: e.StartDate.Format(time.DateOnly),
		DurationMinutes: int(e.Duration / time.Minute), RRule: e.RRule, RDates: walls(e.RDates), ExDates: walls(e.ExDates),
		Capacity: e.Capacity, Registration: e.Registration, JoinWindowMinutes: int(e.JoinWindow / time.Minute),
		ReminderMinutes: e.Reminders, Questions: e.Questions,
		Venue:   app.VenueInput{Name: e.Venue.Name, Address: e.Venue.Address, Room: e.Venue.Room},
		PageURL: s.absURL(s.eventPath(e), nil), FeedURL: s.absURL("/feeds"+s.eventPath(e)+".ics", nil),
		CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}
	if e.Kind == domain.KindSeries {
		j.StartTime = e.StartTime
		j.Recurrence = programme.Describe(e.RRule, store.RuleOf(e).Start, e.TimeZone, s.catalog.Localizer(lang))
	}
	if e.EndDate != nil {
		j.EndDate = e.EndDate.Format(time.DateOnly)
	}
	return j
}

type occurrenceJSON struct {
	ID              int64              `json:"id"`
	SeriesID        int64              `json:"series_id,omitempty"`
	ConferenceID    int64              `json:"conference_id,omitempty"`
	Title           string             `json:"title"`
	OwnTitle        string             `json:"own_title"`
	Abstract        string             `json:"abstract"`
	Start           string             `json:"start"`
	End             string             `json:"end"`
	StartLocal      string             `json:"start_local"`
	Timezone        string             `json:"timezone"`
	DurationMinutes int                `json:"duration_minutes"`
	Status          string             `json:"status"`
	Reason          string             `json:"reason,omitempty"`
	Moved           bool               `json:"moved"`
	OriginalStart   string             `json:"original_start,omitempty"`
	Extra           bool               `json:"extra"`
	TrackID         *int64             `json:"track_id,omitempty"`
	Speakers        []app.SpeakerInput `json:"speakers"`
	PageURL         string             `json:"page_url"`
	ICSURL          string             `json:"ics_url"`
}

func (s *Server) toOccurrenceJSON(l store.Listed) occurrenceJSON {
	o, e := l.Occurrence, l.Event
	loc, err := time.LoadLocation(e.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	j := occurrenceJSON{ID: o.ID, Title: occurrenceTitle(l), OwnTitle: o.Title, Abstract: o.Abstract,
		Start: o.Start.In(loc).Format(time.RFC3339), End: o.End.In(loc).Format(time.RFC3339),
		StartLocal: o.StartLocal.Format("2006-01-02T15:04"), Timezone: e.TimeZone,
		DurationMinutes: int(o.Duration / time.Minute), Status: o.Status, Reason: o.CancelReason, Moved: o.Moved,
		Extra: o.Origin == "extra", TrackID: o.TrackID, Speakers: []app.SpeakerInput{},
		PageURL: s.absURL("/occurrences/"+strconv.FormatInt(o.ID, 10), nil),
		ICSURL:  s.absURL("/occurrences/"+strconv.FormatInt(o.ID, 10)+"/calendar.ics", nil)}
	if e.Kind == domain.KindConference {
		j.ConferenceID = e.ID
	} else {
		j.SeriesID = e.ID
	}
	if o.OriginalStart != nil {
		j.OriginalStart = o.OriginalStart.Format("2006-01-02T15:04")
	}
	for _, sp := range o.Speakers {
		j.Speakers = append(j.Speakers, app.SpeakerInput{Name: sp.Name, Affiliation: sp.Affiliation, Bio: sp.Bio, Link: sp.Link, PhotoID: sp.PhotoID, PhotoURL: sp.PhotoURL()})
	}
	return j
}

func occurrenceTitle(l store.Listed) string {
	if l.Occurrence.Title != "" {
		return l.Occurrence.Title
	}
	return l.Event.Title
}

// canCreateEvents: site organisers and admins.
func canCreateEvents(c echo.Context) error { return app.CanCreateEvents(actor(c)) }

// canManage: the event's organisers and site admins.
func (s *Server) canManage(c echo.Context, e domain.Event) error { return app.CanManage(actor(c), e) }

func (s *Server) managesQuietly(c echo.Context, e domain.Event) bool { return s.canManage(c, e) == nil }

func pathID(c echo.Context, name string) (int64, error) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, &domain.Error{Code: domain.CodeNotFound, ID: "err.not_found", Field: name}
	}
	return id, nil
}

// eventFromPath loads the event whose id is in the path.
func (s *Server) eventFromPath(c echo.Context) (domain.Event, error) {
	id, err := pathID(c, "id")
	if err != nil {
		return domain.Event{}, err
	}
	return s.o.Store.EventByID(c.Request().Context(), id)
}

// eventOfKind loads an event by id and checks it is of the kind the URL names.
func (s *Server) eventOfKind(c echo.Context, kind domain.EventKind) (domain.Event, error) {
	e, err := s.eventFromPath(c)
	if err != nil {
		return e, err
	}
	if e.Kind != kind {
		return e, domain.New(domain.CodeNotFound, "err.not_found")
	}
	return e, nil
}

// managedEventOfKind is eventOfKind for someone who may change the event.
func (s *Server) managedEventOfKind(c echo.Context, kind domain.EventKind) (domain.Event, error) {
	e, err := s.eventOfKind(c, kind)
	if err != nil {
		return e, err
	}
	return e, s.canManage(c, e)
}

func (s *Server) eventResponse(c echo.Context, status int, e domain.Event) error {
	j := s.toEventJSON(e, localizerOf(c).Lang())
	if s.managesQuietly(c, e) {
		emails, err := s.o.Store.OrganiserEmails(c.Request().Context(), e.ID)
		if err != nil {
			return err
		}
		j.Organisers = emails
	}
	if e.Kind == domain.KindConference {
		tracks, err := s.o.Store.Tracks(c.Request().Context(), e.ID)
		if err != nil {
			return err
		}
		j.Tracks = []trackJSON{}
		for _, t := range tracks {
			j.Tracks = append(j.Tracks, trackJSON{ID: t.ID, Name: t.Name, Room: t.Room, Position: t.Position})
		}
	}
	return c.JSON(status, j)
}

func (s *Server) apiListEvents(kind domain.EventKind) echo.HandlerFunc {
	return func(c echo.Context) error {
		q, err := domain.SearchQuery(c.QueryParam("q"))
		if err != nil {
			return err
		}
		f := store.EventFilter{Kind: kind, Tag: c.QueryParam("tag"), Language: c.QueryParam("language"), Query: q}
		if f.Limit, f.Offset, err = pageParams(c); err != nil {
			return err
		}
		if c.QueryParam("mine") == "true" {
			p := personOf(c)
			if p == nil {
				return domain.New(domain.CodeUnauthenticated, "err.event.mine_sign_in")
			}
			f.OrganiserID = p.ID
		}
		events, total, err := s.o.Store.ListEvents(c.Request().Context(), f)
		if err != nil {
			return err
		}
		items := make([]eventJSON, 0, len(events))
		for _, e := range events {
			items = append(items, s.toEventJSON(e, localizerOf(c).Lang()))
		}
		return c.JSON(http.StatusOK, map[string]any{"items": items, "total": total, "limit": f.Limit, "offset": f.Offset})
	}
}

func pageParams(c echo.Context) (limit, offset int, err error) {
	limit = 50
	if v := c.QueryParam("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 200 {
			return 0, 0, domain.Invalid("limit", "err.page.limit")
		}
	}
	if v := c.QueryParam("offset"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			return 0, 0, domain.Invalid("offset", "err.page.offset")
		}
	}
	return limit, offset, nil
}

func (s *Server) apiCreateEvent(kind domain.EventKind) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := canCreateEvents(c); err != nil {
			return err
		}
		var in app.EventInput
		if err := decodeJSON(c, &in); err != nil {
			return err
		}
		e, err := s.app.CreateEvent(c.Request().Context(), actor(c), kind, in)
		if err != nil {
			return err
		}
		c.Response().Header().Set("Location", "/api/v1/"+apiCollection(kind)+"/"+strconv.FormatInt(e.ID, 10))
		return s.eventResponse(c, http.StatusCreated, e)
	}
}

func apiCollection(kind domain.EventKind) string {
	if kind == domain.KindConference {
		return "conferences"
	}
	return "series"
}

func (s *Server) apiGetEvent(kind domain.EventKind) echo.HandlerFunc {
	return func(c echo.Context) error {
		e, err := s.eventOfKind(c, kind)
		if err != nil {
			return err
		}
		return s.eventResponse(c, http.StatusOK, e)
	}
}

func (s *Server) apiUpdateEvent(kind domain.EventKind) echo.HandlerFunc {
	return func(c echo.Context) error {
		e, err := s.managedEventOfKind(c, kind)
		if err != nil {
			return err
		}
		var in app.EventInput
		if err := decodeJSON(c, &in); err != nil {
			return err
		}
		e, err = s.app.UpdateEvent(c.Request().Context(), actor(c), e.ID, in)
		if err != nil {
			return err
		}
		return s.eventResponse(c, http.StatusOK, e)
	}
}

func (s *Server) apiDeleteEvent(kind domain.EventKind) echo.HandlerFunc {
	return func(c echo.Context) error {
		e, err := s.managedEventOfKind(c, kind)
		if err != nil {
			return err
		}
		cancelled, err := s.app.DeleteEvent(c.Request().Context(), actor(c), e.ID)
		if err != nil {
			return err
		}
		if cancelled {
			return c.JSON(http.StatusOK, map[string]any{"id": e.ID, "status": domain.StatusCancelled})
		}
		return c.NoContent(http.StatusNoContent)
	}
}

// parseRange reads from/to (YYYY-MM-DD, in the event's zone; to is inclusive).
func parseRange(c echo.Context, now time.Time, loc *time.Location, defaultDays int) (from, to time.Time, err error) {
	now = now.In(loc)
	from = time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	if v := c.QueryParam("from"); v != "" {
		d, err := app.ParseDate("from", v)
		if err != nil {
			return from, to, err
		}
		from = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc)
	}
	to = from.AddDate(0, 0, defaultDays)
	if v := c.QueryParam("to"); v != "" {
		d, err := app.ParseDate("to", v)
		if err != nil {
			return from, to, err
		}
		to = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc).AddDate(0, 0, 1)
	}
	if !to.After(from) {
		return from, to, domain.Invalid("to", "err.range.order")
	}
	if to.Sub(from) > 3*366*24*time.Hour {
		return from, to, domain.Invalid("to", "err.range.too_long")
	}
	return from, to, nil
}

func (s *Server) apiEventOccurrences(kind domain.EventKind) echo.HandlerFunc {
	return func(c echo.Context) error {
		e, err := s.eventOfKind(c, kind)
		if err != nil {
			return err
		}
		loc, _ := time.LoadLocation(e.TimeZone)
		from, to, err := parseRange(c, s.o.Now(), loc, 366)
		if kind == domain.KindConference && c.QueryParam("from") == "" && c.QueryParam("to") == "" {
			from = time.Date(e.StartDate.Year(), e.StartDate.Month(), e.StartDate.Day(), 0, 0, 0, 0, loc)
			to = time.Date(e.EndDate.Year(), e.EndDate.Month(), e.EndDate.Day(), 0, 0, 0, 0, loc).AddDate(0, 0, 1)
			err = nil
		}
		if err != nil {
			return err
		}
		list, err := s.o.Store.Occurrences(c.Request().Context(), store.OccurrenceFilter{EventID: e.ID, From: from, To: to,
			IncludeCancelled: true, Limit: 1000})
		if err != nil {
			return err
		}
		items := make([]occurrenceJSON, 0, len(list))
		for _, l := range list {
			items = append(items, s.toOccurrenceJSON(l))
		}
		return c.JSON(http.StatusOK, map[string]any{"items": items})
	}
}

func (s *Server) apiAddOccurrence(kind domain.EventKind) echo.HandlerFunc {
	return func(c echo.Context) error {
		e, err := s.managedEventOfKind(c, kind)
		if err != nil {
			return err
		}
		var in app.OccurrenceInput
		if err := decodeJSON(c, &in); err != nil {
			return err
		}
		l, err := s.app.AddOccurrence(c.Request().Context(), actor(c), e.ID, in)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusCreated, s.toOccurrenceJSON(l))
	}
}

func (s *Server) occurrenceFromPath(c echo.Context) (store.Listed, error) {
	id, err := pathID(c, "id")
	if err != nil {
		return store.Listed{}, err
	}
	return s.o.Store.OccurrenceByID(c.Request().Context(), id)
}

func (s *Server) apiGetOccurrence(c echo.Context) error {
	l, err := s.occurrenceFromPath(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.toOccurrenceJSON(l))
}

func (s *Server) apiUpdateOccurrence(c echo.Context) error {
	l, err := s.occurrenceFromPath(c)
	if err != nil {
		return err
	}
	if err := s.canManage(c, l.Event); err != nil {
		return err
	}
	var in app.OccurrenceInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	l, err = s.app.UpdateOccurrence(c.Request().Context(), actor(c), l.Occurrence.ID, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.toOccurrenceJSON(l))
}

func (s *Server) apiDeleteOccurrence(c echo.Context) error {
	l, err := s.occurrenceFromPath(c)
	if err != nil {
		return err
	}
	if err := s.canManage(c, l.Event); err != nil {
		return err
	}
	cancelled, err := s.app.DeleteOccurrence(c.Request().Context(), actor(c), l.Occurrence.ID)
	if err != nil {
		return err
	}
	if cancelled {
		if l, err = s.o.Store.OccurrenceByID(c.Request().Context(), l.Occurrence.ID); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, s.toOccurrenceJSON(l))
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) apiAddTrack(c echo.Context) error {
	e, err := s.managedEventOfKind(c, domain.KindConference)
	if err != nil {
		return err
	}
	var in app.TrackInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	t, err := s.app.AddTrack(c.Request().Context(), actor(c), e.ID, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, trackJSON{ID: t.ID, Name: t.Name, Room: t.Room, Position: t.Position})
}

func (s *Server) trackFromPath(c echo.Context) (domain.Track, error) {
	id, err := pathID(c, "id")
	if err != nil {
		return domain.Track{}, err
	}
	return s.app.ManagedTrack(c.Request().Context(), actor(c), id)
}

func (s *Server) apiUpdateTrack(c echo.Context) error {
	t, err := s.trackFromPath(c)
	if err != nil {
		return err
	}
	var in app.TrackInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	t, err = s.app.UpdateTrack(c.Request().Context(), actor(c), t.ID, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, trackJSON{ID: t.ID, Name: t.Name, Room: t.Room, Position: t.Position})
}

func (s *Server) apiDeleteTrack(c echo.Context) error {
	t, err := s.trackFromPath(c)
	if err != nil {
		return err
	}
	if err := s.app.DeleteTrack(c.Request().Context(), actor(c), t.ID); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// apiRecurrencePreview shows the next dates of a rule being edited, in the series' zone
// and one other, for the live preview in the series form.
func (s *Server) apiRecurrencePreview(c echo.Context) error {
	q := c.QueryParams()
	e := app.NewEvent(domain.KindSeries)
	dur := 60
	if v := q.Get("duration_minutes"); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			dur = n
		}
	}
	in := app.EventInput{Title: strPtr("preview"), Timezone: strPtr(q.Get("timezone")), StartDate: strPtr(q.Get("start_date")),
		StartTime: strPtr(q.Get("start_time")), DurationMinutes: &dur}
	rrule, err := patternFromForm(q, q.Get("start_date"), q.Get("start_time"), q.Get("timezone"))
	if err != nil {
		return err
	}
	in.RRule = &rrule
	if err := in.Apply(&e); err != nil {
		return err
	}
	other := q.Get("other_timezone")
	if other != "" {
		if err := domain.ValidTimeZone(other); err != nil {
			de, _ := domain.AsError(err)
			return de.WithField("other_timezone")
		}
	}
	items, err := programme.Preview(store.RuleOf(e), other, s.o.Now(), 8, localizerOf(c))
	if err != nil {
		return err
	}
	type item struct {
		Start   string `json:"start"`
		InZone  string `json:"in_zone"`
		InOther string `json:"in_other,omitempty"`
	}
	out := []item{}
	for _, it := range items {
		out = append(out, item{Start: it.Start.Format(time.RFC3339), InZone: it.InZone, InOther: it.InOther})
	}
	return c.JSON(http.StatusOK, map[string]any{"rrule": rrule, "description": programme.Describe(rrule, store.RuleOf(e).Start, e.TimeZone, localizerOf(c)), "items": out})
}

func strPtr(s string) *string { return &s }

// patternFromForm builds an RRULE from the friendly recurrence fields (shared by the
// series form and the preview).
func patternFromForm(q url.Values, startDate, startTime, zone string) (string, error) {
	p := programme.Pattern{Kind: q.Get("repeat"), Custom: q.Get("rrule"), Ends: q.Get("ends")}
	if p.Kind == "" {
		p.Kind = "once"
	}
	if p.Ends == "" {
		p.Ends = "never"
	}
	atoi := func(field, v string, def int) (int, error) {
		if v == "" {
			return def, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, domain.Invalid(field, "err.number.whole")
		}
		return n, nil
	}
	var err error
	if p.Interval, err = atoi("interval", q.Get("interval"), 1); err != nil {
		return "", err
	}
	if p.Nth, err = atoi("nth", q.Get("nth"), 1); err != nil {
		return "", err
	}
	if p.Count, err = atoi("count", q.Get("count"), 0); err != nil {
		return "", err
	}
	wd, err := atoi("weekday", q.Get("weekday"), 0)
	if err != nil || wd < 0 || wd > 6 {
		return "", domain.Invalid("weekday", "err.pattern.weekday")
	}
	p.Weekday = time.Weekday(wd)
	for _, v := range q["weekdays"] {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 6 {
			return "", domain.Invalid("weekdays", "err.pattern.weekdays")
		}
		p.Weekdays = append(p.Weekdays, time.Weekday(n))
	}
	if u := q.Get("until"); u != "" && p.Ends == "until" {
		if p.Until, err = app.ParseDate("until", u); err != nil {
			return "", err
		}
	}
	start, err := app.ParseDate("start_date", startDate)
	if err != nil {
		return "", err
	}
	if !app.Clock.MatchString(startTime) {
		return "", domain.Invalid("start_time", "err.start_time.format")
	}
	t, _ := time.Parse("15:04", startTime)
	wall := time.Date(start.Year(), start.Month(), start.Day(), t.Hour(), t.Minute(), 0, 0, time.UTC)
	return p.RRule(wall, zone)
}

// apiOpenAPI serves the API description (docs/openapi.yaml).
func (s *Server) apiOpenAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/yaml; charset=utf-8", docs.OpenAPI())
}
