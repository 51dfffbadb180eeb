package pgserver

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// pidFile is what a running postmaster records in <data>/postmaster.pid: enough to find and
// reach a server another process started.
type pidFile struct {
	pid     int
	port    int
	sockDir string // first of unix_socket_directories, "" if none
	listen  string // first of listen_addresses, "" if none
}

// readPIDFile parses postmaster.pid. The error wraps os.ErrNotExist when there is none.
// Lines: pid, data dir, start time, port, socket dir, listen address, shmem key, status.
func readPIDFile(dataDir string) (pidFile, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return pidFile{}, fmt.Errorf("read postmaster.pid: %w", err)
	}
	lines := strings.Split(string(b), "\n")
	line := func(i int) string {
		if i < len(lines) {
			return strings.TrimSpace(lines[i])
		}
		return ""
	}
	var pf pidFile
	if pf.pid, err = strconv.Atoi(line(0)); err != nil || pf.pid <= 0 {
		return pidFile{}, fmt.Errorf("postmaster.pid: bad pid %q", line(0))
	}
	// The file is written in steps while postgres starts: missing fields are left empty.
	pf.port, _ = strconv.Atoi(line(3))
	pf.sockDir = line(4)
	pf.listen = line(5)
	return pf, nil
}

// host is where a client reaches this server: the socket directory, or for a server without
// one, its first TCP address.
func (pf pidFile) host() string {
	if pf.sockDir != "" {
		return pf.sockDir
	}
	switch pf.listen {
	case "", "*", "0.0.0.0":
		return "127.0.0.1"
	case "::":
		return "::1"
	}
	return pf.listen
}
