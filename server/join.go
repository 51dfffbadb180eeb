package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/app"
	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/i18n"
	"github.com/puente-org/puente/links"
	"github.com/puente-org/puente/live"
	"github.com/puente-org/puente/store"
)

// registrationFromLink checks a personal link and returns its registration and occurrence.
// Unknown, forged and revoked links all get the same 404, so a link cannot be probed.
func (s *Server) registrationFromLink(c echo.Context, purpose string) (store.Registration, store.Listed, error) {
	return s.app.ByLink(c.Request().Context(), purpose, c.Param("token"))
}

type joinPage struct {
	Occ   listedView
	State string // "early", "open", "ended", "over", "cancelled", "not_confirmed"
	// CanReopen: the session was ended and the reader is a host, who may open it again.
	CanReopen bool
	// OnStage: a host or speaker, whose device check starts with a camera preview.
	OnStage   bool
	OpensAt   string // RFC 3339, for the countdown
	Opens     when
	Status    domain.RegistrationStatus
	Position  int
	RoomReady bool
	// AdmissionURL is where the room's script asks for a join token: the personal link's
	// own endpoint, or the API's for people signed in (docs/signaling.md §1).
	AdmissionURL string
	// Recording: the session is being recorded now; the page says so before the person
	// enters (docs/signaling.md §8).
	Recording bool
}

// join is the page a personal join link opens: a countdown (in the reader's zone) before
// the join window, the live room from then to the end, a thank-you page after.
func (s *Server) join(c echo.Context) error {
	r, l, err := s.registrationFromLink(c, links.Join)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Referrer-Policy", "no-referrer")
	return s.renderJoin(c, l, r.Status, r.Position, false, false)
}

// room is the same page for people with a right to the room through their account: the
// session's speakers (linked to an account), its organisers, site admins, and registrants.
func (s *Server) room(c echo.Context) error {
	l, err := s.occurrenceFromPath(c)
	if err != nil {
		return err
	}
	p := personOf(c)
	var status domain.RegistrationStatus
	host := s.managesQuietly(c, l.Event)
	onStage := host || app.OnStage(l, *p)
	if onStage {
		status = domain.RegConfirmed
	}
	position := 0
	if status == "" {
		regs, err := s.o.Store.Registrations(c.Request().Context(), store.RegistrationFilter{OccurrenceID: l.Occurrence.ID, PersonID: p.ID})
		if err != nil {
			return err
		}
		if len(regs) > 0 {
			status, position = regs[0].Status, regs[0].Position
		}
	}
	return s.renderJoin(c, l, status, position, onStage, host)
}

// renderJoin shows the join page; c is a personal link's request (it has a :token) or the
// signed-in room page's. Hosts and speakers (onStage) have a wider window. After a host
// ended the session the page says so and nothing else, except to hosts, who may open the
// room again.
func (s *Server) renderJoin(c echo.Context, l store.Listed, status domain.RegistrationStatus, position int, onStage, host bool) error {
	now := s.o.Now()
	admissionURL := "/api/v1/occurrences/" + strconv.FormatInt(l.Occurrence.ID, 10) + "/admission"
	if token := c.Param("token"); token != "" {
		admissionURL = "/api/v1/join/" + url.PathEscape(token) + "/admission"
	}
	role := live.RoleAttendee
	if onStage {
		role = live.RoleSpeaker
	}
	opens, closes := app.RoomWindow(l, role)
	jp := joinPage{Occ: s.view(c, l), OpensAt: opens.Format(time.RFC3339), Status: status, Position: position,
		AdmissionURL: admissionURL, OnStage: onStage, Opens: instantWhen(opens, l.Event.TimeZone, viewerZone(c), localizerOf(c))}
	switch {
	case l.Occurrence.Status == domain.StatusCancelled:
		jp.State = "cancelled"
	case status != domain.RegConfirmed:
		jp.State = "not_confirmed"
	case now.Before(opens):
		jp.State = "early"
	case now.Before(closes):
		jp.State = "open"
		ended, err := s.sessionEnded(c.Request().Context(), l.Occurrence.ID)
		if err != nil {
			return err
		}
		if ended {
			jp.State, jp.CanReopen = "ended", host
		}
		if jp.Recording, err = s.sessionRecording(c.Request().Context(), l.Occurrence.ID); err != nil {
			return err
		}
	default:
		jp.State = "over"
	}
	return s.render(c, http.StatusOK, "join.html", jp)
}

// sessionEnded tells whether a host ended the occurrence's live session (no live rooms on
// this server: not ended).
func (s *Server) sessionEnded(ctx context.Context, occID int64) (bool, error) {
	if s.o.Live == nil {
		return false, nil
	}
	ended, err := s.o.Live.Ended(ctx, occID)
	if err != nil {
		return false, fmt.Errorf("is session %d ended: %w", occID, err)
	}
	return ended, nil
}

// sessionRecording tells whether the occurrence's session is being recorded now.
func (s *Server) sessionRecording(ctx context.Context, occID int64) (bool, error) {
	if s.o.Live == nil {
		return false, nil
	}
	on, err := s.o.Live.Recording(ctx, occID)
	if err != nil {
		return false, fmt.Errorf("is session %d being recorded: %w", occID, err)
	}
	return on, nil
}

// instantWhen describes one instant (when a room opens) for a reader: their day, and the
// time with its zone ("14:45 London (GMT)"), not a start–end range.
func instantWhen(t time.Time, eventZone string, viewer *time.Location, l *i18n.Localizer) when {
	w := describeWhen(t, t, eventZone, viewer, l)
	w.Time = w.Sortable.Format("15:04") + " " + w.Zone
	return w
}

type cancelPage struct {
	Occ    listedView
	Token  string
	Done   bool
	Status domain.RegistrationStatus
}

// cancelLink shows the one-click cancel page; the button confirms (a GET alone, as mail
// scanners make, changes nothing).
func (s *Server) cancelLink(c echo.Context) error {
	r, l, err := s.registrationFromLink(c, links.Cancel)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Referrer-Policy", "no-referrer")
	return s.render(c, http.StatusOK, "cancel_registration.html", cancelPage{Occ: s.view(c, l), Token: c.Param("token"),
		Status: r.Status, Done: r.Status == domain.RegCancelled || r.Status == domain.RegDeclined})
}

func (s *Server) cancelByLink(c echo.Context) error {
	_, l, err := s.app.CancelByLink(c.Request().Context(), actor(c), c.Param("token"))
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "cancel_registration.html", cancelPage{Occ: s.view(c, l), Done: true})
}
