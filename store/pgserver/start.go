//go:build unix

package pgserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// errOtherPostmaster: postgres refused to start because a server not started through our
// start lock (an older Puente, a manual pg_ctl) already runs on the data directory.
var errOtherPostmaster = errors.New("another postmaster is running on the data directory")

// starter carries what one Start call needs.
type starter struct {
	o       Options
	log     *slog.Logger
	l       layout
	user    serverUser
	timeout time.Duration
}

// Start starts PostgreSQL on o.Dir, initialising the cluster on first use, or attaches to
// the server another process already runs there. It returns once a connection succeeds.
func Start(ctx context.Context, o Options) (*Server, error) {
	s, err := start(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("pgserver: %w", err)
	}
	return s, nil
}

func start(ctx context.Context, o Options) (*Server, error) {
	if o.Dir == "" {
		return nil, errors.New("Options.Dir is empty")
	}
	st := &starter{o: o, log: o.Logger, timeout: o.StartTimeout}
	if st.log == nil {
		st.log = slog.New(slog.DiscardHandler)
	}
	if st.timeout <= 0 {
		st.timeout = defaultStartTimeout
	}
	abs, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if st.user, err = resolveUser(ctx, filepath.Join(abs, "data"), st.log); err != nil {
		return nil, err
	}
	dir, err := prepareDir(abs, st.user)
	if err != nil {
		return nil, err
	}
	st.l = newLayout(dir)
	s, err := st.locked(ctx)
	if err != nil {
		return nil, err
	}
	s.relaunch = st.locked
	return s, nil
}

// locked attaches or starts under the start lock that several Puente processes share.
func (st *starter) locked(ctx context.Context) (*Server, error) {
	lctx, cancel := context.WithTimeout(ctx, st.timeout)
	unlock, err := lockStart(lctx, st.l.lock)
	cancel()
	if err != nil {
		return nil, err
	}
	defer unlock()
	return st.run(ctx)
}

// run attaches to a running server or starts one. A server that is stopping while we look
// makes postgres refuse to start until it is gone, hence the few rounds.
func (st *starter) run(ctx context.Context) (*Server, error) {
	for round := 0; ; round++ {
		if s, err := st.attach(ctx, false); err == nil {
			return s, nil
		}
		s, err := st.launch(ctx)
		if !errors.Is(err, errOtherPostmaster) {
			return s, err
		}
		st.log.Info("PostgreSQL is already starting or stopping on this directory; waiting", "dir", st.l.data)
		s, err = st.attach(ctx, true)
		if err == nil || !errors.Is(err, errServerGone) || round == 2 {
			return s, err
		}
	}
}

// attach returns the server recorded in postmaster.pid once it accepts a connection: at
// once (one try) or, with wait, within the start timeout.
func (st *starter) attach(ctx context.Context, wait bool) (*Server, error) {
	pf, err := readPIDFile(st.l.data)
	if err != nil {
		return nil, err
	}
	if !processAlive(pf.pid) {
		return nil, errServerGone
	}
	s := st.newServer(pf.pid, pf.host(), pf.port)
	if !wait {
		if err := tryConnect(ctx, s.ConnString("postgres")); err != nil {
			return nil, err
		}
	} else {
		// postmaster.pid is written in steps while the server starts: re-read it each try.
		dsn := func() string {
			if pf, err := readPIDFile(st.l.data); err == nil {
				s.pid, s.host, s.port = pf.pid, pf.host(), pf.port
			}
			return s.ConnString("postgres")
		}
		gone := func() bool { return !processAlive(s.pid) }
		if err := waitReady(ctx, st.timeout, dsn, gone); err != nil {
			return nil, fmt.Errorf("attach to PostgreSQL (pid %d) on %s: %w", s.pid, st.l.data, err)
		}
	}
	st.log.Info("attached to running PostgreSQL", "pid", s.pid, "dir", st.l.data)
	return s, nil
}

func (st *starter) newServer(pid int, host string, port int) *Server {
	return &Server{
		log:      st.log,
		dataDir:  st.l.data,
		host:     host,
		port:     port,
		password: st.password(),
		pid:      pid,
		fast:     st.o.Fast,
		quit:     make(chan struct{}),
	}
}

// launch finds server binaries, makes the cluster if there is none, and starts postgres.
func (st *starter) launch(ctx context.Context) (*Server, error) {
	major, err := clusterMajor(st.l.data)
	if err != nil {
		return nil, err
	}
	bins, err := findBinaries(ctx, searchDirs(st.o.BinDir), major)
	if errors.Is(err, errNoBinaries) {
		st.log.Warn("no PostgreSQL server binaries found", "searched", searchDirs(st.o.BinDir))
		if st.o.NoDownload || os.Geteuid() == 0 { // embedded-postgres cannot run as root
			return nil, ErrNoPostgres
		}
		return st.startEmbedded(ctx, major)
	}
	if err != nil {
		return nil, err
	}
	if major == "" {
		if err := st.initdb(ctx, bins); err != nil {
			return nil, err
		}
	}
	return st.startPostgres(ctx, bins)
}

// password is the one an embedded-postgres cluster was made with ("" for ours: trust).
func (st *starter) password() string {
	b, err := os.ReadFile(filepath.Join(st.l.embedded, "password"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
