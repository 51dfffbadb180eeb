package bwe

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/gcc"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Config sets the estimators' bounds. Zero values take the defaults.
type Config struct {
	// InitialBps is where every estimate starts (default 1 Mbps: a new viewer starts on
	// the mid layer and GCC climbs about 8% a second from there while nothing is congested).
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
	defaultInitialBps      = 1_000_000
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
	// live PeerConnection's estimator under that id until the estimator closes.
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

// Register sets up m and ir for send-side estimation: the congestion-control interceptor with
// one GCC estimator per PeerConnection, transport-wide sequence numbers on everything sent,
// transport-cc feedback (the SFU also acknowledges what it receives, so publishers' own
// estimators work) and goog-remb, for receivers that only send REMB. Call it after the
// codecs are registered, and after the interceptors that should see packets as they leave
// (NACK, reports): the congestion controller must be added before the TWCC header
// interceptor, which numbers packets before the controller notes them as sent.
func (e *Estimators) Register(m *webrtc.MediaEngine, ir *interceptor.Registry) error {
	f, err := cc.NewInterceptor(func() (cc.BandwidthEstimator, error) { return e.newEstimator() })
	if err != nil {
		return fmt.Errorf("congestion control interceptor: %w", err)
	}
	f.OnNewPeerConnection(func(id string, be cc.BandwidthEstimator) {
		est, ok := be.(*Estimator)
		if !ok {
			return
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		est.id = id
		if _, taken := e.byID[id]; taken {
			// Two PeerConnections made in the same nanosecond: the second is not found.
			e.log.Warn("bandwidth estimator: duplicate peer connection id", "id", id)
			return
		}
		e.byID[id] = est
	})
	ir.Add(f)
	ir.Add(twccNumberer{})
	if err := webrtc.ConfigureTWCCSender(m, ir); err != nil {
		return fmt.Errorf("transport-cc feedback: %w", err)
	}
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, k); err != nil {
			return fmt.Errorf("transport-cc header extension: %w", err)
		}
	}
	m.RegisterFeedback(webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBGoogREMB}, webrtc.RTPCodecTypeVideo)
	return nil
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

func (e *Estimators) newEstimator() (*Estimator, error) {
	est := &Estimator{owner: e, minBps: e.cfg.MinBps, maxBps: e.cfg.MaxBps, timeout: e.cfg.FeedbackTimeout, now: time.Now}
	g, err := gcc.NewSendSideBWE(
		gcc.SendSideBWEInitialBitrate(e.cfg.InitialBps),
		gcc.SendSideBWEMinBitrate(e.cfg.MinBps),
		gcc.SendSideBWEMaxBitrate(e.cfg.MaxBps),
		// No pacing: the allocator keeps what is sent within the estimate, and a pacer
		// would queue (and copy) every forwarded packet.
		gcc.SendSideBWEPacer(&directPacer{}),
	)
	if err != nil {
		return nil, fmt.Errorf("gcc: %w", err)
	}
	est.gcc = g
	return est, nil
}

// Estimator is one PeerConnection's bandwidth estimate: Pion's GCC over transport-cc
// feedback, or the receiver's REMB when that is all the receiver sends. It implements
// Pion's cc.BandwidthEstimator; malformed or late feedback is counted and ignored, never
// returned, so it cannot stop the reading of a sender's RTCP.
type Estimator struct {
	owner          *Estimators
	id             string
	gcc            *gcc.SendSideBWE
	minBps, maxBps int
	timeout        time.Duration
	now            func() time.Time

	lastTWCC   atomic.Int64 // unix nanoseconds of the last transport-cc feedback used
	lastREMB   atomic.Int64 // ... of the last REMB
	remb       atomic.Int64 // bps of the last REMB
	badReports atomic.Int64

	attrs sync.Pool // interceptor.Attributes for the packets sent, reused
}

var _ cc.BandwidthEstimator = (*Estimator)(nil)

// TargetBitrate is the estimate in bps: GCC's while transport-cc feedback arrives, else the
// latest REMB while REMBs arrive, else GCC's (its initial value when no feedback came yet).
func (e *Estimator) TargetBitrate() int {
	now := e.now().UnixNano()
	fresh := func(at int64) bool { return at != 0 && now-at < int64(e.timeout) }
	if !fresh(e.lastTWCC.Load()) && fresh(e.lastREMB.Load()) {
		return int(min(max(e.remb.Load(), int64(e.minBps)), int64(e.maxBps)))
	}
	return e.gcc.GetTargetBitrate()
}

// BadReports counts the feedback reports GCC could not use.
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
		return
	}
	e.remb.Store(int64(min(b, float32(e.maxBps))))
	e.lastREMB.Store(e.now().UnixNano())
}

// WriteRTCP implements cc.BandwidthEstimator: Pion's interceptor passes every RTCP batch
// read from the PeerConnection's senders.
func (e *Estimator) WriteRTCP(pkts []rtcp.Packet, attrs interceptor.Attributes) error {
	twcc := false
	for _, p := range pkts {
		switch r := p.(type) {
		case *rtcp.TransportLayerCC, *rtcp.CCFeedbackReport:
			twcc = true
		case *rtcp.ReceiverEstimatedMaximumBitrate:
			e.onREMB(r)
		}
	}
	if !twcc {
		return nil
	}
	if err := e.writeFeedback(pkts, attrs); err != nil {
		e.badReports.Add(1)
		return nil //nolint:nilerr // bad feedback is ignored, as a lost report would be
	}
	e.lastTWCC.Store(e.now().UnixNano())
	return nil
}

// writeFeedback passes feedback to GCC, which reports what it cannot parse as an error and
// must not panic on it either.
func (e *Estimator) writeFeedback(pkts []rtcp.Packet, attrs interceptor.Attributes) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("gcc feedback: %v", r)
		}
	}()
	return e.gcc.WriteRTCP(pkts, attrs)
}

// AddStream implements cc.BandwidthEstimator: GCC notes every packet sent. The attributes
// it needs per packet come from a pool rather than a new map per packet.
func (e *Estimator) AddStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	next := e.gcc.AddStream(info, w)
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		if a != nil {
			return next.Write(h, payload, a)
		}
		pa, _ := e.attrs.Get().(interceptor.Attributes)
		if pa == nil {
			pa = make(interceptor.Attributes, 1)
		}
		n, err := next.Write(h, payload, pa)
		clear(pa)
		e.attrs.Put(pa)
		return n, err
	})
}

// GetTargetBitrate implements cc.BandwidthEstimator.
func (e *Estimator) GetTargetBitrate() int { return e.TargetBitrate() }

// OnTargetBitrateChange implements cc.BandwidthEstimator (GCC's changes only).
func (e *Estimator) OnTargetBitrateChange(f func(int)) { e.gcc.OnTargetBitrateChange(f) }

// GetStats implements cc.BandwidthEstimator.
func (e *Estimator) GetStats() map[string]any {
	s := e.gcc.GetStats()
	s["rembBitrate"] = e.remb.Load()
	s["badReports"] = e.badReports.Load()
	return s
}

// Close implements cc.BandwidthEstimator; Pion calls it when the PeerConnection closes.
func (e *Estimator) Close() error {
	e.owner.forget(e)
	if err := e.gcc.Close(); err != nil {
		return fmt.Errorf("close gcc: %w", err)
	}
	return nil
}

// directPacer is GCC's pacer that sends every packet at once, like Pion's NoOpPacer but
// without a lock held across the write: streams are looked up in a copy-on-write map.
type directPacer struct {
	mu      sync.Mutex // serialises AddStream
	writers atomic.Pointer[map[uint32]interceptor.RTPWriter]
}

func (p *directPacer) AddStream(ssrc uint32, w interceptor.RTPWriter) {
	p.mu.Lock()
	defer p.mu.Unlock()
	next := make(map[uint32]interceptor.RTPWriter)
	if cur := p.writers.Load(); cur != nil {
		for k, v := range *cur {
			next[k] = v
		}
	}
	next[ssrc] = w
	p.writers.Store(&next)
}

func (p *directPacer) Write(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
	if m := p.writers.Load(); m != nil {
		if w, ok := (*m)[h.SSRC]; ok {
			return w.Write(h, payload, a)
		}
	}
	return 0, fmt.Errorf("%w: %d", gcc.ErrUnknownStream, h.SSRC)
}

func (p *directPacer) SetTargetBitrate(int) {}
func (p *directPacer) Close() error         { return nil }
