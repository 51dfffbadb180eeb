package mail

import (
	"math/rand/v2"
	"time"
)

const (
	backoffBase = 30 * time.Second
	backoffMax  = time.Hour
)

// backoff is the delay before the next attempt after attempt number attempts
// (1-based) failed: 30s·2^(attempts-1), capped at one hour, plus up to 10%
// jitter so that messages failing together (server down) do not all retry in
// the same instant.
func backoff(attempts int, jitter func(time.Duration) time.Duration) time.Duration {
	d := backoffBase
	// Doubling in a loop instead of shifting avoids overflow for large counts.
	for i := 1; i < attempts && d < backoffMax; i++ {
		d *= 2
	}
	d = min(d, backoffMax)
	return d + jitter(d/10)
}

// randomJitter returns a uniformly random duration in [0, upTo].
func randomJitter(upTo time.Duration) time.Duration {
	if upTo <= 0 {
		return 0
	}
	return rand.N(upTo + 1)
}
