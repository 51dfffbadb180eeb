package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// HTTPOptions configures RunHTTP.
type HTTPOptions struct {
	Concurrency int           // workers, each with at most one request in flight (default 1)
	Duration    time.Duration // run for this long, or
	Requests    int           // make this many requests (Requests > 0 wins; Duration then only caps it)
	// Request builds the i-th request (i from 0); workers call it concurrently. An error ends
	// the run: RunHTTP returns it with what was measured until then.
	Request func(i int) (*http.Request, error)
	// OK says whether a response counts as success (default: status < 400); the body is read
	// and discarded.
	OK func(*http.Response) bool
	// Timeout bounds one request, body included (default 30 s); a request that times out is
	// an error.
	Timeout time.Duration
}

// HTTPResult is what RunHTTP measured. Requests counts the requests that completed (with a
// response or a transport error; not those cut short by the context); Errors those of them
// that were not a success (a transport error, a failure to read the body, or a response OK
// refused). RPS is successful requests per second of the run; the latencies (from the
// client's Do to the body read, so a worker's first request includes its connection) are
// those of the successful requests, exact (nearest rank). Status
// counts responses by status code, and transport errors under 0.
type HTTPResult struct {
	Requests int           `json:"requests"`
	Errors   int           `json:"errors"`
	Seconds  float64       `json:"seconds"`
	RPS      float64       `json:"rps"`
	P50      time.Duration `json:"p50_ns"`
	P90      time.Duration `json:"p90_ns"`
	P99      time.Duration `json:"p99_ns"`
	Max      time.Duration `json:"max_ns"`
	Status   map[int]int   `json:"status"`
}

// httpWorker is one worker's tally, merged when the run ends.
type httpWorker struct {
	requests, errors int
	latencies        []time.Duration // of successful requests
	status           map[int]int
}

// RunHTTP sends requests from o.Concurrency workers over one keep-alive client (a
// connection per worker, reused; redirects are not followed, so a 3xx is a response of its
// own) until o.Requests were made or o.Duration passed, and measures them. When ctx ends
// first, requests in flight are abandoned and RunHTTP returns what it measured with
// ctx.Err().
func RunHTTP(ctx context.Context, o HTTPOptions) (HTTPResult, error) {
	if o.Request == nil {
		return HTTPResult{}, errors.New("RunHTTP: no Request function")
	}
	if o.Requests <= 0 && o.Duration <= 0 {
		return HTTPResult{}, errors.New("RunHTTP: neither Requests nor Duration set")
	}
	workers := max(o.Concurrency, 1)
	if o.Requests > 0 {
		workers = min(workers, o.Requests)
	}
	if o.OK == nil {
		o.OK = func(r *http.Response) bool { return r.StatusCode < 400 }
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        workers,
		MaxIdleConnsPerHost: workers,
		// A worker's next request can come before its connection is back in the pool; without
		// a cap it would dial another one.
		MaxConnsPerHost: workers,
		IdleConnTimeout: 90 * time.Second,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: o.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	// Room for every latency up front: a fixed count, or a guess that grows for a duration.
	perWorker := 4096
	if o.Requests > 0 {
		perWorker = o.Requests/workers + 1
	}
	tallies := make([]httpWorker, workers)
	var next atomic.Int64
	var stop atomic.Bool // set by the first Request error
	var buildErr error
	var buildOnce sync.Once
	start := time.Now()
	var deadline time.Time
	if o.Duration > 0 {
		deadline = start.Add(o.Duration)
	}
	var wg sync.WaitGroup
	for w := range tallies {
		t := &tallies[w]
		t.latencies = make([]time.Duration, 0, perWorker)
		t.status = map[int]int{}
		wg.Go(func() {
			for !stop.Load() && ctx.Err() == nil && (deadline.IsZero() || time.Now().Before(deadline)) {
				i := int(next.Add(1) - 1)
				if o.Requests > 0 && i >= o.Requests {
					return
				}
				req, err := o.Request(i)
				if err != nil {
					buildOnce.Do(func() { buildErr = fmt.Errorf("request %d: %w", i, err) })
					stop.Store(true)
					return
				}
				t0 := time.Now()
				ok, status, err := httpDo(client, req.WithContext(ctx), o.OK)
				d := time.Since(t0)
				if ctx.Err() != nil && err != nil {
					return // cut short by the caller, not a result
				}
				t.requests++
				t.status[status]++
				if !ok {
					t.errors++
					continue
				}
				t.latencies = append(t.latencies, d)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	res := HTTPResult{Seconds: elapsed.Seconds(), Status: map[int]int{}}
	n := 0
	for _, t := range tallies {
		n += len(t.latencies)
	}
	all := make([]time.Duration, 0, n)
	for _, t := range tallies {
		res.Requests += t.requests
		res.Errors += t.errors
		for s, c := range t.status {
			res.Status[s] += c
		}
		all = append(all, t.latencies...)
	}
	if res.Seconds > 0 {
		res.RPS = float64(len(all)) / res.Seconds
	}
	res.P50, res.P90, res.P99, res.Max = httpPercentiles(all)
	if buildErr != nil {
		return res, buildErr
	}
	return res, ctx.Err()
}

// httpDo makes one request and reads the whole body; status is 0 without a response.
func httpDo(client *http.Client, req *http.Request, ok func(*http.Response) bool) (success bool, status int, err error) {
	res, err := client.Do(req)
	if err != nil {
		return false, 0, err
	}
	defer res.Body.Close()
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		return false, res.StatusCode, err
	}
	return ok(res), res.StatusCode, nil
}

// httpPercentiles sorts the latencies and returns the 50th, 90th and 99th percentiles
// (nearest rank: the smallest value at least p% of them do not exceed) and the largest.
func httpPercentiles(l []time.Duration) (p50, p90, p99, maxL time.Duration) {
	if len(l) == 0 {
		return 0, 0, 0, 0
	}
	slices.Sort(l)
	return nearestRank(l, 50), nearestRank(l, 90), nearestRank(l, 99), l[len(l)-1]
}

// nearestRank is the smallest value of sorted (ascending, not empty) that at least p% of
// them do not exceed.
func nearestRank[T any](sorted []T, p int) T {
	i := (p*len(sorted) + 99) / 100 // ceil(p/100 × n)
	return sorted[max(i, 1)-1]
}
