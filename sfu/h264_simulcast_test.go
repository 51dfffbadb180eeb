package sfu

import (
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
)

// h264Fmtp is what browsers that only offer H.264 send: constrained baseline, FU-A.
const h264Fmtp = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"

// h264Fill is the byte every NAL unit of layer i is filled with, so a viewer can tell the
// layer of any packet, a fragment included (no zero bytes: no start code can appear).
func h264Fill(i int) byte { return 0x50 + byte(i) }

// h264Publisher sends a camera in H.264 simulcast layers with rids, as a browser that only
// offers H.264 does: each layer its own sequence numbers and clock, a frame every 20 ms
// packetised by Pion's H264 payloader (keyframes SPS, PPS and an IDR slice, so STAP-A then
// FU-A; other frames one non-IDR slice). Keyframes come at the start, five frames after a
// request (PLI), and when a layer starts again; it stops a layer the SFU says nobody needs.
type h264Publisher struct {
	*simulcastSender
}

func (c *rtcClient) publishH264Simulcast(t *testing.T, rids []string) *h264Publisher {
	t.Helper()
	p := &h264Publisher{c.newSimulcastSender(t, rids, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: h264Fmtp})}
	p.publish(t, nil, p.run)
	return p
}

// h264Frame is one frame of layer i in Annex B: SPS, PPS and an IDR slice for a keyframe,
// a non-IDR slice otherwise; sizes so the layers are about 100, 350 and 900 kbps.
func h264Frame(i int, key bool) []byte {
	nal := func(hdr byte, n int) []byte {
		b := append([]byte{0, 0, 0, 1, hdr}, make([]byte, n)...)
		for j := 5; j < len(b); j++ {
			b[j] = h264Fill(i)
		}
		return b
	}
	size := []int{250, 850, 2200}[min(i, 2)] // the top layer's frames span two packets
	if !key {
		return nal(0x41, size) // non-IDR slice, nal_ref_idc 2
	}
	out := nal(0x67, 8)                      // SPS
	out = append(out, nal(0x68, 4)...)       // PPS
	return append(out, nal(0x65, size*2)...) // IDR slice
}

func (p *h264Publisher) run() {
	n := len(p.rids)
	seq := make([]uint16, n)
	ts := make([]uint32, n)
	pay := make([]codecs.H264Payloader, n)
	keyAt := make([]int, n) // the frame a keyframe asked for comes at (0: none asked)
	for i := range n {
		seq[i] = uint16(60000 + 2000*i) // each layer its own numbering, wrapping soon
		ts[i] = uint32(i)*1_000_000_007 + 0xfff00000
	}
	p.sendFrames(20*time.Millisecond, func(frame, i int, elapsed uint32, resumed bool) bool {
		// An encoder answers a keyframe request a few frames later: the frames between
		// are delta frames a viewer waiting to switch must let pass.
		if p.plis[i].Swap(false) && keyAt[i] == 0 {
			keyAt[i] = frame + 5
		}
		key := frame == 0 || resumed || (keyAt[i] != 0 && frame >= keyAt[i])
		if key {
			keyAt[i] = 0
		}
		payloads := pay[i].Payload(1200, h264Frame(i, key))
		for j, payload := range payloads {
			h := rtp.Header{Version: 2, Marker: j == len(payloads)-1, SequenceNumber: seq[i], Timestamp: ts[i] + elapsed, PayloadType: 102}
			if !p.write(i, h, payload) {
				return false
			}
			seq[i]++
		}
		return true
	})
}

// h264Got is an H.264 packet a viewer received.
type h264Got struct {
	seq    uint16
	ts     uint32
	marker bool
	layer  int  // from the fill byte; -1 if unreadable
	sps    bool // starts with the parameter sets (a STAP-A with an SPS)
	nal    byte // NAL unit type (24 STAP-A, 28 FU-A)
}

type h264Recorder struct {
	videoLog[h264Got]
	mimes map[string]bool // guarded by mu
}

func (c *rtcClient) recordH264() *h264Recorder {
	r := &h264Recorder{mimes: map[string]bool{}}
	logVideo(c, &r.videoLog, func(tr *webrtc.TrackRemote, pkt *rtp.Packet) h264Got {
		g := h264Got{seq: pkt.SequenceNumber, ts: pkt.Timestamp, marker: pkt.Marker, layer: -1}
		if p := pkt.Payload; len(p) > 4 {
			g.nal = p[0] & 0x1f
			fill := p[1]
			switch g.nal {
			case 24: // STAP-A: size (2), then the first NAL's header and its fill
				fill = p[4]
				g.sps = p[3]&0x1f == 7
			case 28: // FU-A: indicator, header, then the fill
				fill = p[2]
			}
			if l := int(fill) - 0x50; l >= 0 && l < 3 {
				g.layer = l
			}
		}
		r.mimes[tr.Codec().MimeType] = true
		return g
	})
	return r
}

// lastLayer is the layer of the last n packets (-2 if they differ or are fewer).
func (r *h264Recorder) lastLayer(n int) int {
	return lastLayerOf(r.snapshot(), n, func(g h264Got) int { return g.layer })
}

// checkH264Continuous asserts what a decoder needs of a viewer's H.264 stream across layer
// switches: sequence numbers without a gap; timestamps that never go back, equal within a
// frame and a little later at each new frame; and every switch to another layer made where
// that layer's keyframe starts, with its parameter sets (a STAP-A with an SPS), so the
// decoder has the new resolution's SPS and PPS before the IDR. It returns the switches.
func checkH264Continuous(t *testing.T, pkts []h264Got) (switches int) {
	t.Helper()
	if len(pkts) == 0 {
		t.Fatal("no video received")
	}
	if !pkts[0].sps {
		t.Errorf("the video starts with NAL type %d, not the parameter sets", pkts[0].nal)
	}
	for i := 1; i < len(pkts); i++ {
		a, b := pkts[i-1], pkts[i]
		if b.layer < 0 {
			t.Errorf("packet %d: unreadable layer", i)
			continue
		}
		if b.layer != a.layer {
			switches++
			if !b.sps {
				t.Errorf("packet %d: switched from layer %d to %d on NAL type %d, not at the parameter sets of a keyframe", i, a.layer, b.layer, b.nal)
			}
		}
		if b.seq != a.seq+1 {
			t.Errorf("packet %d (layer %d→%d): sequence number %d after %d", i, a.layer, b.layer, b.seq, a.seq)
		}
		d := b.ts - a.ts
		switch {
		case d >= 1<<31:
			t.Errorf("packet %d (layer %d→%d): timestamp %d went back from %d", i, a.layer, b.layer, b.ts, a.ts)
		case a.marker && (d == 0 || d > 90000):
			t.Errorf("packet %d (layer %d→%d): a new frame at timestamp %d after %d", i, a.layer, b.layer, b.ts, a.ts)
		case !a.marker && b.layer == a.layer && d != 0:
			t.Errorf("packet %d (layer %d): timestamp %d within a frame at %d", i, b.layer, b.ts, a.ts)
		}
	}
	return switches
}

// TestH264Simulcast: a publisher that only offers H.264 sends three layers; the viewer gets
// H.264, follows the size it shows the camera at from the top layer down to the lowest and
// back up, switching only where a keyframe (SPS, PPS, IDR) of the new layer starts, with
// its sequence numbers and timestamps continuous; the layers nobody needs are paused
// upstream. Another viewer keeps the middle layer going, so the viewer's switches to it
// meet its delta frames first and must wait for the keyframe asked for.
func TestH264Simulcast(t *testing.T) {
	verifyNoLeaks(t)
	const sfuIP, pubIP, viewerIP, midIP = "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"
	lab, room := simulcastLab(t, "h264", sfuIP, pubIP, viewerIP, midIP)

	viewer := joinClient(t, room, lab.api(viewerIP), "viewer", false)
	rec := viewer.recordH264()
	mid := joinClient(t, room, lab.api(midIP), "mid", false) // keeps m going: its delta frames pass by
	midRec := mid.recordH264()
	pub := joinClient(t, room, lab.api(pubIP), "pub", true)
	hp := pub.publishH264Simulcast(t, []string{"l", "m", "h"})
	id := trackOf(t, viewer)
	mid.peer.SetView(trackOf(t, mid), 640, 360)
	waitFor(t, "the other viewer on m", func() bool { return midRec.lastLayer(40) == 1 })
	if d := viewer.peer.received(); len(d) != 1 || !strings.EqualFold(d[0].pub.codec.MimeType, webrtc.MimeTypeH264) {
		t.Fatalf("the publication is not H.264: %+v", d[0].pub.codec)
	}

	waitFor(t, "the viewer on h", func() bool { return rec.lastLayer(40) == 2 })
	for _, step := range []struct {
		w, h, layer int
		rid         string
	}{{320, 180, 0, "l"}, {640, 360, 1, "m"}, {1920, 1080, 2, "h"}, {300, 200, 0, "l"}} {
		viewer.peer.SetView(id, step.w, step.h)
		waitFor(t, "the viewer on "+step.rid, func() bool { return rec.lastLayer(40) == step.layer })
		for i, rid := range hp.rids {
			want := i != step.layer && i != 1 // needed: the viewer's and m
			waitFor(t, "layer "+rid+" paused upstream as needed", func() bool {
				_, off := hp.inactive.Load(rid)
				return off == want
			})
		}
	}
	rec.mu.Lock()
	if len(rec.mimes) != 1 || !rec.mimes[webrtc.MimeTypeH264] {
		t.Errorf("the viewer received %v, want H.264 only", rec.mimes)
	}
	rec.mu.Unlock()
	if sw := checkH264Continuous(t, rec.snapshot()); sw < 4 {
		t.Errorf("the viewer switched %d times, want 4 at least", sw)
	}
	checkH264Continuous(t, midRec.snapshot())
}
