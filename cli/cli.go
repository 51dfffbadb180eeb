// Package cli is the puente command: `puente` (or `puente serve`) starts the web server,
// `puente migrate` manages the database schema, `puente admin` manages people and API
// tokens. With no configuration it keeps everything under a local data directory, running a
// private PostgreSQL server there. cmd/puente runs it; cmd/puente-bench runs it too, as the
// server process it measures.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/frontend"
	"github.com/puente-org/puente/i18n"
)

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// Main runs the command with args (without the program name) until it finishes or the
// process is interrupted, and returns the exit status: 0, 1 (failure) or 2 (usage).
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, args, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		msg := err.Error()
		if de, ok := domain.AsError(err); ok && de.Code != domain.CodeInternal {
			msg = personMessage(de) // a person's mistake: say it plainly, without the code
		}
		fmt.Fprintln(os.Stderr, "puente: "+oneLine(msg))
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

const topUsage = `Puente: research seminars and conferences across time zones.

Usage:
  puente [serve] [flags]        run the platform (default)
  puente migrate up|status|down apply, show or roll back (one step) the database schema
  puente admin user create --email E [--name N] [--organiser] [--admin]
  puente admin user list
  puente admin token create --email E [--name N]
  puente admin token list --email E
  puente admin token revoke (--id N | --token T)
  puente admin mail suppress --email E --reason bounce|complaint [--detail D]
  puente admin mail unsuppress --email E
  puente admin mail suppressions

Run 'puente serve -h' for the settings (flags and environment variables).
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && (args[0] == "" || args[0][0] != '-') {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, stdout, stderr)
	case "migrate":
		return migrateCommand(ctx, args, stdout, stderr)
	case "admin":
		return adminCommand(ctx, args, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, topUsage)
		return nil
	default:
		return usageError{fmt.Sprintf("unknown command %q (commands: serve, migrate, admin; run 'puente help')", cmd)}
	}
}

// oneLine keeps error output to one line, as operators grep for it.
func oneLine(s string) string {
	out := []rune{}
	for _, r := range s {
		if r == '\n' || r == '\r' {
			r = ' '
		}
		out = append(out, r)
	}
	return string(out)
}

// personMessage is a domain error's message in English, from the translation catalogue.
func personMessage(de *domain.Error) string {
	cat, err := i18n.Load(frontend.Locales(), "en")
	if err != nil {
		return de.Error()
	}
	return cat.Localizer("en").T(de.ID, de.Args...)
}
