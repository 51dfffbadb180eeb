package server_test

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/puente-org/puente/server"
)

// browserIn is a browser in lang whose zone.js reported zone ("" for none).
func (p *progEnv) browserIn(lang, zone string) *client {
	b := p.browser(lang)
	if zone != "" {
		u, _ := url.Parse(p.ts.URL)
		b.http.Jar.SetCookies(u, []*http.Cookie{{Name: "puente_tz", Value: zone, Path: "/"}})
	}
	return b
}

// section is the text of the element with id (up to its </section>), tags removed and
// spaces collapsed, entities decoded.
func section(t *testing.T, body, id string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)id="` + id + `".*?</section>`).FindString(body)
	if m == "" {
		t.Fatalf("no #%s in the page", id)
	}
	return strings.Join(strings.Fields(html.UnescapeString(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(m, " "))), " ")
}

// The home page says what is on: the talk live now, the next talks and the series with a
// talk coming, at the reader's local times and in the reader's language.
func TestHomeShowsWhatIsOn(t *testing.T) {
	// The talks are made with the clock at 1 January; the pages are read on Thursday 8
	// January 2026 at 15:20 UTC, during the seminar's first talk (15:00 London).
	p := newProgEnv(t, func(o *server.Options) {
		o.Now = func() time.Time { return time.Date(2026, 1, 8, 15, 20, 0, 0, time.UTC) }
	})
	p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Seminario de Litio", "timezone": "America/Santiago",
		"start_date": "2026-01-01", "start_time": "05:30", "duration_minutes": 60, "rrule": "FREQ=MONTHLY;BYDAY=1TH", "language": "es",
		"tags": []string{"litio"}})
	p.must(201, "organiser", "POST", "/api/v1/series", batterySeminar) // London 15:00, every other Thursday from 8 January
	p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Hidden Seminar", "timezone": "UTC",
		"start_date": "2026-01-05", "start_time": "10:00", "visibility": "unlisted"})

	for _, c := range []struct {
		lang, zone         string
		live, next, series []string
	}{
		{"en", "", []string{"Live now", "Battery Materials Seminar", "15:00–16:00"},
			[]string{"Next talks", "Thursday 22 January 2026, 15:00–16:00", "Battery Materials Seminar",
				"Thursday 5 February 2026, 05:30–06:30", "Seminario de Litio"},
			[]string{"Series to follow", "Battery Materials Seminar", "Next: Thursday 22 January 2026, 15:00–16:00 London (GMT)",
				"Seminario de Litio", "Next: Thursday 5 February 2026, 05:30–06:30 Santiago time", "cathode materials"}},
		{"es", "America/Santiago", []string{"En directo ahora", "Battery Materials Seminar", "12:00–13:00", "15:00 Londres"},
			[]string{"Próximas charlas", "jueves 22 de enero de 2026, 12:00–13:00", "15:00 Londres", "jueves 5 de febrero de 2026, 05:30–06:30"},
			[]string{"Series para seguir", "Próxima: jueves 22 de enero de 2026, 12:00–13:00 hora de Santiago de Chile",
				"Próxima: jueves 5 de febrero de 2026, 05:30–06:30 hora de Santiago de Chile"}},
		{"pt", "Asia/Tokyo", []string{"Ao vivo agora", "Battery Materials Seminar", "00:00–01:00"},
			// 15:00 in London is midnight in Tokyo: the next day there.
			[]string{"Próximas palestras", "sexta-feira, 23 de janeiro de 2026, 00:00–01:00", "Battery Materials Seminar"},
			[]string{"Séries para acompanhar", "Próxima: sexta-feira, 23 de janeiro de 2026, 00:00–01:00 Tóquio (JST)"}},
	} {
		body := p.browserIn(c.lang, c.zone).get("/").body
		for id, wants := range map[string][]string{"live-now": c.live, "next-talks": c.next, "series-to-follow": c.series} {
			text := section(t, body, id)
			for _, w := range wants {
				if !strings.Contains(text, w) {
					t.Errorf("%s in %s, #%s lacks %q: %s", c.lang, c.zone, id, w, text)
				}
			}
		}
		if strings.Contains(body, "Hidden Seminar") {
			t.Errorf("%s: the home page shows an unlisted series", c.lang)
		}
		if !strings.Contains(body, `<h1>`) || !strings.Contains(body, `href="/sign-in"`) {
			t.Errorf("%s: the home page lost its heading or sign-in button", c.lang)
		}
	}
	// The talk on air is not also the next one.
	if next := section(t, p.browser("en").get("/").body, "next-talks"); strings.Contains(next, "8 January") {
		t.Errorf("next talks repeat the live one: %s", next)
	}
}

// The home page with nothing scheduled says so, in the reader's language.
func TestHomeWithNothingOn(t *testing.T) {
	p := newProgEnv(t)
	for lang, want := range map[string]string{"en": "No talks are scheduled yet.", "es": "Todavía no hay charlas programadas.",
		"pt": "Ainda não há palestras programadas."} {
		body := p.browser(lang).get("/").body
		if !strings.Contains(section(t, body, "next-talks"), want) || strings.Contains(body, `id="live-now"`) {
			t.Errorf("%s: empty home page: %s", lang, section(t, body, "next-talks"))
		}
	}
}

// The programme's calendar is a month in the reader's zone: a talk late in the evening in
// London is on the next day in Tokyo and on the same day in Los Angeles; a talk crossing
// midnight on the reader's clock is on the day it starts.
func TestProgrammeCalendar(t *testing.T) {
	p := newProgEnv(t)
	p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Late Night Lithium", "timezone": "Europe/London",
		"start_date": "2026-01-15", "start_time": "23:30", "duration_minutes": 60, "rrule": "FREQ=WEEKLY;COUNT=1", "language": "en"})
	p.must(201, "organiser", "POST", "/api/v1/series", batterySeminar)

	cell := regexp.MustCompile(`(?s)<td class="day[^"]*" data-date="([^"]+)".*?</td>`)
	dayOf := func(body, title string) string {
		t.Helper()
		var days []string
		for _, m := range cell.FindAllStringSubmatch(body, -1) {
			if strings.Contains(m[0], `class="talk-title">`+title+`<`) {
				days = append(days, m[1])
			}
		}
		return strings.Join(days, " ")
	}
	for zone, want := range map[string]string{"Europe/London": "2026-01-15", "Asia/Tokyo": "2026-01-16", "America/Los_Angeles": "2026-01-15"} {
		r := p.browserIn("en", zone).get("/programme?view=calendar")
		if r.status != 200 {
			t.Fatalf("%s: calendar: %d", zone, r.status)
		}
		if got := dayOf(r.body, "Late Night Lithium"); got != want {
			t.Errorf("%s: the late talk is on %s, want %s", zone, got, want)
		}
		if !strings.Contains(r.body, `<h2 id="month-title">January 2026</h2>`) || !strings.Contains(r.body, `<th scope="col">Mon</th>`) {
			t.Errorf("%s: month title or weekdays missing", zone)
		}
	}
	// The 1st of January 2026 is a Thursday: three empty cells before it, Monday first.
	r := p.browserIn("en", "Europe/London").get("/programme?view=calendar&month=2026-01")
	if !regexp.MustCompile(`<tr>(\s*<td class="outside"></td>){3}\s*<td class="day[^"]*" data-date="2026-01-01"`).MatchString(r.body) {
		t.Errorf("the month does not start on Thursday")
	}
	// London's late talk crosses midnight for a London reader: 23:30–00:30 on the 15th.
	if !strings.Contains(r.body, "23:30–00:30") {
		t.Errorf("late talk's times missing")
	}
	// In Spanish, in Santiago, with the month's neighbours keeping the filters.
	r = p.browserIn("es", "America/Santiago").get("/programme?view=calendar&month=2026-02&q=battery")
	for _, want := range []string{`<h2 id="month-title">febrero de 2026</h2>`, `<th scope="col">lun</th>`,
		`data-date="2026-02-05"`, "12:00–13:00", "hora de Santiago de Chile",
		`href="/programme?month=2026-01&amp;q=battery&amp;view=calendar"`, `href="/programme?month=2026-03&amp;q=battery&amp;view=calendar"`,
		`href="/programme?q=battery" id="view-list"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("Spanish calendar lacks %q", want)
		}
	}
	if got := dayOf(r.body, "Battery Materials Seminar"); got != "2026-02-05 2026-02-19" {
		t.Errorf("Santiago February: first talk on %s", got)
	}
	if dayOf(r.body, "Late Night Lithium") != "" {
		t.Errorf("February shows a January talk")
	}
	for _, bad := range []string{"2026-13", "1900-01", "soon", "2026-1"} {
		r := p.browser("en").get("/programme?view=calendar&month=" + bad)
		if r.status != 400 || !strings.Contains(r.body, "Give the month as YYYY-MM, between 1970 and 2200.") {
			t.Errorf("month %q: %d", bad, r.status)
		}
	}
}

// The programme's filters: topic (also the topics events use), language, series, online or
// in person, and a search that ignores accents and case; odd searches never fail.
func TestProgrammeSearchAndFormat(t *testing.T) {
	p := newProgEnv(t)
	p.must(201, "organiser", "POST", "/api/v1/series", batterySeminar)
	lit := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Seminário de São Paulo", "timezone": "America/Sao_Paulo",
		"start_date": "2026-01-06", "start_time": "10:00", "rrule": "FREQ=MONTHLY;BYDAY=1TU", "tags": []string{"Reciclagem"}, "language": "pt",
		"venue": map[string]any{"name": "USP", "address": "Av. Prof. Luciano Gualberto, São Paulo"}})
	occ := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%v/occurrences", lit["id"]), nil))[0]["id"]
	p.must(200, "organiser", "PATCH", fmt.Sprintf("/api/v1/occurrences/%v", occ), map[string]any{"title": "Cátodos",
		"speakers": []map[string]any{{"name": "María José Núñez", "affiliation": "Universidad de Atacama"}}})

	b := p.browser("en")
	titles := func(q string) []string {
		t.Helper()
		r := b.get("/programme?" + q)
		if r.status != 200 {
			t.Fatalf("programme?%s: %d", q, r.status)
		}
		var out []string
		for _, m := range regexp.MustCompile(`class="talk-title">([^<]+)<`).FindAllStringSubmatch(r.body, -1) {
			out = append(out, html.UnescapeString(m[1]))
		}
		return out
	}
	for _, q := range []string{"maria", "MARÍA", "nunez", "Núñez+atacama", "catodos"} {
		if got := titles("q=" + q); len(got) != 1 || got[0] != "Cátodos" {
			t.Errorf("search %s: %v", q, got)
		}
	}
	if got := titles("q=sao"); len(got) < 2 || got[0] != "Cátodos" || got[1] != "Seminário de São Paulo" {
		t.Errorf("search sao: %v", got)
	}
	all := len(titles(""))
	inPerson, online := titles("format=in_person"), titles("format=online")
	if len(inPerson) == 0 || len(online) == 0 || len(inPerson)+len(online) != all {
		t.Errorf("formats: %d in person, %d online, of %d", len(inPerson), len(online), all)
	}
	for _, title := range online {
		if title == "Cátodos" || strings.Contains(title, "São Paulo") {
			t.Errorf("online only shows %q", title)
		}
	}
	if got := titles("tag=reciclagem&format=in_person&language=pt"); len(got) != len(inPerson) {
		t.Errorf("topic, format and language: %v", got)
	}
	// The topic list has the suggested topics and those in use; the chosen one is selected.
	page := b.get("/programme?tag=Reciclagem").body
	for _, want := range []string{`<option value="Reciclagem" selected>Reciclagem</option>`, `<option value="cathode materials">`,
		`<option value="in_person">In person (and online)</option>`} {
		if !strings.Contains(page, want) {
			t.Errorf("filters lack %q", want)
		}
	}

	// Odd searches: a sane answer, or a clear refusal in the reader's language.
	for q, want := range map[string]int{"%25": 0, "_": 0, "%5C": 0, "%27%3B+DROP+TABLE+events%3B--": 0, "%E2%80%8B": 0} {
		if got := titles("q=" + q); len(got) != want {
			t.Errorf("search %s: %v", q, got)
		}
	}
	long := url.QueryEscape(strings.Repeat("maría ", 1700)) // 10 KB
	for q, want := range map[string]string{long: "Busca como máximo 200 caracteres.", "%FF%FE": "Contiene un carácter que no se puede guardar",
		"a%00b": "Contiene un carácter que no se puede guardar"} {
		r := p.browser("es").get("/programme?q=" + q)
		if r.status != 400 || !strings.Contains(html.UnescapeString(r.body), want) {
			t.Errorf("search %.20s: %d", q, r.status)
		}
	}
	if r := b.get("/programme?format=hybrid"); r.status != 400 || !strings.Contains(r.body, "Choose online or in person.") {
		t.Errorf("unknown format: %d", r.status)
	}
	if r := b.get("/programme?tag=%FF"); r.status != 400 {
		t.Errorf("topic with invalid UTF-8: %d", r.status)
	}
	// The API's search is the same.
	if got := items(t, p.must(200, "", "GET", "/api/v1/series?q=SAO+paulo", nil)); len(got) != 1 || got[0]["id"] != lit["id"] {
		t.Errorf("API search: %v", got)
	}
	code, out := p.call("", "GET", "/api/v1/series?q="+long, nil)
	if code != 400 || fieldOf(out) != "q" {
		t.Errorf("API long search: %d %v", code, out)
	}
	if code, _ := p.call("", "GET", "/api/v1/series?q=%FF", nil); code != 400 {
		t.Errorf("API search with invalid UTF-8: %d", code)
	}
}
