package sfu

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts the SFU's work for Prometheus. A nil *Metrics counts nothing.
type Metrics struct {
	peers, tracks           prometheus.Gauge
	packets, bytes          prometheus.Counter
	nacks, keyframeRequests prometheus.Counter
	retransmits             prometheus.Counter
	layerSwitches           prometheus.Counter
	pausedVideos            prometheus.Gauge
	forwardedLayers         *prometheus.GaugeVec
	pausedLayers            *prometheus.GaugeVec
	estimates               prometheus.Histogram
	probes                  *prometheus.CounterVec
	paddingBytes            prometheus.Counter
}

// NewMetrics registers the SFU's metrics.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		peers:            prometheus.NewGauge(prometheus.GaugeOpts{Name: "puente_sfu_peers", Help: "Participants with media connections."}),
		tracks:           prometheus.NewGauge(prometheus.GaugeOpts{Name: "puente_sfu_tracks", Help: "Tracks being published."}),
		packets:          prometheus.NewCounter(prometheus.CounterOpts{Name: "puente_sfu_forwarded_packets_total", Help: "RTP packets forwarded to viewers."}),
		bytes:            prometheus.NewCounter(prometheus.CounterOpts{Name: "puente_sfu_forwarded_bytes_total", Help: "RTP bytes (header and payload) forwarded to viewers."}),
		nacks:            prometheus.NewCounter(prometheus.CounterOpts{Name: "puente_sfu_nacked_packets_total", Help: "Packets viewers reported lost (NACK)."}),
		retransmits:      prometheus.NewCounter(prometheus.CounterOpts{Name: "puente_sfu_retransmitted_packets_total", Help: "Packets sent again to viewers after a NACK."}),
		keyframeRequests: prometheus.NewCounter(prometheus.CounterOpts{Name: "puente_sfu_keyframe_requests_total", Help: "Keyframe requests (PLI) sent to publishers."}),
		layerSwitches:    prometheus.NewCounter(prometheus.CounterOpts{Name: "puente_sfu_layer_switches_total", Help: "Times a viewer moved to another simulcast layer."}),
		pausedVideos:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "puente_sfu_paused_videos", Help: "Videos paused for a viewer because not even the lowest layer fits its bandwidth."}),
		forwardedLayers: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "puente_sfu_forwarded_layers", Help: "Video layers being forwarded (a track without simulcast is one high layer)."},
			[]string{"layer"}),
		pausedLayers: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "puente_sfu_paused_layers", Help: "Video layers nobody needs (a video without simulcast is one high layer): not forwarded, the publisher asked to stop them."},
			[]string{"layer"}),
		estimates: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "puente_sfu_viewer_estimate_bps",
			Help:    "Viewers' bandwidth estimates, observed at every layer choice (when adapting to bandwidth).",
			Buckets: []float64{50e3, 100e3, 200e3, 300e3, 500e3, 800e3, 1.2e6, 2e6, 3e6, 5e6}}),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "puente_sfu_probes_total",
			Help: "Probes of viewers' paths (padding to test a higher bitrate), by outcome: started, succeeded, failed."}, []string{"outcome"}),
		paddingBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "puente_sfu_padding_bytes_total", Help: "Bytes of padding-only RTP packets sent to viewers by probes."}),
	}
	reg.MustRegister(m.peers, m.tracks, m.packets, m.bytes, m.nacks, m.keyframeRequests, m.retransmits,
		m.layerSwitches, m.pausedVideos, m.forwardedLayers, m.pausedLayers, m.estimates, m.probes, m.paddingBytes)
	return m
}

func (m *Metrics) peerJoined() {
	if m != nil {
		m.peers.Inc()
	}
}

func (m *Metrics) peerLeft() {
	if m != nil {
		m.peers.Dec()
	}
}

func (m *Metrics) trackStarted() {
	if m != nil {
		m.tracks.Inc()
	}
}

func (m *Metrics) trackEnded() {
	if m != nil {
		m.tracks.Dec()
	}
}

func (m *Metrics) forwarded(packets, bytes int) {
	if m != nil && packets > 0 {
		m.packets.Add(float64(packets))
		m.bytes.Add(float64(bytes))
	}
}

func (m *Metrics) nacked(n int) {
	if m != nil && n > 0 {
		m.nacks.Add(float64(n))
	}
}

func (m *Metrics) pli() {
	if m != nil {
		m.keyframeRequests.Inc()
	}
}

func (m *Metrics) retransmitted(n int) {
	if m != nil && n > 0 {
		m.retransmits.Add(float64(n))
	}
}

func (m *Metrics) layerSwitched() {
	if m != nil {
		m.layerSwitches.Inc()
	}
}

func (m *Metrics) videoPaused(paused bool) {
	if m == nil {
		return
	}
	if paused {
		m.pausedVideos.Inc()
	} else {
		m.pausedVideos.Dec()
	}
}

// layerState counts a video layer in (+1) or out (-1) of the forwarded or paused gauge.
func (m *Metrics) layerState(video bool, layer int, active bool, delta float64) {
	if m == nil || !video {
		return
	}
	g := m.pausedLayers
	if active {
		g = m.forwardedLayers
	}
	g.WithLabelValues(layerName(layer)).Add(delta)
}

func (m *Metrics) estimate(bps int) {
	if m != nil {
		m.estimates.Observe(float64(bps))
	}
}

func (m *Metrics) probeStarted() {
	if m != nil {
		m.probes.WithLabelValues("started").Inc()
	}
}

func (m *Metrics) probeEnded(ok bool) {
	if m == nil {
		return
	}
	if ok {
		m.probes.WithLabelValues("succeeded").Inc()
	} else {
		m.probes.WithLabelValues("failed").Inc()
	}
}

func (m *Metrics) padded(bytes int) {
	if m != nil && bytes > 0 {
		m.paddingBytes.Add(float64(bytes))
	}
}
