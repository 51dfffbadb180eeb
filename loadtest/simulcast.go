package loadtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/puente-org/puente/signaling"
)

// Simulcast is the scenario of adaptive media: one speaker publishes its camera in three
// simulcast layers plus audio, to N viewers of whom some may receive through a shaped link.
const Simulcast = "simulcast"

// simulcastLayer is one synthetic layer, by rid (docs/signaling.md §6).
type simulcastLayer struct {
	rid           string
	bitrate       int
	width, height int
}

// simulcastLayers are the layers a browser would send, lowest first (index = LayerLow,
// LayerMid, LayerHigh).
var simulcastLayers = [3]simulcastLayer{
	{signaling.LayerLow, 150_000, 320, 180},
	{signaling.LayerMid, 500_000, 640, 360},
	{signaling.LayerHigh, 1_700_000, 1280, 720},
}

// simulcastAudioKbps is the speaker's Opus rate in the simulcast scenario: browsers' default
// for a microphone (the other scenarios send 64 kbps).
const simulcastAudioKbps = 32

// simulcastPublisher sends a speaker's camera in three layers, each its own RTP stream
// (its own SSRC, rid and mid header extensions, VP8 picture ids, keyframes when that
// layer's keyframe is asked for), and Opus with the audio level extension. It stops
// sending a layer the server says nobody needs (layers message) and resumes it, with a
// keyframe, when asked.
type simulcastPublisher struct {
	c      simulcastUp
	tracks [3]*webrtc.TrackLocalStaticRTP
	videos [3]*Video
	audio  *webrtc.TrackLocalStaticRTP
	a      *Audio

	wantKey [3]atomic.Bool
	paused  [3]atomic.Bool
	pauses  atomic.Int64 // layers paused at the server's word, over the run

	mu                  sync.Mutex
	videoSender         *webrtc.RTPSender
	audioSender         *webrtc.RTPSender
	midID, ridID, lvlID uint8
	mid, audioMid       string
}

// simulcastUp is what a simulcast publisher needs of a participant (a *Client).
type simulcastUp interface {
	PublishSimulcast(tracks map[webrtc.TrackLocal]string, layers map[webrtc.TrackLocal][]webrtc.TrackLocal) ([]*webrtc.RTPSender, error)
	UpMid(*webrtc.RTPSender) string
	OnLayers(func(source string, active map[string]bool))
	OnSenders(func([]*webrtc.RTPSender))
}

func newSimulcastPublisher(c simulcastUp, i int) (*simulcastPublisher, error) {
	p := &simulcastPublisher{c: c, a: NewAudioKbps(simulcastAudioKbps)}
	id, stream := fmt.Sprintf("cam%d", i), fmt.Sprintf("speaker%d", i)
	var err error
	start := uint16(rand.Uint32())
	for l, sl := range simulcastLayers {
		if p.tracks[l], err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
			id, stream, webrtc.WithRTPStreamID(sl.rid)); err != nil {
			return nil, err
		}
		v := NewVideo()
		v.Bitrate, v.Width, v.Height, v.Marked, v.Layer = sl.bitrate, sl.width, sl.height, true, l
		v.pictureID = start + uint16(l)*1000 // each encoder its own picture ids
		p.videos[l] = v
	}
	if p.audio, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		fmt.Sprintf("mic%d", i), stream); err != nil {
		return nil, err
	}
	c.OnLayers(p.onLayers)
	c.OnSenders(p.useSenders)
	return p, nil
}

// publish sends the offer.
func (p *simulcastPublisher) publish() error {
	senders, err := p.c.PublishSimulcast(map[webrtc.TrackLocal]string{p.tracks[0]: "camera", p.audio: "microphone"},
		map[webrtc.TrackLocal][]webrtc.TrackLocal{p.tracks[0]: {p.tracks[1], p.tracks[2]}})
	if err != nil {
		return err
	}
	p.useSenders(senders)
	return nil
}

// useSenders reads the senders' RTCP (keyframe requests per layer) and notes them.
func (p *simulcastPublisher) useSenders(senders []*webrtc.RTPSender) {
	p.mu.Lock()
	p.midID, p.ridID, p.lvlID, p.mid, p.audioMid = 0, 0, 0, "", ""
	for _, s := range senders {
		if s.Track() == nil {
			continue
		}
		if s.Track().Kind() == webrtc.RTPCodecTypeAudio {
			p.audioSender = s
			go drainRTCP(s, nil)
			continue
		}
		p.videoSender = s
		for l, sl := range simulcastLayers {
			go func() {
				for {
					pkts, _, err := s.ReadSimulcastRTCP(sl.rid)
					if err != nil {
						return
					}
					for _, pk := range pkts {
						switch pk.(type) {
						case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
							p.wantKey[l].Store(true)
						}
					}
				}
			}()
		}
	}
	p.mu.Unlock()
}

// extensions finds the negotiated header extension ids and mids (once known).
func (p *simulcastPublisher) extensions() (midID, ridID, lvlID uint8, mid, audioMid string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mid == "" && p.videoSender != nil {
		for _, e := range p.videoSender.GetParameters().HeaderExtensions {
			switch e.URI {
			case "urn:ietf:params:rtp-hdrext:sdes:mid":
				p.midID = uint8(e.ID)
			case "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id":
				p.ridID = uint8(e.ID)
			}
		}
		p.mid = p.c.UpMid(p.videoSender)
	}
	if p.audioMid == "" && p.audioSender != nil {
		for _, e := range p.audioSender.GetParameters().HeaderExtensions {
			if e.URI == audioLevelURI {
				p.lvlID = uint8(e.ID)
			}
		}
		p.audioMid = p.c.UpMid(p.audioSender)
	}
	return p.midID, p.ridID, p.lvlID, p.mid, p.audioMid
}

// onLayers applies a layers message: a layer nobody needs stops; one needed again resumes
// with a keyframe. Rids the message does not name stay as they are.
func (p *simulcastPublisher) onLayers(source string, active map[string]bool) {
	if source != "camera" {
		return
	}
	for l, sl := range simulcastLayers {
		on, named := active[sl.rid]
		if !named {
			continue
		}
		was := p.paused[l].Swap(!on)
		switch {
		case !on && !was:
			p.pauses.Add(1)
		case on && was:
			p.wantKey[l].Store(true)
		}
	}
}

// pausedLayers counts the layers paused now.
func (p *simulcastPublisher) pausedLayers() int {
	n := 0
	for l := range p.paused {
		if p.paused[l].Load() {
			n++
		}
	}
	return n
}

// run paces the layers and the audio in real time until ctx ends.
func (p *simulcastPublisher) run(ctx context.Context) {
	at := time.NewTicker(p.a.Interval())
	defer at.Stop()
	vt := time.NewTicker(p.videos[0].Interval())
	defer vt.Stop()
	level := []byte{0x80 | 30} // voice activity, -30 dBov
	for {
		select {
		case <-ctx.Done():
			return
		case <-at.C:
			_, _, lvlID, _, _ := p.extensions()
			pkt := p.a.Next()
			if lvlID != 0 {
				_ = pkt.SetExtension(lvlID, level)
			}
			_ = p.audio.WriteRTP(&pkt)
		case <-vt.C:
			midID, ridID, _, mid, _ := p.extensions()
			for l, v := range p.videos {
				if p.paused[l].Load() {
					v.Skip()
					continue
				}
				pkts, _ := v.Next(p.wantKey[l].Swap(false))
				for i := range pkts {
					if midID != 0 && ridID != 0 && mid != "" {
						pkts[i].Extension, pkts[i].Extensions = false, nil
						_ = pkts[i].SetExtension(midID, []byte(mid))
						_ = pkts[i].SetExtension(ridID, []byte(simulcastLayers[l].rid))
					}
					_ = p.tracks[l].WriteRTP(&pkts[i])
				}
			}
		}
	}
}

// paddingOnly tells whether b is an RTP packet of padding alone: the SFU's bandwidth
// probes. It counts as a received packet (sequence numbers, loss) but is not media: no
// frame, no layer, and not a sign that media arrived.
func paddingOnly(b []byte) bool {
	p := rtpPayload(b)
	return p != nil && len(p) == 0 && b[0]&0x20 != 0
}

// rtpPayload is an RTP packet's payload (nil when malformed).
func rtpPayload(b []byte) []byte {
	if len(b) < 12 {
		return nil
	}
	n := 12 + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 {
		if len(b) < n+4 {
			return nil
		}
		n += 4 + 4*(int(b[n+2])<<8|int(b[n+3]))
	}
	end := len(b)
	if b[0]&0x20 != 0 && end > n {
		end -= int(b[end-1])
	}
	if n > end {
		return nil
	}
	return b[n:end]
}
