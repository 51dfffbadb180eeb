package app_test

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/puente-org/puente/app"
	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/mail"
	"github.com/puente-org/puente/mail/smtptest"
	"github.com/puente-org/puente/notices"
	"github.com/puente-org/puente/store"
)

// outboxAnnouncements counts the announcement rows in the outbox, by person.
func (f *fixture) outboxAnnouncements() map[int64]int {
	f.t.Helper()
	rows, err := f.st.Pool().Query(context.Background(), `SELECT person_id FROM outbox WHERE notice_kind = 'announcement'`)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]int{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			f.t.Fatal(err)
		}
		out[id]++
	}
	return out
}

// A scheduled announcement goes when its time comes on the clock, not before, once; a
// cancelled one never goes; an edited one goes as edited; neither can change once sent.
func TestScheduledAnnouncementGoesOnTimeAndCancelledNever(t *testing.T) {
	f := newFixture(t, 0)
	ctx := context.Background()
	if err := f.a.Follow(ctx, f.as("Alice"), f.event.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.Register(ctx, f.as("Bob"), f.occID, app.RegistrationForm{}); err != nil {
		t.Fatal(err)
	}
	start := f.clk.Now()
	at := start.Add(2 * time.Hour)
	later := start.Add(3 * time.Hour)
	post := func(subject string, when time.Time) domain.Announcement {
		t.Helper()
		a, err := f.a.PostAnnouncement(ctx, f.as("Olga"), f.event.ID, app.AnnouncementInput{Subject: ptr(subject),
			Body: ptr("Room **B12**."), Audience: ptr("both"), SendAt: &when})
		if err != nil {
			t.Fatal(err)
		}
		if a.Status != domain.AnnouncementScheduled {
			t.Fatalf("%s: status %s, want scheduled", subject, a.Status)
		}
		return a
	}
	due := post("Room change", at)
	cancelled := post("Never mind", at)
	edited := post("Draft subject", at)
	if _, err := f.a.CancelAnnouncement(ctx, f.as("Olga"), cancelled.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.EditAnnouncement(ctx, f.as("Olga"), edited.ID, app.AnnouncementInput{Subject: ptr("Final subject"), SendAt: &later}); err != nil {
		t.Fatal(err)
	}
	// Someone else may neither cancel nor change it.
	if _, err := f.a.CancelAnnouncement(ctx, f.as("Oscar"), edited.ID); domain.ErrorCode(err) != domain.CodeForbidden {
		t.Fatalf("another organiser cancelled: %v", err)
	}

	// Not before its time: a minute early, nothing goes.
	f.clk.Set(at.Add(-time.Minute))
	if n, err := f.a.SendDueAnnouncements(ctx); err != nil || n != 0 {
		t.Fatalf("a minute early: %d sent (%v)", n, err)
	}
	if got := f.outboxAnnouncements(); len(got) != 0 {
		t.Fatalf("outbox before the time: %v", got)
	}
	// At its time: the due one, to the follower and the registrant, once each.
	f.clk.Set(at)
	if n, err := f.a.SendDueAnnouncements(ctx); err != nil || n != 1 {
		t.Fatalf("at the time: %d sent (%v), want 1", n, err)
	}
	got := f.outboxAnnouncements()
	if len(got) != 2 || got[f.people["Alice"].ID] != 1 || got[f.people["Bob"].ID] != 1 {
		t.Fatalf("recipients: %v", got)
	}
	if n, _ := f.a.SendDueAnnouncements(ctx); n != 0 {
		t.Fatalf("sent again: %d", n)
	}
	a, err := f.st.AnnouncementByID(ctx, due.ID)
	if err != nil || a.Status != domain.AnnouncementSent || a.Recipients != 2 || a.SentAt == nil || !a.SentAt.Equal(at) {
		t.Fatalf("after sending: %+v %v", a, err)
	}
	// A sent one can no longer change or be cancelled.
	if _, err := f.a.EditAnnouncement(ctx, f.as("Olga"), due.ID, app.AnnouncementInput{Subject: ptr("x")}); domain.ErrorCode(err) != domain.CodeConflict {
		t.Fatalf("editing a sent one: %v", err)
	}
	if _, err := f.a.CancelAnnouncement(ctx, f.as("Olga"), due.ID); domain.ErrorCode(err) != domain.CodeConflict {
		t.Fatalf("cancelling a sent one: %v", err)
	}
	// The edited one goes at its new time, as edited; the cancelled one never.
	f.clk.Set(later.Add(time.Hour * 24 * 30))
	if n, err := f.a.SendDueAnnouncements(ctx); err != nil || n != 1 {
		t.Fatalf("later: %d sent (%v), want 1 (the edited one)", n, err)
	}
	var subjects []string
	rows, err := f.st.Pool().Query(ctx, `SELECT DISTINCT payload->>'subject' FROM outbox WHERE notice_kind = 'announcement' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		subjects = append(subjects, s)
	}
	rows.Close()
	if len(subjects) != 2 || subjects[0] != "Final subject" || subjects[1] != "Room change" {
		t.Fatalf("subjects sent: %q", subjects)
	}
	c, _ := f.st.AnnouncementByID(ctx, cancelled.ID)
	if c.Status != domain.AnnouncementCancelled || c.SentAt != nil {
		t.Fatalf("cancelled one: %+v", c)
	}
	// Scheduling in the past is refused, naming the field.
	past := f.clk.Now().Add(-time.Second)
	_, err = f.a.PostAnnouncement(ctx, f.as("Olga"), f.event.ID, app.AnnouncementInput{Subject: ptr("s"), Body: ptr("b"),
		Audience: ptr("followers"), SendAt: &past})
	if de, ok := domain.AsError(err); !ok || de.Field != "send_at" {
		t.Fatalf("past send_at: %v", err)
	}
}

// lostMark is the outbox with its first MarkSent lost, as when the process dies between
// the SMTP server accepting a message and the outbox recording it.
type lostMark struct {
	*store.Store
	lost atomic.Bool
}

func (o *lostMark) MarkSent(ctx context.Context, m mail.Message) error {
	if o.lost.CompareAndSwap(false, true) {
		return errors.New("the process died before marking it sent")
	}
	return o.Store.MarkSent(ctx, m)
}

// The window the outbox cannot close: a message the SMTP server accepted but the outbox
// did not mark sent is sent again once its lease ends, and carries the same Message-ID,
// so it is recognisably the same message.
func TestResendAfterLostMarkKeepsMessageID(t *testing.T) {
	f := newFixture(t, 0)
	ctx := context.Background()
	if err := f.a.TestAnnouncement(ctx, f.as("Olga"), f.event.ID, app.AnnouncementInput{Subject: ptr("Hello"), Body: ptr("Hi."),
		Audience: ptr("both")}); err != nil {
		t.Fatal(err)
	}
	srv := smtptest.NewServer(t)
	sender, err := mail.NewSMTPSender(srv.URL(), "Puente <seminarios@example.org>")
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse("http://127.0.0.1:8080")
	renderer, err := notices.New(notices.Options{Source: f.st, BaseURL: base, LinkKey: f.key, Now: f.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	d := mail.NewDeliverer(mail.DelivererOptions{Outbox: &lostMark{Store: f.st}, Sender: sender, Renderer: renderer,
		Lease: time.Minute, Now: f.clk.Now, Logger: slog.New(slog.DiscardHandler)})
	if _, _, err := d.DeliverDue(ctx); err == nil {
		t.Fatal("the lost mark was not reported")
	}
	if _, _, err := d.DeliverDue(ctx); err != nil { // still leased: nothing to do
		t.Fatal(err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("%d messages while leased, want 1", n)
	}
	f.clk.Set(f.clk.Now().Add(time.Minute + time.Second))
	if sent, _, err := d.DeliverDue(ctx); err != nil || sent != 1 {
		t.Fatalf("after the lease: %d sent (%v)", sent, err)
	}
	msgs := srv.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want the original and its resend", len(msgs))
	}
	first, again := msgs[0].Header.Get("Message-Id"), msgs[1].Header.Get("Message-Id")
	if first == "" || first != again || msgs[0].Subject != "[Test] Hello" {
		t.Fatalf("Message-IDs %q and %q (subject %q)", first, again, msgs[0].Subject)
	}
}
