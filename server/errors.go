package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/i18n"
	"github.com/puente-org/puente/recording/storage"
	"github.com/puente-org/puente/store"
)

// statusOf is the one table from error codes to HTTP statuses.
var statusOf = map[domain.Code]int{
	domain.CodeInvalid:         http.StatusBadRequest,
	domain.CodeNotFound:        http.StatusNotFound,
	domain.CodeUnauthenticated: http.StatusUnauthorized,
	domain.CodeForbidden:       http.StatusForbidden,
	domain.CodeConflict:        http.StatusConflict,
	domain.CodeRateLimited:     http.StatusTooManyRequests,
	domain.CodeExpired:         http.StatusGone,
	domain.CodeTooLarge:        http.StatusRequestEntityTooLarge,
	domain.CodeUnavailable:     http.StatusServiceUnavailable,
	domain.CodeInternal:        http.StatusInternalServerError,
}

// codeOfStatus maps Echo's own HTTP errors (routing, body limit) back to codes.
func codeOfStatus(status int) domain.Code {
	switch status {
	case http.StatusNotFound:
		return domain.CodeNotFound
	case http.StatusUnauthorized:
		return domain.CodeUnauthenticated
	case http.StatusForbidden:
		return domain.CodeForbidden
	case http.StatusRequestEntityTooLarge:
		return domain.CodeTooLarge
	case http.StatusTooManyRequests:
		return domain.CodeRateLimited
	case http.StatusServiceUnavailable:
		return domain.CodeUnavailable
	}
	if status >= 500 {
		return domain.CodeInternal
	}
	return domain.CodeInvalid
}

// PostgreSQL's codes for text it cannot store (a NUL byte, or invalid UTF-8).
const (
	pgCharacterNotInRepertoire = "22021"
	pgUntranslatableCharacter  = "22P05"
)

// apiError is the JSON shape of every error under /api/.
type apiError struct {
	Error apiErrorBody `json:"error"`
}

type apiErrorBody struct {
	Code      domain.Code `json:"code"`
	Message   string      `json:"message"`
	Field     string      `json:"field,omitempty"`
	RequestID string      `json:"request_id,omitempty"`
}

// toDomainError turns any error into the *domain.Error to show.
func toDomainError(err error) *domain.Error {
	if de, ok := domain.AsError(err); ok {
		return de
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		code := codeOfStatus(he.Code)
		id := "error.message." + string(code)
		switch he.Code {
		case http.StatusMethodNotAllowed:
			id = "err.http.method"
		case http.StatusRequestEntityTooLarge:
			id = "err.body.too_large"
		case http.StatusBadRequest:
			id = "err.http.bad_request"
		}
		return &domain.Error{Code: code, ID: id, Err: err}
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == pgCharacterNotInRepertoire || pgErr.Code == pgUntranslatableCharacter) {
		// The last guard: text the domain's normalisers did not see (a search term, say)
		// held a NUL or a character the database cannot store. It is the client's input.
		return &domain.Error{Code: domain.CodeInvalid, ID: "err.text.unstorable", Err: err}
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return &domain.Error{Code: domain.CodeTooLarge, ID: "err.body.too_large", Err: err}
	}
	if errors.Is(err, storage.ErrNotFound) {
		// a recording whose file is missing from the storage
		return &domain.Error{Code: domain.CodeNotFound, ID: "err.recording.not_ready", Err: err}
	}
	if store.Unreachable(err) {
		return &domain.Error{Code: domain.CodeUnavailable, ID: "err.database.unreachable", Err: err}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &domain.Error{Code: domain.CodeUnavailable, ID: "err.timeout", Err: err}
	}
	return &domain.Error{Code: domain.CodeInternal, ID: "error.message.internal", Err: err}
}

// handleError is Echo's single error handler: JSON under /api/, a friendly page elsewhere.
// Only server-side failures are logged as errors, with the request ID shown to the user.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	de := toDomainError(err)
	status := statusOf[de.Code]
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if status >= 500 {
		s.log.Error("request failed", "request_id", requestIDOf(c), "path", c.Request().URL.Path, "err", err)
	}
	if status == http.StatusMethodNotAllowed || errors.Is(err, echo.ErrMethodNotAllowed) {
		status = http.StatusMethodNotAllowed
	}
	if de.Code == domain.CodeRateLimited {
		c.Response().Header().Set("Retry-After", "60")
	}
	l := s.localizer(c)
	msg := localize(l, de)
	if isAPI(c) || localizerOf(c) == nil {
		if de.Code == domain.CodeInternal {
			msg = l.T("err.internal.api")
		}
		if c.Request().Method == http.MethodHead {
			_ = c.NoContent(status)
			return
		}
		_ = c.JSON(status, apiError{Error: apiErrorBody{Code: de.Code, Message: msg, Field: de.Field, RequestID: requestIDOf(c)}})
		return
	}
	data := errorPage{Title: l.T("error.title." + string(de.Code)), Message: msg}
	if de.Code == domain.CodeExpired && de.Field == "token" {
		data.Title = l.T("signin.link_problem_title")
		data.OfferSignIn = true
	}
	if rerr := s.render(c, status, "error.html", data); rerr != nil {
		s.log.Error("render error page", "request_id", requestIDOf(c), "err", rerr)
		_ = c.String(status, msg)
	}
}

// localizer is the request's translator, or the default language's when the request did not
// get one (an error raised before the language was chosen).
func (s *Server) localizer(c echo.Context) *i18n.Localizer {
	if l := localizerOf(c); l != nil {
		return l
	}
	return s.catalog.Localizer(s.catalog.Languages()[0])
}

// localize is a domain error's message in the request's language (for form renderers).
func (s *Server) localize(c echo.Context, de *domain.Error) string {
	return localize(s.localizer(c), de)
}

// localize renders de's message id with its arguments in l's language. time.Time arguments
// are shown as long dates in that language; an error with no id gets the generic message
// of its code.
func localize(l *i18n.Localizer, de *domain.Error) string {
	id := de.ID
	if id == "" {
		id = "error.message." + string(de.Code)
	}
	args := make([]any, len(de.Args))
	copy(args, de.Args)
	for i := 1; i < len(args); i += 2 {
		if t, ok := args[i].(time.Time); ok {
			args[i] = l.LongDate(t)
		}
	}
	return l.T(id, args...)
}

type errorPage struct {
	Title, Message string
	OfferSignIn    bool
	Email          string
}
