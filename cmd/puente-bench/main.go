// Command puente-bench measures a Puente server under load: Pion clients that speak
// Puente's signaling protocol join a live session as speakers and viewers with synthetic
// but well-formed VP8 and Opus, while the server process's own CPU and memory are read from
// /proc; the same packets are then relayed by a bare SRTP relay (the floor) to compare
// with. It starts its own server (and PostgreSQL) unless given --url. The restart scenario
// kills that server with SIGKILL during a room and starts it again, and measures how the
// participants resume. See docs/benchmarks.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/puente-org/puente/cli"
	"github.com/puente-org/puente/loadtest"
)

func main() {
	switch os.Getenv(loadtest.RoleEnv) {
	case loadtest.RoleServer: // the server under test, as a process of its own
		os.Exit(cli.Main(os.Args[1:]))
	case loadtest.RoleFloor:
		os.Exit(loadtest.FloorMain())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "puente-bench: "+err.Error())
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

type usage struct{ msg string }

func (u usage) Error() string { return u.msg }
func (u usage) Unwrap() error { return errUsage }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("puente-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o loadtest.Options
	var jsonOut, verbose bool
	var concurrency int
	fs.StringVar(&o.Scenario, "scenario", "webinar", "webinar, panel, audio, join-storm, simulcast (live media); capacity (webinar, viewers added --step at a time until a limit); restart (a server crash during a room); register, feed (HTTP)")
	fs.IntVar(&o.Viewers, "viewers", 20, "viewers (listeners) joining the session; capacity: the most tried (default 1000)")
	fs.IntVar(&o.Step, "step", 50, "capacity: viewers added per step (each step measured over --duration)")
	fs.BoolVar(&o.LightViewers, "light-viewers", true, "live media but simulcast: all viewers but one (and the --constrained ones) count media from the clear RTP headers without decrypting it (=false: every viewer decrypts)")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "measured time, after everyone joined and 2 s of warm-up; restart: chat time, half before the crash and half after everyone is back")
	fs.DurationVar(&o.StormWindow, "storm-window", 5*time.Second, "join-storm: the viewers arrive evenly within this time")
	fs.StringVar(&o.URL, "url", "", "a running Puente to measure (default: start one, with its own PostgreSQL)")
	fs.StringVar(&o.DatabaseURL, "database-url", "", "the server's database (required with --url; default: a private one)")
	fs.IntVar(&o.ServerPID, "server-pid", 0, "with --url: the server's process id, for its CPU and memory figures")
	fs.BoolVar(&o.Pin, "pin", true, "pin the server (and the floor) to the last CPU and the generator to the others")
	fs.BoolVar(&o.Floor, "floor", true, "also measure the bare SRTP relay with the same packets")
	fs.IntVar(&o.Bitrate, "bitrate", 2_000_000, "video bits per second of each speaker")
	fs.StringVar(&o.Profile, "profile", "", "write the server's CPU profile of the measured window to this file (go tool pprof)")
	fs.StringVar(&o.AllocProfile, "alloc-profile", "", "write the server's allocations of the measured window to this file (go tool pprof -sample_index=alloc_objects)")
	fs.BoolVar(&o.BatchWrites, "batch-writes", false, "the server sends each packet's copies to the viewers in one sendmmsg (the floor is measured with sendto and with sendmmsg, and is the better of the two)")
	fs.IntVar(&o.Constrained, "constrained", 0, "live media: this many of the viewers receive through a shaped link (a token bucket of --constrained-kbps with a 100 ms queue and tail drops)")
	fs.IntVar(&o.ConstrainedKbps, "constrained-kbps", 400, "the shaped link's rate in kbps (UDP payload) for --constrained viewers")
	fs.BoolVar(&o.AdaptToBandwidth, "adapt-to-bandwidth", true, "start the server with bandwidth estimation on (PUENTE_RTC_ADAPT_TO_BANDWIDTH; the server's default) or off (=false)")
	fs.IntVar(&concurrency, "concurrency", 16, "register, feed: concurrent HTTP clients")
	fs.IntVar(&o.Requests, "requests", 0, "register: how many people register (default: viewers × 20, at least 2000); with --concurrency as many, all at once")
	fs.IntVar(&o.Capacity, "capacity", 0, "register: the session's places (0: unlimited); the others join its waitlist")
	fs.StringVar(&o.ServerBinary, "server-binary", "", "run this puente binary as the server (default: this program plays the server)")
	fs.DurationVar(&o.ResumeTimeout, "resume-timeout", loadtest.DefaultResumeTimeout, "restart: how long to wait for everyone to be back before giving up")
	fs.BoolVar(&jsonOut, "json", false, "print the results as one JSON object on the last line")
	fs.BoolVar(&verbose, "v", false, "log progress")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usage{err.Error()}
	}
	if fs.NArg() > 0 {
		return usage{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	adaptSet := set["adapt-to-bandwidth"]
	if o.Scenario == loadtest.Capacity && !set["viewers"] {
		o.Viewers = 1000
	}
	switch {
	case o.Viewers < 0 || o.Viewers > 5000:
		return usage{"--viewers must be from 0 to 5000"}
	case o.Duration < time.Second:
		return usage{"--duration must be at least 1s"}
	case o.Bitrate < 50_000 || o.Bitrate > 20_000_000:
		return usage{"--bitrate must be from 50000 to 20000000"}
	case concurrency < 1 || concurrency > 1024:
		return usage{"--concurrency must be from 1 to 1024"}
	case o.Requests < 0 || o.Requests > 100_000:
		return usage{"--requests must be from 0 to 100000"}
	case o.Capacity < 0:
		return usage{"--capacity must be 0 (unlimited) or more"}
	case o.ResumeTimeout < time.Second:
		return usage{"--resume-timeout must be at least 1s"}
	case o.Constrained < 0 || o.Constrained > o.Viewers:
		return usage{fmt.Sprintf("--constrained must be from 0 to --viewers (%d)", o.Viewers)}
	case o.ConstrainedKbps < 16 || o.ConstrainedKbps > 1_000_000:
		return usage{"--constrained-kbps must be from 16 to 1000000"}
	case o.Step < 1 || o.Step > 5000:
		return usage{"--step must be from 1 to 5000"}
	}
	media := false
	switch o.Scenario {
	case loadtest.Webinar, loadtest.Panel, loadtest.AudioOnly, loadtest.JoinStorm, loadtest.Simulcast:
		media = true
	case loadtest.Capacity:
		media = true
		switch {
		case !o.Pin:
			return usage{"--pin=false cannot be used with --scenario capacity: the server's capacity is per core, so it runs pinned to one"}
		case o.URL != "" && o.ServerPID == 0:
			return usage{"--scenario capacity with --url needs --server-pid (the server's CPU is the limit)"}
		case o.Viewers < 1:
			return usage{"--viewers must be at least 1 with --scenario capacity"}
		case o.Constrained > 0:
			return usage{"--constrained cannot be used with --scenario capacity"}
		}
		o.Floor = false
	case "register", "feed":
	case loadtest.Restart:
		switch {
		case o.URL != "":
			return usage{"--url cannot be used with --scenario restart: it kills and restarts the server it starts itself"}
		case o.Viewers < 1:
			return usage{"--viewers must be at least 1 with --scenario restart (one viewer raises a hand)"}
		case o.Duration < 2*time.Second:
			return usage{"--duration must be at least 2s with --scenario restart (half before the crash, half after)"}
		}
	default:
		return usage{fmt.Sprintf("--scenario %q is not one of webinar, panel, audio, join-storm, simulcast, capacity, restart, register, feed", o.Scenario)}
	}
	if adaptSet && o.URL != "" {
		return usage{"--adapt-to-bandwidth sets estimation on the server this program starts; with --url, set it on that server (PUENTE_RTC_ADAPT_TO_BANDWIDTH)"}
	}
	if set["light-viewers"] && (!media || o.Scenario == loadtest.Simulcast) {
		return usage{fmt.Sprintf("--light-viewers works with the live media scenarios but simulcast (whose viewers read layer marks in the payload), not --scenario %s", o.Scenario)}
	}
	if set["step"] && o.Scenario != loadtest.Capacity {
		return usage{"--step works with --scenario capacity only"}
	}
	if o.Constrained > 0 && !media {
		return usage{fmt.Sprintf("--constrained works with the live media scenarios, not --scenario %s", o.Scenario)}
	}
	if o.ServerBinary != "" {
		fi, err := os.Stat(o.ServerBinary)
		if err != nil {
			return usage{fmt.Sprintf("--server-binary: %v", err)}
		}
		if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return usage{fmt.Sprintf("--server-binary %q is not an executable file", o.ServerBinary)}
		}
	}
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	o.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	var result any
	var err error
	switch o.Scenario {
	case "register", "feed":
		result, err = loadtest.RunHTTPScenario(ctx, o, concurrency)
	case loadtest.Restart:
		result, err = loadtest.RunRestart(ctx, o)
	default:
		result, err = loadtest.Run(ctx, o)
		if errors.Is(err, loadtest.ErrGeneratorBottleneck) {
			// The capacity steps so far are printed: they hold, but the limit is not the
			// server's.
			if b, jerr := json.Marshal(result); jerr == nil {
				fmt.Fprintln(stdout, string(b))
			}
		}
	}
	if err != nil {
		return err
	}
	if jsonOut {
		b, err := json.Marshal(result)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, string(b))
		return nil
	}
	b, _ := json.MarshalIndent(result, "", "  ")
	fmt.Fprintln(stdout, string(b))
	return nil
}
