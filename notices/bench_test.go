package notices_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/notices"
)

// noSource is never asked: the benchmark renders facts it already has.
type noSource struct{}

func (noSource) NoticeFacts(context.Context, domain.Notice) (domain.NoticeFacts, error) {
	return domain.NoticeFacts{}, nil
}

// BenchmarkRenderConfirmation: one confirmation email (text, HTML and .ics) from its facts,
// the work that used to run inside a registration's transaction, under the session's lock.
func BenchmarkRenderConfirmation(b *testing.B) {
	base, _ := url.Parse("https://puente.example.org")
	r, err := notices.New(notices.Options{Source: noSource{}, BaseURL: base, LinkKey: make([]byte, 32)})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Date(2026, 6, 4, 16, 0, 0, 0, time.UTC)
	wall := time.Date(2026, 6, 4, 12, 0, 0, 0, time.UTC)
	f := domain.NoticeFacts{
		Person: domain.Person{ID: 7, Email: "ana@example.org", Profile: domain.Profile{Name: "Ana", Language: "es", TimeZone: "America/Argentina/Buenos_Aires"}},
		Event: domain.Event{ID: 1, Kind: domain.KindSeries, Slug: "litio", Title: "Lithium Seminar", TimeZone: "America/Santiago",
			StartDate: wall, StartTime: "12:00", Duration: time.Hour, JoinWindow: 15 * time.Minute},
		Occurrence: domain.Occurrence{ID: 3, EventID: 1, Origin: "generated", Status: domain.StatusScheduled, Start: start,
			End: start.Add(time.Hour), StartLocal: wall, OriginalStart: &wall, Abstract: "Solid-state **electrolytes** and brine.",
			Speakers: []domain.Speaker{{Name: "Dr. Rojas", Affiliation: "UChile"}}},
		Place: domain.NoticePlace{ID: 11, Status: "confirmed", LinkNonce: 1},
	}
	n := domain.Notice{Kind: domain.NoticeConfirmed, PersonID: 7, RegistrationID: 11, OccurrenceID: 3, EventID: 1}
	b.ReportAllocs()
	for b.Loop() {
		e, err := r.Email(n, f)
		if err != nil || e.ICS == "" {
			b.Fatalf("%v %+v", err, e)
		}
	}
}
