package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
)

// A body with Markdown and with the HTML an attacker would try: none of it may run.
const hostileBody = "Room change: **B12**.\n\n<script>alert('x')</script><img src=x onerror=\"alert(1)\">\n\n[Map](https://example.org/map)"

// noScript fails when s carries anything of the hostile body's HTML.
func noScript(t *testing.T, what, s string) {
	t.Helper()
	for _, bad := range []string{"<script", "alert(", "onerror"} {
		if strings.Contains(strings.ToLower(s), bad) {
			t.Errorf("%s carries %q:\n%s", what, bad, s)
		}
	}
}

var messageIDForm = regexp.MustCompile(`^<puente\.\d+\.[0-9a-f-]{36}@example\.org>$`)

// An announcement to followers and registrants whose audiences overlap arrives once per
// person, in each person's language, over real SMTP; topic followers and a member who left
// the list get nothing; a second one to one session's registrants shows its time in each
// reader's zone. Scripts and event handlers in the body arrive in neither part, and the
// preview shows the same.
func TestAnnouncementOncePerPersonInTheirLanguage(t *testing.T) {
	p, smtp := newSMTPProgEnv(t)
	st := p.store
	ctx := context.Background()
	person := func(role, name string, prof domain.Profile) {
		p.addPerson(role, store.NewPerson{Name: name, IsOrganiser: role == "organiser"})
		prof.Name = name
		if _, err := st.UpdateProfile(ctx, p.ids[role], prof); err != nil {
			t.Fatal(err)
		}
	}
	person("organiser", "Olga Org", domain.Profile{})
	person("alice", "Alice Smith", domain.Profile{Language: "en", TimeZone: "Europe/London"})
	person("carla", "Carla Gómez", domain.Profile{Language: "es", TimeZone: "America/Argentina/Buenos_Aires"})
	person("dan", "Dan Brown", domain.Profile{Language: "en"})
	person("eva", "Eva Lima", domain.Profile{Language: "pt", TimeZone: "America/Sao_Paulo"})
	person("fay", "Fay Left", domain.Profile{Language: "en"})
	person("gus", "Gus Topic", domain.Profile{Language: "en"})

	s := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Lithium Seminar", "tags": []string{"recycling"},
		"timezone": "America/Santiago", "start_date": "2026-06-04", "start_time": "12:00", "capacity": 10, "registration": "open"})
	eventID := int64(s["id"].(float64))
	occs := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%d/occurrences?from=2026-06-01&to=2026-06-30", eventID), nil))
	occ := fmt.Sprintf("/api/v1/occurrences/%v", occs[0]["id"])
	// Alice follows, registered for the session and for the whole series; Carla follows and
	// registered; Dan follows; Eva registered; Fay follows but left the list; Gus follows
	// the series' topic only.
	for _, role := range []string{"alice", "carla", "dan", "fay"} {
		if err := st.Follow(ctx, p.ids[role], eventID); err != nil {
			t.Fatal(err)
		}
	}
	for _, role := range []string{"alice", "carla", "eva"} {
		p.must(201, role, "POST", occ+"/registrations", nil)
	}
	p.must(201, "alice", "POST", fmt.Sprintf("/api/v1/series/%d/registrations", eventID), nil)
	if _, err := st.Pool().Exec(ctx, `INSERT INTO list_optouts (person_id, list_id, created_at) VALUES ($1, $2, now())`,
		p.ids["fay"], string(domain.ListAnnouncements(eventID))); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `INSERT INTO topic_follows (person_id, tag, created_at) VALUES ($1, 'recycling', now())`, p.ids["gus"]); err != nil {
		t.Fatal(err)
	}
	wait, stop := context.WithTimeout(ctx, 60*time.Second)
	defer stop()
	// The registration emails first, so that the announcements are counted on their own.
	before, err := smtp.WaitForMessages(wait, 4)
	if err != nil {
		t.Fatal(err)
	}

	// The preview shows the same sanitised body.
	prev := p.must(200, "organiser", "POST", fmt.Sprintf("/api/v1/series/%d/announcements/preview", eventID),
		map[string]any{"subject": "Room change", "body": hostileBody, "audience": "both"})
	noScript(t, "preview html", prev["html"].(string))
	noScript(t, "preview text", prev["text"].(string))
	if !strings.Contains(prev["html"].(string), "<strong>B12</strong>") || !strings.Contains(prev["text"].(string), "Map (https://example.org/map)") {
		t.Fatalf("preview: %v", prev)
	}

	a := p.must(201, "organiser", "POST", fmt.Sprintf("/api/v1/series/%d/announcements", eventID),
		map[string]any{"subject": "Room change", "body": hostileBody, "audience": "both"})
	if a["status"] != "sent" || a["recipients"] != float64(4) {
		t.Fatalf("announcement: %v", a)
	}
	noScript(t, "archived body_html", a["body_html"].(string))
	msgs, err := smtp.WaitForMessages(wait, len(before)+4)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"alice@example.org": "All announcements", "carla@example.org": "Todos los anuncios",
		"dan@example.org": "All announcements", "eva@example.org": "Todos os comunicados"}
	got := map[string]int{}
	ids := map[string]bool{}
	unsubscribe := map[string]string{}
	for _, m := range msgs[len(before):] {
		unsubscribe[m.To[0]] = strings.Trim(m.Header.Get("List-Unsubscribe"), "<>")
		if len(m.To) != 1 {
			t.Fatalf("recipients %v", m.To)
		}
		to := m.To[0]
		got[to]++
		if m.Subject != "Room change" || !strings.Contains(m.Text, want[to]) || !strings.Contains(m.HTML, want[to]) {
			t.Errorf("%s: subject %q, text:\n%s", to, m.Subject, m.Text)
		}
		noScript(t, to+" html", m.HTML)
		noScript(t, to+" text", m.Text)
		if !strings.Contains(m.HTML, "<strong>B12</strong>") || !strings.Contains(m.Text, "Room change: B12.") {
			t.Errorf("%s: Markdown not rendered:\n%s", to, m.HTML)
		}
		if lid := m.Header.Get("List-Id"); !strings.Contains(lid, fmt.Sprintf("<announcements-%d.", eventID)) || m.Header.Get("List-Unsubscribe") == "" {
			t.Errorf("%s: not sent as list mail: List-Id %q", to, lid)
		}
		id := m.Header.Get("Message-Id")
		if !messageIDForm.MatchString(id) || ids[id] {
			t.Errorf("%s: Message-ID %q (repeated: %v)", to, id, ids[id])
		}
		ids[id] = true
	}
	for to := range want {
		if got[to] != 1 {
			t.Errorf("%s received %d copies, want 1", to, got[to])
		}
	}
	if len(got) != len(want) {
		t.Errorf("received by %v, want only %v", got, want)
	}

	// To one session's registrants: its time in each reader's zone (12:00 Santiago in June).
	p.must(201, "organiser", "POST", fmt.Sprintf("/api/v1/series/%d/announcements", eventID),
		map[string]any{"subject": "Slides", "body": "The slides are online.", "audience": "registrants", "occurrence_id": occs[0]["id"]})
	msgs, err = smtp.WaitForMessages(wait, len(before)+4+3)
	if err != nil {
		t.Fatal(err)
	}
	when := map[string]string{"alice@example.org": "17:00–18:00 London (BST)", "carla@example.org": "13:00–14:00 hora de Buenos Aires",
		"eva@example.org": "13:00–14:00 horário de São Paulo"}
	for _, m := range msgs[len(before)+4:] {
		w, ok := when[m.To[0]]
		if !ok || !strings.Contains(m.Text, w) || !strings.Contains(m.HTML, w) {
			t.Errorf("%v: want %q in\n%s", m.To, w, m.Text)
		}
		delete(when, m.To[0])
	}
	if len(when) != 0 {
		t.Errorf("not received: %v", when)
	}
	// The server records a message before the deliverer marks its row sent: wait for the
	// marks, then nothing is left that could arrive later.
	var rows, pending int
	for {
		if err := st.Pool().QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE status <> 'sent') FROM outbox
			WHERE notice_kind = 'announcement'`).Scan(&rows, &pending); err != nil {
			t.Fatal(err)
		}
		if pending == 0 || wait.Err() != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if rows != 7 || pending != 0 {
		t.Fatalf("outbox: %d announcement rows, %d not sent", rows, pending)
	}
	if n := len(smtp.Messages()); n != len(before)+7 {
		t.Fatalf("%d messages received, want %d", n, len(before)+7)
	}
	// The archive lists both, publicly, latest first.
	archive := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%d/announcements", eventID), nil))
	if len(archive) != 2 || archive[0]["subject"] != "Slides" || archive[1]["subject"] != "Room change" || archive[0]["audience"] != nil {
		t.Fatalf("archive: %v", archive)
	}
	page := p.browser("es").get("/series/" + s["slug"].(string) + "/announcements")
	if page.status != 200 || !strings.Contains(page.body, "Archivo de anuncios") || !strings.Contains(page.body, "Room change") {
		t.Fatalf("archive page: %d", page.status)
	}
	one := p.browser("en").get(strings.TrimPrefix(archive[1]["page_url"].(string), p.ts.URL))
	if one.status != 200 || !strings.Contains(one.body, "<strong>B12</strong>") {
		t.Fatalf("announcement page: %d", one.status)
	}
	noScript(t, "announcement page body", one.body[strings.Index(one.body, `id="announcement-body"`):])

	// Carla's mail program unsubscribes her with one click: a POST to the List-Unsubscribe
	// URL of her copy (RFC 8058: no cookie, no sign-in). The next announcement reaches the
	// three others and not her.
	res, err := http.Post(unsubscribe["carla@example.org"], "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("one-click unsubscribe: %d", res.StatusCode)
	}
	third := p.must(201, "organiser", "POST", fmt.Sprintf("/api/v1/series/%d/announcements", eventID),
		map[string]any{"subject": "Next month", "body": "See you in July.", "audience": "both"})
	if third["recipients"] != float64(3) {
		t.Errorf("after Carla left: %v recipients, want 3", third["recipients"])
	}
	msgs, err = smtp.WaitForMessages(wait, len(before)+7+3)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs[len(before)+7:] {
		if m.To[0] == "carla@example.org" {
			t.Errorf("Carla received %q after unsubscribing", m.Subject)
		}
	}
}

// Who may write, and the API's refusals, each naming its field.
func TestAnnouncementAPIRolesAndErrors(t *testing.T) {
	p := newProgEnv(t)
	s := p.must(201, "organiser", "POST", "/api/v1/series", batterySeminar)
	base := fmt.Sprintf("/api/v1/series/%v/announcements", s["id"])
	good := map[string]any{"subject": "Hello", "body": "Welcome.", "audience": "followers"}
	for role, want := range map[string]int{"": 401, "attendee": 403, "other": 403} {
		if code, out := p.call(role, "POST", base, good); code != want {
			t.Errorf("POST as %q: %d %v, want %d", role, code, out, want)
		}
	}
	if code, out := p.call("organiser", "POST", fmt.Sprintf("/api/v1/conferences/%v/announcements", s["id"]), good); code != 404 {
		t.Errorf("a series through /conferences: %d %v", code, out)
	}
	p.must(201, "admin", "POST", base, good) // site admins manage every event
	for _, tc := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"empty subject", map[string]any{"subject": "  ", "body": "b", "audience": "both"}, "subject"},
		{"no subject", map[string]any{"body": "b", "audience": "both"}, "subject"},
		{"empty body", map[string]any{"subject": "s", "body": "", "audience": "both"}, "body"},
		{"over-long body", map[string]any{"subject": "s", "body": strings.Repeat("é", domain.MaxAnnouncementBody+1), "audience": "both"}, "body"},
		{"unknown audience", map[string]any{"subject": "s", "body": "b", "audience": "everyone"}, "audience"},
		{"past send_at", map[string]any{"subject": "s", "body": "b", "audience": "both", "send_at": "2025-12-31T23:00:00Z"}, "send_at"},
		{"now as send_at", map[string]any{"subject": "s", "body": "b", "audience": "both", "send_at": "2026-01-01T09:00:00Z"}, "send_at"},
		{"unreadable send_at", map[string]any{"subject": "s", "body": "b", "audience": "both", "send_at": "tomorrow"}, "send_at"},
		{"session for followers", map[string]any{"subject": "s", "body": "b", "audience": "followers", "occurrence_id": 1}, "occurrence_id"},
		{"another event's session", map[string]any{"subject": "s", "body": "b", "audience": "registrants", "occurrence_id": 999999}, "occurrence_id"},
		{"unknown field", map[string]any{"subject": "s", "body": "b", "audience": "both", "to": "all"}, "to"},
	} {
		code, out := p.call("organiser", "POST", base, tc.body)
		msg, _ := out["error"].(map[string]any)["message"].(string)
		if code != 400 || fieldOf(out) != tc.field || msg == "" {
			t.Errorf("%s: %d %v, want 400 naming %s", tc.name, code, out, tc.field)
		}
	}

	// A scheduled one: only its organisers see, change or cancel it.
	sch := p.must(201, "organiser", "POST", base, map[string]any{"subject": "Later", "body": "b", "audience": "both",
		"send_at": "2026-02-01T10:00:00-03:00"})
	if sch["status"] != "scheduled" || sch["send_at"] != "2026-02-01T13:00:00Z" {
		t.Fatalf("scheduled: %v", sch)
	}
	one := fmt.Sprintf("/api/v1/announcements/%v", sch["id"])
	for role, want := range map[string]int{"": 404, "attendee": 404, "organiser": 200} {
		if code, _ := p.call(role, "GET", one, nil); code != want {
			t.Errorf("GET scheduled as %q: %d, want %d", role, code, want)
		}
	}
	for role, want := range map[string]int{"": 401, "attendee": 403} {
		if code, _ := p.call(role, "GET", base+"?status=scheduled", nil); code != want {
			t.Errorf("list scheduled as %q: %d, want %d", role, code, want)
		}
	}
	if got := items(t, p.must(200, "organiser", "GET", base+"?status=scheduled", nil)); len(got) != 1 {
		t.Errorf("scheduled list: %v", got)
	}
	if got := items(t, p.must(200, "", "GET", base, nil)); len(got) != 1 || got[0]["subject"] != "Hello" {
		t.Errorf("public archive shows only the sent one: %v", got)
	}
	for role, want := range map[string]int{"": 401, "attendee": 403, "other": 403} {
		if code, _ := p.call(role, "PATCH", one, map[string]any{"subject": "Hijacked"}); code != want {
			t.Errorf("PATCH as %q: %d, want %d", role, code, want)
		}
		if code, _ := p.call(role, "DELETE", one, nil); code != want {
			t.Errorf("DELETE as %q: %d, want %d", role, code, want)
		}
	}
	if code, out := p.call("organiser", "PATCH", one, map[string]any{"send_at": "2025-01-01T00:00:00Z"}); code != 400 || fieldOf(out) != "send_at" {
		t.Errorf("moving it into the past: %d %v", code, out)
	}
	if ed := p.must(200, "organiser", "PATCH", one, map[string]any{"subject": "Later, changed"}); ed["subject"] != "Later, changed" {
		t.Errorf("edit: %v", ed)
	}
	if c := p.must(200, "organiser", "DELETE", one, nil); c["status"] != "cancelled" {
		t.Errorf("cancel: %v", c)
	}
	if code, _ := p.call("organiser", "DELETE", one, nil); code != 409 {
		t.Errorf("cancelling twice: %d", code)
	}
	sent := items(t, p.must(200, "", "GET", base, nil))[0]
	if code, _ := p.call("organiser", "PATCH", fmt.Sprintf("/api/v1/announcements/%v", sent["id"]), map[string]any{"subject": "x"}); code != 409 {
		t.Errorf("changing a sent one: %d", code)
	}
	// The organisers' page: theirs alone.
	for role, want := range map[string]int{"attendee": 403, "other": 403, "organiser": 200} {
		b := p.browser("en")
		b.signIn(role + "@example.org")
		if r := b.get(fmt.Sprintf("/organise/events/%v/announcements", s["id"])); r.status != want {
			t.Errorf("organisers' page as %s: %d, want %d", role, r.status, want)
		}
		b.get(fmt.Sprintf("/organise/events/%v/announcements", s["id"]))
		r := b.post(fmt.Sprintf("/organise/events/%v/announcements", s["id"]), url.Values{"subject": {"Hi"}, "body": {"b"},
			"audience": {"followers"}, "do": {"send"}})
		if want == 403 && r.status != 403 {
			t.Errorf("sending from the page as %s: %d", role, r.status)
		}
	}
	// The test copy goes to the organiser alone, marked as a test.
	p.must(202, "organiser", "POST", base+"/test", good)
	var to, subject string
	if err := p.store.Pool().QueryRow(context.Background(), `SELECT to_address, subject FROM outbox
		WHERE notice_kind = 'announcement' AND list_id = '' ORDER BY id DESC LIMIT 1`).Scan(&to, &subject); err != nil {
		t.Fatal(err)
	}
	if to != "organiser@example.org" || !slices.Contains([]string{"[Test] Hello"}, subject) {
		t.Errorf("test copy: to %q subject %q", to, subject)
	}
}

// A registrant who deleted their account keeps an anonymous place, and is simply not in
// the audience: the announcement goes to the others. The same announcement posted twice
// in a row (a double click, a client's retry) is refused the second time, with a reason.
func TestAnnouncementAfterADeletedAccountAndTwice(t *testing.T) {
	p := newProgEnv(t)
	s := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Brine Seminar", "timezone": "UTC",
		"start_date": "2026-02-05", "start_time": "15:00", "rrule": "FREQ=WEEKLY;COUNT=2", "capacity": 10})
	sid := idOf(s)
	occ := items(t, p.must(200, "", "GET", "/api/v1/series/"+sid+"/occurrences", nil))[0]
	people := p.addPeople(2)
	for _, role := range people {
		p.must(201, role, "POST", fmt.Sprintf("/api/v1/occurrences/%v/registrations", occ["id"]), nil)
	}
	p.must(201, people[0], "POST", "/api/v1/series/"+sid+"/registrations", nil)
	if code, body := p.send(people[0], "DELETE", "/api/v1/me", nil); code != http.StatusNoContent {
		t.Fatalf("delete account: %d %s", code, body)
	}
	body := map[string]any{"subject": "Room change", "body": "Room B12.", "audience": "registrants"}
	a := p.must(201, "organiser", "POST", "/api/v1/series/"+sid+"/announcements", body)
	if a["status"] != "sent" || a["recipients"] != float64(1) {
		t.Fatalf("announcement after a registrant deleted their account: %v", a)
	}
	code, out := p.call("organiser", "POST", "/api/v1/series/"+sid+"/announcements", body)
	if e, _ := out["error"].(map[string]any); code != http.StatusConflict || !strings.Contains(fmt.Sprint(e["message"]), "it is not sent twice") {
		t.Fatalf("the same announcement again: %d %v", code, out)
	}
	// A changed text is another announcement.
	body["subject"] = "Room change (again)"
	p.must(201, "organiser", "POST", "/api/v1/series/"+sid+"/announcements", body)
}
