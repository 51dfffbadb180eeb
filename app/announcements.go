package app

import (
	"context"
	"time"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
)

// AnnouncementStore is what announcements need from storage.
type AnnouncementStore interface {
	AnnouncementByID(ctx context.Context, id int64) (domain.Announcement, error)
	CreateAnnouncement(ctx context.Context, a domain.Announcement) (domain.Announcement, error)
	UpdateAnnouncement(ctx context.Context, id int64, mutate func(*domain.Announcement) error) (domain.Announcement, error)
	SendDueAnnouncements(ctx context.Context) (int, error)
	TestAnnouncement(ctx context.Context, personID int64, a domain.Announcement) error
}

// AnnouncementInput is what an organiser writes: every field for a new announcement; for
// a change, the fields given (nil keeps the value; an OccurrenceID of 0 means the whole
// event, a SendAt of nil on a change keeps the time).
type AnnouncementInput struct {
	Subject      *string
	Body         *string
	Audience     *string
	OccurrenceID *int64
	SendAt       *time.Time
}

func (in AnnouncementInput) apply(a *domain.Announcement) {
	if in.Subject != nil {
		a.Subject = *in.Subject
	}
	if in.Body != nil {
		a.Body = *in.Body
	}
	if in.Audience != nil {
		a.Audience = domain.Audience(*in.Audience)
	}
	if in.OccurrenceID != nil {
		a.OccurrenceID = *in.OccurrenceID
	}
	if in.SendAt != nil {
		a.SendAt = in.SendAt
	}
}

// checkSession refuses a session that is not one of the event's.
func (a *App) checkSession(ctx context.Context, e domain.Event, occID int64) error {
	if occID == 0 {
		return nil
	}
	l, err := a.store.OccurrenceByID(ctx, occID)
	if err != nil || l.Event.ID != e.ID {
		return domain.Invalid("occurrence_id", "err.announce.session_unknown")
	}
	return nil
}

// draftAnnouncement checks an organiser's announcement for an event they manage.
func (a *App) draftAnnouncement(ctx context.Context, who Actor, eventID int64, in AnnouncementInput) (domain.Announcement, error) {
	e, err := a.managedEvent(ctx, who, eventID)
	if err != nil {
		return domain.Announcement{}, err
	}
	an := domain.Announcement{EventID: e.ID, AuthorID: who.id()}
	in.apply(&an)
	if an, err = an.Normalize(a.now()); err != nil {
		return an, err
	}
	return an, a.checkSession(ctx, e, an.OccurrenceID)
}

// PostAnnouncement saves an organiser's announcement to their series' or conference's
// list: sent at once (each recipient once, through the outbox) without a sending time,
// else scheduled.
func (a *App) PostAnnouncement(ctx context.Context, who Actor, eventID int64, in AnnouncementInput) (domain.Announcement, error) {
	an, err := a.draftAnnouncement(ctx, who, eventID, in)
	if err != nil {
		return an, err
	}
	out, err := a.store.CreateAnnouncement(ctx, an)
	if err != nil {
		return out, err
	}
	if out.Status == domain.AnnouncementSent {
		a.sent()
	}
	return out, nil
}

// TestAnnouncement sends the organiser writing an announcement one copy of it, as its
// recipients will get it. Its sending time is not checked: a test goes now.
func (a *App) TestAnnouncement(ctx context.Context, who Actor, eventID int64, in AnnouncementInput) error {
	in.SendAt = nil
	an, err := a.draftAnnouncement(ctx, who, eventID, in)
	if err != nil {
		return err
	}
	if err := a.store.TestAnnouncement(ctx, who.id(), an); err != nil {
		return err
	}
	a.sent()
	return nil
}

// managedAnnouncement loads an announcement for one of its event's organisers.
func (a *App) managedAnnouncement(ctx context.Context, who Actor, id int64) (domain.Announcement, domain.Event, error) {
	an, err := a.store.AnnouncementByID(ctx, id)
	if err != nil {
		return an, domain.Event{}, err
	}
	e, err := a.managedEvent(ctx, who, an.EventID)
	return an, e, err
}

// EditAnnouncement changes a scheduled announcement before it goes (one that went or was
// cancelled is a conflict). Its sending time must still be after now.
func (a *App) EditAnnouncement(ctx context.Context, who Actor, id int64, in AnnouncementInput) (domain.Announcement, error) {
	_, e, err := a.managedAnnouncement(ctx, who, id)
	if err != nil {
		return domain.Announcement{}, err
	}
	return a.store.UpdateAnnouncement(ctx, id, func(an *domain.Announcement) error {
		in.apply(an)
		checked, err := an.Normalize(a.now())
		if err != nil {
			return err
		}
		*an = checked
		return a.checkSession(ctx, e, an.OccurrenceID)
	})
}

// CancelAnnouncement cancels a scheduled announcement: it never goes.
func (a *App) CancelAnnouncement(ctx context.Context, who Actor, id int64) (domain.Announcement, error) {
	if _, _, err := a.managedAnnouncement(ctx, who, id); err != nil {
		return domain.Announcement{}, err
	}
	return a.store.UpdateAnnouncement(ctx, id, func(an *domain.Announcement) error {
		an.Status = domain.AnnouncementCancelled
		return nil
	})
}

// SendDueAnnouncements sends the scheduled announcements whose time has come (the
// system's work, every minute).
func (a *App) SendDueAnnouncements(ctx context.Context) (int, error) {
	n, err := a.store.SendDueAnnouncements(ctx)
	if n > 0 {
		a.sent()
	}
	return n, err
}

var _ AnnouncementStore = (*store.Store)(nil)
