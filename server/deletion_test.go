package server_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/puente-org/puente/store"
)

// Deleting a series that people registered for cancels it instead: every registrant of a
// session still to come is emailed, and the history (registrations, attendance, chat,
// questions) stays. A series nobody registered for is deleted for good.
func TestDeletingASeriesWithRegistrationsCancelsIt(t *testing.T) {
	p := newProgEnv(t)
	ctx := context.Background()
	s := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Doomed Seminar", "timezone": "UTC",
		"start_date": "2026-02-05", "start_time": "15:00", "rrule": "FREQ=WEEKLY;COUNT=3", "capacity": 10})
	occs := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%v/occurrences?from=2026-02-01&to=2026-03-31", s["id"]), nil))
	first := int64(occs[0]["id"].(float64))
	people := p.addPeople(3)
	for _, role := range people {
		p.must(201, role, "POST", fmt.Sprintf("/api/v1/occurrences/%d/registrations", first), nil)
	}
	if _, err := p.store.RecordJoin(ctx, first, p.ids[people[0]]); err != nil {
		t.Fatal(err)
	}
	if _, err := p.store.AddChat(ctx, first, p.ids[people[0]], "Person", "Hello"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.store.AskQuestion(ctx, first, p.ids[people[1]], "Person", "Why?"); err != nil {
		t.Fatal(err)
	}
	before, _ := p.store.Mailbox(ctx, 100)

	out := p.must(200, "organiser", "DELETE", fmt.Sprintf("/api/v1/series/%v", s["id"]), nil)
	if out["status"] != "cancelled" {
		t.Fatalf("delete with registrations: %v", out)
	}
	// The registrants were told (one email each, through the outbox).
	box, _ := p.store.Mailbox(ctx, 100)
	told := map[string]int{}
	for _, m := range box[:len(box)-len(before)] {
		told[m.To]++
	}
	for _, role := range people {
		if told[role+"@example.org"] != 1 {
			t.Errorf("%s told %d times: %v", role, told[role+"@example.org"], told)
		}
	}
	// History is kept; every session is cancelled; registration is closed.
	regs, _ := p.store.Registrations(ctx, store.RegistrationFilter{OccurrenceID: first})
	if len(regs) != 3 {
		t.Fatalf("registrations after cancelling: %+v", regs)
	}
	var joins int
	if err := p.store.Pool().QueryRow(ctx, `SELECT count(*) FROM attendance WHERE occurrence_id = $1`, first).Scan(&joins); err != nil || joins != 1 {
		t.Fatalf("attendance after cancelling: %d %v", joins, err)
	}
	if chat, _ := p.store.ChatHistory(ctx, first, 10); len(chat) != 1 {
		t.Fatalf("chat after cancelling: %v", chat)
	}
	if qs, _ := p.store.LiveQuestions(ctx, first); len(qs) != 1 {
		t.Fatalf("questions after cancelling: %v", qs)
	}
	for _, o := range items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%v/occurrences?from=2026-02-01&to=2026-03-31", s["id"]), nil)) {
		if o["status"] != "cancelled" {
			t.Fatalf("a session of the cancelled series: %v", o)
		}
	}
	if code, _ := p.call(people[0], "POST", fmt.Sprintf("/api/v1/series/%v/registrations", s["id"]), nil); code != 409 {
		t.Fatalf("registering for a cancelled series: %d", code)
	}
	// Deleting again changes nothing and tells nobody twice.
	p.must(200, "organiser", "DELETE", fmt.Sprintf("/api/v1/series/%v", s["id"]), nil)
	if again, _ := p.store.Mailbox(ctx, 100); len(again) != len(box) {
		t.Fatalf("a second delete sent %d more emails", len(again)-len(box))
	}

	// Nobody registered: deleted for good.
	empty := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Empty Seminar", "timezone": "UTC",
		"start_date": "2026-02-05", "start_time": "15:00"})
	p.must(204, "organiser", "DELETE", fmt.Sprintf("/api/v1/series/%v", empty["id"]), nil)
	p.must(404, "", "GET", fmt.Sprintf("/api/v1/series/%v", empty["id"]), nil)
}

// The organiser's delete button leads to a confirmation step (a form with a required box,
// no script needed) that says what will happen; the same rule as the API applies.
func TestDeleteFromTheFormAsksForConfirmation(t *testing.T) {
	p := newProgEnv(t)
	s := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Form Seminar", "timezone": "UTC",
		"start_date": "2026-02-05", "start_time": "15:00", "capacity": 10})
	occs := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%v/occurrences?from=2026-02-01&to=2026-02-28", s["id"]), nil))
	p.must(201, "attendee", "POST", fmt.Sprintf("/api/v1/occurrences/%v/registrations", occs[0]["id"]), nil)
	b := p.browser("es")
	b.signIn("organiser@example.org")
	path := fmt.Sprintf("/organise/events/%v", s["id"])
	if r := b.get(path); !strings.Contains(r.body, `action="`+path+`/delete"`) {
		t.Fatalf("no delete button on the manage page")
	}
	r := b.post(path+"/delete", url.Values{})
	if r.status != 200 || !strings.Contains(r.body, `id="delete-confirm-form"`) || !strings.Contains(r.body, `name="confirm" value="1" required`) ||
		!strings.Contains(r.body, `id="delete-will-cancel"`) || strings.Contains(r.body, "Tick the box") {
		t.Fatalf("confirmation step: %d %s", r.status, r.body)
	}
	if code, _ := p.call("", "GET", fmt.Sprintf("/api/v1/series/%v", s["id"]), nil); code != 200 {
		t.Fatalf("the first click must change nothing: %d", code)
	}
	if r := b.post(path+"/delete", url.Values{"step": {"confirm"}}); r.status != 400 || !strings.Contains(r.body, `id="confirm-error"`) {
		t.Fatalf("confirmation without the box: %d", r.status)
	}
	r = b.post(path+"/delete", url.Values{"step": {"confirm"}, "confirm": {"1"}})
	if r.status != 303 || r.header.Get("Location") != path {
		t.Fatalf("confirmed: %d %s", r.status, r.header.Get("Location"))
	}
	if o := p.must(200, "", "GET", fmt.Sprintf("/api/v1/occurrences/%v", occs[0]["id"]), nil); o["status"] != "cancelled" {
		t.Fatalf("the session should be cancelled: %v", o)
	}
	if box, _ := p.store.Mailbox(context.Background(), 10); box[0].To != "attendee@example.org" || !strings.Contains(box[0].Subject, "ancel") {
		t.Fatalf("the registrant was not told: %+v", box[0])
	}
}

// The same rule for one session: with registrations it is cancelled and its registrants
// told; without, it is removed.
func TestDeletingASessionWithRegistrationsCancelsIt(t *testing.T) {
	p := newProgEnv(t)
	s := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Extras Seminar", "timezone": "UTC",
		"start_date": "2026-02-05", "start_time": "15:00"})
	path := fmt.Sprintf("/api/v1/series/%v/occurrences", s["id"])
	busy := p.must(201, "organiser", "POST", path, map[string]any{"start_date": "2026-02-10", "start_time": "14:00"})
	quiet := p.must(201, "organiser", "POST", path, map[string]any{"start_date": "2026-02-11", "start_time": "14:00"})
	p.must(201, "attendee", "POST", fmt.Sprintf("/api/v1/occurrences/%v/registrations", busy["id"]), nil)
	out := p.must(200, "organiser", "DELETE", fmt.Sprintf("/api/v1/occurrences/%v", busy["id"]), nil)
	if out["status"] != "cancelled" {
		t.Fatalf("deleting a session with registrations: %v", out)
	}
	if m := p.newestMail("attendee@example.org"); !strings.Contains(m.Subject, "ancel") {
		t.Fatalf("the registrant was not told: %s", m.Subject)
	}
	if regs := items(t, p.must(200, "attendee", "GET", "/api/v1/me/registrations", nil)); len(regs) != 1 {
		t.Fatalf("the registration should be kept: %v", regs)
	}
	p.must(204, "organiser", "DELETE", fmt.Sprintf("/api/v1/occurrences/%v", quiet["id"]), nil)
	p.must(404, "", "GET", fmt.Sprintf("/api/v1/occurrences/%v", quiet["id"]), nil)
}
