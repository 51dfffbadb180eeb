package calendar

import (
	"testing"
	"time"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/programme"
)

// The inputs of the tests, built by hand as the store would load them.

var (
	testNow     = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	testCreated = time.Date(2025, 12, 1, 10, 0, 0, 0, time.UTC)
	testEdited  = time.Date(2026, 2, 20, 12, 0, 0, 0, time.UTC)
)

func wall(y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, time.UTC)
}

func mustLoc(t testing.TB, zone string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// testOptions are the options of a feed at the path feed ("" for a one-event download).
func testOptions(feed string) Options {
	o := Options{Host: "puente.example", BaseURL: "https://puente.example", Now: testNow}
	if feed != "" {
		o.FeedURL = o.BaseURL + feed
	}
	return o
}

// occurrenceAt makes an occurrence row at a wall time of the event's zone.
func occurrenceAt(t testing.TB, e domain.Event, id int64, origin string, w time.Time, d time.Duration) domain.Occurrence {
	t.Helper()
	loc := mustLoc(t, e.TimeZone)
	start, err := programme.Resolve(loc, w, "start")
	if err != nil {
		t.Fatal(err)
	}
	occ := domain.Occurrence{ID: id, EventID: e.ID, Origin: origin, StartLocal: w, Duration: d,
		Start: start, End: start.Add(d), Status: domain.StatusScheduled, UpdatedAt: testCreated}
	if origin == "generated" {
		orig := w
		occ.OriginalStart = &orig
	}
	return occ
}

// generate expands a series' rule into generated occurrences with IDs from firstID, as the store does.
func generate(t testing.TB, e domain.Event, firstID int64, from, to time.Time) []domain.Occurrence {
	t.Helper()
	insts, err := programme.RuleOf(e).Expand(from, to, 0)
	if err != nil {
		t.Fatal(err)
	}
	occs := make([]domain.Occurrence, len(insts))
	for i, in := range insts {
		occs[i] = occurrenceAt(t, e, firstID+int64(i), "generated", in.Wall, e.Duration)
	}
	return occs
}

// findOcc returns the generated occurrence whose original start is on the given local date.
func findOcc(t testing.TB, occs []domain.Occurrence, y int, m time.Month, d int) *domain.Occurrence {
	t.Helper()
	for i := range occs {
		o := &occs[i]
		if o.OriginalStart != nil {
			if oy, om, od := o.OriginalStart.Date(); oy == y && om == m && od == d {
				return o
			}
		}
	}
	t.Fatalf("no occurrence on %d-%02d-%02d", y, m, d)
	return nil
}

// move moves an occurrence to a new wall time and bumps it, as the store does.
func move(t testing.TB, e domain.Event, o *domain.Occurrence, to time.Time, at time.Time) {
	t.Helper()
	start, err := programme.Resolve(mustLoc(t, e.TimeZone), to, "start")
	if err != nil {
		t.Fatal(err)
	}
	o.StartLocal, o.Start, o.End, o.Moved = to, start, start.Add(o.Duration), true
	o.Sequence++
	o.UpdatedAt = at
}

func cancel(o *domain.Occurrence, reason string, at time.Time) {
	o.Status, o.CancelReason = domain.StatusCancelled, reason
	o.Sequence++
	o.UpdatedAt = at
}

// londonSeries is the representative series: weekly on Thursdays at 15:00 London from 8 January
// to 31 December 2026 (across both changes of clocks), with one occurrence moved to 16:30, one
// cancelled with a reason, and one with its own title, abstract and speakers.
func londonSeries(t testing.TB) EventData {
	t.Helper()
	rrule, err := programme.CanonicalRRule("FREQ=WEEKLY;BYDAY=TH;UNTIL=20261231", "Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	e := domain.Event{
		ID: 42, Kind: domain.KindSeries, Slug: "battery-materials", Title: "Battery Materials Seminar",
		Description: "Weekly talks on **cathode materials**, recycling and supply chains.\n\nAll welcome; bring questions, ideas, and friends!",
		Language:    "en", Visibility: domain.VisibilityPublic, TimeZone: "Europe/London",
		StartDate: wall(2026, 1, 8, 0, 0), StartTime: "15:00", Duration: time.Hour, RRule: rrule,
		Venue:    domain.Venue{Name: "Imperial College London", Room: "Room 3.14", Address: "Exhibition Road, London SW7 2AZ"},
		Sequence: 2, CreatedAt: testCreated, UpdatedAt: testCreated,
	}
	occs := generate(t, e, 1001, wall(2026, 1, 1, 0, 0), wall(2027, 1, 1, 0, 0))
	move(t, e, findOcc(t, occs, 2026, 3, 19), wall(2026, 3, 19, 16, 30), testEdited)
	cancel(findOcc(t, occs, 2026, 5, 7), "The speaker is unwell; we will reschedule, sorry!", testEdited)
	sp := findOcc(t, occs, 2026, 5, 14)
	sp.Title = "Brines, DLE & ESG: trade-offs"
	sp.Abstract = "How *direct lithium extraction* changes water use in the Atacama."
	sp.Speakers = []domain.Speaker{
		{Name: "María José Núñez", Affiliation: "Universidad de Chile"},
		{Name: "João Conceição", Affiliation: "USP, São Paulo"},
	}
	sp.Sequence += 2
	sp.UpdatedAt = testEdited
	return EventData{Event: e, Occurrences: occs}
}

// santiagoConference has two sessions in Santiago either side of Chile's change of clocks on
// 5 April 2026 (−03 before, −04 after).
func santiagoConference(t testing.TB) EventData {
	t.Helper()
	e := domain.Event{
		ID: 77, Kind: domain.KindConference, Slug: "lithium-triangle-2026", Title: "Lithium Triangle Conference 2026",
		Description: "Three days on lithium in Argentina, Bolivia and Chile.",
		Language:    "es", Visibility: domain.VisibilityPublic, TimeZone: "America/Santiago",
		StartDate: wall(2026, 4, 4, 0, 0), Duration: time.Hour,
		Venue:    domain.Venue{Name: "Universidad de Chile", Address: "Av. Libertador Bernardo O'Higgins 1058, Santiago"},
		Sequence: 1, CreatedAt: testCreated, UpdatedAt: testEdited,
	}
	end := wall(2026, 4, 6, 0, 0)
	e.EndDate = &end
	s1 := occurrenceAt(t, e, 5001, "session", wall(2026, 4, 4, 10, 0), 90*time.Minute)
	s1.Title = "Opening: the Salar de Atacama, 30 years on"
	s1.Speakers = []domain.Speaker{{Name: "Ana Pérez", Affiliation: "CONICET"}}
	s2 := occurrenceAt(t, e, 5002, "session", wall(2026, 4, 6, 9, 30), time.Hour)
	s2.Title = "Reciclaje de baterías en América Latina"
	s2.Abstract = "Panel; en español, con traducción."
	s2.Sequence = 1
	return EventData{Event: e, Occurrences: []domain.Occurrence{s1, s2}}
}

const (
	joinSeries  = "https://puente.example/join/7f3a9c1e-series-token"
	joinSession = "https://puente.example/join/0b8d2e44-session-token"
)

// personalItems: a person registered for a London talk, the cancelled one, and a Santiago session.
func personalItems(t testing.TB) []PersonalItem {
	t.Helper()
	s, c := londonSeries(t), santiagoConference(t)
	return []PersonalItem{
		{Event: s.Event, Occurrence: *findOcc(t, s.Occurrences, 2026, 3, 12), JoinURL: joinSeries},
		{Event: s.Event, Occurrence: *findOcc(t, s.Occurrences, 2026, 5, 7), JoinURL: joinSeries},
		{Event: c.Event, Occurrence: c.Occurrences[1], JoinURL: joinSession},
	}
}
