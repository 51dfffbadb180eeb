package server_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/mail/smtptest"
)

// The directory's pages (search, entries, the contact form refused and throttled, the
// profile's directory settings refused, the member counts) speak Spanish and Portuguese
// with no text of the English catalogue.
func TestNoEnglishOnDirectoryPages(t *testing.T) {
	p := newProgEnv(t)
	p.member("ana", domain.Profile{Name: "Ana Rojas", Affiliation: "Universidad de Chile", Country: "CL",
		CareerStage: domain.CareerSenior, TimeZone: "America/Santiago"}, map[string]any{"listed": true,
		"visible": []string{"name", "affiliation", "country", "career_stage", "topics", "looking_for", "bio", "links"},
		"topics":  []string{"litio"}, "looking_for": []string{"collaboration", "exchange_visit", "phd_position", "postdoc_position", "supervision"},
		"orcid": "0000-0002-1694-233X", "website": "https://example.net/ana"})
	p.member("bruno", domain.Profile{Name: "Bruno Souza", Country: "BR"}, map[string]any{"listed": true, "visible": []string{"country"}})
	for range 6 {
		p.member(fmt.Sprint("gb", len(p.ids)), domain.Profile{Name: "Carla Díaz", Country: "GB", CareerStage: domain.CareerStudent}, nil)
	}
	contact := fmt.Sprintf("/directory/%d/contact", p.ids["ana"])
	render := func(lang string) map[string]string {
		out := map[string]string{}
		b := p.browser(lang)
		b.signIn("admin@example.org")
		b.get("/lang/" + lang[:2])
		for _, path := range []string{"/directory", "/directory?q=zzz", contact, "/admin/members", "/profile"} {
			r := b.get(path)
			if r.status != 200 {
				t.Fatalf("%s in %s: %d", path, lang, r.status)
			}
			out[path] = r.body
		}
		b.get("/profile")
		out["refused settings"] = b.post("/profile/directory", url.Values{"orcid": {"1234"}, "website": {"ftp://x"}}).body
		b.get(contact)
		out["refused message"] = b.post(contact, url.Values{"subject": {""}, "body": {"Hola"}}).body
		return out
	}
	flood := func(lang string) string {
		b := p.browser(lang)
		b.signIn("attendee@example.org")
		b.get("/lang/" + lang[:2])
		b.get(contact)
		var last string
		for range domain.ContactsPerHour + 1 {
			last = b.post(contact, url.Values{"subject": {"Hola"}, "body": {"Hola"}}).body
		}
		return last
	}
	english := render("en")
	english["flood"] = flood("en")
	var pages []shown
	for _, lang := range []string{"es", "pt-BR,pt;q=0.9"} {
		got := render(lang)
		got["flood"] = flood(lang)
		for name, body := range got {
			pages = append(pages, shown{name: name, lang: lang[:2], text: visibleText(t, body), english: visibleText(t, english[name])})
		}
		// The next language's flood starts afresh.
		if _, err := p.store.Pool().Exec(context.Background(), `DELETE FROM directory_contacts`); err != nil {
			t.Fatal(err)
		}
	}
	checkTranslated(t, pages)
}

// The relayed email speaks the recipient's language, whatever the sender's.
func TestNoEnglishInDirectoryEmails(t *testing.T) {
	p, smtp := newSMTPProgEnv(t)
	p.member("sender", domain.Profile{Name: "Sofía Rojas", Affiliation: "Universidad de Concepción", Language: "en"}, nil)
	for _, lang := range []string{"en", "es", "pt"} {
		p.member(lang, domain.Profile{Name: "Rodrigo Díaz", Language: lang}, map[string]any{"listed": true})
		p.must(202, "sender", "POST", fmt.Sprintf("/api/v1/directory/%d/messages", p.ids[lang]), map[string]any{"subject": "Litio", "body": "Hola."})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mails := map[string]smtptest.Received{}
	for _, lang := range []string{"en", "es", "pt"} {
		m, err := smtp.WaitForMessage(ctx, func(m smtptest.Received) bool { return slices.Contains(m.To, lang+"@example.org") })
		if err != nil {
			t.Fatal(err)
		}
		mails[lang] = m
	}
	english := mails["en"].Subject + "\n" + mails["en"].Text
	var shownMails []shown
	for _, lang := range []string{"es", "pt"} {
		text := mails[lang].Subject + "\n" + mails[lang].Text
		if !strings.Contains(mails[lang].Header.Get("Reply-To"), "sender@example.org") {
			t.Errorf("%s: Reply-To %q", lang, mails[lang].Header.Get("Reply-To"))
		}
		shownMails = append(shownMails, shown{name: "directory message", lang: lang, text: text, english: english})
	}
	checkTranslated(t, shownMails)
}
