package mail

import (
	"context"
	"slices"
	"sync"
	"time"
)

// fakeOutbox is an in-memory Outbox following the contract of the PostgreSQL
// one closely enough to exercise the deliverer's retry logic.
type fakeOutbox struct {
	mu     sync.Mutex
	now    func() time.Time
	rows   map[int64]*fakeRow
	nextID int64
	claims int
	// dropped records the cutoff of every DropBodies call.
	dropped []time.Time
	// claimed is signalled (without blocking) after every Claim.
	claimed chan struct{}
}

type fakeRow struct {
	msg         Message
	status      string // pending, sent, failed
	nextAttempt time.Time
	leasedUntil time.Time
	reason      string
	retryAt     time.Time
	final       bool
	markCalls   int
	sent        Message // what MarkSent recorded
}

func newFakeOutbox(now func() time.Time) *fakeOutbox {
	return &fakeOutbox{now: now, rows: map[int64]*fakeRow{}, claimed: make(chan struct{}, 1)}
}

// add enqueues m (its ID is assigned) as due now and returns the ID.
func (o *fakeOutbox) add(m Message) int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.nextID++
	m.ID = o.nextID
	o.rows[m.ID] = &fakeRow{msg: m, status: "pending", nextAttempt: o.now()}
	return m.ID
}

func (o *fakeOutbox) row(id int64) fakeRow {
	o.mu.Lock()
	defer o.mu.Unlock()
	return *o.rows[id]
}

func (o *fakeOutbox) claimCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.claims
}

func (o *fakeOutbox) Claim(_ context.Context, limit int, lease time.Duration) ([]Message, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	defer func() {
		select {
		case o.claimed <- struct{}{}:
		default:
		}
	}()
	o.claims++
	now := o.now()
	ids := make([]int64, 0, len(o.rows))
	for id := range o.rows {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var out []Message
	for _, id := range ids {
		r := o.rows[id]
		if len(out) == limit {
			break
		}
		if r.status != "pending" || r.nextAttempt.After(now) || r.leasedUntil.After(now) {
			continue
		}
		r.msg.Attempts++
		r.leasedUntil = now.Add(lease)
		out = append(out, r.msg)
	}
	return out, nil
}

func (o *fakeOutbox) DropBodies(_ context.Context, before time.Time) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.dropped = append(o.dropped, before)
	return 0, nil
}

func (o *fakeOutbox) MarkSent(_ context.Context, m Message) error {
	id := m.ID
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.rows[id]
	r.status = "sent"
	r.sent = m
	r.markCalls++
	return nil
}

func (o *fakeOutbox) MarkFailed(_ context.Context, id int64, reason string, retryAt time.Time, final bool) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.rows[id]
	r.markCalls++
	r.reason, r.retryAt, r.final = reason, retryAt, final
	r.leasedUntil = time.Time{}
	if final {
		r.status = "failed"
	} else {
		r.nextAttempt = retryAt
	}
	return nil
}

func (o *fakeOutbox) MarkSuperseded(_ context.Context, id int64, reason string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.rows[id]
	r.markCalls++
	r.reason, r.status, r.leasedUntil = reason, "discarded", time.Time{}
	return nil
}

// fakeClock is a settable clock for retry times.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// rendererFunc adapts a function to Renderer.
type rendererFunc func(ctx context.Context, m Message) (Message, error)

func (f rendererFunc) Render(ctx context.Context, m Message) (Message, error) { return f(ctx, m) }

// senderFunc adapts a function to Sender.
type senderFunc func(ctx context.Context, m Message) error

func (f senderFunc) Send(ctx context.Context, m Message) error { return f(ctx, m) }
