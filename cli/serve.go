package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/puente-org/puente/recording/capture"
	"github.com/puente-org/puente/recording/roomrec"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/puente-org/puente/app"
	"github.com/puente-org/puente/live"
	"github.com/puente-org/puente/mail"
	"github.com/puente-org/puente/notices"
	"github.com/puente-org/puente/relay"
	"github.com/puente-org/puente/server"
	"github.com/puente-org/puente/sfu"
	"github.com/puente-org/puente/signaling"
	"github.com/puente-org/puente/store"
	"github.com/puente-org/puente/store/livestore"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, _, err := parseConfig("serve", args, true, nil, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)

	// Take the port first: if it is in use, say so before starting anything else.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("cannot listen on %s: the address is already in use; stop the other program or choose another with PUENTE_ADDR (e.g. PUENTE_ADDR=127.0.0.1:8081)", cfg.Addr)
		}
		return fmt.Errorf("cannot listen on %s: %w; choose another address with PUENTE_ADDR", cfg.Addr, err)
	}
	defer ln.Close()
	// The live media sockets too.
	netCfg, err := cfg.network()
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	media, err := sfu.New(sfu.Config{Network: netCfg, Logger: log.With("component", "sfu"), Metrics: sfu.NewMetrics(reg),
		AdaptToBandwidth: cfg.RTCAdapt})
	if err != nil {
		return err
	}
	defer media.Close()
	log.Info("live media ready", "udp_port", media.Ports().UDP, "tcp_port", media.Ports().TCP)

	var sender *mail.SMTPSender
	if cfg.SMTPURL != "" {
		if sender, err = mail.NewSMTPSender(cfg.SMTPURL, cfg.MailFrom); err != nil {
			return usageError{err.Error()}
		}
	}

	db, err := openMigrated(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.close(context.WithoutCancel(ctx))
	log.Info("database ready", "database", db.where)

	st := store.New(db.pool, nil)

	baseURL, _ := url.Parse(cfg.BaseURL) // validated in parseConfig
	opts := server.Options{
		Store: st, Logger: log, BaseURL: baseURL, DevMail: sender == nil, DevMailOpen: cfg.DevMailbox, Ready: db.ready,
		Registry: reg, TrustProxy: cfg.TrustProxy, MetricsAllow: cfg.MetricsAllow, MetricsToken: cfg.MetricsToken,
	}
	var wg sync.WaitGroup
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer func() { stopWork(); wg.Wait() }()
	wg.Go(func() { maintenanceLoop(workCtx, st, log) })
	if db.local != nil {
		wg.Go(func() { db.local.Supervise(workCtx) })
	}

	if opts.LinkKey, err = st.Secret(ctx, "links"); err != nil {
		return err
	}
	// Emails are rendered when delivered (package notices), by the SMTP sender or, with no
	// SMTP server, by the local delivery that keeps them for the local mailbox.
	renderer, err := notices.New(notices.Options{Source: st, BaseURL: baseURL, LinkKey: opts.LinkKey,
		Logger: log.With("component", "notices")})
	if err != nil {
		return err
	}
	dopts := mail.DelivererOptions{Outbox: st, Sender: sender, Renderer: renderer, Logger: log.With("component", "mail"),
		Retention: cfg.MailRetention, Lease: cfg.MailLease}
	if cfg.MailRetention == 0 {
		dopts.Retention = -1 // keep bodies
	}
	if sender == nil {
		log.Warn("no SMTP_URL set: emails stay in the outbox; site admins read them at /dev/mail", "open_to_this_machine", cfg.DevMailbox)
		dopts.Sender, dopts.Local, dopts.Poll = mail.LocalSender{Log: log.With("component", "mail")}, true, time.Second
	}
	d := mail.NewDeliverer(dopts)
	opts.MailQueued = d.Wake
	wg.Go(func() {
		if err := d.Run(workCtx); err != nil {
			log.Error("mail sender stopped", "err", err)
		}
	})
	turn, err := startTURN(ctx, cfg, st, baseURL, log)
	if err != nil {
		return err
	}
	defer turn.Close()
	rooms := livestore.New(st)
	// Recordings: hosts start and stop them, with the consent log; each room's tracks are
	// captured from the forwarding path into the data directory's recording-tracks.
	recOpts := roomrec.Options{Dir: recordingTracksDir(cfg), Sink: st, Logger: log.With("component", "recording"),
		Metrics: capture.NewMetrics(reg)}
	hub := live.NewHub(live.Options{Store: rooms, Recordings: rooms, SFU: media, Tokens: live.NewTokens(opts.LinkKey),
		NewRecorder: func(_ int64, room *sfu.Room) live.Recorder { return roomrec.New(room, recOpts) },
		Logger:      log.With("component", "live"), Metrics: live.NewMetrics(reg), Grace: cfg.LiveGrace,
		ICEServers: func(personID int64) []signaling.ICEServer {
			var out []signaling.ICEServer
			for _, s := range turn.ICEServers(strconv.FormatInt(personID, 10)) {
				cred, _ := s.Credential.(string)
				out = append(out, signaling.ICEServer{URLs: s.URLs, Username: s.Username, Credential: cred})
			}
			return out
		}})
	if err := hub.Start(ctx); err != nil {
		return fmt.Errorf("live rooms: %w", err)
	}
	defer hub.Close()
	opts.Live = hub
	recordings, err := openRecordings(ctx, cfg, log)
	if err != nil {
		return err
	}
	opts.Recordings = recordings
	// The use cases (package app): the pages and the API both call them.
	if opts.App, err = app.New(app.Options{Store: st, Logger: log, MailQueued: d.Wake, LinkKey: opts.LinkKey,
		Recordings: recordings, FFprobe: filepath.Join(filepath.Dir(cfg.FFmpeg), "ffprobe"),
		RecordingTracks: recordingTracksDir(cfg)}); err != nil {
		return err
	}
	web, err := server.New(opts)
	if err != nil {
		return err
	}
	wg.Go(func() { reminderLoop(workCtx, opts.App, log) })
	// Recordings: composed by ffmpeg into the storage of composed files (disk or S3).
	startComposing(workCtx, &wg, cfg, st, recordings, log)
	wg.Go(func() { recordingRetentionLoop(workCtx, opts.App, log) })
	wg.Go(func() { followUpdatesLoop(workCtx, opts.App, log) })
	if cfg.PprofAddr != "" {
		stopPprof, err := servePprof(cfg.PprofAddr, log)
		if err != nil {
			return err
		}
		defer stopPprof()
	}
	srv := web.HTTPServer()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "Puente is running at %s (listening on %s)\n", cfg.BaseURL, ln.Addr())
	log.Info("listening", "addr", ln.Addr().String(), "base_url", cfg.BaseURL)

	select {
	case err := <-serveErr:
		return fmt.Errorf("web server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	hub.Close() // everyone in a room is told and let go; the web server does not track them
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("web server did not close cleanly", "err", err)
	}
	stopWork()
	wg.Wait()
	log.Info("stopped")
	return nil
}

// servePprof serves Go's profiler on its own listener (never the public one).
func servePprof(addr string, log *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, usageError{fmt.Sprintf("PUENTE_PPROF_ADDR / --pprof-addr %s: %v", addr, err)}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Warn("profiler listening", "addr", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}

// startTURN starts the built-in TURN server when a TURN port is set (nil otherwise: a nil
// *relay.Server gives no ICE servers and closes as a no-op).
func startTURN(ctx context.Context, cfg config, st *store.Store, baseURL *url.URL, log *slog.Logger) (*relay.Server, error) {
	if !cfg.turnOn() {
		return nil, nil // no secret to read (or create) for a server that does not run
	}
	secret, err := st.Secret(ctx, "turn")
	if err != nil {
		return nil, err
	}
	rcfg, on, err := cfg.turn(secret, baseURL.Host)
	if err != nil || !on {
		return nil, err
	}
	srv, err := relay.Start(ctx, rcfg, log.With("component", "turn"))
	if err != nil {
		return nil, err
	}
	log.Info("TURN server ready", "udp_port", rcfg.UDPPort, "tcp_port", rcfg.TCPPort, "tls_port", rcfg.TLSPort)
	return srv, nil
}

// reminderLoop, every minute, releases the places held by registrations by email that
// were not confirmed in time (the waitlists move up), sends the scheduled announcements
// whose time has come, and queues due reminder emails and the weekly digests due (Monday
// from 08:00 in each member's zone).
// recordingRetentionLoop deletes, every hour, the recordings older than their series'
// retention period, with their files.
func recordingRetentionLoop(ctx context.Context, uc *app.App, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if expired, removed, err := uc.ExpireRecordings(ctx); err != nil && ctx.Err() == nil {
			log.Warn("deleting expired recordings failed", "err", err)
		} else if expired > 0 || removed > 0 {
			log.Info("recordings past their retention period deleted", "recordings", expired, "files_removed", removed)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func reminderLoop(ctx context.Context, uc *app.App, log *slog.Logger) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := uc.ReleaseUnconfirmed(ctx); err != nil && ctx.Err() == nil {
			log.Warn("releasing unconfirmed registrations failed", "err", err)
		} else if n > 0 {
			log.Info("released registrations not confirmed in time", "registrations", n)
		}
		if n, err := uc.SendDueAnnouncements(ctx); err != nil && ctx.Err() == nil {
			log.Warn("sending scheduled announcements failed", "err", err)
		} else if n > 0 {
			log.Info("scheduled announcements sent", "announcements", n)
		}
		if n, err := uc.SendReminders(ctx); err != nil && ctx.Err() == nil {
			log.Warn("reminders failed", "err", err)
		} else if n > 0 {
			log.Info("reminders queued", "emails", n)
		}
		if n, err := uc.SendDigests(ctx); err != nil && ctx.Err() == nil {
			log.Warn("weekly digests failed", "err", err)
		} else if n > 0 {
			log.Info("weekly digests queued", "emails", n)
		}
	}
}

// followUpdatesLoop, every five minutes, queues the daily news of what people follow for
// those whose day since their last one is over (at most one such email a day each).
func followUpdatesLoop(ctx context.Context, uc *app.App, log *slog.Logger) {
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := uc.SendFollowUpdates(ctx); err != nil && ctx.Err() == nil {
			log.Warn("follow updates failed", "err", err)
		} else if n > 0 {
			log.Info("follow updates queued", "emails", n)
		}
	}
}

// maintenanceLoop, every hour: removes expired sessions, links and undeliverable mail, and
// keeps every series' occurrences generated a year ahead. The first round refreshes every
// event's stored instants from their wall times with this binary's time-zone data.
func maintenanceLoop(ctx context.Context, st *store.Store, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	all := true
	for {
		if n, err := st.Tidy(ctx); err != nil && ctx.Err() == nil {
			log.Warn("tidy failed", "err", err)
		} else if n > 0 {
			log.Info("tidied expired rows", "rows", n)
		}
		n, failed, err := st.ExtendHorizons(ctx, all)
		for _, f := range failed {
			log.Error("extending a series failed; the others went on", "event", f.EventID, "err", f.Err)
		}
		if err != nil && ctx.Err() == nil {
			log.Warn("extending series failed", "err", err)
		} else if n > 0 || len(failed) > 0 {
			log.Info("occurrences regenerated", "events", n, "failed", len(failed))
		}
		all = false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
