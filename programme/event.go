package programme

import (
	"strings"
	"time"

	"github.com/puente-org/puente/domain"
)

// MaxConferenceDays is the longest a conference may last.
const MaxConferenceDays = 31

// ValidateEvent checks an event's schedule as a whole, naming the field at fault: a series'
// rule with Rule.Validate; a conference's days (between MinYear and MaxYear, the last not
// before the first, at most MaxConferenceDays) and no recurrence at all, since a
// conference's days are its dates and a rule or dates would otherwise be silently dropped.
func ValidateEvent(e domain.Event) error {
	switch e.Kind {
	case domain.KindSeries:
		if e.StartTime == "" {
			return domain.Invalid("start_time", "err.start_time.format")
		}
		return RuleOf(e).Validate()
	case domain.KindConference:
		if strings.TrimSpace(e.RRule) != "" {
			return domain.Invalid("rrule", "err.conference.no_recurrence")
		}
		if len(e.RDates) > 0 {
			return domain.Invalid("rdates", "err.conference.no_recurrence")
		}
		if len(e.ExDates) > 0 {
			return domain.Invalid("exdates", "err.conference.no_recurrence")
		}
		if _, err := loadZone(e.TimeZone); err != nil {
			return err
		}
		if err := CheckDate("start_date", e.StartDate); err != nil {
			return err
		}
		if e.EndDate == nil {
			return nil
		}
		if err := CheckDate("end_date", *e.EndDate); err != nil {
			return err
		}
		if e.EndDate.Before(e.StartDate) {
			return domain.Invalid("end_date", "err.end_date.before")
		}
		if e.EndDate.Sub(e.StartDate) > MaxConferenceDays*24*time.Hour {
			return domain.Invalid("end_date", "err.end_date.too_long")
		}
	}
	return nil
}

// ValidateOccurrence checks one talk or session of e: its date between MinYear and MaxYear,
// a duration of 1 minute to 24 hours, and for a conference a session on one of its days (a
// session of its own with a title).
func ValidateOccurrence(e domain.Event, o domain.Occurrence) error {
	if err := CheckDate("start_date", o.StartLocal); err != nil {
		return err
	}
	if o.Duration < time.Minute || o.Duration > 24*time.Hour {
		return domain.Invalid("duration_minutes", "err.duration.range")
	}
	if e.Kind != domain.KindConference {
		return nil
	}
	if o.Origin == "session" && strings.TrimSpace(o.Title) == "" {
		return domain.Invalid("title", "err.occurrence.title")
	}
	w := Floating(o.StartLocal)
	day := time.Date(w.Year(), w.Month(), w.Day(), 0, 0, 0, 0, time.UTC)
	last := e.StartDate
	if e.EndDate != nil {
		last = *e.EndDate
	}
	if day.Before(e.StartDate) || day.After(last) {
		return domain.Invalid("start_date", "err.occurrence.conference_days", "First", e.StartDate, "Last", last)
	}
	return nil
}
