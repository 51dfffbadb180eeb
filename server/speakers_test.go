package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/puente-org/puente/domain"
)

// Organisers link a speaker to an account by email address, never by an id: an existing
// account is linked at once, an address without one is linked when its owner first signs
// in, each speaker is told by email (in their own language), the address is not shown
// publicly, and a person_id sent by a client is refused (it used to grant speaker rights
// to any account, or answer 500 for an unknown one).
func TestSpeakersAreLinkedByEmail(t *testing.T) {
	p := newProgEnv(t)
	ctx := context.Background()
	if _, err := p.store.UpdateProfile(ctx, p.ids["attendee"], domain.Profile{Language: "es"}); err != nil {
		t.Fatal(err)
	}
	s := p.must(201, "organiser", "POST", "/api/v1/series", batterySeminar)
	occs := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%v/occurrences", s["id"]), nil))
	path := fmt.Sprintf("/api/v1/occurrences/%v", occs[0]["id"])

	for _, body := range []map[string]any{
		{"speakers": []map[string]any{{"name": "Ana", "person_id": p.ids["other"]}}},
		{"speakers": []map[string]any{{"name": "Ana", "person_id": 987654}}},
	} {
		if code, out := p.call("organiser", "PATCH", path, body); code != 400 || fieldOf(out) != "speakers" {
			t.Fatalf("person_id from a client: %d %v", code, out)
		}
	}

	out := p.must(200, "organiser", "PATCH", path, map[string]any{"speakers": []map[string]any{
		{"name": "Dra Ana Rojas", "email": "Attendee@Example.org"},
		{"name": "Dr Ben Hall", "email": "ben@example.org"},
	}})
	if strings.Contains(fmt.Sprint(out), "example.org") {
		t.Errorf("speakers' addresses must not be shown: %v", out)
	}
	l, err := p.store.OccurrenceByID(ctx, int64(occs[0]["id"].(float64)))
	if err != nil {
		t.Fatal(err)
	}
	sp := l.Occurrence.Speakers
	if len(sp) != 2 || sp[0].PersonID == nil || *sp[0].PersonID != p.ids["attendee"] || sp[1].PersonID != nil {
		t.Fatalf("speakers after saving: %+v", sp)
	}
	box, err := p.store.Mailbox(ctx, 50)
	if err != nil {
		t.Fatal(err)
	}
	told := map[string]string{}
	for _, m := range box {
		if m.Kind == "speaker_added" {
			told[strings.ToLower(m.To)] = m.Subject + "\n" + m.Text
		}
	}
	if len(told) != 2 || !strings.Contains(told["attendee@example.org"], "ponente") ||
		!strings.Contains(told["ben@example.org"], "added you as a speaker") {
		t.Fatalf("speakers told: %v", told)
	}

	// Saving again with the same speakers tells nobody twice.
	p.must(200, "organiser", "PATCH", path, map[string]any{"title": "Single crystals", "speakers": []map[string]any{
		{"name": "Dra Ana Rojas", "email": "attendee@example.org"}, {"name": "Dr Ben Hall", "email": "ben@example.org"}}})
	if box2, _ := p.store.Mailbox(ctx, 50); len(box2) != len(box) {
		t.Errorf("a second save sent %d more emails", len(box2)-len(box))
	}

	// Ben signs in for the first time: he is the speaker now.
	ben, _, err := p.store.EnsurePerson(ctx, "ben@example.org")
	if err != nil {
		t.Fatal(err)
	}
	l, _ = p.store.OccurrenceByID(ctx, l.Occurrence.ID)
	if sp := l.Occurrence.Speakers; sp[1].PersonID == nil || *sp[1].PersonID != ben.ID {
		t.Fatalf("Ben's account is not linked after he signed in: %+v", sp)
	}

	// The organiser's form shows the addresses (and keeps them when saved again).
	b := p.browser("en")
	b.signIn("organiser@example.org")
	if r := b.get(fmt.Sprintf("/organise/occurrences/%v", occs[0]["id"])); !strings.Contains(r.body, `value="ben@example.org"`) {
		t.Errorf("the organiser's form does not show the speaker's address")
	}
}
