package server

import (
	"time"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/domain"
)

// monthSpan is a calendar month in the reader's zone, and the instants to ask the store for.
type monthSpan struct {
	first    time.Time // the 1st at midnight, in the zone
	loc      *time.Location
	from, to time.Time // the month with half a day either side: with no zone known, each
	// talk is placed by its own event's clock, which may be up to 14 hours from UTC
}

// parseMonth reads "2026-03" (empty: the current month) in viewer's zone (nil: UTC).
func parseMonth(v string, now time.Time, viewer *time.Location) (monthSpan, error) {
	loc := viewer
	if loc == nil {
		loc = time.UTC
	}
	y, m, _ := now.In(loc).Date()
	if v != "" {
		t, err := time.Parse("2006-01", v)
		if err != nil || t.Year() < 1970 || t.Year() > 2200 {
			return monthSpan{}, domain.Invalid("month", "err.month.invalid")
		}
		y, m = t.Year(), t.Month()
	}
	first := time.Date(y, m, 1, 0, 0, 0, 0, loc)
	return monthSpan{first: first, loc: loc, from: first.Add(-15 * time.Hour), to: first.AddDate(0, 1, 0).Add(15 * time.Hour)}, nil
}

// monthGrid is a month as weeks of days, Monday first, in the reader's zone.
type monthGrid struct {
	Title      string   // "March 2026", "marzo de 2026"
	Weekdays   []string // short names, Monday first
	Weeks      [][]calendarDay
	Prev, Next string // the neighbouring months, with the same filters
	Empty      bool
}

// calendarDay is one cell: a day of the month (Day 0: a cell before the 1st or after the last).
type calendarDay struct {
	Day   int
	ISO   string // 2026-03-05
	Label string // "Thursday 5 March 2026"
	Today bool
	Items []listedView
}

// monthGrid places each talk on the day it starts on the reader's clock (the event's own
// clock when the reader's zone is unknown, as in the list), so a talk at 23:30 in London
// is on the next day for a reader in Tokyo.
func (s *Server) monthGrid(c echo.Context, m monthSpan, views []listedView, pq programmeQuery) *monthGrid {
	l := localizerOf(c)
	g := &monthGrid{Title: l.Date("date.month_year", m.first), Empty: true}
	for i := range 7 {
		g.Weekdays = append(g.Weekdays, l.WeekdayShort(time.Weekday((i+1)%7)))
	}
	prev, next := m.first.AddDate(0, -1, 0), m.first.AddDate(0, 1, 0)
	g.Prev = "/programme?" + pq.values(true, prev.Format("2006-01")).Encode()
	g.Next = "/programme?" + pq.values(true, next.Format("2006-01")).Encode()

	byDate := map[string][]listedView{}
	for _, v := range views {
		d := v.When.Sortable.Format(time.DateOnly)
		byDate[d] = append(byDate[d], v)
	}
	today := s.o.Now().In(m.loc).Format(time.DateOnly)
	lead := (int(m.first.Weekday()) + 6) % 7 // cells before the 1st in a week that starts on Monday
	week := make([]calendarDay, lead)
	for d := m.first; d.Month() == m.first.Month(); d = d.AddDate(0, 0, 1) {
		iso := d.Format(time.DateOnly)
		day := calendarDay{Day: d.Day(), ISO: iso, Label: l.LongDate(d), Today: iso == today, Items: byDate[iso]}
		if len(day.Items) > 0 {
			g.Empty = false
		}
		week = append(week, day)
		if len(week) == 7 {
			g.Weeks, week = append(g.Weeks, week), nil
		}
	}
	if len(week) > 0 {
		g.Weeks = append(g.Weeks, append(week, make([]calendarDay, 7-len(week))...))
	}
	return g
}
