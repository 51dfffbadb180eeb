package server_test

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/frontend/locales"
	"github.com/puente-org/puente/i18n"
	"github.com/puente-org/puente/mail/smtptest"
	"github.com/puente-org/puente/store"
)

// The whole-series confirmation, as it arrives over SMTP: one email, a summary (how many
// sessions, the first and the last in the recipient's zone and language, how many wait)
// and one link, to the person's page of seminars, not two links per session.
func TestWholeSeriesEmailIsASummaryWithOneLink(t *testing.T) {
	p, smtp := newSMTPProgEnv(t)
	for _, role := range []string{"organiser", "attendee", "other"} {
		p.addPerson(role, store.NewPerson{Name: "Ana " + role, IsOrganiser: role == "organiser"})
	}
	if _, err := p.store.UpdateProfile(context.Background(), p.ids["attendee"], domain.Profile{Name: "Ana Rojas", Language: "es", TimeZone: "America/Santiago"}); err != nil {
		t.Fatal(err)
	}
	body := map[string]any{}
	for k, v := range batterySeminar {
		body[k] = v
	}
	body["capacity"] = 1
	s := p.must(201, "organiser", "POST", "/api/v1/series", body)
	occs := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%v/occurrences?from=2026-01-01&to=2027-12-31", s["id"]), nil))
	// Someone holds the second session's only place: the attendee waits for that one.
	p.must(201, "other", "POST", fmt.Sprintf("/api/v1/occurrences/%v/registrations", occs[1]["id"]), nil)
	res := p.must(201, "attendee", "POST", fmt.Sprintf("/api/v1/series/%v/registrations", s["id"]), nil)
	n := len(res["sessions"].([]any))
	if n != 26 {
		t.Fatalf("sessions: %d", n)
	}
	wait, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	msg, err := smtp.WaitForMessage(wait, func(r smtptest.Received) bool { return slices.Contains(r.To, "attendee@example.org") })
	if err != nil {
		t.Fatalf("no email: %v", err)
	}
	if msg.Subject != "Inscripción confirmada: Battery Materials Seminar" {
		t.Errorf("subject: %q", msg.Subject)
	}
	cat, err := i18n.Load(locales.FS(), locales.Default)
	if err != nil {
		t.Fatal(err)
	}
	santiago, _ := time.LoadLocation("America/Santiago")
	var lastStart, lastEnd time.Time
	for _, o := range occs {
		if o["status"] == "scheduled" {
			lastStart, _ = time.Parse(time.RFC3339, fmt.Sprint(o["start"]))
			lastEnd, _ = time.Parse(time.RFC3339, fmt.Sprint(o["end"]))
		}
	}
	last := cat.Localizer("es").When(lastStart, lastEnd, "Europe/London", santiago).String()
	if !strings.Contains(last, "12:00–13:00 hora de Santiago") || !strings.Contains(last, "diciembre de 2026") {
		t.Fatalf("the last session in Santiago: %q", last)
	}
	for _, want := range []string{"Hola, Ana Rojas:", "Tienes inscripción en Battery Materials Seminar: 26 sesiones.",
		"Primera: jueves 8 de enero de 2026, 12:00–13:00 hora de Santiago", "Última: " + last,
		"1 sesión está completa: estás en su lista de espera"} {
		if !strings.Contains(msg.Text, want) {
			t.Errorf("email lacks %q:\n%s", want, msg.Text)
		}
	}
	links := regexp.MustCompile(`https?://\S+`).FindAllString(msg.Text, -1)
	if len(links) != 1 || !strings.HasSuffix(links[0], "/my-seminars") {
		t.Fatalf("links in the email: %q\n%s", links, msg.Text)
	}
	if hrefs := regexp.MustCompile(`href="([^"]+)"`).FindAllStringSubmatch(msg.HTML, -1); len(hrefs) != 1 || hrefs[0][1] != links[0] {
		t.Errorf("links in the HTML part: %q", hrefs)
	}
	if joinLink.MatchString(msg.Text) || cancelLink.MatchString(msg.Text) || strings.Contains(msg.HTML, "/join/") {
		t.Errorf("the summary carries per-session links")
	}
	// The link leads the person to their sessions (after signing in).
	u, _ := url.Parse(links[0])
	b := p.browser("es")
	if r := b.get(u.Path); r.status != 303 || !strings.Contains(r.header.Get("Location"), "next=%2Fmy-seminars") {
		t.Fatalf("the link signed out: %d %s", r.status, r.header.Get("Location"))
	}
	if others, _ := smtp.WaitForMessages(context.Background(), 0); len(others) > 3 {
		var to []string
		for _, m := range others {
			to = append(to, fmt.Sprint(m.To, m.Subject))
		}
		t.Errorf("more emails than expected: %q", to)
	}
}
