package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
	"github.com/puente-org/puente/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// clock is a settable time source for expiry tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newStore(t *testing.T) (*store.Store, *clock) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	return store.New(pgtest.New(t), clk.Now), clk
}

func code(err error) domain.Code {
	if err == nil {
		return ""
	}
	return domain.ErrorCode(err)
}

func requestLink(t *testing.T, s *store.Store, clk *clock, email string) []byte {
	t.Helper()
	_, hash := domain.NewSecret(domain.PrefixSignIn)
	err := s.RequestSignIn(context.Background(), store.SignInRequest{
		Email: email, TokenHash: hash, NextPath: "/profile", ExpiresAt: clk.Now().Add(15 * time.Minute),
		Mail:       store.Email{Kind: "sign_in", To: email, Subject: "link", Text: "secret link", Sensitive: true, DiscardAfter: clk.Now().Add(15 * time.Minute)},
		MaxPerHour: 3,
	})
	if err != nil {
		t.Fatalf("request sign-in: %v", err)
	}
	return hash
}

func TestSignInLinkIsSingleUseAndCreatesAccount(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	hash := requestLink(t, s, clk, "Ana@Example.ORG")

	if _, err := s.PeekSignInLink(ctx, hash); err != nil {
		t.Fatalf("peek fresh link: %v", err)
	}
	_, sessHash := domain.NewSecret(domain.PrefixSession)
	p, next, created, err := s.UseSignInLink(ctx, hash, store.NewSession{TokenHash: sessHash, ExpiresAt: clk.Now().Add(time.Hour)})
	if err != nil {
		t.Fatalf("use link: %v", err)
	}
	if !created || p.Email != "Ana@Example.ORG" || next != "/profile" {
		t.Fatalf("got person %+v next %q created %v", p, next, created)
	}
	if !p.IsAdmin {
		t.Errorf("the first account of an installation should be site admin")
	}
	got, err := s.PersonBySession(ctx, sessHash)
	if err != nil || got.ID != p.ID {
		t.Fatalf("session lookup: %v %+v", err, got)
	}
	// Second use fails.
	_, _, _, err = s.UseSignInLink(ctx, hash, store.NewSession{TokenHash: sessHash, ExpiresAt: clk.Now().Add(time.Hour)})
	if code(err) != domain.CodeExpired {
		t.Fatalf("reused link: want expired, got %v", err)
	}
	// A second account is not admin, and a second sign-in of the same address (any case)
	// reaches the same account.
	hash2 := requestLink(t, s, clk, "bruno@example.org")
	_, sess2 := domain.NewSecret(domain.PrefixSession)
	p2, _, _, err := s.UseSignInLink(ctx, hash2, store.NewSession{TokenHash: sess2, ExpiresAt: clk.Now().Add(time.Hour)})
	if err != nil || p2.IsAdmin {
		t.Fatalf("second account: %v admin=%v", err, p2.IsAdmin)
	}
	hash3 := requestLink(t, s, clk, "ana@example.org")
	_, sess3 := domain.NewSecret(domain.PrefixSession)
	p3, _, created3, err := s.UseSignInLink(ctx, hash3, store.NewSession{TokenHash: sess3, ExpiresAt: clk.Now().Add(time.Hour)})
	if err != nil || p3.ID != p.ID || created3 {
		t.Fatalf("same address in other case: %v id %d created %v", err, p3.ID, created3)
	}
}

func TestSignInLinkExpires(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	hash := requestLink(t, s, clk, "ana@example.org")
	clk.Add(15*time.Minute + time.Second)
	if _, err := s.PeekSignInLink(ctx, hash); code(err) != domain.CodeExpired {
		t.Fatalf("peek expired: %v", err)
	}
	_, sess := domain.NewSecret(domain.PrefixSession)
	if _, _, _, err := s.UseSignInLink(ctx, hash, store.NewSession{TokenHash: sess, ExpiresAt: clk.Now().Add(time.Hour)}); code(err) != domain.CodeExpired {
		t.Fatalf("use expired: %v", err)
	}
	if _, err := s.PeekSignInLink(ctx, []byte("unknown")); code(err) != domain.CodeExpired {
		t.Fatalf("unknown link: %v", err)
	}
	// The expired email is discarded, not sent late, and its secret is blanked.
	msgs, err := s.Claim(ctx, 10, time.Minute)
	if err != nil || len(msgs) != 0 {
		t.Fatalf("claim after expiry: %v %d messages", err, len(msgs))
	}
	box, err := s.Mailbox(ctx, 10)
	if err != nil || len(box) != 1 || box[0].Status != "discarded" || box[0].Text != "" {
		t.Fatalf("mailbox after expiry: %v %+v", err, box)
	}
}

func TestSignInRateLimitPerAddress(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	for i := 0; i < 3; i++ {
		requestLink(t, s, clk, "ana@example.org")
	}
	_, hash := domain.NewSecret(domain.PrefixSignIn)
	err := s.RequestSignIn(ctx, store.SignInRequest{Email: "ANA@example.org", TokenHash: hash, ExpiresAt: clk.Now().Add(time.Minute),
		Mail: store.Email{Kind: "sign_in", To: "ana@example.org", Subject: "s", Text: "t"}, MaxPerHour: 3})
	if code(err) != domain.CodeRateLimited {
		t.Fatalf("fourth link in an hour: want rate_limited, got %v", err)
	}
	// Refused requests leave nothing behind: 3 links, 3 emails.
	box, _ := s.Mailbox(ctx, 10)
	if len(box) != 3 {
		t.Fatalf("want 3 emails, got %d", len(box))
	}
	clk.Add(61 * time.Minute)
	requestLink(t, s, clk, "ana@example.org")
}

func TestConcurrentFirstSignInsMakeOneAdmin(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	const n = 8
	hashes := make([][]byte, n)
	for i := range hashes {
		hashes[i] = requestLink(t, s, clk, "person"+string(rune('a'+i))+"@example.org")
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, h := range hashes {
		wg.Go(func() {
			_, sess := domain.NewSecret(domain.PrefixSession)
			_, _, _, err := s.UseSignInLink(ctx, h, store.NewSession{TokenHash: sess, ExpiresAt: clk.Now().Add(time.Hour)})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	page, err := s.ListPeople(ctx, "", 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	admins := 0
	for _, p := range page.People {
		if p.IsAdmin {
			admins++
		}
	}
	if page.Total != n || admins != 1 {
		t.Fatalf("want %d people and 1 admin, got %d and %d", n, page.Total, admins)
	}
}

func TestProfileValidation(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	p, err := s.CreatePerson(ctx, store.NewPerson{Email: "ana@example.org", Name: "Ana"})
	if err != nil {
		t.Fatal(err)
	}
	good := domain.Profile{Name: " Ana Pérez ", Affiliation: "Universidad de Chile", Country: "cl",
		CareerStage: domain.CareerEarly, Language: "es", TimeZone: "America/Santiago"}
	got, err := s.UpdateProfile(ctx, p.ID, good)
	if err != nil {
		t.Fatal(err)
	}
	if got.Profile.Name != "Ana Pérez" || got.Profile.Country != "CL" || got.Profile.TimeZone != "America/Santiago" {
		t.Fatalf("profile not normalised: %+v", got.Profile)
	}
	for _, tc := range []struct {
		field string
		prof  domain.Profile
	}{
		{"country", domain.Profile{Country: "XX"}},
		{"career_stage", domain.Profile{CareerStage: "professor"}},
		{"language", domain.Profile{Language: "fr"}},
		{"time_zone", domain.Profile{TimeZone: "Mars/Olympus"}},
		{"time_zone", domain.Profile{TimeZone: "Local"}},
	} {
		_, err := s.UpdateProfile(ctx, p.ID, tc.prof)
		de, ok := domain.AsError(err)
		if !ok || de.Code != domain.CodeInvalid || de.Field != tc.field {
			t.Errorf("%+v: want invalid %s, got %v", tc.prof, tc.field, err)
		}
	}
	again, _ := s.PersonByID(ctx, p.ID)
	if again.Profile != got.Profile {
		t.Errorf("a rejected update changed the profile: %+v", again.Profile)
	}
	if _, err := s.CreatePerson(ctx, store.NewPerson{Email: "ANA@example.org"}); code(err) != domain.CodeConflict {
		t.Errorf("duplicate address: want conflict, got %v", err)
	}
}

func TestAPITokens(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	p, _ := s.CreatePerson(ctx, store.NewPerson{Email: "ana@example.org"})
	other, _ := s.CreatePerson(ctx, store.NewPerson{Email: "bruno@example.org"})
	secret, hash := domain.NewSecret(domain.PrefixAPIToken)
	tok, err := s.CreateAPIToken(ctx, p.ID, "laptop", hash)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.PersonByAPIToken(ctx, domain.HashSecret(secret))
	if err != nil || got.ID != p.ID || got.Email != "ana@example.org" || got.CreatedAt.IsZero() {
		t.Fatalf("auth by token: %v %+v", err, got)
	}
	list, _ := s.ListAPITokens(ctx, p.ID)
	if len(list) != 1 || list[0].LastUsedAt == nil || !list[0].LastUsedAt.Equal(clk.Now()) {
		t.Fatalf("last used not recorded: %+v", list)
	}
	if err := s.RevokeAPIToken(ctx, other.ID, tok.ID); code(err) != domain.CodeNotFound {
		t.Fatalf("someone else's token: want not_found, got %v", err)
	}
	if err := s.RevokeAPIToken(ctx, p.ID, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PersonByAPIToken(ctx, hash); code(err) != domain.CodeUnauthenticated {
		t.Fatalf("revoked token still works: %v", err)
	}
	if _, err := s.CreateAPIToken(ctx, p.ID, "  ", hash); code(err) != domain.CodeInvalid {
		t.Fatalf("empty name: %v", err)
	}
}

// A session finds its person, is extended after a day of use, and ends when it expires.
func TestSessionLookupAndExtension(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	if _, err := s.PersonBySession(ctx, []byte("unknown")); code(err) != domain.CodeUnauthenticated {
		t.Fatalf("unknown session: %v", err)
	}
	hash := requestLink(t, s, clk, "ana@example.org")
	_, sess := domain.NewSecret(domain.PrefixSession)
	p, _, _, err := s.UseSignInLink(ctx, hash, store.NewSession{TokenHash: sess, ExpiresAt: clk.Now().Add(48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateProfile(ctx, p.ID, domain.Profile{Name: "Ana", Language: "es", TimeZone: "Europe/Madrid"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.PersonBySession(ctx, sess)
	if err != nil || got.ID != p.ID || got.Email != "ana@example.org" || got.Profile.Name != "Ana" ||
		got.Profile.Language != "es" || got.Profile.TimeZone != "Europe/Madrid" || !got.IsAdmin {
		t.Fatalf("session lookup: %v %+v", err, got)
	}
	clk.Add(30 * time.Hour) // used after more than a day: extended by SessionLifetime from now
	if _, err := s.PersonBySession(ctx, sess); err != nil {
		t.Fatalf("session within its life: %v", err)
	}
	clk.Add(store.SessionLifetime - time.Hour) // past the first expiry, within the extended one
	if _, err := s.PersonBySession(ctx, sess); err != nil {
		t.Fatalf("extended session ended early: %v", err)
	}
	clk.Add(store.SessionLifetime + time.Hour)
	if _, err := s.PersonBySession(ctx, sess); code(err) != domain.CodeUnauthenticated {
		t.Fatalf("expired session still valid: %v", err)
	}
}

// Every way of reading an event, an occurrence or a person fills the same fields.
func TestReadsAgree(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	org, _ := s.CreatePerson(ctx, store.NewPerson{Email: "org@example.org", Name: "Org", IsOrganiser: true})
	co, _ := s.CreatePerson(ctx, store.NewPerson{Email: "co@example.org", Name: "Co"})
	e, err := s.CreateEvent(ctx, domain.Event{Kind: domain.KindSeries, Slug: "weekly", Title: "Weekly", Language: "en",
		Visibility: "public", TimeZone: "Europe/London", StartDate: time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC), StartTime: "15:30",
		Duration: 90 * time.Minute, JoinWindow: 10 * time.Minute, RRule: "FREQ=WEEKLY;BYDAY=TH;COUNT=3", Registration: "open",
		Tags: []string{"maths"}}, org.ID, []string{"co@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if e.Kind != domain.KindSeries || e.StartTime != "15:30" || e.Duration != 90*time.Minute || e.JoinWindow != 10*time.Minute ||
		len(e.Organisers) != 2 || e.Organisers[0] != org.ID || e.Organisers[1] != co.ID {
		t.Fatalf("created event: %+v", e)
	}
	check := func(what string, got domain.Event) {
		t.Helper()
		if got.ID != e.ID || got.Kind != e.Kind || got.StartTime != e.StartTime || got.Duration != e.Duration ||
			got.JoinWindow != e.JoinWindow || got.Sequence != e.Sequence || len(got.Organisers) != 2 ||
			got.Organisers[0] != org.ID || got.Organisers[1] != co.ID {
			t.Fatalf("%s: %+v, want %+v", what, got, e)
		}
	}
	bySlug, err := s.EventBySlug(ctx, "weekly")
	if err != nil {
		t.Fatal(err)
	}
	check("by slug", bySlug)
	list, total, err := s.ListEvents(ctx, store.EventFilter{})
	if err != nil || total != 1 || len(list) != 1 {
		t.Fatalf("list events: %v total %d %d", err, total, len(list))
	}
	check("listed", list[0])
	occs, err := s.Occurrences(ctx, store.OccurrenceFilter{EventID: e.ID})
	if err != nil || len(occs) != 3 {
		t.Fatalf("occurrences: %v %d", err, len(occs))
	}
	check("with its occurrence", occs[0].Event)
	one, err := s.OccurrenceByID(ctx, occs[1].Occurrence.ID)
	if err != nil {
		t.Fatal(err)
	}
	check("with one occurrence", one.Event)
	if one.Occurrence.ID != occs[1].Occurrence.ID || !one.Occurrence.Start.Equal(occs[1].Occurrence.Start) ||
		one.Occurrence.Duration != 90*time.Minute {
		t.Fatalf("occurrence by id: %+v, want %+v", one.Occurrence, occs[1].Occurrence)
	}
	if _, err := s.OccurrenceByID(ctx, 424242); code(err) != domain.CodeNotFound {
		t.Fatalf("unknown occurrence: %v", err)
	}
	if _, err := s.EventByID(ctx, 424242); code(err) != domain.CodeNotFound {
		t.Fatalf("unknown event: %v", err)
	}
	page, err := s.ListPeople(ctx, "example.org", 1, 0)
	if err != nil || page.Total != 2 || len(page.People) != 1 || page.People[0].ID != co.ID || page.People[0].Profile.Name != "Co" {
		t.Fatalf("list people: %v %+v", err, page)
	}
}

func TestLastAdminKeepsRole(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	a, _ := s.CreatePerson(ctx, store.NewPerson{Email: "a@example.org", IsAdmin: true})
	b, _ := s.CreatePerson(ctx, store.NewPerson{Email: "b@example.org"})
	if _, err := s.SetRoles(ctx, a.ID, false, false); code(err) != domain.CodeConflict {
		t.Fatalf("removing the last admin: want conflict, got %v", err)
	}
	if _, err := s.SetRoles(ctx, b.ID, true, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetRoles(ctx, a.ID, false, true); err != nil {
		t.Fatalf("with another admin present: %v", err)
	}
	if _, err := s.SetRoles(ctx, 9999, true, true); code(err) != domain.CodeNotFound {
		t.Fatalf("unknown person: %v", err)
	}
}

func TestOutboxLeaseRetryAndScrub(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	requestLink(t, s, clk, "ana@example.org")
	msgs, err := s.Claim(ctx, 10, time.Minute)
	if err != nil || len(msgs) != 1 || msgs[0].Attempts != 1 || msgs[0].Text != "secret link" {
		t.Fatalf("claim: %v %+v", err, msgs)
	}
	// Leased: a second sender sees nothing until the lease ends.
	if again, _ := s.Claim(ctx, 10, time.Minute); len(again) != 0 {
		t.Fatalf("claimed twice during lease")
	}
	if err := s.MarkFailed(ctx, msgs[0].ID, "451 try later", clk.Now().Add(30*time.Second), false); err != nil {
		t.Fatal(err)
	}
	clk.Add(31 * time.Second)
	retry, _ := s.Claim(ctx, 10, time.Minute)
	if len(retry) != 1 || retry[0].Attempts != 2 {
		t.Fatalf("retry: %+v", retry)
	}
	if err := s.MarkSent(ctx, retry[0]); err != nil {
		t.Fatal(err)
	}
	m, err := s.MailboxMessageByID(ctx, retry[0].ID)
	if err != nil || m.Status != "sent" || m.Text != "" {
		t.Fatalf("after delivery the sign-in body should be blanked: %v %+v", err, m)
	}
	if _, err := s.MailboxMessageByID(ctx, 424242); code(err) != domain.CodeNotFound {
		t.Fatalf("unknown message: %v", err)
	}
}

func TestTidyRemovesWhatExpired(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	hash := requestLink(t, s, clk, "ana@example.org")
	_, sess := domain.NewSecret(domain.PrefixSession)
	if _, _, _, err := s.UseSignInLink(ctx, hash, store.NewSession{TokenHash: sess, ExpiresAt: clk.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	requestLink(t, s, clk, "bruno@example.org") // its email will expire undelivered
	if n, err := s.Tidy(ctx); err != nil || n != 0 {
		t.Fatalf("nothing has expired yet: %d %v", n, err)
	}
	clk.Add(25 * time.Hour)
	n, err := s.Tidy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// one session, two links, two emails (the delivered-never sign-in mails are discarded)
	if n != 5 {
		t.Fatalf("tidied %d rows, want 5", n)
	}
	if _, err := s.PersonBySession(ctx, sess); code(err) != domain.CodeUnauthenticated {
		t.Fatalf("expired session still valid: %v", err)
	}
	box, _ := s.Mailbox(ctx, 10)
	for _, m := range box {
		if m.Status != "discarded" || m.Text != "" {
			t.Fatalf("expired sign-in mail kept its secret: %+v", m)
		}
	}
}

// As time passes, the rolling horizon keeps a year of occurrences ahead.
func TestHorizonMovesWithTime(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t) // 1 March 2026
	org, _ := s.CreatePerson(ctx, store.NewPerson{Email: "org@example.org", IsOrganiser: true})
	e, err := s.CreateEvent(ctx, domain.Event{Kind: domain.KindSeries, Slug: "weekly", Title: "Weekly", Language: "en",
		Visibility: "public", TimeZone: "Europe/London", StartDate: time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC), StartTime: "15:00",
		Duration: time.Hour, RRule: "FREQ=WEEKLY;BYDAY=TH", Registration: "open", Tags: []string{}}, org.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	count := func() int {
		l, err := s.Occurrences(ctx, store.OccurrenceFilter{EventID: e.ID, IncludeCancelled: true, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		return len(l)
	}
	before := count()
	if before < 50 || before > 53 {
		t.Fatalf("a weekly series should have about a year of rows, got %d", before)
	}
	if n, _, err := s.ExtendHorizons(ctx, false); err != nil || n != 0 {
		t.Fatalf("nothing to extend yet: %d %v", n, err)
	}
	clk.Add(60 * 24 * time.Hour)
	if n, _, err := s.ExtendHorizons(ctx, false); err != nil || n != 1 {
		t.Fatalf("extend after two months: %d %v", n, err)
	}
	after := count()
	if after < before+8 {
		t.Fatalf("horizon did not move: %d → %d rows", before, after)
	}
	// Past rows are kept, not regenerated.
	l, _ := s.Occurrences(ctx, store.OccurrenceFilter{EventID: e.ID, IncludeCancelled: true, Limit: 1})
	if !l[0].Occurrence.StartLocal.Equal(time.Date(2026, 3, 5, 15, 0, 0, 0, time.UTC)) {
		t.Fatalf("first occurrence changed: %v", l[0].Occurrence.StartLocal)
	}
}

// Reminders go out once per offset, only to people registered before they were due.
func TestReminders(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t) // 1 March 2026, 12:00 UTC
	org, _ := s.CreatePerson(ctx, store.NewPerson{Email: "org@example.org", IsOrganiser: true})
	early, _ := s.CreatePerson(ctx, store.NewPerson{Email: "early@example.org"})
	late, _ := s.CreatePerson(ctx, store.NewPerson{Email: "late@example.org"})
	e, err := s.CreateEvent(ctx, domain.Event{Kind: domain.KindSeries, Slug: "once", Title: "Once", Language: "en",
		Visibility: "public", TimeZone: "UTC", StartDate: time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC), StartTime: "15:00",
		Duration: time.Hour, Registration: "open", Tags: []string{}, Reminders: []int{1440, 60}}, org.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	occs, _ := s.Occurrences(ctx, store.OccurrenceFilter{EventID: e.ID})
	occID := occs[0].Occurrence.ID
	last := func() string {
		box, _ := s.Mailbox(ctx, 1)
		if len(box) == 0 {
			return ""
		}
		return box[0].Kind + ":" + box[0].To
	}
	if _, err := s.Register(ctx, occID, early.ID, store.RegistrationDetails{Name: "E"}, nil); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		n, err := s.SendReminders(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 0 {
		t.Fatalf("days before: %d reminders", n)
	}
	clk.Add(3*24*time.Hour + 4*time.Hour) // 4 March 16:00: 23 h before
	if n := count(); n != 1 {
		t.Fatalf("a day before: %d", n)
	}
	if n := count(); n != 0 {
		t.Fatalf("sent twice: %d", n)
	}
	clk.Add(22*time.Hour + 30*time.Minute) // 5 March 14:30
	if _, err := s.Register(ctx, occID, late.ID, store.RegistrationDetails{Name: "L"}, nil); err != nil {
		t.Fatal(err)
	}
	clk.Add(5 * time.Minute) // 14:35
	if n := count(); n != 1 || last() != "reminder:early@example.org" {
		t.Fatalf("an hour before: %d %v (the late registrant gets none)", n, last())
	}
}

// A session that is over takes no registrations (the API answers 410).
func TestNoRegistrationAfterTheEnd(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	org, _ := s.CreatePerson(ctx, store.NewPerson{Email: "org@example.org", IsOrganiser: true})
	p, _ := s.CreatePerson(ctx, store.NewPerson{Email: "p@example.org"})
	e, err := s.CreateEvent(ctx, domain.Event{Kind: domain.KindSeries, Slug: "once", Title: "Once", Language: "en",
		Visibility: "public", TimeZone: "UTC", StartDate: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), StartTime: "10:00",
		Duration: time.Hour, Registration: "open", Tags: []string{}}, org.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	occs, _ := s.Occurrences(ctx, store.OccurrenceFilter{EventID: e.ID})
	clk.Add(24 * time.Hour) // 2 March 12:00: the session ended at 11:00
	_, err = s.Register(ctx, occs[0].Occurrence.ID, p.ID, store.RegistrationDetails{Name: "P"}, nil)
	if code(err) != domain.CodeExpired {
		t.Fatalf("registering after the end: %v", err)
	}
	if box, _ := s.Mailbox(ctx, 10); len(box) != 0 {
		t.Fatalf("an email for a registration that did not happen")
	}
}
