package bwe

import "math"

// The delay-based part of the estimate follows draft-ietf-rmcat-gcc-02 and libwebrtc's
// goog_cc: packets sent close together form groups; the change in delay between groups
// goes through a trendline filter, whose slope an overuse detector with an adaptive
// threshold turns into a signal (overuse, normal, underuse) for the rate control.

type usage uint8

const (
	normal usage = iota
	overuse
	underuse
)

const (
	groupNs = 5_000_000 // packets sent within 5 ms of a group's first are one group
	// A packet that arrives within burstUs of the group's last, sooner after it than it
	// was sent, joins the group, as long as the group spans at most maxBurstUs of
	// arrivals: a receiver (or a busy machine) that reads packets late and then all at
	// once shows no queue, only a pause.
	burstUs    = 5_000
	maxBurstUs = 100_000
	// A jump of more than 3 s between arrival and send spacing is a new clock (or a broken
	// report), not congestion: start over.
	arrivalOffsetLimitUs = 3_000_000
)

// inBurst says whether a packet that was sent after the current group belongs to it
// all the same, as part of a burst of arrivals.
func (ia *interArrival) inBurst(sendNs, arrivalUs int64) bool {
	arrDeltaUs := arrivalUs - ia.cur.lastArrivalUs
	sendDeltaUs := (sendNs - ia.cur.lastSendNs) / 1000
	return arrDeltaUs-sendDeltaUs < 0 && arrDeltaUs <= burstUs && arrivalUs-ia.cur.firstArrivalUs < maxBurstUs
}

// packetGroup is one group of packets: send times in ns, arrival times in µs.
type packetGroup struct {
	firstSendNs, lastSendNs       int64
	firstArrivalUs, lastArrivalUs int64
	started                       bool
}

// interArrival turns acknowledged packets into delay variations between groups.
type interArrival struct {
	cur, prev packetGroup
}

// add takes one acknowledged packet in send order and reports, when it closes a group, the
// delay variation (ms) between the last two groups, the closing group's arrival (µs) and
// the time between the two groups' arrivals (ms).
func (ia *interArrival) add(sendNs, arrivalUs int64) (deltaMs float64, atUs int64, sinceMs float64, ok bool) {
	switch {
	case !ia.cur.started:
		ia.cur = packetGroup{firstSendNs: sendNs, lastSendNs: sendNs, firstArrivalUs: arrivalUs, lastArrivalUs: arrivalUs, started: true}
		return 0, 0, 0, false
	case sendNs < ia.cur.firstSendNs:
		return 0, 0, 0, false // sent before the group began: reordered, skip it
	case sendNs-ia.cur.firstSendNs <= groupNs || ia.inBurst(sendNs, arrivalUs):
		ia.cur.lastSendNs = max(ia.cur.lastSendNs, sendNs)
		ia.cur.lastArrivalUs = max(ia.cur.lastArrivalUs, arrivalUs)
		return 0, 0, 0, false
	}
	// The packet starts a new group: the current one is complete.
	if ia.prev.started {
		sendDeltaUs := (ia.cur.lastSendNs - ia.prev.lastSendNs) / 1000
		arrDeltaUs := ia.cur.lastArrivalUs - ia.prev.lastArrivalUs
		switch d := arrDeltaUs - sendDeltaUs; {
		case d > arrivalOffsetLimitUs || d < -arrivalOffsetLimitUs:
			ia.prev = packetGroup{}
		case arrDeltaUs >= 0:
			deltaMs, atUs, sinceMs, ok = float64(d)/1000, ia.cur.lastArrivalUs, float64(arrDeltaUs)/1000, true
		}
	}
	ia.prev = ia.cur
	ia.cur = packetGroup{firstSendNs: sendNs, lastSendNs: sendNs, firstArrivalUs: arrivalUs, lastArrivalUs: arrivalUs, started: true}
	return deltaMs, atUs, sinceMs, ok
}

const (
	trendWindow    = 20
	trendSmoothing = 0.9
	trendGain      = 4.0
	// The adaptive threshold: start, how fast it follows the trend up and down, bounds.
	thresholdStart = 12.5
	thresholdKUp   = 0.0087
	thresholdKDown = 0.039
	thresholdMin   = 6.0
	thresholdMax   = 600.0
	overuseTimeMs  = 10.0 // overuse only once sustained this long...
	maxDeltas      = 60   // ...and the trend is weighted by at most this many samples
)

// trendline estimates whether queues grow: the slope of the smoothed accumulated delay
// against arrival time, over the last trendWindow groups, compared with a threshold that
// adapts to the trend (so that a noisy path does not cry overuse, and a competing TCP flow
// does not starve us).
type trendline struct {
	firstArrivalUs int64
	accumulated    float64
	smoothed       float64
	numDeltas      int
	xs, ys         [trendWindow]float64 // ring of (arrival ms, smoothed delay)
	n, head        int
	prevTrend      float64

	threshold      float64
	lastUpdateUs   int64
	timeOverUsing  float64 // ms; -1: not over-using
	overuseCounter int
	prevModified   float64
	state          usage
}

func newTrendline() trendline {
	return trendline{threshold: thresholdStart, timeOverUsing: -1}
}

// update takes one delay variation (ms) between groups, the later group's arrival (µs) and
// the time since the previous group's arrival (ms), and returns the detector's signal.
func (t *trendline) update(deltaMs float64, arrivalUs int64, sinceLastMs float64) usage {
	if t.numDeltas == 0 {
		t.firstArrivalUs = arrivalUs
	}
	t.numDeltas = min(t.numDeltas+1, maxDeltas)
	t.accumulated += deltaMs
	t.smoothed = trendSmoothing*t.smoothed + (1-trendSmoothing)*t.accumulated
	i := (t.head + t.n) % trendWindow
	if t.n == trendWindow {
		i = t.head
		t.head = (t.head + 1) % trendWindow
	} else {
		t.n++
	}
	t.xs[i] = float64(arrivalUs-t.firstArrivalUs) / 1000
	t.ys[i] = t.smoothed
	trend := t.prevTrend
	if t.n == trendWindow {
		if s, ok := slope(t.xs[:], t.ys[:]); ok {
			trend = s
		}
	}
	t.detect(trend, sinceLastMs, arrivalUs)
	t.prevTrend = trend
	return t.state
}

// slope is the least-squares slope of y over x.
func slope(xs, ys []float64) (float64, bool) {
	var sx, sy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
	}
	mx, my := sx/float64(len(xs)), sy/float64(len(ys))
	var num, den float64
	for i := range xs {
		num += (xs[i] - mx) * (ys[i] - my)
		den += (xs[i] - mx) * (xs[i] - mx)
	}
	if den == 0 || math.IsNaN(num) || math.IsInf(num, 0) {
		return 0, false
	}
	return num / den, true
}

func (t *trendline) detect(trend, sinceLastMs float64, nowUs int64) {
	if t.numDeltas < 2 {
		t.state = normal
		return
	}
	modified := float64(t.numDeltas) * trend * trendGain
	switch {
	case modified > t.threshold:
		if t.timeOverUsing == -1 {
			// Assume the overuse began halfway between the last two samples.
			t.timeOverUsing = sinceLastMs / 2
		} else {
			t.timeOverUsing += sinceLastMs
		}
		t.overuseCounter++
		if t.timeOverUsing > overuseTimeMs && t.overuseCounter > 1 && trend >= t.prevTrend {
			t.timeOverUsing, t.overuseCounter = 0, 0
			t.state = overuse
		}
	case modified < -t.threshold:
		t.timeOverUsing, t.overuseCounter = -1, 0
		t.state = underuse
	default:
		t.timeOverUsing, t.overuseCounter = -1, 0
		t.state = normal
	}
	t.prevModified = modified
	t.adaptThreshold(modified, nowUs)
}

// adaptThreshold moves the threshold towards |modified|: quickly down, slowly up, and not
// at all for a spike far above it (a sudden route change should not widen it for long).
func (t *trendline) adaptThreshold(modified float64, nowUs int64) {
	if t.lastUpdateUs == 0 {
		t.lastUpdateUs = nowUs
	}
	abs := math.Abs(modified)
	if abs > t.threshold+15 {
		t.lastUpdateUs = nowUs
		return
	}
	k := thresholdKUp
	if abs < t.threshold {
		k = thresholdKDown
	}
	dtMs := min(float64(nowUs-t.lastUpdateUs)/1000, 100)
	if dtMs < 0 {
		dtMs = 0
	}
	t.threshold += k * (abs - t.threshold) * dtMs
	t.threshold = min(max(t.threshold, thresholdMin), thresholdMax)
	t.lastUpdateUs = nowUs
}
