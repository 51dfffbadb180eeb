package sfu

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// captureWriter keeps every packet a DownTrack writes.
type captureWriter struct{ pkts []rtp.Packet }

func (w *captureWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	w.pkts = append(w.pkts, rtp.Packet{Header: *h, Payload: slices.Clone(payload)})
	return h.MarshalSize() + len(payload), nil
}

func (w *captureWriter) Write([]byte) (int, error) { return 0, nil }

// captureContext binds a DownTrack to a captureWriter.
type captureContext struct {
	*benchTrackContext
	w *captureWriter
}

func (c captureContext) WriteStream() webrtc.TrackLocalWriter { return c.w }

// vp8Packet is a one-packet VP8 frame of a layer with a 15-bit picture id and TL0PICIDX;
// its last payload byte is the layer.
func vp8Packet(t *testing.T, layer int, seq uint16, ts uint32, pic uint16, tl0 uint8, key bool) (*rtp.Packet, []byte) {
	t.Helper()
	payload := []byte{0x90, 0xc0, 0x80 | byte(pic>>8), byte(pic), tl0, 0x01}
	if key {
		payload = append(payload[:5], 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01)
	}
	payload = append(payload, byte(layer))
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, SSRC: uint32(100 + layer), PayloadType: 96}, Payload: payload}
	raw, err := pkt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return pkt, raw
}

// TestLayerSwitchRewrite: a viewer moves from the low to the high layer at the high
// layer's keyframe (not before); its sequence numbers, picture ids and TL0PICIDX go on
// by one, its timestamps go on; retransmissions come from the right layer with the
// numbering the packets had, and only from the switch's keyframe on.
func TestLayerSwitchRewrite(t *testing.T) {
	pub := benchPublication()
	pub.simulcast = true
	low := &layer{pub: pub, idx: layerLow, cache: &packetCache{}, created: time.Now().UnixNano()}
	low.active.Store(true)
	pub.layers[layerLow].Store(low)
	high := pub.layer(layerHigh)
	viewer := &Peer{ID: "viewer", room: pub.Owner.room}
	d := newDownTrack(pub, viewer)
	w := &captureWriter{}
	if _, err := d.Bind(captureContext{&benchTrackContext{ssrc: 0x5555, codecs: benchCodecs}, w}); err != nil {
		t.Fatal(err)
	}
	pub.addDown(d)
	d.setTarget(layerLow, false)

	now := time.Now().UnixNano()
	var pkt rtp.Packet
	send := func(l *layer, layer int, seq uint16, ts uint32, pic uint16, tl0 uint8, key bool) int {
		now += int64(10 * time.Millisecond)
		_, raw := vp8Packet(t, layer, seq, ts, pic, tl0, key)
		return l.forwardPacket(&pkt, raw, now)
	}
	if send(low, 0, 99, 1000, 9, 200, false) != 0 {
		t.Fatal("a delta frame started the viewer")
	}
	for i := range 5 {
		if send(low, 0, 100+uint16(i), 1000+uint32(i)*900, 10+uint16(i), 201+uint8(i), i == 0) != 1 {
			t.Fatalf("low packet %d not sent", i)
		}
		send(high, 2, 5000+uint16(i), 7_000_000+uint32(i)*900, 3000+uint16(i), 40+uint8(i), false)
	}
	d.setTarget(layerHigh, false)
	pub.updateNeeded() // as the viewer's selection does: the high layer is needed again
	if send(high, 2, 5005, 7_004_500, 3005, 45, false) != 0 || send(low, 0, 105, 5500, 15, 206, false) != 1 {
		t.Fatal("the viewer left the low layer before the high layer's keyframe")
	}
	for i := range 4 {
		if send(high, 2, 5006+uint16(i), 7_005_400+uint32(i)*900, 3006+uint16(i), 46+uint8(i), i == 0) != 1 {
			t.Fatalf("high packet %d not sent", i)
		}
		if send(low, 0, 106+uint16(i), 6400+uint32(i)*900, 16+uint16(i), 207+uint8(i), false) != 0 {
			t.Fatal("the low layer was still sent after the switch")
		}
	}
	if d.cur.Load() != layerHigh {
		t.Fatalf("current layer %d", d.cur.Load())
	}
	check := func(pkts []rtp.Packet) {
		t.Helper()
		for i := 1; i < len(pkts); i++ {
			a, b := &pkts[i-1], &pkts[i]
			pa, ta, _ := vp8Indices(a.Payload)
			pb, tb, _ := vp8Indices(b.Payload)
			if b.SequenceNumber != a.SequenceNumber+1 || pb != (pa+1)&0x7fff || tb != (ta+1)&0xff || b.Timestamp-a.Timestamp-1 >= 90000 {
				t.Errorf("packet %d: seq %d→%d, picture id %d→%d, tl0 %d→%d, ts %d→%d", i,
					a.SequenceNumber, b.SequenceNumber, pa, pb, ta, tb, a.Timestamp, b.Timestamp)
			}
			if b.SSRC != 0x5555 {
				t.Errorf("packet %d: ssrc %x", i, b.SSRC)
			}
		}
	}
	sent := slices.Clone(w.pkts)
	if len(sent) != 10 || sent[6].Payload[len(sent[6].Payload)-1] != 2 || sent[5].Payload[len(sent[5].Payload)-1] != 0 {
		t.Fatalf("%d packets sent", len(sent))
	}
	check(sent)
	// From before the switch: of no use to the viewer's decoder, which went on from the
	// keyframe; and the link that made it switch down may be congested.
	if d.resend(sent[2].SequenceNumber) {
		t.Fatal("a packet from before the switch's keyframe was sent again")
	}
	for _, i := range []int{6, 7} {
		if !d.resend(sent[i].SequenceNumber) {
			t.Fatalf("packet %d not sent again", i)
		}
		again := w.pkts[len(w.pkts)-1]
		if again.SequenceNumber != sent[i].SequenceNumber || again.Timestamp != sent[i].Timestamp || !slices.Equal(again.Payload, sent[i].Payload) {
			t.Fatalf("packet %d sent again as %+v %x, first as %+v %x", i, again.Header, again.Payload, sent[i].Header, sent[i].Payload)
		}
	}
	if d.resend(sent[9].SequenceNumber + 1) {
		t.Fatal("a packet never sent was sent")
	}
}

// TestGreedyAllocator: screens first, then cameras, each the largest layer that fits and
// its display size allows; a camera that cannot have its lowest layer is paused.
func TestGreedyAllocator(t *testing.T) {
	tracks := []TrackDemand{
		{ID: "cam", Bitrates: [3]int{150_000, 500_000, 1_700_000}, MaxLayer: layerHigh},
		{ID: "screen", Screen: true, Bitrates: [3]int{0, 0, 1_000_000}, MaxLayer: layerHigh},
		{ID: "small", Bitrates: [3]int{150_000, 500_000, 1_700_000}, MaxLayer: layerLow},
		{ID: "single", Bitrates: [3]int{0, 0, 800_000}, MaxLayer: layerLow},
		{ID: "hidden", Bitrates: [3]int{150_000, 500_000, 1_700_000}, MaxLayer: layerPaused},
	}
	for _, c := range []struct {
		estimate int
		want     map[string]int
	}{
		{unlimitedBps, map[string]int{"cam": 2, "screen": 2, "small": 0, "single": 2, "hidden": -1}},
		{1_000_000 + 48_000 + 150_000 + 500_000 + 150_000, map[string]int{"cam": 1, "screen": 2, "small": 0, "single": -1, "hidden": -1}},
		{100_000, map[string]int{"cam": -1, "screen": -1, "small": -1, "single": -1, "hidden": -1}},
	} {
		got := greedyAllocator{}.Allocate(c.estimate, 48_000, tracks)
		for id, l := range c.want {
			if got[id] != l {
				t.Errorf("estimate %d: %s on %d, want %d", c.estimate, id, got[id], l)
			}
		}
	}
}

// TestResendBounds: a packet is sent again at most maxResends times, resendGap apart; a
// packet that takes its slot later starts afresh.
func TestResendBounds(t *testing.T) {
	d := &DownTrack{}
	now := time.Unix(1000, 0).UnixNano()
	for i := range maxResends {
		if !d.mayResend(7, now) {
			t.Fatalf("resend %d refused", i+1)
		}
		d.resent(7, now)
		if d.mayResend(7, now+int64(resendGap)/2) {
			t.Fatalf("resend %d allowed again within %v", i+1, resendGap/2)
		}
		now += int64(resendGap)
	}
	if d.mayResend(7, now+int64(time.Second)) {
		t.Errorf("a %dth resend allowed", maxResends+1)
	}
	if !d.mayResend(7+resendMarks, now) {
		t.Error("another packet in the same slot refused")
	}
}

// TestLateLayerIsAnnounced: a layer whose first packets come after the publisher was last
// told what is needed (so the message did not name it) is named as soon as it appears, and
// the publisher stops encoding it when nobody needs it.
func TestLateLayerIsAnnounced(t *testing.T) {
	pub := benchPublication()
	pub.simulcast = true
	pub.Owner.pubs[pub.Source] = pub
	var told []map[string]bool
	pub.Owner.ev.LayersChanged = func(_ string, active map[string]bool) { told = append(told, maps.Clone(active)) }
	d, _ := benchViewer(t, pub, 0)
	d.setTarget(layerHigh, false)
	pub.announceNeeded(true) // as a new publication does
	if len(told) != 1 || !told[0][""] {
		t.Fatalf("told %v, want the high layer on", told)
	}
	mid := &layer{pub: pub, idx: layerMid, rid: "m", cache: &packetCache{}, created: time.Now().UnixNano()}
	mid.active.Store(true)
	pub.layers[layerMid].Store(mid)
	n := len(told)
	pub.updateNeeded()
	if len(told) == n {
		t.Fatal("the mid layer appeared and nothing was said of it")
	}
	if on, ok := told[len(told)-1]["m"]; !ok || on {
		t.Errorf("told %v, want m off", told[len(told)-1])
	}
	n = len(told)
	pub.updateNeeded()
	if len(told) != n {
		t.Errorf("said again with nothing changed: %v", told[n:])
	}
}
