package loadtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

// testRTP is a plain RTP packet of size bytes whose content follows from seq.
func testRTP(t testing.TB, seq uint16, size int) []byte {
	payload := make([]byte, size-12)
	for i := range payload {
		payload[i] = byte(int(seq) + i)
	}
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: uint32(seq) * 3000, SSRC: 0x11223344}, Payload: payload}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != size {
		t.Fatalf("packet of %d bytes, want %d", len(b), size)
	}
	return b
}

func TestFloorRelaysSRTP(t *testing.T) {
	cpu := -1
	var allowed unix.CPUSet
	if unix.SchedGetaffinity(0, &allowed) == nil {
		for c := range OnlineCPUs() {
			if allowed.IsSet(c) {
				cpu = c
				break
			}
		}
	}
	for _, tc := range []struct {
		name    string
		batch   int
		profile string
		cpu     int
	}{
		{"sendto-default-profile", 1, "", cpu},
		{"sendmmsg-32-AES128_CM_HMAC_SHA1_80", 32, "AES128_CM_HMAC_SHA1_80", -1},
	} {
		t.Run(tc.name, func(t *testing.T) { testFloor(t, tc.batch, tc.profile, tc.cpu) })
	}
}

func testFloor(t *testing.T, batch int, profileName string, cpu int) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const (
		receivers = 5
		packets   = 1000
		size      = 1100
		window    = 32 // packets in flight at most: no loss on loopback
	)
	var mu sync.Mutex
	first := make([][]byte, receivers)
	tap := func(i int, b []byte) {
		mu.Lock()
		defer mu.Unlock()
		if first[i] == nil {
			first[i] = bytes.Clone(b)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f, err := startFloor(ctx, FloorOptions{Receivers: receivers, Batch: batch, Profile: profileName, CPU: cpu}, tap)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			_, _ = f.Close()
		}
	}()
	_, profile, _ := parseProfile(profileName)
	if profileName == "" && f.Profile() != DefaultFloorProfile {
		t.Errorf("profile %s, want %s", f.Profile(), DefaultFloorProfile)
	}
	if cpu >= 0 {
		assertPinned(t, f.PID(), cpu)
	}

	waitReceived := func(n int64) error {
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, _ := f.Received()
			if got >= n {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("received %d packets, want %d", got, n)
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
	for i := range packets {
		if i >= window {
			if err := waitReceived(int64(i-window) * receivers); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.Send(testRTP(t, uint16(i), size)); err != nil {
			t.Fatal(err)
		}
	}
	if err := waitReceived(packets * receivers); err != nil {
		t.Fatal(err)
	}

	ps, err := ReadProc(f.PID())
	if err != nil {
		t.Fatal(err)
	}
	if ps.Threads < 1 || ps.RSSBytes <= 0 || ps.CPU < 0 {
		t.Errorf("floor process: %+v", ps)
	}
	t.Logf("floor process: CPU %v, RSS %d KiB, %d threads", ps.CPU, ps.RSSBytes>>10, ps.Threads)

	st, err := f.Close()
	closed = true
	if err != nil {
		t.Fatal(err)
	}
	overhead := srtpOverhead(profile)
	want := FloorStats{In: packets, Out: packets * receivers, OutBytes: packets * receivers * int64(size+overhead), CPU: st.CPU}
	if st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	if st.CPU <= 0 {
		t.Errorf("floor CPU %v", st.CPU)
	}
	t.Logf("floor %s batch %d: %+v", f.Profile(), batch, st)
	for i := range f.rx {
		if n := f.rx[i].packets.Load(); n != packets {
			t.Errorf("receiver %d: %d packets, want %d", i, n, packets)
		}
	}
	if n, b := f.Received(); n != packets*receivers || b != st.OutBytes {
		t.Errorf("received %d packets %d bytes, floor sent %d, %d", n, b, st.Out, st.OutBytes)
	}

	// Each receiver's packets are SRTP under its own key and SSRC.
	for i, enc := range first {
		r := f.setup.Receivers[i]
		if len(enc) != size+overhead {
			t.Errorf("receiver %d: %d bytes, want %d + %d", i, len(enc), size, overhead)
			continue
		}
		ctx, err := srtp.CreateContext(r.Key, r.Salt, profile)
		if err != nil {
			t.Fatal(err)
		}
		var h rtp.Header
		plain, err := ctx.DecryptRTP(nil, enc, &h)
		if err != nil {
			t.Errorf("receiver %d: %v", i, err)
			continue
		}
		if h.SSRC != r.SSRC {
			t.Errorf("receiver %d: SSRC %x, want %x", i, h.SSRC, r.SSRC)
		}
		exp := testRTP(t, h.SequenceNumber, size)
		binary.BigEndian.PutUint32(exp[8:], r.SSRC)
		if !bytes.Equal(plain, exp) {
			t.Errorf("receiver %d: decrypted packet differs from what was sent", i)
		}
		if bytes.Equal(enc[12:size], exp[12:]) {
			t.Errorf("receiver %d: payload not encrypted", i)
		}
		// Another receiver's key does not authenticate it.
		o := f.setup.Receivers[(i+1)%receivers]
		other, _ := srtp.CreateContext(o.Key, o.Salt, profile)
		if _, err := other.DecryptRTP(nil, enc, nil); err == nil {
			t.Errorf("receiver %d's packet authenticates under receiver %d's key", i, (i+1)%receivers)
		}
	}
}

func TestFloorOptions(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx := context.Background()
	for _, o := range []FloorOptions{
		{Receivers: 0, CPU: -1},
		{Receivers: 1, Profile: "ROT13", CPU: -1},
		{Receivers: 1, CPU: OnlineCPUs()},
		{Receivers: 1, CPU: -2},
	} {
		if f, err := StartFloor(ctx, o); err == nil {
			_, _ = f.Close()
			t.Errorf("%+v: no error", o)
		}
	}
	for in, want := range map[string]string{
		"":                            DefaultFloorProfile,
		"aead_aes_128_gcm":            "SRTP_AEAD_AES_128_GCM",
		"SRTP_AES128_CM_HMAC_SHA1_80": "SRTP_AES128_CM_HMAC_SHA1_80",
	} {
		if got, _, err := parseProfile(in); err != nil || got != want {
			t.Errorf("parseProfile(%q) = %q, %v; want %q", in, got, err, want)
		}
	}

	// A floor stopped while nothing was sent still reports.
	f, err := StartFloor(ctx, FloorOptions{Receivers: 2, CPU: -1})
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.Close()
	if err != nil || st.In != 0 || st.Out != 0 {
		t.Errorf("idle floor: %+v, %v", st, err)
	}
	if st2, err2 := f.Close(); st2 != st || !errors.Is(err2, err) {
		t.Errorf("second Close: %+v %v", st2, err2)
	}
}

// threadCPU is the calling thread's CPU time (the benchmark locks itself to its thread).
func threadCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFloorProtectAndSend is the floor's own work per incoming packet, in process:
// protect a 1,100-byte packet for 50 receivers and send it to their loopback sockets
// (drained by goroutines). ns/op is per incoming packet; µs/recv is the wall time per
// packet per receiver; cpu-µs/recv is the forwarding thread's own CPU time per packet per
// receiver (loopback delivery included: the kernel runs it in the sender's sendto).
func BenchmarkFloorProtectAndSend(b *testing.B) {
	const receivers = 50
	for _, profile := range []string{DefaultFloorProfile, "SRTP_AEAD_AES_128_GCM", "SRTP_AES128_CM_HMAC_SHA1_80"} {
		for _, m := range []struct {
			name   string
			batch  int
			noSend bool
		}{{"protect-only", 1, true}, {"sendto", 1, false}, {"sendmmsg-32", 32, false}} {
			b.Run(profile[len("SRTP_"):]+"/"+m.name, func(b *testing.B) {
				benchRelay(b, profile, m.batch, m.noSend, receivers)
			})
		}
	}
}

func benchRelay(b *testing.B, profileName string, batch int, noSend bool, receivers int) {
	_, profile, err := parseProfile(profileName)
	if err != nil {
		b.Fatal(err)
	}
	keyLen, _ := profile.KeyLen()
	saltLen, _ := profile.SaltLen()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetWriteBuffer(floorSocketBuffer)
	var (
		setup []floorReceiver
		socks []*net.UDPConn
		wg    sync.WaitGroup
		got   atomic.Int64
	)
	for i := range receivers {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		_ = c.SetReadBuffer(floorSocketBuffer)
		socks = append(socks, c)
		r := floorReceiver{Addr: c.LocalAddr().String(), Key: make([]byte, keyLen), Salt: make([]byte, saltLen), SSRC: uint32(1000 + i)}
		_, _ = rand.Read(r.Key)
		_, _ = rand.Read(r.Salt)
		setup = append(setup, r)
		wg.Go(func() {
			buf := make([]byte, maxPacket)
			for {
				if _, err := c.Read(buf); err != nil {
					if errors.Is(err, net.ErrClosed) {
						return
					}
					continue
				}
				got.Add(1)
			}
		})
	}
	defer func() {
		for _, c := range socks {
			_ = c.Close()
		}
		wg.Wait()
	}()
	r, err := newRelay(conn, profile, batch, setup)
	if err != nil {
		b.Fatal(err)
	}
	r.noSend = noSend
	pkt := testRTP(b, 0, 1100)
	for i := range 100 { // warm up: buffers, SSRC states, the mmsg pool
		binary.BigEndian.PutUint16(pkt[2:], uint16(i))
		r.forward(pkt)
	}

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	b.ResetTimer()
	c0, t0 := threadCPU(), time.Now()
	for i := range b.N {
		binary.BigEndian.PutUint16(pkt[2:], uint16(100+i))
		r.forward(pkt)
	}
	cpu, wall := threadCPU()-c0, time.Since(t0)
	b.StopTimer()
	per := float64(b.N) * float64(receivers) * 1e3
	b.ReportMetric(float64(wall.Nanoseconds())/per, "µs/recv")
	b.ReportMetric(float64(cpu.Nanoseconds())/per, "cpu-µs/recv")
	if r.writeErrors > 0 {
		b.Errorf("%d write errors", r.writeErrors)
	}
}
