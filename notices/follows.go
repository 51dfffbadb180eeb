package notices

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/mail"
)

// followTalksPerEvent is how many talks of one series or conference the daily news lists;
// a new series with a year of talks is summed up with a link to its page instead.
const followTalksPerEvent = 5

// followTalk is one talk of the follow-updates email.
type followTalk struct {
	Label    string // new talk, or speakers announced
	Title    string
	When     string
	Other    string // the time in the event's zone, when it differs
	Speakers string
	URL      string
}

// followEvent is one series or conference of the email, with its talks.
type followEvent struct {
	Title string
	URL   string
	Talks []followTalk
	More  string // "and 7 more talks", linking to the event's page
	total int    // its talks in the news, listed or not
}

// followMail is what the follow-updates email template shows.
type followMail struct {
	Lang, Greeting, Lead string
	Events               []followEvent
	PageLabel, PageURL   string
	Footer               string
}

// followUpdates renders the daily news of what a person follows: its talks grouped by
// series or conference, each once, times in the reader's zone, each linked to its page.
// Talks cancelled or removed since the batch are left out; with none left it is not sent.
func (r *Renderer) followUpdates(rd reader, n domain.Notice, f domain.NoticeFacts) (Email, error) {
	if len(f.News) == 0 {
		return Email{}, fmt.Errorf("%w: none of the talks of a %s notice is still on", mail.ErrSuperseded, n.Kind)
	}
	l := rd.l
	m := followMail{Lang: rd.lang, Greeting: l.T("mail.reg.greeting", "Name", f.Person.DisplayName()),
		Lead: l.T("mail.follow.lead"), PageLabel: l.T("mail.follow.manage"), PageURL: r.absURL(MySeminarsPath) + "#following",
		Footer: l.T("mail.follow.footer")}
	index := map[int64]int{}
	for _, item := range f.News {
		e, o := item.Event, item.Occurrence
		i, ok := index[e.ID]
		if !ok {
			i = len(m.Events)
			index[e.ID] = i
			m.Events = append(m.Events, followEvent{Title: e.Title, URL: r.absURL(eventPath(e))})
		}
		m.Events[i].total++
		if len(m.Events[i].Talks) == followTalksPerEvent {
			continue
		}
		w := l.When(o.Start, o.End, e.TimeZone, rd.zone)
		t := followTalk{Label: l.T("mail.follow.new_talk"), Title: sessionTitle(e, o), When: w.String(), Other: w.Other,
			Speakers: speakerNames(o.Speakers), URL: r.absURL("/occurrences/" + strconv.FormatInt(o.ID, 10))}
		if item.Speakers {
			t.Label = l.T("mail.follow.speakers_announced")
		}
		m.Events[i].Talks = append(m.Events[i].Talks, t)
	}
	for i := range m.Events {
		ev := &m.Events[i]
		if more := ev.total - len(ev.Talks); more > 0 {
			ev.More = l.T("mail.follow.more", "Count", more)
		}
	}
	lines := []string{m.Greeting, "", m.Lead}
	for _, ev := range m.Events {
		lines = append(lines, "", "== "+ev.Title+" ==", ev.URL)
		for _, t := range ev.Talks {
			lines = append(lines, "", t.Label+": "+t.Title, t.When)
			if t.Other != "" {
				lines = append(lines, "("+t.Other+")")
			}
			if t.Speakers != "" {
				lines = append(lines, t.Speakers)
			}
			lines = append(lines, t.URL)
		}
		if ev.More != "" {
			lines = append(lines, "", ev.More+": "+ev.URL)
		}
	}
	lines = append(lines, "", m.PageLabel+": "+m.PageURL, "", m.Footer)
	var html bytes.Buffer
	if err := r.followHTML.Execute(&html, m); err != nil {
		return Email{}, fmt.Errorf("render a %s notice: %w", n.Kind, err)
	}
	return Email{To: f.Person.Email, Subject: l.T("mail.follow.subject", "Count", len(f.News)),
		Text: strings.Join(lines, "\n"), HTML: html.String()}, nil
}

// eventPath is the page of a series or conference on the web server.
func eventPath(e domain.Event) string {
	if e.Kind == domain.KindConference {
		return "/conferences/" + e.Slug
	}
	return "/series/" + e.Slug
}

// speakerNames is "Name (Affiliation), Name".
func speakerNames(speakers []domain.Speaker) string {
	var names []string
	for _, sp := range speakers {
		name := sp.Name
		if sp.Affiliation != "" {
			name += " (" + sp.Affiliation + ")"
		}
		names = append(names, name)
	}
	return strings.Join(names, ", ")
}
