package app

import (
	"context"
	"strings"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/links"
	"github.com/puente-org/puente/store"
)

// RegistrationForm is what a person fills in to register (the API's JSON and the
// registration forms). Nil fields are taken from their profile.
type RegistrationForm struct {
	Name           *string `json:"name"`
	Affiliation    *string `json:"affiliation"`
	Country        *string `json:"country"`
	CareerStage    *string `json:"career_stage"`
	ConsentContact *bool   `json:"consent_contact"`
	// Answers to the event's own questions, by question id.
	Answers domain.Answers `json:"answers"`
}

// Details fills the form from the person's profile, overridden by what they sent, and
// checks it with the profile's rules and the event's questions.
func (in RegistrationForm) Details(p domain.Person, questions []domain.Question) (store.RegistrationDetails, error) {
	prof := p.Profile
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&prof.Name, in.Name)
	set(&prof.Affiliation, in.Affiliation)
	set(&prof.Country, in.Country)
	if in.CareerStage != nil {
		prof.CareerStage = domain.CareerStage(*in.CareerStage)
	}
	prof, err := prof.Normalize()
	if err != nil {
		return store.RegistrationDetails{}, err
	}
	d := store.RegistrationDetails{Name: prof.Name, Affiliation: prof.Affiliation, Country: prof.Country, CareerStage: prof.CareerStage}
	if in.ConsentContact != nil {
		d.ConsentContact = *in.ConsentContact
	}
	if strings.TrimSpace(d.Name) == "" {
		d.Name = p.DisplayName()
	}
	d.Answers, err = domain.CheckAnswers(questions, in.Answers)
	return d, err
}

// RegistrationOpen reports whether people may register for an occurrence now: it is
// scheduled, not over, and its event takes registrations (pages offer the form then; the
// store refuses otherwise).
func (a *App) RegistrationOpen(l store.Listed) bool {
	return l.Occurrence.Status == domain.StatusScheduled && l.Occurrence.End.After(a.now()) &&
		l.Event.Registration != domain.RegistrationClosed
}

// Register registers the signed-in actor for an occurrence: a place, a place on the
// waitlist, or a request awaiting approval. Registering again changes nothing.
func (a *App) Register(ctx context.Context, who Actor, occID int64, in RegistrationForm) (store.RegisterResult, error) {
	p, err := who.signedIn()
	if err != nil {
		return store.RegisterResult{}, err
	}
	l, err := a.store.OccurrenceByID(ctx, occID)
	if err != nil {
		return store.RegisterResult{}, err
	}
	d, err := in.Details(p, l.Event.Questions)
	if err != nil {
		return store.RegisterResult{}, err
	}
	res, err := a.store.Register(ctx, occID, p.ID, d, who.notify())
	if err != nil {
		return res, err
	}
	a.sent()
	if res.Created {
		a.log.Info("registered", "occurrence", occID, "person", p.ID, "status", res.Registration.Status)
	}
	return res, nil
}

// ByEmail is a registration by someone not signed in, with an email address.
type ByEmail struct {
	Email string
	Form  RegistrationForm
	// Learned completes the profile of an account this registration makes (its name,
	// language and zone); nobody else's profile is touched by someone not signed in.
	Learned Learned
	// SignInLink, when set, is the URL that spends a one-time sign-in token: the
	// confirmation email carries such a link, leading back to SignInNext.
	SignInLink func(token string) string
	SignInNext string
}

// RegisterByEmail registers an email address without signing in. Anyone can type any
// address, so the registration only holds its place until the owner of the address
// confirms it from the email (which carries the confirmation and sign-in links).
func (a *App) RegisterByEmail(ctx context.Context, who Actor, occID int64, in ByEmail) (store.RegisterResult, error) {
	addr, err := domain.NormalizeEmail(in.Email)
	if err != nil {
		return store.RegisterResult{}, err
	}
	l, err := a.store.OccurrenceByID(ctx, occID)
	if err != nil {
		return store.RegisterResult{}, err
	}
	p, created, err := a.store.EnsurePerson(ctx, addr)
	if err != nil {
		return store.RegisterResult{}, err
	}
	d, err := in.Form.Details(p, l.Event.Questions)
	if err != nil {
		return store.RegisterResult{}, err
	}
	if created {
		if learnt, err := a.learn(ctx, p, in.Learned); err != nil {
			a.log.Warn("profile not completed", "person", p.ID, "err", err)
		} else {
			p = learnt
		}
	}
	notify := &store.Notify{By: p.ID, Lang: who.Lang}
	if in.SignInLink != nil {
		if notify.SignInURL, err = a.signInLinkFor(ctx, addr, in.SignInNext, in.SignInLink); err != nil {
			return store.RegisterResult{}, err
		}
	}
	res, err := a.store.RegisterUnconfirmed(ctx, occID, p.ID, d, notify)
	if err != nil {
		return res, err
	}
	a.sent()
	return res, nil
}

// ByLink reads the registration a personal link (join, cancel, confirm) names, and its
// occurrence. Unknown, forged and revoked links all get the same not-found error, so a
// link cannot be probed.
func (a *App) ByLink(ctx context.Context, purpose, token string) (store.Registration, store.Listed, error) {
	notFound := domain.New(domain.CodeNotFound, "err.link.invalid")
	id, err := links.ID(token)
	if err != nil {
		return store.Registration{}, store.Listed{}, notFound
	}
	r, err := a.store.RegistrationByID(ctx, id)
	if domain.ErrorCode(err) == domain.CodeNotFound {
		return r, store.Listed{}, notFound
	}
	if err != nil {
		return r, store.Listed{}, err
	}
	if a.links.Check(purpose, token, r.LinkNonce) != nil {
		return r, store.Listed{}, notFound
	}
	l, err := a.store.OccurrenceByID(ctx, r.OccurrenceID)
	return r, l, err
}

// ConfirmHeld confirms a registration by email from its confirmation link: the held place
// becomes the person's. A forged link is not found; a late one has expired.
func (a *App) ConfirmHeld(ctx context.Context, who Actor, token string) (store.Registration, error) {
	r, _, err := a.ByLink(ctx, links.Confirm, token)
	if err != nil {
		return r, err
	}
	// Whoever holds the link acts for its registrant.
	r, err = a.store.ConfirmRegistration(ctx, r.ID, &store.Notify{By: r.PersonID, Lang: who.Lang})
	if err != nil {
		return r, err
	}
	a.sent()
	return r, nil
}

// CancelRegistration cancels the actor's own registration for an occurrence; the waitlist
// moves up.
func (a *App) CancelRegistration(ctx context.Context, who Actor, occID int64) (store.Registration, error) {
	p, err := who.signedIn()
	if err != nil {
		return store.Registration{}, err
	}
	cancelled, promoted, err := a.store.CancelRegistration(ctx, occID, p.ID, who.notify())
	if err != nil {
		return cancelled, err
	}
	a.sent()
	for _, r := range promoted {
		a.log.Info("promoted from the waitlist", "occurrence", occID, "person", r.PersonID)
	}
	return cancelled, nil
}

// CancelByLink cancels the registration a personal cancel link names (whoever holds the
// link acts for its registrant). A registration that has ended already is left as it is.
func (a *App) CancelByLink(ctx context.Context, who Actor, token string) (store.Registration, store.Listed, error) {
	r, l, err := a.ByLink(ctx, links.Cancel, token)
	if err != nil {
		return r, l, err
	}
	if !r.Status.Active() {
		return r, l, nil
	}
	cancelled, _, err := a.store.CancelRegistration(ctx, r.OccurrenceID, r.PersonID, &store.Notify{By: r.PersonID, Lang: who.Lang})
	if err != nil {
		return r, l, err
	}
	a.sent()
	return cancelled, l, nil
}

// RegisterForEvent registers the signed-in actor for every session of a series or
// conference, present and future.
func (a *App) RegisterForEvent(ctx context.Context, who Actor, eventID int64, in RegistrationForm) (store.EventRegistrationResult, error) {
	p, err := who.signedIn()
	if err != nil {
		return store.EventRegistrationResult{}, err
	}
	e, err := a.store.EventByID(ctx, eventID)
	if err != nil {
		return store.EventRegistrationResult{}, err
	}
	d, err := in.Details(p, e.Questions)
	if err != nil {
		return store.EventRegistrationResult{}, err
	}
	res, err := a.store.RegisterForEvent(ctx, e.ID, p.ID, d, who.notify())
	if err != nil {
		return res, err
	}
	a.sent()
	return res, nil
}

// CancelEventRegistration cancels the actor's own registration for every session of an
// event.
func (a *App) CancelEventRegistration(ctx context.Context, who Actor, eventID int64) error {
	p, err := who.signedIn()
	if err != nil {
		return err
	}
	if err := a.store.CancelEventRegistration(ctx, eventID, p.ID, who.notify()); err != nil {
		return err
	}
	a.sent()
	return nil
}

// ManagedRegistration reads a registration for one of its event's organisers.
func (a *App) ManagedRegistration(ctx context.Context, who Actor, regID int64) (store.Registration, store.Listed, error) {
	r, err := a.store.RegistrationByID(ctx, regID)
	if err != nil {
		return r, store.Listed{}, err
	}
	l, err := a.store.OccurrenceByID(ctx, r.OccurrenceID)
	if err != nil {
		return r, l, err
	}
	return r, l, CanManage(who, l.Event)
}

// Act applies an organiser's action to one registration (approve, decline, promote,
// remove); the person is told, and anyone promoted into a freed place.
func (a *App) Act(ctx context.Context, who Actor, regID int64, action domain.RegistrationAction) (store.Registration, error) {
	if _, _, err := a.ManagedRegistration(ctx, who, regID); err != nil {
		return store.Registration{}, err
	}
	r, err := a.store.ActOnRegistration(ctx, regID, action, who.notify())
	if err != nil {
		return r, err
	}
	a.sent()
	return r, nil
}

// MoveRegistration moves one registration to another session of the same event, for an
// organiser; a move that would overfill the session is refused.
func (a *App) MoveRegistration(ctx context.Context, who Actor, regID, toOccID int64) (store.Registration, error) {
	if _, _, err := a.ManagedRegistration(ctx, who, regID); err != nil {
		return store.Registration{}, err
	}
	r, err := a.store.MoveRegistration(ctx, regID, toOccID, who.notify())
	if err != nil {
		return r, err
	}
	a.sent()
	return r, nil
}

// RenewLinks revokes the personal links of the actor's own registration and emails the
// confirmation again with fresh ones.
func (a *App) RenewLinks(ctx context.Context, who Actor, regID int64) (store.Registration, error) {
	p, err := who.signedIn()
	if err != nil {
		return store.Registration{}, err
	}
	// Someone else's registration is not found: its existence is not theirs to learn.
	if r, err := a.store.RegistrationByID(ctx, regID); err != nil || r.PersonID != p.ID {
		if err == nil || domain.ErrorCode(err) == domain.CodeNotFound {
			err = domain.New(domain.CodeNotFound, "err.not_found")
		}
		return store.Registration{}, err
	}
	r, err := a.store.RenewRegistrationLinks(ctx, regID, p.ID, who.notify())
	if err != nil {
		return r, err
	}
	a.sent()
	return r, nil
}

// RenewLinksFor is RenewLinks for the actor's registration for an occurrence.
func (a *App) RenewLinksFor(ctx context.Context, who Actor, occID int64) (store.Registration, error) {
	p, err := who.signedIn()
	if err != nil {
		return store.Registration{}, err
	}
	regs, err := a.store.Registrations(ctx, store.RegistrationFilter{OccurrenceID: occID, PersonID: p.ID})
	if err != nil {
		return store.Registration{}, err
	}
	if len(regs) == 0 {
		return store.Registration{}, domain.New(domain.CodeNotFound, "err.registration.not_registered")
	}
	return a.RenewLinks(ctx, who, regs[0].ID)
}

// Message is an organisers' message to everyone registered for an occurrence.
type Message struct {
	Subject string `json:"subject"`
	Body    string `json:"body"`
}

// MessageRegistrants sends the organisers' message to everyone registered; it answers how
// many they are.
func (a *App) MessageRegistrants(ctx context.Context, who Actor, occID int64, m Message) (int, error) {
	if _, err := a.managedOccurrence(ctx, who, occID); err != nil {
		return 0, err
	}
	subject, err := domain.Text("subject", m.Subject, 200, true)
	if err != nil {
		return 0, err
	}
	body, err := domain.Text("body", m.Body, 10000, true)
	if err != nil {
		return 0, err
	}
	notify := asOrganisers()
	notify.Subject, notify.Body = subject, body
	n, err := a.store.MessageRegistrants(ctx, occID, notify)
	if err != nil {
		return 0, err
	}
	a.sent()
	return n, nil
}

// ReleaseUnconfirmed releases the registrations by email not confirmed in time; the
// waitlists move up (the system's work, every minute).
func (a *App) ReleaseUnconfirmed(ctx context.Context) (int, error) {
	n, err := a.store.ReleaseUnconfirmed(ctx, asOrganisers())
	a.sent()
	return n, err
}

// SendReminders queues the reminders that are due (the system's work, every minute).
func (a *App) SendReminders(ctx context.Context) (int, error) {
	n, err := a.store.SendReminders(ctx)
	if n > 0 {
		a.sent()
	}
	return n, err
}

// SendDigests queues the weekly digests that are due: each member who asked for it gets one
// on Monday from 08:00 in their zone (the system's work, every minute).
func (a *App) SendDigests(ctx context.Context) (int, error) {
	n, err := a.store.SendDigests(ctx)
	if n > 0 {
		a.sent()
	}
	return n, err
}
