package live

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/puente-org/puente/signaling"
)

// Metrics counts rooms, participants by role, dropped messages, and how connections come
// back: lost connections, resumes (by ICE restart or a new websocket), refused resumes, and
// the people waiting in their grace period. A nil *Metrics counts nothing.
type Metrics struct {
	rooms          prometheus.Gauge
	participants   *prometheus.GaugeVec
	dropped        prometheus.Counter
	reconnects     prometheus.Counter
	resumes        *prometheus.CounterVec
	resumeFailures *prometheus.CounterVec
	inGrace        prometheus.Gauge
}

// NewMetrics registers the live sessions' metrics.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		rooms:        prometheus.NewGauge(prometheus.GaugeOpts{Name: "puente_live_rooms", Help: "Live rooms with someone in them."}),
		participants: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "puente_live_participants", Help: "People in live rooms, by role."}, []string{"role"}),
		dropped:      prometheus.NewCounter(prometheus.CounterOpts{Name: "puente_live_dropped_messages_total", Help: "Signaling messages dropped (rate limits, malformed messages, full queues)."}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{Name: "puente_live_reconnects_total",
			Help: "Participants whose connection dropped without a goodbye (they wait in the grace period)."}),
		resumes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "puente_live_resumes_total",
			Help: "Participants back on their connection: by ICE restart (kind=ice) or a new websocket with a resume token (kind=websocket)."}, []string{"kind"}),
		resumeFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "puente_live_resume_failures_total",
			Help: "Resumes refused: a token not valid (reason=invalid), the participant had left (left), no right to the room any more (no_right)."}, []string{"reason"}),
		inGrace: prometheus.NewGauge(prometheus.GaugeOpts{Name: "puente_live_participants_in_grace",
			Help: "Participants whose connection dropped, still in the room within the grace period."}),
	}
	for _, r := range []string{RoleHost, RoleSpeaker, RoleAttendee} {
		m.participants.WithLabelValues(r)
	}
	for _, k := range []string{"ice", "websocket"} {
		m.resumes.WithLabelValues(k)
	}
	for _, r := range []string{"invalid", "left", "no_right"} {
		m.resumeFailures.WithLabelValues(r)
	}
	reg.MustRegister(m.rooms, m.participants, m.dropped, m.reconnects, m.resumes, m.resumeFailures, m.inGrace)
	return m
}

func (m *Metrics) reconnecting() {
	if m != nil {
		m.reconnects.Inc()
	}
}

func (m *Metrics) resumed(kind string) {
	if m != nil {
		m.resumes.WithLabelValues(kind).Inc()
	}
}

func (m *Metrics) resumeFailed(reason string) {
	if m != nil {
		m.resumeFailures.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) graceStarted() {
	if m != nil {
		m.inGrace.Inc()
	}
}

func (m *Metrics) graceEnded() {
	if m != nil {
		m.inGrace.Dec()
	}
}

func (m *Metrics) roomOpened() {
	if m != nil {
		m.rooms.Inc()
	}
}

func (m *Metrics) roomClosed() {
	if m != nil {
		m.rooms.Dec()
	}
}

func (m *Metrics) participantJoined(role string) {
	if m != nil {
		m.participants.WithLabelValues(role).Inc()
	}
}

func (m *Metrics) participantLeft(role string) {
	if m != nil {
		m.participants.WithLabelValues(role).Dec()
	}
}

func (m *Metrics) roleChanged(from, to string) {
	m.participantLeft(from)
	m.participantJoined(to)
}

func (m *Metrics) connectionEnded(c *signaling.Conn) {
	if m != nil {
		m.dropped.Add(float64(c.Dropped()))
	}
}
