package bwe

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Config sets the estimators' bounds. Zero values take the defaults.
type Config struct {
	// InitialBps is where every estimate starts (default 300 kbps, libwebrtc's start: a new
	// viewer starts on the low layer, which fits the weak links Puente serves, and probes
	// take a fast link's estimate up within seconds; a higher start sends a weak link's
	// viewer more than it carries, and the losses that follow take its estimate far below
	// the link's rate).
	InitialBps int
	// MinBps and MaxBps bound the estimates (default 30 kbps, enough to keep audio; and
	// 6 Mbps, a screen share and a camera's high layer with room to spare).
	MinBps, MaxBps int
	// FeedbackTimeout: a kind of feedback (TWCC, REMB) not heard for this long no longer
	// counts (default 5 s).
	FeedbackTimeout time.Duration
	Logger          *slog.Logger
}

const (
	defaultInitialBps      = 300_000
	defaultMinBps          = 30_000
	defaultMaxBps          = 6_000_000
	defaultFeedbackTimeout = 5 * time.Second
)

// Estimators gives every PeerConnection made by an API whose interceptor registry it was
// registered in its own send-side estimator, and finds it again by PeerConnection.
type Estimators struct {
	cfg Config
	log *slog.Logger

	mu sync.Mutex
	// Pion names the interceptors it builds for a PeerConnection after the PeerConnection's
	// id, which it makes from the time of its creation in nanoseconds; the map holds each
	// live PeerConnection's estimator under that id until the PeerConnection closes.
	byID map[string]*Estimator
}

// NewEstimators returns an empty set of estimators.
func NewEstimators(cfg Config) *Estimators {
	if cfg.InitialBps <= 0 {
		cfg.InitialBps = defaultInitialBps
	}
	if cfg.MinBps <= 0 {
		cfg.MinBps = defaultMinBps
	}
	if cfg.MaxBps <= 0 {
		cfg.MaxBps = defaultMaxBps
	}
	cfg.MaxBps = max(cfg.MaxBps, cfg.MinBps)
	cfg.InitialBps = min(max(cfg.InitialBps, cfg.MinBps), cfg.MaxBps)
	if cfg.FeedbackTimeout <= 0 {
		cfg.FeedbackTimeout = defaultFeedbackTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Estimators{cfg: cfg, log: cfg.Logger, byID: make(map[string]*Estimator)}
}

// Register sets up m and ir for send-side estimation on an API whose PeerConnections both
// send and receive: RegisterSender and RegisterReceiver together.
func (e *Estimators) Register(m *webrtc.MediaEngine, ir *interceptor.Registry) error {
	if err := e.RegisterSender(m, ir); err != nil {
		return err
	}
	return RegisterReceiver(m, ir)
}

// RegisterSender sets up m and ir for the PeerConnections that send (the SFU's down
// connections): one estimator per PeerConnection, which numbers everything sent with
// transport-wide sequence numbers and reads the receiver's transport-cc feedback (and
// goog-remb, for receivers that only send REMB). Call it after the codecs are registered,
// and after the interceptors that should see packets before they are numbered and noted as
// sent: the interceptor added last is the first a packet passes.
func (e *Estimators) RegisterSender(m *webrtc.MediaEngine, ir *interceptor.Registry) error {
	ir.Add(estimatorFactory{e})
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		m.RegisterFeedback(webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBTransportCC}, k)
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, k); err != nil {
			return fmt.Errorf("transport-cc header extension: %w", err)
		}
	}
	m.RegisterFeedback(webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBGoogREMB}, webrtc.RTPCodecTypeVideo)
	return nil
}

// RegisterReceiver sets up m and ir for the PeerConnections that receive (the SFU's up
// connections): transport-cc feedback for what they receive, so that the senders' own
// estimators (the publishers' browsers) work.
func RegisterReceiver(m *webrtc.MediaEngine, ir *interceptor.Registry) error {
	if err := webrtc.ConfigureTWCCSender(m, ir); err != nil {
		return fmt.Errorf("transport-cc feedback: %w", err)
	}
	return nil
}

// estimatorFactory makes each PeerConnection's estimator with the interceptor that feeds it.
type estimatorFactory struct{ e *Estimators }

func (f estimatorFactory) NewInterceptor(id string) (interceptor.Interceptor, error) {
	est := f.e.newEstimator()
	est.id = id
	f.e.mu.Lock()
	defer f.e.mu.Unlock()
	if _, taken := f.e.byID[id]; taken {
		// Two PeerConnections made in the same nanosecond: the second is not found.
		f.e.log.Warn("bandwidth estimator: duplicate peer connection id", "id", id)
	} else {
		f.e.byID[id] = est
	}
	return &pcInterceptor{est: est}, nil
}

// Of is the estimator of pc, nil if pc was not made by an API set up with Register (or
// is closed).
func (e *Estimators) Of(pc *webrtc.PeerConnection) *Estimator {
	if pc == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.byID[pc.ID()]
}

func (e *Estimators) forget(est *Estimator) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.byID[est.id] == est {
		delete(e.byID, est.id)
	}
}

func (e *Estimators) newEstimator() *Estimator {
	est := &Estimator{owner: e, minBps: float64(e.cfg.MinBps), maxBps: float64(e.cfg.MaxBps),
		timeout: e.cfg.FeedbackTimeout, now: time.Now}
	est.epoch = est.now()
	est.delayBps = float64(e.cfg.InitialBps)
	est.lossBps = est.maxBps
	est.trend = newTrendline()
	return est
}

// Estimator is one PeerConnection's bandwidth estimate, made from the receiver's
// transport-cc feedback (delay-based and loss-based, like GCC, plus probe clusters), or
// the receiver's REMB when that is all the receiver sends. Malformed or late feedback is
// counted and ignored, so it can neither stop the reading of RTCP nor move the estimate.
// Safe for concurrent use: packets are noted as sent by the forwarding goroutines,
// feedback comes from Pion's RTCP readers, the estimate is read by whoever picks layers.
type Estimator struct {
	owner   *Estimators
	id      string
	minBps  float64
	maxBps  float64
	timeout time.Duration
	now     func() time.Time
	epoch   time.Time // send times are nanoseconds since

	hist history

	lastTWCC   atomic.Int64 // unix nanoseconds of the last transport-cc feedback used
	lastREMB   atomic.Int64 // ... of the last REMB
	remb       atomic.Int64 // bps of the last REMB
	badReports atomic.Int64

	mu sync.Mutex // guards what follows: the feedback's state and the estimate
	controller
}

// TargetBitrate is the estimate in bps: the smaller of the delay-based and the loss-based
// estimates while transport-cc feedback arrives, else the latest REMB while REMBs arrive,
// else the estimate as transport-cc feedback left it (Config.InitialBps when none came).
func (e *Estimator) TargetBitrate() int {
	now := e.now().UnixNano()
	fresh := func(at int64) bool { return at != 0 && now-at < int64(e.timeout) }
	if !fresh(e.lastTWCC.Load()) && fresh(e.lastREMB.Load()) {
		return int(min(max(e.remb.Load(), int64(e.minBps)), int64(e.maxBps)))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return int(e.target())
}

// BadReports counts the feedback reports that could not be used.
func (e *Estimator) BadReports() int64 { return e.badReports.Load() }

// OnRTCP takes RTCP that did not pass through this estimator's interceptor (RTCP read from
// a PeerConnection's senders already does) and uses its REMB.
func (e *Estimator) OnRTCP(pkts []rtcp.Packet) {
	for _, p := range pkts {
		if r, ok := p.(*rtcp.ReceiverEstimatedMaximumBitrate); ok {
			e.onREMB(r)
		}
	}
}

func (e *Estimator) onREMB(r *rtcp.ReceiverEstimatedMaximumBitrate) {
	b := r.Bitrate
	if !(b >= 0) { // NaN or negative: not an estimate
		e.badReports.Add(1)
		return
	}
	e.remb.Store(int64(min(b, float32(e.maxBps))))
	e.lastREMB.Store(e.now().UnixNano())
}

// sent notes a packet as sent now; size is its size on the wire.
func (e *Estimator) sent(seq uint16, size int) {
	e.hist.put(seq, int64(e.now().Sub(e.epoch)), size)
}

// onRTCP takes one RTCP batch read on the PeerConnection.
func (e *Estimator) onRTCP(pkts []rtcp.Packet) {
	for _, p := range pkts {
		switch r := p.(type) {
		case *rtcp.TransportLayerCC:
			if r == nil {
				e.badReports.Add(1)
				continue
			}
			if e.onTWCC(r) {
				e.lastTWCC.Store(e.now().UnixNano())
			} else {
				e.badReports.Add(1)
			}
		case *rtcp.ReceiverEstimatedMaximumBitrate:
			if r != nil {
				e.onREMB(r)
			}
		}
	}
}

// onTWCC updates the estimate from one transport-cc report, as package rtcp decodes it;
// false if it was of no use.
func (e *Estimator) onTWCC(fb *rtcp.TransportLayerCC) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.fb.fromPion(fb) {
		return false
	}
	return e.useTWCC()
}

// onRawRTCP takes one RTCP batch read on the PeerConnection, as it came: transport-cc
// reports are read from their bytes (twccReport), REMBs decoded by package rtcp (they are
// rare), the rest left to other readers. A batch whose headers do not add up is counted as
// one bad report, and what follows the fault is not read.
func (e *Estimator) onRawRTCP(raw []byte) {
	for len(raw) > 0 {
		n, err := rtcpPacketLen(raw)
		if err != nil {
			e.badReports.Add(1)
			return
		}
		p := raw[:n]
		raw = raw[n:]
		switch {
		case p[1] == rtcpTypeRTPFB && p[0]&0x1f == fmtTWCC:
			if e.onTWCCBytes(p) {
				e.lastTWCC.Store(e.now().UnixNano())
			} else {
				e.badReports.Add(1)
			}
		case p[1] == rtcpTypePSFB && p[0]&0x1f == fmtAFB:
			var r rtcp.ReceiverEstimatedMaximumBitrate
			if r.Unmarshal(p) == nil {
				e.onREMB(&r)
			}
		}
	}
}

// onTWCCBytes updates the estimate from one transport-cc report, the RTCP packet p; false
// if it was of no use.
func (e *Estimator) onTWCCBytes(p []byte) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.fb.unmarshal(p) != nil {
		return false
	}
	return e.useTWCC()
}

// useTWCC updates the estimate from the report in e.fb. Called with e.mu held.
func (e *Estimator) useTWCC() bool {
	pkts, ok := e.readTWCC(&e.fb)
	if !ok {
		return false
	}
	e.update(pkts, int64(e.now().Sub(e.epoch)))
	return true
}
