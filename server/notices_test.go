package server_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/frontend"
	"github.com/puente-org/puente/i18n"
	"github.com/puente-org/puente/mail/smtptest"
	"github.com/puente-org/puente/store"
)

// The proof of rendering at delivery: one Santiago series at 12:00 and three registrants
// who read in their own language and live in their own zone. Each gets the confirmation,
// and after the organiser moves the session the "moved" email, in that language and zone,
// over real SMTP.
func TestEmailsInEachRecipientsLanguageAndZone(t *testing.T) {
	catalog, err := i18n.Load(frontend.Locales(), "en")
	if err != nil {
		t.Fatal(err)
	}
	p, smtp := newSMTPProgEnv(t)
	st := p.store
	type reader struct {
		role, name, lang, zone string
		// the session's times in the reader's zone: 12:00 Santiago (-04 in June) first, then
		// 14:00 after the move
		confirmed, moved string
	}
	readers := []reader{
		{"london_en", "Alice Smith", "en", "Europe/London", "17:00–18:00 London (BST)", "19:00–20:00 London (BST)"},
		{"london_pt", "Beatriz Souza", "pt", "Europe/London", "17:00–18:00 Londres (BST)", "19:00–20:00 Londres (BST)"},
		{"baires_es", "Carla Gómez", "es", "America/Argentina/Buenos_Aires", "13:00–14:00 hora de Buenos Aires", "15:00–16:00 hora de Buenos Aires"},
	}
	ctx := context.Background()
	person := func(role, name string, organiser bool, prof domain.Profile) {
		p.addPerson(role, store.NewPerson{Name: name, IsOrganiser: organiser})
		if prof.TimeZone != "" {
			if _, err := st.UpdateProfile(ctx, p.ids[role], prof); err != nil {
				t.Fatal(err)
			}
		}
	}
	person("organiser", "Olga Org", true, domain.Profile{})
	for _, r := range readers {
		person(r.role, r.name, false, domain.Profile{Name: r.name, Language: r.lang, TimeZone: r.zone})
	}
	s := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Lithium Seminar",
		"timezone": "America/Santiago", "start_date": "2026-06-04", "start_time": "12:00", "capacity": 10, "registration": "open"})
	occs := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%v/occurrences?from=2026-06-01&to=2026-06-30", s["id"]), nil))
	if len(occs) != 1 {
		t.Fatalf("occurrences: %v", occs)
	}
	occ := fmt.Sprintf("/api/v1/occurrences/%v", occs[0]["id"])
	for _, r := range readers {
		p.must(201, r.role, "POST", occ+"/registrations", nil)
	}
	wait, stop := context.WithTimeout(ctx, 60*time.Second)
	defer stop()
	// received waits for the email to role whose subject starts with the catalogue's subject
	// of kind in the reader's language.
	received := func(t *testing.T, r reader, kind string) smtptest.Received {
		t.Helper()
		l := catalog.Localizer(r.lang)
		subject := l.T("mail.reg.subject_"+kind, "Title", "Lithium Seminar")
		if r.lang != "en" && subject == catalog.Localizer("en").T("mail.reg.subject_"+kind, "Title", "Lithium Seminar") {
			t.Fatalf("%s: the %s subject is not translated", r.lang, kind)
		}
		m, err := smtp.WaitForMessage(wait, func(m smtptest.Received) bool {
			return slices.Contains(m.To, r.role+"@example.org") && strings.HasPrefix(m.Subject, subject)
		})
		if err != nil {
			var got []string
			for _, m := range smtp.Messages() {
				got = append(got, fmt.Sprint(m.To, " ", m.Subject))
			}
			t.Fatalf("%s: no %s email with subject %q (%v); received: %v", r.role, kind, subject, err, got)
		}
		lead := l.T("mail.reg.lead_" + kind)
		for _, want := range []string{l.T("mail.reg.greeting", "Name", r.name), lead} {
			if !strings.Contains(m.Text, want) {
				t.Errorf("%s: the %s email lacks %q:\n%s", r.role, kind, want, m.Text)
			}
		}
		return m
	}
	for _, r := range readers {
		t.Run("confirmed_"+r.role, func(t *testing.T) {
			m := received(t, r, "confirmed")
			if !strings.Contains(m.Text, r.confirmed) || !strings.Contains(m.HTML, r.confirmed) {
				t.Errorf("%s: the confirmation does not say %q:\n%s", r.role, r.confirmed, m.Text)
			}
			if !strings.Contains(m.Text, "12:00 Santiago") {
				t.Errorf("%s: the confirmation does not give the organisers' clock:\n%s", r.role, m.Text)
			}
			// The calendar entry: confirmed, at the right instant, in the reader's words.
			cal, err := ics.ParseCalendar(strings.NewReader(decodeAttachment(t, string(m.Data))))
			if err != nil || len(cal.Events()) != 1 {
				t.Fatalf("%s: attachment: %v", r.role, err)
			}
			ev := cal.Events()[0]
			if start, err := ev.GetStartAt(); err != nil || !start.Equal(time.Date(2026, 6, 4, 16, 0, 0, 0, time.UTC)) {
				t.Errorf("%s: calendar start %v (%v)", r.role, start, err)
			}
			if st := ev.GetProperty(ics.ComponentPropertyStatus); st == nil || st.Value != "CONFIRMED" {
				t.Errorf("%s: calendar status %v", r.role, st)
			}
			join := catalog.Localizer(r.lang).T("ics.join") + ": "
			if d := ev.GetProperty(ics.ComponentPropertyDescription); d == nil || !strings.Contains(d.Value, join) {
				t.Errorf("%s: calendar description without %q: %v", r.role, join, d)
			}
		})
	}
	// Language-specific words beyond the catalogue's sentences.
	if m := received(t, readers[2], "confirmed"); !strings.Contains(m.Text, "jueves 4 de junio de 2026") {
		t.Errorf("the Spanish confirmation's date:\n%s", m.Text)
	}
	if m := received(t, readers[0], "confirmed"); !strings.Contains(m.Text, "Thursday 4 June 2026") {
		t.Errorf("the English confirmation's date:\n%s", m.Text)
	}

	// The organiser moves the session to 14:00 Santiago.
	p.must(200, "organiser", "PATCH", occ, map[string]any{"start_time": "14:00"})
	for _, r := range readers {
		t.Run("moved_"+r.role, func(t *testing.T) {
			m := received(t, r, "moved")
			if !strings.Contains(m.Text, r.moved) {
				t.Errorf("%s: the moved email does not say %q:\n%s", r.role, r.moved, m.Text)
			}
			// It also says when it was: the old time, in the reader's zone.
			was := catalog.Localizer(r.lang).T("mail.notice.previously", "When", "")
			if !strings.Contains(m.Text, was) || !strings.Contains(m.Text, strings.SplitN(r.confirmed, " ", 2)[0]) {
				t.Errorf("%s: the moved email does not give the old time (%q, %q):\n%s", r.role, was, r.confirmed, m.Text)
			}
		})
	}
}

// The words inside calendar entries come from the reader's catalogue: English for an
// anonymous feed, Spanish with ?lang=es (a different ETag), and the page's language for the
// one-session download.
func TestCalendarWordsInTheReadersLanguage(t *testing.T) {
	p := newProgEnv(t)
	s := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Litio", "timezone": "America/Santiago",
		"start_date": "2026-06-04", "start_time": "12:00"})
	occs := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%v/occurrences?from=2026-06-01&to=2026-06-30", s["id"]), nil))
	occ := fmt.Sprintf("/api/v1/occurrences/%v", occs[0]["id"])
	p.must(200, "organiser", "PATCH", occ, map[string]any{"status": "cancelled", "reason": "Paro"})
	b := p.browser("es")
	feed := "/feeds/series/" + s["slug"].(string) + ".ics"
	en, es := b.get(feed), b.get(feed+"?lang=es")
	if en.status != 200 || !strings.Contains(en.body, "SUMMARY:Cancelled: Litio") || !strings.Contains(en.body, "Cancelled: Paro") {
		t.Fatalf("the feed in English: %d\n%s", en.status, en.body)
	}
	if es.status != 200 || !strings.Contains(es.body, "SUMMARY:Cancelada: Litio") || !strings.Contains(es.body, "Cancelada: Paro") {
		t.Fatalf("the feed in Spanish: %d\n%s", es.status, es.body)
	}
	if en.header.Get("ETag") == es.header.Get("ETag") {
		t.Fatalf("one ETag for two languages")
	}
	if r := b.get(fmt.Sprintf("/occurrences/%v/calendar.ics", occs[0]["id"])); !strings.Contains(r.body, "SUMMARY:Cancelada: Litio") {
		t.Fatalf("the download from a Spanish page: %d\n%s", r.status, r.body)
	}
}
