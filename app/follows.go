package app

import (
	"context"

	"github.com/puente-org/puente/domain"
)

// Follow makes the signed-in person follow a series or conference: its sessions go in
// their personal calendar feed, and its new talks and speakers in their daily news. An
// unlisted event cannot be followed (it is not found: its existence is not theirs to learn).
func (a *App) Follow(ctx context.Context, who Actor, eventID int64) error {
	p, err := who.signedIn()
	if err != nil {
		return err
	}
	e, err := a.store.EventByID(ctx, eventID)
	if err != nil {
		return err
	}
	if e.Visibility != domain.VisibilityPublic {
		return domain.New(domain.CodeNotFound, "err.not_found")
	}
	return a.store.Follow(ctx, p.ID, e.ID)
}

// Unfollow stops the signed-in person following a series or conference (idempotent).
func (a *App) Unfollow(ctx context.Context, who Actor, eventID int64) error {
	p, err := who.signedIn()
	if err != nil {
		return err
	}
	return a.store.Unfollow(ctx, p.ID, eventID)
}

// FollowTopic makes the signed-in person follow a topic tag: new talks tagged with it come
// in their daily news. It returns the tag as followed (lower-case).
func (a *App) FollowTopic(ctx context.Context, who Actor, tag string) (string, error) {
	p, err := who.signedIn()
	if err != nil {
		return "", err
	}
	t, err := domain.NormalizeTopic(tag)
	if err != nil {
		return "", err
	}
	return t, a.store.FollowTopic(ctx, p.ID, t)
}

// UnfollowTopic stops the signed-in person following a topic (idempotent).
func (a *App) UnfollowTopic(ctx context.Context, who Actor, tag string) (string, error) {
	p, err := who.signedIn()
	if err != nil {
		return "", err
	}
	t, err := domain.NormalizeTopic(tag)
	if err != nil {
		return "", err
	}
	return t, a.store.UnfollowTopic(ctx, p.ID, t)
}

// SendFollowUpdates queues the daily news of what people follow, for those who have news
// and were not sent theirs in the last day (the system's work, every few minutes).
func (a *App) SendFollowUpdates(ctx context.Context) (int, error) {
	n, err := a.store.SendFollowUpdates(ctx)
	if n > 0 {
		a.sent()
	}
	return n, err
}
