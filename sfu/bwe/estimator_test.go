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
	est := NewEstimators(Config{}).newEstimator()
	c := &clock{t: time.Unix(1000, 0)}
	est.now, est.epoch = c.now, c.now()
	return est, c
}

func TestREMBFallback(t *testing.T) {
	est, c := testEstimator(t)
	if got := est.TargetBitrate(); got != defaultInitialBps {
		t.Errorf("before any feedback: %d, want the initial %d", got, defaultInitialBps)
	}
	remb := &rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: 250_000, SSRCs: []uint32{1}}
	est.onRTCP([]rtcp.Packet{remb})
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
		t.Errorf("REMBs stopped: %d, want the transport-cc estimate %d", got, defaultInitialBps)
	}
}

// TestREMBIsOnlyTheFallback: while transport-cc feedback comes, REMBs do not count.
func TestREMBIsOnlyTheFallback(t *testing.T) {
	s := newPathSim(t, 0)
	s.run(2*time.Second, 1000, func() int { return 1_000_000 })
	s.est.onRTCP([]rtcp.Packet{&rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: 100_000}})
	if got := s.est.TargetBitrate(); got < 1_000_000 {
		t.Errorf("estimate %d with fresh transport-cc feedback, want the delay-based one", got)
	}
}

// sendWithTWCC has est's interceptor stamp n packets, numbered 0.. by the transport-cc
// extension, and note them as sent.
func sendWithTWCC(t *testing.T, est *Estimator, n int) {
	t.Helper()
	const extID = 5
	pi := &pcInterceptor{est: est}
	info := &interceptor.StreamInfo{SSRC: 1234, RTPHeaderExtensions: []interceptor.RTPHeaderExtension{{URI: transportCCURI, ID: extID}}}
	w := pi.BindLocalStream(info, interceptor.RTPWriterFunc(func(_ *rtp.Header, p []byte, _ interceptor.Attributes) (int, error) {
		return len(p), nil
	}))
	for i := range n {
		h := &rtp.Header{Version: 2, SSRC: 1234, SequenceNumber: uint16(i)}
		if _, err := w.Write(h, make([]byte, 1000), nil); err != nil {
			t.Fatal(err)
		}
	}
}

const transportCCURI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"

func TestBadTWCCFeedbackIsIgnored(t *testing.T) {
	est, c := testEstimator(t)
	sendWithTWCC(t, est, 100)
	bad := []rtcp.Packet{
		// More statuses than chunks, received symbols without deltas.
		&rtcp.TransportLayerCC{MediaSSRC: 1234, BaseSequenceNumber: 0, PacketStatusCount: 50,
			PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedSmallDelta, RunLength: 50}}},
		// Sequence numbers never sent.
		&rtcp.TransportLayerCC{MediaSSRC: 1234, BaseSequenceNumber: 30000, PacketStatusCount: 8000, ReferenceTime: 0xffffff,
			PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketNotReceived, RunLength: 8000}}},
		// Three received, one delta.
		&rtcp.TransportLayerCC{MediaSSRC: 1234, BaseSequenceNumber: 90, PacketStatusCount: 3, ReferenceTime: 1,
			PacketChunks: []rtcp.PacketStatusChunk{&rtcp.StatusVectorChunk{SymbolSize: rtcp.TypeTCCSymbolSizeTwoBit,
				SymbolList: []uint16{rtcp.TypeTCCPacketReceivedLargeDelta, rtcp.TypeTCCPacketReceivedSmallDelta, rtcp.TypeTCCPacketReceivedSmallDelta}}},
			RecvDeltas: []*rtcp.RecvDelta{{Type: rtcp.TypeTCCPacketReceivedLargeDelta, Delta: -8000000}}},
		// A nil chunk, a nil delta, an unknown symbol, more deltas than received packets.
		&rtcp.TransportLayerCC{BaseSequenceNumber: 10, PacketStatusCount: 2, PacketChunks: []rtcp.PacketStatusChunk{nil}},
		&rtcp.TransportLayerCC{BaseSequenceNumber: 10, PacketStatusCount: 1,
			PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedSmallDelta, RunLength: 1}},
			RecvDeltas:   []*rtcp.RecvDelta{nil}},
		&rtcp.TransportLayerCC{BaseSequenceNumber: 10, PacketStatusCount: 1,
			PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: 7, RunLength: 1}}},
		&rtcp.TransportLayerCC{BaseSequenceNumber: 10, PacketStatusCount: 1,
			PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketNotReceived, RunLength: 1}},
			RecvDeltas:   []*rtcp.RecvDelta{{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 250}}},
		&rtcp.TransportLayerCC{},
		(*rtcp.TransportLayerCC)(nil),
	}
	for i, p := range bad {
		before := est.BadReports()
		est.onRTCP([]rtcp.Packet{p})
		if est.BadReports() != before+1 {
			t.Errorf("report %d not counted as bad", i)
		}
	}
	if est.lastTWCC.Load() != 0 {
		t.Error("a bad report counted as transport-cc feedback heard")
	}

	// A good report, then the same again (a duplicate), then an older one (out of
	// order): the packets are used once.
	report := func(base uint16, n int, refMs int64) *rtcp.TransportLayerCC {
		pkts := make([]simPacket, n)
		for i := range pkts {
			pkts[i] = simPacket{seq: base + uint16(i), arrival: time.UnixMilli(refMs + int64(i))}
		}
		return buildTWCC(pkts, 0)
	}
	before := est.BadReports()
	est.onRTCP([]rtcp.Packet{report(20, 30, 64_000)})
	if est.BadReports() != before || est.lastTWCC.Load() == 0 {
		t.Fatalf("a good report was not used (bad reports %d → %d)", before, est.BadReports())
	}
	est.mu.Lock()
	total := est.lossTotal
	est.mu.Unlock()
	est.onRTCP([]rtcp.Packet{report(20, 30, 64_000)})
	est.onRTCP([]rtcp.Packet{report(0, 25, 63_000)}) // 20..24 again, 0..19 new: used
	est.onRTCP([]rtcp.Packet{report(5, 10, 63_000)}) // all reported before
	if got := est.BadReports() - before; got != 2 {
		t.Errorf("%d bad reports among a duplicate, a partly new and an old one, want 2", got)
	}
	est.mu.Lock()
	if got := est.lossTotal - total; got != 20 && est.lossTotal != 0 {
		t.Errorf("%d more packets counted, want the 20 new ones", got)
	}
	est.mu.Unlock()
	if got := est.TargetBitrate(); got < defaultMinBps || got > defaultMaxBps {
		t.Errorf("estimate %d out of bounds", got)
	}

	// Random bytes that happen to parse as RTCP, and random reports over what was sent.
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 64)
	for i := range 1000 {
		for i := range buf {
			buf[i] = byte(r.Uint32())
		}
		// A transport-cc feedback header, so that most inputs reach the estimator.
		buf[0], buf[1] = 0x8f, 205
		buf[2], buf[3] = 0, 15
		if i%2 == 0 {
			buf[12], buf[13] = 0, byte(r.IntN(100)) // base sequence number among those sent
		}
		pkts, err := rtcp.Unmarshal(buf)
		if err != nil {
			continue
		}
		est.onRTCP(pkts)
		c.advance(10 * time.Millisecond)
	}
	if got := est.TargetBitrate(); got < defaultMinBps || got > defaultMaxBps {
		t.Errorf("estimate %d out of bounds", got)
	}
}

// TestSteadyDelayGrows: over a path with room, delay steady, the estimate grows from its
// start, but not above 1.5 times what was sent (and acknowledged).
func TestSteadyDelayGrows(t *testing.T) {
	s := newPathSim(t, 0)
	s.run(10*time.Second, 1000, func() int { return 1_000_000 })
	got := s.est.TargetBitrate()
	t.Logf("estimate %d after 10 s of 1 Mbps", got)
	if got < 1_300_000 || got > 1_560_000 {
		t.Errorf("estimate %d, want grown from 1 Mbps up to 1.5 × the 1 Mbps acknowledged", got)
	}
	if s.est.BadReports() != 0 {
		t.Errorf("%d bad reports", s.est.BadReports())
	}
}

// TestRisingDelayDecreases: 1.2 Mbps into an 800 kbps bottleneck: queues and delay grow,
// the detector sees overuse and the estimate drops to about 0.85 × the 800 kbps
// acknowledged.
func TestRisingDelayDecreases(t *testing.T) {
	s := newPathSim(t, 800_000)
	s.run(3*time.Second, 1000, func() int { return 1_200_000 })
	got := s.est.TargetBitrate()
	t.Logf("estimate %d", got)
	if got < 600_000 || got > 720_000 {
		t.Errorf("estimate %d, want about 0.85 × 800 kbps = 680 kbps", got)
	}
}

// TestLossDecreases: 20% loss on a path with room lowers the estimate.
func TestLossDecreases(t *testing.T) {
	s := newPathSim(t, 0)
	s.lossEvery = 5
	s.run(2*time.Second, 1000, func() int { return min(s.est.TargetBitrate(), 1_000_000) })
	got := s.est.TargetBitrate()
	t.Logf("estimate %d", got)
	if got > 700_000 {
		t.Errorf("estimate %d after 2 s of 20%% loss, want well under the 1 Mbps start", got)
	}
	s.lossEvery = 0
	before := got
	s.run(5*time.Second, 1000, func() int { return s.est.TargetBitrate() })
	if got := s.est.TargetBitrate(); got <= before {
		t.Errorf("estimate %d after the loss stopped, want above %d", got, before)
	}
}

// TestProbeRaisesEstimate: a 2 Mbps cluster over a path with room measures about 2 Mbps,
// and the estimate, held at 1.5 × the acknowledged 1 Mbps, jumps to it.
func TestProbeRaisesEstimate(t *testing.T) {
	s := newPathSim(t, 0)
	s.run(5*time.Second, 1000, func() int { return 1_000_000 })
	if id := s.est.BeginProbe(); id <= 0 || s.est.BeginProbe() != 0 {
		t.Fatal("a second cluster opened while one is open")
	} else {
		s.est.EndProbe(id)
		if bps, done := s.est.ProbeResult(id); !done || bps != 0 {
			t.Errorf("empty cluster: %d %v, want done with 0", bps, done)
		}
	}
	before := s.est.TargetBitrate()
	bps, done := s.probe(20, 1000, 2_000_000)
	if !done || bps < 1_800_000 || bps > 2_200_000 {
		t.Errorf("probe result %d (done %v), want 2 Mbps ± 10%%", bps, done)
	}
	got := s.est.TargetBitrate()
	t.Logf("estimate %d before the probe, %d after", before, got)
	if got != bps {
		t.Errorf("estimate %d after a probe of %d", got, bps)
	}
	// Media at 1 Mbps again: the estimate stays (the 1.5 × limit stops increases, it does
	// not lower what a probe showed).
	s.run(2*time.Second, 1000, func() int { return 1_000_000 })
	if now := s.est.TargetBitrate(); now < got {
		t.Errorf("estimate fell from %d to %d without congestion", got, now)
	}
	if bps, done := s.est.ProbeResult(12345); !done || bps != 0 {
		t.Errorf("unknown cluster: %d %v", bps, done)
	}
}

// TestProbeCappedByPath: a 2 Mbps cluster over a 400 kbps path measures the path.
func TestProbeCappedByPath(t *testing.T) {
	s := newPathSim(t, 400_000)
	s.run(3*time.Second, 1000, func() int { return 300_000 })
	bps, done := s.probe(20, 1000, 2_000_000)
	if !done || bps < 360_000 || bps > 440_000 {
		t.Errorf("probe result %d (done %v), want 400 kbps ± 10%%", bps, done)
	}
	if got := s.est.TargetBitrate(); got > 1_000_000 {
		t.Errorf("estimate %d raised by a probe that saw 400 kbps", got)
	}
}

// TestProbeTimesOut: a cluster whose feedback never comes is done with 0 a second after
// it ended.
func TestProbeTimesOut(t *testing.T) {
	s := newPathSim(t, 0)
	id := s.est.BeginProbe()
	for range 10 {
		s.send(1000)
		s.c.advance(time.Millisecond)
	}
	s.est.EndProbe(id)
	if _, done := s.est.ProbeResult(id); done {
		t.Error("done before any feedback")
	}
	s.c.advance(1100 * time.Millisecond)
	if bps, done := s.est.ProbeResult(id); !done || bps != 0 {
		t.Errorf("after the timeout: %d %v, want done with 0", bps, done)
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

// BenchmarkFeedbackReport is the cost of one transport-cc report of 64 packets, all
// received 1 ms apart, read from its bytes through the interceptor's RTCP reader, with the
// 64 packets noted as sent (see BenchmarkSendPacket for what that part costs through the
// interceptor).
func BenchmarkFeedbackReport(b *testing.B) {
	x := newRawReportReader(b)
	b.ReportAllocs()
	for b.Loop() {
		x.read()
	}
	if x.est.BadReports() != 0 {
		b.Fatalf("%d bad reports", x.est.BadReports())
	}
}

// TestReferenceTimeJump: a report whose reference time is hours off (a corrupt report, or
// a receiver whose clock jumped) is not used, and the reports after it are.
func TestReferenceTimeJump(t *testing.T) {
	s := newPathSim(t, 0)
	s.run(2*time.Second, 1000, func() int { return 1_000_000 })
	s.send(1000)
	s.send(1000)
	p := s.pending
	s.pending = nil
	bogus := buildTWCC(p, 0)
	bogus.ReferenceTime ^= 1 << 22
	s.est.onRTCP([]rtcp.Packet{bogus})
	if got := s.est.BadReports(); got != 1 {
		t.Fatalf("%d bad reports, want the one", got)
	}
	before := s.est.TargetBitrate()
	s.run(3*time.Second, 1000, func() int { return 1_000_000 })
	if got := s.est.BadReports(); got != 1 {
		t.Errorf("%d bad reports after the jump, want none more", got-1)
	}
	if got := s.est.TargetBitrate(); got <= before {
		t.Errorf("estimate %d after the jump, want grown from %d", got, before)
	}
}

// TestOutageIsNotCongestion: a path cut for 3 s (nothing arrives, no reports) and then
// back: the losses of the cut, reported once it is back, do not floor the estimate.
func TestOutageIsNotCongestion(t *testing.T) {
	s := newPathSim(t, 0)
	s.run(3*time.Second, 1000, func() int { return 1_000_000 })
	before := s.est.TargetBitrate()
	s.lossEvery = 1 // everything lost...
	end := s.c.now().Add(3 * time.Second)
	for s.c.now().Before(end) {
		s.send(1000)
		s.c.advance(8 * time.Millisecond) // ...and no reports
	}
	s.lossEvery = 0
	s.run(time.Second, 1000, func() int { return 1_000_000 })
	if got := s.est.TargetBitrate(); got < before*9/10 {
		t.Errorf("estimate %d after an outage, was %d", got, before)
	}
}

// TestBusyReceiverIsNotCongestion: a receiver that now and then reads nothing for up to
// 40 ms, then all that came at once, shows jitter, not a queue: the estimate grows as over
// a quiet path.
func TestBusyReceiverIsNotCongestion(t *testing.T) {
	s := newPathSim(t, 0)
	r := rand.New(rand.NewPCG(3, 4))
	var stallEnd time.Time
	s.stalls = func(at time.Time) time.Time {
		if at.Before(stallEnd) {
			return stallEnd
		}
		if r.IntN(20) == 0 { // a stall begins
			stallEnd = at.Add(time.Duration(r.IntN(40)) * time.Millisecond)
			return stallEnd
		}
		return at
	}
	highest := 0
	for range 20 {
		s.run(500*time.Millisecond, 1000, func() int { return 1_000_000 })
		got := s.est.TargetBitrate()
		if got < highest*9/10 {
			t.Fatalf("estimate fell from %d to %d", highest, got)
		}
		highest = max(highest, got)
	}
	if highest < 1_300_000 {
		t.Errorf("estimate %d after 10 s, want grown as over a quiet path", highest)
	}
}

// TestProbeOvershootKeepsWhatWasShown: a viewer sent less than its path carries (its video
// paused, say) is probed above the path; the queue the probe makes reads as overuse, but
// the estimate keeps what the probe before showed instead of falling to 0.85 times the
// little that is acknowledged.
func TestProbeOvershootKeepsWhatWasShown(t *testing.T) {
	s := newPathSim(t, 400_000)
	s.run(2*time.Second, 1000, func() int { return 600_000 }) // congestion: the estimate falls
	s.run(2*time.Second, 200, func() int { return 100_000 })  // then little is sent
	bps, done := s.probe(20, 1000, 380_000)
	if !done || bps < 340_000 {
		t.Fatalf("probe under the path's rate: %d (done %v)", bps, done)
	}
	shown := s.est.TargetBitrate()
	if shown < 340_000 {
		t.Fatalf("estimate %d after a probe that showed %d", shown, bps)
	}
	if bps, _ := s.probe(40, 1000, 1_200_000); bps > 480_000 {
		t.Errorf("a probe over a 400 kbps path measured %d", bps)
	}
	if got := s.est.TargetBitrate(); got < shown*9/10 {
		t.Errorf("estimate %d after a probe that overshot, %d before: the probe's own queue took it down", got, shown)
	}
}
