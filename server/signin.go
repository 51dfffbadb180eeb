package server

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/app"
	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/i18n"
	"github.com/puente-org/puente/store"
)

// SignInLinkLifetime is how long a sign-in link works.
const SignInLinkLifetime = app.SignInLinkLifetime

type signInPage struct {
	Email, Next, Error, Problem string
	Sent                        bool
	Registered                  bool // came from registering by email
	Held                        bool // … and the place is held until the address is confirmed
}

func (s *Server) signInForm(c echo.Context) error {
	next := localPath(c.QueryParam("next"))
	if personOf(c) != nil {
		return c.Redirect(http.StatusSeeOther, next)
	}
	return s.render(c, http.StatusOK, "signin.html", signInPage{Next: next})
}

// requestSignIn handles the form: it always answers "check your email" for a well-formed
// address, so the form does not reveal who has an account.
func (s *Server) requestSignIn(c echo.Context) error {
	email, next := c.FormValue("email"), localPath(c.FormValue("next"))
	addr, err := s.sendSignInLink(c, email, next)
	if de, ok := domain.AsError(err); ok && (de.Code == domain.CodeInvalid || de.Code == domain.CodeRateLimited) {
		return s.render(c, statusOf[de.Code], "signin.html", signInPage{Email: email, Next: next, Error: s.localize(c, de)})
	}
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "signin.html", signInPage{Email: addr, Sent: true})
}

// sendSignInLink makes a one-time link for email and puts the email carrying it in the
// outbox, after checking the per-client and per-address limits.
func (s *Server) sendSignInLink(c echo.Context, email, next string) (string, error) {
	if _, err := domain.NormalizeEmail(email); err != nil {
		return "", err // a malformed address is refused before it counts against the client
	}
	if !s.limiter.Allow(c.RealIP()) {
		return "", &domain.Error{Code: domain.CodeRateLimited, Field: "email", ID: "error.message.rate_limited"}
	}
	l := localizerOf(c)
	return s.app.RequestSignIn(c.Request().Context(), app.SignInRequest{Email: email, Next: next, Link: s.signInURL,
		Mail: func(to, link string) (store.Email, error) { return s.signInEmail(l, to, link) }})
}

// signInURL is the address of the page that spends a sign-in token.
func (s *Server) signInURL(token string) string {
	return s.absURL("/sign-in/link", url.Values{"token": {token}})
}

func (s *Server) signInEmail(l *i18n.Localizer, to, link string) (store.Email, error) {
	data := map[string]string{
		"Lang": l.Lang(), "Greeting": l.T("mail.signin.greeting"), "Body": l.T("mail.signin.body"),
		"Link": link, "Button": l.T("mail.signin.button"), "Ignore": l.T("mail.signin.ignore"),
	}
	var html bytes.Buffer
	if err := s.mailPages["mail_signin.html"].Execute(&html, data); err != nil {
		return store.Email{}, err
	}
	text := strings.Join([]string{data["Greeting"], "", data["Body"], "", link, "", data["Ignore"], "", "Puente"}, "\n")
	return store.Email{Kind: "sign_in", To: to, Subject: l.T("mail.signin.subject"), Text: text,
		HTML: html.String(), Sensitive: true}, nil
}

// signInLink shows the page a sign-in link opens: a form that spends the link (submitted
// by script at once in a browser). Fetching the page alone, as mail scanners do, does not
// spend it.
func (s *Server) signInLink(c echo.Context) error {
	token := c.QueryParam("token")
	c.Response().Header().Set("Referrer-Policy", "no-referrer")
	link, err := s.o.Store.PeekSignInLink(c.Request().Context(), domain.HashSecret(token))
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "signin_link.html", struct{ Email, Token string }{link.Email, token})
}

func (s *Server) useSignInLink(c echo.Context) error {
	// The page's language and the browser's zone complete the profile where it has none.
	in, err := s.app.UseSignInLink(c.Request().Context(), c.FormValue("token"), s.learned(c, ""))
	if err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{Name: sessionCookie, Value: in.Session, Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(store.SessionLifetime / time.Second)})
	s.flash(c, "signin.signed_in")
	return c.Redirect(http.StatusSeeOther, localPath(in.Next))
}

func (s *Server) signOut(c echo.Context) error {
	if ck, err := c.Cookie(sessionCookie); err == nil && ck.Value != "" {
		if err := s.app.SignOut(c.Request().Context(), ck.Value); err != nil {
			return err
		}
	}
	s.clearCookie(c, sessionCookie)
	s.flash(c, "signin.signed_out")
	return c.Redirect(http.StatusSeeOther, "/")
}

// absURL builds a public URL under the base URL (which may include a path prefix).
func (s *Server) absURL(path string, q url.Values) string {
	u := *s.o.BaseURL
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = q.Encode()
	return u.String()
}
