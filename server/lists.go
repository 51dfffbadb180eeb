package server

import (
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/notices"
)

// unsubscribePage is what an unsubscribe link shows: which list, for which (partly hidden)
// address, and one button. A GET never unsubscribes: mail scanners and link previews open
// links, and must not take people off lists. Mail programs use the one-click POST of
// RFC 8058 (the List-Unsubscribe-Post header) instead, which needs no page at all.
type unsubscribePage struct {
	List    string // the list's name, in the reader's language
	Email   string // the address, partly hidden
	Token   string
	Left    bool // already off the list (now, or before)
	JustNow bool // left with this request
}

func (s *Server) unsubscribePage(c echo.Context) error {
	token := c.Param("token")
	t, err := s.app.UnsubscribeLink(c.Request().Context(), token)
	if err != nil {
		return err
	}
	if t.Expired {
		return domain.New(domain.CodeExpired, "err.unsubscribe.expired")
	}
	page, err := s.unsubscribeView(c, t.PersonID, t.List, token)
	if err != nil {
		return err
	}
	page.Left = t.Left
	return s.render(c, http.StatusOK, "unsubscribe.html", page)
}

// unsubscribe takes the link's person off its list: the page's button, or a mail
// program's one-click POST (body "List-Unsubscribe=One-Click", no cookies, no CSRF token:
// the unguessable link is the credential, and it can only take its own person off one
// list). Using a link twice is harmless.
func (s *Server) unsubscribe(c echo.Context) error {
	token := c.Param("token")
	t, err := s.app.Unsubscribe(c.Request().Context(), token)
	if err != nil {
		return err
	}
	s.log.InfoContext(c.Request().Context(), "left a mailing list", "person", t.PersonID, "list", string(t.List))
	page, err := s.unsubscribeView(c, t.PersonID, t.List, token)
	if err != nil {
		return err
	}
	page.Left, page.JustNow = true, true
	return s.render(c, http.StatusOK, "unsubscribe.html", page)
}

func (s *Server) unsubscribeView(c echo.Context, personID int64, list domain.MailList, token string) (unsubscribePage, error) {
	p, err := s.o.Store.PersonByID(c.Request().Context(), personID)
	if err != nil {
		return unsubscribePage{}, err
	}
	name, err := s.listName(c, list)
	if err != nil {
		return unsubscribePage{}, err
	}
	return unsubscribePage{List: name, Email: maskEmail(p.Email), Token: token}, nil
}

// listName is a list's name in the reader's language.
func (s *Server) listName(c echo.Context, list domain.MailList) (string, error) {
	l := localizerOf(c)
	if id, ok := list.AnnouncementsEvent(); ok {
		e, err := s.o.Store.EventByID(c.Request().Context(), id)
		if domain.ErrorCode(err) == domain.CodeNotFound {
			return l.T("preferences.list_gone"), nil
		}
		if err != nil {
			return "", err
		}
		return l.T("mail.list.name_announcements", "Title", e.Title), nil
	}
	switch list {
	case domain.ListFollowUpdates:
		return l.T("mail.list.name_follow_updates"), nil
	case domain.ListWeeklyDigest:
		return l.T("mail.list.name_weekly_digest"), nil
	default:
		return l.T("mail.list.name_contact"), nil
	}
}

// maskEmail hides most of an address's local part (a forwarded email's unsubscribe page
// should not spell out whose it is): "ana.perez@uchile.cl" becomes "a•••@uchile.cl".
func maskEmail(email string) string {
	local, dom, ok := strings.Cut(email, "@")
	if !ok || local == "" {
		return "•••"
	}
	r := []rune(local)
	return string(r[0]) + "•••@" + dom
}

// isUnsubscribe tells the CSRF check which requests carry their own credential.
func isUnsubscribe(c echo.Context) bool {
	return strings.HasPrefix(c.Request().URL.Path, notices.UnsubscribePath)
}

// preferenceRow is one list on the preferences page.
type preferenceRow struct {
	ID      domain.MailList
	Name    string
	Explain string
	On      bool
}

type preferencesPage struct {
	Lists  []preferenceRow
	Events []preferenceRow // announcement lists of followed and registered events, and ones left
}

// preferences shows the signed-in person's lists: the general ones, and the announcements
// of each series and conference they follow or registered for (and any they left).
func (s *Server) preferences(c echo.Context) error {
	ctx := c.Request().Context()
	p := personOf(c)
	prefs, err := s.app.MailPreferences(ctx, actor(c))
	if err != nil {
		return err
	}
	l := localizerOf(c)
	on := func(list domain.MailList) bool { return !slices.Contains(prefs.Left, list) }
	page := preferencesPage{Lists: []preferenceRow{
		{ID: domain.ListFollowUpdates, Name: l.T("mail.list.name_follow_updates"), Explain: l.T("preferences.explain_follow_updates"), On: on(domain.ListFollowUpdates)},
		{ID: domain.ListWeeklyDigest, Name: l.T("mail.list.name_weekly_digest"), Explain: l.T("preferences.explain_weekly_digest"), On: prefs.WeeklyDigest},
		{ID: domain.ListContact, Name: l.T("mail.list.name_contact"), Explain: l.T("preferences.explain_contact"), On: on(domain.ListContact)},
	}}
	followed, err := s.o.Store.Followed(ctx, p.ID)
	if err != nil {
		return err
	}
	registered, err := s.o.Store.EventRegistrationsOf(ctx, p.ID)
	if err != nil {
		return err
	}
	ids := append(followed, registered...)
	for _, left := range prefs.Left {
		if id, ok := left.AnnouncementsEvent(); ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	events, err := s.o.Store.EventsByIDs(ctx, slices.Compact(ids))
	if err != nil {
		return err
	}
	for _, e := range events {
		list := domain.ListAnnouncements(e.ID)
		page.Events = append(page.Events, preferenceRow{ID: list, Name: l.T("mail.list.name_announcements", "Title", e.Title), On: on(list)})
	}
	return s.render(c, http.StatusOK, "preferences.html", page)
}

// savePreferences applies the preferences form: each list shown (field "shown") is joined
// when its box is ticked (field "on") and left when not.
func (s *Server) savePreferences(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return domain.Invalid("lists", "err.preferences.unknown_list")
	}
	var join, leave []domain.MailList
	for _, id := range form["shown"] {
		list := domain.MailList(id)
		if slices.Contains(form["on"], id) {
			join = append(join, list)
		} else {
			leave = append(leave, list)
		}
	}
	if err := s.app.SetMailPreferences(c.Request().Context(), actor(c), join, leave); err != nil {
		return err
	}
	s.flash(c, "preferences.saved")
	return c.Redirect(http.StatusSeeOther, notices.PreferencesPath)
}
