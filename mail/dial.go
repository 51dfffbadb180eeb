package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"

	gomail "github.com/wneessen/go-mail"
)

// abortableConn remembers the connection of one Send so that it can be broken
// when the caller's context ends and closed when Send returns.
type abortableConn struct {
	mu      sync.Mutex
	conn    net.Conn
	aborted bool
}

// dialer returns a go-mail DialContextFunc that dials addr (ignoring the
// address go-mail computes, which is wrong for IPv6 literals) and performs
// the TLS handshake itself for implicit TLS.
func (a *abortableConn) dialer(addr string, implicitTLS bool, tlsConfig *tls.Config) gomail.DialContextFunc {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		raw, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if !a.track(raw) {
			_ = raw.Close()
			return nil, errors.New("smtp: dial aborted")
		}
		if !implicitTLS {
			return raw, nil
		}
		// Return the *tls.Conn itself: go-mail detects encryption by type.
		tc := tls.Client(raw, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = raw.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		return tc, nil
	}
}

func (a *abortableConn) track(c net.Conn) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.aborted {
		return false
	}
	a.conn = c
	return true
}

// abort makes pending and future I/O on the connection fail immediately.
func (a *abortableConn) abort() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.aborted = true
	if a.conn != nil {
		_ = a.conn.Close()
	}
}

func (a *abortableConn) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.conn != nil {
		_ = a.conn.Close()
	}
}
