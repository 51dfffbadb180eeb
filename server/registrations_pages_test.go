package server_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/url"
	"strings"
	"testing"

	"github.com/puente-org/puente/domain"
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
