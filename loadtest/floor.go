package loadtest

// The floor: a bare relay that does only what any SFU must do per forwarded packet and
// viewer (SRTP-protect with the viewer's own context, send over UDP from one socket, as
// behind the SFU's UDP mux), so that the SFU's CPU per forwarded packet can be divided by
// it. It runs as its own process so its CPU is read from /proc exactly like the server's:
// the bench binary re-executes itself with PUENTE_BENCH_ROLE=floor and calls FloorMain.
//
// Child protocol:
//   - environment: PUENTE_BENCH_ROLE=floor, PUENTE_FLOOR_RECEIVERS (count), PUENTE_FLOOR_BATCH,
//     PUENTE_FLOOR_PROFILE;
//   - stdin, first line: JSON floorSetup with each receiver's address, SRTP master key and
//     salt, and SSRC (on stdin rather than in the environment because a few thousand
//     receivers exceed Linux's 128 KiB limit on one environment string);
//   - stdout: "ready <udp addr>" once listening; after stdin closes or SIGTERM/SIGINT, one
//     JSON line of counters (FloorStats), then exit 0.

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"golang.org/x/net/ipv4"
)

// Environment of the floor child process.
const (
	// RoleFloor is the value of RoleEnv (PUENTE_BENCH_ROLE) that makes a process a floor
	// relay: its main calls FloorMain.
	RoleFloor = "floor"

	EnvFloorReceivers = "PUENTE_FLOOR_RECEIVERS" // number of receivers (checked against the setup line)
	EnvFloorBatch     = "PUENTE_FLOOR_BATCH"     // packets per sendmmsg; 1 (default): one sendto per packet
	EnvFloorProfile   = "PUENTE_FLOOR_PROFILE"   // SRTP protection profile; "": DefaultFloorProfile
)

// DefaultFloorProfile is the SRTP profile the SFU ends up with against Pion clients. The SFU
// leaves pion/webrtc's default profile list (AEAD_AES_256_GCM, AEAD_AES_128_GCM,
// AES128_CM_HMAC_SHA1_80, in that order) and the DTLS server picks the first of its own list
// the client offers; Pion clients offer the same list, so both directions negotiate
// AEAD_AES_256_GCM whichever side is the DTLS server.
const DefaultFloorProfile = "SRTP_AEAD_AES_256_GCM"

// Socket buffers as in the SFU (sfu.udpSocketBuffer); the kernel caps them at
// net.core.rmem_max / wmem_max.
const floorSocketBuffer = 4 << 20

// floorStartTimeout bounds the wait for the child's "ready" when ctx has no deadline.
const floorStartTimeout = 30 * time.Second

// maxPacket is the largest packet the relay and the receivers read.
const maxPacket = 1 << 16

var floorProfiles = map[string]srtp.ProtectionProfile{
	"SRTP_AEAD_AES_256_GCM":       srtp.ProtectionProfileAeadAes256Gcm,
	"SRTP_AEAD_AES_128_GCM":       srtp.ProtectionProfileAeadAes128Gcm,
	"SRTP_AES128_CM_HMAC_SHA1_80": srtp.ProtectionProfileAes128CmHmacSha1_80,
	"SRTP_AES128_CM_HMAC_SHA1_32": srtp.ProtectionProfileAes128CmHmacSha1_32,
}

// parseProfile accepts the DTLS-SRTP names with or without "SRTP_", in any case.
func parseProfile(name string) (string, srtp.ProtectionProfile, error) {
	if name == "" {
		name = DefaultFloorProfile
	}
	canon := strings.ToUpper(strings.TrimSpace(name))
	if !strings.HasPrefix(canon, "SRTP_") {
		canon = "SRTP_" + canon
	}
	p, ok := floorProfiles[canon]
	if !ok {
		return "", 0, fmt.Errorf("unknown SRTP profile %q: use AEAD_AES_256_GCM, AEAD_AES_128_GCM, AES128_CM_HMAC_SHA1_80 or AES128_CM_HMAC_SHA1_32", name)
	}
	return canon, p, nil
}

// srtpOverhead is what protection adds to an RTP packet (the authentication tag).
func srtpOverhead(p srtp.ProtectionProfile) int {
	if n, err := p.AEADAuthTagLen(); err == nil && n > 0 {
		return n
	}
	n, _ := p.AuthTagRTPLen()
	return n
}

// FloorOptions configures a floor.
type FloorOptions struct {
	Receivers int    // viewers to fan out to (each with its own SRTP context and socket)
	Batch     int    // packets per sendmmsg; 0 or 1: one sendto per packet, as the SFU does today
	Profile   string // SRTP protection profile; "": DefaultFloorProfile (what the SFU negotiates)
	CPU       int    // pin the floor process to this CPU; -1: no pinning
}

// FloorStats are the floor process's own counters, plus its CPU time.
type FloorStats struct {
	In          int64 `json:"in"`           // packets received from the generator
	Out         int64 `json:"out"`          // SRTP packets sent to receivers
	OutBytes    int64 `json:"out_bytes"`    // their bytes (UDP payload)
	WriteErrors int64 `json:"write_errors"` // packets a send failed for
	Dropped     int64 `json:"dropped"`      // incoming packets that were not RTP (not forwarded)
	// CPU is the child's user+system time over its whole life (from wait4 rusage, µs
	// resolution); for a rate, sample ReadProc(PID()) around the measured interval instead.
	CPU time.Duration `json:"-"`
}

// floorSetup is the first line the child reads on stdin.
type floorSetup struct {
	Receivers []floorReceiver `json:"receivers"`
}

type floorReceiver struct {
	Addr string `json:"addr"`
	Key  []byte `json:"key"`
	Salt []byte `json:"salt"`
	SSRC uint32 `json:"ssrc"`
}

// Floor is a running floor process as seen from the generator: the child, the socket that
// sends it packets, and the receiver sockets it sends to.
type Floor struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	stderr  *tailBuffer
	send    *net.UDPConn
	recv    []*net.UDPConn
	rx      []floorRx
	wg      sync.WaitGroup // receiver goroutines
	setup   floorSetup
	profile string

	ready      chan string   // the child's "ready" address, once
	stdoutDone chan struct{} // the child's stdout reached EOF
	lastLine   string        // the child's last stdout line; read after stdoutDone

	closeOnce  sync.Once
	closeStats FloorStats
	closeErr   error
}

type floorRx struct {
	packets, bytes atomic.Int64
}

// StartFloor starts a floor process: it opens the receiver sockets on 127.0.0.1, re-executes
// this binary with PUENTE_BENCH_ROLE=floor, hands it the receivers' addresses and keys, and
// waits until it listens. ctx bounds the start only (30 s when it has no deadline); Close
// stops the floor.
func StartFloor(ctx context.Context, o FloorOptions) (*Floor, error) {
	return startFloor(ctx, o, nil)
}

// startFloor is StartFloor; tap, when set, sees every packet a receiver reads (tests).
func startFloor(ctx context.Context, o FloorOptions, tap func(receiver int, pkt []byte)) (f *Floor, err error) {
	if os.Getenv(RoleEnv) == RoleFloor {
		return nil, errors.New("start floor: this process is itself a floor child; the executable must call loadtest.FloorMain when " + RoleEnv + "=" + RoleFloor)
	}
	if o.Receivers < 1 {
		return nil, fmt.Errorf("start floor: %d receivers: need at least 1", o.Receivers)
	}
	if o.Batch < 1 {
		o.Batch = 1
	}
	if o.CPU < -1 || o.CPU >= OnlineCPUs() {
		return nil, fmt.Errorf("start floor: CPU %d: use -1 (no pinning) or a CPU from 0 to %d", o.CPU, OnlineCPUs()-1)
	}
	name, profile, err := parseProfile(o.Profile)
	if err != nil {
		return nil, fmt.Errorf("start floor: %w", err)
	}
	keyLen, err1 := profile.KeyLen()
	saltLen, err2 := profile.SaltLen()
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("start floor: %w", err)
	}

	f = &Floor{profile: name, rx: make([]floorRx, o.Receivers),
		ready: make(chan string, 1), stdoutDone: make(chan struct{}), stderr: &tailBuffer{max: 8 << 10}}
	var writeDone chan struct{} // the setup line's writer goroutine ended
	defer func() {
		if err != nil {
			f.abort()
			if writeDone != nil {
				<-writeDone
			}
		}
	}()

	// Receivers: one socket each, as viewers have, with random keys and SSRCs.
	ssrcs := map[uint32]bool{}
	for i := range o.Receivers {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return nil, fmt.Errorf("start floor: receiver socket %d: %w", i, err)
		}
		_ = c.SetReadBuffer(floorSocketBuffer)
		f.recv = append(f.recv, c)
		r := floorReceiver{Addr: c.LocalAddr().String(), Key: make([]byte, keyLen), Salt: make([]byte, saltLen)}
		_, _ = rand.Read(r.Key)
		_, _ = rand.Read(r.Salt)
		for r.SSRC == 0 || ssrcs[r.SSRC] {
			var b [4]byte
			_, _ = rand.Read(b[:])
			r.SSRC = binary.BigEndian.Uint32(b[:])
		}
		ssrcs[r.SSRC] = true
		f.setup.Receivers = append(f.setup.Receivers, r)
	}
	for i, c := range f.recv {
		f.wg.Add(1)
		go f.drain(i, c, tap)
	}

	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("start floor: %w", err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(),
		RoleEnv+"="+RoleFloor,
		EnvFloorReceivers+"="+strconv.Itoa(o.Receivers),
		EnvFloorBatch+"="+strconv.Itoa(o.Batch),
		EnvFloorProfile+"="+name,
	)
	cmd.Stderr = f.stderr
	if f.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("start floor: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start floor: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start floor: %s: %w", exe, err)
	}
	f.cmd = cmd
	go f.readStdout(stdout)
	if o.CPU >= 0 {
		if err := Pin(cmd.Process.Pid, o.CPU); err != nil {
			return nil, fmt.Errorf("start floor: %w", err)
		}
	}

	setup, err := json.Marshal(f.setup)
	if err != nil {
		return nil, fmt.Errorf("start floor: %w", err)
	}
	var writeErr error
	writeDone = make(chan struct{})
	go func() {
		defer close(writeDone)
		_, writeErr = f.stdin.Write(append(setup, '\n'))
	}()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, floorStartTimeout)
		defer cancel()
	}
	var addr string
	select {
	case addr = <-f.ready:
	case <-f.stdoutDone:
		return nil, fmt.Errorf("start floor: the child exited before it was ready%s", f.stderr.suffix())
	case <-ctx.Done():
		return nil, fmt.Errorf("start floor: waiting for the child: %w%s", ctx.Err(), f.stderr.suffix())
	}
	<-writeDone // the child read the whole line before it said ready
	if writeErr != nil {
		return nil, fmt.Errorf("start floor: sending the setup: %w", writeErr)
	}
	if !strings.HasPrefix(addr, "ready ") {
		return nil, fmt.Errorf("start floor: the child said %q instead of \"ready <addr>\"%s", addr, f.stderr.suffix())
	}
	ap, err := netip.ParseAddrPort(strings.TrimSpace(strings.TrimPrefix(addr, "ready ")))
	if err != nil {
		return nil, fmt.Errorf("start floor: the child's address: %w", err)
	}
	if f.send, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(ap)); err != nil {
		return nil, fmt.Errorf("start floor: %w", err)
	}
	_ = f.send.SetWriteBuffer(floorSocketBuffer)
	if o.CPU >= 0 { // the runtime may have started threads while the first Pin ran
		if err := Pin(cmd.Process.Pid, o.CPU); err != nil {
			return nil, fmt.Errorf("start floor: %w", err)
		}
	}
	return f, nil
}

func (f *Floor) drain(i int, c *net.UDPConn, tap func(int, []byte)) {
	defer f.wg.Done()
	buf := make([]byte, maxPacket)
	rx := &f.rx[i]
	for {
		n, err := c.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		rx.packets.Add(1)
		rx.bytes.Add(int64(n))
		if tap != nil {
			tap(i, buf[:n])
		}
	}
}

func (f *Floor) readStdout(r io.Reader) {
	defer close(f.stdoutDone)
	sc := bufio.NewScanner(r)
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first {
			first = false
			f.ready <- line
			continue
		}
		if strings.TrimSpace(line) != "" {
			f.lastLine = line
		}
	}
	_, _ = io.Copy(io.Discard, r) // a line too long for the scanner: keep the child unblocked
}

// Send sends one plain RTP packet to the floor. Safe for concurrent use.
func (f *Floor) Send(pkt []byte) error {
	_, err := f.send.Write(pkt)
	return err
}

// PID is the floor process's ID (for ReadProc).
func (f *Floor) PID() int { return f.cmd.Process.Pid }

// Profile is the SRTP protection profile the floor uses.
func (f *Floor) Profile() string { return f.profile }

// Received is what the receivers have read so far, summed.
func (f *Floor) Received() (packets, bytes int64) {
	for i := range f.rx {
		packets += f.rx[i].packets.Load()
		bytes += f.rx[i].bytes.Load()
	}
	return packets, bytes
}

// Close stops the floor process (closing its stdin, then SIGTERM, then SIGKILL if it does
// not exit), lets the receivers drain what is still queued for them, closes every socket
// and returns the child's counters. Received stays readable afterwards. Close is
// idempotent.
func (f *Floor) Close() (FloorStats, error) {
	f.closeOnce.Do(func() { f.closeStats, f.closeErr = f.close() })
	return f.closeStats, f.closeErr
}

func (f *Floor) close() (FloorStats, error) {
	var st FloorStats
	_ = f.stdin.Close()
	waitFor := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-f.stdoutDone:
			return true
		case <-t.C:
			return false
		}
	}
	var errs []error
	if !waitFor(5 * time.Second) {
		_ = f.cmd.Process.Signal(syscall.SIGTERM)
		if !waitFor(2 * time.Second) {
			_ = f.cmd.Process.Kill()
			<-f.stdoutDone
			errs = append(errs, errors.New("the floor process did not stop; killed"))
		}
	}
	werr := f.cmd.Wait()
	if ps := f.cmd.ProcessState; ps != nil {
		st.CPU = ps.UserTime() + ps.SystemTime()
	}
	if werr != nil {
		errs = append(errs, fmt.Errorf("floor process: %w%s", werr, f.stderr.suffix()))
	}
	if f.lastLine == "" {
		errs = append(errs, fmt.Errorf("the floor process printed no counters%s", f.stderr.suffix()))
	} else if err := json.Unmarshal([]byte(f.lastLine), &st); err != nil {
		errs = append(errs, fmt.Errorf("the floor's counters %q: %w", f.lastLine, err))
	}

	// What the child sent may still sit in the receivers' socket buffers.
	deadline := time.Now().Add(time.Second)
	last, _ := f.Received()
	for time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		n, _ := f.Received()
		if n == last {
			break
		}
		last = n
	}
	f.closeSockets()
	return st, errors.Join(errs...)
}

// abort tears down a floor whose start failed.
func (f *Floor) abort() {
	if f.cmd != nil {
		_ = f.stdin.Close()
		_ = f.cmd.Process.Kill()
		<-f.stdoutDone
		_ = f.cmd.Wait()
	}
	f.closeSockets()
}

func (f *Floor) closeSockets() {
	if f.send != nil {
		_ = f.send.Close()
	}
	for _, c := range f.recv {
		_ = c.Close()
	}
	f.wg.Wait()
}

// FloorMain runs this process as a floor relay (see the package's floor protocol above) and
// returns the exit code. cmd/puente-bench calls it when PUENTE_BENCH_ROLE=floor.
func FloorMain() int {
	if err := floorChild(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		return 1
	}
	return 0
}

func floorChild(stdin io.Reader, stdout io.Writer) error {
	batch := 1
	if s := os.Getenv(EnvFloorBatch); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return fmt.Errorf("%s=%q: want a number of packets ≥ 1", EnvFloorBatch, s)
		}
		batch = n
	}
	_, profile, err := parseProfile(os.Getenv(EnvFloorProfile))
	if err != nil {
		return fmt.Errorf("%s: %w", EnvFloorProfile, err)
	}
	in := bufio.NewReaderSize(stdin, 64<<10)
	line, err := in.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("reading the setup line on stdin: %w", err)
	}
	var setup floorSetup
	if err := json.Unmarshal(line, &setup); err != nil {
		return fmt.Errorf("the setup line: %w", err)
	}
	if s := os.Getenv(EnvFloorReceivers); s != "" && s != strconv.Itoa(len(setup.Receivers)) {
		return fmt.Errorf("%s=%s but the setup line has %d receivers", EnvFloorReceivers, s, len(setup.Receivers))
	}

	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetReadBuffer(floorSocketBuffer)
	_ = conn.SetWriteBuffer(floorSocketBuffer)
	r, err := newRelay(conn, profile, batch, setup.Receivers)
	if err != nil {
		return err
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)
	stdinClosed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, in)
		close(stdinClosed)
	}()
	go func() {
		select {
		case <-stdinClosed:
		case <-sig:
		}
		_ = conn.Close()
	}()

	if _, err := fmt.Fprintf(stdout, "ready %s\n", conn.LocalAddr()); err != nil {
		return err
	}
	serveErr := r.serve()
	out, err := json.Marshal(r.stats())
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(stdout, "%s\n", out); err != nil {
		return err
	}
	return serveErr
}

// relay is the floor's forwarding loop: one socket in and out (as the SFU's UDP mux), one
// SRTP context per receiver. It is used by one goroutine.
type relay struct {
	conn  *net.UDPConn
	pc    *ipv4.PacketConn // batch > 1
	batch int
	outs  []relayOut
	bufs  [][]byte       // one per batch slot: the protected packets waiting to be sent
	msgs  []ipv4.Message // batch > 1
	n     int            // packets waiting in msgs
	// noSend protects without sending (benchmarks: the cost of SRTP alone).
	noSend bool

	in, out, outBytes, writeErrors, dropped int64
}

type relayOut struct {
	ctx  *srtp.Context
	hdr  rtp.Header // reused by EncryptRTP's header parse
	ssrc [4]byte
	ap   netip.AddrPort // batch 1
	addr *net.UDPAddr   // batch > 1
}

func newRelay(conn *net.UDPConn, profile srtp.ProtectionProfile, batch int, receivers []floorReceiver) (*relay, error) {
	if len(receivers) == 0 {
		return nil, errors.New("no receivers")
	}
	r := &relay{conn: conn, batch: max(batch, 1), outs: make([]relayOut, len(receivers))}
	for i, rc := range receivers {
		ctx, err := srtp.CreateContext(rc.Key, rc.Salt, profile)
		if err != nil {
			return nil, fmt.Errorf("receiver %d: SRTP context: %w", i, err)
		}
		ap, err := netip.ParseAddrPort(rc.Addr)
		if err != nil {
			return nil, fmt.Errorf("receiver %d: %w", i, err)
		}
		o := &r.outs[i]
		o.ctx, o.ap, o.addr = ctx, ap, net.UDPAddrFromAddrPort(ap)
		binary.BigEndian.PutUint32(o.ssrc[:], rc.SSRC)
	}
	r.bufs = make([][]byte, r.batch)
	for i := range r.bufs {
		r.bufs[i] = make([]byte, 0, 1500+64)
	}
	if r.batch > 1 {
		r.pc = ipv4.NewPacketConn(conn)
		r.msgs = make([]ipv4.Message, r.batch)
		for i := range r.msgs {
			r.msgs[i].Buffers = make([][]byte, 1)
		}
	}
	return r, nil
}

// serve forwards until the socket is closed.
func (r *relay) serve() error {
	buf := make([]byte, maxPacket)
	for {
		n, err := r.conn.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		r.forward(buf[:n])
	}
}

// forward protects pkt for every receiver and sends it. pkt's SSRC bytes are overwritten.
// Nothing is allocated in steady state.
func (r *relay) forward(pkt []byte) {
	r.in++
	if len(pkt) < 12 || pkt[0]>>6 != 2 {
		r.dropped++
		return
	}
	for i := range r.outs {
		o := &r.outs[i]
		copy(pkt[8:12], o.ssrc[:]) // this receiver's SSRC, as an SFU rewrites it per viewer
		slot := r.n
		enc, err := o.ctx.EncryptRTP(r.bufs[slot], pkt, &o.hdr)
		if err != nil {
			r.writeErrors++
			continue
		}
		r.bufs[slot] = enc[:0] // keep a grown buffer
		switch {
		case r.noSend:
			r.out++
			r.outBytes += int64(len(enc))
		case r.batch == 1:
			n, err := r.conn.WriteToUDPAddrPort(enc, o.ap)
			if err != nil {
				r.writeErrors++
				continue
			}
			r.out++
			r.outBytes += int64(n)
		default:
			m := &r.msgs[slot]
			m.Buffers[0] = enc
			m.Addr = o.addr
			r.n++
			if r.n == r.batch {
				r.flush()
			}
		}
	}
	if r.n > 0 {
		r.flush()
	}
}

// flush sends the waiting packets with sendmmsg, skipping one that fails.
func (r *relay) flush() {
	ms := r.msgs[:r.n]
	r.n = 0
	for len(ms) > 0 {
		n, err := r.pc.WriteBatch(ms, 0)
		n = max(n, 0)
		for _, m := range ms[:n] {
			r.out++
			r.outBytes += int64(len(m.Buffers[0]))
		}
		ms = ms[n:]
		if err != nil && len(ms) > 0 {
			r.writeErrors++ // sendmmsg fails on the first packet it could not send
			ms = ms[1:]
		}
	}
}

func (r *relay) stats() FloorStats {
	return FloorStats{In: r.in, Out: r.out, OutBytes: r.outBytes, WriteErrors: r.writeErrors, Dropped: r.dropped}
}
