package live

import "github.com/puente-org/puente/signaling"

// Active speaker: the SFU detects who is speaking from the audio levels publishers send
// (sfu.Room.OnActiveSpeaker); everyone in the room is told with a `speaker` message, and a
// newcomer right after its welcome.

// watchSpeaker broadcasts the SFU's active speaker changes to everyone in the room.
func (r *Room) watchSpeaker() {
	r.media.OnActiveSpeaker(func(participantID string) {
		r.broadcast(signaling.SpeakerMessage(participantID), nil)
	})
}

// tellSpeakerLocked sends a newcomer who is speaking, if anyone is. Call holding the
// room's mu, right after the welcome: a change the SFU reports meanwhile is broadcast after
// this (its callback waits for mu), and ActiveSpeaker is already the value that callback
// carries, so the newcomer never ends on a stale speaker.
func (r *Room) tellSpeakerLocked(c *signaling.Conn) {
	if id := r.media.ActiveSpeaker(); id != "" {
		c.SendValue(signaling.SpeakerMessage(id))
	}
}
