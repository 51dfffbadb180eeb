package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
)

func migrateCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, fs, err := parseConfig("migrate", args, false, nil, stderr)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stderr, "Subcommands: up (apply all), status, down (roll back one step)")
		return nil
	}
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"migrate needs one of: up, status, down"}
	}
	action := fs.Arg(0)
	if action != "up" && action != "status" && action != "down" {
		return usageError{fmt.Sprintf("migrate: unknown action %q (use up, status or down)", action)}
	}
	log := newLogger(cfg, stderr)
	db, err := openDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.close(context.WithoutCancel(ctx))
	p, err := migrationsProvider(db)
	if err != nil {
		return err
	}
	switch action {
	case "up":
		if err := db.migrate(ctx, log); err != nil {
			return err
		}
		v, err := p.GetDBVersion(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "schema is at version %d\n", v)
	case "down":
		r, err := p.Down(ctx)
		if err != nil {
			return fmt.Errorf("migrate down: %w", err)
		}
		fmt.Fprintf(stdout, "rolled back %s (version %d)\n", r.Source.Path, r.Source.Version)
	case "status":
		statuses, err := p.Status(ctx)
		if err != nil {
			return fmt.Errorf("migrate status: %w", err)
		}
		for _, s := range statuses {
			applied := "pending"
			if !s.AppliedAt.IsZero() {
				applied = "applied " + s.AppliedAt.UTC().Format("2006-01-02 15:04:05 UTC")
			}
			fmt.Fprintf(stdout, "%5d  %-40s %s\n", s.Source.Version, s.Source.Path, applied)
		}
	}
	return nil
}
