package server

import (
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
)

// How much the home page shows of what is on.
const (
	homeNextTalks = 6
	homeSeries    = 6
	homeHorizon   = 90 // days ahead the next talks and the series' next talks are looked for in
)

type homePage struct {
	Live, Next []listedView
	Series     []seriesCard
	ZoneKnown  bool
}

// seriesCard is a series on the home page: what it is, how often, and its next talk.
type seriesCard struct {
	Title, Path, Recurrence, Next string
	Tags                          []string
	Following                     bool
}

// home shows what is on: talks live now, the next talks, and series to follow, in the
// reader's zone and language.
func (s *Server) home(c echo.Context) error {
	ctx := c.Request().Context()
	now := s.o.Now()
	list, err := s.o.Store.Occurrences(ctx, store.OccurrenceFilter{From: now, To: now.AddDate(0, 0, homeHorizon), PublicOnly: true, Limit: 500})
	if err != nil {
		return err
	}
	hp := homePage{ZoneKnown: viewerZone(c) != nil}
	nextOf := map[int64]listedView{} // each series' next talk (not one on air)
	for _, l := range list {
		v := s.view(c, l)
		switch {
		case !l.Occurrence.Start.After(now): // started, not ended (the filter's From)
			hp.Live = append(hp.Live, v)
		case len(hp.Next) < homeNextTalks:
			hp.Next = append(hp.Next, v)
		}
		if _, ok := nextOf[l.Event.ID]; !ok && l.Event.Kind == domain.KindSeries && l.Occurrence.Start.After(now) {
			nextOf[l.Event.ID] = v
		}
	}
	series, _, err := s.o.Store.ListEvents(ctx, store.EventFilter{Kind: domain.KindSeries, Limit: 200})
	if err != nil {
		return err
	}
	var followed []int64
	if p := personOf(c); p != nil {
		if followed, err = s.o.Store.Followed(ctx, p.ID); err != nil {
			return err
		}
	}
	// Series with a talk coming, soonest first.
	slices.SortStableFunc(series, func(a, b domain.Event) int {
		return nextOf[a.ID].When.Sortable.Compare(nextOf[b.ID].When.Sortable)
	})
	for _, e := range series {
		next, ok := nextOf[e.ID]
		if !ok {
			continue
		}
		hp.Series = append(hp.Series, seriesCard{Title: e.Title, Path: s.eventPath(e), Recurrence: describeRule(e, localizerOf(c)),
			Next: next.When.String(), Tags: e.Tags, Following: slices.Contains(followed, e.ID)})
		if len(hp.Series) == homeSeries {
			break
		}
	}
	return s.render(c, http.StatusOK, "home.html", hp)
}
