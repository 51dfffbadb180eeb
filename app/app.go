// Package app is Puente's application layer: each thing a person can do with the programme
// (create or change a series or conference, add, move or cancel an occurrence, register,
// cancel, move or approve a registration, write to registrants, be admitted to a room) and
// with their account (sign in with a link, change their profile or language, make and
// revoke API tokens, follow events, renew their feed, download their data, delete their
// account; admins: grant roles) is one method of
// App, written once. The page handlers and the JSON API both call it; they
// only read their input (a form or JSON) into the method's input type and show the result.
//
// Every method takes the Actor making the change and checks that they may make it
// (organisers of the event or site admins, the owner of a registration, the holder of a
// personal link); the rules about the input itself live in domain and programme. Errors are
// domain errors (a message id and its arguments), localised and mapped to HTTP at the edge.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/links"
	"github.com/puente-org/puente/recording/storage"
	"github.com/puente-org/puente/store"
)

// Store is the storage the use cases need: the changes, and the reads their
// authorisation rests on.
type Store interface {
	EventByID(ctx context.Context, id int64) (domain.Event, error)
	CreateEvent(ctx context.Context, e domain.Event, creator int64, organisers []string) (domain.Event, error)
	UpdateEvent(ctx context.Context, id int64, organisers []string, mutate func(*domain.Event) error, notify *store.Notify) (domain.Event, error)
	DeleteEvent(ctx context.Context, id int64, notify *store.Notify) (cancelled bool, err error)

	OccurrenceByID(ctx context.Context, id int64) (store.Listed, error)
	AddOccurrence(ctx context.Context, eventID int64, o domain.Occurrence, notify *store.Notify) (store.Listed, error)
	UpdateOccurrence(ctx context.Context, id int64, mutate func(e domain.Event, o *domain.Occurrence) error, notify *store.Notify) (store.Listed, error)
	DeleteOccurrence(ctx context.Context, id int64, notify *store.Notify) (cancelled bool, err error)
	SetSpeakerPhoto(ctx context.Context, occID int64, position int, jpeg []byte, width, height int) (int64, error)
	TrackByID(ctx context.Context, id int64) (domain.Track, error)
	CreateTrack(ctx context.Context, t domain.Track) (domain.Track, error)
	UpdateTrack(ctx context.Context, t domain.Track) (domain.Track, error)
	DeleteTrack(ctx context.Context, id int64) error

	EnsurePerson(ctx context.Context, email string) (domain.Person, bool, error)
	Register(ctx context.Context, occID, personID int64, d store.RegistrationDetails, notify *store.Notify) (store.RegisterResult, error)
	RegisterUnconfirmed(ctx context.Context, occID, personID int64, d store.RegistrationDetails, notify *store.Notify) (store.RegisterResult, error)
	ConfirmRegistration(ctx context.Context, regID int64, notify *store.Notify) (store.Registration, error)
	CancelRegistration(ctx context.Context, occID, personID int64, notify *store.Notify) (store.Registration, []store.Registration, error)
	RegisterForEvent(ctx context.Context, eventID, personID int64, d store.RegistrationDetails, notify *store.Notify) (store.EventRegistrationResult, error)
	CancelEventRegistration(ctx context.Context, eventID, personID int64, notify *store.Notify) error
	Registrations(ctx context.Context, f store.RegistrationFilter) ([]store.Registration, error)
	RegistrationByID(ctx context.Context, id int64) (store.Registration, error)
	ActOnRegistration(ctx context.Context, regID int64, action domain.RegistrationAction, notify *store.Notify) (store.Registration, error)
	MoveRegistration(ctx context.Context, regID, toOccID int64, notify *store.Notify) (store.Registration, error)
	RenewRegistrationLinks(ctx context.Context, regID, personID int64, notify *store.Notify) (store.Registration, error)
	MessageRegistrants(ctx context.Context, occID int64, notify *store.Notify) (int, error)
	ReleaseUnconfirmed(ctx context.Context, notify *store.Notify) (int, error)
	SendReminders(ctx context.Context) (int, error)
	SendDigests(ctx context.Context) (int, error)

	UpdateProfile(ctx context.Context, id int64, prof domain.Profile) (domain.Person, error)
	LearnProfile(ctx context.Context, id int64, l store.Learned) (domain.Person, error)
	SetLanguage(ctx context.Context, id int64, lang string) error
	SetRoles(ctx context.Context, id int64, admin, organiser bool) (domain.Person, error)
	CreateAPIToken(ctx context.Context, personID int64, name string, tokenHash []byte) (store.APIToken, error)
	RevokeAPIToken(ctx context.Context, personID, tokenID int64) error
	Follow(ctx context.Context, personID, eventID int64) error
	Unfollow(ctx context.Context, personID, eventID int64) error
	FollowTopic(ctx context.Context, personID int64, tag string) error
	UnfollowTopic(ctx context.Context, personID int64, tag string) error
	SendFollowUpdates(ctx context.Context) (int, error)
	NewFeedNonce(ctx context.Context, personID int64) (int64, error)
	RequestSignIn(ctx context.Context, r store.SignInRequest) error
	UseSignInLink(ctx context.Context, tokenHash []byte, sess store.NewSession) (p domain.Person, next string, created bool, err error)
	EndSession(ctx context.Context, tokenHash []byte) error

	ListStore
	DirectoryStore // directory.go
	ExportAccount(ctx context.Context, personID int64) (store.AccountExport, error)
	CheckDeletable(ctx context.Context, personID int64) error
	DeleteAccount(ctx context.Context, personID int64) error
	AnnouncementStore
	RecordingStore // recordings.go
}

// Options configure an App.
type Options struct {
	Store  Store
	Now    func() time.Time // the clock (time.Now when nil)
	Logger *slog.Logger
	// MailQueued is called after a change that may have put emails in the outbox.
	MailQueued func()
	// LinkKey signs personal links (join, cancel, confirm): the same key as the emails'.
	LinkKey []byte
	// SignInLinksPerHour bounds the sign-in links one address may ask for in an hour
	// (default 5).
	SignInLinksPerHour int
	// Recordings keeps composed recordings (nil: recordings cannot be replaced, and deleted
	// ones' files are left for when it is configured).
	Recordings storage.Storage
	// FFprobe is the ffprobe binary that checks uploaded recordings ("ffprobe" from PATH
	// when empty).
	FFprobe string
	// RecordingTracks is the directory of recordings' per-track files (relative
	// track_dir's are under it); the files of deleted recordings are removed from it.
	RecordingTracks string
}

// App runs the use cases.
type App struct {
	store      Store
	now        func() time.Time
	log        *slog.Logger
	mailQueued func()
	links      *links.Signer

	signInLinksPerHour int
	recordings         storage.Storage
	recordingTracks    string
	ffprobe            string
}

// New builds the application layer.
func New(o Options) (*App, error) {
	if o.Store == nil || len(o.LinkKey) == 0 {
		return nil, fmt.Errorf("app: Store and LinkKey are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MailQueued == nil {
		o.MailQueued = func() {}
	}
	if o.SignInLinksPerHour <= 0 {
		o.SignInLinksPerHour = 5
	}
	if o.FFprobe == "" {
		o.FFprobe = "ffprobe"
	}
	return &App{store: o.Store, now: o.Now, log: o.Logger, mailQueued: o.MailQueued, links: links.New(o.LinkKey),
		signInLinksPerHour: o.SignInLinksPerHour, recordings: o.Recordings, ffprobe: o.FFprobe,
		recordingTracks: o.RecordingTracks}, nil
}

// Actor is who makes a change: a signed-in person (nil for someone not signed in, or the
// system) and the language of the page they act from, which their own emails fall back to
// when their profile names none.
type Actor struct {
	Person *domain.Person
	Lang   string
}

// ErrSignIn refuses a change that needs a signed-in person.
var ErrSignIn = domain.New(domain.CodeUnauthenticated, "err.auth.sign_in")

func (a Actor) id() int64 {
	if a.Person == nil {
		return 0
	}
	return a.Person.ID
}

// signedIn is the actor's person, or ErrSignIn.
func (a Actor) signedIn() (domain.Person, error) {
	if a.Person == nil {
		return domain.Person{}, ErrSignIn
	}
	return *a.Person, nil
}

// notify tells the people a change concerns, as made by the actor.
func (a Actor) notify() *store.Notify { return &store.Notify{By: a.id(), Lang: a.Lang} }

// asOrganisers tells them as made by the organisers (or the system): nobody's own page
// language applies.
func asOrganisers() *store.Notify { return &store.Notify{} }

// sent wakes the deliverer after a change that may have put emails in the outbox.
func (a *App) sent() { a.mailQueued() }

// CanCreateEvents: site organisers and admins.
func CanCreateEvents(who Actor) error {
	p, err := who.signedIn()
	if err != nil {
		return err
	}
	if !p.IsOrganiser && !p.IsAdmin {
		return domain.New(domain.CodeForbidden, "err.event.organisers_only")
	}
	return nil
}

// CanManage: the event's organisers and site admins.
func CanManage(who Actor, e domain.Event) error {
	p, err := who.signedIn()
	if err != nil {
		return err
	}
	if p.IsAdmin || slices.Contains(e.Organisers, p.ID) {
		return nil
	}
	return domain.New(domain.CodeForbidden, "err.event.not_organiser", "Title", domain.Clip(e.Title))
}

// Manages reports whether who may change e.
func Manages(who Actor, e domain.Event) bool { return CanManage(who, e) == nil }
