// Package vnetlab runs WebRTC on Pion's virtual network, for tests of what happens when a
// network path breaks: one router, addresses on it, a switch that cuts one address off, a
// way to move a client to a new address, and the SFU's and the clients' WebRTC stacks on it.
// Nothing leaves the process.
package vnetlab

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/transport/v5/vnet"
	"github.com/pion/webrtc/v4"

	"github.com/puente-org/puente/pionlog"
)

// Timing is the ICE timing of a stack: after Disconnected of silence a connection is
// "disconnected", after Failed more it is "failed"; Keepalive is how often consent is
// checked (it bounds how fast a dead path is noticed).
type Timing struct{ Disconnected, Failed, Keepalive time.Duration }

// Lab is a virtual network in 10.0.0.0/24 with one router.
type Lab struct {
	router *vnet.Router
	nets   map[string]*vnet.Net
	cutIP  atomic.Pointer[net.IP]
	log    *slog.Logger
}

// New starts a router with one network interface per address in ips.
func New(log *slog.Logger, ips ...string) (*Lab, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.0.0.0/24", LoggerFactory: pionlog.Factory{Log: log}})
	if err != nil {
		return nil, fmt.Errorf("virtual router: %w", err)
	}
	l := &Lab{router: r, nets: map[string]*vnet.Net{}, log: log}
	for _, ip := range ips {
		n, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{ip}})
		if err != nil {
			return nil, fmt.Errorf("virtual net %s: %w", ip, err)
		}
		if err := r.AddNet(n); err != nil {
			return nil, fmt.Errorf("virtual net %s: %w", ip, err)
		}
		l.nets[ip] = n
	}
	r.AddChunkFilter(func(c vnet.Chunk) bool {
		cut := l.cutIP.Load()
		return cut == nil || (!ipOf(c.SourceAddr()).Equal(*cut) && !ipOf(c.DestinationAddr()).Equal(*cut))
	})
	if err := r.Start(); err != nil {
		return nil, fmt.Errorf("start the virtual router: %w", err)
	}
	return l, nil
}

func ipOf(a net.Addr) net.IP {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.IP
	case *net.TCPAddr:
		return a.IP
	}
	return nil
}

// Close stops the router.
func (l *Lab) Close() error { return l.router.Stop() }

// Cut drops everything to and from ip until Cut("") restores the path.
func (l *Lab) Cut(ip string) {
	if ip == "" {
		l.cutIP.Store(nil)
		return
	}
	p := net.ParseIP(ip)
	l.cutIP.Store(&p)
}

// Move changes the address of the interface that had from (Wi-Fi to a mobile network):
// from is gone, to is new. Only an ICE restart, gathering on the new address, gets the media
// through again.
func (l *Lab) Move(from, to string) error {
	n := l.nets[from]
	if n == nil {
		return fmt.Errorf("no interface with %s", from)
	}
	if err := n.RemoveAddress("eth0", net.ParseIP(from)); err != nil {
		return err
	}
	return n.AddAddress("eth0", &net.IPNet{IP: net.ParseIP(to), Mask: net.CIDRMask(24, 32)})
}

// Listen opens an SFU's one UDP socket (with its ICE mux) on ip: the setting engine that
// uses it, its port, and what closes it (the shape of sfu.Config.Listen).
func (l *Lab) Listen(ip string, log *slog.Logger) (webrtc.SettingEngine, int, io.Closer, error) {
	var se webrtc.SettingEngine
	n := l.nets[ip]
	if n == nil {
		return se, 0, nil, fmt.Errorf("no interface with %s", ip)
	}
	conn, err := n.ListenPacket("udp4", net.JoinHostPort(ip, "0"))
	if err != nil {
		return se, 0, nil, fmt.Errorf("listen on the virtual network: %w", err)
	}
	logs := pionlog.Factory{Log: log}
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{Logger: logs.NewLogger("udpmux"), UDPConn: conn, Net: n})
	se.SetNet(n)
	se.SetICEUDPMux(mux)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.LoggerFactory = logs
	return se, conn.LocalAddr().(*net.UDPAddr).Port, mux, nil
}

// API is a client's WebRTC stack on ip (default codecs and interceptors), with the given
// ICE timing.
func (l *Lab) API(ip string, t Timing) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		return nil, err
	}
	var se webrtc.SettingEngine
	se.SetNet(l.nets[ip])
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetICETimeouts(t.Disconnected, t.Failed, t.Keepalive)
	se.LoggerFactory = pionlog.Factory{Log: l.log.With("client", ip)}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}
