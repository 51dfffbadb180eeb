package pgserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// errNoBinaries: no directory holds both initdb and postgres.
var errNoBinaries = errors.New("no PostgreSQL server binaries found")

// binaries is a directory holding initdb and postgres of one major version.
type binaries struct {
	dir   string
	major string // "15", or "9.6" before PostgreSQL 10
}

func (b binaries) initdb() string   { return filepath.Join(b.dir, "initdb") }
func (b binaries) postgres() string { return filepath.Join(b.dir, "postgres") }

// searchDirs lists directories that may hold server binaries, preferred first. Distributions
// rarely put initdb and postgres on PATH (Debian does not), hence the known locations.
func searchDirs(binDir string) []string {
	if binDir != "" {
		return []string{binDir}
	}
	var dirs []string
	dirs = append(dirs, globNewestFirst("/usr/lib/postgresql/*/bin")...) // Debian, Ubuntu
	dirs = append(dirs, "/usr/local/pgsql/bin")                          // built from source
	dirs = append(dirs, globNewestFirst("/usr/pgsql-*/bin")...)          // PGDG RPMs
	dirs = append(dirs, globNewestFirst("/opt/homebrew/opt/postgresql*/bin")...)
	dirs = append(dirs, globNewestFirst("/usr/local/opt/postgresql*/bin")...)
	if p, err := exec.LookPath("postgres"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	return dirs
}

// globNewestFirst sorts matches by the version number in the matched directory name, so
// that /usr/lib/postgresql/16 comes before /usr/lib/postgresql/9.6.
func globNewestFirst(pattern string) []string {
	m, _ := filepath.Glob(pattern) // the only error is a bad pattern, and these are constant
	slices.SortStableFunc(m, func(a, b string) int {
		return slices.Compare(versionKey(b), versionKey(a))
	})
	return m
}

// versionKey extracts the numbers of the directory above bin: "postgresql@9.6" -> [9 6].
func versionKey(binDir string) []int {
	name := filepath.Base(filepath.Dir(binDir))
	fields := strings.FieldsFunc(name, func(r rune) bool { return r < '0' || r > '9' })
	key := make([]int, 0, len(fields))
	for _, f := range fields {
		n, _ := strconv.Atoi(f)
		key = append(key, n)
	}
	return key
}

// findBinaries returns the first directory whose server major version is want, or the first
// one at all when want is empty (no cluster yet). A cluster can only be run by binaries of
// the major version that made it, so a mismatch is an error that names what was found.
func findBinaries(ctx context.Context, dirs []string, want string) (binaries, error) {
	var seen, found []string
	for _, d := range dirs {
		b := binaries{dir: d}
		if !isExecutable(b.initdb()) || !isExecutable(b.postgres()) {
			continue
		}
		// The same install is often reachable by several paths (/usr/local/bin symlinks).
		key, err := filepath.EvalSymlinks(b.postgres())
		if err != nil || slices.Contains(seen, key) {
			continue
		}
		seen = append(seen, key)
		major, err := serverMajor(ctx, b.postgres())
		if err != nil {
			continue // a broken install should not hide a working one further down the list
		}
		b.major = major
		if want == "" || major == want {
			return b, nil
		}
		found = append(found, fmt.Sprintf("%s (PostgreSQL %s)", d, major))
	}
	if len(found) > 0 {
		return binaries{}, fmt.Errorf("the cluster was made by PostgreSQL %s but only other versions were found: %s; install the PostgreSQL %s server (or set its bin directory), or upgrade the cluster with pg_upgrade",
			want, strings.Join(found, ", "), want)
	}
	return binaries{}, errNoBinaries
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}

// serverMajor asks postgres for its version ("postgres (PostgreSQL) 15.20 (Debian ...)").
// postgres answers --version before its refusal to run as root, so this works as root.
func serverMajor(ctx context.Context, postgres string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, postgres, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", postgres, err)
	}
	return parseMajor(string(out))
}

func parseMajor(version string) (string, error) {
	_, rest, ok := strings.Cut(version, "(PostgreSQL) ")
	if !ok {
		return "", fmt.Errorf("unexpected version output %q", version)
	}
	parts := strings.SplitN(strings.Fields(rest + " ")[0], ".", 3)
	nums := make([]int, 0, 2)
	for _, p := range parts {
		// "17devel", "16beta2": keep the leading digits.
		end := strings.IndexFunc(p, func(r rune) bool { return r < '0' || r > '9' })
		if end >= 0 {
			p = p[:end]
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			break
		}
		nums = append(nums, n)
	}
	switch {
	case len(nums) == 0:
		return "", fmt.Errorf("unexpected version output %q", version)
	case nums[0] >= 10:
		return strconv.Itoa(nums[0]), nil
	case len(nums) >= 2:
		return fmt.Sprintf("%d.%d", nums[0], nums[1]), nil // 9.6: the major had two numbers
	default:
		return "", fmt.Errorf("unexpected version output %q", version)
	}
}

// clusterMajor returns the major version recorded in a data directory, or "" when there is
// no cluster there.
func clusterMajor(dataDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "PG_VERSION"))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read cluster version: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}
