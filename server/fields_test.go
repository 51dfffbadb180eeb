package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// fieldCase is one bad input: sent to an endpoint, it must be refused with status (400 unless
// said) and name field.
type fieldCase struct {
	name   string
	method string
	path   string // {S} series, {C} conference, {O} a talk, {CS} a session, {T} a track, {R} a registration, {P} a person
	body   map[string]any
	field  string
	status int
}

func with(base map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

const nul = "a\x00b"

// Every input field of the series, conference, occurrence and session, track, registration,
// profile, token and roles endpoints: a bad value is reported on that very field (and a NUL
// character is a 400, never a 500).
func TestAPIErrorsNameTheFieldAtFault(t *testing.T) {
	p := newProgEnv(t)
	series := with(batterySeminar, "questions", []map[string]any{{"label": "Why?", "kind": "text", "required": true}})
	s := p.must(201, "organiser", "POST", "/api/v1/series", series)
	conference := map[string]any{"title": "Lithium Week", "timezone": "America/Santiago", "start_date": "2026-03-02", "end_date": "2026-03-04"}
	cf := p.must(201, "organiser", "POST", "/api/v1/conferences", conference)
	sid, cid := int64(s["id"].(float64)), int64(cf["id"].(float64))
	tr := p.must(201, "organiser", "POST", fmt.Sprintf("/api/v1/conferences/%d/tracks", cid), map[string]any{"name": "Materials", "room": "A"})
	cs := p.must(201, "organiser", "POST", fmt.Sprintf("/api/v1/conferences/%d/sessions", cid),
		map[string]any{"title": "Opening", "start_date": "2026-03-02", "start_time": "10:00"})
	occs := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%d/occurrences", sid), nil))
	reg := p.must(201, "attendee", "POST", fmt.Sprintf("/api/v1/occurrences/%v/registrations", occs[0]["id"]),
		map[string]any{"answers": map[string]any{"q1": "curiosity"}})
	ids := strings.NewReplacer("{S}", fmt.Sprint(sid), "{C}", fmt.Sprint(cid), "{O}", fmt.Sprint(occs[0]["id"]),
		"{CS}", fmt.Sprint(cs["id"]), "{T}", fmt.Sprint(tr["id"]), "{R}", fmt.Sprint(reg["id"]), "{P}", fmt.Sprint(p.ids["other"]))

	long := func(n int) string { return strings.Repeat("x", n) }
	var cases []fieldCase
	add := func(name, method, path string, body map[string]any, field string) {
		cases = append(cases, fieldCase{name: name, method: method, path: path, body: body, field: field, status: http.StatusBadRequest})
	}
	// Series: created, and changed.
	for _, m := range []struct{ method, path string }{{"POST", "/api/v1/series"}, {"PATCH", "/api/v1/series/{S}"}} {
		b := func(kv ...any) map[string]any {
			if m.method == "PATCH" {
				return with(nil, kv...)
			}
			return with(batterySeminar, kv...)
		}
		add("title empty", m.method, m.path, b("title", ""), "title")
		add("title long", m.method, m.path, b("title", long(201)), "title")
		add("title nul", m.method, m.path, b("title", nul), "title")
		add("slug", m.method, m.path, b("slug", "Not A Slug"), "slug")
		add("description nul", m.method, m.path, b("description", nul), "description")
		add("description long", m.method, m.path, b("description", long(20001)), "description")
		add("tags long", m.method, m.path, b("tags", []string{long(41)}), "tags")
		add("tags nul", m.method, m.path, b("tags", []string{nul}), "tags")
		add("tags many", m.method, m.path, b("tags", strings.Split("a b c d e f g h i j k l m", " ")), "tags")
		add("language", m.method, m.path, b("language", "xx"), "language")
		add("visibility", m.method, m.path, b("visibility", "secret"), "visibility")
		add("timezone unknown", m.method, m.path, b("timezone", "Mars/Olympus"), "timezone")
		add("timezone Factory", m.method, m.path, b("timezone", "Factory"), "timezone")
		add("timezone posixrules", m.method, m.path, b("timezone", "posixrules"), "timezone")
		add("timezone localtime", m.method, m.path, b("timezone", "localtime"), "timezone")
		add("timezone nul", m.method, m.path, b("timezone", nul), "timezone")
		add("start_date format", m.method, m.path, b("start_date", "2026-13-01"), "start_date")
		add("start_date year 0", m.method, m.path, b("start_date", "0000-01-06"), "start_date")
		add("start_date year 9999", m.method, m.path, b("start_date", "9999-01-07"), "start_date")
		add("start_time", m.method, m.path, b("start_time", "25:00"), "start_time")
		add("duration zero", m.method, m.path, b("duration_minutes", 0), "duration_minutes")
		add("duration long", m.method, m.path, b("duration_minutes", 2000), "duration_minutes")
		add("duration type", m.method, m.path, b("duration_minutes", "sixty"), "duration_minutes")
		add("rrule freq", m.method, m.path, b("rrule", "FREQ=HOURLY"), "rrule")
		add("rrule byhour", m.method, m.path, b("rrule", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;BYHOUR=9"), "rrule")
		add("rrule nul", m.method, m.path, b("rrule", "FREQ=WEEKLY\x00"), "rrule")
		add("rdates format", m.method, m.path, b("rdates", []string{"soon"}), "rdates")
		add("rdates year", m.method, m.path, b("rdates", []string{"0001-01-01T10:00"}), "rdates")
		add("exdates format", m.method, m.path, b("exdates", []string{"soon"}), "exdates")
		add("exdates not a meeting", m.method, m.path, b("exdates", []string{"2026-01-09T15:00"}), "exdates")
		add("capacity", m.method, m.path, b("capacity", -1), "capacity")
		add("registration", m.method, m.path, b("registration", "maybe"), "registration")
		add("join window", m.method, m.path, b("join_window_minutes", -1), "join_window_minutes")
		add("reminders range", m.method, m.path, b("reminder_minutes", []int{1}), "reminder_minutes")
		add("reminders many", m.method, m.path, b("reminder_minutes", []int{10, 20, 30, 40, 50, 60}), "reminder_minutes")
		add("questions label", m.method, m.path, b("questions", []map[string]any{{"label": "", "kind": "text"}}), "questions")
		add("questions nul", m.method, m.path, b("questions", []map[string]any{{"label": nul, "kind": "text"}}), "questions")
		add("questions option nul", m.method, m.path, b("questions", []map[string]any{{"label": "Pick", "kind": "single", "options": []string{"a", nul}}}), "questions")
		add("venue name nul", m.method, m.path, b("venue", map[string]any{"name": nul}), "venue.name")
		add("venue address long", m.method, m.path, b("venue", map[string]any{"address": long(501)}), "venue.address")
		add("venue room long", m.method, m.path, b("venue", map[string]any{"room": long(101)}), "venue.room")
		add("organisers unknown", m.method, m.path, b("organisers", []string{"nobody@example.org"}), "organisers")
		add("organisers nul", m.method, m.path, b("organisers", []string{"a\x00@example.org"}), "organisers")
		add("unknown field", m.method, m.path, b("colour", "blue"), "colour")
	}
	// Conferences.
	for _, m := range []struct{ method, path string }{{"POST", "/api/v1/conferences"}, {"PATCH", "/api/v1/conferences/{C}"}} {
		b := func(kv ...any) map[string]any {
			if m.method == "PATCH" {
				return with(nil, kv...)
			}
			return with(conference, kv...)
		}
		add("start_date year 0", m.method, m.path, b("start_date", "0000-03-02", "end_date", "0000-03-03"), "start_date")
		add("start_date year 9999", m.method, m.path, b("start_date", "9999-03-02", "end_date", "9999-03-03"), "start_date")
		add("start_date alone year 0", m.method, m.path, b("start_date", "0000-03-02"), "start_date")
		add("end_date year 9999", m.method, m.path, b("end_date", "9999-03-03"), "end_date")
		add("end_date before", m.method, m.path, b("end_date", "2026-03-01"), "end_date")
		add("end_date format", m.method, m.path, b("end_date", "March"), "end_date")
		add("rrule", m.method, m.path, b("rrule", "FREQ=DAILY"), "rrule")
		add("rdates", m.method, m.path, b("rdates", []string{"2026-03-05T10:00"}), "rdates")
		add("exdates", m.method, m.path, b("exdates", []string{"2026-03-03T09:00"}), "exdates")
		add("title nul", m.method, m.path, b("title", nul), "title")
		add("timezone Factory", m.method, m.path, b("timezone", "Factory"), "timezone")
		add("venue room long", m.method, m.path, b("venue", map[string]any{"room": long(101)}), "venue.room")
	}
	// Talks of a series (added and changed) and sessions of a conference.
	for _, m := range []struct{ method, path string }{{"POST", "/api/v1/series/{S}/occurrences"}, {"PATCH", "/api/v1/occurrences/{O}"}} {
		b := func(kv ...any) map[string]any {
			if m.method == "PATCH" {
				return with(nil, kv...)
			}
			return with(map[string]any{"start_date": "2026-02-10", "start_time": "16:00"}, kv...)
		}
		add("title nul", m.method, m.path, b("title", nul), "title")
		add("title long", m.method, m.path, b("title", long(201)), "title")
		add("abstract nul", m.method, m.path, b("abstract", nul), "abstract")
		add("abstract long", m.method, m.path, b("abstract", long(20001)), "abstract")
		add("start_date year 0", m.method, m.path, b("start_date", "0000-02-10"), "start_date")
		add("start_date 1969", m.method, m.path, b("start_date", "1969-12-31"), "start_date")
		add("start_date 9999", m.method, m.path, b("start_date", "9999-02-10"), "start_date")
		add("start_date format", m.method, m.path, b("start_date", "10/02/2026"), "start_date")
		add("start_time", m.method, m.path, b("start_time", "24:00"), "start_time")
		add("start_time in the gap", m.method, m.path, b("start_date", "2026-03-29", "start_time", "01:30"), "start_time")
		add("duration", m.method, m.path, b("duration_minutes", 0), "duration_minutes")
		add("speakers name", m.method, m.path, b("speakers", []map[string]any{{"name": ""}}), "speakers")
		add("speakers nul", m.method, m.path, b("speakers", []map[string]any{{"name": nul}}), "speakers")
		add("speakers bio nul", m.method, m.path, b("speakers", []map[string]any{{"name": "Ana", "bio": nul}}), "speakers")
		add("speakers email", m.method, m.path, b("speakers", []map[string]any{{"name": "Ana", "email": "not-an-address"}}), "speakers")
		add("speakers person_id", m.method, m.path, b("speakers", []map[string]any{{"name": "Ana", "person_id": 1}}), "speakers")
		add("status", m.method, m.path, b("status", "postponed"), "status")
		add("track_id on a series", m.method, m.path, b("track_id", 1), "track_id")
	}
	add("new talk cancelled", "POST", "/api/v1/series/{S}/occurrences", map[string]any{"start_date": "2026-02-10", "start_time": "16:00", "status": "cancelled", "reason": "x"}, "status")
	add("start_date missing", "POST", "/api/v1/series/{S}/occurrences", map[string]any{"start_time": "16:00"}, "start_date")
	add("start_time missing", "POST", "/api/v1/series/{S}/occurrences", map[string]any{"start_date": "2026-02-10"}, "start_time")
	add("reason missing", "PATCH", "/api/v1/occurrences/{O}", map[string]any{"status": "cancelled"}, "reason")
	add("reason nul", "PATCH", "/api/v1/occurrences/{O}", map[string]any{"status": "cancelled", "reason": nul}, "reason")
	add("session outside the days", "POST", "/api/v1/conferences/{C}/sessions", map[string]any{"title": "Late", "start_date": "2026-03-09", "start_time": "10:00"}, "start_date")
	add("session title", "POST", "/api/v1/conferences/{C}/sessions", map[string]any{"title": "", "start_date": "2026-03-02", "start_time": "10:00"}, "title")
	add("session track", "POST", "/api/v1/conferences/{C}/sessions", map[string]any{"title": "X", "start_date": "2026-03-02", "start_time": "10:00", "track_id": 999999}, "track_id")
	add("session year 0", "PATCH", "/api/v1/occurrences/{CS}", map[string]any{"start_date": "0000-03-02"}, "start_date")
	// Tracks.
	add("track name empty", "POST", "/api/v1/conferences/{C}/tracks", map[string]any{"name": ""}, "name")
	add("track name long", "POST", "/api/v1/conferences/{C}/tracks", map[string]any{"name": long(101)}, "name")
	add("track name nul", "POST", "/api/v1/conferences/{C}/tracks", map[string]any{"name": nul}, "name")
	add("track room long", "POST", "/api/v1/conferences/{C}/tracks", map[string]any{"name": "B", "room": long(101)}, "room")
	add("track room nul", "POST", "/api/v1/conferences/{C}/tracks", map[string]any{"name": "B", "room": nul}, "room")
	add("track room long (change)", "PATCH", "/api/v1/tracks/{T}", map[string]any{"room": long(101)}, "room")
	add("track name nul (change)", "PATCH", "/api/v1/tracks/{T}", map[string]any{"name": nul}, "name")
	// Registrations.
	reg1 := "/api/v1/occurrences/" + fmt.Sprint(occs[1]["id"]) + "/registrations"
	ok := map[string]any{"q1": "why not"}
	add("registration name long", "POST", reg1, map[string]any{"name": long(201), "answers": ok}, "name")
	add("registration name nul", "POST", reg1, map[string]any{"name": nul, "answers": ok}, "name")
	add("registration affiliation nul", "POST", reg1, map[string]any{"affiliation": nul, "answers": ok}, "affiliation")
	add("registration country", "POST", reg1, map[string]any{"country": "XX", "answers": ok}, "country")
	add("registration career_stage", "POST", reg1, map[string]any{"career_stage": "guru", "answers": ok}, "career_stage")
	add("registration answer missing", "POST", reg1, map[string]any{}, "answers.q1")
	add("registration answer nul", "POST", reg1, map[string]any{"answers": map[string]any{"q1": nul}}, "answers.q1")
	add("registration answer unknown", "POST", reg1, map[string]any{"answers": map[string]any{"q1": "x", "q9": "y"}}, "answers.q9")
	add("registration consent type", "POST", reg1, map[string]any{"consent_contact": "yes", "answers": ok}, "consent_contact")
	add("move to nowhere", "POST", "/api/v1/registrations/{R}/move", map[string]any{"occurrence_id": 0}, "occurrence_id")
	add("message subject", "POST", "/api/v1/occurrences/{O}/messages", map[string]any{"subject": "", "body": "hello"}, "subject")
	add("message body nul", "POST", "/api/v1/occurrences/{O}/messages", map[string]any{"subject": "Hi", "body": nul}, "body")
	// The profile (me), tokens and roles.
	add("me name long", "PATCH", "/api/v1/me", map[string]any{"name": long(201)}, "name")
	add("me name nul", "PATCH", "/api/v1/me", map[string]any{"name": nul}, "name")
	add("me affiliation nul", "PATCH", "/api/v1/me", map[string]any{"affiliation": nul}, "affiliation")
	add("me country", "PATCH", "/api/v1/me", map[string]any{"country": "XX"}, "country")
	add("me country nul", "PATCH", "/api/v1/me", map[string]any{"country": nul}, "country")
	add("me career_stage", "PATCH", "/api/v1/me", map[string]any{"career_stage": "guru"}, "career_stage")
	add("me language", "PATCH", "/api/v1/me", map[string]any{"language": "xx"}, "language")
	add("me language nul", "PATCH", "/api/v1/me", map[string]any{"language": nul}, "language")
	add("me time_zone", "PATCH", "/api/v1/me", map[string]any{"time_zone": "Factory"}, "time_zone")
	add("people limit", "GET", "/api/v1/people?limit=201", nil, "limit")
	add("people offset", "GET", "/api/v1/people?offset=-1", nil, "offset")
	add("me time_zone nul", "PATCH", "/api/v1/me", map[string]any{"time_zone": nul}, "time_zone")
	add("token name empty", "POST", "/api/v1/me/tokens", map[string]any{"name": ""}, "name")
	add("token name long", "POST", "/api/v1/me/tokens", map[string]any{"name": long(101)}, "name")
	add("token name nul", "POST", "/api/v1/me/tokens", map[string]any{"name": nul}, "name")
	add("roles empty", "PUT", "/api/v1/people/{P}/roles", map[string]any{}, "is_admin")
	add("roles organiser missing", "PUT", "/api/v1/people/{P}/roles", map[string]any{"is_admin": false}, "is_organiser")
	add("roles admin missing", "PUT", "/api/v1/people/{P}/roles", map[string]any{"is_organiser": true}, "is_admin")
	add("roles type", "PUT", "/api/v1/people/{P}/roles", map[string]any{"is_admin": "yes", "is_organiser": true}, "is_admin")

	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path+" "+tc.name, func(t *testing.T) {
			role := "organiser"
			switch {
			case strings.Contains(tc.path, "/people"):
				role = "admin"
			case strings.HasSuffix(tc.path, "/registrations"):
				role = "other"
			}
			code, out := p.call(role, tc.method, ids.Replace(tc.path), tc.body)
			e, _ := out["error"].(map[string]any)
			if code != tc.status || fieldOf(out) != tc.field || e["message"] == "" || e["code"] != "invalid" {
				t.Errorf("%d field %q, want %d field %q: %v", code, fieldOf(out), tc.status, tc.field, out)
			}
		})
	}
}

// Text that no normaliser sees (a search term) with a NUL in it is still the client's
// mistake: 400, not the database's 500.
func TestNULInAQueryIsABadRequest(t *testing.T) {
	p := newProgEnv(t)
	for _, path := range []string{"/api/v1/series?q=a%00b", "/api/v1/conferences?tag=%00", "/api/v1/people?q=%00"} {
		code, out := p.call("admin", "GET", path, nil)
		if code != http.StatusBadRequest || out["error"].(map[string]any)["code"] != "invalid" {
			t.Errorf("%s: %d %v", path, code, out)
		}
	}
}

// Changing a series' zone may not leave a talk moved to a time of its own inside the new
// zone's daylight-saving gap (London skips 01:00-02:00 on 29 March 2026), as the series' own
// rule may not; once that talk is moved out of the gap, the change goes through.
func TestZoneChangeKeepsOwnTimesOutOfTheGap(t *testing.T) {
	p := newProgEnv(t)
	s := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Sunday Chats", "timezone": "UTC",
		"start_date": "2026-01-04", "start_time": "10:00", "rrule": "FREQ=WEEKLY;BYDAY=SU"})
	occs := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%v/occurrences?from=2026-03-29&to=2026-03-29", s["id"]), nil))
	if len(occs) != 1 {
		t.Fatalf("occurrences on 29 March: %v", occs)
	}
	moved := fmt.Sprintf("/api/v1/occurrences/%v", occs[0]["id"])
	p.must(200, "organiser", "PATCH", moved, map[string]any{"start_time": "01:30"})
	code, out := p.call("organiser", "PATCH", fmt.Sprintf("/api/v1/series/%v", s["id"]), map[string]any{"timezone": "Europe/London"})
	if code != 400 || fieldOf(out) != "timezone" || !strings.Contains(fmt.Sprint(out), "01:30 on Sunday 29 March 2026") {
		t.Fatalf("zone change into the gap: %d %v", code, out)
	}
	if got := p.must(200, "", "GET", moved, nil); got["timezone"] != "UTC" || got["start_local"] != "2026-03-29T01:30" {
		t.Fatalf("a refused change must change nothing: %v", got)
	}
	p.must(200, "organiser", "PATCH", moved, map[string]any{"start_time": "02:30"})
	p.must(200, "organiser", "PATCH", fmt.Sprintf("/api/v1/series/%v", s["id"]), map[string]any{"timezone": "Europe/London"})
	if got := p.must(200, "", "GET", moved, nil); got["start"] != "2026-03-29T02:30:00+01:00" {
		t.Fatalf("after the change: %v", got)
	}
}
