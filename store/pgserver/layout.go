package pgserver

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strconv"
)

// pgPort names the socket file. There is no TCP listener, so the usual number cannot clash.
const pgPort = 5432

// maxSocketPath keeps the socket path under the OS limit (sun_path: 108 bytes on Linux,
// 104 on macOS), with a margin.
const maxSocketPath = 100

// layout is where everything lives inside Options.Dir. It is a pure function of the
// directory so that every process using the same Dir finds the same server.
type layout struct {
	dir      string // absolute, symlinks resolved
	data     string // the cluster
	initData string // initdb writes here, renamed to data once complete
	sock     string // Unix socket directory
	lock     string // serialises starting between processes
	log      string // postgres' stderr
	embedded string // the embedded-postgres fallback's runtime, binaries and password
}

func newLayout(dir string) layout {
	return layout{
		dir:      dir,
		data:     filepath.Join(dir, "data"),
		initData: filepath.Join(dir, "data.init"),
		sock:     socketDir(dir),
		lock:     filepath.Join(dir, "start.lock"),
		log:      filepath.Join(dir, "postgres.log"),
		embedded: filepath.Join(dir, "embedded"),
	}
}

// socketDir is <dir>/run when the socket path fits, else a short directory under /tmp named
// after a hash of dir, so that deep data directories still work. It is /tmp and not
// os.TempDir(): TMPDIR may differ between the processes that must find the same socket.
func socketDir(dir string) string {
	run := filepath.Join(dir, "run")
	if len(filepath.Join(run, socketName(pgPort))) <= maxSocketPath {
		return run
	}
	sum := sha256.Sum256([]byte(dir))
	return filepath.Join("/tmp", "puente-pg-"+hex.EncodeToString(sum[:6]))
}

func socketName(port int) string {
	return ".s.PGSQL." + strconv.Itoa(port)
}
