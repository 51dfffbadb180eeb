package notices_test

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/links"
	"github.com/puente-org/puente/mail"
	"github.com/puente-org/puente/mail/smtptest"
	"github.com/puente-org/puente/notices"
	"github.com/puente-org/puente/store"
	"github.com/puente-org/puente/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// platform is the store, the renderer and an SMTP deliverer that delivers when told.
type platform struct {
	t       *testing.T
	st      *store.Store
	clk     *clock
	smtp    *smtptest.Server
	d       *mail.Deliverer
	links   *links.Signer // the renderer's key: checks the links in emails
	org     domain.Person
	eventID int64
	occID   int64
}

func newPlatform(t *testing.T, capacity int) *platform {
	t.Helper()
	clk := &clock{t: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	st := store.New(pgtest.New(t), clk.Now)
	smtp := smtptest.NewServer(t)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	base, _ := url.Parse("https://puente.example.org")
	r, err := notices.New(notices.Options{Source: st, BaseURL: base, LinkKey: key, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	sender, err := mail.NewSMTPSender(smtp.URL(), "Puente <no-reply@example.org>")
	if err != nil {
		t.Fatal(err)
	}
	p := &platform{t: t, st: st, clk: clk, smtp: smtp, links: links.New(key)}
	p.d = mail.NewDeliverer(mail.DelivererOptions{Outbox: st, Sender: sender, Renderer: r, Now: clk.Now,
		Logger: slog.New(slog.DiscardHandler)})
	ctx := context.Background()
	if p.org, err = st.CreatePerson(ctx, store.NewPerson{Email: "org@example.org", Name: "Olga", IsOrganiser: true}); err != nil {
		t.Fatal(err)
	}
	e, err := st.CreateEvent(ctx, domain.Event{Kind: domain.KindSeries, Slug: "lithium", Title: "Lithium Seminar", Language: "en",
		Visibility: "public", TimeZone: "America/Santiago", StartDate: time.Date(2026, 6, 4, 0, 0, 0, 0, time.UTC), StartTime: "12:00",
		Duration: time.Hour, Registration: "open", Capacity: capacity, Tags: []string{}, JoinWindow: 15 * time.Minute}, p.org.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	occs, err := st.Occurrences(ctx, store.OccurrenceFilter{EventID: e.ID})
	if err != nil || len(occs) != 1 {
		t.Fatalf("occurrences: %v %d", err, len(occs))
	}
	p.eventID, p.occID = e.ID, occs[0].Occurrence.ID
	return p
}

func (p *platform) person(email string, prof domain.Profile) domain.Person {
	p.t.Helper()
	pr, err := p.st.CreatePerson(context.Background(), store.NewPerson{Email: email, Name: prof.Name})
	if err != nil {
		p.t.Fatal(err)
	}
	if pr, err = p.st.UpdateProfile(context.Background(), pr.ID, prof); err != nil {
		p.t.Fatal(err)
	}
	return pr
}

// firstAndWaiting registers two people for the one place: the first (London, English) gets
// it, the second (Santiago, Spanish) waits.
func (p *platform) firstAndWaiting() (first, second domain.Person) {
	p.t.Helper()
	first = p.person("first@example.org", domain.Profile{Name: "First", Language: "en", TimeZone: "Europe/London"})
	second = p.person("second@example.org", domain.Profile{Name: "Segunda", Language: "es", TimeZone: "America/Santiago"})
	for _, who := range []domain.Person{first, second} {
		if _, err := p.st.Register(context.Background(), p.occID, who.ID, store.RegistrationDetails{Name: who.Profile.Name}, &store.Notify{By: who.ID}); err != nil {
			p.t.Fatal(err)
		}
	}
	return first, second
}

// deliver runs the deliverer once and returns what arrived meanwhile for to.
func (p *platform) deliver(to string) []smtptest.Received {
	p.t.Helper()
	before := len(p.smtp.Messages())
	if _, failed, err := p.d.DeliverDue(context.Background()); err != nil || failed != 0 {
		p.t.Fatalf("delivery: %d failed, %v", failed, err)
	}
	var out []smtptest.Received
	for _, m := range p.smtp.Messages()[before:] {
		if slices.Contains(m.To, to) {
			out = append(out, m)
		}
	}
	return out
}

// sentICS is the calendar entry the outbox recorded for the newest email to a person.
func (p *platform) sentICS(to string) string {
	p.t.Helper()
	var ics string
	if err := p.st.Pool().QueryRow(context.Background(), `SELECT ics FROM outbox WHERE to_address = $1 AND status = 'sent'
		ORDER BY id DESC LIMIT 1`, to).Scan(&ics); err != nil {
		p.t.Fatal(err)
	}
	return ics
}

func one(t *testing.T, ms []smtptest.Received, what string) smtptest.Received {
	t.Helper()
	if len(ms) != 1 {
		t.Fatalf("%s: %d emails", what, len(ms))
	}
	return ms[0]
}

func has(t *testing.T, m smtptest.Received, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(m.Subject+"\n"+m.Text, w) {
			t.Errorf("email lacks %q:\n%s\n%s", w, m.Subject, m.Text)
		}
	}
}

// An email is rendered when it is delivered, not when it is written: a person who changes
// their language and zone after registering gets the emails still to come in the new ones,
// including one written before the change.
func TestRenderedWhenDelivered(t *testing.T) {
	p := newPlatform(t, 10)
	ctx := context.Background()
	ana := p.person("ana@example.org", domain.Profile{Name: "Ana", Language: "en", TimeZone: "Europe/London"})
	if _, err := p.st.Register(ctx, p.occID, ana.ID, store.RegistrationDetails{Name: "Ana"}, &store.Notify{By: ana.ID, Lang: "en"}); err != nil {
		t.Fatal(err)
	}
	// The outbox holds what happened, not an email.
	box, _ := p.st.Mailbox(ctx, 1)
	if len(box) != 1 || box[0].Kind != "confirmed" || box[0].Text != "" || box[0].Subject != "" {
		t.Fatalf("outbox row: %+v", box)
	}
	// Ana moves to Buenos Aires and now reads Spanish, before the confirmation goes out.
	if _, err := p.st.UpdateProfile(ctx, ana.ID, domain.Profile{Name: "Ana", Language: "es", TimeZone: "America/Argentina/Buenos_Aires"}); err != nil {
		t.Fatal(err)
	}
	m := one(t, p.deliver("ana@example.org"), "confirmation")
	has(t, m, "Inscripción confirmada: Lithium Seminar", "Hola, Ana:", "jueves 4 de junio de 2026, 13:00–14:00 hora de Buenos Aires", "(12:00 Santiago de Chile)")
	// What was sent is what the outbox keeps (the local mailbox shows it).
	if box, _ := p.st.Mailbox(ctx, 1); box[0].Status != "sent" || box[0].Text != m.Text {
		t.Fatalf("sent row: %+v", box[0])
	}
	// Back in London, in English: the organiser moves the session to 14:00 Santiago.
	if _, err := p.st.UpdateProfile(ctx, ana.ID, domain.Profile{Name: "Ana", Language: "en", TimeZone: "Europe/London"}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.st.UpdateOccurrence(ctx, p.occID, func(_ domain.Event, o *domain.Occurrence) error {
		o.StartLocal = o.StartLocal.Add(2 * time.Hour)
		return nil
	}, &store.Notify{}); err != nil {
		t.Fatal(err)
	}
	m = one(t, p.deliver("ana@example.org"), "moved")
	has(t, m, "New time: Lithium Seminar", "Hello Ana,", "Thursday 4 June 2026, 19:00–20:00 London (BST)", "(14:00 Santiago)",
		"Previously: Thursday 4 June 2026, 17:00–18:00")
}

// Only someone with a place gets a calendar entry that says CONFIRMED: nobody waiting or
// awaiting approval does, and a cancelled session comes as a cancellation.
func TestCalendarEntryFollowsThePlace(t *testing.T) {
	p := newPlatform(t, 1)
	ctx := context.Background()
	first, _ := p.firstAndWaiting()
	one(t, p.deliver("first@example.org"), "first: confirmed")
	if ics := p.sentICS("first@example.org"); !strings.Contains(ics, "STATUS:CONFIRMED") || !strings.Contains(ics, "Join: https://") {
		t.Fatalf("the confirmation's calendar entry:\n%s", ics)
	}
	m := one(t, p.smtp.Messages()[1:], "second: waitlisted")
	has(t, m, "Lista de espera: Lithium Seminar", "número 1")
	if strings.Contains(string(m.Data), "text/calendar") || p.sentICS("second@example.org") != "" {
		t.Fatalf("a waitlist email must carry no calendar entry:\n%s", m.Data)
	}
	// The first cancels: the second has the place now, and a confirmed entry in Spanish.
	if _, _, err := p.st.CancelRegistration(ctx, p.occID, first.ID, &store.Notify{By: first.ID}); err != nil {
		t.Fatal(err)
	}
	m = one(t, p.deliver("second@example.org"), "second: promoted")
	has(t, m, "Tienes un lugar")
	if ics := p.sentICS("second@example.org"); !strings.Contains(ics, "STATUS:CONFIRMED") || !strings.Contains(ics, "Entrar: https://") {
		t.Fatalf("the promotion's calendar entry:\n%s", ics)
	}
	// The session is cancelled: a cancellation, in Spanish.
	if _, err := p.st.UpdateOccurrence(ctx, p.occID, func(_ domain.Event, o *domain.Occurrence) error {
		o.Status, o.CancelReason = domain.StatusCancelled, "Huelga"
		return nil
	}, &store.Notify{}); err != nil {
		t.Fatal(err)
	}
	m = one(t, p.deliver("second@example.org"), "second: cancelled")
	has(t, m, "Huelga")
	ics := p.sentICS("second@example.org")
	if !strings.Contains(ics, "STATUS:CANCELLED") || !strings.Contains(ics, "SUMMARY:Cancelada: Lithium Seminar") || strings.Contains(ics, "/join/") {
		t.Fatalf("the cancellation's calendar entry:\n%s", ics)
	}
}

// Sent emails keep their bodies (with personal join and cancel links) only for the
// retention period; then the background sender blanks them. Pending mail is untouched.
func TestOldBodiesBlanked(t *testing.T) {
	p := newPlatform(t, 10)
	ctx := context.Background()
	ana := p.person("ana@example.org", domain.Profile{Name: "Ana", Language: "en", TimeZone: "Europe/London"})
	// A registration by email: the confirmation carries a one-time sign-in link.
	if _, err := p.st.Register(ctx, p.occID, ana.ID, store.RegistrationDetails{Name: "Ana"},
		&store.Notify{By: ana.ID, SignInURL: "https://puente.example.org/sign-in/link?token=secret-token"}); err != nil {
		t.Fatal(err)
	}
	m := one(t, p.deliver("ana@example.org"), "confirmation")
	has(t, m, "/join/", "/registrations/cancel/", "token=secret-token")
	row := func(to string) (text, html, ics, payload string) {
		t.Helper()
		if err := p.st.Pool().QueryRow(ctx, `SELECT text_body, html_body, ics, payload::text FROM outbox WHERE to_address = $1
			ORDER BY id DESC LIMIT 1`, to).Scan(&text, &html, &ics, &payload); err != nil {
			t.Fatal(err)
		}
		return
	}
	// The sign-in link is a secret: gone as soon as it was sent, with the body it was in.
	if text, html, _, payload := row("ana@example.org"); text != "" || html != "" || strings.Contains(payload, "secret-token") {
		t.Fatalf("sent with a sign-in link, still kept: %q %q %q", text, html, payload)
	}
	ben := p.person("ben@example.org", domain.Profile{Name: "Ben", Language: "en", TimeZone: "Europe/London"})
	if _, err := p.st.Register(ctx, p.occID, ben.ID, store.RegistrationDetails{Name: "Ben"}, &store.Notify{By: ben.ID}); err != nil {
		t.Fatal(err)
	}
	one(t, p.deliver("ben@example.org"), "ben's confirmation")
	if text, html, ics, _ := row("ben@example.org"); !strings.Contains(text, "/join/") || html == "" || ics == "" {
		t.Fatalf("a sent email is kept for the retention period: %q", text)
	}
	p.clk.Add(29 * 24 * time.Hour)
	cleo := p.person("cleo@example.org", domain.Profile{Name: "Cleo", Language: "en", TimeZone: "Europe/London"})
	if _, err := p.st.Register(ctx, p.occID, cleo.ID, store.RegistrationDetails{Name: "Cleo"}, &store.Notify{By: cleo.ID}); err != nil {
		t.Fatal(err)
	}
	one(t, p.deliver("cleo@example.org"), "cleo's confirmation")
	// A pending notice, written now (its sending is put off).
	dan := p.person("dan@example.org", domain.Profile{Name: "Dan", Language: "en", TimeZone: "Europe/London"})
	if _, err := p.st.Register(ctx, p.occID, dan.ID, store.RegistrationDetails{Name: "Dan"}, &store.Notify{By: dan.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.st.Pool().Exec(ctx, `UPDATE outbox SET next_attempt_at = $1 WHERE status = 'pending'`, p.clk.Now().Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, err := p.d.DropOldBodies(ctx); err != nil || n != 0 {
		t.Fatalf("29 days on: %d blanked, %v", n, err)
	}
	p.clk.Add(2 * 24 * time.Hour) // 31 days after Ana's and Ben's, 2 after Cleo's
	if n, err := p.d.DropOldBodies(ctx); err != nil || n != 2 {
		t.Fatalf("31 days on: %d blanked, %v", n, err)
	}
	if text, html, ics, _ := row("ben@example.org"); text != "" || html != "" || ics != "" {
		t.Fatalf("after the retention period: %q %q %q", text, html, ics)
	}
	if text, _, _, _ := row("cleo@example.org"); !strings.Contains(text, "/join/") {
		t.Fatalf("a recent email was blanked")
	}
	var pending int
	if err := p.st.Pool().QueryRow(ctx, `SELECT count(*) FROM outbox WHERE status = 'pending' AND bodies_dropped_at IS NULL`).Scan(&pending); err != nil || pending != 1 {
		t.Fatalf("pending rows kept: %d %v", pending, err)
	}
	// Blanked rows are not counted again.
	if n, err := p.d.DropOldBodies(ctx); err != nil || n != 0 {
		t.Fatalf("blanking twice: %d %v", n, err)
	}
}

// A session the series no longer has is deleted with its registrations; the notice about
// it still goes out, from what it froze, with a cancellation for the calendar.
func TestRemovedSessionIsStillTold(t *testing.T) {
	p := newPlatform(t, 10)
	ctx := context.Background()
	ana := p.person("ana@example.org", domain.Profile{Name: "Ana", Language: "es", TimeZone: "Europe/London"})
	e, err := p.st.UpdateEvent(ctx, p.eventID, nil, func(e *domain.Event) error { e.RRule = "FREQ=WEEKLY;COUNT=2"; return nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	occs, err := p.st.Occurrences(ctx, store.OccurrenceFilter{EventID: e.ID})
	if err != nil || len(occs) != 2 {
		t.Fatalf("occurrences: %d %v", len(occs), err)
	}
	second := occs[1].Occurrence.ID
	if _, err := p.st.Register(ctx, second, ana.ID, store.RegistrationDetails{Name: "Ana"}, &store.Notify{By: ana.ID}); err != nil {
		t.Fatal(err)
	}
	one(t, p.deliver("ana@example.org"), "confirmation")
	if _, err := p.st.UpdateEvent(ctx, e.ID, nil, func(e *domain.Event) error { e.RRule = "FREQ=WEEKLY;COUNT=1"; return nil }, &store.Notify{}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.st.OccurrenceByID(ctx, second); err == nil {
		t.Fatalf("the second session is still there")
	}
	m := one(t, p.deliver("ana@example.org"), "removed")
	has(t, m, "Lithium Seminar", "jueves 11 de junio de 2026, 17:00–18:00 Londres (BST)")
	if strings.Contains(m.Text, "/join/") || strings.Contains(m.Text, "/registrations/cancel/") {
		t.Fatalf("links to a session that is gone:\n%s", m.Text)
	}
	if ics := p.sentICS("ana@example.org"); !strings.Contains(ics, "STATUS:CANCELLED") {
		t.Fatalf("the removal's calendar entry:\n%s", ics)
	}
}

// A notice about a place that changed before it was delivered is set aside, not sent: the
// person who is told "you are on the waitlist" after they already got the place would be
// misled (and the old email even showed "number 0" and a join link). The later notice,
// "you have a place", goes.
func TestOutdatedNoticeIsNotSent(t *testing.T) {
	p := newPlatform(t, 1)
	ctx := context.Background()
	first, _ := p.firstAndWaiting()
	// The first cancels before anything was delivered: their confirmation is out of date,
	// and so is the second's waitlist notice.
	if _, _, err := p.st.CancelRegistration(ctx, p.occID, first.ID, &store.Notify{By: first.ID}); err != nil {
		t.Fatal(err)
	}
	if got := p.deliver("first@example.org"); len(got) != 0 {
		t.Fatalf("the cancelled person got %d emails: %s", len(got), got[0].Subject)
	}
	var subjects []string
	for _, m := range p.smtp.Messages() {
		subjects = append(subjects, m.Subject)
	}
	if len(subjects) != 1 || !strings.HasPrefix(subjects[0], "Tienes un lugar") {
		t.Fatalf("sent %q, want only the promotion", subjects)
	}
	var discarded int
	if err := p.st.Pool().QueryRow(ctx, `SELECT count(*) FROM outbox WHERE status = 'discarded' AND text_body = ''`).Scan(&discarded); err != nil {
		t.Fatal(err)
	}
	if discarded != 2 {
		t.Fatalf("%d notices set aside, want 2 (the confirmation and the waitlist notice)", discarded)
	}
}

// A speaker added by address, with no account yet, is told in the language of the event's
// talks and greeted by the name the organisers gave; once they have an account, by it.
func TestSpeakerByAddressIsToldInTheTalksLanguage(t *testing.T) {
	p := newPlatform(t, 0)
	ctx := context.Background()
	if _, err := p.st.UpdateEvent(ctx, p.eventID, nil, func(e *domain.Event) error { e.Language = "es"; return nil }, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := p.st.UpdateOccurrence(ctx, p.occID, func(_ domain.Event, o *domain.Occurrence) error {
		o.Speakers = []domain.Speaker{{Name: "Dra Ana Rojas", Email: "ana.rojas@example.cl"}}
		return nil
	}, &store.Notify{}); err != nil {
		t.Fatal(err)
	}
	m := one(t, p.deliver("ana.rojas@example.cl"), "speaker added")
	has(t, m, "Participas como ponente: Lithium Seminar", "Hola, Dra Ana Rojas:")
}

// The one email of a whole-series registration is a summary in the reader's language and
// zone (how many sessions, when, how many are full) with one link, to the person's page
// of seminars, and no per-session join or cancel links.
func TestEventRegistrationEmail(t *testing.T) {
	p := newPlatform(t, 1)
	ctx := context.Background()
	bea := p.person("bea@example.org", domain.Profile{Name: "Bea", Language: "es", TimeZone: "Europe/London"})
	cai := p.person("cai@example.org", domain.Profile{Name: "Cai", Language: "en", TimeZone: "America/Santiago"})
	for _, who := range []domain.Person{bea, cai} {
		res, err := p.st.RegisterForEvent(ctx, p.eventID, who.ID, store.RegistrationDetails{Name: who.Profile.Name}, &store.Notify{By: who.ID})
		if err != nil || len(res.Sessions) != 1 {
			t.Fatalf("%s: %v %+v", who.Email, err, res)
		}
	}
	url := regexp.MustCompile(`https?://\S+`)
	oneLink := func(m smtptest.Received) {
		t.Helper()
		if got := url.FindAllString(m.Text, -1); len(got) != 1 || !strings.HasSuffix(got[0], notices.MySeminarsPath) {
			t.Errorf("%s: links %q, want one to the page of seminars", m.To, got)
		}
		if strings.Contains(m.Text, "/join/") || strings.Contains(m.Text, "/registrations/cancel/") || strings.Contains(m.HTML, "/join/") {
			t.Errorf("%s: per-session links in the summary", m.To)
		}
	}

	m := one(t, p.deliver("bea@example.org"), "bea")
	has(t, m, "Inscripción confirmada: Lithium Seminar", "Hola, Bea:", "Tienes inscripción en Lithium Seminar: 1 sesión.",
		"jueves 4 de junio de 2026, 17:00–18:00 Londres (BST)", "Tus sesiones: ")
	oneLink(m)

	var toCai []smtptest.Received // delivered in the same pass as bea's
	for _, m := range p.smtp.Messages() {
		if slices.Contains(m.To, "cai@example.org") {
			toCai = append(toCai, m)
		}
	}
	m = one(t, toCai, "cai")
	has(t, m, "Registered: Lithium Seminar", "Hello Cai,", "You are registered for Lithium Seminar: 1 session.",
		"Thursday 4 June 2026, 12:00–13:00", "1 session is full: you are on its waiting list")
	oneLink(m)
}
