package pgserver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestStartAttachStop(t *testing.T) {
	dir := filepath.Join(testDir(t), "pg data") // a space: socket path and DSN quoting
	owner := startServer(t, Options{Dir: dir, Fast: true})
	if !owner.Owned() {
		t.Fatal("first Start: Owned() = false")
	}
	selectOne(t, owner)

	// What a second Puente process (admin, migrate) does while serve runs.
	attached := startServer(t, Options{Dir: dir})
	if attached.Owned() {
		t.Fatal("second Start: Owned() = true")
	}
	if attached.PID() != owner.PID() {
		t.Fatalf("attached to pid %d, owner runs %d", attached.PID(), owner.PID())
	}
	if attached.ConnString("x") != owner.ConnString("x") {
		t.Fatalf("conn strings differ: %q vs %q", attached.ConnString("x"), owner.ConnString("x"))
	}
	selectOne(t, attached)
	if err := attached.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	selectOne(t, owner) // stopping an attached server leaves it running

	if err := owner.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitExit(t, owner.PID(), 5*time.Second)
	if _, err := os.Stat(filepath.Join(owner.DataDir(), "postmaster.pid")); !os.IsNotExist(err) {
		t.Fatalf("postmaster.pid after Stop: %v (want a clean shutdown)", err)
	}
	if err := owner.Stop(context.Background()); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if err := tryConnect(context.Background(), owner.ConnString("postgres")); err == nil {
		t.Fatal("connected after Stop")
	}
}

func TestRestartKeepsData(t *testing.T) {
	for _, fast := range []bool{true, false} {
		t.Run(fmt.Sprintf("fast=%v", fast), func(t *testing.T) { restartKeepsData(t, fast) })
	}
}

// restartKeepsData: committed data survives a stop and start, both with the durable
// settings (immediate shutdown and WAL replay) and with Fast (fast shutdown).
func restartKeepsData(t *testing.T, fast bool) {
	dir := testDir(t)
	ctx := context.Background()
	s := startServer(t, Options{Dir: dir, Fast: fast})
	if _, err := connect(t, s).Exec(ctx, "create table kept (v text); insert into kept values ('hello')"); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	waitExit(t, s.PID(), 5*time.Second)

	s = startServer(t, Options{Dir: dir, Fast: fast})
	if !s.Owned() {
		t.Fatal("restart: Owned() = false")
	}
	var v string
	if err := connect(t, s).QueryRow(ctx, "select v from kept").Scan(&v); err != nil || v != "hello" {
		t.Fatalf("read back: %q, %v", v, err)
	}
}

// Processes starting at once on a new directory: one runs initdb and postgres, the others
// wait and attach. flock works between separate opens in one process too.
func TestConcurrentStart(t *testing.T) {
	dir := testDir(t)
	const n = 3
	servers := make([]*Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { servers[i], errs[i] = Start(context.Background(), Options{Dir: dir, Fast: true}) })
	}
	wg.Wait()
	owned := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Start %d: %v", i, errs[i])
		}
		if servers[i].Owned() {
			owned++
		}
	}
	for _, s := range servers {
		t.Cleanup(func() { _ = s.Stop(context.Background()) })
	}
	if owned != 1 {
		t.Fatalf("%d servers owned, want 1", owned)
	}
	for _, s := range servers {
		selectOne(t, s)
	}
}

// A data directory deeper than a socket path allows gets its socket under /tmp.
func TestLongDirSocketInTmp(t *testing.T) {
	dir := filepath.Join(testDir(t), strings.Repeat("d", 60), strings.Repeat("e", 60))
	s := startServer(t, Options{Dir: dir, Fast: true})
	if !strings.HasPrefix(s.host, "/tmp/puente-pg-") {
		t.Fatalf("socket dir %q, want /tmp/puente-pg-*", s.host)
	}
	t.Cleanup(func() { _ = os.RemoveAll(s.host) })
	st, err := os.Stat(s.host)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("socket dir: %v, %v (want mode 0700)", st.Mode(), err)
	}
	selectOne(t, s)
}
