package app

import (
	"context"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/photo"
	"github.com/puente-org/puente/store"
)

// CreateEvent creates a series or conference for a site organiser or admin: the input is
// checked completely, then the event, its organisers and its occurrences are saved in one
// transaction.
func (a *App) CreateEvent(ctx context.Context, who Actor, kind domain.EventKind, in EventInput) (domain.Event, error) {
	if err := CanCreateEvents(who); err != nil {
		return domain.Event{}, err
	}
	switch { // a new event needs these; a change may leave them out
	case in.Title == nil:
		return domain.Event{}, domain.Invalid("title", "err.text.empty")
	case in.Timezone == nil:
		return domain.Event{}, domain.Invalid("timezone", "err.field.required")
	case in.StartDate == nil:
		return domain.Event{}, domain.Invalid("start_date", "err.start_date.required")
	case kind == domain.KindSeries && in.StartTime == nil:
		return domain.Event{}, domain.Invalid("start_time", "err.start_time.required")
	}
	e := NewEvent(kind)
	if err := in.Apply(&e); err != nil {
		return e, err
	}
	var organisers []string
	if in.Organisers != nil {
		organisers = *in.Organisers
	}
	return a.store.CreateEvent(ctx, e, who.id(), organisers)
}

// managedEvent loads an event for one of its organisers.
func (a *App) managedEvent(ctx context.Context, who Actor, id int64) (domain.Event, error) {
	e, err := a.store.EventByID(ctx, id)
	if err != nil {
		return e, err
	}
	return e, CanManage(who, e)
}

// UpdateEvent applies an organiser's change, organisers included, in one transaction. A
// raised capacity is given to the people waiting in the same transaction, and they are told
// with the other emails of the change.
func (a *App) UpdateEvent(ctx context.Context, who Actor, id int64, in EventInput) (domain.Event, error) {
	if _, err := a.managedEvent(ctx, who, id); err != nil {
		return domain.Event{}, err
	}
	var organisers []string
	if in.Organisers != nil {
		organisers = *in.Organisers
		if organisers == nil {
			organisers = []string{} // an explicit empty list: refused by the store
		}
	}
	e, err := a.store.UpdateEvent(ctx, id, organisers, func(e *domain.Event) error { return in.Apply(e) }, asOrganisers())
	if err != nil {
		return e, err
	}
	a.sent()
	return e, nil
}

// DeleteEvent is the one deletion rule: an event that never had a registration is
// deleted; one that had is cancelled instead, and everyone registered for its sessions
// still to come is told.
func (a *App) DeleteEvent(ctx context.Context, who Actor, id int64) (cancelled bool, err error) {
	if _, err := a.managedEvent(ctx, who, id); err != nil {
		return false, err
	}
	if cancelled, err = a.store.DeleteEvent(ctx, id, asOrganisers()); err != nil {
		return false, err
	}
	a.sent()
	return cancelled, nil
}

// managedOccurrence loads an occurrence for one of its event's organisers.
func (a *App) managedOccurrence(ctx context.Context, who Actor, id int64) (store.Listed, error) {
	l, err := a.store.OccurrenceByID(ctx, id)
	if err != nil {
		return l, err
	}
	return l, CanManage(who, l.Event)
}

// AddOccurrence adds an extra occurrence to a series, or a session to a conference.
func (a *App) AddOccurrence(ctx context.Context, who Actor, eventID int64, in OccurrenceInput) (store.Listed, error) {
	e, err := a.managedEvent(ctx, who, eventID)
	if err != nil {
		return store.Listed{}, err
	}
	switch {
	case in.StartDate == nil:
		return store.Listed{}, domain.Invalid("start_date", "err.start_date.required")
	case in.StartTime == nil:
		return store.Listed{}, domain.Invalid("start_time", "err.start_time.required")
	}
	o := domain.Occurrence{Duration: e.Duration, Origin: "extra", Status: domain.StatusScheduled}
	if e.Kind == domain.KindConference {
		o.Origin = "session"
	}
	var speakers []domain.Speaker
	if in.Speakers != nil {
		if speakers, err = in.speakers(); err != nil {
			return store.Listed{}, err
		}
	}
	if err := a.checkTrack(ctx, e, in.TrackID); err != nil {
		return store.Listed{}, err
	}
	if err := in.apply(e, &o, speakers); err != nil {
		return store.Listed{}, err
	}
	if o.Status == domain.StatusCancelled {
		return store.Listed{}, domain.Invalid("status", "err.occurrence.new_cancelled")
	}
	l, err := a.store.AddOccurrence(ctx, e.ID, o, asOrganisers())
	if err == nil {
		a.sent()
	}
	return l, err
}

// UpdateOccurrence edits, moves, cancels or restores one occurrence; registrants are told
// of a move or a cancellation.
func (a *App) UpdateOccurrence(ctx context.Context, who Actor, id int64, in OccurrenceInput) (store.Listed, error) {
	l, err := a.managedOccurrence(ctx, who, id)
	if err != nil {
		return l, err
	}
	var speakers []domain.Speaker
	if in.Speakers != nil {
		if speakers, err = in.speakers(); err != nil {
			return l, err
		}
	}
	if err := a.checkTrack(ctx, l.Event, in.TrackID); err != nil {
		return l, err
	}
	l, err = a.store.UpdateOccurrence(ctx, id, func(e domain.Event, o *domain.Occurrence) error {
		return in.apply(e, o, speakers)
	}, asOrganisers())
	if err == nil {
		a.sent()
	}
	return l, err
}

// CancelOccurrence cancels one occurrence, saying why; its registrants are told.
func (a *App) CancelOccurrence(ctx context.Context, who Actor, id int64, reason string) (store.Listed, error) {
	status := domain.StatusCancelled
	return a.UpdateOccurrence(ctx, who, id, OccurrenceInput{Status: &status, Reason: &reason})
}

// DeleteOccurrence is DeleteEvent's rule for one occurrence or session: removed if nobody
// ever registered, cancelled (and its registrants told) otherwise.
func (a *App) DeleteOccurrence(ctx context.Context, who Actor, id int64) (cancelled bool, err error) {
	if _, err := a.managedOccurrence(ctx, who, id); err != nil {
		return false, err
	}
	if cancelled, err = a.store.DeleteOccurrence(ctx, id, asOrganisers()); err != nil {
		return false, err
	}
	a.sent()
	return cancelled, nil
}

func (a *App) checkTrack(ctx context.Context, e domain.Event, id *int64) error {
	if id == nil || *id == 0 {
		return nil
	}
	t, err := a.store.TrackByID(ctx, *id)
	if err != nil || t.EventID != e.ID {
		return domain.Invalid("track_id", "err.track.unknown")
	}
	return nil
}

// SetSpeakerPhoto gives speaker number position (0-based) of an occurrence a photo made
// from an upload (checked and re-encoded by package photo), or removes it (data nil). Only
// the event's organisers may.
func (a *App) SetSpeakerPhoto(ctx context.Context, who Actor, occID int64, position int, data []byte) error {
	if _, err := a.managedOccurrence(ctx, who, occID); err != nil {
		return err
	}
	if data == nil {
		_, err := a.store.SetSpeakerPhoto(ctx, occID, position, nil, 0, 0)
		return err
	}
	p, err := photo.Process(data)
	if err != nil {
		return err
	}
	_, err = a.store.SetSpeakerPhoto(ctx, occID, position, p.JPEG, p.Width, p.Height)
	return err
}
