package sfu

import (
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Publication is one track a participant publishes, in one layer or (a simulcast camera)
// up to three, each read by its own loop and forwarded to the subscribed viewers'
// DownTracks, each viewer getting one layer.
type Publication struct {
	ID      string // unique in the room: "<participant>-<source>-<n>"
	Source  string
	Owner   *Peer
	trackID string // the publisher's track id, shared by its simulcast layers
	kind    webrtc.RTPCodecType
	codec   webrtc.RTPCodecCapability
	video   bool
	vp8     bool
	// simulcast: the layers carry rids (the publisher can be asked to pause them).
	simulcast bool

	layers [numLayers]atomic.Pointer[layer]

	downs   atomic.Pointer[[]*DownTrack] // copy-on-write; the readers load it per packet
	downsMu sync.Mutex                   // serialises writers of downs
	muted   atomic.Bool

	loopsMu sync.Mutex // the layers' reading loops: how many run, and whether all ended
	loops   int
	ended   bool
	closed  chan struct{} // closed when every layer's loop has ended

	// The layers the viewers need, as last told to the publisher (simulcast only).
	neededMu         sync.Mutex
	announced        uint8
	announcedPresent uint8        // the layers present then: one that appears later is announced too
	nextNeedChk      atomic.Int64 // unix nanos: the packet path checks the union after this

	// keyframe tells whether a payload starts a keyframe (video only).
	keyframe func([]byte) bool
	levels   levelMeter // audio only: loudness for the room's active speaker (speaker.go)

	// recorder, when set, gets the top layer's packets (record.go); recLayer is the layer
	// recorded last, plus one (0: none yet).
	recorder atomic.Pointer[recorderBox]
	recLayer atomic.Int32
}

// cacheSize is how many recent packets a video layer keeps: about 2 s of 720p.
const cacheSize = 512

// packetCache is a ring of a layer's recent packets, indexed by sequence number.
type packetCache struct {
	mu    sync.Mutex
	slots [cacheSize]cachedPacket
}

type cachedPacket struct {
	seq uint16
	ok  bool
	n   int
	at  int64 // unix nanos it arrived
	buf [1500]byte
}

func (c *packetCache) put(seq uint16, raw []byte, now int64) {
	if len(raw) > len(c.slots[0].buf) {
		return
	}
	c.mu.Lock()
	s := &c.slots[seq%cacheSize]
	s.seq, s.ok, s.n, s.at = seq, true, copy(s.buf[:], raw), now
	c.mu.Unlock()
}

// get copies packet seq into dst, if it arrived after notBefore (unix nanos); false when
// it is no longer (or never was) kept, or is older.
func (c *packetCache) get(seq uint16, dst []byte, notBefore int64) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.slots[seq%cacheSize]
	if !s.ok || s.seq != seq || s.at < notBefore {
		return 0, false
	}
	return copy(dst, s.buf[:s.n]), true
}

func newPublication(owner *Peer, source string, track *webrtc.TrackRemote) *Publication {
	p := &Publication{ID: owner.ID + "-" + source, Source: source, Owner: owner, trackID: track.ID(), kind: track.Kind(),
		codec: track.Codec().RTPCodecCapability, video: track.Kind() == webrtc.RTPCodecTypeVideo, closed: make(chan struct{}),
		simulcast: track.RID() != "", announced: allLayers}
	p.downs.Store(&[]*DownTrack{})
	if p.video {
		p.keyframe = keyframeDetector(p.codec.MimeType)
		p.vp8 = strings.EqualFold(p.codec.MimeType, webrtc.MimeTypeVP8)
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
func (p *Publication) Kind() webrtc.RTPCodecType { return p.kind }

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
	p.requestKeyframes()
}

// requestKeyframes asks for a keyframe on every layer forwarded (urgently).
func (p *Publication) requestKeyframes() {
	for i := range p.layers {
		if l := p.layers[i].Load(); l != nil && l.active.Load() {
			l.requestKeyframe(true)
		}
	}
}

// layer is one of the publication's layers (nil if absent).
func (p *Publication) layer(i int) *layer {
	if i < 0 || i >= numLayers {
		return nil
	}
	return p.layers[i].Load()
}

// startLoop counts a layer's reading loop in; false once the publication has ended.
func (p *Publication) startLoop() bool {
	p.loopsMu.Lock()
	defer p.loopsMu.Unlock()
	if p.ended {
		return false
	}
	p.loops++
	return true
}

// endLoop counts a loop out and tells whether it was the last (the publication ended).
func (p *Publication) endLoop() bool {
	p.loopsMu.Lock()
	defer p.loopsMu.Unlock()
	p.loops--
	if p.loops > 0 {
		return false
	}
	p.ended = true
	close(p.closed)
	return true
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
	old := *p.downs.Load()
	next := make([]*DownTrack, 0, len(old))
	for _, x := range old {
		if x != d {
			next = append(next, x)
		}
	}
	p.downs.Store(&next)
	p.downsMu.Unlock()
	d.gone()
	p.updateNeeded()
}

// forward reads one layer's packets until its track ends and writes each to the viewers
// that receive this layer. It allocates nothing per packet in steady state.
func (l *layer) forward() {
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	for {
		n, _, err := l.track.Read(buf)
		if err != nil {
			l.done.Store(true)
			return
		}
		l.forwardPacket(&pkt, buf[:n], time.Now().UnixNano())
	}
}

// forwardPacket sends one packet read from the publisher to every viewer of this layer and
// returns how many it reached.
func (l *layer) forwardPacket(pkt *rtp.Packet, raw []byte, now int64) int {
	p := l.pub
	if err := pkt.Unmarshal(raw); err != nil || pkt.Version != 2 {
		return 0 // not RTP (Pion's demultiplexing lets nothing else through; this is the guard)
	}
	l.measure(len(raw), now)
	if p.simulcast && now > p.nextNeedChk.Load() {
		p.nextNeedChk.Store(now + int64(time.Second))
		p.updateNeeded()
	}
	if p.muted.Load() || !l.active.Load() {
		return 0
	}
	if !p.video {
		p.observeLevel(pkt) // after the mute check: a muted microphone counts as quiet
	}
	if l.cache != nil {
		l.cache.put(pkt.SequenceNumber, raw, now)
	}
	if r := p.recorder.Load(); r != nil {
		p.record(r, l, pkt)
	}
	key := p.keyframe != nil && p.keyframe(pkt.Payload)
	if key {
		l.sawKeyframe(now)
	}
	sent := 0
	batch := p.Owner.room.sfu.batch
	if batch != nil {
		batch.hold() // the viewers' copies leave together
	}
	for _, d := range *p.downs.Load() {
		if d.write(l, pkt, key, now) {
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
// type, sequence numbers, timestamps and VP8 picture ids, so a viewer's stream stays
// continuous when forwarding pauses and resumes or moves to another layer.
type DownTrack struct {
	pub      *Publication
	viewer   *Peer
	id       string
	streamID string
	binding  atomic.Pointer[binding]
	sender   *webrtc.RTPSender // set by the viewer's worker before readRTCP starts

	// target is the layer the viewer's selection wants (layerPaused: none); cur the layer
	// being forwarded (layerPaused: none yet). wanted is their union as a bit mask, for
	// the publication's "layers needed upstream".
	target, cur atomic.Int32
	wanted      atomic.Uint32
	view        atomic.Uint64 // width<<32 | height, and bit 63 once the viewer reported
	pausedBW    atomic.Bool   // the allocator paused this video for bandwidth
	removed     atomic.Bool

	// resync: the next packet sent starts a new segment at a keyframe (at start, after a
	// mute); the viewer's numbering goes on where it stopped.
	resync atomic.Bool

	// The numbering state below is shared by the forwarding loops (a simulcast publication
	// has one per layer) and the probe's padding (probe.go): mu serialises them. It is never
	// held around signalling.
	mu         sync.Mutex
	started    bool
	lastSeq    uint16
	lastTS     uint32
	lastSentAt int64
	// frameAt is when the first packet of the newest frame (timestamp lastTS) left, unix
	// nanoseconds: the sender reports' clock mapping (reports.go).
	frameAt  int64
	lastDesc [6]byte // the start of the last VP8 payload sent: its picture id and TL0PICIDX
	seg      segment // the segment being forwarded
	// young counts down the packets after the segment's start during which a late packet
	// from before it is dropped (later, the comparison with the start would wrap).
	young   uint16
	hdr     rtp.Header
	padHdr  rtp.Header
	scratch []byte // a rewritten VP8 payload

	// The latest segments, newest at segs[(nseg-1)%len(segs)], for the NACK responder and
	// the next segment's offsets, and the padding sent since the latest segment began
	// (padFrom, pads). The forwarding loops change them holding mu and rtxMu; the NACK
	// responder reads them holding rtxMu only, so it never waits for a socket write.
	rtxMu   sync.Mutex
	segs    [maxSegments]segment
	nseg    int
	padFrom uint16
	pads    uint16

	// The NACK responder's own buffers.
	rtxBuf     []byte
	rtxScratch []byte
	rtxPkt     rtp.Packet
	rtxHdr     rtp.Header
	resends    [resendMarks]resendMark // the NACK responder's, by sequence number
}

// maxSegments is how many segments a viewer's track remembers for retransmissions. Each
// padding burst of a probe (one every few milliseconds for ~150 ms) starts one, so this
// covers a probe and the packets before it.
const maxSegments = 64

// youngSegment is how many packets after a segment's start a late packet from before it
// is looked for: reordering spans far fewer.
const youngSegment = 512

// maxPendingPads bounds a run of padding not followed by media (a paused video being
// probed for a long time): past it, older packets are no longer retransmitted, so that the
// run's length never wraps the 16-bit sequence space.
const maxPendingPads = 1 << 14

// segment is a run of packets forwarded from one layer with one set of offsets: the
// viewer's packet n is the layer's packet n+seqOffset. The pads sequence numbers before
// from were padding (a probe's): nothing is ever resent for them.
type segment struct {
	from      uint16 // the viewer's first sequence number in the segment
	pads      uint16 // padding packets sent just before from
	layer     *layer
	seqOffset uint16
	tsOffset  uint32
	picOffset uint16 // subtracted from VP8 picture ids (mod 2^15)
	tl0Offset uint8  // subtracted from TL0PICIDX
	// key: the segment began at a keyframe (a video's start, resume or layer switch), so
	// the viewer's decoder needs nothing from before it.
	key bool
}

type binding struct {
	ssrc   uint32
	pt     uint8
	writer webrtc.TrackLocalWriter
	// What went out on this SSRC, for the sender reports (reports.go): packets (media,
	// padding and retransmissions) and their payload octets.
	packets, octets atomic.Uint32
}

func newDownTrack(pub *Publication, viewer *Peer) *DownTrack {
	d := &DownTrack{pub: pub, viewer: viewer, id: pub.ID, streamID: pub.Owner.ID, lastSeq: uint16(rand.Uint32())}
	d.lastTS = rand.Uint32()
	d.resync.Store(true)
	d.cur.Store(layerPaused)
	d.target.Store(int32(pub.highestLayer()))
	d.updateWanted()
	return d
}

// ID, StreamID, RID and Kind implement webrtc.TrackLocal.
func (d *DownTrack) ID() string                { return d.id }
func (d *DownTrack) StreamID() string          { return d.streamID }
func (d *DownTrack) RID() string               { return "" }
func (d *DownTrack) Kind() webrtc.RTPCodecType { return d.pub.kind }

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

// write sends one packet of layer l to the viewer if l is the layer it receives, with the
// viewer's SSRC, payload type, sequence number, timestamp and picture id. A video viewer
// starts, resumes and moves to its target layer at a keyframe of that layer. It reports
// whether the packet was sent.
func (d *DownTrack) write(l *layer, pkt *rtp.Packet, keyframe bool, now int64) bool {
	b := d.binding.Load()
	if b == nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	tgt, cur := int(d.target.Load()), d.seg.layer
	resyncing := d.resync.Load()
	seg, fresh := d.seg, false
	switch {
	case l == cur && !resyncing && tgt != layerPaused:
		// the layer being forwarded (until the target's keyframe comes)
	case l.idx == tgt && (l != cur || resyncing):
		if d.pub.video && !keyframe {
			l.wantKeyframe(now) // throttled: a viewer waiting for a keyframe keeps asking
			return false
		}
		seg, fresh = d.newSegment(l, pkt, now), true
	case l == cur && tgt == layerPaused:
		d.seg.layer = nil
		d.cur.Store(layerPaused)
		d.updateWanted()
		return false
	default:
		return false
	}
	d.hdr = pkt.Header
	d.hdr.SSRC = b.ssrc
	d.hdr.PayloadType = b.pt
	d.hdr.SequenceNumber = pkt.SequenceNumber - seg.seqOffset
	if !fresh && d.young > 0 {
		d.young--
		if isNewer(seg.from, d.hdr.SequenceNumber) {
			// A late packet from before the segment (before the padding or the keyframe
			// that began it): its number in the viewer's sequence belongs to another.
			return false
		}
	}
	d.hdr.Timestamp = pkt.Timestamp - seg.tsOffset
	// The publisher's header extensions belong to its own session's ID mapping.
	d.hdr.Extension = false
	d.hdr.Extensions = nil
	d.hdr.ExtensionProfile = 0
	payload := pkt.Payload
	if d.pub.vp8 && (seg.picOffset != 0 || seg.tl0Offset != 0) {
		payload = rewriteVP8(&d.scratch, pkt.Payload, seg)
	}
	n, err := b.writer.WriteRTP(&d.hdr, payload)
	if err != nil || n == 0 {
		// Not connected yet (pion drops the packet) or gone: a resync stays pending.
		return false
	}
	if fresh {
		d.commitSegment(seg)
	} else if d.pads != 0 {
		// Padding went out since this segment began: the media goes on in a new segment
		// whose sequence numbers follow the padding.
		d.pushSegment(d.seg)
	}
	if !d.started || isNewer(d.hdr.SequenceNumber, d.lastSeq) {
		d.lastSeq = d.hdr.SequenceNumber
	}
	if !d.started || isNewerTS(d.hdr.Timestamp, d.lastTS) {
		d.lastTS, d.frameAt = d.hdr.Timestamp, now
	}
	b.packets.Add(1)
	b.octets.Add(uint32(len(payload)))
	if d.pub.vp8 {
		copy(d.lastDesc[:], payload) // read at the next segment's start only
	}
	d.started = true
	d.lastSentAt = now
	return true
}

// newSegment computes the offsets that continue the viewer's numbering with pkt, the first
// packet of layer l it gets (after a switch, a pause or at the start).
func (d *DownTrack) newSegment(l *layer, pkt *rtp.Packet, now int64) segment {
	s := segment{from: d.lastSeq + 1, layer: l, seqOffset: pkt.SequenceNumber - (d.lastSeq + 1), key: d.pub.video}
	switch {
	case !d.started:
		s.tsOffset = pkt.Timestamp - d.lastTS // d.lastTS is a random start
	case d.lastSegment().layer == l:
		s.tsOffset = d.lastSegment().tsOffset // the same layer resumes: its clock went on
	default:
		// Another layer's clock: go on from the last timestamp sent by the time that passed.
		rate := uint64(d.pub.codec.ClockRate)
		if rate == 0 {
			rate = 90000
		}
		ticks := uint32(uint64(max(now-d.lastSentAt, 0)) * rate / uint64(time.Second))
		s.tsOffset = pkt.Timestamp - (d.lastTS + max(ticks, 1))
	}
	if d.started {
		pic, tl0, ok := vp8Indices(pkt.Payload)
		lastPic, lastTL0, lastOK := vp8Indices(d.lastDesc[:])
		if ok && lastOK && d.pub.vp8 {
			if pic >= 0 && lastPic >= 0 {
				s.picOffset = (uint16(pic) - uint16(lastPic+1)) & 0x7fff
			}
			if tl0 >= 0 && lastTL0 >= 0 {
				s.tl0Offset = uint8(tl0) - uint8(lastTL0+1)
			}
		}
	}
	return s
}

// lastSegment is the segment last forwarded (zero if none). Call holding mu.
func (d *DownTrack) lastSegment() segment {
	if d.nseg == 0 {
		return segment{}
	}
	return d.segs[(d.nseg-1)%len(d.segs)]
}

// commitSegment makes s the segment being forwarded, once its first packet was sent.
// Call holding mu.
func (d *DownTrack) commitSegment(s segment) {
	if last := d.lastSegment().layer; last != nil && last != s.layer {
		d.pub.Owner.room.sfu.metrics.layerSwitched()
	}
	d.seg = s
	d.young = youngSegment
	d.pushSegment(s)
	d.cur.Store(int32(s.layer.idx))
	d.resync.CompareAndSwap(true, false)
	d.updateWanted()
}

// pushSegment records s, whose first packet was just sent, with the padding sent before
// it. Call holding mu.
func (d *DownTrack) pushSegment(s segment) {
	d.rtxMu.Lock()
	if d.pads != 0 && d.padFrom+d.pads == s.from {
		s.pads = d.pads
	}
	d.pads = 0
	d.segs[d.nseg%len(d.segs)] = s
	d.nseg++
	d.rtxMu.Unlock()
}

// writePadding sends n padding-only packets of size padding bytes each (at most 255) on the
// viewer's track: a probe's extra load. They take the next sequence numbers and the last
// timestamp sent; the media that follows goes on after them. It returns how many packets
// went out, and allocates nothing.
func (d *DownTrack) writePadding(n, size int) int {
	b := d.binding.Load()
	if b == nil || n <= 0 {
		return 0
	}
	size = min(max(size, 1), 255)
	d.mu.Lock()
	defer d.mu.Unlock()
	h := &d.padHdr
	*h = rtp.Header{Version: 2, Padding: true, PaddingSize: byte(size), PayloadType: b.pt, SSRC: b.ssrc, Timestamp: d.lastTS}
	sent := 0
	for range n {
		h.SequenceNumber = d.lastSeq + 1
		// What the interceptors added to the last one (transport-wide sequence numbers)
		// is theirs; as on media, each packet starts without extensions.
		h.Extension, h.Extensions, h.ExtensionProfile = false, nil, 0
		if w, err := b.writer.WriteRTP(h, nil); err != nil || w == 0 {
			break // not connected yet, or gone: the numbering stays where it is
		}
		d.lastSeq = h.SequenceNumber
		b.packets.Add(1) // no payload octets: padding does not count (RFC 3550 §6.4.1)
		sent++
	}
	if sent == 0 {
		return 0
	}
	d.rtxMu.Lock()
	first := d.lastSeq - uint16(sent) + 1
	switch {
	case d.pads == 0:
		d.padFrom, d.pads = first, uint16(sent)
	case int(d.pads)+sent > maxPendingPads:
		// A long run of padding alone: forget what came before it rather than let the run
		// wrap the sequence numbers (those packets left the caches long ago anyway).
		d.nseg = 0
		d.padFrom, d.pads = first, uint16(sent)
	default:
		d.pads += uint16(sent)
	}
	d.rtxMu.Unlock()
	if d.seg.layer != nil {
		// The layer's next packet comes after the padding.
		d.seg.seqOffset -= uint16(sent)
		d.seg.from = d.lastSeq + 1
		d.seg.key = false // the same frames go on after the padding
		d.young = youngSegment
	}
	return sent
}

// rewriteVP8 returns a copy (in *scratch) of the payload with the VP8 picture id and
// TL0PICIDX in the viewer's numbering.
func rewriteVP8(scratch *[]byte, p []byte, s segment) []byte {
	pic, tl0, ok := vp8Indices(p)
	if !ok {
		return p
	}
	if pic >= 0 {
		pic = int((uint16(pic) - s.picOffset) & 0x7fff)
	}
	if tl0 >= 0 {
		tl0 = int(uint8(tl0) - s.tl0Offset)
	}
	if cap(*scratch) < len(p) {
		*scratch = make([]byte, 0, max(len(p), 1500))
	}
	out := append((*scratch)[:0], p...)
	writeVP8Indices(out, pic, tl0)
	return out
}

func isNewer(a, b uint16) bool { return a != b && a-b < 0x8000 }

func isNewerTS(a, b uint32) bool { return a != b && a-b < 1<<31 }

// readRTCP drains the viewer's RTCP for this track (the NACK responder and reports need it
// read) and passes keyframe requests upstream, to the layer the viewer receives.
// maxBadRTCP is how many unreadable reports in a row end a viewer's report reader.
const maxBadRTCP = 1000

func (d *DownTrack) readRTCP() {
	m := d.pub.Owner.room.sfu.metrics
	bad := 0
	buf := make([]byte, 1500)
	for {
		// Read, not ReadRTCP: a batch without a NACK, PLI or FIR (receiver reports and
		// transport-cc feedback, most of what a viewer sends, the latter read by the
		// estimator) has nothing for this reader and is not decoded; others are decoded
		// once, into the attributes, for all readers.
		pkts, err := func() ([]rtcp.Packet, error) {
			n, attrs, err := d.sender.Read(buf)
			if err != nil {
				return nil, err
			}
			if !forTrackReader(buf[:n]) {
				return nil, nil
			}
			if attrs == nil {
				return rtcp.Unmarshal(buf[:n])
			}
			return attrs.GetRTCPPackets(buf[:n])
		}()
		if err != nil {
			// A malformed report from the viewer must not end its NACKs and keyframe
			// requests for good: only a closed track (or endless errors) does.
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) || d.removed.Load() || d.viewer.closed.Load() {
				return
			}
			if bad++; bad > maxBadRTCP {
				d.viewer.log.Warn("giving up on a viewer's reports", "track", d.id, "err", err)
				return
			}
			continue
		}
		bad = 0
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				l := d.pub.layer(int(d.cur.Load()))
				if l == nil {
					l = d.pub.layer(int(d.target.Load()))
				}
				if l != nil {
					l.requestKeyframe(false)
				}
			case *rtcp.TransportLayerNack:
				n, sent := 0, 0
				now := time.Now().UnixNano()
				// A viewer paused for bandwidth has no room for old video either.
				paused := d.pausedBW.Load()
				for _, pair := range p.Nacks {
					pair.Range(func(seq uint16) bool {
						n++
						if !paused && d.mayResend(seq, now) && d.resend(seq) {
							d.resent(seq, now)
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

// Bounds on retransmissions: a packet is sent again at most maxResends times, at least
// resendGap apart (a NACK repeated within a round trip asks for what is on its way), and
// only while it is younger than maxResendAge (older video is of no use to a decoder, which
// asks for a keyframe instead). Some receivers (Pion's default NACK generator) repeat
// their NACKs without end; without bounds a viewer on a slow link is sent its losses again
// and again, and its audio is lost behind them.
const (
	maxResends   = 4
	resendGap    = 80 * time.Millisecond
	maxResendAge = time.Second
	resendMarks  = 512 // as many as the caches keep
)

// resendMark is what the NACK responder remembers of a packet it sent again.
type resendMark struct {
	seq uint16
	n   uint8
	at  int64
}

// mayResend tells whether packet seq (the viewer's numbering) may be sent again now.
func (d *DownTrack) mayResend(seq uint16, now int64) bool {
	m := &d.resends[seq%resendMarks]
	return m.at == 0 || m.seq != seq || (m.n < maxResends && now-m.at >= int64(resendGap))
}

// resent notes that packet seq was sent again now.
func (d *DownTrack) resent(seq uint16, now int64) {
	m := &d.resends[seq%resendMarks]
	if m.at == 0 || m.seq != seq {
		*m = resendMark{seq: seq}
	}
	m.n++
	m.at = now
}

// resend sends the viewer its packet seq again from the cache of the layer it came from
// (on the same SSRC: no RTX stream is negotiated), rewritten as it was the first time.
// Packets from before the viewer's latest segments, or too old to be kept, are not sent.
func (d *DownTrack) resend(seq uint16) bool {
	b := d.binding.Load()
	if b == nil {
		return false
	}
	s, ok := d.rtxSegment(seq)
	if !ok || s.layer.cache == nil {
		return false
	}
	if d.rtxBuf == nil {
		d.rtxBuf = make([]byte, 1500)
	}
	n, ok := s.layer.cache.get(seq+s.seqOffset, d.rtxBuf, time.Now().UnixNano()-int64(maxResendAge))
	if !ok {
		return false
	}
	pkt := &d.rtxPkt
	if pkt.Unmarshal(d.rtxBuf[:n]) != nil {
		return false
	}
	hdr := &d.rtxHdr
	*hdr = pkt.Header
	hdr.SSRC, hdr.PayloadType, hdr.SequenceNumber = b.ssrc, b.pt, seq
	hdr.Timestamp = pkt.Timestamp - s.tsOffset
	hdr.Extension, hdr.Extensions, hdr.ExtensionProfile = false, nil, 0
	payload := pkt.Payload
	if d.pub.vp8 && (s.picOffset != 0 || s.tl0Offset != 0) {
		payload = rewriteVP8(&d.rtxScratch, pkt.Payload, s)
	}
	w, err := b.writer.WriteRTP(hdr, payload)
	if err != nil || w == 0 {
		return false
	}
	b.packets.Add(1)
	b.octets.Add(uint32(len(payload)))
	return true
}

// rtxSegment is the segment the viewer's packet seq was forwarded in; false if seq was a
// padding packet, or is older than the segments remembered.
func (d *DownTrack) rtxSegment(seq uint16) (segment, bool) {
	d.rtxMu.Lock()
	defer d.rtxMu.Unlock()
	if d.pads != 0 && seq-d.padFrom < d.pads {
		return segment{}, false // padding not yet followed by media
	}
	for i := range min(d.nseg, len(d.segs)) {
		s := &d.segs[(d.nseg-1-i)%len(d.segs)]
		if seq == s.from || isNewer(seq, s.from) {
			return *s, s.layer != nil
		}
		if seq-(s.from-s.pads) < s.pads {
			return segment{}, false // padding before this segment's media
		}
		if s.key {
			// Older than the keyframe the viewer's decoder went on from: of no use to it,
			// and after a fall to a lower layer, resending the higher one's losses would
			// keep the congested link full.
			return segment{}, false
		}
	}
	return segment{}, false
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
