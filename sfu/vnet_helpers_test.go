package sfu

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/rtp"
	"github.com/pion/transport/v5/vnet"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/puente-org/puente/pionlog"
)

// This file is the harness of the adaptive-media proofs (adaptive_vnet_test.go): a virtual
// network where every viewer sits behind its own token bucket (a link whose rate and random
// loss the test changes while media flows), an SFU that adapts to bandwidth on it, and a
// publisher of three-layer simulcast VP8 at the bitrates browsers are asked for, plus Opus.

// unshapedBps is the rate of a link the test calls unlimited: far above anything sent, but
// still a token bucket, so that the test can lower it later.
const unshapedBps = 100_000_000

// shapedLab is a virtual network in 10.0.0.0/24: the SFU and the publisher on plain
// interfaces, each viewer behind a token bucket on what it receives.
type shapedLab struct {
	t      *testing.T
	router *vnet.Router
	nets   map[string]*vnet.Net
	links  map[string]*shapedLink
}

// shapedLink is what a viewer receives through: a token bucket with a queue of about half a
// second (what does not fit is dropped, as a router's buffer does) and random loss.
type shapedLink struct {
	tbf *vnet.TBFQueue
	q   *vnet.Queue
	// lossPermille: the share of packets to the viewer dropped at random, in thousandths.
	lossPermille atomic.Int32
}

// set changes the link's rate (bps). The queue stays about half a second long.
func (s *shapedLink) set(bps int) {
	s.tbf.SetRate(bps)
	s.tbf.SetSize(queueBytes(bps))
}

func queueBytes(bps int) int64 { return max(int64(bps/16), 3000) }

// setLoss drops that share (0…1) of the packets to the viewer at random.
func (s *shapedLink) setLoss(share float64) { s.lossPermille.Store(int32(share * 1000)) }

// newShapedLab starts the router with sfuIP and pubIP unshaped and one shaped link per viewer
// address, each at its initial rate in bps (0: unlimited).
func newShapedLab(t *testing.T, sfuIP, pubIP string, viewers map[string]int) *shapedLab {
	t.Helper()
	logs := pionlog.Factory{Log: slog.New(slog.DiscardHandler)}
	r, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.0.0.0/24", MinDelay: 10 * time.Millisecond, LoggerFactory: logs})
	if err != nil {
		t.Fatal(err)
	}
	l := &shapedLab{t: t, router: r, nets: map[string]*vnet.Net{}, links: map[string]*shapedLink{}}
	newNet := func(ip string) *vnet.Net {
		n, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{ip}})
		if err != nil {
			t.Fatal(err)
		}
		l.nets[ip] = n
		return n
	}
	for _, ip := range []string{sfuIP, pubIP} {
		if err := r.AddNet(newNet(ip)); err != nil {
			t.Fatal(err)
		}
	}
	for ip, bps := range viewers {
		if bps <= 0 {
			bps = unshapedBps
		}
		link := &shapedLink{tbf: vnet.NewTBFQueue(bps, 3000, queueBytes(bps))}
		if link.q, err = vnet.NewQueue(newNet(ip), link.tbf); err != nil {
			t.Fatal(err)
		}
		if err := r.AddNet(link.q); err != nil {
			t.Fatal(err)
		}
		l.links[ip] = link
	}
	// Random loss on the way to a viewer (the router drops before the viewer's queue). The
	// viewer's own packets (its feedback and NACKs) are not dropped.
	r.AddChunkFilter(func(c vnet.Chunk) bool {
		a, ok := c.DestinationAddr().(*net.UDPAddr)
		if !ok {
			return true
		}
		link := l.links[a.IP.String()]
		if link == nil {
			return true
		}
		p := link.lossPermille.Load()
		return p <= 0 || rand.Int32N(1000) >= p
	})
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Errorf("stop router: %v", err)
		}
		for _, link := range l.links {
			if err := link.q.Close(); err != nil {
				t.Errorf("close queue: %v", err)
			}
		}
	})
	return l
}

// adaptiveSFU starts an SFU that adapts to bandwidth on ip (the shape of sfu.Config.Listen as
// vnetlab gives it), with quick keyframes and layer choices, counting into reg.
func (l *shapedLab) adaptiveSFU(ip string, reg *prometheus.Registry) *SFU {
	l.t.Helper()
	n := l.nets[ip]
	listen := func(log *slog.Logger) (webrtc.SettingEngine, Ports, io.Closer, error) {
		var se webrtc.SettingEngine
		conn, err := n.ListenPacket("udp4", net.JoinHostPort(ip, "0"))
		if err != nil {
			return se, Ports{}, nil, fmt.Errorf("listen on the virtual network: %w", err)
		}
		logs := pionlog.Factory{Log: log}
		mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{Logger: logs.NewLogger("udpmux"), UDPConn: conn, Net: n})
		se.SetNet(n)
		se.SetICEUDPMux(mux)
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
		se.LoggerFactory = logs
		return se, Ports{UDP: conn.LocalAddr().(*net.UDPAddr).Port}, mux, nil
	}
	return startSFU(l.t, Config{Logger: adaptiveTestLogger(l.t), Listen: listen, Metrics: NewMetrics(reg), AdaptToBandwidth: true,
		ICEDisconnectedTimeout: testDisconnected, ICEFailedTimeout: testFailed, ICEKeepalive: testKeepalive,
		KeyframeInterval: 200 * time.Millisecond, LayerSelectInterval: 200 * time.Millisecond})
}

// adaptiveTestLogger shows the SFU's warnings when the test runs verbose (Pion's debug lines
// would drown them).
func adaptiveTestLogger(t *testing.T) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.DiscardHandler)
	}
	level := slog.LevelWarn
	if os.Getenv("PUENTE_TEST_DEBUG") != "" { // the estimator's and the probes' decisions
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: level}))
}

// api is a Pion client on ip with Pion's default interceptors: it sends transport-cc
// feedback, receiver reports and NACKs, as a browser does; but it asks for a missing packet
// again every 100 ms for as long as the packet stays missing.
func (l *shapedLab) api(ip string) *webrtc.API { return l.apiWith(ip) }

// browserAPI is api with NACKs as libwebrtc sends them: 10 at most for one packet.
func (l *shapedLab) browserAPI(ip string) *webrtc.API {
	return l.apiWith(ip, webrtc.WithNackGeneratorOptions(nack.GeneratorMaxNacksPerPacket(10)))
}

func (l *shapedLab) apiWith(ip string, opts ...webrtc.InterceptorOption) *webrtc.API {
	l.t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		l.t.Fatal(err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptorsWithOptions(m, ir, opts...); err != nil {
		l.t.Fatal(err)
	}
	var se webrtc.SettingEngine
	se.SetNet(l.nets[ip])
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetICETimeouts(testDisconnected, testFailed, testKeepalive)
	se.LoggerFactory = pionlog.Factory{Log: slog.New(slog.DiscardHandler)}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
}

// Frames of the synthetic camera: 30 a second, the low layer one packet per frame, the mid
// two, the high six, so that with headers the layers are about 160 kbps, 510 kbps and
// 1.7 Mbps (the 320×180, 640×360 and 1280×720 a browser is asked for).
var (
	cameraPackets = [3]int{1, 2, 6}
	cameraPayload = [3]int{600, 1000, 1150}
)

const cameraFPS = 30

// cameraPublisher sends a simulcast camera (rids l, m, h) and a microphone (Opus, 20 ms
// packets) on the client's up connection. Every packet of a video frame carries its layer
// (index into rids) at the offset the recorder reads; keyframes come at the start, after
// a layer resumes, and when asked. It stops a layer the SFU says nobody needs and starts it
// again when told (the client's setParameters).
type cameraPublisher struct {
	*simulcastSender
	audio *webrtc.TrackLocalStaticRTP
}

func (c *rtcClient) publishCamera(t *testing.T) *cameraPublisher {
	t.Helper()
	audio, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		c.name+"-mic", c.name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.up.AddTrack(audio); err != nil {
		t.Fatal(err)
	}
	p := &cameraPublisher{audio: audio,
		simulcastSender: c.newSimulcastSender(t, []string{"l", "m", "h"}, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000})}
	p.publish(t, map[string]string{audio.ID(): SourceMicrophone}, p.runVideo, p.runAudio)
	return p
}

func (p *cameraPublisher) runVideo() {
	layers := vp8Layers(3, func(i int) uint16 { return uint16(4000 + 20000*i) })
	p.sendFrames(time.Second/cameraFPS, func(frame, i int, elapsed uint32, resumed bool) bool {
		key := p.plis[i].Swap(false) || frame == 0 || resumed
		// After the VP8 descriptor: a keyframe header (on a keyframe's first packet) or
		// one byte of interframe, the layer, and filler.
		bodies := make([][]byte, cameraPackets[i])
		for k := range bodies {
			body := make([]byte, 0, cameraPayload[i]+16)
			if k == 0 && key {
				body = append(body, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01)
			} else {
				body = append(body, 0x01)
			}
			body = append(body, byte(i))
			bodies[k] = append(body, make([]byte, cameraPayload[i])...)
		}
		return p.sendVP8(&layers[i], i, elapsed, bodies...)
	})
}

// runAudio sends an Opus packet of 80 bytes every 20 ms (about 45 kbps on the wire).
func (p *cameraPublisher) runAudio() {
	defer p.wg.Done()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	payload := make([]byte, 80)
	payload[0] = 0x78 // TOC: SILK+CELT 20 ms, one frame
	seq, ts := uint16(100), uint32(5000)
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		err := p.audio.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq, Timestamp: ts}, Payload: payload})
		if err != nil && !errors.Is(err, io.ErrClosedPipe) {
			return
		}
		seq++
		ts += 960
	}
}

// waitInactive waits (up to limit) until the SFU told the publisher a layer's state.
func (p *cameraPublisher) waitInactive(t *testing.T, rid string, inactive bool, limit time.Duration) {
	t.Helper()
	waitUpTo(t, limit, fmt.Sprintf("layer %q inactive=%v", rid, inactive), func() bool {
		p.layerState()
		return p.isInactive(rid) == inactive
	})
}

// waitUpTo polls cond until it holds, failing the test after limit (a bound on giving up,
// never a speed requirement).
func waitUpTo(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// heard is an audio packet a viewer received, and when.
type heard struct {
	seq uint16
	at  time.Time
}

// viewer is a client that receives, with everything it gets recorded: the video packets
// (the recorder of simulcast_test.go) and the audio packets.
type viewer struct {
	*rtcClient
	video   *recorder
	mu      sync.Mutex
	audio   []heard
	videoAt []time.Time // when each packet the recorder holds arrived, in the same order
}

func joinViewer(t *testing.T, room *Room, api *webrtc.API, name string) *viewer {
	t.Helper()
	v := &viewer{rtcClient: joinClient(t, room, api, name, false)}
	v.video = v.record()
	videoF := *v.onRTP.Load()
	f := func(tr *webrtc.TrackRemote, pkt *rtp.Packet) {
		if tr.Kind() == webrtc.RTPCodecTypeAudio {
			v.mu.Lock()
			v.audio = append(v.audio, heard{seq: pkt.SequenceNumber, at: time.Now()})
			v.mu.Unlock()
			return
		}
		// One reader per track, and one video track: the recorder's order is this order.
		videoF(tr, pkt)
		v.mu.Lock()
		v.videoAt = append(v.videoAt, time.Now())
		v.mu.Unlock()
	}
	v.onRTP.Store(&f)
	return v
}

func (v *viewer) audioSince(from time.Time) []heard {
	v.mu.Lock()
	defer v.mu.Unlock()
	i, _ := slices.BinarySearchFunc(v.audio, from, func(h heard, t time.Time) int { return h.at.Compare(t) })
	return slices.Clone(v.audio[i:])
}

// videoSnapshot is the video packets received so far and when each arrived.
func (v *viewer) videoSnapshot() ([]got, []time.Time) {
	pkts := v.video.snapshot()
	v.mu.Lock()
	at := slices.Clone(v.videoAt)
	v.mu.Unlock()
	n := min(len(pkts), len(at))
	return pkts[:n], at[:n]
}

// layer is the layer the SFU says the viewer gets for its one video track ("" before it
// has one).
func (v *viewer) layer() string {
	for _, l := range v.peer.Stats().Layers {
		return l
	}
	return ""
}

// settledOn: the SFU says the viewer gets layer, and the last 3 frames' worth of packets came
// from it.
func (v *viewer) settledOn(layer int) bool {
	return v.layer() == layerName(layer) && v.video.lastLayer(3*cameraPackets[layer]) == layer
}

// unwrapped is a received video packet with its sequence number extended past 16 bits.
type unwrapped struct {
	got
	n  int64
	at int // index in the order of arrival
}

// unwrapSeqs is each packet's sequence number, in the order of arrival, extended past 16
// bits (a packet is placed next to the newest one before it).
func unwrapSeqs(pkts []got) []int64 {
	out := make([]int64, len(pkts))
	var newest int64
	for i, g := range pkts {
		n := int64(g.seq)
		if i > 0 {
			n = newest + int64(int16(g.seq-uint16(newest)))
		}
		if i == 0 || n > newest {
			newest = n
		}
		out[i] = n
	}
	return out
}

// inSeqOrder is the packets received, each once (retransmissions that came twice dropped),
// in the order of their sequence numbers.
func inSeqOrder(pkts []got) []unwrapped {
	ns := unwrapSeqs(pkts)
	out := make([]unwrapped, 0, len(pkts))
	for i, g := range pkts {
		out = append(out, unwrapped{got: g, n: ns[i], at: i})
	}
	slices.SortStableFunc(out, func(a, b unwrapped) int { return int(a.n - b.n) })
	return slices.CompactFunc(out, func(a, b unwrapped) bool { return a.n == b.n })
}

// checkSeamless asserts what a decoder needs across layer switches, whatever was lost on
// the way: in sequence-number order, timestamps never go back and advance at most by the
// time the missing packets could have taken, or by the time that passed between their
// arrivals (the video may have been paused); the picture id stays on a frame or moves to
// the next one (one step per missing frame at most), never jumps; and a switch to another
// layer, seen without a packet missing in between, starts with a keyframe. It returns the
// number of switches and the packets that never arrived.
func checkSeamless(t *testing.T, pkts []got, arrived []time.Time) (switches, missing int) {
	t.Helper()
	ord := inSeqOrder(pkts)
	// A probe's padding takes sequence numbers between media packets and carries the last
	// timestamp sent (of a packet that may have been lost on the way): it continues the
	// layer of the packet before it, and the time allowed between timestamps counts from
	// that packet's arrival; it has no picture id to check. Padding after a packet that
	// never arrived is blind: the lost packet may have been the keyframe of another layer,
	// whose delta frames come after the padding.
	blind := make([]bool, len(ord))
	for j := 1; j < len(ord); j++ {
		if ord[j].padding {
			p := ord[j-1]
			ord[j].layer, ord[j].key, ord[j].descriptor, ord[j].at = p.layer, false, false, p.at
			blind[j] = ord[j].n-p.n > 1 || blind[j-1]
		}
	}
	const perPacket = 90000 / cameraFPS // a lost packet is at most a whole frame
	errs := 0
	var i int
	fail := func(format string, args ...any) {
		if errs++; errs <= 10 {
			t.Errorf(format, args...)
			for _, u := range ord[max(i-4, 0):min(i+4, len(ord))] {
				t.Logf("  seq %d (arrived %d. at %s) ts %d pic %d layer %d key %v", u.seq, u.at, arrived[u.at].Format("15:04:05.000"), u.ts, u.pic, u.layer, u.key)
			}
		}
	}
	for i = 1; i < len(ord); i++ {
		a, b := ord[i-1], ord[i]
		gap := b.n - a.n
		if gap > 1000 {
			fail("sequence number jumps by %d (%d → %d, layer %d→%d)", gap, a.seq, b.seq, a.layer, b.layer)
			continue
		}
		missing += int(gap - 1)
		d := b.ts - a.ts
		if int32(d) < 0 {
			fail("timestamp goes back: %d after %d (seq %d→%d, layer %d→%d)", b.ts, a.ts, a.seq, b.seq, a.layer, b.layer)
		} else if int64(d) > (gap+1)*perPacket+90000/2+int64(arrived[b.at].Sub(arrived[a.at]).Abs()*90000/time.Second) {
			fail("timestamp jumps by %d ticks over %d packets (seq %d→%d, layer %d→%d)", d, gap, a.seq, b.seq, a.layer, b.layer)
		}
		if a.descriptor && b.descriptor {
			step := int64((b.pic - a.pic) & 0x7fff)
			if step > gap || (d == 0) != (step == 0) {
				fail("picture id %d after %d over %d packets, timestamps %d→%d (layer %d→%d)", b.pic, a.pic, gap, a.ts, b.ts, a.layer, b.layer)
			}
		}
		if b.layer != a.layer {
			switches++
			t.Logf("switch %d: layer %d → %d at seq %d (arrived %s)", switches, a.layer, b.layer, b.seq, arrived[b.at].Format("15:04:05.000"))
			if gap == 1 && !blind[i-1] && !b.key {
				fail("switched from layer %d to %d on a delta frame (seq %d)", a.layer, b.layer, b.seq)
			}
		}
	}
	if errs > 10 {
		t.Errorf("… and %d more discontinuities", errs-10)
	}
	return switches, missing
}

// counter is the value of one of the SFU's counters (summed over labels).
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var v float64
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if c := m.GetCounter(); c != nil {
				v += c.GetValue()
			}
			if g := m.GetGauge(); g != nil {
				v += g.GetValue()
			}
		}
	}
	return v
}
