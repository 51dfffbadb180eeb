//go:build unix

package pgserver

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// initdb makes the cluster in a side directory and renames it into place when complete, so
// a data directory always holds a whole cluster, whatever happened to an earlier attempt.
func (st *starter) initdb(ctx context.Context, bins binaries) error {
	if err := os.RemoveAll(st.l.initData); err != nil {
		return fmt.Errorf("remove the leftovers of an interrupted initdb: %w", err)
	}
	args := []string{"-D", st.l.initData, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C"}
	if st.o.Fast {
		args = append(args, "--no-sync")
	}
	var out bytes.Buffer
	cmd := exec.Command(bins.initdb(), args...)
	cmd.Dir = st.l.dir // initdb complains when it cannot read the working directory (/root)
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = procAttr(st.user)
	began := time.Now()
	c, err := launch(cmd)
	if err != nil {
		return fmt.Errorf("run initdb: %w", err)
	}
	select {
	case <-c.done:
		err = c.err
	case <-ctx.Done():
		_ = c.cmd.Process.Kill()
		<-c.done
		err = ctx.Err()
	}
	if err != nil {
		_ = os.RemoveAll(st.l.initData)
		return fmt.Errorf("initdb %s: %w:\n%s", st.l.data, err, lastLines(out.String(), 20))
	}
	if err := os.Rename(st.l.initData, st.l.data); err != nil {
		_ = os.RemoveAll(st.l.initData)
		return fmt.Errorf("move the new cluster into place: %w", err)
	}
	st.log.Info("PostgreSQL cluster created", "dir", st.l.data, "version", bins.major, "took", time.Since(began))
	return nil
}

// startPostgres runs postgres as our child, listening on the Unix socket only, and waits
// until it accepts connections. On failure nothing is left running.
func (st *starter) startPostgres(ctx context.Context, bins binaries) (*Server, error) {
	if err := prepareSocketDir(st.l.sock, st.user); err != nil {
		return nil, err
	}
	logf, off, err := openLog(st.l.log)
	if err != nil {
		return nil, err
	}
	args := []string{"-D", st.l.data, "-p", strconv.Itoa(pgPort),
		"-c", "listen_addresses=",
		"-c", "unix_socket_directories=" + gucListItem(st.l.sock)}
	if st.o.Fast {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	cmd := exec.Command(bins.postgres(), args...)
	cmd.Dir = st.l.dir
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = procAttr(st.user)
	began := time.Now()
	c, err := launch(cmd)
	_ = logf.Close() // postgres has its own descriptor now
	if err != nil {
		return nil, fmt.Errorf("run postgres: %w", err)
	}

	s := st.newServer(c.pid, st.l.sock, pgPort)
	s.owned, s.child = true, c
	dsn := func() string { return s.ConnString("postgres") }
	if err := waitReady(ctx, st.timeout, dsn, c.exited); err != nil {
		if !c.exited() {
			_ = c.stop(context.Background(), syscall.SIGINT, 5*time.Second)
			return nil, fmt.Errorf("postgres did not accept connections: %w; last lines of %s:\n%s",
				err, st.l.log, logTail(st.l.log, off, 20))
		}
		tail := logTail(st.l.log, off, 20)
		if st.otherPostmaster(c.pid, tail) {
			return nil, errOtherPostmaster
		}
		return nil, fmt.Errorf("postgres exited while starting (%v); last lines of %s:\n%s", c.err, st.l.log, tail)
	}
	st.log.Info("PostgreSQL started", "pid", c.pid, "version", bins.major, "socket", st.l.sock,
		"log", st.l.log, "took", time.Since(began))
	return s, nil
}

// otherPostmaster tells "someone else runs this cluster" from other start failures: by the
// message, or failing that (translated messages), by a live pid in postmaster.pid.
func (st *starter) otherPostmaster(ourPID int, logTail string) bool {
	if strings.Contains(logTail, `lock file "postmaster.pid" already exists`) {
		return true
	}
	pf, err := readPIDFile(st.l.data)
	return err == nil && pf.pid != ourPID && processAlive(pf.pid)
}

// childEnv is our environment without what would change where or how postgres runs
// (PGDATA, PGPORT, ...) and with C messages, which otherPostmaster recognises.
func childEnv() []string {
	env := []string{"LC_ALL=C"}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PG") || strings.HasPrefix(k, "LC_") || k == "LANG" || k == "LANGUAGE" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// gucListItem quotes a directory for a list setting such as unix_socket_directories, where
// commas separate items and double quotes protect them.
func gucListItem(dir string) string {
	return `"` + strings.ReplaceAll(dir, `"`, `""`) + `"`
}
