package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/domain"
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
		msg := http.StatusText(he.Code)
		if m, ok := he.Message.(string); ok && m != "" {
			msg = m
		}
		switch he.Code {
		case http.StatusMethodNotAllowed:
			msg = "This address does not accept that method."
		case http.StatusRequestEntityTooLarge:
			msg = "The request body is too large."
		}
		return &domain.Error{Code: codeOfStatus(he.Code), Message: msg, Err: err}
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return &domain.Error{Code: domain.CodeTooLarge, Message: "The request body is too large.", Err: err}
	}
	if store.Unreachable(err) {
		return &domain.Error{Code: domain.CodeUnavailable, Message: "The database is not reachable; please try again in a moment.", Err: err}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &domain.Error{Code: domain.CodeUnavailable, Message: "The request took too long; please try again.", Err: err}
	}
	return &domain.Error{Code: domain.CodeInternal, Message: "internal error", Err: err}
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
	l := localizerOf(c)
	msg := de.Message
	if l != nil {
		switch de.Code { // these messages are generic: show them in the reader's language
		case domain.CodeInternal, domain.CodeNotFound, domain.CodeUnavailable, domain.CodeTooLarge:
			msg = l.T("error.message." + string(de.Code))
		}
	}
	if isAPI(c) || l == nil {
		if de.Code == domain.CodeInternal {
			msg = "Something went wrong on our side; it has been logged. Quote the request_id if you report it."
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

type errorPage struct {
	Title, Message string
	OfferSignIn    bool
	Email          string
}
