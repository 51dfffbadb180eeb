package live

import (
	"context"
	"errors"
	"time"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/sfu"
	"github.com/puente-org/puente/signaling"
)

// Recording in the live room (docs/signaling.md §8): a host starts and stops it, everyone
// is told (newcomers right after their welcome), a participant may decline to be recorded
// (still forwarded, not recorded). The room decides who is recorded and keeps the consent
// log through RecordingStore; the media side (capturing tracks to files) is a Recorder the
// application plugs in.

// Kinds of entries in a recording's log that the room writes.
const (
	recordingDeclined  = "declined"
	recordingConsented = "consented"
)

// RecordingStore keeps recordings and their consent log. StartRecording refuses a second
// running recording of a session (a domain conflict, id err.recording.room.already_recording);
// StopRecording refuses when none runs (err.recording.room.not_recording), logs who stopped
// it (0: nobody, the reason in detail) and queues its composition in the same transaction.
type RecordingStore interface {
	StartRecording(ctx context.Context, occID, personID int64) (domain.Recording, error)
	StopRecording(ctx context.Context, occID, personID int64, detail string) (domain.Recording, error)
	// ResumeSegment continues a running recording after a restart; it returns the new
	// segment's number (2, 3, …).
	ResumeSegment(ctx context.Context, recordingID int64) (int, error)
	LogRecordingEvent(ctx context.Context, recordingID int64, kind, detail string, personID int64) error
	RunningRecording(ctx context.Context, occID int64) (domain.Recording, bool, error)
	RunningRecordings(ctx context.Context) ([]domain.Recording, error)
	// RecordingDeclines is each person's last word during the recording: true, declined.
	RecordingDeclines(ctx context.Context, recordingID int64) (map[int64]bool, error)
}

// Recorder is the media side of one room's recording: it captures the published tracks of
// the participants the room tells it to, to the recording's files. The room calls Start
// when a recording starts (segment 1) or resumes after a restart (2, 3, …), then Record for
// every participant in the room and for each change (a newcomer, a decline, a consent
// again), and Stop when the recording stops or the process stops. Record may come at any
// time, also before Start and after Stop: the recorder keeps the last word per participant
// and captures, while started, the tracks of those last told on; on false it stops their
// capture at once. Record must not block (the room calls it on its goroutines). Participant
// is the id the SFU knows the participant's publications by (sfu.Room.Join's id).
type Recorder interface {
	Start(ctx context.Context, rec domain.Recording, segment int) error
	Record(participant string, personID int64, on bool)
	Stop(ctx context.Context) error
}

// NoRecorder records nothing (the default): recordings are logged, nothing is captured.
type NoRecorder struct{}

// Start does nothing.
func (NoRecorder) Start(context.Context, domain.Recording, int) error { return nil }

// Record does nothing.
func (NoRecorder) Record(string, int64, bool) {}

// Stop does nothing.
func (NoRecorder) Stop(context.Context) error { return nil }

// roomRecording is a room's running recording.
type roomRecording struct {
	rec       domain.Recording
	segment   int
	startedBy string // the name of who started it
}

func (h *Hub) newRecorder(occID int64, media *sfu.Room) Recorder {
	if h.o.NewRecorder == nil {
		return NoRecorder{}
	}
	if rec := h.o.NewRecorder(occID, media); rec != nil {
		return rec
	}
	return NoRecorder{}
}

// Recording tells whether the occurrence's session is being recorded now (for the join
// page's notice); false when this server does not record.
func (h *Hub) Recording(ctx context.Context, occID int64) (bool, error) {
	if h.o.Recordings == nil {
		return false, nil
	}
	_, ok, err := h.o.Recordings.RunningRecording(ctx, occID)
	return ok, err
}

// recordingMessageLocked is the room's recording state as a message. Call holding mu.
func (r *Room) recordingMessageLocked() any {
	declined := []string{}
	for _, p := range r.members {
		if p.declined {
			declined = append(declined, p.id)
		}
	}
	if r.recording == nil {
		return signaling.RecordingMessage(false, "", time.Time{}, declined)
	}
	return signaling.RecordingMessage(true, r.recording.startedBy, r.recording.rec.StartedAt, declined)
}

func (r *Room) broadcastRecording() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if enc, err := signaling.Encode(r.recordingMessageLocked()); err == nil {
		r.broadcastLocked(enc, nil)
	}
}

// tellRecorder tells the media side whether to record a participant who just entered
// (their media is set up). Recording changes are serialised by recMu, so the recorder
// never hears of a newcomer before the recording's Start.
func (r *Room) tellRecorder(p *participant) {
	r.recMu.Lock()
	defer r.recMu.Unlock()
	r.mu.Lock()
	on, present, declined := r.recording != nil, r.members[p.id] == p, p.declined
	r.mu.Unlock()
	if on && present {
		r.recorder.Record(p.id, p.personID, !declined)
	}
}

// recordingRefusal maps a store's refusal (already recording, not recording) to the
// client's error code and message; ok false for any other error.
func recordingRefusal(err error) (code, msg string, ok bool) {
	e, isDomain := domain.AsError(err)
	if !isDomain {
		return "", "", false
	}
	switch e.ID {
	case "err.recording.room.already_recording":
		return signaling.CodeAlreadyRecording, "This session is already being recorded.", true
	case "err.recording.room.not_recording":
		return signaling.CodeNotRecording, "This session is not being recorded.", true
	}
	return "", "", false
}

// startRecording starts recording for a host: stored first (the database refuses a second
// running recording, also one another host started a moment before), then the recorder,
// then everyone is told.
func (r *Room) startRecording(ctx context.Context, p *participant, name string) error {
	st := r.hub.o.Recordings
	r.recMu.Lock()
	defer r.recMu.Unlock()
	rec, err := st.StartRecording(ctx, r.occID, p.personID)
	if err != nil {
		return err
	}
	if err := r.recorder.Start(ctx, rec, 1); err != nil {
		r.log.Error("recording not started: the capture failed", "recording", rec.ID, "err", err)
		if _, serr := st.StopRecording(ctx, r.occID, 0, "the capture could not start: "+err.Error()); serr != nil {
			r.log.Error("failed recording not stopped", "recording", rec.ID, "err", serr)
		}
		return err
	}
	r.mu.Lock()
	r.recording = &roomRecording{rec: rec, segment: 1, startedBy: name}
	members := r.membersLocked()
	r.mu.Unlock()
	for _, m := range members {
		if m.declined {
			if err := st.LogRecordingEvent(ctx, rec.ID, recordingDeclined, "declined before the recording started", m.personID); err != nil {
				r.log.Error("decline not logged", "recording", rec.ID, "person", m.personID, "err", err)
			}
		}
		r.recorder.Record(m.id, m.personID, !m.declined)
	}
	r.log.Info("recording started", "recording", rec.ID, "by", p.personID)
	r.broadcastRecording()
	return nil
}

type memberRecording struct {
	id       string
	personID int64
	declined bool
}

func (r *Room) membersLocked() []memberRecording {
	out := make([]memberRecording, 0, len(r.members))
	for _, m := range r.members {
		out = append(out, memberRecording{id: m.id, personID: m.personID, declined: m.declined})
	}
	return out
}

// stopRecording stops the room's recording: the capture first (its files finished, so the
// composition never meets a file still being written), then stored with who stopped it (0
// for nobody) and why, the composition queued in the same transaction, and everyone told.
// With no recording running the store's refusal is returned.
func (r *Room) stopRecording(ctx context.Context, by int64, detail string) error {
	r.recMu.Lock()
	defer r.recMu.Unlock()
	return r.stopRecordingLocked(ctx, by, detail)
}

func (r *Room) stopRecordingLocked(ctx context.Context, by int64, detail string) error {
	r.mu.Lock()
	rr := r.recording
	r.recording = nil
	r.mu.Unlock()
	if rr != nil {
		if err := r.recorder.Stop(ctx); err != nil {
			r.log.Error("capture not stopped cleanly", "recording", rr.rec.ID, "err", err)
		}
	}
	rec, err := r.hub.o.Recordings.StopRecording(ctx, r.occID, by, detail)
	if rr != nil {
		r.broadcastRecording()
	}
	if err != nil {
		if _, _, refused := recordingRefusal(err); rr != nil && !refused {
			// The capture has stopped; the stored recording still says it runs. A later
			// stop (a host's, the room's close, the next process's start) stores it.
			r.log.Error("recording's capture stopped but the stop was not stored", "recording", rr.rec.ID, "err", err)
		}
		return err
	}
	r.log.Info("recording stopped", "recording", rec.ID, "by", by, "detail", detail)
	return nil
}

// stopRecordingAtEnd stops a running recording as the session ends (a host ended it, the
// room closed, the server stops when so configured); not recording is fine. The store is
// asked even when the room thinks nothing runs, so that a stop that could not be stored
// earlier is stored now.
func (r *Room) stopRecordingAtEnd(by int64, detail string) {
	if r.hub.o.Recordings == nil {
		return
	}
	r.recMu.Lock()
	defer r.recMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.stopRecordingLocked(ctx, by, detail); err != nil {
		if _, _, refused := recordingRefusal(err); !refused {
			r.log.Error("recording not stopped at the session's end", "err", err)
		}
	}
}

// suspendRecording closes the capture's files as the process stops; the recording stays
// running in the database, and goes on as a new segment when the room comes back with the
// next process (Hub.Start).
func (r *Room) suspendRecording() {
	r.recMu.Lock()
	defer r.recMu.Unlock()
	r.mu.Lock()
	rr := r.recording
	r.recording = nil
	r.mu.Unlock()
	if rr == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.recorder.Stop(ctx); err != nil {
		r.log.Error("capture not stopped cleanly at shutdown", "recording", rr.rec.ID, "err", err)
	}
	r.log.Info("recording suspended: the server is stopping; it resumes as a new segment", "recording", rr.rec.ID, "segment", rr.segment)
}

// resumeRecording continues a recording the previous process left running, as a new
// segment, with the declines said during it.
func (r *Room) resumeRecording(ctx context.Context, rec domain.Recording) error {
	st := r.hub.o.Recordings
	r.recMu.Lock()
	defer r.recMu.Unlock()
	declines, err := st.RecordingDeclines(ctx, rec.ID)
	if err != nil {
		return err
	}
	segment, err := st.ResumeSegment(ctx, rec.ID)
	if err != nil {
		return err
	}
	name := ""
	if rec.StartedBy != 0 {
		if who, err := r.hub.o.Store.Participant(ctx, r.occID, rec.StartedBy); err == nil {
			name = who.Name
		}
	}
	if err := r.recorder.Start(ctx, rec, segment); err != nil {
		return err
	}
	r.mu.Lock()
	for person, declined := range declines {
		if p := r.people[person]; p != nil {
			p.declined = declined
		}
	}
	r.recording = &roomRecording{rec: rec, segment: segment, startedBy: name}
	members := r.membersLocked()
	r.mu.Unlock()
	for _, m := range members {
		r.recorder.Record(m.id, m.personID, !m.declined)
	}
	r.log.Info("recording resumed after a restart", "recording", rec.ID, "segment", segment)
	return nil
}

// consent records a participant's decline (or consent again): in memory at once, in the
// recording's log while one runs, and told to the recorder and everyone.
func (r *Room) consent(ctx context.Context, p *participant, decline bool) error {
	r.recMu.Lock()
	defer r.recMu.Unlock()
	r.mu.Lock()
	was := p.declined
	rr := r.recording
	r.mu.Unlock()
	if rr != nil && was != decline {
		kind := recordingConsented
		if decline {
			kind = recordingDeclined
		}
		if err := r.hub.o.Recordings.LogRecordingEvent(ctx, rr.rec.ID, kind, "", p.personID); err != nil {
			return err
		}
	}
	r.mu.Lock()
	p.declined = decline
	r.mu.Unlock()
	if rr != nil {
		r.recorder.Record(p.id, p.personID, !decline)
	}
	p.log.Info("recording consent", "declined", decline)
	r.broadcastRecording()
	return nil
}

// recoverRecordings deals with the recordings a previous process left running: one whose
// room came back goes on as a new segment; the others are stopped (by nobody, with why).
func (h *Hub) recoverRecordings(ctx context.Context) error {
	if h.o.Recordings == nil {
		return nil
	}
	running, err := h.o.Recordings.RunningRecordings(ctx)
	if err != nil {
		return err
	}
	for _, rec := range running {
		h.mu.Lock()
		r := h.rooms[rec.OccurrenceID]
		h.mu.Unlock()
		if r != nil {
			err := r.resumeRecording(ctx, rec)
			if err == nil {
				continue
			}
			h.log.Error("recording not resumed after a restart: stopped", "recording", rec.ID, "err", err)
		}
		detail := "the server restarted and the session's room did not come back"
		if r != nil {
			detail = "the server restarted and the recording could not resume"
		}
		if _, err := h.o.Recordings.StopRecording(ctx, rec.OccurrenceID, 0, detail); err != nil && !errors.Is(err, context.Canceled) {
			h.log.Error("recording left by a previous run not stopped", "recording", rec.ID, "err", err)
			continue
		}
		h.log.Info("recording left by a previous run stopped", "recording", rec.ID, "why", detail)
	}
	return nil
}

// record handles a host's record message.
func (c *client) record(ctx context.Context, m signaling.Incoming) {
	if !c.allowHost(m.Ref, "Only a host can start or stop recording.") {
		return
	}
	if c.hub.o.Recordings == nil {
		c.fail(m.Ref, signaling.CodeRecordingUnavailable, "Recording is not available on this server.")
		return
	}
	var err error
	if m.Action == signaling.RecordStart {
		err = c.room.startRecording(ctx, c.p, c.name())
	} else {
		err = c.room.stopRecording(ctx, c.p.personID, "")
	}
	if err == nil {
		return
	}
	if code, msg, ok := recordingRefusal(err); ok {
		c.fail(m.Ref, code, msg)
		return
	}
	c.log.Error("recording", "action", m.Action, "err", err)
	c.fail(m.Ref, signaling.CodeInternal, "The recording could not be changed. Try again.")
}

// recordConsent handles a participant's decline (or consent again).
func (c *client) recordConsent(ctx context.Context, m signaling.Incoming) {
	if c.hub.o.Recordings == nil {
		c.fail(m.Ref, signaling.CodeRecordingUnavailable, "Recording is not available on this server.")
		return
	}
	if err := c.room.consent(ctx, c.p, m.Decline); err != nil {
		c.log.Error("recording consent", "err", err)
		c.fail(m.Ref, signaling.CodeInternal, "That could not be saved. Try again.")
	}
}
