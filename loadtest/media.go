// Package loadtest drives a running Puente like real participants do — Pion peers speaking
// Puente's signaling protocol with well-formed synthetic media — and measures the server
// process from outside: the pieces of cmd/puente-bench.
package loadtest

import (
	"encoding/binary"
	"math/rand/v2"
	"time"

	"github.com/pion/rtp"
)

// maxPayload keeps RTP packets under a typical path MTU with SRTP and headers.
const maxPayload = 1150

// noise is pseudo-random bytes that stand in for compressed video and audio.
var noise = func() []byte {
	b := make([]byte, 64<<10)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}()

// Video makes VP8 frames as a camera encoder would: a frame every 1/FPS, a keyframe every
// KeyframeEvery (or when asked), about Bitrate bits per second in all, each frame split
// into RTP packets with a valid VP8 payload descriptor (RFC 7741, with a 15-bit picture
// ID) and a valid VP8 frame header (RFC 6386: frame tag, and for keyframes the start code
// and dimensions).
type Video struct {
	Bitrate       int // bits per second
	FPS           int
	KeyframeEvery time.Duration
	Width, Height int
	// Marked makes every frame carry Layer (LayerLow, LayerMid, LayerHigh) in its first
	// packet, right after the VP8 frame header, for a receiver to tell which simulcast
	// layer it gets whatever the SFU rewrote (FrameLayer reads it).
	Marked bool
	Layer  int

	frame     int
	pictureID uint16
	seq       uint16
	pkts      []rtp.Packet
	bufs      [][]byte
	off       int
}

// NewVideo is 720p-like video: 2 Mbps, 30 fps, a keyframe every 2.5 s.
func NewVideo() *Video {
	return &Video{Bitrate: 2_000_000, FPS: 30, KeyframeEvery: 2500 * time.Millisecond, Width: 1280, Height: 720,
		seq: uint16(rand.Uint32())}
}

// Interval is the time between frames.
func (v *Video) Interval() time.Duration { return time.Second / time.Duration(v.FPS) }

// frameSizes: keyframes are six times an average delta frame, and the total matches the
// bitrate.
func (v *Video) frameSizes() (key, delta int) {
	perGOP := int(v.KeyframeEvery / v.Interval())
	if perGOP < 1 {
		perGOP = 1
	}
	total := v.Bitrate / 8 * int(v.KeyframeEvery/time.Millisecond) / 1000
	delta = total / (perGOP - 1 + 6)
	return 6 * delta, delta
}

// Next returns the packets of the next frame (valid until the next call) and whether it is
// a keyframe. force makes it a keyframe (a keyframe request arrived).
func (v *Video) Next(force bool) ([]rtp.Packet, bool) {
	perGOP := max(1, int(v.KeyframeEvery/v.Interval()))
	key := force || v.frame%perGOP == 0
	keySize, deltaSize := v.frameSizes()
	size := deltaSize
	if key {
		size = keySize
	}
	ts := uint32(v.frame) * uint32(90000/v.FPS)
	v.frame++
	v.pictureID = (v.pictureID + 1) & 0x7fff
	n := (size + maxPayload - 1) / maxPayload
	v.pkts = v.pkts[:0]
	for len(v.bufs) < n {
		v.bufs = append(v.bufs, make([]byte, 0, maxPayload+16))
	}
	left := size
	for i := range n {
		b := v.bufs[i][:0]
		first := i == 0
		// Payload descriptor: X=1, S on the first packet, partition 0; I=1 with M=1.
		d0 := byte(0x80)
		if first {
			d0 |= 0x10
		}
		b = append(b, d0, 0x80, 0x80|byte(v.pictureID>>8), byte(v.pictureID))
		chunk := min(left, maxPayload)
		left -= chunk
		if first {
			// Frame tag: key bit (0 = keyframe), version 0, show_frame, first partition size.
			part := uint32(min(size, 1<<19-1))
			tag := part<<5 | 1<<4
			if !key {
				tag |= 1
			}
			b = append(b, byte(tag), byte(tag>>8), byte(tag>>16))
			if key {
				b = append(b, 0x9d, 0x01, 0x2a)
				b = binary.LittleEndian.AppendUint16(b, uint16(v.Width))
				b = binary.LittleEndian.AppendUint16(b, uint16(v.Height))
			}
			if v.Marked {
				b = append(b, layerMagic, byte(v.Layer))
			}
		}
		if need := chunk - len(b); need > 0 {
			if v.off+need > len(noise) {
				v.off = 0
			}
			b = append(b, noise[v.off:v.off+need]...)
			v.off += need
		}
		v.bufs[i] = b
		v.seq++
		v.pkts = append(v.pkts, rtp.Packet{Header: rtp.Header{Version: 2, Marker: i == n-1, SequenceNumber: v.seq, Timestamp: ts}, Payload: b})
	}
	return v.pkts, key
}

// Skip lets a frame's time pass without making it (a paused simulcast layer): timestamps
// go on, sequence numbers do not.
func (v *Video) Skip() { v.frame++ }

// Synthetic simulcast layers, as marked in frames.
const (
	LayerLow  = 0
	LayerMid  = 1
	LayerHigh = 2

	layerMagic = 0xa5
)

// FrameLayer reads the layer mark of a VP8 RTP payload that starts a frame (see
// Video.Marked), parsing the payload descriptor (RFC 7741) and the frame header (RFC 6386);
// ok is false for other packets.
func FrameLayer(payload []byte) (layer int, key, ok bool) {
	if len(payload) < 1 {
		return 0, false, false
	}
	d0 := payload[0]
	if d0&0x10 == 0 || d0&0x07 != 0 { // not the start of partition 0
		return 0, false, false
	}
	i := 1
	if d0&0x80 != 0 { // X
		if len(payload) < 2 {
			return 0, false, false
		}
		x := payload[1]
		i = 2
		if x&0x80 != 0 { // I: picture id, 7 or 15 bits
			if len(payload) <= i {
				return 0, false, false
			}
			if payload[i]&0x80 != 0 {
				i += 2
			} else {
				i++
			}
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if x&0x30 != 0 { // T or K: TID/KEYIDX
			i++
		}
	}
	if len(payload) < i+3 {
		return 0, false, false
	}
	key = payload[i]&0x01 == 0
	i += 3
	if key {
		i += 7
	}
	if len(payload) < i+2 || payload[i] != layerMagic || payload[i+1] > LayerHigh {
		return 0, key, false
	}
	return int(payload[i+1]), key, true
}

// Audio makes Opus packets of 20 ms: a TOC byte for one CELT full-band 20 ms frame
// (configuration 31, mono) and about 64 kbps of frame data.
type Audio struct {
	frame int // frame data bytes after the TOC byte (159: 64 kbps)
	n     uint32
	seq   uint16
	buf   []byte
	off   int
}

// NewAudio is a 64 kbps Opus stream.
func NewAudio() *Audio { return NewAudioKbps(64) }

// NewAudioKbps is an Opus stream of about kbps kilobits per second of payload (32: the
// default rate of browsers' Opus encoder for a microphone).
func NewAudioKbps(kbps int) *Audio {
	return &Audio{frame: max(1, kbps*1000/8/50-1), seq: uint16(rand.Uint32()), buf: make([]byte, 0, 1200)}
}

// Interval is an Opus frame's duration.
func (a *Audio) Interval() time.Duration { return 20 * time.Millisecond }

// Next returns the next packet (valid until the next call).
func (a *Audio) Next() rtp.Packet {
	b := append(a.buf[:0], 31<<3)
	if a.off+a.frame > len(noise) {
		a.off = 0
	}
	b = append(b, noise[a.off:a.off+a.frame]...)
	a.off += a.frame
	a.buf = b
	a.seq++
	p := rtp.Packet{Header: rtp.Header{Version: 2, Marker: a.n == 0, SequenceNumber: a.seq, Timestamp: a.n * 960}, Payload: b}
	a.n++
	return p
}
