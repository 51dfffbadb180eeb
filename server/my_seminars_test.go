package server_test

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/puente-org/puente/domain"
)

// rawSection is the HTML of the element with id, up to its </section>.
func rawSection(t *testing.T, body, id string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<section[^>]* id="` + id + `".*?</section>`).FindString(body)
	if m == "" {
		t.Fatalf("no section #%s in the page:\n%s", id, body)
	}
	return m
}

// itemOf is the HTML of the list item with id in a section.
func itemOf(t *testing.T, sec, id string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<li[^>]* id="` + id + `".*?</li>`).FindString(sec)
	if m == "" {
		t.Fatalf("no item #%s in:\n%s", id, sec)
	}
	return m
}

// mySeminarsEnv: a series (capacity 1, three Thursdays at 15:00 London) where "other"
// holds the first session's place, so the attendee waits for it and has a place in the
// second; a conference the attendee registered for as a whole; a series they follow. The
// attendee reads in Spanish, in Santiago.
type mySeminarsEnv struct {
	*progEnv
	first, second, conf, followed string // ids
}

func newMySeminarsEnv(t *testing.T) mySeminarsEnv {
	t.Helper()
	p := newProgEnv(t)
	ctx := context.Background()
	if _, err := p.store.UpdateProfile(ctx, p.ids["attendee"], domain.Profile{Name: "Ana Rojas", Language: "es", TimeZone: "America/Santiago"}); err != nil {
		t.Fatal(err)
	}
	s := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Seminario Litio", "timezone": "Europe/London",
		"start_date": "2026-02-05", "start_time": "15:00", "rrule": "FREQ=WEEKLY;COUNT=3", "capacity": 1, "registration": "open"})
	occs := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%v/occurrences?from=2026-02-01&to=2026-03-31", s["id"]), nil))
	e := mySeminarsEnv{progEnv: p, first: fmt.Sprint(occs[0]["id"]), second: fmt.Sprint(occs[1]["id"])}
	p.must(201, "other", "POST", "/api/v1/occurrences/"+e.first+"/registrations", nil)
	if r := p.must(201, "attendee", "POST", "/api/v1/occurrences/"+e.first+"/registrations", nil); r["status"] != "waitlisted" {
		t.Fatalf("the attendee should wait: %v", r)
	}
	p.must(201, "attendee", "POST", "/api/v1/occurrences/"+e.second+"/registrations", nil)
	conf := p.must(201, "organiser", "POST", "/api/v1/conferences", map[string]any{"title": "Semana del Litio",
		"timezone": "America/Santiago", "start_date": "2026-05-10", "end_date": "2026-05-11"})
	e.conf = fmt.Sprint(conf["id"])
	p.must(201, "organiser", "POST", "/api/v1/conferences/"+e.conf+"/sessions", map[string]any{"title": "Cátodos", "start_date": "2026-05-10", "start_time": "09:00"})
	p.must(201, "attendee", "POST", "/api/v1/conferences/"+e.conf+"/registrations", nil)
	f := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Reciclaje de Baterías", "timezone": "UTC",
		"start_date": "2026-03-03", "start_time": "14:00", "rrule": "FREQ=MONTHLY;COUNT=2"})
	e.followed = fmt.Sprint(f["id"])
	if err := p.store.Follow(ctx, p.ids["attendee"], int64(f["id"].(float64))); err != nil {
		t.Fatal(err)
	}
	return e
}

// My seminars lists each kind of item with its action, at the reader's times and in their
// language (Spanish, then Portuguese).
func TestMySeminarsListsEachKindWithItsAction(t *testing.T) {
	e := newMySeminarsEnv(t)
	b := e.browser("en")
	b.signIn("attendee@example.org")
	r := b.get("/my-seminars")
	if r.status != 200 || !strings.Contains(r.body, `<html lang="es"`) || !strings.Contains(r.body, "<h1>Mis seminarios</h1>") {
		t.Fatalf("my seminars: %d %s", r.status, r.body)
	}
	registered := rawSection(t, r.body, "registered")
	second := itemOf(t, registered, "occurrence-"+e.second)
	// 12 February 2026, 15:00 London = 12:00 Santiago (summer time there, -03).
	for _, want := range []string{"jueves 12 de febrero de 2026", "12:00–13:00", "Santiago", "15:00 Londres", `data-status="confirmed"`,
		`action="/my-seminars/occurrences/` + e.second + `/cancel"`, `data-action="cancel"`, "Cancelar mi inscripción"} {
		if !strings.Contains(second, want) {
			t.Errorf("registered session lacks %q:\n%s", want, second)
		}
	}
	if strings.Contains(registered, "occurrence-"+e.first) {
		t.Errorf("the session waited for is listed as registered")
	}
	waiting := itemOf(t, rawSection(t, r.body, "waiting"), "occurrence-"+e.first)
	for _, want := range []string{"jueves 5 de febrero de 2026", "Número 1 en la lista de espera", `data-action="leave-waitlist"`, "Salir de la lista de espera"} {
		if !strings.Contains(waiting, want) {
			t.Errorf("waiting session lacks %q:\n%s", want, waiting)
		}
	}
	whole := itemOf(t, rawSection(t, r.body, "whole"), "whole-"+e.conf)
	if !strings.Contains(whole, "Semana del Litio") || !strings.Contains(whole, `action="/my-seminars/events/`+e.conf+`/cancel"`) ||
		!strings.Contains(whole, "Cancelar todas mis inscripciones") {
		t.Errorf("whole registration:\n%s", whole)
	}
	// The conference's session is listed too, at 09:00 Santiago.
	if !strings.Contains(registered, "Cátodos") || !strings.Contains(registered, "09:00–10:00") {
		t.Errorf("the conference's session is not listed:\n%s", registered)
	}
	follow := itemOf(t, rawSection(t, r.body, "following"), "follow-"+e.followed)
	if !strings.Contains(follow, "Reciclaje de Baterías") || !strings.Contains(follow, `action="/my-seminars/events/`+e.followed+`/unfollow"`) ||
		!strings.Contains(follow, "Dejar de seguir") {
		t.Errorf("followed series:\n%s", follow)
	}
	feed := rawSection(t, r.body, "calendar")
	if !strings.Contains(feed, "/feeds/personal/") || !strings.Contains(feed, "webcal://") || !strings.Contains(feed, "Añadir a tu calendario") {
		t.Errorf("no personal feed to subscribe to:\n%s", feed)
	}
	feedURL := regexp.MustCompile(`value="(http[^"]+/feeds/personal/[^"]+\.ics)"`).FindStringSubmatch(feed)
	if feedURL == nil {
		t.Fatalf("no feed address in:\n%s", feed)
	}
	u, _ := url.Parse(feedURL[1])
	if ics := e.browser("").get(u.Path); ics.status != 200 || !strings.Contains(ics.body, "Reciclaje de Baterías") || !strings.Contains(ics.body, "Cátodos") {
		t.Fatalf("the feed on the page does not list what is on it: %d", ics.status)
	}

	// In Portuguese.
	if _, err := e.store.UpdateProfile(context.Background(), e.ids["attendee"], domain.Profile{Name: "Ana Rojas", Language: "pt", TimeZone: "America/Sao_Paulo"}); err != nil {
		t.Fatal(err)
	}
	r = b.get("/my-seminars")
	for _, want := range []string{`<html lang="pt"`, "Meus seminários", "Número 1 na lista de espera", "Sair da lista de espera",
		"Cancelar minha inscrição", "Cancelar todas as minhas inscrições", "Deixar de seguir", "quinta-feira, 12 de fevereiro de 2026", "12:00–13:00</time> <span class=\"other\">horário de São Paulo"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("Portuguese page lacks %q", want)
		}
	}

	// Each action, from the page.
	steps := []struct{ path, section, item, flash string }{
		{"/my-seminars/occurrences/" + e.first + "/cancel", "waiting", "occurrence-" + e.first, "Você saiu da lista de espera."},
		{"/my-seminars/events/" + e.followed + "/unfollow", "following", "follow-" + e.followed, ""},
		{"/my-seminars/events/" + e.conf + "/cancel", "whole", "whole-" + e.conf, ""},
		{"/my-seminars/occurrences/" + e.second + "/cancel", "registered", "occurrence-" + e.second, ""},
	}
	for _, st := range steps {
		form := url.Values{}
		if st.section == "waiting" {
			form.Set("was", "waitlisted")
		}
		if r := b.post(st.path, form); r.status != 303 || r.header.Get("Location") != "/my-seminars" {
			t.Fatalf("%s: %d %s", st.path, r.status, r.body)
		}
		page := b.get("/my-seminars")
		if st.flash != "" && !strings.Contains(page.body, st.flash) {
			t.Errorf("%s: no %q", st.path, st.flash)
		}
		if strings.Contains(rawSection(t, page.body, st.section), `id="`+st.item+`"`) {
			t.Errorf("%s: %s still listed", st.path, st.item)
		}
	}
	mine := items(t, e.must(200, "attendee", "GET", "/api/v1/me/registrations", nil))
	for _, reg := range mine {
		if reg["status"] != "cancelled" {
			t.Errorf("after cancelling everything: %v", reg)
		}
	}
	// The place the attendee waited for is still the other person's.
	if others := items(t, e.must(200, "other", "GET", "/api/v1/me/registrations", nil)); len(others) != 1 || others[0]["status"] != "confirmed" {
		t.Errorf("the other person's registration: %v", others)
	}
	page := b.get("/my-seminars")
	for _, empty := range []string{"Você não tem vaga", "Você não está em nenhuma lista de espera", "Você não se inscreveu", "Você não segue"} {
		if !strings.Contains(page.body, empty) {
			t.Errorf("emptied page lacks %q", empty)
		}
	}
}

// Nobody sees or acts on another person's seminars: the page is the reader's own, and the
// actions take only the reader's own registrations and follows.
func TestMySeminarsArePrivate(t *testing.T) {
	e := newMySeminarsEnv(t)
	if r := e.browser("en").get("/my-seminars"); r.status != 303 || !strings.HasPrefix(r.header.Get("Location"), "/sign-in") {
		t.Fatalf("signed out: %d %s", r.status, r.header.Get("Location"))
	}
	b := e.browser("en")
	b.signIn("other@example.org")
	r := b.get("/my-seminars")
	if r.status != 200 {
		t.Fatalf("other's page: %d", r.status)
	}
	for _, not := range []string{"occurrence-" + e.second, "whole-" + e.conf, "follow-" + e.followed, "Semana del Litio", "Reciclaje"} {
		if strings.Contains(r.body, not) {
			t.Errorf("another person's page shows %q", not)
		}
	}
	if !strings.Contains(itemOf(t, rawSection(t, r.body, "registered"), "occurrence-"+e.first), `data-status="confirmed"`) {
		t.Errorf("other's own place is not listed")
	}
	// Acting on the attendee's items changes nothing of theirs.
	for _, path := range []string{"/my-seminars/occurrences/" + e.second + "/cancel", "/my-seminars/events/" + e.conf + "/cancel"} {
		if r := b.post(path, url.Values{}); r.status != 404 {
			t.Errorf("%s as someone not registered: %d", path, r.status)
		}
	}
	b.post("/my-seminars/events/"+e.followed+"/unfollow", url.Values{})
	followed, err := e.store.Followed(context.Background(), e.ids["attendee"])
	if err != nil || len(followed) != 1 {
		t.Errorf("the attendee's follow: %v %v", followed, err)
	}
	mine := items(t, e.must(200, "attendee", "GET", "/api/v1/me/registrations", nil))
	statuses := map[string]int{}
	for _, reg := range mine {
		statuses[fmt.Sprint(reg["status"])]++
	}
	if statuses["confirmed"] != 2 || statuses["waitlisted"] != 1 {
		t.Errorf("the attendee's registrations changed: %v", statuses)
	}
	// Without the form's token nothing happens either.
	if r := b.do("POST", "/my-seminars/occurrences/"+e.first+"/cancel", strings.NewReader(""),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); r.status != 403 {
		t.Errorf("without CSRF: %d", r.status)
	}
}

// A session in its join window offers "Join now" on My seminars; one later does not.
func TestMySeminarsJoinWhenLive(t *testing.T) {
	p := newProgEnv(t) // the clock: 2026-01-01 09:00 UTC
	s := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Morning Talk", "timezone": "UTC",
		"start_date": "2026-01-01", "start_time": "09:10", "rrule": "FREQ=WEEKLY;COUNT=2"})
	occs := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%v/occurrences?from=2026-01-01&to=2026-01-31", s["id"]), nil))
	for _, o := range occs {
		p.must(201, "attendee", "POST", fmt.Sprintf("/api/v1/occurrences/%v/registrations", o["id"]), nil)
	}
	b := p.browser("en")
	b.signIn("attendee@example.org")
	sec := rawSection(t, b.get("/my-seminars").body, "registered")
	now, later := itemOf(t, sec, fmt.Sprint("occurrence-", occs[0]["id"])), itemOf(t, sec, fmt.Sprint("occurrence-", occs[1]["id"]))
	if !strings.Contains(now, fmt.Sprintf(`href="/occurrences/%v/room" data-action="join"`, occs[0]["id"])) || !strings.Contains(now, "Live now") {
		t.Errorf("the live session offers no join:\n%s", now)
	}
	if strings.Contains(later, `data-action="join"`) {
		t.Errorf("next week's session offers a join already:\n%s", later)
	}
	if r := b.get(fmt.Sprintf("/occurrences/%v/room", occs[0]["id"])); r.status != 200 || !strings.Contains(r.body, `data-state="open"`) {
		t.Errorf("the join link does not open the room: %d", r.status)
	}
}
