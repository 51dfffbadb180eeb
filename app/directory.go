package app

import (
	"context"

	"github.com/puente-org/puente/domain"
)

// DirectoryStore is the storage the directory's use cases need.
type DirectoryStore interface {
	DirectoryEntry(ctx context.Context, personID int64) (domain.DirectoryEntry, error)
	SaveDirectoryEntry(ctx context.Context, personID int64, d domain.DirectoryEntry) error
	SendContact(ctx context.Context, senderID, recipientID int64, m domain.ContactMessage) error
}

// DirectoryChange is a change to one's own directory entry: fields left nil keep their
// value (the API's partial update); the profile page's form sets them all.
type DirectoryChange struct {
	Listed     *bool
	Visible    *[]domain.DirectoryField
	Topics     *[]string
	LookingFor *[]domain.LookingFor
	Bio        *string
	ORCID      *string
	Website    *string
}

func (ch DirectoryChange) apply(d domain.DirectoryEntry) domain.DirectoryEntry {
	if ch.Listed != nil {
		d.Listed = *ch.Listed
	}
	if ch.Visible != nil {
		d.Visible = *ch.Visible
	}
	if ch.Topics != nil {
		d.Topics = *ch.Topics
	}
	if ch.LookingFor != nil {
		d.LookingFor = *ch.LookingFor
	}
	if ch.Bio != nil {
		d.Bio = *ch.Bio
	}
	if ch.ORCID != nil {
		d.ORCID = *ch.ORCID
	}
	if ch.Website != nil {
		d.Website = *ch.Website
	}
	return d
}

// UpdateDirectoryEntry changes the signed-in person's own directory entry: whether they
// are listed, which fields it shows, and what it says.
func (a *App) UpdateDirectoryEntry(ctx context.Context, who Actor, ch DirectoryChange) (domain.DirectoryEntry, error) {
	p, err := who.signedIn()
	if err != nil {
		return domain.DirectoryEntry{}, err
	}
	cur, err := a.store.DirectoryEntry(ctx, p.ID)
	if err != nil {
		return domain.DirectoryEntry{}, err
	}
	d, err := ch.apply(cur).Normalize()
	if err != nil {
		return domain.DirectoryEntry{}, err
	}
	if err := a.store.SaveDirectoryEntry(ctx, p.ID, d); err != nil {
		return domain.DirectoryEntry{}, err
	}
	if d.Listed != cur.Listed {
		a.log.Info("directory listing changed", "person", p.ID, "listed", d.Listed)
	}
	return d, nil
}

// UpdateMe changes the signed-in person's profile and, when dir is given, their directory
// entry: both are checked before either is saved, so a refused field changes nothing.
func (a *App) UpdateMe(ctx context.Context, who Actor, prof ProfileChange, dir *DirectoryChange) (domain.Person, domain.DirectoryEntry, error) {
	p, err := who.signedIn()
	if err != nil {
		return domain.Person{}, domain.DirectoryEntry{}, err
	}
	d, err := a.store.DirectoryEntry(ctx, p.ID)
	if err != nil {
		return domain.Person{}, domain.DirectoryEntry{}, err
	}
	if _, err := prof.apply(p.Profile).Normalize(); err != nil {
		return domain.Person{}, domain.DirectoryEntry{}, err
	}
	if dir != nil {
		if _, err := dir.apply(d).Normalize(); err != nil {
			return domain.Person{}, domain.DirectoryEntry{}, err
		}
	}
	if p, err = a.UpdateProfile(ctx, who, prof); err != nil {
		return domain.Person{}, domain.DirectoryEntry{}, err
	}
	if dir != nil {
		if d, err = a.UpdateDirectoryEntry(ctx, Actor{Person: &p, Lang: who.Lang}, *dir); err != nil {
			return domain.Person{}, domain.DirectoryEntry{}, err
		}
	}
	return p, d, nil
}

// Contact relays a message from the signed-in person to a member listed in the directory,
// by email: the recipient reads it in their language, and a reply goes straight to the
// sender, so the recipient's address is only revealed if they answer. Each member may
// send a few an hour and a few more a day (domain.ContactsPerHour, ContactsPerDay).
func (a *App) Contact(ctx context.Context, who Actor, recipientID int64, m domain.ContactMessage) error {
	p, err := who.signedIn()
	if err != nil {
		return err
	}
	if recipientID == p.ID {
		return domain.Invalid("recipient", "err.directory.contact_self")
	}
	if m, err = m.Normalize(); err != nil {
		return err
	}
	if err := a.store.SendContact(ctx, p.ID, recipientID, m); err != nil {
		return err
	}
	a.log.Info("directory message relayed", "sender", p.ID, "recipient", recipientID)
	a.sent()
	return nil
}
