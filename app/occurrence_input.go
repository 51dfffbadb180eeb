package app

import (
	"strings"
	"time"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/programme"
)

// OccurrenceInput changes one talk or session, or describes an extra one.
type OccurrenceInput struct {
	Title           *string         `json:"title"`
	Abstract        *string         `json:"abstract"`
	Speakers        *[]SpeakerInput `json:"speakers"`
	StartDate       *string         `json:"start_date"`
	StartTime       *string         `json:"start_time"`
	DurationMinutes *int            `json:"duration_minutes"`
	Status          *string         `json:"status"`
	Reason          *string         `json:"reason"`
	TrackID         *int64          `json:"track_id"`
}

// SpeakerInput is a speaker as organisers send them.
type SpeakerInput struct {
	Name        string `json:"name"`
	Affiliation string `json:"affiliation"`
	Bio         string `json:"bio"`
	Link        string `json:"link"`
	// Email links the speaker to the Puente account with that address (now, or when its
	// owner first signs in), giving them speaker rights for this occurrence; the speaker is
	// told by email. Shown only to the event's organisers.
	Email string `json:"email,omitempty"`
	// PersonID is refused on input: an account is never linked by an id a client sends.
	PersonID *int64 `json:"person_id,omitempty"`
	// PhotoID keeps a photo the occurrence's speakers already have (uploaded through the
	// occurrence's page for organisers); any other id is refused.
	PhotoID int64 `json:"photo_id,omitempty"`
	// PhotoURL is where the photo is served (output only: ignored on input).
	PhotoURL string `json:"photo_url,omitempty"`
}

// speakers checks the speakers; the store links those with an email to their accounts.
func (in OccurrenceInput) speakers() ([]domain.Speaker, error) {
	out := []domain.Speaker{}
	if len(*in.Speakers) > 20 {
		return nil, domain.Invalid("speakers", "err.speakers.too_many")
	}
	for _, sj := range *in.Speakers {
		if sj.PersonID != nil {
			return nil, domain.Invalid("speakers", "err.speakers.person_id")
		}
		sp := domain.Speaker{Name: strings.TrimSpace(sj.Name), Affiliation: strings.TrimSpace(sj.Affiliation),
			Bio: strings.TrimSpace(sj.Bio), Link: strings.TrimSpace(sj.Link), Email: strings.TrimSpace(sj.Email), PhotoID: sj.PhotoID}
		if err := sp.Validate(); err != nil {
			return nil, err
		}
		if sp.Email != "" {
			sp.Email, _ = domain.NormalizeEmail(sp.Email)
		}
		out = append(out, sp)
	}
	return out, nil
}

// apply merges the input into o (speakers already resolved, or nil to keep them).
func (in OccurrenceInput) apply(e domain.Event, o *domain.Occurrence, speakers []domain.Speaker) (err error) {
	if in.Title != nil {
		if o.Title, err = text("title", *in.Title, 200, false); err != nil {
			return err
		}
	}
	if in.Abstract != nil {
		if o.Abstract, err = text("abstract", *in.Abstract, 20000, false); err != nil {
			return err
		}
	}
	if speakers != nil {
		if err := keptPhotos(o.Speakers, speakers); err != nil {
			return err
		}
		o.Speakers = speakers
	}
	if in.StartDate != nil || in.StartTime != nil {
		date, clock := o.StartLocal, o.StartLocal.Format("15:04")
		if in.StartDate != nil {
			if date, err = ParseDate("start_date", *in.StartDate); err != nil {
				return err
			}
		}
		if in.StartTime != nil {
			clock = strings.TrimSpace(*in.StartTime)
			if !Clock.MatchString(clock) {
				return domain.Invalid("start_time", "err.start_time.format")
			}
		}
		t, _ := time.Parse("15:04", clock)
		o.StartLocal = time.Date(date.Year(), date.Month(), date.Day(), t.Hour(), t.Minute(), 0, 0, time.UTC)
	}
	if in.DurationMinutes != nil {
		o.Duration = time.Duration(*in.DurationMinutes) * time.Minute
	}
	if in.Status != nil {
		switch *in.Status {
		case domain.StatusCancelled:
			reason := ""
			if in.Reason != nil {
				reason = *in.Reason
			}
			if o.CancelReason, err = text("reason", reason, 1000, true); err != nil {
				return domain.Invalid("reason", "err.occurrence.reason")
			}
			o.Status = domain.StatusCancelled
		case domain.StatusScheduled:
			o.Status, o.CancelReason = domain.StatusScheduled, ""
		default:
			return domain.Invalid("status", "err.occurrence.status")
		}
	} else if in.Reason != nil && o.Status == domain.StatusCancelled {
		if o.CancelReason, err = text("reason", *in.Reason, 1000, true); err != nil {
			return err
		}
	}
	if in.TrackID != nil {
		if e.Kind != domain.KindConference {
			return domain.Invalid("track_id", "err.occurrence.track_not_conference")
		}
		if *in.TrackID == 0 {
			o.TrackID = nil
		} else {
			id := *in.TrackID
			o.TrackID = &id
		}
	}
	return programme.ValidateOccurrence(e, *o)
}

// keptPhotos checks that the new speakers only keep photos the old ones had.
func keptPhotos(before, after []domain.Speaker) error {
	had := map[int64]bool{}
	for _, sp := range before {
		had[sp.PhotoID] = true
	}
	for _, sp := range after {
		if sp.PhotoID != 0 && !had[sp.PhotoID] {
			return domain.Invalid("speakers", "err.speakers.photo")
		}
	}
	return nil
}
