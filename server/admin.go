package server

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
)

const peoplePerPage = 50

type peoplePage struct {
	Query      string
	People     []domain.Person
	Total      int
	Prev, Next string
}

func (s *Server) adminPeople(c echo.Context) error {
	q := c.QueryParam("q")
	offset, _ := strconv.Atoi(c.QueryParam("offset"))
	if offset < 0 {
		offset = 0
	}
	res, err := s.o.Store.ListPeople(c.Request().Context(), q, peoplePerPage, offset)
	if err != nil {
		return err
	}
	pp := peoplePage{Query: q, People: res.People, Total: res.Total}
	link := func(off int) string {
		return "/admin/people?" + url.Values{"q": {q}, "offset": {strconv.Itoa(off)}}.Encode()
	}
	if offset > 0 {
		pp.Prev = link(max(0, offset-peoplePerPage))
	}
	if offset+peoplePerPage < res.Total {
		pp.Next = link(offset + peoplePerPage)
	}
	return s.render(c, http.StatusOK, "admin_people.html", pp)
}

func (s *Server) adminSetRoles(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return domain.Invalid("id", "err.admin.unknown_person")
	}
	if _, err := s.app.SetRoles(c.Request().Context(), actor(c), id, c.FormValue("admin") == "1", c.FormValue("organiser") == "1"); err != nil {
		return err
	}
	s.flash(c, "admin.roles_saved")
	return c.Redirect(http.StatusSeeOther, "/admin/people?"+url.Values{"q": {c.QueryParam("q")}}.Encode())
}

func (s *Server) devMailbox(c echo.Context) error {
	msgs, err := s.o.Store.Mailbox(c.Request().Context(), 100)
	if err != nil {
		return err
	}
	// Emails are rendered when the local delivery takes them (about a second): while some
	// wait, the page reloads itself so that a person sees them arrive.
	pending := slices.ContainsFunc(msgs, func(m store.MailboxMessage) bool { return m.Status == "pending" })
	return s.render(c, http.StatusOK, "devmail.html", struct {
		Messages []store.MailboxMessage
		Pending  bool
	}{msgs, pending})
}

func (s *Server) devMailMessage(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return domain.New(domain.CodeNotFound, "err.devmail.no_message")
	}
	m, err := s.o.Store.MailboxMessageByID(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "devmail_message.html", m)
}
