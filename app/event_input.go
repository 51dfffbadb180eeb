package app

import (
	"regexp"
	"strings"
	"time"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/programme"
)

// EventInput is what an organiser sends to create or change a series or conference (the
// JSON API decodes into it, and the HTML forms fill it). Nil fields are left as they are.
type EventInput struct {
	Title             *string            `json:"title"`
	Slug              *string            `json:"slug"`
	Description       *string            `json:"description"`
	Tags              *[]string          `json:"tags"`
	Language          *string            `json:"language"`
	Visibility        *string            `json:"visibility"`
	Timezone          *string            `json:"timezone"`
	StartDate         *string            `json:"start_date"`
	StartTime         *string            `json:"start_time"`
	EndDate           *string            `json:"end_date"`
	DurationMinutes   *int               `json:"duration_minutes"`
	RRule             *string            `json:"rrule"`
	RDates            *[]string          `json:"rdates"`
	ExDates           *[]string          `json:"exdates"`
	Capacity          *int               `json:"capacity"`
	Registration      *string            `json:"registration"`
	JoinWindowMinutes *int               `json:"join_window_minutes"`
	ReminderMinutes   *[]int             `json:"reminder_minutes"`
	Questions         *[]domain.Question `json:"questions"`
	Venue             *VenueInput        `json:"venue"`
	Organisers        *[]string          `json:"organisers"`
}

// VenueInput is where an event takes place in person.
type VenueInput struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Room    string `json:"room"`
}

// Content languages an event may be held in (wider than the interface languages).
var eventLanguages = map[string]bool{"en": true, "es": true, "pt": true}

// Clock matches a wall-clock time, HH:MM.
var Clock = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)

// ParseDate reads a date (YYYY-MM-DD); a refusal names field.
func ParseDate(field, v string) (time.Time, error) {
	d, err := time.Parse(time.DateOnly, strings.TrimSpace(v))
	if err != nil {
		return d, domain.Invalid(field, "err.date.format", "Value", domain.Clip(v))
	}
	return d, nil
}

func parseWalls(field string, vals []string) ([]time.Time, error) {
	out := []time.Time{}
	for _, v := range vals {
		t, err := time.Parse("2006-01-02T15:04", strings.TrimSpace(v))
		if err != nil {
			return nil, domain.Invalid(field, "err.datetime.format", "Value", domain.Clip(v))
		}
		out = append(out, t)
	}
	return out, nil
}

func text(field string, v string, max int, required bool) (string, error) {
	return domain.Text(field, v, max, required)
}

// Apply merges the input into e and checks the result as a whole: a series' schedule must
// be a valid rule in a real zone, with no occurrence in a daylight-saving gap or overlap.
// Nothing is saved unless this passes.
func (in EventInput) Apply(e *domain.Event) (err error) {
	if in.Title != nil {
		if e.Title, err = text("title", *in.Title, 200, true); err != nil {
			return err
		}
	}
	if in.Slug != nil {
		s := strings.TrimSpace(*in.Slug)
		if s != domain.Slugify(s) || len(s) > 60 {
			return domain.Invalid("slug", "err.slug.format")
		}
		e.Slug = s
	}
	if e.Slug == "" {
		e.Slug = domain.Slugify(e.Title)
	}
	if in.Description != nil {
		if e.Description, err = text("description", *in.Description, 20000, false); err != nil {
			return err
		}
	}
	if in.Tags != nil {
		if e.Tags, err = domain.NormalizeTags(*in.Tags); err != nil {
			return err
		}
	}
	if e.Tags == nil {
		e.Tags = []string{}
	}
	if in.Language != nil {
		e.Language = strings.TrimSpace(*in.Language)
	}
	if !eventLanguages[e.Language] {
		return domain.Invalid("language", "err.event.language")
	}
	if in.Visibility != nil {
		e.Visibility = *in.Visibility
	}
	if e.Visibility != domain.VisibilityPublic && e.Visibility != domain.VisibilityUnlisted {
		return domain.Invalid("visibility", "err.event.visibility")
	}
	if in.Timezone != nil {
		e.TimeZone = strings.TrimSpace(*in.Timezone)
	}
	if err := domain.ValidTimeZone(e.TimeZone); err != nil {
		de, _ := domain.AsError(err)
		return de.WithField("timezone")
	}
	if in.StartDate != nil {
		if e.StartDate, err = ParseDate("start_date", *in.StartDate); err != nil {
			return err
		}
	}
	if e.StartDate.IsZero() {
		return domain.Invalid("start_date", "err.start_date.required")
	}
	if in.StartTime != nil {
		if !Clock.MatchString(strings.TrimSpace(*in.StartTime)) {
			return domain.Invalid("start_time", "err.start_time.format")
		}
		old := e.StartTime
		e.StartTime = strings.TrimSpace(*in.StartTime)
		if old != "" && old != e.StartTime && in.ExDates == nil {
			// Excluded dates name meetings by their wall time: follow the series' new time.
			t, _ := time.Parse("15:04", e.StartTime)
			for i, x := range e.ExDates {
				if x.Format("15:04") == old {
					e.ExDates[i] = time.Date(x.Year(), x.Month(), x.Day(), t.Hour(), t.Minute(), 0, 0, time.UTC)
				}
			}
		}
	}
	if in.EndDate != nil {
		if strings.TrimSpace(*in.EndDate) == "" {
			e.EndDate = nil
		} else {
			d, err := ParseDate("end_date", *in.EndDate)
			if err != nil {
				return err
			}
			e.EndDate = &d
		}
	}
	if in.DurationMinutes != nil {
		e.Duration = time.Duration(*in.DurationMinutes) * time.Minute
	}
	if e.Duration < time.Minute || e.Duration > 24*time.Hour {
		return domain.Invalid("duration_minutes", "err.duration.range")
	}
	if in.RRule != nil {
		e.RRule = strings.TrimPrefix(strings.TrimSpace(*in.RRule), "RRULE:")
	}
	if in.RDates != nil {
		if e.RDates, err = parseWalls("rdates", *in.RDates); err != nil {
			return err
		}
	}
	if in.ExDates != nil {
		if e.ExDates, err = parseWalls("exdates", *in.ExDates); err != nil {
			return err
		}
	}
	if in.Capacity != nil {
		e.Capacity = *in.Capacity
	}
	if e.Capacity < 0 || e.Capacity > 100000 {
		return domain.Invalid("capacity", "err.capacity.range")
	}
	if in.Registration != nil {
		e.Registration = *in.Registration
	}
	switch e.Registration {
	case domain.RegistrationOpen, domain.RegistrationApproval, domain.RegistrationClosed:
	default:
		return domain.Invalid("registration", "err.event.registration")
	}
	if in.JoinWindowMinutes != nil {
		e.JoinWindow = time.Duration(*in.JoinWindowMinutes) * time.Minute
	}
	if e.JoinWindow < 0 || e.JoinWindow > 24*time.Hour {
		return domain.Invalid("join_window_minutes", "err.event.join_window")
	}
	if in.ReminderMinutes != nil {
		if len(*in.ReminderMinutes) > 5 {
			return domain.Invalid("reminder_minutes", "err.event.reminders_many")
		}
		for _, m := range *in.ReminderMinutes {
			if m < 5 || m > 7*24*60 {
				return domain.Invalid("reminder_minutes", "err.event.reminder_range")
			}
		}
		e.Reminders = append([]int{}, *in.ReminderMinutes...)
	}
	if e.Reminders == nil {
		e.Reminders = []int{1440, 60}
	}
	if in.Questions != nil {
		if e.Questions, err = domain.NormalizeQuestions(*in.Questions); err != nil {
			return err
		}
	}
	if in.Organisers != nil {
		for _, o := range *in.Organisers {
			if strings.TrimSpace(o) == "" {
				continue
			}
			if _, err := domain.NormalizeEmail(o); err != nil {
				return domain.Invalid("organisers", "err.organisers.email", "Email", domain.Clip(o))
			}
		}
	}
	if in.Venue != nil {
		v := domain.Venue{}
		if v.Name, err = text("venue.name", in.Venue.Name, 200, false); err != nil {
			return err
		}
		if v.Address, err = text("venue.address", in.Venue.Address, 500, false); err != nil {
			return err
		}
		if v.Room, err = text("venue.room", in.Venue.Room, 100, false); err != nil {
			return err
		}
		e.Venue = v
	}
	switch e.Kind {
	case domain.KindSeries:
		e.EndDate = nil
	case domain.KindConference:
		if e.StartTime == "" {
			e.StartTime = "09:00"
		}
		if e.EndDate == nil {
			d := e.StartDate
			e.EndDate = &d
		}
	}
	return programme.ValidateEvent(*e)
}

// NewEvent is the starting point of a new event before the input is applied.
func NewEvent(kind domain.EventKind) domain.Event {
	return domain.Event{Kind: kind, Language: "en", Visibility: domain.VisibilityPublic, Duration: time.Hour,
		Registration: domain.RegistrationOpen, JoinWindow: 15 * time.Minute, Tags: []string{}}
}
