package sfu

import (
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/pion/webrtc/v4"
)

// Room is the media of one live session: its peers and what they publish.
type Room struct {
	Name string
	sfu  *SFU
	log  *slog.Logger

	mu    sync.Mutex
	peers map[string]*Peer
	pubs  map[string]*Publication

	speech speakerWatch // active speaker detection (speaker.go)

	onPublish atomic.Pointer[func(*Publication)] // OnPublish's function (record.go)
}

// NewRoom makes an empty room.
func (s *SFU) NewRoom(name string) *Room {
	return &Room{Name: name, sfu: s, log: s.log.With("room", name), peers: map[string]*Peer{}, pubs: map[string]*Publication{}}
}

// Join adds a participant: it receives everything published in the room. canPublish lets
// it publish (hosts and speakers).
func (r *Room) Join(id string, canPublish bool, ev PeerEvents) (*Peer, error) {
	p := &Peer{ID: id, room: r, ev: ev, log: r.log.With("participant", id),
		downs: map[string]*DownTrack{}, pubs: map[string]*Publication{},
		subs: map[string]*DownTrack{}, wake: make(chan struct{}, 1), quit: make(chan struct{}), selectNow: make(chan struct{}, 1), alloc: r.sfu.newAllocator()}
	p.canPublish.Store(canPublish)
	down, err := p.newPC(Down)
	if err != nil {
		return nil, err
	}
	p.gcc = r.sfu.estimatorOf(down) // nil unless Config.AdaptToBandwidth
	down.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		// The down connection only sends; media a client pushes here is not read.
		p.log.Warn("media refused on the receiving connection", "kind", t.Kind().String())
	})
	p.down = down
	r.mu.Lock()
	if old := r.peers[id]; old != nil {
		r.mu.Unlock()
		_ = down.Close()
		return nil, ErrClosed
	}
	r.peers[id] = p
	existing := make([]*Publication, 0, len(r.pubs))
	for _, pub := range r.pubs {
		existing = append(existing, pub)
	}
	r.mu.Unlock()
	r.sfu.metrics.peerJoined()
	p.wg.Add(2)
	go p.worker()
	go p.selectLoop()
	for _, pub := range existing {
		p.subscribe(pub)
	}
	return p, nil
}

// publish makes a publication available to every other participant. It does not wait for
// them: each viewer's worker adds the track and negotiates.
func (r *Room) publish(pub *Publication) {
	r.mu.Lock()
	if r.peers[pub.Owner.ID] != pub.Owner {
		r.mu.Unlock()
		return
	}
	r.pubs[pub.ID] = pub
	viewers := r.othersLocked(pub.Owner)
	r.mu.Unlock()
	r.sfu.metrics.trackStarted()
	for _, v := range viewers {
		v.subscribe(pub)
	}
	if f := r.onPublish.Load(); f != nil {
		(*f)(pub)
	}
}

// unpublish withdraws a publication from everyone.
func (r *Room) unpublish(pub *Publication) {
	r.mu.Lock()
	if r.pubs[pub.ID] != pub {
		r.mu.Unlock()
		return
	}
	delete(r.pubs, pub.ID)
	viewers := r.othersLocked(pub.Owner)
	r.mu.Unlock()
	r.sfu.metrics.trackEnded()
	for _, v := range viewers {
		v.unsubscribe(pub)
	}
}

func (r *Room) othersLocked(owner *Peer) []*Peer {
	out := make([]*Peer, 0, len(r.peers))
	for _, p := range r.peers {
		if p != owner {
			out = append(out, p)
		}
	}
	return out
}

func (r *Room) leave(p *Peer) {
	r.mu.Lock()
	if r.peers[p.ID] == p {
		delete(r.peers, p.ID)
		r.sfu.metrics.peerLeft()
	}
	r.mu.Unlock()
}

// Peers counts the participants with media.
func (r *Room) Peers() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.peers)
}

// Close closes every peer.
func (r *Room) Close() {
	r.mu.Lock()
	peers := make([]*Peer, 0, len(r.peers))
	for _, p := range r.peers {
		peers = append(peers, p)
	}
	r.mu.Unlock()
	for _, p := range peers {
		p.Close()
	}
	r.speech.close()
}
