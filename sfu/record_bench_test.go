package sfu

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// copyRecorder does on the forwarding path what a recording's tap (recording/capture.Tap)
// does: copy the packet and hand it to a bounded queue without blocking, here drained by a
// goroutine that only counts. (The tap's own writer is slower than a benchmark loop and
// would give the track up, after which its cost is one atomic load.)
type copyRecorder struct {
	q       chan []byte
	dropped int
}

func (r *copyRecorder) Packet(pkt *rtp.Packet) {
	raw := make([]byte, pkt.MarshalSize())
	n, err := pkt.MarshalTo(raw)
	if err != nil {
		return
	}
	select {
	case r.q <- raw[:n]:
	default:
		r.dropped++
	}
}

func (r *copyRecorder) SenderReport(uint32, time.Time) {}

// BenchmarkFanOutRecorded is BenchmarkFanOut with the publication recorded.
func BenchmarkFanOutRecorded(b *testing.B) {
	for _, viewers := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("viewers=%d", viewers), func(b *testing.B) {
			pub := benchPublication()
			for i := range viewers {
				benchViewer(b, pub, i)
			}
			rec := &copyRecorder{q: make(chan []byte, 4096)}
			done := make(chan struct{})
			go func() {
				defer close(done)
				for range rec.q {
				}
			}()
			pub.SetRecorder(rec)
			var pkt rtp.Packet
			if sent, err := benchForward(pub, &pkt, benchVP8(b, 1000, true)); err != nil || sent != viewers {
				b.Fatalf("keyframe: sent to %d of %d viewers: %v", sent, viewers, err)
			}
			raw := benchVP8(b, 1001, false)
			seq := uint16(1001)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				binary.BigEndian.PutUint16(raw[2:4], seq)
				seq++
				if _, err := benchForward(pub, &pkt, raw); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(viewers), "ns/viewer-pkt")
			b.ReportMetric(float64(rec.dropped)/float64(b.N), "dropped/op")
			close(rec.q)
			<-done
		})
	}
}
