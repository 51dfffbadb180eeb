// Package relay is Puente's built-in TURN server (pion/turn): it relays media for browsers
// that cannot reach the SFU directly, over UDP, TCP and TLS (TURNS, for networks that only
// let HTTPS through). Credentials are short-lived, in the TURN REST API style, so the web
// server hands them out with a join token and nothing is stored: the username is
// "<unix expiry>:<opaque user id>" and the password base64(HMAC-SHA1(secret, username)).
//
// The relay forwards only to public addresses and to this machine's own addresses (where
// the SFU is), never into private networks, loopback or link-local services, and it offers
// UDP relays only (browsers never ask for TCP relays).
package relay

import (
	"context"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // TURN REST credentials are defined with HMAC-SHA1.
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pion/turn/v5"
	"github.com/pion/webrtc/v4"

	"github.com/puente-org/puente/pionlog"
)

// Config configures the TURN server.
type Config struct {
	UDPPort, TCPPort, TLSPort  int    // 0 disables each (but at least one must be on); TLS needs CertFile+KeyFile
	ListenIP                   string // "" = all
	PublicIP                   string // relay address announced to clients (required when ListenIP is all/unspecified; for tests 127.0.0.1)
	Realm                      string // e.g. the base URL host (default Host)
	CertFile, KeyFile          string
	Secret                     []byte        // HMAC key (>= 32 bytes)
	Host                       string        // host name clients use in turn: URLs (default PublicIP); must match the certificate for TLS
	RelayPortMin, RelayPortMax int           // optional range for relayed addresses (both or neither)
	TTL                        time.Duration // credential lifetime, default 12h
}

// DefaultTTL is how long credentials from ICEServers stay valid.
const DefaultTTL = 12 * time.Hour

// MinSecretLen is the least length of Config.Secret.
const MinSecretLen = 32

const (
	socketBuffer     = 4 << 20 // relayed media bursts; the kernel caps it at rmem_max/wmem_max
	handshakeTimeout = 10 * time.Second
)

// Server is a running TURN server.
type Server struct {
	cfg       Config
	publicIP  net.IP
	turn      *turn.Server
	log       *slog.Logger
	own       map[netip.Addr]bool // this machine's addresses: peers the relay may reach even if private
	closeOnce sync.Once
	closeErr  error
}

// Start validates cfg, opens the sockets and starts serving. ctx bounds the start only;
// Close stops the server.
func Start(ctx context.Context, cfg Config, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "turn")
	publicIP, listenIP, err := cfg.check()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, publicIP: publicIP, log: logger}
	s.own = ownAddresses(publicIP, listenIP)

	var tlsConf *tls.Config
	if cfg.TLSPort != 0 {
		certs, err := newCertReloader(cfg.CertFile, cfg.KeyFile, logger)
		if err != nil {
			return nil, err
		}
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.get}
	}

	v4 := publicIP.To4() != nil
	udpNet, tcpNet, bind := "udp6", "tcp6", "::"
	if v4 {
		udpNet, tcpNet, bind = "udp4", "tcp4", "0.0.0.0"
	}
	if listenIP != nil {
		bind = listenIP.String()
	}

	var (
		lc        net.ListenConfig
		packets   []turn.PacketConnConfig
		listeners []turn.ListenerConfig
		opened    []interface{ Close() error }
		started   bool
	)
	defer func() {
		if !started {
			for _, c := range opened {
				_ = c.Close()
			}
		}
	}()
	if cfg.UDPPort != 0 {
		pc, err := lc.ListenPacket(ctx, udpNet, net.JoinHostPort(bind, strconv.Itoa(cfg.UDPPort)))
		if err != nil {
			return nil, listenError("UDP", bind, cfg.UDPPort, "--turn-udp-port (PUENTE_TURN_UDP_PORT)", err)
		}
		opened = append(opened, pc)
		if uc, ok := pc.(*net.UDPConn); ok {
			_ = uc.SetReadBuffer(socketBuffer)
			_ = uc.SetWriteBuffer(socketBuffer)
		}
		packets = append(packets, turn.PacketConnConfig{
			PacketConn: pc, RelayAddressGenerator: s.relayAddresses(bind), PermissionHandler: s.peerAllowed,
		})
	}
	for _, l := range []struct {
		port    int
		proto   string
		setting string
		tls     *tls.Config
	}{
		{cfg.TCPPort, "TCP", "--turn-tcp-port (PUENTE_TURN_TCP_PORT)", nil},
		{cfg.TLSPort, "TLS", "--turn-tls-port (PUENTE_TURN_TLS_PORT)", tlsConf},
	} {
		if l.port == 0 {
			continue
		}
		ln, err := lc.Listen(ctx, tcpNet, net.JoinHostPort(bind, strconv.Itoa(l.port)))
		if err != nil {
			return nil, listenError(l.proto, bind, l.port, l.setting, err)
		}
		cl := newConnListener(ln, l.tls, logger)
		opened = append(opened, cl)
		listeners = append(listeners, turn.ListenerConfig{
			Listener: cl, RelayAddressGenerator: s.relayAddresses(bind), PermissionHandler: s.peerAllowed,
		})
	}

	s.turn, err = turn.NewServer(turn.ServerConfig{
		PacketConnConfigs: packets,
		ListenerConfigs:   listeners,
		LoggerFactory:     pionlog.Factory{Log: logger},
		Realm:             cfg.Realm,
		AuthHandler:       s.authenticate,
	})
	if err != nil {
		return nil, fmt.Errorf("start the TURN server: %w", err)
	}
	started = true
	logger.Info("TURN server listening", "udp_port", cfg.UDPPort, "tcp_port", cfg.TCPPort, "tls_port", cfg.TLSPort,
		"public_ip", publicIP.String(), "host", cfg.Host, "realm", cfg.Realm)
	return s, nil
}

// check validates the configuration, fills defaults, and returns the relay (public) and
// listen addresses (listen nil: all).
func (c *Config) check() (public, listen net.IP, err error) {
	for _, p := range []struct {
		port    int
		setting string
	}{
		{c.UDPPort, "--turn-udp-port"}, {c.TCPPort, "--turn-tcp-port"}, {c.TLSPort, "--turn-tls-port"},
	} {
		if p.port < 0 || p.port > 65535 {
			return nil, nil, fmt.Errorf("TURN port %d is out of range: set %s to a port from 1 to 65535 (0 turns it off)", p.port, p.setting)
		}
	}
	if c.UDPPort == 0 && c.TCPPort == 0 && c.TLSPort == 0 {
		return nil, nil, errors.New("TURN needs at least one port: set --turn-udp-port, --turn-tcp-port or --turn-tls-port")
	}
	if c.TLSPort != 0 && (c.CertFile == "" || c.KeyFile == "") {
		return nil, nil, errors.New("TURN over TLS needs a certificate: set --turn-cert and --turn-key (PEM files), or --turn-tls-port 0")
	}
	if len(c.Secret) < MinSecretLen {
		return nil, nil, fmt.Errorf("the TURN secret must be at least %d bytes", MinSecretLen)
	}
	if c.ListenIP != "" {
		if listen = net.ParseIP(c.ListenIP); listen == nil {
			return nil, nil, fmt.Errorf("TURN listen IP %q is not an IP address", c.ListenIP)
		}
		if listen.IsUnspecified() {
			listen = nil
		}
	}
	switch {
	case c.PublicIP != "":
		if public = net.ParseIP(c.PublicIP); public == nil || public.IsUnspecified() || public.IsMulticast() {
			return nil, nil, fmt.Errorf("TURN public IP %q is not a usable IP address: set --turn-public-ip to the address clients reach this server at", c.PublicIP)
		}
	case listen != nil:
		public = listen
	default:
		return nil, nil, errors.New("TURN needs the public IP address clients reach this server at: set --turn-public-ip (or --rtc-public-ip)")
	}
	if listen != nil && (listen.To4() == nil) != (public.To4() == nil) {
		return nil, nil, fmt.Errorf("TURN listen IP %s and public IP %s must be of the same IP version", listen, public)
	}
	if (c.RelayPortMin == 0) != (c.RelayPortMax == 0) || c.RelayPortMin < 0 || c.RelayPortMax > 65535 || c.RelayPortMin > c.RelayPortMax {
		return nil, nil, fmt.Errorf("TURN relay port range %d-%d: give both ends, from 1 to 65535, lowest first", c.RelayPortMin, c.RelayPortMax)
	}
	if c.TTL < 0 {
		return nil, nil, fmt.Errorf("TURN credential lifetime %s must be positive", c.TTL)
	}
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.Host == "" {
		c.Host = public.String()
	}
	if c.Realm == "" {
		c.Realm = c.Host
	}
	return public, listen, nil
}

// Close stops the server: listeners, client connections and allocations.
func (s *Server) Close() error {
	if s == nil {
		return nil
	}
	s.closeOnce.Do(func() {
		// Closes the UDP socket and the listeners; our listeners also close and wait for
		// the client connections pion's Server.Close leaves open.
		s.closeErr = s.turn.Close()
		s.log.Info("TURN server stopped")
	})
	return s.closeErr
}

// ICEServers is the TURN server for one person, with fresh credentials: turn: URLs over
// UDP and TCP and a turns: URL for TLS, whichever are on. A nil Server (TURN off) has none.
func (s *Server) ICEServers(userID string) []webrtc.ICEServer {
	if s == nil {
		return nil
	}
	var urls []string
	if s.cfg.UDPPort != 0 {
		urls = append(urls, "turn:"+net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.UDPPort))+"?transport=udp")
	}
	if s.cfg.TCPPort != 0 {
		urls = append(urls, "turn:"+net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.TCPPort))+"?transport=tcp")
	}
	if s.cfg.TLSPort != 0 {
		urls = append(urls, "turns:"+net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.TLSPort))+"?transport=tcp")
	}
	username, password := Credentials(s.cfg.Secret, userID, s.cfg.TTL, time.Now())
	return []webrtc.ICEServer{{URLs: urls, Username: username, Credential: password, CredentialType: webrtc.ICECredentialTypePassword}}
}

// Credentials are TURN REST API credentials for userID, valid until now+ttl:
// username "<unix expiry>:<userID>", password base64(HMAC-SHA1(secret, username)).
func Credentials(secret []byte, userID string, ttl time.Duration, now time.Time) (username, password string) {
	username = strconv.FormatInt(now.Add(ttl).Unix(), 10) + ":" + userID
	return username, sign(secret, username)
}

func sign(secret []byte, username string) string {
	mac := hmac.New(sha1.New, secret)
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// authenticate gives pion the long-term key of a username that has not expired; pion then
// checks the request's MESSAGE-INTEGRITY with it, which refuses a wrong password. It runs
// on every authenticated request (allocate, refresh, permissions), so an allocation cannot
// be refreshed past its credentials' expiry.
func (s *Server) authenticate(ra *turn.RequestAttributes) (userID string, key []byte, ok bool) {
	expiry, user, found := strings.Cut(ra.Username, ":")
	exp, err := strconv.ParseInt(expiry, 10, 64)
	switch {
	case !found || err != nil:
		s.log.Debug("TURN credentials refused: malformed username", "src", addrString(ra.SrcAddr))
		return "", nil, false
	case time.Now().Unix() > exp:
		s.log.Debug("TURN credentials refused: expired", "user", user, "expired", time.Unix(exp, 0).UTC(), "src", addrString(ra.SrcAddr))
		return "", nil, false
	case ra.Realm != s.cfg.Realm:
		s.log.Debug("TURN credentials refused: wrong realm", "user", user, "realm", ra.Realm, "src", addrString(ra.SrcAddr))
		return "", nil, false
	}
	return user, turn.GenerateAuthKey(ra.Username, ra.Realm, sign(s.cfg.Secret, ra.Username)), true
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// relayAddresses allocates UDP relays on bind (from the port range if one is set),
// announced at the public IP; TCP relays (RFC 6062) are refused.
func (s *Server) relayAddresses(bind string) turn.RelayAddressGenerator {
	if s.cfg.RelayPortMin != 0 {
		return udpRelaysOnly{&turn.RelayAddressGeneratorPortRange{
			RelayAddress: s.publicIP, Address: bind,
			MinPort: uint16(s.cfg.RelayPortMin), MaxPort: uint16(s.cfg.RelayPortMax), //nolint:gosec // checked in check
		}}
	}
	return udpRelaysOnly{&turn.RelayAddressGeneratorStatic{RelayAddress: s.publicIP, Address: bind}}
}

var errNoTCPRelays = errors.New("TCP relays are not offered")

type udpRelaysOnly struct{ turn.RelayAddressGenerator }

func (udpRelaysOnly) AllocateListener(turn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return nil, nil, errNoTCPRelays
}

func (udpRelaysOnly) AllocateConn(turn.AllocateConnConfig) (net.Conn, error) {
	return nil, errNoTCPRelays
}

// Peers the relay never forwards to, beyond what netip classifies as non-public: a relay
// open to them would let anyone with credentials probe the server's private networks.
var deniedPeers = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"), // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"), // NAT64: could reach any IPv4 address, private ones included
	netip.MustParsePrefix("2002::/16"),    // 6to4, the same
}

// peerAllowed is pion's permission check for CreatePermission, ChannelBind and Connect.
func (s *Server) peerAllowed(client net.Addr, peer net.IP) bool {
	ip, ok := netip.AddrFromSlice(peer)
	if !ok {
		return false
	}
	ip = ip.Unmap()
	if s.own[ip] {
		return true
	}
	allowed := ip.IsGlobalUnicast() && !ip.IsPrivate()
	for _, p := range deniedPeers {
		allowed = allowed && !p.Contains(ip)
	}
	if !allowed {
		s.log.Debug("TURN peer refused", "peer", ip.String(), "client", addrString(client))
	}
	return allowed
}

// ownAddresses are the relay's public and listen addresses and this machine's non-loopback
// interface addresses (where the SFU listens). Loopback counts only when configured
// explicitly (tests).
func ownAddresses(public, listen net.IP) map[netip.Addr]bool {
	own := map[netip.Addr]bool{}
	for _, ip := range []net.IP{public, listen} {
		if a, ok := netip.AddrFromSlice(ip); ok {
			own[a.Unmap()] = true
		}
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() {
				own[ip.Unmap()] = true
			}
		}
	}
	return own
}

// listenError says what went wrong and which setting fixes it.
func listenError(proto, host string, port int, setting string, err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("TURN %s port %d is in use: set %s to a free port, or stop the other program: %w", proto, port, setting, err)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("TURN %s port %d needs privileges: set %s to a port above 1023, or allow binding low ports (CAP_NET_BIND_SERVICE): %w", proto, port, setting, err)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("cannot listen on %s: %s is not an address of this machine: %w", net.JoinHostPort(host, strconv.Itoa(port)), host, err)
	default:
		return fmt.Errorf("cannot open TURN %s port %d (%s): %w", proto, port, setting, err)
	}
}
