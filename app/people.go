package app

import (
	"context"
	"strings"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
)

// ProfileChange is a change to one's own profile: fields left nil keep their value (the
// API's partial update); the profile form sets them all.
type ProfileChange struct {
	Name, Affiliation, Country, CareerStage, Language, TimeZone *string

	WeeklyDigest *bool // asking for the weekly digest, or stopping it
}

// apply is the profile with the change made.
func (ch ProfileChange) apply(prof domain.Profile) domain.Profile {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&prof.Name, ch.Name)
	set(&prof.Affiliation, ch.Affiliation)
	set(&prof.Country, ch.Country)
	set(&prof.Language, ch.Language)
	set(&prof.TimeZone, ch.TimeZone)
	if ch.CareerStage != nil {
		prof.CareerStage = domain.CareerStage(*ch.CareerStage)
	}
	if ch.WeeklyDigest != nil {
		prof.WeeklyDigest = *ch.WeeklyDigest
	}
	return prof
}

// UpdateProfile changes the signed-in person's own profile.
func (a *App) UpdateProfile(ctx context.Context, who Actor, ch ProfileChange) (domain.Person, error) {
	p, err := who.signedIn()
	if err != nil {
		return domain.Person{}, err
	}
	return a.store.UpdateProfile(ctx, p.ID, ch.apply(p.Profile))
}

// Learned is what Puente learns about a person without asking them: a name they typed in a
// form, the language of the pages they use and the zone their browser reports.
type Learned = store.Learned

// news is what in would add to p's profile: only where it has nothing yet, and never their
// email address as their name ("" fields: nothing to add).
func news(p domain.Person, in Learned) Learned {
	in.Name = strings.TrimSpace(in.Name)
	if strings.EqualFold(in.Name, p.Email) || p.Profile.Name != "" {
		in.Name = ""
	}
	if p.Profile.Language != "" {
		in.Language = ""
	}
	if p.Profile.TimeZone != "" {
		in.TimeZone = ""
	}
	return in
}

// LearnProfile completes the signed-in person's profile with what was learned, where it
// has nothing yet: a value they chose is never overwritten, an invalid one is ignored.
func (a *App) LearnProfile(ctx context.Context, who Actor, in Learned) (domain.Person, error) {
	p, err := who.signedIn()
	if err != nil {
		return domain.Person{}, err
	}
	return a.learn(ctx, p, in)
}

func (a *App) learn(ctx context.Context, p domain.Person, in Learned) (domain.Person, error) {
	if in = news(p, in); in == (Learned{}) {
		return p, nil // nothing to learn
	}
	return a.store.LearnProfile(ctx, p.ID, in)
}

// SetLanguage saves the language the signed-in person chose with the language switch: it
// is their language for emails too.
func (a *App) SetLanguage(ctx context.Context, who Actor, lang string) error {
	p, err := who.signedIn()
	if err != nil {
		return err
	}
	if p.Profile.Language == lang {
		return nil
	}
	return a.store.SetLanguage(ctx, p.ID, lang)
}

// NewToken is a personal API token just made, and its secret, shown this once.
type NewToken struct {
	store.APIToken
	Secret string
}

// CreateToken makes a personal API token for the signed-in person.
func (a *App) CreateToken(ctx context.Context, who Actor, name string) (NewToken, error) {
	p, err := who.signedIn()
	if err != nil {
		return NewToken{}, err
	}
	secret, hash := domain.NewSecret(domain.PrefixAPIToken)
	t, err := a.store.CreateAPIToken(ctx, p.ID, name, hash)
	if err != nil {
		return NewToken{}, err
	}
	a.log.Info("api token created", "person", p.ID)
	return NewToken{APIToken: t, Secret: secret}, nil
}

// RevokeToken revokes one of the signed-in person's own tokens. Someone else's token is not
// found: its existence is not theirs to learn.
func (a *App) RevokeToken(ctx context.Context, who Actor, tokenID int64) error {
	p, err := who.signedIn()
	if err != nil {
		return err
	}
	return a.store.RevokeAPIToken(ctx, p.ID, tokenID)
}

// SetRoles grants or withdraws a person's site-wide roles: site admins only. The last
// site admin cannot withdraw their own admin role (the store checks it, under its lock).
func (a *App) SetRoles(ctx context.Context, who Actor, personID int64, admin, organiser bool) (domain.Person, error) {
	by, err := who.signedIn()
	if err != nil {
		return domain.Person{}, err
	}
	if !by.IsAdmin {
		return domain.Person{}, domain.New(domain.CodeForbidden, "error.message.forbidden")
	}
	p, err := a.store.SetRoles(ctx, personID, admin, organiser)
	if err != nil {
		return domain.Person{}, err
	}
	a.log.Info("roles changed", "by", by.ID, "person", p.ID, "admin", p.IsAdmin, "organiser", p.IsOrganiser)
	return p, nil
}

// RegenerateFeed revokes the signed-in person's personal feed URL and makes a new one.
func (a *App) RegenerateFeed(ctx context.Context, who Actor) error {
	p, err := who.signedIn()
	if err != nil {
		return err
	}
	_, err = a.store.NewFeedNonce(ctx, p.ID)
	return err
}
