package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
	"github.com/puente-org/puente/store/pgtest"
)

// benchOccurrence makes a store on a fresh database (pgtest), an organiser and a weekly
// series with open registration and no capacity limit, and returns its first occurrence
// (5 March 2026, in the future of the store's clock) and n people to register.
func benchOccurrence(b *testing.B, n int) (*store.Store, int64, []domain.Person) {
	b.Helper()
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := store.New(pgtest.New(b), func() time.Time { return now })
	org, err := s.CreatePerson(ctx, store.NewPerson{Email: "org@example.org", IsOrganiser: true})
	if err != nil {
		b.Fatal(err)
	}
	e, err := s.CreateEvent(ctx, domain.Event{Kind: domain.KindSeries, Slug: "bench", Title: "Bench", Language: "en",
		Visibility: "public", TimeZone: "UTC", StartDate: time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC), StartTime: "15:00",
		Duration: time.Hour, RRule: "FREQ=WEEKLY;COUNT=2", Registration: domain.RegistrationOpen, Capacity: 0, Tags: []string{}}, org.ID, nil)
	if err != nil {
		b.Fatal(err)
	}
	occs, err := s.Occurrences(ctx, store.OccurrenceFilter{EventID: e.ID})
	if err != nil || len(occs) != 2 {
		b.Fatalf("occurrences: %v %d", err, len(occs))
	}
	people := make([]domain.Person, n)
	for i := range people {
		people[i], err = s.CreatePerson(ctx, store.NewPerson{Email: fmt.Sprintf("p%d@example.org", i), Name: fmt.Sprintf("Person %d", i)})
		if err != nil {
			b.Fatal(err)
		}
	}
	return s, occs[0].Occurrence.ID, people
}

// BenchmarkRegisterInsert: store.Register of a different person each time into one
// occurrence without a capacity limit, one at a time: one batch, its own transaction, with
// the occurrence row lock, the decision, the insert and the typed outbox row (rendered later,
// at delivery) and the read-back.
func BenchmarkRegisterInsert(b *testing.B) {
	s, occ, people := benchOccurrence(b, b.N)
	ctx := context.Background()
	notify := &store.Notify{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := s.Register(ctx, occ, people[i].ID, store.RegistrationDetails{Name: people[i].DisplayName(), Affiliation: "CONICET",
			Country: "AR", CareerStage: domain.CareerEarly, ConsentContact: true}, notify)
		if err != nil {
			b.Fatal(err)
		}
		if !res.Created || res.Registration.Status != store.RegConfirmed || res.Registration.PersonID != people[i].ID {
			b.Fatalf("registration %d: %+v", i, res)
		}
	}
	b.StopTimer()
	if box, err := s.Mailbox(ctx, b.N+1); err != nil || len(box) != b.N || box[0].Kind != string(domain.NoticeConfirmed) {
		b.Fatalf("outbox: %v, %d notices, want %d confirmations", err, len(box), b.N)
	}
}

// BenchmarkAddChat: store.AddChat, one chat message inserted and returned.
func BenchmarkAddChat(b *testing.B) {
	s, occ, people := benchOccurrence(b, 1)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m, err := s.AddChat(ctx, occ, people[0].ID, people[0].DisplayName(), "Could you say more about the second slide?")
		if err != nil {
			b.Fatal(err)
		}
		if m.ID == 0 || m.OccurrenceID != occ {
			b.Fatalf("message %d: %+v", i, m)
		}
	}
	b.StopTimer()
	if all, err := s.ChatHistory(ctx, occ, 0); err != nil || len(all) != b.N {
		b.Fatalf("chat history: %v, %d messages, want %d", err, len(all), b.N)
	}
}
