package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/server"
	"github.com/puente-org/puente/store"
)

// BenchmarkRegisterAPI: registrations per second through the HTTP API (request, auth by
// token, the capacity lock, the insert, the confirmation's typed row in the outbox, the
// response), from 8 concurrent clients on loopback. The email is rendered when delivered,
// by the sender, which this benchmark does not run.
func BenchmarkRegisterAPI(b *testing.B) {
	st, ts, _ := newFixedClockServer(b, func(o *server.Options) { o.DevMail = false })
	ctx := context.Background()
	org, _ := st.CreatePerson(ctx, store.NewPerson{Email: "org@example.org", IsOrganiser: true})
	e, err := st.CreateEvent(ctx, domain.Event{Kind: domain.KindSeries, Slug: "bench", Title: "Bench", Language: "en",
		Visibility: "public", TimeZone: "Europe/London", StartDate: time.Date(2026, 2, 5, 0, 0, 0, 0, time.UTC), StartTime: "15:00",
		Duration: time.Hour, Registration: "open", Capacity: 0, Tags: []string{}, Reminders: []int{60}}, org.ID, nil)
	if err != nil {
		b.Fatal(err)
	}
	list, _ := st.Occurrences(ctx, store.OccurrenceFilter{EventID: e.ID})
	path := fmt.Sprintf("%s/api/v1/occurrences/%d/registrations", ts.URL, list[0].Occurrence.ID)
	tokens := make([]string, b.N)
	for i := range tokens {
		p, err := st.CreatePerson(ctx, store.NewPerson{Email: fmt.Sprintf("p%d@example.org", i)})
		if err != nil {
			b.Fatal(err)
		}
		secret, hash := domain.NewSecret(domain.PrefixAPIToken)
		if _, err := st.CreateAPIToken(ctx, p.ID, "b", hash); err != nil {
			b.Fatal(err)
		}
		tokens[i] = secret
	}
	var next atomic.Int64
	b.SetParallelism(4) // 4 × GOMAXPROCS(2) = 8 clients
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		client := &http.Client{Timeout: 30 * time.Second}
		for pb.Next() {
			i := next.Add(1) - 1
			req, _ := http.NewRequest("POST", path, strings.NewReader(`{}`))
			req.Header.Set("Authorization", "Bearer "+tokens[i])
			req.Header.Set("Content-Type", "application/json")
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 201 {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "registrations/s")
}

// BenchmarkProgrammeFeedHTTP: the programme feed of 50 weekly series over a year through
// HTTP: "cached" is a client without a copy (the feed comes from the server's cache after
// the first build), "not-modified" a client revalidating its copy (304).
func BenchmarkProgrammeFeedHTTP(b *testing.B) {
	st, ts, _ := newFixedClockServer(b)
	ctx := context.Background()
	org, _ := st.CreatePerson(ctx, store.NewPerson{Email: "org@example.org", IsOrganiser: true})
	for i := range 50 {
		_, err := st.CreateEvent(ctx, domain.Event{Kind: domain.KindSeries, Slug: fmt.Sprintf("s%d", i), Title: fmt.Sprintf("Series %d", i),
			Language: "en", Visibility: "public", TimeZone: "Europe/London", StartDate: time.Date(2026, 1, 5+i%7, 0, 0, 0, 0, time.UTC),
			StartTime: "15:00", Duration: time.Hour, RRule: "FREQ=WEEKLY", Registration: "open", Tags: []string{}, Reminders: []int{60}}, org.ID, nil)
		if err != nil {
			b.Fatal(err)
		}
	}
	get := func(etag string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", ts.URL+"/feeds/programme.ics", nil)
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res, body
	}
	first, body := get("")
	etag := first.Header.Get("ETag")
	b.Logf("feed: %d bytes, %d events", len(body), strings.Count(string(body), "BEGIN:VEVENT"))
	b.Run("cached", func(b *testing.B) {
		for range b.N {
			if res, _ := get(""); res.StatusCode != 200 {
				b.Fatal(res.Status)
			}
		}
	})
	b.Run("not-modified", func(b *testing.B) {
		for range b.N {
			if res, _ := get(etag); res.StatusCode != 304 {
				b.Fatal(res.Status)
			}
		}
	})
}
