package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
)

func weeklySeries(t *testing.T, s *store.Store, org int64, slug, rule string) domain.Event {
	t.Helper()
	e, err := s.CreateEvent(context.Background(), domain.Event{Kind: domain.KindSeries, Slug: slug, Title: slug, Language: "en",
		Visibility: "public", TimeZone: "UTC", StartDate: time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC), StartTime: "15:00",
		Duration: time.Hour, RRule: rule, Registration: "open", Capacity: 10, Tags: []string{}}, org, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// oneSession is a series of one session with room for capacity people; it returns the
// series and its session.
func oneSession(t *testing.T, s *store.Store, org int64, slug string, capacity int) (domain.Event, int64) {
	t.Helper()
	ctx := context.Background()
	e := weeklySeries(t, s, org, slug, "FREQ=WEEKLY;COUNT=1")
	if _, err := s.Pool().Exec(ctx, `UPDATE events SET capacity = $2 WHERE id = $1`, e.ID, capacity); err != nil {
		t.Fatal(err)
	}
	occs, err := s.Occurrences(ctx, store.OccurrenceFilter{EventID: e.ID})
	if err != nil || len(occs) != 1 {
		t.Fatalf("the sessions of %s: %d, %v; want one", slug, len(occs), err)
	}
	return e, occs[0].Occurrence.ID
}

// Every time the store writes comes from its clock, never from the database's now(): the
// clock here is in March 2026, whatever the machine's date.
func TestStoreUsesItsClock(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	org, err := s.CreatePerson(ctx, store.NewPerson{Email: "org@example.org", IsOrganiser: true})
	if err != nil {
		t.Fatal(err)
	}
	if !org.CreatedAt.Equal(clk.Now()) {
		t.Errorf("person created at %v, clock says %v", org.CreatedAt, clk.Now())
	}
	e := weeklySeries(t, s, org.ID, "clocked", "FREQ=WEEKLY;COUNT=2")
	occs, _ := s.Occurrences(ctx, store.OccurrenceFilter{EventID: e.ID})
	if !occs[0].Occurrence.UpdatedAt.Equal(clk.Now()) {
		t.Errorf("generated occurrence stamped %v, clock says %v", occs[0].Occurrence.UpdatedAt, clk.Now())
	}
	clk.Add(time.Hour)
	l, err := s.UpdateOccurrence(ctx, occs[0].Occurrence.ID, func(_ domain.Event, o *domain.Occurrence) error {
		o.StartLocal = o.StartLocal.Add(time.Hour)
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !l.Occurrence.UpdatedAt.Equal(clk.Now()) {
		t.Errorf("moved occurrence stamped %v, clock says %v", l.Occurrence.UpdatedAt, clk.Now())
	}
	// Time in a live room still open counts up to the clock's now.
	ana, _ := s.CreatePerson(ctx, store.NewPerson{Email: "ana@example.org"})
	if _, err := s.Register(ctx, l.Occurrence.ID, ana.ID, store.RegistrationDetails{Name: "Ana"}, nil); err != nil {
		t.Fatal(err)
	}
	clk.t = l.Occurrence.Start.Add(5 * time.Minute)
	if _, err := s.RecordJoin(ctx, l.Occurrence.ID, ana.ID); err != nil {
		t.Fatal(err)
	}
	clk.Add(10 * time.Minute)
	r, err := s.RegistrationOf(ctx, l.Occurrence.ID, ana.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Attended != 10*time.Minute {
		t.Errorf("attended %v by the clock, want 10m", r.Attended)
	}
}

// A series that cannot be regenerated (its zone vanished from the tz data, say) does not
// stop the horizon of the others moving; it is reported.
func TestExtendHorizonsCarriesOnPastAFailure(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	org, _ := s.CreatePerson(ctx, store.NewPerson{Email: "org@example.org", IsOrganiser: true})
	broken := weeklySeries(t, s, org.ID, "broken", "FREQ=WEEKLY;BYDAY=TH")
	good := weeklySeries(t, s, org.ID, "good", "FREQ=WEEKLY;BYDAY=TH")
	if _, err := s.Pool().Exec(ctx, `UPDATE events SET time_zone = 'Atlantis/Nowhere' WHERE id = $1`, broken.ID); err != nil {
		t.Fatal(err)
	}
	count := func(id int64) int {
		l, err := s.Occurrences(ctx, store.OccurrenceFilter{EventID: id, IncludeCancelled: true, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		return len(l)
	}
	before := count(good.ID)
	clk.Add(60 * 24 * time.Hour)
	n, failed, err := s.ExtendHorizons(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 || len(failed) != 1 || failed[0].EventID != broken.ID || failed[0].Err == nil {
		t.Fatalf("refreshed %d, failed %+v; want the good one refreshed and the broken one reported", n, failed)
	}
	if after := count(good.ID); after < before+8 {
		t.Fatalf("the good series' horizon did not move: %d → %d", before, after)
	}
}

// A free place with people waiting (a change that did not promote them) goes to the first
// person waiting, never to a newcomer.
func TestNewcomersNeverJumpTheWaitlist(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	org, _ := s.CreatePerson(ctx, store.NewPerson{Email: "org@example.org", IsOrganiser: true})
	e, occ := oneSession(t, s, org.ID, "small", 1)
	var people []domain.Person
	for _, addr := range []string{"a@example.org", "b@example.org", "c@example.org"} {
		p, _ := s.CreatePerson(ctx, store.NewPerson{Email: addr})
		people = append(people, p)
	}
	for _, p := range people[:2] {
		if _, err := s.Register(ctx, occ, p.ID, store.RegistrationDetails{Name: "X"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Pool().Exec(ctx, `UPDATE events SET capacity = 2 WHERE id = $1`, e.ID); err != nil {
		t.Fatal(err)
	}
	res, err := s.Register(ctx, occ, people[2].ID, store.RegistrationDetails{Name: "C"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.RegistrationOf(ctx, occ, people[1].ID)
	if b.Status != store.RegConfirmed || res.Registration.Status != store.RegWaitlisted {
		t.Fatalf("the person waiting is %s and the newcomer %s; want confirmed and waitlisted", b.Status, res.Registration.Status)
	}
}
