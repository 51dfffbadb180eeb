package sfu

import (
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

func TestNTPTime(t *testing.T) {
	for _, c := range []struct {
		t    time.Time
		want uint64
	}{
		{time.Unix(0, 0), 2_208_988_800 << 32},
		{time.Unix(1, int64(time.Second/2)), (2_208_988_801 << 32) | 1<<31},
		{time.Unix(1_800_000_000, int64(time.Second/4)), (1_800_000_000+2_208_988_800)<<32 | 1<<30},
	} {
		if got := ntpTime(c.t); got != c.want {
			t.Errorf("ntpTime(%v) = %#x, want %#x", c.t, got, c.want)
		}
	}
}

// heardReport is a sender report as the viewer read it, with what it had received of the
// track's RTP by then.
type heardReport struct {
	sr       rtcp.SenderReport
	at       time.Time
	received int64  // packets of the track received so far
	lastTS   uint32 // the newest timestamp received
	octets   int64  // payload octets received so far
}

// TestSenderReports: a viewer gets a sender report for its video about once a second, made
// by the SFU itself (not by a report interceptor, which a down connection no longer has):
// for the track's SSRC, with counts that match what the viewer received, an NTP time that
// is now, and an RTP time that maps the track's clock to it (the newest timestamp received
// plus at most a frame or two, and advancing at 90 kHz from report to report).
func TestSenderReports(t *testing.T) {
	verifyNoLeaks(t)
	const sfuIP, pubIP, viewerIP = "10.0.0.1", "10.0.0.2", "10.0.0.3"
	lab := newVnetLab(t, sfuIP, pubIP, viewerIP)
	s := lab.sfu(sfuIP)
	room := s.NewRoom("reports")
	t.Cleanup(room.Close)

	viewer := joinClient(t, room, lab.api(viewerIP), "viewer", false)
	var mu sync.Mutex
	var received, octets int64
	var lastTS uint32
	var ssrc webrtc.SSRC
	f := func(tr *webrtc.TrackRemote, pkt *rtp.Packet) {
		mu.Lock()
		defer mu.Unlock()
		if received == 0 || isNewerTS(pkt.Timestamp, lastTS) {
			lastTS = pkt.Timestamp
		}
		received++
		octets += int64(len(pkt.Payload))
		ssrc = tr.SSRC()
	}
	viewer.onRTP.Store(&f)
	pub := joinClient(t, room, lab.api(pubIP), "pub", true)
	pub.publishVideo(t)
	viewer.moreReceived(t, 20)

	var receiver *webrtc.RTPReceiver
	for _, r := range viewer.down.GetReceivers() {
		if tr := r.Track(); tr != nil && tr.Kind() == webrtc.RTPCodecTypeVideo {
			receiver = r
		}
	}
	if receiver == nil {
		t.Fatal("the viewer has no video receiver")
	}
	heard := make(chan heardReport, 16)
	go func() {
		for {
			pkts, _, err := receiver.ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				if sr, ok := p.(*rtcp.SenderReport); ok {
					mu.Lock()
					h := heardReport{sr: *sr, at: time.Now(), received: received, lastTS: lastTS, octets: octets}
					mu.Unlock()
					select {
					case heard <- h:
					default:
					}
				}
			}
		}
	}()

	var reports []heardReport
	deadline := time.After(10 * time.Second)
	for len(reports) < 4 {
		select {
		case h := <-heard:
			reports = append(reports, h)
		case <-deadline:
			t.Fatalf("%d sender reports in 10 s, want 4", len(reports))
		}
	}
	mu.Lock()
	wantSSRC := uint32(ssrc)
	mu.Unlock()
	for i, h := range reports {
		sr := h.sr
		if sr.SSRC != wantSSRC {
			t.Errorf("report %d: SSRC %d, the track's is %d", i, sr.SSRC, wantSSRC)
		}
		// Packets go out every 10 ms; the viewer reads RTP and RTCP on separate goroutines,
		// so either may be ahead of the other by a few packets on a busy machine. A report
		// that counted twice, or missed a second's packets, is off by 100.
		const slack = 25
		if d := int64(sr.PacketCount) - h.received; d < -slack || d > slack {
			t.Errorf("report %d: %d packets, the viewer had received %d", i, sr.PacketCount, h.received)
		}
		if h.received > 0 {
			perPacket := float64(h.octets) / float64(h.received)
			if d := int64(sr.OctetCount) - h.octets; float64(d) < -slack*perPacket || float64(d) > slack*perPacket {
				t.Errorf("report %d: %d octets, the viewer had received %d", i, sr.OctetCount, h.octets)
			}
		}
		ntp := time.Unix(int64(sr.NTPTime>>32)-2_208_988_800, int64((sr.NTPTime&0xffffffff)*uint64(time.Second)>>32))
		if d := h.at.Sub(ntp); d < -100*time.Millisecond || d > 500*time.Millisecond {
			t.Errorf("report %d: NTP time %v, read at %v", i, ntp, h.at)
		}
		// The RTP time is the newest frame's timestamp moved on to now: within the same
		// slack of the newest received (900 ticks a frame).
		if d := int32(sr.RTPTime - h.lastTS); d < -slack*900 || d > slack*900 {
			t.Errorf("report %d: RTP time %d, the newest timestamp received %d", i, sr.RTPTime, h.lastTS)
		}
		if i == 0 {
			continue
		}
		prev := reports[i-1].sr
		secs := float64(sr.NTPTime-prev.NTPTime) / (1 << 32)
		if secs < 0.5 || secs > 2.5 {
			t.Errorf("reports %d and %d: %.2f s apart, want about 1 s", i-1, i, secs)
		}
		if rate := float64(sr.RTPTime-prev.RTPTime) / secs; rate < 0.9*90000 || rate > 1.1*90000 {
			t.Errorf("reports %d and %d: the RTP clock advanced at %.0f Hz against NTP, want 90000", i-1, i, rate)
		}
		if sr.PacketCount <= prev.PacketCount || sr.OctetCount <= prev.OctetCount {
			t.Errorf("reports %d and %d: counts did not grow (%d, %d then %d, %d)", i-1, i,
				prev.PacketCount, prev.OctetCount, sr.PacketCount, sr.OctetCount)
		}
	}
}
