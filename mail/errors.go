package mail

import (
	"errors"

	gomail "github.com/wneessen/go-mail"
)

// ErrInvalidMessage marks a message that can never be sent as stored (for
// example a malformed recipient address). It is permanent: retrying the same
// row cannot succeed.
var ErrInvalidMessage = errors.New("invalid message")

// ErrSuperseded marks a typed notice that is out of date by its delivery: it
// announces a place (confirmed, waitlisted, pending, held) that has changed since,
// and a later notice says what is true now. It is not sent and not a failure.
var ErrSuperseded = errors.New("superseded notice")

// IsPermanent reports whether err means that retrying the same message will not
// help, so the deliverer should give up on it.
//
// Only failures that are about this particular message are permanent: a 5xx
// reply to MAIL FROM, RCPT TO or DATA, an address go-mail could not use, or
// [ErrInvalidMessage]. Everything else is temporary on purpose: 4xx replies,
// connection refused, timeouts, TLS and AUTH failures. Session-level failures
// such as a wrong password or a broken certificate affect every message
// equally; treating them as permanent would throw away every queued sign-in
// email because of a configuration mistake that an operator can fix.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrInvalidMessage) {
		return true
	}
	var sendErr *gomail.SendError
	if !errors.As(err, &sendErr) {
		return false
	}
	// The reply code decides rather than SendError.IsTemp: go-mail derives
	// IsTemp from the first character of the error text, so every non-SMTP
	// error (a reset connection, a failed NOOP) would count as permanent.
	switch code := sendErr.ErrorCode(); {
	case code >= 500 && code < 600:
		return true
	case code >= 400 && code < 500:
		return false
	}
	switch sendErr.Reason {
	case gomail.ErrGetSender, gomail.ErrGetRcpts, gomail.ErrNoUnencoded:
		// The message itself is unusable (bad address, or 8-bit content the
		// server refuses); it will fail the same way next time.
		return true
	}
	return false
}
