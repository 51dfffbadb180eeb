package bwe

import "sync"

// historySize is how many sent packets a PeerConnection remembers for feedback: 4096 packets
// are about 6 s at the 6 Mbps maximum (700 packets a second) and far more at usual rates,
// while receivers report every 100 ms or so. A power of two, so a sequence number's slot is
// its low bits; 16 bytes a packet keep the ring at 64 KB per sending PeerConnection.
const historySize = 1 << 12

// Packet states in the history: whether feedback has reported a packet yet, so that one
// reported twice (a duplicate or overlapping report) is used once.
const (
	unreported uint8 = iota
	reportedLost
	reportedReceived
)

// sentPacket is what the history keeps of one packet sent.
type sentPacket struct {
	sendNs  int64  // send time on the estimator's clock
	size    uint16 // bytes on the wire (RTP header with extensions, payload, SRTP tag)
	seq     uint16 // transport-wide sequence number: the slot's owner
	cluster uint16 // probe cluster; 0: none
	used    bool   // the slot holds a packet
	state   uint8
}

// history is a ring of the packets one PeerConnection sent, indexed by transport-wide
// sequence number. Writers are the forwarding goroutines (one short lock per packet, no
// allocation); the reader is the feedback goroutine.
type history struct {
	mu   sync.Mutex
	ring *[historySize]sentPacket // made when the first stream is bound: receive-only connections need none

	// The open probe cluster (0: none) and how many packets it has had.
	open     uint16
	openSent int
}

func (h *history) init() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ring == nil {
		h.ring = new([historySize]sentPacket)
	}
}

// put notes one packet as sent, in the open probe cluster if there is one.
func (h *history) put(seq uint16, sendNs int64, size int) {
	size = min(max(size, 0), 0xffff)
	h.mu.Lock()
	if h.ring != nil {
		h.ring[seq&(historySize-1)] = sentPacket{sendNs: sendNs, size: uint16(size), seq: seq, cluster: h.open, used: true}
		if h.open != 0 {
			h.openSent++
		}
	}
	h.mu.Unlock()
}

// openCluster tags the packets sent from now on with id (0: no cluster) and returns how many
// packets the cluster open until now had.
func (h *history) openCluster(id uint16) (sentBefore int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := h.openSent
	h.open, h.openSent = id, 0
	return n
}
