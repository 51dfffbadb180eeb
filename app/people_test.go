package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/puente-org/puente/app"
	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
)

func TestPeopleUseCasesNeedSignIn(t *testing.T) {
	f := newFixture(t, 10)
	ctx := context.Background()
	nobody := app.Actor{Lang: "es"}
	bob := f.people["Bob"].ID
	for name, call := range map[string]func() error{
		"update profile": func() error {
			_, err := f.a.UpdateProfile(ctx, nobody, app.ProfileChange{Name: ptr("X")})
			return err
		},
		"learn profile": func() error { _, err := f.a.LearnProfile(ctx, nobody, app.Learned{Language: "es"}); return err },
		"set language":  func() error { return f.a.SetLanguage(ctx, nobody, "es") },
		"create token":  func() error { _, err := f.a.CreateToken(ctx, nobody, "laptop"); return err },
		"revoke token":  func() error { return f.a.RevokeToken(ctx, nobody, 1) },
		"set roles":     func() error { _, err := f.a.SetRoles(ctx, nobody, bob, true, true); return err },
		"follow":        func() error { return f.a.Follow(ctx, nobody, f.event.ID) },
		"unfollow":      func() error { return f.a.Unfollow(ctx, nobody, f.event.ID) },
		"regenerate":    func() error { return f.a.RegenerateFeed(ctx, nobody) },
	} {
		wantCode(t, name, call(), domain.CodeUnauthenticated)
	}
}

func TestSetRolesIsForAdminsAndKeepsAnAdmin(t *testing.T) {
	f := newFixture(t, 10)
	ctx := context.Background()
	bob := f.people["Bob"].ID
	// An organiser is not a site admin.
	_, err := f.a.SetRoles(ctx, f.as("Olga"), bob, true, true)
	wantCode(t, "an organiser granting roles", err, domain.CodeForbidden)
	if p, _ := f.st.PersonByID(ctx, bob); p.IsAdmin || p.IsOrganiser {
		t.Fatalf("refused, yet Bob has roles: %+v", p)
	}
	// The only admin cannot withdraw their own admin role.
	ada := f.people["Ada"].ID
	_, err = f.a.SetRoles(ctx, f.as("Ada"), ada, false, false)
	wantCode(t, "the last admin stepping down", err, domain.CodeConflict)
	// With another admin, they can.
	p, err := f.a.SetRoles(ctx, f.as("Ada"), bob, true, false)
	if err != nil || !p.IsAdmin {
		t.Fatalf("Ada making Bob admin: %+v, %v", p, err)
	}
	if p, err := f.a.SetRoles(ctx, f.as("Ada"), ada, false, true); err != nil || p.IsAdmin || !p.IsOrganiser {
		t.Fatalf("Ada stepping down: %+v, %v", p, err)
	}
}

func TestRevokingSomeoneElsesTokenIsNotFound(t *testing.T) {
	f := newFixture(t, 10)
	ctx := context.Background()
	tok, err := f.a.CreateToken(ctx, f.as("Alice"), "laptop")
	if err != nil || !strings.HasPrefix(tok.Secret, domain.PrefixAPIToken) || tok.PersonID != f.people["Alice"].ID {
		t.Fatalf("token: %+v, %v", tok, err)
	}
	wantCode(t, "Bob revoking Alice's token", f.a.RevokeToken(ctx, f.as("Bob"), tok.ID), domain.CodeNotFound)
	if p, err := f.st.PersonByAPIToken(ctx, domain.HashSecret(tok.Secret)); err != nil || p.ID != f.people["Alice"].ID {
		t.Fatalf("Alice's token after Bob's attempt: %+v, %v", p, err)
	}
	if err := f.a.RevokeToken(ctx, f.as("Alice"), tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.PersonByAPIToken(ctx, domain.HashSecret(tok.Secret)); err == nil {
		t.Fatal("a revoked token still works")
	}
}

// What Puente learns completes a profile where it has nothing; it never takes someone's
// email address for their name, nor overwrites what they chose (a rule the pages once kept).
func TestLearnProfileOnlyFillsGaps(t *testing.T) {
	f := newFixture(t, 10)
	ctx := context.Background()
	p, _, err := f.st.EnsurePerson(ctx, "dora@example.org")
	if err != nil {
		t.Fatal(err)
	}
	who := app.Actor{Person: &p}
	got, err := f.a.LearnProfile(ctx, who, app.Learned{Name: " Dora@Example.org ", Language: "es", TimeZone: "America/Lima"})
	if err != nil || got.Profile.Name != "" || got.Profile.Language != "es" || got.Profile.TimeZone != "America/Lima" {
		t.Fatalf("learned: %+v, %v", got.Profile, err)
	}
	who.Person = &got
	got, err = f.a.LearnProfile(ctx, who, app.Learned{Name: "Dora", Language: "pt", TimeZone: "Europe/London"})
	if err != nil || got.Profile.Name != "Dora" || got.Profile.Language != "es" || got.Profile.TimeZone != "America/Lima" {
		t.Fatalf("learned again: %+v, %v", got.Profile, err)
	}
}

func TestSignInWithALink(t *testing.T) {
	f := newFixture(t, 10)
	ctx := context.Background()
	var token string
	addr, err := f.a.RequestSignIn(ctx, app.SignInRequest{Email: "Eva@EXAMPLE.org", Next: "/programme",
		Link: func(tk string) string { token = tk; return "https://puente.example.org/sign-in/link?token=" + tk },
		Mail: func(to, link string) (store.Email, error) {
			return store.Email{Kind: "sign_in", To: to, Subject: "Sign in", Text: link, Sensitive: true}, nil
		}})
	if err != nil || addr != "Eva@example.org" || token == "" {
		t.Fatalf("request: %q, %q, %v", addr, token, err)
	}
	in, err := f.a.UseSignInLink(ctx, token, app.Learned{Language: "pt"})
	if err != nil || !in.Created || in.Next != "/programme" || in.Person.Profile.Language != "pt" || in.Session == "" {
		t.Fatalf("signed in: %+v, %v", in, err)
	}
	if p, err := f.st.PersonBySession(ctx, domain.HashSecret(in.Session)); err != nil || p.ID != in.Person.ID {
		t.Fatalf("session: %+v, %v", p, err)
	}
	if _, err := f.a.UseSignInLink(ctx, token, app.Learned{}); err == nil {
		t.Fatal("a sign-in link worked twice")
	}
}

// The API changes only the fields it is sent; the others keep their value.
func TestUpdateProfileKeepsWhatItIsNotGiven(t *testing.T) {
	f := newFixture(t, 10)
	ctx := context.Background()
	got, err := f.a.UpdateProfile(ctx, f.as("Alice"), app.ProfileChange{Affiliation: ptr("Universidad de Chile"), TimeZone: ptr("America/Santiago")})
	if err != nil || got.Profile.Name != "Alice" || got.Profile.Affiliation != "Universidad de Chile" || got.Profile.TimeZone != "America/Santiago" {
		t.Fatalf("updated: %+v, %v", got.Profile, err)
	}
	_, err = f.a.UpdateProfile(ctx, f.as("Alice"), app.ProfileChange{TimeZone: ptr("Mars/Olympus")})
	wantCode(t, "an unknown zone", err, domain.CodeInvalid)
}
