package notices

import (
	"fmt"
	"strings"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/mail"
)

// contact is a message a member wrote through the directory, relayed to the person they
// wrote to: in the recipient's language, from Puente, with the sender as Reply-To, so the
// recipient's own address is revealed only if they choose to reply.
func (r *Renderer) contact(rd reader, n domain.Notice, f domain.NoticeFacts) (Email, error) {
	if f.Sender.ID == 0 || f.Sender.Email == "" {
		return Email{}, fmt.Errorf("%w: a directory message without its sender", mail.ErrInvalidMessage)
	}
	l := rd.l
	sender := f.Sender.DisplayName()
	if f.Sender.Profile.Affiliation != "" {
		sender += " (" + f.Sender.Profile.Affiliation + ")"
	}
	lines := []string{
		l.T("mail.reg.greeting", "Name", f.Person.DisplayName()), "",
		l.T("directory.mail.lead", "Sender", sender), "",
		n.Payload.Subject, "",
		n.Payload.Body, "",
		"—", l.T("directory.mail.reply", "Name", f.Sender.DisplayName()),
		l.T("directory.mail.why", "URL", r.absURL("/profile#directory")),
	}
	return Email{To: f.Person.Email, ReplyTo: f.Sender.Email,
		Subject: l.T("directory.mail.subject", "Name", f.Sender.DisplayName(), "Subject", n.Payload.Subject),
		Text:    strings.Join(lines, "\n")}, nil
}
