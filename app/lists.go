package app

import (
	"context"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
)

// ListStore is the storage of the mailing lists' choices.
type ListStore interface {
	ListTokenByHash(ctx context.Context, hash []byte) (store.ListToken, error)
	LeaveListByToken(ctx context.Context, hash []byte) (store.ListToken, error)
	MailPreferences(ctx context.Context, personID int64) (store.MailPreferences, error)
	SetMailPreferences(ctx context.Context, personID int64, join, leave []domain.MailList) error
}

// errUnsubscribeLink refuses a link that is not one Puente made (forged, mistyped, or its
// person's account deleted): the same answer for all, so a link says nothing about who.
var errUnsubscribeLink = domain.New(domain.CodeNotFound, "err.unsubscribe.unknown")

// UnsubscribeLink finds what an unsubscribe link is for, to show before it is used. The
// link is the credential: no sign-in is needed.
func (a *App) UnsubscribeLink(ctx context.Context, token string) (store.ListToken, error) {
	t, err := a.store.ListTokenByHash(ctx, domain.HashSecret(token))
	if domain.ErrorCode(err) == domain.CodeNotFound {
		return t, errUnsubscribeLink
	}
	return t, err
}

// Unsubscribe takes the link's person off its list (one click, no sign-in; RFC 8058's
// one-click POST comes here too). Using a link again changes nothing; an expired link is
// refused and points to the preferences page.
func (a *App) Unsubscribe(ctx context.Context, token string) (store.ListToken, error) {
	t, err := a.store.LeaveListByToken(ctx, domain.HashSecret(token))
	if domain.ErrorCode(err) == domain.CodeNotFound {
		return t, errUnsubscribeLink
	}
	return t, err
}

// MailPreferences reads the signed-in person's list choices.
func (a *App) MailPreferences(ctx context.Context, who Actor) (store.MailPreferences, error) {
	p, err := who.signedIn()
	if err != nil {
		return store.MailPreferences{}, err
	}
	return a.store.MailPreferences(ctx, p.ID)
}

// SetMailPreferences puts the signed-in person on the lists in join and off those in
// leave (their own choices only).
func (a *App) SetMailPreferences(ctx context.Context, who Actor, join, leave []domain.MailList) error {
	p, err := who.signedIn()
	if err != nil {
		return err
	}
	for _, l := range append(append([]domain.MailList{}, join...), leave...) {
		if !l.Valid() {
			return domain.Invalid("lists", "err.preferences.unknown_list")
		}
	}
	return a.store.SetMailPreferences(ctx, p.ID, join, leave)
}
