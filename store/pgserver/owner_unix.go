//go:build unix

package pgserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
)

// serverUser is the OS user postgres runs as. PostgreSQL refuses to run as root, so when
// Puente is root, initdb and postgres run as an unprivileged user instead.
type serverUser struct {
	uid, gid uint32
	groups   []uint32
	name     string
	switched bool // Puente is root and the children get these credentials
}

// resolveUser picks who runs postgres: this process's user, or when root, the owner of an
// existing cluster (postgres insists on running as its data directory's owner), else the
// postgres user, created if missing.
func resolveUser(ctx context.Context, dataDir string, log *slog.Logger) (serverUser, error) {
	if os.Geteuid() != 0 {
		return serverUser{uid: uint32(os.Geteuid()), gid: uint32(os.Getegid())}, nil
	}
	if st, err := os.Stat(dataDir); err == nil {
		if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Uid != 0 {
			u, err := user.LookupId(strconv.FormatUint(uint64(sys.Uid), 10))
			if err != nil { // a uid without a passwd entry still works, without extra groups
				return serverUser{uid: sys.Uid, gid: sys.Gid, name: "uid " + strconv.FormatUint(uint64(sys.Uid), 10), switched: true}, nil
			}
			return fromUser(u)
		}
	}
	u, err := user.Lookup("postgres")
	var unknown user.UnknownUserError
	if errors.As(err, &unknown) {
		log.Info("creating the postgres system user to run PostgreSQL (it refuses to run as root)")
		out, aerr := exec.CommandContext(ctx, "useradd", "--system", "--no-create-home",
			"--shell", "/usr/sbin/nologin", "postgres").CombinedOutput()
		if aerr != nil {
			return serverUser{}, fmt.Errorf("PostgreSQL cannot run as root and creating a postgres user failed (%s): %w; create one or run Puente as another user", oneLine(string(out)), aerr)
		}
		u, err = user.Lookup("postgres")
	}
	if err != nil {
		return serverUser{}, fmt.Errorf("look up the postgres user: %w", err)
	}
	return fromUser(u)
}

func fromUser(u *user.User) (serverUser, error) {
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return serverUser{}, fmt.Errorf("user %s: uid %q: %w", u.Username, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return serverUser{}, fmt.Errorf("user %s: gid %q: %w", u.Username, u.Gid, err)
	}
	su := serverUser{uid: uint32(uid), gid: uint32(gid), name: u.Username, switched: true}
	ids, _ := u.GroupIds() // extra groups only widen access; without them the check is stricter
	for _, id := range ids {
		if g, err := strconv.ParseUint(id, 10, 32); err == nil {
			su.groups = append(su.groups, uint32(g))
		}
	}
	return su, nil
}

func (u serverUser) credential() *syscall.Credential {
	if !u.switched {
		return nil
	}
	return &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: u.groups}
}

// checkReachable verifies that u can traverse every existing ancestor of dir. Only needed
// when switching user: root reaches everything, the postgres user often cannot (/root is
// 0700). ACLs are not considered. Nothing outside dir is changed: the fix is the user's call.
func checkReachable(dir string, u serverUser) error {
	if !u.switched {
		return nil
	}
	var ancestors []string
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		ancestors = append(ancestors, p)
		if p == filepath.Dir(p) {
			break
		}
	}
	slices.Reverse(ancestors)
	for _, p := range ancestors {
		st, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			return nil // created later with mode 0755, then checked again
		}
		if err != nil {
			return fmt.Errorf("check %s: %w", p, err)
		}
		if !u.canSearch(st) {
			sys, _ := st.Sys().(*syscall.Stat_t)
			var owner uint32
			if sys != nil {
				owner = sys.Uid
			}
			return fmt.Errorf("%w: %s (mode %v, owner uid %d) does not let user %s (uid %d) through to %s; choose a PUENTE_DATA_DIR the %s user can reach, e.g. /var/lib/puente, or set DATABASE_URL to an existing database",
				ErrDirNotReachable, p, st.Mode().Perm(), owner, u.name, u.uid, dir, u.name)
		}
	}
	return nil
}

func (u serverUser) canSearch(st os.FileInfo) bool {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	perm := st.Mode().Perm()
	switch {
	case sys.Uid == u.uid:
		return perm&0o100 != 0
	case sys.Gid == u.gid || slices.Contains(u.groups, sys.Gid):
		return perm&0o010 != 0
	default:
		return perm&0o001 != 0
	}
}

// prepareDir creates dir (mode 0700, parents 0755) and gives it to the server user.
// Returns dir with symlinks resolved: postgres gets the real path, so that is what must be
// reachable, and every process derives the same socket directory from it.
func prepareDir(dir string, u serverUser) (string, error) {
	if err := checkReachable(dir, u); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", filepath.Dir(dir), err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", dir, err)
	}
	if err := checkReachable(real, u); err != nil {
		return "", err
	}
	if err := u.own(real, 0o700); err != nil {
		return "", err
	}
	return real, nil
}

// prepareSocketDir creates the socket directory, mode 0700: only the server user (and root)
// may connect, which is what makes trust authentication safe. A directory under /tmp that
// someone else made is refused rather than used.
func prepareSocketDir(sock string, u serverUser) error {
	if err := os.Mkdir(sock, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create socket directory: %w", err)
	}
	st, err := os.Lstat(sock)
	if err != nil {
		return fmt.Errorf("socket directory: %w", err)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !st.IsDir() || !ok || (sys.Uid != u.uid && sys.Uid != uint32(os.Geteuid())) {
		return fmt.Errorf("socket directory %s is not a directory owned by this user or uid %d; remove it", sock, u.uid)
	}
	return u.own(sock, 0o700)
}

// own gives path to the server user with the given mode.
func (u serverUser) own(path string, mode os.FileMode) error {
	if u.switched {
		if err := os.Lchown(path, int(u.uid), int(u.gid)); err != nil {
			return fmt.Errorf("chown %s: %w", path, err)
		}
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	return nil
}
