package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/puente-org/puente/store"
)

// The organiser's scenario in the browser's forms: create the series, set the next talk's
// speaker and abstract, move one, cancel one with a reason, add an extra session.
func TestOrganiserScenarioInForms(t *testing.T) {
	p := newProgEnv(t)
	b := p.browser("en")
	b.signIn("organiser@example.org") // an organiser account made by newProgEnv

	if r := b.get("/organise"); r.status != 200 || !strings.Contains(r.body, "New seminar series") {
		t.Fatalf("dashboard: %d", r.status)
	}
	if r := b.get("/organise/new?kind=series"); r.status != 200 || !strings.Contains(r.body, `id="event-form"`) {
		t.Fatalf("new series form: %d", r.status)
	}
	form := url.Values{"title": {"Battery Materials Seminar"}, "description": {"Fortnightly talks."}, "tags": {"cathode materials, recycling"},
		"language": {"en"}, "visibility": {"public"}, "timezone": {"Europe/London"}, "start_date": {"2026-01-08"},
		"start_time": {"15:00"}, "duration_minutes": {"60"}, "repeat": {"weekly"}, "interval": {"2"}, "weekdays": {"4"},
		"ends": {"never"}, "capacity": {"100"}, "registration": {"open"}, "join_window_minutes": {"15"}}
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("timezone", "Mars/Olympus")
	r := b.post("/organise/new?kind=series", bad)
	if r.status != 400 || !strings.Contains(r.body, `value="Battery Materials Seminar"`) || !strings.Contains(r.body, "Mars/Olympus") {
		t.Fatalf("a refused form must come back as typed with the problem: %d", r.status)
	}
	// The field at fault says so, and points a screen reader at the message.
	if !strings.Contains(r.body, `id="form-error"`) || !regexp.MustCompile(`<input id="timezone"[^>]* aria-invalid="true" aria-describedby="form-error"`).MatchString(r.body) {
		t.Errorf("the refused field is not marked invalid and linked to the message")
	}
	r = b.post("/organise/new?kind=series", form)
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/organise/events/") {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id := strings.TrimPrefix(r.header.Get("Location"), "/organise/events/")
	manage := b.get(r.header.Get("Location"))
	if !strings.Contains(manage.body, "Every 2 weeks") {
		t.Errorf("manage page should describe the rule: %s", manage.body)
	}
	// A refused edit comes back as typed, on the stored event's form (its rule in words).
	badEdit := url.Values{"organisers": {"organiser@example.org"}}
	for k, v := range bad {
		badEdit[k] = v
	}
	if r := b.post("/organise/events/"+id, badEdit); r.status != 400 || !strings.Contains(r.body, "Mars/Olympus") ||
		!strings.Contains(r.body, `id="form-error"`) || !strings.Contains(r.body, "Every 2 weeks") {
		t.Fatalf("a refused edit must come back as typed on the event's form: %d %s", r.status, r.body)
	}
	occLinks := regexp.MustCompile(`href="/organise/occurrences/(\d+)"`).FindAllStringSubmatch(manage.body, -1)
	if len(occLinks) < 3 {
		t.Fatalf("manage page lists %d occurrences", len(occLinks))
	}
	first, second, third := occLinks[0][1], occLinks[1][1], occLinks[2][1]

	edit := b.get("/organise/occurrences/" + first)
	if edit.status != 200 {
		t.Fatalf("edit occurrence: %d", edit.status)
	}
	r = b.post("/organise/occurrences/"+first, url.Values{"title": {"Single-crystal cathodes"}, "abstract": {"Why *single* crystals."},
		"start_date": {"2026-01-08"}, "start_time": {"15:00"}, "duration_minutes": {"60"},
		"speaker_name_0": {"Dr Ana Rojas"}, "speaker_affiliation_0": {"Universidad de Chile"}, "speaker_email_0": {"attendee@example.org"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("save speaker: %d %s", r.status, r.body)
	}
	// A refused occurrence form keeps every speaker row as typed, the empty ones too.
	r = b.post("/organise/occurrences/"+first, url.Values{"title": {"Typed title"}, "start_date": {"2026-01-08"}, "start_time": {"15:00"},
		"duration_minutes": {"an hour"}, "speaker_name_0": {"Dr Typed"}, "speaker_name_1": {""}})
	if r.status != 400 || !strings.Contains(r.body, `value="Typed title"`) || !strings.Contains(r.body, `name="speaker_name_0" value="Dr Typed"`) ||
		!strings.Contains(r.body, `name="speaker_name_1" value=""`) || !strings.Contains(r.body, `id="form-error"`) {
		t.Fatalf("a refused occurrence form must come back as typed: %d %s", r.status, r.body)
	}
	b.get("/organise/occurrences/" + second)
	r = b.post("/organise/occurrences/"+second, url.Values{"start_date": {"2026-01-22"}, "start_time": {"16:30"}, "duration_minutes": {"60"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("move: %d %s", r.status, r.body)
	}
	b.get("/organise/occurrences/" + third)
	r = b.post("/organise/occurrences/"+third, url.Values{"do": {"cancel"}, "reason": {""}})
	if r.status != 400 || !strings.Contains(r.body, `id="form-error"`) {
		t.Fatalf("cancel without reason: %d", r.status)
	}
	// Cancelling asks first (everyone registered is told at once); the step carries the
	// reason, and only the ticked box cancels.
	r = b.post("/organise/occurrences/"+third, url.Values{"do": {"cancel"}, "reason": {"Speaker unwell"}})
	if r.status != 200 || !strings.Contains(r.body, `id="delete-confirm-form"`) || !strings.Contains(r.body, `name="reason" value="Speaker unwell"`) ||
		!strings.Contains(r.body, `id="confirm-warning"`) {
		t.Fatalf("cancel must ask first: %d %s", r.status, r.body)
	}
	if o := p.must(200, "", "GET", "/api/v1/occurrences/"+third, nil); o["status"] != "scheduled" {
		t.Fatalf("the first click must not cancel: %v", o["status"])
	}
	if r := b.post("/organise/occurrences/"+third, url.Values{"do": {"cancel"}, "reason": {"Speaker unwell"}, "step": {"confirm"}}); r.status != 400 {
		t.Fatalf("confirmation without the box: %d", r.status)
	}
	r = b.post("/organise/occurrences/"+third, url.Values{"do": {"cancel"}, "reason": {"Speaker unwell"}, "step": {"confirm"}, "confirm": {"1"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/organise/occurrences/"+third {
		t.Fatalf("cancel: %d %s → %s", r.status, r.body, r.header.Get("Location"))
	}
	if !strings.Contains(manage.body, `action="/organise/events/`+id+`"`) {
		t.Errorf("manage page of event %s does not post to itself", id)
	}
	b.get("/organise/events/" + id + "/occurrences/new")
	r = b.post("/organise/events/"+id+"/occurrences", url.Values{"title": {"Recycling panel"}, "start_date": {"2026-02-10"},
		"start_time": {"14:00"}, "duration_minutes": {"90"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("extra: %d %s", r.status, r.body)
	}

	// What the public sees.
	page := p.browser("en").get("/series/battery-materials-seminar")
	for _, want := range []string{"Single-crystal cathodes", "Dr Ana Rojas", "Speaker unwell", "Recycling panel", "Moved", "Cancelled",
		"Fortnightly talks."} {
		if !strings.Contains(page.body, want) {
			t.Errorf("series page lacks %q", want)
		}
	}
	manageLink := `href="/organise/events/` + id + `"`
	if strings.Contains(page.body, manageLink) || !strings.Contains(b.get("/series/battery-materials-seminar").body, manageLink) {
		t.Errorf("the series page's manage link must show to its organiser only")
	}
	occ := p.browser("en").get("/occurrences/" + first)
	if !strings.Contains(occ.body, "<em>single</em>") || strings.Contains(occ.body, "attendee@example.org") {
		t.Errorf("occurrence page: abstract not rendered, or a speaker's account email shown")
	}
	// The linked speaker got their account attached (speaker rights in later issues).
	l, err := p.store.OccurrenceByID(context.Background(), mustAtoi(t, first))
	if err != nil || len(l.Occurrence.Speakers) != 1 || l.Occurrence.Speakers[0].PersonID == nil || *l.Occurrence.Speakers[0].PersonID != p.ids["attendee"] {
		t.Fatalf("speaker account not linked: %v %+v", err, l.Occurrence.Speakers)
	}
	// Someone else cannot open the manage pages.
	other := p.browser("en")
	other.signIn("other@example.org")
	if r := other.get("/organise/events/" + id); r.status != 403 {
		t.Fatalf("another organiser on the manage page: %d", r.status)
	}
	if r := other.get("/organise/occurrences/" + first); r.status != 403 {
		t.Fatalf("another organiser on the occurrence form: %d", r.status)
	}
	list, _, _ := p.store.ListEvents(context.Background(), store.EventFilter{})
	if len(list) != 1 {
		t.Fatalf("events: %d", len(list))
	}
}

func mustAtoi(t *testing.T, s string) int64 {
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}
