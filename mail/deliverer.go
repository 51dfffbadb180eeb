package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"
)

// Defaults for DelivererOptions fields left zero.
const (
	DefaultPoll        = 5 * time.Second
	DefaultMaxAttempts = 8
	DefaultBatch       = 10
	DefaultLease       = 5 * time.Minute
	DefaultSendTimeout = time.Minute
	DefaultRetention   = 30 * 24 * time.Hour
	DefaultSettle      = 200 * time.Millisecond
)

// maxSettle bounds how long a burst of changes can hold delivery back.
const maxSettle = 5 * time.Second

// retentionEvery is how often Run blanks the bodies of old finished messages.
const retentionEvery = time.Hour

// bookkeepingTimeout bounds MarkSent/MarkFailed, which run on a context that
// is detached from cancellation (see deliverOne).
const bookkeepingTimeout = 10 * time.Second

// maxReasonLen keeps last_error readable (SMTP replies can be long) and
// within the 1000 bytes the store keeps.
const maxReasonLen = 1000

// DelivererOptions configures a Deliverer. Outbox and Sender are required;
// zero values of the other fields select the defaults above.
type DelivererOptions struct {
	Outbox Outbox
	Sender Sender
	// Renderer makes the emails of typed rows; without one such a row fails
	// for good (ErrInvalidMessage). A failed rendering is retried or given up
	// on as a failed send would be.
	Renderer Renderer
	// Retention: the bodies (with their personal links) of messages sent or
	// given up on are blanked this long after; default 30 days, negative never.
	Retention time.Duration
	// Settle: after a Wake, delivery waits until no other Wake came for this
	// long (at most 5 s), so a burst of changes (a registration rush) is not
	// slowed by rendering and sending its own emails meanwhile; default 200ms,
	// negative for none.
	Settle time.Duration
	// Local: a development mailbox (LocalSender): sensitive bodies are kept
	// after "delivery", since the local mailbox page is where they are read.
	Local       bool
	Logger      *slog.Logger     // default slog.Default()
	Poll        time.Duration    // how often Run looks for due messages; default 5s
	MaxAttempts int              // attempts before giving up on temporary errors; default 8
	Now         func() time.Time // clock for retry times; default time.Now
	Batch       int              // messages claimed per pass; default 10
	Lease       time.Duration    // how long claimed messages stay reserved; default 5m
	// SendTimeout bounds one Send. Default 1m, at most Lease/2 so that a slow
	// server cannot keep a message past its lease.
	SendTimeout time.Duration
}

// Deliverer moves messages from the outbox to a Sender with retries and
// exponential backoff. Several Deliverers (in several processes) may share one
// outbox: the lease taken by Claim keeps them from sending the same message.
type Deliverer struct {
	outbox      Outbox
	sender      Sender
	renderer    Renderer
	retention   time.Duration
	local       bool
	settle      time.Duration
	lastTidy    time.Time
	log         *slog.Logger
	poll        time.Duration
	maxAttempts int
	now         func() time.Time
	batch       int
	lease       time.Duration
	sendTimeout time.Duration
	jitter      func(time.Duration) time.Duration // replaced in tests
	wake        chan struct{}
}

// NewDeliverer applies defaults to o. It panics if Outbox or Sender is nil,
// which is a wiring bug rather than a runtime condition.
func NewDeliverer(o DelivererOptions) *Deliverer {
	if o.Outbox == nil || o.Sender == nil {
		panic("mail.NewDeliverer: Outbox and Sender are required")
	}
	d := &Deliverer{
		outbox:      o.Outbox,
		sender:      o.Sender,
		renderer:    o.Renderer,
		retention:   o.Retention,
		local:       o.Local,
		settle:      o.Settle,
		log:         o.Logger,
		poll:        o.Poll,
		maxAttempts: o.MaxAttempts,
		now:         o.Now,
		batch:       o.Batch,
		lease:       o.Lease,
		sendTimeout: o.SendTimeout,
		jitter:      randomJitter,
		// One buffered slot: any number of Wake calls during a pass collapse
		// into exactly one extra pass.
		wake: make(chan struct{}, 1),
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	if d.poll <= 0 {
		d.poll = DefaultPoll
	}
	if d.maxAttempts <= 0 {
		d.maxAttempts = DefaultMaxAttempts
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.batch <= 0 {
		d.batch = DefaultBatch
	}
	if d.lease <= 0 {
		d.lease = DefaultLease
	}
	if d.settle == 0 {
		d.settle = DefaultSettle
	}
	if d.retention == 0 {
		d.retention = DefaultRetention
	}
	if d.sendTimeout <= 0 {
		d.sendTimeout = DefaultSendTimeout
	}
	d.sendTimeout = min(d.sendTimeout, d.lease/2)
	return d
}

// Wake asks Run for an immediate pass, e.g. right after this process enqueued
// a sign-in email. It never blocks and is a no-op if a pass is already pending.
func (d *Deliverer) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers due messages every Poll interval and whenever Wake is called,
// until ctx is done. It returns nil on cancellation; failures of individual
// passes are logged and retried at the next poll.
func (d *Deliverer) Run(ctx context.Context) error {
	d.log.InfoContext(ctx, "mail deliverer started", "poll", d.poll, "batch", d.batch, "max_attempts", d.maxAttempts)
	defer d.log.Info("mail deliverer stopped")

	timer := time.NewTimer(0) // first pass right away: mail may have queued up while down
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-d.wake:
			d.settleWakes(ctx)
		}
		d.drain(ctx)
		d.tidy(ctx)
		timer.Reset(d.poll)
	}
}

// drain runs passes until the outbox has no more due messages, so that a
// backlog is not worked off at only Batch messages per Poll.
func (d *Deliverer) drain(ctx context.Context) {
	for ctx.Err() == nil {
		_, _, claimed, err := d.deliverDue(ctx)
		if err != nil && ctx.Err() == nil {
			d.log.WarnContext(ctx, "mail delivery pass failed", "error", err)
			return
		}
		if claimed < d.batch {
			return
		}
	}
}

// settleWakes waits until Wake has not been called for d.settle, or maxSettle
// passed: the changes of a burst commit first, their emails follow.
func (d *Deliverer) settleWakes(ctx context.Context) {
	if d.settle <= 0 {
		return
	}
	limit := time.NewTimer(maxSettle)
	defer limit.Stop()
	quiet := time.NewTimer(d.settle)
	defer quiet.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-limit.C:
			return
		case <-quiet.C:
			return
		case <-d.wake:
			quiet.Reset(d.settle)
		}
	}
}

// tidy blanks the bodies of messages finished longer ago than the retention
// period, at most once an hour.
func (d *Deliverer) tidy(ctx context.Context) {
	if d.retention < 0 || ctx.Err() != nil {
		return
	}
	now := d.now()
	if !d.lastTidy.IsZero() && now.Sub(d.lastTidy) < retentionEvery {
		return
	}
	d.lastTidy = now
	if _, err := d.DropOldBodies(ctx); err != nil && ctx.Err() == nil {
		d.log.WarnContext(ctx, "blanking old email bodies failed", "error", err)
	}
}

// DropOldBodies blanks the bodies of messages sent or given up on longer ago
// than the retention period (Run does it hourly) and says how many.
func (d *Deliverer) DropOldBodies(ctx context.Context) (int, error) {
	if d.retention < 0 {
		return 0, nil
	}
	n, err := d.outbox.DropBodies(ctx, d.now().Add(-d.retention))
	if err != nil {
		return 0, fmt.Errorf("blanking old email bodies: %w", err)
	}
	if n > 0 {
		d.log.InfoContext(ctx, "blanked the bodies of old emails", "emails", n, "retention", d.retention)
	}
	return n, nil
}

// DeliverDue runs one pass: it claims up to Batch due messages and tries each
// once. sent and failed count this pass's outcomes; err reports storage
// problems (claiming or recording outcomes), not delivery failures.
func (d *Deliverer) DeliverDue(ctx context.Context) (sent, failed int, err error) {
	sent, failed, _, err = d.deliverDue(ctx)
	return sent, failed, err
}

func (d *Deliverer) deliverDue(ctx context.Context) (sent, failed, claimed int, err error) {
	msgs, err := d.outbox.Claim(ctx, d.batch, d.lease)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("claiming outbox messages: %w", err)
	}
	// Measured on the local monotonic clock, conservatively from after the
	// claim returned; Now is for retry timestamps and may be faked in tests.
	leaseEnd := time.Now().Add(d.lease)

	var errs []error
	for i, m := range msgs {
		if ctx.Err() != nil {
			// The rest stay leased and are retried once the lease expires.
			d.log.InfoContext(ctx, "mail deliverer stopping mid-batch", "left_leased", len(msgs)-i)
			break
		}
		if time.Until(leaseEnd) < d.sendTimeout {
			// Another worker may claim these once the lease ends; sending them
			// now could deliver the same email twice.
			d.log.WarnContext(ctx, "lease nearly expired; leaving messages for a later pass", "left_leased", len(msgs)-i)
			break
		}
		ok, err := d.deliverOne(ctx, m)
		if ok {
			sent++
		} else {
			failed++
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return sent, failed, len(msgs), errors.Join(errs...)
}

// deliverOne sends m and records the outcome. ok reports whether the email
// went out; err is only about recording the outcome.
func (d *Deliverer) deliverOne(ctx context.Context, m Message) (ok bool, err error) {
	// Never log m.Subject or the bodies: sign-in emails carry secret links.
	log := d.log.With("id", m.ID, "kind", m.Kind, "to", m.To, "attempts", m.Attempts)

	sendCtx, cancel := context.WithTimeout(ctx, d.sendTimeout)
	// A typed row is rendered now, from the data as it is now; a rendering
	// failure is retried or given up on like a failed send.
	sendErr := d.render(sendCtx, &m)
	if sendErr == nil {
		sendErr = d.sender.Send(sendCtx, m)
	}
	cancel()

	// Outcomes are recorded even when ctx was cancelled meanwhile: forgetting
	// a successful send would send the email again, forgetting a failure
	// would leave it leased with a used-up attempt and no reason.
	bctx, bcancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeepingTimeout)
	defer bcancel()

	if sendErr == nil {
		sent := m
		if d.local {
			sent.Sensitive = false // the local mailbox is where it is read
		}
		if err := d.outbox.MarkSent(bctx, sent); err != nil {
			log.ErrorContext(ctx, "email sent but not marked as sent; it may be sent again", "error", err)
			return true, fmt.Errorf("marking email %d sent: %w", m.ID, err)
		}
		log.InfoContext(ctx, "email sent")
		return true, nil
	}

	reason := truncate(sendErr.Error(), maxReasonLen)
	if errors.Is(sendErr, ErrSuperseded) {
		if err := d.outbox.MarkSuperseded(bctx, m.ID, reason); err != nil {
			log.ErrorContext(ctx, "recording a superseded notice", "error", err)
			return false, fmt.Errorf("marking email %d superseded: %w", m.ID, err)
		}
		log.InfoContext(ctx, "notice superseded by a later change; not sent", "reason", reason)
		return true, nil
	}
	now := d.now()
	var retryAt time.Time
	var final bool
	switch {
	case ctx.Err() != nil:
		// Interrupted by shutdown, not the server's fault: retry as soon as a
		// deliverer runs again and do not give up because of it.
		retryAt = now
		log.InfoContext(ctx, "email delivery interrupted by shutdown; will retry", "error", sendErr)
	case IsPermanent(sendErr):
		final, retryAt = true, now
		log.ErrorContext(ctx, "email delivery failed permanently; giving up", "error", sendErr)
	case m.Attempts >= d.maxAttempts:
		final, retryAt = true, now
		log.ErrorContext(ctx, "email delivery failed too often; giving up", "error", sendErr, "max_attempts", d.maxAttempts)
	default:
		retryAt = now.Add(backoff(m.Attempts, d.jitter))
		log.WarnContext(ctx, "email delivery failed; will retry", "error", sendErr, "retry_at", retryAt)
	}
	if err := d.outbox.MarkFailed(bctx, m.ID, reason, retryAt, final); err != nil {
		log.ErrorContext(ctx, "recording email delivery failure", "error", err)
		return false, fmt.Errorf("marking email %d failed: %w", m.ID, err)
	}
	return false, nil
}

// render fills in a typed row's email. Errors name the row's kind only: the
// data it renders holds personal links.
func (d *Deliverer) render(ctx context.Context, m *Message) error {
	if m.Notice == nil {
		return nil
	}
	if d.renderer == nil {
		return fmt.Errorf("%w: a %s notice and no renderer", ErrInvalidMessage, m.Notice.Kind)
	}
	r, err := d.renderer.Render(ctx, *m)
	if err != nil {
		return fmt.Errorf("rendering a %s notice: %w", m.Notice.Kind, err)
	}
	*m = r
	return nil
}

// truncate shortens s to at most n bytes, ellipsis included, without
// splitting a UTF-8 sequence (PostgreSQL rejects invalid UTF-8 in text).
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	n -= len(ellipsis)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:max(n, 0)] + ellipsis
}
