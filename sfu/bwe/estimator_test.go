package bwe

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

func testEstimator(t *testing.T) (*Estimator, *clock) {
	t.Helper()
	est, err := NewEstimators(Config{}).newEstimator()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = est.Close() })
	c := &clock{t: time.Unix(1000, 0)}
	est.now = c.now
	return est, c
}

func TestREMBFallback(t *testing.T) {
	est, c := testEstimator(t)
	if got := est.TargetBitrate(); got != defaultInitialBps {
		t.Errorf("before any feedback: %d, want the initial %d", got, defaultInitialBps)
	}
	remb := &rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: 250_000, SSRCs: []uint32{1}}
	if err := est.WriteRTCP([]rtcp.Packet{remb}, nil); err != nil {
		t.Fatal(err)
	}
	if got := est.TargetBitrate(); got != 250_000 {
		t.Errorf("after a REMB: %d, want 250000", got)
	}
	// The explicit entry point does the same.
	est.OnRTCP([]rtcp.Packet{&rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: 1e12}})
	if got := est.TargetBitrate(); got != defaultMaxBps {
		t.Errorf("after an absurd REMB: %d, want the maximum %d", got, defaultMaxBps)
	}
	est.OnRTCP([]rtcp.Packet{&rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: float32(math.NaN())}})
	est.OnRTCP([]rtcp.Packet{&rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: 10}})
	if got := est.TargetBitrate(); got != defaultMinBps {
		t.Errorf("after a tiny REMB: %d, want the minimum %d", got, defaultMinBps)
	}
	c.advance(10 * time.Second)
	if got := est.TargetBitrate(); got != defaultInitialBps {
		t.Errorf("REMBs stopped: %d, want GCC's %d", got, defaultInitialBps)
	}
}

// sendWithTWCC has est note n packets as sent, numbered 0.. by the transport-cc extension.
func sendWithTWCC(t *testing.T, est *Estimator, n int) {
	t.Helper()
	const extID = 5
	info := &interceptor.StreamInfo{SSRC: 1234, RTPHeaderExtensions: []interceptor.RTPHeaderExtension{{URI: transportCCURI, ID: extID}}}
	w := est.AddStream(info, interceptor.RTPWriterFunc(func(h *rtp.Header, p []byte, _ interceptor.Attributes) (int, error) {
		return len(p), nil
	}))
	for i := range n {
		h := &rtp.Header{Version: 2, SSRC: 1234, SequenceNumber: uint16(i)}
		b, _ := (&rtp.TransportCCExtension{TransportSequence: uint16(i)}).Marshal()
		if err := h.SetExtension(extID, b); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(h, make([]byte, 1000), nil); err != nil {
			t.Fatal(err)
		}
	}
}

const transportCCURI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"

func TestBadTWCCFeedbackIsIgnored(t *testing.T) {
	est, _ := testEstimator(t)
	sendWithTWCC(t, est, 100)
	bad := []rtcp.Packet{
		// More statuses than chunks, received symbols without deltas.
		&rtcp.TransportLayerCC{MediaSSRC: 1234, BaseSequenceNumber: 0, PacketStatusCount: 50,
			PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedSmallDelta, RunLength: 50}}},
		// Sequence numbers never sent, and going backwards.
		&rtcp.TransportLayerCC{MediaSSRC: 1234, BaseSequenceNumber: 60000, PacketStatusCount: 8000, ReferenceTime: 0xffffff,
			PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketNotReceived, RunLength: 8000}}},
		&rtcp.TransportLayerCC{MediaSSRC: 1234, BaseSequenceNumber: 90, PacketStatusCount: 3, ReferenceTime: 1,
			PacketChunks: []rtcp.PacketStatusChunk{&rtcp.StatusVectorChunk{SymbolSize: rtcp.TypeTCCSymbolSizeTwoBit,
				SymbolList: []uint16{rtcp.TypeTCCPacketReceivedLargeDelta, rtcp.TypeTCCPacketReceivedSmallDelta, rtcp.TypeTCCPacketReceivedSmallDelta}}},
			RecvDeltas: []*rtcp.RecvDelta{{Type: rtcp.TypeTCCPacketReceivedLargeDelta, Delta: -8000000}}},
		&rtcp.TransportLayerCC{MediaSSRC: 1234, BaseSequenceNumber: 10, PacketStatusCount: 2, ReferenceTime: 0,
			PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedSmallDelta, RunLength: 2}},
			RecvDeltas:   []*rtcp.RecvDelta{{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 1000}, {Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 1000}}},
		&rtcp.TransportLayerCC{},
		nil,
	}
	for i, p := range bad {
		pkts := []rtcp.Packet{p}
		if p == nil {
			pkts = nil
		}
		if err := est.WriteRTCP(pkts, nil); err != nil {
			t.Errorf("report %d: %v", i, err)
		}
	}
	if est.BadReports() == 0 {
		t.Error("no report counted as bad")
	}
	if got := est.TargetBitrate(); got < defaultMinBps || got > defaultMaxBps {
		t.Errorf("estimate %d out of bounds", got)
	}

	// Random bytes that happen to parse as RTCP.
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 64)
	for range 1000 {
		for i := range buf {
			buf[i] = byte(r.Uint32())
		}
		// A transport-cc feedback header, so that most inputs reach GCC.
		buf[0], buf[1] = 0x8f, 205
		buf[2], buf[3] = 0, 15
		pkts, err := rtcp.Unmarshal(buf)
		if err != nil {
			continue
		}
		if err := est.WriteRTCP(pkts, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRegisterGivesEveryPeerConnectionItsEstimator makes peer connections through an API set
// up by Register and finds each one's estimator, until it closes.
func TestRegisterGivesEveryPeerConnectionItsEstimator(t *testing.T) {
	ests := NewEstimators(Config{})
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	ir := &interceptor.Registry{}
	if err := ests.Register(m, ir); err != nil {
		t.Fatal(err)
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir))
	var pcs []*webrtc.PeerConnection
	seen := map[*Estimator]bool{}
	for range 5 {
		pc, err := api.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			t.Fatal(err)
		}
		pcs = append(pcs, pc)
		est := ests.Of(pc)
		if est == nil || seen[est] {
			t.Fatalf("estimator %p for %s (seen: %v)", est, pc.ID(), seen[est])
		}
		seen[est] = true
		if got := est.TargetBitrate(); got != defaultInitialBps {
			t.Errorf("new estimate %d, want %d", got, defaultInitialBps)
		}
	}
	for _, pc := range pcs {
		if err := pc.Close(); err != nil {
			t.Fatal(err)
		}
		if ests.Of(pc) != nil {
			t.Errorf("%s: estimator kept after close", pc.ID())
		}
	}
	if ests.Of(nil) != nil {
		t.Error("an estimator for nil")
	}
}
