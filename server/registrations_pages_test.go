package server_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
)

func TestRegisterInTheBrowserAndExportCSV(t *testing.T) {
	p := newProgEnv(t)
	occAPI := p.oneOccurrence(1, "open")
	occID := occAPI[len("/api/v1/occurrences/"):]
	page := "/occurrences/" + occID

	if r := p.browser("en").get(page); !strings.Contains(r.body, "Sign in to register") {
		t.Fatalf("signed out: no sign-in prompt")
	}
	ana := p.browser("es")
	ana.signIn("attendee@example.org")
	if _, err := p.store.UpdateProfile(context.Background(), p.ids["attendee"], domain.Profile{Name: `Ana "la química" Pérez, PhD`, Country: "CL"}); err != nil {
		t.Fatal(err)
	}
	r := ana.get(page)
	if !strings.Contains(r.body, `id="register-form"`) || !strings.Contains(r.body, `value="CL" selected`) {
		t.Fatalf("form not pre-filled from the profile: %s", r.body)
	}
	r = ana.post(page+"/register", url.Values{"name": {`Ana "la química" Pérez, PhD`}, "affiliation": {"=HYPERLINK(\"http://evil\")"},
		"country": {"CL"}, "career_stage": {"early_career"}, "consent_contact": {"1"}})
	if r.status != 303 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	if r := ana.get(page); !strings.Contains(r.body, "Estás inscrito/a.") {
		t.Fatalf("status after registering: %s", r.body)
	}
	bruno := p.browser("en")
	bruno.signIn("other@example.org")
	bruno.get(page)
	bruno.post(page+"/register", url.Values{"name": {"Bruno Díaz"}})
	if r := bruno.get(page); !strings.Contains(r.body, "number 1 on the waitlist") {
		t.Fatalf("waitlisted: %s", r.body)
	}

	org := p.browser("en")
	org.signIn("organiser@example.org")
	list := org.get("/organise/occurrences/" + occID + "/registrations")
	if list.status != 200 || !strings.Contains(list.body, "Confirmed (1)") || !strings.Contains(list.body, "Waitlisted (1)") {
		t.Fatalf("organiser list: %d %s", list.status, list.body)
	}
	csvResp := org.get("/organise/occurrences/" + occID + "/registrations.csv")
	if csvResp.status != 200 || !strings.HasPrefix(csvResp.header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(csvResp.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("csv: %d %v", csvResp.status, csvResp.header)
	}
	body := []byte(csvResp.body)
	if !bytes.HasPrefix(body, []byte("\ufeff")) {
		t.Fatalf("CSV lacks the UTF-8 byte-order mark spreadsheets need")
	}
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\ufeff")))).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Fatalf("csv parse: %v, %d rows", err, len(rows))
	}
	if rows[1][4] != `Ana "la química" Pérez, PhD` || rows[1][2] != "confirmed" || rows[2][2] != "waitlisted" || rows[2][3] != "1" {
		t.Fatalf("csv rows: %q", rows)
	}
	if !strings.HasPrefix(rows[1][6], "'=") {
		t.Fatalf("a formula in a cell must be neutralised: %q", rows[1][6])
	}
	l, _ := p.store.OccurrenceByID(context.Background(), mustAtoi(t, occID))
	if all := org.get(fmt.Sprintf("/organise/events/%d/registrations", l.Event.ID)); all.status != 200 ||
		!strings.Contains(all.body, "Capacity Seminar") || !strings.Contains(all.body, "Bruno Díaz") {
		t.Fatalf("event-wide list: %d", all.status)
	}
	if r := bruno.get("/organise/occurrences/" + occID + "/registrations.csv"); r.status != 403 {
		t.Fatalf("CSV for a non-organiser: %d", r.status)
	}

	// Ana cancels: Bruno gets her place.
	ana.get(page)
	ana.post(page+"/unregister", url.Values{})
	if r := bruno.get(page); !strings.Contains(r.body, "You are registered.") {
		t.Fatalf("promotion not shown: %s", r.body)
	}
}

// Someone not signed in registers with their email: account created, registered, and the
// sign-in link in their inbox brings them back signed in.
func TestRegisterByEmail(t *testing.T) {
	p := newProgEnv(t)
	occAPI := p.oneOccurrence(5, "open")
	page := "/occurrences/" + occAPI[len("/api/v1/occurrences/"):]
	b := p.browser("en")
	if r := b.get(page); !strings.Contains(r.body, `id="register-email-form"`) {
		t.Fatalf("no email registration form")
	}
	r := b.post(page+"/register-by-email", url.Values{"email": {"nueva@example.cl"}, "name": {"Nueva Persona"}, "affiliation": {"UChile"}})
	if r.status != 200 || !strings.Contains(r.body, `id="registered-by-email"`) {
		t.Fatalf("register by email: %d %s", r.status, r.body)
	}
	person, err := p.store.PersonByEmail(context.Background(), "nueva@example.cl")
	if err != nil {
		t.Fatal(err)
	}
	regs, _ := p.store.Registrations(context.Background(), store.RegistrationFilter{PersonID: person.ID})
	if len(regs) != 1 || regs[0].Status != "held" || regs[0].Details.Name != "Nueva Persona" {
		t.Fatalf("registration: %+v", regs)
	}
	// One email: the confirmation, which carries the sign-in link back to the session.
	box, _ := p.store.Mailbox(context.Background(), 10)
	if len(box) != 1 || box[0].To != "nueva@example.cl" || !strings.Contains(box[0].Subject, "Confirm your place") {
		t.Fatalf("emails: %+v", box)
	}
	link := p.latestLink("nueva@example.cl")
	u, _ := url.Parse(link)
	b.get(u.RequestURI())
	r = b.post("/sign-in/link", url.Values{"token": {u.Query().Get("token")}})
	if r.status != 303 || r.header.Get("Location") != page {
		t.Fatalf("sign-in link back to the session: %d %s", r.status, r.header.Get("Location"))
	}
	// Signed in, the place is still only held until confirmed; the page offers to.
	if r := b.get(page); !strings.Contains(r.body, `id="confirm-held-form"`) {
		t.Fatalf("signed in, the held place should offer confirmation: %s", r.body)
	}
	b.post(page+"/register", url.Values{})
	if r := b.get(page); !strings.Contains(r.body, "You are registered.") {
		t.Fatalf("signed in and confirmed: %s", r.body)
	}
	if r := b.post(page+"/register-by-email", url.Values{"email": {"not an email"}}); r.status != 400 {
		t.Fatalf("bad email: %d", r.status)
	}
}
