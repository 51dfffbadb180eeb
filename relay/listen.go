package relay

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// connListener is the net.Listener pion's TURN server accepts TCP and TLS clients from. It
// fills two gaps in pion: it finishes TLS handshakes itself, in parallel and with a
// deadline, closing the connections that fail (pion leaves those open), and it remembers
// the connections it hands out, so Close can end them and wait until pion has let go (pion's
// Server.Close closes listeners but not its clients' connections).
type connListener struct {
	ln  net.Listener
	tls *tls.Config // nil: plain TCP
	log *slog.Logger

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	ready  chan handout
	wg     sync.WaitGroup // the accept loop and the handshakes
	ended  chan struct{}  // the accept loop returned
	endErr error          // why, if not closed

	mu        sync.Mutex
	closed    bool
	live      map[*trackedConn]bool // handed out to pion and not closed by it yet
	handedOut sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

type handout struct {
	conn net.Conn // what pion reads (a *tls.Conn for TLS, so pion sees the TLS state)
	raw  *trackedConn
}

func newConnListener(ln net.Listener, tlsConf *tls.Config, log *slog.Logger) *connListener {
	l := &connListener{
		ln: ln, tls: tlsConf, log: log,
		ready: make(chan handout), ended: make(chan struct{}), live: map[*trackedConn]bool{},
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	l.wg.Add(1)
	go l.acceptLoop()
	return l
}

func (l *connListener) acceptLoop() {
	defer l.wg.Done()
	defer close(l.ended)
	var delay time.Duration
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if l.ctx.Err() != nil {
				return
			}
			if !errors.Is(err, syscall.EMFILE) && !errors.Is(err, syscall.ENFILE) && !errors.Is(err, syscall.ECONNABORTED) {
				l.endErr = err
				l.log.Error("TURN listener failed", "addr", l.ln.Addr().String(), "err", err)
				return
			}
			// Out of file descriptors: wait for some to be freed, as net/http does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			l.log.Warn("TURN accept failed, retrying", "err", err, "retry_in", delay)
			select {
			case <-time.After(delay):
			case <-l.ctx.Done():
				return
			}
			continue
		}
		delay = 0
		raw := &trackedConn{Conn: c, l: l}
		if l.tls == nil {
			l.deliver(handout{conn: raw, raw: raw})
			continue
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			conn := tls.Server(raw, l.tls)
			ctx, cancel := context.WithTimeout(l.ctx, handshakeTimeout)
			defer cancel()
			if err := conn.HandshakeContext(ctx); err != nil {
				_ = raw.Close()
				l.log.Debug("TURN TLS handshake failed", "client", c.RemoteAddr().String(), "err", err)
				return
			}
			l.deliver(handout{conn: conn, raw: raw})
		}()
	}
}

func (l *connListener) deliver(h handout) {
	select {
	case l.ready <- h:
	case <-l.ctx.Done():
		_ = h.raw.Close()
	}
}

// Accept hands pion the next client connection (TLS handshake done).
func (l *connListener) Accept() (net.Conn, error) {
	select {
	case h := <-l.ready:
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.closed {
			_ = h.raw.Close()
			return nil, net.ErrClosed
		}
		l.live[h.raw] = true
		l.handedOut.Add(1)
		return h.conn, nil
	case <-l.ctx.Done():
		return nil, net.ErrClosed
	case <-l.ended:
		if l.ctx.Err() != nil || l.endErr == nil {
			return nil, net.ErrClosed
		}
		return nil, l.endErr
	}
}

// Close stops accepting, ends every client connection and waits until pion has closed them.
func (l *connListener) Close() error {
	l.closeOnce.Do(func() {
		l.cancel()
		l.closeErr = l.ln.Close()
		l.wg.Wait()
		l.mu.Lock()
		l.closed = true
		conns := make([]*trackedConn, 0, len(l.live))
		for c := range l.live {
			conns = append(conns, c)
		}
		l.mu.Unlock()
		// Close the sockets under pion's goroutines; each then ends its read loop, deletes
		// the allocation and calls Close on the connection, which marks it done.
		for _, c := range conns {
			_ = c.Conn.Close()
		}
		l.handedOut.Wait()
	})
	return l.closeErr
}

func (l *connListener) Addr() net.Addr { return l.ln.Addr() }

// trackedConn is a client's TCP connection (under TLS, for TURNS).
type trackedConn struct {
	net.Conn
	l    *connListener
	once sync.Once
	err  error
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.err = c.Conn.Close()
		c.l.mu.Lock()
		handed := c.l.live[c]
		delete(c.l.live, c)
		c.l.mu.Unlock()
		if handed {
			c.l.handedOut.Done()
		}
	})
	return c.err
}

// certReloader serves the certificate files and picks up renewed ones (checked at most
// once a minute), so a certificate renewed by certbot or similar needs no restart.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger

	mu              sync.Mutex
	cert            *tls.Certificate
	certMod, keyMod time.Time
	checked         time.Time
}

func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: log}
	if err := r.load(); err != nil {
		return nil, fmt.Errorf("TURN TLS certificate: %w: check --turn-cert and --turn-key (PEM certificate chain and private key)", err)
	}
	r.checked = time.Now()
	return r, nil
}

func (r *certReloader) load() error {
	cs, err := os.Stat(r.certFile)
	if err != nil {
		return err
	}
	ks, err := os.Stat(r.keyFile)
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return err
	}
	r.cert, r.certMod, r.keyMod = &cert, cs.ModTime(), ks.ModTime()
	return nil
}

func (r *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) < time.Minute {
		return r.cert, nil
	}
	r.checked = time.Now()
	cs, err1 := os.Stat(r.certFile)
	ks, err2 := os.Stat(r.keyFile)
	if err1 == nil && err2 == nil && cs.ModTime().Equal(r.certMod) && ks.ModTime().Equal(r.keyMod) {
		return r.cert, nil
	}
	if err := r.load(); err != nil {
		// Perhaps half renewed (new certificate, old key): keep serving the old pair.
		r.log.Warn("TURN TLS certificate could not be reloaded; keeping the old one", "cert", r.certFile, "err", err)
		return r.cert, nil
	}
	r.log.Info("TURN TLS certificate reloaded", "cert", r.certFile)
	return r.cert, nil
}
