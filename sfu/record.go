package sfu

import (
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// PacketRecorder receives a publication's packets as they are read from the publisher
// (the top simulcast layer, or the only one), for recording. Packet is called on the
// forwarding loop: it must return at once (copy the packet, never block), and must not keep
// pkt, whose buffers are reused. SenderReport passes the publisher's RTCP sender reports of
// the same layer: the mapping of its RTP clock to wall-clock time.
type PacketRecorder interface {
	Packet(pkt *rtp.Packet)
	SenderReport(rtpTS uint32, ntp time.Time)
}

// recorderBox holds a PacketRecorder behind an atomic pointer.
type recorderBox struct{ r PacketRecorder }

// SetRecorder starts (r non-nil) or stops (nil) feeding the publication's packets to r.
// It is safe while forwarding. A recorded simulcast video keeps its top layer flowing even
// when no viewer needs it, and a keyframe is asked for so that the recording can start.
func (p *Publication) SetRecorder(r PacketRecorder) {
	if r == nil {
		p.recorder.Store(nil)
	} else {
		p.recorder.Store(&recorderBox{r: r})
	}
	p.updateNeeded()
	if r != nil && p.video {
		if l := p.layer(p.highestLayer()); l != nil && l.active.Load() {
			l.requestKeyframe(true)
		}
	}
}

// record passes a packet of layer l to the recorder, if l is the layer recorded. Called by
// the forwarding loop with a recorder set only.
func (p *Publication) record(b *recorderBox, l *layer, pkt *rtp.Packet) {
	top := p.highestLayer()
	if l.idx != top {
		return
	}
	if cur := p.recLayer.Load(); cur != int32(top)+1 {
		if p.recLayer.Swap(int32(top)+1) != 0 {
			// A higher layer appeared: the recording goes on from it, at its next keyframe.
			l.requestKeyframe(true)
		}
	}
	b.r.Packet(pkt)
}

// senderReport passes the publisher's sender report for layer l to the recorder.
func (l *layer) senderReport(sr *rtcp.SenderReport) {
	p := l.pub
	b := p.recorder.Load()
	if b == nil || sr.SSRC != l.ssrc || l.idx != p.highestLayer() {
		return
	}
	b.r.SenderReport(sr.RTPTime, ntpToTime(sr.NTPTime))
}

// ntpToTime is the inverse of ntpTime.
func ntpToTime(ntp uint64) time.Time {
	const ntpEpochOffset = 2_208_988_800
	secs := int64(ntp>>32) - ntpEpochOffset
	frac := int64((ntp & 0xffffffff) * uint64(time.Second) >> 32)
	return time.Unix(secs, frac).UTC()
}

// Codec is the publication's codec as the publisher sends it.
func (p *Publication) Codec() webrtc.RTPCodecCapability { return p.codec }

// Done is closed when the publication has ended (its track ended or was replaced and every
// layer's loop returned).
func (p *Publication) Done() <-chan struct{} { return p.closed }

// OnPublish sets a function called (on the publisher's track goroutine, which it must not
// hold up) with every publication the room starts; nil removes it. A recording uses it to
// attach a recorder to late joiners' and replaced tracks.
func (r *Room) OnPublish(f func(*Publication)) {
	if f == nil {
		r.onPublish.Store(nil)
		return
	}
	r.onPublish.Store(&f)
}

// Publications lists the room's current publications.
func (r *Room) Publications() []*Publication {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Publication, 0, len(r.pubs))
	for _, p := range r.pubs {
		out = append(out, p)
	}
	return out
}
