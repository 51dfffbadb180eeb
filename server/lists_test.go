package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/server"
)

// Leaving a list: the link in List-Unsubscribe works as a one-click POST with no cookie
// and no CSRF token (RFC 8058) and as a page with one button; opening the link (a GET, as
// mail scanners do) changes nothing; forged and expired links say so and change nothing;
// a used link is harmless; the preferences page puts a person back on a list. The local
// mailbox shows the list headers.
func TestUnsubscribeAndPreferences(t *testing.T) {
	p := newProgEnv(t)
	ctx := context.Background()
	s := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Brine Seminar", "timezone": "UTC",
		"start_date": "2026-02-05", "start_time": "15:00", "rrule": "FREQ=WEEKLY;COUNT=2"})
	eventID := int64(s["id"].(float64))
	list := domain.ListAnnouncements(eventID)
	occ := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%v/occurrences", s["id"]), nil))[0]

	b := p.browser("en")
	b.signIn("attendee@example.org")
	b.get(fmt.Sprintf("/series/%v", s["slug"]))
	if r := b.post(fmt.Sprintf("/events/%d/follow", eventID), url.Values{}); r.status != 303 {
		t.Fatalf("follow: %d", r.status)
	}
	// An announcement to her, then her registration (which wakes the local delivery).
	if ok, err := p.store.Enqueue(ctx, domain.Notice{Kind: domain.NoticeMessage, PersonID: p.ids["attendee"], EventID: eventID,
		OccurrenceID: int64(occ["id"].(float64)), List: list, Payload: domain.NoticePayload{Subject: "News", Body: "Hello"}}); err != nil || !ok {
		t.Fatalf("enqueue: %v %v", ok, err)
	}
	p.must(201, "attendee", "POST", fmt.Sprintf("/api/v1/occurrences/%v/registrations", occ["id"]), nil)
	box, err := p.store.Mailbox(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var unsub string
	var listMailID int64
	for _, m := range box {
		full, err := p.store.MailboxMessageByID(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if v := full.Headers["List-Unsubscribe"]; v != "" {
			unsub, listMailID = strings.Trim(v, "<>"), m.ID
		} else if m.Subject != "" && m.Status == "sent" && strings.Contains(m.Subject, "registered") && len(full.Headers) != 0 {
			t.Errorf("a registration email has list headers: %v", full.Headers)
		}
	}
	if unsub == "" {
		t.Fatalf("no list email with List-Unsubscribe in the outbox: %+v", box)
	}
	u, err := url.Parse(unsub)
	if err != nil || !strings.HasPrefix(u.Path, "/unsubscribe/plu_") {
		t.Fatalf("unsubscribe URL %q", unsub)
	}
	admin := p.browser("en")
	admin.signIn("admin@example.org")
	if r := admin.get(fmt.Sprintf("/dev/mail/%d", listMailID)); r.status != 200 || !strings.Contains(r.body, "List-Unsubscribe-Post") ||
		!strings.Contains(r.body, "List-Id") || !strings.Contains(r.body, "One-Click") {
		t.Errorf("the local mailbox does not show the list headers: %d", r.status)
	}
	left := func() bool {
		prefs, err := p.store.MailPreferences(ctx, p.ids["attendee"])
		if err != nil {
			t.Fatal(err)
		}
		return slices.Contains(prefs.Left, list)
	}

	// Opening the link shows the list and a button, in the reader's language, and changes nothing.
	r := p.browser("es").get(u.Path)
	if r.status != 200 || !strings.Contains(r.body, "¿Dejar de enviar «Brine Seminar: anuncios» a a•••@example.org?") ||
		!strings.Contains(r.body, `id="unsubscribe-form"`) || strings.Contains(r.body, "attendee@example.org") {
		t.Errorf("unsubscribe page: %d\n%s", r.status, r.body)
	}
	if left() {
		t.Fatal("a GET of the link took her off the list")
	}

	// A forged link: 404 with a clear message; nothing changes.
	for _, method := range []string{"GET", "POST"} {
		r := p.browser("en").do(method, "/unsubscribe/plu_"+strings.Repeat("A", 43), strings.NewReader("List-Unsubscribe=One-Click"),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		if r.status != 404 || !strings.Contains(r.body, "This unsubscribe link is not valid") {
			t.Errorf("forged link, %s: %d", method, r.status)
		}
	}

	// The mail program's one-click POST: no cookie, no CSRF token.
	res, err := http.Post(p.ts.URL+u.Path, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || !left() {
		t.Fatalf("one-click unsubscribe: %d, left %v", res.StatusCode, left())
	}
	// Again (a second click, a retry): harmless.
	if r := p.browser("en").post(u.Path, url.Values{}); r.status != 200 || !strings.Contains(r.body, "will not receive “Brine Seminar: announcements” any more") {
		t.Errorf("second use: %d %s", r.status, r.body)
	}
	if r := p.browser("en").get(u.Path); r.status != 200 || !strings.Contains(r.body, `id="unsubscribed"`) {
		t.Errorf("the page of a used link: %d", r.status)
	}

	// An expired link: 410, pointing to the preferences page; nothing changes.
	fresh, err := p.store.NewListToken(ctx, p.ids["attendee"], domain.ListFollowUpdates)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.store.Pool().Exec(ctx, `UPDATE list_tokens SET expires_at = $2 WHERE hash = $1`,
		domain.HashSecret(fresh), p.now.Add(-1)); err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{"GET", "POST"} {
		r := p.browser("en").do(method, "/unsubscribe/"+fresh, nil, nil)
		if r.status != 410 || !strings.Contains(r.body, "This unsubscribe link has expired") {
			t.Errorf("expired link, %s: %d", method, r.status)
		}
	}
	if prefs, _ := p.store.MailPreferences(ctx, p.ids["attendee"]); slices.Contains(prefs.Left, domain.ListFollowUpdates) {
		t.Error("an expired link took her off a list")
	}

	// The preferences page: her lists, the series' announcements unticked; she ticks it
	// again and asks for the digest.
	page := b.get("/preferences")
	if page.status != 200 || !strings.Contains(page.body, "Brine Seminar: announcements") ||
		strings.Contains(page.body, `value="`+string(list)+`" checked`) || !strings.Contains(page.body, `value="follow-updates" checked`) {
		t.Fatalf("preferences page: %d\n%s", page.status, page.body)
	}
	form := url.Values{"shown": {string(list), "follow-updates", "weekly-digest", "directory-contact"},
		"on": {string(list), "follow-updates", "weekly-digest"}}
	if r := b.post("/preferences", form); r.status != 303 {
		t.Fatalf("save preferences: %d %s", r.status, r.body)
	}
	prefs, err := p.store.MailPreferences(ctx, p.ids["attendee"])
	if err != nil || !prefs.WeeklyDigest || slices.Contains(prefs.Left, list) || !slices.Contains(prefs.Left, domain.ListContact) {
		t.Errorf("saved preferences: %+v %v", prefs, err)
	}
	if r := b.post("/preferences", url.Values{"shown": {"not-a-list"}}); r.status != 400 || !strings.Contains(r.body, "not one of Puente&#39;s mailing lists") {
		t.Errorf("unknown list: %d %s", r.status, r.body)
	}
	if r := p.browser("en").get("/preferences"); r.status != http.StatusSeeOther {
		t.Errorf("preferences without signing in: %d", r.status)
	}
	// Without a CSRF token a signed-in browser's preferences form is refused.
	if r := b.post("/preferences", url.Values{"_csrf": {"x"}, "shown": {"weekly-digest"}}); r.status != 403 {
		t.Errorf("preferences without CSRF token: %d", r.status)
	}
}

// The request log never holds the secret in a link's path: unsubscribe and personal links
// are logged by their route.
func TestLinkSecretsNotLogged(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	p := newProgEnv(t, func(o *server.Options) {
		o.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	token, err := p.store.NewListToken(context.Background(), p.ids["attendee"], domain.ListFollowUpdates)
	if err != nil {
		t.Fatal(err)
	}
	p.browser("en").get("/unsubscribe/" + token)
	p.browser("en").get("/join/jt_not-a-real-token-but-secret-looking")
	res, err := http.Post(p.ts.URL+"/unsubscribe/"+token, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(logs.String(), token) || strings.Contains(logs.String(), "secret-looking") {
		t.Fatalf("a link's secret is in the log:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "/unsubscribe/:token") {
		t.Fatalf("the requests are not logged by their route:\n%s", logs.String())
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
