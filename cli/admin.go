package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
)

func adminCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		return usageError{"admin needs a subject and an action: user create|list, token create|list|revoke, mail suppress|unsuppress|suppressions (run 'puente help')"}
	}
	what := args[0] + " " + args[1]
	var email, name, token, reason, detail string
	var id int64
	var organiser, admin bool
	var flags func(*flag.FlagSet)
	switch what {
	case "user create":
		flags = func(fs *flag.FlagSet) {
			fs.StringVar(&email, "email", "", "email address (required)")
			fs.StringVar(&name, "name", "", "full name")
			fs.BoolVar(&organiser, "organiser", false, "may create seminar series and conferences")
			fs.BoolVar(&admin, "admin", false, "site admin: manages people and roles")
		}
	case "user list":
		flags = func(fs *flag.FlagSet) {}
	case "token create":
		flags = func(fs *flag.FlagSet) {
			fs.StringVar(&email, "email", "", "whose token (required; the account is created if missing)")
			fs.StringVar(&name, "name", "command line", "a name to recognise the token by")
		}
	case "token list":
		flags = func(fs *flag.FlagSet) { fs.StringVar(&email, "email", "", "whose tokens (required)") }
	case "token revoke":
		flags = func(fs *flag.FlagSet) {
			fs.Int64Var(&id, "id", 0, "the token's id (from 'token list')")
			fs.StringVar(&token, "token", "", "the token itself")
		}
	case "mail suppress":
		flags = func(fs *flag.FlagSet) {
			fs.StringVar(&email, "email", "", "the address that bounced or complained (required)")
			fs.StringVar(&reason, "reason", "", "bounce or complaint (required)")
			fs.StringVar(&detail, "detail", "", "what the bounce or complaint said, for the record")
		}
	case "mail unsuppress":
		flags = func(fs *flag.FlagSet) { fs.StringVar(&email, "email", "", "the address to send to again (required)") }
	case "mail suppressions":
		flags = func(fs *flag.FlagSet) {}
	default:
		return usageError{fmt.Sprintf("admin: unknown command %q (user create|list, token create|list|revoke, mail suppress|unsuppress|suppressions)", what)}
	}
	cfg, fs, err := parseConfig("admin "+what, args[2:], false, flags, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("admin %s: unexpected argument %q", what, fs.Arg(0))}
	}
	needEmail := what == "user create" || what == "token create" || what == "token list" || what == "mail suppress" || what == "mail unsuppress"
	if needEmail && strings.TrimSpace(email) == "" {
		return usageError{fmt.Sprintf("admin %s: --email is required", what)}
	}
	if needEmail {
		if email, err = domain.NormalizeEmail(email); err != nil {
			return usageError{fmt.Sprintf("admin %s: --email %q is not an email address", what, email)}
		}
	}
	if what == "mail suppress" && reason != "bounce" && reason != "complaint" {
		return usageError{fmt.Sprintf("admin mail suppress: --reason must be bounce or complaint, not %q", reason)}
	}
	if what == "token revoke" && (id == 0) == (token == "") {
		return usageError{"admin token revoke: give exactly one of --id or --token"}
	}

	log := newLogger(cfg, stderr)
	db, err := openMigrated(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.close(context.WithoutCancel(ctx))
	st := store.New(db.pool, nil)

	switch what {
	case "user create":
		p, err := st.CreatePerson(ctx, store.NewPerson{Email: email, Name: name, IsAdmin: admin, IsOrganiser: organiser})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created person %d <%s>%s\n", p.ID, p.Email, roles(p))
	case "user list":
		page, err := st.ListPeople(ctx, "", 10000, 0)
		if err != nil {
			return err
		}
		for _, p := range page.People {
			fmt.Fprintf(stdout, "%6d  %-40s %s%s\n", p.ID, p.Email, p.Profile.Name, roles(p))
		}
	case "token create":
		p, created, err := st.EnsurePerson(ctx, email)
		if err != nil {
			return err
		}
		if created {
			fmt.Fprintf(stdout, "created person %d <%s>%s\n", p.ID, p.Email, roles(p))
		}
		secret, hash := domain.NewSecret(domain.PrefixAPIToken)
		t, err := st.CreateAPIToken(ctx, p.ID, name, hash)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "token %d for <%s>; keep it secret (it is not stored and cannot be shown again):\n", t.ID, p.Email)
		fmt.Fprintln(stdout, secret)
	case "token list":
		p, err := st.PersonByEmail(ctx, email)
		if err != nil {
			return err
		}
		tokens, err := st.ListAPITokens(ctx, p.ID)
		if err != nil {
			return err
		}
		for _, t := range tokens {
			state := "active"
			if t.RevokedAt != nil {
				state = "revoked " + t.RevokedAt.UTC().Format("2006-01-02")
			}
			fmt.Fprintf(stdout, "%6d  %-30s created %s  %s\n", t.ID, t.Name, t.CreatedAt.UTC().Format("2006-01-02"), state)
		}
	case "token revoke":
		var t store.APIToken
		if token != "" {
			t, err = st.RevokeAPITokenBySecret(ctx, domain.HashSecret(token))
		} else {
			t, err = st.RevokeAPITokenByID(ctx, id)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked token %d (%s)\n", t.ID, t.Name)
	case "mail suppress":
		if err := st.Suppress(ctx, email, reason, detail); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "no more mail to <%s> (%s); sign-in links still go\n", email, reason)
	case "mail unsuppress":
		was, err := st.Unsuppress(ctx, email)
		if err != nil {
			return err
		}
		if !was {
			fmt.Fprintf(stdout, "<%s> was not suppressed\n", email)
		} else {
			fmt.Fprintf(stdout, "mail goes to <%s> again\n", email)
		}
	case "mail suppressions":
		list, err := st.Suppressions(ctx)
		if err != nil {
			return err
		}
		for _, x := range list {
			fmt.Fprintf(stdout, "%-40s %-9s %s  %s\n", x.Email, x.Reason, x.CreatedAt.UTC().Format("2006-01-02"), x.Detail)
		}
	}
	return nil
}

func roles(p domain.Person) string {
	var r []string
	if p.IsAdmin {
		r = append(r, "admin")
	}
	if p.IsOrganiser {
		r = append(r, "organiser")
	}
	if len(r) == 0 {
		return ""
	}
	return " (" + strings.Join(r, ", ") + ")"
}
