package loadtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/puente-org/puente/store/pgserver"
)

// RoleEnv names the environment variable with which cmd/puente-bench runs itself as one of
// its helper processes: RoleServer (Puente itself) or RoleFloor (the bare relay).
const RoleEnv = "PUENTE_BENCH_ROLE"

// RoleServer is the value of RoleEnv that makes a process the server under test: its main
// calls Puente's (cli.Main).
const RoleServer = "server"

// Server is the Puente process under test.
type Server struct {
	URL         string // base URL
	DatabaseURL string // for setting up people and sessions
	PID         int    // 0 when unknown (a server given by URL without a pid)
	PprofURL    string // the server's profiler, when started with one
	UDPPort     int    // live media's UDP port, when fixed (ServerOptions.FixedUDPPort)

	log    *slog.Logger
	exe    string   // the program
	args   []string // its arguments
	env    []string // its environment
	cmd    *exec.Cmd
	exited chan struct{} // closed when the server process has ended
	err    error         // how it ended; read after exited
	db     *pgserver.Server
	dir    string
	logs   *tailBuffer
}

// ServerOptions configure StartServerWith.
type ServerOptions struct {
	// DatabaseURL is the server's database; "": a private PostgreSQL under a temporary
	// directory.
	DatabaseURL string
	// Binary is the puente binary to run ("puente serve"); "": this executable, as the
	// RoleServer helper (its main must call cli.Main then).
	Binary string
	// FixedUDPPort gives live media a free UDP port of its own (rather than any port the
	// server picks), so that Restart brings the server back on the same one.
	FixedUDPPort bool
	Env          []string // more environment for the server (later values win)
	Log          *slog.Logger
}

// StartServer runs Puente as a child process (this executable, with RoleEnv=server) on a
// free port with live media on loopback, and its own PostgreSQL under a temporary
// directory (or databaseURL when given). It returns when the server is ready.
func StartServer(ctx context.Context, databaseURL string, log *slog.Logger, extraEnv ...string) (*Server, error) {
	return StartServerWith(ctx, ServerOptions{DatabaseURL: databaseURL, Log: log, Env: extraEnv})
}

// StartServerWith runs Puente as a child process as o says, on a free HTTP port with live
// media on loopback; it returns when the server is ready. Kill and Restart crash it and
// bring it back on the same data directory, database and ports.
func StartServerWith(ctx context.Context, o ServerOptions) (*Server, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir, err := os.MkdirTemp("", "puente-bench-")
	if err != nil {
		return nil, err
	}
	// As root the private PostgreSQL runs as the postgres user, who must reach its directory.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	s := &Server{dir: dir, logs: &tailBuffer{max: 16 << 10}, log: log}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	databaseURL := o.DatabaseURL
	if databaseURL == "" {
		log.Info("starting a private PostgreSQL", "dir", dir)
		s.db, err = pgserver.Start(ctx, pgserver.Options{Dir: filepath.Join(dir, "postgres"), Fast: true, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("start PostgreSQL (install it, or pass --database-url): %w", err)
		}
		if err := createDatabase(ctx, s.db.ConnString("postgres"), "puente_bench"); err != nil {
			return nil, err
		}
		databaseURL = s.db.ConnString("puente_bench")
	}
	s.DatabaseURL = databaseURL
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s.URL = fmt.Sprintf("http://127.0.0.1:%d", port)
	s.exe = o.Binary
	if s.exe == "" {
		if s.exe, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	s.args = []string{"serve"}
	pprofPort, err := freePort()
	if err != nil {
		return nil, err
	}
	udp := "PUENTE_RTC_UDP_PORT=0"
	if o.FixedUDPPort {
		if s.UDPPort, err = freeUDPPort(); err != nil {
			return nil, err
		}
		udp = fmt.Sprintf("PUENTE_RTC_UDP_PORT=%d", s.UDPPort)
	}
	s.PprofURL = fmt.Sprintf("http://127.0.0.1:%d", pprofPort)
	s.env = append(os.Environ(), RoleEnv+"="+RoleServer, "DATABASE_URL="+databaseURL,
		"PUENTE_DATA_DIR="+filepath.Join(dir, "data"), fmt.Sprintf("PUENTE_ADDR=127.0.0.1:%d", port),
		"PUENTE_BASE_URL="+s.URL, "PUENTE_RTC_LOOPBACK_ONLY=true", udp, "PUENTE_RTC_TCP_PORT=-1",
		"PUENTE_LOG_LEVEL=warn", "SMTP_URL=", fmt.Sprintf("PUENTE_PPROF_ADDR=127.0.0.1:%d", pprofPort))
	if o.Binary != "" {
		s.env = append(s.env, RoleEnv+"=") // the real binary ignores it; say so anyway
	}
	s.env = append(s.env, o.Env...)
	if _, err := s.spawn(ctx, 60*time.Second); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

// spawn starts the server process and waits until /readyz answers 200 (within limit),
// returning that moment.
func (s *Server) spawn(ctx context.Context, limit time.Duration) (time.Time, error) {
	s.cmd = exec.Command(s.exe, s.args...)
	s.cmd.Env = s.env
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := s.cmd.Start(); err != nil {
		return time.Time{}, fmt.Errorf("start the server: %w", err)
	}
	s.PID = s.cmd.Process.Pid
	exited := make(chan struct{})
	s.exited = exited
	cmd := s.cmd
	go func() { s.err = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(limit)
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/readyz", nil)
		if err != nil {
			return time.Time{}, err
		}
		res, err := hc.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return time.Now(), nil
			}
		}
		select {
		case <-exited:
			return time.Time{}, fmt.Errorf("the server exited (%v): %s", s.err, s.logs.String())
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("the server was not ready within %s: %s", limit, s.logs.String())
		}
	}
}

// Kill ends the server process with SIGKILL, as a crash would (no goodbye to anyone), and
// waits until it is gone. Its database and data directory stay.
func (s *Server) Kill() error {
	if s.cmd == nil || s.exited == nil {
		return errors.New("kill: the server was not started here")
	}
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill: %w", err)
	}
	<-s.exited
	return nil
}

// Restart starts the server again after Kill, on the same data directory, database and
// ports (HTTP, and live media's UDP port when fixed), and returns the moment its /readyz
// first answered 200.
func (s *Server) Restart(ctx context.Context) (time.Time, error) {
	if s.exited == nil {
		return time.Time{}, errors.New("restart: the server was not started here")
	}
	select {
	case <-s.exited:
	default:
		return time.Time{}, errors.New("restart: the server is still running (Kill it first)")
	}
	return s.spawn(ctx, 60*time.Second)
}

// Logs is the end of the server's output.
func (s *Server) Logs() string { return s.logs.String() }

// Close stops the server and its database and removes the temporary directory.
func (s *Server) Close() {
	if s.exited != nil {
		select {
		case <-s.exited:
		default:
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.exited:
			case <-time.After(10 * time.Second):
				_ = s.cmd.Process.Kill()
				<-s.exited
			}
		}
	}
	if s.db != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_ = s.db.Stop(ctx)
		cancel()
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}

func createDatabase(ctx context.Context, admin, name string) error {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return fmt.Errorf("create database: %w", err)
		}
	}
	return nil
}

// freeUDPPort is a UDP port on 127.0.0.1 that nothing uses now.
func freeUDPPort() (int, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Metrics reads some of the server's Prometheus metrics (counters and gauges by name, the
// first series of each).
func Metrics(ctx context.Context, base string, names ...string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
		}
		if !want[name] {
			continue
		}
		if _, seen := out[name]; seen {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
			out[name] = v
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		return out, err
	}
	return out, nil
}

// tailBuffer keeps the last max bytes written to it (a child process's output, for errors).
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// suffix is ": <output>" when the child wrote anything.
func (t *tailBuffer) suffix() string {
	if s := strings.TrimSpace(t.String()); s != "" {
		return ": " + s
	}
	return ""
}

// Profile records the server's profile of a kind over d into file (Go's pprof format):
// "profile" is CPU; "allocs" writes the allocations so far to file+".base" now and to file
// at the end, each after a garbage collection so the counts are current (read the window
// with go tool pprof -sample_index=alloc_objects -base file.base file).
func (s *Server) Profile(ctx context.Context, kind string, d time.Duration, file string) error {
	if s.PprofURL == "" {
		return errors.New("the server has no profiler (only servers puente-bench starts have one)")
	}
	if kind == "allocs" {
		if err := s.fetchProfile(ctx, "/debug/pprof/heap?gc=1", file+".base"); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
		return s.fetchProfile(ctx, "/debug/pprof/heap?gc=1", file)
	}
	return s.fetchProfile(ctx, fmt.Sprintf("/debug/pprof/%s?seconds=%d", kind, int(d.Seconds())), file)
}

func (s *Server) fetchProfile(ctx context.Context, path, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.PprofURL+path, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("profile: %s", res.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
