package sfu

import (
	"fmt"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// TestPublishToFirstPacket measures (it asserts no time) how long a new publication takes
// to reach a viewer in a room of 200 viewers: from the publisher's up connection being
// connected to the first of its packets at one viewer, a real Pion client already
// receiving (its down connection is up). The 199 others never answer their offers, so
// each subscription costs the SFU its full offer. Run with PUENTE_PUBLISH_BENCH=1 (and -v
// for the figures); it takes a while on a small machine.
func TestPublishToFirstPacket(t *testing.T) {
	if os.Getenv("PUENTE_PUBLISH_BENCH") == "" {
		t.Skip("set PUENTE_PUBLISH_BENCH=1 to measure")
	}
	const viewers, runs = 200, 3
	const sfuIP, warmIP, viewerIP = "10.0.0.1", "10.0.0.2", "10.0.0.3"
	pubIPs := []string{"10.0.0.11", "10.0.0.12", "10.0.0.13"}
	lab := newVnetLab(t, append([]string{sfuIP, warmIP, viewerIP}, pubIPs...)...)
	s := lab.sfu(sfuIP)
	room := s.NewRoom("fanout")
	t.Cleanup(room.Close)

	viewer := joinClient(t, room, lab.api(viewerIP), "viewer", false)
	// The others answer every offer (so each new track costs the SFU a full offer), with
	// no ICE candidates: their connections never come up.
	api := lab.api(viewerIP)
	for i := range viewers - 1 {
		pc, err := api.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			t.Fatal(err)
		}
		offers := make(chan string, 64)
		var p *Peer
		done := make(chan struct{})
		go func() {
			defer close(done)
			for sdp := range offers {
				if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
					continue
				}
				answer, err := pc.CreateAnswer(nil)
				if err == nil {
					err = pc.SetLocalDescription(answer)
				}
				if err == nil {
					_ = p.HandleAnswer(answer.SDP)
				}
			}
		}()
		p, err = room.Join(fmt.Sprintf("silent-%d", i), false, PeerEvents{
			SendSDP: func(typ, _, sdp string, _ map[string]TrackInfo) {
				if typ == "offer" {
					offers <- sdp
				}
			},
			SendCandidate: func(string, webrtc.ICECandidateInit) {}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			p.Close()
			close(offers)
			<-done
			_ = pc.Close()
		})
	}
	// The viewer's down connection comes up with a first publisher's video, which then stops.
	warm := joinClient(t, room, lab.api(warmIP), "warm", true)
	wp := warm.publishVideo(t)
	viewer.moreReceived(t, 20)
	wp.halt()
	warm.close()
	for last := viewer.received.Load(); ; {
		time.Sleep(300 * time.Millisecond)
		if n := viewer.received.Load(); n == last {
			break
		} else {
			last = n
		}
	}

	var got []time.Duration
	for i := range runs {
		pub := joinClient(t, room, lab.api(pubIPs[i]), "pub"+string(rune('0'+i)), true)
		connected := make(chan time.Time, 1)
		pub.up.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
			if s == webrtc.PeerConnectionStateConnected {
				select {
				case connected <- time.Now():
				default:
				}
			}
		})
		before := viewer.received.Load()
		pp := pub.publishVideo(t)
		var first time.Time
		deadline := time.Now().Add(2 * giveUp)
		for first.IsZero() {
			if viewer.received.Load() > before {
				first = time.Now()
			} else if time.Now().After(deadline) {
				t.Fatal("gave up waiting for the viewer's first packet")
			}
			time.Sleep(time.Millisecond)
		}
		at := <-connected
		got = append(got, first.Sub(at))
		t.Logf("run %d: first packet %v after the publisher connected", i, first.Sub(at).Round(time.Millisecond))
		pp.halt()
		pub.close()
		time.Sleep(time.Second)
	}
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	t.Logf("publication to first packet with %d viewers: median %v", viewers, got[len(got)/2].Round(time.Millisecond))
}
