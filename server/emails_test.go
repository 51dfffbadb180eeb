package server_test

import (
	"context"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/mail/smtptest"
	"github.com/puente-org/puente/store"
)

var (
	joinLink   = regexp.MustCompile(`https?://\S+/join/[0-9]+\.[A-Za-z0-9_\-]+`)
	cancelLink = regexp.MustCompile(`https?://\S+/registrations/cancel/[0-9]+\.[A-Za-z0-9_\-]+`)
)

// The confirmation email, as it arrives over SMTP: recipient, time in the recipient's zone,
// a join link that works, an .ics that parses, a cancel link that cancels; and the
// promotion email that follows.
func TestRegistrationEmailsOverSMTP(t *testing.T) {
	p, smtp := newSMTPProgEnv(t)
	st := p.store
	for _, role := range []string{"organiser", "attendee", "other"} {
		p.addPerson(role, store.NewPerson{Name: "Ana " + role, IsOrganiser: role == "organiser"})
	}
	// The attendee reads in Spanish, in Santiago.
	if _, err := st.UpdateProfile(context.Background(), p.ids["attendee"], domain.Profile{Name: "Ana Rojas", Language: "es", TimeZone: "America/Santiago"}); err != nil {
		t.Fatal(err)
	}
	occ := p.oneOccurrence(1, "open") // 5 Feb 2026 15:00 London = 12:00 Santiago

	p.must(201, "attendee", "POST", occ+"/registrations", nil)
	wait, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	msg, err := smtp.WaitForMessage(wait, func(r smtptest.Received) bool { return slices.Contains(r.To, "attendee@example.org") })
	if err != nil {
		t.Fatalf("no confirmation email: %v", err)
	}
	if !strings.HasPrefix(msg.Subject, "Inscripción confirmada: Capacity Seminar") {
		t.Errorf("subject: %q", msg.Subject)
	}
	for _, want := range []string{"Hola, Ana Rojas:", "jueves 5 de febrero de 2026, 12:00–13:00 hora de Santiago", "15:00 Londres"} {
		if !strings.Contains(msg.Text, want) {
			t.Errorf("email lacks %q:\n%s", want, msg.Text)
		}
	}
	// The .ics attachment parses and has the session at the right instant.
	icsText := decodeAttachment(t, string(msg.Data))
	cal, err := ics.ParseCalendar(strings.NewReader(icsText))
	if err != nil {
		t.Fatalf("attachment does not parse: %v\n%s", err, icsText)
	}
	ev := cal.Events()
	if len(ev) != 1 {
		t.Fatalf("attachment events: %d", len(ev))
	}
	start, err := ev[0].GetStartAt()
	if err != nil || !start.Equal(time.Date(2026, 2, 5, 15, 0, 0, 0, time.UTC)) {
		t.Fatalf("attachment start %v (%v)", start, err)
	}
	// The join link works: before the window it shows the countdown.
	join := joinLink.FindString(msg.Text)
	if join == "" || !strings.Contains(icsText, "join") {
		t.Fatalf("no join link in the email or its calendar entry")
	}
	b := p.browser("es")
	u, _ := url.Parse(join)
	if r := b.get(u.Path); r.status != 200 || !strings.Contains(r.body, `data-state="early"`) {
		t.Fatalf("join link: %d %s", r.status, r.body)
	}
	if r := b.get(u.Path + "x"); r.status != 404 {
		t.Fatalf("a forged join link: %d", r.status)
	}

	// Someone else waits; the cancel link frees the place and they are told.
	p.must(201, "other", "POST", occ+"/registrations", nil)
	cl := cancelLink.FindString(msg.Text)
	cu, _ := url.Parse(cl)
	if r := b.get(cu.Path); r.status != 200 || !strings.Contains(r.body, `id="cancel-form"`) {
		t.Fatalf("cancel page: %d", r.status)
	}
	if r := b.post(cu.Path, url.Values{}); r.status != 200 || !strings.Contains(r.body, `id="cancelled"`) {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	if r := items(t, p.must(200, "attendee", "GET", "/api/v1/me/registrations", nil)); r[0]["status"] != "cancelled" {
		t.Fatalf("after the cancel link: %v", r)
	}
	promo, err := smtp.WaitForMessage(wait, func(r smtptest.Received) bool {
		return slices.Contains(r.To, "other@example.org") && strings.HasPrefix(r.Subject, "You have a place")
	})
	if err != nil {
		t.Fatalf("no promotion email: %v", err)
	}
	if joinLink.FindString(promo.Text) == "" {
		t.Fatalf("promotion email without a join link:\n%s", promo.Text)
	}
	// Cancelling revoked the personal links.
	if r := p.browser("en").get(u.Path); r.status != 404 {
		t.Fatalf("the cancelled person's join link must no longer work: %d", r.status)
	}
}

// decodeAttachment returns the text/calendar part of a raw message.
func decodeAttachment(t *testing.T, raw string) string {
	t.Helper()
	msgs, err := smtptestParts(raw)
	if err != nil {
		t.Fatal(err)
	}
	for ct, body := range msgs {
		if strings.HasPrefix(ct, "text/calendar") {
			return body
		}
	}
	t.Fatalf("no text/calendar part")
	return ""
}
