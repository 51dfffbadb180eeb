// Package server is Puente's web front door: an Echo application with the pages people use
// in a browser and the JSON API under /api/, one error handler, and the middleware around
// them (request IDs, logs, metrics, security headers, limits, sessions, CSRF, languages).
package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/puente-org/puente/app"
	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/frontend"
	"github.com/puente-org/puente/frontend/assets"
	"github.com/puente-org/puente/i18n"
	"github.com/puente-org/puente/links"
	"github.com/puente-org/puente/recording/storage"
	"github.com/puente-org/puente/store"
)

// Store is the storage the web server reads (pages, feeds, the API's answers). Every
// change (the programme, registrations, signing in and out, profiles, tokens, roles,
// follows) goes through the application layer (Options.App).
type Store interface {
	PeekSignInLink(ctx context.Context, tokenHash []byte) (store.SignInLink, error)
	PersonBySession(ctx context.Context, tokenHash []byte) (domain.Person, error)
	PersonByAPIToken(ctx context.Context, tokenHash []byte) (domain.Person, error)
	PersonByID(ctx context.Context, id int64) (domain.Person, error)
	ListAPITokens(ctx context.Context, personID int64) ([]store.APIToken, error)
	ListPeople(ctx context.Context, query string, limit, offset int) (store.PeoplePage, error)
	Mailbox(ctx context.Context, limit int) ([]store.MailboxMessage, error)
	MailboxMessageByID(ctx context.Context, id int64) (store.MailboxMessage, error)

	EventByID(ctx context.Context, id int64) (domain.Event, error)
	EventBySlug(ctx context.Context, slug string) (domain.Event, error)
	ListEvents(ctx context.Context, f store.EventFilter) ([]domain.Event, int, error)
	Topics(ctx context.Context) ([]string, error)
	OrganiserEmails(ctx context.Context, eventID int64) ([]string, error)
	Occurrences(ctx context.Context, f store.OccurrenceFilter) ([]store.Listed, error)
	PlacesTaken(ctx context.Context, ids []int64) (map[int64]int, error)
	SpeakerPhotoByKey(ctx context.Context, key string) (store.SpeakerPhoto, error)
	OccurrenceStamp(ctx context.Context, f store.OccurrenceFilter) (string, time.Time, error)
	OccurrenceByID(ctx context.Context, id int64) (store.Listed, error)
	PersonIDByEmail(ctx context.Context, email string) (int64, error)
	Tracks(ctx context.Context, eventID int64) ([]domain.Track, error)
	TrackByID(ctx context.Context, id int64) (domain.Track, error)

	Registrations(ctx context.Context, f store.RegistrationFilter) ([]store.Registration, error)
	RegistrationByID(ctx context.Context, id int64) (store.Registration, error)
	EventRegistered(ctx context.Context, eventID, personID int64) (bool, error)
	Secret(ctx context.Context, name string) ([]byte, error)
	FeedNonce(ctx context.Context, personID int64) (int64, error)
	Followed(ctx context.Context, personID int64) ([]int64, error)
	FollowedTopics(ctx context.Context, personID int64) ([]string, error)
	EventRegistrationsOf(ctx context.Context, personID int64) ([]int64, error)
	EventsByIDs(ctx context.Context, ids []int64) ([]domain.Event, error)
	CountsOfEvents(ctx context.Context, ids []int64) (map[int64]store.EventCounts, error)

	// live rooms (docs/signaling.md §4)
	ChatHistory(ctx context.Context, occID int64, limit int) ([]store.ChatMessage, error)
	LiveQuestions(ctx context.Context, occID int64) ([]store.LiveQuestion, error)

	DirectoryReader // directory.go
	AnnouncementReader
	RecordingReader // recordings.go
}

// RecordingReader reads what a session's recording page shows beside the recordings.
type RecordingReader interface {
	RecordingProgress(ctx context.Context, recID int64) (float64, bool, error)
	RecordingChapters(ctx context.Context, r domain.Recording) ([]domain.RecordingChapter, error)
}

// AnnouncementReader reads announcements: the archive pages and the API.
type AnnouncementReader interface {
	AnnouncementByID(ctx context.Context, id int64) (domain.Announcement, error)
	Announcements(ctx context.Context, f store.AnnouncementFilter) ([]domain.Announcement, error)
}

// Options configure a Server.
type Options struct {
	Store Store
	// App runs the use cases (package app). When nil, New builds one from Store (which
	// must then also be an app.Store), Now, Logger, MailQueued and LinkKey.
	App     *app.App
	Logger  *slog.Logger
	BaseURL *url.URL // public URL used in links (emails, feeds)
	// DevMail is true when no SMTP server is configured: a local delivery renders emails
	// into the outbox and the log, and they can be read at /dev/mail by site admins.
	DevMail bool
	// DevMailOpen also lets direct loopback connections read /dev/mail without signing in:
	// a development setting for a base URL on this machine (behind a proxy every request
	// may come from loopback).
	DevMailOpen bool
	// MetricsAllow and MetricsToken open /metrics to clients in these networks, or with
	// this bearer token, beyond direct loopback connections (always allowed).
	MetricsAllow []netip.Prefix
	MetricsToken string
	// MailQueued is called after a change that may have put emails in the outbox (to wake
	// the sender, or the local delivery).
	MailQueued func()
	// Ready reports whether the database is reachable and migrated (for /readyz).
	Ready    func(ctx context.Context) error
	Registry *prometheus.Registry // metrics; a new one when nil
	// TrustProxy: take the client address from X-Forwarded-For when the request comes
	// from a proxy on loopback or a private network. Leave off unless behind a proxy.
	TrustProxy bool
	Now        func() time.Time
	// MaxBodyBytes bounds request bodies (default 1 MiB).
	MaxBodyBytes int64
	// SignInLinksPerHour bounds links per address (default 5; given to the App built here
	// when Options.App is nil, which otherwise has its own); SignInClientBurst bounds
	// link requests per client address (default 10, refilled at one a minute).
	SignInLinksPerHour int
	SignInClientBurst  int
	// LinkKey signs personal links (join, one-click cancel). It must stay the same across
	// restarts and instances (serve keeps it in the database); nil makes a random one,
	// which suits tests.
	LinkKey []byte
	// Live runs the live rooms (nil: rooms are unavailable).
	Live LiveRooms
	// Recordings keeps composed recordings (given to the App built here when Options.App
	// is nil; otherwise the App's own is used).
	Recordings storage.Storage
}

// Server is the HTTP application.
type Server struct {
	o         Options
	app       *app.App
	e         *echo.Echo
	log       *slog.Logger
	catalog   *i18n.Catalog
	pages     map[string]*template.Template
	mailPages map[string]*template.Template
	limiter   *clientLimiter
	secure    bool // base URL is https: cookies get Secure
	metrics   *httpMetrics
	links     *links.Signer
	feeds     *feedCache
	csrfKey   []byte // derived from LinkKey: CSRF tokens stay valid across restarts
	assets    *assets.Set
}

// New builds the application.
func New(o Options) (*Server, error) {
	if o.Store == nil || o.BaseURL == nil {
		return nil, fmt.Errorf("server: Store and BaseURL are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.SignInLinksPerHour <= 0 {
		o.SignInLinksPerHour = 5
	}
	if o.SignInClientBurst <= 0 {
		o.SignInClientBurst = 10
	}
	if o.MailQueued == nil {
		o.MailQueued = func() {}
	}
	if o.LinkKey == nil {
		o.LinkKey = make([]byte, 32)
		_, _ = rand.Read(o.LinkKey)
	}
	if o.App == nil {
		as, ok := o.Store.(app.Store)
		if !ok {
			return nil, fmt.Errorf("server: App is required when Store cannot make changes")
		}
		a, err := app.New(app.Options{Store: as, Now: o.Now, Logger: o.Logger, MailQueued: o.MailQueued, LinkKey: o.LinkKey,
			SignInLinksPerHour: o.SignInLinksPerHour, Recordings: o.Recordings})
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		o.App = a
	}
	catalog, err := i18n.Load(frontend.Locales(), "en")
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s := &Server{
		o:       o,
		app:     o.App,
		log:     o.Logger,
		catalog: catalog,
		limiter: newClientLimiter(time.Minute, o.SignInClientBurst, o.Now),
		secure:  o.BaseURL.Scheme == "https",
		links:   links.New(o.LinkKey),
		feeds:   newFeedCache(256),
	}
	m := hmac.New(sha256.New, o.LinkKey)
	m.Write([]byte("puente csrf tokens v1"))
	s.csrfKey = m.Sum(nil)
	if s.assets, err = assets.New(frontend.Static(), staticPrefix); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if s.pages, s.mailPages, err = parseTemplates(s.assets); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if s.metrics, err = newHTTPMetrics(o.Registry); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.e = s.routes()
	return s, nil
}

// Handler returns the application as an http.Handler.
func (s *Server) Handler() http.Handler { return s.e }

// HTTPServer wraps the handler with the timeouts a public server needs.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{
		Handler:           s.e,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}
