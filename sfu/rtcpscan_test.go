package sfu

import (
	"slices"
	"testing"

	"github.com/pion/rtcp"
)

func marshalRTCP(t *testing.T, p rtcp.Packet) []byte {
	t.Helper()
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestForTrackReader: only batches with a NACK, a PLI or a FIR (or that do not add up) are
// decoded by a viewer's track reader; receiver reports, SDES, transport-cc feedback and
// REMB alone are not.
func TestForTrackReader(t *testing.T) {
	rr := marshalRTCP(t, &rtcp.ReceiverReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{SSRC: 2}}})
	sdes := marshalRTCP(t, &rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{Source: 1,
		Items: []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: "viewer"}}}}})
	// package rtcp marshals transport-cc feedback with the header it is given.
	fb := &rtcp.TransportLayerCC{MediaSSRC: 2, PacketStatusCount: 1,
		PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketNotReceived, RunLength: 1}}}
	fb.Header = rtcp.Header{Count: rtcp.FormatTCC, Type: rtcp.TypeTransportSpecificFeedback, Padding: true, Length: uint16(fb.MarshalSize()/4 - 1)}
	twcc := marshalRTCP(t, fb)
	remb := marshalRTCP(t, &rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: 1e6, SSRCs: []uint32{2}})
	nack := marshalRTCP(t, &rtcp.TransportLayerNack{MediaSSRC: 2, Nacks: []rtcp.NackPair{{PacketID: 5}}})
	pli := marshalRTCP(t, &rtcp.PictureLossIndication{MediaSSRC: 2})
	fir := marshalRTCP(t, &rtcp.FullIntraRequest{MediaSSRC: 2, FIR: []rtcp.FIREntry{{SSRC: 2}}})
	cat := func(ps ...[]byte) []byte { return slices.Concat(ps...) }
	for _, c := range []struct {
		name string
		raw  []byte
		want bool
	}{
		{"receiver report", rr, false},
		{"report and SDES", cat(rr, sdes), false},
		{"transport-cc", twcc, false},
		{"REMB", remb, false},
		{"report, SDES, feedback, REMB", cat(rr, sdes, twcc, remb), false},
		{"NACK", nack, true},
		{"PLI after a report", cat(rr, sdes, pli), true},
		{"FIR", fir, true},
		{"transport-cc then NACK", cat(twcc, nack), true},
		{"empty", nil, true},
		{"cut short", rr[:len(rr)-1], true},
		{"version 1", cat([]byte{0x40}, rr[1:]), true},
		{"trailing byte", cat(rr, []byte{0x80}), true},
	} {
		if got := forTrackReader(c.raw); got != c.want {
			t.Errorf("%s: forTrackReader = %v, want %v", c.name, got, c.want)
		}
	}
}
