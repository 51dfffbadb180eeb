package loadtest

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// ShapedConn is a UDP socket whose incoming packets pass through a shaped link, as on a
// slow access network: a token bucket of Rate bits per second (Burst bytes deep) drains a
// first-in first-out queue of at most QueueBytes, and a packet that arrives at a full queue
// is dropped (tail drop). Only what the socket receives is shaped; what it sends is not.
// Sizes count UDP payload bytes (IP and UDP headers are not counted).
//
// A goroutine reads the real socket as fast as packets come, so the kernel's buffer is not
// a second, unbounded queue.
type ShapedConn struct {
	net.PacketConn // writes and addresses go straight to the real socket

	rate  float64 // bytes per second
	burst float64 // bytes

	mu        sync.Mutex
	queue     []shapedPacket
	queued    int // bytes in queue
	maxQueue  int
	tokens    float64
	refilled  time.Time
	readErr   error
	wake      chan struct{} // signalled when a packet is queued or the reader ends
	closed    chan struct{}
	closeOnce sync.Once

	passed, dropped atomic.Int64
}

type shapedPacket struct {
	b    []byte
	from net.Addr
}

// ShapeOptions are a shaped link's figures.
type ShapeOptions struct {
	Kbps int // rate, kilobits per second
	// QueueBytes is the queue's size (0: 100 ms at the rate, at least two 1,500-byte
	// packets).
	QueueBytes int
	// BurstBytes is the bucket's depth (0: one 1,500-byte packet).
	BurstBytes int
}

// NewShapedConn shapes what c receives. Closing the ShapedConn closes c.
func NewShapedConn(c net.PacketConn, o ShapeOptions) (*ShapedConn, error) {
	if o.Kbps <= 0 {
		return nil, errors.New("shaped link: rate must be positive")
	}
	rate := float64(o.Kbps) * 1000 / 8
	if o.QueueBytes <= 0 {
		o.QueueBytes = max(int(rate/10), 3000)
	}
	if o.BurstBytes <= 0 {
		o.BurstBytes = 1500
	}
	s := &ShapedConn{PacketConn: c, rate: rate, burst: float64(o.BurstBytes), maxQueue: o.QueueBytes,
		tokens: float64(o.BurstBytes), refilled: time.Now(), wake: make(chan struct{}, 1), closed: make(chan struct{})}
	go s.pump()
	return s, nil
}

// pump reads the real socket and queues what fits.
func (s *ShapedConn) pump() {
	buf := make([]byte, 65536)
	for {
		n, from, err := s.PacketConn.ReadFrom(buf)
		if err != nil {
			s.mu.Lock()
			s.readErr = err
			s.mu.Unlock()
			s.signal()
			return
		}
		s.offer(buf[:n], from)
	}
}

// offer queues a packet, or drops it when the queue is full.
func (s *ShapedConn) offer(b []byte, from net.Addr) {
	s.mu.Lock()
	if s.queued+len(b) > s.maxQueue {
		s.mu.Unlock()
		s.dropped.Add(1)
		return
	}
	s.queue = append(s.queue, shapedPacket{b: append([]byte(nil), b...), from: from})
	s.queued += len(b)
	s.mu.Unlock()
	s.signal()
}

func (s *ShapedConn) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// ReadFrom returns the next packet when the token bucket lets it through.
func (s *ShapedConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			err := s.readErr
			s.mu.Unlock()
			if err != nil {
				return 0, nil, err
			}
			select {
			case <-s.wake:
			case <-s.closed:
				return 0, nil, net.ErrClosed
			}
			continue
		}
		now := time.Now()
		s.tokens = min(s.burst, s.tokens+now.Sub(s.refilled).Seconds()*s.rate)
		s.refilled = now
		head := s.queue[0]
		need := float64(len(head.b))
		if s.tokens >= need || (s.tokens >= s.burst && need > s.burst) {
			s.tokens -= need
			s.queue[0] = shapedPacket{}
			s.queue = s.queue[1:]
			s.queued -= len(head.b)
			s.mu.Unlock()
			s.passed.Add(1)
			return copy(p, head.b), head.from, nil
		}
		wait := time.Duration((need - s.tokens) / s.rate * float64(time.Second))
		s.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.closed:
			t.Stop()
			return 0, nil, net.ErrClosed
		}
	}
}

// Close closes the real socket and ends readers.
func (s *ShapedConn) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closed)
		err = s.PacketConn.Close()
	})
	return err
}

// Passed and Dropped count packets let through and dropped at a full queue.
func (s *ShapedConn) Passed() int64  { return s.passed.Load() }
func (s *ShapedConn) Dropped() int64 { return s.dropped.Load() }

// listenShaped opens a shaped UDP socket on loopback.
func listenShaped(ctx context.Context, kbps int) (*ShapedConn, error) {
	var lc net.ListenConfig
	c, err := lc.ListenPacket(ctx, "udp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s, err := NewShapedConn(c, ShapeOptions{Kbps: kbps})
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	return s, nil
}
