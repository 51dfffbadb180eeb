package sfu

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
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
	upSig   signalOrder
	sources map[string]string // publisher's track id → source
	pubSeq  int

	downMu   sync.Mutex
	down     *webrtc.PeerConnection
	downSig  signalOrder
	awaiting bool // an offer is out, its answer not yet in
	pending  bool // tracks changed while awaiting
	downs    map[string]*DownTrack

	pubsMu sync.Mutex
	pubs   map[string]*Publication // by source
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
	conn, err := p.room.sfu.api.NewPeerConnection(webrtc.Configuration{})
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
		p.upSig.mu.Lock()
		p.upSig.sent, p.upSig.local, p.upSig.remoteSet = false, nil, false // candidates that came early stay queued
		p.upSig.mu.Unlock()
	}
	if p.sources == nil {
		p.sources = map[string]string{}
	}
	for id, src := range sources {
		p.sources[id] = src
	}
	if err := p.up.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	answer, err := p.up.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	if err := p.up.SetLocalDescription(answer); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	p.upSig.mu.Lock()
	p.ev.SendSDP("answer", Up, answer.SDP, nil)
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

// onTrack starts forwarding a track the participant publishes.
func (p *Peer) onTrack(track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	if !p.CanPublish() || p.closed.Load() {
		return
	}
	p.upMu.Lock()
	source, ok := p.sources[track.ID()]
	p.pubSeq++
	seq := p.pubSeq
	p.upMu.Unlock()
	if !ok || !validSource(source, track.Kind()) {
		source = SourceCamera
		if track.Kind() == webrtc.RTPCodecTypeAudio {
			source = SourceMicrophone
		}
	}
	pub := newPublication(p, source, track)
	pub.ID = fmt.Sprintf("%s-%s-%d", p.ID, source, seq)
	p.pubsMu.Lock()
	old := p.pubs[source]
	if old != nil && old.Muted() {
		pub.muted.Store(true) // a replaced track keeps its source's mute
	}
	p.pubs[source] = pub
	p.pubsMu.Unlock()
	if old != nil {
		p.room.unpublish(old)
	}
	p.log.Info("publishing", "source", source, "codec", track.Codec().MimeType, "track", pub.ID)
	go func() { // receiver reports are read so the interceptors see the publisher's SRs
		for {
			if _, _, err := receiver.ReadRTCP(); err != nil {
				return
			}
		}
	}()
	p.room.publish(pub)
	p.publishingChanged()
	pub.forward()
	p.pubsMu.Lock()
	if p.pubs[source] == pub {
		delete(p.pubs, source)
	}
	p.pubsMu.Unlock()
	p.room.unpublish(pub)
	p.publishingChanged()
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

func (p *Peer) writeUpRTCP(pkts []rtcp.Packet) error {
	p.upMu.Lock()
	up := p.up
	p.upMu.Unlock()
	if up == nil {
		return ErrClosed
	}
	return up.WriteRTCP(pkts)
}

// subscribe adds a publication to what the participant receives.
func (p *Peer) subscribe(pub *Publication) {
	p.downMu.Lock()
	if p.closed.Load() || p.downs[pub.ID] != nil {
		p.downMu.Unlock()
		return
	}
	d := newDownTrack(pub, p)
	tr, err := p.down.AddTransceiverFromTrack(d, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		p.downMu.Unlock()
		p.log.Warn("cannot add track", "track", pub.ID, "err", err)
		return
	}
	d.sender = tr.Sender()
	p.downs[pub.ID] = d
	p.downMu.Unlock()
	go d.readRTCP()
	pub.addDown(d)
	p.negotiate()
}

// unsubscribe stops sending a publication to the participant.
func (p *Peer) unsubscribe(pub *Publication) {
	p.downMu.Lock()
	d := p.downs[pub.ID]
	if d == nil {
		p.downMu.Unlock()
		return
	}
	delete(p.downs, pub.ID)
	pub.removeDown(d)
	closed := p.closed.Load()
	if !closed {
		if err := p.down.RemoveTrack(d.sender); err != nil && !errors.Is(err, webrtc.ErrConnectionClosed) {
			p.log.Debug("remove track", "err", err)
		}
	}
	p.downMu.Unlock()
	if !closed {
		p.negotiate()
	}
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
	p.pending = false
	offer, err := p.down.CreateOffer(nil)
	if err == nil {
		err = p.down.SetLocalDescription(offer)
	}
	if err != nil {
		p.log.Warn("cannot offer", "err", err)
		return
	}
	tracks := make(map[string]TrackInfo, len(p.downs))
	for _, d := range p.downs {
		tracks[d.id] = TrackInfo{ParticipantID: d.pub.Owner.ID, Source: d.pub.Source}
	}
	p.awaiting = true
	p.downSig.mu.Lock()
	p.ev.SendSDP("offer", Down, offer.SDP, tracks)
	p.downSig.flush(p, Down)
	p.downSig.mu.Unlock()
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
	if err := p.down.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		p.downMu.Unlock()
		return fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	p.awaiting = false
	again := p.pending
	p.downMu.Unlock()
	p.applyRemoteCandidates(p.down, &p.downSig)
	p.askKeyframes()
	if again {
		p.negotiate()
	}
	return nil
}

// askKeyframes requests keyframes for the video this participant still waits for.
func (p *Peer) askKeyframes() {
	p.downMu.Lock()
	var waiting []*Publication
	for _, d := range p.downs {
		if d.pub.video && d.resync.Load() {
			waiting = append(waiting, d.pub)
		}
	}
	p.downMu.Unlock()
	for _, pub := range waiting {
		pub.requestKeyframe(true)
	}
}

func (p *Peer) closeUp() {
	p.upMu.Lock()
	up := p.up
	p.up = nil
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
	p.closeUp()
	p.downMu.Lock()
	downs := p.downs
	p.downs = map[string]*DownTrack{}
	down := p.down
	p.downMu.Unlock()
	for _, d := range downs {
		d.pub.removeDown(d)
	}
	if err := down.Close(); err != nil {
		p.log.Debug("close down connection", "err", err)
	}
}
