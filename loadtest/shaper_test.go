package loadtest

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// shapedPair is a sender socket and a shaped receiver socket on loopback.
func shapedPair(t *testing.T, o ShapeOptions) (send net.PacketConn, recv *ShapedConn) {
	t.Helper()
	var lc net.ListenConfig
	raw, err := lc.ListenPacket(context.Background(), "udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	recv, err = NewShapedConn(raw, o)
	if err != nil {
		t.Fatal(err)
	}
	send, err = lc.ListenPacket(context.Background(), "udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = send.Close(); _ = recv.Close() })
	return send, recv
}

// Offered twice its rate for a few seconds, a shaped link lets through its rate (within
// 10%) and drops the rest at its full queue.
func TestShapedConnHonoursRate(t *testing.T) {
	const kbps = 400
	send, recv := shapedPair(t, ShapeOptions{Kbps: kbps})
	var got atomic.Int64 // bytes read
	var first, last atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2000)
		for {
			n, _, err := recv.ReadFrom(buf)
			if err != nil {
				return
			}
			now := time.Now().UnixNano()
			first.CompareAndSwap(0, now)
			last.Store(now)
			got.Add(int64(n))
		}
	}()
	// 800 kbps offered: a 1,000-byte packet every 10 ms, for 3 s.
	pkt := make([]byte, 1000)
	tick := time.NewTicker(10 * time.Millisecond)
	sent := 0
	for range 300 {
		<-tick.C
		if _, err := send.WriteTo(pkt, recv.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		sent++
	}
	tick.Stop()
	time.Sleep(300 * time.Millisecond) // the queue drains (at most 100 ms of it)
	_ = recv.Close()
	<-done
	span := time.Duration(last.Load() - first.Load()).Seconds()
	rate := float64(got.Load()-1000) * 8 / span / 1000 // kbps, the first packet starts the span
	t.Logf("sent %d, passed %d, dropped %d; %.0f kbps over %.2f s", sent, recv.Passed(), recv.Dropped(), rate, span)
	if rate < kbps*0.9 || rate > kbps*1.1 {
		t.Errorf("rate %.0f kbps, want %d ± 10%%", rate, kbps)
	}
	if recv.Dropped() < int64(sent)/3 {
		t.Errorf("dropped %d of %d at twice the rate", recv.Dropped(), sent)
	}
	if recv.Passed()+recv.Dropped() > int64(sent) {
		t.Errorf("passed %d + dropped %d > sent %d", recv.Passed(), recv.Dropped(), sent)
	}
}

// With nobody reading, the queue holds what fits and drops the rest (tail drop); under
// its rate a link drops nothing.
func TestShapedConnQueue(t *testing.T) {
	send, recv := shapedPair(t, ShapeOptions{Kbps: 1000, QueueBytes: 5000})
	pkt := make([]byte, 1000)
	for range 20 {
		if _, err := send.WriteTo(pkt, recv.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	if err := waitUntil(context.Background(), 5*time.Second, func() bool { return recv.Passed()+recv.Dropped()+queued(recv) == 20 }); err != nil {
		t.Fatalf("passed %d dropped %d queued %d: %v", recv.Passed(), recv.Dropped(), queued(recv), err)
	}
	if q, d := queued(recv), recv.Dropped(); q != 5 || d != 15 {
		t.Errorf("queued %d and dropped %d of 20 with a 5-packet queue, want 5 and 15", q, d)
	}
	buf := make([]byte, 2000)
	for range 5 {
		if _, _, err := recv.ReadFrom(buf); err != nil {
			t.Fatal(err)
		}
	}

	// Under the rate: 500 kbps into 1,000, nothing lost.
	send2, recv2 := shapedPair(t, ShapeOptions{Kbps: 1000})
	read := make(chan int64)
	go func() {
		var n int64
		for {
			if _, _, err := recv2.ReadFrom(buf); err != nil {
				read <- n
				return
			}
			n++
		}
	}()
	for range 100 {
		if _, err := send2.WriteTo(pkt, recv2.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(16 * time.Millisecond)
	}
	_ = waitUntil(context.Background(), 5*time.Second, func() bool { return recv2.Passed() == 100 })
	_ = recv2.Close()
	if n := <-read; n != 100 || recv2.Dropped() != 0 {
		t.Errorf("read %d of 100 and dropped %d under the rate", n, recv2.Dropped())
	}
	if _, _, err := recv2.ReadFrom(buf); !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after close: %v", err)
	}
}

func queued(s *ShapedConn) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(len(s.queue))
}
