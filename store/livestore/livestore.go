// Package livestore gives the live rooms (package live) their storage on the PostgreSQL
// store. Package live declares what it needs in its own types; this adapter is the only
// place that knows both, so live does not depend on store.
package livestore

import (
	"context"
	"time"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/live"
	"github.com/puente-org/puente/store"
)

// Rooms is the live rooms' storage.
type Rooms struct{ st *store.Store }

var _ live.Store = Rooms{}

// New wraps the store for the live rooms.
func New(st *store.Store) Rooms { return Rooms{st: st} }

// Session is what a room shows of its occurrence.
func (r Rooms) Session(ctx context.Context, occID int64) (live.Session, error) {
	l, err := r.st.OccurrenceByID(ctx, occID)
	if err != nil {
		return live.Session{}, err
	}
	title := l.Occurrence.Title
	if title == "" {
		title = l.Event.Title
	}
	return live.Session{Title: title}, nil
}

// Participant is who a person is to the others in an occurrence's room.
func (r Rooms) Participant(ctx context.Context, occID, personID int64) (live.Participant, error) {
	name, err := r.st.RoomName(ctx, occID, personID)
	return live.Participant{Name: name}, err
}

// RecordJoin records that a person entered a room.
func (r Rooms) RecordJoin(ctx context.Context, occID, personID int64) (int64, error) {
	return r.st.RecordJoin(ctx, occID, personID)
}

// RecordLeave records that they left, at the given time.
func (r Rooms) RecordLeave(ctx context.Context, attendanceID int64, at time.Time) error {
	return r.st.RecordLeave(ctx, attendanceID, at)
}

// TouchAttendance notes that the rows' people are still connected.
func (r Rooms) TouchAttendance(ctx context.Context, attendanceIDs []int64, at time.Time) error {
	return r.st.TouchAttendance(ctx, attendanceIDs, at)
}

// CloseOpenAttendance closes the rows left open by a crash or a shutdown.
func (r Rooms) CloseOpenAttendance(ctx context.Context) (int, error) {
	return r.st.CloseOpenAttendance(ctx)
}

// UseToken records a join token as used; false when it was already.
func (r Rooms) UseToken(ctx context.Context, nonce string, expires time.Time) (bool, error) {
	return r.st.UseToken(ctx, nonce, expires)
}

// Rights is the role each person may have in the room now.
func (r Rooms) Rights(ctx context.Context, occID int64, personIDs []int64) (map[int64]string, error) {
	return r.st.Rights(ctx, occID, personIDs)
}

// LoadRoom reads a room's stored state.
func (r Rooms) LoadRoom(ctx context.Context, occID int64) (live.RoomRecord, error) {
	room, err := r.st.LoadRoom(ctx, occID)
	if err != nil {
		return live.RoomRecord{}, err
	}
	out := live.RoomRecord{Ended: room.Ended, Members: make([]live.Member, len(room.Members))}
	for i, m := range room.Members {
		out.Members[i] = live.Member{OccurrenceID: m.OccurrenceID, PersonID: m.PersonID, ParticipantID: m.ParticipantID,
			Role: m.Role, Hand: m.Hand, AudioMuted: m.AudioMuted, VideoMuted: m.VideoMuted, ScreenMuted: m.ScreenMuted,
			ResumeHash: m.ResumeHash, Present: m.Present, Removed: m.Removed, AttendanceID: m.AttendanceID}
	}
	return out, nil
}

// RoomEnded tells whether a host ended the room.
func (r Rooms) RoomEnded(ctx context.Context, occID int64) (bool, error) {
	return r.st.RoomEnded(ctx, occID)
}

// SaveMember writes one member's row.
func (r Rooms) SaveMember(ctx context.Context, m live.Member) error {
	return r.st.SaveMember(ctx, store.LiveMember{OccurrenceID: m.OccurrenceID, PersonID: m.PersonID, ParticipantID: m.ParticipantID,
		Role: m.Role, Hand: m.Hand, AudioMuted: m.AudioMuted, VideoMuted: m.VideoMuted, ScreenMuted: m.ScreenMuted,
		ResumeHash: m.ResumeHash, Present: m.Present, Removed: m.Removed, AttendanceID: m.AttendanceID})
}

// SetEnded marks the room ended or reopened.
func (r Rooms) SetEnded(ctx context.Context, occID int64, ended bool) error {
	return r.st.SetEnded(ctx, occID, ended)
}

// PresentRooms lists the rooms with members present.
func (r Rooms) PresentRooms(ctx context.Context) ([]int64, error) {
	return r.st.PresentRooms(ctx)
}

// AddChat stores a chat message.
func (r Rooms) AddChat(ctx context.Context, occID, personID int64, authorName, text string) (live.ChatMessage, error) {
	m, err := r.st.AddChat(ctx, occID, personID, authorName, text)
	return chat(m), err
}

// ChatHistory is the last limit messages, oldest first.
func (r Rooms) ChatHistory(ctx context.Context, occID int64, limit int) ([]live.ChatMessage, error) {
	list, err := r.st.ChatHistory(ctx, occID, limit)
	if err != nil {
		return nil, err
	}
	return chats(list), nil
}

// AskQuestion stores a question.
func (r Rooms) AskQuestion(ctx context.Context, occID, personID int64, authorName, text string) (live.Question, error) {
	q, err := r.st.AskQuestion(ctx, occID, personID, authorName, text)
	return question(q), err
}

// VoteQuestion records or takes back an upvote.
func (r Rooms) VoteQuestion(ctx context.Context, occID, questionID, personID int64, up bool) (live.Question, error) {
	q, err := r.st.VoteQuestion(ctx, occID, questionID, personID, up)
	return question(q), err
}

// SetQuestionState marks a question open, answered or dismissed.
func (r Rooms) SetQuestionState(ctx context.Context, occID, questionID int64, state string) (live.Question, error) {
	q, err := r.st.SetQuestionState(ctx, occID, questionID, state)
	return question(q), err
}

// LiveQuestions is every question of a room, in the order asked.
func (r Rooms) LiveQuestions(ctx context.Context, occID int64) ([]live.Question, error) {
	list, err := r.st.LiveQuestions(ctx, occID)
	if err != nil {
		return nil, err
	}
	out := make([]live.Question, len(list))
	for i, q := range list {
		out[i] = question(q)
	}
	return out, nil
}

// MyVotes is the ids of the questions a person upvoted.
func (r Rooms) MyVotes(ctx context.Context, occID, personID int64) ([]int64, error) {
	return r.st.MyVotes(ctx, occID, personID)
}

// ChatSince is the messages after afterID, oldest first, at most limit.
func (r Rooms) ChatSince(ctx context.Context, occID, afterID int64, limit int) ([]live.ChatMessage, error) {
	list, err := r.st.ChatSince(ctx, occID, afterID, limit)
	if err != nil {
		return nil, err
	}
	return chats(list), nil
}

func chats(list []store.ChatMessage) []live.ChatMessage {
	out := make([]live.ChatMessage, len(list))
	for i, m := range list {
		out[i] = chat(m)
	}
	return out
}

func chat(m store.ChatMessage) live.ChatMessage {
	return live.ChatMessage{ID: m.ID, AuthorName: m.AuthorName, Text: m.Text, At: m.At}
}

func question(q store.LiveQuestion) live.Question {
	return live.Question{ID: q.ID, AuthorName: q.AuthorName, Text: q.Text, State: q.State, Votes: q.Votes, At: q.At}
}

var _ live.RecordingStore = Rooms{}

// StartRecording starts recording a session (one at a time) and logs who started it.
func (r Rooms) StartRecording(ctx context.Context, occID, personID int64) (domain.Recording, error) {
	return r.st.StartRecording(ctx, occID, personID)
}

// StopRecording stops it, logs who stopped it and why, and queues its composition.
func (r Rooms) StopRecording(ctx context.Context, occID, personID int64, detail string) (domain.Recording, error) {
	return r.st.StopRecording(ctx, occID, personID, detail)
}

// ResumeSegment continues a running recording as a new segment after a restart.
func (r Rooms) ResumeSegment(ctx context.Context, recordingID int64) (int, error) {
	return r.st.ResumeSegment(ctx, recordingID)
}

// LogRecordingEvent adds an entry to a recording's log.
func (r Rooms) LogRecordingEvent(ctx context.Context, recordingID int64, kind, detail string, personID int64) error {
	return r.st.AddRecordingEvent(ctx, recordingID, kind, detail, personID)
}

// RunningRecording is a session's running recording, if any.
func (r Rooms) RunningRecording(ctx context.Context, occID int64) (domain.Recording, bool, error) {
	return r.st.RunningRecording(ctx, occID)
}

// RunningRecordings lists the recordings still running.
func (r Rooms) RunningRecordings(ctx context.Context) ([]domain.Recording, error) {
	return r.st.RunningRecordings(ctx)
}

// RecordingDeclines is each person's last decline or consent during a recording.
func (r Rooms) RecordingDeclines(ctx context.Context, recordingID int64) (map[int64]bool, error) {
	return r.st.RecordingDeclines(ctx, recordingID)
}
