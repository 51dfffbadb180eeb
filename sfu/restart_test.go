package sfu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/puente-org/puente/sfu/vnetlab"
)

// Short ICE timing so a cut path is noticed within about a second (the clients and the SFU).
const (
	testDisconnected = time.Second
	testFailed       = time.Minute // a 3 s cut must not fail the connection
	testKeepalive    = 200 * time.Millisecond
	giveUp           = 30 * time.Second
)

// vnetLab is a virtual network (package vnetlab) with the SFU and clients on it, at the
// short ICE timing above.
type vnetLab struct {
	*vnetlab.Lab
	t      *testing.T
	failed time.Duration // ICE failed timeout of the SFU and the clients
}

func newVnetLab(t *testing.T, ips ...string) *vnetLab {
	t.Helper()
	l, err := vnetlab.New(networkTestLogger(t), ips...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("stop router: %v", err)
		}
	})
	return &vnetLab{Lab: l, t: t, failed: testFailed}
}

func (l *vnetLab) cut(ip string) { l.Cut(ip) }

// move changes a client's address (say from Wi-Fi to a mobile network).
func (l *vnetLab) move(from, to string) {
	l.t.Helper()
	if err := l.Move(from, to); err != nil {
		l.t.Fatal(err)
	}
}

// cutThenMove cuts ip's path for 3 s, then moves ip to newIP. Each time it waits until ice
// (the states of the client's connection through ip) says disconnected, then calls restart
// once the path is back ("after a cut") or moved ("after a move").
func (l *vnetLab) cutThenMove(ip, newIP string, ice chan webrtc.ICEConnectionState, restart func(why string)) {
	l.t.Helper()
	l.cut(ip)
	cutAt := time.Now()
	waitICE(l.t, ice, webrtc.ICEConnectionStateDisconnected)
	time.Sleep(3*time.Second - time.Since(cutAt)) // the cut lasts 3 s
	l.cut("")
	restart("after a cut")

	l.move(ip, newIP)
	waitICE(l.t, ice, webrtc.ICEConnectionStateDisconnected)
	restart("after a move")
}

// sfu starts an SFU on ip, its one UDP mux socket on the virtual network.
func (l *vnetLab) sfu(ip string) *SFU {
	l.t.Helper()
	return l.sfuWith(ip, nil)
}

// sfuWith is sfu with more of the Config set by configure.
func (l *vnetLab) sfuWith(ip string, configure func(*Config)) *SFU {
	l.t.Helper()
	listen := func(logger *slog.Logger) (webrtc.SettingEngine, Ports, io.Closer, error) {
		se, port, closer, err := l.Listen(ip, logger.With("component", "webrtc"))
		return se, Ports{UDP: port}, closer, err
	}
	cfg := Config{Logger: networkTestLogger(l.t), Listen: listen,
		ICEDisconnectedTimeout: testDisconnected, ICEFailedTimeout: l.failed, ICEKeepalive: testKeepalive}
	if configure != nil {
		configure(&cfg)
	}
	return startSFU(l.t, cfg)
}

// startSFU starts an SFU with cfg, closed at the end of the test.
func startSFU(t *testing.T, cfg Config) *SFU {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close SFU: %v", err)
		}
	})
	return s
}

// api is a Pion client on ip with the same short ICE timing.
func (l *vnetLab) api(ip string) *webrtc.API {
	l.t.Helper()
	api, err := l.API(ip, vnetlab.Timing{Disconnected: testDisconnected, Failed: l.failed, Keepalive: testKeepalive})
	if err != nil {
		l.t.Fatal(err)
	}
	return api
}

// sigMsg is what the SFU sends a client (PeerEvents), in order.
type sigMsg struct {
	typ, pc, sdp string
	candidate    *webrtc.ICECandidateInit
}

// rtcClient is a participant as the live client behaves: it answers the SFU's down offers,
// publishes on up, and trickles candidates both ways. Its signalling is in memory.
type rtcClient struct {
	t    *testing.T
	name string
	peer *Peer
	down *webrtc.PeerConnection
	up   *webrtc.PeerConnection

	mu      sync.Mutex
	inbox   []sigMsg
	wake    chan struct{}
	offers  []string // ufrags of the down offers answered, in order
	answers []string // ufrags of the up answers applied, in order
	tracks  []*webrtc.TrackRemote
	seen    map[string]bool // ICE ufrags of every description received (pump only)
	// dropOffers makes the client ignore down offers, as one whose websocket is gone.
	dropOffers atomic.Bool
	// dropAfterOne: answer one more offer, then drop them.
	dropAfterOne atomic.Bool
	lastAnswer   string // the last answer sent on down

	received atomic.Int64 // RTP packets received on down, all tracks
	// onRTP, when set, sees every packet received on down (from the tracks' readers).
	onRTP   atomic.Pointer[func(*webrtc.TrackRemote, *rtp.Packet)]
	layers  chan map[string]bool // PeerEvents.LayersChanged (camera)
	paused  chan bool            // PeerEvents.VideoPaused
	iceDown chan webrtc.ICEConnectionState
	iceUp   chan webrtc.ICEConnectionState
	failed  chan string // PeerEvents.Failed
	stop    chan struct{}
	pumped  chan struct{} // closed when the pump has stopped
	wg      sync.WaitGroup
}

func iceStates(pc *webrtc.PeerConnection) chan webrtc.ICEConnectionState {
	ch := make(chan webrtc.ICEConnectionState, 64)
	pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) {
		select {
		case ch <- s:
		default:
		}
	})
	return ch
}

func joinClient(t *testing.T, room *Room, api *webrtc.API, name string, canPublish bool) *rtcClient {
	t.Helper()
	c := &rtcClient{t: t, name: name, wake: make(chan struct{}, 1), stop: make(chan struct{}), pumped: make(chan struct{}), seen: map[string]bool{},
		failed: make(chan string, 16), layers: make(chan map[string]bool, 64), paused: make(chan bool, 64)}
	var err error
	if c.down, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		t.Fatal(err)
	}
	c.iceDown = iceStates(c.down)
	c.down.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		c.mu.Lock()
		c.tracks = append(c.tracks, tr)
		c.mu.Unlock()
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for {
				pkt, _, err := tr.ReadRTP()
				if err != nil {
					return
				}
				c.received.Add(1)
				if f := c.onRTP.Load(); f != nil {
					(*f)(tr, pkt)
				}
			}
		}()
	})
	c.down.OnICECandidate(func(ci *webrtc.ICECandidate) {
		if ci != nil {
			if err := c.peer.AddCandidate(Down, ci.ToJSON()); err != nil {
				t.Errorf("%s: down candidate: %v", name, err)
			}
		}
	})
	if canPublish {
		if c.up, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
			t.Fatal(err)
		}
		c.iceUp = iceStates(c.up)
		c.up.OnICECandidate(func(ci *webrtc.ICECandidate) {
			if ci != nil {
				if err := c.peer.AddCandidate(Up, ci.ToJSON()); err != nil {
					t.Errorf("%s: up candidate: %v", name, err)
				}
			}
		})
	}
	push := func(m sigMsg) { // PeerEvents must not block: queue and wake the pump
		c.mu.Lock()
		c.inbox = append(c.inbox, m)
		c.mu.Unlock()
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	ev := PeerEvents{
		SendSDP: func(typ, pc, sdp string, _ map[string]TrackInfo) { push(sigMsg{typ: typ, pc: pc, sdp: sdp}) },
		SendCandidate: func(pc string, ci webrtc.ICECandidateInit) {
			push(sigMsg{typ: "candidate", pc: pc, candidate: &ci})
		},
		Failed: func(pc string) {
			select {
			case c.failed <- pc:
			default:
			}
		},
		LayersChanged: func(source string, active map[string]bool) {
			// Each message holds the state of every layer: when the buffer is full the
			// oldest goes, never the newest (which a test waits for).
			for {
				select {
				case c.layers <- active:
					return
				default:
				}
				select {
				case <-c.layers:
				default:
				}
			}
		},
		VideoPaused: func(paused bool) {
			select {
			case c.paused <- paused:
			default:
			}
		},
	}
	peer, err := room.Join(name, canPublish, ev)
	if err != nil {
		t.Fatal(err)
	}
	c.peer = peer
	go c.pump()
	t.Cleanup(c.close)
	return c
}

// pump handles the SFU's messages in order.
func (c *rtcClient) pump() {
	defer close(c.pumped)
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
		}
		c.mu.Lock()
		msgs := c.inbox
		c.inbox = nil
		c.mu.Unlock()
		for _, m := range msgs {
			if err := c.handle(m); err != nil {
				c.t.Errorf("%s: %s %s: %v", c.name, m.typ, m.pc, err)
			}
		}
	}
}

func (c *rtcClient) handle(m sigMsg) error {
	if testing.Verbose() {
		c.t.Logf("%s <- %s %s %v", c.name, m.typ, m.pc, m.candidate)
	}
	switch {
	case m.typ == "offer" && m.pc == Down:
		if c.dropOffers.Load() {
			return nil
		}
		c.seen[sdpUfrag(m.sdp)] = true
		if err := c.down.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.sdp}); err != nil {
			return err
		}
		answer, err := c.down.CreateAnswer(nil)
		if err != nil {
			return err
		}
		if err := c.down.SetLocalDescription(answer); err != nil {
			return err
		}
		c.mu.Lock()
		c.lastAnswer = answer.SDP
		c.mu.Unlock()
		if c.dropAfterOne.Swap(false) {
			c.dropOffers.Store(true)
		}
		if err := c.peer.HandleAnswer(answer.SDP); err != nil {
			return err
		}
		c.mu.Lock()
		c.offers = append(c.offers, sdpUfrag(m.sdp))
		c.mu.Unlock()
	case m.typ == "answer" && m.pc == Up:
		c.seen[sdpUfrag(m.sdp)] = true
		if err := c.up.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.sdp}); err != nil {
			return err
		}
		c.mu.Lock()
		c.answers = append(c.answers, sdpUfrag(m.sdp))
		c.mu.Unlock()
	case m.typ == "candidate":
		pc := c.down
		if m.pc == Up {
			pc = c.up
		}
		if m.pc == Down && c.dropOffers.Load() {
			return nil // lost with the offer
		}
		// Candidates follow the description that carries their credentials.
		if uf := candidateUfrag(m.candidate.Candidate); uf == "" || !c.seen[uf] {
			return fmt.Errorf("candidate for ice-ufrag %q came before its description", uf)
		}
		return pc.AddICECandidate(*m.candidate)
	default:
		return fmt.Errorf("unexpected message")
	}
	return nil
}

func (c *rtcClient) close() {
	select {
	case <-c.stop:
		return
	default:
		close(c.stop)
	}
	<-c.pumped
	c.peer.Close()
	for _, pc := range []*webrtc.PeerConnection{c.up, c.down} {
		if pc != nil {
			if err := pc.Close(); err != nil {
				c.t.Errorf("%s: close: %v", c.name, err)
			}
		}
	}
	c.wg.Wait()
}

// candidateUfrag is the ufrag a candidate line names (Pion writes "ufrag X").
func candidateUfrag(line string) string {
	f := strings.Fields(line)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "ufrag" {
			return f[i+1]
		}
	}
	return ""
}

func (c *rtcClient) answered() (offers, answers []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.offers...), append([]string(nil), c.answers...)
}

// waitFor polls cond until it holds (give-up bound only).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(giveUp)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// drainICE forgets the ICE states seen so far.
func drainICE(ch chan webrtc.ICEConnectionState) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// waitICE waits for an ICE state on a client connection.
func waitICE(t *testing.T, ch chan webrtc.ICEConnectionState, want webrtc.ICEConnectionState) {
	t.Helper()
	timeout := time.After(giveUp)
	for {
		select {
		case s := <-ch:
			if s == want {
				return
			}
		case <-timeout:
			t.Fatalf("gave up waiting for ICE %s", want)
		}
	}
}

// moreReceived waits until the client received n more packets than now.
func (c *rtcClient) moreReceived(t *testing.T, n int64) {
	t.Helper()
	from := c.received.Load()
	waitFor(t, fmt.Sprintf("%s to receive %d packets (has %d)", c.name, n, from), func() bool { return c.received.Load() >= from+n })
}

// sendTrack adds a track of codec with id to the client's up connection, sent only.
func (c *rtcClient) sendTrack(t *testing.T, codec webrtc.RTPCodecCapability, id string) (*webrtc.TrackLocalStaticRTP, *webrtc.RTPSender) {
	t.Helper()
	track, err := webrtc.NewTrackLocalStaticRTP(codec, id, c.name)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := c.up.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		t.Fatal(err)
	}
	return track, tr.Sender()
}

// offerUp sends the up connection's offer, with ICE restart if asked, to the SFU with the
// sources of its tracks, and returns the offer's ice-ufrag.
func (c *rtcClient) offerUp(t *testing.T, iceRestart bool, sources map[string]string) string {
	t.Helper()
	offer, err := c.up.CreateOffer(&webrtc.OfferOptions{ICERestart: iceRestart})
	if err == nil {
		err = c.up.SetLocalDescription(offer)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := c.peer.HandleOffer(offer.SDP, sources); err != nil {
		t.Fatalf("HandleOffer: %v", err)
	}
	return sdpUfrag(offer.SDP)
}

// readPLIs calls pli for each keyframe request the SFU sends to sender, for the layer rid
// (or, if rid is "", for the sender's one track), until the connection closes.
func readPLIs(sender *webrtc.RTPSender, rid string, pli func()) {
	for {
		var pkts []rtcp.Packet
		var err error
		if rid == "" {
			pkts, _, err = sender.ReadRTCP()
		} else {
			pkts, _, err = sender.ReadSimulcastRTCP(rid)
		}
		if err != nil {
			return
		}
		for _, pk := range pkts {
			if _, ok := pk.(*rtcp.PictureLossIndication); ok {
				pli()
			}
		}
	}
}

// vp8Frame is frame n of a single-packet VP8 video without picture ids: a keyframe
// (640x360) or an interframe, then n (4 bytes) and 400 bytes of filler.
func vp8Frame(n uint32, key bool) []byte {
	payload := []byte{0x10, 0x01, 0x00, 0x00} // VP8 descriptor, interframe
	if key {
		payload = []byte{0x10, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01} // keyframe 640x360
	}
	payload = binary.BigEndian.AppendUint32(payload, n)
	return append(payload, make([]byte, 400)...)
}

// testPublisher sends VP8 on the client's up connection: a keyframe first and whenever
// asked, one packet every 10 ms.
type testPublisher struct {
	c       *rtcClient
	track   *webrtc.TrackLocalStaticRTP
	sources map[string]string
	plis    chan struct{}
	stop    chan struct{}
	wg      sync.WaitGroup
}

func (c *rtcClient) publishVideo(t *testing.T) *testPublisher {
	t.Helper()
	track, sender := c.sendTrack(t, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, c.name+"-cam")
	p := &testPublisher{c: c, track: track, sources: map[string]string{track.ID(): SourceCamera},
		plis: make(chan struct{}, 16), stop: make(chan struct{})}
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		readPLIs(sender, "", func() {
			select {
			case p.plis <- struct{}{}:
			default:
			}
		})
	}()
	go p.run()
	t.Cleanup(p.halt)
	p.offer(t, false)
	return p
}

// offer sends the up connection's offer, with ICE restart if asked.
func (p *testPublisher) offer(t *testing.T, iceRestart bool) string {
	t.Helper()
	return p.c.offerUp(t, iceRestart, p.sources)
}

func (p *testPublisher) run() {
	defer p.wg.Done()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	seq := uint16(1000)
	for n := uint32(0); ; n++ {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		key := n == 0
		select {
		case <-p.plis:
			key = true
		default:
		}
		payload := vp8Frame(n, key)
		seq++
		err := p.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, SequenceNumber: seq, Timestamp: n * 900}, Payload: payload})
		if err != nil && !errors.Is(err, io.ErrClosedPipe) {
			return
		}
	}
}

func (p *testPublisher) halt() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	if err := p.c.up.Close(); err != nil { // ends the RTCP reader
		p.c.t.Errorf("close up: %v", err)
	}
	p.wg.Wait()
}

// watchedVideo starts an SFU (sfu) on sfuIP and a room named name on it, where a viewer
// on viewerIP has received 50 packets of the video (publishVideo) of a publisher, "pub",
// on pubIP.
func (l *vnetLab) watchedVideo(name, sfuIP, pubIP, viewerIP string) (room *Room, viewer, pub *rtcClient, video *testPublisher) {
	l.t.Helper()
	t := l.t
	s := l.sfu(sfuIP)
	room = s.NewRoom(name)
	t.Cleanup(room.Close)

	viewer = joinClient(t, room, l.api(viewerIP), "viewer", false)
	pub = joinClient(t, room, l.api(pubIP), "pub", true)
	video = pub.publishVideo(t)
	viewer.moreReceived(t, 50)
	return room, viewer, pub, video
}

// TestRestartICEDown cuts a viewer's path for 3 s: the viewer sees ICE disconnected and,
// once back, asks for a restart (the "restart" message); the SFU's new offer has new ICE
// credentials and media reaches the viewer again, on the same peer and track. Then the
// viewer's address changes, which only an ICE restart survives.
func TestRestartICEDown(t *testing.T) {
	verifyNoLeaks(t)
	const sfuIP, pubIP, viewerIP, viewerNewIP = "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.13"
	lab := newVnetLab(t, sfuIP, pubIP, viewerIP)
	room, viewer, _, _ := lab.watchedVideo("restart", sfuIP, pubIP, viewerIP)

	restart := func(why string) {
		t.Helper()
		offers, _ := viewer.answered()
		before := offers[len(offers)-1]
		drainICE(viewer.iceDown)
		began := time.Now()
		if err := viewer.peer.RestartICE(); err != nil {
			t.Fatalf("%s: RestartICE: %v", why, err)
		}
		waitFor(t, why+": the restart offer answered", func() bool { o, _ := viewer.answered(); return len(o) > len(offers) })
		offers, _ = viewer.answered()
		if after := offers[len(offers)-1]; after == "" || after == before {
			t.Fatalf("%s: the restart offer kept ice-ufrag %q (before %q)", why, after, before)
		}
		waitICE(t, viewer.iceDown, webrtc.ICEConnectionStateConnected)
		connected := time.Since(began)
		viewer.moreReceived(t, 1)
		t.Logf("%s: ICE connected %v after RestartICE, media %v after", why, connected.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
		viewer.moreReceived(t, 50)
		if room.Peers() != 2 || room.peers["viewer"] != viewer.peer {
			t.Fatalf("%s: the viewer's peer changed (%d peers)", why, room.Peers())
		}
		if tracks := viewer.trackCount(); tracks != 1 {
			t.Fatalf("%s: viewer got %d tracks, want the one it had", why, tracks)
		}
	}

	lab.cutThenMove(viewerIP, viewerNewIP, viewer.iceDown, restart)
	pair, err := viewer.peer.down.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		t.Fatalf("no selected pair on the SFU's down connection: %v", err)
	}
	if pair.Remote.Address != viewerNewIP {
		t.Fatalf("SFU sends to %s, want the viewer's new address %s", pair.Remote.Address, viewerNewIP)
	}
}

// TestRestartICEUp cuts a publisher's path for 3 s, then moves it to a new address: each
// time it restarts ICE by offering again with ICE restart on the same up connection, and its
// media reaches the viewer again, on the same track.
func TestRestartICEUp(t *testing.T) {
	verifyNoLeaks(t)
	const sfuIP, pubIP, pubNewIP, viewerIP = "10.0.0.1", "10.0.0.2", "10.0.0.12", "10.0.0.3"
	lab := newVnetLab(t, sfuIP, pubIP, viewerIP)
	_, viewer, pub, p := lab.watchedVideo("restart-up", sfuIP, pubIP, viewerIP)
	pubs := pub.peer.Publishing()

	restart := func(why string) {
		t.Helper()
		_, answers := pub.answered()
		before := answers[len(answers)-1]
		drainICE(pub.iceUp)
		offerUfrag := p.offer(t, true)
		waitFor(t, why+": the restart answer", func() bool { _, a := pub.answered(); return len(a) > len(answers) })
		_, answers = pub.answered()
		if after := answers[len(answers)-1]; after == "" || after == before {
			t.Fatalf("%s: the SFU's answer to the ICE restart kept ice-ufrag %q (before %q)", why, after, before)
		}
		if got := sdpUfrag(pub.peer.up.RemoteDescription().SDP); got != offerUfrag {
			t.Fatalf("%s: SFU up connection has remote ice-ufrag %q, the restart offered %q", why, got, offerUfrag)
		}
		waitICE(t, pub.iceUp, webrtc.ICEConnectionStateConnected)
		viewer.moreReceived(t, 50)
		if tracks := viewer.trackCount(); tracks != 1 {
			t.Fatalf("%s: viewer got %d tracks, want the one it had", why, tracks)
		}
		if got := pub.peer.Publishing(); strings.Join(got, ",") != strings.Join(pubs, ",") {
			t.Fatalf("%s: publishing %v, was %v", why, got, pubs)
		}
	}

	lab.cutThenMove(pubIP, pubNewIP, pub.iceUp, restart)
}

// viewerMissesOffer starts a room where a viewer receives the video of publisher a, then
// misses the SFU's offer of publisher b's track: it ignores offers (dropOffers, still set
// on return), as one whose websocket is gone, and the offer is out. offers are the
// ice-ufrags of the down offers it had answered before.
func viewerMissesOffer(t *testing.T, name string) (viewer *rtcClient, offers []string) {
	t.Helper()
	const sfuIP, aIP, bIP, viewerIP = "10.0.0.1", "10.0.0.2", "10.0.0.4", "10.0.0.3"
	lab := newVnetLab(t, sfuIP, aIP, bIP, viewerIP)
	s := lab.sfu(sfuIP)
	room := s.NewRoom(name)
	t.Cleanup(room.Close)

	viewer = joinClient(t, room, lab.api(viewerIP), "viewer", false)
	a := joinClient(t, room, lab.api(aIP), "a", true)
	a.publishVideo(t)
	viewer.moreReceived(t, 20)
	offers, _ = viewer.answered()

	viewer.dropOffers.Store(true)
	b := joinClient(t, room, lab.api(bIP), "b", true)
	b.publishVideo(t)
	waitFor(t, "the offer of b's track", viewer.offerOut)
	return viewer, offers
}

// offerOut: an offer of the SFU on the client's down connection is not answered yet.
func (c *rtcClient) offerOut() bool {
	c.peer.downMu.Lock()
	defer c.peer.downMu.Unlock()
	return c.peer.awaiting
}

// trackCount is the number of tracks the client received on down.
func (c *rtcClient) trackCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.tracks)
}

// TestRestartICEOfferUnanswered: the viewer misses an offer (its websocket dropped while the
// SFU offered a new track). RestartICE sends that offer again and, once it is answered, the
// ICE restart offer; the viewer then receives both publishers.
func TestRestartICEOfferUnanswered(t *testing.T) {
	verifyNoLeaks(t)
	viewer, offers := viewerMissesOffer(t, "unanswered")
	first := offers[len(offers)-1]
	// The SFU goes on without an answer: a's media still flows, nothing blocks.
	viewer.moreReceived(t, 20)
	viewer.dropOffers.Store(false)

	if err := viewer.peer.RestartICE(); err != nil {
		t.Fatalf("RestartICE: %v", err)
	}
	waitFor(t, "two more offers answered", func() bool { o, _ := viewer.answered(); return len(o) >= len(offers)+2 })
	offers, _ = viewer.answered()
	resent, restart := offers[len(offers)-2], offers[len(offers)-1]
	if resent != first {
		t.Fatalf("the unanswered offer came again with ice-ufrag %q, want the session's %q", resent, first)
	}
	if restart == first {
		t.Fatalf("the restart offer kept ice-ufrag %q", restart)
	}
	waitFor(t, "b's track at the viewer", func() bool { return viewer.trackCount() == 2 })
	viewer.moreReceived(t, 100)
}

// TestRestartICEAfterFailed: the viewer's address changes and it stays away until ICE failed
// on both sides (the SFU reports Failed, as for a client back late in its grace period); an
// ICE restart on the same down connection still brings its media back.
func TestRestartICEAfterFailed(t *testing.T) {
	verifyNoLeaks(t)
	const sfuIP, pubIP, viewerIP, viewerNewIP = "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.13"
	lab := newVnetLab(t, sfuIP, pubIP, viewerIP)
	lab.failed = time.Second
	_, viewer, _, _ := lab.watchedVideo("failed", sfuIP, pubIP, viewerIP)
	offers, _ := viewer.answered()

	lab.move(viewerIP, viewerNewIP)
	waitICE(t, viewer.iceDown, webrtc.ICEConnectionStateFailed)
	select {
	case pc := <-viewer.failed:
		if pc != Down {
			t.Fatalf("Failed(%q), want down", pc)
		}
	case <-time.After(giveUp):
		t.Fatal("gave up waiting for the SFU to report the down connection failed")
	}
	drainICE(viewer.iceDown)
	if err := viewer.peer.RestartICE(); err != nil {
		t.Fatalf("RestartICE: %v", err)
	}
	waitFor(t, "the restart offer answered", func() bool { o, _ := viewer.answered(); return len(o) > len(offers) })
	waitICE(t, viewer.iceDown, webrtc.ICEConnectionStateConnected)
	viewer.moreReceived(t, 50)
	if got := viewer.peer.down.ConnectionState(); got != webrtc.PeerConnectionStateConnected {
		t.Fatalf("SFU down connection %s after the restart", got)
	}
}

// TestRenegotiateStaleAnswer: a viewer misses the ICE restart offer that followed an offer
// sent twice; an answer to the earlier offer arriving again is refused (it would pin the old
// credentials), and Renegotiate sends the restart offer again.
func TestRenegotiateStaleAnswer(t *testing.T) {
	verifyNoLeaks(t)
	viewer, offers := viewerMissesOffer(t, "stale")
	first := offers[len(offers)-1]
	// The client answers the offer sent again, then misses the ICE restart offer.
	viewer.dropAfterOne.Store(true)
	viewer.dropOffers.Store(false)
	if err := viewer.peer.RestartICE(); err != nil {
		t.Fatalf("RestartICE: %v", err)
	}
	waitFor(t, "the offer sent again answered", func() bool { o, _ := viewer.answered(); return len(o) > len(offers) })
	waitFor(t, "the ICE restart offer out", func() bool {
		viewer.peer.downMu.Lock()
		defer viewer.peer.downMu.Unlock()
		return viewer.peer.awaiting && viewer.peer.restarted
	})
	viewer.mu.Lock()
	stale := viewer.lastAnswer
	viewer.mu.Unlock()
	if err := viewer.peer.HandleAnswer(stale); !errors.Is(err, ErrBadSDP) {
		t.Fatalf("a second answer to the earlier offer: %v, want ErrBadSDP", err)
	}
	if !viewer.offerOut() {
		t.Fatal("the refused answer settled the ICE restart offer")
	}

	offers, _ = viewer.answered()
	viewer.dropOffers.Store(false)
	if err := viewer.peer.Renegotiate(); err != nil {
		t.Fatalf("Renegotiate: %v", err)
	}
	waitFor(t, "the ICE restart offer answered", func() bool { o, _ := viewer.answered(); return len(o) > len(offers) })
	offers, _ = viewer.answered()
	if got := offers[len(offers)-1]; got == first {
		t.Fatalf("the offer sent again kept ice-ufrag %q", got)
	}
	waitFor(t, "b's track at the viewer", func() bool { return viewer.trackCount() == 2 })
	viewer.moreReceived(t, 100)
	if viewer.offerOut() {
		t.Fatal("an offer is still out")
	}
}
