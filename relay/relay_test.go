package relay

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // the TURN REST credential format
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pion/turn/v5"
	"go.uber.org/goleak"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

func testLogger(t *testing.T) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// verifyNoLeaks checks, when the test ends (after the server and clients closed), that no
// goroutine was left behind. IgnoreCurrent: goroutines of earlier tests are their concern.
func verifyNoLeaks(t *testing.T) {
	opts := []goleak.Option{goleak.IgnoreCurrent()}
	t.Cleanup(func() { goleak.VerifyNone(t, opts...) })
}

// freePort finds a port that is free on 127.0.0.1 now (0 turns a transport off in Config).
func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// selfSigned writes a certificate for localhost / 127.0.0.1 and returns its files and a
// pool that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

type testServer struct {
	*Server
	cfg  Config
	pool *x509.CertPool
}

// startServer runs a TURN server on 127.0.0.1 with all three transports.
func startServer(t *testing.T) *testServer {
	t.Helper()
	certFile, keyFile, pool := selfSigned(t)
	cfg := Config{
		UDPPort: freePort(t, "udp"), TCPPort: freePort(t, "tcp"), TLSPort: freePort(t, "tcp"),
		ListenIP: "127.0.0.1", PublicIP: "127.0.0.1", Realm: "puente.test", Host: "localhost",
		CertFile: certFile, KeyFile: keyFile, Secret: testSecret,
	}
	s, err := Start(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &testServer{Server: s, cfg: cfg, pool: pool}
}

type testClient struct {
	*turn.Client
	conn net.PacketConn
}

func (c *testClient) close() {
	c.Client.Close()
	_ = c.conn.Close()
}

// dial connects a pion/turn client over transport ("udp", "tcp" or "tls").
func (s *testServer) dial(t *testing.T, transport, username, password string) *testClient {
	t.Helper()
	var (
		conn net.PacketConn
		addr string
	)
	switch transport {
	case "udp":
		addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.cfg.UDPPort))
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		conn = c
	case "tcp":
		addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.cfg.TCPPort))
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		conn = turn.NewSTUNConn(c)
	case "tls":
		addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.cfg.TLSPort))
		c, err := tls.Dial("tcp4", addr, &tls.Config{RootCAs: s.pool, ServerName: "localhost", MinVersion: tls.VersionTLS12})
		if err != nil {
			t.Fatal(err)
		}
		conn = turn.NewSTUNConn(c)
	}
	client, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: addr, TURNServerAddr: addr, Conn: conn,
		Username: username, Password: password, Realm: s.cfg.Realm, RTO: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Listen(); err != nil {
		t.Fatal(err)
	}
	return &testClient{Client: client, conn: conn}
}

// roundTrip sends a packet from the relayed address to a UDP socket and one back.
func roundTrip(t *testing.T, relayed net.PacketConn) {
	t.Helper()
	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	if _, err := relayed.WriteTo([]byte("from the browser"), peer.LocalAddr()); err != nil {
		t.Fatalf("write through the relay: %v", err)
	}
	buf := make([]byte, 1500)
	_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err := peer.ReadFrom(buf)
	if err != nil {
		t.Fatalf("peer read: %v", err)
	}
	if string(buf[:n]) != "from the browser" || from.String() != relayed.LocalAddr().String() {
		t.Fatalf("peer got %q from %s, want %q from the relayed address %s", buf[:n], from, "from the browser", relayed.LocalAddr())
	}
	if _, err := peer.WriteTo([]byte("from the SFU"), from); err != nil {
		t.Fatal(err)
	}
	_ = relayed.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err = relayed.ReadFrom(buf)
	if err != nil {
		t.Fatalf("relayed read: %v", err)
	}
	if string(buf[:n]) != "from the SFU" || from.String() != peer.LocalAddr().String() {
		t.Fatalf("client got %q from %s, want %q from %s", buf[:n], from, "from the SFU", peer.LocalAddr())
	}
}

func TestRelayAllocates(t *testing.T) {
	verifyNoLeaks(t)
	s := startServer(t)
	for _, transport := range []string{"udp", "tcp", "tls"} {
		t.Run(transport, func(t *testing.T) {
			username, password := Credentials(testSecret, "person-42", time.Hour, time.Now())
			c := s.dial(t, transport, username, password)
			defer c.close()
			relayed, err := c.Allocate()
			if err != nil {
				t.Fatalf("Allocate with good credentials: %v", err)
			}
			defer relayed.Close()
			if ip := relayed.LocalAddr().(*net.UDPAddr).IP; !ip.Equal(net.IPv4(127, 0, 0, 1)) {
				t.Errorf("relayed address %s, want the public IP 127.0.0.1", relayed.LocalAddr())
			}
			roundTrip(t, relayed)
		})
	}
}

func TestRelayRefuses(t *testing.T) {
	verifyNoLeaks(t)
	s := startServer(t)
	good, goodPassword := Credentials(testSecret, "person-42", time.Hour, time.Now())
	expired, expiredPassword := Credentials(testSecret, "person-42", time.Hour, time.Now().Add(-2*time.Hour))
	for _, tc := range []struct{ name, username, password string }{
		{"expired", expired, expiredPassword},
		{"wrong password", good, goodPassword[:len(goodPassword)-2] + "AA"},
		{"other secret", good, sign([]byte("another secret of thirty-two bytes"), good)},
		{"no expiry", "person-42", sign(testSecret, "person-42")},
	} {
		for _, transport := range []string{"udp", "tls"} {
			t.Run(tc.name+"/"+transport, func(t *testing.T) {
				c := s.dial(t, transport, tc.username, tc.password)
				defer c.close()
				relayed, err := c.Allocate()
				if err == nil {
					relayed.Close()
					t.Fatal("Allocate succeeded")
				}
			})
		}
	}
}

// The relay reaches public addresses and this machine, not private networks, and it offers
// no TCP relays.
func TestRelayPeers(t *testing.T) {
	verifyNoLeaks(t)
	s := startServer(t)
	username, password := Credentials(testSecret, "person-42", time.Hour, time.Now())
	c := s.dial(t, "udp", username, password)
	defer c.close()
	relayed, err := c.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relayed.Close()
	for _, peer := range []string{"10.1.2.3", "192.168.1.10", "169.254.169.254", "100.64.0.1", "0.0.0.0"} {
		if err := c.CreatePermission(&net.UDPAddr{IP: net.ParseIP(peer), Port: 5000}); err == nil {
			t.Errorf("permission to %s granted", peer)
		}
	}
	for _, peer := range []string{"127.0.0.1" /* this server, its public IP in tests */, "8.8.8.8", "2001:db8::1"} {
		if !s.peerAllowed(nil, net.ParseIP(peer)) {
			t.Errorf("peer %s refused", peer)
		}
	}
	for _, peer := range []string{"::1", "fd00::1", "fe80::1", "::ffff:10.0.0.1", "64:ff9b::a00:1", "224.0.0.1", "255.255.255.255"} {
		if s.peerAllowed(nil, net.ParseIP(peer)) {
			t.Errorf("peer %s allowed", peer)
		}
	}

	tc := s.dial(t, "tcp", username, password)
	defer tc.close()
	if alloc, err := tc.AllocateTCP(); err == nil {
		alloc.Close()
		t.Error("TCP relay allocated")
	}
}

// Close ends clients that are still connected (pion's own Close leaves their TCP and TLS
// connections open) and leaves no goroutine behind.
func TestRelayCloseWithClients(t *testing.T) {
	verifyNoLeaks(t)
	s := startServer(t)
	username, password := Credentials(testSecret, "person-42", time.Hour, time.Now())
	var clients []*testClient
	for _, transport := range []string{"udp", "tcp", "tls"} {
		c := s.dial(t, transport, username, password)
		clients = append(clients, c)
		relayed, err := c.Allocate()
		if err != nil {
			t.Fatalf("%s: %v", transport, err)
		}
		defer relayed.Close()
	}
	// Bare connections: idle over TCP, idle after a TLS handshake, stuck before one.
	idleTCP, err := net.Dial("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.cfg.TCPPort)))
	if err != nil {
		t.Fatal(err)
	}
	defer idleTCP.Close()
	idleTLS, err := tls.Dial("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.cfg.TLSPort)), &tls.Config{RootCAs: s.pool, ServerName: "localhost", MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer idleTLS.Close()
	stuck, err := net.Dial("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.cfg.TLSPort)))
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()

	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return with clients connected")
	}
	for name, c := range map[string]net.Conn{"idle TCP": idleTCP, "idle TLS": idleTLS, "stuck TLS": stuck} {
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		var ne net.Error
		if _, err := c.Read(make([]byte, 64)); err == nil || (errors.As(err, &ne) && ne.Timeout()) {
			t.Errorf("%s connection still open after Close (read: %v)", name, err)
		}
	}
	for _, c := range clients {
		c.close()
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestICEServers(t *testing.T) {
	verifyNoLeaks(t)
	s := startServer(t)
	servers := s.ICEServers("person-42")
	if len(servers) != 1 {
		t.Fatalf("ICEServers = %+v, want one server", servers)
	}
	is := servers[0]
	want := []string{
		"turn:localhost:" + strconv.Itoa(s.cfg.UDPPort) + "?transport=udp",
		"turn:localhost:" + strconv.Itoa(s.cfg.TCPPort) + "?transport=tcp",
		"turns:localhost:" + strconv.Itoa(s.cfg.TLSPort) + "?transport=tcp",
	}
	if strings.Join(is.URLs, " ") != strings.Join(want, " ") {
		t.Errorf("URLs = %v, want %v", is.URLs, want)
	}
	expiry, user, _ := strings.Cut(is.Username, ":")
	exp, err := strconv.ParseInt(expiry, 10, 64)
	if err != nil || user != "person-42" {
		t.Fatalf("username %q, want <expiry>:person-42", is.Username)
	}
	if left := time.Until(time.Unix(exp, 0)); left < DefaultTTL-time.Minute || left > DefaultTTL+time.Minute {
		t.Errorf("credentials valid for %s, want %s", left, DefaultTTL)
	}
	// The credentials the web server hands out work.
	c := s.dial(t, "tls", is.Username, is.Credential.(string))
	defer c.close()
	relayed, err := c.Allocate()
	if err != nil {
		t.Fatalf("Allocate with ICEServers credentials: %v", err)
	}
	relayed.Close()

	var off *Server
	if off.ICEServers("x") != nil || off.Close() != nil {
		t.Error("a nil Server (TURN off) should have no ICE servers and close quietly")
	}
}

func TestCredentials(t *testing.T) {
	now := time.Unix(1767225600, 0) // 2026-01-01T00:00:00Z
	username, password := Credentials(testSecret, "p:7", 12*time.Hour, now)
	if username != "1767268800:p:7" {
		t.Errorf("username = %q", username)
	}
	mac := hmac.New(sha1.New, testSecret)
	mac.Write([]byte(username))
	if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); password != want {
		t.Errorf("password = %q, want %q", password, want)
	}
}

func TestStartErrors(t *testing.T) {
	certFile, keyFile, _ := selfSigned(t)
	busy, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.LocalAddr().(*net.UDPAddr).Port
	base := Config{UDPPort: freePort(t, "udp"), ListenIP: "127.0.0.1", PublicIP: "127.0.0.1", Secret: testSecret}
	for _, tc := range []struct {
		name   string
		modify func(*Config)
		want   string
	}{
		{"no port", func(c *Config) { c.UDPPort = 0 }, "--turn-udp-port"},
		{"port out of range", func(c *Config) { c.TCPPort = 70000 }, "--turn-tcp-port"},
		{"TLS without certificate", func(c *Config) { c.TLSPort = 5349 }, "--turn-cert"},
		{"unreadable certificate", func(c *Config) { c.TLSPort, c.CertFile, c.KeyFile = 5349, keyFile, certFile }, "--turn-cert"},
		{"short secret", func(c *Config) { c.Secret = []byte("short") }, "32 bytes"},
		{"no public IP", func(c *Config) { c.ListenIP, c.PublicIP = "", "" }, "--turn-public-ip"},
		{"bad public IP", func(c *Config) { c.PublicIP = "turn.example.org" }, "--turn-public-ip"},
		{"half a relay range", func(c *Config) { c.RelayPortMin = 50000 }, "relay port range"},
		{"port in use", func(c *Config) { c.UDPPort = busyPort }, "--turn-udp-port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.modify(&cfg)
			s, err := Start(context.Background(), cfg, nil)
			if err == nil {
				s.Close()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q should mention %q", err, tc.want)
			}
			if bytes.Contains([]byte(err.Error()), testSecret) {
				t.Errorf("error %q shows the secret", err)
			}
			if tc.name == "port in use" && !errors.Is(err, syscall.EADDRINUSE) {
				t.Errorf("error %q does not wrap EADDRINUSE", err)
			}
		})
	}
}

// A renewed certificate is served without a restart.
func TestCertificateReload(t *testing.T) {
	certFile, keyFile, _ := selfSigned(t)
	r, err := newCertReloader(certFile, keyFile, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	first, _ := r.get(nil)
	newCert, newKey, _ := selfSigned(t)
	for _, f := range [][2]string{{newCert, certFile}, {newKey, keyFile}} {
		b, err := os.ReadFile(f[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f[1], b, 0o600); err != nil {
			t.Fatal(err)
		}
		later := time.Now().Add(time.Second)
		if err := os.Chtimes(f[1], later, later); err != nil {
			t.Fatal(err)
		}
	}
	if same, _ := r.get(nil); same != first {
		t.Error("certificate reloaded within the minute")
	}
	r.checked = time.Now().Add(-2 * time.Minute)
	if renewed, _ := r.get(nil); renewed == first || !bytes.Equal(renewed.Certificate[0], mustRead(t, newCert)) {
		t.Error("renewed certificate not served")
	}
}

func mustRead(t *testing.T, certFile string) []byte {
	b, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	return block.Bytes
}

func TestRelayPortRange(t *testing.T) {
	verifyNoLeaks(t)
	cfg := Config{
		UDPPort: freePort(t, "udp"), ListenIP: "127.0.0.1", PublicIP: "127.0.0.1", Secret: testSecret,
		RelayPortMin: 20000, RelayPortMax: 20999, // below Linux's ephemeral ports
	}
	s, err := Start(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ts := &testServer{Server: s, cfg: s.cfg}
	username, password := Credentials(testSecret, "person-42", time.Hour, time.Now())
	c := ts.dial(t, "udp", username, password)
	defer c.close()
	relayed, err := c.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relayed.Close()
	if port := relayed.LocalAddr().(*net.UDPAddr).Port; port < 20000 || port > 20999 {
		t.Errorf("relayed port %d is outside 20000-20999", port)
	}
	roundTrip(t, relayed)
}
