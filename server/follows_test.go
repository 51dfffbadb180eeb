package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/puente-org/puente/app"
	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/mail"
	"github.com/puente-org/puente/mail/smtptest"
	"github.com/puente-org/puente/server"
	"github.com/puente-org/puente/store"
	"github.com/puente-org/puente/store/pgtest"
)

// movingClock is a clock the test moves forward (the server's, the store's and the
// deliverer's).
type movingClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *movingClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *movingClock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }

// followEnv is the application with a movable clock, delivering over real SMTP to a test
// server, and the use cases at hand to run the follow-updates job as serve does.
type followEnv struct {
	*progEnv
	clock *movingClock
	pool  *pgxpool.Pool
	smtp  *smtptest.Server
	app   *app.App
}

func newFollowEnv(t *testing.T) *followEnv {
	t.Helper()
	clock := &movingClock{now: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	pool := pgtest.New(t)
	st := store.New(pool, clock.Now)
	smtp := smtptest.NewServer(t)
	ts := httptest.NewUnstartedServer(nil)
	ts.Start()
	t.Cleanup(ts.Close)
	opts := server.Options{Store: st, Registry: prometheus.NewRegistry(), Now: clock.Now}
	opts.BaseURL, _ = url.Parse(ts.URL)
	sender, err := mail.NewSMTPSender(smtp.URL(), "Puente <seminarios@example.org>")
	if err != nil {
		t.Fatal(err)
	}
	d := mail.NewDeliverer(mail.DelivererOptions{Outbox: st, Sender: sender, Renderer: newRenderer(t, &opts),
		Poll: time.Hour, Now: clock.Now, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	uc, err := app.New(app.Options{Store: st, Now: clock.Now, MailQueued: d.Wake, LinkKey: opts.LinkKey})
	if err != nil {
		t.Fatal(err)
	}
	opts.App, opts.MailQueued = uc, d.Wake
	srv, err := server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = srv.Handler()
	e := &env{t: t, store: st, ts: ts}
	p := &progEnv{env: e, now: clock.Now(), tokens: map[string]string{}, ids: map[string]int64{}}
	for _, role := range []string{"organiser", "ana", "bob"} {
		p.addPerson(role, store.NewPerson{Name: strings.ToUpper(role[:1]) + role[1:], IsOrganiser: role == "organiser"})
	}
	if _, err := st.UpdateProfile(ctx, p.ids["ana"], domain.Profile{Name: "Ana Rojas", Language: "es", TimeZone: "America/Santiago"}); err != nil {
		t.Fatal(err)
	}
	return &followEnv{progEnv: p, clock: clock, pool: pool, smtp: smtp, app: uc}
}

// signInBySMTP signs a browser in with the link the SMTP server received.
func (f *followEnv) signInBySMTP(c *client, email string) {
	f.t.Helper()
	c.get("/sign-in")
	if r := c.post("/sign-in", url.Values{"email": {email}, "next": {"/profile"}}); r.status != 200 {
		f.t.Fatalf("request link: %d %s", r.status, r.body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := f.smtp.WaitForMessage(ctx, func(m smtptest.Received) bool {
		return len(m.To) == 1 && m.To[0] == email && linkPattern.MatchString(m.Text)
	})
	if err != nil {
		f.t.Fatal(err)
	}
	u, _ := url.Parse(linkPattern.FindString(m.Text))
	c.get(u.RequestURI())
	if r := c.post("/sign-in/link", url.Values{"token": {u.Query().Get("token")}}); r.status != http.StatusSeeOther {
		f.t.Fatalf("confirm link: %d", r.status)
	}
}

// batch runs the follow-updates job at the given time and says how many emails it queued.
func (f *followEnv) batch(at time.Time) int {
	f.t.Helper()
	f.clock.Set(at)
	n, err := f.app.SendFollowUpdates(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

// newsEmails waits for n follow-updates emails to have reached to (and checks there are
// no more than n), oldest first.
func (f *followEnv) newsEmails(to string, n int) []smtptest.Received {
	f.t.Helper()
	news := func() []smtptest.Received {
		var got []smtptest.Received
		for _, m := range f.smtp.Messages() {
			if len(m.To) == 1 && m.To[0] == to && strings.HasPrefix(m.Subject, "Novedades de lo que sigues") {
				got = append(got, m)
			}
		}
		return got
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := f.smtp.WaitForMessage(ctx, func(smtptest.Received) bool { return len(news()) >= n }); err != nil {
		f.t.Fatalf("waiting for %d news emails to %s: %v", n, to, err)
	}
	got := news()
	if len(got) != n {
		f.t.Fatalf("%d news emails to %s, want %d", len(got), to, n)
	}
	return got
}

// queuedNews counts the follow-updates notices in the outbox for a person.
func (f *followEnv) queuedNews(personID int64) int {
	f.t.Helper()
	var n int
	if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox WHERE notice_kind = 'follow_updates'
		AND person_id = $1`, personID).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

func idOf(m map[string]any) string { return fmt.Sprint(int64(m["id"].(float64))) }

// A member follows a series through the API and a topic from its page; three talks and
// their speakers are added in several edits over a day, and a new series with the topic;
// the job sends exactly one email, in Spanish and Santiago times, listing each talk once (a
// talk matched by both follows too; cancelled, removed and unlisted ones not at all); a second run the same day sends nothing; news the next
// day gives one more email; after unfollowing, nothing more comes.
func TestFollowNewsOneEmailADay(t *testing.T) {
	f := newFollowEnv(t)
	day1 := f.clock.Now()
	// Before anyone follows: a series tagged with the topic, with two generated talks, and
	// a conference tagged with it in other letters. Nothing here is news to anyone.
	series := f.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Seminario de Cátodos",
		"timezone": "Europe/London", "start_date": "2026-02-05", "start_time": "15:00", "rrule": "FREQ=WEEKLY;COUNT=2",
		"tags": []string{"Cathode materials"}, "registration": "open"})
	sid := idOf(series)
	conf := f.must(201, "organiser", "POST", "/api/v1/conferences", map[string]any{"title": "Semana del Litio",
		"timezone": "America/Santiago", "start_date": "2026-05-10", "end_date": "2026-05-11", "tags": []string{"CATHODE MATERIALS"}})
	cid := idOf(conf)
	generated := items(t, f.must(200, "", "GET", "/api/v1/series/"+sid+"/occurrences?from=2026-02-01&to=2026-03-01", nil))
	if len(generated) != 2 {
		t.Fatalf("generated talks: %v", generated)
	}

	// Ana follows the series through the API (twice: idempotent) and the topic from its page.
	for range 2 {
		if r := f.must(200, "ana", "POST", "/api/v1/series/"+sid+"/follow", nil); r["following"] != true {
			t.Fatalf("follow: %v", r)
		}
	}
	b := f.browser("es")
	f.signInBySMTP(b, "ana@example.org")
	page := b.get("/topics/cathode%20materials")
	if page.status != 200 || !strings.Contains(page.body, "Seguir este tema") || !strings.Contains(page.body, "Seminario de Cátodos") {
		t.Fatalf("topic page: %d %s", page.status, page.body)
	}
	if r := b.post("/topics/cathode%20materials/follow", url.Values{}); r.status != http.StatusSeeOther ||
		r.header.Get("Location") != "/topics/cathode%20materials" {
		t.Fatalf("follow the topic: %d %s", r.status, r.header.Get("Location"))
	}
	if page := b.get("/topics/cathode%20materials"); !strings.Contains(page.body, "Dejar de seguir este tema") {
		t.Fatal("the topic page does not say Ana follows it")
	}

	// The day's edits.
	f.clock.Set(day1.Add(30 * time.Minute))
	extra := f.must(201, "organiser", "POST", "/api/v1/series/"+sid+"/occurrences", map[string]any{
		"start_date": "2026-02-10", "start_time": "14:00", "duration_minutes": 90, "title": "Sodio frente a litio"})
	f.clock.Set(day1.Add(2 * time.Hour))
	session := f.must(201, "organiser", "POST", "/api/v1/conferences/"+cid+"/sessions", map[string]any{
		"title": "Cátodos monocristalinos", "start_date": "2026-05-10", "start_time": "09:00"})
	f.clock.Set(day1.Add(3 * time.Hour))
	f.must(200, "organiser", "PATCH", "/api/v1/occurrences/"+idOf(extra), map[string]any{
		"speakers": []map[string]any{{"name": "Dra. Ana Pérez", "affiliation": "Universidad de Chile"}}})
	f.clock.Set(day1.Add(4 * time.Hour))
	f.must(200, "organiser", "PATCH", "/api/v1/occurrences/"+idOf(generated[1]), map[string]any{
		"speakers": []map[string]any{{"name": "Prof. John Smith", "affiliation": "Imperial College"}}})
	f.clock.Set(day1.Add(5 * time.Hour))
	f.must(200, "organiser", "PATCH", "/api/v1/occurrences/"+idOf(generated[1]), map[string]any{
		"speakers": []map[string]any{{"name": "Prof. John Smith", "affiliation": "Imperial College"}, {"name": "Dr. Wei Chen"}}})
	dropped := f.must(201, "organiser", "POST", "/api/v1/series/"+sid+"/occurrences", map[string]any{
		"start_date": "2026-02-17", "start_time": "14:00", "title": "Charla que se cancela"})
	removed := f.must(201, "organiser", "POST", "/api/v1/series/"+sid+"/occurrences", map[string]any{
		"start_date": "2026-02-18", "start_time": "14:00", "title": "Charla que se retira"})
	f.clock.Set(day1.Add(6 * time.Hour))
	f.must(200, "organiser", "PATCH", "/api/v1/occurrences/"+idOf(dropped), map[string]any{"status": "cancelled", "reason": "Sin ponente"})
	f.must(204, "organiser", "DELETE", "/api/v1/occurrences/"+idOf(removed), nil)
	// A new series with the topic is news (its one talk); an unlisted one is not.
	f.clock.Set(day1.Add(7 * time.Hour))
	fresh := f.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Ciclo de Electrolitos",
		"timezone": "UTC", "start_date": "2026-03-02", "start_time": "13:00", "tags": []string{"cathode  Materials"}})
	f.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Ciclo Reservado",
		"timezone": "UTC", "start_date": "2026-03-03", "start_time": "13:00", "tags": []string{"cathode materials"}, "visibility": "unlisted"})
	freshTalks := items(t, f.must(200, "", "GET", "/api/v1/series/"+idOf(fresh)+"/occurrences?from=2026-03-01&to=2026-04-01", nil))
	if len(freshTalks) != 1 {
		t.Fatalf("the new series' talks: %v", freshTalks)
	}

	// The batch, at 18:00: one email to Ana; Bob follows nothing and the organiser's own
	// talks are not news to them.
	if n := f.batch(day1.Add(9 * time.Hour)); n != 1 {
		t.Fatalf("the batch queued %d emails, want 1", n)
	}
	m := f.newsEmails("ana@example.org", 1)[0]
	if m.Subject != "Novedades de lo que sigues: 4 charlas" {
		t.Errorf("subject %q", m.Subject)
	}
	for _, want := range []string{"Hola", "Nueva charla: Sodio frente a litio", "Dra. Ana Pérez (Universidad de Chile)",
		"Nueva charla: Cátodos monocristalinos", "Ponentes anunciados: Seminario de Cátodos", "Prof. John Smith (Imperial College), Dr. Wei Chen",
		"/occurrences/" + idOf(extra), "/occurrences/" + idOf(session), "/occurrences/" + idOf(generated[1]), "/series/seminario-de-catodos",
		// 14:00 in London on 10 February is 11:00 in Santiago (summer time there).
		"/occurrences/" + idOf(freshTalks[0]), "== Ciclo de Electrolitos ==",
		"11:00–12:30",
		// 15:00 London on 12 February: 12:00 in Santiago; the conference's 09:00 Santiago stays 09:00.
		"12:00–13:00", "09:00–10:00"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("the email lacks %q:\n%s", want, m.Text)
		}
	}
	for _, talk := range []string{"Sodio frente a litio", "Cátodos monocristalinos"} {
		if c := strings.Count(m.Text, talk); c != 1 {
			t.Errorf("%q appears %d times:\n%s", talk, c, m.Text)
		}
	}
	for _, gone := range []string{"Charla que se cancela", "Charla que se retira", "Ciclo Reservado"} {
		if strings.Contains(m.Text, gone) || strings.Contains(m.HTML, gone) {
			t.Errorf("%q is announced:\n%s", gone, m.Text)
		}
	}
	if !strings.Contains(m.HTML, `href="`+f.ts.URL+`/occurrences/`+idOf(extra)+`"`) || !strings.Contains(m.HTML, `lang="es"`) {
		t.Errorf("the HTML does not link the talk in Spanish:\n%s", m.HTML)
	}
	// It is list mail: the list's headers, set by the renderer for every list notice.
	if !strings.Contains(m.Header.Get("List-Id"), "<follow-updates.") || m.Header.Get("List-Unsubscribe") == "" {
		t.Errorf("list headers: %v", m.Header)
	}
	if f.queuedNews(f.ids["bob"]) != 0 || f.queuedNews(f.ids["organiser"]) != 0 {
		t.Error("news for someone who follows nothing")
	}

	// A second run the same day sends nothing, even with fresh news.
	if n := f.batch(day1.Add(10 * time.Hour)); n != 0 {
		t.Fatalf("a second run queued %d", n)
	}
	f.clock.Set(day1.Add(25 * time.Hour)) // day 2, 10:00
	later := f.must(201, "organiser", "POST", "/api/v1/conferences/"+cid+"/sessions", map[string]any{
		"title": "Reciclaje directo", "start_date": "2026-05-11", "start_time": "10:00"})
	if n := f.batch(day1.Add(27 * time.Hour)); n != 0 {
		t.Fatalf("a run within a day of the last email queued %d", n)
	}
	if f.queuedNews(f.ids["ana"]) != 1 {
		t.Fatal("more than one news email in a day")
	}
	// The next day, once the day since the last is over: one more email, with only the new talk.
	if n := f.batch(day1.Add(33 * time.Hour)); n != 1 {
		t.Fatalf("the next day's batch queued %d, want 1", n)
	}
	second := f.newsEmails("ana@example.org", 2)[1]
	if second.Subject != "Novedades de lo que sigues: 1 charla" || !strings.Contains(second.Text, "Reciclaje directo") ||
		!strings.Contains(second.Text, "/occurrences/"+idOf(later)) || strings.Contains(second.Text, "Sodio frente a litio") {
		t.Errorf("second email %q:\n%s", second.Subject, second.Text)
	}

	// Ana stops following the series (API) and the topic (My seminars): nothing more.
	f.must(200, "ana", "DELETE", "/api/v1/series/"+sid+"/follow", nil)
	f.must(200, "ana", "DELETE", "/api/v1/series/"+sid+"/follow", nil)
	my := b.get("/my-seminars")
	if !strings.Contains(rawSection(t, my.body, "following-topics"), "cathode materials") {
		t.Fatalf("My seminars does not list the topic:\n%s", my.body)
	}
	if r := b.post("/my-seminars/topics/cathode%20materials/unfollow", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("unfollow from My seminars: %d", r.status)
	}
	if sec := rawSection(t, b.get("/my-seminars").body, "following-topics"); strings.Contains(sec, "cathode materials") {
		t.Fatalf("the topic is still listed:\n%s", sec)
	}
	f.clock.Set(day1.Add(50 * time.Hour))
	f.must(201, "organiser", "POST", "/api/v1/series/"+sid+"/occurrences", map[string]any{
		"start_date": "2026-02-24", "start_time": "14:00", "title": "Después de dejar de seguir"})
	f.must(201, "organiser", "POST", "/api/v1/conferences/"+cid+"/sessions", map[string]any{
		"title": "Tampoco esta", "start_date": "2026-05-11", "start_time": "12:00"})
	if n := f.batch(day1.Add(80 * time.Hour)); n != 0 {
		t.Fatalf("news after unfollowing: %d emails", n)
	}
	f.newsEmails("ana@example.org", 2)
}

// The follow API: idempotent both ways, for series, conferences and topics; an unknown or
// unlisted event is 404, a malformed tag 400 with a message a person understands, and a
// signed-out client 401.
func TestFollowAPIRefusals(t *testing.T) {
	p := newProgEnv(t)
	series := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Litio abierto", "timezone": "UTC",
		"start_date": "2026-02-05", "start_time": "15:00", "rrule": "FREQ=WEEKLY;COUNT=2"})
	hidden := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Litio privado", "timezone": "UTC",
		"start_date": "2026-02-05", "start_time": "15:00", "visibility": "unlisted"})
	conf := p.must(201, "organiser", "POST", "/api/v1/conferences", map[string]any{"title": "Congreso", "timezone": "UTC",
		"start_date": "2026-05-10", "end_date": "2026-05-11"})
	sid, hid, cid := idOf(series), idOf(hidden), idOf(conf)

	p.must(404, "attendee", "POST", "/api/v1/series/"+hid+"/follow", nil)
	p.must(404, "attendee", "POST", "/api/v1/series/999999/follow", nil)
	p.must(404, "attendee", "POST", "/api/v1/conferences/"+sid+"/follow", nil) // a series is not a conference
	p.must(401, "", "POST", "/api/v1/series/"+sid+"/follow", nil)
	p.must(401, "", "POST", "/api/v1/topics/recycling/follow", nil)
	if r := p.must(200, "attendee", "POST", "/api/v1/conferences/"+cid+"/follow", nil); r["following"] != true || r["event_id"] != conf["id"] {
		t.Fatalf("follow a conference: %v", r)
	}
	p.must(200, "attendee", "POST", "/api/v1/conferences/"+cid+"/follow", nil)
	followed, err := p.store.Followed(context.Background(), p.ids["attendee"])
	if err != nil || len(followed) != 1 {
		t.Fatalf("followed: %v %v", followed, err)
	}
	if r := p.must(200, "attendee", "DELETE", "/api/v1/conferences/"+cid+"/follow", nil); r["following"] != false {
		t.Fatalf("unfollow: %v", r)
	}
	p.must(200, "attendee", "DELETE", "/api/v1/conferences/"+cid+"/follow", nil)
	if followed, _ := p.store.Followed(context.Background(), p.ids["attendee"]); len(followed) != 0 {
		t.Fatalf("still followed: %v", followed)
	}

	// Topics: case and spaces aside, stored as events are matched.
	if r := p.must(200, "attendee", "POST", "/api/v1/topics/%20Cathode%20%20Materials/follow", nil); r["tag"] != "cathode materials" {
		t.Fatalf("follow a topic: %v", r)
	}
	p.must(200, "attendee", "POST", "/api/v1/topics/cathode%20materials/follow", nil)
	topics, err := p.store.FollowedTopics(context.Background(), p.ids["attendee"])
	if err != nil || len(topics) != 1 || topics[0] != "cathode materials" {
		t.Fatalf("topics: %v %v", topics, err)
	}
	for _, bad := range []string{"%20%20", strings.Repeat("x", 41), "a%00b"} {
		code, out := p.call("attendee", "POST", "/api/v1/topics/"+bad+"/follow", nil)
		e, _ := out["error"].(map[string]any)
		if code != 400 || e["message"] != "A topic must have between 1 and 40 characters." {
			t.Errorf("tag %q: %d %v", bad, code, out)
		}
	}
	p.must(200, "attendee", "DELETE", "/api/v1/topics/Cathode%20Materials/follow", nil)
	if topics, _ := p.store.FollowedTopics(context.Background(), p.ids["attendee"]); len(topics) != 0 {
		t.Fatalf("still following: %v", topics)
	}
}

// Pages: topics link to their page; signed-out visitors who press follow are sent to sign
// in and come back; an unlisted series offers no follow button and refuses a follow.
func TestFollowPages(t *testing.T) {
	p := newProgEnv(t)
	p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Litio abierto", "timezone": "UTC",
		"start_date": "2026-02-05", "start_time": "15:00", "rrule": "FREQ=WEEKLY;COUNT=2", "tags": []string{"Recycling"}})
	hidden := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Litio privado", "timezone": "UTC",
		"start_date": "2026-02-05", "start_time": "15:00", "visibility": "unlisted", "tags": []string{"Recycling"}})

	anon := p.browser("en")
	sp := anon.get("/series/litio-abierto")
	if !strings.Contains(sp.body, `href="/topics/Recycling"`) || !strings.Contains(sp.body, `id="follow-sign-in"`) {
		t.Fatalf("series page for a visitor:\n%s", sp.body)
	}
	tp := anon.get("/topics/Recycling")
	if tp.status != 200 || !strings.Contains(tp.body, "Topic: recycling") || !strings.Contains(tp.body, "Litio abierto") ||
		strings.Contains(tp.body, "Litio privado") || !strings.Contains(tp.body, `href="/sign-in?next=%2ftopics%2fRecycling" id="follow-sign-in"`) {
		t.Fatalf("topic page for a visitor: %d\n%s", tp.status, tp.body)
	}
	// A follow form posted without a session (it ended since the page was loaded) is sent
	// to sign in; the browser has the pre-session CSRF cookie the sign-in form gives.
	anon.get("/sign-in")
	if r := anon.post("/topics/Recycling/follow", url.Values{}); r.status != http.StatusSeeOther ||
		r.header.Get("Location") != "/sign-in?next=%2Ftopics%2Frecycling" {
		t.Fatalf("a visitor following a topic: %d %q", r.status, r.header.Get("Location"))
	}
	sid := fmt.Sprint(int64(p.must(200, "", "GET", "/api/v1/series?limit=10", nil)["items"].([]any)[0].(map[string]any)["id"].(float64)))
	if r := anon.post("/events/"+sid+"/follow", url.Values{}); r.status != http.StatusSeeOther ||
		r.header.Get("Location") != "/sign-in?next=%2Fseries%2Flitio-abierto" {
		t.Fatalf("a visitor following a series: %d %q", r.status, r.header.Get("Location"))
	}
	if pg := anon.get("/programme?tag=Recycling"); !strings.Contains(pg.body, `href="/topics/Recycling"`) {
		t.Fatal("the programme filtered by a topic does not link to the topic's page")
	}
	if r := anon.get("/topics/%20"); r.status != 400 {
		t.Fatalf("a blank topic's page: %d", r.status)
	}

	b := p.browser("en")
	b.signIn("attendee@example.org")
	if hp := b.get("/series/litio-privado"); strings.Contains(hp.body, `id="follow-button"`) {
		t.Fatal("an unlisted series offers to be followed")
	}
	b.get("/series/litio-abierto")
	if r := b.post("/events/"+idOf(hidden)+"/follow", url.Values{}); r.status != 404 {
		t.Fatalf("following an unlisted series from a page: %d", r.status)
	}
	if r := b.post("/events/"+sid+"/follow", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("follow a series: %d", r.status)
	}
	b.get("/topics/recycling")
	if r := b.post("/topics/recycling/follow", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("follow a topic: %d", r.status)
	}
	my := b.get("/my-seminars")
	if !strings.Contains(rawSection(t, my.body, "following"), "Litio abierto") ||
		!strings.Contains(rawSection(t, my.body, "following-topics"), `href="/topics/recycling"`) {
		t.Fatalf("My seminars:\n%s", my.body)
	}
	if r := b.post("/my-seminars/events/"+sid+"/unfollow", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("unfollow: %d", r.status)
	}
	if r := b.post("/my-seminars/topics/recycling/unfollow", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("unfollow a topic: %d", r.status)
	}
	my = b.get("/my-seminars")
	if strings.Contains(rawSection(t, my.body, "following"), "Litio abierto") ||
		!strings.Contains(rawSection(t, my.body, "following-topics"), "You do not follow any topic") {
		t.Fatalf("My seminars after unfollowing:\n%s", my.body)
	}
}

// Several servers running the job at once send each person's batch once.
func TestFollowUpdatesOnceAcrossServers(t *testing.T) {
	f := newFollowEnv(t)
	series := f.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Litio", "timezone": "UTC",
		"start_date": "2026-02-05", "start_time": "15:00"})
	people := f.addPeople(12)
	for _, role := range people {
		f.must(200, role, "POST", "/api/v1/series/"+idOf(series)+"/follow", nil)
	}
	f.must(201, "organiser", "POST", "/api/v1/series/"+idOf(series)+"/occurrences", map[string]any{
		"start_date": "2026-02-10", "start_time": "14:00", "title": "Nueva"})
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 4 {
		st := store.New(f.pool, f.clock.Now) // another server on the same database
		wg.Go(func() {
			n, err := st.SendFollowUpdates(context.Background())
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if total != len(people) {
		t.Fatalf("%d notices queued for %d followers", total, len(people))
	}
	for _, role := range people {
		if n := f.queuedNews(f.ids[role]); n != 1 {
			t.Fatalf("%s has %d notices", role, n)
		}
	}
}

// News not yet sent is dropped with the follow that brought it, but kept while another
// follow still brings it.
func TestUnfollowDropsUnsentNews(t *testing.T) {
	f := newFollowEnv(t)
	series := f.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Litio", "timezone": "UTC",
		"start_date": "2026-02-05", "start_time": "15:00", "tags": []string{"Recycling"}})
	sid := idOf(series)
	for _, role := range []string{"ana", "bob"} {
		f.must(200, role, "POST", "/api/v1/series/"+sid+"/follow", nil)
	}
	f.must(200, "bob", "POST", "/api/v1/topics/recycling/follow", nil)
	f.must(201, "organiser", "POST", "/api/v1/series/"+sid+"/occurrences", map[string]any{
		"start_date": "2026-02-10", "start_time": "14:00", "title": "Nueva"})
	f.must(200, "ana", "DELETE", "/api/v1/series/"+sid+"/follow", nil)
	f.must(200, "bob", "DELETE", "/api/v1/series/"+sid+"/follow", nil) // still follows the topic
	if n := f.batch(f.clock.Now().Add(time.Hour)); n != 1 {
		t.Fatalf("%d emails queued, want Bob's only", n)
	}
	if f.queuedNews(f.ids["ana"]) != 0 || f.queuedNews(f.ids["bob"]) != 1 {
		t.Fatal("news went to the wrong people")
	}
}

// Talks a new rule adds to a followed series are news to its followers; the talks the rule
// keeps are not (they were known), and the hourly extension of the horizon is not news.
func TestFollowNewsOfTalksARuleAdds(t *testing.T) {
	p := newProgEnv(t)
	ctx := context.Background()
	s := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Serie de Salmueras", "timezone": "UTC",
		"start_date": "2026-02-05", "start_time": "15:00", "rrule": "FREQ=WEEKLY;COUNT=2"})
	sid := idOf(s)
	p.must(200, "attendee", "POST", "/api/v1/series/"+sid+"/follow", nil)
	news := func() []int64 {
		t.Helper()
		var ids []int64
		if err := p.store.Pool().QueryRow(ctx, `SELECT coalesce(array_agg(occurrence_id ORDER BY occurrence_id), '{}') FROM follow_news
			WHERE person_id = $1 AND what = 'talk'`, p.ids["attendee"]).Scan(&ids); err != nil {
			t.Fatal(err)
		}
		return ids
	}
	if got := news(); len(got) != 0 {
		t.Fatalf("news before any change: %v", got)
	}
	before := items(t, p.must(200, "", "GET", "/api/v1/series/"+sid+"/occurrences", nil))
	p.must(200, "organiser", "PATCH", "/api/v1/series/"+sid, map[string]any{"rrule": "FREQ=WEEKLY;COUNT=3"})
	after := items(t, p.must(200, "", "GET", "/api/v1/series/"+sid+"/occurrences", nil))
	if len(before) != 2 || len(after) != 3 {
		t.Fatalf("talks before %d, after %d", len(before), len(after))
	}
	got := news()
	if len(got) != 1 || float64(got[0]) != after[2]["id"].(float64) {
		t.Fatalf("news after the rule added a third talk: %v (talks %v)", got, after)
	}
	// A change that keeps the same talks (the title) brings no more news.
	p.must(200, "organiser", "PATCH", "/api/v1/series/"+sid, map[string]any{"title": "Serie de Salmueras (2026)"})
	if again := news(); len(again) != 1 {
		t.Fatalf("news after a title change: %v", again)
	}
	if _, _, err := p.store.ExtendHorizons(ctx, true); err != nil {
		t.Fatal(err)
	}
	if again := news(); len(again) != 1 {
		t.Fatalf("news after extending the horizon: %v", again)
	}
}
