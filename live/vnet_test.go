package live_test

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/puente-org/puente/sfu"
	"github.com/puente-org/puente/sfu/vnetlab"
)

// ICE timing on the virtual network: a cut path is noticed within about a second and does
// not fail the connection in a 3 s cut.
const (
	vnetDisconnected = time.Second
	vnetFailed       = time.Minute
	vnetKeepalive    = 200 * time.Millisecond
)

// newLab is a virtual network for a test (package vnetlab).
func newLab(t *testing.T, ips ...string) *vnetlab.Lab {
	t.Helper()
	l, err := vnetlab.New(nil, ips...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

var vnetTiming = vnetlab.Timing{Disconnected: vnetDisconnected, Failed: vnetFailed, Keepalive: vnetKeepalive}

// sfuOn runs the SFU's one UDP socket on the virtual network at ip, with the short timing.
func sfuOn(l *vnetlab.Lab, ip string) func(*sfu.Config) {
	return func(cfg *sfu.Config) {
		cfg.ICEDisconnectedTimeout, cfg.ICEFailedTimeout, cfg.ICEKeepalive = vnetDisconnected, vnetFailed, vnetKeepalive
		cfg.Listen = func(log *slog.Logger) (webrtc.SettingEngine, sfu.Ports, io.Closer, error) {
			se, port, closer, err := l.Listen(ip, log)
			return se, sfu.Ports{UDP: port}, closer, err
		}
	}
}

func vnetAPI(t *testing.T, l *vnetlab.Lab, ip string) *webrtc.API {
	t.Helper()
	api, err := l.API(ip, vnetTiming)
	if err != nil {
		t.Fatal(err)
	}
	return api
}

// A viewer's media path is cut for 3 s while its websocket stays up: it restarts ICE on its
// receiving connection (as the page does: "restart" while ICE is disconnected, again every
// 2 s until connected again) and the speaker's video comes back, with the same participant id;
// nobody saw it leave or reconnect.
func TestViewerPathCutRecoversByICERestart(t *testing.T) {
	l := newLab(t, "10.0.0.1", "10.0.0.2", "10.0.0.3")
	e := newEnv(t, sfuOn(l, "10.0.0.1"))
	e.apis = map[string]*webrtc.API{"speaker": vnetAPI(t, l, "10.0.0.2"), "ben": vnetAPI(t, l, "10.0.0.3")}
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

	l.Cut("10.0.0.3")
	time.Sleep(3 * time.Second)
	l.Cut("")
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
