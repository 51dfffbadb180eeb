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

// Error is an error a person can understand. Message is safe to show; Err (if any) is the
// underlying cause, logged but never shown.
type Error struct {
	Code    Code
	Message string
	Field   string // the input field at fault, if one is
	Err     error
}

func (e *Error) Error() string {
	msg := string(e.Code) + ": " + e.Message
	if e.Field != "" {
		msg += " (field " + e.Field + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf makes an Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid reports a problem with one input field.
func Invalid(field, message string) *Error {
	return &Error{Code: CodeInvalid, Field: field, Message: message}
}

// ErrNotFound is the generic not-found error; stores wrap it with details.
var ErrNotFound = &Error{Code: CodeNotFound, Message: "not found"}

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
