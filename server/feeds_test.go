package server_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	ics "github.com/arran4/golang-ical"
)

func TestFeedsOverHTTP(t *testing.T) {
	p := newProgEnv(t)
	s := p.must(201, "organiser", "POST", "/api/v1/series", batterySeminar)
	other := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Seminario de Litio", "timezone": "America/Santiago",
		"start_date": "2026-01-06", "start_time": "10:00", "rrule": "FREQ=MONTHLY;BYDAY=1TU", "tags": []string{"direct lithium extraction"}})
	feed, _ := url.Parse(s["feed_url"].(string))
	b := p.browser("")

	r := b.get(feed.Path)
	if r.status != 200 || r.header.Get("Content-Type") != "text/calendar; charset=utf-8" || r.header.Get("ETag") == "" ||
		r.header.Get("Last-Modified") == "" {
		t.Fatalf("series feed: %d %v", r.status, r.header)
	}
	for _, want := range []string{"BEGIN:VCALENDAR\r\n", "METHOD:PUBLISH", "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TH", "BEGIN:VTIMEZONE", "TZID:Europe/London"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("feed lacks %q", want)
		}
	}
	if strings.Contains(r.body, "/join/") {
		t.Fatal("a public feed contains a personal join link")
	}
	etag := r.header.Get("ETag")
	if r2 := b.do("GET", feed.Path, nil, map[string]string{"If-None-Match": etag}); r2.status != 304 {
		t.Fatalf("If-None-Match: %d", r2.status)
	}
	if r2 := b.do("GET", feed.Path, nil, map[string]string{"If-Modified-Since": r.header.Get("Last-Modified")}); r2.status != 304 {
		t.Fatalf("If-Modified-Since: %d", r2.status)
	}

	// Move one occurrence and cancel another: the ETag changes and the feed says so.
	occs := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%v/occurrences?from=2026-01-01&to=2026-03-01", s["id"]), nil))
	p.must(200, "organiser", "PATCH", fmt.Sprintf("/api/v1/occurrences/%v", occs[1]["id"]), map[string]any{"start_time": "16:30"})
	p.must(200, "organiser", "PATCH", fmt.Sprintf("/api/v1/occurrences/%v", occs[2]["id"]), map[string]any{"status": "cancelled", "reason": "Strike"})
	r3 := b.do("GET", feed.Path, nil, map[string]string{"If-None-Match": etag})
	if r3.status != 200 || r3.header.Get("ETag") == etag {
		t.Fatalf("after changes: %d, ETag %q (was %q)", r3.status, r3.header.Get("ETag"), etag)
	}
	for _, want := range []string{"RECURRENCE-ID;TZID=Europe/London:20260122T150000", "DTSTART;TZID=Europe/London:20260122T163000",
		"STATUS:CANCELLED", "Strike"} {
		if !strings.Contains(r3.body, want) {
			t.Errorf("changed feed lacks %q", want)
		}
	}
	if _, err := ics.ParseCalendar(strings.NewReader(r3.body)); err != nil {
		t.Fatalf("feed does not parse: %v", err)
	}
	// A new speaker, and an edit of the series itself, each give a new ETag too.
	etag3 := r3.header.Get("ETag")
	p.must(200, "organiser", "PATCH", fmt.Sprintf("/api/v1/occurrences/%v", occs[3]["id"]), map[string]any{
		"speakers": []map[string]any{{"name": "Dra. Lucía Fernández", "affiliation": "CONICET"}}})
	r4 := b.do("GET", feed.Path, nil, map[string]string{"If-None-Match": etag3})
	if r4.status != 200 || !strings.Contains(r4.body, "Lucía Fernández") {
		t.Fatalf("after a speaker change: %d", r4.status)
	}
	p.must(200, "organiser", "PATCH", fmt.Sprintf("/api/v1/series/%v", s["id"]), map[string]any{"description": "New words."})
	if r5 := b.do("GET", feed.Path, nil, map[string]string{"If-None-Match": r4.header.Get("ETag")}); r5.status != 200 {
		t.Fatalf("after editing the series: %d", r5.status)
	}

	// Bad addresses: 404.
	for _, path := range []string{"/feeds/series/no-such-series.ics", "/feeds/conferences/battery-materials-seminar.ics",
		"/feeds/series/battery-materials-seminar", "/feeds/personal/12.abc.ics", "/feeds/personal/nothing.ics"} {
		if r := b.get(path); r.status != 404 {
			t.Errorf("%s: %d", path, r.status)
		}
	}

	// The programme feed, one topic.
	prog := b.get("/feeds/programme.ics?tag=direct+lithium+extraction")
	if prog.status != 200 || !strings.Contains(prog.body, fmt.Sprintf("series-%v@", other["id"])) ||
		strings.Contains(prog.body, fmt.Sprintf("series-%v@", s["id"])) {
		t.Fatalf("programme feed by topic: %d", prog.status)
	}

	// One occurrence as a download.
	dl := b.get(fmt.Sprintf("/occurrences/%v/calendar.ics", occs[0]["id"]))
	if dl.status != 200 || !strings.Contains(dl.header.Get("Content-Disposition"), ".ics") || !strings.Contains(dl.body, "RECURRENCE-ID") {
		t.Fatalf("download: %d %v", dl.status, dl.header)
	}
}

var feedAddress = regexp.MustCompile(`value="(https?://[^"]+/feeds/personal/[^"]+\.ics)"`)

func TestPersonalFeed(t *testing.T) {
	p := newProgEnv(t)
	occ := p.oneOccurrence(10, "open")
	web := p.browser("en")
	web.signIn("attendee@example.org")
	p.must(201, "attendee", "POST", occ+"/registrations", nil)

	page := web.get("/profile")
	m := feedAddress.FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("profile shows no feed address")
	}
	for _, want := range []string{"webcal://", "calendar.google.com/calendar/render?cid=webcal%3A%2F%2F"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("profile lacks %q", want)
		}
	}
	u, _ := url.Parse(m[1])
	calClient := p.browser("") // a calendar client: no cookies
	r := calClient.get(u.Path)
	if r.status != 200 || !strings.Contains(r.body, "/join/") || !strings.Contains(r.body, "CONFERENCE;VALUE=URI") ||
		r.header.Get("Cache-Control") != "private, max-age=300" {
		t.Fatalf("personal feed: %d %v\n%s", r.status, r.header, r.body)
	}
	// Following a series adds its sessions (without join links); unfollowing removes them.
	s := p.must(201, "organiser", "POST", "/api/v1/series", batterySeminar)
	seriesPage := web.get("/series/battery-materials-seminar")
	if !strings.Contains(seriesPage.body, `id="follow-button"`) {
		t.Fatalf("no follow button")
	}
	web.post(fmt.Sprintf("/events/%v/follow", s["id"]), url.Values{})
	occs := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%v/occurrences?from=2026-01-01&to=2026-02-01", s["id"]), nil))
	uid := fmt.Sprintf("UID:occurrence-%v@", occs[0]["id"])
	if r := calClient.get(u.Path); !strings.Contains(r.body, uid) {
		t.Fatalf("followed series not in the personal feed (%s):\n%s", uid, r.body)
	} else if n := strings.Count(r.body, "CONFERENCE;"); n != 1 {
		t.Fatalf("join links: %d, want 1 (only the registered session)", n)
	}
	if !strings.Contains(web.get("/series/battery-materials-seminar").body, "Stop following") {
		t.Fatalf("following not shown")
	}
	web.post(fmt.Sprintf("/events/%v/unfollow", s["id"]), url.Values{})
	if r := calClient.get(u.Path); strings.Contains(r.body, uid) {
		t.Fatalf("unfollowed series still in the feed")
	}

	// Cancelling the registration changes the feed.
	p.must(200, "attendee", "DELETE", occ+"/registrations/me", nil)
	if r2 := calClient.do("GET", u.Path, nil, map[string]string{"If-None-Match": r.header.Get("ETag")}); r2.status != 200 || strings.Contains(r2.body, "/join/") {
		t.Fatalf("after cancelling: %d", r2.status)
	}
	// A new address revokes the old one at once.
	web.post("/profile/feed/regenerate", url.Values{})
	if r := calClient.get(u.Path); r.status != http.StatusNotFound {
		t.Fatalf("old feed address after regenerating: %d", r.status)
	}
	m2 := feedAddress.FindStringSubmatch(web.get("/profile").body)
	if m2 == nil || m2[1] == m[1] {
		t.Fatalf("no new address")
	}
	u2, _ := url.Parse(m2[1])
	if r := calClient.get(u2.Path); r.status != 200 {
		t.Fatalf("new feed address: %d", r.status)
	}
}
