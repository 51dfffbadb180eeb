package sfu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// The benchmarks here measure the SFU's own per-packet work: the header rewrite of
// DownTrack.write, the fan-out loop of Publication.forward and the keyframe check. Down
// tracks are bound to benchWriter, which only counts what it is given, so Pion's send path
// (its interceptors, SRTP, the socket) is not part of the figures; BenchmarkNACKRecord and
// BenchmarkNACKLookup measure the one Pion interceptor the SFU adds on that path (the NACK
// responder, registered through webrtc.ConfigureNack).

const (
	benchPacketSize = 1100 // bytes of the whole incoming RTP packet, header extensions included
	benchSSRC       = 0x1234abcd
	benchPT         = 96
)

// benchWriter is the webrtc.TrackLocalWriter a bound DownTrack writes to: it counts the
// packets and the bytes they would take on the wire (unencrypted) and keeps the last header
// fields for the benchmarks' checks.
type benchWriter struct {
	packets, bytes int
	ssrc           uint32
	pt             uint8
	seq            uint16
	ts             uint32
	extension      bool
}

func (w *benchWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	n := h.MarshalSize() + len(payload)
	w.packets++
	w.bytes += n
	w.ssrc, w.pt, w.seq, w.ts = h.SSRC, h.PayloadType, h.SequenceNumber, h.Timestamp
	w.extension = h.Extension || len(h.Extensions) > 0
	return n, nil
}

func (w *benchWriter) Write([]byte) (int, error) {
	return 0, errors.New("benchWriter: the SFU writes headers and payloads, not raw packets")
}

// benchTrackContext is the webrtc.TrackLocalContext of a viewer's negotiated send track:
// what DownTrack.Bind reads to pick its SSRC, payload type and writer.
type benchTrackContext struct {
	ssrc   webrtc.SSRC
	codecs []webrtc.RTPCodecParameters
	w      *benchWriter
}

func (c *benchTrackContext) CodecParameters() []webrtc.RTPCodecParameters { return c.codecs }
func (c *benchTrackContext) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter {
	return nil
}
func (c *benchTrackContext) SSRC() webrtc.SSRC                       { return c.ssrc }
func (c *benchTrackContext) SSRCRetransmission() webrtc.SSRC         { return 0 }
func (c *benchTrackContext) SSRCForwardErrorCorrection() webrtc.SSRC { return 0 }
func (c *benchTrackContext) WriteStream() webrtc.TrackLocalWriter    { return c.w }
func (c *benchTrackContext) ID() string                              { return fmt.Sprintf("ctx-%d", c.ssrc) }
func (c *benchTrackContext) RTCPReader() interceptor.RTCPReader      { return nil }

// benchCodecs are a viewer's negotiated video codecs, with payload types other than the
// publisher's so the rewrite is visible.
var benchCodecs = []webrtc.RTPCodecParameters{
	{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 98},
	{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, PayloadType: 104},
}

// benchPublication is a VP8 camera publication of a room on an SFU without sockets, with
// metrics counted as in `puente serve`.
func benchPublication() *Publication {
	s := &SFU{log: slog.New(slog.DiscardHandler), metrics: NewMetrics(prometheus.NewRegistry()), pliGap: 500 * time.Millisecond}
	room := s.NewRoom("bench")
	owner := &Peer{ID: "speaker", room: room, log: room.log, downs: map[string]*DownTrack{}, pubs: map[string]*Publication{}}
	// newPublication reads codec and kind from a received track, which only Pion can make;
	// this sets the same fields, with one layer (a track without simulcast) as addLayer
	// makes it. A keyframe request has no up connection to go to here.
	p := &Publication{ID: "speaker-camera-1", Source: SourceCamera, Owner: owner, kind: webrtc.RTPCodecTypeVideo,
		codec: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, video: true, vp8: true, closed: make(chan struct{}),
		keyframe: vp8Keyframe, announced: allLayers}
	l := &layer{pub: p, idx: layerHigh, cache: &packetCache{}, created: time.Now().UnixNano()}
	l.active.Store(true)
	p.layers[layerHigh].Store(l)
	p.downs.Store(&[]*DownTrack{})
	return p
}

// benchViewer adds a viewer's DownTrack to pub, bound (as Pion binds it after negotiation)
// to a benchWriter.
func benchViewer(tb testing.TB, pub *Publication, i int) (*DownTrack, *benchWriter) {
	tb.Helper()
	viewer := &Peer{ID: fmt.Sprintf("viewer-%d", i), room: pub.Owner.room}
	d := newDownTrack(pub, viewer)
	w := &benchWriter{}
	if _, err := d.Bind(&benchTrackContext{ssrc: webrtc.SSRC(0x10000 + i), codecs: benchCodecs, w: w}); err != nil {
		tb.Fatalf("bind viewer %d: %v", i, err)
	}
	pub.addDown(d)
	return d, w
}

// benchVP8 is an incoming VP8 packet of benchPacketSize bytes as a browser sends it: the
// one-byte header extensions abs-send-time and transport-wide-cc, the payload descriptor with
// a 15-bit picture ID (RFC 7741) starting a frame, then the VP8 frame (key or delta).
func benchVP8(tb testing.TB, seq uint16, key bool) []byte {
	tb.Helper()
	h := rtp.Header{Version: 2, PayloadType: benchPT, SequenceNumber: seq, Timestamp: 90000, SSRC: benchSSRC}
	if err := h.SetExtension(2, []byte{0x12, 0x34, 0x56}); err != nil { // abs-send-time
		tb.Fatal(err)
	}
	if err := h.SetExtension(3, []byte{0x00, 0x2a}); err != nil { // transport-wide-cc
		tb.Fatal(err)
	}
	payload := make([]byte, benchPacketSize-h.MarshalSize())
	r := rand.New(rand.NewPCG(1, 2))
	for i := range payload {
		payload[i] = byte(r.Uint32())
	}
	copy(payload, []byte{0x90, 0x80, 0x80 | 0x12, 0x34}) // X, S, PID 0; I; picture ID 0x1234
	if key {
		copy(payload[4:], []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x00, 0x05, 0xd0, 0x02}) // P=0, start code, 1280×720
	} else {
		payload[4] = 0x31 // P=1: an interframe
	}
	raw, err := (&rtp.Packet{Header: h, Payload: payload}).Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	if len(raw) != benchPacketSize || vp8Keyframe(payload) != key {
		tb.Fatalf("test packet: %d bytes, keyframe %v", len(raw), vp8Keyframe(payload))
	}
	return raw
}

// benchForward is the body of layer.forward's loop after track.Read returned raw: keep it
// in step with forward.
func benchForward(p *Publication, pkt *rtp.Packet, raw []byte) (int, error) {
	return p.layer(layerHigh).forwardPacket(pkt, raw, time.Now().UnixNano()), nil
}

// benchWrite is DownTrack.write of a packet of the bench publication's one layer.
func benchWrite(d *DownTrack, pkt *rtp.Packet, key bool) bool {
	return d.write(d.pub.layer(layerHigh), pkt, key, time.Now().UnixNano())
}

// checkForwarded verifies that a viewer got every packet, rewritten to its SSRC and payload
// type, without the publisher's header extensions, numbered on from its first packet.
func checkForwarded(tb testing.TB, d *DownTrack, w *benchWriter, packets int, firstSeq uint16, payload int) {
	tb.Helper()
	b := d.binding.Load()
	switch {
	case w.packets != packets:
		tb.Fatalf("viewer %s: %d packets written, want %d", d.viewer.ID, w.packets, packets)
	case w.bytes != packets*(12+payload):
		tb.Fatalf("viewer %s: %d bytes written, want %d", d.viewer.ID, w.bytes, packets*(12+payload))
	case w.ssrc != b.ssrc || w.pt != b.pt || w.pt == benchPT:
		tb.Fatalf("viewer %s: ssrc %x pt %d, want %x %d", d.viewer.ID, w.ssrc, w.pt, b.ssrc, b.pt)
	case w.extension:
		tb.Fatalf("viewer %s: the publisher's header extensions were forwarded", d.viewer.ID)
	case w.seq != firstSeq+uint16(packets-1):
		tb.Fatalf("viewer %s: last sequence number %d, want %d", d.viewer.ID, w.seq, firstSeq+uint16(packets-1))
	}
}

// benchStarted is the one viewer of a publication after it was written the keyframe
// (sequence number 1000), and pkt the delta frame that comes next (1001).
func benchStarted(b *testing.B) (d *DownTrack, w *benchWriter, pkt *rtp.Packet) {
	b.Helper()
	d, w = benchViewer(b, benchPublication(), 0)
	pkt = &rtp.Packet{}
	if err := pkt.Unmarshal(benchVP8(b, 1000, true)); err != nil {
		b.Fatal(err)
	}
	if !benchWrite(d, pkt, true) {
		b.Fatal("the keyframe was not written")
	}
	if err := pkt.Unmarshal(benchVP8(b, 1001, false)); err != nil {
		b.Fatal(err)
	}
	return d, w, pkt
}

// BenchmarkRewritePerViewer: DownTrack.write of one 1,100-byte VP8 packet to one viewer in
// steady state (the viewer started at a keyframe): the header rewrite (SSRC, payload type,
// sequence number, timestamp, extensions dropped) and the write to its TrackLocalWriter.
// ns/op is per packet per viewer.
func BenchmarkRewritePerViewer(b *testing.B) {
	d, w, pkt := benchStarted(b)
	first := w.seq
	payload := len(pkt.Payload)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !benchWrite(d, pkt, false) {
			b.Fatal("not written")
		}
		pkt.SequenceNumber++
		pkt.Timestamp += 3000
	}
	b.StopTimer()
	checkForwarded(b, d, w, b.N+1, first, payload)
}

// BenchmarkFanOut: one incoming packet through the forwarding loop's body (unmarshal into the
// reused rtp.Packet, the keyframe check, the write to every viewer, the metrics), per
// incoming packet; ns/viewer-pkt divides it by the viewers.
func BenchmarkFanOut(b *testing.B) {
	for _, viewers := range []int{1, 10, 100, 200} {
		b.Run(fmt.Sprintf("viewers=%d", viewers), func(b *testing.B) {
			pub := benchPublication()
			downs := make([]*DownTrack, viewers)
			writers := make([]*benchWriter, viewers)
			for i := range downs {
				downs[i], writers[i] = benchViewer(b, pub, i)
			}
			var pkt rtp.Packet
			// Viewers start at a keyframe.
			if sent, err := benchForward(pub, &pkt, benchVP8(b, 1000, true)); err != nil || sent != viewers {
				b.Fatalf("keyframe: sent to %d of %d viewers: %v", sent, viewers, err)
			}
			first := make([]uint16, viewers)
			for i, w := range writers {
				first[i] = w.seq
			}
			payload := len(pkt.Payload)
			raw := benchVP8(b, 1001, false) // a delta frame's first packet
			seq := uint16(1001)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// What the next track.Read would copy into the buffer: the next sequence number.
				binary.BigEndian.PutUint16(raw[2:4], seq)
				seq++
				if _, err := benchForward(pub, &pkt, raw); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(viewers), "ns/viewer-pkt")
			for i := range downs {
				checkForwarded(b, downs[i], writers[i], b.N+1, first[i], payload)
			}
		})
	}
}

// BenchmarkKeyframeDetection is the SFU's layer selection as it stands: there is no
// simulcast or SVC yet, so the one per-packet selection decision is whether a viewer waiting
// to start (or resume, after a pause or a mute) may start at this packet, i.e. whether it
// begins a keyframe. The codec's keyframe test runs once per incoming video packet; viewer-waiting-delta is
// the per-viewer side of the decision: DownTrack.write declining a delta packet for a viewer
// still waiting, which includes the (throttled) keyframe request.
func BenchmarkKeyframeDetection(b *testing.B) {
	vp8 := func(key bool) []byte {
		var p rtp.Packet
		if err := p.Unmarshal(benchVP8(b, 1, key)); err != nil {
			b.Fatal(err)
		}
		return p.Payload
	}
	vp8Continuation := append([]byte{0x80, 0x80, 0x92, 0x34}, make([]byte, 1000)...) // X, S=0
	body := make([]byte, 1000)
	sps := []byte{0x67, 0x42, 0xe0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xe8}
	pps := []byte{0x68, 0xce, 0x3c, 0x80}
	sei := []byte{0x06, 0x05, 0x01, 0x00, 0x80}
	stapA := func(nalus ...[]byte) []byte {
		out := []byte{0x78} // NRI 3, type 24
		for _, n := range nalus {
			out = append(out, byte(len(n)>>8), byte(len(n)))
			out = append(out, n...)
		}
		return out
	}
	cases := []struct {
		name, mime string
		payload    []byte
		key        bool
	}{
		{"vp8/key", webrtc.MimeTypeVP8, vp8(true), true},
		{"vp8/delta-frame-start", webrtc.MimeTypeVP8, vp8(false), false},
		{"vp8/continuation", webrtc.MimeTypeVP8, vp8Continuation, false},
		{"h264/stap-a-sps-pps-idr", webrtc.MimeTypeH264, stapA(sps, pps, append([]byte{0x65}, body[:100]...)), true},
		{"h264/stap-a-sei-slice", webrtc.MimeTypeH264, stapA(sei, append([]byte{0x41}, body[:100]...)), false},
		{"h264/fu-a-idr-start", webrtc.MimeTypeH264, append([]byte{0x7c, 0x85}, body...), true},
		{"h264/fu-a-slice-start", webrtc.MimeTypeH264, append([]byte{0x5c, 0x81}, body...), false},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			keyframe := keyframeDetector(c.mime) // chosen once per publication, as forwardPacket does
			if keyframe(c.payload) != c.key {
				b.Fatalf("keyframe = %v, want %v", !c.key, c.key)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if keyframe(c.payload) != c.key {
					b.Fatal("wrong answer")
				}
			}
		})
	}
	b.Run("viewer-waiting-delta", func(b *testing.B) {
		pub := benchPublication()
		d, w := benchViewer(b, pub, 0)
		var pkt rtp.Packet
		if err := pkt.Unmarshal(benchVP8(b, 1001, false)); err != nil {
			b.Fatal(err)
		}
		if benchWrite(d, &pkt, false) || w.packets != 0 || pub.layer(layerHigh).lastPLI.Load() == 0 {
			b.Fatal("a waiting viewer was sent a delta frame, or no keyframe was asked for")
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if benchWrite(d, &pkt, false) {
				b.Fatal("a waiting viewer was sent a delta frame")
			}
			pkt.SequenceNumber++
		}
	})
}

// nackSink is the RTPWriter under the NACK responder (what would lead to SRTP and the
// socket): it counts original packets (written by the benchmark, without attributes) and
// retransmissions (written by the responder, with its resend attributes), and signals done
// when the retransmissions reach want.
type nackSink struct {
	originals int // written by the benchmark goroutine only
	resent    atomic.Int64
	want      atomic.Int64
	lastSeq   atomic.Uint32
	bytes     atomic.Int64
	done      chan struct{}
}

func (s *nackSink) Write(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
	n := h.MarshalSize() + len(payload)
	if a == nil {
		s.originals++
		return n, nil
	}
	s.bytes.Add(int64(n))
	s.lastSeq.Store(uint32(h.SequenceNumber))
	if s.resent.Add(1) == s.want.Load() {
		s.done <- struct{}{}
	}
	return n, nil
}

// nackSource is the viewer's RTCP as the responder reads it: raw, one Generic NACK, with
// its PID field set to pid.
type nackSource struct {
	raw []byte
	pid uint16
}

func (s *nackSource) Read(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
	n := copy(b, s.raw)
	binary.BigEndian.PutUint16(b[12:], s.pid)
	return n, a, nil
}

// benchNACKResponder builds the NACK responder as webrtc.ConfigureNack registers it
// (default options: a 1,024-packet cache that copies packets) and binds a video stream
// that supports NACK to sink.
func benchNACKResponder(tb testing.TB, sink interceptor.RTPWriter) (interceptor.Interceptor, *interceptor.StreamInfo, interceptor.RTPWriter) {
	tb.Helper()
	f, err := nack.NewResponderInterceptor()
	if err != nil {
		tb.Fatal(err)
	}
	ir := &interceptor.Registry{}
	ir.Add(f)
	chain, err := ir.Build("bench")
	if err != nil {
		tb.Fatal(err)
	}
	info := &interceptor.StreamInfo{ID: "bench", SSRC: benchSSRC, PayloadType: benchPT, MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
		RTCPFeedback: []interceptor.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}}}
	return chain, info, chain.BindLocalStream(info, sink)
}

// BenchmarkNACKRecord: the NACK responder's share of sending one packet to one viewer: every
// packet the SFU writes to a viewer passes through it and is copied into its cache
// (pion/interceptor's default copying packet factory). Not the SFU's code, but on the
// per-packet, per-viewer path of `puente serve`.
func BenchmarkNACKRecord(b *testing.B) {
	sink := &nackSink{done: make(chan struct{}, 1)}
	chain, info, w := benchNACKResponder(b, sink)
	defer func() { chain.UnbindLocalStream(info); _ = chain.Close() }()
	var pkt rtp.Packet
	if err := pkt.Unmarshal(benchVP8(b, 1000, false)); err != nil {
		b.Fatal(err)
	}
	pkt.Extension, pkt.Extensions, pkt.ExtensionProfile = false, nil, 0 // as DownTrack.write sends it
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := w.Write(&pkt.Header, pkt.Payload, nil); err != nil {
			b.Fatal(err)
		}
		pkt.SequenceNumber++
	}
	b.StopTimer()
	if sink.originals != b.N {
		b.Fatalf("%d packets passed through, want %d", sink.originals, b.N)
	}
}

// BenchmarkNACKLookup: Pion's NACK responder handling one incoming Generic NACK for 1 or 16
// lost packets: the RTCP parsed, the packets looked up in its cache of the last 1,000 sent
// and retransmitted (to nackSink). The responder resends from a goroutine of its own per
// NACK; an operation ends when the last retransmission was written, so ns/op is the time
// from reading the NACK to the last packet resent, goroutine start and wake-up included.
//
// The responder resends a packet at most once per RTT+5 ms, so within each cycle every
// cached packet is asked for once; then, with the timer stopped, the next 1,000 packets are
// sent (as a live stream does), which refreshes the cache.
func BenchmarkNACKLookup(b *testing.B) {
	const cached = 1000
	for _, lost := range []int{1, 16} {
		b.Run(fmt.Sprintf("lost=%d", lost), func(b *testing.B) {
			sink := &nackSink{done: make(chan struct{}, 1)}
			chain, info, w := benchNACKResponder(b, sink)
			defer func() { chain.UnbindLocalStream(info); _ = chain.Close() }()
			var pkt rtp.Packet
			if err := pkt.Unmarshal(benchVP8(b, 0, false)); err != nil {
				b.Fatal(err)
			}
			pkt.Extension, pkt.Extensions, pkt.ExtensionProfile = false, nil, 0
			pkt.SSRC = benchSSRC
			next := uint16(40000) // sequence number of the next packet sent
			base := next          // first packet of the current cycle
			send := func() {      // the next 1,000 packets of the stream
				base = next
				for range cached {
					pkt.SequenceNumber = next
					if _, err := w.Write(&pkt.Header, pkt.Payload, nil); err != nil {
						b.Fatal(err)
					}
					next++
				}
			}
			send()
			if sink.originals != cached {
				b.Fatalf("%d packets passed through, want %d", sink.originals, cached)
			}

			raw, err := (&rtcp.TransportLayerNack{SenderSSRC: 1, MediaSSRC: benchSSRC,
				Nacks: []rtcp.NackPair{{PacketID: 0, LostPackets: rtcp.PacketBitmap(1<<(lost-1) - 1)}}}).Marshal()
			if err != nil || len(raw) != 16 {
				b.Fatalf("nack: %d bytes, %v", len(raw), err)
			}
			src := &nackSource{raw: raw}
			reader := chain.BindRTCPReader(src)
			buf := make([]byte, 1500)
			windows := cached / lost // NACKs per cycle
			window := 0
			var resent int64
			nackOnce := func() error {
				if window == windows {
					b.StopTimer()
					send()
					window = 0
					b.StartTimer()
				}
				src.pid = base + uint16(window*lost)
				window++
				resent += int64(lost)
				sink.want.Store(resent)
				if _, _, err := reader.Read(buf, nil); err != nil {
					return err
				}
				<-sink.done
				return nil
			}

			// Check once, with a timeout, that a NACK is answered with the packets asked for.
			sink.want.Store(int64(lost))
			src.pid = base
			if _, _, err := reader.Read(buf, nil); err != nil {
				b.Fatal(err)
			}
			select {
			case <-sink.done:
			case <-time.After(5 * time.Second):
				b.Fatalf("NACK not answered: %d of %d packets resent", sink.resent.Load(), lost)
			}
			if got, want := uint16(sink.lastSeq.Load()), base+uint16(lost-1); got != want || sink.bytes.Load() != int64(lost*(12+len(pkt.Payload))) {
				b.Fatalf("resent up to %d (%d bytes), want up to %d (%d bytes)", got, sink.bytes.Load(), want, lost*(12+len(pkt.Payload)))
			}
			window, resent = 1, int64(lost)

			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := nackOnce(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if sink.resent.Load() != resent {
				b.Fatalf("%d packets resent, want %d", sink.resent.Load(), resent)
			}
		})
	}
}

// BenchmarkResendFromCache is the SFU's own answer to a viewer's NACK: one lost packet
// found in the publication's shared cache, rewritten for the viewer and written again.
func BenchmarkResendFromCache(b *testing.B) {
	pub := benchPublication()
	d, w := benchViewer(b, pub, 0)
	raw := benchVP8(b, 1100, true)
	var pkt rtp.Packet
	for range 600 { // fills the 512-packet cache and starts the viewer at the keyframe
		if _, err := benchForward(pub, &pkt, raw); err != nil {
			b.Fatal(err)
		}
		seq := binary.BigEndian.Uint16(raw[2:4]) + 1
		binary.BigEndian.PutUint16(raw[2:4], seq)
	}
	before := w.packets
	last := d.lastSeq
	if !d.resend(last - 5) {
		b.Fatal("a cached packet was not sent again")
	}
	if w.packets != before+1 || w.seq != last-5 {
		b.Fatalf("resend wrote %d packets, seq %d; want 1, %d", w.packets-before, w.seq, last-5)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		d.resend(last - uint16(i%400))
	}
}
