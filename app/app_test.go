package app_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/puente-org/puente/app"
	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/links"
	"github.com/puente-org/puente/live"
	"github.com/puente-org/puente/store"
	"github.com/puente-org/puente/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// fixture is the application layer on a fresh database, with an organiser's series of one
// session (Santiago, 4 June 2026 at 12:00) and a few people.
type fixture struct {
	t      *testing.T
	a      *app.App
	st     *store.Store
	clk    *clock
	key    []byte
	queued atomic.Int32
	people map[string]domain.Person
	event  domain.Event
	occID  int64
}

func newFixture(t *testing.T, capacity int) *fixture {
	t.Helper()
	f := &fixture{t: t, clk: &clock{t: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}, key: []byte("a key for the app layer's tests"),
		people: map[string]domain.Person{}}
	f.st = store.New(pgtest.New(t), f.clk.Now)
	var err error
	f.a, err = app.New(app.Options{Store: f.st, Now: f.clk.Now, LinkKey: f.key, MailQueued: func() { f.queued.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, np := range []store.NewPerson{
		{Email: "olga@example.org", Name: "Olga", IsOrganiser: true},
		{Email: "oscar@example.org", Name: "Oscar", IsOrganiser: true}, // organises other events, not this one
		{Email: "ada@example.org", Name: "Ada", IsAdmin: true},
		{Email: "alice@example.org", Name: "Alice"},
		{Email: "bob@example.org", Name: "Bob"},
	} {
		p, err := f.st.CreatePerson(ctx, np)
		if err != nil {
			t.Fatal(err)
		}
		f.people[np.Name] = p
	}
	f.event, err = f.a.CreateEvent(ctx, f.as("Olga"), domain.KindSeries, app.EventInput{Title: ptr("Lithium Seminar"),
		Timezone: ptr("America/Santiago"), StartDate: ptr("2026-06-04"), StartTime: ptr("12:00"), Capacity: ptr(capacity)})
	if err != nil {
		t.Fatal(err)
	}
	occs, err := f.st.Occurrences(ctx, store.OccurrenceFilter{EventID: f.event.ID})
	if err != nil || len(occs) != 1 {
		t.Fatalf("occurrences: %v %d", err, len(occs))
	}
	f.occID = occs[0].Occurrence.ID
	return f
}

func ptr[T any](v T) *T { return &v }

// as is the named person acting from an English page.
func (f *fixture) as(name string) app.Actor {
	p, ok := f.people[name]
	if !ok {
		f.t.Fatalf("no person %q", name)
	}
	return app.Actor{Person: &p, Lang: "en"}
}

func wantCode(t *testing.T, what string, err error, code domain.Code) {
	t.Helper()
	if got := domain.ErrorCode(err); got != code {
		t.Errorf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
}

func (f *fixture) status(regID int64) domain.RegistrationStatus {
	f.t.Helper()
	r, err := f.st.RegistrationByID(context.Background(), regID)
	if err != nil {
		f.t.Fatal(err)
	}
	return r.Status
}

func TestOnlyTheEventsOrganisersChangeIt(t *testing.T) {
	f := newFixture(t, 10)
	ctx := context.Background()
	title := "Hijacked"
	for _, who := range []struct {
		name  string
		actor app.Actor
		code  domain.Code
	}{
		{"a person", f.as("Bob"), domain.CodeForbidden},
		{"another event's organiser", f.as("Oscar"), domain.CodeForbidden},
		{"someone not signed in", app.Actor{Lang: "en"}, domain.CodeUnauthenticated},
	} {
		_, err := f.a.UpdateEvent(ctx, who.actor, f.event.ID, app.EventInput{Title: &title})
		wantCode(t, who.name+" updates the series", err, who.code)
		_, err = f.a.DeleteEvent(ctx, who.actor, f.event.ID)
		wantCode(t, who.name+" deletes the series", err, who.code)
		_, err = f.a.AddOccurrence(ctx, who.actor, f.event.ID, app.OccurrenceInput{StartDate: ptr("2026-06-11"), StartTime: ptr("12:00")})
		wantCode(t, who.name+" adds an occurrence", err, who.code)
		_, err = f.a.UpdateOccurrence(ctx, who.actor, f.occID, app.OccurrenceInput{StartTime: ptr("13:00")})
		wantCode(t, who.name+" moves the occurrence", err, who.code)
		_, err = f.a.CancelOccurrence(ctx, who.actor, f.occID, "no reason")
		wantCode(t, who.name+" cancels the occurrence", err, who.code)
		_, err = f.a.DeleteOccurrence(ctx, who.actor, f.occID)
		wantCode(t, who.name+" deletes the occurrence", err, who.code)
		_, err = f.a.MessageRegistrants(ctx, who.actor, f.occID, app.Message{Subject: "Hi", Body: "Buy now"})
		wantCode(t, who.name+" writes to registrants", err, who.code)
		_, err = f.a.AddTrack(ctx, who.actor, f.event.ID, app.TrackInput{Name: ptr("Track")})
		wantCode(t, who.name+" adds a track", err, who.code)
	}
	_, err := f.a.CreateEvent(ctx, f.as("Bob"), domain.KindSeries, app.EventInput{Title: ptr("Mine"),
		Timezone: ptr("Europe/London"), StartDate: ptr("2026-06-04"), StartTime: ptr("12:00")})
	wantCode(t, "a person who is not an organiser creates a series", err, domain.CodeForbidden)

	e, err := f.st.EventByID(ctx, f.event.ID)
	if err != nil {
		t.Fatal(err)
	}
	l, err := f.st.OccurrenceByID(ctx, f.occID)
	if err != nil {
		t.Fatal(err)
	}
	if e.Title != "Lithium Seminar" || l.Occurrence.Status != domain.StatusScheduled || l.Occurrence.StartLocal.Format("15:04") != "12:00" {
		t.Fatalf("refused changes changed the series: %q, %s at %s", e.Title, l.Occurrence.Status, l.Occurrence.StartLocal.Format("15:04"))
	}

	// The organiser and a site admin may.
	if _, err := f.a.UpdateEvent(ctx, f.as("Olga"), f.event.ID, app.EventInput{Title: ptr("Lithium Seminar II")}); err != nil {
		t.Fatalf("organiser: %v", err)
	}
	if _, err := f.a.UpdateOccurrence(ctx, f.as("Ada"), f.occID, app.OccurrenceInput{StartTime: ptr("13:00")}); err != nil {
		t.Fatalf("admin: %v", err)
	}
}

func TestPeopleActOnlyOnTheirOwnRegistrations(t *testing.T) {
	f := newFixture(t, 10)
	ctx := context.Background()
	if _, err := f.a.Register(ctx, app.Actor{Lang: "en"}, f.occID, app.RegistrationForm{}); domain.ErrorCode(err) != domain.CodeUnauthenticated {
		t.Fatalf("register without signing in: %v", err)
	}
	res, err := f.a.Register(ctx, f.as("Alice"), f.occID, app.RegistrationForm{Name: ptr("Alice Liddell")})
	if err != nil {
		t.Fatal(err)
	}
	alice := res.Registration
	if alice.Status != domain.RegConfirmed || alice.Details.Name != "Alice Liddell" {
		t.Fatalf("registered: %s %q", alice.Status, alice.Details.Name)
	}
	if f.queued.Load() == 0 {
		t.Error("registering did not announce its email")
	}

	// Bob cannot end, move, approve or renew Alice's registration.
	_, err = f.a.Act(ctx, f.as("Bob"), alice.ID, domain.ActionRemove)
	wantCode(t, "Bob removes Alice's registration", err, domain.CodeForbidden)
	_, err = f.a.MoveRegistration(ctx, f.as("Bob"), alice.ID, f.occID)
	wantCode(t, "Bob moves Alice's registration", err, domain.CodeForbidden)
	_, err = f.a.RenewLinks(ctx, f.as("Bob"), alice.ID)
	wantCode(t, "Bob renews Alice's links", err, domain.CodeNotFound)
	_, err = f.a.CancelRegistration(ctx, f.as("Bob"), f.occID) // cancels Bob's own: he has none
	wantCode(t, "Bob cancels (his own, none)", err, domain.CodeNotFound)
	forged := links.New([]byte("someone else's key")).Token(links.Cancel, alice.ID, alice.LinkNonce)
	_, _, err = f.a.CancelByLink(ctx, f.as("Bob"), forged)
	wantCode(t, "a forged cancel link", err, domain.CodeNotFound)
	join := links.New(f.key).Token(links.Join, alice.ID, alice.LinkNonce)
	_, _, err = f.a.CancelByLink(ctx, f.as("Bob"), join)
	wantCode(t, "a join link used to cancel", err, domain.CodeNotFound)
	if st := f.status(alice.ID); st != domain.RegConfirmed {
		t.Fatalf("after refusals Alice's registration is %s", st)
	}

	// Her own actions, her cancel link and the organiser's actions work.
	if _, err := f.a.RenewLinks(ctx, f.as("Alice"), alice.ID); err != nil {
		t.Fatalf("Alice renews her links: %v", err)
	}
	if _, err := f.a.CancelRegistration(ctx, f.as("Alice"), f.occID); err != nil {
		t.Fatalf("Alice cancels: %v", err)
	}
	if st := f.status(alice.ID); st != domain.RegCancelled {
		t.Fatalf("Alice cancelled: %s", st)
	}
	res, err = f.a.Register(ctx, f.as("Bob"), f.occID, app.RegistrationForm{})
	if err != nil {
		t.Fatal(err)
	}
	bob := res.Registration
	if _, _, err := f.a.CancelByLink(ctx, app.Actor{Lang: "es"}, links.New(f.key).Token(links.Cancel, bob.ID, bob.LinkNonce)); err != nil {
		t.Fatalf("Bob's cancel link: %v", err)
	}
	if st := f.status(bob.ID); st != domain.RegCancelled {
		t.Fatalf("cancelled by link: %s", st)
	}
	res, err = f.a.Register(ctx, f.as("Bob"), f.occID, app.RegistrationForm{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.Act(ctx, f.as("Olga"), res.Registration.ID, domain.ActionRemove); err != nil {
		t.Fatalf("the organiser removes Bob: %v", err)
	}
	if st := f.status(res.Registration.ID); st != domain.RegCancelled {
		t.Fatalf("removed by the organiser: %s", st)
	}
}

func TestRegisterByEmailHoldsThePlaceUntilConfirmed(t *testing.T) {
	f := newFixture(t, 1)
	ctx := context.Background()
	var signIns int
	res, err := f.a.RegisterByEmail(ctx, app.Actor{Lang: "pt"}, f.occID, app.ByEmail{Email: "Carla@Example.org",
		Form:    app.RegistrationForm{Name: ptr("Carla")},
		Learned: app.Learned{Name: "Carla", Language: "pt"}, SignInNext: "/occurrences/1",
		SignInLink: func(token string) string {
			signIns++
			return "https://puente.example.org/sign-in/link?token=" + token
		}})
	if err != nil {
		t.Fatal(err)
	}
	if signIns != 1 || res.Registration.Status != domain.RegHeld || res.Registration.ConfirmBy == nil {
		t.Fatalf("held: %d sign-ins, %s, %v", signIns, res.Registration.Status, res.Registration.ConfirmBy)
	}
	// The account this registration made starts with the name and language of the form.
	carla, err := f.st.PersonByEmail(ctx, "carla@example.org")
	if err != nil || carla.Email != "Carla@example.org" || carla.Profile.Name != "Carla" || carla.Profile.Language != "pt" {
		t.Fatalf("Carla's account: %+v, %v", carla, err) // the domain is case-insensitive, the local part is kept
	}
	// The place is held: the next person waits.
	bob, err := f.a.Register(ctx, f.as("Bob"), f.occID, app.RegistrationForm{})
	if err != nil {
		t.Fatal(err)
	}
	if bob.Registration.Status != domain.RegWaitlisted {
		t.Fatalf("Bob: %s", bob.Registration.Status)
	}
	_, err = f.a.ConfirmHeld(ctx, app.Actor{}, links.New(f.key).Token(links.Cancel, res.Registration.ID, res.Registration.LinkNonce))
	wantCode(t, "confirming with a cancel link", err, domain.CodeNotFound)
	if _, err := f.a.ConfirmHeld(ctx, app.Actor{}, links.New(f.key).Token(links.Confirm, res.Registration.ID, res.Registration.LinkNonce)); err != nil {
		t.Fatalf("confirm: %v", err)
	}
	if st := f.status(res.Registration.ID); st != domain.RegConfirmed {
		t.Fatalf("confirmed: %s", st)
	}
}

func TestAdmissionToTheRoom(t *testing.T) {
	f := newFixture(t, 1)
	ctx := context.Background()
	if _, err := f.a.Register(ctx, f.as("Alice"), f.occID, app.RegistrationForm{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.Register(ctx, f.as("Bob"), f.occID, app.RegistrationForm{}); err != nil {
		t.Fatal(err)
	}
	l, err := f.st.OccurrenceByID(ctx, f.occID)
	if err != nil {
		t.Fatal(err)
	}
	never := func(context.Context, int64) (bool, error) { return false, nil }
	admit := func(name string) (string, error) { return f.a.Admit(ctx, f.people[name], l, never) }

	f.clk.Set(l.Occurrence.Start.Add(-30 * time.Minute)) // before the attendees' window, within the stage's
	if _, err := admit("Alice"); domain.ErrorCode(err) != domain.CodeConflict {
		t.Errorf("Alice early: %v", err)
	}
	if role, err := admit("Olga"); err != nil || role != live.RoleHost {
		t.Errorf("organiser early: %q %v", role, err)
	}
	f.clk.Set(l.Occurrence.Start.Add(-5 * time.Minute))
	for name, want := range map[string]string{"Olga": live.RoleHost, "Ada": live.RoleHost, "Alice": live.RoleAttendee} {
		if role, err := admit(name); err != nil || role != want {
			t.Errorf("%s: %q %v, want %q", name, role, err, want)
		}
	}
	if _, err := admit("Bob"); domain.ErrorCode(err) != domain.CodeForbidden { // waitlisted
		t.Errorf("Bob (waitlisted): %v", err)
	}
	if _, err := admit("Oscar"); domain.ErrorCode(err) != domain.CodeForbidden {
		t.Errorf("Oscar (not registered): %v", err)
	}
	ended := func(context.Context, int64) (bool, error) { return true, nil }
	if _, err := f.a.Admit(ctx, f.people["Alice"], l, ended); domain.ErrorCode(err) != domain.CodeConflict {
		t.Errorf("Alice after the hosts ended the room: %v", err)
	}
	if _, err := f.a.Admit(ctx, f.people["Olga"], l, ended); err != nil {
		t.Errorf("the host comes back to an ended room: %v", err)
	}
	f.clk.Set(l.Occurrence.End.Add(31 * time.Minute))
	if _, err := admit("Alice"); domain.ErrorCode(err) != domain.CodeConflict {
		t.Errorf("Alice late: %v", err)
	}
}

func TestNewEventsAndSessionsNeedTheirSchedule(t *testing.T) {
	f := newFixture(t, 10)
	ctx := context.Background()
	for _, c := range []struct {
		in    app.EventInput
		field string
	}{
		{app.EventInput{Timezone: ptr("Europe/London"), StartDate: ptr("2026-06-04"), StartTime: ptr("12:00")}, "title"},
		{app.EventInput{Title: ptr("T"), StartDate: ptr("2026-06-04"), StartTime: ptr("12:00")}, "timezone"},
		{app.EventInput{Title: ptr("T"), Timezone: ptr("Europe/London"), StartTime: ptr("12:00")}, "start_date"},
		{app.EventInput{Title: ptr("T"), Timezone: ptr("Europe/London"), StartDate: ptr("2026-06-04")}, "start_time"},
	} {
		_, err := f.a.CreateEvent(ctx, f.as("Olga"), domain.KindSeries, c.in)
		if de, ok := domain.AsError(err); !ok || de.Code != domain.CodeInvalid || de.Field != c.field {
			t.Errorf("without %s: %v", c.field, err)
		}
	}
	_, err := f.a.AddOccurrence(ctx, f.as("Olga"), f.event.ID, app.OccurrenceInput{StartDate: ptr("2026-06-11")})
	if de, ok := domain.AsError(err); !ok || de.Field != "start_time" {
		t.Errorf("an occurrence without a time: %v", err)
	}
	l, err := f.a.AddOccurrence(ctx, f.as("Olga"), f.event.ID, app.OccurrenceInput{StartDate: ptr("2026-06-11"), StartTime: ptr("12:00")})
	if err != nil || l.Occurrence.Origin != "extra" {
		t.Fatalf("extra occurrence: %v %q", err, l.Occurrence.Origin)
	}
}
