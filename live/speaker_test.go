package live_test

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

const audioLevelURI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

// levelClientAPI is clientAPI whose connections offer the audio level extension, as
// browsers do.
func levelClientAPI(t *testing.T) *webrtc.API {
	t.Helper()
	return clientAPIWith(t, func(m *webrtc.MediaEngine) error {
		return m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: audioLevelURI}, webrtc.RTPCodecTypeAudio)
	})
}

// levelMic publishes a microphone whose packets (one every 20 ms, numbered as publisher's
// are) carry the audio level the test sets: 127 is silence, 30 a voice.
type levelMic struct {
	level atomic.Uint32
	stop  chan struct{}
	done  chan struct{}
}

func (c *client) publishLevels() *levelMic {
	c.t.Helper()
	up, err := c.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	c.up = up
	c.mu.Unlock()
	up.OnICECandidate(func(ci *webrtc.ICECandidate) {
		if ci != nil {
			c.send(map[string]any{"type": "candidate", "pc": "up", "candidate": ci.ToJSON()})
		}
	})
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, c.name+"-mic", c.name)
	if err != nil {
		c.t.Fatal(err)
	}
	tr, err := up.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		c.t.Fatal(err)
	}
	offer, err := up.CreateOffer(nil)
	if err == nil {
		err = up.SetLocalDescription(offer)
	}
	if err != nil {
		c.t.Fatal(err)
	}
	c.send(map[string]any{"type": "offer", "pc": "up", "sdp": offer.SDP, "tracks": map[string]string{track.ID(): "microphone"}})
	m := &levelMic{stop: make(chan struct{}), done: make(chan struct{})}
	m.level.Store(127)
	go func() {
		defer close(m.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		id := 0 // the extension's id, known once the answer is in
		seq := uint16(3000)
		for n := uint32(0); ; n++ {
			select {
			case <-m.stop:
				return
			case <-tick.C:
			}
			if id == 0 {
				for _, h := range tr.Sender().GetParameters().HeaderExtensions {
					if h.URI == audioLevelURI {
						id = h.ID
					}
				}
			}
			seq++
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: n * 960}, Payload: payload(n, false, false)}
			if id != 0 {
				lvl := uint8(m.level.Load())
				ext, _ := rtp.AudioLevelExtension{Level: lvl, Voice: lvl < 127}.Marshal()
				_ = pkt.SetExtension(uint8(id), ext)
			}
			if err := track.WriteRTP(pkt); err != nil && !errors.Is(err, io.ErrClosedPipe) {
				return
			}
		}
	}()
	c.t.Cleanup(func() {
		select {
		case <-m.stop:
		default:
			close(m.stop)
		}
		<-m.done
		_ = up.Close()
	})
	return m
}

// A speaker sending loud audio becomes the active speaker for everyone (a `speaker`
// message with its id); a newcomer learns it right after its welcome; silence makes it
// nobody ("").
func TestActiveSpeakerBroadcast(t *testing.T) {
	e := newEnv(t)
	e.apis = map[string]*webrtc.API{"speaker": levelClientAPI(t)}
	speaker := e.join("speaker", "speaker")
	ana := e.join("ana", "attendee")
	mic := speaker.publishLevels()
	tr := ana.nextTrack(speaker.id, "microphone")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if got := readPackets(ctx, tr, 10, false); got.err != nil {
		t.Fatal(got.err)
	}
	mic.level.Store(30)
	isSpeaker := func(id string) func(msg) bool {
		return func(m msg) bool { _, ok := m["participant_id"]; return ok && m.str("participant_id") == id }
	}
	ana.expectWhere("speaker", isSpeaker(speaker.id))
	speaker.expectWhere("speaker", isSpeaker(speaker.id))

	ben := e.join("ben", "attendee")
	if m := ben.expect("speaker"); m.str("participant_id") != speaker.id {
		t.Fatalf("newcomer got speaker %v, want %s", m, speaker.id)
	}

	mic.level.Store(127)
	ana.expectWhere("speaker", isSpeaker(""))
	ben.expectWhere("speaker", isSpeaker(""))
}
