package sfu

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/puente-org/puente/sfu/bwe"
)

// Which peer connection a message is about.
const (
	Up   = "up"
	Down = "down"
)

// TrackInfo tells a viewer whose track it receives and what it is.
type TrackInfo struct {
	ParticipantID string
	Source        string
}

// PeerEvents are how a peer reaches its participant's client. The callbacks must not block
// (they queue a message); each is called in the order the client must see.
type PeerEvents struct {
	// SendSDP sends an "offer" (down) or "answer" (up).
	SendSDP func(typ, pc, sdp string, tracks map[string]TrackInfo)
	// SendCandidate sends one of the server's ICE candidates.
	SendCandidate func(pc string, c webrtc.ICECandidateInit)
	// PublishingChanged reports the sources the participant now publishes.
	PublishingChanged func(sources []string)
	// Failed reports that a peer connection failed (the client should reconnect).
	Failed func(pc string)
	// LayersChanged tells a publisher which layers (rids) of a video source viewers
	// need: false ones it may stop encoding. A video without rids is named "" (false: the
	// whole video is needed by nobody). Called on a change, and once with every layer's
	// state when a publication starts.
	LayersChanged func(source string, active map[string]bool)
	// VideoPaused tells a viewer that the video it receives is paused because even the
	// lowest layers do not fit its bandwidth (true), or that it is back (false).
	VideoPaused func(paused bool)
}

// Peer is one participant's media.
type Peer struct {
	ID   string
	room *Room
	ev   PeerEvents
	log  *slog.Logger

	canPublish atomic.Bool
	closed     atomic.Bool

	upMu    sync.Mutex
	up      *webrtc.PeerConnection
	upPC    atomic.Pointer[webrtc.PeerConnection] // up, for the packet path (keyframe requests)
	upSig   signalOrder
	sources map[string]string // publisher's track id → source

	downMu    sync.Mutex
	down      *webrtc.PeerConnection
	downSig   signalOrder
	awaiting  bool                 // an offer is out, its answer not yet in
	pending   bool                 // tracks changed while awaiting
	restart   bool                 // an ICE restart waits for the answer to the offer that is out
	restarted bool                 // the offer that is out restarts ICE
	offered   map[string]TrackInfo // the tracks of the offer that is out
	downs     map[string]*DownTrack

	pubsMu sync.Mutex
	pubs   map[string]*Publication // by source
	pubSeq int

	// What the participant receives, changed at once (the forwarding path sees it); the
	// peer's worker adds and removes the transceivers and negotiates, off the packet path.
	opsMu sync.Mutex
	subs  map[string]*DownTrack // by publication id
	ops   []peerOp
	wake  chan struct{}
	quit  chan struct{} // closed by Close: the worker and the selection loop stop
	// selectNow asks the selection loop for a choice now rather than at its next tick: a
	// new subscription's first layer should not wait up to a whole interval.
	selectNow chan struct{}
	wg        sync.WaitGroup

	alloc       Allocator
	estimate    atomic.Pointer[func() int]
	gcc         *bwe.Estimator // the down connection's estimator; nil when not adapting to bandwidth
	videoPaused atomic.Bool

	// Probing the viewer's path (probe.go): the controller belongs to the selection loop,
	// or to the probe's goroutine while probing is set. probeEst, when set, is probed
	// instead of gcc (tests).
	probe    prober
	probing  atomic.Bool
	probeEst atomic.Pointer[probeEstimator]
}

// peerOp is a change of the down connection's tracks for the worker.
type peerOp struct {
	d   *DownTrack
	add bool
}

// signalOrder holds the server's ICE candidates until the description they belong to was
// sent, and the client's candidates until the remote description is set.
type signalOrder struct {
	mu          sync.Mutex
	sent        bool
	local       []webrtc.ICECandidateInit
	remoteSet   bool
	remoteQueue []webrtc.ICECandidateInit
}

func (p *Peer) newPC(pc string) (*webrtc.PeerConnection, error) {
	api := p.room.sfu.up
	if pc == Down {
		api = p.room.sfu.down
	}
	conn, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("new %s peer connection: %w", pc, err)
	}
	sig := &p.upSig
	if pc == Down {
		sig = &p.downSig
	}
	conn.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		init := c.ToJSON()
		sig.mu.Lock()
		defer sig.mu.Unlock()
		if !sig.sent {
			sig.local = append(sig.local, init)
			return
		}
		p.ev.SendCandidate(pc, init)
	})
	conn.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		p.log.Debug("peer connection state", "pc", pc, "state", s.String())
		switch s {
		case webrtc.PeerConnectionStateConnected:
			if pc == Down {
				p.askKeyframes()
			}
		case webrtc.PeerConnectionStateFailed:
			if !p.closed.Load() && p.ev.Failed != nil {
				p.ev.Failed(pc)
			}
		}
	})
	return conn, nil
}

// sentDescription releases held candidates after the description was sent. Call with the
// description's message already queued, holding sig.mu.
func (s *signalOrder) flush(p *Peer, pc string) {
	s.sent = true
	for _, c := range s.local {
		p.ev.SendCandidate(pc, c)
	}
	s.local = nil
}

// CanPublish tells whether the participant may publish.
func (p *Peer) CanPublish() bool { return p.canPublish.Load() }

// SetCanPublish changes the right to publish; taking it away stops everything the
// participant publishes and closes its up connection.
func (p *Peer) SetCanPublish(ok bool) {
	if p.canPublish.Swap(ok) == ok || ok {
		return
	}
	p.closeUp()
}

// HandleOffer applies a publisher's offer (on its up connection) and sends the answer.
// sources maps the offer's track ids to camera, screen or microphone.
func (p *Peer) HandleOffer(sdp string, sources map[string]string) error {
	if !p.CanPublish() {
		return ErrForbidden
	}
	p.upMu.Lock()
	defer p.upMu.Unlock()
	if p.closed.Load() {
		return ErrClosed
	}
	if p.up == nil {
		pc, err := p.newPC(Up)
		if err != nil {
			return err
		}
		pc.OnTrack(p.onTrack)
		p.up = pc
		p.upPC.Store(pc)
		p.upSig.mu.Lock()
		p.upSig.sent, p.upSig.local, p.upSig.remoteSet = false, nil, false // candidates that came early stay queued
		p.upSig.mu.Unlock()
	} else {
		// A re-offer, perhaps an ICE restart: the candidates the agent gathers for new
		// credentials must follow the answer that carries them.
		p.upSig.mu.Lock()
		p.upSig.sent = false
		p.upSig.mu.Unlock()
	}
	if p.sources == nil {
		p.sources = map[string]string{}
	}
	for id, src := range sources {
		p.sources[id] = src
	}
	refused := func(err error) error {
		p.upSig.mu.Lock() // no answer goes out: candidates flow as before
		p.upSig.flush(p, Up)
		p.upSig.mu.Unlock()
		return fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	if err := p.up.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return refused(err)
	}
	answer, err := p.up.CreateAnswer(nil)
	if err != nil {
		return refused(err)
	}
	if err := p.up.SetLocalDescription(answer); err != nil {
		return refused(err)
	}
	p.upSig.mu.Lock()
	p.ev.SendSDP("answer", Up, withOpusFmtp(answer.SDP), nil) // Pion refuses a changed local answer
	p.upSig.flush(p, Up)
	p.upSig.mu.Unlock()
	p.applyRemoteCandidates(p.up, &p.upSig)
	return nil
}

func (p *Peer) applyRemoteCandidates(pc *webrtc.PeerConnection, sig *signalOrder) {
	sig.mu.Lock()
	sig.remoteSet = true
	queued := sig.remoteQueue
	sig.remoteQueue = nil
	sig.mu.Unlock()
	for _, c := range queued {
		if err := pc.AddICECandidate(c); err != nil {
			p.log.Debug("remote candidate refused", "err", err)
		}
	}
}

// AddCandidate adds a client's ICE candidate to its up or down connection.
func (p *Peer) AddCandidate(pc string, c webrtc.ICECandidateInit) error {
	var conn *webrtc.PeerConnection
	var sig *signalOrder
	switch pc {
	case Up:
		if !p.CanPublish() {
			return ErrForbidden
		}
		p.upMu.Lock()
		conn, sig = p.up, &p.upSig
		if conn == nil {
			// A candidate can overtake its offer (the browser gathers while the offer is
			// on its way): keep it for the connection the offer makes.
			sig.mu.Lock()
			if len(sig.remoteQueue) < 64 {
				sig.remoteQueue = append(sig.remoteQueue, c)
			}
			sig.mu.Unlock()
			p.upMu.Unlock()
			return nil
		}
		p.upMu.Unlock()
	case Down:
		p.downMu.Lock()
		conn, sig = p.down, &p.downSig
		p.downMu.Unlock()
	default:
		return fmt.Errorf("%w: unknown connection %q", ErrBadSDP, pc)
	}
	sig.mu.Lock()
	if !sig.remoteSet {
		if len(sig.remoteQueue) < 64 {
			sig.remoteQueue = append(sig.remoteQueue, c)
		}
		sig.mu.Unlock()
		return nil
	}
	sig.mu.Unlock()
	if err := conn.AddICECandidate(c); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	return nil
}

// onTrack starts forwarding a track the participant publishes. The layers of a simulcast
// track (one call per rid, same track id) join one publication, each read by its own loop;
// the loop that ends last withdraws the publication.
func (p *Peer) onTrack(track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	if !p.CanPublish() || p.closed.Load() {
		return
	}
	p.upMu.Lock()
	source, ok := p.sources[track.ID()]
	p.upMu.Unlock()
	if !ok || !validSource(source, track.Kind()) {
		source = SourceCamera
		if track.Kind() == webrtc.RTPCodecTypeAudio {
			source = SourceMicrophone
		}
	}
	// The layer this track feeds, once known: its sender reports go to a recorder.
	var lay atomic.Pointer[layer]
	go func() { // receiver reports are read so the interceptors see the publisher's SRs
		rid := track.RID()
		for {
			var pkts []rtcp.Packet
			var err error
			if rid != "" {
				pkts, _, err = receiver.ReadSimulcastRTCP(rid)
			} else {
				pkts, _, err = receiver.ReadRTCP()
			}
			if err != nil {
				return
			}
			for _, pkt := range pkts {
				if sr, ok := pkt.(*rtcp.SenderReport); ok {
					if l := lay.Load(); l != nil {
						l.senderReport(sr)
					}
				}
			}
		}
	}()
	p.pubsMu.Lock() // layers of one track may come at once: one makes the publication
	if rid := track.RID(); rid != "" {
		pub := p.pubs[source]
		if pub != nil && pub.simulcast && pub.trackID == track.ID() && pub.startLoop() {
			idx := ridSlot(pub, rid)
			if idx < 0 {
				p.pubsMu.Unlock()
				p.log.Info("simulcast layer ignored", "source", source, "rid", rid)
				drain(track)
				p.endLayer(pub)
				return
			}
			l := pub.addLayer(idx, track)
			lay.Store(l)
			p.pubsMu.Unlock()
			p.log.Info("publishing layer", "source", source, "rid", rid, "track", pub.ID)
			l.forward()
			p.endLayer(pub)
			return
		}
	}
	p.pubSeq++
	pub := newPublication(p, source, track)
	pub.ID = fmt.Sprintf("%s-%s-%d", p.ID, source, p.pubSeq)
	pub.startLoop()
	idx := layerHigh
	if pub.simulcast {
		idx = ridSlot(pub, track.RID())
	}
	l := pub.addLayer(idx, track)
	lay.Store(l)
	old := p.pubs[source]
	if old != nil && old.Muted() {
		pub.muted.Store(true) // a replaced track keeps its source's mute
	}
	p.pubs[source] = pub
	p.pubsMu.Unlock()
	if old != nil {
		p.room.unpublish(old)
	}
	p.log.Info("publishing", "source", source, "codec", track.Codec().MimeType, "rid", track.RID(), "track", pub.ID)
	p.room.publish(pub)
	pub.announceNeeded(true) // every viewer has its DownTrack now: if none shows it, pause it
	p.publishingChanged()
	l.forward()
	p.endLayer(pub)
}

// endLayer counts a layer's loop out; the last one withdraws the publication.
func (p *Peer) endLayer(pub *Publication) {
	if !pub.endLoop() {
		return
	}
	m := p.room.sfu.metrics
	for i := range pub.layers {
		if l := pub.layers[i].Load(); l != nil {
			m.layerState(pub.video, i, l.active.Load(), -1)
		}
	}
	p.pubsMu.Lock()
	if p.pubs[pub.Source] == pub {
		delete(p.pubs, pub.Source)
	}
	p.pubsMu.Unlock()
	p.room.unpublish(pub)
	p.publishingChanged()
}

// drain reads a track nobody gets until it ends.
func drain(t *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := t.Read(buf); err != nil {
			return
		}
	}
}

func validSource(s string, k webrtc.RTPCodecType) bool {
	switch s {
	case SourceCamera, SourceScreen:
		return k == webrtc.RTPCodecTypeVideo
	case SourceMicrophone:
		return k == webrtc.RTPCodecTypeAudio
	}
	return false
}

// Publishing lists the sources the participant publishes, sorted.
func (p *Peer) Publishing() []string {
	p.pubsMu.Lock()
	defer p.pubsMu.Unlock()
	out := make([]string, 0, len(p.pubs))
	for s := range p.pubs {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func (p *Peer) publishingChanged() {
	if p.ev.PublishingChanged != nil && !p.closed.Load() {
		p.ev.PublishingChanged(p.Publishing())
	}
}

// Mute stops (or resumes) forwarding of what the participant publishes: kind "audio"
// (microphone), "video" (camera) or "screen". The state holds for tracks published later.
func (p *Peer) Mute(kind string, muted bool) {
	var src string
	switch kind {
	case "audio":
		src = SourceMicrophone
	case "video":
		src = SourceCamera
	case "screen":
		src = SourceScreen
	default:
		return
	}
	p.pubsMu.Lock()
	pub := p.pubs[src]
	p.pubsMu.Unlock()
	if pub != nil {
		pub.setMuted(muted)
	}
}

// writeUpRTCP sends RTCP to the publisher; the packet path calls it (no lock taken).
func (p *Peer) writeUpRTCP(pkts []rtcp.Packet) error {
	up := p.upPC.Load()
	if up == nil {
		return ErrClosed
	}
	return up.WriteRTCP(pkts)
}

// subscribe adds a publication to what the participant receives: its DownTrack joins the
// publication at once (it forwards as soon as Pion binds it) and the peer's worker adds
// the transceiver and negotiates.
func (p *Peer) subscribe(pub *Publication) {
	p.opsMu.Lock()
	if p.closed.Load() || p.subs[pub.ID] != nil {
		p.opsMu.Unlock()
		return
	}
	d := newDownTrack(pub, p)
	p.subs[pub.ID] = d
	p.ops = append(p.ops, peerOp{d: d, add: true})
	p.opsMu.Unlock()
	pub.addDown(d)
	pub.updateNeeded() // a newcomer needs a paused video back at once
	p.kick()
	p.lookNow()
}

// lookNow asks the selection loop to choose the viewer's layers (and probe, if due) now
// rather than at its next tick.
func (p *Peer) lookNow() {
	select {
	case p.selectNow <- struct{}{}:
	default:
	}
}

// unsubscribe stops sending a publication to the participant.
func (p *Peer) unsubscribe(pub *Publication) {
	p.opsMu.Lock()
	d := p.subs[pub.ID]
	if d == nil {
		p.opsMu.Unlock()
		return
	}
	delete(p.subs, pub.ID)
	p.ops = append(p.ops, peerOp{d: d})
	p.opsMu.Unlock()
	pub.removeDown(d)
	p.kick()
}

func (p *Peer) kick() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// received lists the DownTracks the participant receives.
func (p *Peer) received() []*DownTrack {
	p.opsMu.Lock()
	defer p.opsMu.Unlock()
	out := make([]*DownTrack, 0, len(p.subs))
	for _, d := range p.subs {
		out = append(out, d)
	}
	return out
}

// worker applies the queued track changes to the down connection, then negotiates once
// for all of them, until the peer closes.
func (p *Peer) worker() {
	defer p.wg.Done()
	for {
		select {
		case <-p.quit:
			return
		case <-p.wake:
		}
		p.opsMu.Lock()
		ops := p.ops
		p.ops = nil
		p.opsMu.Unlock()
		changed := false
		for _, op := range ops {
			if p.closed.Load() {
				return
			}
			if op.add {
				changed = p.addTrack(op.d) || changed
			} else {
				changed = p.removeTrack(op.d) || changed
			}
		}
		if changed {
			p.negotiate()
		}
	}
}

func (p *Peer) addTrack(d *DownTrack) bool {
	if d.removed.Load() {
		return false // unsubscribed before it was added
	}
	p.downMu.Lock()
	defer p.downMu.Unlock()
	tr, err := p.down.AddTransceiverFromTrack(d, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		p.log.Warn("cannot add track", "track", d.id, "err", err)
		return false
	}
	d.sender = tr.Sender()
	p.downs[d.id] = d
	go d.readRTCP()
	return true
}

func (p *Peer) removeTrack(d *DownTrack) bool {
	p.downMu.Lock()
	defer p.downMu.Unlock()
	if p.downs[d.id] != d {
		return false
	}
	delete(p.downs, d.id)
	if err := p.down.RemoveTrack(d.sender); err != nil && !errors.Is(err, webrtc.ErrConnectionClosed) {
		p.log.Debug("remove track", "err", err)
	}
	return true
}

// negotiate offers the current set of tracks on the down connection, unless an offer is
// already out (then once its answer is in).
func (p *Peer) negotiate() {
	p.downMu.Lock()
	defer p.downMu.Unlock()
	if p.closed.Load() {
		return
	}
	if p.awaiting {
		p.pending = true
		return
	}
	if err := p.offerLocked(false); err != nil {
		p.log.Warn("cannot offer", "err", err)
	}
}

// offerLocked creates, applies and sends an offer of the current tracks, with fresh ICE
// credentials if iceRestart. Call holding downMu, with no offer out.
func (p *Peer) offerLocked(iceRestart bool) error {
	var opts *webrtc.OfferOptions
	if iceRestart {
		opts = &webrtc.OfferOptions{ICERestart: true}
		// The restarted agent gathers new candidates at once: hold them until the offer
		// that carries their credentials is sent, and hold the client's candidates until
		// its answer (with its new credentials) is applied.
		p.downSig.mu.Lock()
		p.downSig.sent, p.downSig.local, p.downSig.remoteSet = false, nil, false
		p.downSig.mu.Unlock()
	}
	p.pending = false
	offer, err := p.down.CreateOffer(opts)
	if err == nil {
		err = p.down.SetLocalDescription(offer)
	}
	if err != nil {
		if iceRestart {
			// No offer goes out: candidates flow as before.
			p.downSig.mu.Lock()
			p.downSig.remoteSet = true
			p.downSig.flush(p, Down)
			p.downSig.mu.Unlock()
		}
		return fmt.Errorf("offer on the down connection: %w", err)
	}
	tracks := make(map[string]TrackInfo, len(p.downs))
	for _, d := range p.downs {
		tracks[d.id] = TrackInfo{ParticipantID: d.pub.Owner.ID, Source: d.pub.Source}
	}
	p.awaiting = true
	p.restarted = iceRestart
	p.offered = tracks
	p.downSig.mu.Lock()
	p.ev.SendSDP("offer", Down, offer.SDP, tracks)
	p.downSig.flush(p, Down)
	p.downSig.mu.Unlock()
	return nil
}

// resendOfferLocked sends the offer that is out once more, with the candidates gathered for
// it: its client may never have seen it (a websocket that dropped). Pion cannot replace an
// offer that is out (no second SetLocalDescription of an offer, no local rollback), so this
// offer has to be answered before another one can be made. Call holding downMu.
func (p *Peer) resendOfferLocked() {
	desc := p.down.LocalDescription() // the pending offer, with its gathered candidates
	if desc == nil {
		return
	}
	p.downSig.mu.Lock()
	p.ev.SendSDP("offer", Down, desc.SDP, p.offered)
	p.downSig.flush(p, Down)
	p.downSig.mu.Unlock()
}

// RestartICE restarts ICE on the down connection: the client gets a new offer with fresh
// ICE credentials (the "restart" message, and a resume that kept the media). If an earlier
// offer is still unanswered (its client may never have received it), that offer is sent
// again first and the ICE restart offer follows its answer. Media keeps flowing to the same
// tracks; nothing changes for the other participants.
func (p *Peer) RestartICE() error {
	p.downMu.Lock()
	defer p.downMu.Unlock()
	if p.closed.Load() {
		return ErrClosed
	}
	established := p.down.CurrentRemoteDescription() != nil
	if p.awaiting {
		p.restart = p.restart || (established && !p.restarted)
		p.resendOfferLocked()
		return nil
	}
	if !established && len(p.downs) == 0 {
		return nil // nothing was ever negotiated: the first track's offer starts ICE
	}
	// Before the first answer there is no ICE session to restart: a plain offer has
	// fresh credentials for the client anyway.
	return p.offerLocked(established)
}

// Renegotiate offers the current tracks on the down connection again, for a client that
// may have missed the last offer (it lost its websocket). An offer still unanswered is sent
// again (see RestartICE); the tracks that changed since follow once it is answered.
func (p *Peer) Renegotiate() error {
	p.downMu.Lock()
	defer p.downMu.Unlock()
	if p.closed.Load() {
		return ErrClosed
	}
	if p.awaiting {
		p.resendOfferLocked()
		return nil
	}
	if p.down.CurrentRemoteDescription() == nil && len(p.downs) == 0 {
		return nil // nothing to offer yet
	}
	return p.offerLocked(false)
}

// HandleAnswer applies the client's answer to the server's last offer.
func (p *Peer) HandleAnswer(sdp string) error {
	p.downMu.Lock()
	if p.closed.Load() {
		p.downMu.Unlock()
		return ErrClosed
	}
	if !p.awaiting {
		p.downMu.Unlock()
		return fmt.Errorf("%w: no offer is waiting for an answer", ErrBadSDP)
	}
	if p.restarted {
		// The answerer of an ICE restart changes its credentials too: an answer with the
		// ones in place answers an earlier offer (one sent twice to a client that missed
		// it), and applying it would pin the old credentials.
		if cur := p.down.CurrentRemoteDescription(); cur != nil && sdpUfrag(sdp) == sdpUfrag(cur.SDP) {
			p.downMu.Unlock()
			return fmt.Errorf("%w: the answer is to an earlier offer (the ICE credentials did not change)", ErrBadSDP)
		}
	}
	if err := p.down.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		p.downMu.Unlock()
		return fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	p.awaiting = false
	p.restarted = false
	p.offered = nil
	restart := p.restart
	p.restart = false
	again := p.pending
	p.applyRemoteCandidates(p.down, &p.downSig)
	p.downMu.Unlock()
	p.askKeyframes()
	switch {
	case restart:
		p.downMu.Lock()
		var err error
		if !p.closed.Load() && !p.awaiting {
			err = p.offerLocked(true)
		}
		p.downMu.Unlock()
		if err != nil {
			p.log.Warn("cannot restart ICE", "err", err)
		}
	case again:
		p.negotiate()
	}
	return nil
}

// sdpUfrag is the first ICE username fragment of a description ("" if none).
func sdpUfrag(sdp string) string {
	for line := range strings.SplitSeq(sdp, "\n") {
		if u, ok := strings.CutPrefix(strings.TrimSpace(line), "a=ice-ufrag:"); ok {
			return u
		}
	}
	return ""
}

// askKeyframes requests keyframes for the video this participant still waits for.
func (p *Peer) askKeyframes() {
	for _, d := range p.received() {
		if !d.pub.video || !d.resync.Load() {
			continue
		}
		if l := d.pub.layer(int(d.target.Load())); l != nil {
			l.requestKeyframe(true)
		}
	}
}

func (p *Peer) closeUp() {
	p.upMu.Lock()
	up := p.up
	p.up = nil
	p.upPC.Store(nil)
	p.sources = nil
	p.upSig.mu.Lock()
	p.upSig.remoteQueue = nil
	p.upSig.mu.Unlock()
	p.upMu.Unlock()
	if up != nil {
		if err := up.Close(); err != nil {
			p.log.Debug("close up connection", "err", err)
		}
	}
	// The forwarding loops end with the closed tracks and unpublish themselves; wait so
	// nothing is forwarded for this participant after this returns.
	p.pubsMu.Lock()
	pubs := make([]*Publication, 0, len(p.pubs))
	for _, pub := range p.pubs {
		pubs = append(pubs, pub)
	}
	p.pubsMu.Unlock()
	for _, pub := range pubs {
		<-pub.closed
	}
}

// Close ends the participant's media: what it publishes stops for everyone and both
// connections close. It returns when every goroutine of the peer has ended or will end.
func (p *Peer) Close() {
	if p.closed.Swap(true) {
		return
	}
	p.room.leave(p)
	close(p.quit)
	p.wg.Wait() // the worker and the selection loop
	p.closeUp()
	p.opsMu.Lock()
	subs := p.subs
	p.subs = map[string]*DownTrack{}
	p.ops = nil
	p.opsMu.Unlock()
	for _, d := range subs {
		d.pub.removeDown(d)
	}
	p.downMu.Lock()
	p.downs = map[string]*DownTrack{}
	down := p.down
	p.downMu.Unlock()
	if err := down.Close(); err != nil {
		p.log.Debug("close down connection", "err", err)
	}
}
