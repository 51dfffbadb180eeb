package server

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/notices"
	"github.com/puente-org/puente/store"
)

// topicPath is the page of a topic tag, where it can be followed.
func topicPath(tag string) string { return "/topics/" + url.PathEscape(tag) }

// topicParam is the topic tag of the path, as followed (lower-case), or a 400 that says
// what a topic may be.
func topicParam(c echo.Context) (string, error) {
	raw := c.Param("tag")
	if t, err := url.PathUnescape(raw); err == nil {
		raw = t
	}
	return domain.NormalizeTopic(raw)
}

// topicPage is what the page of a topic shows.
type topicPage struct {
	Tag       string
	Following bool
	Days      []dayGroup
}

// topicPage lists a topic's upcoming public talks, with a button to follow it
// (signed-out visitors get a link to sign in and come back).
func (s *Server) topicPage(c echo.Context) error {
	ctx := c.Request().Context()
	tag, err := topicParam(c)
	if err != nil {
		return err
	}
	list, err := s.o.Store.Occurrences(ctx, store.OccurrenceFilter{From: s.o.Now(), Tag: tag, PublicOnly: true, Limit: 100})
	if err != nil {
		return err
	}
	views := make([]listedView, 0, len(list))
	for _, l := range list {
		views = append(views, s.view(c, l))
	}
	page := topicPage{Tag: tag, Days: byDay(views)}
	if p := personOf(c); p != nil {
		topics, err := s.o.Store.FollowedTopics(ctx, p.ID)
		if err != nil {
			return err
		}
		page.Following = slices.Contains(topics, tag)
	}
	return s.render(c, http.StatusOK, "topic.html", page)
}

// signInFirst sends a signed-out visitor who pressed a follow button to sign in, and
// back to the page they were on.
func signInFirst(c echo.Context, back string) error {
	return c.Redirect(http.StatusSeeOther, "/sign-in?next="+urlQueryEscape(back))
}

// followTopic and unfollowTopic: from a topic's page.
func (s *Server) followTopic(on bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		tag, err := topicParam(c)
		if err != nil {
			return err
		}
		if personOf(c) == nil {
			return signInFirst(c, topicPath(tag))
		}
		if on {
			_, err = s.app.FollowTopic(c.Request().Context(), actor(c), tag)
		} else {
			_, err = s.app.UnfollowTopic(c.Request().Context(), actor(c), tag)
		}
		if err != nil {
			return err
		}
		if on {
			s.flash(c, "follow.topic_flash_on")
		} else {
			s.flash(c, "follow.topic_flash_off")
		}
		return c.Redirect(http.StatusSeeOther, topicPath(tag))
	}
}

// myUnfollowTopic stops the person following a topic, from their page of seminars.
func (s *Server) myUnfollowTopic(c echo.Context) error {
	tag, err := topicParam(c)
	if err != nil {
		return err
	}
	if _, err := s.app.UnfollowTopic(c.Request().Context(), actor(c), tag); err != nil {
		return err
	}
	s.flash(c, "follow.topic_flash_off")
	return c.Redirect(http.StatusSeeOther, notices.MySeminarsPath+"#following-topics")
}

// followResponse is the API's answer to a follow or unfollow.
type followResponse struct {
	Following bool   `json:"following"`
	EventID   int64  `json:"event_id,omitempty"`
	Tag       string `json:"tag,omitempty"`
}

// apiFollowEvent follows (on) or stops following a series or conference. Both are
// idempotent; an unknown event, or following an unlisted one, is 404.
func (s *Server) apiFollowEvent(kind domain.EventKind, on bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		e, err := s.eventOfKind(c, kind)
		if err != nil {
			return err
		}
		if on {
			err = s.app.Follow(c.Request().Context(), actor(c), e.ID)
		} else {
			err = s.app.Unfollow(c.Request().Context(), actor(c), e.ID)
		}
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, followResponse{Following: on, EventID: e.ID})
	}
}

// apiFollowTopic follows (on) or stops following a topic tag; idempotent. A malformed tag
// is 400.
func (s *Server) apiFollowTopic(on bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		raw := c.Param("tag")
		if t, err := url.PathUnescape(raw); err == nil {
			raw = t
		}
		var tag string
		var err error
		if on {
			tag, err = s.app.FollowTopic(c.Request().Context(), actor(c), raw)
		} else {
			tag, err = s.app.UnfollowTopic(c.Request().Context(), actor(c), raw)
		}
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, followResponse{Following: on, Tag: tag})
	}
}
