package server

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// clientLimiter is a token bucket per client address (one refill per interval, up to
// burst), for requests that cost us an email. Idle buckets are forgotten so the map stays
// small.
type clientLimiter struct {
	mu       sync.Mutex
	buckets  map[string]*bucket
	every    rate.Limit
	burst    int
	now      func() time.Time
	lastTidy time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newClientLimiter(interval time.Duration, burst int, now func() time.Time) *clientLimiter {
	return &clientLimiter{buckets: map[string]*bucket{}, every: rate.Every(interval), burst: burst, now: now}
}

// Allow takes one token for client, reporting whether there was one.
func (l *clientLimiter) Allow(client string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.lastTidy) > 10*time.Minute {
		for k, b := range l.buckets {
			if now.Sub(b.seen) > time.Hour {
				delete(l.buckets, k)
			}
		}
		l.lastTidy = now
	}
	b, ok := l.buckets[client]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(l.every, l.burst)}
		l.buckets[client] = b
	}
	b.seen = now
	return b.lim.AllowN(now, 1)
}
