// Package domain holds Puente's core types and rules in the users' words: people, roles,
// profiles, and the error codes every layer shares. It does no I/O.
package domain

import (
	"errors"
	"fmt"
)

// Code says what kind of failure an Error is; the HTTP layer maps each code to a status in
// one table.
type Code string

const (
	CodeInvalid         Code = "invalid"         // the request is malformed or a field is wrong
	CodeNotFound        Code = "not_found"       // no such thing (or not visible to this person)
	CodeUnauthenticated Code = "unauthenticated" // sign in first
	CodeForbidden       Code = "forbidden"       // signed in, but not allowed
	CodeConflict        Code = "conflict"        // clashes with existing data
	CodeRateLimited     Code = "rate_limited"    // too many requests; try later
	CodeExpired         Code = "expired"         // a link or token that was once valid is not any more
	CodeTooLarge        Code = "too_large"       // the request body is too big
	CodeUnavailable     Code = "unavailable"     // a dependency is down; try again
	CodeInternal        Code = "internal"        // a bug or an unexpected failure
)

// Error is an error a person can understand. It carries no English: ID names a message in
// the translation catalogues (frontend/locales/*.toml, ids "err.…") and Args are name/value
// pairs for its template ({{.Name}}), so the edge (the HTTP error handler, the form
// renderers) shows it in the reader's language. Args that are time.Time are shown as long
// dates in that language. Err (if any) is the underlying cause, logged but never shown.
type Error struct {
	Code  Code
	ID    string // message id, "err.…"; every id used in Go must exist in every catalogue (a test checks)
	Args  []any  // name/value pairs for the message template
	Field string // the input field at fault, if one is
	Err   error
}

func (e *Error) Error() string {
	msg := string(e.Code) + ": " + e.ID
	if len(e.Args) > 0 {
		msg += fmt.Sprint(e.Args)
	}
	if e.Field != "" {
		msg += " (field " + e.Field + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// New makes an Error with message id and template arguments (name/value pairs).
func New(code Code, id string, args ...any) *Error {
	return &Error{Code: code, ID: id, Args: args}
}

// Invalid reports a problem with one input field: message id and template arguments.
func Invalid(field, id string, args ...any) *Error {
	return &Error{Code: CodeInvalid, Field: field, ID: id, Args: args}
}

// WithField returns a copy of e that names field instead (for a check reused on several
// fields, such as a time zone).
func (e *Error) WithField(field string) *Error {
	c := *e
	c.Field = field
	return &c
}

// ErrNotFound is the generic not-found error; stores wrap it with details.
var ErrNotFound = &Error{Code: CodeNotFound, ID: "err.not_found"}

// ErrorCode returns the code of the first *Error in err's chain, or CodeInternal.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// AsError returns the first *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
