package bwe

import (
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

func TestTWCCNumbererStampsWithoutAllocating(t *testing.T) {
	est := NewEstimators(Config{}).newEstimator()
	i, err := estimatorFactory{est.owner}.NewInterceptor("x")
	if err != nil {
		t.Fatal(err)
	}
	info := &interceptor.StreamInfo{SSRC: 1, RTPHeaderExtensions: []interceptor.RTPHeaderExtension{{URI: transportCCURI, ID: 3}}}
	var got []uint16
	buf := make([]byte, 100)
	w := i.BindLocalStream(info, interceptor.RTPWriterFunc(func(h *rtp.Header, p []byte, _ interceptor.Attributes) (int, error) {
		var e rtp.TransportCCExtension
		if err := e.Unmarshal(h.GetExtension(3)); err != nil {
			t.Fatal(err)
		}
		if got != nil {
			got = append(got, e.TransportSequence)
		}
		if _, err := h.MarshalTo(buf); err != nil {
			t.Fatal(err)
		}
		return len(p), nil
	}))
	h := &rtp.Header{Version: 2, SSRC: 1}
	payload := make([]byte, 100)
	if allocs := testing.AllocsPerRun(100, func() { _, _ = w.Write(h, payload, nil) }); allocs > 0 {
		t.Errorf("%.1f allocations per packet", allocs)
	}
	if h.Extension || h.Extensions != nil {
		t.Errorf("the caller's header keeps the extension: %+v", h)
	}
	got = []uint16{}
	for range 3 {
		if _, err := w.Write(h, payload, nil); err != nil {
			t.Fatal(err)
		}
	}
	// A packet with an extension of its own gets ours added.
	if err := h.SetExtension(7, []byte{1}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(h, payload, nil); err != nil {
		t.Fatal(err)
	}
	if want := []uint16{101, 102, 103, 104}; len(got) != 4 || got[0] != want[0] || got[3] != want[3] {
		t.Errorf("sequence numbers %v, want %v", got, want)
	}
	if len(h.GetExtension(7)) != 1 {
		t.Error("the packet's own extension was lost")
	}
	// Every packet is in the history with its size on the wire: the 12-byte header, the
	// extension (4 bytes of profile and length, 3 of element, 1 of padding), the payload,
	// the SRTP tag.
	p := est.owner.byID["x"].hist.ring[101]
	if !p.used || p.seq != 101 || p.size != 12+8+100+srtpTagBytes {
		t.Errorf("history of packet 101: %+v", p)
	}
	// A padding-only packet (a probe's) counts its padding.
	ph := &rtp.Header{Version: 2, SSRC: 1, Padding: true, PaddingSize: 200}
	if _, err := w.Write(ph, nil, nil); err != nil {
		t.Fatal(err)
	}
	if p := est.owner.byID["x"].hist.ring[105]; !p.used || p.seq != 105 || p.size != 12+8+200+srtpTagBytes {
		t.Errorf("history of the padding packet 105: %+v", p)
	}
	// The allocation count also holds inside a probe cluster.
	got, h = nil, &rtp.Header{Version: 2, SSRC: 1}
	id := est.owner.byID["x"].BeginProbe()
	if allocs := testing.AllocsPerRun(100, func() { _, _ = w.Write(h, payload, nil) }); allocs > 0 {
		t.Errorf("%.1f allocations per packet in a probe", allocs)
	}
	est.owner.byID["x"].EndProbe(id)
	if p := est.owner.byID["x"].hist.ring[110]; p.cluster != uint16(id) {
		t.Errorf("packet in cluster %d, want %d", p.cluster, id)
	}
}

// BenchmarkSendPacket is the per-packet cost of stamping and noting a packet as sent.
func BenchmarkSendPacket(b *testing.B) {
	ests := NewEstimators(Config{})
	i, err := estimatorFactory{ests}.NewInterceptor("x")
	if err != nil {
		b.Fatal(err)
	}
	info := &interceptor.StreamInfo{SSRC: 1, RTPHeaderExtensions: []interceptor.RTPHeaderExtension{{URI: transportCCURI, ID: 3}}}
	w := i.BindLocalStream(info, interceptor.RTPWriterFunc(func(_ *rtp.Header, p []byte, _ interceptor.Attributes) (int, error) {
		return len(p), nil
	}))
	h := &rtp.Header{Version: 2, SSRC: 1}
	payload := make([]byte, 1100)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = w.Write(h, payload, nil)
	}
}
