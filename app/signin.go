package app

import (
	"context"
	"time"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
)

// SignInLinkLifetime is how long a sign-in link works.
const SignInLinkLifetime = 15 * time.Minute

// registrationSignInLifetime is how long the sign-in link in a registration confirmation
// works: longer than a plain sign-in link, as people read confirmations later.
const registrationSignInLifetime = 24 * time.Hour

// SignInRequest asks for a one-time sign-in link by email. How the link reads and the
// email that carries it are the caller's (its pages and language).
type SignInRequest struct {
	Email string
	Next  string // the local path the link leads back to
	// Link is the URL that spends the one-time token.
	Link func(token string) string
	// Mail is the email carrying the link to the (normalised) address.
	Mail func(to, link string) (store.Email, error)
}

// RequestSignIn makes a one-time link for an email address and puts the email carrying it
// in the outbox; anyone may ask, but one address only so many times an hour. It returns the
// normalised address.
func (a *App) RequestSignIn(ctx context.Context, in SignInRequest) (string, error) {
	addr, err := domain.NormalizeEmail(in.Email)
	if err != nil {
		return "", err
	}
	token, hash := domain.NewSecret(domain.PrefixSignIn)
	link := in.Link(token)
	msg, err := in.Mail(addr, link)
	if err != nil {
		return "", err
	}
	expires := a.now().Add(SignInLinkLifetime)
	msg.DiscardAfter = expires
	err = a.store.RequestSignIn(ctx, store.SignInRequest{Email: addr, TokenHash: hash, NextPath: in.Next,
		ExpiresAt: expires, Mail: msg, MaxPerHour: a.signInLinksPerHour})
	if err != nil {
		return "", err
	}
	a.sent()
	return addr, nil
}

// signInLinkFor makes the one-time sign-in link a registration's confirmation email
// carries (in that email, not one of its own).
func (a *App) signInLinkFor(ctx context.Context, addr, next string, url func(token string) string) (string, error) {
	token, hash := domain.NewSecret(domain.PrefixSignIn)
	err := a.store.RequestSignIn(ctx, store.SignInRequest{Email: addr, TokenHash: hash, NextPath: next,
		ExpiresAt: a.now().Add(registrationSignInLifetime), MaxPerHour: a.signInLinksPerHour})
	if err != nil {
		return "", err
	}
	return url(token), nil
}

// SignedIn is a session opened with a sign-in link.
type SignedIn struct {
	Person  domain.Person
	Next    string // where the link leads back to
	Session string // the session's secret, for the cookie
	Created bool   // the account was made by this first sign-in
}

// UseSignInLink spends a one-time sign-in link (holding it is the authorisation): it makes
// the account on a first sign-in and opens a session. What learned tells completes the
// profile where it has nothing yet; a failure there is logged, as the sign-in has worked.
func (a *App) UseSignInLink(ctx context.Context, token string, learned Learned) (SignedIn, error) {
	session, hash := domain.NewSecret(domain.PrefixSession)
	p, next, created, err := a.store.UseSignInLink(ctx, domain.HashSecret(token),
		store.NewSession{TokenHash: hash, ExpiresAt: a.now().Add(store.SessionLifetime)})
	if err != nil {
		return SignedIn{}, err
	}
	if created {
		a.log.Info("account created", "person", p.ID, "admin", p.IsAdmin)
	}
	if learnt, err := a.learn(ctx, p, learned); err != nil {
		a.log.Warn("profile not completed", "person", p.ID, "err", err)
	} else {
		p = learnt
	}
	return SignedIn{Person: p, Next: next, Session: session, Created: created}, nil
}

// SignOut ends the session whose secret the browser holds (holding it is the
// authorisation).
func (a *App) SignOut(ctx context.Context, session string) error {
	return a.store.EndSession(ctx, domain.HashSecret(session))
}
