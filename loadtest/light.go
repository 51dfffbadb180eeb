package loadtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtcp"
	"github.com/pion/sdp/v3"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// A light viewer is a full Pion peer connection (ICE, DTLS, SRTCP, signaling) that does
// not decrypt its media. Its UDP socket is a LightConn under an ICE UDP mux: the conn reads
// with recvmmsg and counts SRTP media packets from their RTP header, which SRTP leaves in
// the clear (SSRC, sequence number, payload type, marker, padding bit, header extensions),
// without handing them to Pion. STUN, DTLS and SRTCP go to Pion as usual.
//
// The payload is encrypted, so nothing in it can be checked (keyframes, simulcast layer
// marks): one viewer of every run stays on the full path for that.
//
// Pion's transport-cc feedback is made only from packets Pion sees; a light viewer makes
// its own instead, with Pion's recorder, from the transport-wide sequence numbers in the
// clear header extension, and sends it every feedbackInterval through its peer connection
// (SRTCP). The server's bandwidth estimator thus sees the same kind of feedback from light
// and full viewers. The arrival times in it are the kernel's (SO_TIMESTAMPNS): when the
// packet reached the socket, not when the generator got round to reading it, so a busy
// generator does not look like a congested path (Pion's own feedback, on the full path,
// stamps packets when its interceptor reads them). A light viewer sends no NACKs (Pion's
// NACK generator sees no media).

// packetClass is what a datagram on a WebRTC socket is (RFC 7983 demultiplexing).
type packetClass int

const (
	classOther packetClass = iota // STUN, DTLS, anything else: Pion's
	classRTCP                     // SRTCP: Pion's
	classRTP                      // SRTP media: counted, not handed on
)

// classify demultiplexes a datagram as RFC 7983 says (first byte 128–191: RTP or RTCP)
// and tells RTCP from RTP by its packet type (192–223; in RTP, that byte is the marker bit
// and the payload type, and payload types 64–95 are not used for that reason, RFC 5761).
func classify(b []byte) packetClass {
	if len(b) < 2 || b[0] < 128 || b[0] > 191 {
		return classOther
	}
	if pt := b[1] & 0x7f; pt >= 64 && pt <= 95 {
		return classRTCP
	}
	if len(b) < 12 {
		return classOther // too short for RTP: let Pion drop it
	}
	return classRTP
}

// rtpHeader is what a light viewer reads of an RTP header.
type rtpHeader struct {
	ssrc     uint32
	seq      uint16
	pt       uint8
	marker   bool
	padding  bool
	tcc      uint16 // the transport-wide sequence number
	hasTCC   bool
	headerSz int // bytes of the header, extensions included
}

// parseRTPHeader reads an RTP header (RFC 3550, with RFC 8285 one-byte and two-byte header
// extensions), looking for the transport-wide sequence number under extension id tccID
// (0: none). It allocates nothing.
func parseRTPHeader(b []byte, tccID uint8) (rtpHeader, bool) {
	var h rtpHeader
	if len(b) < 12 || b[0]>>6 != 2 {
		return h, false
	}
	h.padding = b[0]&0x20 != 0
	h.marker = b[1]&0x80 != 0
	h.pt = b[1] & 0x7f
	h.seq = uint16(b[2])<<8 | uint16(b[3])
	h.ssrc = uint32(b[8])<<24 | uint32(b[9])<<16 | uint32(b[10])<<8 | uint32(b[11])
	n := 12 + 4*int(b[0]&0x0f)
	if len(b) < n {
		return h, false
	}
	if b[0]&0x10 != 0 {
		if len(b) < n+4 {
			return h, false
		}
		profile := uint16(b[n])<<8 | uint16(b[n+1])
		end := n + 4 + 4*(int(b[n+2])<<8|int(b[n+3]))
		if len(b) < end {
			return h, false
		}
		if tccID != 0 {
			h.tcc, h.hasTCC = findExtension(b[n+4:end], profile, tccID)
		}
		n = end
	}
	h.headerSz = n
	return h, true
}

// findExtension finds a two-byte element of id in an RTP header extension block of profile
// 0xBEDE (one-byte headers) or 0x100x (two-byte headers).
func findExtension(ext []byte, profile uint16, id uint8) (uint16, bool) {
	switch {
	case profile == 0xBEDE:
		for i := 0; i < len(ext); {
			if ext[i] == 0 { // padding
				i++
				continue
			}
			eid, l := ext[i]>>4, int(ext[i]&0x0f)+1
			if eid == 15 {
				return 0, false
			}
			i++
			if i+l > len(ext) {
				return 0, false
			}
			if eid == id && l >= 2 {
				return uint16(ext[i])<<8 | uint16(ext[i+1]), true
			}
			i += l
		}
	case profile&0xfff0 == 0x1000:
		for i := 0; i < len(ext); {
			if ext[i] == 0 {
				i++
				continue
			}
			if i+2 > len(ext) {
				return 0, false
			}
			eid, l := ext[i], int(ext[i+1])
			i += 2
			if i+l > len(ext) {
				return 0, false
			}
			if eid == id && l >= 2 {
				return uint16(ext[i])<<8 | uint16(ext[i+1]), true
			}
			i += l
		}
	}
	return 0, false
}

// negotiated is what a light viewer needs from the server's offer: which payload types are
// video, and the transport-cc header extension's id.
type negotiated struct {
	video [128]bool
	tccID uint8
}

const transportCCURI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"

// parseOffer reads the video payload types and the transport-cc extension id of an SDP.
func parseOffer(s string) (negotiated, error) {
	var n negotiated
	var d sdp.SessionDescription
	if err := d.UnmarshalString(s); err != nil {
		return n, fmt.Errorf("offer: %w", err)
	}
	for _, m := range d.MediaDescriptions {
		video := m.MediaName.Media == "video"
		for _, f := range m.MediaName.Formats {
			pt, err := strconv.Atoi(f)
			if err == nil && pt >= 0 && pt < 128 && video {
				n.video[pt] = true
			}
		}
		for _, a := range m.Attributes {
			if a.Key != "extmap" {
				continue
			}
			id, rest, _ := strings.Cut(a.Value, " ")
			if uri, _, _ := strings.Cut(strings.TrimSpace(rest), " "); uri != transportCCURI {
				continue
			}
			id, _, _ = strings.Cut(id, "/") // a direction may follow the id
			if v, err := strconv.Atoi(id); err == nil && v > 0 && v < 256 {
				n.tccID = uint8(v)
			}
		}
	}
	return n, nil
}

// lightReadBuffer is a light viewer's socket's receive buffer: a keyframe's burst, and
// some, for many viewers at once while the generator is busy.
const lightReadBuffer = 1 << 20

// lightBatch is how many datagrams one recvmmsg reads at most.
const lightBatch = 32

// feedbackInterval is how often a light viewer sends transport-cc feedback (Pion's
// interceptor's default).
const feedbackInterval = 100 * time.Millisecond

// LightConn is a light viewer's UDP socket (see above). Its ReadFrom is called by the ICE
// UDP mux's one reader goroutine; the counts it keeps are written there only.
type LightConn struct {
	// The socket, as a net.PacketConn only: the mux must not find the UDP conn's
	// ReadFromAddrPort, which would go around ReadFrom.
	net.PacketConn
	batch *ipv4.PacketConn
	msgs  []ipv4.Message
	next  int // the next message of the last batch to look at
	got   int // messages in the last batch

	v       *viewer
	video   bool // the scenario has video: the join is the first video packet
	neg     atomic.Pointer[negotiated]
	streams map[uint32]*lightStream

	counted, passed atomic.Int64 // media packets counted; datagrams handed to Pion
	bytes           atomic.Int64 // bytes of the media packets counted
	drops           atomic.Int64 // datagrams the kernel dropped at the full socket (SO_RXQ_OVFL)

	// Transport-cc feedback.
	mu      sync.Mutex
	rec     *twcc.Recorder
	start   time.Time
	records int
	send    atomic.Pointer[func([]rtcp.Packet) error]
	quit    chan struct{}
	done    chan struct{}
	closed  sync.Once
}

type lightStream struct {
	st      *trackStats
	highest int64
	video   bool
}

// listenLight opens a light viewer's socket on loopback; it counts into v.
func listenLight(ctx context.Context, v *viewer, video bool) (*LightConn, error) {
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, "udp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("light viewer's socket: %w", err)
	}
	u, ok := pc.(*net.UDPConn)
	if !ok {
		_ = pc.Close()
		return nil, errors.New("light viewer's socket: not UDP")
	}
	c := &LightConn{PacketConn: u, batch: ipv4.NewPacketConn(u), msgs: make([]ipv4.Message, lightBatch),
		v: v, video: video, streams: map[uint32]*lightStream{}, rec: twcc.NewRecorder(randomSSRC()),
		start: time.Now(), quit: make(chan struct{}), done: make(chan struct{})}
	for i := range c.msgs {
		c.msgs[i].Buffers = [][]byte{make([]byte, 1600)}
		c.msgs[i].OOB = make([]byte, 64)
	}
	if err := receiveTimestamps(u); err != nil {
		_ = u.Close()
		return nil, err
	}
	go c.feedback()
	return c, nil
}

// receiveTimestamps asks the kernel for each datagram's arrival time (SO_TIMESTAMPNS) and
// the socket's drops so far (SO_RXQ_OVFL), and gives the socket a receive buffer of
// lightReadBuffer.
func receiveTimestamps(u *net.UDPConn) error {
	if err := u.SetReadBuffer(lightReadBuffer); err != nil {
		return fmt.Errorf("light viewer's socket: %w", err)
	}
	rc, err := u.SyscallConn()
	if err != nil {
		return fmt.Errorf("light viewer's socket: %w", err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
		if serr == nil {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1)
		}
	}); err != nil {
		return fmt.Errorf("light viewer's socket: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("light viewer's socket: SO_TIMESTAMPNS: %w", serr)
	}
	return nil
}

// arrival reads the kernel's arrival time (unix nanoseconds) and the socket's drops so far
// from a datagram's control messages (0 when they are not there: the kernel leaves the
// drops out while there are none). It allocates nothing.
func arrival(oob []byte) (at, drops int64) {
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(oob) {
			return at, drops
		}
		switch {
		case h.Level != unix.SOL_SOCKET:
		case h.Type == unix.SCM_TIMESTAMPNS && l >= unix.SizeofCmsghdr+int(unsafe.Sizeof(unix.Timespec{})):
			ts := (*unix.Timespec)(unsafe.Pointer(&oob[unix.SizeofCmsghdr]))
			at = ts.Nano()
		case h.Type == unix.SO_RXQ_OVFL && l >= unix.SizeofCmsghdr+4:
			drops = int64(*(*uint32)(unsafe.Pointer(&oob[unix.SizeofCmsghdr])))
		}
		oob = oob[min(len(oob), cmsgAlign(l)):]
	}
	return at, drops
}

func cmsgAlign(n int) int {
	const a = int(unsafe.Sizeof(uintptr(0)))
	return (n + a - 1) &^ (a - 1)
}

func randomSSRC() uint32 { return rand.Uint32() | 1 }

// SetOffer notes the server's offer (before its answer is made: no media comes before).
func (c *LightConn) SetOffer(s string) error {
	n, err := parseOffer(s)
	if err != nil {
		return err
	}
	c.neg.Store(&n)
	return nil
}

// SetFeedback sets how transport-cc feedback is sent (the peer connection's WriteRTCP).
func (c *LightConn) SetFeedback(send func([]rtcp.Packet) error) { c.send.Store(&send) }

// ReadFrom returns the next datagram that is not SRTP media; media is counted on the way.
func (c *LightConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		for c.next < c.got {
			m := &c.msgs[c.next]
			c.next++
			b := m.Buffers[0][:m.N]
			at, drops := arrival(m.OOB[:m.NN])
			if drops > c.drops.Load() {
				c.drops.Store(drops)
			}
			if classify(b) == classRTP {
				c.count(b, at)
				continue
			}
			c.passed.Add(1)
			return copy(p, b), m.Addr, nil
		}
		n, err := c.batch.ReadBatch(c.msgs, 0)
		if err != nil {
			return 0, nil, err
		}
		c.next, c.got = 0, n
	}
}

// count notes one SRTP media packet that arrived at unix nanoseconds at: its stream's
// packets and sequence numbers (loss), the viewer's first packet (join), and its
// transport-wide sequence number (feedback).
func (c *LightConn) count(b []byte, at int64) {
	now := time.Now()
	if at == 0 {
		at = now.UnixNano()
	}
	neg := c.neg.Load()
	var tccID uint8
	if neg != nil {
		tccID = neg.tccID
	}
	h, ok := parseRTPHeader(b, tccID)
	if !ok {
		return
	}
	c.counted.Add(1)
	c.bytes.Add(int64(len(b)))
	if h.hasTCC {
		c.mu.Lock()
		c.rec.Record(h.ssrc, h.tcc, (at-c.start.UnixNano())/1000)
		c.records++
		c.mu.Unlock()
	}
	s := c.streams[h.ssrc]
	if s == nil {
		video := neg != nil && neg.video[h.pt]
		s = &lightStream{st: &trackStats{audio: !video}, highest: -1, video: video}
		s.st.highest.Store(-1)
		c.streams[h.ssrc] = s
		c.v.tracks.Store("ssrc:"+strconv.FormatUint(uint64(h.ssrc), 10), s.st)
	}
	// A probe's padding counts for the sequence numbers but is not media. The padding bit is
	// in the clear, the payload's length is not (it is encrypted): the SFU's media packets
	// carry no padding, its probes are padding only.
	if !h.padding {
		if c.v.anyAt.Load() == 0 {
			c.v.anyAt.CompareAndSwap(0, at)
		}
		if (s.video || !c.video) && c.v.firstAt.Load() == 0 {
			c.v.firstAt.CompareAndSwap(0, at)
		}
	}
	ext := extendSeq(s.highest, h.seq)
	if s.highest < 0 {
		s.st.first.Store(ext)
	}
	if ext > s.highest {
		s.highest = ext
		s.st.highest.Store(ext)
	}
	s.st.packets.Add(1)
}

// feedback sends transport-cc feedback every feedbackInterval until Close.
func (c *LightConn) feedback() {
	defer close(c.done)
	t := time.NewTicker(feedbackInterval)
	defer t.Stop()
	for {
		select {
		case <-c.quit:
			return
		case <-t.C:
		}
		send := c.send.Load()
		if send == nil {
			continue
		}
		c.mu.Lock()
		var pkts []rtcp.Packet
		if c.records > 0 {
			pkts = c.rec.BuildFeedbackPacket()
			c.records = 0
		}
		c.mu.Unlock()
		if len(pkts) > 0 {
			_ = (*send)(pkts) // fails only when the connection is closed: the run is ending
		}
	}
}

// Counted and Passed count the media packets counted here and the datagrams handed to Pion.
func (c *LightConn) Counted() int64 { return c.counted.Load() }
func (c *LightConn) Passed() int64  { return c.passed.Load() }

// Drops counts the datagrams the kernel dropped because the socket's buffer was full (the
// generator did not read in time): losses that are the generator's, not the server's.
func (c *LightConn) Drops() int64 { return c.drops.Load() }

// Close closes the socket and stops the feedback.
func (c *LightConn) Close() error {
	var err error
	c.closed.Do(func() {
		close(c.quit)
		err = c.PacketConn.Close()
		<-c.done
	})
	return err
}
