package bwe

import "math"

// The estimate's state, changed by feedback (Estimator.update) and probe calls, under
// Estimator.mu.
type controller struct {
	// Reused from report to report: the report read (twccparse.go) and its packets matched
	// with the history (readTWCC).
	fb       twccReport
	reported []reportedPacket
	// The last report's reference time, raw (24 bits) and unwrapped (µs).
	haveRef   bool
	lastRef   int64
	lastRefUs int64

	delayBps float64 // the delay-based estimate
	lossBps  float64 // the loss-based estimate (starts at the maximum: no loss seen)
	// What the last probe that saw no overuse measured, and when (probeFloor).
	lastProbeBps float64
	lastProbeNs  int64

	ia    interArrival
	trend trendline
	acked ackedRate

	// The rate control's state: hold or increase, since when, and the link's capacity as
	// the acknowledged rate at past decreases (known: there was a decrease).
	increasing    bool
	rateChangedNs int64
	capacityBps   float64
	capacityKnown bool

	// Packets reported since the loss-based estimate was last judged, and when it was;
	// when it last decreased; when the last usable report came; when reports came again
	// after the last outage. Times on the send clock.
	lossLost        int
	lossTotal       int
	lossUpdatedNs   int64
	lossDecreasedNs int64
	lastReportNs    int64
	outageEndNs     int64
	feedbackDelayNs float64 // smoothed: a round trip and the report interval

	// The last few probe clusters, by id modulo their number; the open one (0: none).
	probes    [4]probeCluster
	lastProbe uint16
	openProbe uint16
}

const (
	decreaseFactor = 0.85 // on overuse the estimate drops to this times the acknowledged rate
	increasePerSec = 1.08 // multiplicative increase, far from the link's known capacity
	// additiveBpsPerSec is the increase near the link's known capacity: about one 1200-byte
	// packet more per response time (a 100 ms round trip plus 100 ms), as libwebrtc does.
	additiveBpsPerSec = 1200 * 8 / 0.2
	// Increases never take the estimate above this times the acknowledged rate (plus
	// throughputHeadroomBps): what was not sent has not been shown to fit.
	throughputLimitFactor = 1.5
	throughputHeadroomBps = 10_000
	// The loss-based estimate drops above highLoss and grows below lowLoss, judged over at
	// least lossMinPackets.
	highLoss       = 0.10
	lowLoss        = 0.02
	lossMinPackets = 20
	// lossDecreaseGapNs: plus the feedback delay, the least time between two loss-based
	// decreases.
	lossDecreaseGapNs = 300e6
	// outageNs: reports that come after a silence this long follow an outage.
	outageNs = 1_000_000_000
)

// target is the estimate: the smaller of the two, within the bounds.
func (e *Estimator) target() float64 {
	return min(max(min(e.delayBps, e.lossBps), e.minBps), e.maxBps)
}

// update takes the packets of one report, in send order; nowNs is on the send clock.
func (e *Estimator) update(pkts []reportedPacket, nowNs int64) {
	// Reports that come after a silence of a second or more cover an outage (a cut path,
	// an ICE restart): what was sent before they came and lost says nothing of
	// congestion, and counting it would floor the estimate, from where nothing sent would
	// ever show it wrong.
	if e.lastReportNs != 0 && nowNs-e.lastReportNs >= outageNs {
		e.outageEndNs = nowNs
	}
	e.lastReportNs = nowNs
	// The feedback delay: from sending the newest packet reported to reading the report,
	// a round trip plus the receiver's report interval, smoothed.
	if len(pkts) > 0 {
		newest := pkts[0].sendNs
		for i := range pkts {
			newest = max(newest, pkts[i].sendNs)
		}
		if d := float64(nowNs - newest); d >= 0 && d < 10e9 {
			if e.feedbackDelayNs == 0 {
				e.feedbackDelayNs = d
			} else {
				e.feedbackDelayNs = 0.9*e.feedbackDelayNs + 0.1*d
			}
		}
	}
	sawOveruse := false
	for i := range pkts {
		p := &pkts[i]
		c := e.cluster(p.cluster)
		if p.first && p.sendNs >= e.lossDecreasedNs && p.sendNs >= e.outageEndNs {
			// Counted towards loss only if sent after the last loss-based decrease (what
			// was sent before it says nothing of the lowered rate) and after any outage.
			e.lossTotal++
			if !p.received {
				e.lossLost++
			}
		}
		if p.first && c != nil {
			c.reported++
		}
		if !p.received {
			continue
		}
		e.acked.add(p.arrivalUs, p.size)
		if c != nil {
			c.ack(p)
		}
		if d, at, since, ok := e.ia.add(p.sendNs, p.arrivalUs); ok {
			if e.trend.update(d, at, since) == overuse {
				sawOveruse = true
			}
		}
	}
	sig := e.trend.state
	if sawOveruse {
		sig = overuse
		// A probe that saw its path congest shows no more room than there is.
		for i := range e.probes {
			if c := &e.probes[i]; c.id != 0 && !c.done {
				c.overuse = true
			}
		}
	}
	e.rateControl(sig, nowNs)
	e.lossControl(nowNs)
	e.finishProbes(nowNs)
}

// rateControl is GCC's AIMD: decrease to 0.85 times the acknowledged rate on overuse, hold
// while queues drain (underuse) and right after, then increase: 8% a second while far
// from the link's known capacity, about 48 kbps a second near it.
func (e *Estimator) rateControl(sig usage, nowNs int64) {
	acked, ackedKnown := e.acked.bps()
	switch sig {
	case overuse:
		base := e.delayBps
		if r, ok := e.acked.early(); ok && !ackedKnown {
			// Overuse in the first half second: what arrived so far is a better measure
			// than the estimate, and keeps repeated signals from compounding decreases.
			base = r
		}
		if ackedKnown {
			base = acked
			if !e.capacityKnown {
				e.capacityBps, e.capacityKnown = acked, true
			} else {
				e.capacityBps = 0.95*e.capacityBps + 0.05*acked
			}
		}
		next := decreaseFactor * base
		if floor, ok := e.probeFloor(nowNs); ok {
			// A probe in flight made this queue: it fails, but the path carried what the
			// last probe showed. Without this a viewer who gets little (its video paused,
			// so little is acknowledged) falls to almost nothing at every probe that
			// overshoots, and never has the estimate for its video again.
			next = max(next, floor)
		}
		if next < e.delayBps {
			e.owner.log.Debug("bandwidth estimate down: delay", "from_bps", int(e.delayBps), "to_bps", int(next), "acked_bps", int(acked))
		}
		e.delayBps = min(e.delayBps, next)
		e.increasing, e.rateChangedNs = false, nowNs
	case underuse:
		e.increasing, e.rateChangedNs = false, nowNs
	default:
		if !e.increasing {
			e.increasing, e.rateChangedNs = true, nowNs
			break
		}
		dt := min(max(float64(nowNs-e.rateChangedNs)/1e9, 0), 1)
		e.rateChangedNs = nowNs
		if e.capacityKnown && ackedKnown && acked > 1.5*e.capacityBps {
			e.capacityKnown = false // the link grew: what was learnt no longer holds
		}
		var inc float64
		if e.capacityKnown && math.Abs(e.delayBps-e.capacityBps) <= 0.15*e.capacityBps {
			inc = additiveBpsPerSec * dt
		} else {
			inc = e.delayBps * (math.Pow(increasePerSec, dt) - 1)
		}
		next := e.delayBps + max(inc, 1000*dt)
		if ackedKnown {
			// Increases stop at 1.5 times what was acknowledged; an estimate already above
			// (set by a probe) stays where it is.
			limit := throughputLimitFactor*acked + throughputHeadroomBps
			if e.delayBps >= limit {
				next = e.delayBps
			} else {
				next = min(next, limit)
			}
		}
		e.delayBps = next
	}
	e.delayBps = min(max(e.delayBps, e.minBps), e.maxBps)
}

// lossControl is GCC's loss-based control, judged over at least lossMinPackets.
func (e *Estimator) lossControl(nowNs int64) {
	if e.lossTotal < lossMinPackets {
		return
	}
	loss := float64(e.lossLost) / float64(e.lossTotal)
	dt := 0.0
	if e.lossUpdatedNs != 0 {
		dt = min(max(float64(nowNs-e.lossUpdatedNs)/1e9, 0), 1)
	}
	switch {
	case loss > highLoss:
		if e.lossDecreasedNs != 0 && float64(nowNs-e.lossDecreasedNs) < lossDecreaseGapNs+e.feedbackDelayNs {
			// As in libwebrtc, at most one decrease per 300 ms and feedback delay: the
			// last one has not had time to show (an SFU changes layers at keyframes).
			return
		}
		next := min(e.lossBps, e.target()) * (1 - 0.5*loss)
		if acked, ok := e.acked.bps(); ok {
			// Not below what the path did deliver (as the delay-based decrease): when
			// losses come from sending too much (an SFU's layer above the link), what
			// arrived is about the link's rate, and a layer under it fits.
			next = min(e.lossBps, max(next, decreaseFactor*acked))
		}
		e.owner.log.Debug("bandwidth estimate down: loss", "from_bps", int(e.lossBps), "to_bps", int(next), "loss", loss)
		e.lossBps = next
		e.lossDecreasedNs = nowNs
	case loss < lowLoss:
		e.lossBps *= math.Pow(increasePerSec, dt)
	}
	e.lossBps = min(max(e.lossBps, e.minBps), e.maxBps)
	e.lossLost, e.lossTotal, e.lossUpdatedNs = 0, 0, nowNs
}

// ackedWindowUs is the window over which the acknowledged rate is measured.
const ackedWindowUs = 500_000

type ackedSample struct {
	arrivalUs int64
	size      int
}

// ackedRate is the rate at which acknowledged packets arrived over the last half second
// of arrivals.
type ackedRate struct {
	samples  []ackedSample // in the order acknowledged; from head on in the window
	head     int
	bytes    int
	latestUs int64
	firstUs  int64
	started  bool
}

func (a *ackedRate) add(arrivalUs int64, size int) {
	if !a.started {
		a.started, a.firstUs, a.latestUs = true, arrivalUs, arrivalUs
	}
	if arrivalUs < a.latestUs-ackedWindowUs {
		return // far older than what the window holds
	}
	a.latestUs = max(a.latestUs, arrivalUs)
	a.samples = append(a.samples, ackedSample{arrivalUs, size})
	a.bytes += size
	for a.head < len(a.samples) && a.samples[a.head].arrivalUs < a.latestUs-ackedWindowUs {
		a.bytes -= a.samples[a.head].size
		a.head++
	}
	if a.head > 256 && a.head > len(a.samples)/2 {
		n := copy(a.samples, a.samples[a.head:])
		a.samples, a.head = a.samples[:n], 0
	}
}

// reset forgets what was measured (the receiver's clock changed), keeping the buffer.
func (a *ackedRate) reset() {
	*a = ackedRate{samples: a.samples[:0]}
}

// earlyMinUs: before a whole window, the rate over this much of it stands in on overuse.
const earlyMinUs = 150_000

// early is the acknowledged rate over the part of the first window seen, once that is
// long enough to mean something.
func (a *ackedRate) early() (float64, bool) {
	span := a.latestUs - a.firstUs
	if !a.started || span < earlyMinUs {
		return 0, false
	}
	span = min(span, ackedWindowUs)
	return float64(a.bytes) * 8 / (float64(span) / 1e6), true
}

// bps is the acknowledged rate, known once a whole window has been seen.
func (a *ackedRate) bps() (float64, bool) {
	if !a.started || a.latestUs-a.firstUs < ackedWindowUs {
		return 0, false
	}
	return float64(a.bytes) * 8 / (ackedWindowUs / 1e6), true
}
