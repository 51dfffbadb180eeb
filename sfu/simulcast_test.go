package sfu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// simulcastSFU is an SFU on the lab's network with quick layer selection and keyframes.
func (l *vnetLab) simulcastSFU(ip string) *SFU {
	l.t.Helper()
	return l.sfuWith(ip, func(c *Config) {
		c.KeyframeInterval, c.LayerSelectInterval = 200*time.Millisecond, 100*time.Millisecond
	})
}

// simulcastSender is what the simulcast publishers share: one sendonly transceiver whose
// sender has a track per rid (its encodings), the mid and rid header extensions every
// packet carries, a flag per layer set when the SFU asks it for a keyframe (PLI), and the
// layers the SFU said nobody needs (LayersChanged).
type simulcastSender struct {
	c        *rtcClient
	rids     []string
	tracks   []*webrtc.TrackLocalStaticRTP
	tr       *webrtc.RTPTransceiver
	sender   *webrtc.RTPSender
	plis     []atomic.Bool
	inactive sync.Map // rid → true while the SFU said it is not needed
	midID    uint8
	ridID    uint8
	mid      string
	stop     chan struct{}
	wg       sync.WaitGroup
}

// newSimulcastSender adds a track in codec for each rid to the client's up connection, as
// the encodings of one sender, and reads the keyframe requests of each layer. Nothing is
// offered yet: see publish.
func (c *rtcClient) newSimulcastSender(t *testing.T, rids []string, codec webrtc.RTPCodecCapability) *simulcastSender {
	t.Helper()
	s := &simulcastSender{c: c, rids: rids, plis: make([]atomic.Bool, len(rids)), stop: make(chan struct{})}
	for _, rid := range rids {
		tr, err := webrtc.NewTrackLocalStaticRTP(codec, c.name+"-cam", c.name, webrtc.WithRTPStreamID(rid))
		if err != nil {
			t.Fatal(err)
		}
		s.tracks = append(s.tracks, tr)
	}
	var err error
	if s.tr, err = c.up.AddTransceiverFromTrack(s.tracks[0], webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	s.sender = s.tr.Sender()
	for _, track := range s.tracks[1:] {
		if err := s.sender.AddEncoding(track); err != nil {
			t.Fatal(err)
		}
	}
	for _, ext := range s.sender.GetParameters().HeaderExtensions {
		switch ext.URI {
		case sdp.SDESMidURI:
			s.midID = uint8(ext.ID)
		case sdp.SDESRTPStreamIDURI:
			s.ridID = uint8(ext.ID)
		}
	}
	if s.midID == 0 || s.ridID == 0 {
		t.Fatal("the publisher has no mid/rid header extensions")
	}
	for i, rid := range rids {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			readPLIs(s.sender, rid, func() { s.plis[i].Store(true) })
		}()
	}
	return s
}

// publish offers the up connection to the SFU, the layers as the camera and the tracks in
// others as what they say, then starts the sending loops (each calls s.wg.Done when it
// returns) and stops everything at the end of the test.
func (s *simulcastSender) publish(t *testing.T, others map[string]string, loops ...func()) {
	t.Helper()
	sources := map[string]string{s.tracks[0].ID(): SourceCamera}
	maps.Copy(sources, others)
	s.c.offerUp(t, false, sources)
	s.mid = s.tr.Mid()
	s.wg.Add(len(loops))
	for _, loop := range loops {
		go loop()
	}
	t.Cleanup(s.halt)
}

func (s *simulcastSender) halt() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	if err := s.c.up.Close(); err != nil {
		s.c.t.Errorf("close up: %v", err)
	}
	s.wg.Wait()
}

// layerState applies the SFU's LayersChanged messages received so far (the client's
// setParameters).
func (s *simulcastSender) layerState() {
	for {
		select {
		case m := <-s.c.layers:
			for rid, on := range m {
				if on {
					s.inactive.Delete(rid)
				} else {
					s.inactive.Store(rid, true)
				}
			}
		default:
			return
		}
	}
}

func (s *simulcastSender) isInactive(rid string) bool {
	_, off := s.inactive.Load(rid)
	return off
}

// write sends a packet of layer i with the mid and rid extensions added to h. It is false
// when the sending loop should end.
func (s *simulcastSender) write(i int, h rtp.Header, payload []byte) bool {
	if err := h.SetExtension(s.midID, []byte(s.mid)); err != nil {
		return false
	}
	if err := h.SetExtension(s.ridID, []byte(s.rids[i])); err != nil {
		return false
	}
	err := s.tracks[i].WriteRTP(&rtp.Packet{Header: h, Payload: payload})
	return err == nil || errors.Is(err, io.ErrClosedPipe)
}

// sendFrames is a publisher's sending loop: every interval until the publisher stops, it
// applies the SFU's LayersChanged messages, then calls send for each layer (index i into
// rids) that the SFU has not said nobody needs, with the frame's number (from 0), the time
// since the start on the 90 kHz clock, and whether the layer comes back after a pause. It
// returns, calling s.wg.Done, when the publisher stops or send returns false.
func (s *simulcastSender) sendFrames(interval time.Duration, send func(frame, i int, elapsed uint32, resumed bool) bool) {
	defer s.wg.Done()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	paused := make([]bool, len(s.rids))
	start := time.Now()
	for frame := 0; ; frame++ {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		s.layerState()
		elapsed := uint32(time.Since(start) * 90000 / time.Second)
		for i, rid := range s.rids {
			if s.isInactive(rid) {
				paused[i] = true
				continue
			}
			resumed := paused[i]
			paused[i] = false
			if !send(frame, i, elapsed, resumed) {
				return
			}
		}
	}
}

// vp8Layer is how a VP8 encoder numbers one simulcast layer: its own sequence numbers and
// clock, a 15-bit picture id and a TL0PICIDX, both one more at each frame.
type vp8Layer struct {
	seq uint16
	pic uint16
	tl0 uint8
	ts  uint32
}

// vp8Layers are n layers as a browser numbers them, layer i from sequence number seq(i),
// with picture ids, TL0PICIDX and clocks of their own.
func vp8Layers(n int, seq func(i int) uint16) []vp8Layer {
	layers := make([]vp8Layer, n)
	for i := range layers {
		layers[i] = vp8Layer{seq: seq(i), pic: uint16(0x7ff0 + 3000*i), tl0: uint8(250 + i), ts: uint32(i) * 1_000_000_007}
	}
	return layers
}

// sendVP8 sends the next frame of layer i (numbered by l), elapsed ticks after the start,
// one packet per body: each body after the VP8 descriptor (X, S on the frame's first
// packet; I, L; 15-bit picture id; TL0PICIDX), the marker on the last packet. It is false
// when the sending loop should end.
func (s *simulcastSender) sendVP8(l *vp8Layer, i int, elapsed uint32, bodies ...[]byte) bool {
	for k, body := range bodies {
		first := byte(0x80)
		if k == 0 {
			first = 0x90
		}
		payload := append([]byte{first, 0xc0, 0x80 | byte(l.pic>>8), byte(l.pic), l.tl0}, body...)
		h := rtp.Header{Version: 2, Marker: k == len(bodies)-1, SequenceNumber: l.seq, Timestamp: l.ts + elapsed, PayloadType: 96}
		if !s.write(i, h, payload) {
			return false
		}
		l.seq++
	}
	l.pic = (l.pic + 1) & 0x7fff
	l.tl0++
	return true
}

// simulcastPublisher sends a camera in layers with rids, as a browser does: synthetic VP8
// with 15-bit picture ids and TL0PICIDX, each layer with its own sequence numbers, clock
// and picture ids, one single-packet frame per layer every 10 ms; keyframes at the start
// and when asked (except on the layers in noKey). It stops a layer the SFU says nobody
// needs (LayersChanged) and starts it again when asked.
type simulcastPublisher struct {
	*simulcastSender
	noKey map[string]bool
}

// publishSimulcast publishes a simulcastPublisher's camera with rids, in that order. Each
// packet carries, after the VP8 frame header, the index into rids of its layer.
func (c *rtcClient) publishSimulcast(t *testing.T, rids []string, noKey ...string) *simulcastPublisher {
	t.Helper()
	p := &simulcastPublisher{noKey: map[string]bool{},
		simulcastSender: c.newSimulcastSender(t, rids, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000})}
	for _, r := range noKey {
		p.noKey[r] = true
	}
	p.publish(t, nil, p.run)
	return p
}

func (p *simulcastPublisher) run() {
	layers := vp8Layers(len(p.rids), func(i int) uint16 { return uint16(1000 * (i + 1)) })
	p.sendFrames(10*time.Millisecond, func(frame, i int, elapsed uint32, resumed bool) bool {
		key := p.plis[i].Swap(false) || frame == 0 || resumed
		if p.noKey[p.rids[i]] {
			key = false
		}
		body := []byte{0x01} // interframe
		if key {
			body = []byte{0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01}
		}
		body = append(body, byte(i))
		body = binary.BigEndian.AppendUint32(body, uint32(frame))
		body = append(body, make([]byte, []int{150, 500, 1100}[min(i, 2)])...) // about 140, 420 and 900 kbps
		return p.sendVP8(&layers[i], i, elapsed, body)
	})
}

// got is a packet a viewer received, as the test reads it.
type got struct {
	seq        uint16
	ts         uint32
	pic        int
	tl0        int
	layer      int // index into the publisher's rids
	key        bool
	descriptor bool
	padding    bool // a probe's padding-only packet: numbered, but no media
}

// videoLog keeps what a client receives on its video tracks, in the order it came: each
// packet as the test reads it, a P.
type videoLog[P any] struct {
	mu   sync.Mutex
	pkts []P
}

// logVideo has c keep in l what read makes of each packet it receives on a video track.
// read runs under l.mu, so it may also note what else l.mu guards.
func logVideo[P any](c *rtcClient, l *videoLog[P], read func(*webrtc.TrackRemote, *rtp.Packet) P) {
	f := func(tr *webrtc.TrackRemote, pkt *rtp.Packet) {
		if tr.Kind() != webrtc.RTPCodecTypeVideo {
			return
		}
		l.mu.Lock()
		l.pkts = append(l.pkts, read(tr, pkt))
		l.mu.Unlock()
	}
	c.onRTP.Store(&f)
}

func (l *videoLog[P]) snapshot() []P {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.pkts)
}

func (l *videoLog[P]) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pkts)
}

// recorder keeps what a viewer receives on its video tracks.
type recorder struct {
	videoLog[got]
}

func (c *rtcClient) record() *recorder {
	r := &recorder{}
	logVideo(c, &r.videoLog, func(_ *webrtc.TrackRemote, pkt *rtp.Packet) got {
		pic, tl0, ok := vp8Indices(pkt.Payload)
		g := got{seq: pkt.SequenceNumber, ts: pkt.Timestamp, pic: pic, tl0: tl0, layer: -1, descriptor: ok,
			padding: pkt.Padding && len(pkt.Payload) == 0}
		if len(pkt.Payload) > 5 {
			g.key = vp8Keyframe(pkt.Payload)
			i := 6
			if g.key {
				i = 15
			}
			if len(pkt.Payload) > i {
				g.layer = int(pkt.Payload[i])
			}
		}
		return g
	})
	return r
}

// media counts the media packets received (probes' padding left out).
func (r *recorder) media() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, g := range r.pkts {
		if !g.padding {
			n++
		}
	}
	return n
}

// lastLayer is the layer of the last n media packets (probes' padding left out), -2 if
// they are fewer or not all on one layer.
func (r *recorder) lastLayer(n int) int {
	p := slices.DeleteFunc(r.snapshot(), func(g got) bool { return g.padding })
	return lastLayerOf(p, n, func(g got) int { return g.layer })
}

// lastLayerOf is the layer (as layerOf reads it) of the last n of pkts, -2 if they are
// fewer or not all on one layer.
func lastLayerOf[P any](pkts []P, n int, layerOf func(P) int) int {
	if len(pkts) < n {
		return -2
	}
	l := layerOf(pkts[len(pkts)-1])
	for _, g := range pkts[len(pkts)-n:] {
		if layerOf(g) != l {
			return -2
		}
	}
	return l
}

// checkContinuous asserts that the viewer's numbering never jumps: each packet (one per
// frame) has the next sequence number, the next picture id and TL0PICIDX, and a later
// timestamp, not too much later, whatever layer it came from.
func checkContinuous(t *testing.T, pkts []got) (switches int) {
	t.Helper()
	return checkContinuousGap(t, pkts, 90000)
}

// checkContinuousGap is checkContinuous where timestamps may advance by up to maxTicks from
// one packet to the next (a pause of the video advances them by the time it lasted).
func checkContinuousGap(t *testing.T, pkts []got, maxTicks uint32) (switches int) {
	t.Helper()
	for i := 1; i < len(pkts); i++ {
		a, b := pkts[i-1], pkts[i]
		if b.layer != a.layer {
			switches++
			if !b.key {
				t.Errorf("packet %d: switched from layer %d to %d on a delta frame", i, a.layer, b.layer)
			}
		}
		if b.seq != a.seq+1 {
			t.Errorf("packet %d (layer %d→%d): sequence number %d after %d", i, a.layer, b.layer, b.seq, a.seq)
		}
		if b.pic != int((uint16(a.pic)+1)&0x7fff) {
			t.Errorf("packet %d (layer %d→%d): picture id %d after %d", i, a.layer, b.layer, b.pic, a.pic)
		}
		if b.tl0 != int(uint8(a.tl0+1)) {
			t.Errorf("packet %d (layer %d→%d): TL0PICIDX %d after %d", i, a.layer, b.layer, b.tl0, a.tl0)
		}
		if d := b.ts - a.ts; d == 0 || d > maxTicks {
			t.Errorf("packet %d (layer %d→%d): timestamp %d after %d", i, a.layer, b.layer, b.ts, a.ts)
		}
	}
	return switches
}

// waitLayers waits until the publisher was told a layer state.
func (p *simulcastPublisher) waitInactive(t *testing.T, rid string, inactive bool) {
	t.Helper()
	deadline := time.Now().Add(giveUp)
	for {
		if _, off := p.inactive.Load(rid); off == inactive {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for layer %q inactive=%v: %s", rid, inactive, p.c.neededState())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// neededState says, for a failure message, what each viewer of the client's publications
// wants (target, current layer, wanted mask) and what the publication last announced.
func (c *rtcClient) neededState() string {
	c.peer.pubsMu.Lock()
	defer c.peer.pubsMu.Unlock()
	var b strings.Builder
	for source, pub := range c.peer.pubs {
		fmt.Fprintf(&b, "%s announced %03b;", source, pub.announced)
		for _, d := range *pub.downs.Load() {
			fmt.Fprintf(&b, " %s: target %d, current %d, wanted %03b;", d.viewer.ID, d.target.Load(), d.cur.Load(), d.wanted.Load())
		}
	}
	return b.String()
}

func trackOf(t *testing.T, c *rtcClient) string {
	t.Helper()
	var id string
	waitFor(t, c.name+" to get the camera", func() bool {
		for _, d := range c.peer.received() {
			if d.pub.video {
				id = d.id
				return true
			}
		}
		return false
	})
	return id
}

// simulcastLab starts a lab on ips, a simulcast SFU (simulcastSFU) on the first of them
// and a room named name on it.
func simulcastLab(t *testing.T, name string, ips ...string) (*vnetLab, *Room) {
	t.Helper()
	lab := newVnetLab(t, ips...)
	room := lab.simulcastSFU(ips[0]).NewRoom(name)
	t.Cleanup(room.Close)
	return lab, room
}

// simulcastRoom starts a lab with a simulcast SFU and a room named name on it
// (simulcastLab), and joins a viewer, "viewer", to the room. joinPub joins the publisher,
// "pub", when the test has set the viewer up.
func simulcastRoom(t *testing.T, name string) (viewer *rtcClient, joinPub func() *rtcClient) {
	t.Helper()
	const sfuIP, pubIP, viewerIP = "10.0.0.1", "10.0.0.2", "10.0.0.3"
	lab, room := simulcastLab(t, name, sfuIP, pubIP, viewerIP)
	viewer = joinClient(t, room, lab.api(viewerIP), "viewer", false)
	return viewer, func() *rtcClient { return joinClient(t, room, lab.api(pubIP), "pub", true) }
}

// TestSimulcastLayers: a viewer showing the camera small gets the low layer and one showing
// it large the high one; the middle layer, needed by nobody, is paused upstream. When the
// small viewer enlarges the camera it moves to the high layer at a keyframe with its
// numbering continuous, the low layer is paused in turn, and it resumes when the viewer
// shrinks the camera again.
func TestSimulcastLayers(t *testing.T) {
	verifyNoLeaks(t)
	const sfuIP, pubIP, smallIP, largeIP = "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"
	lab, room := simulcastLab(t, "simulcast", sfuIP, pubIP, smallIP, largeIP)

	small := joinClient(t, room, lab.api(smallIP), "small", false)
	large := joinClient(t, room, lab.api(largeIP), "large", false)
	smallRec, largeRec := small.record(), large.record()
	pub := joinClient(t, room, lab.api(pubIP), "pub", true)
	sp := pub.publishSimulcast(t, []string{"l", "m", "h"})
	small.peer.SetView(trackOf(t, small), 320, 180)

	waitFor(t, "the small viewer on l", func() bool { return smallRec.lastLayer(30) == 0 })
	waitFor(t, "the large viewer on h", func() bool { return largeRec.lastLayer(30) == 2 })
	sp.waitInactive(t, "m", true)
	sp.waitInactive(t, "l", false)
	sp.waitInactive(t, "h", false)
	id := trackOf(t, small)
	if st := small.peer.Stats(); st.Layers[id] != "low" || st.VideoPaused {
		t.Fatalf("small viewer's stats: %+v", st)
	}
	if st := large.peer.Stats(); st.Layers[id] != "high" {
		t.Fatalf("large viewer's stats: %+v", st)
	}

	small.peer.SetView(id, 1920, 1080)
	waitFor(t, "the small viewer on h", func() bool { return smallRec.lastLayer(30) == 2 })
	sp.waitInactive(t, "l", true)
	small.peer.SetView(id, 300, 200)
	waitFor(t, "the small viewer back on l", func() bool { return smallRec.lastLayer(30) == 0 })
	sp.waitInactive(t, "l", false)
	sp.waitInactive(t, "h", false)

	if sw := checkContinuous(t, smallRec.snapshot()); sw < 2 {
		t.Errorf("the small viewer switched %d times, want 2 at least", sw)
	}
	checkContinuous(t, largeRec.snapshot())
}

// TestSimulcastNoKeyframe: the high layer never sends a keyframe. A viewer that wants it is
// not left without video: it falls back to the middle layer.
func TestSimulcastNoKeyframe(t *testing.T) {
	verifyNoLeaks(t)
	viewer, joinPub := simulcastRoom(t, "nokey")
	rec := viewer.record()
	pub := joinPub()
	pub.publishSimulcast(t, []string{"l", "m", "h"}, "h")
	waitFor(t, "the viewer on m", func() bool { return rec.lastLayer(30) == 1 })
	checkContinuous(t, rec.snapshot())
}

// TestSimulcastOddRIDs: rids other than l, m and h take free layer slots (highest first,
// in the order they come); a fourth layer is read and dropped. The viewer gets video.
func TestSimulcastOddRIDs(t *testing.T) {
	verifyNoLeaks(t)
	viewer, joinPub := simulcastRoom(t, "rids")
	rec := viewer.record()
	pub := joinPub()
	pub.publishSimulcast(t, []string{"q", "f", "l", "x"})
	waitFor(t, "video on the viewer", func() bool { return rec.lastLayer(30) >= 0 })
	var layers int
	waitFor(t, "three layers", func() bool {
		layers = 0
		for _, d := range viewer.peer.received() {
			for i := range d.pub.layers {
				if d.pub.layer(i) != nil {
					layers++
				}
			}
		}
		return layers == 3
	})
	checkContinuous(t, rec.snapshot())
}

// TestSimulcastVideoPaused: a viewer whose estimate fits no layer gets no video and the
// pause message; video comes back, with the message, when the estimate recovers.
func TestSimulcastVideoPaused(t *testing.T) {
	verifyNoLeaks(t)
	viewer, joinPub := simulcastRoom(t, "paused")
	estimate := viewer.estimateFromTest(10_000_000)
	rec := viewer.record()
	pub := joinPub()
	sp := pub.publishSimulcast(t, []string{"l", "m", "h"})
	waitFor(t, "the viewer on h", func() bool { return rec.lastLayer(30) == 2 })

	estimate.Store(30_000)
	waitPaused(t, viewer, true)
	id := trackOf(t, viewer)
	if st := viewer.peer.Stats(); !st.VideoPaused || st.Layers[id] != "paused" || st.EstimateBps != 30_000 {
		t.Fatalf("stats while paused: %+v", st)
	}
	for _, rid := range []string{"l", "m", "h"} {
		sp.waitInactive(t, rid, true)
	}
	before := len(rec.snapshot())
	time.Sleep(300 * time.Millisecond) // nothing may arrive while paused
	if n := len(rec.snapshot()) - before; n > 3 {
		t.Fatalf("%d video packets arrived while paused", n)
	}

	estimate.Store(300_000) // l fits, m does not
	waitPaused(t, viewer, false)
	waitFor(t, "the viewer on l", func() bool { return rec.lastLayer(30) == 0 })
	sp.waitInactive(t, "l", false)
	sp.waitInactive(t, "h", true)
	checkContinuousGap(t, rec.snapshot(), 90000*120) // the pause lasted seconds
}

// estimateFromTest makes the client's bandwidth estimate what the test says: bps at first,
// then whatever it stores.
func (c *rtcClient) estimateFromTest(bps int64) *atomic.Int64 {
	estimate := &atomic.Int64{}
	estimate.Store(bps)
	c.peer.SetEstimator(func() int { return int(estimate.Load()) })
	return estimate
}

func waitPaused(t *testing.T, c *rtcClient, want bool) {
	t.Helper()
	timeout := time.After(giveUp)
	for {
		select {
		case p := <-c.paused:
			if p == want {
				return
			}
		case <-timeout:
			t.Fatalf("gave up waiting for video_paused %v", want)
		}
	}
}

func TestVP8Indices(t *testing.T) {
	for _, c := range []struct {
		name     string
		p        []byte
		pic, tl0 int
	}{
		{"15-bit", []byte{0x90, 0xc0, 0x81, 0x02, 7, 0x00}, 0x102, 7},
		{"7-bit", []byte{0x90, 0x80, 0x05, 0x00}, 5, -1},
		{"no picture id", []byte{0x10, 0x00}, -1, -1},
	} {
		pic, tl0, ok := vp8Indices(c.p)
		if !ok || pic != c.pic || tl0 != c.tl0 {
			t.Errorf("%s: %d %d %v", c.name, pic, tl0, ok)
		}
		q := slices.Clone(c.p)
		writeVP8Indices(q, 0x1234&0x7f, 9)
		pic, tl0, _ = vp8Indices(q)
		if c.pic >= 0 && pic != 0x1234&0x7f || c.tl0 >= 0 && tl0 != 9 {
			t.Errorf("%s: rewritten to %d %d", c.name, pic, tl0)
		}
	}
	if _, _, ok := vp8Indices([]byte{0x90, 0x80, 0x81}); ok {
		t.Error("a cut descriptor was read")
	}
}

// TestSetViewClamps: absurd sizes are clamped; 0 in either dimension is "not shown".
func TestSetViewClamps(t *testing.T) {
	p := &Peer{subs: map[string]*DownTrack{}}
	d := &DownTrack{}
	p.subs["x"] = d
	if w, h := d.viewSize(); w != defaultViewWidth || h != defaultViewHeight {
		t.Fatalf("default view %d×%d", w, h)
	}
	for _, c := range []struct{ w, h, ww, wh int }{
		{1 << 40, 99999, maxViewWidth, maxViewHeight},
		{-5, 100, 0, 0},
		{640, 0, 0, 0},
		{320, 180, 320, 180},
	} {
		p.SetView("x", c.w, c.h)
		if w, h := d.viewSize(); w != c.ww || h != c.wh {
			t.Errorf("SetView(%d, %d) = %d×%d, want %d×%d", c.w, c.h, w, h, c.ww, c.wh)
		}
	}
	p.SetView("unknown", 10, 10) // ignored
}
