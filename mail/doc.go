// Package mail delivers the emails that Puente writes into its outbox table.
//
// Every email is stored in the outbox in the same database transaction as the
// action that causes it, so an email is never lost when the process dies and
// never sent for an action that was rolled back. A [Deliverer] later claims due
// messages from the [Outbox], hands them to a [Sender] (normally an
// [SMTPSender]) and records the outcome, retrying temporary failures with
// exponential backoff.
//
// Most rows are typed notices (domain.Notice: what happened, to whom, about
// what) rather than emails: the Deliverer has its [Renderer] make each email
// when it delivers it, so it speaks the recipient's language and zone as they
// are then, and records what was sent. With no SMTP server, a [LocalSender] and
// DelivererOptions.Local keep rendered emails for the local mailbox. The
// Deliverer also blanks the bodies of finished messages after
// DelivererOptions.Retention.
//
// # SMTP_URL
//
// The SMTP server is configured with a single URL:
//
//	smtp://[user[:password]@]host[:port][?param=value&...]
//	smtps://[user[:password]@]host[:port][?param=value&...]
//
// Schemes:
//
//   - smtp: plain connection upgraded with STARTTLS (RFC 3207). Default port 587.
//   - smtps: implicit TLS from the first byte (RFC 8314). Default port 465.
//
// User and password are optional and should be percent-encoded if they
// contain reserved characters (for example "@" is "%40", ":" is "%3A", "/" is
// "%2F", "%" is "%25"). Everything before the last "@" is taken as user info,
// so an unencoded "@", "/", "?" or "#" in the password also works.
// When a user is given, SMTP AUTH is performed and the mechanism is chosen
// automatically from what the server offers; PLAIN and LOGIN are only used over
// an encrypted connection, so with starttls=none only challenge-response
// mechanisms (CRAM-MD5, SCRAM) can be used. Without a user no AUTH is attempted.
//
// Query parameters (any other parameter is rejected):
//
//   - starttls=opportunistic (default for smtp): use STARTTLS when the server
//     offers it, otherwise continue unencrypted.
//   - starttls=required: fail unless the connection can be upgraded with STARTTLS.
//   - starttls=none: never use STARTTLS (local relays and tests only).
//     starttls is not accepted with smtps, which is always encrypted.
//   - insecure_skip_verify=true|false (default false): do not verify the
//     server's TLS certificate. Only for tests and self-signed development
//     servers; it makes TLS useless against an active attacker.
//   - helo=name: the name sent in EHLO/HELO (default: the machine's hostname).
//
// Examples:
//
//	smtp://mail.example.org                       # port 587, STARTTLS if offered
//	smtp://puente:s3cr%40t@mail.example.org?starttls=required
//	smtps://puente:secret@mail.example.org        # port 465, implicit TLS
//	smtp://localhost:1025?starttls=none           # local development catcher
//
// Errors about the URL always name SMTP_URL and never contain the password.
package mail
