package server

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/domain"
)

// exportAccount sends everything Puente holds about the signed-in person as one JSON file
// to download (the profile page's button and GET /api/v1/me/export).
func (s *Server) exportAccount(c echo.Context) error {
	x, err := s.app.ExportAccount(c.Request().Context(), actor(c))
	if err != nil {
		return err
	}
	body, err := json.MarshalIndent(x, "", "  ")
	if err != nil {
		return err
	}
	name := "puente-data-" + x.ExportedAt.UTC().Format("2006-01-02") + ".json"
	h := c.Response().Header()
	h.Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	h.Set("Cache-Control", "no-store")
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSONCharsetUTF8, body)
}

// accountDeletePage is the confirmation page before deleting one's account: what goes,
// what is kept anonymised, and why it cannot be deleted yet when it cannot.
type accountDeletePage struct {
	Email   string
	Blocked string // why the account cannot be deleted now ("" if it can)
	Missing bool   // the form came back without the box ticked
}

func (s *Server) accountDeleteConfirm(c echo.Context) error {
	return s.renderAccountDelete(c, http.StatusOK, false)
}

func (s *Server) renderAccountDelete(c echo.Context, status int, missing bool) error {
	page := accountDeletePage{Email: personOf(c).Email, Missing: missing}
	if err := s.app.CheckAccountDeletable(c.Request().Context(), actor(c)); err != nil {
		de, ok := domain.AsError(err)
		if !ok || de.Code != domain.CodeConflict {
			return err
		}
		page.Blocked = s.localize(c, de)
	}
	return s.render(c, status, "account_delete.html", page)
}

// deleteAccountFromForm deletes the signed-in person's account once they ticked the box,
// ends this browser's session and goes home.
func (s *Server) deleteAccountFromForm(c echo.Context) error {
	if c.FormValue("confirm") != "1" {
		return s.renderAccountDelete(c, http.StatusBadRequest, true)
	}
	err := s.app.DeleteAccount(c.Request().Context(), actor(c))
	if de, ok := domain.AsError(err); ok && de.Code == domain.CodeConflict {
		return s.renderAccountDelete(c, http.StatusConflict, false)
	}
	if err != nil {
		return err
	}
	s.clearCookie(c, sessionCookie)
	s.flash(c, "account.deleted")
	return c.Redirect(http.StatusSeeOther, "/")
}

// apiDeleteAccount deletes the account of whoever the request is from: a token of theirs,
// or their session with its CSRF token. 204 once deleted.
func (s *Server) apiDeleteAccount(c echo.Context) error {
	if err := s.app.DeleteAccount(c.Request().Context(), actor(c)); err != nil {
		return err
	}
	if _, err := c.Cookie(sessionCookie); err == nil {
		s.clearCookie(c, sessionCookie)
	}
	return c.NoContent(http.StatusNoContent)
}
