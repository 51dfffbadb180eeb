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
