package server_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/puente-org/puente/app"
	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/mail"
	"github.com/puente-org/puente/mail/smtptest"
	"github.com/puente-org/puente/notices"
	"github.com/puente-org/puente/store"
	"github.com/puente-org/puente/store/pgtest"
)

// digestClock is a clock a test moves.
type digestClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *digestClock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *digestClock) set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

// digestEnv is the digest job (the app, as serve runs it every minute) and delivery over
// real SMTP to a server in the test process, on a fresh database with a clock the test moves.
type digestEnv struct {
	t     *testing.T
	ctx   context.Context
	clock *digestClock
	st    *store.Store
	app   *app.App
	d     *mail.Deliverer
	smtp  *smtptest.Server
	org   domain.Person
}

func newDigestEnv(t *testing.T, start time.Time) *digestEnv {
	t.Helper()
	clock := &digestClock{t: start}
	pool := pgtest.New(t)
	st := store.New(pool, clock.now)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	base, _ := url.Parse("https://puente.example.org")
	r, err := notices.New(notices.Options{Source: st, BaseURL: base, LinkKey: key, Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	srv := smtptest.NewServer(t)
	sender, err := mail.NewSMTPSender(srv.URL(), "Puente <seminarios@example.org>")
	if err != nil {
		t.Fatal(err)
	}
	d := mail.NewDeliverer(mail.DelivererOptions{Outbox: st, Sender: sender, Renderer: r, Now: clock.now,
		Logger: slog.New(slog.DiscardHandler)})
	a, err := app.New(app.Options{Store: st, Now: clock.now, LinkKey: key})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	org, err := st.CreatePerson(ctx, store.NewPerson{Email: "org@example.org", Name: "Org", IsOrganiser: true})
	if err != nil {
		t.Fatal(err)
	}
	return &digestEnv{t: t, ctx: ctx, clock: clock, st: st, app: a, d: d, smtp: srv, org: org}
}

// member makes an account with a profile.
func (e *digestEnv) member(email string, prof domain.Profile) domain.Person {
	e.t.Helper()
	p, err := e.st.CreatePerson(e.ctx, store.NewPerson{Email: email})
	if err != nil {
		e.t.Fatal(err)
	}
	if p, err = e.st.UpdateProfile(e.ctx, p.ID, prof); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// series makes a single-session series (its one generated session far after the weeks
// the tests look at) and returns it.
func (e *digestEnv) series(slug, title, zone string, tags ...string) domain.Event {
	e.t.Helper()
	if tags == nil {
		tags = []string{}
	}
	ev, err := e.st.CreateEvent(e.ctx, domain.Event{Kind: domain.KindSeries, Slug: slug, Title: title, Language: "en",
		Visibility: domain.VisibilityPublic, TimeZone: zone, StartDate: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		StartTime: "15:00", Duration: time.Hour, Registration: "open", Tags: tags, Reminders: []int{}}, e.org.ID, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return ev
}

// talk adds a talk with its own title at a wall time of its series' zone.
func (e *digestEnv) talk(ev domain.Event, title string, wall time.Time) domain.Occurrence {
	e.t.Helper()
	l, err := e.st.AddOccurrence(e.ctx, ev.ID, domain.Occurrence{Title: title, StartLocal: wall, Duration: time.Hour,
		Speakers: []domain.Speaker{{Name: "Speaker of " + title}}}, nil)
	if err != nil {
		e.t.Fatalf("talk %q: %v", title, err)
	}
	return l.Occurrence
}

// run runs the digest job at the given instant and delivers what it queued.
func (e *digestEnv) run(at time.Time) int {
	e.t.Helper()
	e.clock.set(at)
	n, err := e.app.SendDigests(e.ctx)
	if err != nil {
		e.t.Fatalf("digests at %v: %v", at, err)
	}
	e.deliver()
	return n
}

func (e *digestEnv) deliver() {
	e.t.Helper()
	if _, failed, err := e.d.DeliverDue(e.ctx); err != nil || failed > 0 {
		e.t.Fatalf("delivery: %d failed, %v", failed, err)
	}
}

// digestsTo are the digests the SMTP server received for an address.
func (e *digestEnv) digestsTo(addr string) []smtptest.Received {
	var out []smtptest.Received
	for _, m := range e.smtp.Messages() {
		for _, to := range m.To {
			if to == addr && strings.Contains(m.Header.Get("List-Id"), "<weekly-digest.") {
				out = append(out, m)
			}
		}
	}
	return out
}

func digestWall(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, time.UTC)
}

// A member in Santiago, in the week Chile puts its clocks forward (Saturday 5 September 2026
// 24:00 becomes Sunday 01:00), gets on Monday 31 August at 08:00 Santiago time, not before,
// a digest of exactly the talks from Monday 31 August 00:00 to Monday 14 September 00:00
// Santiago time, at their Santiago times on either side of the change.
func TestWeeklyDigestAcrossChileanClockChange(t *testing.T) {
	e := newDigestEnv(t, time.Date(2026, 8, 20, 12, 0, 0, 0, time.UTC))
	ctx := e.ctx
	vale := e.member("valentina@example.cl", domain.Profile{Name: "Valentina", Language: "es",
		TimeZone: "America/Santiago", WeeklyDigest: true})
	quiet := e.member("quiet@example.cl", domain.Profile{Language: "es", TimeZone: "America/Santiago", WeeklyDigest: true})
	notAsked := e.member("noasked@example.cl", domain.Profile{Language: "es", TimeZone: "America/Santiago"})
	if !vale.Profile.WeeklyDigest || notAsked.Profile.WeeklyDigest {
		t.Fatalf("opt-in as saved: %v, %v", vale.Profile.WeeklyDigest, notAsked.Profile.WeeklyDigest)
	}

	london := e.series("dle", "Lithium Extraction Seminar", "Europe/London", "dle")
	l1 := e.talk(london, "Brine chemistry", digestWall(2026, 8, 31, 14, 0))          // 13:00Z: 09:00 at -04
	l2 := e.talk(london, "Cancelled talk", digestWall(2026, 9, 3, 14, 0))            // cancelled below
	l3 := e.talk(london, "Direct extraction pilots", digestWall(2026, 9, 10, 14, 0)) // 13:00Z: 10:00 at -03
	e.talk(london, "Too late talk", digestWall(2026, 9, 14, 4, 30))                  // 03:30Z: Monday 14 00:30 in Santiago
	santiago := e.series("reciclaje", "Seminario de Reciclaje", "America/Santiago", "recycling")
	e.talk(santiago, "Antes de la ventana", digestWall(2026, 8, 30, 23, 30))      // 03:30Z on the 31st: Sunday in Santiago
	s1 := e.talk(santiago, "Reciclaje de cátodos", digestWall(2026, 9, 5, 10, 0)) // at -04
	s2 := e.talk(santiago, "Hidrometalurgia", digestWall(2026, 9, 7, 10, 0))      // at -03
	s3 := e.talk(santiago, "Charla de cierre", digestWall(2026, 9, 13, 23, 0))    // 02:00Z on the 14th: just inside
	other := e.series("solar", "Solar Seminar", "Europe/London", "solar")
	e.talk(other, "Unfollowed talk", digestWall(2026, 9, 2, 14, 0))
	quietSeries := e.series("quiet", "Quiet Seminar", "Europe/London")

	if _, err := e.st.UpdateOccurrence(ctx, l2.ID, func(_ domain.Event, o *domain.Occurrence) error {
		o.Status = domain.StatusCancelled
		return nil
	}, &store.Notify{}); err != nil {
		t.Fatal(err)
	}
	// Valentina follows the London series, the topic "recycling" (a tag of the Santiago
	// series) and registered for one Santiago talk: matched twice, listed once.
	for _, f := range []struct{ p, ev int64 }{{vale.ID, london.ID}, {quiet.ID, quietSeries.ID}, {notAsked.ID, london.ID}} {
		if err := e.st.Follow(ctx, f.p, f.ev); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.st.Pool().Exec(ctx, `INSERT INTO topic_follows (person_id, tag, created_at) VALUES ($1, 'recycling', $2)`,
		vale.ID, e.clock.now()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Register(ctx, s2.ID, vale.ID, store.RegistrationDetails{Name: "Valentina"}, &store.Notify{}); err != nil {
		t.Fatal(err)
	}
	e.deliver() // the registration's confirmation
	before := len(e.smtp.Messages())

	// Monday 31 August, 07:59 in Santiago (-04): not yet.
	if n := e.run(time.Date(2026, 8, 31, 11, 59, 0, 0, time.UTC)); n != 0 {
		t.Fatalf("digests queued at 07:59 Santiago time: %d", n)
	}
	// 08:00: Valentina's digest, and nobody else's.
	if n := e.run(time.Date(2026, 8, 31, 12, 0, 0, 0, time.UTC)); n != 1 {
		t.Fatalf("digests queued at 08:00 Santiago time: %d, want 1", n)
	}
	if got := len(e.smtp.Messages()) - before; got != 1 {
		t.Fatalf("emails delivered: %d, want 1", got)
	}
	got := e.digestsTo(vale.Email)
	if len(got) != 1 {
		t.Fatalf("digests to Valentina: %d", len(got))
	}
	msg := got[0]
	if !strings.Contains(msg.Subject, "5 charlas") {
		t.Errorf("subject %q: want the count of talks, in Spanish", msg.Subject)
	}
	text := msg.Text
	// Exactly these talks, in start order, each under its Santiago day, at its Santiago time.
	want := []struct {
		day, line string
		occ       domain.Occurrence
	}{
		{"lunes 31 de agosto de 2026", "09:00–10:00 · Brine chemistry", l1},
		{"sábado 5 de septiembre de 2026", "10:00–11:00 · Reciclaje de cátodos", s1},
		{"lunes 7 de septiembre de 2026", "10:00–11:00 · Hidrometalurgia", s2},
		{"jueves 10 de septiembre de 2026", "10:00–11:00 · Direct extraction pilots", l3},
		{"domingo 13 de septiembre de 2026", "23:00–00:00 · Charla de cierre", s3},
	}
	at := 0
	for _, w := range want {
		block := w.day + "\n\n" + w.line
		i := strings.Index(text[at:], block)
		if i < 0 {
			t.Errorf("digest lacks, after what precedes it, %q:\n%s", block, text)
			continue
		}
		at += i + len(block)
		if link := fmt.Sprintf("https://puente.example.org/occurrences/%d", w.occ.ID); !strings.Contains(text, link) {
			t.Errorf("digest lacks the link %s", link)
		}
		if strings.Count(text, w.line) != 1 {
			t.Errorf("%q appears %d times", w.line, strings.Count(text, w.line))
		}
	}
	for _, absent := range []string{"Cancelled talk", "Too late talk", "Antes de la ventana", "Unfollowed talk", "Quiet Seminar"} {
		if strings.Contains(text, absent) {
			t.Errorf("digest tells %q:\n%s", absent, text)
		}
	}
	for _, s := range []string{"Hola, Valentina:", "14:00 Londres", "Tienes inscripción.", "hora de Santiago",
		"Speaker of Hidrometalurgia", "Lithium Extraction Seminar"} {
		if !strings.Contains(text, s) {
			t.Errorf("digest lacks %q:\n%s", s, text)
		}
	}
	if strings.Count(text, "Tienes inscripción.") != 1 {
		t.Errorf("only the registered talk is marked registered:\n%s", text)
	}
	if msg.Header.Get("List-Unsubscribe-Post") == "" || !strings.Contains(text, "https://puente.example.org/unsubscribe/") {
		t.Errorf("the digest is not a list email with its unsubscribe link: %v\n%s", msg.Header, text)
	}
	if !strings.Contains(msg.HTML, "Charla de cierre") || !strings.Contains(msg.HTML, `lang="es"`) {
		t.Errorf("HTML part: %s", msg.HTML)
	}
	var list string
	if err := e.st.Pool().QueryRow(ctx, `SELECT list_id FROM outbox WHERE notice_kind = 'weekly_digest'`).Scan(&list); err != nil {
		t.Fatal(err)
	}
	if list != string(domain.ListWeeklyDigest) {
		t.Errorf("digest's list = %q", list)
	}

	// The member with nothing to read got none, and neither did the one who did not ask;
	// later runs that Monday send nothing more.
	for _, p := range []domain.Person{quiet, notAsked} {
		if n := len(e.digestsTo(p.Email)); n != 0 {
			t.Errorf("%s got %d digests", p.Email, n)
		}
	}
	for _, at := range []time.Time{time.Date(2026, 8, 31, 12, 1, 0, 0, time.UTC), time.Date(2026, 8, 31, 20, 0, 0, 0, time.UTC)} {
		if n := e.run(at); n != 0 {
			t.Errorf("second run at %v queued %d", at, n)
		}
	}
	if got := len(e.smtp.Messages()) - before; got != 1 {
		t.Errorf("emails after the later runs: %d, want 1", got)
	}
	var weeks int
	if err := e.st.Pool().QueryRow(ctx, `SELECT count(*) FROM weekly_digests WHERE week = '2026-08-31'`).Scan(&weeks); err != nil {
		t.Fatal(err)
	}
	if weeks != 2 { // Valentina's, and the quiet member's week with nothing to tell
		t.Errorf("weeks recorded: %d, want 2", weeks)
	}
}

// A server down all Monday sends no stale digest on Tuesday; one down at 08:00 that comes
// back later that Monday sends it then. The talks are read at delivery: a digest whose only
// talk was cancelled before it went is not sent.
func TestWeeklyDigestCatchUpAndCutOff(t *testing.T) {
	e := newDigestEnv(t, time.Date(2026, 8, 20, 12, 0, 0, 0, time.UTC))
	ana := e.member("ana@example.org", domain.Profile{Language: "en", TimeZone: "Europe/London", WeeklyDigest: true})
	ev := e.series("dle", "Lithium Extraction Seminar", "Europe/London")
	e.talk(ev, "First week talk", digestWall(2026, 9, 2, 14, 0))
	e.talk(ev, "Second week talk", digestWall(2026, 9, 9, 14, 0))
	late := e.talk(ev, "Late talk", digestWall(2026, 9, 16, 14, 0))
	kiri := e.member("kiri@example.nz", domain.Profile{Language: "en", TimeZone: "Pacific/Auckland", WeeklyDigest: true})
	for _, p := range []domain.Person{ana, kiri} {
		if err := e.st.Follow(e.ctx, p.ID, ev.ID); err != nil {
			t.Fatal(err)
		}
	}
	// Down all Monday 31 August: on Tuesday 1 September 10:00 London, nothing.
	if n := e.run(time.Date(2026, 9, 1, 9, 0, 0, 0, time.UTC)); n != 0 {
		t.Fatalf("a week-old digest was queued on Tuesday: %d", n)
	}
	// Sunday 6 September 20:00 UTC is Monday 08:00 in Auckland (+12): Kiri's digest goes,
	// not Ana's (Sunday evening in London).
	if n := e.run(time.Date(2026, 9, 6, 20, 0, 0, 0, time.UTC)); n != 1 || len(e.digestsTo(kiri.Email)) != 1 {
		t.Fatalf("digests queued on Monday morning in Auckland: %d", n)
	}
	// Down at 08:00 on Monday 7 September, back at 15:00: the digest goes then.
	if n := e.run(time.Date(2026, 9, 7, 14, 0, 0, 0, time.UTC)); n != 1 {
		t.Fatalf("digests queued on Monday afternoon: %d, want 1", n)
	}
	got := e.digestsTo(ana.Email)
	if len(got) != 1 {
		t.Fatalf("digests: %d", len(got))
	}
	if text := got[0].Text; !strings.Contains(text, "Second week talk") || !strings.Contains(text, "Late talk") ||
		strings.Contains(text, "First week talk") || !strings.Contains(got[0].Subject, "2 talks") {
		t.Errorf("digest of 7 September (%q):\n%s", got[0].Subject, text)
	}

	// Monday 14 September 08:00 London (19:00 in Auckland): one talk (Late talk) to tell
	// each, but it is cancelled before delivery: nothing goes.
	e.clock.set(time.Date(2026, 9, 14, 7, 0, 0, 0, time.UTC))
	if n, err := e.app.SendDigests(e.ctx); err != nil || n != 2 {
		t.Fatalf("digests queued on 14 September: %d, %v", n, err)
	}
	if _, err := e.st.UpdateOccurrence(e.ctx, late.ID, func(_ domain.Event, o *domain.Occurrence) error {
		o.Status = domain.StatusCancelled
		return nil
	}, &store.Notify{}); err != nil {
		t.Fatal(err)
	}
	e.deliver()
	if a, k := len(e.digestsTo(ana.Email)), len(e.digestsTo(kiri.Email)); a != 1 || k != 1 {
		t.Errorf("digests after the only talk was cancelled before delivery: %d and %d, want still 1 each", a, k)
	}
	var discarded int
	if err := e.st.Pool().QueryRow(e.ctx, `SELECT count(*) FROM outbox WHERE notice_kind = 'weekly_digest'
		AND status = 'discarded'`).Scan(&discarded); err != nil {
		t.Fatal(err)
	}
	if discarded != 2 {
		t.Errorf("emptied digests discarded: %d, want 2", discarded)
	}
}

// Several servers running the job at once queue one digest per member and week.
func TestWeeklyDigestOnceWithSeveralServers(t *testing.T) {
	e := newDigestEnv(t, time.Date(2026, 8, 20, 12, 0, 0, 0, time.UTC))
	ev := e.series("dle", "Lithium Extraction Seminar", "America/La_Paz")
	e.talk(ev, "A talk", digestWall(2026, 9, 2, 10, 0))
	const members = 8
	for i := range members {
		p := e.member(fmt.Sprintf("m%d@example.org", i), domain.Profile{TimeZone: "America/La_Paz", WeeklyDigest: true})
		if err := e.st.Follow(e.ctx, p.ID, ev.ID); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.set(time.Date(2026, 8, 31, 12, 30, 0, 0, time.UTC)) // 08:30 in La Paz
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := store.New(e.st.Pool(), e.clock.now) // another server, the same database
			n, err := st.SendDigests(e.ctx)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	var rows int
	if err := e.st.Pool().QueryRow(e.ctx, `SELECT count(*) FROM outbox WHERE notice_kind = 'weekly_digest'`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != members || total != members {
		t.Errorf("digests queued: %d rows, %d counted; want %d", rows, total, members)
	}
	// The mail server was unreachable until Wednesday: the digests are dropped, not sent late.
	e.clock.set(time.Date(2026, 9, 2, 4, 1, 0, 0, time.UTC)) // Wednesday 00:01 in La Paz
	e.deliver()
	if got := len(e.smtp.Messages()); got != 0 {
		t.Errorf("digests delivered on Wednesday: %d", got)
	}
	var discarded int
	if err := e.st.Pool().QueryRow(e.ctx, `SELECT count(*) FROM outbox WHERE notice_kind = 'weekly_digest'
		AND status = 'discarded'`).Scan(&discarded); err != nil || discarded != members {
		t.Errorf("digests discarded on Wednesday: %d, %v", discarded, err)
	}
}

// A member asks for the digest on the profile page or through the API, and stops it there;
// a one-click unsubscribe from the digest shows as stopped, and asking again undoes it.
func TestWeeklyDigestOptIn(t *testing.T) {
	e := newEnv(t)
	b := e.browser("en")
	b.signIn("ana@example.org")
	checkbox := regexp.MustCompile(`<input type="checkbox" id="weekly_digest" name="weekly_digest" value="on"[^>]*>`)
	checked := func() bool {
		t.Helper()
		m := checkbox.FindString(b.get("/profile").body)
		if m == "" {
			t.Fatal("the profile page has no digest checkbox")
		}
		return strings.Contains(m, " checked")
	}
	if checked() {
		t.Fatal("the digest is on before anyone asked")
	}
	form := url.Values{"name": {"Ana"}, "language": {"en"}, "time_zone": {"Europe/London"}, "weekly_digest": {"on"}}
	if r := b.post("/profile", form); r.status != http.StatusSeeOther {
		t.Fatalf("save profile: %d %s", r.status, r.body)
	}
	if !checked() {
		t.Error("the digest is not on after ticking it")
	}
	p, err := e.store.PersonByEmail(context.Background(), "ana@example.org")
	if err != nil || !p.Profile.WeeklyDigest {
		t.Fatalf("stored: %+v, %v", p.Profile, err)
	}

	r := b.post("/profile/tokens", url.Values{"name": {"script"}})
	m := regexp.MustCompile(`id="new-token" class="secret">(pat_[A-Za-z0-9_\-]+)<`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no token shown: %s", r.body)
	}
	api := e.browser("")
	hdr := map[string]string{"Authorization": "Bearer " + m[1], "Content-Type": "application/json"}
	me := func() map[string]any { return apiJSON(t, api.do("GET", "/api/v1/me", nil, hdr)) }
	if me()["weekly_digest"] != true {
		t.Errorf("GET /me: %v", me())
	}
	if r := api.do("PATCH", "/api/v1/me", strings.NewReader(`{"affiliation":"Imperial"}`), hdr); apiJSON(t, r)["weekly_digest"] != true {
		t.Errorf("a PATCH without weekly_digest changed it: %s", r.body)
	}
	// A one-click unsubscribe (the list's opt-out) shows as the digest stopped.
	if err := e.store.SetMailPreferences(context.Background(), p.ID, nil, []domain.MailList{domain.ListWeeklyDigest}); err != nil {
		t.Fatal(err)
	}
	if me()["weekly_digest"] != false || checked() {
		t.Error("the digest still shows as on after unsubscribing")
	}
	r = api.do("PATCH", "/api/v1/me", strings.NewReader(`{"weekly_digest":true}`), hdr)
	if r.status != 200 || apiJSON(t, r)["weekly_digest"] != true {
		t.Fatalf("PATCH weekly_digest true: %d %s", r.status, r.body)
	}
	var optouts int
	if err := e.store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM list_optouts WHERE person_id = $1`, p.ID).Scan(&optouts); err != nil || optouts != 0 {
		t.Errorf("opt-outs after asking again: %d, %v", optouts, err)
	}
	r = api.do("PATCH", "/api/v1/me", strings.NewReader(`{"weekly_digest":"yes"}`), hdr)
	if r.status != http.StatusBadRequest || fieldOf(apiJSON(t, r)) != "weekly_digest" {
		t.Errorf("PATCH weekly_digest \"yes\": %d %s", r.status, r.body)
	}
	// Unticking it on the profile page stops it.
	delete(form, "weekly_digest")
	if r := b.post("/profile", form); r.status != http.StatusSeeOther {
		t.Fatalf("save profile: %d %s", r.status, r.body)
	}
	if checked() || me()["weekly_digest"] != false {
		t.Error("the digest is still on after unticking it")
	}
}
