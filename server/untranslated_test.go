package server_test

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"golang.org/x/net/html"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/frontend/locales"
	"github.com/puente-org/puente/i18n"
	"github.com/puente-org/puente/mail/smtptest"
	"github.com/puente-org/puente/store"
)

// catalogueTexts reads <lang>.toml as id -> its texts (one, or one per plural form).
func catalogueTexts(t *testing.T, lang string) map[string][]string {
	t.Helper()
	m, err := locales.Messages(lang)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string][]string, len(m))
	for id, forms := range m {
		out[id] = slices.Collect(maps.Values(forms))
	}
	return out
}

var (
	placeholder = regexp.MustCompile(`\{\{.*?\}\}|\{\w+\}`) // {{.Name}}, {{if …}}, {name}
	edgeJunk    = " \t\n.,:;!?()[]·–—-…\"“”'’*|"
)

// englishOnly lists what a reader of lang must never see: every literal run of text in an
// English message (the parts between its placeholders) that no message of lang contains,
// with at least four characters and a letter. Proper names and words both languages share
// ("Puente", "Chat", "CSV") are in lang's catalogue too, so they drop out.
func englishOnly(t *testing.T, lang string) []string {
	t.Helper()
	en, other := catalogueTexts(t, "en"), catalogueTexts(t, lang)
	var all strings.Builder
	for _, texts := range other {
		for _, s := range texts {
			all.WriteString(s + "\n")
		}
	}
	theirs := all.String()
	set := map[string]bool{}
	for _, texts := range en {
		for _, s := range texts {
			for _, frag := range placeholder.Split(s, -1) {
				frag = strings.Trim(frag, edgeJunk)
				if len([]rune(frag)) < 4 || !strings.ContainsFunc(frag, unicode.IsLetter) || strings.Contains(theirs, frag) {
					continue
				}
				set[frag] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for f := range set {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

// finder looks for whole-word occurrences of fragments in text.
type finder []*regexp.Regexp

func newFinder(frags []string) finder {
	f := make(finder, len(frags))
	for i, s := range frags {
		f[i] = regexp.MustCompile(`(?:^|[^\p{L}\p{N}])(` + regexp.QuoteMeta(s) + `)(?:[^\p{L}\p{N}]|$)`)
	}
	return f
}

func (f finder) find(text string) []string {
	var hits []string
	for _, re := range f {
		if m := re.FindStringSubmatch(text); m != nil {
			hits = append(hits, m[1])
		}
	}
	return hits
}

// visibleText is what a person reads on a page: text outside scripts and styles, the
// attributes browsers show or speak (title, placeholder, alt, aria-label, button values),
// and the JSON strings the live room's script shows.
func visibleText(t *testing.T, page string) string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			for _, a := range n.Attr {
				switch {
				case a.Key == "title", a.Key == "placeholder", a.Key == "alt", a.Key == "aria-label",
					a.Key == "value" && n.Data == "input" && slices.Contains([]string{"submit", "button", "reset"}, attr(n, "type")),
					a.Key == "content" && attr(n, "name") == "description":
					b.WriteString(a.Val + "\n")
				}
			}
			if n.Data == "style" || n.Data == "script" && attr(n, "type") != "application/json" {
				return
			}
		}
		if n.Type == html.TextNode {
			b.WriteString(n.Data + "\n")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return b.String()
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// webAddress is a URL in a page's or an email's text.
var webAddress = regexp.MustCompile(`https?://\S+`)

// A page rendered for lang, and the same page rendered in English: the check must find
// English in the English page (or it would pass on anything).
type shown struct {
	name, lang, text, english string
}

func checkTranslated(t *testing.T, pages []shown) {
	t.Helper()
	finders := map[string]finder{}
	for _, p := range pages {
		f, ok := finders[p.lang]
		if !ok {
			f = newFinder(englishOnly(t, p.lang))
			finders[p.lang] = f
		}
		// Addresses are not text to translate ("…/series/x/announcements").
		if hits := f.find(webAddress.ReplaceAllString(p.text, " ")); len(hits) > 0 {
			t.Errorf("%s in %s shows English: %q", p.name, p.lang, hits)
		}
		if p.english != "" && len(f.find(p.english)) == 0 {
			t.Errorf("%s: the check finds no English even in the English page; it checks nothing", p.name)
		}
	}
}

// The main pages, forms (also refused ones, with their errors) and error pages, in Spanish
// and Portuguese, show no text of the English catalogue.
func TestNoEnglishOnPages(t *testing.T) {
	p := newProgEnv(t)
	ctx := context.Background()
	series := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Seminario Litio", "description": "Charlas **litio**.",
		"timezone": "America/Santiago", "start_date": "2026-01-08", "start_time": "12:00", "duration_minutes": 60,
		"rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;COUNT=6", "capacity": 1, "registration": "open", "tags": []string{"litio"}, "language": "es"})
	occs := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%v/occurrences?from=2026-01-01&to=2026-12-31", series["id"]), nil))
	if len(occs) < 3 {
		t.Fatalf("occurrences: %v", occs)
	}
	occ := fmt.Sprint(occs[0]["id"])
	p.must(200, "organiser", "PATCH", "/api/v1/occurrences/"+occ, map[string]any{"title": "Cátodos", "abstract": "Resumo.",
		"speakers": []map[string]any{{"name": "Ana Rojas", "affiliation": "Universidad de Chile"}}})
	p.must(200, "organiser", "PATCH", "/api/v1/occurrences/"+fmt.Sprint(occs[1]["id"]), map[string]any{"status": "cancelled", "reason": "Greve."})
	// Names that are no word of any catalogue ("Attendee" and "Other" would be).
	for role, name := range map[string]string{"attendee": "Ana Rojas", "other": "Bruno Souza", "organiser": "Carla Díaz"} {
		if _, err := p.store.UpdateProfile(ctx, p.ids[role], domain.Profile{Name: name, TimeZone: "Europe/London"}); err != nil {
			t.Fatal(err)
		}
	}
	p.must(201, "attendee", "POST", "/api/v1/occurrences/"+occ+"/registrations", nil)
	p.must(201, "other", "POST", "/api/v1/occurrences/"+occ+"/registrations", nil) // waitlisted: capacity 1
	slug := fmt.Sprint(series["slug"])
	eventID := fmt.Sprint(series["id"])
	p.must(201, "attendee", "POST", "/api/v1/series/"+eventID+"/registrations", nil) // a whole-series registration
	if err := p.store.Follow(ctx, p.ids["other"], int64(series["id"].(float64))); err != nil {
		t.Fatal(err)
	}
	// Recordings of the session: one ready (its page: player, chapters, the organisers'
	// tools), one being prepared (its progress).
	var recID string
	if err := p.store.Pool().QueryRow(ctx, `INSERT INTO recordings (occurrence_id, status, started_at, composed_key, duration_ms, access, created_at, updated_at)
		VALUES ($1, 'ready', $2, 'recordings/x.mp4', 3600000, 'registrants', $2, $2) RETURNING id::text`, occ, p.now).Scan(&recID); err != nil {
		t.Fatal(err)
	}
	if _, err := p.store.Pool().Exec(ctx, `WITH r AS (INSERT INTO recordings (occurrence_id, status, started_at, created_at, updated_at)
		VALUES ($1, 'composing', $2, $2, $2) RETURNING id)
		INSERT INTO recording_jobs (recording_id, status, progress, next_attempt_at, created_at, updated_at) SELECT id, 'running', 0.4, $2, $2, $2 FROM r`,
		occ, p.now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := p.store.FollowTopic(ctx, p.ids["other"], "litio"); err != nil { // listed on My seminars
		t.Fatal(err)
	}
	regID := jsonID(items(t, p.must(200, "organiser", "GET", "/api/v1/occurrences/"+occ+"/registrations", nil))[0])
	announcementID := jsonID(p.must(201, "organiser", "POST", "/api/v1/series/"+eventID+"/announcements",
		map[string]any{"subject": "Aviso", "body": "Sala **B12**.", "audience": "both"}))

	badSeries := url.Values{"title": {"Seminario Litio 2"}, "language": {"es"}, "visibility": {"public"}, "timezone": {"Mars/Olympus"},
		"start_date": {"2026-01-08"}, "start_time": {"15:00"}, "duration_minutes": {"60"}, "repeat": {"weekly"}, "interval": {"2"},
		"weekdays": {"4"}, "ends": {"never"}, "capacity": {"100"}, "registration": {"open"}, "join_window_minutes": {"15"}}

	// render fetches every page as a visitor, an attendee and the organiser, in lang.
	render := func(lang string) map[string]string {
		out := map[string]string{}
		anon := p.browser(lang)
		for _, path := range []string{"/", "/sign-in", "/programme", "/programme?view=calendar&month=2026-01", "/programme?format=x",
			"/series/" + slug + "/announcements", "/series/" + slug + "/announcements/" + announcementID,
			"/programme?q=" + strings.Repeat("x", 201), "/series/" + slug, "/series/" + slug + "/past", "/series/" + slug + "?page=2", "/occurrences/" + occ, "/nowhere", "/topics/litio", "/topics/sin-charlas"} {
			out["visitor "+path] = anon.get(path).body
		}
		anon.get("/sign-in")
		out["visitor sign-in refused"] = anon.post("/sign-in", url.Values{"email": {"not an address"}}).body

		att := p.browser(lang)
		att.signIn("attendee@example.org")
		att.get("/lang/" + lang[:2]) // signed in, pages speak the profile's language: the switch sets it
		for _, path := range []string{"/", "/profile", "/occurrences/" + occ, "/series/" + slug, "/programme", "/organise", "/my-seminars",
			"/topics/litio", "/programme?tag=litio", "/occurrences/" + occ + "/recording"} {
			out["attendee "+path] = att.get(path).body
		}
		oth := p.browser(lang)
		oth.signIn("other@example.org")
		oth.get("/lang/" + lang[:2]) // signed in, pages speak the profile's language: the switch sets it
		out["waitlisted /occurrences/"+occ] = oth.get("/occurrences/" + occ).body
		out["waitlisted /my-seminars"] = oth.get("/my-seminars").body
		out["waitlisted /occurrences/"+occ+"/recording"] = oth.get("/occurrences/" + occ + "/recording").body
		out["waitlisted /recordings/"+recID+"/file"] = oth.get("/recordings/" + recID + "/file").body

		org := p.browser(lang)
		org.signIn("organiser@example.org")
		org.get("/lang/" + lang[:2]) // signed in, pages speak the profile's language: the switch sets it
		for _, path := range []string{"/organise", "/organise/new?kind=series", "/organise/new?kind=conference",
			"/organise/events/" + eventID, "/organise/occurrences/" + occ, "/organise/events/" + eventID + "/occurrences/new",
			"/organise/occurrences/" + occ + "/registrations", "/organise/events/" + eventID + "/registrations", "/series/" + slug,
			"/organise/events/" + eventID + "/announcements", "/occurrences/" + occ + "/recording"} {
			r := org.get(path)
			if r.status != 200 {
				t.Fatalf("%s as organiser: %d", path, r.status)
			}
			out["organiser "+path] = r.body
		}
		org.get("/organise/new?kind=series")
		r := org.post("/organise/new?kind=series", clone(badSeries))
		if r.status != 400 || !strings.Contains(r.body, `id="form-error"`) {
			t.Fatalf("refused series form: %d %s", r.status, strings.Join(strings.Fields(visibleText(t, r.body)), " "))
		}
		out["organiser refused series form"] = r.body
		org.get("/organise/events/" + eventID + "/announcements")
		r = org.post("/organise/events/"+eventID+"/announcements", url.Values{"subject": {"Aviso"}, "body": {"Sala **B12**."},
			"audience": {"both"}, "do": {"preview"}})
		if r.status != 200 || !strings.Contains(r.body, `id="announce-preview"`) {
			t.Fatalf("announcement preview: %d", r.status)
		}
		out["organiser announcement preview"] = r.body
		r = org.post("/organise/events/"+eventID+"/announcements", url.Values{"subject": {"Aviso"}, "body": {""},
			"audience": {"both"}, "do": {"send"}})
		if r.status != 400 || !strings.Contains(r.body, `id="form-error"`) {
			t.Fatalf("refused announcement: %d", r.status)
		}
		out["organiser refused announcement"] = r.body
		org.get("/organise/occurrences/" + occ)
		r = org.post("/organise/occurrences/"+occ, url.Values{"start_date": {"2026-01-08"}, "start_time": {"12:00"}, "duration_minutes": {"an hour"}})
		if r.status != 400 || !strings.Contains(r.body, `id="form-error"`) {
			t.Fatalf("refused occurrence form: %d", r.status)
		}
		out["organiser refused occurrence form"] = r.body
		org.get("/organise/occurrences/" + occ)
		out["organiser refused cancel"] = org.post("/organise/occurrences/"+occ, url.Values{"do": {"cancel"}, "reason": {""}}).body
		org.get("/organise/occurrences/" + occ)
		out["organiser cancel confirmation"] = org.post("/organise/occurrences/"+occ, url.Values{"do": {"cancel"}, "reason": {"Greve."}}).body
		out["organiser cancel confirmation refused"] = org.post("/organise/occurrences/"+occ, url.Values{"do": {"cancel"}, "reason": {"Greve."}, "step": {"confirm"}}).body
		org.get("/organise/occurrences/" + occ + "/registrations")
		out["organiser remove confirmation"] = org.post("/organise/registrations/"+regID+"/remove", url.Values{}).body
		org.get("/occurrences/" + occ + "/recording")
		out["organiser recording delete confirmation"] = org.post("/organise/recordings/"+recID+"/delete", url.Values{}).body
		out["organiser recording settings refused"] = org.post("/organise/events/"+eventID+"/recording-settings", url.Values{"default_access": {"public"}, "retention_days": {"-3"}}).body
		if !strings.Contains(out["organiser recording delete confirmation"], `id="confirm-warning"`) || !strings.Contains(out["organiser recording settings refused"], "3650") {
			t.Fatalf("recording pages: %s", out["organiser recording delete confirmation"])
		}
		if !strings.Contains(out["organiser remove confirmation"], `id="confirm-warning"`) || !strings.Contains(out["organiser cancel confirmation"], `id="confirm-warning"`) {
			t.Fatalf("confirmation pages: %s", out["organiser remove confirmation"])
		}
		return out
	}

	english := render("en")
	var pages []shown
	for _, lang := range []string{"es", "pt-BR,pt;q=0.9"} {
		code := lang[:2]
		for name, body := range render(lang) {
			if !strings.Contains(body, `<html lang="`+code+`"`) {
				t.Errorf("%s asked in %s is not in %s", name, lang, code)
			}
			pages = append(pages, shown{name: name, lang: code, text: visibleText(t, body), english: visibleText(t, english[name])})
		}
	}
	checkTranslated(t, pages)
}

func clone(v url.Values) url.Values {
	c := url.Values{}
	for k, vs := range v {
		c[k] = slices.Clone(vs)
	}
	return c
}

// The registration emails (and the sign-in email), as they arrive over SMTP, are in the
// recipient's language with no text of the English catalogue.
func TestNoEnglishInEmails(t *testing.T) {
	p, smtp := newSMTPProgEnv(t)
	st := p.store
	langOf := map[string]string{"organiser": "", "en": "en", "es": "es", "pt": "pt"}
	zoneOf := map[string]string{"en": "Europe/London", "es": "America/Argentina/Buenos_Aires", "pt": "America/Sao_Paulo"}
	for role, lang := range langOf {
		p.addPerson(role, store.NewPerson{Name: "Ana " + role, IsOrganiser: role == "organiser"})
		if lang != "" {
			if _, err := st.UpdateProfile(context.Background(), p.ids[role], domain.Profile{Name: "Ana " + role, Language: lang, TimeZone: zoneOf[role]}); err != nil {
				t.Fatal(err)
			}
		}
	}
	cat, err := i18n.Load(locales.FS(), locales.Default)
	if err != nil {
		t.Fatal(err)
	}
	wait, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	// expect waits for a new email with the subject id, in role's language.
	taken := map[string]bool{}
	expect := func(role, subject string) smtptest.Received {
		t.Helper()
		want := cat.Localizer(langOf[role]).T(subject, "Title", "Seminario Litio")
		m, err := smtp.WaitForMessage(wait, func(r smtptest.Received) bool {
			return !taken[string(r.Data)] && slices.Contains(r.To, role+"@example.org") && strings.HasPrefix(r.Subject, want)
		})
		taken[string(m.Data)] = true
		if err != nil {
			var got []string
			all, _ := smtp.WaitForMessages(context.Background(), 0)
			for _, r := range all {
				got = append(got, fmt.Sprint(r.To, " ", r.Subject))
			}
			t.Fatalf("no %q email for %s: %v; received %q", want, role, err, got)
		}
		return m
	}

	s := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Seminario Litio", "timezone": "America/Santiago",
		"start_date": "2026-02-05", "start_time": "12:00", "rrule": "FREQ=WEEKLY;COUNT=3", "capacity": 1, "registration": "open"})
	occs := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%v/occurrences?from=2026-02-01&to=2026-03-31", s["id"]), nil))
	first, second := fmt.Sprintf("/api/v1/occurrences/%v", occs[0]["id"]), fmt.Sprintf("/api/v1/occurrences/%v", occs[1]["id"])

	mails := map[string][]smtptest.Received{}
	add := func(role string, m smtptest.Received) { mails[role] = append(mails[role], m) }
	for _, pair := range [][2]string{{"pt", "es"}, {"es", "pt"}, {"en", "pt"}} {
		confirmed, waiting := pair[0], pair[1]
		p.must(201, confirmed, "POST", first+"/registrations", nil)
		add(confirmed, expect(confirmed, "mail.reg.subject_confirmed"))
		p.must(201, waiting, "POST", first+"/registrations", nil)
		add(waiting, expect(waiting, "mail.reg.subject_waitlisted"))
		if code, out := p.call(confirmed, "DELETE", first+"/registrations/me", nil); code/100 != 2 {
			t.Fatalf("cancel: %d %v", code, out)
		}
		add(waiting, expect(waiting, "mail.reg.subject_promoted"))
		if code, out := p.call(waiting, "DELETE", first+"/registrations/me", nil); code/100 != 2 {
			t.Fatalf("cancel: %d %v", code, out)
		}
	}
	p.must(201, "pt", "POST", second+"/registrations", nil)
	add("pt", expect("pt", "mail.reg.subject_confirmed"))
	p.must(201, "es", "POST", second+"/registrations", nil)
	add("es", expect("es", "mail.reg.subject_waitlisted"))
	p.must(200, "organiser", "PATCH", second, map[string]any{"start_time": "13:30"})
	add("pt", expect("pt", "mail.reg.subject_moved"))
	p.must(200, "organiser", "PATCH", second, map[string]any{"status": "cancelled", "reason": "Greve."})
	add("pt", expect("pt", "mail.reg.subject_cancelled"))
	for _, role := range []string{"pt", "es", "en"} {
		p.must(201, role, "POST", fmt.Sprintf("/api/v1/series/%v/registrations", s["id"]), nil)
		add(role, expect(role, "mail.event.subject"))
	}
	// An announcement to the series' registrants, one session's time in it.
	p.must(201, "organiser", "POST", fmt.Sprintf("/api/v1/series/%v/announcements", s["id"]), map[string]any{"subject": "Aviso",
		"body": "Sala **B12**.", "audience": "registrants", "occurrence_id": occs[2]["id"]})
	for _, role := range []string{"pt", "es", "en"} {
		m, err := smtp.WaitForMessage(wait, func(r smtptest.Received) bool {
			return slices.Contains(r.To, role+"@example.org") && r.Subject == "Aviso"
		})
		if err != nil {
			t.Fatalf("no announcement for %s: %v", role, err)
		}
		add(role, m)
	}
	// The sign-in email, asked for from a page in that language.
	for _, lang := range []string{"pt-BR", "es-AR", "en-GB"} {
		b := p.browser(lang)
		b.get("/sign-in")
		to := "new-" + lang[:2] + "@example.org"
		if r := b.post("/sign-in", url.Values{"email": {to}}); r.status != 200 {
			t.Fatalf("sign-in %s: %d", lang, r.status)
		}
		m, err := smtp.WaitForMessage(wait, func(r smtptest.Received) bool { return slices.Contains(r.To, to) })
		if err != nil {
			t.Fatal(err)
		}
		add(lang[:2], m)
	}

	var shownMails []shown
	englishText := ""
	for _, m := range mails["en"] {
		englishText += m.Subject + "\n" + m.Text + "\n" + visibleText(t, m.HTML)
	}
	for _, lang := range []string{"es", "pt"} {
		for i, m := range mails[lang] {
			if m.HTML == "" && m.Text == "" {
				t.Fatalf("%s email %q has no body", lang, m.Subject)
			}
			text := m.Subject + "\n" + m.Text
			if m.HTML != "" {
				text += "\n" + visibleText(t, m.HTML)
			}
			shownMails = append(shownMails, shown{name: fmt.Sprintf("email %d %q", i, m.Subject), lang: lang, text: text, english: englishText})
		}
	}
	if len(shownMails) < 12 {
		t.Fatalf("only %d emails checked", len(shownMails))
	}
	checkTranslated(t, shownMails)
}
