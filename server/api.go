package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/app"
	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
)

// decodeJSON reads a JSON body strictly: the right content type, one object, no unknown
// fields, with messages that say what is wrong.
func decodeJSON(c echo.Context, v any) error {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if !strings.HasPrefix(ct, echo.MIMEApplicationJSON) {
		return domain.Invalid("", "err.json.content_type")
	}
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			return domain.New(domain.CodeTooLarge, "err.body.too_large")
		case errors.As(err, &syn):
			return domain.Invalid("", "err.json.syntax_at", "Offset", syn.Offset)
		case errors.As(err, &typ):
			return domain.Invalid(domain.Clip(typ.Field), "err.json.type", "Field", domain.Clip(typ.Field), "Type", typ.Type.String())
		case errors.Is(err, io.EOF):
			return domain.Invalid("", "err.json.empty")
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return domain.Invalid(domain.Clip(field), "err.json.unknown_field", "Field", domain.Clip(field))
		default:
			return domain.Invalid("", "err.json.syntax")
		}
	}
	if dec.More() {
		return domain.Invalid("", "err.json.one_object")
	}
	return nil
}

// decodeOptionalJSON is decodeJSON for endpoints where an empty body means "the defaults".
func decodeOptionalJSON(c echo.Context, v any) error {
	if c.Request().ContentLength == 0 {
		return nil
	}
	return decodeJSON(c, v)
}

type personJSON struct {
	ID          int64     `json:"id"`
	Email       string    `json:"email"`
	Name        string    `json:"name"`
	Affiliation string    `json:"affiliation"`
	Country     string    `json:"country"`
	CareerStage string    `json:"career_stage"`
	Language    string    `json:"language"`
	TimeZone    string    `json:"time_zone"`
	IsAdmin     bool      `json:"is_admin"`
	IsOrganiser bool      `json:"is_organiser"`
	CreatedAt   time.Time `json:"created_at"`

	// WeeklyDigest: the person receives the Monday digest (the weekly-digest list).
	WeeklyDigest bool `json:"weekly_digest"`
}

func toPersonJSON(p domain.Person) personJSON {
	return personJSON{ID: p.ID, Email: p.Email, Name: p.Profile.Name, Affiliation: p.Profile.Affiliation,
		Country: p.Profile.Country, CareerStage: string(p.Profile.CareerStage), Language: p.Profile.Language,
		TimeZone: p.Profile.TimeZone, IsAdmin: p.IsAdmin, IsOrganiser: p.IsOrganiser, CreatedAt: p.CreatedAt,
		WeeklyDigest: p.Profile.WeeklyDigest}
}

func (s *Server) apiRequestSignIn(c echo.Context) error {
	var req struct {
		Email string `json:"email"`
		Next  string `json:"next"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if _, err := s.sendSignInLink(c, req.Email, localPath(req.Next)); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]string{"status": "sent"})
}

func (s *Server) apiMe(c echo.Context) error {
	p := personOf(c)
	d, err := s.o.Store.DirectoryEntry(c.Request().Context(), p.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, meJSON{personJSON: toPersonJSON(*p), Directory: toDirectoryJSON(d)})
}

// apiUpdateMe changes the given profile fields; fields left out keep their value.
func (s *Server) apiUpdateMe(c echo.Context) error {
	var req struct {
		Name         *string              `json:"name"`
		Affiliation  *string              `json:"affiliation"`
		Country      *string              `json:"country"`
		CareerStage  *string              `json:"career_stage"`
		Language     *string              `json:"language"`
		TimeZone     *string              `json:"time_zone"`
		Directory    *directoryChangeJSON `json:"directory"`
		WeeklyDigest *bool                `json:"weekly_digest"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	p, d, err := s.app.UpdateMe(c.Request().Context(), actor(c), app.ProfileChange{Name: req.Name,
		Affiliation: req.Affiliation, Country: req.Country, CareerStage: req.CareerStage, Language: req.Language,
		TimeZone: req.TimeZone, WeeklyDigest: req.WeeklyDigest}, req.Directory.change())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, meJSON{personJSON: toPersonJSON(p), Directory: toDirectoryJSON(d)})
}

type tokenJSON struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	Token      string     `json:"token,omitempty"` // only in the answer that creates it
}

func toTokenJSON(t store.APIToken) tokenJSON {
	return tokenJSON{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt, RevokedAt: t.RevokedAt}
}

func (s *Server) apiTokens(c echo.Context) error {
	tokens, err := s.o.Store.ListAPITokens(c.Request().Context(), personOf(c).ID)
	if err != nil {
		return err
	}
	out := make([]tokenJSON, 0, len(tokens))
	for _, t := range tokens {
		out = append(out, toTokenJSON(t))
	}
	return c.JSON(http.StatusOK, map[string]any{"tokens": out})
}

func (s *Server) apiCreateToken(c echo.Context) error {
	var req struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	t, err := s.app.CreateToken(c.Request().Context(), actor(c), req.Name)
	if err != nil {
		return err
	}
	out := toTokenJSON(t.APIToken)
	out.Token = t.Secret
	return c.JSON(http.StatusCreated, out)
}

func (s *Server) apiRevokeToken(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return domain.Invalid("id", "err.id.number")
	}
	if err := s.app.RevokeToken(c.Request().Context(), actor(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) apiPeople(c echo.Context) error {
	limit, offset, err := pageParams(c)
	if err != nil {
		return err
	}
	res, err := s.o.Store.ListPeople(c.Request().Context(), c.QueryParam("q"), limit, offset)
	if err != nil {
		return err
	}
	out := make([]personJSON, 0, len(res.People))
	for _, p := range res.People {
		out = append(out, toPersonJSON(p))
	}
	return c.JSON(http.StatusOK, map[string]any{"people": out, "total": res.Total})
}

func (s *Server) apiSetRoles(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return domain.Invalid("id", "err.id.number")
	}
	var req struct {
		Admin     *bool `json:"is_admin"`
		Organiser *bool `json:"is_organiser"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Admin == nil {
		return domain.Invalid("is_admin", "err.roles.both")
	}
	if req.Organiser == nil {
		return domain.Invalid("is_organiser", "err.roles.both")
	}
	p, err := s.app.SetRoles(c.Request().Context(), actor(c), id, *req.Admin, *req.Organiser)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toPersonJSON(p))
}
