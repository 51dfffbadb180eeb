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

	cmd    *exec.Cmd
	exited chan struct{} // closed when the server process has ended
	db     *pgserver.Server
	dir    string
	logs   *tailBuffer
}

// StartServer runs Puente as a child process (this executable, with RoleEnv=server) on a
// free port with live media on loopback, and its own PostgreSQL under a temporary
// directory (or databaseURL when given). It returns when the server is ready.
func StartServer(ctx context.Context, databaseURL string, log *slog.Logger, extraEnv ...string) (*Server, error) {
	dir, err := os.MkdirTemp("", "puente-bench-")
	if err != nil {
		return nil, err
	}
	// As root the private PostgreSQL runs as the postgres user, who must reach its directory.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	s := &Server{dir: dir, logs: &tailBuffer{max: 16 << 10}}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
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
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	pprofPort, err := freePort()
	if err != nil {
		return nil, err
	}
	s.PprofURL = fmt.Sprintf("http://127.0.0.1:%d", pprofPort)
	s.cmd = exec.Command(exe, "serve")
	s.cmd.Env = append(os.Environ(), RoleEnv+"="+RoleServer, "DATABASE_URL="+databaseURL,
		"PUENTE_DATA_DIR="+filepath.Join(dir, "data"), fmt.Sprintf("PUENTE_ADDR=127.0.0.1:%d", port),
		"PUENTE_BASE_URL="+s.URL, "PUENTE_RTC_LOOPBACK_ONLY=true", "PUENTE_RTC_UDP_PORT=0", "PUENTE_RTC_TCP_PORT=-1",
		"PUENTE_LOG_LEVEL=warn", "SMTP_URL=", fmt.Sprintf("PUENTE_PPROF_ADDR=127.0.0.1:%d", pprofPort))
	s.cmd.Env = append(s.cmd.Env, extraEnv...)
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the server: %w", err)
	}
	s.PID = s.cmd.Process.Pid
	exited := make(chan error, 1)
	s.exited = make(chan struct{})
	go func() { exited <- s.cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(s.URL + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("the server exited (%v): %s", err, s.logs.String())
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the server was not ready within 60 s: %s", s.logs.String())
		}
	}
	ok = true
	return s, nil
}

// Logs is the end of the server's output.
func (s *Server) Logs() string { return s.logs.String() }

// Close stops the server and its database and removes the temporary directory.
func (s *Server) Close() {
	if s.exited != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
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
