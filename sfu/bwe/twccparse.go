package bwe

import (
	"encoding/binary"
	"errors"

	"github.com/pion/rtcp"
)

// RTCP packet types and feedback formats read here without package rtcp.
const (
	rtcpTypeRTPFB = 205 // transport layer feedback (RFC 4585)
	rtcpTypePSFB  = 206 // payload-specific feedback
	fmtTWCC       = 15  // transport-cc feedback, a RTPFB
	fmtAFB        = 15  // application layer feedback, a PSFB: REMB
	twccHeaderLen = 20  // RTCP header, two SSRCs, base, count, reference time, feedback count
)

var (
	errRTCPShort   = errors.New("rtcp packet too short")
	errRTCPVersion = errors.New("rtcp packet of another version")
	errNotTWCC     = errors.New("not a transport-cc report")
)

// twccReport is one transport-cc report, read from its bytes into slices kept from report
// to report (the estimator reads a report every few tens of milliseconds per viewer:
// package rtcp's form of it costs an object per chunk and per received packet).
type twccReport struct {
	base    uint16
	refTime uint32 // 24 bits, in 64 ms
	fbCount uint8
	// One status per packet reported (rtcp.TypeTCCPacket*, as sent: a reserved symbol is
	// kept, for readTWCC to refuse), and one delta per received packet, in µs.
	statuses []uint16
	deltasUs []int64
}

// unmarshal reads a transport-cc report (draft-holmer-rmcat-transport-wide-cc-extensions-01
// §3.1) from p, one RTCP packet: bytes after the length its header gives are ignored, and
// so is padding after the deltas. It fails on a packet shorter than its header says, or one
// whose chunks or deltas run past its end; a report it reads agrees with what
// rtcp.TransportLayerCC.Unmarshal makes of the same bytes.
func (r *twccReport) unmarshal(p []byte) error {
	total, err := rtcpPacketLen(p)
	if err != nil {
		return err
	}
	if p[0]&0x1f != fmtTWCC || p[1] != rtcpTypeRTPFB {
		return errNotTWCC
	}
	if total < twccHeaderLen {
		return errRTCPShort
	}
	p = p[:total]
	r.base = binary.BigEndian.Uint16(p[12:])
	count := int(binary.BigEndian.Uint16(p[14:]))
	r.refTime = uint32(p[16])<<16 | uint32(p[17])<<8 | uint32(p[18])
	r.fbCount = p[19]

	st, pos := r.statuses[:0], twccHeaderLen
	for len(st) < count {
		if pos+2 > len(p) {
			r.statuses = st
			return errRTCPShort
		}
		c := binary.BigEndian.Uint16(p[pos:])
		pos += 2
		left := count - len(st)
		switch {
		case c&0x8000 == 0: // run length: T=0, 2-bit symbol, 13-bit length
			sym := c >> 13 & 3
			for range min(int(c&0x1fff), left) {
				st = append(st, sym)
			}
		case c&0x4000 == 0: // status vector of 14 1-bit symbols: received (small delta) or not
			for i := 13; i >= 0 && left > 0; i-- {
				st = append(st, c>>i&1)
				left--
			}
		default: // status vector of 7 2-bit symbols
			for i := 6; i >= 0 && left > 0; i-- {
				st = append(st, c>>(2*i)&3)
				left--
			}
		}
	}
	r.statuses = st

	d := r.deltasUs[:0]
	for _, s := range st {
		switch s {
		case rtcp.TypeTCCPacketReceivedSmallDelta:
			if pos+1 > len(p) {
				r.deltasUs = d
				return errRTCPShort
			}
			d = append(d, rtcp.TypeTCCDeltaScaleFactor*int64(p[pos]))
			pos++
		case rtcp.TypeTCCPacketReceivedLargeDelta:
			if pos+2 > len(p) {
				r.deltasUs = d
				return errRTCPShort
			}
			d = append(d, rtcp.TypeTCCDeltaScaleFactor*int64(int16(binary.BigEndian.Uint16(p[pos:]))))
			pos += 2
		}
	}
	r.deltasUs = d
	return nil
}

// fromPion takes a report package rtcp decoded, into the same form: false when its chunks
// are missing or too few for its status count, or a delta is missing.
func (r *twccReport) fromPion(fb *rtcp.TransportLayerCC) bool {
	count := int(fb.PacketStatusCount)
	r.base, r.refTime, r.fbCount = fb.BaseSequenceNumber, fb.ReferenceTime&0xffffff, fb.FbPktCount
	st := r.statuses[:0]
	defer func() { r.statuses = st }()
	for _, c := range fb.PacketChunks {
		if len(st) >= count {
			break
		}
		switch c := c.(type) {
		case *rtcp.RunLengthChunk:
			if c == nil {
				return false
			}
			for range min(int(c.RunLength), count-len(st)) {
				st = append(st, c.PacketStatusSymbol)
			}
		case *rtcp.StatusVectorChunk:
			if c == nil {
				return false
			}
			for _, s := range c.SymbolList {
				if len(st) >= count {
					break
				}
				st = append(st, s)
			}
		default:
			return false
		}
	}
	if len(st) < count {
		return false
	}
	d := r.deltasUs[:0]
	for _, x := range fb.RecvDeltas {
		if x == nil {
			r.deltasUs = d
			return false
		}
		d = append(d, x.Delta)
	}
	r.deltasUs = d
	return true
}

// rtcpPacketLen is the length of the RTCP packet p starts with, as its header gives it,
// after checking that p holds it and that it is of version 2.
func rtcpPacketLen(p []byte) (int, error) {
	if len(p) < 4 {
		return 0, errRTCPShort
	}
	if p[0]>>6 != 2 {
		return 0, errRTCPVersion
	}
	n := 4 * (int(binary.BigEndian.Uint16(p[2:])) + 1)
	if n > len(p) {
		return 0, errRTCPShort
	}
	return n, nil
}
