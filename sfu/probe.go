package sfu

import (
	"time"
)

// A viewer's bandwidth estimate only grows when something shows that the path carries
// more than is sent: without that, a viewer stepped down (a short congestion, a slow
// start) stays on a small layer for good. A probe sends padding-only packets on one of the
// viewer's video tracks for 30 to 150 ms (about 6 kB), so that media and padding together
// reach a target rate, and asks the estimator what the path delivered over that cluster of packets. A
// probe that succeeds lifts the estimate at once, and the layer allocation follows.

// probeEstimator is what a viewer's estimator offers to be probed (bwe.Estimator; the
// controller's tests use fakes). Every packet the PeerConnection sends between BeginProbe and
// EndProbe belongs to the cluster; BeginProbe returns 0 if a cluster is already open.
// ProbeResult is done after the cluster's feedback came, or after a timeout (bps 0).
type probeEstimator interface {
	TargetBitrate() int
	BeginProbe() int
	EndProbe(id int)
	ProbeResult(id int) (bps int, done bool)
}

// Probe settings.
const (
	probeTick = 5 * time.Millisecond // padding is paced in steps this long
	// A cluster carries about probeBytes, sent over probeMinDuration to probeMaxDuration:
	// enough bytes that a bottleneck's burst allowance (a token bucket lets its bucket
	// through at once) does not pass for capacity, few enough that a slow link's queue
	// holds a probe that overshoots it.
	probeBytes       = 6000
	probeMinDuration = 30 * time.Millisecond
	probeMaxDuration = 150 * time.Millisecond
	probeMinPackets  = 10                    // ... and has at least this many padding packets
	probePoll        = 20 * time.Millisecond // how often the result is looked at
	// probeResultWait: a result the estimator never gives counts as a failure after this.
	probeResultWait = 3 * time.Second
	probeBusyRetry  = 100 * time.Millisecond // another cluster is open: try again after this
	probeChain      = time.Second            // a successful probe is followed this soon,
	// or at once when the estimate it left still does not cover the step it aimed at: the
	// allocator has nothing to take, and a viewer waiting for its first picture (one large
	// layer from the 300 kbps start) should not wait a second per doubling
	probeMinBackoff = 2 * time.Second // a failed one this late, doubling up to
	probeMaxBackoff = 30 * time.Second
	// probeAfterFall: an estimate that fell by more than probeFall since the controller
	// last looked (congestion: a queue, losses) is not probed for this long, nor is a
	// chain of successes continued: a probe into a queue that is still draining fails,
	// and its own queue takes the estimate further down.
	probeAfterFall = probeMinBackoff
	probeFall      = 0.9

	probeStepMargin = 1.15 // the allocator's margin for a step up (bwe.Allocator)
	probeExtra      = 1.10 // what a probe aims above the next step's need
	probeMaxGrowth  = 2    // a probe aims at most this many times the estimate,
	// the first (until one succeeds) this many: the initial estimate is a guess (libwebrtc's
	// first probes aim at 3 and 6 times it)
	probeFirstGrowth = 3
	probeDemandCap   = 1.25 // and never above the viewer's demand by more than this
	probeSuccess     = 0.9  // a probe succeeds if the path delivered this share of its target,
	probeLift        = 1.1  // or this many times the estimate it started from

	paddingSize    = 255 // padding bytes in a packet (the most RFC 3550 §5.1 allows)
	minPaddingSize = 16  // the least, for the probes of slow paths
	rtpHeaderBytes = 12
)

// probeNeed is what the viewer's last layer selection knows for probing (bps).
type probeNeed struct {
	video  bool  // the viewer shows video (received, or paused for bandwidth before any came)
	audio  int   // what its audio takes
	demand int   // what it would get with unlimited bandwidth: every video track at the largest layer its display size allows, plus audio
	media  int   // what its current layers take, plus audio
	steps  []int // the video bitrate after each step up from the current layers to the demand, in order
}

// stepNeed is the estimate the allocator needs to move up to a video bitrate.
func (n probeNeed) stepNeed(video int) int {
	return int(float64(video)*probeStepMargin) + n.audio
}

// probeTarget is the rate a probe should reach from estimate est; false when there is
// nothing to probe for: no video, no estimate, or the estimate already covers the demand.
func (n probeNeed) probeTarget(est int, first bool) (int, bool) {
	if !n.video || est <= 0 || n.demand <= 0 {
		return 0, false
	}
	if len(n.steps) == 0 {
		return 0, false
	}
	need := n.stepNeed(n.steps[0])
	if need <= est {
		// The estimate covers the next step: the allocator takes it once its hold has
		// passed, and only then is the step after probed. A probe that overshoots now
		// could cost the estimate the step it has (its queue reads as congestion).
		return 0, false
	}
	growth := float64(probeMaxGrowth)
	if first {
		growth = probeFirstGrowth
	}
	t := min(float64(need)*probeExtra, float64(est)*growth, float64(n.demand)*probeDemandCap)
	return int(t), true
}

type probeState int

const (
	probeIdle probeState = iota
	probeSending
	probeWaiting
)

// prober is one viewer's probe controller: when to probe, at what rate, how much padding
// to send and when, and what the result means. It is pure logic over an injected time,
// driven by the viewer's selection loop and, while a probe runs, by its probe goroutine;
// never by both at once (Peer.probing tells which).
type prober struct {
	est     probeEstimator
	state   probeState
	next    time.Time // no probe starts before this
	backoff time.Duration

	id              int
	target, padBps  int
	padSize         int // padding bytes per packet in this probe
	start, ended    time.Time
	padded, packets int // padding sent in the cluster
	result          int // what the path delivered in the last probe (bps; 0: no answer)
	from            int // the estimate when the probe started
	succeededOnce   bool
	dur             time.Duration
	seen            int // the estimate when the controller last looked, while idle
	stepFor         int // the estimate the step this probe aims at needs
}

// probeAction tells the driver what to do after a step.
type probeAction struct {
	pad                        int           // padding bytes to send now (headers included)...
	padSize                    int           // ... in packets of this many padding bytes
	end                        bool          // after this padding, close the cluster (finishSending)
	wait                       time.Duration // step again after this (idle: nothing before)
	started, succeeded, failed bool
}

// step moves the controller on at time now, for the viewer's need.
func (c *prober) step(now time.Time, need probeNeed) probeAction {
	var a probeAction
	switch c.state {
	case probeIdle:
		est := c.est.TargetBitrate()
		if c.seen > 0 && float64(est) < probeFall*float64(c.seen) && c.next.Before(now.Add(probeAfterFall)) {
			c.next = now.Add(probeAfterFall)
		}
		c.seen = est
		if now.Before(c.next) {
			a.wait = c.next.Sub(now)
			return a
		}
		target, ok := need.probeTarget(c.est.TargetBitrate(), !c.succeededOnce)
		if !ok {
			return a
		}
		id := c.est.BeginProbe()
		if id == 0 {
			a.wait = probeBusyRetry
			return a
		}
		c.state, c.id, c.target, c.start, c.from = probeSending, id, target, now, c.est.TargetBitrate()
		c.stepFor = need.stepNeed(need.steps[0])
		// Media goes on during the probe: padding makes up the rest (a tenth of the
		// target at least, so that a cluster always has packets of its own).
		c.padBps = max(target-need.media, target/10)
		c.padded, c.packets = 0, 0
		// Small packets on a slow path: its minimum of packets must not add more than
		// the probe's padding (a slow link queues a few kilobytes at most).
		c.dur = probeDurationFor(target)
		budget := int(int64(c.padBps) * int64(c.dur) / int64(8*time.Second))
		c.padSize = min(max(budget/probeMinPackets-rtpHeaderBytes, minPaddingSize), paddingSize)
		a.started = true
		fallthrough
	case probeSending:
		el := now.Sub(c.start)
		last := el+probeTick >= c.dur || el >= 2*c.dur
		owed := int(int64(c.padBps)*int64(min(el+probeTick, c.dur))/int64(8*time.Second)) - c.padded
		if last && c.packets < probeMinPackets {
			owed = max(owed, (probeMinPackets-c.packets)*(c.padSize+rtpHeaderBytes))
		}
		a.pad, a.padSize = max(owed, 0), c.padSize
		// The last padding goes out before the cluster closes (finishSending): a late
		// tick sends the rest in a burst rather than stretching the cluster without it.
		a.end = last
		a.wait = probeTick
		if last {
			a.wait = probePoll
		}
		return a
	case probeWaiting:
		bps, done := c.est.ProbeResult(c.id)
		if !done && now.Sub(c.ended) < probeResultWait {
			a.wait = probePoll
			return a
		}
		c.state, c.result = probeIdle, bps
		// A probe succeeds when the path delivered (nearly) its target, or clearly more
		// than the estimate it started from: a busy sender may fall short of the target,
		// yet what got through still lifted the estimate, and the next probe goes on from
		// there. One that lifted nothing backs off.
		if done && (float64(bps) >= probeSuccess*float64(c.target) || float64(bps) >= probeLift*float64(c.from)) {
			c.backoff, c.succeededOnce = 0, true
			c.next = now.Add(probeChain)
			if c.est.TargetBitrate() < c.stepFor {
				c.next = now
			}
			a.succeeded = true
		} else {
			c.backoff = min(max(2*c.backoff, probeMinBackoff), probeMaxBackoff)
			c.next = now.Add(c.backoff)
			a.failed = true
		}
		a.wait = c.next.Sub(now)
	}
	return a
}

// probeDurationFor is how long a probe at target bps lasts.
func probeDurationFor(target int) time.Duration {
	if target <= 0 {
		return probeMaxDuration
	}
	d := time.Duration(int64(probeBytes) * 8 * int64(time.Second) / int64(target))
	return min(max(d, probeMinDuration), probeMaxDuration)
}

// finishSending closes the cluster once the last padding was sent (probeAction.end).
func (c *prober) finishSending(now time.Time) {
	if c.state != probeSending {
		return
	}
	c.est.EndProbe(c.id)
	c.state, c.ended = probeWaiting, now
}

// sent counts padding the driver sent for the probe.
func (c *prober) sent(bytes, packets int) {
	c.padded += bytes
	c.packets += packets
}

// abort closes the cluster of a probe that cannot go on (the viewer leaves, or has no
// track to pad on); it counts as nothing.
func (c *prober) abort() {
	if c.state == probeSending {
		c.est.EndProbe(c.id)
	}
	c.state = probeIdle
}

// idle tells whether no probe is under way.
func (c *prober) idle() bool { return c.state == probeIdle }
