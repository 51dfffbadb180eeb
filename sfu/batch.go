package sfu

import (
	"net"
	"net/netip"
	"sync"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// batchConn is the media UDP socket with batched writes: while the SFU fans one packet out
// to its viewers (between hold and release), the encrypted copies are queued and leave in
// one sendmmsg system call instead of one sendto each. Outside a fan-out every write goes
// out at once, so nothing waits for a timer. It implements Pion's allocation-free
// AddrPortReaderWriter, which the UDP mux uses instead of WriteTo.
type batchConn struct {
	*net.UDPConn
	writeBatch func([]ipv4.Message) (int, error)
	v6         bool // a dual-stack socket: IPv4 destinations as IPv4-mapped IPv6

	mu    sync.Mutex
	holds int
	n     int
	msgs  []ipv4.Message
	addrs []net.UDPAddr
}

// maxBatch is the most messages one sendmmsg carries.
const maxBatch = 64

func newBatchConn(c *net.UDPConn) *batchConn {
	b := &batchConn{UDPConn: c, msgs: make([]ipv4.Message, maxBatch), addrs: make([]net.UDPAddr, maxBatch)}
	local, _ := c.LocalAddr().(*net.UDPAddr)
	if local != nil && local.IP.To4() == nil {
		b.v6 = true
		pc := ipv6.NewPacketConn(c)
		b.writeBatch = func(m []ipv4.Message) (int, error) { return pc.WriteBatch(m, 0) }
	} else {
		pc := ipv4.NewPacketConn(c)
		b.writeBatch = func(m []ipv4.Message) (int, error) { return pc.WriteBatch(m, 0) }
	}
	for i := range b.msgs {
		b.msgs[i].Buffers = [][]byte{make([]byte, 0, 1500)}
		b.addrs[i].IP = make(net.IP, 16)
		b.msgs[i].Addr = &b.addrs[i]
	}
	return b
}

// hold starts a fan-out: writes queue until the matching release.
func (b *batchConn) hold() {
	b.mu.Lock()
	b.holds++
	b.mu.Unlock()
}

// release ends a fan-out; the last one out sends what is queued.
func (b *batchConn) release() {
	b.mu.Lock()
	b.holds--
	if b.holds == 0 && b.n > 0 {
		b.flushLocked()
	}
	b.mu.Unlock()
}

func (b *batchConn) flushLocked() {
	sent := 0
	for sent < b.n {
		k, err := b.writeBatch(b.msgs[sent:b.n])
		if err != nil || k == 0 {
			break // like a lost UDP packet: the peers' NACKs and keyframe requests recover
		}
		sent += k
	}
	b.n = 0
}

// ReadFromAddrPort reads one packet (Pion's allocation-free read path).
func (b *batchConn) ReadFromAddrPort(p []byte) (int, netip.AddrPort, error) {
	return b.UDPConn.ReadFromUDPAddrPort(p)
}

// WriteToAddrPort sends p now, or queues it during a fan-out.
func (b *batchConn) WriteToAddrPort(p []byte, addr netip.AddrPort) (int, error) {
	b.mu.Lock()
	if b.holds == 0 || len(p) > 1500 {
		b.mu.Unlock()
		return b.UDPConn.WriteToUDPAddrPort(p, addr)
	}
	m := &b.msgs[b.n]
	m.Buffers[0] = append(m.Buffers[0][:0], p...)
	b.setAddr(addr)
	b.n++
	if b.n == len(b.msgs) {
		b.flushLocked()
	}
	b.mu.Unlock()
	return len(p), nil
}

// setAddr fills the next slot's destination (no allocation: the IP slice is reused).
func (b *batchConn) setAddr(addr netip.AddrPort) {
	a := &b.addrs[b.n]
	ip := addr.Addr()
	if b.v6 || !ip.Unmap().Is4() {
		v := ip.As16()
		a.IP = append(a.IP[:0], v[:]...)
	} else {
		v := ip.Unmap().As4()
		a.IP = append(a.IP[:0], v[:]...)
	}
	a.Port = int(addr.Port())
	a.Zone = ""
}

// WriteTo sends through the same path (for callers without AddrPort).
func (b *batchConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return b.UDPConn.WriteTo(p, addr)
	}
	return b.WriteToAddrPort(p, ua.AddrPort())
}
