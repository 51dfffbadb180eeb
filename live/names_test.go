package live_test

import (
	"context"
	"strings"
	"testing"

	"github.com/puente-org/puente/store"
)

// The room shows the name a person gave (profile, else their registration for this
// session), never their email address or a piece of it ("alice", "org").
func TestRoomShowsNamesNeverTheAddress(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, c := range []struct{ email, regName string }{
		{"alice@example.org", ""},                  // no name anywhere
		{"bruno@example.org", "Bruno Díaz"},        // a name only in the registration
		{"cata@example.org", " cata@example.org "}, // an older form's prefilled address
	} {
		p, err := e.store.CreatePerson(ctx, store.NewPerson{Email: c.email})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.Register(ctx, e.occ, p.ID, store.RegistrationDetails{Name: c.regName}, nil); err != nil {
			t.Fatal(err)
		}
		e.people[strings.Split(c.email, "@")[0]] = p
	}
	host := e.join("host", "host")
	want := map[string]string{"alice": "", "bruno": "Bruno Díaz", "cata": "", "ana": "Ana"}
	for _, who := range []string{"alice", "bruno", "cata", "ana"} {
		c := e.join(who, "attendee")
		m := host.expectWhere("participant", func(m msg) bool {
			p, _ := m["participant"].(map[string]any)
			return p["id"] == c.id
		})
		name, _ := m["participant"].(map[string]any)["name"].(string)
		if name != want[who] {
			t.Errorf("%s shows as %q, want %q", who, name, want[who])
		}
		c.send(map[string]any{"type": "chat", "text": "hello from " + who})
		chat := host.expectWhere("chat", func(m msg) bool {
			return strings.Contains(m["message"].(map[string]any)["text"].(string), who)
		})
		author := chat["message"].(map[string]any)["author"].(map[string]any)["name"]
		if author != want[who] {
			t.Errorf("%s's chat author is %q, want %q", who, author, want[who])
		}
	}
}
