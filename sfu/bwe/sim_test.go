package bwe

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
)

// pathSim is a synthetic path for unit tests of the estimator's logic: packets are noted
// as sent on a fake clock, cross a bottleneck (capBps, 0: none) with a fixed delay and an
// unbounded queue, and come back as transport-cc reports every 100 ms, built the way a
// receiver builds them.
type pathSim struct {
	t      *testing.T
	est    *Estimator
	c      *clock
	capBps int
	delay  time.Duration
	// lossEvery drops every n-th packet (0: none).
	lossEvery int
	// A busy receiver: stalls (given by stalls, from an arrival time) during which it
	// reads nothing, then reads what came meanwhile all at once, 50 µs apart.
	stalls   func(at time.Time) (until time.Time)
	lastRead time.Time

	seq       uint16
	n         int
	queueFree time.Time   // when the bottleneck is free again
	pending   []simPacket // sent, not yet reported
	fbCount   uint8
}

type simPacket struct {
	seq     uint16
	arrival time.Time
	lost    bool
}

func newPathSim(t *testing.T, capBps int) *pathSim {
	t.Helper()
	// The control-law checks start from 1 Mbps (a viewer sent 1 Mbps from the start), not
	// from the default start for viewers of unknown links.
	est := NewEstimators(Config{InitialBps: 1_000_000}).newEstimator()
	c := &clock{t: time.Unix(1000, 0)}
	est.now, est.epoch = c.now, c.now()
	est.hist.init()
	return &pathSim{t: t, est: est, c: c, capBps: capBps, delay: 20 * time.Millisecond}
}

// send notes one packet of size bytes as sent now.
func (s *pathSim) send(size int) {
	s.est.sent(s.seq, size)
	s.n++
	p := simPacket{seq: s.seq}
	s.seq++
	if s.lossEvery > 0 && s.n%s.lossEvery == 0 {
		p.lost = true
		s.pending = append(s.pending, p)
		return
	}
	at := s.c.now()
	if s.capBps > 0 {
		at = maxTime(at, s.queueFree).Add(time.Duration(int64(size) * 8 * int64(time.Second) / int64(s.capBps)))
		s.queueFree = at
	}
	p.arrival = at.Add(s.delay)
	if s.stalls != nil {
		p.arrival = s.stalls(p.arrival)
		if !p.arrival.After(s.lastRead) {
			p.arrival = s.lastRead.Add(50 * time.Microsecond)
		}
		s.lastRead = p.arrival
	}
	s.pending = append(s.pending, p)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// run sends packets of size bytes at rate(bps) for d, reporting every 100 ms.
func (s *pathSim) run(d time.Duration, size int, rate func() int) {
	end := s.c.now().Add(d)
	nextReport := s.c.now().Add(100 * time.Millisecond)
	for s.c.now().Before(end) {
		s.send(size)
		gap := time.Duration(int64(size) * 8 * int64(time.Second) / int64(max(rate(), 1)))
		s.c.advance(gap)
		for !s.c.now().Before(nextReport) {
			s.report()
			nextReport = nextReport.Add(100 * time.Millisecond)
		}
	}
}

// report sends feedback for the packets that arrived (or were lost before packets that
// did) by now.
func (s *pathSim) report() {
	now := s.c.now()
	n := 0
	for i, p := range s.pending {
		if !p.lost && p.arrival.After(now) {
			break
		}
		n = i + 1
	}
	// Trailing losses are only known once a later packet arrives.
	for n > 0 && s.pending[n-1].lost {
		n--
	}
	if n == 0 {
		return
	}
	fb := buildTWCC(s.pending[:n], s.fbCount)
	s.fbCount++
	s.pending = append(s.pending[:0], s.pending[n:]...)
	s.est.onRTCP([]rtcp.Packet{fb})
}

// buildTWCC is a report of pkts (consecutive sequence numbers), as a receiver writes it:
// the reference time in 64 ms units at or before the first arrival, deltas of 250 µs.
func buildTWCC(pkts []simPacket, count uint8) *rtcp.TransportLayerCC {
	fb := &rtcp.TransportLayerCC{MediaSSRC: 1, BaseSequenceNumber: pkts[0].seq, PacketStatusCount: uint16(len(pkts)), FbPktCount: count}
	var first time.Time
	for _, p := range pkts {
		if !p.lost {
			first = p.arrival
			break
		}
	}
	refUs := first.UnixMicro() / 64_000 * 64_000
	fb.ReferenceTime = uint32(refUs/64_000) & 0xffffff
	last := refUs
	for _, p := range pkts {
		if p.lost {
			fb.PacketChunks = append(fb.PacketChunks, &rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketNotReceived, RunLength: 1})
			continue
		}
		at := p.arrival.UnixMicro() / 250 * 250
		d := at - last
		last = at
		typ := rtcp.TypeTCCPacketReceivedSmallDelta
		if d < 0 || d > 255*250 {
			typ = rtcp.TypeTCCPacketReceivedLargeDelta
		}
		fb.PacketChunks = append(fb.PacketChunks, &rtcp.RunLengthChunk{PacketStatusSymbol: typ, RunLength: 1})
		fb.RecvDeltas = append(fb.RecvDeltas, &rtcp.RecvDelta{Type: typ, Delta: d})
	}
	return fb
}

// probe sends a cluster of n packets of size bytes at bps, reports, and waits for the result.
func (s *pathSim) probe(n, size, bps int) (int, bool) {
	id := s.est.BeginProbe()
	if id <= 0 {
		s.t.Fatalf("BeginProbe: %d", id)
	}
	gap := time.Duration(int64(size) * 8 * int64(time.Second) / int64(bps))
	for range n {
		s.send(size)
		s.c.advance(gap)
	}
	s.est.EndProbe(id)
	for range 20 {
		s.c.advance(100 * time.Millisecond)
		s.report()
		if bps, done := s.est.ProbeResult(id); done {
			return bps, true
		}
	}
	return s.est.ProbeResult(id)
}
