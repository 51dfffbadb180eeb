package bwe

import "time"

// probeTimeout: a cluster whose feedback has not all come this long after it ended is
// judged on what came.
const probeTimeout = time.Second

// probeMemory: how long what a probe measured keeps an overuse caused by the next probe
// from taking the estimate below it (probeFloor).
const probeMemory = 10 * time.Second

// probeQueueDrain: for this long after a cluster ended, the packets that follow it may
// still meet the queue it made.
const probeQueueDrain = time.Second

// probeCluster is one probe: the packets sent between BeginProbe and EndProbe, and what
// feedback said of them.
type probeCluster struct {
	id       uint16
	open     bool
	ended    bool
	endNs    int64
	sent     int // packets, known once ended
	reported int // packets reported (received or lost)
	acked    int // packets reported received
	bytes    int

	firstSendNs, lastSendNs   int64
	lastSendSize              int
	firstArrivalUs, lastArrUs int64
	firstArrivalSize          int

	overuse bool    // the delay detector saw overuse before the cluster was judged
	before  float64 // the estimate when the cluster began
	done    bool
	bps     int
}

func (c *probeCluster) ack(p *reportedPacket) {
	if c.acked == 0 {
		c.firstSendNs, c.lastSendNs, c.lastSendSize = p.sendNs, p.sendNs, p.size
		c.firstArrivalUs, c.lastArrUs, c.firstArrivalSize = p.arrivalUs, p.arrivalUs, p.size
	} else {
		c.firstSendNs = min(c.firstSendNs, p.sendNs)
		if p.sendNs >= c.lastSendNs {
			c.lastSendNs, c.lastSendSize = p.sendNs, p.size
		}
		if p.arrivalUs < c.firstArrivalUs {
			c.firstArrivalUs, c.firstArrivalSize = p.arrivalUs, p.size
		}
		c.lastArrUs = max(c.lastArrUs, p.arrivalUs)
	}
	c.acked++
	c.bytes += p.size
}

// Below these a cluster says nothing: too few packets, or too many lost.
const (
	probeMinPackets   = 5
	probeMinAckedPart = 0.8
	// A receive rate under this part of the send rate means the path, not the sender,
	// limited the cluster.
	probeSaturated = 0.9
)

// rate is what the path delivered during the cluster, as libwebrtc's ProbeBitrateEstimator
// measures it: the send rate over the send times (the last packet's size left out: it was
// sent at the end of the interval), the receive rate over the arrivals (the first packet's
// left out), and the smaller of the two. 0 when the cluster cannot tell.
func (c *probeCluster) rate() int {
	if c.acked < probeMinPackets || float64(c.acked) < probeMinAckedPart*float64(c.sent) {
		return 0
	}
	sendS := float64(c.lastSendNs-c.firstSendNs) / 1e9
	recvS := float64(c.lastArrUs-c.firstArrivalUs) / 1e6
	if sendS <= 0 || recvS <= 0 || sendS > 1 || recvS > 1 {
		return 0
	}
	send := float64(c.bytes-c.lastSendSize) * 8 / sendS
	recv := float64(c.bytes-c.firstArrivalSize) * 8 / recvS
	if recv < probeSaturated*send {
		return int(recv)
	}
	return int(min(send, recv))
}

// cluster is the cluster with id, nil if none (0) or forgotten.
func (e *Estimator) cluster(id uint16) *probeCluster {
	if id == 0 {
		return nil
	}
	c := &e.probes[int(id)%len(e.probes)]
	if c.id != id {
		return nil
	}
	return c
}

// BeginProbe starts a probe cluster: every packet this PeerConnection sends until EndProbe
// is part of it (media and padding alike). It returns the cluster's id (>0), or 0 if a
// cluster is already open.
func (e *Estimator) BeginProbe() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.openProbe != 0 {
		return 0
	}
	e.lastProbe++
	if e.lastProbe == 0 {
		e.lastProbe = 1
	}
	id := e.lastProbe
	e.probes[int(id)%len(e.probes)] = probeCluster{id: id, open: true, before: e.target()}
	e.openProbe = id
	e.hist.openCluster(id)
	return int(id)
}

// EndProbe ends the open cluster id; anything else is ignored.
func (e *Estimator) EndProbe(id int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if id <= 0 || id != int(e.openProbe) {
		return
	}
	c := e.cluster(e.openProbe)
	e.openProbe = 0
	sent := e.hist.openCluster(0)
	if c == nil {
		return
	}
	now := int64(e.now().Sub(e.epoch))
	c.open, c.ended, c.endNs, c.sent = false, true, now, sent
	e.finishProbes(now)
}

// ProbeResult is the result of cluster id: done once feedback for all of the cluster has
// been read, or probeTimeout after EndProbe; bps is what the path delivered during the
// cluster, 0 when the cluster could not tell (too few packets sent or acknowledged). An
// unknown or long forgotten id is done with 0.
//
// A result above the estimate, with no overuse seen meanwhile, has already
// raised the estimate to it when ProbeResult reports it done.
func (e *Estimator) ProbeResult(id int) (bps int, done bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if id <= 0 || id > 0xffff {
		return 0, true
	}
	c := e.cluster(uint16(id))
	if c == nil {
		return 0, true
	}
	if !c.done {
		e.finishProbes(int64(e.now().Sub(e.epoch)))
	}
	return c.bps, c.done
}

// probeFloor is how low an overuse may take the estimate while a probe is in flight
// (open, or ended less than probeQueueDrain ago): to the smaller of the estimate before
// it and what a probe showed the path carry in the last probeMemory, no lower;
// false when no probe is in flight or none measured the path lately: then the decrease
// is GCC's as always (an estimate never checked, like the initial one, gets no floor).
func (e *Estimator) probeFloor(nowNs int64) (float64, bool) {
	if e.lastProbeNs == 0 || nowNs-e.lastProbeNs > int64(probeMemory) {
		return 0, false
	}
	floor, ok := e.lastProbeBps, false
	for i := range e.probes {
		// In flight, or ended so lately that packets sent since met its queue.
		if c := &e.probes[i]; c.id != 0 && (!c.ended || nowNs-c.endNs < int64(probeQueueDrain)) {
			floor, ok = min(floor, c.before), true
		}
	}
	return floor, ok
}

// finishProbes judges the ended clusters whose feedback has all come or timed out, and
// lets a result above the estimate raise it: probes are how an estimate climbs
// faster than the rate control's increases, and back above 1.5 times what was sent.
func (e *Estimator) finishProbes(nowNs int64) {
	for i := range e.probes {
		c := &e.probes[i]
		if c.id == 0 || !c.ended || c.done {
			continue
		}
		if c.reported < c.sent && nowNs-c.endNs < int64(probeTimeout) {
			continue
		}
		c.done, c.bps = true, c.rate()
		e.owner.log.Debug("probe cluster", "id", c.id, "sent", c.sent, "reported", c.reported, "acked", c.acked,
			"bytes", c.bytes, "send_ms", float64(c.lastSendNs-c.firstSendNs)/1e6, "recv_ms", float64(c.lastArrUs-c.firstArrivalUs)/1e3,
			"bps", c.bps, "overuse", c.overuse, "estimate_bps", int(e.target()))
		bps := min(float64(c.bps), e.maxBps)
		if c.bps > 0 && !c.overuse {
			e.lastProbeBps, e.lastProbeNs = bps, nowNs
		}
		if c.bps == 0 || c.overuse || bps <= e.target() {
			continue
		}
		// Both estimates: a loss-based one lowered by an old congestion (or by a start
		// above the path's rate) must climb back as well, or it holds the estimate down.
		e.delayBps = max(e.delayBps, bps)
		e.lossBps = max(e.lossBps, bps)
		if e.capacityKnown && e.delayBps > e.capacityBps {
			e.capacityKnown = false
		}
	}
}
