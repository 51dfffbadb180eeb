package server_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

func TestWholeSeriesAndConferenceRegistration(t *testing.T) {
	p := newProgEnv(t)
	body := map[string]any{}
	for k, v := range batterySeminar {
		body[k] = v
	}
	body["capacity"] = 1
	s := p.must(201, "organiser", "POST", "/api/v1/series", body)
	path := fmt.Sprintf("/api/v1/series/%v", s["id"])

	first := p.must(201, "attendee", "POST", path+"/registrations", map[string]any{"affiliation": "UdeC"})
	sessions := first["sessions"].([]any)
	if len(sessions) != 26 {
		t.Fatalf("whole-series registration: %d sessions", len(sessions))
	}
	for _, x := range sessions {
		if x.(map[string]any)["status"] != "confirmed" {
			t.Fatalf("first registrant should be confirmed everywhere: %v", x)
		}
	}
	if again := p.must(200, "attendee", "POST", path+"/registrations", nil); len(again["sessions"].([]any)) != 26 {
		t.Fatalf("registering again: %v", again)
	}
	// One summary email, not 26, with one link (to the person's seminars), not two per
	// session.
	box, _ := p.store.Mailbox(context.Background(), 100)
	n := 0
	for _, m := range box {
		if m.To == "attendee@example.org" {
			n++
			if links := strings.Count(m.Text, "http"); links != 1 || !strings.Contains(m.Text, "/my-seminars") || !strings.Contains(m.Text, "26 sessions") {
				t.Errorf("summary email has %d links:\n%s", links, m.Text)
			}
		}
	}
	if n != 1 {
		t.Fatalf("emails to the registrant: %d, want 1", n)
	}
	second := p.must(201, "other", "POST", path+"/registrations", nil)
	for _, x := range second["sessions"].([]any) {
		if x.(map[string]any)["status"] != "waitlisted" {
			t.Fatalf("capacity 1: the second registrant waits: %v", x)
		}
	}
	// An extra session gives both a place (or a turn) too.
	extra := p.must(201, "organiser", "POST", path+"/occurrences", map[string]any{"start_date": "2026-02-10", "start_time": "14:00"})
	regs := items(t, p.must(200, "organiser", "GET", fmt.Sprintf("/api/v1/occurrences/%v/registrations", extra["id"]), nil))
	if len(regs) != 2 || regs[0]["status"] != "confirmed" || regs[1]["status"] != "waitlisted" {
		t.Fatalf("extra session: %v", regs)
	}
	// Cancelling everything moves the waiting person up everywhere.
	p.must(200, "attendee", "DELETE", path+"/registrations/me", nil)
	mine := items(t, p.must(200, "other", "GET", "/api/v1/me/registrations", nil))
	for _, r := range mine {
		if r["status"] != "confirmed" {
			t.Fatalf("after the first registrant cancelled all: %v", r)
		}
	}
	if code, _ := p.call("attendee", "DELETE", path+"/registrations/me", nil); code != 404 {
		t.Fatalf("cancelling twice: %d", code)
	}

	// A conference: sessions need the conference registration first.
	conf := p.must(201, "organiser", "POST", "/api/v1/conferences", map[string]any{"title": "Lithium Week",
		"timezone": "America/Santiago", "start_date": "2026-05-10", "end_date": "2026-05-11"})
	sess := p.must(201, "organiser", "POST", fmt.Sprintf("/api/v1/conferences/%v/sessions", conf["id"]),
		map[string]any{"title": "Keynote", "start_date": "2026-05-10", "start_time": "09:00"})
	code, out := p.call("attendee", "POST", fmt.Sprintf("/api/v1/occurrences/%v/registrations", sess["id"]), nil)
	if code != 409 || !strings.Contains(out["error"].(map[string]any)["message"].(string), "conference first") {
		t.Fatalf("session without conference registration: %d %v", code, out)
	}
	reg := p.must(201, "attendee", "POST", fmt.Sprintf("/api/v1/conferences/%v/registrations", conf["id"]), nil)
	if len(reg["sessions"].([]any)) != 1 {
		t.Fatalf("conference registration: %v", reg)
	}
	if r := p.must(200, "attendee", "POST", fmt.Sprintf("/api/v1/occurrences/%v/registrations", sess["id"]), nil); r["status"] != "confirmed" {
		t.Fatalf("session after conference registration: %v", r)
	}

	// In the browser: the series page offers it, and shows it once done.
	b := p.browser("en")
	b.signIn("admin@example.org")
	page := b.get("/series/battery-materials-seminar")
	if !strings.Contains(page.body, "Register for every session") {
		t.Fatalf("no whole-series button")
	}
	b.post(fmt.Sprintf("/events/%v/register", s["id"]), url.Values{})
	if page := b.get("/series/battery-materials-seminar"); !strings.Contains(page.body, "You are registered for every session") {
		t.Fatalf("whole-series registration not shown")
	}
}
