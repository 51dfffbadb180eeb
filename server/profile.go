package server

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/app"
	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
)

// browserZoneField is the hidden form field zone.js fills with the browser's time zone.
const browserZoneField = "browser_zone"

// browserZone is the time zone the browser reports: a form's hidden field, else the
// cookie zone.js sets; "" when it reports none or one that is not valid.
func browserZone(c echo.Context) string {
	candidates := []string{c.FormValue(browserZoneField)}
	if ck, err := c.Cookie("puente_tz"); err == nil {
		name, _ := url.QueryUnescape(ck.Value) // zone.js encodes the "/" in "America/Santiago"
		candidates = append(candidates, name)
	}
	for _, z := range candidates {
		if z = strings.TrimSpace(z); z != "" && domain.ValidTimeZone(z) == nil {
			return z
		}
	}
	return ""
}

// learned is what this request tells about the person: a name they typed, the language
// of the page they use and the zone their browser reports. Pages only; an API client
// reports neither language nor zone.
func (s *Server) learned(c echo.Context, name string) app.Learned {
	in := app.Learned{Name: name}
	if !isAPI(c) {
		if lang := localizerOf(c).Lang(); s.catalog.Supported(lang) {
			in.Language = lang
		}
		in.TimeZone = browserZone(c)
	}
	return in
}

// learn completes the signed-in person's profile with what this request tells, where it
// has nothing yet. A failure is logged, not shown: what the person did has worked.
func (s *Server) learn(c echo.Context, p *domain.Person, name string) *domain.Person {
	learned, err := s.app.LearnProfile(c.Request().Context(), app.Actor{Person: p}, s.learned(c, name))
	if err != nil {
		s.log.Warn("profile not completed", "person", p.ID, "request_id", requestIDOf(c), "err", err)
		return p
	}
	return &learned
}

type profilePage struct {
	Profile      domain.Profile
	Error        string
	ErrorField   string // the form field the error is about, marked invalid
	Countries    []option
	CareerStages []option
	Zones        []string
	BrowserZone  string // the zone the browser reported, offered as a suggestion
	Tokens       []store.APIToken
	NewToken     string
	TokenError   string
	Feed         subscribe
	Directory    directorySettings
}

func (s *Server) profilePage(c echo.Context, prof domain.Profile) (profilePage, error) {
	l := localizerOf(c)
	pp := profilePage{Profile: prof, Countries: countryOptions(l.Lang()), Zones: domain.CommonTimeZones(),
		BrowserZone: browserZone(c)}
	for _, st := range domain.CareerStages() {
		pp.CareerStages = append(pp.CareerStages, option{Code: string(st), Name: l.T("career." + string(st))})
	}
	tokens, err := s.o.Store.ListAPITokens(c.Request().Context(), personOf(c).ID)
	if err != nil {
		return pp, err
	}
	pp.Tokens = tokens
	entry, err := s.o.Store.DirectoryEntry(c.Request().Context(), personOf(c).ID)
	if err != nil {
		return pp, err
	}
	pp.Directory = s.directorySettings(c, entry)
	nonce, err := s.o.Store.FeedNonce(c.Request().Context(), personOf(c).ID)
	pp.Feed = subscribeFor(s.feedURL(personOf(c).ID, nonce))
	return pp, err
}

// renderProfile shows the profile page; problem and tokenProblem explain a refused form,
// newToken is a token just created (shown this once).
func (s *Server) renderProfile(c echo.Context, status int, prof domain.Profile, problem, tokenProblem, newToken string) error {
	pp, err := s.profilePage(c, prof)
	if err != nil {
		return err
	}
	pp.Error, pp.TokenError, pp.NewToken = problem, tokenProblem, newToken
	return s.render(c, status, "profile.html", pp)
}

// renderProfileError shows the profile form refused, with field marked invalid.
func (s *Server) renderProfileError(c echo.Context, prof domain.Profile, field, problem string) error {
	pp, err := s.profilePage(c, prof)
	if err != nil {
		return err
	}
	pp.Error, pp.ErrorField = problem, field
	return s.render(c, http.StatusBadRequest, "profile.html", pp)
}

func (s *Server) profile(c echo.Context) error {
	return s.renderProfile(c, http.StatusOK, personOf(c).Profile, "", "", "")
}

func (s *Server) saveProfile(c echo.Context) error {
	prof := domain.Profile{
		Name: c.FormValue("name"), Affiliation: c.FormValue("affiliation"), Country: c.FormValue("country"),
		CareerStage: domain.CareerStage(c.FormValue("career_stage")), Language: c.FormValue("language"),
		TimeZone: c.FormValue("time_zone"), WeeklyDigest: c.FormValue("weekly_digest") != "",
	}
	stage := string(prof.CareerStage)
	_, err := s.app.UpdateProfile(c.Request().Context(), actor(c), app.ProfileChange{Name: &prof.Name,
		Affiliation: &prof.Affiliation, Country: &prof.Country, CareerStage: &stage, Language: &prof.Language,
		TimeZone: &prof.TimeZone, WeeklyDigest: &prof.WeeklyDigest})
	if de, ok := domain.AsError(err); ok && de.Code == domain.CodeInvalid {
		return s.renderProfileError(c, prof, de.Field, s.localize(c, de))
	}
	if err != nil {
		return err
	}
	if prof.Language != "" { // the profile's language now leads; drop an older switcher choice
		s.clearCookie(c, langCookie)
	}
	s.flash(c, "profile.saved")
	return c.Redirect(http.StatusSeeOther, "/profile")
}

// createToken makes a personal API token and shows it once.
func (s *Server) createToken(c echo.Context) error {
	p := personOf(c)
	t, err := s.app.CreateToken(c.Request().Context(), actor(c), c.FormValue("name"))
	if de, ok := domain.AsError(err); ok && de.Code == domain.CodeInvalid {
		return s.renderProfile(c, http.StatusBadRequest, p.Profile, "", s.localize(c, de), "")
	}
	if err != nil {
		return err
	}
	return s.renderProfile(c, http.StatusOK, p.Profile, "", "", t.Secret)
}

func (s *Server) revokeToken(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return domain.Invalid("id", "err.token.unknown_id")
	}
	if err := s.app.RevokeToken(c.Request().Context(), actor(c), id); err != nil {
		return err
	}
	s.flash(c, "tokens.revoked_notice")
	return c.Redirect(http.StatusSeeOther, "/profile#tokens")
}
