package server_test

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/puente-org/puente/mail"
	"github.com/puente-org/puente/mail/smtptest"
	"github.com/puente-org/puente/notices"
	"github.com/puente-org/puente/server"
	"github.com/puente-org/puente/store"
	"github.com/puente-org/puente/store/pgtest"
)

// newRenderer is the notices renderer serve wires: the store as its source, the server's
// base URL and link key (made here when the test gives none).
func newRenderer(t testing.TB, opts *server.Options) *notices.Renderer {
	t.Helper()
	if opts.LinkKey == nil {
		opts.LinkKey = make([]byte, 32)
		_, _ = rand.Read(opts.LinkKey)
	}
	src, _ := opts.Store.(notices.Source)
	r, err := notices.New(notices.Options{Source: src, BaseURL: opts.BaseURL,
		LinkKey: opts.LinkKey, Now: opts.Now})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// localDelivery does what serve's local delivery does with no SMTP server (render each
// email into the local mailbox), but at once when the server says it queued mail, so a
// test reads rendered emails as soon as a request returns.
func localDelivery(t testing.TB, opts *server.Options) {
	outbox, ok := opts.Store.(mail.Outbox)
	if !ok {
		return // a test's own store, with no outbox
	}
	d := mail.NewDeliverer(mail.DelivererOptions{Outbox: outbox, Renderer: newRenderer(t, opts),
		Sender: mail.LocalSender{Log: slog.New(slog.DiscardHandler)}, Local: true, Now: opts.Now,
		Logger: slog.New(slog.DiscardHandler)})
	woken := opts.MailQueued
	opts.MailQueued = func() {
		if woken != nil {
			woken()
		}
		for {
			sent, failed, err := d.DeliverDue(context.Background())
			if err != nil {
				t.Errorf("local delivery: %v", err)
				return
			}
			if sent+failed < mail.DefaultBatch {
				return
			}
		}
	}
}

// newSMTPProgEnv is a progEnv (no people yet) whose server delivers over real SMTP to the
// returned test server, with the clock fixed at 2026-01-01 09:00 UTC.
func newSMTPProgEnv(t *testing.T) (*progEnv, *smtptest.Server) {
	t.Helper()
	now := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := store.New(pgtest.New(t), clock)
	smtp := smtptest.NewServer(t)
	e := &env{t: t, store: st}
	e.ts = newSMTPServer(t, server.Options{Store: st, Registry: prometheus.NewRegistry(), Now: clock}, smtp.URL())
	return &progEnv{env: e, now: now, tokens: map[string]string{}, ids: map[string]int64{}}, smtp
}

// newSMTPServer starts the application with a real SMTP deliverer (rendering at delivery)
// that sends to smtpURL.
func newSMTPServer(t testing.TB, opts server.Options, smtpURL string) *httptest.Server {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	ts.Start()
	t.Cleanup(ts.Close)
	opts.BaseURL, _ = url.Parse(ts.URL)
	sender, err := mail.NewSMTPSender(smtpURL, "Puente <seminarios@example.org>")
	if err != nil {
		t.Fatal(err)
	}
	d := mail.NewDeliverer(mail.DelivererOptions{Outbox: opts.Store.(mail.Outbox), Sender: sender,
		Renderer: newRenderer(t, &opts), Poll: time.Hour, Now: opts.Now, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	opts.MailQueued = d.Wake
	app, err := server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = app.Handler()
	return ts
}
