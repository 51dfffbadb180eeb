package bwe

import (
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

func TestTWCCNumbererStampsWithoutAllocating(t *testing.T) {
	i, err := twccNumberer{}.NewInterceptor("")
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
}
