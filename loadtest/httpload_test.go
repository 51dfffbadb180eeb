package loadtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// httpTestServer answers GET /?i=N by calling handle; it counts the connections clients
// opened and the most requests it had in flight at once.
type httpTestServer struct {
	*httptest.Server
	conns, inFlight, maxInFlight atomic.Int64
	mu                           sync.Mutex
	seen                         map[int]int // requests per i
}

func newHTTPTestServer(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, i int)) *httpTestServer {
	t.Helper()
	s := &httpTestServer{seen: map[int]int{}}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := s.inFlight.Add(1)
		defer s.inFlight.Add(-1)
		for m := s.maxInFlight.Load(); n > m && !s.maxInFlight.CompareAndSwap(m, n); m = s.maxInFlight.Load() {
		}
		i, err := strconv.Atoi(r.URL.Query().Get("i"))
		if err != nil {
			http.Error(w, "no i", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.seen[i]++
		s.mu.Unlock()
		handle(w, r, i)
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *httpTestServer) request(i int) (*http.Request, error) {
	return http.NewRequest(http.MethodGet, fmt.Sprintf("%s/?i=%d", s.URL, i), nil)
}

func TestHTTPFixedCount(t *testing.T) {
	const delay = 3 * time.Millisecond
	s := newHTTPTestServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		time.Sleep(delay)
		_, _ = w.Write([]byte(strings.Repeat("x", 10000)))
	})
	res, err := RunHTTP(context.Background(), HTTPOptions{Concurrency: 8, Requests: 200, Request: s.request})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 200 || res.Errors != 0 || res.Status[200] != 200 || len(res.Status) != 1 {
		t.Fatalf("requests %d errors %d status %v", res.Requests, res.Errors, res.Status)
	}
	s.mu.Lock()
	for i := range 200 {
		if s.seen[i] != 1 {
			t.Errorf("request %d made %d times", i, s.seen[i])
		}
	}
	if len(s.seen) != 200 {
		t.Errorf("%d distinct requests, want 200", len(s.seen))
	}
	s.mu.Unlock()
	if !(delay <= res.P50 && res.P50 <= res.P90 && res.P90 <= res.P99 && res.P99 <= res.Max) {
		t.Errorf("latencies p50 %v p90 %v p99 %v max %v: not ordered or under the server's %v", res.P50, res.P90, res.P99, res.Max, delay)
	}
	if res.Seconds <= 0 || res.RPS <= 0 || res.RPS > float64(res.Requests)/res.Seconds*1.0001 {
		t.Errorf("%.3f s, %.1f requests/s", res.Seconds, res.RPS)
	}
	// Concurrency is shown by the requests in flight together, not by a wall-clock limit
	// (these machines are shared and noisy).
	if m := s.maxInFlight.Load(); m < 2 || m > 8 {
		t.Errorf("at most %d requests in flight, want 2 to 8", m)
	}
	if c := s.conns.Load(); c > 8 {
		t.Errorf("%d connections for 8 workers: keep-alive not used", c)
	}
}

func TestHTTPErrorsAndStatus(t *testing.T) {
	s := newHTTPTestServer(t, func(w http.ResponseWriter, r *http.Request, i int) {
		switch i % 5 {
		case 0:
			http.Error(w, "boom", http.StatusInternalServerError)
		case 1:
			http.NotFound(w, nil)
		case 2:
			w.WriteHeader(http.StatusCreated)
		case 3: // no response at all
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		default:
			http.Redirect(w, r, "/elsewhere", http.StatusSeeOther)
		}
	})
	res, err := RunHTTP(context.Background(), HTTPOptions{Concurrency: 4, Requests: 100, Request: s.request})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]int{500: 20, 404: 20, 201: 20, 0: 20, 303: 20}
	if res.Requests != 100 || res.Errors != 60 || fmt.Sprint(res.Status) != fmt.Sprint(want) {
		t.Fatalf("default OK: requests %d errors %d status %v, want 100, 60, %v", res.Requests, res.Errors, res.Status, want)
	}
	if res.P50 == 0 || res.Max < res.P99 {
		t.Errorf("latencies of the 40 successes: p50 %v p99 %v max %v", res.P50, res.P99, res.Max)
	}
	res, err = RunHTTP(context.Background(), HTTPOptions{Concurrency: 4, Requests: 100, Request: s.request,
		OK: func(r *http.Response) bool { return r.StatusCode == http.StatusCreated }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 100 || res.Errors != 80 || fmt.Sprint(res.Status) != fmt.Sprint(want) {
		t.Fatalf("OK = 201: requests %d errors %d status %v", res.Requests, res.Errors, res.Status)
	}
}

func TestHTTPDuration(t *testing.T) {
	s := newHTTPTestServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) { time.Sleep(time.Millisecond) })
	res, err := RunHTTP(context.Background(), HTTPOptions{Concurrency: 3, Duration: 200 * time.Millisecond, Request: s.request})
	if err != nil {
		t.Fatal(err)
	}
	if res.Seconds < 0.2 || res.Seconds > 2 {
		t.Errorf("ran %.3f s for a 200 ms run", res.Seconds)
	}
	if res.Requests < 10 || res.Errors != 0 || res.Status[200] != res.Requests {
		t.Errorf("requests %d errors %d status %v", res.Requests, res.Errors, res.Status)
	}
	if got := float64(res.Requests) / res.Seconds; res.RPS < got*0.999 || res.RPS > got*1.001 {
		t.Errorf("rps %.1f, want %.1f", res.RPS, got)
	}
	// Requests > 0 wins; Duration caps it.
	res, err = RunHTTP(context.Background(), HTTPOptions{Concurrency: 3, Requests: 5, Duration: time.Minute, Request: s.request})
	if err != nil || res.Requests != 5 {
		t.Fatalf("5 requests within a minute: %v, %d", err, res.Requests)
	}
}

func TestHTTPContextCancel(t *testing.T) {
	release := make(chan struct{})
	var hung atomic.Int64
	s := newHTTPTestServer(t, func(w http.ResponseWriter, r *http.Request, i int) {
		if i < 10 {
			return
		}
		hung.Add(1)
		select { // hangs until the client gives up
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for hung.Load() < 4 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	t0 := time.Now()
	res, err := RunHTTP(ctx, HTTPOptions{Concurrency: 4, Duration: time.Minute, Request: s.request})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("returned %v after the cancel", d)
	}
	if res.Requests != 10 || res.Errors != 0 || res.Status[200] != 10 {
		t.Errorf("requests %d errors %d status %v: want the 10 that completed", res.Requests, res.Errors, res.Status)
	}
}

func TestHTTPRequestErrorAndOptions(t *testing.T) {
	s := newHTTPTestServer(t, func(http.ResponseWriter, *http.Request, int) {})
	res, err := RunHTTP(context.Background(), HTTPOptions{Concurrency: 1, Requests: 100, Request: func(i int) (*http.Request, error) {
		if i == 7 {
			return nil, errors.New("out of people")
		}
		return s.request(i)
	}})
	if err == nil || !strings.Contains(err.Error(), "request 7: out of people") || res.Requests != 7 {
		t.Fatalf("err %v after %d requests, want request 7's error after 7", err, res.Requests)
	}
	if _, err := RunHTTP(context.Background(), HTTPOptions{Requests: 1}); err == nil {
		t.Error("no Request function accepted")
	}
	if _, err := RunHTTP(context.Background(), HTTPOptions{Request: s.request}); err == nil {
		t.Error("neither Requests nor Duration accepted")
	}
	// Concurrency 0 is one worker; more workers than requests is fine.
	for _, c := range []int{0, 50} {
		if res, err := RunHTTP(context.Background(), HTTPOptions{Concurrency: c, Requests: 3, Request: s.request}); err != nil || res.Requests != 3 {
			t.Errorf("concurrency %d: %v, %d requests", c, err, res.Requests)
		}
	}
}

func TestHTTPPercentiles(t *testing.T) {
	var l []time.Duration
	for i := 100; i >= 1; i-- {
		l = append(l, time.Duration(i)*time.Millisecond)
	}
	p50, p90, p99, mx := httpPercentiles(l)
	if p50 != 50*time.Millisecond || p90 != 90*time.Millisecond || p99 != 99*time.Millisecond || mx != 100*time.Millisecond {
		t.Errorf("1..100 ms: %v %v %v %v", p50, p90, p99, mx)
	}
	if p50, _, p99, mx := httpPercentiles([]time.Duration{7}); p50 != 7 || p99 != 7 || mx != 7 {
		t.Errorf("one value: %v %v %v", p50, p99, mx)
	}
	if p50, p90, p99, mx := httpPercentiles(nil); p50|p90|p99|mx != 0 {
		t.Error("none: not zero")
	}
}
