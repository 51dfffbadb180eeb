package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
	"github.com/puente-org/puente/store/pgtest"
)

// A rush of registrations mixed with cancellations, unconfirmed registrations, releases
// and capacity changes, all at once on one small session, leaves it consistent: no more
// places taken than its capacity, nobody waiting while a place is free, the waitlist in
// arrival order, and exactly one registration notice per registration, of the kind its
// status had and to its owner.
func TestRegistrationRushStaysConsistent(t *testing.T) {
	ctx := context.Background()
	// Enough connections for the registrations to really run at once.
	cfg, err := pgxpool.ParseConfig(pgtest.NewURL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 40
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s := store.New(pool, clk.Now)
	org, _ := s.CreatePerson(ctx, store.NewPerson{Email: "org@example.org", IsOrganiser: true})
	e, occ := oneSession(t, s, org.ID, "rush", 30)
	const n = 100
	people := make([]domain.Person, n)
	for i := range people {
		p, err := s.CreatePerson(ctx, store.NewPerson{Email: fmt.Sprintf("p%d@example.org", i)})
		if err != nil {
			t.Fatal(err)
		}
		people[i] = p
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, 4*n)
	for i, p := range people {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			notify := &store.Notify{By: p.ID, Lang: "pt"}
			var err error
			switch i % 5 {
			case 0: // by email, without signing in: held
				notify.SignInURL = "https://example.org/sign-in/secret"
				_, err = s.RegisterUnconfirmed(ctx, occ, p.ID, store.RegistrationDetails{Name: "U"}, notify)
			case 1: // registers, cancels, registers again (a new notice each time)
				if _, err = s.Register(ctx, occ, p.ID, store.RegistrationDetails{Name: "C"}, notify); err == nil {
					if _, _, err = s.CancelRegistration(ctx, occ, p.ID, notify); err == nil {
						_, err = s.Register(ctx, occ, p.ID, store.RegistrationDetails{Name: "C2"}, notify)
					}
				}
			case 2: // registers twice: the second is a no-op
				var res store.RegisterResult
				if _, err = s.Register(ctx, occ, p.ID, store.RegistrationDetails{Name: "T"}, notify); err == nil {
					if res, err = s.Register(ctx, occ, p.ID, store.RegistrationDetails{Name: "T2"}, notify); err == nil && res.Created {
						err = fmt.Errorf("registering again created a registration")
					}
				}
			default:
				_, err = s.Register(ctx, occ, p.ID, store.RegistrationDetails{Name: "R"}, notify)
			}
			errs <- err
		}()
	}
	// A capacity raised during the rush (lowering it keeps the places already given).
	for _, c := range []int{40} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := s.UpdateEvent(ctx, e.ID, nil, func(e *domain.Event) error { e.Capacity = c; return nil }, nil)
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string, capacity, registered int) {
		t.Helper()
		var taken, waiting, active int
		if err := s.Pool().QueryRow(ctx, `SELECT count(*) FILTER (WHERE status IN ('confirmed', 'held')),
			count(*) FILTER (WHERE status = 'waitlisted'), count(*) FILTER (WHERE status NOT IN ('cancelled', 'declined'))
			FROM registrations WHERE occurrence_id = $1`, occ).Scan(&taken, &waiting, &active); err != nil {
			t.Fatal(err)
		}
		if taken > capacity || (taken < capacity && waiting > 0) || active != registered {
			t.Fatalf("%s: %d places taken of %d, %d waiting, %d registered of %d", when, taken, capacity, waiting, active, registered)
		}
	}
	// The places taken as the trigger keeps them are those counted, for every session.
	counted := func(when string) {
		t.Helper()
		var wrong int
		if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM occurrences o
			LEFT JOIN registration_counts c ON c.occurrence_id = o.id
			WHERE coalesce(c.taken, 0) <> (SELECT count(*) FROM registrations r
				WHERE r.occurrence_id = o.id AND r.status IN ('confirmed', 'held'))`).Scan(&wrong); err != nil {
			t.Fatal(err)
		}
		if wrong != 0 {
			t.Fatalf("%s: the places taken kept for %d sessions are not those counted", when, wrong)
		}
	}
	var capacity int
	if err := s.Pool().QueryRow(ctx, `SELECT capacity FROM events WHERE id = $1`, e.ID).Scan(&capacity); err != nil {
		t.Fatal(err)
	}
	check("after the rush", capacity, n)
	counted("after the rush")

	// Each registration's notices: one per time it was made (two for those who registered
	// again after cancelling), of the kind of the status it was given then, to its owner,
	// with what the change froze.
	rows, err := s.Pool().Query(ctx, `SELECT r.person_id, o.notice_kind, o.kind, o.to_address, o.sensitive, o.person_id,
		o.occurrence_id, o.event_id, o.payload FROM outbox o JOIN registrations r ON r.id = o.registration_id
		WHERE o.notice_kind IN ('confirmed', 'held', 'waitlisted', 'pending') ORDER BY o.id`)
	if err != nil {
		t.Fatal(err)
	}
	made := map[int64]int{}
	for rows.Next() {
		var person, toPerson, occID, eventID int64
		var kind, kind2, to string
		var sensitive bool
		var payload domain.NoticePayload
		var raw []byte
		if err := rows.Scan(&person, &kind, &kind2, &to, &sensitive, &toPerson, &occID, &eventID, &raw); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &payload); err != nil {
			t.Fatal(err)
		}
		i := int(person - people[0].ID)
		made[person]++
		byEmail := i%5 == 0
		switch {
		case kind != kind2, toPerson != person, to != people[i].Email, occID != occ, eventID != e.ID,
			payload.Lang != "pt", sensitive != byEmail, byEmail != (payload.SignInURL != ""):
			t.Errorf("notice %s to person %d: %s, %q, sensitive %v, occurrence %d, event %d, payload %+v",
				kind, person, kind2, to, sensitive, occID, eventID, payload)
		case byEmail && kind != string(domain.NoticeHeld) && kind != string(domain.NoticeWaitlisted),
			!byEmail && kind != string(domain.NoticeConfirmed) && kind != string(domain.NoticeWaitlisted):
			t.Errorf("person %d (%d) was told %s", person, i%5, kind)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for i, p := range people {
		if want := map[bool]int{true: 2, false: 1}[i%5 == 1]; made[p.ID] != want {
			t.Errorf("person %d (%d) got %d registration notices, want %d", p.ID, i%5, made[p.ID], want)
		}
	}

	// Unconfirmed places released at their deadline go to the people waiting, and a
	// registration after that takes the next free place or waits behind them.
	clk.Add(store.UnconfirmedHold + 1)
	if _, err := s.ReleaseUnconfirmed(ctx, nil); err != nil {
		t.Fatal(err)
	}
	late, _ := s.CreatePerson(ctx, store.NewPerson{Email: "late@example.org"})
	if _, err := s.Register(ctx, occ, late.ID, store.RegistrationDetails{Name: "L"}, nil); err != nil {
		t.Fatal(err)
	}
	check("after the release", capacity, n+1-n/5)
	counted("after the release")

	// Confirming held places, declining, cancelling with promotions, a person removed
	// (their registrations go with them), a session removed.
	for i, p := range people[:24] {
		if i%5 == 0 {
			continue // released
		}
		var err error
		switch i % 4 {
		case 0:
			_, _, err = s.CancelRegistration(ctx, occ, p.ID, nil)
		case 1:
			_, err = s.Pool().Exec(ctx, `UPDATE registrations SET status = 'declined', waitlisted_at = NULL, confirm_by = NULL
				WHERE occurrence_id = $1 AND person_id = $2`, occ, p.ID)
		case 2:
			_, err = s.Pool().Exec(ctx, `DELETE FROM people WHERE id = $1`, p.ID)
		case 3:
			_, err = s.Register(ctx, occ, p.ID, store.RegistrationDetails{Name: "again"}, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	counted("after cancellations, declines and removals")
	if _, err := s.Pool().Exec(ctx, `DELETE FROM occurrences WHERE id = $1`, occ); err != nil {
		t.Fatal(err)
	}
	counted("after the session was removed")
}

// A registration that joins the waitlist goes after everyone already on it, even when the
// time it read (before it waited for the session's lock) is earlier than theirs.
func TestWaitlistKeepsTheOrderOfTheLock(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	org, _ := s.CreatePerson(ctx, store.NewPerson{Email: "org@example.org", IsOrganiser: true})
	_, occ := oneSession(t, s, org.ID, "order", 1)
	var regs []store.Registration
	for _, addr := range []string{"a@example.org", "b@example.org", "c@example.org"} {
		p, _ := s.CreatePerson(ctx, store.NewPerson{Email: addr})
		res, err := s.Register(ctx, occ, p.ID, store.RegistrationDetails{Name: "X"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		regs = append(regs, res.Registration)
		if len(regs) == 2 { // as if b had read a later time than c will
			if _, err := s.Pool().Exec(ctx, `UPDATE registrations SET waitlisted_at = waitlisted_at + interval '1 minute'
				WHERE id = $1`, res.Registration.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if regs[1].Status != store.RegWaitlisted || regs[2].Status != store.RegWaitlisted || regs[2].Position != 2 {
		t.Fatalf("b is %s, c is %s at %d; want both waiting, c second", regs[1].Status, regs[2].Status, regs[2].Position)
	}
	b, _ := s.RegistrationOf(ctx, occ, regs[1].PersonID)
	if b.Position != 1 {
		t.Fatalf("b is at %d after c joined; want 1", b.Position)
	}
}
