package live_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/transport/v5/vnet"
	"github.com/pion/webrtc/v4"

	"github.com/puente-org/puente/pionlog"
	"github.com/puente-org/puente/sfu"
)

// ICE timing on the virtual network: a cut path is noticed within about a second and does
// not fail the connection in a 3 s cut.
const (
	vnetDisconnected = time.Second
	vnetFailed       = time.Minute
	vnetKeepalive    = 200 * time.Millisecond
)

// lab is a virtual network with one router; cut drops everything to and from one address.
type lab struct {
	router *vnet.Router
	nets   map[string]*vnet.Net
	cutIP  atomic.Pointer[net.IP]
}

func newLab(t *testing.T, ips ...string) *lab {
	t.Helper()
	logs := pionlog.Factory{Log: slog.New(slog.DiscardHandler)}
	r, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.0.0.0/24", LoggerFactory: logs})
	if err != nil {
		t.Fatal(err)
	}
	l := &lab{router: r, nets: map[string]*vnet.Net{}}
	for _, ip := range ips {
		n, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{ip}})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.AddNet(n); err != nil {
			t.Fatal(err)
		}
		l.nets[ip] = n
	}
	r.AddChunkFilter(func(c vnet.Chunk) bool {
		cut := l.cutIP.Load()
		return cut == nil || (!udpIP(c.SourceAddr()).Equal(*cut) && !udpIP(c.DestinationAddr()).Equal(*cut))
	})
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Stop() })
	return l
}

func udpIP(a net.Addr) net.IP {
	if u, ok := a.(*net.UDPAddr); ok {
		return u.IP
	}
	return nil
}

func (l *lab) cut(ip string) {
	if ip == "" {
		l.cutIP.Store(nil)
		return
	}
	p := net.ParseIP(ip)
	l.cutIP.Store(&p)
}

// sfuOn runs the SFU's one UDP socket on the virtual network at ip.
func (l *lab) sfuOn(ip string) func(*sfu.Config) {
	return func(cfg *sfu.Config) {
		n := l.nets[ip]
		cfg.ICEDisconnectedTimeout, cfg.ICEFailedTimeout, cfg.ICEKeepalive = vnetDisconnected, vnetFailed, vnetKeepalive
		cfg.Listen = func(log *slog.Logger) (webrtc.SettingEngine, sfu.Ports, io.Closer, error) {
			var se webrtc.SettingEngine
			conn, err := n.ListenPacket("udp4", net.JoinHostPort(ip, "0"))
			if err != nil {
				return se, sfu.Ports{}, nil, fmt.Errorf("listen on the virtual network: %w", err)
			}
			logs := pionlog.Factory{Log: log}
			mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{Logger: logs.NewLogger("udpmux"), UDPConn: conn, Net: n})
			se.SetNet(n)
			se.SetICEUDPMux(mux)
			se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
			se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
			se.LoggerFactory = logs
			return se, sfu.Ports{UDP: conn.LocalAddr().(*net.UDPAddr).Port}, mux, nil
		}
	}
}

// api is a client's WebRTC stack on the virtual network at ip.
func (l *lab) api(t *testing.T, ip string) *webrtc.API {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		t.Fatal(err)
	}
	var se webrtc.SettingEngine
	se.SetNet(l.nets[ip])
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetICETimeouts(vnetDisconnected, vnetFailed, vnetKeepalive)
	se.LoggerFactory = pionlog.Factory{Log: slog.New(slog.DiscardHandler)}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
}

// A viewer's media path is cut for 3 s while its websocket stays up: it restarts ICE on its
// receiving connection (as the page does: "restart" while ICE is disconnected, again every
// 2 s until connected again) and the speaker's video comes back, with the same participant id;
// nobody saw it leave or reconnect.
func TestViewerPathCutRecoversByICERestart(t *testing.T) {
	l := newLab(t, "10.0.0.1", "10.0.0.2", "10.0.0.3")
	e := newEnv(t, l.sfuOn("10.0.0.1"))
	e.apis = map[string]*webrtc.API{"speaker": l.api(t, "10.0.0.2"), "ben": l.api(t, "10.0.0.3")}
	speaker := e.join("speaker", "speaker")
	ben := e.join("ben", "attendee")
	w := &watch{}
	stop := make(chan struct{})
	wg := speaker.follow(ben.id, w, stop)
	speaker.publish(true, false)
	tr := ben.nextTrack(speaker.id, "camera")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if got := readPackets(ctx, tr, 20, true); got.err != nil {
		t.Fatal(got.err)
	}

	// ben restarts ICE whenever its receiving connection is disconnected, as the page does.
	var restarts atomic.Int32
	states := make(chan webrtc.ICEConnectionState, 16)
	ben.down.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) {
		select {
		case states <- s:
		default: // the watcher has stopped
		}
	})
	done := make(chan struct{})
	defer close(done)
	go func() {
		var broken bool
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case s := <-states:
				was := broken
				// Broken until connected again: a restart made while the path was still
				// down checks in vain, so another follows while it stays broken.
				broken = s != webrtc.ICEConnectionStateConnected && s != webrtc.ICEConnectionStateCompleted
				if broken && !was {
					restarts.Add(1)
					ben.send(map[string]any{"type": "restart", "pc": "down"})
				}
			case <-tick.C:
				if broken {
					restarts.Add(1)
					ben.send(map[string]any{"type": "restart", "pc": "down"})
				}
			}
		}
	}()

	l.cut("10.0.0.3")
	time.Sleep(3 * time.Second)
	l.cut("")
	ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	if got := readPackets(ctx2, tr, 30, true); got.err != nil {
		t.Fatalf("ben after the cut: %v", got.err)
	}
	if restarts.Load() == 0 {
		t.Fatalf("the path came back without an ICE restart: the cut was not noticed")
	}
	if n := e.metric("puente_live_resumes_total", "ice"); n < 1 {
		t.Fatalf("ICE restarts counted: %v", n)
	}
	close(stop)
	wg.Wait()
	if w.has("left") || w.has("reconnecting") {
		t.Fatalf("the speaker saw ben %v during an ICE restart", w.seen)
	}
	t.Logf("ICE restarts asked: %d", restarts.Load())
}
