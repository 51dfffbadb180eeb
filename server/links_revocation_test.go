package server_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/puente-org/puente/store"
)

func pathOf(t *testing.T, re *regexp.Regexp, text string) string {
	t.Helper()
	link := re.FindString(text)
	if link == "" {
		t.Fatalf("no link matching %s in:\n%s", re, text)
	}
	u, _ := url.Parse(link)
	return u.Path
}

// Personal links are revoked when the registration is cancelled (and so after a new
// registration the old ones stay dead), when the organiser removes the person, and when
// the person asks for new links.
func TestPersonalLinksAreRevoked(t *testing.T) {
	p := newProgEnv(t)
	occ := p.oneOccurrence(10, "open")
	b := p.browser("en")
	reg := p.must(201, "attendee", "POST", occ+"/registrations", nil)
	first := p.newestMail("attendee@example.org")
	oldJoin, oldCancel := pathOf(t, joinLink, first.Text), pathOf(t, cancelLink, first.Text)
	if r := b.get(oldJoin); r.status != 200 {
		t.Fatalf("fresh join link: %d", r.status)
	}
	// Cancel and register again: the first email's links no longer work.
	p.must(200, "attendee", "DELETE", occ+"/registrations/me", nil)
	p.must(201, "attendee", "POST", occ+"/registrations", nil)
	for _, path := range []string{oldJoin, oldCancel} {
		if r := b.get(path); r.status != 404 {
			t.Fatalf("%s after cancelling and registering again: %d", path, r.status)
		}
	}
	b.get("/occurrences/" + strings.TrimPrefix(occ, "/api/v1/occurrences/")) // a form's CSRF token
	if r := b.post(oldCancel, url.Values{}); r.status != 404 {
		t.Fatalf("the old cancel link still cancels: %d", r.status)
	}
	if code, _ := p.call("", "POST", "/api/v1"+strings.Replace(oldJoin, "/join/", "/join/", 1)+"/admission", nil); code != 404 {
		t.Fatalf("the old join link still admits to the room: %d", code)
	}
	second := p.newestMail("attendee@example.org")
	secondJoin := pathOf(t, joinLink, second.Text)
	if r := b.get(secondJoin); r.status != 200 {
		t.Fatalf("the new registration's join link: %d", r.status)
	}

	// Asking for new links: someone else cannot; the owner gets an email with new ones.
	if code, _ := p.call("other", "POST", "/api/v1/registrations/"+jsonID(reg)+"/new-link", nil); code != 404 {
		t.Fatalf("new links for someone else's registration: %d", code)
	}
	p.must(200, "attendee", "POST", "/api/v1/registrations/"+jsonID(reg)+"/new-link", nil)
	third := p.newestMail("attendee@example.org")
	thirdJoin := pathOf(t, joinLink, third.Text)
	if r := b.get(secondJoin); r.status != 404 {
		t.Fatalf("the join link before asking for new ones: %d", r.status)
	}
	if r := b.get(thirdJoin); r.status != 200 {
		t.Fatalf("the new join link: %d", r.status)
	}
	// The same from the occurrence page, signed in.
	b.signIn("attendee@example.org")
	page := "/occurrences/" + strings.TrimPrefix(occ, "/api/v1/occurrences/")
	if r := b.get(page); !strings.Contains(r.body, `id="new-links-form"`) {
		t.Fatalf("no new-links button on the occurrence page")
	}
	if r := b.post(page+"/new-links", url.Values{}); r.status != 303 {
		t.Fatalf("new links from the page: %d", r.status)
	}
	if r := b.get(thirdJoin); r.status != 404 {
		t.Fatalf("the join link before asking again: %d", r.status)
	}

	// Removed by the organiser: the links die too.
	fourthJoin := pathOf(t, joinLink, p.newestMail("attendee@example.org").Text)
	p.must(200, "organiser", "POST", "/api/v1/registrations/"+jsonID(reg)+"/remove", nil)
	if r := b.get(fourthJoin); r.status != 404 {
		t.Fatalf("join link after being removed: %d", r.status)
	}
}

// A registration by email only holds its place (counted against capacity) until the owner
// of the address confirms it; after 30 minutes unconfirmed it is released and the waitlist
// moves up. Forged and expired confirmation links get a clear page.
func TestRegistrationByEmailHoldsThePlaceUntilConfirmed(t *testing.T) {
	p := newProgEnv(t)
	ctx := context.Background()
	occ := p.oneOccurrence(2, "open")
	occID := mustAtoi(t, strings.TrimPrefix(occ, "/api/v1/occurrences/"))
	page := "/occurrences/" + strings.TrimPrefix(occ, "/api/v1/occurrences/")
	stranger := p.browser("en")
	stranger.get(page)
	for _, addr := range []string{"victim@example.org", "owner@example.org"} {
		if r := stranger.post(page+"/register-by-email", url.Values{"email": {addr}, "name": {"Someone"}}); r.status != 200 {
			t.Fatalf("register %s by email: %d", addr, r.status)
		}
	}
	status := func(email string) string {
		t.Helper()
		regs, err := p.store.Registrations(ctx, store.RegistrationFilter{OccurrenceID: occID})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range regs {
			if r.Email == email {
				return string(r.Status)
			}
		}
		return ""
	}
	for _, addr := range []string{"victim@example.org", "owner@example.org"} {
		if s := status(addr); s != "held" {
			t.Fatalf("%s registered by someone else: %s, want held", addr, s)
		}
	}
	// Held places count: the next person waits.
	if out := p.must(201, "attendee", "POST", occ+"/registrations", nil); out["status"] != "waitlisted" {
		t.Fatalf("with both places held: %v", out)
	}
	confirmLink := regexp.MustCompile(`https?://\S+/registrations/confirm/[0-9]+\.[A-Za-z0-9_\-]+`)
	mail := p.newestMail("owner@example.org")
	if joinLink.MatchString(mail.Text) || !strings.Contains(mail.Subject, "Confirm your place") {
		t.Fatalf("a held place's email must ask for confirmation and carry no join link:\n%s\n%s", mail.Subject, mail.Text)
	}
	ownerConfirm := pathOf(t, confirmLink, mail.Text)
	victimConfirm := pathOf(t, confirmLink, p.newestMail("victim@example.org").Text)

	// Forged links: a clear page, not a 500 and not a confirmation.
	owner := p.browser("es")
	for _, forged := range []string{"/registrations/confirm/garbage", ownerConfirm + "x", "/registrations/confirm/999999.AAAA"} {
		if r := owner.get(forged); r.status != 404 || !strings.Contains(r.body, `id="confirm-invalid"`) || !strings.Contains(r.body, "no es válido") {
			t.Fatalf("forged link %s: %d %s", forged, r.status, r.body)
		}
	}
	// A GET (a mail scanner) confirms nothing; the button does.
	if r := owner.get(ownerConfirm); r.status != 200 || !strings.Contains(r.body, `id="confirm-form"`) || status("owner@example.org") != "held" {
		t.Fatalf("confirmation page: %d, status %s", r.status, status("owner@example.org"))
	}
	if r := owner.post(ownerConfirm, url.Values{}); r.status != 200 || !strings.Contains(r.body, `id="confirmed"`) {
		t.Fatalf("confirm: %d %s", r.status, r.body)
	}
	if s := status("owner@example.org"); s != "confirmed" {
		t.Fatalf("after confirming: %s", s)
	}
	if m := p.newestMail("owner@example.org"); !joinLink.MatchString(m.Text) {
		t.Fatalf("the confirmed email should carry the join link:\n%s", m.Text)
	}

	// 31 minutes later the background job (serve runs it every minute) releases the
	// unconfirmed place; the first person waiting gets it.
	later := store.New(p.store.Pool(), func() time.Time { return p.now.Add(31 * time.Minute) })
	var lastRow int64
	if err := p.store.Pool().QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM outbox`).Scan(&lastRow); err != nil {
		t.Fatal(err)
	}
	if n, err := later.ReleaseUnconfirmed(ctx, &store.Notify{}); err != nil || n != 1 {
		t.Fatalf("released %d: %v", n, err)
	}
	if status("victim@example.org") != "cancelled" || status("attendee@example.org") != "confirmed" || status("owner@example.org") != "confirmed" {
		t.Fatalf("after the release: victim %s, attendee %s, owner %s", status("victim@example.org"),
			status("attendee@example.org"), status("owner@example.org"))
	}
	// Who was told what: one typed notice, the promotion of the first person waiting.
	rows, err := p.store.Pool().Query(ctx, `SELECT o.notice_kind || ':' || p.email FROM outbox o
		JOIN people p ON p.id = o.person_id WHERE o.id > $1 ORDER BY o.id`, lastRow)
	if err != nil {
		t.Fatal(err)
	}
	told, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(told) != 1 || told[0] != "promoted:attendee@example.org" {
		t.Fatalf("told: %v", told)
	}
	if n, _ := later.ReleaseUnconfirmed(ctx, &store.Notify{}); n != 0 {
		t.Fatalf("released twice: %d", n)
	}
	// The released registration's link now says it expired.
	if r := owner.get(victimConfirm); r.status != 410 || !strings.Contains(r.body, `id="confirm-expired"`) || !strings.Contains(r.body, "caducó") {
		t.Fatalf("expired link: %d %s", r.status, r.body)
	}
	if r := owner.post(victimConfirm, url.Values{}); r.status != 410 || status("victim@example.org") != "cancelled" {
		t.Fatalf("confirming an expired link: %d %s", r.status, status("victim@example.org"))
	}
}
