package bwe

import (
	"github.com/pion/rtcp"
)

// reportedPacket is one packet of a transport-cc report, matched with what was sent.
type reportedPacket struct {
	sendNs    int64 // send time on the estimator's clock
	arrivalUs int64 // arrival on the receiver's clock (received packets only)
	size      int
	cluster   uint16
	received  bool
	// first: the first report of this packet (a packet reported lost and then received
	// counts once towards the loss rate).
	first bool
}

// maxRefStepUs: a report whose reference time is more than a minute away from the last
// one's is from another clock or corrupt; it is not used.
const maxRefStepUs = 60_000_000

// readTWCC matches a transport-cc report with the history, marking every packet it reports
// so that a second report of a packet is not used again, and returns the packets not
// reported before, in sequence (that is, send) order. ok is false when the report is
// malformed (statuses without deltas or the other way round, unknown symbols, absurd
// reference time) or reports nothing new that was sent; then nothing of it is used. Called
// with e.mu held; e.reported is reused between reports.
func (e *Estimator) readTWCC(fb *twccReport) (pkts []reportedPacket, ok bool) {
	st := fb.statuses
	if len(st) == 0 {
		return nil, false
	}
	// Every received packet has a delta, in order, and there are no others; the arrivals
	// stay within a minute of the reference time.
	deltas, offsetUs := 0, int64(0)
	for _, s := range st {
		switch s {
		case rtcp.TypeTCCPacketNotReceived:
		case rtcp.TypeTCCPacketReceivedSmallDelta, rtcp.TypeTCCPacketReceivedLargeDelta:
			if deltas >= len(fb.deltasUs) {
				return nil, false
			}
			d := fb.deltasUs[deltas]
			if d > maxRefStepUs || d < -maxRefStepUs {
				return nil, false
			}
			offsetUs += d
			if offsetUs > maxRefStepUs || offsetUs < -maxRefStepUs {
				return nil, false
			}
			deltas++
		default:
			return nil, false
		}
	}
	if deltas != len(fb.deltasUs) {
		return nil, false
	}

	// The reference time is 24 bits of 64 ms: unwrap it against the last report's.
	ref := int64(fb.refTime & 0xffffff)
	refUs := ref * 64_000
	if e.haveRef {
		step := (ref - e.lastRef) & 0xffffff
		if step >= 1<<23 {
			step -= 1 << 24
		}
		if step*64_000 > maxRefStepUs || step*64_000 < -maxRefStepUs {
			// Start over from the next report: if the receiver's clock did jump, the
			// reports after this one agree with it.
			e.haveRef, e.ia, e.trend = false, interArrival{}, newTrendline()
			e.acked.reset()
			return nil, false
		}
		refUs = e.lastRefUs + step*64_000
	}

	pkts = e.reported[:0]
	arrival, di := refUs, 0
	e.hist.mu.Lock()
	ring := e.hist.ring
	for i, s := range st {
		received := s != rtcp.TypeTCCPacketNotReceived
		if received {
			arrival += fb.deltasUs[di] // µs
			di++
		}
		if ring == nil {
			continue
		}
		seq := fb.base + uint16(i)
		p := &ring[seq&(historySize-1)]
		if !p.used || p.seq != seq || p.state == reportedReceived || (!received && p.state != unreported) {
			continue // never sent, forgotten, or reported before
		}
		pkts = append(pkts, reportedPacket{sendNs: p.sendNs, arrivalUs: arrival, size: int(p.size),
			cluster: p.cluster, received: received, first: p.state == unreported})
		if received {
			p.state = reportedReceived
		} else {
			p.state = reportedLost
		}
	}
	e.hist.mu.Unlock()
	e.reported = pkts
	if len(pkts) == 0 {
		return nil, false
	}
	e.haveRef, e.lastRef, e.lastRefUs = true, ref, refUs
	return pkts, true
}
