package bwe

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// twccNumberer stamps every packet a PeerConnection sends with the transport-wide sequence
// number (the transport-cc header extension), like Pion's twcc.HeaderExtensionInterceptor
// but without two allocations per packet: while the packet is written, its header borrows a
// pooled extension instead of growing its own.
type twccNumberer struct{}

func (twccNumberer) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &twccStamp{}, nil
}

type twccStamp struct {
	interceptor.NoOp
	next atomic.Uint32
	pool sync.Pool // *twccExt
}

type twccExt struct {
	exts    [1]rtp.Extension
	payload [2]byte
}

func (s *twccStamp) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
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
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		seq := uint16(s.next.Add(1) - 1)
		if h.Extension || len(h.Extensions) > 0 {
			// The packet has extensions of its own: add ours the ordinary way.
			var b [2]byte
			binary.BigEndian.PutUint16(b[:], seq)
			if err := h.SetExtension(id, b[:]); err != nil {
				return 0, err
			}
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
		n, err := w.Write(h, payload, a)
		h.Extension, h.ExtensionProfile, h.Extensions = false, 0, nil
		s.pool.Put(x)
		return n, err
	})
}
