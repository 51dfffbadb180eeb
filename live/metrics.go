package live

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/puente-org/puente/signaling"
)

// Metrics counts rooms, participants by role and dropped messages. A nil *Metrics counts
// nothing.
type Metrics struct {
	rooms        prometheus.Gauge
	participants *prometheus.GaugeVec
	dropped      prometheus.Counter
}

// NewMetrics registers the live sessions' metrics.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		rooms:        prometheus.NewGauge(prometheus.GaugeOpts{Name: "puente_live_rooms", Help: "Live rooms with someone in them."}),
		participants: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "puente_live_participants", Help: "People in live rooms, by role."}, []string{"role"}),
		dropped:      prometheus.NewCounter(prometheus.CounterOpts{Name: "puente_live_dropped_messages_total", Help: "Signaling messages dropped (rate limits, malformed messages, full queues)."}),
	}
	for _, r := range []string{RoleHost, RoleSpeaker, RoleAttendee} {
		m.participants.WithLabelValues(r)
	}
	reg.MustRegister(m.rooms, m.participants, m.dropped)
	return m
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
