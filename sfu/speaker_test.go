package sfu

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// speakerScript drives a detector on a fake clock, one tick per 100 ms, and records the
// changes it reports.
type speakerScript struct {
	t       *testing.T
	d       *speakerDetector
	now     time.Time
	changes []string // "at:who"
	times   []time.Duration
	elapsed time.Duration
}

func newSpeakerScript(t *testing.T) *speakerScript {
	s := &speakerScript{t: t, now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	s.d = newSpeakerDetector(func() time.Time { return s.now })
	return s
}

// run plays d of ticks where each participant's loud fraction is given by level (called
// with the time into this step).
func (s *speakerScript) run(d time.Duration, level func(at time.Duration) map[string]float64) {
	for at := time.Duration(0); at < d; at += speakerTick {
		s.now = s.now.Add(speakerTick)
		s.elapsed += speakerTick
		if who, changed := s.d.tick(level(at)); changed {
			s.changes = append(s.changes, fmt.Sprintf("%v:%q", s.elapsed, who))
			s.times = append(s.times, s.elapsed)
		}
	}
}

func (s *speakerScript) constant(d time.Duration, levels map[string]float64) {
	s.run(d, func(time.Duration) map[string]float64 { return levels })
}

// take returns the changes since the last take.
func (s *speakerScript) take() []string {
	c := s.changes
	s.changes = nil
	return c
}

func (s *speakerScript) expect(what string, want ...string) {
	s.t.Helper()
	got := s.take()
	if len(got) != len(want) {
		s.t.Fatalf("%s: changes %v, want speakers %q", what, got, want)
	}
	for i, w := range want {
		if !strings.HasSuffix(got[i], fmt.Sprintf(":%q", w)) {
			s.t.Fatalf("%s: changes %v, want speakers %q", what, got, want)
		}
	}
}

// speech is a talker's loud fraction per tick: most packets loud, with dips between words.
func speech(at time.Duration) float64 {
	if (at/speakerTick)%5 == 4 {
		return 0.2
	}
	return 0.8
}

// establish makes who the speaker after silence.
func (s *speakerScript) establish(who string) {
	s.t.Helper()
	s.run(2*time.Second, func(at time.Duration) map[string]float64 { return map[string]float64{who: speech(at)} })
	s.expect("establish "+who, who)
}

func TestSpeakerStartsAfterHold(t *testing.T) {
	s := newSpeakerScript(t)
	s.constant(time.Second, map[string]float64{"ana": 0, "ben": 0.1})
	s.expect("room noise")
	start := s.elapsed
	s.run(2*time.Second, func(at time.Duration) map[string]float64 { return map[string]float64{"ana": speech(at), "ben": 0} })
	got := s.take()
	if len(got) != 1 || !strings.HasSuffix(got[0], `:"ana"`) {
		t.Fatalf("changes %v, want ana once", got)
	}
	if at := s.times[len(s.times)-1]; at-start < speakerHold {
		t.Fatalf("ana became the speaker %v after she started, before the hold of %v", at-start, speakerHold)
	}
}

func TestSpeakerSilenceEnds(t *testing.T) {
	s := newSpeakerScript(t)
	s.establish("ana")
	s.constant(time.Second, map[string]float64{"ana": 0})
	s.expect("a second's pause keeps the speaker")
	s.constant(time.Second, map[string]float64{"ana": 0})
	s.expect("silence", "")
	s.constant(3*time.Second, map[string]float64{})
	s.expect("still silent")
}

// Muted microphones and DTX gaps send no packets: the participant is absent from the
// samples, which counts as quiet.
func TestSpeakerNoPacketsIsQuiet(t *testing.T) {
	s := newSpeakerScript(t)
	s.establish("ana")
	s.constant(3*time.Second, map[string]float64{})
	s.expect("no packets", "")
}

func TestSpeakerQuickAlternationDoesNotFlicker(t *testing.T) {
	s := newSpeakerScript(t)
	s.establish("ana")
	// Ana and Ben talk over each other in 300 ms bursts for 10 s.
	s.run(10*time.Second, func(at time.Duration) map[string]float64 {
		if (at/(300*time.Millisecond))%2 == 0 {
			return map[string]float64{"ana": 1, "ben": 0}
		}
		return map[string]float64{"ana": 0, "ben": 1}
	})
	s.expect("quick alternation")
	// The same with 500 ms bursts.
	s.run(10*time.Second, func(at time.Duration) map[string]float64 {
		if (at/(500*time.Millisecond))%2 == 0 {
			return map[string]float64{"ana": 0.9, "ben": 0.1}
		}
		return map[string]float64{"ana": 0.1, "ben": 0.9}
	})
	s.expect("alternation in half seconds")
}

func TestSpeakerTurn(t *testing.T) {
	s := newSpeakerScript(t)
	s.establish("ana")
	s.run(3*time.Second, func(at time.Duration) map[string]float64 { return map[string]float64{"ana": speech(at), "ben": 0} })
	s.expect("ana goes on")
	s.run(3*time.Second, func(at time.Duration) map[string]float64 { return map[string]float64{"ana": 0, "ben": speech(at)} })
	s.expect("ben's turn", "ben")
	s.run(3*time.Second, func(at time.Duration) map[string]float64 { return map[string]float64{"ben": speech(at)} })
	s.expect("ben goes on")
}

func TestSpeakerCough(t *testing.T) {
	s := newSpeakerScript(t)
	s.establish("ana")
	// Ben coughs while Ana talks.
	s.run(3*time.Second, func(at time.Duration) map[string]float64 {
		ben := 0.0
		if at >= time.Second && at < 1300*time.Millisecond {
			ben = 1
		}
		return map[string]float64{"ana": speech(at), "ben": ben}
	})
	s.expect("a cough over the speaker")
	// Ben coughs in Ana's pause.
	s.run(3*time.Second, func(at time.Duration) map[string]float64 {
		ana, ben := speech(at), 0.0
		if at >= time.Second && at < 1800*time.Millisecond {
			ana = 0
		}
		if at >= 1200*time.Millisecond && at < 1500*time.Millisecond {
			ben = 1
		}
		return map[string]float64{"ana": ana, "ben": ben}
	})
	s.expect("a cough in the speaker's pause")
	// Ben coughs in the silence after Ana: nobody, and no Ben.
	s.constant(3*time.Second, map[string]float64{})
	s.expect("silence", "")
	s.run(3*time.Second, func(at time.Duration) map[string]float64 {
		if at < 300*time.Millisecond {
			return map[string]float64{"ben": 1}
		}
		return nil
	})
	s.expect("a cough in silence")
}

// Someone much louder than a speaker who does not stop (an interruption that lasts) takes
// over, once.
func TestSpeakerLastingInterruption(t *testing.T) {
	s := newSpeakerScript(t)
	s.establish("ana")
	s.run(5*time.Second, func(at time.Duration) map[string]float64 { return map[string]float64{"ana": 0.5, "ben": 1} })
	s.expect("ben talks over ana", "ben")
}

func TestSpeakerAbsurdSamples(t *testing.T) {
	s := newSpeakerScript(t)
	s.constant(2*time.Second, map[string]float64{"ana": 40, "ben": -3})
	s.expect("clamped", "ana")
}

// speakerClientAPI is a Pion client on loopback whose up connection offers the audio level
// extension, as browsers do.
func speakerClientAPI(t *testing.T) *webrtc.API {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: audioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		t.Fatal(err)
	}
	se := loopbackSettings(webrtc.NetworkTypeUDP4)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
}

// opusFmtpOf is the fmtp line of the first Opus payload type of a description.
func opusFmtpOf(sdp string) string {
	pt := ""
	for line := range strings.SplitSeq(sdp, "\n") {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "a=rtpmap:"); ok && pt == "" {
			if p, codec, ok := strings.Cut(rest, " "); ok && strings.HasPrefix(strings.ToLower(codec), "opus/") {
				pt = p
			}
		}
		if pt != "" {
			if rest, ok := strings.CutPrefix(line, "a=fmtp:"+pt+" "); ok {
				return rest
			}
		}
	}
	return ""
}

// audioLevelPublisher sends Opus-sized packets every 20 ms carrying the audio level the
// test sets (127: silence).
type audioLevelPublisher struct {
	level atomic.Uint32
	stop  chan struct{}
	done  chan struct{}
}

func (c *rtcClient) publishAudioLevels(t *testing.T) *audioLevelPublisher {
	t.Helper()
	track, sender := c.sendTrack(t, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, c.name+"-mic")
	c.offerUp(t, false, map[string]string{track.ID(): SourceMicrophone})
	waitFor(t, "the up answer", func() bool { _, a := c.answered(); return len(a) > 0 })
	id := 0
	for _, h := range sender.GetParameters().HeaderExtensions {
		if h.URI == audioLevelURI {
			id = h.ID
		}
	}
	if id == 0 {
		t.Fatalf("the audio level extension was not negotiated on up:\n%s", c.up.RemoteDescription().SDP)
	}
	p := &audioLevelPublisher{stop: make(chan struct{}), done: make(chan struct{})}
	p.level.Store(127)
	go func() {
		defer close(p.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		seq := uint16(500)
		for n := uint32(0); ; n++ {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			seq++
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: n * 960}, Payload: make([]byte, 80)}
			ext, _ := rtp.AudioLevelExtension{Level: uint8(p.level.Load()), Voice: p.level.Load() < 127}.Marshal()
			if err := pkt.SetExtension(uint8(id), ext); err != nil {
				t.Errorf("set extension: %v", err)
				return
			}
			if err := track.WriteRTP(pkt); err != nil && !errors.Is(err, io.ErrClosedPipe) {
				return
			}
		}
	}()
	t.Cleanup(func() {
		select {
		case <-p.stop:
		default:
			close(p.stop)
		}
		<-p.done
	})
	return p
}

// loopbackRoom starts an SFU on loopback (UDP only) and a room named name on it, both
// closed at the end of the test.
func loopbackRoom(t *testing.T, name string) *Room {
	t.Helper()
	s := startSFU(t, Config{Network: Network{TCPPort: -1, LoopbackOnly: true}, Logger: networkTestLogger(t)})
	room := s.NewRoom(name)
	t.Cleanup(room.Close)
	return room
}

// A publisher offering Opus gets an answer with FEC and DTX and the audio level extension;
// viewers are offered Opus with FEC and DTX too. Loud packets make the publisher the
// room's active speaker; silence makes nobody; muting makes nobody.
func TestActiveSpeakerFromAudioLevels(t *testing.T) {
	verifyNoLeaks(t)
	room := loopbackRoom(t, "speaker")
	changes := make(chan string, 64)
	room.OnActiveSpeaker(func(id string) { changes <- id })

	api := speakerClientAPI(t)
	viewer := joinClient(t, room, api, "viewer", false)
	ana := joinClient(t, room, api, "ana", true)
	mic := ana.publishAudioLevels(t)

	answer := ana.up.RemoteDescription().SDP
	for _, want := range []string{"useinbandfec=1", "usedtx=1"} {
		if f := opusFmtpOf(answer); !strings.Contains(f, want) {
			t.Errorf("the up answer's Opus fmtp %q lacks %s", f, want)
		}
	}
	if !strings.Contains(answer, audioLevelURI) {
		t.Errorf("the up answer lacks the audio level extension")
	}
	waitFor(t, "the viewer's down offer", func() bool { o, _ := viewer.answered(); return len(o) > 0 })
	viewer.moreReceived(t, 10)
	downOffer := viewer.down.RemoteDescription().SDP
	for _, want := range []string{"useinbandfec=1", "usedtx=1"} {
		if f := opusFmtpOf(downOffer); !strings.Contains(f, want) {
			t.Errorf("the down offer's Opus fmtp %q lacks %s", f, want)
		}
	}
	if strings.Contains(downOffer, audioLevelURI) {
		t.Errorf("the down offer has the audio level extension, which viewers' copies do not carry")
	}

	next := func(what string) string {
		t.Helper()
		select {
		case id := <-changes:
			return id
		case <-time.After(giveUp):
			t.Fatalf("gave up waiting for the speaker: %s", what)
		}
		return ""
	}
	expectQuiet := func(d time.Duration) {
		t.Helper()
		select {
		case id := <-changes:
			t.Fatalf("speaker changed to %q", id)
		case <-time.After(d):
		}
	}
	expectQuiet(time.Second) // silence (level 127) is nobody
	mic.level.Store(30)
	if id := next("loud audio"); id != "ana" {
		t.Fatalf("speaker %q, want ana", id)
	}
	if room.ActiveSpeaker() != "ana" {
		t.Fatalf("ActiveSpeaker %q, want ana", room.ActiveSpeaker())
	}
	mic.level.Store(127)
	if id := next("silence"); id != "" {
		t.Fatalf("speaker %q after silence, want nobody", id)
	}
	mic.level.Store(30)
	if id := next("loud again"); id != "ana" {
		t.Fatalf("speaker %q, want ana", id)
	}
	ana.peer.Mute("audio", true)
	if id := next("muted"); id != "" {
		t.Fatalf("speaker %q after mute, want nobody", id)
	}
	expectQuiet(time.Second)
}

func TestWithOpusFmtp(t *testing.T) {
	in := "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1;usedtx=0\r\n" +
		"a=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\na=rtpmap:9 G722/8000\r\nm=audio 9 UDP/TLS/RTP/SAVPF 110\r\na=rtpmap:110 OPUS/48000/2\r\n"
	want := "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1;usedtx=1\r\n" +
		"a=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\na=rtpmap:9 G722/8000\r\nm=audio 9 UDP/TLS/RTP/SAVPF 110\r\na=rtpmap:110 OPUS/48000/2\r\na=fmtp:110 useinbandfec=1;usedtx=1\r\n"
	if got := withOpusFmtp(in); got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
	if got := withOpusFmtp("v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n"); got != "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n" {
		t.Fatalf("video changed: %q", got)
	}
}

// chromiumAudioOffer is what Chromium 156 offers for one send-only audio transceiver.
const chromiumAudioOffer = "v=0\r\n" +
	"o=- 7335484046148080364 2 IN IP4 127.0.0.1\r\n" +
	"s=-\r\n" +
	"t=0 0\r\n" +
	"a=group:BUNDLE 0\r\n" +
	"a=extmap-allow-mixed\r\n" +
	"a=msid-semantic: WMS\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n" +
	"c=IN IP4 0.0.0.0\r\n" +
	"a=rtcp:9 IN IP4 0.0.0.0\r\n" +
	"a=ice-ufrag:/7vT\r\n" +
	"a=ice-pwd:/NooOaAtUQFc/Du0IT4JN+zD\r\n" +
	"a=ice-options:trickle\r\n" +
	"a=fingerprint:sha-256 AF:4F:8C:33:FB:A2:A3:97:B0:66:A5:8F:7C:0F:25:D8:22:E3:60:66:68:6F:C8:34:0D:02:BA:0E:22:C1:F3:B2\r\n" +
	"a=setup:actpass\r\n" +
	"a=mid:0\r\n" +
	"a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n" +
	"a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n" +
	"a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n" +
	"a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n" +
	"a=sendonly\r\n" +
	"a=msid:- 1afec13a-00d4-4a52-8e73-c2c2d883919e\r\n" +
	"a=rtcp-mux\r\n" +
	"a=rtcp-rsize\r\n" +
	"a=rtcp-xr:rcvr-rtt=all\r\n" +
	"a=rtpmap:111 opus/48000/2\r\n" +
	"a=rtcp-fb:111 transport-cc\r\n" +
	"a=fmtp:111 minptime=10;useinbandfec=1\r\n" +
	"a=rtpmap:63 red/48000/2\r\n" +
	"a=fmtp:63 111/111\r\n" +
	"a=rtpmap:9 G722/8000\r\n" +
	"a=rtpmap:0 PCMU/8000\r\n" +
	"a=rtpmap:8 PCMA/8000\r\n" +
	"a=rtpmap:13 CN/8000\r\n" +
	"a=rtpmap:110 telephone-event/48000\r\n" +
	"a=rtpmap:126 telephone-event/8000\r\n" +
	"a=ssrc:2229611527 cname:Qp8kAjiKg4aQdzT3\r\n" +
	"a=ssrc:2229611527 msid:- 1afec13a-00d4-4a52-8e73-c2c2d883919e\r\n"

// The SFU's answer to Chromium keeps Opus with FEC, asks for DTX, and accepts the audio
// level extension at the id Chromium chose.
func TestChromiumAudioOfferAnswer(t *testing.T) {
	verifyNoLeaks(t)
	room := loopbackRoom(t, "chromium")
	answers := make(chan string, 1)
	peer, err := room.Join("chrome", true, PeerEvents{
		SendSDP: func(typ, pc, sdp string, _ map[string]TrackInfo) {
			if typ == "answer" && pc == Up {
				answers <- sdp
			}
		},
		SendCandidate: func(string, webrtc.ICECandidateInit) {},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := peer.HandleOffer(chromiumAudioOffer, map[string]string{"1afec13a-00d4-4a52-8e73-c2c2d883919e": SourceMicrophone}); err != nil {
		t.Fatalf("HandleOffer: %v", err)
	}
	answer := <-answers
	fmtp := opusFmtpOf(answer)
	for _, want := range []string{"minptime=10", "useinbandfec=1", "usedtx=1"} {
		if !strings.Contains(fmtp, want) {
			t.Errorf("answer's Opus fmtp %q lacks %s", fmtp, want)
		}
	}
	if !strings.Contains(answer, "a=extmap:1 "+audioLevelURI) {
		t.Errorf("answer does not accept the audio level extension at id 1:\n%s", answer)
	}
}

// BenchmarkObserveLevel is the speaker detection's cost per forwarded audio packet.
func BenchmarkObserveLevel(b *testing.B) {
	p := &Publication{}
	p.levels.started = true
	p.levels.id.Store(1)
	src := &rtp.Packet{Header: rtp.Header{Version: 2}, Payload: make([]byte, 80)}
	if err := src.SetExtension(3, []byte{1, 2, 3}); err != nil {
		b.Fatal(err)
	}
	if err := src.SetExtension(1, []byte{0x80 | 30}); err != nil {
		b.Fatal(err)
	}
	raw, err := src.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	var pkt rtp.Packet
	if err := pkt.Unmarshal(raw); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		p.observeLevel(&pkt)
	}
	if p.levels.loud.Load() == 0 {
		b.Fatal("no loud packet counted")
	}
}

// A microphone whose audio level extension id cannot be found yet (its negotiation is not
// applied) is looked up again at the next tick, not given up.
func TestSpeakerWatchRetriesTheLevelID(t *testing.T) {
	owner := &Peer{ID: "p1", log: slog.New(slog.DiscardHandler)} // no up connection yet: no id
	pub := &Publication{Owner: owner, kind: webrtc.RTPCodecTypeAudio, closed: make(chan struct{})}
	w := &speakerWatch{pubs: map[*Publication]bool{pub: false}}
	d := newSpeakerDetector(time.Now)
	for range 3 {
		w.sample(d)
		w.mu.Lock()
		resolved := w.pubs[pub]
		w.mu.Unlock()
		if resolved {
			t.Fatal("the id was taken as known while the lookup found none")
		}
	}
	if id := pub.levels.id.Load(); id != 0 {
		t.Fatalf("id %d without a negotiation", id)
	}
}
