package bwe

import (
	"crypto/rand"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/rtp"
	"github.com/pion/transport/v5/vnet"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"
)

// shapedPath is a virtual network with a sender at 10.0.0.1 and a receiver at 10.0.0.2
// whose incoming traffic passes a token bucket (capBps; 0: no limit) with a queue of
// about half a second, which drops what does not fit.
type shapedPath struct {
	router           *vnet.Router
	sender, receiver *vnet.Net
	queue            *vnet.Queue
}

func newShapedPath(t *testing.T, capBps int) *shapedPath {
	t.Helper()
	r, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.0.0.0/24", MinDelay: 10 * time.Millisecond, LoggerFactory: logging.NewDefaultLoggerFactory()})
	if err != nil {
		t.Fatal(err)
	}
	p := &shapedPath{router: r}
	if p.sender, err = vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{"10.0.0.1"}}); err != nil {
		t.Fatal(err)
	}
	if err := r.AddNet(p.sender); err != nil {
		t.Fatal(err)
	}
	if p.receiver, err = vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{"10.0.0.2"}}); err != nil {
		t.Fatal(err)
	}
	if capBps > 0 {
		if p.queue, err = vnet.NewQueue(p.receiver, vnet.NewTBFQueue(capBps, 3000, int64(capBps/16))); err != nil {
			t.Fatal(err)
		}
		err = r.AddNet(p.queue)
	} else {
		err = r.AddNet(p.receiver)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *shapedPath) close(t *testing.T) {
	if err := p.router.Stop(); err != nil {
		t.Error(err)
	}
	if p.queue != nil {
		if err := p.queue.Close(); err != nil {
			t.Error(err)
		}
	}
}

func settings(n *vnet.Net) webrtc.SettingEngine {
	var se webrtc.SettingEngine
	se.SetNet(n)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return se
}

// estimateOverPath has a sender whose API is set up by Estimators.Register send video to a
// receiver with Pion's default interceptors (transport-cc feedback) over a shaped path, at
// the estimate (up to mediaMaxBps), as the SFU's layer choice would; with probe, it also
// sends a probe cluster at twice the estimate every second, as the SFU's prober would. It
// stops when done says the estimate is where it should be (or gives up).
func estimateOverPath(t *testing.T, capBps int, probe bool, done func(bps int) bool) int {
	// Checked after the deferred closes below.
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) })
	path := newShapedPath(t, capBps)
	defer path.close(t)
	return estimateBetween(t, settings(path.sender), settings(path.receiver), probe, done)
}

// estimateBetween is estimateOverPath between peers with the given settings.
func estimateBetween(t *testing.T, senderSE, receiverSE webrtc.SettingEngine, probe bool, done func(bps int) bool) int {
	ests := NewEstimators(Config{})
	sm := &webrtc.MediaEngine{}
	if err := sm.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	sir := &interceptor.Registry{}
	if err := ests.Register(sm, sir); err != nil {
		t.Fatal(err)
	}
	sender := webrtc.NewAPI(webrtc.WithMediaEngine(sm), webrtc.WithInterceptorRegistry(sir), webrtc.WithSettingEngine(senderSE))

	rm := &webrtc.MediaEngine{}
	if err := rm.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	rir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(rm, rir); err != nil {
		t.Fatal(err)
	}
	receiver := webrtc.NewAPI(webrtc.WithMediaEngine(rm), webrtc.WithInterceptorRegistry(rir), webrtc.WithSettingEngine(receiverSE))

	spc, err := sender.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer closeQuietly(t, spc)
	est := ests.Of(spc)
	if est == nil {
		t.Fatal("no estimator for the sender")
	}
	rpc, err := receiver.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer closeQuietly(t, rpc)

	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "bwe")
	if err != nil {
		t.Fatal(err)
	}
	rtpSender, err := spc.AddTrack(track)
	if err != nil {
		t.Fatal(err)
	}
	// Reading the sender's RTCP is what feeds the feedback to the estimator.
	go func() {
		for {
			if _, _, err := rtpSender.ReadRTCP(); err != nil {
				return
			}
		}
	}()
	rpc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		buf := make([]byte, 1500)
		for {
			if _, _, err := tr.Read(buf); err != nil {
				return
			}
		}
	})
	signal(t, spc, rpc)

	// Frames every 33 ms of 1000-byte payloads, as many as the estimate allows.
	const mediaMaxBps = 1_200_000
	payload := make([]byte, 1000)
	if _, err := rand.Read(payload); err != nil {
		t.Fatal(err)
	}
	payload[0] = 0x10 // VP8 descriptor: start of partition
	var seq uint16
	var ts uint32
	write := func(marker bool) {
		seq++
		err := track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts, Marker: marker}, Payload: payload})
		if err != nil && !errors.Is(err, io.ErrClosedPipe) {
			t.Fatal(err)
		}
	}
	tick := time.NewTicker(33 * time.Millisecond)
	defer tick.Stop()
	giveUp := time.After(60 * time.Second)
	credit := 0.0 // bytes the estimate allows that are not sent yet
	probeID := 0
	for i := 0; ; i++ {
		select {
		case <-tick.C:
		case <-giveUp:
			t.Fatalf("gave up with the estimate at %d bps", est.TargetBitrate())
		}
		ts += 3000
		bps := est.TargetBitrate()
		credit += float64(min(bps, mediaMaxBps)) / 8 * 0.033
		n := int(credit / 1000)
		credit -= float64(n * 1000)
		for k := range n {
			write(k == n-1)
		}
		if probe && probeID == 0 && i%30 == 15 {
			// A cluster of 15 packets at twice the estimate, paced by sleeping between
			// small bursts (the send times the estimator notes tell the real rate).
			probeID = est.BeginProbe()
			gap := time.Duration(3 * 1000 * 8 * float64(time.Second) / float64(2*bps))
			for range 5 {
				for range 3 {
					write(false)
				}
				time.Sleep(gap)
			}
			est.EndProbe(probeID)
		}
		if probeID != 0 {
			if r, done := est.ProbeResult(probeID); done {
				t.Logf("probe %d: %d bps", probeID, r)
				probeID = 0
			}
		}
		if i%30 == 0 {
			t.Logf("estimate %d bps", bps)
			if done(bps) {
				if bad := est.BadReports(); bad > 0 {
					t.Errorf("%d feedback reports not used", bad)
				}
				return bps
			}
		}
	}
}

func closeQuietly(t *testing.T, pc *webrtc.PeerConnection) {
	if err := pc.Close(); err != nil {
		t.Log(err)
	}
}

// signal connects the two peers, the sender offering.
func signal(t *testing.T, offerer, answerer *webrtc.PeerConnection) {
	t.Helper()
	offer, err := offerer.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(offerer)
	if err := offerer.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	if err := answerer.SetRemoteDescription(*offerer.LocalDescription()); err != nil {
		t.Fatal(err)
	}
	answer, err := answerer.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered = webrtc.GatheringCompletePromise(answerer)
	if err := answerer.SetLocalDescription(answer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	if err := offerer.SetRemoteDescription(*answerer.LocalDescription()); err != nil {
		t.Fatal(err)
	}
}

// TestEstimateOverShapedPaths: over a 300 kbps path the estimate settles near 300 kbps,
// probes or not; over an unlimited one, probes take it from its 300 kbps start to well above
// what the 1.2 Mbps of media alone would show.
func TestEstimateOverShapedPaths(t *testing.T) {
	if testing.Short() {
		t.Skip("real peers for several seconds")
	}
	// Settled: three checks in a row (a second apart) between 150 and 400 kbps.
	settled := func() func(int) bool {
		inRange := 0
		return func(bps int) bool {
			if bps >= 150_000 && bps < 400_000 {
				inRange++
			} else {
				inRange = 0
			}
			return inRange >= 3
		}
	}
	t.Run("300 kbps", func(t *testing.T) {
		estimateOverPath(t, 300_000, false, settled())
	})
	t.Run("300 kbps probing", func(t *testing.T) {
		estimateOverPath(t, 300_000, true, settled())
	})
	t.Run("unlimited probing", func(t *testing.T) {
		estimateOverPath(t, 0, true, func(bps int) bool { return bps > 2_500_000 })
	})
}
