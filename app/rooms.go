package app

import (
	"context"
	"slices"
	"time"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/live"
	"github.com/puente-org/puente/store"
)

// How long around an occurrence its room is open (docs/signaling.md, Admission).
const (
	attendeeGrace = 30 * time.Minute
	stageEarly    = time.Hour
	stageGrace    = time.Hour
)

// Admit decides whether a person may enter an occurrence's live room now, and in which
// role: host (site admins, the event's organisers), speaker (the occurrence's speakers with
// an account) or attendee (confirmed registrants), each within the room's hours. ended
// reports whether the hosts have ended the room (then only hosts may come back).
func (a *App) Admit(ctx context.Context, p domain.Person, l store.Listed, ended func(ctx context.Context, occID int64) (bool, error)) (string, error) {
	role, err := a.RoomRole(ctx, l, p)
	if err != nil {
		return "", err
	}
	if err := a.roomOpen(l, role); err != nil {
		return "", err
	}
	if role != live.RoleHost && ended != nil {
		over, err := ended(ctx, l.Occurrence.ID)
		if err != nil {
			return "", err
		}
		if over {
			return "", domain.New(domain.CodeConflict, "err.live.ended")
		}
	}
	return role, nil
}

// RoomRole is a person's role in an occurrence's room; anyone without one is refused.
func (a *App) RoomRole(ctx context.Context, l store.Listed, p domain.Person) (string, error) {
	if p.IsAdmin || slices.Contains(l.Event.Organisers, p.ID) {
		return live.RoleHost, nil
	}
	if OnStage(l, p) {
		return live.RoleSpeaker, nil
	}
	regs, err := a.store.Registrations(ctx, store.RegistrationFilter{OccurrenceID: l.Occurrence.ID, PersonID: p.ID})
	if err != nil {
		return "", err
	}
	for _, r := range regs {
		switch r.Status {
		case domain.RegConfirmed:
			return live.RoleAttendee, nil
		case domain.RegWaitlisted:
			return "", domain.New(domain.CodeForbidden, "err.live.waitlisted", "N", r.Position)
		}
	}
	return "", domain.New(domain.CodeForbidden, "err.live.not_registered")
}

// OnStage reports whether p is one of the occurrence's speakers.
func OnStage(l store.Listed, p domain.Person) bool {
	for _, sp := range l.Occurrence.Speakers {
		if sp.PersonID != nil && *sp.PersonID == p.ID {
			return true
		}
	}
	return false
}

// RoomWindow is when an occurrence's room is open to a role: attendees from the join
// window to 30 minutes after the end; hosts and speakers from an hour before (or the join
// window, if longer) to an hour after.
func RoomWindow(l store.Listed, role string) (opens, closes time.Time) {
	early, grace := l.Event.JoinWindow, attendeeGrace
	if role != live.RoleAttendee {
		early, grace = max(early, stageEarly), stageGrace
	}
	return l.Occurrence.Start.Add(-early), l.Occurrence.End.Add(grace)
}

// roomOpen checks the time against the role's window.
func (a *App) roomOpen(l store.Listed, role string) error {
	o := l.Occurrence
	if o.Status == domain.StatusCancelled {
		return domain.New(domain.CodeConflict, "err.live.cancelled")
	}
	opens, closes := RoomWindow(l, role)
	now := a.now()
	switch {
	case now.Before(opens):
		return domain.New(domain.CodeConflict, "err.live.opens_at", "Date", opens.UTC(), "Time", opens.UTC().Format("15:04 MST"))
	case !now.Before(closes):
		return domain.New(domain.CodeConflict, "err.live.over")
	}
	return nil
}
