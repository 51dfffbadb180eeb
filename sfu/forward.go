package sfu

import (
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Publication is one track a participant publishes, read once and forwarded to every
// subscribed viewer's DownTrack.
type Publication struct {
	ID     string // unique in the room: "<participant>-<source>"
	Source string
	Owner  *Peer
	track  *webrtc.TrackRemote
	codec  webrtc.RTPCodecCapability
	video  bool

	downs   atomic.Pointer[[]*DownTrack] // copy-on-write; the reader loads it per packet
	downsMu sync.Mutex                   // serialises writers of downs
	muted   atomic.Bool
	lastPLI atomic.Int64 // unix nanos of the last keyframe request sent upstream
	// pliScheduled: an urgent keyframe request waits for the end of the interval.
	pliScheduled atomic.Bool
	closed       chan struct{}
	// cache keeps recent video packets once for every viewer, for retransmission when a
	// viewer reports a loss (NACK); nil for audio.
	cache *packetCache
	// keyframe tells whether a payload starts a keyframe (video only).
	keyframe func([]byte) bool
	levels   levelMeter // audio only: loudness for the room's active speaker (speaker.go)
}

// cacheSize is how many recent packets a video publication keeps: about 2 s of 720p.
const cacheSize = 512

// packetCache is a ring of a publication's recent packets, indexed by sequence number.
type packetCache struct {
	mu    sync.Mutex
	slots [cacheSize]cachedPacket
}

type cachedPacket struct {
	seq uint16
	ok  bool
	n   int
	buf [1500]byte
}

func (c *packetCache) put(seq uint16, raw []byte) {
	if len(raw) > len(c.slots[0].buf) {
		return
	}
	c.mu.Lock()
	s := &c.slots[seq%cacheSize]
	s.seq, s.ok, s.n = seq, true, copy(s.buf[:], raw)
	c.mu.Unlock()
}

// get copies packet seq into dst; false when it is no longer (or never was) kept.
func (c *packetCache) get(seq uint16, dst []byte) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.slots[seq%cacheSize]
	if !s.ok || s.seq != seq {
		return 0, false
	}
	return copy(dst, s.buf[:s.n]), true
}

func newPublication(owner *Peer, source string, track *webrtc.TrackRemote) *Publication {
	p := &Publication{ID: owner.ID + "-" + source, Source: source, Owner: owner, track: track,
		codec: track.Codec().RTPCodecCapability, video: track.Kind() == webrtc.RTPCodecTypeVideo, closed: make(chan struct{})}
	p.downs.Store(&[]*DownTrack{})
	if p.video {
		p.cache = &packetCache{}
		p.keyframe = keyframeDetector(p.codec.MimeType)
	}
	return p
}

// keyframeDetector is the codec's keyframe test, chosen once per publication.
func keyframeDetector(mime string) func([]byte) bool {
	switch {
	case strings.EqualFold(mime, webrtc.MimeTypeVP8):
		return vp8Keyframe
	case strings.EqualFold(mime, webrtc.MimeTypeH264):
		return h264Keyframe
	}
	return func([]byte) bool { return false }
}

// Kind is "audio" or "video".
func (p *Publication) Kind() webrtc.RTPCodecType { return p.track.Kind() }

// Muted tells whether forwarding is stopped.
func (p *Publication) Muted() bool { return p.muted.Load() }

// setMuted stops or resumes forwarding; video resumes at the next keyframe.
func (p *Publication) setMuted(m bool) {
	if p.muted.Swap(m) == m || m {
		return
	}
	for _, d := range *p.downs.Load() {
		d.resync.Store(true)
	}
	p.requestKeyframe(true)
}

func (p *Publication) addDown(d *DownTrack) {
	p.downsMu.Lock()
	defer p.downsMu.Unlock()
	old := *p.downs.Load()
	next := make([]*DownTrack, len(old), len(old)+1)
	copy(next, old)
	next = append(next, d)
	p.downs.Store(&next)
}

func (p *Publication) removeDown(d *DownTrack) {
	p.downsMu.Lock()
	defer p.downsMu.Unlock()
	old := *p.downs.Load()
	next := make([]*DownTrack, 0, len(old))
	for _, x := range old {
		if x != d {
			next = append(next, x)
		}
	}
	p.downs.Store(&next)
}

// requestKeyframe asks the publisher for a keyframe, at most once per interval, or once per
// quarter interval when a viewer is starting (urgent). An urgent request that comes too
// soon is not dropped but sent when the quarter interval is over, so a viewer who connects
// just after another one's request still gets its keyframe promptly.
func (p *Publication) requestKeyframe(urgent bool) {
	if !p.video {
		return
	}
	gap := p.Owner.room.sfu.pliGap
	if urgent {
		gap /= 4
	}
	now := time.Now().UnixNano()
	last := p.lastPLI.Load()
	if wait := last + int64(gap) - now; wait > 0 {
		if urgent && p.pliScheduled.CompareAndSwap(false, true) {
			time.AfterFunc(time.Duration(wait), func() {
				p.pliScheduled.Store(false)
				select {
				case <-p.closed:
				default:
					p.requestKeyframe(true)
				}
			})
		}
		return
	}
	if !p.lastPLI.CompareAndSwap(last, now) {
		return
	}
	if err := p.Owner.writeUpRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(p.track.SSRC())}}); err == nil {
		p.Owner.room.sfu.metrics.pli()
	}
}

// forward reads the publisher's packets until the track ends and writes each to every
// viewer. It allocates nothing per packet in steady state.
func (p *Publication) forward() {
	defer close(p.closed)
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	for {
		n, _, err := p.track.Read(buf)
		if err != nil {
			return
		}
		p.forwardPacket(&pkt, buf[:n])
	}
}

// forwardPacket sends one packet read from the publisher to every viewer and returns how
// many it reached.
func (p *Publication) forwardPacket(pkt *rtp.Packet, raw []byte) int {
	if err := pkt.Unmarshal(raw); err != nil || p.muted.Load() {
		return 0
	}
	if !p.video {
		p.observeLevel(pkt)
	}
	if p.cache != nil {
		p.cache.put(pkt.SequenceNumber, raw)
	}
	key := p.keyframe != nil && p.keyframe(pkt.Payload)
	sent := 0
	batch := p.Owner.room.sfu.batch
	if batch != nil {
		batch.hold() // the viewers' copies leave together
	}
	for _, d := range *p.downs.Load() {
		if d.write(pkt, key) {
			sent++
		}
	}
	if batch != nil {
		batch.release()
	}
	p.Owner.room.sfu.metrics.forwarded(sent, sent*(len(pkt.Payload)+12))
	return sent
}

// DownTrack is one viewer's copy of a publication: a TrackLocal with its own SSRC, payload
// type, sequence numbers and timestamps, so a viewer's stream stays continuous when
// forwarding pauses and resumes.
type DownTrack struct {
	pub      *Publication
	viewer   *Peer
	id       string
	streamID string
	binding  atomic.Pointer[binding]
	sender   *webrtc.RTPSender

	// resync: the next packet sent continues this viewer's numbering (at start and after a
	// pause); video waits for a keyframe.
	resync atomic.Bool
	// For retransmissions (read by the RTCP goroutine): since the last resync, the viewer's
	// sequence number n is the publisher's n+offset, from the viewer's number base on
	// (base has bit 16 set once anything was sent).
	offset, base atomic.Uint32
	rtxBuf       []byte // these three: the RTCP goroutine's only
	rtxPkt       rtp.Packet
	rtxHdr       rtp.Header
	// Touched only by the publication's forwarding goroutine.
	seqOffset uint16
	lastSeq   uint16
	tsOffset  uint32
	hdr       rtp.Header
}

type binding struct {
	ssrc   uint32
	pt     uint8
	writer webrtc.TrackLocalWriter
}

func newDownTrack(pub *Publication, viewer *Peer) *DownTrack {
	d := &DownTrack{pub: pub, viewer: viewer, id: pub.ID, streamID: pub.Owner.ID, lastSeq: uint16(rand.Uint32())}
	d.tsOffset = rand.Uint32()
	d.resync.Store(true)
	return d
}

// ID, StreamID, RID and Kind implement webrtc.TrackLocal.
func (d *DownTrack) ID() string                { return d.id }
func (d *DownTrack) StreamID() string          { return d.streamID }
func (d *DownTrack) RID() string               { return "" }
func (d *DownTrack) Kind() webrtc.RTPCodecType { return d.pub.track.Kind() }

// Bind picks the viewer's payload type for the publisher's codec.
func (d *DownTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	for _, c := range ctx.CodecParameters() {
		if codecMatches(d.pub.codec, c.RTPCodecCapability) {
			d.binding.Store(&binding{ssrc: uint32(ctx.SSRC()), pt: uint8(c.PayloadType), writer: ctx.WriteStream()})
			return c, nil
		}
	}
	return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
}

// Unbind stops writing.
func (d *DownTrack) Unbind(webrtc.TrackLocalContext) error {
	d.binding.Store(nil)
	return nil
}

func codecMatches(a, b webrtc.RTPCodecCapability) bool {
	if !strings.EqualFold(a.MimeType, b.MimeType) {
		return false
	}
	if strings.EqualFold(a.MimeType, webrtc.MimeTypeH264) {
		return fmtpValue(a.SDPFmtpLine, "packetization-mode") == fmtpValue(b.SDPFmtpLine, "packetization-mode") &&
			strings.EqualFold(profile(a.SDPFmtpLine), profile(b.SDPFmtpLine))
	}
	return true
}

func fmtpValue(line, key string) string {
	for _, kv := range strings.Split(line, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

// profile is the H.264 profile part of profile-level-id (level differences are tolerated).
func profile(line string) string {
	v := fmtpValue(line, "profile-level-id")
	if len(v) >= 4 {
		return v[:4]
	}
	return v
}

// write sends one packet to the viewer with the viewer's SSRC, payload type, sequence number
// and timestamp. A video viewer starts (and resumes) at a keyframe. It reports whether the
// packet was sent.
func (d *DownTrack) write(pkt *rtp.Packet, keyframe bool) bool {
	b := d.binding.Load()
	if b == nil {
		return false
	}
	resyncing := d.resync.Load()
	if resyncing {
		if d.pub.video && !keyframe {
			d.pub.requestKeyframe(false) // throttled: a viewer waiting for a keyframe keeps asking
			return false
		}
		// Continue our numbering where it stopped: no gap the viewer would NACK.
		d.seqOffset = pkt.SequenceNumber - (d.lastSeq + 1)
		d.offset.Store(uint32(d.seqOffset))
		d.base.Store(1<<16 | uint32(d.lastSeq+1))
	}
	d.hdr = pkt.Header
	d.hdr.SSRC = b.ssrc
	d.hdr.PayloadType = b.pt
	d.hdr.SequenceNumber = pkt.SequenceNumber - d.seqOffset
	d.hdr.Timestamp = pkt.Timestamp - d.tsOffset
	// The publisher's header extensions belong to its own session's ID mapping.
	d.hdr.Extension = false
	d.hdr.Extensions = nil
	d.hdr.ExtensionProfile = 0
	n, err := b.writer.WriteRTP(&d.hdr, pkt.Payload)
	if err != nil || n == 0 {
		// Not connected yet (pion drops the packet) or gone: a resync stays pending.
		return false
	}
	if resyncing {
		d.resync.CompareAndSwap(true, false)
	}
	if isNewer(d.hdr.SequenceNumber, d.lastSeq) {
		d.lastSeq = d.hdr.SequenceNumber
	}
	return true
}

func isNewer(a, b uint16) bool { return a != b && a-b < 0x8000 }

// readRTCP drains the viewer's RTCP for this track (the NACK responder and reports need it
// read) and passes keyframe requests upstream.
func (d *DownTrack) readRTCP() {
	m := d.pub.Owner.room.sfu.metrics
	for {
		pkts, _, err := d.sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				d.pub.requestKeyframe(false)
			case *rtcp.TransportLayerNack:
				n, sent := 0, 0
				for _, pair := range p.Nacks {
					pair.Range(func(seq uint16) bool {
						n++
						if d.resend(seq) {
							sent++
						}
						return n < 64
					})
				}
				m.nacked(n)
				m.retransmitted(sent)
			}
		}
	}
}

// resend sends the viewer its packet seq again from the publication's cache (on the same
// SSRC: no RTX stream is negotiated). Packets from before the viewer's last resync, or
// too old to be kept, are not sent.
func (d *DownTrack) resend(seq uint16) bool {
	c, b := d.pub.cache, d.binding.Load()
	base := d.base.Load()
	if c == nil || b == nil || base>>16 == 0 {
		return false
	}
	if first := uint16(base); seq != first && !isNewer(seq, first) {
		return false
	}
	if d.rtxBuf == nil {
		d.rtxBuf = make([]byte, 1500)
	}
	n, ok := c.get(seq+uint16(d.offset.Load()), d.rtxBuf)
	if !ok {
		return false
	}
	pkt, hdr := &d.rtxPkt, &d.rtxHdr
	if pkt.Unmarshal(d.rtxBuf[:n]) != nil {
		return false
	}
	*hdr = pkt.Header
	hdr.SSRC, hdr.PayloadType, hdr.SequenceNumber = b.ssrc, b.pt, seq
	hdr.Timestamp = pkt.Timestamp - d.tsOffset
	hdr.Extension, hdr.Extensions, hdr.ExtensionProfile = false, nil, 0
	w, err := b.writer.WriteRTP(hdr, pkt.Payload)
	return err == nil && w > 0
}

// vp8Keyframe reads the VP8 payload descriptor (RFC 7741 §4.2) and the first byte of the
// VP8 frame header: a keyframe starts a partition 0 with its inverse key frame bit clear.
func vp8Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	x, s, pid := p[0]&0x80 != 0, p[0]&0x10 != 0, p[0]&0x07
	if !s || pid != 0 {
		return false
	}
	i := 1
	if x {
		if len(p) < 2 {
			return false
		}
		ext := p[1]
		i = 2
		if ext&0x80 != 0 { // I: picture id
			if len(p) <= i {
				return false
			}
			if p[i]&0x80 != 0 {
				i += 2
			} else {
				i++
			}
		}
		if ext&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if ext&0x30 != 0 { // T or K: TID/KEYIDX byte
			i++
		}
	}
	return len(p) > i && p[i]&0x01 == 0
}

// h264Keyframe finds an IDR slice or SPS in a single NAL, STAP-A or the start of a FU-A.
func h264Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	switch t := p[0] & 0x1f; {
	case t == 5 || t == 7:
		return true
	case t == 24: // STAP-A
		for i := 1; i+2 < len(p); {
			size := int(p[i])<<8 | int(p[i+1])
			if i+2 >= len(p) {
				return false
			}
			if nt := p[i+2] & 0x1f; nt == 5 || nt == 7 {
				return true
			}
			i += 2 + size
		}
	case t == 28: // FU-A
		return len(p) > 1 && p[1]&0x80 != 0 && (p[1]&0x1f == 5 || p[1]&0x1f == 7)
	}
	return false
}
