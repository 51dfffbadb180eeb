package sfu

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Active speaker detection. Publishers' browsers put the loudness of each audio packet in
// the RFC 6464 header extension (0 to 127, in -dBov: lower is louder). The forwarding
// goroutine of each microphone counts its packets and the loud ones (two atomic adds);
// once per tick a room goroutine turns the counts into a loud fraction per participant and
// feeds the detector, which changes the speaker only after a clear, held turn.

// audioLevelURI is the RFC 6464 client-to-mixer audio level header extension.
const audioLevelURI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

const (
	// speakerTick is how often a room's loudness is sampled.
	speakerTick = 100 * time.Millisecond
	// loudLevel: a packet at or above -50 dBov is loud (speech is about -20 to -45 dBov
	// at a browser's microphone; room noise and comfort noise are quieter).
	loudLevel = 50
	// speakerWindow is how many ticks a participant's loudness is averaged over (400 ms).
	speakerWindow = 4
	// A participant starts talking when at least talkOn of its recent packets were loud,
	// and stops when fewer than talkOff were (hysteresis: pauses between words are not
	// the end of a sentence).
	talkOn  = 0.5
	talkOff = 0.25
	// speakerHold: someone becomes the speaker after talking this long with the current
	// speaker quiet (a cough or a short "yes" is not a turn).
	speakerHold = 600 * time.Millisecond
	// speakerSilence: the current speaker quiet this long, and nobody else talking: nobody
	// speaks.
	speakerSilence = 1500 * time.Millisecond
	// speakerOverride: someone clearly louder (overrideMargin more of its packets loud)
	// than a current speaker who goes on talking takes over after this long.
	speakerOverride = 2 * time.Second
	overrideMargin  = 0.3
)

// speakerDetector chooses the active speaker from each participant's loud fraction per
// tick. It is pure logic on an injectable clock; one goroutine uses it.
type speakerDetector struct {
	now        func() time.Time
	current    string
	quietSince time.Time // when the current speaker stopped talking; zero while talking
	people     map[string]*loudness
}

// loudness is one participant's recent loud fractions and talking state.
type loudness struct {
	window        [speakerWindow]float64
	next          int
	talking       bool
	since         time.Time // talking since
	dominantSince time.Time // clearly louder than a talking current speaker since
}

func (l *loudness) push(f float64) float64 {
	l.window[l.next] = f
	l.next = (l.next + 1) % speakerWindow
	sum := 0.0
	for _, v := range l.window {
		sum += v
	}
	return sum / speakerWindow
}

func newSpeakerDetector(now func() time.Time) *speakerDetector {
	return &speakerDetector{now: now, people: map[string]*loudness{}}
}

// tick takes one tick's loud fraction per participant (0 to 1; a participant missing
// sent nothing: muted, DTX silence or gone) and returns the speaker ("" for nobody) and
// whether it changed.
func (d *speakerDetector) tick(samples map[string]float64) (string, bool) {
	now := d.now()
	for id := range samples {
		if d.people[id] == nil {
			d.people[id] = &loudness{}
		}
	}
	ids := make([]string, 0, len(d.people))
	mean := make(map[string]float64, len(d.people))
	for id, l := range d.people {
		f := min(max(samples[id], 0), 1)
		a := l.push(f)
		switch {
		case !l.talking && a >= talkOn:
			l.talking, l.since = true, now
		case l.talking && a < talkOff:
			l.talking = false
		}
		if a == 0 && !l.talking && id != d.current {
			delete(d.people, id) // silent long enough to forget
			continue
		}
		ids = append(ids, id)
		mean[id] = a
	}
	slices.Sort(ids)

	cur := d.people[d.current]
	curTalking := cur != nil && cur.talking
	switch {
	case d.current == "" || curTalking:
		d.quietSince = time.Time{}
	case d.quietSince.IsZero():
		d.quietSince = now
	}
	best, bestA := "", 0.0
	for _, id := range ids {
		l := d.people[id]
		if id == d.current {
			continue
		}
		if curTalking && l.talking && mean[id] >= mean[d.current]+overrideMargin {
			if l.dominantSince.IsZero() {
				l.dominantSince = now
			}
		} else {
			l.dominantSince = time.Time{}
		}
		if !l.talking || now.Sub(l.since) < speakerHold {
			continue
		}
		if curTalking && (l.dominantSince.IsZero() || now.Sub(l.dominantSince) < speakerOverride) {
			continue
		}
		if mean[id] > bestA {
			best, bestA = id, mean[id]
		}
	}
	next := d.current
	switch {
	case best != "":
		next = best
	case d.current != "" && !curTalking && now.Sub(d.quietSince) >= speakerSilence:
		next = ""
	}
	if next == d.current {
		return next, false
	}
	d.current, d.quietSince = next, time.Time{}
	if l := d.people[next]; l != nil {
		l.dominantSince = time.Time{}
	}
	return next, true
}

// levelMeter counts a microphone's packets and the loud ones for the room's speaker
// detection. The forwarding goroutine writes; the room's speaker goroutine reads.
type levelMeter struct {
	started bool          // the publication was handed to the room (forwarding goroutine only)
	id      atomic.Uint32 // the negotiated extension id, 0 until known (or none)
	packets atomic.Uint32
	loud    atomic.Uint32
}

// observeLevel reads a forwarded audio packet's level (RFC 6464). On the first packet it
// hands the publication to the room's speaker detection, which finds the extension's id.
func (p *Publication) observeLevel(pkt *rtp.Packet) {
	m := &p.levels
	if !m.started {
		m.started = true
		p.Owner.room.speech.add(p)
	}
	id := m.id.Load()
	if id == 0 {
		return
	}
	m.packets.Add(1)
	var lvl rtp.AudioLevelExtension
	if lvl.Unmarshal(pkt.GetExtension(uint8(id))) == nil && lvl.Level <= loudLevel {
		m.loud.Add(1)
	}
}

// audioLevelID is the id the publisher's up connection negotiated for the audio level
// extension (0: none).
func audioLevelID(pub *Publication) uint8 {
	pub.Owner.upMu.Lock()
	up := pub.Owner.up
	pub.Owner.upMu.Unlock()
	if up == nil {
		return 0
	}
	var tracks []*webrtc.TrackRemote
	for i := range pub.layers {
		if l := pub.layers[i].Load(); l != nil {
			tracks = append(tracks, l.track)
		}
	}
	for _, tr := range up.GetTransceivers() {
		r := tr.Receiver()
		if r == nil || !slices.ContainsFunc(r.Tracks(), func(t *webrtc.TrackRemote) bool { return slices.Contains(tracks, t) }) {
			continue
		}
		for _, h := range r.GetParameters().HeaderExtensions {
			if h.URI == audioLevelURI && h.ID > 0 && h.ID < 256 {
				return uint8(h.ID)
			}
		}
	}
	return 0
}

// speakerWatch is a room's active speaker detection: a goroutine that samples the room's
// microphones every tick while any is published (or someone is still the speaker), and
// the callbacks it calls on a change.
type speakerWatch struct {
	mu      sync.Mutex
	pubs    map[*Publication]bool // microphones → extension id looked up
	subs    []func(participantID string)
	current string
	running bool
	closed  bool
	stop    chan struct{}
	done    chan struct{}
}

// OnActiveSpeaker adds a callback called with the participant speaking now whenever that
// changes ("" when nobody speaks). Callbacks run one at a time on the room's speaker
// goroutine, in the order of the changes, and must not block.
func (r *Room) OnActiveSpeaker(f func(participantID string)) {
	r.speech.mu.Lock()
	defer r.speech.mu.Unlock()
	r.speech.subs = append(r.speech.subs, f)
}

// ActiveSpeaker is the participant speaking now ("" for nobody). During a callback it is
// the value being reported.
func (r *Room) ActiveSpeaker() string {
	r.speech.mu.Lock()
	defer r.speech.mu.Unlock()
	return r.speech.current
}

// add starts watching a microphone.
func (w *speakerWatch) add(pub *Publication) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	if w.pubs == nil {
		w.pubs = map[*Publication]bool{}
	}
	w.pubs[pub] = false
	if !w.running {
		w.running = true
		w.stop, w.done = make(chan struct{}), make(chan struct{})
		go w.run(w.stop, w.done, newSpeakerDetector(time.Now))
	}
}

// close stops the goroutine and waits for it.
func (w *speakerWatch) close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	running, stop, done := w.running, w.stop, w.done
	w.mu.Unlock()
	if running {
		close(stop)
		<-done
	}
}

func (w *speakerWatch) run(stop, done chan struct{}, d *speakerDetector) {
	defer close(done)
	t := time.NewTicker(speakerTick)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if !w.sample(d) {
			return
		}
	}
}

// sample feeds one tick to the detector and reports a change; false when there is nothing
// left to watch (the goroutine ends; the next microphone starts another).
func (w *speakerWatch) sample(d *speakerDetector) bool {
	w.mu.Lock()
	pubs := make(map[*Publication]bool, len(w.pubs))
	for pub, known := range w.pubs {
		pubs[pub] = known
	}
	w.mu.Unlock()
	samples := make(map[string]float64, len(pubs))
	var ended, resolved []*Publication
	for pub, known := range pubs {
		select {
		case <-pub.closed:
			ended = append(ended, pub)
			continue
		default:
		}
		m := &pub.levels
		if !known {
			// Not on the packet path: this may wait for the publisher's negotiation. Until
			// the id is known (the negotiation may not be applied yet) it is looked up again
			// every tick.
			if id := audioLevelID(pub); id != 0 {
				m.id.Store(uint32(id))
				resolved = append(resolved, pub)
				pub.Owner.log.Debug("audio level extension", "id", id, "track", pub.ID)
			}
		}
		n, loud := m.packets.Swap(0), m.loud.Swap(0)
		if n == 0 || pub.Muted() || pub.Kind() != webrtc.RTPCodecTypeAudio {
			continue
		}
		owner := pub.Owner.ID
		samples[owner] = max(samples[owner], float64(loud)/float64(n))
	}
	next, changed := d.tick(samples)

	w.mu.Lock()
	for _, pub := range ended {
		delete(w.pubs, pub)
	}
	for _, pub := range resolved {
		if _, ok := w.pubs[pub]; ok {
			w.pubs[pub] = true
		}
	}
	if changed {
		w.current = next
	}
	subs := w.subs
	w.mu.Unlock()
	if changed {
		for _, f := range subs {
			f(next)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.pubs) == 0 && w.current == "" {
		w.running = false
		return false
	}
	return true
}
