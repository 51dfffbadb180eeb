package server_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The series page of issue 15: the next talk and its registration first, with the places
// left; later talks by the reader's month, a page at a time, without the series' name on
// every row; past talks on their own pages; the calendar box after the talks.
func TestSeriesPageNextTalkPlacesAndMonths(t *testing.T) {
	p := newProgEnv(t) // the clock: Thursday 1 January 2026, 09:00 UTC
	s := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{
		"title": "Late Lithium Seminar", "timezone": "Europe/London", "start_date": "2026-01-01", "start_time": "23:30",
		"duration_minutes": 60, "rrule": "FREQ=WEEKLY;BYDAY=TH;UNTIL=20261231T235959Z", "capacity": 2, "registration": "open"})
	slug := s["slug"].(string)
	// Past talks: the rule makes rows from now on, so the past ones are extra talks.
	for d := time.Date(2025, 6, 5, 0, 0, 0, 0, time.UTC); d.Year() == 2025; d = d.AddDate(0, 0, 7) {
		p.must(201, "organiser", "POST", fmt.Sprintf("/api/v1/series/%v/occurrences", s["id"]),
			map[string]any{"start_date": d.Format(time.DateOnly), "start_time": "23:30"})
	}
	occs := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%v/occurrences?from=2026-01-01&to=2026-01-09", s["id"]), nil))
	if len(occs) != 2 {
		t.Fatalf("occurrences: %v", occs)
	}
	next, second := occs[0]["id"], occs[1]["id"]

	// A London reader: the next talk, 23:30–00:30, ends on the next day; 2 places left.
	en := p.browserIn("en", "Europe/London").get("/series/" + slug)
	nextTalk := section(t, en.body, "next-talk")
	for _, want := range []string{"Next talk", "Thursday 1 January 2026, 23:30–00:30", "+1 (ends the next day)", "London time",
		"2 places left", "Register"} {
		if !strings.Contains(nextTalk, want) {
			t.Errorf("next talk lacks %q: %s", want, nextTalk)
		}
	}
	if !strings.Contains(en.body, `<span class="next-day" title="ends the next day"><span aria-hidden="true">+1</span>`) {
		t.Error("no accessible +1 hint")
	}
	// Order: next talk, later talks, then the calendar box.
	iNext, iLater, iFeed := strings.Index(en.body, `id="next-talk"`), strings.Index(en.body, `id="upcoming"`), strings.Index(en.body, `id="calendar"`)
	if iNext < 0 || iLater < iNext || iFeed < iLater {
		t.Errorf("order: next talk %d, later talks %d, calendar %d", iNext, iLater, iFeed)
	}
	// Rows do not repeat the series' name (it is the heading, once, and the page title).
	if n := strings.Count(en.body, "Late Lithium Seminar"); n > 3 {
		t.Errorf("series name appears %d times", n)
	}
	if !strings.Contains(en.body, "Speaker to be announced") {
		t.Error("untitled talks without speakers are not named as such")
	}
	// One page of 20 later talks, then the next page.
	if n := strings.Count(en.body, `class="talk row"`); n != 20 || !strings.Contains(en.body, `href="?page=2" rel="next"`) {
		t.Errorf("first page: %d talks, next link %v", n, strings.Contains(en.body, `rel="next"`))
	}

	// Two registrations fill the next talk: the waiting list is the action now.
	p.must(201, "attendee", "POST", fmt.Sprintf("/api/v1/occurrences/%v/registrations", next), map[string]any{})
	p.must(201, "other", "POST", fmt.Sprintf("/api/v1/occurrences/%v/registrations", next), map[string]any{})
	p.must(201, "other", "POST", fmt.Sprintf("/api/v1/occurrences/%v/registrations", second), map[string]any{})
	en = p.browserIn("en", "Europe/London").get("/series/" + slug)
	nextTalk = section(t, en.body, "next-talk")
	if !strings.Contains(nextTalk, "Full: join the waiting list") || !strings.Contains(nextTalk, "Join the waiting list") {
		t.Errorf("full next talk: %s", nextTalk)
	}
	if !strings.Contains(en.body, `<div class="places">1 place left</div>`) {
		t.Error("second talk does not say 1 place left")
	}
	for lang, want := range map[string][]string{
		"es": {"Completo: únete a la lista de espera", "Unirme a la lista de espera", "Queda 1 plaza", "Quedan 2 plazas", "hora de Londres", "Próxima charla"},
		"pt": {"Lotado: entre na lista de espera", "Entrar na lista de espera", "Resta 1 vaga", "Restam 2 vagas", "horário de Londres", "Próxima palestra"},
	} {
		r := p.browserIn(lang, "Europe/London").get("/series/" + slug)
		for _, w := range want {
			if !strings.Contains(r.body, w) {
				t.Errorf("%s series page lacks %q", lang, w)
			}
		}
	}
	// The session's own page, signed in: the form's button joins the waiting list.
	b := p.browserIn("en", "Europe/London")
	b.signIn("admin@example.org")
	occPage := b.get(fmt.Sprintf("/occurrences/%v", next))
	if !strings.Contains(occPage.body, `id="places">Full: join the waiting list`) ||
		!regexp.MustCompile(`<button type="submit">Join the waiting list</button>`).MatchString(occPage.body) {
		t.Errorf("full session page: %s", section(t, occPage.body, "register"))
	}
	p.must(201, "admin", "POST", fmt.Sprintf("/api/v1/occurrences/%v/registrations", next), map[string]any{})
	if out := p.must(200, "admin", "GET", "/api/v1/me/registrations", nil); items(t, out)[0]["status"] != "waitlisted" {
		t.Errorf("registering for the full session: %v", out)
	}

	// Months in the reader's zone and language: the talk of Thursday 30 April, 23:30 in
	// London, is on Friday 1 May in Tokyo, so it opens May there.
	tokyo := p.browserIn("es", "Asia/Tokyo").get("/series/" + slug)
	if !regexp.MustCompile(`<h3 class="month">mayo de 2026</h3><ul class="talks compact">\s*<li class="talk row" data-date="2026-05-01">`).MatchString(tokyo.body) {
		t.Errorf("Tokyo reader's May does not open with 1 May: %s", section(t, tokyo.body, "upcoming"))
	}
	london := p.browserIn("en", "Europe/London").get("/series/" + slug)
	if !regexp.MustCompile(`<h3 class="month">April 2026</h3><ul class="talks compact">(?s:.*?)data-date="2026-04-30">`).MatchString(london.body) {
		t.Error("London reader's April does not hold 30 April")
	}

	// Past talks: their own pages, latest first.
	if !strings.Contains(en.body, `href="/series/`+slug+`/past"`) {
		t.Error("no link to past talks")
	}
	past := p.browserIn("en", "Europe/London").get("/series/" + slug + "/past")
	if past.status != 200 || !strings.Contains(past.body, "<h1>Past talks</h1>") || !strings.Contains(past.body, `data-date="2025-12-25"`) ||
		strings.Contains(past.body, `data-date="2025-06-05"`) || !strings.Contains(past.body, `rel="next"`) {
		t.Fatalf("past page 1: %d", past.status)
	}
	if strings.Index(past.body, `data-date="2025-12-25"`) > strings.Index(past.body, `data-date="2025-12-18"`) {
		t.Error("past talks are not latest first")
	}
	past2 := p.browserIn("en", "Europe/London").get("/series/" + slug + "/past?page=2")
	if !strings.Contains(past2.body, `data-date="2025-06-05"`) || !strings.Contains(past2.body, `rel="prev"`) {
		t.Errorf("past page 2 lacks the first talk")
	}
	if r := p.browserIn("en", "").get("/series/" + slug + "/past?page=x"); r.status != 400 {
		t.Errorf("bad page number: %d", r.status)
	}
}

// A conference day is a grid: a column per track with its colour, plenaries spanning them.
func TestConferenceTimetableGrid(t *testing.T) {
	p := newProgEnv(t)
	conf := p.must(201, "organiser", "POST", "/api/v1/conferences", map[string]any{"title": "Lithium Week",
		"timezone": "America/Santiago", "start_date": "2026-05-10", "end_date": "2026-05-11", "capacity": 30})
	a := p.must(201, "organiser", "POST", fmt.Sprintf("/api/v1/conferences/%v/tracks", conf["id"]), map[string]any{"name": "Materials"})
	b := p.must(201, "organiser", "POST", fmt.Sprintf("/api/v1/conferences/%v/tracks", conf["id"]), map[string]any{"name": "Recycling"})
	for _, sess := range []map[string]any{
		{"title": "Opening keynote", "start_date": "2026-05-10", "start_time": "09:00"},
		{"title": "Brine chemistry", "start_date": "2026-05-10", "start_time": "10:00", "track_id": a["id"]},
		{"title": "Black mass", "start_date": "2026-05-10", "start_time": "10:00", "track_id": b["id"]},
		{"title": "Night panel", "start_date": "2026-05-10", "start_time": "19:30", "duration_minutes": 90, "track_id": b["id"]},
	} {
		p.must(201, "organiser", "POST", fmt.Sprintf("/api/v1/conferences/%v/sessions", conf["id"]), sess)
	}
	page := p.browserIn("en", "Europe/London").get("/conferences/" + conf["slug"].(string))
	for _, want := range []string{`class="timetable tracks-2"`, `class="tt-head track-c0" role="columnheader">Materials`,
		`class="tt-head track-c1" role="columnheader">Recycling`, `<div class="tt-cell plenary" role="cell"><div class="session plenary"><span class="badge">Plenary</span> <a href="/occurrences/`,
		"Opening keynote", `class="tt-time" role="rowheader">14:00–15:00`, "30 places left",
		// 19:30–21:00 in Santiago is 00:30–02:00 in London on the next day.
		"Night panel", "London time"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("timetable lacks %q", want)
		}
	}
	if strings.Contains(page.body, ">All tracks<") {
		t.Error("plenaries still have a column of their own")
	}
	// Monday 11 May in London (the panel starts after midnight there).
	if !strings.Contains(page.body, "Monday 11 May 2026") {
		t.Error("the night panel is not on the London reader's next day")
	}
	if i, j := strings.Index(page.body, "Opening keynote"), strings.Index(page.body, "Brine chemistry"); i > j {
		t.Error("the 09:00 plenary is not before the 10:00 sessions")
	}
}
