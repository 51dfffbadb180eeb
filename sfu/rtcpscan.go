package sfu

import "encoding/binary"

// RTCP packet types and feedback message types (RFC 4585, RFC 5104) a viewer's track
// reader acts on.
const (
	rtcpRTPFB = 205 // transport-layer feedback; FMT 1 is a generic NACK
	rtcpPSFB  = 206 // payload-specific feedback; FMT 1 is a PLI, FMT 4 a FIR
	fmtNACK   = 1
	fmtPLI    = 1
	fmtFIR    = 4
)

// forTrackReader tells whether the RTCP batch raw holds anything a viewer's track reader
// acts on (a NACK, a PLI or a FIR), so that the rest (receiver reports, SDES, transport-cc
// feedback, REMB: the most of what viewers send, and read by the estimator where it counts)
// is not decoded, which costs allocations. A batch whose lengths do not add up is reported
// as needing reading, so that its decoding fails where failures are counted.
func forTrackReader(raw []byte) bool {
	if len(raw) == 0 {
		return true
	}
	for len(raw) > 0 {
		if len(raw) < 4 || raw[0]>>6 != 2 {
			return true
		}
		n := 4 * (int(binary.BigEndian.Uint16(raw[2:])) + 1)
		if n > len(raw) {
			return true
		}
		switch fmt := raw[0] & 0x1f; raw[1] {
		case rtcpRTPFB:
			if fmt == fmtNACK {
				return true
			}
		case rtcpPSFB:
			if fmt == fmtPLI || fmt == fmtFIR {
				return true
			}
		}
		raw = raw[n:]
	}
	return false
}
