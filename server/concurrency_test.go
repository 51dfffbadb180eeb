package server_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/puente-org/puente/store"
)

// callResult is one concurrent API call's outcome.
type callResult struct {
	what string
	code int
	out  map[string]any
}

// together runs the calls at the same instant (as far as goroutines allow) and returns
// their results.
func together(calls []func() callResult) []callResult {
	out := make([]callResult, len(calls))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, call := range calls {
		wg.Go(func() {
			<-start
			out[i] = call()
		})
	}
	close(start)
	wg.Wait()
	return out
}

// Once an occurrence has been moved, its start order differs from its id order. Forty
// registration moves and forty whole-series registrations fired together must then
// neither deadlock nor answer 500: every transaction locks occurrences in one order.
func TestMovesAndWholeSeriesRegistrationsDoNotDeadlock(t *testing.T) {
	p := newProgEnv(t)
	s := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Four Talks", "timezone": "UTC",
		"start_date": "2026-02-05", "start_time": "15:00", "rrule": "FREQ=WEEKLY;COUNT=4", "capacity": 1000})
	occs := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%v/occurrences?from=2026-02-01&to=2026-03-31", s["id"]), nil))
	if len(occs) != 4 {
		t.Fatalf("occurrences: %d", len(occs))
	}
	first, last := occs[0]["id"], occs[3]["id"]
	// The first talk (lowest id) moves after the last one (highest id).
	p.must(200, "organiser", "PATCH", fmt.Sprintf("/api/v1/occurrences/%v", first),
		map[string]any{"start_date": "2026-03-05", "start_time": "17:00"})

	movers := p.addPeople(80)
	var regIDs []string
	for _, role := range movers[:40] {
		r := p.must(201, role, "POST", fmt.Sprintf("/api/v1/occurrences/%v/registrations", first), nil)
		regIDs = append(regIDs, jsonID(r))
	}
	var calls []func() callResult
	for i := range 40 {
		id := regIDs[i]
		calls = append(calls, func() callResult {
			code, out := p.call("organiser", "POST", "/api/v1/registrations/"+id+"/move", map[string]any{"occurrence_id": last})
			return callResult{"move " + id, code, out}
		})
		role := movers[40+i]
		calls = append(calls, func() callResult {
			code, out := p.call(role, "POST", fmt.Sprintf("/api/v1/series/%v/registrations", s["id"]), nil)
			return callResult{"whole series " + role, code, out}
		})
	}
	for _, r := range together(calls) {
		if r.code != 200 && r.code != 201 {
			t.Errorf("%s: HTTP %d %v", r.what, r.code, r.out)
		}
		if strings.Contains(fmt.Sprint(r.out), "deadlock") {
			t.Errorf("%s: %v", r.what, r.out)
		}
	}
}

// With 5 confirmed and 20 waiting, raising the capacity to 15 at the same instant as 20
// newcomers register gives the 10 new places to the first 10 people waiting: the
// promotion commits with the raise.
func TestCapacityRaiseServesTheWaitlistFirst(t *testing.T) {
	p := newProgEnv(t)
	occ := p.oneOccurrence(5, "open")
	people := p.addPeople(45)
	for _, role := range people[:25] {
		p.must(201, role, "POST", occ+"/registrations", nil)
	}
	l, err := p.store.OccurrenceByID(context.Background(), mustAtoi(t, occ[len("/api/v1/occurrences/"):]))
	if err != nil {
		t.Fatal(err)
	}
	calls := []func() callResult{func() callResult {
		code, out := p.call("organiser", "PATCH", fmt.Sprintf("/api/v1/series/%d", l.Event.ID), map[string]any{"capacity": 15})
		return callResult{"raise", code, out}
	}}
	for _, role := range people[25:] {
		calls = append(calls, func() callResult {
			code, out := p.call(role, "POST", occ+"/registrations", nil)
			return callResult{role, code, out}
		})
	}
	for _, r := range together(calls) {
		if r.code != 200 && r.code != 201 {
			t.Fatalf("%s: HTTP %d %v", r.what, r.code, r.out)
		}
	}
	status := map[string]string{}
	regs, err := p.store.Registrations(context.Background(), store.RegistrationFilter{OccurrenceID: l.Occurrence.ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range regs {
		status[strings.TrimSuffix(r.Email, "@example.org")] = string(r.Status)
	}
	for i, role := range people {
		want := "confirmed"
		if i >= 15 {
			want = "waitlisted"
		}
		if status[role] != want {
			t.Errorf("%s (arrived %d): %s, want %s", role, i+1, status[role], want)
		}
	}
}

// A move into a session with no free place is refused with 409, and nothing changes.
func TestMoveIntoAFullSessionIsRefused(t *testing.T) {
	p := newProgEnv(t)
	s := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Two Sessions", "timezone": "UTC",
		"start_date": "2026-02-05", "start_time": "15:00", "rrule": "FREQ=WEEKLY;COUNT=2", "capacity": 1})
	occs := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%v/occurrences?from=2026-02-01&to=2026-02-28", s["id"]), nil))
	a, b := fmt.Sprintf("/api/v1/occurrences/%v", occs[0]["id"]), fmt.Sprintf("/api/v1/occurrences/%v", occs[1]["id"])
	x := p.must(201, "attendee", "POST", a+"/registrations", nil)
	p.must(201, "other", "POST", b+"/registrations", nil) // takes b's only place
	code, out := p.call("organiser", "POST", "/api/v1/registrations/"+jsonID(x)+"/move", map[string]any{"occurrence_id": occs[1]["id"]})
	if code != 409 || fieldOf(out) != "occurrence_id" || !strings.Contains(fmt.Sprint(out), "full") {
		t.Fatalf("move into a full session: %d %v", code, out)
	}
	if r := items(t, p.must(200, "attendee", "GET", "/api/v1/me/registrations", nil)); len(r) != 1 || r[0]["status"] != "confirmed" {
		t.Fatalf("the refused move changed the registration: %v", r)
	}
}
