package store_test

import (
	"context"
	"testing"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
)

// What is learned about a person fills only what they have not set, and invalid values
// are ignored (the previous value stays).
func TestLearnProfileFillsOnlyWhatIsUnset(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	p, err := st.CreatePerson(ctx, store.NewPerson{Email: "ana@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	// Invalid values first: nothing is saved, nothing refused.
	for _, bad := range []store.Learned{{TimeZone: "Mars/Olympus"}, {TimeZone: "Local"}, {Language: "xx"},
		{Language: "es\x00"}, {Name: string(make([]rune, 201))}} {
		got, err := st.LearnProfile(ctx, p.ID, bad)
		if err != nil {
			t.Fatalf("%+v: %v", bad, err)
		}
		if got.Profile != (domain.Profile{}) {
			t.Fatalf("%+v saved: %+v", bad, got.Profile)
		}
	}
	got, err := st.LearnProfile(ctx, p.ID, store.Learned{Name: " Ana Pérez ", Language: "es", TimeZone: "Europe/London"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Profile.Name != "Ana Pérez" || got.Profile.Language != "es" || got.Profile.TimeZone != "Europe/London" {
		t.Fatalf("learned: %+v", got.Profile)
	}
	// Later learning never overwrites, and an invalid value leaves the previous one.
	got, err = st.LearnProfile(ctx, p.ID, store.Learned{Name: "Other", Language: "en", TimeZone: "America/Santiago"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Profile.Name != "Ana Pérez" || got.Profile.Language != "es" || got.Profile.TimeZone != "Europe/London" {
		t.Fatalf("overwritten: %+v", got.Profile)
	}
	// A value the person chose is kept; what they cleared can be learned again.
	if _, err := st.UpdateProfile(ctx, p.ID, domain.Profile{Name: "Ana", Language: "en"}); err != nil {
		t.Fatal(err)
	}
	got, err = st.LearnProfile(ctx, p.ID, store.Learned{Name: "X", Language: "es", TimeZone: "Bad/Zone"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Profile.Name != "Ana" || got.Profile.Language != "en" || got.Profile.TimeZone != "" {
		t.Fatalf("after the person's choice: %+v", got.Profile)
	}
	if _, err := st.LearnProfile(ctx, 999999, store.Learned{}); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Fatalf("unknown person: %v", err)
	}
}
