package app

import (
	"context"

	"github.com/puente-org/puente/domain"
)

// TrackInput names a conference track and its room. Nil fields are left as they are.
type TrackInput struct {
	Name *string `json:"name"`
	Room *string `json:"room"`
}

func (in TrackInput) apply(t *domain.Track) {
	if in.Name != nil {
		t.Name = *in.Name
	}
	if in.Room != nil {
		t.Room = *in.Room
	}
}

// AddTrack adds a track to a conference, for its organisers.
func (a *App) AddTrack(ctx context.Context, who Actor, eventID int64, in TrackInput) (domain.Track, error) {
	e, err := a.managedEvent(ctx, who, eventID)
	if err != nil {
		return domain.Track{}, err
	}
	t := domain.Track{EventID: e.ID}
	in.apply(&t)
	return a.store.CreateTrack(ctx, t)
}

// ManagedTrack reads a track for one of its conference's organisers.
func (a *App) ManagedTrack(ctx context.Context, who Actor, id int64) (domain.Track, error) {
	t, err := a.store.TrackByID(ctx, id)
	if err != nil {
		return t, err
	}
	_, err = a.managedEvent(ctx, who, t.EventID)
	return t, err
}

// UpdateTrack renames a track or changes its room.
func (a *App) UpdateTrack(ctx context.Context, who Actor, id int64, in TrackInput) (domain.Track, error) {
	t, err := a.ManagedTrack(ctx, who, id)
	if err != nil {
		return t, err
	}
	in.apply(&t)
	return a.store.UpdateTrack(ctx, t)
}

// DeleteTrack removes a track; its sessions stay, without a track.
func (a *App) DeleteTrack(ctx context.Context, who Actor, id int64) error {
	if _, err := a.ManagedTrack(ctx, who, id); err != nil {
		return err
	}
	return a.store.DeleteTrack(ctx, id)
}
