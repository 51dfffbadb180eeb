package notices_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/mail"
	"github.com/puente-org/puente/notices"
)

// noFacts is a Source the follow-updates tests never need (they call Email directly).
type noFacts struct{}

func (noFacts) NoticeFacts(context.Context, domain.Notice) (domain.NoticeFacts, error) {
	return domain.NoticeFacts{}, errors.New("not used")
}

// A long new series is summed up: five talks, then "and N more" linking to its page; with
// no talk left the notice is superseded (not sent).
func TestFollowUpdatesSumsUpALongSeries(t *testing.T) {
	base, _ := url.Parse("https://puente.example.org")
	r, err := notices.New(notices.Options{Source: noFacts{}, BaseURL: base, LinkKey: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	e := domain.Event{ID: 7, Kind: domain.KindSeries, Slug: "litio", Title: "Litio", TimeZone: "Europe/London"}
	f := domain.NoticeFacts{Person: domain.Person{Email: "pat@example.org", Profile: domain.Profile{Name: "Pat", Language: "en"}}}
	start := time.Date(2026, 3, 5, 15, 0, 0, 0, time.UTC)
	for i := range 7 {
		s := start.AddDate(0, 0, 7*i)
		f.News = append(f.News, domain.FollowNewsFact{Event: e,
			Occurrence: domain.Occurrence{ID: int64(100 + i), EventID: 7, Start: s, End: s.Add(time.Hour), Status: domain.StatusScheduled}})
	}
	n := domain.Notice{Kind: domain.NoticeFollowUpdates, PersonID: 1, List: domain.ListFollowUpdates}
	m, err := r.Email(n, f)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "News from what you follow: 7 talks" || strings.Count(m.Text, "New talk: Litio") != 5 ||
		!strings.Contains(m.Text, "and 2 more talks: https://puente.example.org/series/litio") ||
		strings.Contains(m.Text, "/occurrences/105") || !strings.Contains(m.HTML, "and 2 more talks") {
		t.Fatalf("%q\n%s", m.Subject, m.Text)
	}
	if _, err := r.Email(n, domain.NoticeFacts{Person: f.Person}); !errors.Is(err, mail.ErrSuperseded) {
		t.Fatalf("with no talk left: %v", err)
	}
}
