package server_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
)

// addPerson makes the account role@example.org with an API token and records both under
// role.
func (p *progEnv) addPerson(role string, np store.NewPerson) {
	p.t.Helper()
	ctx := context.Background()
	np.Email = role + "@example.org"
	person, err := p.store.CreatePerson(ctx, np)
	if err != nil {
		p.t.Fatal(err)
	}
	secret, hash := domain.NewSecret(domain.PrefixAPIToken)
	if _, err := p.store.CreateAPIToken(ctx, person.ID, "t", hash); err != nil {
		p.t.Fatal(err)
	}
	p.tokens[role], p.ids[role] = secret, person.ID
}

// addPeople makes n attendee accounts with API tokens, returning their roles' names.
func (p *progEnv) addPeople(n int) []string {
	p.t.Helper()
	roles := make([]string, n)
	for i := range n {
		role := fmt.Sprintf("person%03d", i)
		p.addPerson(role, store.NewPerson{Name: "Person " + role})
		roles[i] = role
	}
	return roles
}

func (p *progEnv) oneOccurrence(capacity int, registration string) string {
	p.t.Helper()
	s := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Capacity Seminar", "timezone": "Europe/London",
		"start_date": "2026-02-05", "start_time": "15:00", "capacity": capacity, "registration": registration})
	occ := items(p.t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%v/occurrences?from=2026-02-01&to=2026-02-28", s["id"]), nil))
	if len(occ) != 1 {
		p.t.Fatalf("occurrences: %v", occ)
	}
	return fmt.Sprintf("/api/v1/occurrences/%v", occ[0]["id"])
}

// 500 people register at once for 50 places: exactly 50 confirmed, the rest waitlisted
// in positions 1..450 with no gap or duplicate, no server error; cancellations then
// promote exactly as many as they free, in order.
func TestConcurrentRegistrationsNeverOversell(t *testing.T) {
	p := newProgEnv(t)
	occ := p.oneOccurrence(50, "open")
	people := p.addPeople(500)

	type result struct {
		role   string
		code   int
		status string
		pos    int
	}
	results := make(chan result, len(people))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, role := range people {
		wg.Go(func() {
			<-start
			code, out := p.call(role, "POST", occ+"/registrations", map[string]any{})
			st, _ := out["status"].(string)
			pos, _ := out["position"].(float64)
			results <- result{role, code, st, int(pos)}
		})
	}
	close(start)
	wg.Wait()
	close(results)
	confirmed := 0
	var positions []int
	for r := range results {
		if r.code != 201 {
			t.Fatalf("%s: HTTP %d", r.role, r.code)
		}
		switch r.status {
		case "confirmed":
			confirmed++
		case "waitlisted":
			positions = append(positions, r.pos)
		default:
			t.Fatalf("%s: status %q", r.role, r.status)
		}
	}
	if confirmed != 50 || len(positions) != 450 {
		t.Fatalf("confirmed %d, waitlisted %d; want 50 and 450", confirmed, len(positions))
	}
	sort.Ints(positions)
	for i, pos := range positions {
		if pos != i+1 {
			t.Fatalf("waitlist positions have a gap or duplicate at %d: %d", i+1, pos)
		}
	}
	// The organiser's list agrees, in waitlist order.
	list := p.must(200, "organiser", "GET", occ+"/registrations?status=waitlisted", nil)
	waiting := items(t, list)
	if len(waiting) != 450 {
		t.Fatalf("waitlist: %d", len(waiting))
	}
	first3 := []string{waiting[0]["email"].(string), waiting[1]["email"].(string), waiting[2]["email"].(string)}

	// Three confirmed people cancel: the first three waiting are promoted, in order.
	confirmedList := items(t, p.must(200, "organiser", "GET", occ+"/registrations?status=confirmed", nil))
	for _, r := range confirmedList[:3] {
		email := r["email"].(string)
		role := email[:len(email)-len("@example.org")]
		if out := p.must(200, role, "DELETE", occ+"/registrations/me", nil); out["status"] != "cancelled" {
			t.Fatalf("cancel: %v", out)
		}
	}
	after := p.must(200, "organiser", "GET", occ+"/registrations", nil)
	counts := after["counts"].(map[string]any)
	if counts["confirmed"].(float64) != 50 || counts["waitlisted"].(float64) != 447 || counts["cancelled"].(float64) != 3 {
		t.Fatalf("after three cancellations: %v", counts)
	}
	for _, email := range first3 {
		role := email[:len(email)-len("@example.org")]
		if r := p.must(200, role, "GET", "/api/v1/me/registrations", nil); items(t, r)[0]["status"] != "confirmed" {
			t.Fatalf("%s should have been promoted: %v", role, r)
		}
	}
	// A waitlisted person cancelling frees no place and promotes nobody; positions close up.
	w := items(t, p.must(200, "organiser", "GET", occ+"/registrations?status=waitlisted", nil))
	email := w[0]["email"].(string)
	p.must(200, email[:len(email)-len("@example.org")], "DELETE", occ+"/registrations/me", nil)
	w2 := items(t, p.must(200, "organiser", "GET", occ+"/registrations?status=waitlisted", nil))
	if len(w2) != 446 || w2[0]["position"].(float64) != 1 || w2[0]["email"] != w[1]["email"] {
		t.Fatalf("waitlist after a waiting person left: %d, first %v", len(w2), w2[0])
	}
}

func TestRegistrationRules(t *testing.T) {
	p := newProgEnv(t)
	occ := p.oneOccurrence(1, "open")
	first := p.must(201, "attendee", "POST", occ+"/registrations", map[string]any{"affiliation": "Universidad de Chile", "consent_contact": true})
	if first["status"] != "confirmed" || first["affiliation"] != "Universidad de Chile" || first["name"] != "Attendee" {
		t.Fatalf("first: %v", first)
	}
	// Registering twice gives the same registration (a double-submitted form is harmless).
	again := p.must(200, "attendee", "POST", occ+"/registrations", map[string]any{})
	if again["id"] != first["id"] || again["status"] != "confirmed" {
		t.Fatalf("second registration: %v", again)
	}
	if w := p.must(201, "other", "POST", occ+"/registrations", nil); w["status"] != "waitlisted" || w["position"].(float64) != 1 {
		t.Fatalf("full: %v", w)
	}
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"country": "Narnia"}, "country"},
		{map[string]any{"career_stage": "wizard"}, "career_stage"},
		{map[string]any{"consent_contact": "yes"}, "consent_contact"},
		{map[string]any{"shoe_size": 42}, "shoe_size"},
	} {
		if code, out := p.call("admin", "POST", occ+"/registrations", tc.body); code != 400 || fieldOf(out) != tc.field {
			t.Errorf("%v: %d %v", tc.body, code, out)
		}
	}
	if code, _ := p.call("", "POST", occ+"/registrations", nil); code != 401 {
		t.Errorf("anonymous: %d", code)
	}
	if code, _ := p.call("attendee", "POST", "/api/v1/occurrences/999999/registrations", nil); code != 404 {
		t.Errorf("unknown occurrence: %d", code)
	}
	if code, _ := p.call("attendee", "DELETE", "/api/v1/occurrences/999999/registrations/me", nil); code != 404 {
		t.Errorf("cancel unknown: %d", code)
	}
	// Cancelled occurrence: 409. A past one: 410. Closed registration: 409.
	p.must(200, "organiser", "PATCH", occ, map[string]any{"status": "cancelled", "reason": "Snow"})
	if code, out := p.call("admin", "POST", occ+"/registrations", nil); code != 409 {
		t.Errorf("cancelled occurrence: %d %v", code, out)
	}
	closed := p.oneOccurrence(0, "closed")
	if code, out := p.call("attendee", "POST", closed+"/registrations", nil); code != 409 {
		t.Errorf("closed registration: %d %v", code, out)
	}
	// Approval mode: pending.
	approval := p.oneOccurrence(0, "approval")
	if r := p.must(201, "attendee", "POST", approval+"/registrations", nil); r["status"] != "pending" {
		t.Errorf("approval mode: %v", r)
	}
	// Lists are for the organisers and admins only; attendees see their own.
	for role, want := range map[string]int{"": 401, "attendee": 403, "other": 403, "organiser": 200, "admin": 200} {
		if code, _ := p.call(role, "GET", occ+"/registrations", nil); code != want {
			t.Errorf("list as %q: %d, want %d", role, code, want)
		}
	}
	mine := items(t, p.must(200, "attendee", "GET", "/api/v1/me/registrations", nil))
	if len(mine) != 2 {
		t.Errorf("my registrations: %v", mine)
	}
}

// Raising the capacity promotes the first people waiting.
func TestRaisingCapacityPromotes(t *testing.T) {
	p := newProgEnv(t)
	occ := p.oneOccurrence(1, "open")
	people := p.addPeople(4)
	for _, r := range people {
		p.must(201, r, "POST", occ+"/registrations", nil)
	}
	l, _ := p.store.OccurrenceByID(context.Background(), mustAtoi(t, occ[len("/api/v1/occurrences/"):]))
	p.must(200, "organiser", "PATCH", fmt.Sprintf("/api/v1/series/%d", l.Event.ID), map[string]any{"capacity": 3})
	counts := p.must(200, "organiser", "GET", occ+"/registrations", nil)["counts"].(map[string]any)
	if counts["confirmed"].(float64) != 3 || counts["waitlisted"].(float64) != 1 {
		t.Fatalf("after raising capacity: %v", counts)
	}
	if r := items(t, p.must(200, people[3], "GET", "/api/v1/me/registrations", nil))[0]; r["status"] != "waitlisted" || r["position"].(float64) != 1 {
		t.Fatalf("the last to arrive should still wait, first in line: %v", r)
	}
}

// The organisers' own questions: required ones must be answered, choices must be among the
// options, and the answers reach the organisers' CSV.
func TestRegistrationQuestions(t *testing.T) {
	p := newProgEnv(t)
	s := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Questions Seminar", "timezone": "UTC",
		"start_date": "2026-02-05", "start_time": "15:00", "questions": []map[string]any{
			{"label": "Dietary needs", "kind": "text"},
			{"label": "Attending", "kind": "single", "options": []string{"Online", "In person"}, "required": true},
			{"label": "Topics", "kind": "multiple", "options": []string{"Recycling", "Refining", "ESG"}},
		}})
	qs := s["questions"].([]any)
	if len(qs) != 3 || qs[1].(map[string]any)["id"] != "q2" {
		t.Fatalf("questions: %v", qs)
	}
	occ := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%v/occurrences?from=2026-02-01&to=2026-02-28", s["id"]), nil))[0]
	path := fmt.Sprintf("/api/v1/occurrences/%v/registrations", occ["id"])
	for _, tc := range []struct {
		answers map[string]any
		field   string
	}{
		{map[string]any{}, "answers.q2"},
		{map[string]any{"q2": "By pigeon"}, "answers.q2"},
		{map[string]any{"q2": "Online", "q3": []string{"Knitting"}}, "answers.q3"},
		{map[string]any{"q2": "Online", "q9": "x"}, "answers.q9"},
		{map[string]any{"q2": []string{"Online"}}, "answers.q2"},
	} {
		if code, out := p.call("attendee", "POST", path, map[string]any{"answers": tc.answers}); code != 400 || fieldOf(out) != tc.field {
			t.Errorf("%v: %d %v", tc.answers, code, out)
		}
	}
	r := p.must(201, "attendee", "POST", path, map[string]any{"answers": map[string]any{"q1": "Vegetarian, no nuts", "q2": "In person", "q3": []string{"ESG", "Recycling"}}})
	if r["answers"].(map[string]any)["q2"] != "In person" {
		t.Fatalf("answers: %v", r)
	}
	b := p.browser("en")
	b.signIn("organiser@example.org")
	csv := b.get(fmt.Sprintf("/organise/occurrences/%v/registrations.csv", occ["id"]))
	for _, want := range []string{"Dietary needs,Attending,Topics", `"Vegetarian, no nuts",In person,ESG; Recycling`} {
		if !strings.Contains(csv.body, want) {
			t.Errorf("CSV lacks %q:\n%s", want, csv.body)
		}
	}
	// The form shows them, and the organiser's form edits them in its one-line syntax.
	other := p.browser("en")
	other.signIn("other@example.org")
	if page := other.get(fmt.Sprintf("/occurrences/%v", occ["id"])); !strings.Contains(page.body, `name="answer_q2" value="In person" required`) {
		t.Fatalf("registration form lacks the questions")
	}
	if page := b.get(fmt.Sprintf("/organise/events/%v", s["id"])); !strings.Contains(page.body, "Attending* | single | Online; In person") {
		t.Fatalf("organiser form lacks the questions")
	}
}
