package pgserver

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestNoBinaries(t *testing.T) {
	empty := testDir(t)
	dir := filepath.Join(testDir(t), "pg")
	_, err := Start(context.Background(), Options{Dir: dir, BinDir: empty, NoDownload: true})
	if !errors.Is(err, ErrNoPostgres) {
		t.Fatalf("err = %v, want ErrNoPostgres", err)
	}
	if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Fatalf("want one line that says how to fix it, got %q", err)
	}
}

func TestUnreachableDirAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root runs postgres as another user")
	}
	locked := filepath.Join(testDir(t), "locked")
	if err := os.Mkdir(locked, 0o700); err != nil { // like /root
		t.Fatal(err)
	}
	dir := filepath.Join(locked, "puente", "postgres")
	_, err := Start(context.Background(), Options{Dir: dir})
	if !errors.Is(err, ErrDirNotReachable) {
		t.Fatalf("err = %v, want ErrDirNotReachable", err)
	}
	for _, want := range []string{locked, "PUENTE_DATA_DIR", "DATABASE_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(locked, "puente")); !os.IsNotExist(err) {
		t.Errorf("created something under the unreachable directory: %v", err)
	}
	if st, _ := os.Stat(locked); st.Mode().Perm() != 0o700 {
		t.Errorf("changed the mode of %s to %v", locked, st.Mode().Perm())
	}
}

func TestClusterVersionMismatch(t *testing.T) {
	dir := testDir(t)
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data", "PG_VERSION"), []byte("9.4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Start(context.Background(), Options{Dir: dir, NoDownload: true})
	if err == nil || !strings.Contains(err.Error(), "PostgreSQL 9.4") {
		t.Fatalf("err = %v, want one naming the cluster's version", err)
	}
	if _, serr := os.Stat(filepath.Join(dir, "data", "PG_VERSION")); serr != nil {
		t.Fatalf("cluster touched: %v", serr)
	}
	t.Log(err)
}

// fakeBin writes a bin directory whose postgres claims version 15 and whose initdb runs body
// after creating its -D directory.
func fakeBin(t *testing.T, initdb, postgres string) string {
	bin := filepath.Join(testDir(t), "bin")
	writeScript(t, filepath.Join(bin, "initdb"), `while [ $# -gt 0 ]; do [ "$1" = -D ] && d=$2; shift; done
mkdir -p "$d"
`+initdb)
	writeScript(t, filepath.Join(bin, "postgres"), `[ "$1" = --version ] && { echo "postgres (PostgreSQL) 15.99"; exit 0; }
`+postgres)
	return bin
}

func TestInitdbFailureLeavesNothing(t *testing.T) {
	bin := fakeBin(t, `echo 15 > "$d/PG_VERSION"; echo "initdb: error: disk on fire" >&2; exit 1`, "exit 1")
	dir := testDir(t)
	_, err := Start(context.Background(), Options{Dir: dir, BinDir: bin})
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("err = %v, want initdb's output", err)
	}
	for _, p := range []string{"data", "data.init"} {
		if _, serr := os.Stat(filepath.Join(dir, p)); !os.IsNotExist(serr) {
			t.Errorf("%s left behind: %v", p, serr)
		}
	}
}

func TestPostgresFailureQuotesLog(t *testing.T) {
	bin := fakeBin(t, `echo 15 > "$d/PG_VERSION"`, `echo "FATAL:  could not map anonymous shared memory" >&2; exit 1`)
	_, err := Start(context.Background(), Options{Dir: testDir(t), BinDir: bin})
	if err == nil || !strings.Contains(err.Error(), "could not map anonymous shared memory") {
		t.Fatalf("err = %v, want postgres' last log lines", err)
	}
}

func TestNotReadyIsKilled(t *testing.T) {
	pidDir := testDir(t)
	if err := os.Chmod(pidDir, 0o777); err != nil { // the fake postgres may run as the postgres user
		t.Fatal(err)
	}
	pidFile := filepath.Join(pidDir, "pid")
	bin := fakeBin(t, `echo 15 > "$d/PG_VERSION"`, `echo $$ > `+pidFile+`; exec sleep 60`)
	_, err := Start(context.Background(), Options{Dir: testDir(t), BinDir: bin, StartTimeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "did not accept connections") {
		t.Fatalf("err = %v, want a readiness timeout", err)
	}
	b, rerr := os.ReadFile(pidFile)
	if rerr != nil {
		t.Fatal(rerr)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	waitExit(t, pid, 5*time.Second)
}
