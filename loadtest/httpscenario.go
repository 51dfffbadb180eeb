package loadtest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// HTTPScenarioResult is the HTTP scenarios' JSON: one entry per kind of request.
type HTTPScenarioResult struct {
	Scenario    string                `json:"scenario"`
	Concurrency int                   `json:"concurrency"`
	Pinned      bool                  `json:"pinned"`
	Runs        map[string]HTTPResult `json:"runs"`
	ServerCPUS  float64               `json:"server_cpu_s"`
	ServerRSSMB float64               `json:"server_rss_mb"`
}

// RunHTTPScenario loads the registration endpoint ("register": each request a different
// person registering for one session, o.Requests of them, by default o.Viewers × 20 and at
// least 2,000) or
// the feeds ("feed": a series feed in full, the same feed revalidated with If-None-Match,
// and the whole programme feed, each for o.Duration).
func RunHTTPScenario(ctx context.Context, o Options, concurrency int) (HTTPScenarioResult, error) {
	res := HTTPScenarioResult{Scenario: o.Scenario, Concurrency: concurrency, Runs: map[string]HTTPResult{}}
	srv := &Server{URL: o.URL, DatabaseURL: o.DatabaseURL, PID: o.ServerPID}
	var err error
	if o.URL == "" {
		if srv, err = StartServer(ctx, o.DatabaseURL, o.Log); err != nil {
			return res, err
		}
		defer srv.Close()
	} else if o.DatabaseURL == "" {
		return res, fmt.Errorf("--url needs --database-url (the server's database, to set up the session and its people)")
	}
	if o.Pin && srv.PID != 0 {
		if err := pinPair(srv.PID); err == nil {
			res.Pinned = true
		}
	}
	sess, err := Prepare(ctx, srv.DatabaseURL, 1, 0, o.Capacity)
	if err != nil {
		return res, err
	}
	s0, _ := readProcIf(srv.PID)
	switch o.Scenario {
	case "register":
		n := max(2000, o.Viewers*20)
		if o.Requests > 0 {
			n = o.Requests
		}
		tokens, err := PreparePeople(ctx, srv.DatabaseURL, n)
		if err != nil {
			return res, err
		}
		url := fmt.Sprintf("%s/api/v1/occurrences/%d/registrations", srv.URL, sess.OccurrenceID)
		// --profile: the server's CPU profile over --duration from the first request (a
		// rush of 1,000 takes a few seconds).
		profiled := make(chan error, 1)
		if o.Profile != "" {
			go func() { profiled <- srv.Profile(ctx, "profile", o.Duration, o.Profile) }()
		} else {
			profiled <- nil
		}
		r, err := RunHTTP(ctx, HTTPOptions{Concurrency: concurrency, Requests: n, Request: func(i int) (*http.Request, error) {
			req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(`{}`))
			if err == nil {
				req.Header.Set("Authorization", "Bearer "+tokens[i])
				req.Header.Set("Content-Type", "application/json")
			}
			return req, err
		}, OK: func(r *http.Response) bool { return r.StatusCode == http.StatusCreated }})
		if perr := <-profiled; err == nil && perr != nil {
			err = fmt.Errorf("profile: %w", perr)
		}
		if err != nil {
			return res, err
		}
		res.Runs["register"] = r
	case "feed":
		feed := srv.URL + "/feeds/series/" + sess.EventSlug + ".ics"
		first, err := http.Get(feed)
		if err != nil {
			return res, err
		}
		first.Body.Close()
		etag := first.Header.Get("ETag")
		if first.StatusCode != http.StatusOK || etag == "" {
			return res, fmt.Errorf("the series feed answered %s with ETag %q", first.Status, etag)
		}
		get := func(u, inm string, want int) HTTPOptions {
			return HTTPOptions{Concurrency: concurrency, Duration: o.Duration, Request: func(int) (*http.Request, error) {
				req, err := http.NewRequest(http.MethodGet, u, nil)
				if err == nil && inm != "" {
					req.Header.Set("If-None-Match", inm)
				}
				return req, err
			}, OK: func(r *http.Response) bool { return r.StatusCode == want }}
		}
		for name, ho := range map[string]HTTPOptions{
			"series_feed":             get(feed, "", http.StatusOK),
			"series_feed_revalidated": get(feed, etag, http.StatusNotModified),
			"programme_feed":          get(srv.URL+"/feeds/programme.ics", "", http.StatusOK),
		} {
			r, err := RunHTTP(ctx, ho)
			if err != nil {
				return res, err
			}
			res.Runs[name] = r
		}
	default:
		return res, fmt.Errorf("unknown scenario %q", o.Scenario)
	}
	if s1, err := readProcIf(srv.PID); err == nil {
		res.ServerCPUS = (s1.CPU - s0.CPU).Seconds()
		res.ServerRSSMB = float64(s1.RSSBytes) / (1 << 20)
	}
	return res, nil
}
