// Package sfu is Puente's selective forwarding unit on Pion: rooms of peers where hosts and
// speakers publish audio, camera and screen, and every participant receives what the others
// publish, each viewer on its own rewritten stream.
//
// Every participant has up to two peer connections, each negotiated by one side only, so
// offers never collide: "up" (the client offers what it publishes; the SFU answers) and
// "down" (the SFU offers what the participant receives; the client answers).
package sfu

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/webrtc/v4"

	"github.com/puente-org/puente/sfu/bwe"
)

// Sources a participant can publish.
const (
	SourceCamera     = "camera"
	SourceScreen     = "screen"
	SourceMicrophone = "microphone"
)

// Errors callers map to protocol errors.
var (
	ErrForbidden = errors.New("this participant may not publish")
	ErrBadSDP    = errors.New("the session description could not be used")
	ErrClosed    = errors.New("closed")
)

// Config configures an SFU.
type Config struct {
	Network Network
	Logger  *slog.Logger
	Metrics *Metrics // nil: not collected
	// KeyframeInterval is the least time between two keyframe requests sent to a publisher
	// for one track (default 500 ms).
	KeyframeInterval time.Duration
	// ICE timing (zero: 5 s, 15 s and 2 s; see network.go). ICEDisconnectedTimeout is the
	// silence after which a connection is "disconnected" (the client may restart ICE),
	// ICEFailedTimeout the further silence after which it is "failed" (PeerEvents.Failed),
	// ICEKeepalive how often consent is refreshed, which bounds how quickly a dead path is
	// noticed.
	ICEDisconnectedTimeout time.Duration
	ICEFailedTimeout       time.Duration
	ICEKeepalive           time.Duration

	// EstimateBps is a viewer's bandwidth estimate in bps (nil, or 0 or less: unknown,
	// taken as unlimited); Peer.SetEstimator overrides it per peer. The seam for the
	// send-side estimator (package bwe).
	EstimateBps func(*Peer) int
	// NewAllocator makes the layer allocator of one viewer (nil: a greedy one without
	// hysteresis, screens before cameras). The seam for bwe.Allocator.
	NewAllocator func() Allocator
	// LayerSelectInterval is how often each viewer's layers are chosen (default 500 ms).
	LayerSelectInterval time.Duration
	// Interceptors, when set, registers more interceptors and header extensions (say
	// transport-wide congestion control) on the SFU's API.
	Interceptors func(*webrtc.MediaEngine, *interceptor.Registry) error

	// Listen, when set, replaces the sockets Network would open: it returns the setting
	// engine with the SFU's sockets (a UDP mux), their ports, and what closes them. Tests
	// use it to run the SFU on Pion's virtual network (vnet).
	Listen func(*slog.Logger) (webrtc.SettingEngine, Ports, io.Closer, error)

	// AdaptToBandwidth turns on send-side bandwidth estimation (package bwe: GCC's design
	// over transport-cc feedback, REMB as the fallback, padding probes to climb back) and
	// lets each viewer's estimate choose its layers. The server turns it on unless told
	// otherwise (--rtc-adapt-to-bandwidth); off, layers follow the viewers' display sizes
	// only. It costs CPU per forwarded packet (docs/benchmarks.md).
	AdaptToBandwidth bool
	// Estimation bounds every viewer's bandwidth estimate (zero: bwe's defaults, 300 kbps
	// initial, 30 kbps to 6 Mbps).
	Estimation bwe.Config
}

// SFU holds the WebRTC APIs (codecs, interceptors, sockets) its rooms share: one for the
// connections that receive what participants publish (up), one for those that send them
// what they receive (down). Each has only the interceptors its direction needs, so a down
// connection runs no NACK generator, receiver reports or transport-cc feedback, whose
// timers would tick for nothing, and its writes pass no interceptor that only counts.
type SFU struct {
	up, down *webrtc.API
	sockets  io.Closer
	batch    *batchConn // nil: every write is its own system call
	ports    Ports
	log      *slog.Logger
	metrics  *Metrics
	pliGap   time.Duration

	selectInterval time.Duration
	estimate       func(*Peer) int
	allocator      func() Allocator
	// estimators: every PeerConnection's send-side bandwidth estimator (estimatorOf).
	estimators *bwe.Estimators
}

func (s *SFU) newAllocator() Allocator {
	if s.allocator != nil {
		if a := s.allocator(); a != nil {
			return a
		}
	}
	return newBWEAllocator()
}

// New opens the SFU's sockets.
func New(cfg Config) (*SFU, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.KeyframeInterval <= 0 {
		cfg.KeyframeInterval = 500 * time.Millisecond
	}
	// Bandwidth estimation: an estimator per down PeerConnection over transport-cc
	// feedback, REMB as the fallback.
	var estimators *bwe.Estimators
	if cfg.AdaptToBandwidth {
		if cfg.Estimation.Logger == nil {
			cfg.Estimation.Logger = cfg.Logger
		}
		estimators = bwe.NewEstimators(cfg.Estimation)
	}
	upM, upIR, err := upInterceptors(cfg, estimators != nil)
	if err != nil {
		return nil, err
	}
	downM, downIR, err := downInterceptors(cfg, estimators)
	if err != nil {
		return nil, err
	}
	listen := cfg.Network.Listen
	if cfg.Listen != nil {
		listen = cfg.Listen
	}
	se, ports, sockets, err := listen(cfg.Logger)
	if err != nil {
		return nil, err
	}
	se.SetICETimeouts(orDefault(cfg.ICEDisconnectedTimeout, iceDisconnectedTimeout),
		orDefault(cfg.ICEFailedTimeout, iceFailedTimeout), orDefault(cfg.ICEKeepalive, iceKeepaliveInterval))
	// One setting engine (the sockets) for both kinds of connection.
	s := &SFU{up: webrtc.NewAPI(webrtc.WithMediaEngine(upM), webrtc.WithInterceptorRegistry(upIR), webrtc.WithSettingEngine(se)),
		down:    webrtc.NewAPI(webrtc.WithMediaEngine(downM), webrtc.WithInterceptorRegistry(downIR), webrtc.WithSettingEngine(se)),
		sockets: sockets, ports: ports, log: cfg.Logger, metrics: cfg.Metrics, pliGap: cfg.KeyframeInterval,
		selectInterval: orDefault(cfg.LayerSelectInterval, 500*time.Millisecond), estimate: cfg.EstimateBps, allocator: cfg.NewAllocator,
		estimators: estimators}
	if ns, ok := sockets.(*netSockets); ok {
		s.batch = ns.batch
	}
	return s, nil
}

// registry is the setting up of one direction's connections: it registers interceptors
// (and header extensions) on m and ir.
type registry func(m *webrtc.MediaEngine, ir *interceptor.Registry) error

// direction makes the codecs and interceptors of one kind of connection: first's, then
// the tests' (Config.Interceptors), then last's (the interceptor added last is the first a
// packet passes).
func direction(cfg Config, first, last registry) (*webrtc.MediaEngine, *interceptor.Registry, error) {
	m, err := mediaEngine()
	if err != nil {
		return nil, nil, err
	}
	ir := &interceptor.Registry{}
	for _, f := range []registry{first, cfg.Interceptors, last} {
		if f == nil {
			continue
		}
		if err := f(m, ir); err != nil {
			return nil, nil, fmt.Errorf("configure interceptors: %w", err)
		}
	}
	return m, ir, nil
}

// upInterceptors are the codecs and interceptors of the connections that receive:
// NACKs for what the SFU lost (Pion's generator), receiver reports, and transport-cc
// feedback when the SFU adapts to bandwidth (the publishers' browsers estimate with it).
func upInterceptors(cfg Config, feedback bool) (*webrtc.MediaEngine, *interceptor.Registry, error) {
	var last registry
	if feedback {
		last = func(m *webrtc.MediaEngine, ir *interceptor.Registry) error {
			if err := bwe.RegisterReceiver(m, ir); err != nil {
				return fmt.Errorf("configure bandwidth estimation: %w", err)
			}
			return nil
		}
	}
	return direction(cfg, func(_ *webrtc.MediaEngine, ir *interceptor.Registry) error {
		gen, err := nack.NewGeneratorInterceptor()
		if err != nil {
			return fmt.Errorf("configure nack: %w", err)
		}
		recvReports, err := report.NewReceiverInterceptor()
		if err != nil {
			return fmt.Errorf("configure rtcp reports: %w", err)
		}
		ir.Add(gen)
		ir.Add(recvReports)
		return nil
	}, last)
}

// downInterceptors are the codecs and interceptors of the connections that send. NACKs are
// answered from each publication's one shared cache (forward.go) rather than by Pion's
// responder, which copies every packet for every viewer; sender reports are made by the
// peer's selection loop from its tracks' own counts (reports.go) rather than by Pion's
// report interceptor, which takes a lock on every packet and runs a timer per connection.
// What is left is the estimator (estimators nil: none), added last so that packets are
// numbered and noted as sent after any test interceptor (Config.Interceptors).
func downInterceptors(cfg Config, estimators *bwe.Estimators) (*webrtc.MediaEngine, *interceptor.Registry, error) {
	var last registry
	if estimators != nil {
		last = func(m *webrtc.MediaEngine, ir *interceptor.Registry) error {
			if err := estimators.RegisterSender(m, ir); err != nil {
				return fmt.Errorf("configure bandwidth estimation: %w", err)
			}
			return nil
		}
	}
	return direction(cfg, nil, last)
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// estimatorOf is the bandwidth estimator of a down PeerConnection: the estimate of what the
// viewer can receive. Nil for other PeerConnections.
func (s *SFU) estimatorOf(pc *webrtc.PeerConnection) *bwe.Estimator {
	if s.estimators == nil {
		return nil
	}
	return s.estimators.Of(pc)
}

// Ports are the ports the SFU listens on.
func (s *SFU) Ports() Ports { return s.ports }

// Close closes the shared sockets; rooms must be closed first.
func (s *SFU) Close() error {
	if s.sockets == nil {
		return nil
	}
	return s.sockets.Close()
}

// opusFmtp asks senders for Opus with in-band FEC (a lost packet is rebuilt from the next)
// and DTX (silence costs almost nothing: one packet in 400 ms).
const opusFmtp = "minptime=10;useinbandfec=1;usedtx=1"

// Codecs: Opus for audio, VP8 (preferred) and H.264 for video, with NACK and keyframe
// feedback, and the header extensions of simulcast.
func mediaEngine() (*webrtc.MediaEngine, error) {
	m := &webrtc.MediaEngine{}
	fb := []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}}
	codecs := []struct {
		p webrtc.RTPCodecParameters
		k webrtc.RTPCodecType
	}{
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: opusFmtp}, PayloadType: 111}, webrtc.RTPCodecTypeAudio},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: fb}, PayloadType: 96}, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", RTCPFeedback: fb}, PayloadType: 102}, webrtc.RTPCodecTypeVideo},
	}
	for _, c := range codecs {
		if err := m.RegisterCodec(c.p, c.k); err != nil {
			return nil, fmt.Errorf("register codec %s: %w", c.p.MimeType, err)
		}
	}
	// Audio level (RFC 6464) on what publishers send, for the active speaker (speaker.go);
	// viewers' copies carry no extensions, so it is not offered on down.
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: audioLevelURI},
		webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverDirectionRecvonly); err != nil {
		return nil, fmt.Errorf("register audio level extension: %w", err)
	}
	// Simulcast: the mid and rid header extensions tell the layers of a track apart.
	if err := webrtc.ConfigureSimulcastExtensionHeaders(m); err != nil {
		return nil, fmt.Errorf("register simulcast header extensions: %w", err)
	}
	return m, nil
}
