package notices

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"mime"
	"strings"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/mail"
)

// ListSource is what list email needs besides the facts (implemented by the store): whether
// the person is still on the list, and a fresh unsubscribe link for them.
type ListSource interface {
	ListState(ctx context.Context, personID int64, list domain.MailList) (domain.ListState, error)
	NewListToken(ctx context.Context, personID int64, list domain.MailList) (string, error)
	Suppressed(ctx context.Context, email string) (bool, error)
}

// PreferencesPath is the page where a person chooses which lists they receive.
const PreferencesPath = "/preferences"

// UnsubscribePath is where an unsubscribe token is used (GET shows the page, POST leaves
// the list: the one-click POST of RFC 8058, or the page's button).
const UnsubscribePath = "/unsubscribe/"

// listMail makes m a list email: it is set aside if the person left the list or their
// address is suppressed since it was written; otherwise it gets the list headers (List-Id,
// and the one-click List-Unsubscribe of RFC 2369 and RFC 8058) and a visible footer with
// the unsubscribe link and the preferences page, in the reader's language.
func (r *Renderer) listMail(ctx context.Context, n domain.Notice, f domain.NoticeFacts, m *mail.Message) error {
	ls, ok := r.src.(ListSource)
	if !ok {
		return errors.New("notices: list email needs a ListSource")
	}
	st, err := ls.ListState(ctx, f.Person.ID, n.List)
	if err != nil {
		return err
	}
	if st.Left {
		return fmt.Errorf("%w: the person left the list %s", mail.ErrSuperseded, n.List)
	}
	if st.Suppressed {
		return fmt.Errorf("%w: the address is suppressed (bounce or complaint)", mail.ErrSuperseded)
	}
	token, err := ls.NewListToken(ctx, f.Person.ID, n.List)
	if err != nil {
		return err
	}
	rd := r.readerOf(f.Person, n.Payload.Lang, f.Event.Language)
	name, reason := listTexts(rd, n.List, f.Event)
	unsubscribe := r.absURL(UnsubscribePath + token)
	prefs := r.absURL(PreferencesPath)
	if m.Headers == nil {
		m.Headers = map[string]string{}
	}
	m.Headers["List-Id"] = mime.QEncoding.Encode("utf-8", name) + " <" + string(n.List) + "." + r.listHost() + ">"
	m.Headers["List-Unsubscribe"] = "<" + unsubscribe + ">"
	m.Headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
	leave := rd.l.T("mail.list.unsubscribe")
	manage := rd.l.T("mail.list.preferences")
	m.Text = strings.TrimRight(m.Text, "\n") + "\n\n-- \n" + reason + "\n" + leave + ": " + unsubscribe + "\n" + manage + ": " + prefs + "\n"
	if m.HTML != "" {
		footer := `<p style="color:#555;font-size:13px;margin-top:24px">` + template.HTMLEscapeString(reason) + `<br><a href="` +
			template.HTMLEscapeString(unsubscribe) + `">` + template.HTMLEscapeString(leave) + `</a> · <a href="` +
			template.HTMLEscapeString(prefs) + `">` + template.HTMLEscapeString(manage) + `</a></p>`
		if i := strings.LastIndex(m.HTML, "</body>"); i >= 0 {
			m.HTML = m.HTML[:i] + footer + m.HTML[i:]
		} else {
			m.HTML += footer
		}
	}
	return nil
}

// listTexts are a list's name (in List-Id) and why the reader receives it.
func listTexts(rd reader, l domain.MailList, e domain.Event) (name, reason string) {
	if _, ok := l.AnnouncementsEvent(); ok {
		return rd.l.T("mail.list.name_announcements", "Title", e.Title), rd.l.T("mail.list.reason_announcements", "Title", e.Title)
	}
	switch l {
	case domain.ListFollowUpdates:
		return rd.l.T("mail.list.name_follow_updates"), rd.l.T("mail.list.reason_follow_updates")
	case domain.ListWeeklyDigest:
		return rd.l.T("mail.list.name_weekly_digest"), rd.l.T("mail.list.reason_weekly_digest")
	default:
		return rd.l.T("mail.list.name_contact"), rd.l.T("mail.list.reason_contact")
	}
}

// listHost is the domain part of List-Id: the public host name.
func (r *Renderer) listHost() string {
	if h := r.base.Hostname(); h != "" {
		return h
	}
	return "localhost"
}

// checkSuppressed sets aside a transactional notice to an address that bounced or
// complained (sign-in links, which are not notices, still go).
func (r *Renderer) checkSuppressed(ctx context.Context, email string) error {
	ls, ok := r.src.(ListSource)
	if !ok || email == "" {
		return nil
	}
	sup, err := ls.Suppressed(ctx, email)
	if err != nil {
		return err
	}
	if sup {
		return fmt.Errorf("%w: the address is suppressed (bounce or complaint)", mail.ErrSuperseded)
	}
	return nil
}
