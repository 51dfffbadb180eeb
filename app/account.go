package app

import (
	"context"

	"github.com/puente-org/puente/store"
)

// ExportAccount is everything Puente holds about the signed-in person (their own, nobody
// else's: the actor is the only person whose data it reads).
func (a *App) ExportAccount(ctx context.Context, who Actor) (store.AccountExport, error) {
	p, err := who.signedIn()
	if err != nil {
		return store.AccountExport{}, err
	}
	x, err := a.store.ExportAccount(ctx, p.ID)
	if err == nil {
		a.log.Info("account exported", "person", p.ID)
	}
	return x, err
}

// CheckAccountDeletable reports whether the signed-in person's account can be deleted now
// (the refusal DeleteAccount would give: last site admin, only organiser of an event, in
// a live room).
func (a *App) CheckAccountDeletable(ctx context.Context, who Actor) error {
	p, err := who.signedIn()
	if err != nil {
		return err
	}
	return a.store.CheckDeletable(ctx, p.ID)
}

// DeleteAccount deletes the signed-in person's own account (store.DeleteAccount says what
// goes and what is kept anonymised). Nobody can delete another person's account.
func (a *App) DeleteAccount(ctx context.Context, who Actor) error {
	p, err := who.signedIn()
	if err != nil {
		return err
	}
	if err := a.store.DeleteAccount(ctx, p.ID); err != nil {
		return err
	}
	a.log.Info("account deleted", "person", p.ID)
	return nil
}
