package bwe

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtcp"
)

// pionReport is what package rtcp makes of p, in the reader's form; ok is false when
// package rtcp refuses p.
func pionReport(p []byte) (twccReport, bool) {
	var fb rtcp.TransportLayerCC
	if fb.Unmarshal(p) != nil {
		return twccReport{}, false
	}
	var r twccReport
	return r, r.fromPion(&fb)
}

// marshalTWCC is fb's bytes, with the header a receiver writes (package rtcp marshals the
// header it is given).
func marshalTWCC(fb *rtcp.TransportLayerCC) ([]byte, error) {
	unpadded := 20 + 2*len(fb.PacketChunks)
	for _, d := range fb.RecvDeltas {
		unpadded += 1 + int(d.Type/rtcp.TypeTCCPacketReceivedLargeDelta) // 1 byte small, 2 large
	}
	fb.Header = rtcp.Header{Count: rtcp.FormatTCC, Type: rtcp.TypeTransportSpecificFeedback,
		Padding: unpadded%4 != 0, Length: uint16(fb.MarshalSize()/4 - 1)}
	return fb.Marshal()
}

// sameReport fails the test unless the reader reads p as package rtcp does.
func sameReport(t testing.TB, p []byte) {
	t.Helper()
	want, ok := pionReport(p)
	if !ok {
		t.Fatalf("package rtcp refuses %x", p)
	}
	var got twccReport
	if err := got.unmarshal(p); err != nil {
		t.Fatalf("reader refuses %x: %v", p, err)
	}
	if got.base != want.base || got.refTime != want.refTime || got.fbCount != want.fbCount ||
		!slices.Equal(got.statuses, want.statuses) || !slices.Equal(got.deltasUs, want.deltasUs) {
		t.Fatalf("read %x as\n%+v\nwant\n%+v", p, got, want)
	}
}

// TestTWCCReaderAgreesWithPion: reports marshalled by package rtcp, with every kind of
// chunk and delta, are read as package rtcp reads them.
func TestTWCCReaderAgreesWithPion(t *testing.T) {
	reports := []*rtcp.TransportLayerCC{
		// A run of received packets, small deltas; the report needs padding.
		{SenderSSRC: 1, MediaSSRC: 2, BaseSequenceNumber: 65530, PacketStatusCount: 3, ReferenceTime: 0xabcdef, FbPktCount: 9,
			PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedSmallDelta, RunLength: 3}},
			RecvDeltas: []*rtcp.RecvDelta{{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 0},
				{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 63750}, {Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 250}}},
		// 1-bit vectors, a run of losses, 2-bit vectors with large negative and positive deltas.
		{MediaSSRC: 2, BaseSequenceNumber: 100, PacketStatusCount: 14 + 20 + 7,
			PacketChunks: []rtcp.PacketStatusChunk{
				&rtcp.StatusVectorChunk{SymbolSize: rtcp.TypeTCCSymbolSizeOneBit, SymbolList: []uint16{1, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1}},
				&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketNotReceived, RunLength: 20},
				&rtcp.StatusVectorChunk{SymbolSize: rtcp.TypeTCCSymbolSizeTwoBit, SymbolList: []uint16{2, 0, 1, 2, 0, 0, 2}},
			},
			RecvDeltas: []*rtcp.RecvDelta{
				{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 1000}, {Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 2000},
				{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 250}, {Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 500},
				{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 750},
				{Type: rtcp.TypeTCCPacketReceivedLargeDelta, Delta: -8192000}, {Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 0},
				{Type: rtcp.TypeTCCPacketReceivedLargeDelta, Delta: 8191750}, {Type: rtcp.TypeTCCPacketReceivedLargeDelta, Delta: -250},
			}},
		// A 2-bit vector longer than the status count: the last symbols are not statuses.
		{MediaSSRC: 2, BaseSequenceNumber: 7, PacketStatusCount: 2,
			PacketChunks: []rtcp.PacketStatusChunk{&rtcp.StatusVectorChunk{SymbolSize: rtcp.TypeTCCSymbolSizeTwoBit, SymbolList: []uint16{1, 2, 0, 0, 0, 0, 0}}},
			RecvDeltas:   []*rtcp.RecvDelta{{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 500}, {Type: rtcp.TypeTCCPacketReceivedLargeDelta, Delta: 100000}}},
	}
	for _, fb := range reports {
		p, err := marshalTWCC(fb)
		if err != nil {
			t.Fatal(err)
		}
		sameReport(t, p)
	}

	// Reports as Pion's transport-cc sender interceptor writes them, over random arrivals
	// and losses, with reordering and gaps of seconds.
	r := rand.New(rand.NewPCG(3, 4))
	rec := twcc.NewRecorder(5)
	seq, at := uint16(65000), int64(1_000_000)
	reports2 := 0
	for range 300 {
		for range 1 + r.IntN(100) {
			seq += uint16(1 + r.IntN(3)*r.IntN(2)) // some lost
			at += int64(r.IntN(3000))
			if r.IntN(50) == 0 {
				at += int64(r.IntN(3_000_000)) // a gap: large deltas
			}
			s := seq
			if r.IntN(20) == 0 {
				s -= 2 // late
			}
			rec.Record(2, s, at)
		}
		for _, pkt := range rec.BuildFeedbackPacket() {
			if _, ok := pkt.(*rtcp.TransportLayerCC); !ok {
				continue
			}
			p, err := pkt.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			sameReport(t, p)
			reports2++
		}
	}
	if reports2 < 300 {
		t.Errorf("only %d reports recorded", reports2)
	}
}

// TestTWCCReaderRefuses: reports that end too soon, and packets that are not reports.
func TestTWCCReaderRefuses(t *testing.T) {
	good, err := marshalTWCC(&rtcp.TransportLayerCC{MediaSSRC: 2, BaseSequenceNumber: 1, PacketStatusCount: 2,
		PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedLargeDelta, RunLength: 2}},
		RecvDeltas: []*rtcp.RecvDelta{{Type: rtcp.TypeTCCPacketReceivedLargeDelta, Delta: 1000},
			{Type: rtcp.TypeTCCPacketReceivedLargeDelta, Delta: 2000}}})
	if err != nil {
		t.Fatal(err)
	}
	var r twccReport
	if err := r.unmarshal(good); err != nil {
		t.Fatal(err)
	}
	setLen := func(p []byte, words int) []byte {
		p = slices.Clone(p)
		p[2], p[3] = byte((words-1)>>8), byte(words-1)
		return p
	}
	pli, _ := (&rtcp.PictureLossIndication{MediaSSRC: 1}).Marshal()
	bad := [][]byte{
		nil, good[:3], good[:len(good)-4],
		setLen(good, 5),                   // no room for the chunk
		setLen(good, 6),                   // no room for the deltas
		setLen(good, 0x4000),              // longer than what was read
		append([]byte{0x4f}, good[1:]...), // version 1
		pli,
	}
	for i, p := range bad {
		if err := r.unmarshal(p); err == nil {
			t.Errorf("packet %d (%x) read as a report", i, p)
		}
	}
}

// rawReportReader is an estimator's RTCP reader (the interceptor's) fed with the bytes of
// a 64-packet report, all received 1 ms apart, its base and reference time moved on from
// read to read, and the 64 packets noted as sent before each read.
type rawReportReader struct {
	est *Estimator
	c   *clock
	rd  interceptor.RTCPReader
	raw []byte
	buf []byte
	seq uint16
	ref uint32
}

func newRawReportReader(t testing.TB) *rawReportReader {
	ests := NewEstimators(Config{})
	i, err := estimatorFactory{ests}.NewInterceptor("x")
	if err != nil {
		t.Fatal(err)
	}
	est := ests.byID["x"]
	c := &clock{t: time.Unix(1000, 0)}
	est.now, est.epoch = c.now, c.now()
	est.hist.init()
	const n = 64
	fb := &rtcp.TransportLayerCC{MediaSSRC: 1, PacketStatusCount: n,
		PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedSmallDelta, RunLength: n}}}
	for i := range n {
		d := int64(1000)
		if i == 0 {
			d = 20_000 // 20 ms after the reference time
		}
		fb.RecvDeltas = append(fb.RecvDeltas, &rtcp.RecvDelta{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: d})
	}
	raw, err := marshalTWCC(fb)
	if err != nil {
		t.Fatal(err)
	}
	x := &rawReportReader{est: est, c: c, raw: raw, buf: make([]byte, 1500)}
	x.rd = i.BindRTCPReader(interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		return copy(b, x.raw), a, nil
	}))
	return x
}

func (x *rawReportReader) read() {
	x.raw[12], x.raw[13] = byte(x.seq>>8), byte(x.seq)
	x.raw[16], x.raw[17], x.raw[18] = byte(x.ref>>16), byte(x.ref>>8), byte(x.ref) // 64 ms a report
	for range 64 {
		x.est.sent(x.seq, 1200)
		x.seq++
		x.c.advance(time.Millisecond)
	}
	_, _, _ = x.rd.Read(x.buf, nil)
	x.ref = (x.ref + 1) & 0xffffff
}

// TestFeedbackReportWithoutAllocating: a report read from its bytes, through the
// interceptor's RTCP reader, into the estimate, allocates nothing once the reader's buffers
// have grown; and every report is used.
func TestFeedbackReportWithoutAllocating(t *testing.T) {
	x := newRawReportReader(t)
	for range 10 {
		x.read()
	}
	if allocs := testing.AllocsPerRun(200, x.read); allocs > 0 {
		t.Errorf("%.2f allocations per report", allocs)
	}
	if got := x.est.BadReports(); got != 0 {
		t.Errorf("%d bad reports", got)
	}
	if x.est.lastTWCC.Load() == 0 {
		t.Error("no report used")
	}
	if got := x.est.TargetBitrate(); got <= defaultInitialBps {
		t.Errorf("estimate %d did not grow over 210 reports of a clean path", got)
	}
}

// FuzzTWCC: on any bytes the reader never panics, and reads a report package rtcp accepts
// as package rtcp reads it; the estimator takes any batch without panicking.
func FuzzTWCC(f *testing.F) {
	for _, fb := range []*rtcp.TransportLayerCC{
		{MediaSSRC: 2, BaseSequenceNumber: 100, PacketStatusCount: 16,
			PacketChunks: []rtcp.PacketStatusChunk{
				&rtcp.StatusVectorChunk{SymbolSize: rtcp.TypeTCCSymbolSizeOneBit, SymbolList: []uint16{1, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1}},
				&rtcp.StatusVectorChunk{SymbolSize: rtcp.TypeTCCSymbolSizeTwoBit, SymbolList: []uint16{2, 1, 0, 0, 0, 0, 0}}},
			RecvDeltas: []*rtcp.RecvDelta{
				{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 1000}, {Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 2000},
				{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 250}, {Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 500},
				{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 750},
				{Type: rtcp.TypeTCCPacketReceivedLargeDelta, Delta: -8192000}, {Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 0}}},
		{MediaSSRC: 2, BaseSequenceNumber: 1, PacketStatusCount: 3, ReferenceTime: 77,
			PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedLargeDelta, RunLength: 3}},
			RecvDeltas: []*rtcp.RecvDelta{{Type: rtcp.TypeTCCPacketReceivedLargeDelta, Delta: 1000},
				{Type: rtcp.TypeTCCPacketReceivedLargeDelta, Delta: -2000}, {Type: rtcp.TypeTCCPacketReceivedLargeDelta, Delta: 0}}},
	} {
		p, err := marshalTWCC(fb)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(p)
	}
	f.Add([]byte{0x8f, 205, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0})
	est := NewEstimators(Config{}).newEstimator()
	est.hist.init()
	for i := range 200 {
		est.sent(uint16(i), 1200)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		var got twccReport
		err := got.unmarshal(p)
		if want, ok := pionReport(p); ok {
			if err != nil {
				t.Fatalf("package rtcp reads %x, the reader refuses it: %v", p, err)
			}
			if got.base != want.base || got.refTime != want.refTime || got.fbCount != want.fbCount ||
				!slices.Equal(got.statuses, want.statuses) || !slices.Equal(got.deltasUs, want.deltasUs) {
				t.Fatalf("read %x as\n%+v\nwant\n%+v", p, got, want)
			}
		}
		est.onRawRTCP(p)
		if b := est.TargetBitrate(); b < defaultMinBps || b > defaultMaxBps {
			t.Fatalf("estimate %d out of bounds", b)
		}
	})
}

// TestRawBatches: the estimator's reading of whole batches: a batch whose headers do not
// add up counts as one bad report, other feedback is left alone, a REMB is used.
func TestRawBatches(t *testing.T) {
	est := NewEstimators(Config{}).newEstimator()
	est.hist.init()
	nack, _ := (&rtcp.TransportLayerNack{MediaSSRC: 2, Nacks: []rtcp.NackPair{{PacketID: 5}}}).Marshal()
	remb, _ := (&rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: 300_000, SSRCs: []uint32{2}}).Marshal()
	est.onRawRTCP(nack)
	if got := est.BadReports(); got != 0 {
		t.Errorf("a NACK counted as %d bad reports", got)
	}
	est.onRawRTCP(slices.Concat(nack, remb))
	if est.lastREMB.Load() == 0 || est.remb.Load() != 300_000 {
		t.Errorf("REMB after a NACK not used: %d bps", est.remb.Load())
	}
	for i, p := range [][]byte{nack[:len(nack)-1], slices.Concat(nack, []byte{0x80}), {0x40, 205, 0, 0}} {
		before := est.BadReports()
		est.onRawRTCP(p)
		if est.BadReports() != before+1 {
			t.Errorf("batch %d (%x) not counted as one bad report", i, p)
		}
	}
}
