package server_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"reflect"
	"strings"
	"testing"
)

// readLiveCSV checks an export's headers and byte-order mark and parses it.
func readLiveCSV(t *testing.T, r response) [][]string {
	t.Helper()
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(r.header.Get("Content-Disposition"), "attachment") || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("csv: %d %v\n%s", r.status, r.header, r.body)
	}
	body := []byte(r.body)
	if !bytes.HasPrefix(body, []byte("\ufeff")) {
		t.Fatalf("CSV lacks the UTF-8 byte-order mark spreadsheets need")
	}
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\ufeff")))).ReadAll()
	if err != nil {
		t.Fatalf("csv parse: %v\n%s", err, r.body)
	}
	return rows
}

func TestLiveChatAndQuestionsExports(t *testing.T) {
	p := newProgEnv(t)
	ctx := context.Background()
	occAPI := p.oneOccurrence(10, "open")
	occID := occAPI[len("/api/v1/occurrences/"):]
	id := mustAtoi(t, occID)
	p.must(201, "attendee", "POST", occAPI+"/registrations", nil)

	if _, err := p.store.AddChat(ctx, id, p.ids["attendee"], `Ana "la química"`, `=HYPERLINK("http://evil")`); err != nil {
		t.Fatal(err)
	}
	if _, err := p.store.AddChat(ctx, id, p.ids["organiser"], "Organiser", "Welcome, all.\nWe start at 15:05."); err != nil {
		t.Fatal(err)
	}
	q1, err := p.store.AskQuestion(ctx, id, p.ids["attendee"], `Ana "la química"`, "Does it converge, ñandú?")
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range []string{"organiser", "other"} {
		if _, err := p.store.VoteQuestion(ctx, id, q1.ID, p.ids[role], true); err != nil {
			t.Fatal(err)
		}
	}
	q2, _ := p.store.AskQuestion(ctx, id, p.ids["other"], "Other", "+1 for the slides")
	if _, err := p.store.SetQuestionState(ctx, id, q2.ID, "answered"); err != nil {
		t.Fatal(err)
	}

	org := p.browser("en")
	org.signIn("organiser@example.org")
	chatPath := "/organise/occurrences/" + occID + "/chat.csv"
	questionsPath := "/organise/occurrences/" + occID + "/questions.csv"
	at := p.now.UTC().Format("2006-01-02T15:04:05Z")

	chat := readLiveCSV(t, org.get(chatPath))
	want := [][]string{{"time", "author", "text"},
		{at, `Ana "la química"`, `'=HYPERLINK("http://evil")`}, // a formula is neutralised
		{at, "Organiser", "Welcome, all.\nWe start at 15:05."}}
	if !reflect.DeepEqual(chat, want) {
		t.Fatalf("chat CSV:\n got %q\nwant %q", chat, want)
	}
	qs := readLiveCSV(t, org.get(questionsPath))
	want = [][]string{{"time", "author", "text", "votes", "state"},
		{at, `Ana "la química"`, "Does it converge, ñandú?", "2", "open"},
		{at, "Other", "'+1 for the slides", "0", "answered"}}
	if !reflect.DeepEqual(qs, want) {
		t.Fatalf("questions CSV:\n got %q\nwant %q", qs, want)
	}
	if r := org.get("/organise/occurrences/" + occID + "/registrations"); !strings.Contains(r.body, `href="`+chatPath+`"`) ||
		!strings.Contains(r.body, `href="`+questionsPath+`"`) {
		t.Fatalf("the registrations page does not link the exports:\n%s", r.body)
	}

	// Site admins may export too; an occurrence with no live activity gives just the header.
	admin := p.browser("en")
	admin.signIn("admin@example.org")
	if rows := readLiveCSV(t, admin.get(chatPath)); len(rows) != 3 {
		t.Fatalf("admin's chat export: %q", rows)
	}
	other := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Quiet Seminar", "timezone": "UTC",
		"start_date": "2026-02-06", "start_time": "10:00"})
	quiet := items(t, p.must(200, "", "GET", "/api/v1/series/"+jsonID(other)+"/occurrences?from=2026-02-01&to=2026-02-28", nil))[0]
	if rows := readLiveCSV(t, org.get("/organise/occurrences/"+jsonID(quiet)+"/questions.csv")); len(rows) != 1 {
		t.Fatalf("no questions: %q", rows)
	}

	// Attendees, organisers of other events and strangers get nothing.
	for _, who := range []string{"attendee@example.org", "other@example.org"} {
		b := p.browser("en")
		b.signIn(who)
		for _, path := range []string{chatPath, questionsPath} {
			if r := b.get(path); r.status != 403 || strings.Contains(r.body, "HYPERLINK") {
				t.Errorf("%s as %s: %d", path, who, r.status)
			}
		}
	}
	if r := p.browser("en").get(chatPath); r.status != 303 || !strings.HasPrefix(r.header.Get("Location"), "/sign-in") {
		t.Errorf("signed out: %d %s", r.status, r.header.Get("Location"))
	}
	if r := org.get("/organise/occurrences/424242/chat.csv"); r.status != 404 {
		t.Errorf("unknown occurrence: %d", r.status)
	}
}
