package sfu

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/puente-org/puente/pionlog"
)

// Network is how the SFU reaches peers.
type Network struct {
	UDPPort   int      // one UDP port for all ICE traffic (UDP mux); 0 picks a free port (tests)
	TCPPort   int      // ICE-TCP port (passive TCP mux); -1 disables; 0 picks a free port
	ListenIP  string   // address to bind; "" means all interfaces (127.0.0.1 with LoopbackOnly)
	PublicIPs []string // NAT 1:1: addresses to announce as host candidates instead of the local ones (server behind NAT / in docker); "public/local" pins one to a local address
	// LoopbackOnly is for tests only: loopback candidates, UDP4 only, mDNS off, remote
	// loopback filter (see media.md). Production must leave it off.
	LoopbackOnly bool
	// BatchWrites sends the viewers' copies of each packet in one sendmmsg (batch.go)
	// instead of one sendto each. Off by default: on loopback it saved nothing (see
	// docs/benchmarks.md); worth measuring on real network cards.
	BatchWrites bool
}

// Ports are the ports the SFU actually listens on; TCP is 0 when ICE-TCP is off.
type Ports struct{ UDP, TCP int }

// ICE timing: a peer whose network drops is "disconnected" after 5 s (the client may then
// restart ICE) and given up after 15 s; consent is refreshed every 2 s so NAT bindings stay
// open and a dead path is noticed quickly.
const (
	iceDisconnectedTimeout = 5 * time.Second
	iceFailedTimeout       = 15 * time.Second
	iceKeepaliveInterval   = 2 * time.Second
)

// Socket tuning. Bigger kernel buffers absorb bursts (a keyframe fanned out to many viewers);
// the kernel silently caps them at net.core.rmem_max / wmem_max.
const (
	udpSocketBuffer = 4 << 20
	// tcpWriteQueue bounds what ICE-TCP queues per connection: a slow TCP viewer loses
	// packets (as on UDP) instead of blocking the goroutine that forwards to everyone.
	tcpWriteQueue = 1 << 20
	tcpReadQueue  = 64 // packets
	// tcpFirstSTUN drops TCP connections that do not start ICE promptly.
	tcpFirstSTUN = 10 * time.Second
)

// Listen opens the sockets and returns a SettingEngine configured to use them, the actual
// ports, and a closer for the sockets. Close it after the peer connections that use it.
func (n Network) Listen(logger *slog.Logger) (se webrtc.SettingEngine, ports Ports, closer io.Closer, err error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ip, err := n.bindIP()
	if err != nil {
		return se, ports, nil, err
	}
	rules, err := n.rewriteRules()
	if err != nil {
		return se, ports, nil, err
	}
	if n.UDPPort < 0 || n.UDPPort > 65535 {
		return se, ports, nil, fmt.Errorf("UDP port %d is out of range: set --rtc-udp-port (PUENTE_RTC_UDP_PORT) to a port from 1 to 65535", n.UDPPort)
	}
	if n.TCPPort < -1 || n.TCPPort > 65535 {
		return se, ports, nil, fmt.Errorf("TCP port %d is out of range: set --rtc-tcp-port (PUENTE_RTC_TCP_PORT) to a port from 1 to 65535, or -1 to turn ICE-TCP off", n.TCPPort)
	}

	logs := pionlog.Factory{Log: logger.With("component", "webrtc")}
	sockets := &netSockets{log: logger}
	defer func() {
		if err != nil {
			_ = sockets.Close()
		}
	}()

	v4 := ip != nil && ip.To4() != nil
	v6 := ip != nil && ip.To4() == nil

	// UDP: one socket, one port, for every peer (ICE demultiplexes by username fragment).
	// Pion's UDPMuxDefault warns about an unspecified address (it prefers one socket per
	// interface), but one socket is what works behind 1:1 NAT and in docker, where packets
	// for the announced address may arrive on any local address.
	udpNet := "udp"
	switch {
	case v4:
		udpNet = "udp4"
	case v6:
		udpNet = "udp6"
	}
	udpConn, err := net.ListenUDP(udpNet, &net.UDPAddr{IP: ip, Port: n.UDPPort})
	if err != nil {
		return se, ports, nil, listenError("UDP", ip, n.UDPPort, "--rtc-udp-port (PUENTE_RTC_UDP_PORT)", err)
	}
	_ = udpConn.SetReadBuffer(udpSocketBuffer)
	_ = udpConn.SetWriteBuffer(udpSocketBuffer)
	var muxConn net.PacketConn = udpConn
	if n.BatchWrites {
		sockets.batch = newBatchConn(udpConn)
		muxConn = sockets.batch
	}
	udpMux := ice.NewUDPMuxDefault(ice.UDPMuxParams{Logger: logs.NewLogger("udpmux"), UDPConn: muxConn})
	sockets.add(udpMux)
	ports.UDP = udpConn.LocalAddr().(*net.UDPAddr).Port
	se.SetICEUDPMux(udpMux)

	types := []webrtc.NetworkType{}
	if !v6 {
		types = append(types, webrtc.NetworkTypeUDP4)
	}
	if !v4 {
		types = append(types, webrtc.NetworkTypeUDP6)
	}

	// ICE-TCP (passive): for clients whose networks block UDP. The server never dials out.
	if n.TCPPort >= 0 {
		tcpNet := "tcp"
		switch {
		case v4:
			tcpNet = "tcp4"
		case v6:
			tcpNet = "tcp6"
		}
		ln, err := net.ListenTCP(tcpNet, &net.TCPAddr{IP: ip, Port: n.TCPPort})
		if err != nil {
			return se, ports, nil, listenError("TCP", ip, n.TCPPort, "--rtc-tcp-port (PUENTE_RTC_TCP_PORT; -1 turns ICE-TCP off)", err)
		}
		tcpMux := ice.NewTCPMuxDefault(ice.TCPMuxParams{
			Listener:             ln,
			Logger:               logs.NewLogger("tcpmux"),
			ReadBufferSize:       tcpReadQueue,
			WriteBufferSize:      tcpWriteQueue,
			FirstStunBindTimeout: tcpFirstSTUN,
		})
		sockets.add(tcpMux)
		ports.TCP = ln.Addr().(*net.TCPAddr).Port
		se.SetICETCPMux(tcpMux)
		if !v6 {
			types = append(types, webrtc.NetworkTypeTCP4)
		}
		if !v4 {
			types = append(types, webrtc.NetworkTypeTCP6)
		}
	}
	se.DisableActiveTCP(true)
	se.SetNetworkTypes(types)

	// mDNS off: browsers' .local candidates name machines on their own LAN, which a server
	// cannot resolve, and the querier would cost a multicast socket per peer connection.
	// Clients still reach the server's host candidates and are learned as peer-reflexive.
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetICETimeouts(iceDisconnectedTimeout, iceFailedTimeout, iceKeepaliveInterval)
	se.LoggerFactory = logs

	if len(rules) > 0 {
		if err := se.SetICEAddressRewriteRules(rules...); err != nil {
			return se, ports, nil, fmt.Errorf("public IPs %v: %w: check --rtc-public-ip (PUENTE_RTC_PUBLIC_IP)", n.PublicIPs, err)
		}
	}
	if n.LoopbackOnly {
		// media.md: without these, a second interface gets paired and packets leave loopback.
		loopback := func(ip net.IP) bool { return ip.IsLoopback() }
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(loopback)
		se.SetRemoteIPFilter(loopback)
	}
	listenIP := "all"
	if ip != nil {
		listenIP = ip.String()
	}
	logger.Info("webrtc sockets open", "udp_port", ports.UDP, "tcp_port", ports.TCP,
		"listen_ip", listenIP, "public_ips", strings.Join(n.PublicIPs, ","), "loopback_only", n.LoopbackOnly)
	return se, ports, sockets, nil
}

// bindIP is the address to listen on (nil: all interfaces, both families).
func (n Network) bindIP() (net.IP, error) {
	if n.ListenIP == "" {
		if n.LoopbackOnly {
			return net.IPv4(127, 0, 0, 1).To4(), nil
		}
		return nil, nil
	}
	ip := net.ParseIP(n.ListenIP)
	if ip == nil {
		return nil, fmt.Errorf("listen IP %q is not an IP address", n.ListenIP)
	}
	if n.LoopbackOnly && !ip.IsLoopback() {
		return nil, fmt.Errorf("listen IP %s is not a loopback address, but LoopbackOnly is set (tests only)", n.ListenIP)
	}
	if n.LoopbackOnly && ip.To4() == nil {
		return nil, fmt.Errorf("listen IP %s: LoopbackOnly uses IPv4 (127.0.0.1)", n.ListenIP)
	}
	if ip.IsUnspecified() {
		if ip.To4() != nil {
			return net.IPv4zero.To4(), nil
		}
		return net.IPv6unspecified, nil
	}
	if ip4 := ip.To4(); ip4 != nil {
		return ip4, nil
	}
	return ip, nil
}

// rewriteRules turns PublicIPs into NAT 1:1 rules: the public addresses replace the local
// ones in host candidates (the ports stay, so the NAT must keep them). "public/local" maps
// one public address to one local address; plain entries apply to every local address of
// their family.
func (n Network) rewriteRules() ([]webrtc.ICEAddressRewriteRule, error) {
	if len(n.PublicIPs) == 0 {
		return nil, nil
	}
	if n.LoopbackOnly {
		return nil, errors.New("public IPs make no sense with LoopbackOnly (tests only)")
	}
	var rules []webrtc.ICEAddressRewriteRule
	var catchAll []string
	for _, s := range n.PublicIPs {
		s = strings.TrimSpace(s)
		public, local, pinned := strings.Cut(s, "/")
		pip := net.ParseIP(public)
		if pip == nil || pip.IsUnspecified() || pip.IsLoopback() || pip.IsMulticast() {
			return nil, fmt.Errorf("public IP %q is not a usable IP address: check --rtc-public-ip (PUENTE_RTC_PUBLIC_IP), e.g. 203.0.113.7 or 203.0.113.7/10.0.0.5", s)
		}
		if !pinned {
			catchAll = append(catchAll, pip.String())
			continue
		}
		lip := net.ParseIP(local)
		if lip == nil {
			return nil, fmt.Errorf("public IP %q: %q after the slash is not a local IP address: check --rtc-public-ip (PUENTE_RTC_PUBLIC_IP)", s, local)
		}
		rules = append(rules, webrtc.ICEAddressRewriteRule{
			External: []string{pip.String()}, Local: lip.String(),
			AsCandidateType: webrtc.ICECandidateTypeHost, Mode: webrtc.ICEAddressRewriteReplace,
		})
	}
	if len(catchAll) > 0 {
		rules = append(rules, webrtc.ICEAddressRewriteRule{
			External: catchAll, AsCandidateType: webrtc.ICECandidateTypeHost, Mode: webrtc.ICEAddressRewriteReplace,
		})
	}
	return rules, nil
}

// listenError says what went wrong and which setting fixes it.
func listenError(proto string, ip net.IP, port int, setting string, err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("%s port %d is in use: set %s to a free port, or stop the other program: %w", proto, port, setting, err)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("%s port %d needs privileges: set %s to a port above 1023, or allow binding low ports (CAP_NET_BIND_SERVICE): %w", proto, port, setting, err)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("cannot listen on %s: %s is not an address of this machine: %w", net.JoinHostPort(ip.String(), strconv.Itoa(port)), ip, err)
	default:
		return fmt.Errorf("cannot open %s port %d (%s): %w", proto, port, setting, err)
	}
}

// netSockets closes the muxes, last opened first, once.
type netSockets struct {
	batch   *batchConn // nil unless BatchWrites
	log     *slog.Logger
	mu      sync.Mutex
	closers []io.Closer
	done    bool
	err     error
}

// socketCloseWait bounds how long closing one mux may take.
const socketCloseWait = 3 * time.Second

var errCloseSlow = errors.New("close did not finish in time")

// closeWithin closes c, giving up waiting after d (the close goes on in the background).
func closeWithin(c io.Closer, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- c.Close() }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return errCloseSlow
	}
}

func (s *netSockets) add(c io.Closer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closers = append(s.closers, c)
}

func (s *netSockets) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return s.err
	}
	s.done = true
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := closeWithin(s.closers[i], socketCloseWait); err != nil && !errors.Is(err, net.ErrClosed) {
			if errors.Is(err, errCloseSlow) {
				// Pion's TCP mux can wait forever for a TCP connection it no longer tracks
				// (seen after ICE restarts over ICE-TCP): the process is stopping, so its
				// sockets go with it; do not hang the shutdown.
				if s.log != nil {
					s.log.Warn("media sockets did not close in time; going on", "wait", socketCloseWait)
				}
				continue
			}
			errs = append(errs, err)
		}
	}
	s.err = errors.Join(errs...)
	return s.err
}
