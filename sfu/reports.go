package sfu

import (
	"time"

	"github.com/pion/rtcp"
)

// reportInterval is how often a viewer gets sender reports for the tracks it receives
// (Pion's report interceptor's default, and about what browsers send).
const reportInterval = time.Second

// sendReports sends the viewer one RTCP packet holding a sender report (RFC 3550 §6.4.1)
// for each of its tracks that has forwarded media: the mapping of the track's RTP clock to
// wall-clock time, which the viewer's browser uses to keep audio and video in sync, and the
// packets and octets sent. It runs on the peer's selection loop, so a viewer costs no timer
// of its own for its reports, and its tracks' reports leave in one packet rather than one
// each.
func (p *Peer) sendReports(now time.Time) {
	var pkts []rtcp.Packet
	for _, d := range p.received() {
		if sr, ok := d.senderReport(now); ok {
			pkts = append(pkts, sr)
		}
	}
	if len(pkts) == 0 {
		return
	}
	// Lost like any UDP packet when the connection is not up yet or is gone: the next
	// report follows in a second.
	_ = p.down.WriteRTCP(pkts)
}

// senderReport is the track's sender report at now; false before its first media packet.
func (d *DownTrack) senderReport(now time.Time) (*rtcp.SenderReport, bool) {
	b := d.binding.Load()
	if b == nil {
		return nil, false
	}
	d.mu.Lock()
	started, ts, at := d.started, d.lastTS, d.frameAt
	d.mu.Unlock()
	if !started {
		return nil, false
	}
	rate := float64(d.pub.codec.ClockRate)
	if rate == 0 {
		rate = 90000
	}
	// The timestamp the track's clock shows now: the latest frame's, moved on by the time
	// since its first packet left.
	elapsed := now.Sub(time.Unix(0, at)).Seconds()
	return &rtcp.SenderReport{
		SSRC:        b.ssrc,
		NTPTime:     ntpTime(now),
		RTPTime:     ts + uint32(int64(elapsed*rate)),
		PacketCount: b.packets.Load(),
		OctetCount:  b.octets.Load(),
	}, true
}

// ntpTime is t as a 64-bit NTP timestamp: seconds since 1 January 1900 in the high 32 bits,
// the fraction of a second in the low 32.
func ntpTime(t time.Time) uint64 {
	const ntpEpochOffset = 2_208_988_800 // seconds from 1900 to 1970
	ns := t.UnixNano()
	secs := uint64(ns/int64(time.Second)) + ntpEpochOffset
	frac := (uint64(ns%int64(time.Second)) << 32) / uint64(time.Second)
	return secs<<32 | frac
}
