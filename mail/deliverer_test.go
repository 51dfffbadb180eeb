package mail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/mail/smtptest"
)

var discardLogger = slog.New(slog.DiscardHandler)

type delivererFixture struct {
	srv    *smtptest.Server
	outbox *fakeOutbox
	clock  *fakeClock
	d      *Deliverer
}

// newDelivererFixture wires a Deliverer to a real SMTPSender talking to a
// smtptest server, with a fake outbox and clock. Jitter is off so retry times
// are exact.
func newDelivererFixture(t *testing.T, o DelivererOptions) *delivererFixture {
	t.Helper()
	f := &delivererFixture{srv: smtptest.NewServer(t), clock: &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}}
	f.outbox = newFakeOutbox(f.clock.Now)
	o.Outbox = f.outbox
	if o.Sender == nil {
		o.Sender = newTestSender(t, f.srv.URL())
	}
	if o.Logger == nil {
		o.Logger = discardLogger
	}
	o.Now = f.clock.Now
	f.d = NewDeliverer(o)
	f.d.jitter = func(time.Duration) time.Duration { return 0 }
	return f
}

func testMessage(to string) Message {
	return Message{Kind: "sign_in", To: to, Subject: "Tu enlace de acceso", Text: "https://puente.example.org/acceso?token=SECRETTOKEN"}
}

func (f *delivererFixture) deliverDue(t *testing.T, wantSent, wantFailed int) {
	t.Helper()
	sent, failed, err := f.d.DeliverDue(testCtx(t))
	if err != nil {
		t.Fatalf("DeliverDue: %v", err)
	}
	if sent != wantSent || failed != wantFailed {
		t.Fatalf("DeliverDue = %d sent, %d failed; want %d, %d", sent, failed, wantSent, wantFailed)
	}
}

func TestDelivererSendsAndMarksSent(t *testing.T) {
	f := newDelivererFixture(t, DelivererOptions{})
	id := f.outbox.add(testMessage("ana@example.com"))

	f.deliverDue(t, 1, 0)
	if r := f.outbox.row(id); r.status != "sent" || r.msg.Attempts != 1 {
		t.Errorf("row = %+v, want sent after 1 attempt", r)
	}
	got := onlyMessage(t, f.srv)
	if got.To[0] != "ana@example.com" || !strings.Contains(got.Text, "SECRETTOKEN") {
		t.Errorf("received %q: %q", got.To, got.Text)
	}
	f.deliverDue(t, 0, 0) // nothing due any more
}

func TestDelivererTemporaryFailureRetriesWithBackoff(t *testing.T) {
	f := newDelivererFixture(t, DelivererOptions{})
	id := f.outbox.add(testMessage("ana@example.com"))
	start := f.clock.Now()

	f.srv.FailTemporarily(2)
	f.deliverDue(t, 0, 1)
	r := f.outbox.row(id)
	if r.final || r.status != "pending" || !strings.Contains(r.reason, "451") {
		t.Fatalf("after first 451: %+v", r)
	}
	if want := start.Add(30 * time.Second); !r.retryAt.Equal(want) {
		t.Errorf("retryAt = %v, want %v", r.retryAt, want)
	}

	f.deliverDue(t, 0, 0) // not due yet
	f.clock.Advance(30 * time.Second)
	f.deliverDue(t, 0, 1)
	r = f.outbox.row(id)
	if want := f.clock.Now().Add(time.Minute); r.final || !r.retryAt.Equal(want) {
		t.Errorf("after second 451: final = %v, retryAt = %v, want %v", r.final, r.retryAt, want)
	}

	f.clock.Advance(time.Minute)
	f.deliverDue(t, 1, 0)
	if r := f.outbox.row(id); r.status != "sent" || r.msg.Attempts != 3 {
		t.Errorf("row = %+v, want sent after 3 attempts", r)
	}
}

func TestDelivererPermanentFailureIsFinal(t *testing.T) {
	f := newDelivererFixture(t, DelivererOptions{})
	id := f.outbox.add(testMessage("nobody@example.com"))
	f.srv.FailPermanently(1)

	f.deliverDue(t, 0, 1)
	r := f.outbox.row(id)
	if !r.final || r.status != "failed" || !strings.Contains(r.reason, "550") || r.msg.Attempts != 1 {
		t.Errorf("row = %+v, want final failure after 1 attempt with the 550 reply", r)
	}
	f.clock.Advance(24 * time.Hour)
	f.deliverDue(t, 0, 0)
}

func TestDelivererGivesUpAfterMaxAttempts(t *testing.T) {
	f := newDelivererFixture(t, DelivererOptions{MaxAttempts: 3})
	id := f.outbox.add(testMessage("ana@example.com"))
	f.srv.FailTemporarily(10)

	for attempt := 1; attempt <= 3; attempt++ {
		f.deliverDue(t, 0, 1)
		r := f.outbox.row(id)
		if r.msg.Attempts != attempt || r.final != (attempt == 3) {
			t.Fatalf("attempt %d: attempts = %d, final = %v", attempt, r.msg.Attempts, r.final)
		}
		f.clock.Advance(time.Hour)
	}
	if r := f.outbox.row(id); r.status != "failed" {
		t.Errorf("status = %q, want failed", r.status)
	}
	f.deliverDue(t, 0, 0)
}

func TestBackoff(t *testing.T) {
	noJitter := func(time.Duration) time.Duration { return 0 }
	for _, tc := range []struct {
		attempts int
		want     time.Duration
	}{
		{0, 30 * time.Second},
		{1, 30 * time.Second},
		{2, time.Minute},
		{3, 2 * time.Minute},
		{7, 32 * time.Minute},
		{8, time.Hour},
		{1000, time.Hour},
	} {
		if got := backoff(tc.attempts, noJitter); got != tc.want {
			t.Errorf("backoff(%d) = %v, want %v", tc.attempts, got, tc.want)
		}
		for range 20 {
			got := backoff(tc.attempts, randomJitter)
			if got < tc.want || got > tc.want+tc.want/10 {
				t.Errorf("backoff(%d) with jitter = %v, want within 10%% above %v", tc.attempts, got, tc.want)
			}
		}
	}
}

// Sign-in emails carry secret links: neither subject nor body may be logged.
func TestDelivererLogsNoSecrets(t *testing.T) {
	var buf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := newDelivererFixture(t, DelivererOptions{Logger: logger, MaxAttempts: 2})
	m := testMessage("ana@example.com")
	m.Subject = "SECRETSUBJECT"
	m.HTML = "<a href=x>SECRETHTML</a>"
	f.outbox.add(m)
	f.outbox.add(m)
	f.outbox.add(m)
	f.srv.FailTemporarily(1)
	f.srv.FailPermanently(1)
	f.deliverDue(t, 1, 2)

	out := buf.String()
	for _, secret := range []string{"SECRETTOKEN", "SECRETSUBJECT", "SECRETHTML"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %s:\n%s", secret, out)
		}
	}
	for _, want := range []string{`"id":1`, `"kind":"sign_in"`, `"attempts":1`, `"to":"ana@example.com"`, "email sent", "will retry", "permanently"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
}

// A send that succeeds while the deliverer is being shut down must still be
// recorded; otherwise the email would be sent again.
func TestDelivererRecordsOutcomeDespiteCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	f := newDelivererFixture(t, DelivererOptions{Sender: senderFunc(func(context.Context, Message) error {
		cancel()
		return nil
	})})
	id := f.outbox.add(testMessage("ana@example.com"))
	second := f.outbox.add(testMessage("bea@example.com"))

	sent, failed, err := f.d.DeliverDue(ctx)
	if err != nil || sent != 1 || failed != 0 {
		t.Fatalf("DeliverDue = %d, %d, %v; want 1 sent", sent, failed, err)
	}
	if r := f.outbox.row(id); r.status != "sent" {
		t.Errorf("status = %q, want sent", r.status)
	}
	// The rest of the batch is left alone (it stays leased).
	if r := f.outbox.row(second); r.status != "pending" || r.markCalls != 0 {
		t.Errorf("second message = %+v, want untouched", r)
	}
}

// A send cut short by shutdown is not the server's fault: retry right away,
// and never give up because of it.
func TestDelivererInterruptedSendIsRetried(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	f := newDelivererFixture(t, DelivererOptions{MaxAttempts: 1, Sender: senderFunc(func(sctx context.Context, _ Message) error {
		cancel()
		<-sctx.Done()
		return sctx.Err()
	})})
	id := f.outbox.add(testMessage("ana@example.com"))

	if _, failed, err := f.d.DeliverDue(ctx); err != nil || failed != 1 {
		t.Fatalf("DeliverDue: failed = %d, err = %v", failed, err)
	}
	r := f.outbox.row(id)
	if r.final || r.status != "pending" || !r.retryAt.Equal(f.clock.Now()) {
		t.Errorf("row = %+v, want pending, retry now", r)
	}
}

func TestDelivererClaimErrorIsReturned(t *testing.T) {
	d := NewDeliverer(DelivererOptions{Outbox: failingOutbox{}, Sender: senderFunc(nil), Logger: discardLogger})
	if _, _, err := d.DeliverDue(t.Context()); !errors.Is(err, errDBDown) {
		t.Errorf("DeliverDue err = %v, want errDBDown", err)
	}
}

var errDBDown = errors.New("db down")

type failingOutbox struct{ Outbox }

func (failingOutbox) Claim(context.Context, int, time.Duration) ([]Message, error) {
	return nil, errDBDown
}

// runDeliverer starts Run and returns a function that cancels it and checks
// that it returns nil promptly.
func runDeliverer(t *testing.T, d *Deliverer) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	return func() {
		t.Helper()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after cancellation")
		}
	}
}

// awaitPass waits for Run's next claim (its initial pass, once started).
func (f *delivererFixture) awaitPass(t *testing.T) {
	t.Helper()
	select {
	case <-f.outbox.claimed:
	case <-time.After(10 * time.Second):
		t.Fatal("initial pass did not happen")
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	f := newDelivererFixture(t, DelivererOptions{Poll: time.Millisecond})
	stop := runDeliverer(t, f.d)
	<-f.outbox.claimed // it is polling
	stop()
	// goleak in TestMain checks that nothing of Run is left behind.
}

func TestRunDeliversOnWake(t *testing.T) {
	f := newDelivererFixture(t, DelivererOptions{Poll: time.Hour})
	stop := runDeliverer(t, f.d)
	defer stop()

	// Wait for the initial pass to have claimed (nothing), so that only Wake
	// can cause the next pass: the poll interval is an hour.
	f.awaitPass(t)
	f.outbox.add(testMessage("ana@example.com"))
	f.d.Wake()

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := f.srv.WaitForMessage(ctx, func(r smtptest.Received) bool { return r.To[0] == "ana@example.com" }); err != nil {
		t.Fatalf("message not delivered after Wake: %v", err)
	}
}

func TestRunDrainsBacklogBeyondOneBatch(t *testing.T) {
	f := newDelivererFixture(t, DelivererOptions{Poll: time.Hour, Batch: 2})
	for range 5 {
		f.outbox.add(testMessage("ana@example.com"))
	}
	stop := runDeliverer(t, f.d)
	defer stop()

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := f.srv.WaitForMessages(ctx, 5); err != nil {
		t.Fatalf("backlog not drained: %v", err)
	}
}

func TestWakeNeverBlocks(t *testing.T) {
	f := newDelivererFixture(t, DelivererOptions{})
	for range 100 {
		f.d.Wake() // Run is not running; must not block
	}
}

func TestNewDelivererDefaults(t *testing.T) {
	d := NewDeliverer(DelivererOptions{Outbox: failingOutbox{}, Sender: senderFunc(nil)})
	if d.poll != DefaultPoll || d.maxAttempts != DefaultMaxAttempts || d.batch != DefaultBatch ||
		d.lease != DefaultLease || d.sendTimeout != DefaultSendTimeout || d.log == nil || d.now == nil {
		t.Errorf("defaults not applied: %+v", d)
	}
	d = NewDeliverer(DelivererOptions{Outbox: failingOutbox{}, Sender: senderFunc(nil), Lease: time.Minute})
	if d.sendTimeout != 30*time.Second {
		t.Errorf("sendTimeout = %v, want capped at half the lease", d.sendTimeout)
	}
}

// syncBuffer is a bytes.Buffer safe for the deliverer's logging goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var _ io.Writer = (*syncBuffer)(nil)

func TestTruncate(t *testing.T) {
	long := strings.Repeat("ñ", 600) // 1200 bytes
	got := truncate(long, maxReasonLen)
	if len(got) > maxReasonLen || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
		t.Errorf("truncate: %d bytes, valid UTF-8 = %v", len(got), utf8.ValidString(got))
	}
	if got := truncate("short", maxReasonLen); got != "short" {
		t.Errorf("truncate(short) = %q", got)
	}
}

// A typed row is rendered at delivery: what is sent, and what the outbox records as sent,
// is the rendered email. A rendering failure is retried like a failed send; one that can
// never succeed is given up on.
func TestDelivererRendersNotices(t *testing.T) {
	attempts := 0
	render := rendererFunc(func(_ context.Context, m Message) (Message, error) {
		attempts++
		switch m.Notice.PersonID {
		case 2:
			if attempts < 3 {
				return m, errors.New("database briefly away")
			}
		case 3:
			return m, fmt.Errorf("%w: the registration is gone", ErrInvalidMessage)
		}
		m.To, m.Subject, m.Text = "ana@example.org", "Registered: Lithium Seminar", "You are registered."
		return m, nil
	})
	f := newDelivererFixture(t, DelivererOptions{Renderer: render})
	ok := f.outbox.add(Message{Kind: "confirmed", Notice: &domain.Notice{Kind: domain.NoticeConfirmed, PersonID: 1}})
	f.deliverDue(t, 1, 0)
	got := f.srv.Messages()
	if len(got) != 1 || got[0].Subject != "Registered: Lithium Seminar" || !strings.Contains(got[0].Text, "You are registered.") {
		t.Fatalf("sent: %+v", got)
	}
	if r := f.outbox.row(ok); r.status != "sent" || r.sent.Text != "You are registered." || r.sent.To != "ana@example.org" {
		t.Fatalf("recorded: %+v", r)
	}

	attempts = 0
	retried := f.outbox.add(Message{Kind: "moved", Notice: &domain.Notice{Kind: domain.NoticeMoved, PersonID: 2}})
	f.deliverDue(t, 0, 1)
	if r := f.outbox.row(retried); r.final || r.status != "pending" || !strings.Contains(r.reason, "rendering a moved notice") {
		t.Fatalf("after a failed rendering: %+v", r)
	}
	f.clock.Advance(time.Hour)
	f.deliverDue(t, 0, 1)
	f.clock.Advance(time.Hour)
	f.deliverDue(t, 1, 0)

	gone := f.outbox.add(Message{Kind: "reminder", Notice: &domain.Notice{Kind: domain.NoticeReminder, PersonID: 3}})
	f.deliverDue(t, 0, 1)
	if r := f.outbox.row(gone); !r.final || r.status != "failed" {
		t.Fatalf("a notice that can never be rendered: %+v", r)
	}
	if n := len(f.srv.Messages()); n != 2 {
		t.Fatalf("emails sent: %d", n)
	}
}

// A notice that is out of date by its delivery (ErrSuperseded from the renderer) is set
// aside: not sent, not retried, not a failure.
func TestDelivererSetsAsideSupersededNotices(t *testing.T) {
	render := rendererFunc(func(_ context.Context, m Message) (Message, error) {
		return m, fmt.Errorf("%w: a waitlisted notice for a place now confirmed", ErrSuperseded)
	})
	f := newDelivererFixture(t, DelivererOptions{Renderer: render})
	id := f.outbox.add(Message{Kind: "waitlisted", Notice: &domain.Notice{Kind: domain.NoticeWaitlisted, PersonID: 1}})
	f.deliverDue(t, 1, 0)
	if r := f.outbox.row(id); r.status != "discarded" || r.final || r.markCalls != 1 || !strings.Contains(r.reason, "now confirmed") {
		t.Fatalf("a superseded notice: %+v", r)
	}
	if n := len(f.srv.Messages()); n != 0 {
		t.Fatalf("emails sent: %d", n)
	}
	f.clock.Advance(time.Hour)
	f.deliverDue(t, 0, 0) // nothing left to retry
}

// A burst of wakes (a registration rush) holds delivery back until it has settled. (Wakes
// come every 20 ms, the settling time is a second: generous for a loaded machine.)
func TestRunSettlesBurstsOfWakes(t *testing.T) {
	f := newDelivererFixture(t, DelivererOptions{Poll: time.Hour, Settle: time.Second})
	stop := runDeliverer(t, f.d)
	defer stop()
	f.awaitPass(t)
	f.outbox.add(testMessage("ana@example.com"))
	start := time.Now()
	burst := time.After(2 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
wakes:
	for {
		select {
		case <-tick.C:
			f.d.Wake()
			if f.outbox.claimCount() > 1 {
				t.Fatalf("delivered during the burst, after %v", time.Since(start))
			}
		case <-burst:
			break wakes
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := f.srv.WaitForMessage(ctx, func(r smtptest.Received) bool { return r.To[0] == "ana@example.com" }); err != nil {
		t.Fatalf("not delivered after the burst: %v", err)
	}
	if d := time.Since(start); d < 2*time.Second {
		t.Fatalf("delivered %v after the burst began, before it ended", d)
	}
}

// A sensitive body (a sign-in link) is recorded as sensitive, so the outbox blanks it once
// sent; with the local mailbox (Local), where it is read, it is kept.
func TestDelivererLocalKeepsSensitiveBodies(t *testing.T) {
	for _, local := range []bool{false, true} {
		f := newDelivererFixture(t, DelivererOptions{Local: local})
		m := testMessage("ana@example.com")
		m.Sensitive = true
		id := f.outbox.add(m)
		f.deliverDue(t, 1, 0)
		if r := f.outbox.row(id); r.status != "sent" || r.sent.Sensitive == local {
			t.Errorf("Local=%v: recorded %+v", local, r)
		}
	}
}

// Old bodies are blanked with the retention period's cutoff, and never with a negative one.
func TestDropOldBodiesUsesTheRetention(t *testing.T) {
	f := newDelivererFixture(t, DelivererOptions{Retention: 48 * time.Hour})
	if _, err := f.d.DropOldBodies(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if want := f.clock.Now().Add(-48 * time.Hour); len(f.outbox.dropped) != 1 || !f.outbox.dropped[0].Equal(want) {
		t.Fatalf("cutoffs %v, want [%v]", f.outbox.dropped, want)
	}
	never := newDelivererFixture(t, DelivererOptions{Retention: -1})
	if _, err := never.d.DropOldBodies(testCtx(t)); err != nil || len(never.outbox.dropped) != 0 {
		t.Fatalf("a negative retention blanked bodies: %v %v", err, never.outbox.dropped)
	}
}
