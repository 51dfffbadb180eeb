package server

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/app"
	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/photo"
	"github.com/puente-org/puente/programme"
	"github.com/puente-org/puente/store"
)

func describeRule(e domain.Event, w programme.Words) string {
	return programme.Describe(e.RRule, store.RuleOf(e).Start, e.TimeZone, w)
}

// dashboardEvent is one series or conference on the organisers' dashboard, with its
// figures.
type dashboardEvent struct {
	domain.Event
	Counts store.EventCounts
}

type dashboardPage struct {
	Events    []dashboardEvent
	CanCreate bool
}

// organiseDashboard lists the series and conferences the reader organises (all of them for
// a site admin) with their registrations, waiting lists and attendance. Someone who may
// neither create nor organise anything is refused (403).
func (s *Server) organiseDashboard(c echo.Context) error {
	ctx := c.Request().Context()
	p := personOf(c)
	f := store.EventFilter{OrganiserID: p.ID, Limit: 200}
	if p.IsAdmin { // site admins manage everything
		f = store.EventFilter{IncludeUnlisted: true, Limit: 200}
	}
	events, _, err := s.o.Store.ListEvents(ctx, f)
	if err != nil {
		return err
	}
	canCreate := canCreateEvents(c) == nil
	if !canCreate && len(events) == 0 {
		return domain.New(domain.CodeForbidden, "err.organise.not_organiser")
	}
	ids := make([]int64, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	counts, err := s.o.Store.CountsOfEvents(ctx, ids)
	if err != nil {
		return err
	}
	page := dashboardPage{CanCreate: canCreate}
	for _, e := range events {
		page.Events = append(page.Events, dashboardEvent{Event: e, Counts: counts[e.ID]})
	}
	return s.render(c, http.StatusOK, "organise.html", page)
}

// eventForm is the create/edit form's state: the raw values (so a refused form comes back
// as typed), the problem, and the choices.
type eventForm struct {
	Kind      string
	Action    string
	V         map[string]string
	Weekdays  map[string]bool
	Error     string
	Field     string
	Event     *domain.Event
	Zones     []string
	Tags      []string
	Days      []option
	Occs      []listedView
	Tracks    []domain.Track
	Languages []option
	Summary   string // the saved rule in words
}

func (s *Server) newEventForm(c echo.Context, kind domain.EventKind) eventForm {
	l := localizerOf(c)
	f := eventForm{Kind: string(kind), V: map[string]string{}, Weekdays: map[string]bool{}, Zones: domain.CommonTimeZones(),
		Tags: domain.SuggestedTags()}
	for d := time.Sunday; d <= time.Saturday; d++ {
		f.Days = append(f.Days, option{Code: strconv.Itoa(int(d)), Name: l.Weekday(d)})
	}
	for _, code := range []string{"en", "es", "pt"} {
		f.Languages = append(f.Languages, option{Code: code, Name: languageName(code)})
	}
	return f
}

// createForm is the empty form for the kind of event in the query (a series unless it names
// a conference).
func (s *Server) createForm(c echo.Context) eventForm {
	kind := domain.EventKind(c.QueryParam("kind"))
	if kind != domain.KindConference {
		kind = domain.KindSeries
	}
	f := s.newEventForm(c, kind)
	f.Action = "/organise/new?kind=" + string(kind)
	return f
}

func (s *Server) newEventPage(c echo.Context) error {
	if err := canCreateEvents(c); err != nil {
		return err
	}
	f := s.createForm(c)
	zone := "Europe/London"
	if p := personOf(c); p.Profile.TimeZone != "" {
		zone = p.Profile.TimeZone
	}
	tomorrow := s.o.Now().AddDate(0, 0, 7).Format(time.DateOnly)
	f.V = map[string]string{"timezone": zone, "start_date": tomorrow, "start_time": "15:00", "duration_minutes": "60",
		"capacity": "100", "registration": "open", "join_window_minutes": "15", "language": "en", "visibility": "public",
		"repeat": "weekly", "interval": "1", "ends": "never", "nth": "1", "end_date": tomorrow, "other_timezone": "America/Santiago"}
	return s.render(c, http.StatusOK, "event_form.html", f)
}

// inputFromForm reads the event form into an app.EventInput.
func inputFromForm(c echo.Context, kind domain.EventKind) (app.EventInput, error) {
	form, err := c.FormParams()
	if err != nil {
		return app.EventInput{}, domain.Invalid("", "err.form.unreadable")
	}
	get := func(k string) *string { v := form.Get(k); return &v }
	num := func(field string) (*int, error) {
		v := strings.TrimSpace(form.Get(field))
		if v == "" {
			return nil, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, domain.Invalid(field, "err.number.whole")
		}
		return &n, nil
	}
	in := app.EventInput{Title: get("title"), Slug: get("slug"), Description: get("description"), Language: get("language"),
		Visibility: get("visibility"), Timezone: get("timezone"), StartDate: get("start_date"), Registration: get("registration"),
		Venue: &app.VenueInput{Name: form.Get("venue_name"), Address: form.Get("venue_address"), Room: form.Get("venue_room")}}
	if strings.TrimSpace(*in.Slug) == "" {
		in.Slug = nil
	}
	tags := splitList(form.Get("tags"))
	in.Tags = &tags
	if orgs := splitList(form.Get("organisers")); len(orgs) > 0 {
		in.Organisers = &orgs
	}
	for field, dst := range map[string]**int{"duration_minutes": &in.DurationMinutes, "capacity": &in.Capacity,
		"join_window_minutes": &in.JoinWindowMinutes} {
		if *dst, err = num(field); err != nil {
			return in, err
		}
	}
	qs, err := parseQuestions(form.Get("questions"))
	if err != nil {
		return in, err
	}
	in.Questions = &qs
	if kind == domain.KindSeries {
		in.StartTime = get("start_time")
		rrule, err := patternFromForm(form, form.Get("start_date"), form.Get("start_time"), form.Get("timezone"))
		if err != nil {
			return in, err
		}
		in.RRule = &rrule
	} else {
		in.EndDate = get("end_date")
	}
	return in, nil
}

func splitList(v string) []string {
	out := []string{}
	for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '\n' || r == ';' }) {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// refillForm copies what was typed into a form's values, so a refused form comes back as
// typed.
func refillForm(c echo.Context, v map[string]string) url.Values {
	form, _ := c.FormParams()
	for k := range form {
		v[k] = form.Get(k)
	}
	return form
}

// refuseEventForm re-renders the form built by build with what was typed and the problem;
// errors that are not the form's problem pass through, without building the form.
func (s *Server) refuseEventForm(c echo.Context, build func() (eventForm, error), err error) error {
	de, ok := domain.AsError(err)
	if !ok || (de.Code != domain.CodeInvalid && de.Code != domain.CodeConflict) {
		return err
	}
	f, ferr := build()
	if ferr != nil {
		return ferr
	}
	form := refillForm(c, f.V)
	for _, d := range form["weekdays"] {
		f.Weekdays[d] = true
	}
	f.Error, f.Field = s.localize(c, de), de.Field
	return s.render(c, http.StatusBadRequest, "event_form.html", f)
}

func (s *Server) createEventFromForm(c echo.Context) error {
	if err := canCreateEvents(c); err != nil {
		return err
	}
	f := s.createForm(c)
	kind := domain.EventKind(f.Kind)
	build := func() (eventForm, error) { return f, nil }
	in, err := inputFromForm(c, kind)
	if err != nil {
		return s.refuseEventForm(c, build, err)
	}
	e, err := s.app.CreateEvent(c.Request().Context(), actor(c), kind, in)
	if err != nil {
		return s.refuseEventForm(c, build, err)
	}
	s.flash(c, "organise.saved")
	return c.Redirect(http.StatusSeeOther, "/organise/events/"+itoa(e.ID))
}

// managedEvent loads the event in the path and checks the reader may manage it.
func (s *Server) managedEvent(c echo.Context) (domain.Event, error) {
	e, err := s.eventFromPath(c)
	if err != nil {
		return e, err
	}
	return e, s.canManage(c, e)
}

// editForm fills the form from a stored event.
func (s *Server) editForm(c echo.Context, e domain.Event) (eventForm, error) {
	ctx := c.Request().Context()
	f := s.newEventForm(c, e.Kind)
	f.Action = "/organise/events/" + itoa(e.ID)
	f.Event = &e
	if e.Kind == domain.KindSeries {
		f.Summary = describeRule(e, localizerOf(c)) + " · " + e.StartTime + " " + e.TimeZone
	}
	orgs, err := s.o.Store.OrganiserEmails(ctx, e.ID)
	if err != nil {
		return f, err
	}
	f.V = map[string]string{"title": e.Title, "slug": e.Slug, "description": e.Description, "tags": strings.Join(e.Tags, ", "),
		"language": e.Language, "visibility": e.Visibility, "timezone": e.TimeZone, "start_date": e.StartDate.Format(time.DateOnly),
		"start_time": e.StartTime, "duration_minutes": strconv.Itoa(int(e.Duration / time.Minute)),
		"capacity": strconv.Itoa(e.Capacity), "registration": e.Registration,
		"join_window_minutes": strconv.Itoa(int(e.JoinWindow / time.Minute)), "venue_name": e.Venue.Name,
		"venue_address": e.Venue.Address, "venue_room": e.Venue.Room, "organisers": strings.Join(orgs, ", "),
		"other_timezone": "America/Santiago", "questions": formatQuestions(e.Questions)}
	if e.EndDate != nil {
		f.V["end_date"] = e.EndDate.Format(time.DateOnly)
	}
	if e.Kind == domain.KindSeries {
		p := programme.PatternOf(e.RRule, store.RuleOf(e).Start, e.TimeZone)
		f.V["repeat"], f.V["interval"], f.V["nth"] = p.Kind, strconv.Itoa(max(p.Interval, 1)), strconv.Itoa(p.Nth)
		f.V["weekday"], f.V["rrule"], f.V["ends"] = strconv.Itoa(int(p.Weekday)), e.RRule, p.Ends
		if f.V["ends"] == "" {
			f.V["ends"] = "never"
		}
		if !p.Until.IsZero() {
			f.V["until"] = p.Until.Format(time.DateOnly)
		}
		if p.Count > 0 {
			f.V["count"] = strconv.Itoa(p.Count)
		}
		for _, d := range p.Weekdays {
			f.Weekdays[strconv.Itoa(int(d))] = true
		}
	}
	fl := store.OccurrenceFilter{EventID: e.ID, IncludeCancelled: true, Limit: 400}
	if e.Kind == domain.KindSeries {
		fl.From, fl.To = s.o.Now(), s.o.Now().AddDate(1, 0, 0)
	}
	list, err := s.o.Store.Occurrences(ctx, fl)
	if err != nil {
		return f, err
	}
	for _, l := range list {
		f.Occs = append(f.Occs, s.view(c, l))
	}
	f.Tracks, err = s.tracksOf(ctx, e)
	return f, err
}

// tracksOf is a conference's tracks (a series has none).
func (s *Server) tracksOf(ctx context.Context, e domain.Event) ([]domain.Track, error) {
	if e.Kind != domain.KindConference {
		return nil, nil
	}
	return s.o.Store.Tracks(ctx, e.ID)
}

func (s *Server) manageEventPage(c echo.Context) error {
	e, err := s.managedEvent(c)
	if err != nil {
		return err
	}
	f, err := s.editForm(c, e)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "event_form.html", f)
}

func (s *Server) updateEventFromForm(c echo.Context) error {
	e, err := s.managedEvent(c)
	if err != nil {
		return err
	}
	build := func() (eventForm, error) { return s.editForm(c, e) }
	in, err := inputFromForm(c, e.Kind)
	if err != nil {
		return s.refuseEventForm(c, build, err)
	}
	if in.Organisers == nil {
		return s.refuseEventForm(c, build, domain.Invalid("organisers", "err.organisers.none"))
	}
	if _, err := s.app.UpdateEvent(c.Request().Context(), actor(c), e.ID, in); err != nil {
		return s.refuseEventForm(c, build, err)
	}
	s.flash(c, "organise.saved")
	return c.Redirect(http.StatusSeeOther, "/organise/events/"+itoa(e.ID))
}

func (s *Server) deleteEventFromForm(c echo.Context) error {
	e, err := s.managedEvent(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if c.FormValue("confirm") != "1" {
		regs, err := s.o.Store.Registrations(ctx, store.RegistrationFilter{EventID: e.ID})
		if err != nil {
			return err
		}
		return s.confirmDelete(c, deleteConfirm{Title: e.Title, Action: "/organise/events/" + itoa(e.ID) + "/delete",
			Back: "/organise/events/" + itoa(e.ID), Registrations: len(regs)})
	}
	cancelled, err := s.app.DeleteEvent(ctx, actor(c), e.ID)
	if err != nil {
		return err
	}
	if cancelled {
		s.flash(c, "organise.cancelled_instead")
		return c.Redirect(http.StatusSeeOther, "/organise/events/"+itoa(e.ID))
	}
	s.flash(c, "organise.deleted")
	return c.Redirect(http.StatusSeeOther, "/organise")
}

// deleteConfirm is the confirmation step before deleting (or, when people registered,
// cancelling) a series, conference or session, and before the other destructive actions
// (cancelling a session, removing someone's registration), which say what will happen in
// Warning and Button.
type deleteConfirm struct {
	Title         string
	Action        string // where the confirmed form posts
	Do            string // the form's "do" value, for the occurrence form
	Hidden        []option
	Back          string
	Registrations int    // registrations it has or had: it will be cancelled instead
	Warning       string // what the action does, when it is not a deletion
	Button        string
	Missing       bool // the confirmation form came back without the box ticked
}

// confirmDelete shows the confirmation step: the delete buttons post without "confirm",
// and land here; the page's form carries a required box (no script needed). A
// confirmation form sent back without the box is refused with 400.
func (s *Server) confirmDelete(c echo.Context, d deleteConfirm) error {
	status := http.StatusOK
	if c.FormValue("step") == "confirm" {
		d.Missing, status = true, http.StatusBadRequest
	}
	return s.render(c, status, "delete_confirm.html", d)
}

func (s *Server) addTrackFromForm(c echo.Context) error {
	e, err := s.managedEvent(c)
	if err != nil {
		return err
	}
	name, room := c.FormValue("name"), c.FormValue("room")
	if _, err := s.app.AddTrack(c.Request().Context(), actor(c), e.ID, app.TrackInput{Name: &name, Room: &room}); err != nil {
		return s.refuseEventForm(c, func() (eventForm, error) { return s.editForm(c, e) }, err)
	}
	s.flash(c, "organise.saved")
	return c.Redirect(http.StatusSeeOther, "/organise/events/"+itoa(e.ID)+"#tracks")
}

func (s *Server) deleteTrackFromForm(c echo.Context) error {
	t, err := s.trackFromPath(c)
	if err != nil {
		return err
	}
	if err := s.app.DeleteTrack(c.Request().Context(), actor(c), t.ID); err != nil {
		return err
	}
	s.flash(c, "organise.saved")
	return c.Redirect(http.StatusSeeOther, "/organise/events/"+itoa(t.EventID)+"#tracks")
}

// occurrenceForm is the page to edit one talk or session (or add one).
type occurrenceForm struct {
	Action   string
	Occ      *listedView
	Event    domain.Event
	V        map[string]string
	Speakers []app.SpeakerInput
	Tracks   []domain.Track
	Error    string
	Field    string
	Original string
	PhotoRow string // the speaker row a refused photo was for
	PhotoMB  int
	PhotoPx  int
}

func occurrenceFormInput(c echo.Context) (app.OccurrenceInput, error) {
	form, err := c.FormParams()
	if err != nil {
		return app.OccurrenceInput{}, domain.Invalid("", "err.form.unreadable")
	}
	get := func(k string) *string { v := form.Get(k); return &v }
	in := app.OccurrenceInput{Title: get("title"), Abstract: get("abstract"), StartDate: get("start_date"), StartTime: get("start_time")}
	if v := strings.TrimSpace(form.Get("duration_minutes")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return in, domain.Invalid("duration_minutes", "err.number.minutes")
		}
		in.DurationMinutes = &n
	}
	if v := form.Get("track_id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return in, domain.Invalid("track_id", "err.track.choose")
		}
		in.TrackID = &n
	}
	var sps []app.SpeakerInput
	for i := range maxFormSpeakers {
		sp := speakerFromForm(form, i)
		if sp.Name = strings.TrimSpace(sp.Name); sp.Name == "" {
			continue
		}
		sps = append(sps, sp)
	}
	in.Speakers = &sps
	return in, nil
}

// maxFormSpeakers is how many speaker rows (speaker_name_0 …) the occurrence form may send.
const maxFormSpeakers = 20

// speakerFromForm reads speaker row i of the occurrence form.
func speakerFromForm(form url.Values, i int) app.SpeakerInput {
	k := strconv.Itoa(i)
	sp := app.SpeakerInput{Name: form.Get("speaker_name_" + k), Affiliation: form.Get("speaker_affiliation_" + k),
		Bio: form.Get("speaker_bio_" + k), Link: form.Get("speaker_link_" + k), Email: form.Get("speaker_email_" + k)}
	if id, err := strconv.ParseInt(form.Get("speaker_photo_"+k), 10, 64); err == nil && id > 0 {
		sp.PhotoID = id
	}
	return sp
}

func (s *Server) occurrenceFormFor(c echo.Context, l store.Listed) (occurrenceForm, error) {
	v := s.view(c, l)
	o := l.Occurrence
	f := occurrenceForm{Action: "/organise/occurrences/" + itoa(o.ID), Occ: &v, Event: l.Event, PhotoMB: photo.MaxBytes >> 20, PhotoPx: photo.Size,
		V: map[string]string{"title": o.Title, "abstract": o.Abstract, "start_date": o.StartLocal.Format(time.DateOnly),
			"start_time": o.StartLocal.Format("15:04"), "duration_minutes": strconv.Itoa(int(o.Duration / time.Minute)), "reason": o.CancelReason}}
	if o.TrackID != nil {
		f.V["track_id"] = itoa(*o.TrackID)
	}
	if o.OriginalStart != nil {
		f.Original = o.OriginalStart.Format("2006-01-02 15:04")
	}
	for _, sp := range o.Speakers {
		f.Speakers = append(f.Speakers, app.SpeakerInput{Name: sp.Name, Affiliation: sp.Affiliation, Bio: sp.Bio, Link: sp.Link, Email: sp.Email, PhotoID: sp.PhotoID, PhotoURL: sp.PhotoURL()})
	}
	for len(f.Speakers) < len(o.Speakers)+2 {
		f.Speakers = append(f.Speakers, app.SpeakerInput{})
	}
	var err error
	f.Tracks, err = s.tracksOf(c.Request().Context(), l.Event)
	return f, err
}

func (s *Server) managedOccurrence(c echo.Context) (store.Listed, error) {
	l, err := s.occurrenceFromPath(c)
	if err != nil {
		return l, err
	}
	return l, s.canManage(c, l.Event)
}

func (s *Server) editOccurrencePage(c echo.Context) error {
	l, err := s.managedOccurrence(c)
	if err != nil {
		return err
	}
	f, err := s.occurrenceFormFor(c, l)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "occurrence_form.html", f)
}

// refuseOccurrenceForm is refuseEventForm for the occurrence form: speaker rows come back
// as typed, empty ones included.
func (s *Server) refuseOccurrenceForm(c echo.Context, build func() (occurrenceForm, error), err error) error {
	de, ok := domain.AsError(err)
	if !ok || de.Code != domain.CodeInvalid {
		return err
	}
	f, ferr := build()
	if ferr != nil {
		return ferr
	}
	form := refillForm(c, f.V)
	// A row keeps a photo by its id; its URL is the saved photo's (another id shows none).
	photoURLs := map[int64]string{}
	for _, sp := range f.Speakers {
		photoURLs[sp.PhotoID] = sp.PhotoURL
	}
	f.Speakers = nil
	for i := range maxFormSpeakers {
		if _, ok := form["speaker_name_"+strconv.Itoa(i)]; ok {
			sp := speakerFromForm(form, i)
			if sp.PhotoURL = photoURLs[sp.PhotoID]; sp.PhotoURL == "" {
				sp.PhotoID = 0
			}
			f.Speakers = append(f.Speakers, sp)
		}
	}
	f.Error, f.Field = s.localize(c, de), de.Field
	return s.render(c, http.StatusBadRequest, "occurrence_form.html", f)
}

func (s *Server) saveOccurrenceFromForm(c echo.Context) error {
	l, err := s.managedOccurrence(c)
	if err != nil {
		return err
	}
	build := func() (occurrenceForm, error) { return s.occurrenceFormFor(c, l) }
	in, err := occurrenceFormInput(c)
	if err != nil {
		return s.refuseOccurrenceForm(c, build, err)
	}
	switch c.FormValue("do") {
	case "cancel":
		reason := c.FormValue("reason")
		// A cancellation without a reason is refused by the form below; with one, it is
		// confirmed first: everyone registered is told at once.
		if strings.TrimSpace(reason) != "" && c.FormValue("confirm") != "1" {
			regs, err := s.o.Store.Registrations(c.Request().Context(), store.RegistrationFilter{OccurrenceID: l.Occurrence.ID})
			if err != nil {
				return err
			}
			active := 0
			for _, r := range regs {
				if r.Status.Active() {
					active++
				}
			}
			lz := localizerOf(c)
			warning := lz.T("organise.cancel_confirm_nobody", "Reason", reason)
			if active > 0 {
				warning = lz.T("organise.cancel_confirm_warning", "Count", active, "Reason", reason)
			}
			return s.confirmDelete(c, deleteConfirm{Title: s.view(c, l).Title, Action: "/organise/occurrences/" + itoa(l.Occurrence.ID),
				Do: "cancel", Hidden: []option{{Code: "reason", Name: reason}}, Back: "/organise/occurrences/" + itoa(l.Occurrence.ID),
				Warning: warning, Button: lz.T("organise.cancel_confirm_button")})
		}
		in = app.OccurrenceInput{Status: strPtr(domain.StatusCancelled), Reason: strPtr(reason)}
	case "restore":
		in = app.OccurrenceInput{Status: strPtr(domain.StatusScheduled)}
	case "delete":
		ctx := c.Request().Context()
		if c.FormValue("confirm") != "1" {
			regs, err := s.o.Store.Registrations(ctx, store.RegistrationFilter{OccurrenceID: l.Occurrence.ID})
			if err != nil {
				return err
			}
			return s.confirmDelete(c, deleteConfirm{Title: s.view(c, l).Title, Action: "/organise/occurrences/" + itoa(l.Occurrence.ID),
				Do: "delete", Back: "/organise/occurrences/" + itoa(l.Occurrence.ID), Registrations: len(regs)})
		}
		cancelled, err := s.app.DeleteOccurrence(ctx, actor(c), l.Occurrence.ID)
		if err != nil {
			return err
		}
		if cancelled {
			s.flash(c, "organise.cancelled_instead")
			return c.Redirect(http.StatusSeeOther, "/organise/occurrences/"+itoa(l.Occurrence.ID))
		}
		s.flash(c, "organise.deleted")
		return c.Redirect(http.StatusSeeOther, "/organise/events/"+itoa(l.Event.ID))
	}
	if _, err := s.app.UpdateOccurrence(c.Request().Context(), actor(c), l.Occurrence.ID, in); err != nil {
		return s.refuseOccurrenceForm(c, build, err)
	}
	s.flash(c, "organise.saved")
	return c.Redirect(http.StatusSeeOther, "/organise/occurrences/"+itoa(l.Occurrence.ID))
}

// addOccurrenceForm is the empty form to add a talk or session to e.
func (s *Server) addOccurrenceForm(c echo.Context, e domain.Event) (occurrenceForm, error) {
	f := occurrenceForm{Action: "/organise/events/" + itoa(e.ID) + "/occurrences", Event: e, V: map[string]string{}}
	var err error
	f.Tracks, err = s.tracksOf(c.Request().Context(), e)
	return f, err
}

func (s *Server) newOccurrencePage(c echo.Context) error {
	e, err := s.managedEvent(c)
	if err != nil {
		return err
	}
	f, err := s.addOccurrenceForm(c, e)
	if err != nil {
		return err
	}
	f.V = map[string]string{"start_date": e.StartDate.Format(time.DateOnly), "start_time": e.StartTime, "duration_minutes": strconv.Itoa(int(e.Duration / time.Minute))}
	f.Speakers = []app.SpeakerInput{{}, {}}
	return s.render(c, http.StatusOK, "occurrence_form.html", f)
}

func (s *Server) addOccurrenceFromForm(c echo.Context) error {
	e, err := s.managedEvent(c)
	if err != nil {
		return err
	}
	build := func() (occurrenceForm, error) { return s.addOccurrenceForm(c, e) }
	in, err := occurrenceFormInput(c)
	if err != nil {
		return s.refuseOccurrenceForm(c, build, err)
	}
	l, err := s.app.AddOccurrence(c.Request().Context(), actor(c), e.ID, in)
	if err != nil {
		return s.refuseOccurrenceForm(c, build, err)
	}
	s.flash(c, "organise.saved")
	return c.Redirect(http.StatusSeeOther, "/organise/occurrences/"+itoa(l.Occurrence.ID))
}

// parseQuestions reads the form's questions, one a line: "Label | text",
// "Label | single | Option A; Option B" or "… | multiple | …"; a label ending in "*" is
// required.
func parseQuestions(text string) ([]domain.Question, error) {
	var qs []domain.Question
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		parts := strings.Split(line, "|")
		q := domain.Question{Label: strings.TrimSpace(parts[0]), Kind: domain.QuestionText}
		if strings.HasSuffix(q.Label, "*") {
			q.Label, q.Required = strings.TrimSpace(strings.TrimSuffix(q.Label, "*")), true
		}
		if len(parts) > 1 {
			q.Kind = strings.ToLower(strings.TrimSpace(parts[1]))
		}
		if len(parts) > 2 {
			q.Options = strings.Split(parts[2], ";")
		}
		if len(parts) > 3 {
			return nil, domain.Invalid("questions", "err.questions.line_format", "N", i+1)
		}
		qs = append(qs, q)
	}
	return domain.NormalizeQuestions(qs)
}

// formatQuestions writes questions back in the form's syntax.
func formatQuestions(qs []domain.Question) string {
	var lines []string
	for _, q := range qs {
		label := q.Label
		if q.Required {
			label += "*"
		}
		line := label + " | " + q.Kind
		if len(q.Options) > 0 {
			line += " | " + strings.Join(q.Options, "; ")
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}
