package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/puente-org/puente/server"
	"github.com/puente-org/puente/store"
	"github.com/puente-org/puente/store/pgtest"
)

// progEnv is a server whose clock is fixed at the start of 2026, so the calendar.md DST
// table (2026) lies in the future of the tests.
type progEnv struct {
	*env
	now    time.Time
	tokens map[string]string // role → bearer token
	ids    map[string]int64  // role → person id
}

func newProgEnv(t *testing.T, mutate ...func(*server.Options)) *progEnv {
	t.Helper()
	st, ts, now := newFixedClockServer(t, mutate...)
	pe := &progEnv{env: &env{t: t, store: st, ts: ts}, now: now, tokens: map[string]string{}, ids: map[string]int64{}}
	for _, role := range []string{"admin", "organiser", "other", "attendee"} {
		pe.addPerson(role, store.NewPerson{Name: strings.ToUpper(role[:1]) + role[1:],
			IsAdmin: role == "admin", IsOrganiser: role == "organiser" || role == "other"})
	}
	return pe
}

// newFixedClockServer starts the server on a fresh database with the clock (its own and the
// store's) fixed at 2026-01-01 09:00 UTC.
func newFixedClockServer(tb testing.TB, mutate ...func(*server.Options)) (*store.Store, *httptest.Server, time.Time) {
	tb.Helper()
	now := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := store.New(pgtest.New(tb), clock)
	opts := server.Options{Store: st, DevMail: true, Registry: prometheus.NewRegistry(), Now: clock}
	for _, m := range mutate {
		m(&opts)
	}
	return st, newTestServer(tb, opts), now
}

// call makes an API request as role ("" = anonymous) and decodes the JSON answer.
func (p *progEnv) call(role, method, path string, body any) (int, map[string]any) {
	p.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = strings.NewReader(string(b))
	}
	code, raw := p.send(role, method, path, r)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			p.t.Fatalf("%s %s: not JSON (%d): %s", method, path, code, raw)
		}
	}
	return code, out
}

// send makes an API request as role ("" = anonymous) with body sent as JSON as it is, and
// the extra headers given as name, value pairs; it returns the status and the answer.
func (p *progEnv) send(role, method, path string, body io.Reader, header ...string) (int, []byte) {
	p.t.Helper()
	req, err := http.NewRequest(method, p.ts.URL+path, body)
	if err != nil {
		p.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+p.tokens[role])
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, raw
}

func (p *progEnv) must(want int, role, method, path string, body any) map[string]any {
	p.t.Helper()
	code, out := p.call(role, method, path, body)
	if code != want {
		p.t.Fatalf("%s %s as %q: %d, want %d: %v", method, path, role, code, want, out)
	}
	return out
}

func items(t *testing.T, out map[string]any) []map[string]any {
	t.Helper()
	raw, ok := out["items"].([]any)
	if !ok {
		t.Fatalf("no items: %v", out)
	}
	res := make([]map[string]any, len(raw))
	for i, v := range raw {
		res[i] = v.(map[string]any)
	}
	return res
}

func fieldOf(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	f, _ := e["field"].(string)
	return f
}

var batterySeminar = map[string]any{
	"title": "Battery Materials Seminar", "description": "Talks on **cathode** materials.", "timezone": "Europe/London",
	"start_date": "2026-01-08", "start_time": "15:00", "duration_minutes": 60, "rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH",
	"capacity": 100, "registration": "open", "tags": []string{"cathode materials", "battery technologies"}, "language": "en",
}

// The scenario of the programme issue, through the API.
func TestSeminarScenarioThroughAPI(t *testing.T) {
	p := newProgEnv(t)
	s := p.must(201, "organiser", "POST", "/api/v1/series", batterySeminar)
	id := int64(s["id"].(float64))
	if s["slug"] != "battery-materials-seminar" || !strings.HasSuffix(s["page_url"].(string), "/series/battery-materials-seminar") ||
		s["feed_url"] == "" {
		t.Fatalf("series: %v", s)
	}
	occs := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%d/occurrences?from=2026-01-01&to=2026-12-31", id), nil))
	if len(occs) != 26 { // every second Thursday from 8 Jan to 24 Dec 2026
		t.Fatalf("want 26 occurrences in 2026, got %d", len(occs))
	}
	for _, o := range occs {
		start, err := time.Parse(time.RFC3339, o["start"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if start.Format("15:04") != "15:00" || start.Weekday() != time.Thursday || o["timezone"] != "Europe/London" {
			t.Fatalf("occurrence not at 15:00 London on a Thursday: %v", o)
		}
	}
	// 2 Apr is BST (+01:00), 29 Oct GMT (Z): the offset follows London's clock.
	byDate := map[string]map[string]any{}
	for _, o := range occs {
		byDate[o["start"].(string)[:10]] = o
	}
	if byDate["2026-04-02"]["start"] != "2026-04-02T15:00:00+01:00" || byDate["2026-10-29"]["start"] != "2026-10-29T15:00:00Z" {
		t.Fatalf("DST offsets wrong: %v / %v", byDate["2026-04-02"]["start"], byDate["2026-10-29"]["start"])
	}

	next := occs[0]
	nextID := int64(next["id"].(float64))
	updated := p.must(200, "organiser", "PATCH", fmt.Sprintf("/api/v1/occurrences/%d", nextID), map[string]any{
		"title": "Single-crystal cathodes", "abstract": "Why *single* crystals.",
		"speakers": []map[string]any{{"name": "Dr Ana Rojas", "affiliation": "Universidad de Chile", "link": "https://example.cl/ana"}}})
	if updated["title"] != "Single-crystal cathodes" || len(updated["speakers"].([]any)) != 1 {
		t.Fatalf("speaker/abstract: %v", updated)
	}
	movedID := int64(occs[1]["id"].(float64))
	moved := p.must(200, "organiser", "PATCH", fmt.Sprintf("/api/v1/occurrences/%d", movedID), map[string]any{"start_time": "16:30"})
	if moved["start"] != "2026-01-22T16:30:00Z" || moved["moved"] != true {
		t.Fatalf("move: %v", moved)
	}
	cancelledID := int64(occs[2]["id"].(float64))
	p.must(400, "organiser", "PATCH", fmt.Sprintf("/api/v1/occurrences/%d", cancelledID), map[string]any{"status": "cancelled"})
	cancelled := p.must(200, "organiser", "PATCH", fmt.Sprintf("/api/v1/occurrences/%d", cancelledID),
		map[string]any{"status": "cancelled", "reason": "Speaker unwell"})
	if cancelled["status"] != "cancelled" || cancelled["reason"] != "Speaker unwell" {
		t.Fatalf("cancel: %v", cancelled)
	}
	extra := p.must(201, "organiser", "POST", fmt.Sprintf("/api/v1/series/%d/occurrences", id), map[string]any{
		"start_date": "2026-02-10", "start_time": "14:00", "duration_minutes": 90, "title": "Extra: recycling panel"})
	if extra["extra"] != true || extra["start"] != "2026-02-10T14:00:00Z" {
		t.Fatalf("extra: %v", extra)
	}
	all := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%d/occurrences?from=2026-01-01&to=2026-12-31", id), nil))
	if len(all) != 27 {
		t.Fatalf("after the extra: %d occurrences", len(all))
	}

	// Changing the series' time keeps every occurrence (same ids), keeps the move and the
	// cancellation, and moves the rest.
	p.must(200, "organiser", "PATCH", fmt.Sprintf("/api/v1/series/%d", id), map[string]any{"start_time": "15:30"})
	after := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%d/occurrences?from=2026-01-01&to=2026-12-31", id), nil))
	if len(after) != 27 {
		t.Fatalf("after changing the time: %d occurrences", len(after))
	}
	got := map[int64]map[string]any{}
	for _, o := range after {
		got[int64(o["id"].(float64))] = o
	}
	if got[nextID]["start"] != "2026-01-08T15:30:00Z" || got[nextID]["title"] != "Single-crystal cathodes" {
		t.Fatalf("kept occurrence: %v", got[nextID])
	}
	if got[movedID]["start"] != "2026-01-22T16:30:00Z" || got[cancelledID]["status"] != "cancelled" {
		t.Fatalf("override lost: %v %v", got[movedID], got[cancelledID])
	}
	// Every fourth Thursday removes half of them; the kept ones keep their ids.
	p.must(200, "organiser", "PATCH", fmt.Sprintf("/api/v1/series/%d", id), map[string]any{"rrule": "FREQ=WEEKLY;INTERVAL=4;BYDAY=TH"})
	fewer := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%d/occurrences?from=2026-01-01&to=2026-12-31", id), nil))
	if len(fewer) != 14 { // 13 on the rule + the extra
		t.Fatalf("every fourth week: %d", len(fewer))
	}
	if fewer[0]["id"].(float64) != float64(nextID) {
		t.Fatalf("first occurrence should be kept: %v", fewer[0])
	}
}

// An attendee in Santiago sees every talk at Santiago time, with London's alongside.
func TestSantiagoViewerSeesLocalTimes(t *testing.T) {
	p := newProgEnv(t)
	s := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{
		"title": "Weekly Lithium Seminar", "timezone": "Europe/London", "start_date": "2026-01-08", "start_time": "15:00",
		"duration_minutes": 60, "rrule": "FREQ=WEEKLY;BYDAY=TH;UNTIL=20261231T235959Z"})
	b := p.browser("en")
	u, _ := url.Parse(p.ts.URL)
	b.http.Jar.SetCookies(u, []*http.Cookie{{Name: "puente_tz", Value: "America/Santiago", Path: "/"}})
	// The series page shows its next talk, then the following ones a page at a time, by
	// month; each row carries its reader's date.
	var page response
	for n := 1; ; n++ {
		r := b.get(fmt.Sprintf("/series/%s?page=%d", s["slug"], n))
		if r.status != 200 {
			t.Fatalf("series page %d: %d", n, r.status)
		}
		page.body += r.body
		if !strings.Contains(r.body, `rel="next"`) {
			break
		}
	}
	timeOn := func(body, day string) string {
		m := regexp.MustCompile(`data-date="` + day + `">\s*<div class="when"><time datetime="[^"]+">[^<]+</time> <span class="time">([0-9:–]+)</span>`).FindStringSubmatch(body)
		if m == nil {
			return ""
		}
		return m[1]
	}
	for day, want := range map[string]string{
		"2026-03-26": "12:00–13:00", // London GMT, Chile -03
		"2026-04-02": "11:00–12:00", // UK on BST, Chile still -03
		"2026-04-09": "10:00–11:00", // Chile on -04
		"2026-09-03": "10:00–11:00",
		"2026-09-10": "11:00–12:00", // Chile back on -03
		"2026-10-22": "11:00–12:00",
		"2026-10-29": "12:00–13:00", // UK back on GMT
	} {
		if got := timeOn(page.body, day); got != want {
			t.Errorf("%s: Santiago time %q, want %q", day, got, want)
		}
	}
	for _, want := range []string{"15:00 London", "Santiago time", "<h3 class=\"month\">March 2026</h3>", "<h3 class=\"month\">October 2026</h3>"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("series page lacks %q", want)
		}
	}
	// The same in the programme, in Spanish.
	es := p.browser("es")
	es.http.Jar.SetCookies(u, []*http.Cookie{{Name: "puente_tz", Value: "America/Santiago", Path: "/"}})
	prog := es.get("/programme")
	if !strings.Contains(prog.body, "jueves 8 de enero de 2026") || !strings.Contains(prog.body, "12:00–13:00") {
		t.Fatalf("programme in Spanish, Santiago time: %s", prog.body)
	}
}

func TestBadProgrammeInputIsRefusedBeforeSaving(t *testing.T) {
	p := newProgEnv(t)
	with := func(changes map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range batterySeminar {
			out[k] = v
		}
		for k, v := range changes {
			if v == nil {
				delete(out, k)
			} else {
				out[k] = v
			}
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"invalid rrule", with(map[string]any{"rrule": "FREQ=SOMETIMES"}), "rrule"},
		{"minutely", with(map[string]any{"rrule": "FREQ=MINUTELY"}), "rrule"},
		{"absurd count", with(map[string]any{"rrule": "FREQ=DAILY;COUNT=5000"}), "rrule"},
		{"no occurrence", with(map[string]any{"rrule": "FREQ=WEEKLY;UNTIL=20250101T000000Z"}), "rrule"},
		{"unknown zone", with(map[string]any{"timezone": "Europe/Atlantis"}), "timezone"},
		{"local zone", with(map[string]any{"timezone": "Local"}), "timezone"},
		{"bad date", with(map[string]any{"start_date": "08/01/2026"}), "start_date"},
		{"bad time", with(map[string]any{"start_time": "3pm"}), "start_time"},
		{"zero duration", with(map[string]any{"duration_minutes": 0}), "duration_minutes"},
		{"spring-forward gap", with(map[string]any{"start_time": "01:30", "rrule": "FREQ=WEEKLY;BYDAY=SU", "start_date": "2026-03-01"}), "start_time"},
		{"fall-back overlap", with(map[string]any{"start_time": "01:30", "rrule": "FREQ=WEEKLY;BYDAY=SU", "start_date": "2026-10-04"}), "start_time"},
		{"bad registration", with(map[string]any{"registration": "maybe"}), "registration"},
		{"negative capacity", with(map[string]any{"capacity": -1}), "capacity"},
		{"no title", with(map[string]any{"title": nil}), "title"},
		{"unknown field", with(map[string]any{"colour": "blue"}), "colour"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := p.call("organiser", "POST", "/api/v1/series", tc.body)
			if code != 400 || fieldOf(out) != tc.field {
				t.Fatalf("want 400 on %s, got %d %v", tc.field, code, out)
			}
			if msg := out["error"].(map[string]any)["message"].(string); len(msg) < 10 {
				t.Fatalf("message too thin: %q", msg)
			}
		})
	}
	if list := p.must(200, "", "GET", "/api/v1/series", nil); list["total"].(float64) != 0 {
		t.Fatalf("refused requests saved something: %v", list)
	}
	// The gap message names the date and the fix.
	_, out := p.call("organiser", "POST", "/api/v1/series", with(map[string]any{"start_time": "01:30", "rrule": "FREQ=WEEKLY;BYDAY=SU", "start_date": "2026-03-01"}))
	if msg := out["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "29 March 2026") {
		t.Fatalf("gap message: %q", msg)
	}
	// Moving one occurrence into the gap is refused too, and changes nothing.
	s := p.must(201, "organiser", "POST", "/api/v1/series", with(map[string]any{"start_date": "2026-03-26", "rrule": "FREQ=WEEKLY;BYDAY=TH;COUNT=3"}))
	occ := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%v/occurrences?from=2026-03-01&to=2026-04-30", s["id"]), nil))[0]
	code, out := p.call("organiser", "PATCH", fmt.Sprintf("/api/v1/occurrences/%v", occ["id"]), map[string]any{"start_date": "2026-03-29", "start_time": "01:15"})
	if code != 400 || fieldOf(out) != "start_time" {
		t.Fatalf("move into gap: %d %v", code, out)
	}
	again := p.must(200, "", "GET", fmt.Sprintf("/api/v1/occurrences/%v", occ["id"]), nil)
	if again["start"] != occ["start"] {
		t.Fatalf("a refused move changed the occurrence")
	}
	// A conference cannot end before it starts.
	code, out = p.call("organiser", "POST", "/api/v1/conferences", map[string]any{"title": "Lithium Week", "timezone": "America/Santiago",
		"start_date": "2026-05-10", "end_date": "2026-05-08"})
	if code != 400 || fieldOf(out) != "end_date" {
		t.Fatalf("conference end before start: %d %v", code, out)
	}
}

// Only a series' organisers and admins may change it; only organisers may create.
func TestProgrammeAuthorization(t *testing.T) {
	p := newProgEnv(t)
	s := p.must(201, "organiser", "POST", "/api/v1/series", batterySeminar)
	conf := p.must(201, "organiser", "POST", "/api/v1/conferences", map[string]any{"title": "Lithium Week",
		"timezone": "America/Santiago", "start_date": "2026-05-10", "end_date": "2026-05-12"})
	track := p.must(201, "organiser", "POST", fmt.Sprintf("/api/v1/conferences/%v/tracks", conf["id"]), map[string]any{"name": "Materials"})
	occ := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%v/occurrences?from=2026-01-01&to=2026-03-01", s["id"]), nil))[0]
	sid, cid, oid, tid := s["id"], conf["id"], occ["id"], track["id"]

	type call struct {
		method, path string
		body         any
	}
	patchSeries := call{"PATCH", fmt.Sprintf("/api/v1/series/%v", sid), map[string]any{"capacity": 120}}
	for _, tc := range []struct {
		call  call
		codes map[string]int // role → status; "" is anonymous
	}{
		{call{"POST", "/api/v1/series", batterySeminar}, map[string]int{"": 401, "attendee": 403, "other": 201, "organiser": 201, "admin": 201}},
		{call{"POST", "/api/v1/conferences", map[string]any{"title": "X", "timezone": "UTC", "start_date": "2026-06-01"}}, map[string]int{"": 401, "attendee": 403, "other": 201, "organiser": 201, "admin": 201}},
		{call{"GET", fmt.Sprintf("/api/v1/series/%v", sid), nil}, map[string]int{"": 200, "attendee": 200, "other": 200, "organiser": 200, "admin": 200}},
		{call{"GET", "/api/v1/series", nil}, map[string]int{"": 200, "attendee": 200, "other": 200, "organiser": 200, "admin": 200}},
		{patchSeries, map[string]int{"": 401, "attendee": 403, "other": 403, "organiser": 200, "admin": 200}},
		{call{"POST", fmt.Sprintf("/api/v1/series/%v/occurrences", sid), map[string]any{"start_date": "2026-02-11", "start_time": "10:00"}}, map[string]int{"": 401, "attendee": 403, "other": 403, "organiser": 201, "admin": 201}},
		{call{"GET", fmt.Sprintf("/api/v1/occurrences/%v", oid), nil}, map[string]int{"": 200, "attendee": 200, "other": 200, "organiser": 200, "admin": 200}},
		{call{"PATCH", fmt.Sprintf("/api/v1/occurrences/%v", oid), map[string]any{"abstract": "x"}}, map[string]int{"": 401, "attendee": 403, "other": 403, "organiser": 200, "admin": 200}},
		{call{"PATCH", fmt.Sprintf("/api/v1/conferences/%v", cid), map[string]any{"capacity": 50}}, map[string]int{"": 401, "attendee": 403, "other": 403, "organiser": 200, "admin": 200}},
		{call{"POST", fmt.Sprintf("/api/v1/conferences/%v/tracks", cid), map[string]any{"name": "Room B"}}, map[string]int{"": 401, "attendee": 403, "other": 403, "organiser": 201, "admin": 201}},
		{call{"PATCH", fmt.Sprintf("/api/v1/tracks/%v", tid), map[string]any{"room": "Aula 3"}}, map[string]int{"": 401, "attendee": 403, "other": 403, "organiser": 200, "admin": 200}},
		{call{"POST", fmt.Sprintf("/api/v1/conferences/%v/sessions", cid), map[string]any{"title": "Opening", "start_date": "2026-05-10", "start_time": "09:00", "track_id": tid}}, map[string]int{"": 401, "attendee": 403, "other": 403, "organiser": 201, "admin": 201}},
		{call{"GET", fmt.Sprintf("/api/v1/conferences/%v/sessions", cid), nil}, map[string]int{"": 200, "attendee": 200, "other": 200, "organiser": 200, "admin": 200}},
	} {
		for _, role := range []string{"", "attendee", "other", "organiser", "admin"} {
			code, out := p.call(role, tc.call.method, tc.call.path, tc.call.body)
			if want := tc.codes[role]; code != want {
				t.Errorf("%s %s as %q: %d, want %d (%v)", tc.call.method, tc.call.path, role, code, want, out)
			}
		}
	}
	// Deleting: outsiders are refused before the organiser deletes.
	for _, role := range []string{"", "attendee", "other"} {
		if code, _ := p.call(role, "DELETE", fmt.Sprintf("/api/v1/series/%v", sid), nil); code != 401 && code != 403 {
			t.Errorf("DELETE series as %q: %d", role, code)
		}
		if code, _ := p.call(role, "DELETE", fmt.Sprintf("/api/v1/tracks/%v", tid), nil); code != 401 && code != 403 {
			t.Errorf("DELETE track as %q: %d", role, code)
		}
	}
	p.must(204, "admin", "DELETE", fmt.Sprintf("/api/v1/tracks/%v", tid), nil)
	p.must(204, "organiser", "DELETE", fmt.Sprintf("/api/v1/series/%v", sid), nil)
	p.must(404, "", "GET", fmt.Sprintf("/api/v1/series/%v", sid), nil)
	// A series is not a conference.
	p.must(404, "", "GET", fmt.Sprintf("/api/v1/conferences/%v", sid), nil)
}

func TestConferenceTimetable(t *testing.T) {
	p := newProgEnv(t)
	conf := p.must(201, "organiser", "POST", "/api/v1/conferences", map[string]any{"title": "Lithium Week",
		"timezone": "America/Santiago", "start_date": "2026-05-10", "end_date": "2026-05-11",
		"venue": map[string]any{"name": "Universidad de Chile", "address": "Av. Beauchef 850", "room": ""}})
	a := p.must(201, "organiser", "POST", fmt.Sprintf("/api/v1/conferences/%v/tracks", conf["id"]), map[string]any{"name": "Materials", "room": "Aula A"})
	b := p.must(201, "organiser", "POST", fmt.Sprintf("/api/v1/conferences/%v/tracks", conf["id"]), map[string]any{"name": "Recycling", "room": "Aula B"})
	for _, sess := range []map[string]any{
		{"title": "Brine chemistry", "start_date": "2026-05-10", "start_time": "10:00", "track_id": a["id"]},
		{"title": "Black mass", "start_date": "2026-05-10", "start_time": "10:00", "track_id": b["id"]},
		{"title": "Keynote", "start_date": "2026-05-11", "start_time": "09:00"},
	} {
		p.must(201, "organiser", "POST", fmt.Sprintf("/api/v1/conferences/%v/sessions", conf["id"]), sess)
	}
	code, out := p.call("organiser", "POST", fmt.Sprintf("/api/v1/conferences/%v/sessions", conf["id"]),
		map[string]any{"title": "Late", "start_date": "2026-05-12", "start_time": "09:00"})
	if code != 400 || fieldOf(out) != "start_date" {
		t.Fatalf("session outside the conference days: %d %v", code, out)
	}
	sessions := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/conferences/%v/sessions", conf["id"]), nil))
	if len(sessions) != 3 || sessions[0]["start"] != "2026-05-10T10:00:00-04:00" {
		t.Fatalf("sessions: %v", sessions)
	}
	b2 := p.browser("en")
	u, _ := url.Parse(p.ts.URL)
	b2.http.Jar.SetCookies(u, []*http.Cookie{{Name: "puente_tz", Value: "Europe/London", Path: "/"}})
	page := b2.get("/conferences/" + conf["slug"].(string))
	for _, want := range []string{"Materials", "Recycling", "Aula B", "Brine chemistry", "Black mass", "Keynote",
		"Sunday 10 May 2026", "15:00–16:00", "10:00 Santiago",
		`class="button" href="/sign-in?next=`, "webcal://"} { // the shared event intro: register, subscribe
		if !strings.Contains(page.body, want) {
			t.Errorf("timetable lacks %q", want)
		}
	}
}

func TestRecurrencePreview(t *testing.T) {
	p := newProgEnv(t)
	q := url.Values{"timezone": {"Europe/London"}, "start_date": {"2026-03-19"}, "start_time": {"15:00"}, "repeat": {"weekly"},
		"interval": {"1"}, "weekdays": {"4"}, "ends": {"count"}, "count": {"4"}, "other_timezone": {"America/Santiago"}}
	out := p.must(200, "", "GET", "/api/v1/recurrence/preview?"+q.Encode(), nil)
	list := items(t, out)
	if len(list) != 4 || !strings.Contains(out["rrule"].(string), "COUNT=4") {
		t.Fatalf("preview: %v", out)
	}
	// 19 and 26 March: Santiago 12:00; 2 April: 11:00 (UK on summer time); 9 April: 10:00.
	for i, want := range []string{"12:00", "12:00", "11:00", "10:00"} {
		if other := list[i]["in_other"].(string); !strings.Contains(other, want) {
			t.Errorf("item %d in Santiago: %q, want %s", i, other, want)
		}
	}
	q.Set("start_time", "25:00")
	if code, out := p.call("", "GET", "/api/v1/recurrence/preview?"+q.Encode(), nil); code != 400 || fieldOf(out) != "start_time" {
		t.Fatalf("bad time in preview: %d %v", code, out)
	}
}

// Excluded dates follow a change of the series' time; organisers change atomically with
// the rest (a bad address refuses the whole edit).
func TestSeriesEditsStayConsistent(t *testing.T) {
	p := newProgEnv(t)
	body := map[string]any{}
	for k, v := range batterySeminar {
		body[k] = v
	}
	body["exdates"] = []string{"2026-01-22T15:00"}
	s := p.must(201, "organiser", "POST", "/api/v1/series", body)
	path := fmt.Sprintf("/api/v1/series/%v", s["id"])
	out := p.must(200, "organiser", "PATCH", path, map[string]any{"start_time": "16:00"})
	if ex := out["exdates"].([]any); len(ex) != 1 || ex[0] != "2026-01-22T16:00" {
		t.Fatalf("exdates after the time change: %v", out["exdates"])
	}
	occs := items(t, p.must(200, "", "GET", path+"/occurrences?from=2026-01-01&to=2026-02-28", nil))
	for _, o := range occs {
		if strings.HasPrefix(o["start"].(string), "2026-01-22") {
			t.Fatalf("excluded date came back: %v", o)
		}
	}
	code, resp := p.call("organiser", "PATCH", path, map[string]any{"title": "Renamed", "organisers": []string{"organiser@example.org", "nobody@example.org"}})
	if code != 400 || fieldOf(resp) != "organisers" {
		t.Fatalf("unknown organiser: %d %v", code, resp)
	}
	if got := p.must(200, "organiser", "GET", path, nil); got["title"] != "Battery Materials Seminar" {
		t.Fatalf("a refused edit changed the title: %v", got["title"])
	}
	got := p.must(200, "organiser", "PATCH", path, map[string]any{"organisers": []string{"organiser@example.org", "other@example.org"}})
	if orgs := got["organisers"].([]any); len(orgs) != 2 {
		t.Fatalf("organisers: %v", orgs)
	}
	p.must(200, "other", "PATCH", path, map[string]any{"capacity": 80}) // a co-organiser may now edit
	if got := p.must(200, "", "GET", path, nil); got["organisers"] != nil {
		t.Fatalf("organiser emails shown to the public: %v", got["organisers"])
	}
}

func TestProgrammeFilters(t *testing.T) {
	p := newProgEnv(t)
	p.must(201, "organiser", "POST", "/api/v1/series", batterySeminar)
	p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Seminario de Litio", "timezone": "America/Santiago",
		"start_date": "2026-01-06", "start_time": "10:00", "rrule": "FREQ=MONTHLY;BYDAY=1TU", "tags": []string{"direct lithium extraction"}, "language": "es"})
	p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Hidden Seminar", "timezone": "UTC",
		"start_date": "2026-01-05", "start_time": "10:00", "visibility": "unlisted"})
	b := p.browser("en")
	count := func(q string) int { return strings.Count(b.get("/programme?"+q).body, `class="talk-title"`) }
	all := count("")
	if all == 0 || strings.Contains(b.get("/programme").body, "Hidden Seminar") {
		t.Fatalf("programme: %d talks, or an unlisted one shown", all)
	}
	if n := count("language=es"); n == 0 || n >= all {
		t.Errorf("language filter: %d of %d", n, all)
	}
	if n := count("tag=direct+lithium+extraction"); n != count("language=es") {
		t.Errorf("tag filter: %d", n)
	}
	if n := count("series=battery-materials-seminar"); n == 0 || n+count("series=seminario-de-litio") != all {
		t.Errorf("series filter: %d", n)
	}
	if n := count("q=litio"); n != count("language=es") {
		t.Errorf("search: %d", n)
	}
	if n := count("q=nothing-matches-this"); n != 0 {
		t.Errorf("search for nothing: %d", n)
	}
}
