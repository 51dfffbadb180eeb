package loadtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
)

// Session is a prepared live session: an occurrence starting in a few minutes, speakers
// who organise it (they enter as hosts and publish) and registered viewers, each with a
// personal API token to ask for admission like any API client.
type Session struct {
	OccurrenceID  int64
	EventSlug     string
	SpeakerTokens []string
	ViewerTokens  []string
}

// Prepare makes a Session directly in the database (setting up hundreds of accounts through
// email sign-in would measure the mailbox, not the live rooms), with capacity places (0:
// unlimited).
func Prepare(ctx context.Context, databaseURL string, speakers, viewers, capacity int) (Session, error) {
	var s Session
	pool, err := pgxpool.New(ctx, databaseURL)
	if err != nil {
		return s, fmt.Errorf("connect to the database: %w", err)
	}
	defer pool.Close()
	st := store.New(pool, nil)
	run := runID()
	person := func(kind string, i int, organiser bool) (domain.Person, string, error) {
		return personWithToken(ctx, st, kind, i, run, organiser)
	}
	var organisers []string
	var creator int64
	for i := range speakers {
		p, tok, err := person("speaker", i, true)
		if err != nil {
			return s, fmt.Errorf("speaker: %w", err)
		}
		if i == 0 {
			creator = p.ID
		} else {
			organisers = append(organisers, p.Email)
		}
		s.SpeakerTokens = append(s.SpeakerTokens, tok)
	}
	start := time.Now().UTC().Add(5 * time.Minute).Truncate(time.Minute)
	e, err := st.CreateEvent(ctx, domain.Event{Kind: domain.KindSeries, Slug: "bench-" + run, Title: "Benchmark webinar " + run,
		Language: "en", Visibility: "public", TimeZone: "UTC", StartDate: time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, time.UTC),
		StartTime: start.Format("15:04"), Duration: time.Hour, RRule: "FREQ=WEEKLY;COUNT=1", Registration: "open",
		Capacity: capacity, Tags: []string{}, JoinWindow: 30 * time.Minute}, creator, organisers)
	if err != nil {
		return s, fmt.Errorf("create the session: %w", err)
	}
	s.EventSlug = e.Slug
	occs, err := st.Occurrences(ctx, store.OccurrenceFilter{EventID: e.ID})
	if err != nil || len(occs) != 1 {
		return s, fmt.Errorf("the session's occurrence: %d found, %v", len(occs), err)
	}
	s.OccurrenceID = occs[0].Occurrence.ID
	s.ViewerTokens, err = people(ctx, viewers, func(i int) (string, error) {
		p, tok, err := person("viewer", i, false)
		if err == nil {
			_, err = st.Register(ctx, s.OccurrenceID, p.ID, store.RegistrationDetails{Name: p.Profile.Name}, nil)
		}
		return tok, err
	})
	return s, err
}

// PreparePeople makes n accounts with personal API tokens (for HTTP load as many people).
func PreparePeople(ctx context.Context, databaseURL string, n int) ([]string, error) {
	pool, err := pgxpool.New(ctx, databaseURL)
	if err != nil {
		return nil, fmt.Errorf("connect to the database: %w", err)
	}
	defer pool.Close()
	st := store.New(pool, nil)
	run := runID()
	return people(ctx, n, func(i int) (string, error) {
		_, tok, err := personWithToken(ctx, st, "person", i, run, false)
		return tok, err
	})
}

// runID tells one run's people and sessions from another's: several runs can share a
// database.
func runID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// personWithToken makes the i-th account of a kind ("speaker", "viewer", "person") for a
// run, with a personal API token, and returns the token.
func personWithToken(ctx context.Context, st *store.Store, kind string, i int, run string, organiser bool) (domain.Person, string, error) {
	p, err := st.CreatePerson(ctx, store.NewPerson{Email: fmt.Sprintf("%s%d-%s@bench.invalid", kind, i, run),
		Name: fmt.Sprintf("%s %d", kind, i), IsOrganiser: organiser})
	if err != nil {
		return p, "", err
	}
	secret, hash := domain.NewSecret(domain.PrefixAPIToken)
	_, err = st.CreateAPIToken(ctx, p.ID, "bench", hash)
	return p, secret, err
}

// people runs mk for 0..n-1, eight at a time, and collects the tokens.
func people(ctx context.Context, n int, mk func(i int) (string, error)) ([]string, error) {
	out := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				tok, err := mk(i)
				if err != nil {
					errs <- fmt.Errorf("person %d: %w", i, err)
					continue
				}
				out[i] = tok
			}
		})
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return out, ctx.Err()
}
