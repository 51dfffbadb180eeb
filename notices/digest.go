package notices

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/mail"
)

// digestMail is what the weekly digest's template shows.
type digestMail struct {
	Lang           string
	Greeting       string
	Lead           string
	Days           []digestDay
	ProgrammeLabel string
	ProgrammeURL   string
}

// digestDay is one local day of a digest and its talks.
type digestDay struct {
	Day   string
	Talks []digestTalk
}

// digestTalk is one talk as the digest tells it, in the reader's zone.
type digestTalk struct {
	Time       string // "09:00–10:00"
	Title      string
	Event      string // the series or conference, when the talk has a title of its own
	Speakers   string
	Other      string // the event's clock, when it differs: "14:00 London"
	Registered string // "You are registered", or ""
	URL        string
}

// weeklyDigest is the Monday digest: the talks of the window the job reckoned, read now,
// grouped by the reader's local day, each with its time in the reader's zone (and the
// event's own clock when it differs) and a link to its page. A digest whose talks have all
// been cancelled or moved out of its window since it was queued is not sent.
func (r *Renderer) weeklyDigest(n domain.Notice, f domain.NoticeFacts) (Email, error) {
	if n.Payload.Digest == nil {
		return Email{}, fmt.Errorf("%w: a weekly digest without its window", mail.ErrInvalidMessage)
	}
	if len(f.Talks) == 0 {
		return Email{}, fmt.Errorf("%w: the digest has no talk left to tell", mail.ErrSuperseded)
	}
	rd := r.readerOf(f.Person)
	loc := domain.DigestZone(f.Person)
	l, win := rd.l, *n.Payload.Digest
	last := win.Until.Add(-time.Nanosecond) // the window's last day is the Sunday before Until
	m := digestMail{Lang: rd.lang, Greeting: l.T("mail.reg.greeting", "Name", f.Person.DisplayName()),
		Lead: l.T("mail.digest.lead", "From", l.LongDate(win.From.In(loc)), "To", l.LongDate(last.In(loc)),
			"Zone", l.ZoneName(loc)),
		ProgrammeLabel: l.T("mail.digest.programme"), ProgrammeURL: r.absURL("/programme")}
	for _, t := range f.Talks {
		e, o := t.Event, t.Occurrence
		w := l.When(o.Start, o.End, e.TimeZone, loc)
		dt := digestTalk{Time: w.Time, Title: sessionTitle(e, o), Other: w.Other,
			URL: r.absURL("/occurrences/" + strconv.FormatInt(o.ID, 10))}
		if o.Title != "" && o.Title != e.Title {
			dt.Event = e.Title
		}
		var names []string
		for _, sp := range o.Speakers {
			name := sp.Name
			if sp.Affiliation != "" {
				name += " (" + sp.Affiliation + ")"
			}
			names = append(names, name)
		}
		dt.Speakers = strings.Join(names, ", ")
		if t.Registered {
			dt.Registered = l.T("mail.digest.registered")
		}
		if len(m.Days) == 0 || m.Days[len(m.Days)-1].Day != w.Day {
			m.Days = append(m.Days, digestDay{Day: w.Day})
		}
		day := &m.Days[len(m.Days)-1]
		day.Talks = append(day.Talks, dt)
	}
	lines := []string{m.Greeting, "", m.Lead}
	for _, d := range m.Days {
		lines = append(lines, "", d.Day)
		for _, t := range d.Talks {
			lines = append(lines, "", t.Time+" · "+t.Title)
			for _, extra := range []string{t.Event, t.Speakers, t.Other, t.Registered} {
				if extra != "" {
					lines = append(lines, "  "+extra)
				}
			}
			lines = append(lines, "  "+t.URL)
		}
	}
	// Why they receive it, and how to stop it, is the list footer (listMail).
	lines = append(lines, "", m.ProgrammeLabel+": "+m.ProgrammeURL)
	var html bytes.Buffer
	if err := r.digestHTML.Execute(&html, m); err != nil {
		return Email{}, fmt.Errorf("render a weekly digest: %w", err)
	}
	subject := l.T("mail.digest.subject", "Count", len(f.Talks), "From", l.ShortDate(win.From.In(loc)))
	return Email{To: f.Person.Email, Subject: subject, Text: strings.Join(lines, "\n"), HTML: html.String()}, nil
}
