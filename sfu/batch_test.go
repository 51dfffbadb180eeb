package sfu

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// udpPair is a batchConn on a loopback socket and n receiving sockets.
func udpPair(t *testing.T, n int) (*batchConn, []*net.UDPConn) {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	rs := make([]*net.UDPConn, n)
	for i := range rs {
		r, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		_ = r.SetReadBuffer(4 << 20)
		t.Cleanup(func() { _ = r.Close() })
		rs[i] = r
	}
	return newBatchConn(c), rs
}

// packet is the test's packet number i for destination to, size bytes long, its bytes all
// derived from i so that any mix-up shows.
func packet(i, size int) []byte {
	p := make([]byte, size)
	binary.BigEndian.PutUint32(p, uint32(i))
	for j := 4; j < size; j++ {
		p[j] = byte(i*31 + j)
	}
	return p
}

// readAll reads n packets from r (giving up after 5 s) and returns them.
func readAll(t *testing.T, r *net.UDPConn, n int) [][]byte {
	t.Helper()
	var got [][]byte
	buf := make([]byte, 64<<10)
	_ = r.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(got) < n {
		k, _, err := r.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("%s: %d of %d packets, then %v", r.LocalAddr(), len(got), n, err)
		}
		got = append(got, bytes.Clone(buf[:k]))
	}
	return got
}

// TestBatchConnFanOut: the copies written during a fan-out leave when it ends, each
// byte-identical and at its own destination, in the order written, also when there are
// more than one sendmmsg carries (maxBatch) and with a packet larger than a batch slot,
// which goes out at once and whole.
func TestBatchConnFanOut(t *testing.T) {
	b, rs := udpPair(t, 5)
	const per = 40 // 200 packets: more than three full batches
	sizes := []int{8, 200, 1200, 1500}
	b.hold()
	for i := range per * len(rs) {
		to := rs[i%len(rs)].LocalAddr().(*net.UDPAddr).AddrPort()
		if n, err := b.WriteToAddrPort(packet(i, sizes[i%len(sizes)]), to); err != nil || n != sizes[i%len(sizes)] {
			t.Fatalf("write %d: %d, %v", i, n, err)
		}
	}
	big := packet(9999, 4000) // larger than a slot: not queued
	if _, err := b.WriteToAddrPort(big, rs[0].LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
		t.Fatal(err)
	}
	b.release()
	for k, r := range rs {
		want := per
		if k == 0 {
			want++
		}
		got := readAll(t, r, want)
		next := k
		for _, p := range got {
			if len(p) == len(big) {
				if !bytes.Equal(p, big) {
					t.Errorf("receiver %d: the large packet arrived changed", k)
				}
				continue
			}
			if want := packet(next, sizes[next%len(sizes)]); !bytes.Equal(p, want) {
				t.Fatalf("receiver %d: got packet %d (%d bytes), want packet %d", k, binary.BigEndian.Uint32(p), len(p), next)
			}
			next += len(rs)
		}
	}
}

// TestBatchConnHolds: nothing queued leaves before the last of nested fan-outs ends, and a
// write outside any fan-out leaves at once.
func TestBatchConnHolds(t *testing.T) {
	b, rs := udpPair(t, 1)
	to := rs[0].LocalAddr().(*net.UDPAddr).AddrPort()
	b.hold()
	b.hold()
	for i := range 3 {
		if _, err := b.WriteToAddrPort(packet(i, 100), to); err != nil {
			t.Fatal(err)
		}
	}
	b.release()
	_ = rs[0].SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, _, err := rs[0].ReadFromUDP(make([]byte, 1500)); err == nil {
		t.Fatalf("a %d-byte packet left while a fan-out was still on", n)
	}
	b.release()
	got := readAll(t, rs[0], 3)
	for i, p := range got {
		if !bytes.Equal(p, packet(i, 100)) {
			t.Errorf("packet %d changed", i)
		}
	}
	if _, err := b.WriteToAddrPort(packet(7, 100), to); err != nil {
		t.Fatal(err)
	}
	if p := readAll(t, rs[0], 1)[0]; !bytes.Equal(p, packet(7, 100)) {
		t.Error("the packet written outside a fan-out changed")
	}
}

// TestBatchConnBadDestinations: in one batch, a destination nobody listens on (the port
// was closed: ICMP port unreachable) and one whose socket buffer is full (it never reads)
// neither block the batch nor cost the others their packets; the fan-outs go on.
func TestBatchConnBadDestinations(t *testing.T) {
	b, rs := udpPair(t, 3)
	good, full, gone := rs[0], rs[1], rs[2]
	raw, err := full.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	_ = raw.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 1) })
	goneAddr := gone.LocalAddr().(*net.UDPAddr).AddrPort()
	_ = gone.Close()
	const rounds = 50
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range rounds {
			b.hold()
			for _, to := range []*net.UDPConn{full, good} {
				_, _ = b.WriteToAddrPort(packet(i, 1200), to.LocalAddr().(*net.UDPAddr).AddrPort())
			}
			_, _ = b.WriteToAddrPort(packet(i, 1200), goneAddr)
			b.release()
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("fan-outs to a full and a closed destination did not finish in 10 s")
	}
	for i, p := range readAll(t, good, rounds) {
		if !bytes.Equal(p, packet(i, 1200)) {
			t.Fatalf("the good receiver's packet %d changed or is missing", i)
		}
	}
}

// TestBatchConnConcurrentFanOuts: several forwarding goroutines (one per layer or
// publication) fan out at once; every copy arrives whole at its destination.
func TestBatchConnConcurrentFanOuts(t *testing.T) {
	b, rs := udpPair(t, 4)
	const loops, per = 4, 100
	var wg sync.WaitGroup
	for g := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				b.hold()
				for _, r := range rs {
					_, _ = b.WriteToAddrPort(packet(g*per+i, 300), r.LocalAddr().(*net.UDPAddr).AddrPort())
				}
				b.release()
			}
		}()
	}
	wg.Wait()
	for k, r := range rs {
		seen := map[uint32]bool{}
		for _, p := range readAll(t, r, loops*per) {
			i := binary.BigEndian.Uint32(p)
			if !bytes.Equal(p, packet(int(i), 300)) || seen[i] {
				t.Fatalf("receiver %d: packet %d changed or came twice", k, i)
			}
			seen[i] = true
		}
	}
}

// TestBatchedForwarding: with batched writes, viewers of a real SFU over loopback receive
// the publisher's VP8 payloads byte for byte, with sequence numbers that go on without a
// gap and timestamps that keep the publisher's spacing.
func TestBatchedForwarding(t *testing.T) {
	verifyNoLeaks(t)
	s := startSFU(t, Config{Network: Network{TCPPort: -1, LoopbackOnly: true, BatchWrites: true}, Logger: networkTestLogger(t)})
	if s.batch == nil {
		t.Fatal("the SFU does not batch its writes")
	}
	room := s.NewRoom("batched")
	t.Cleanup(room.Close)
	api := speakerClientAPI(t)
	type seen struct {
		seq     uint16
		ts      uint32
		payload []byte
	}
	viewers := make([]*rtcClient, 3)
	logs := make([][]seen, len(viewers))
	var mu sync.Mutex
	for i := range viewers {
		viewers[i] = joinClient(t, room, api, fmt.Sprintf("viewer%d", i), false)
		f := func(_ *webrtc.TrackRemote, pkt *rtp.Packet) {
			mu.Lock()
			defer mu.Unlock()
			logs[i] = append(logs[i], seen{pkt.SequenceNumber, pkt.Timestamp, bytes.Clone(pkt.Payload)})
		}
		viewers[i].onRTP.Store(&f)
	}
	pub := joinClient(t, room, api, "pub", true)
	pub.publishVideo(t)
	for _, v := range viewers {
		v.moreReceived(t, 150)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, log := range logs {
		var tsBase uint32
		for k, p := range log {
			// The publisher's payload: the VP8 descriptor, its frame number n, 400 zeros.
			key := len(p.payload) > 1 && p.payload[1]&1 == 0
			at := 4
			if key {
				at = 11
			}
			if len(p.payload) < at+4 {
				t.Fatalf("viewer %d: packet %d has a %d-byte payload", i, k, len(p.payload))
			}
			n := binary.BigEndian.Uint32(p.payload[at:])
			if !bytes.Equal(p.payload, vp8Frame(n, key)) {
				t.Fatalf("viewer %d: packet %d's payload is not frame %d as sent", i, k, n)
			}
			if k == 0 {
				tsBase = p.ts - n*900
				continue
			}
			if p.seq != log[k-1].seq+1 {
				t.Fatalf("viewer %d: sequence number %d after %d", i, p.seq, log[k-1].seq)
			}
			if p.ts-n*900 != tsBase {
				t.Fatalf("viewer %d: frame %d has timestamp %d, off the publisher's spacing", i, n, p.ts)
			}
		}
	}
}

// TestMalformedPublisherPackets: what a publisher sends that is not RTP, or whose header
// does not add up (short, another version, CSRCs or extensions or padding beyond the
// packet, a VP8 payload cut short), reaches no viewer and breaks nothing: the good packets
// around it are forwarded, numbered on as the publisher numbered them.
func TestMalformedPublisherPackets(t *testing.T) {
	pub := benchPublication()
	_, w := benchViewer(t, pub, 0)
	var pkt rtp.Packet
	if sent, _ := benchForward(pub, &pkt, benchVP8(t, 1000, true)); sent != 1 {
		t.Fatalf("the keyframe reached %d viewers, want 1", sent)
	}
	first := w.seq
	good := benchVP8(t, 1001, false)
	bad := map[string][]byte{
		"empty":                    {},
		"one byte":                 {0x80},
		"short header":             good[:8],
		"version 1":                append([]byte{0x40}, good[1:]...),
		"15 CSRCs, none there":     append([]byte{0x8f}, good[1:12]...),
		"extension beyond the end": append(append([]byte{0x90}, good[1:12]...), 0xbe, 0xde, 0xff, 0xff),
		"padding beyond the end":   append(append([]byte{0xa0}, good[1:12]...), 0x01, 0x02, 0xff),
		"header only, padding bit": append([]byte{0xa0}, good[1:12]...),
	}
	for name, raw := range bad {
		if sent, _ := benchForward(pub, &pkt, raw); sent != 0 {
			t.Errorf("%s: reached %d viewers", name, sent)
		}
	}
	// A VP8 packet with a payload too short for its descriptor is RTP all the same: it may
	// be forwarded as it is, but must not stop the stream.
	short := benchVP8(t, 1001, false)
	short = short[:len(short)-len(pkt.Payload)+1]
	_, _ = benchForward(pub, &pkt, short)
	before := w.packets
	if sent, _ := benchForward(pub, &pkt, benchVP8(t, 1002, false)); sent != 1 {
		t.Fatalf("the good packet after malformed ones reached %d viewers", sent)
	}
	// The viewer's numbering follows the publisher's: 1002 is two after the keyframe's
	// 1000 (the malformed packets took no number of the viewer's).
	if w.packets != before+1 || w.seq-first != 2 {
		t.Errorf("after malformed packets: %d packets, sequence %d, want %d", w.packets, w.seq, first+2)
	}
}
