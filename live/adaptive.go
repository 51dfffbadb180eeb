package live

import (
	"slices"
	"strings"

	"github.com/puente-org/puente/signaling"
)

// Adaptive media (docs/signaling.md §6): viewers say at which size they show each video
// (view), the SFU picks their layers, and hosts may watch every viewer's estimate and
// layers (stats).

// view passes the display sizes a viewer reports to its media; the SFU clamps them.
func (c *client) view(m signaling.Incoming) {
	peer := c.peer()
	if peer == nil {
		return // no media yet: the client reports again when tracks arrive
	}
	for id, sz := range m.View {
		peer.SetView(id, sz.Width, sz.Height)
	}
}

// wantStats turns a host's debug view on or off.
func (c *client) wantStats(m signaling.Incoming) {
	if !c.allowHost(m.Ref, "Only a host can see the connection details.") {
		return
	}
	c.room.mu.Lock()
	c.p.stats = m.On
	c.room.mu.Unlock()
	if m.On {
		c.room.sendStats()
	}
}

// sendStats sends the hosts who asked every viewer's estimate and layers.
func (r *Room) sendStats() {
	r.mu.Lock()
	var hosts []*participant
	out := make([]signaling.ViewerStats, 0, len(r.members))
	peers := make(map[string]*participant, len(r.members))
	for _, p := range r.members {
		if p.stats && p.conn != nil && p.m.Role == RoleHost {
			hosts = append(hosts, p)
		}
		if p.peer != nil {
			peers[p.id] = p
		}
	}
	r.mu.Unlock()
	if len(hosts) == 0 {
		return
	}
	for id, p := range peers {
		r.mu.Lock()
		peer := p.peer
		r.mu.Unlock()
		if peer == nil {
			continue
		}
		st := peer.Stats()
		layers := st.Layers
		if layers == nil {
			layers = map[string]string{}
		}
		out = append(out, signaling.ViewerStats{ParticipantID: id, EstimateKbps: st.EstimateBps / 1000,
			Layers: layers, VideoPaused: st.VideoPaused})
	}
	slices.SortFunc(out, func(a, b signaling.ViewerStats) int { return strings.Compare(a.ParticipantID, b.ParticipantID) })
	enc, err := signaling.Encode(signaling.StatsMessage(out))
	if err != nil {
		return
	}
	for _, h := range hosts {
		h.send(enc)
	}
}
