//go:build linux

package pgserver

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const childDirEnv = "PGSERVER_TEST_PARENT_DEATH_DIR"

// The test binary re-runs itself as a Puente stand-in that starts the server, prints the
// postmaster's pid and waits; killing it with SIGKILL must take postgres down too, cleanly.
func TestParentKilledStopsPostgres(t *testing.T) {
	if dir := os.Getenv(childDirEnv); dir != "" {
		s, err := Start(context.Background(), Options{Dir: dir, Fast: true})
		if err != nil {
			fmt.Println("ERROR", err)
			os.Exit(1)
		}
		fmt.Println("PID", s.PID())
		select {} // until killed
	}

	dir := filepath.Join(testDir(t), "pg")
	cmd := exec.Command(os.Args[0], "-test.run=^TestParentKilledStopsPostgres$")
	cmd.Env = append(os.Environ(), childDirEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	pid := 0
	timeout := time.After(60 * time.Second)
	for pid == 0 {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatal("child exited without starting postgres")
			}
			if rest, found := strings.CutPrefix(line, "PID "); found {
				pid, _ = strconv.Atoi(rest)
			} else if strings.HasPrefix(line, "ERROR") {
				t.Fatal(line)
			}
		case <-timeout:
			t.Fatal("child did not report a postmaster pid")
		}
	}
	if !processAlive(pid) {
		t.Fatalf("postmaster %d not running", pid)
	}

	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no chance to clean up
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waitExit(t, pid, 30*time.Second)
	// A fast shutdown removes postmaster.pid; a crash would leave it.
	if _, err := os.Stat(filepath.Join(dir, "data", "postmaster.pid")); !os.IsNotExist(err) {
		t.Fatalf("postmaster.pid after parent death: %v", err)
	}
	s := startServer(t, Options{Dir: dir, Fast: true})
	if !s.Owned() {
		t.Fatal("start after parent death attached to something")
	}
	selectOne(t, s)
}
