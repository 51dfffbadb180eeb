package bwe

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// srtpTagBytes is what SRTP adds to every packet (the authentication tag of AES-CM with
// HMAC-SHA1-80 is 10 bytes, of AES-GCM 16): counted as the larger, the difference does not
// matter to an estimate.
const srtpTagBytes = 16

// pcInterceptor is an estimator's view of its PeerConnection: it stamps every packet sent
// with the transport-wide sequence number (the transport-cc header extension), notes it in
// the estimator's history, and passes every RTCP batch read to the estimator.
//
// Stamping is like Pion's twcc.HeaderExtensionInterceptor but without two allocations per
// packet: while the packet is written, its header borrows a pooled extension instead of
// growing its own.
type pcInterceptor struct {
	interceptor.NoOp
	est  *Estimator
	next atomic.Uint32
	pool sync.Pool // *twccExt
}

type twccExt struct {
	exts    [1]rtp.Extension
	payload [2]byte
}

func (s *pcInterceptor) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	var id uint8
	for _, e := range info.RTPHeaderExtensions {
		if e.URI == sdp.TransportCCURI && e.ID > 0 && e.ID < 15 {
			id = uint8(e.ID)
			break
		}
	}
	if id == 0 {
		return w
	}
	s.est.hist.init()
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		seq := uint16(s.next.Add(1) - 1)
		if h.Extension || len(h.Extensions) > 0 {
			// The packet has extensions of its own: add ours the ordinary way.
			var b [2]byte
			binary.BigEndian.PutUint16(b[:], seq)
			if err := h.SetExtension(id, b[:]); err != nil {
				return 0, err
			}
			s.est.sent(seq, wireSize(h, payload))
			return w.Write(h, payload, a)
		}
		x, _ := s.pool.Get().(*twccExt)
		if x == nil {
			x = &twccExt{}
		}
		binary.BigEndian.PutUint16(x.payload[:], seq)
		h.Extensions = x.exts[:0] // SetExtension appends within its capacity
		if err := h.SetExtension(id, x.payload[:]); err != nil {
			h.Extension, h.ExtensionProfile, h.Extensions = false, 0, nil
			s.pool.Put(x)
			return 0, err
		}
		s.est.sent(seq, wireSize(h, payload))
		n, err := w.Write(h, payload, a)
		h.Extension, h.ExtensionProfile, h.Extensions = false, 0, nil
		s.pool.Put(x)
		return n, err
	})
}

// BindRTCPReader hands every RTCP batch read on the PeerConnection to the estimator, as
// bytes: decoding transport-cc feedback with package rtcp (and an attributes map to keep it
// in) would cost allocations for every report of every viewer. The attributes are passed on
// as they came.
func (s *pcInterceptor) BindRTCPReader(r interceptor.RTCPReader) interceptor.RTCPReader {
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, a, err := r.Read(b, a)
		if err != nil || n <= 0 || n > len(b) {
			return n, a, err
		}
		s.est.onRawRTCP(b[:n])
		return n, a, nil
	})
}

// Close forgets the estimator: Pion closes the interceptors when the PeerConnection closes.
func (s *pcInterceptor) Close() error {
	s.est.owner.forget(s.est)
	return nil
}

// wireSize is the packet's size once protected: the header with its extensions, the
// payload, the padding (a probe's padding-only packets are nothing else) and the SRTP tag.
func wireSize(h *rtp.Header, payload []byte) int {
	n := h.MarshalSize() + len(payload) + srtpTagBytes
	if h.Padding {
		n += int(h.PaddingSize)
	}
	return n
}
