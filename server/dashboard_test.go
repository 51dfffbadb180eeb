package server_test

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
)

// dashboardCount reads one figure of an event's row on the organisers' dashboard.
func dashboardCount(t *testing.T, body, eventID, name string) string {
	t.Helper()
	row := regexp.MustCompile(`(?s)<tr id="event-` + eventID + `">.*?</tr>`).FindString(body)
	if row == "" {
		t.Fatalf("no row for event %s on the dashboard", eventID)
	}
	m := regexp.MustCompile(`data-count="` + name + `">(\d+)<`).FindStringSubmatch(row)
	if m == nil {
		t.Fatalf("no %s count in %s", name, row)
	}
	return m[1]
}

// The dashboard shows each of the organiser's series and conferences with its figures,
// which match the registrations and the attendance the live rooms recorded; nobody else
// sees them, and someone who organises nothing is refused.
func TestOrganiserDashboardCounts(t *testing.T) {
	p := newProgEnv(t)
	ctx := context.Background()
	people := p.addPeople(3)
	s := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Counted Seminar", "timezone": "Europe/London",
		"start_date": "2026-02-05", "start_time": "15:00", "rrule": "FREQ=WEEKLY;COUNT=3", "capacity": 2, "registration": "open"})
	id := fmt.Sprint(s["id"])
	occs := items(t, p.must(200, "", "GET", "/api/v1/series/"+id+"/occurrences?from=2026-02-01&to=2026-03-31", nil))
	first, second := fmt.Sprint(occs[0]["id"]), fmt.Sprint(occs[1]["id"])
	// First session: two places taken (attendee, people[0]), two people waiting (people[1],
	// other), one who cancelled (people[2]).
	for _, role := range append([]string{"attendee"}, people...) {
		p.must(201, role, "POST", "/api/v1/occurrences/"+first+"/registrations", nil)
	}
	p.must(200, people[2], "DELETE", "/api/v1/occurrences/"+first+"/registrations/me", nil)
	p.must(201, "other", "POST", "/api/v1/occurrences/"+first+"/registrations", nil)
	// One whole-series registrant: waits for the first session, has a place in the others.
	p.must(201, "admin", "POST", "/api/v1/series/"+id+"/registrations", nil)
	// The live room recorded joins: two registrants (one of them twice) and the organiser,
	// who has no registration and is not counted.
	for _, who := range []string{"attendee", "attendee", people[0], "organiser"} {
		if _, err := p.store.RecordJoin(ctx, mustAtoi(t, first), p.ids[who]); err != nil {
			t.Fatal(err)
		}
	}
	approval := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Approved Seminar", "timezone": "UTC",
		"start_date": "2026-03-05", "start_time": "10:00", "rrule": "FREQ=WEEKLY;COUNT=2", "registration": "approval"})
	aid := fmt.Sprint(approval["id"])
	aoccs := items(t, p.must(200, "", "GET", "/api/v1/series/"+aid+"/occurrences?from=2026-03-01&to=2026-03-31", nil))
	p.must(201, "attendee", "POST", fmt.Sprintf("/api/v1/occurrences/%v/registrations", aoccs[0]["id"]), nil)

	// What the store has, counted here from the registrations themselves.
	want := map[string]int{}
	regs, err := p.store.Registrations(ctx, store.RegistrationFilter{EventID: mustAtoi(t, id)})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range regs {
		switch r.Status {
		case domain.RegConfirmed:
			want["registered"]++
		case domain.RegWaitlisted:
			want["waitlisted"]++
		}
		if r.Attended > 0 || (r.OccurrenceID == mustAtoi(t, first) && slices.Contains([]int64{p.ids["attendee"], p.ids[people[0]]}, r.PersonID)) {
			want["attended"]++
		}
	}
	if want["registered"] != 4 || want["waitlisted"] != 3 || want["attended"] != 2 {
		t.Fatalf("the scenario went wrong: %v", want)
	}

	b := p.browser("en")
	b.signIn("organiser@example.org")
	r := b.get("/organise")
	if r.status != 200 {
		t.Fatalf("dashboard: %d", r.status)
	}
	for name, n := range map[string]string{"upcoming": "3", "registered": fmt.Sprint(want["registered"]), "waitlisted": fmt.Sprint(want["waitlisted"]),
		"pending": "0", "attended": fmt.Sprint(want["attended"]), "whole": "1"} {
		if got := dashboardCount(t, r.body, id, name); got != n {
			t.Errorf("%s: %s, want %s", name, got, n)
		}
	}
	if got := dashboardCount(t, r.body, aid, "pending"); got != "1" {
		t.Errorf("pending of the approval series: %s", got)
	}
	if !strings.Contains(r.body, `href="/organise/events/`+id+`/registrations"`) {
		t.Errorf("no link to the registrations")
	}
	// A cancelled session leaves the upcoming count.
	p.must(200, "organiser", "PATCH", "/api/v1/occurrences/"+second, map[string]any{"status": "cancelled", "reason": "Huelga."})
	if got := dashboardCount(t, b.get("/organise").body, id, "upcoming"); got != "2" {
		t.Errorf("upcoming after a cancellation: %s", got)
	}

	// Another organiser sees none of it; an attendee who organises nothing is refused.
	o := p.browser("en")
	o.signIn("other@example.org")
	if r := o.get("/organise"); r.status != 200 || strings.Contains(r.body, `id="event-`+id+`"`) || strings.Contains(r.body, "Counted Seminar") {
		t.Errorf("another organiser's dashboard: %d", r.status)
	}
	a := p.browser("es")
	a.signIn("attendee@example.org")
	if r := a.get("/organise"); r.status != 403 || strings.Contains(r.body, "Counted Seminar") {
		t.Errorf("an attendee on the dashboard: %d", r.status)
	}
	if r := a.get("/organise/events/" + id + "/registrations"); r.status != 403 {
		t.Errorf("an attendee on the registrations: %d", r.status)
	}
}

// Removing someone's registration from the list asks first; a POST without the ticked box
// removes nothing; another organiser cannot remove it at all.
func TestRemovingARegistrationAsksFirst(t *testing.T) {
	p := newProgEnv(t)
	occ := p.oneOccurrence(1, "open")
	reg := p.must(201, "attendee", "POST", occ+"/registrations", nil)
	p.must(201, "other", "POST", occ+"/registrations", nil) // waits
	regID := jsonID(reg)
	occID := strings.TrimPrefix(occ, "/api/v1/occurrences/")
	b := p.browser("es")
	b.signIn("organiser@example.org")
	list := b.get("/organise/occurrences/" + occID + "/registrations")
	action := "/organise/registrations/" + regID + "/remove"
	if !strings.Contains(list.body, `action="`+action+`"`) {
		t.Fatalf("no remove button")
	}
	status := func() string {
		t.Helper()
		for _, r := range items(t, p.must(200, "organiser", "GET", occ+"/registrations", nil)) {
			if jsonID(r) == regID {
				return fmt.Sprint(r["status"])
			}
		}
		return ""
	}
	r := b.post(action, url.Values{})
	if r.status != 200 || !strings.Contains(r.body, `id="delete-confirm-form"`) || !strings.Contains(r.body, `id="confirm-warning"`) ||
		!strings.Contains(r.body, "Attendee (attendee@example.org) pierde esta inscripción") || !strings.Contains(r.body, "Quitar la inscripción") {
		t.Fatalf("remove must ask first: %d %s", r.status, r.body)
	}
	if st := status(); st != "confirmed" {
		t.Fatalf("the first click removed it: %s", st)
	}
	if r := b.post(action, url.Values{"step": {"confirm"}}); r.status != 400 || !strings.Contains(r.body, `id="confirm-error"`) {
		t.Fatalf("without the box: %d", r.status)
	}
	if st := status(); st != "confirmed" {
		t.Fatalf("removed without the box: %s", st)
	}
	o := p.browser("en")
	o.signIn("other@example.org")
	o.get("/my-seminars")
	if r := o.post(action, url.Values{"step": {"confirm"}, "confirm": {"1"}}); r.status != 403 {
		t.Fatalf("another organiser removing: %d", r.status)
	}
	r = b.post(action, url.Values{"step": {"confirm"}, "confirm": {"1"}})
	if r.status != 303 || r.header.Get("Location") != "/organise/occurrences/"+occID+"/registrations" {
		t.Fatalf("confirmed: %d %s", r.status, r.header.Get("Location"))
	}
	if st := status(); st != "cancelled" {
		t.Fatalf("after the confirmation: %s", st)
	}
}

// Declining a waiting person's request asks first too (they are told by email), in the
// organiser's language; only the confirmed step declines it.
func TestDecliningARegistrationAsksFirst(t *testing.T) {
	p := newProgEnv(t)
	occ := p.oneOccurrence(1, "open")
	p.must(201, "attendee", "POST", occ+"/registrations", nil)
	waiting := jsonID(p.must(201, "other", "POST", occ+"/registrations", nil))
	occID := strings.TrimPrefix(occ, "/api/v1/occurrences/")
	status := func() string {
		t.Helper()
		for _, r := range items(t, p.must(200, "organiser", "GET", occ+"/registrations", nil)) {
			if jsonID(r) == waiting {
				return fmt.Sprint(r["status"])
			}
		}
		return ""
	}
	if st := status(); st != "waitlisted" {
		t.Fatalf("the second registration is %s, want waitlisted", st)
	}
	b := p.browser("pt")
	b.signIn("organiser@example.org")
	list := b.get("/organise/occurrences/" + occID + "/registrations")
	action := "/organise/registrations/" + waiting + "/decline"
	if !strings.Contains(list.body, `action="`+action+`"`) || !strings.Contains(list.body, "<th>E-mail</th>") {
		t.Fatalf("no decline button, or the email column is not translated")
	}
	r := b.post(action, url.Values{})
	if r.status != 200 || !strings.Contains(r.body, `id="delete-confirm-form"`) ||
		!strings.Contains(r.body, "receberá um e-mail dizendo que seu pedido de vaga foi recusado") || !strings.Contains(r.body, "Recusar o pedido") ||
		!strings.Contains(r.body, `action="`+action+`"`) {
		t.Fatalf("decline must ask first: %d %s", r.status, r.body)
	}
	if st := status(); st != "waitlisted" {
		t.Fatalf("the first click declined it: %s", st)
	}
	if r := b.post(action, url.Values{"step": {"confirm"}}); r.status != 400 {
		t.Fatalf("without the box: %d", r.status)
	}
	if st := status(); st != "waitlisted" {
		t.Fatalf("declined without the box: %s", st)
	}
	if r := b.post(action, url.Values{"step": {"confirm"}, "confirm": {"1"}}); r.status != 303 {
		t.Fatalf("confirmed: %d", r.status)
	}
	if st := status(); st != "declined" {
		t.Fatalf("after the confirmation: %s", st)
	}
}
