package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestOrganiserToolsAndAttendance(t *testing.T) {
	p := newProgEnv(t)
	occ := p.oneOccurrence(1, "approval")
	people := p.addPeople(3)
	var regIDs []string
	for _, r := range people {
		out := p.must(201, r, "POST", occ+"/registrations", nil)
		if out["status"] != "pending" {
			t.Fatalf("approval mode: %v", out)
		}
		regIDs = append(regIDs, jsonID(out))
	}
	act := func(role, id, action string, want int) map[string]any {
		t.Helper()
		return p.must(want, role, "POST", "/api/v1/registrations/"+id+"/"+action, nil)
	}
	act("attendee", regIDs[0], "approve", 403)
	act("other", regIDs[0], "approve", 403)
	if r := act("organiser", regIDs[0], "approve", 200); r["status"] != "confirmed" {
		t.Fatalf("approve: %v", r)
	}
	if r := act("organiser", regIDs[1], "approve", 200); r["status"] != "waitlisted" {
		t.Fatalf("approve when full: %v", r)
	}
	act("organiser", regIDs[1], "promote", 409) // no free place
	if r := act("admin", regIDs[2], "decline", 200); r["status"] != "declined" {
		t.Fatalf("decline: %v", r)
	}
	act("organiser", regIDs[0], "dance", 400)
	// Removing the confirmed person gives the place to the one waiting.
	act("organiser", regIDs[0], "remove", 200)
	counts := p.must(200, "organiser", "GET", occ+"/registrations", nil)["counts"].(map[string]any)
	if counts["confirmed"].(float64) != 1 || counts["declined"].(float64) != 1 || counts["cancelled"].(float64) != 1 {
		t.Fatalf("after actions: %v", counts)
	}
	box, _ := p.store.Mailbox(context.Background(), 50)
	subjects := ""
	for _, m := range box {
		subjects += m.To + ": " + m.Subject + "\n"
	}
	for _, want := range []string{"person000@example.org: Approved", "person001@example.org: You have a place",
		"person002@example.org: Not this time", "person000@example.org: Registration cancelled"} {
		if !strings.Contains(subjects, want) {
			t.Errorf("no email %q in:\n%s", want, subjects)
		}
	}

	// A message to everyone registered.
	code, out := p.call("organiser", "POST", occ+"/messages", map[string]any{"subject": "Room change", "body": "We meet in Aula 3."})
	if code != 202 || out["recipients"].(float64) != 1 {
		t.Fatalf("message: %d %v", code, out)
	}
	if code, _ := p.call("attendee", "POST", occ+"/messages", map[string]any{"subject": "x", "body": "y"}); code != 403 {
		t.Fatalf("message by an attendee: %d", code)
	}
	if code, out := p.call("organiser", "POST", occ+"/messages", map[string]any{"subject": "", "body": "y"}); code != 400 || fieldOf(out) != "subject" {
		t.Fatalf("empty subject: %d %v", code, out)
	}
	box, _ = p.store.Mailbox(context.Background(), 1)
	if box[0].Subject != "Room change" || !strings.Contains(box[0].Text, "We meet in Aula 3.") {
		t.Fatalf("message email: %+v", box[0])
	}

	// Attendance recorded by live sessions (two visits: 20 and 25 minutes) shows per person.
	occID := mustAtoi(t, occ[len("/api/v1/occurrences/"):])
	start := time.Date(2026, 2, 5, 15, 0, 0, 0, time.UTC)
	for _, visit := range [][2]time.Duration{{0, 20 * time.Minute}, {30 * time.Minute, 55 * time.Minute}} {
		if _, err := p.store.Pool().Exec(context.Background(), `INSERT INTO attendance (occurrence_id, person_id, joined_at, left_at)
			VALUES ($1, $2, $3, $4)`, occID, p.ids[people[1]], start.Add(visit[0]), start.Add(visit[1])); err != nil {
			t.Fatal(err)
		}
	}
	regs := items(t, p.must(200, "organiser", "GET", occ+"/registrations?status=confirmed", nil))
	if len(regs) != 1 || regs[0]["attended_minutes"].(float64) != 45 {
		t.Fatalf("attendance: %v", regs)
	}
	b := p.browser("en")
	b.signIn("organiser@example.org")
	if csv := b.get("/organise/occurrences/" + jsonID(map[string]any{"id": float64(occID)}) + "/registrations.csv"); !strings.Contains(csv.body, ",45\r\n") {
		t.Fatalf("attendance not in the CSV:\n%s", csv.body)
	}
}

func jsonID(m map[string]any) string { return fmt.Sprintf("%.0f", m["id"].(float64)) }

// An organiser moves someone to another session: their old place goes to the waitlist,
// the new session takes them under its own capacity.
func TestMoveRegistration(t *testing.T) {
	p := newProgEnv(t)
	s := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Two Sessions", "timezone": "UTC",
		"start_date": "2026-02-05", "start_time": "15:00", "rrule": "FREQ=WEEKLY;COUNT=2", "capacity": 1})
	occs := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%v/occurrences?from=2026-02-01&to=2026-02-28", s["id"]), nil))
	a, b := fmt.Sprintf("/api/v1/occurrences/%v", occs[0]["id"]), occs[1]["id"]
	x := p.must(201, "attendee", "POST", a+"/registrations", nil)
	p.must(201, "other", "POST", a+"/registrations", nil) // waits
	if code, _ := p.call("attendee", "POST", "/api/v1/registrations/"+jsonID(x)+"/move", map[string]any{"occurrence_id": b}); code != 403 {
		t.Fatalf("an attendee moving themselves through the organisers' tool: %d", code)
	}
	moved := p.must(200, "organiser", "POST", "/api/v1/registrations/"+jsonID(x)+"/move", map[string]any{"occurrence_id": b})
	if moved["status"] != "confirmed" || moved["occurrence_id"].(float64) != b.(float64) {
		t.Fatalf("moved: %v", moved)
	}
	mine := items(t, p.must(200, "other", "GET", "/api/v1/me/registrations", nil))
	if mine[0]["status"] != "confirmed" {
		t.Fatalf("the waiting person should have the freed place: %v", mine)
	}
	other := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Elsewhere", "timezone": "UTC",
		"start_date": "2026-02-06", "start_time": "15:00"})
	elsewhere := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%v/occurrences?from=2026-02-01&to=2026-02-28", other["id"]), nil))[0]
	if code, out := p.call("organiser", "POST", "/api/v1/registrations/"+jsonID(moved)+"/move", map[string]any{"occurrence_id": elsewhere["id"]}); code != 400 || fieldOf(out) != "occurrence_id" {
		t.Fatalf("move to another series: %d %v", code, out)
	}
}
