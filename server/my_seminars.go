package server

import (
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/app"
	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/live"
	"github.com/puente-org/puente/notices"
	"github.com/puente-org/puente/store"
)

// mySession is one session the person registered for or waits for.
type mySession struct {
	Occ      listedView
	Status   domain.RegistrationStatus
	Position int  // on the waiting list
	Live     bool // the room is open to them now
}

// myEvent is a series or conference the person registered for as a whole, or follows.
type myEvent struct {
	ID    int64
	Title string
	Path  string
	Kind  string
	Zone  string
}

// mySessions is a section of sessions: those with a place (taken, held or awaiting
// approval) and those waited for. Heading, Note and Empty are catalogue ids.
type mySessions struct {
	ID, Heading, Note, Empty string
	Items                    []mySession
}

type mySeminarsPage struct {
	Sessions  []mySessions
	Whole     []myEvent
	Following []myEvent
	Topics    []string // the topic tags followed
	Feed      subscribe
}

// mySeminars is the page of the signed-in person's upcoming sessions, whole-series
// registrations and follows, each with what they can do about it, and their personal
// calendar feed. Times are in their zone, texts in their language.
func (s *Server) mySeminars(c echo.Context) error {
	ctx := c.Request().Context()
	p := personOf(c)
	regs, err := s.o.Store.Registrations(ctx, store.RegistrationFilter{PersonID: p.ID})
	if err != nil {
		return err
	}
	byOcc := map[int64]store.Registration{}
	ids := []int64{}
	for _, r := range regs {
		if r.Status.Active() {
			byOcc[r.OccurrenceID] = r
			ids = append(ids, r.OccurrenceID)
		}
	}
	registered := mySessions{ID: "registered", Heading: "my.registered", Empty: "my.none_registered"}
	waiting := mySessions{ID: "waiting", Heading: "my.waiting", Note: "my.waiting_note", Empty: "my.none_waiting"}
	if len(ids) > 0 {
		now := s.o.Now()
		list, err := s.o.Store.Occurrences(ctx, store.OccurrenceFilter{IDs: ids, From: now, IncludeCancelled: true, Limit: 2000})
		if err != nil {
			return err
		}
		for _, l := range list {
			r := byOcc[l.Occurrence.ID]
			item := mySession{Occ: s.view(c, l), Status: r.Status, Position: r.Position}
			if r.Status == domain.RegConfirmed && l.Occurrence.Status != domain.StatusCancelled {
				opens, closes := app.RoomWindow(l, live.RoleAttendee)
				item.Live = !now.Before(opens) && now.Before(closes)
			}
			if r.Status == domain.RegWaitlisted {
				waiting.Items = append(waiting.Items, item)
			} else {
				registered.Items = append(registered.Items, item)
			}
		}
	}
	page := mySeminarsPage{Sessions: []mySessions{registered, waiting}}
	whole, err := s.o.Store.EventRegistrationsOf(ctx, p.ID)
	if err != nil {
		return err
	}
	followed, err := s.o.Store.Followed(ctx, p.ID)
	if err != nil {
		return err
	}
	events, err := s.o.Store.EventsByIDs(ctx, append(slices.Clone(whole), followed...))
	if err != nil {
		return err
	}
	for _, e := range events {
		me := myEvent{ID: e.ID, Title: e.Title, Path: s.eventPath(e), Kind: string(e.Kind), Zone: e.TimeZone}
		if slices.Contains(whole, e.ID) {
			page.Whole = append(page.Whole, me)
		}
		if slices.Contains(followed, e.ID) {
			page.Following = append(page.Following, me)
		}
	}
	if page.Topics, err = s.o.Store.FollowedTopics(ctx, p.ID); err != nil {
		return err
	}
	nonce, err := s.o.Store.FeedNonce(ctx, p.ID)
	if err != nil {
		return err
	}
	page.Feed = subscribeFor(s.feedURL(p.ID, nonce))
	return s.render(c, http.StatusOK, "my_seminars.html", page)
}

// myCancelRegistration cancels the signed-in person's own registration for a session (or
// takes them off its waiting list). Only their own: the session is in the path, the
// person is who is signed in.
func (s *Server) myCancelRegistration(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	r, err := s.app.CancelRegistration(c.Request().Context(), actor(c), id)
	if err != nil {
		return err
	}
	if r.Status == domain.RegCancelled && c.FormValue("was") == string(domain.RegWaitlisted) {
		s.flash(c, "my.flash_left_waitlist")
	} else {
		s.flash(c, "registration.flash_cancelled")
	}
	return c.Redirect(http.StatusSeeOther, notices.MySeminarsPath)
}

// myCancelEventRegistration ends the person's own whole-series or conference registration.
func (s *Server) myCancelEventRegistration(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := s.app.CancelEventRegistration(c.Request().Context(), actor(c), id); err != nil {
		return err
	}
	s.flash(c, "registration.flash_cancelled")
	return c.Redirect(http.StatusSeeOther, notices.MySeminarsPath)
}

// myUnfollow stops the person following a series or conference.
func (s *Server) myUnfollow(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := s.app.Unfollow(c.Request().Context(), actor(c), id); err != nil {
		return err
	}
	s.flash(c, "follow.flash_off")
	return c.Redirect(http.StatusSeeOther, notices.MySeminarsPath)
}
