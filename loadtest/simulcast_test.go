package loadtest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// pionUp publishes on a real Pion connection answered by another Pion peer in the same
// process (no server): the simulcastUp of a test.
type pionUp struct {
	api           *webrtc.API
	offer, answer *webrtc.PeerConnection
	onLayers      func(string, map[string]bool)
	mu            sync.Mutex
}

func (u *pionUp) PublishSimulcast(tracks map[webrtc.TrackLocal]string, layers map[webrtc.TrackLocal][]webrtc.TrackLocal) ([]*webrtc.RTPSender, error) {
	var senders []*webrtc.RTPSender
	for t := range tracks {
		tr, err := u.offer.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			return nil, err
		}
		for _, l := range layers[t] {
			if err := tr.Sender().AddEncoding(l); err != nil {
				return nil, err
			}
		}
		senders = append(senders, tr.Sender())
	}
	offer, err := u.offer.CreateOffer(nil)
	if err != nil {
		return nil, err
	}
	gathered := webrtc.GatheringCompletePromise(u.offer)
	if err := u.offer.SetLocalDescription(offer); err != nil {
		return nil, err
	}
	<-gathered
	if err := u.answer.SetRemoteDescription(*u.offer.LocalDescription()); err != nil {
		return nil, err
	}
	ans, err := u.answer.CreateAnswer(nil)
	if err != nil {
		return nil, err
	}
	gathered = webrtc.GatheringCompletePromise(u.answer)
	if err := u.answer.SetLocalDescription(ans); err != nil {
		return nil, err
	}
	<-gathered
	return senders, u.offer.SetRemoteDescription(*u.answer.LocalDescription())
}

func (u *pionUp) UpMid(s *webrtc.RTPSender) string {
	for _, t := range u.offer.GetTransceivers() {
		if t.Sender() == s {
			return t.Mid()
		}
	}
	return ""
}

func (u *pionUp) OnLayers(f func(string, map[string]bool)) { u.onLayers = f }
func (u *pionUp) OnSenders(func([]*webrtc.RTPSender))      {}

// The simulcast publisher sends three RTP streams a Pion receiver tells apart by rid, each
// frame marked with its layer; audio carries the audio level; a layer the server says
// nobody needs stops, and comes back starting with a keyframe when asked.
func TestSimulcastPublisher(t *testing.T) {
	api, err := NewAPI()
	if err != nil {
		t.Fatal(err)
	}
	u := &pionUp{api: api}
	if u.offer, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		t.Fatal(err)
	}
	defer u.offer.Close()
	if u.answer, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		t.Fatal(err)
	}
	defer u.answer.Close()

	type seen struct {
		frames, keys, wrong atomic.Int64
		lastAt              atomic.Int64
		firstAfterResume    atomic.Int32 // 0 unknown, 1 key, 2 delta
		resumed             atomic.Bool
	}
	var layers [3]seen
	var audioLevels atomic.Int64
	var readers sync.WaitGroup
	byRID := map[string]int{"l": LayerLow, "m": LayerMid, "h": LayerHigh}
	u.answer.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		readers.Add(1)
		defer readers.Done()
		if tr.Kind() == webrtc.RTPCodecTypeAudio {
			var levelID uint8
			for _, e := range u.answer.GetTransceivers() {
				if e.Receiver() != nil && e.Receiver().Track() == tr {
					for _, h := range e.Receiver().GetParameters().HeaderExtensions {
						if h.URI == audioLevelURI {
							levelID = uint8(h.ID)
						}
					}
				}
			}
			for {
				p, _, err := tr.ReadRTP()
				if err != nil {
					return
				}
				var lvl rtp.AudioLevelExtension
				if b := p.GetExtension(levelID); levelID != 0 && b != nil && lvl.Unmarshal(b) == nil && lvl.Voice && lvl.Level == 30 {
					audioLevels.Add(1)
				}
			}
		}
		want, ok := byRID[tr.RID()]
		if !ok {
			t.Errorf("a video track with rid %q", tr.RID())
			return
		}
		s := &layers[want]
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			l, key, ok := FrameLayer(p.Payload)
			if !ok {
				continue
			}
			if l != want {
				s.wrong.Add(1)
			}
			s.frames.Add(1)
			s.lastAt.Store(time.Now().UnixNano())
			if key {
				s.keys.Add(1)
			}
			if s.resumed.Load() {
				v := int32(2)
				if key {
					v = 1
				}
				s.firstAfterResume.CompareAndSwap(0, v)
			}
		}
	})

	p, err := newSimulcastPublisher(u, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range p.videos {
		v.KeyframeEvery = time.Hour // keyframes only when asked (and the first)
	}
	if err := p.publish(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var run sync.WaitGroup
	run.Go(func() { p.run(ctx) })
	defer func() {
		cancel()
		run.Wait()
		_ = u.offer.Close()
		_ = u.answer.Close()
		readers.Wait()
	}()

	if err := waitUntil(ctx, 20*time.Second, func() bool {
		return layers[0].frames.Load() > 10 && layers[1].frames.Load() > 10 && layers[2].frames.Load() > 10 && audioLevels.Load() > 10
	}); err != nil {
		t.Fatalf("frames l/m/h %d/%d/%d, audio with level %d: %v", layers[0].frames.Load(), layers[1].frames.Load(),
			layers[2].frames.Load(), audioLevels.Load(), err)
	}
	for l := range layers {
		if w := layers[l].wrong.Load(); w > 0 {
			t.Errorf("layer %d: %d frames marked with another layer", l, w)
		}
	}

	// The server says nobody needs h.
	u.onLayers("camera", map[string]bool{"l": true, "m": true, "h": false})
	if p.pausedLayers() != 1 || p.pauses.Load() != 1 {
		t.Fatalf("paused layers %d (pauses %d), want 1", p.pausedLayers(), p.pauses.Load())
	}
	time.Sleep(300 * time.Millisecond)
	stoppedAt := layers[2].frames.Load()
	time.Sleep(500 * time.Millisecond)
	if n := layers[2].frames.Load(); n != stoppedAt {
		t.Errorf("h sent %d frames after it was paused", n-stoppedAt)
	}
	if lo := layers[0].frames.Load(); lo < 20 {
		t.Errorf("l stopped too: %d frames", lo)
	}

	// And back: the first frame is a keyframe.
	layers[2].resumed.Store(true)
	u.onLayers("camera", map[string]bool{"h": true})
	if err := waitUntil(ctx, 10*time.Second, func() bool { return layers[2].frames.Load() > stoppedAt+5 }); err != nil {
		t.Fatalf("h did not come back: %v", err)
	}
	if p.pausedLayers() != 0 {
		t.Errorf("paused layers %d after resume", p.pausedLayers())
	}
	if f := layers[2].firstAfterResume.Load(); f != 1 {
		t.Errorf("the first frame of h after resuming was not a keyframe (%d)", f)
	}
}

// FrameLayer reads the mark of a frame's first packet, key or delta, with 7- or 15-bit
// picture ids, and nothing from other packets.
func TestFrameLayer(t *testing.T) {
	v := NewVideo()
	v.Marked, v.Layer = true, LayerMid
	for i := range 3 {
		pkts, key := v.Next(i == 1)
		l, k, ok := FrameLayer(pkts[0].Payload)
		if !ok || l != LayerMid || k != key {
			t.Errorf("frame %d: layer %d key %v ok %v, want %d %v", i, l, k, ok, LayerMid, key)
		}
		if len(pkts) > 1 {
			if _, _, ok := FrameLayer(pkts[1].Payload); ok {
				t.Errorf("frame %d: a continuation packet read as a frame start", i)
			}
		}
	}
	// A 7-bit picture id (an SFU may rewrite the descriptor so), delta frame.
	if l, key, ok := FrameLayer([]byte{0x90, 0x80, 0x05, 0x01, 0x00, 0x00, layerMagic, LayerHigh}); !ok || key || l != LayerHigh {
		t.Errorf("7-bit picture id: %d %v %v", l, key, ok)
	}
	for _, b := range [][]byte{nil, {0x90}, {0x90, 0x80}, {0x10, 0x00, 0x00}, {0x90, 0x80, 0x80, 0x01, 0x01, 0, 0, layerMagic, 7}} {
		if _, _, ok := FrameLayer(b); ok {
			t.Errorf("%x read as marked", b)
		}
	}
	// Unmarked video (the other scenarios) reads as unmarked.
	pkts, _ := NewVideo().Next(false)
	if _, _, ok := FrameLayer(pkts[0].Payload); ok {
		t.Error("unmarked video read as marked")
	}
}

// rtpPayload skips the fixed header, CSRCs and header extensions, and drops padding.
func TestRTPPayload(t *testing.T) {
	p := rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: 7, CSRC: []uint32{1, 2}}, Payload: []byte{0x90, 0x80, 0x01}}
	if err := p.SetExtension(3, []byte("h")); err != nil {
		t.Fatal(err)
	}
	if err := p.SetExtension(5, []byte("mid")); err != nil {
		t.Fatal(err)
	}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if got := rtpPayload(b); string(got) != string(p.Payload) {
		t.Errorf("payload %x, want %x", got, p.Payload)
	}
	padded := append(append([]byte(nil), b...), 0, 0, 3)
	padded[0] |= 0x20
	if got := rtpPayload(padded); string(got) != string(p.Payload) {
		t.Errorf("padded payload %x, want %x", got, p.Payload)
	}
	for _, bad := range [][]byte{nil, b[:11], b[:14]} {
		if got := rtpPayload(bad); got != nil {
			t.Errorf("%x: payload %x from a truncated packet", bad, got)
		}
	}
	if paddingOnly(b) || paddingOnly(padded) {
		t.Error("media read as padding only")
	}
}

// A probe's padding-only packet (as the SFU sends it) has no payload: it is no frame and
// has no layer; a padding count beyond the packet is malformed, not padding.
func TestPaddingOnly(t *testing.T) {
	p := rtp.Packet{Header: rtp.Header{Version: 2, Padding: true, PaddingSize: 255, SequenceNumber: 9, PayloadType: 96}}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 12+255 || !paddingOnly(b) {
		t.Fatalf("%d bytes, padding only %v", len(b), paddingOnly(b))
	}
	if got := rtpPayload(b); got == nil || len(got) != 0 {
		t.Errorf("payload %x", got)
	}
	if _, _, ok := FrameLayer(rtpPayload(b)); ok {
		t.Error("padding read as a frame")
	}
	bad := append([]byte(nil), b[:20]...)
	bad[len(bad)-1] = 200 // more padding than the packet holds
	if paddingOnly(bad) || rtpPayload(bad) != nil {
		t.Error("a malformed padding count read as padding")
	}
}

// A viewer counts on the layer of its last frame, or paused when told so or when no frame
// came in the last second.
func TestViewerFinalLayer(t *testing.T) {
	c := &Client{}
	now := time.Now()
	v := &viewer{client: c}
	v.layer.Store(-1)
	if l := v.finalLayer(now); l != -1 {
		t.Errorf("no frame yet: %d", l)
	}
	v.layer.Store(LayerMid)
	v.frameAt.Store(now.Add(-100 * time.Millisecond).UnixNano())
	if l := v.finalLayer(now); l != LayerMid {
		t.Errorf("recent mid frame: %d", l)
	}
	if l := v.finalLayer(now.Add(2 * time.Second)); l != -1 {
		t.Errorf("no frame for 2 s: %d", l)
	}
	c.videoPaused.Store(true)
	if l := v.finalLayer(now); l != -1 {
		t.Errorf("video paused: %d", l)
	}
	var lc LayerCounts
	for _, l := range []int{LayerHigh, LayerHigh, LayerMid, LayerLow, -1} {
		lc.add(l)
	}
	if lc != (LayerCounts{High: 2, Mid: 1, Low: 1, Paused: 1}) {
		t.Errorf("counts %+v", lc)
	}
}
