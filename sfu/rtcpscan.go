package sfu

import (
	"encoding/binary"

	"github.com/pion/rtcp"
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
		switch format := raw[0] & 0x1f; rtcp.PacketType(raw[1]) {
		case rtcp.TypeTransportSpecificFeedback:
			if format == rtcp.FormatTLN { // a generic NACK
				return true
			}
		case rtcp.TypePayloadSpecificFeedback:
			if format == rtcp.FormatPLI || format == rtcp.FormatFIR {
				return true
			}
		}
		raw = raw[n:]
	}
	return false
}
