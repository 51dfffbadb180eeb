package sfu

import (
	"errors"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"
)

// networkTestLogger shows Pion's logs (through pionlog) when a test runs with -v.
func networkTestLogger(t *testing.T) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// loopbackClient is a plain Pion peer set up as media.md says for loopback tests.
func loopbackClient(types ...webrtc.NetworkType) *webrtc.API {
	return webrtc.NewAPI(webrtc.WithSettingEngine(loopbackSettings(types...)))
}

// loopbackSettings keep a Pion peer on loopback, with the network types given, and without
// mDNS candidates.
func loopbackSettings(types ...webrtc.NetworkType) webrtc.SettingEngine {
	var se webrtc.SettingEngine
	loopback := func(ip net.IP) bool { return ip.IsLoopback() }
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(loopback)
	se.SetRemoteIPFilter(loopback)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes(types)
	return se
}

// connectPeers has the client offer a data channel to the server (as a publisher does),
// waits for a message to arrive on the server, and returns the server's selected pair.
func connectPeers(t *testing.T, server, client *webrtc.API) *webrtc.ICECandidatePair {
	t.Helper()
	spc, err := server.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer closePC(t, spc)
	cpc, err := client.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer closePC(t, cpc)

	got := make(chan string, 1)
	spc.OnDataChannel(func(dc *webrtc.DataChannel) {
		dc.OnMessage(func(m webrtc.DataChannelMessage) {
			select {
			case got <- string(m.Data):
			default:
			}
		})
	})
	dc, err := cpc.CreateDataChannel("proof", nil)
	if err != nil {
		t.Fatal(err)
	}
	dc.OnOpen(func() { _ = dc.SendText("over the mux") })

	// Complete gathering before exchanging descriptions: no trickle needed in a test.
	offer, err := cpc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(cpc)
	if err := cpc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	if err := spc.SetRemoteDescription(*cpc.LocalDescription()); err != nil {
		t.Fatal(err)
	}
	answer, err := spc.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered = webrtc.GatheringCompletePromise(spc)
	if err := spc.SetLocalDescription(answer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	if err := cpc.SetRemoteDescription(*spc.LocalDescription()); err != nil {
		t.Fatal(err)
	}

	select {
	case msg := <-got:
		if msg != "over the mux" {
			t.Fatalf("server received %q", msg)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no data channel message after 10 s (ICE %s, server SDP:\n%s)", spc.ICEConnectionState(), spc.LocalDescription().SDP)
	}
	pair, err := spc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		t.Fatalf("no selected candidate pair on the server: %v", err)
	}
	return pair
}

func closePC(t *testing.T, pc *webrtc.PeerConnection) {
	if err := pc.Close(); err != nil {
		t.Errorf("close peer connection: %v", err)
	}
}

// listenForTest opens the server side and closes it when the test ends.
func listenForTest(t *testing.T, n Network) (*webrtc.API, Ports) {
	t.Helper()
	se, ports, closer, err := n.Listen(networkTestLogger(t))
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() {
		if err := closer.Close(); err != nil {
			t.Errorf("close sockets: %v", err)
		}
	})
	return webrtc.NewAPI(webrtc.WithSettingEngine(se)), ports
}

// serverCandidates lists the host candidates a server built from n announces.
func serverCandidates(t *testing.T, api *webrtc.API) []webrtc.ICECandidate {
	t.Helper()
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer closePC(t, pc)
	if _, err := pc.CreateDataChannel("x", nil); err != nil {
		t.Fatal(err)
	}
	var cands []webrtc.ICECandidate
	done := make(chan struct{})
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			close(done)
			return
		}
		cands = append(cands, *c)
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("gathering did not finish")
	}
	return cands
}

// verifyNoLeaks checks, when the test ends, that closing the peers and the sockets left no
// goroutine behind. IgnoreCurrent: other tests of this package may run before this one.
func verifyNoLeaks(t *testing.T) {
	opts := []goleak.Option{goleak.IgnoreCurrent()}
	t.Cleanup(func() { goleak.VerifyNone(t, opts...) })
}

func TestNetworkUDPMux(t *testing.T) {
	verifyNoLeaks(t)
	server, ports := listenForTest(t, Network{UDPPort: 0, TCPPort: -1, LoopbackOnly: true})
	if ports.UDP == 0 || ports.TCP != 0 {
		t.Fatalf("ports = %+v, want a UDP port and no TCP port", ports)
	}
	pair := connectPeers(t, server, loopbackClient(webrtc.NetworkTypeUDP4))
	if pair.Local.Protocol != webrtc.ICEProtocolUDP || pair.Local.Port != uint16(ports.UDP) || pair.Local.Address != "127.0.0.1" {
		t.Errorf("server side of the pair = %s, want udp 127.0.0.1:%d (the mux)", pair.Local, ports.UDP)
	}
	if !net.ParseIP(pair.Remote.Address).IsLoopback() {
		t.Errorf("client side of the pair = %s, want loopback", pair.Remote)
	}
}

func TestNetworkICETCP(t *testing.T) {
	verifyNoLeaks(t)
	server, ports := listenForTest(t, Network{UDPPort: 0, TCPPort: 0, LoopbackOnly: true})
	if ports.UDP == 0 || ports.TCP == 0 {
		t.Fatalf("ports = %+v, want both", ports)
	}
	// The client offers TCP only, as a browser on a network that blocks UDP ends up doing.
	pair := connectPeers(t, server, loopbackClient(webrtc.NetworkTypeTCP4))
	if pair.Local.Protocol != webrtc.ICEProtocolTCP || pair.Local.Port != uint16(ports.TCP) || pair.Local.Address != "127.0.0.1" {
		t.Errorf("server side of the pair = %s, want tcp 127.0.0.1:%d (the TCP mux)", pair.Local, ports.TCP)
	}
}

func TestNetworkLoopbackCandidates(t *testing.T) {
	verifyNoLeaks(t)
	server, ports := listenForTest(t, Network{UDPPort: 0, TCPPort: 0, LoopbackOnly: true})
	cands := serverCandidates(t, server)
	var udp, tcp int
	for _, c := range cands {
		if c.Address != "127.0.0.1" || c.Typ != webrtc.ICECandidateTypeHost {
			t.Errorf("candidate %s: want only 127.0.0.1 host candidates", c)
		}
		switch {
		case c.Protocol == webrtc.ICEProtocolUDP && c.Port == uint16(ports.UDP):
			udp++
		case c.Protocol == webrtc.ICEProtocolTCP && c.Port == uint16(ports.TCP) && c.TCPType == "passive":
			tcp++
		default:
			t.Errorf("candidate %s is not on the muxes (udp %d, tcp %d passive)", c, ports.UDP, ports.TCP)
		}
	}
	if udp != 1 || tcp != 1 {
		t.Errorf("got %d UDP and %d TCP candidates, want one each: %v", udp, tcp, cands)
	}
}

// Without LoopbackOnly (production), loopback is never announced, and with PublicIPs the
// public address replaces the local IPv4 ones, on the same ports.
func TestNetworkPublicIPs(t *testing.T) {
	verifyNoLeaks(t)
	server, ports := listenForTest(t, Network{UDPPort: 0, TCPPort: 0, PublicIPs: []string{"203.0.113.7"}})
	cands := serverCandidates(t, server)
	t.Logf("candidates: %v", cands)
	var v4 int
	for _, c := range cands {
		ip := net.ParseIP(c.Address)
		if ip == nil || ip.IsLoopback() {
			t.Errorf("candidate %s: loopback or unresolved address in production settings", c)
			continue
		}
		if ip.To4() == nil {
			continue // IPv6 addresses have no public mapping here and are announced as they are
		}
		v4++
		if c.Address != "203.0.113.7" {
			t.Errorf("candidate %s: want the public address 203.0.113.7", c)
		}
		if (c.Protocol == webrtc.ICEProtocolUDP && c.Port != uint16(ports.UDP)) || (c.Protocol == webrtc.ICEProtocolTCP && c.Port != uint16(ports.TCP)) {
			t.Errorf("candidate %s: want the mux ports %+v", c, ports)
		}
	}
	if v4 == 0 {
		t.Skipf("this machine has no non-loopback IPv4 interface to map (candidates: %v)", cands)
	}
}

func TestNetworkPortInUse(t *testing.T) {
	verifyNoLeaks(t)
	busyUDP, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer busyUDP.Close()
	busyTCP, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer busyTCP.Close()
	udpPort := busyUDP.LocalAddr().(*net.UDPAddr).Port
	tcpPort := busyTCP.Addr().(*net.TCPAddr).Port

	for _, tc := range []struct {
		name string
		n    Network
		want string
	}{
		{"udp", Network{UDPPort: udpPort, TCPPort: -1, LoopbackOnly: true}, "--rtc-udp-port"},
		// The UDP socket opens first and must be closed again when TCP fails (goleak checks).
		{"tcp", Network{UDPPort: 0, TCPPort: tcpPort, LoopbackOnly: true}, "--rtc-tcp-port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, closer, err := tc.n.Listen(networkTestLogger(t))
			if err == nil {
				closer.Close()
				t.Fatal("Listen on a busy port succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "in use") {
				t.Errorf("error %q should say the port is in use and name %s", err, tc.want)
			}
			if !errors.Is(err, syscall.EADDRINUSE) {
				t.Errorf("error %q does not wrap EADDRINUSE", err)
			}
		})
	}
}

func TestNetworkBadSettings(t *testing.T) {
	for _, tc := range []struct {
		n    Network
		want string
	}{
		{Network{UDPPort: 70000, LoopbackOnly: true}, "--rtc-udp-port"},
		{Network{UDPPort: 0, TCPPort: -2, LoopbackOnly: true}, "--rtc-tcp-port"},
		{Network{PublicIPs: []string{"puente.example.org"}}, "--rtc-public-ip"},
		{Network{PublicIPs: []string{"203.0.113.7/nowhere"}}, "--rtc-public-ip"},
		{Network{ListenIP: "192.0.2.1", LoopbackOnly: true}, "loopback"},
		{Network{ListenIP: "not-an-ip"}, "not an IP address"},
	} {
		_, _, closer, err := tc.n.Listen(nil)
		if err == nil {
			closer.Close()
			t.Errorf("%+v: Listen succeeded", tc.n)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %q should mention %q", tc.n, err, tc.want)
		}
	}
}

func TestNetworkCloseTwice(t *testing.T) {
	verifyNoLeaks(t)
	_, _, closer, err := Network{UDPPort: 0, TCPPort: 0, LoopbackOnly: true}.Listen(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := closer.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := closer.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
