package server_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
)

// hrefs returns the links of a page whose text (or href) matches, unescaped as a browser reads them.
func hrefs(body, pattern string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`href="(`+pattern+`[^"]*)"`).FindAllStringSubmatch(body, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

// signInFrom follows a "sign in" link as a browser does and completes the sign-in by
// email; it returns where the person lands.
func (c *client) signInFrom(link, email string) string {
	c.e.t.Helper()
	r := c.get(link)
	if r.status != http.StatusOK {
		c.e.t.Fatalf("sign-in page %s: %d", link, r.status)
	}
	m := regexp.MustCompile(`name="next" value="([^"]*)"`).FindStringSubmatch(r.body)
	if m == nil {
		c.e.t.Fatalf("sign-in page %s has no next field", link)
	}
	if r := c.post("/sign-in", url.Values{"email": {email}, "next": {html.UnescapeString(m[1])}}); r.status != http.StatusOK {
		c.e.t.Fatalf("request link: %d", r.status)
	}
	u, _ := url.Parse(c.e.latestLink(email))
	c.get(u.RequestURI())
	r = c.post("/sign-in/link", url.Values{"token": {u.Query().Get("token")}})
	if r.status != http.StatusSeeOther {
		c.e.t.Fatalf("use link: %d", r.status)
	}
	return r.header.Get("Location")
}

// "Sign in to register" and the language switch bring the person back to the page they
// were on, not to the home page (the return path was encoded twice).
func TestReturnPathSurvivesSignInAndLanguageSwitch(t *testing.T) {
	p := newProgEnv(t)
	occAPI := p.oneOccurrence(5, "open")
	occPage := "/occurrences/" + occAPI[len("/api/v1/occurrences/"):]

	// The language switch, from an occurrence page and from a page with a query.
	for _, page := range []string{occPage, "/programme?tag=a%20b&q=x"} {
		b := p.browser("en")
		links := hrefs(b.get(page).body, "/lang/es")
		if len(links) != 1 {
			t.Fatalf("%s: language links %q", page, links)
		}
		r := b.get(links[0])
		if r.status != http.StatusSeeOther || r.header.Get("Location") != page {
			t.Errorf("language switch on %s: %d to %q (link %s)", page, r.status, r.header.Get("Location"), links[0])
		}
	}

	// "Sign in to register" on the occurrence page (the email form's note).
	b := p.browser("en")
	links := hrefs(b.get(occPage).body, "/sign-in\\?")
	var toRegister string
	for _, l := range links {
		if strings.Contains(l, "register") {
			toRegister = l
		}
	}
	if toRegister == "" {
		t.Fatalf("no sign-in-to-register link on %s: %q", occPage, links)
	}
	if got := b.signInFrom(toRegister, "ana@example.org"); got != occPage+"#register" {
		t.Errorf("sign in to register from the occurrence page lands on %q", got)
	}

	// "Sign in to register" on the series page.
	occ := p.must(200, "", "GET", occAPI, nil)
	series := p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%v", occ["series_id"]), nil)
	seriesPage := "/series/" + series["slug"].(string)
	b = p.browser("en")
	links = hrefs(b.get(seriesPage).body, "/sign-in\\?")
	if len(links) == 0 {
		t.Fatalf("no sign-in link on %s", seriesPage)
	}
	for _, l := range links {
		if got := b.signInFrom(l, "bea@example.org"); got != seriesPage {
			t.Errorf("sign in from the series page (%s) lands on %q", l, got)
		}
		b.get(seriesPage) // the signed-in page carries the session's own CSRF token
		b.post("/sign-out", url.Values{})
	}

	// A link made before the fix (encoded twice) still comes back.
	if r := p.browser("en").get("/lang/es?next=%252Foccurrences%252F1%253Fa%253Db"); r.header.Get("Location") != "/occurrences/1?a=b" {
		t.Errorf("doubly encoded next: %q", r.header.Get("Location"))
	}

	// Only local paths: an address elsewhere still goes home.
	for _, next := range []string{"https://evil.example/", "//evil.example/", "/\t/evil.example", "%2F%2Fevil.example"} {
		r := p.browser("en").get("/lang/es?next=" + url.QueryEscape(next))
		if r.header.Get("Location") != "/" {
			t.Errorf("next=%q redirects to %q", next, r.header.Get("Location"))
		}
	}
}

// The join page before the room opens names one instant, not a range ("at 14:45–14:45").
func TestJoinCountdownShowsOneInstant(t *testing.T) {
	p := newProgEnv(t)
	occ := p.oneOccurrence(5, "open") // 5 Feb 2026 15:00 London
	p.must(201, "attendee", "POST", occ+"/registrations", nil)
	box, err := p.store.Mailbox(context.Background(), 10)
	if err != nil || len(box) == 0 {
		t.Fatalf("mailbox: %v %d", err, len(box))
	}
	link := joinLink.FindString(box[0].Text)
	if link == "" {
		t.Fatalf("no join link in %s", box[0].Text)
	}
	u, _ := url.Parse(link)
	for lang, want := range map[string]string{"en": "The live room opens on Thursday 5 February 2026 at 14:",
		"es": "La sala en vivo abre el jueves 5 de febrero de 2026 a las 14:"} {
		r := p.browser(lang).get(u.RequestURI())
		m := regexp.MustCompile(`<p class="notice">([^<]*)</p>`).FindStringSubmatch(r.body)
		if r.status != 200 || m == nil {
			t.Fatalf("join page (%s): %d %s", lang, r.status, r.body)
		}
		text := html.UnescapeString(m[1])
		if !strings.HasPrefix(text, want) || strings.Contains(text, "–") {
			t.Errorf("join page (%s) says %q", lang, text)
		}
		if !strings.Contains(r.body, `id="countdown"`) {
			t.Errorf("join page (%s) has no countdown", lang)
		}
	}
}

// setBrowserZone gives the browser the cookie zone.js sets.
func (c *client) setBrowserZone(zone string) {
	u, _ := url.Parse(c.e.ts.URL)
	c.http.Jar.SetCookies(u, []*http.Cookie{{Name: "puente_tz", Value: url.QueryEscape(zone), Path: "/"}})
}

// newestMail is the newest outbox message to an address.
func (e *env) newestMail(to string) store.MailboxMessage {
	e.t.Helper()
	box, err := e.store.Mailbox(context.Background(), 100)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, m := range box {
		if m.To == to {
			return m
		}
	}
	e.t.Fatalf("no email to %s", to)
	return store.MailboxMessage{}
}

// The person's zone, language and name are saved when first learned (sign-in, a
// registration form), never over what they chose; the profile shows what is saved.
func TestPersonIsLearnedFromSignInAndRegistration(t *testing.T) {
	p := newProgEnv(t)
	ctx := context.Background()
	occAPI := p.oneOccurrence(5, "open") // 5 Feb 2026 15:00 London
	page := "/occurrences/" + occAPI[len("/api/v1/occurrences/"):]

	// Signing in from a Spanish page in a London browser saves both.
	ana := p.browser("es")
	ana.setBrowserZone("Europe/London")
	ana.signIn("ana@example.org")
	person, err := p.store.PersonByEmail(ctx, "ana@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if person.Profile.Language != "es" || person.Profile.TimeZone != "Europe/London" || person.Profile.Name != "" {
		t.Fatalf("after sign-in: %+v", person.Profile)
	}
	prof := ana.get("/profile").body
	if !strings.Contains(prof, "Guardado: Europe/London") || strings.Contains(prof, `placeholder="Europe/London"`) {
		t.Errorf("profile does not show the saved zone honestly:\n%s", prof)
	}

	// The registration form is not prefilled with the address; the name typed is saved
	// and greets in the confirmation.
	r := ana.get(page)
	if strings.Contains(r.body, `value="ana@example.org"`) || !strings.Contains(r.body, `id="reg-name" name="name" maxlength="200" autocomplete="name" value=""`) {
		t.Fatalf("registration form prefilled with the address:\n%s", r.body)
	}
	if r := ana.post(page+"/register", url.Values{"name": {"Ana Pérez"}, "browser_zone": {"Mars/Olympus"}}); r.status != http.StatusSeeOther {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	if person, _ = p.store.PersonByEmail(ctx, "ana@example.org"); person.Profile.Name != "Ana Pérez" || person.Profile.TimeZone != "Europe/London" {
		t.Fatalf("after registering: %+v", person.Profile)
	}
	m := p.newestMail("ana@example.org")
	for _, want := range []string{"Hola, Ana Pérez", "jueves 5 de febrero de 2026, 15:00–16:00 Londres"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("confirmation lacks %q:\n%s", want, m.Text)
		}
	}
	ana.post(page+"/unregister", url.Values{})
	if r := ana.get(page); !strings.Contains(r.body, `value="Ana Pérez"`) {
		t.Errorf("next registration form not prefilled with the saved name")
	}

	// What the person chose is never overwritten by what a browser reports.
	if _, err := p.store.UpdateProfile(ctx, person.ID, domain.Profile{Name: "Ana", Language: "en", TimeZone: "America/Santiago"}); err != nil {
		t.Fatal(err)
	}
	other := p.browser("es")
	other.setBrowserZone("Asia/Tokyo")
	other.signIn("ana@example.org")
	other.get(page)
	other.post(page+"/register", url.Values{"name": {"Someone Else"}, "browser_zone": {"Asia/Tokyo"}})
	if person, _ = p.store.PersonByEmail(ctx, "ana@example.org"); person.Profile != (domain.Profile{Name: "Ana", Language: "en", TimeZone: "America/Santiago"}) {
		t.Errorf("chosen values overwritten: %+v", person.Profile)
	}

	// A zone the browser reports that is not valid is ignored, without an error.
	bad := p.browser("en")
	bad.setBrowserZone("Mars/Olympus")
	bad.signIn("bea@example.org")
	if bea, _ := p.store.PersonByEmail(ctx, "bea@example.org"); bea.Profile.TimeZone != "" || bea.Profile.Language != "en" {
		t.Errorf("invalid browser zone: %+v", bea.Profile)
	}
	if prof := bad.get("/profile").body; !strings.Contains(prof, "Not set yet") {
		t.Errorf("unset zone not shown as unset")
	}
	// A visible field typed wrong still gets a clear error, and the saved value stays.
	if r := bad.post("/profile", url.Values{"time_zone": {"Mars/Olympus"}, "language": {"en"}}); r.status != http.StatusBadRequest || !strings.Contains(r.body, "Mars/Olympus") {
		t.Errorf("typed invalid zone: %d", r.status)
	}

	// Registering by email from a Spanish page in a London browser: a new account starts
	// with that name, language and zone, and the confirmation shows them.
	nueva := p.browser("es")
	nueva.get(page)
	r = nueva.post(page+"/register-by-email", url.Values{"email": {"nueva@example.cl"}, "name": {"Nueva Persona"}, "browser_zone": {"Europe/London"}})
	if r.status != http.StatusOK {
		t.Fatalf("register by email: %d %s", r.status, r.body)
	}
	np, _ := p.store.PersonByEmail(ctx, "nueva@example.cl")
	if np.Profile.Name != "Nueva Persona" || np.Profile.Language != "es" || np.Profile.TimeZone != "Europe/London" {
		t.Errorf("registered by email: %+v", np.Profile)
	}
	m = p.newestMail("nueva@example.cl")
	for _, want := range []string{"Hola, Nueva Persona", "jueves 5 de febrero de 2026, 15:00–16:00 Londres"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("confirmation by email lacks %q:\n%s", want, m.Text)
		}
	}
	// Registering someone else's existing account by email changes nothing of theirs.
	nueva.get(page)
	nueva.post(page+"/register-by-email", url.Values{"email": {"bea@example.org"}, "name": {"Not Bea"}, "browser_zone": {"Asia/Tokyo"}})
	if bea, _ := p.store.PersonByEmail(ctx, "bea@example.org"); bea.Profile.Name != "" || bea.Profile.TimeZone != "" {
		t.Errorf("an unsigned form changed an existing account: %+v", bea.Profile)
	}
}

// The language switch is the signed-in person's choice, for their emails too.
func TestLanguageSwitchIsThePersonsChoice(t *testing.T) {
	p := newProgEnv(t)
	ctx := context.Background()
	b := p.browser("en")
	b.signIn("ana@example.org")
	if ana, _ := p.store.PersonByEmail(ctx, "ana@example.org"); ana.Profile.Language != "en" {
		t.Fatalf("language learned at sign-in: %q", ana.Profile.Language)
	}
	if r := b.get("/lang/es?next=%2Fprofile"); r.status != http.StatusSeeOther || r.header.Get("Location") != "/profile" {
		t.Fatalf("switch: %d %s", r.status, r.header.Get("Location"))
	}
	ana, _ := p.store.PersonByEmail(ctx, "ana@example.org")
	if ana.Profile.Language != "es" {
		t.Fatalf("switching to Spanish left the profile in %q", ana.Profile.Language)
	}
	if r := b.get("/profile"); !strings.Contains(r.body, `<option value="es" selected>`) {
		t.Errorf("profile does not show the chosen language")
	}
	if r := b.get("/lang/xx?next=%2Fprofile"); r.status != http.StatusBadRequest {
		t.Errorf("unknown language: %d", r.status)
	}
	if ana, _ = p.store.PersonByEmail(ctx, "ana@example.org"); ana.Profile.Language != "es" {
		t.Errorf("an unknown language changed the profile: %q", ana.Profile.Language)
	}
}

// Signed in, pages speak the profile's language (as emails do), whatever this browser
// picked while signed out.
func TestSignedInPagesSpeakTheProfilesLanguage(t *testing.T) {
	p := newProgEnv(t)
	b := p.browser("en")
	b.get("/lang/en?next=%2F") // picked on this browser while signed out
	b.signIn("ana@example.org")
	ana, _ := p.store.PersonByEmail(context.Background(), "ana@example.org")
	if _, err := p.store.UpdateProfile(context.Background(), ana.ID, domain.Profile{Language: "es"}); err != nil {
		t.Fatal(err)
	}
	if r := b.get("/profile"); !strings.Contains(r.body, `<html lang="es">`) {
		t.Errorf("signed-in page not in the profile's language")
	}
}

// The zone pickers name each zone's city in the reader's language, beside the IANA name.
func TestZonePickersNameCitiesInTheReadersLanguage(t *testing.T) {
	p := newProgEnv(t)
	b := p.browser("pt-BR")
	b.signIn("ana@example.org")
	b.get("/lang/pt")
	body := b.get("/profile").body
	for _, want := range []string{`value="Europe/London" label="Londres"`, `value="America/New_York" label="Nova York"`} {
		if !strings.Contains(body, want) {
			t.Errorf("profile zone picker lacks %s", want)
		}
	}
	org := p.browser("es")
	org.signIn("organiser@example.org")
	org.get("/lang/es")
	if r := org.get("/organise/new?kind=series"); !strings.Contains(r.body, `value="America/Mexico_City" label="Ciudad de México"`) {
		t.Errorf("event form zone picker without Spanish city names (%d)", r.status)
	}
}
