package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/frontend"
	"github.com/puente-org/puente/i18n"
	"github.com/puente-org/puente/mail/smtptest"
	"github.com/puente-org/puente/server"
	"github.com/puente-org/puente/store"
)

// member adds a person with a profile and, when entry is given, a directory entry set
// through the API (PATCH /api/v1/me), as its owner would.
func (p *progEnv) member(role string, prof domain.Profile, entry map[string]any) {
	p.t.Helper()
	p.addPerson(role, store.NewPerson{Name: prof.Name})
	if _, err := p.store.UpdateProfile(context.Background(), p.ids[role], prof); err != nil {
		p.t.Fatal(err)
	}
	if entry != nil {
		p.must(200, role, "PATCH", "/api/v1/me", map[string]any{"directory": entry})
	}
}

// rawGet is an API GET's raw answer, to look for what must not be in it.
func (p *progEnv) rawGet(role, path string) (int, string) {
	p.t.Helper()
	code, raw := p.send(role, "GET", path, nil)
	return code, string(raw)
}

func directoryIDs(t *testing.T, p *progEnv, query string) []int64 {
	t.Helper()
	code, raw := p.rawGet("attendee", "/api/v1/directory"+query)
	if code != 200 {
		t.Fatalf("directory%s: %d %s", query, code, raw)
	}
	if strings.Contains(raw, "@example.org") {
		t.Errorf("directory%s shows an address: %s", query, raw)
	}
	var out struct {
		Items []struct {
			ID int64 `json:"id"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		t.Fatal(err)
	}
	ids := []int64{}
	for _, it := range out.Items {
		ids = append(ids, it.ID)
	}
	return ids
}

// The directory shows only the people who opted in, only the fields each chose to show,
// and never an address; words and filters reach only shown fields.
func TestDirectoryShowsOnlyOptedInFields(t *testing.T) {
	p := newProgEnv(t)
	p.member("ana", domain.Profile{Name: "Ana Pérez", Affiliation: "Universidad de Chile", Country: "CL",
		CareerStage: domain.CareerSenior}, map[string]any{"listed": true,
		"visible": []string{"name", "affiliation", "topics", "links"},
		"topics":  []string{"Extracción directa de litio", "Recycling"}, "looking_for": []string{"collaboration"},
		"bio": "A secret biography", "orcid": "https://orcid.org/0000-0002-1694-233X", "website": "https://example.net/ana"})
	p.member("bruno", domain.Profile{Name: "Bruno Hidden", Affiliation: "USP", Country: "BR",
		CareerStage: domain.CareerEarly}, map[string]any{"listed": true,
		"visible": []string{"country", "career_stage", "looking_for"}, "looking_for": []string{"phd_position"},
		"topics": []string{"cathodes"}})
	p.member("carla", domain.Profile{Name: "Carla Unlisted", Country: "AR"}, map[string]any{"listed": false,
		"visible": []string{"name", "affiliation", "country", "career_stage", "topics", "looking_for", "bio", "links"},
		"topics":  []string{"recycling"}})
	p.member("dora", domain.Profile{Name: "Dora Never"}, nil)
	ana, bruno := p.ids["ana"], p.ids["bruno"]

	code, raw := p.rawGet("attendee", "/api/v1/directory")
	if code != 200 {
		t.Fatalf("directory: %d %s", code, raw)
	}
	for _, hidden := range []string{"@example.org", "Carla", "Dora", "Bruno Hidden", "USP", "secret", "senior", `"CL"`, "cathodes"} {
		if strings.Contains(raw, hidden) {
			t.Errorf("the directory shows %q: %s", hidden, raw)
		}
	}
	var out struct{ Items []map[string]any }
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Items) != 2 {
		t.Fatalf("items: %v", out.Items)
	}
	byID := map[float64]map[string]any{}
	for _, it := range out.Items {
		byID[it["id"].(float64)] = it
	}
	a, b := byID[float64(ana)], byID[float64(bruno)]
	if a["name"] != "Ana Pérez" || a["affiliation"] != "Universidad de Chile" || a["orcid"] != "0000-0002-1694-233X" ||
		a["website"] != "https://example.net/ana" || a["country"] != nil || a["career_stage"] != nil || a["bio"] != nil ||
		a["looking_for"] != nil || fmt.Sprint(a["topics"]) != "[Extracción directa de litio Recycling]" {
		t.Errorf("ana's entry: %v", a)
	}
	if b["name"] != nil || b["affiliation"] != nil || b["topics"] != nil || b["country"] != "BR" ||
		b["career_stage"] != "early_career" || fmt.Sprint(b["looking_for"]) != "[phd_position]" {
		t.Errorf("bruno's entry: %v", b)
	}

	for query, want := range map[string][]int64{
		"?q=extraccion+LITIO":                  {ana}, // accents and case aside, in PostgreSQL
		"?q=universidad":                       {ana},
		"?q=secret":                            {}, // a hidden bio is not searched
		"?q=bruno":                             {}, // nor a hidden name
		"?q=cathodes":                          {}, // nor hidden topics
		"?country=BR":                          {bruno},
		"?country=cl":                          {}, // ana does not show her country
		"?country=AR":                          {}, // carla is not listed
		"?career_stage=early_career":           {bruno},
		"?career_stage=senior":                 {},
		"?topic=RECYCLING":                     {ana},
		"?looking_for=phd_position":            {bruno},
		"?looking_for=collaboration":           {}, // ana does not show it
		"?q=ana&topic=recycling":               {ana},
		"?q=ana&career_stage=student":          {},
		"?country=BR&looking_for=phd_position": {bruno},
	} {
		if got := directoryIDs(t, p, query); !slices.Equal(got, want) {
			t.Errorf("directory%s = %v, want %v", query, got, want)
		}
	}
	if code, out := p.call("attendee", "GET", "/api/v1/directory?looking_for=a+job", nil); code != 400 || fieldOf(out) != "looking_for" {
		t.Errorf("bad filter: %d %v", code, out)
	}
	if code, _ := p.call("", "GET", "/api/v1/directory", nil); code != 401 {
		t.Errorf("directory without signing in: %d", code)
	}

	// One's own entry, through GET /api/v1/me.
	me := p.must(200, "ana", "GET", "/api/v1/me", nil)
	d, _ := me["directory"].(map[string]any)
	if d["listed"] != true || fmt.Sprint(d["visible"]) != "[name affiliation topics links]" ||
		fmt.Sprint(d["looking_for"]) != "[collaboration]" || d["bio"] != "A secret biography" || me["email"] != "ana@example.org" {
		t.Errorf("GET /me: %v", me)
	}

	// The page: the same entries, the same fields, no address.
	br := p.browser("en")
	br.signIn("attendee@example.org")
	r := br.get("/directory")
	if r.status != 200 || !strings.Contains(r.body, "Ana Pérez") || !strings.Contains(r.body, "Brazil") ||
		!strings.Contains(r.body, fmt.Sprintf(`href="/directory/%d/contact"`, bruno)) {
		t.Fatalf("directory page: %d %s", r.status, r.body)
	}
	for _, hidden := range []string{"@example.org", "Carla", "Bruno Hidden", "USP", "secret", "cathodes"} {
		if strings.Contains(r.body, hidden) {
			t.Errorf("the directory page shows %q", hidden)
		}
	}
	// The filters offer every country and stage; the entries show only what is shown.
	_, entries, _ := strings.Cut(r.body, `<ul class="directory`)
	entries, _, _ = strings.Cut(entries, "</ul>")
	for _, hidden := range []string{"<p>Chile</p>", "· Chile", "Senior researcher", "Collaboration"} {
		if strings.Contains(entries, hidden) {
			t.Errorf("the directory's entries show %q: %s", hidden, entries)
		}
	}
	for _, shown := range []string{"Universidad de Chile", "Early-career researcher", "A PhD position", "ORCID profile 0000-0002-1694-233X"} {
		if !strings.Contains(entries, shown) {
			t.Errorf("the directory's entries lack %q: %s", shown, entries)
		}
	}
	r = br.get("/directory?q=litio&country=")
	if !strings.Contains(r.body, "Ana Pérez") || strings.Contains(r.body, fmt.Sprintf("/directory/%d/contact", bruno)) {
		t.Errorf("searched page: %s", r.body)
	}
	if r := p.browser("en").get("/directory"); r.status != http.StatusSeeOther && r.status != http.StatusUnauthorized {
		t.Errorf("directory page without signing in: %d", r.status)
	}
}

// A malformed ORCID iD is refused naming the field, through the API and the form; one
// whose check digit is X is accepted.
func TestDirectoryORCID(t *testing.T) {
	p := newProgEnv(t)
	code, out := p.call("attendee", "PATCH", "/api/v1/me", map[string]any{"name": "Changed",
		"directory": map[string]any{"listed": true, "orcid": "0000-0002-1825-0098"}})
	if code != 400 || fieldOf(out) != "directory.orcid" {
		t.Fatalf("bad ORCID: %d %v", code, out)
	}
	me := p.must(200, "attendee", "GET", "/api/v1/me", nil)
	if d := me["directory"].(map[string]any); d["listed"] != false || d["orcid"] != "" || me["name"] != "Attendee" {
		t.Errorf("a refused change changed something: %v", me)
	}
	if code, out := p.call("attendee", "PATCH", "/api/v1/me", map[string]any{"directory": map[string]any{"visible": []string{"email"}}}); code != 400 || fieldOf(out) != "directory.visible" {
		t.Errorf("unknown field: %d %v", code, out)
	}
	if code, out := p.call("attendee", "PATCH", "/api/v1/me", map[string]any{"directory": map[string]any{"color": "red"}}); code != 400 || fieldOf(out) != "color" {
		t.Errorf("unknown property: %d %v", code, out)
	}
	me = p.must(200, "attendee", "PATCH", "/api/v1/me", map[string]any{"directory": map[string]any{"orcid": "0000-0002-1694-233x"}})
	if d := me["directory"].(map[string]any); d["orcid"] != "0000-0002-1694-233X" {
		t.Errorf("ORCID with X: %v", me)
	}

	catalog, err := i18n.Load(frontend.Locales(), "en")
	if err != nil {
		t.Fatal(err)
	}
	br := p.browser("es")
	br.signIn("attendee@example.org")
	br.get("/profile")
	form := url.Values{"listed": {"1"}, "visible": {"name", "links"}, "topics": {"reciclaje, baterías"},
		"bio": {"Investigo baterías."}, "orcid": {"0000-0002-1825-0099"}, "website": {""}}
	r := br.post("/profile/directory", form)
	want := catalog.Localizer("es").T("err.directory.orcid")
	if r.status != 400 || !strings.Contains(r.body, want) ||
		!strings.Contains(r.body, `name="orcid" value="0000-0002-1825-0099" maxlength="40" placeholder="0000-0002-1825-0097" aria-invalid="true"`) ||
		!strings.Contains(r.body, "Investigo baterías.") {
		t.Fatalf("bad ORCID in the form: %d %s", r.status, r.body)
	}
	form.Set("orcid", "0000-0002-1694-233X")
	if r := br.post("/profile/directory", form); r.status != http.StatusSeeOther {
		t.Fatalf("good ORCID in the form: %d %s", r.status, r.body)
	}
	d := p.must(200, "attendee", "GET", "/api/v1/me", nil)["directory"].(map[string]any)
	if d["listed"] != true || d["orcid"] != "0000-0002-1694-233X" || fmt.Sprint(d["topics"]) != "[reciclaje baterías]" ||
		fmt.Sprint(d["visible"]) != "[name links]" {
		t.Errorf("saved from the form: %v", d)
	}
	if r := br.get("/profile"); !strings.Contains(r.body, `value="reciclaje, baterías"`) || !strings.Contains(r.body, `name="listed" value="1" checked`) {
		t.Errorf("profile page does not show the entry: %s", r.body)
	}
}

// A message through the directory reaches the recipient by real SMTP, in their language,
// with Reply-To the sender, without showing the sender the recipient's address; an
// unlisted person cannot be written to; a flood is throttled with a clear message, on
// every server (the count is in PostgreSQL).
func TestDirectoryContactRelay(t *testing.T) {
	p, smtp := newSMTPProgEnv(t)
	p.member("sofia", domain.Profile{Name: "Sofía Rojas", Affiliation: "Universidad de Concepción", Language: "en"}, nil)
	p.member("rodrigo", domain.Profile{Name: "Rodrigo Díaz", Language: "es"}, map[string]any{"listed": true, "visible": []string{"name"}})
	p.member("carla", domain.Profile{Name: "Carla Unlisted"}, map[string]any{"listed": false, "visible": []string{"name"}})
	rodrigo := fmt.Sprintf("/api/v1/directory/%d/messages", p.ids["rodrigo"])

	code, raw := p.send("sofia", "POST", rodrigo, strings.NewReader(`{"subject": "Visita a Concepción", "body": "Hola Rodrigo,\n¿le interesaría colaborar en reciclaje?"}`))
	if code != 202 || strings.Contains(string(raw), "rodrigo@") {
		t.Fatalf("contact: %d %s", code, raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := smtp.WaitForMessage(ctx, func(m smtptest.Received) bool { return slices.Contains(m.To, "rodrigo@example.org") })
	if err != nil {
		t.Fatalf("no message relayed: %v", err)
	}
	if got := m.Header.Get("Reply-To"); !strings.Contains(got, "sofia@example.org") {
		t.Errorf("Reply-To %q", got)
	}
	if id := m.Header.Get("List-Id"); !strings.Contains(id, "<directory-contact.") || m.Header.Get("List-Unsubscribe") == "" {
		t.Errorf("a directory message is list mail (List-Id %q)", id)
	}
	if from := m.Header.Get("From"); strings.Contains(from, "sofia") {
		t.Errorf("From is the sender's own address (%q): relayed mail comes from Puente", from)
	}
	if m.Subject != "Sofía Rojas le ha escrito: Visita a Concepción" || !strings.Contains(m.Text, "¿le interesaría colaborar en reciclaje?") ||
		!strings.Contains(m.Text, "Sofía Rojas (Universidad de Concepción) le encontró en el directorio") ||
		!strings.Contains(m.Text, "Responda a este correo") {
		t.Errorf("relayed message (in Spanish?): %q\n%s", m.Subject, m.Text)
	}

	// Nobody can write to someone who is not listed (or does not exist), nor without signing in.
	for _, id := range []int64{p.ids["carla"], 999999} {
		code, out := p.call("sofia", "POST", fmt.Sprintf("/api/v1/directory/%d/messages", id), map[string]any{"subject": "Hi", "body": "Hello"})
		if code != 404 || out["error"].(map[string]any)["message"] != "This person is not listed in the member directory." {
			t.Errorf("contact unlisted %d: %d %v", id, code, out)
		}
	}
	if code, _ := p.call("", "POST", rodrigo, map[string]any{"subject": "Hi", "body": "Hello"}); code != 401 {
		t.Errorf("contact without signing in: %d", code)
	}
	if code, out := p.call("sofia", "POST", rodrigo, map[string]any{"subject": "", "body": "Hello"}); code != 400 || fieldOf(out) != "subject" {
		t.Errorf("empty subject: %d %v", code, out)
	}

	// The flood: the hour's allowance, then a clear refusal, also from another server.
	for i := 1; i < domain.ContactsPerHour; i++ {
		p.must(202, "sofia", "POST", rodrigo, map[string]any{"subject": fmt.Sprint("Again ", i), "body": "Hello"})
	}
	code, out := p.call("sofia", "POST", rodrigo, map[string]any{"subject": "One too many", "body": "Hello"})
	if e := out["error"].(map[string]any); code != 429 || e["code"] != "rate_limited" ||
		e["message"] != fmt.Sprintf("You have sent %d messages through the directory in the last hour, the most allowed. Please wait a while before sending another.", domain.ContactsPerHour) {
		t.Errorf("flood: %d %v", code, out)
	}
	other := newSMTPServer(t, server.Options{Store: p.store, Registry: prometheus.NewRegistry(), Now: func() time.Time { return p.now }}, smtp.URL())
	req, _ := http.NewRequest("POST", other.URL+rodrigo, strings.NewReader(`{"subject": "Elsewhere", "body": "Hello"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+p.tokens["sofia"])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 429 {
		t.Errorf("the other server let the flood through: %d", res.StatusCode)
	}
	if _, err := smtp.WaitForMessages(ctx, domain.ContactsPerHour); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // nothing more should arrive
	n := 0
	for _, m := range smtp.Messages() {
		if slices.Contains(m.To, "carla@example.org") {
			t.Errorf("a message reached the unlisted person")
		}
		if slices.Contains(m.To, "rodrigo@example.org") {
			n++
		}
	}
	if n != domain.ContactsPerHour {
		t.Errorf("%d messages relayed, want %d", n, domain.ContactsPerHour)
	}
}

// The contact form: sent, refused with the reason, and throttled with a clear message.
func TestDirectoryContactForm(t *testing.T) {
	p := newProgEnv(t)
	p.member("rodrigo", domain.Profile{Name: "Rodrigo Díaz"}, map[string]any{"listed": true, "visible": []string{"name"}})
	p.member("carla", domain.Profile{Name: "Carla Unlisted"}, map[string]any{"listed": false})
	br := p.browser("en")
	br.signIn("attendee@example.org")
	path := fmt.Sprintf("/directory/%d/contact", p.ids["rodrigo"])
	r := br.get(path)
	if r.status != 200 || !strings.Contains(r.body, "Write to Rodrigo Díaz") || strings.Contains(r.body, "rodrigo@example.org") {
		t.Fatalf("contact form: %d %s", r.status, r.body)
	}
	if r := br.post(path, url.Values{"subject": {"Hello"}, "body": {""}}); r.status != 400 || !strings.Contains(r.body, "This cannot be empty.") ||
		!strings.Contains(r.body, `value="Hello"`) {
		t.Errorf("empty message: %d %s", r.status, r.body)
	}
	for i := range domain.ContactsPerHour {
		if r := br.post(path, url.Values{"subject": {fmt.Sprint("Hello ", i)}, "body": {"A message"}}); r.status != http.StatusSeeOther {
			t.Fatalf("message %d: %d %s", i, r.status, r.body)
		}
	}
	r = br.post(path, url.Values{"subject": {"Hello again"}, "body": {"A message"}})
	if r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "in the last hour, the most allowed") ||
		!strings.Contains(r.body, "Hello again") {
		t.Errorf("flood in the form: %d %s", r.status, r.body)
	}
	if r := br.get(fmt.Sprintf("/directory/%d/contact", p.ids["carla"])); r.status != 404 || strings.Contains(r.body, "Carla") {
		t.Errorf("contact form of an unlisted person: %d", r.status)
	}

	// A member who left the directory's mailing list is listed without a Contact button,
	// and cannot be written to.
	p.member("eva", domain.Profile{Name: "Eva Quiet"}, map[string]any{"listed": true, "visible": []string{"name"}})
	if _, err := p.store.Pool().Exec(context.Background(), `INSERT INTO list_optouts (person_id, list_id, created_at) VALUES ($1, $2, now())`,
		p.ids["eva"], string(domain.ListContact)); err != nil {
		t.Fatal(err)
	}
	eva := fmt.Sprintf("/directory/%d/contact", p.ids["eva"])
	r = br.get("/directory?q=eva")
	if !strings.Contains(r.body, "Eva Quiet") || strings.Contains(r.body, eva) || !strings.Contains(r.body, "Does not accept messages through the directory.") {
		t.Errorf("directory entry of someone who left the list: %s", r.body)
	}
	if r := br.get(eva); r.status != 403 || !strings.Contains(r.body, "This member does not accept messages through the directory.") {
		t.Errorf("contact form of someone who left the list: %d", r.status)
	}
	if code, out := p.call("attendee", "POST", fmt.Sprintf("/api/v1/directory/%d/messages", p.ids["eva"]), map[string]any{"subject": "Hi", "body": "Hi"}); code != 403 {
		t.Errorf("API message to someone who left the list: %d %v", code, out)
	}
	if got := items(t, p.must(200, "attendee", "GET", "/api/v1/directory?q=eva", nil)); len(got) != 1 || got[0]["contactable"] != false {
		t.Errorf("API entry of someone who left the list: %v", got)
	}
}

// Member counts for the network's reports: groups under 5 merged, no personal data, and
// for site admins only.
func TestMemberCounts(t *testing.T) {
	p := newProgEnv(t) // admin, organiser, other, attendee: no country, no stage
	ctx := context.Background()
	made := 0
	add := func(n int, country string, stage domain.CareerStage) {
		for range n {
			made++
			person, err := p.store.CreatePerson(ctx, store.NewPerson{Email: fmt.Sprintf("m%d@example.org", made), Name: "Member"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.store.UpdateProfile(ctx, person.ID, domain.Profile{Name: "Member", Country: country, CareerStage: stage}); err != nil {
				t.Fatal(err)
			}
		}
	}
	add(7, "GB", domain.CareerSenior)
	add(5, "CL", domain.CareerStudent)
	add(2, "AR", domain.CareerSenior)
	add(1, "BO", domain.CareerIndustry)
	// countries: GB 7, CL 5, not given 4, AR 2, BO 1 → other 7; stages: senior 9, student 5,
	// not given 4, industry 1 → other 5.
	code, raw := p.rawGet("admin", "/api/v1/members/counts")
	if code != 200 || strings.Contains(raw, "@") || strings.Contains(raw, "Member") {
		t.Fatalf("counts: %d %s", code, raw)
	}
	var out map[string]struct {
		Groups []struct {
			Key   string
			Count int
		}
		Other, Total *int
		FewerThan    int `json:"fewer_than"`
	}
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		t.Fatal(err)
	}
	c, s := out["by_country"], out["by_career_stage"]
	if fmt.Sprint(c.Groups) != "[{GB 7} {CL 5}]" || c.Other == nil || *c.Other != 7 || *c.Total != 19 || c.FewerThan != 5 {
		t.Errorf("by country: %s", raw)
	}
	if fmt.Sprint(s.Groups) != "[{senior 9} {student 5}]" || s.Other == nil || *s.Other != 5 || *s.Total != 19 {
		t.Errorf("by career stage: %s", raw)
	}
	for _, role := range []string{"attendee", "organiser"} {
		if code, _ := p.call(role, "GET", "/api/v1/members/counts", nil); code != 403 {
			t.Errorf("%s: %d", role, code)
		}
	}
	if code, _ := p.call("", "GET", "/api/v1/members/counts", nil); code != 401 {
		t.Errorf("anonymous: %d", code)
	}

	admin := p.browser("en")
	admin.signIn("admin@example.org")
	r := admin.get("/admin/members")
	if r.status != 200 || !strings.Contains(r.body, "<td>United Kingdom</td><td>7</td>") ||
		!strings.Contains(r.body, "<td>Other groups, each of fewer than 5</td><td>7</td>") ||
		!strings.Contains(r.body, "<td>Senior researcher</td><td>9</td>") ||
		strings.Contains(r.body, "Argentina") || strings.Contains(r.body, "Bolivia") || strings.Contains(r.body, "Industry") {
		t.Errorf("members page: %d %s", r.status, r.body)
	}
	someone := p.browser("en")
	someone.signIn("attendee@example.org")
	if r := someone.get("/admin/members"); r.status != 403 || strings.Contains(r.body, "United Kingdom") {
		t.Errorf("members page for a non-admin: %d", r.status)
	}
}
