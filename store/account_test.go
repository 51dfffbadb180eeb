package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
)

func errID(err error) string {
	if de, ok := domain.AsError(err); ok {
		return de.ID
	}
	return ""
}

// An account that something depends on is not deleted: the last site admin, the only
// organiser of an event still running, someone in a live room. Each refusal says so, and
// deletes nothing; once the reason is gone, deletion works.
func TestDeleteAccountRefusals(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := s.Pool().Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	admin, _ := s.CreatePerson(ctx, store.NewPerson{Email: "admin@example.org", IsAdmin: true})
	if err := s.DeleteAccount(ctx, admin.ID); code(err) != domain.CodeConflict || errID(err) != "err.account.last_admin" {
		t.Fatalf("last admin: %v", err)
	}
	if err := s.CheckDeletable(ctx, admin.ID); errID(err) != "err.account.last_admin" {
		t.Fatalf("check of the last admin: %v", err)
	}

	org, _ := s.CreatePerson(ctx, store.NewPerson{Email: "org@example.org", IsOrganiser: true})
	e := weeklySeries(t, s, org.ID, "lithium-talks", "FREQ=WEEKLY;COUNT=2")
	err := s.DeleteAccount(ctx, org.ID)
	if de, ok := domain.AsError(err); !ok || de.ID != "err.account.sole_organiser" || len(de.Args) != 2 || de.Args[1] != "lithium-talks" {
		t.Fatalf("only organiser: %v", err)
	}
	if _, err := s.PersonByID(ctx, org.ID); err != nil {
		t.Fatalf("a refused deletion deleted: %v", err)
	}
	// With a second organiser the first may leave; the event stays, run by the other.
	co, _ := s.CreatePerson(ctx, store.NewPerson{Email: "co@example.org", IsOrganiser: true})
	exec(`INSERT INTO event_organisers (event_id, person_id) VALUES ($1, $2)`, e.ID, co.ID)
	if err := s.DeleteAccount(ctx, org.ID); err != nil {
		t.Fatalf("one of two organisers: %v", err)
	}
	if got, err := s.EventByID(ctx, e.ID); err != nil || len(got.Organisers) != 1 || got.Organisers[0] != co.ID {
		t.Fatalf("the event after its organiser left: %+v %v", got, err)
	}
	// The only organiser of a cancelled event may leave it.
	exec(`UPDATE events SET cancelled_at = now() WHERE id = $1`, e.ID)
	if err := s.DeleteAccount(ctx, co.ID); err != nil {
		t.Fatalf("only organiser of a cancelled event: %v", err)
	}
	if _, err := s.EventByID(ctx, e.ID); err != nil {
		t.Fatalf("the cancelled event went with its organiser: %v", err)
	}

	// Someone in a live room leaves it first.
	ana, _ := s.CreatePerson(ctx, store.NewPerson{Email: "ana@example.org"})
	org2, _ := s.CreatePerson(ctx, store.NewPerson{Email: "org2@example.org", IsOrganiser: true})
	_, occ := oneSession(t, s, org2.ID, "live-now", 5)
	exec(`INSERT INTO live_members (occurrence_id, person_id, participant_id, role, present) VALUES ($1, $2, 'p-ana', 'attendee', true)`, occ, ana.ID)
	if err := s.DeleteAccount(ctx, ana.ID); errID(err) != "err.account.in_live_room" {
		t.Fatalf("in a live room: %v", err)
	}
	exec(`UPDATE live_members SET present = false WHERE person_id = $1`, ana.ID)
	if err := s.DeleteAccount(ctx, ana.ID); err != nil {
		t.Fatalf("after leaving the room: %v", err)
	}
	if err := s.DeleteAccount(ctx, ana.ID); code(err) != domain.CodeNotFound {
		t.Fatalf("deleting twice: %v", err)
	}

	// With a second admin, the first may go.
	other, _ := s.CreatePerson(ctx, store.NewPerson{Email: "admin2@example.org", IsAdmin: true})
	if err := s.DeleteAccount(ctx, admin.ID); err != nil {
		t.Fatalf("one of two admins: %v", err)
	}
	if err := s.DeleteAccount(ctx, other.ID); errID(err) != "err.account.last_admin" {
		t.Fatalf("the remaining admin: %v", err)
	}
}

// A deleted account's registrations stay as anonymous places: a confirmed or held place
// still counts, a place in line or awaiting approval is withdrawn and the line closes up.
// Nobody is emailed about an anonymous place, and organisers can still remove it (the
// waitlist moves up) but not move it.
func TestDeletedAccountsRegistrationsStayAnonymous(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	org, _ := s.CreatePerson(ctx, store.NewPerson{Email: "org@example.org", IsOrganiser: true})
	_, occ := oneSession(t, s, org.ID, "full-house", 1)
	_, other := oneSession(t, s, org.ID, "other-house", 5)
	ana, _ := s.CreatePerson(ctx, store.NewPerson{Email: "ana@example.org"})
	bea, _ := s.CreatePerson(ctx, store.NewPerson{Email: "bea@example.org"})
	cai, _ := s.CreatePerson(ctx, store.NewPerson{Email: "cai@example.org"})
	// Ana has the one place; Bea waits; Cai waits behind Bea. Bea is also confirmed
	// elsewhere.
	for _, p := range []domain.Person{ana, bea, cai} {
		if _, err := s.Register(ctx, occ, p.ID, store.RegistrationDetails{Name: p.Email, Affiliation: "Uni", Country: "CL",
			Answers: domain.Answers{"q1": "secret answer"}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Register(ctx, other, bea.ID, store.RegistrationDetails{Name: "Bea"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAccount(ctx, bea.ID); err != nil { // the one waiting first
		t.Fatal(err)
	}
	regs, err := s.Registrations(ctx, store.RegistrationFilter{OccurrenceID: occ})
	if err != nil {
		t.Fatal(err)
	}
	statuses := map[int64]domain.RegistrationStatus{}
	for _, r := range regs {
		statuses[r.PersonID] = r.Status
		if r.PersonID == 0 && (r.Email != "" || r.Details.Name != "" || r.Details.Affiliation != "" || len(r.Details.Answers) != 0 ||
			r.Details.Country != "CL") {
			t.Errorf("an anonymous registration keeps: %+v", r)
		}
	}
	if len(regs) != 3 || statuses[0] != store.RegCancelled || statuses[ana.ID] != store.RegConfirmed {
		t.Fatalf("after the one waiting left: %+v", regs)
	}
	if r, _ := s.RegistrationOf(ctx, occ, cai.ID); r.Status != store.RegWaitlisted || r.Position != 1 {
		t.Fatalf("the next in line: %+v", r)
	}
	if taken, _ := s.PlacesTaken(ctx, []int64{other}); taken[other] != 1 {
		t.Fatalf("Bea's confirmed place elsewhere stopped counting: %v", taken)
	}

	// Ana, confirmed, leaves: her place stays taken, Cai still waits.
	if err := s.DeleteAccount(ctx, ana.ID); err != nil {
		t.Fatal(err)
	}
	if taken, _ := s.PlacesTaken(ctx, []int64{occ}); taken[occ] != 1 {
		t.Fatalf("the place of a deleted account: %v", taken)
	}
	if r, _ := s.RegistrationOf(ctx, occ, cai.ID); r.Status != store.RegWaitlisted {
		t.Fatalf("Cai promoted by a deletion: %+v", r)
	}
	// A message to the registrants reaches the people, not the anonymous places.
	if n, err := s.MessageRegistrants(ctx, occ, &store.Notify{Subject: "Hi", Body: "Room change"}); err != nil || n != 1 {
		t.Fatalf("message to registrants: %d %v", n, err)
	}
	var blank int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM outbox WHERE to_address = '' OR person_id IS NULL AND notice_kind <> ''`).Scan(&blank); err != nil || blank != 0 {
		t.Fatalf("emails to nobody: %d %v", blank, err)
	}
	// The organisers cannot move the anonymous place, but can free it: Cai gets it.
	var anon store.Registration
	regs, _ = s.Registrations(ctx, store.RegistrationFilter{OccurrenceID: occ, Status: store.RegConfirmed})
	if len(regs) != 1 || regs[0].PersonID != 0 {
		t.Fatalf("the anonymous place: %+v", regs)
	}
	anon = regs[0]
	if _, err := s.MoveRegistration(ctx, anon.ID, other, &store.Notify{}); errID(err) != "err.account.registration_anonymised" {
		t.Fatalf("moving an anonymous place: %v", err)
	}
	if _, err := s.ActOnRegistration(ctx, anon.ID, domain.ActionRemove, &store.Notify{}); err != nil {
		t.Fatalf("removing an anonymous place: %v", err)
	}
	if r, _ := s.RegistrationOf(ctx, occ, cai.ID); r.Status != store.RegConfirmed {
		t.Fatalf("Cai after the anonymous place was freed: %+v", r)
	}
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM outbox WHERE to_address = '' OR person_id IS NULL AND notice_kind <> ''`).Scan(&blank); err != nil || blank != 0 {
		t.Fatalf("emails to nobody: %d %v", blank, err)
	}
}

// Two site admins deleting themselves at once: one goes, the other is refused as the last.
func TestTwoAdminsDeletingAtOnce(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	a, _ := s.CreatePerson(ctx, store.NewPerson{Email: "a@example.org", IsAdmin: true})
	b, _ := s.CreatePerson(ctx, store.NewPerson{Email: "b@example.org", IsAdmin: true})
	errs := make(chan error, 2)
	for _, p := range []domain.Person{a, b} {
		go func() { errs <- s.DeleteAccount(ctx, p.ID) }()
	}
	var ok, refused int
	for range 2 {
		switch err := <-errs; {
		case err == nil:
			ok++
		case errID(err) == "err.account.last_admin":
			refused++
		default:
			t.Fatalf("unexpected: %v", err)
		}
	}
	if ok != 1 || refused != 1 {
		t.Fatalf("%d deleted, %d refused", ok, refused)
	}
}

// Deleting an account while others register for the same sessions: no deadlock, and the
// places counted agree with the rows.
func TestDeletingWhileOthersRegister(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	org, _ := s.CreatePerson(ctx, store.NewPerson{Email: "org@example.org", IsOrganiser: true})
	var occs []int64
	for _, slug := range []string{"one", "two", "three"} {
		_, occ := oneSession(t, s, org.ID, slug, 3)
		occs = append(occs, occ)
	}
	var leavers, joiners []domain.Person
	for i := range 6 {
		l, _ := s.CreatePerson(ctx, store.NewPerson{Email: fmt.Sprintf("leaver%d@example.org", i)})
		j, _ := s.CreatePerson(ctx, store.NewPerson{Email: fmt.Sprintf("joiner%d@example.org", i)})
		leavers, joiners = append(leavers, l), append(joiners, j)
		for _, occ := range occs {
			if _, err := s.Register(ctx, occ, l.ID, store.RegistrationDetails{Name: "L"}, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 6 {
		wg.Add(2)
		go func() { defer wg.Done(); errs <- s.DeleteAccount(ctx, leavers[i].ID) }()
		go func() {
			defer wg.Done()
			for k := range occs {
				_, err := s.Register(ctx, occs[(i+k)%len(occs)], joiners[i].ID, store.RegistrationDetails{Name: "J"}, &store.Notify{})
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent deletion and registration: %v", err)
		}
	}
	for _, occ := range occs {
		var counted, rows, anonymous int
		if err := s.Pool().QueryRow(ctx, `SELECT coalesce((SELECT taken FROM registration_counts WHERE occurrence_id = $1), 0),
			(SELECT count(*) FROM registrations WHERE occurrence_id = $1 AND status IN ('confirmed', 'held')),
			(SELECT count(*) FROM registrations WHERE occurrence_id = $1 AND person_id IS NULL)`, occ).Scan(&counted, &rows, &anonymous); err != nil {
			t.Fatal(err)
		}
		if counted != rows || counted != 3 || anonymous != 6 {
			t.Fatalf("session %d: %d counted, %d rows taking a place, %d anonymous", occ, counted, rows, anonymous)
		}
	}
}
