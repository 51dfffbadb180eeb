package live

import (
	"context"
	"time"
)

// The storage a live room needs, declared here and sized to what the room uses; the
// application wires an implementation (package livestore, on the PostgreSQL store). Errors
// are domain errors: not found and invalid input are told to the participant.

// Session is what a room shows of its occurrence.
type Session struct {
	Title string // the occurrence's own title, else its event's
}

// Participant is who a person is to the others in a room.
type Participant struct {
	// Name is what others see: never an email address or a piece of one. Empty when the
	// person has given no name; clients then show a generic label in their language.
	Name string
}

// ChatMessage is one message said in a room.
type ChatMessage struct {
	ID               int64
	AuthorName, Text string // the name as it was when they wrote; plain text
	At               time.Time
}

// Question is a question asked in a room, with its upvotes.
type Question struct {
	ID                      int64
	AuthorName, Text, State string
	Votes                   int
	At                      time.Time // when it was asked
}

// Directory tells who and what a room is about.
type Directory interface {
	Session(ctx context.Context, occID int64) (Session, error)
	Participant(ctx context.Context, occID, personID int64) (Participant, error)
}

// Attendance records who was in a room and for how long. The report counts each person's
// time once: overlapping rows of one person (a resume after a crash, two devices) are merged.
type Attendance interface {
	RecordJoin(ctx context.Context, occID, personID int64) (attendanceID int64, err error)
	// RecordLeave closes the row at the given time (when the person was last connected,
	// which for someone who never came back within the grace period is when they dropped).
	RecordLeave(ctx context.Context, attendanceID int64, at time.Time) error
	// TouchAttendance notes that the rows' people are still connected at the given time, so
	// a crash loses at most the time since the last touch.
	TouchAttendance(ctx context.Context, attendanceIDs []int64, at time.Time) error
	// CloseOpenAttendance closes every row still open (after a crash or a shutdown) at its
	// last touch, or its join when never touched; it returns how many.
	CloseOpenAttendance(ctx context.Context) (int, error)
}

// Member is one person's standing in a room, kept in the database so that it outlives a
// connection and a process: their participant id, their role now (a promotion onto the
// stage or a move back to the audience stays), their raised hand, the host's mutes, the
// hash of their current resume token, whether they are still in the room (connected, or
// reconnecting within the grace period) and whether a host removed them.
type Member struct {
	OccurrenceID, PersonID int64
	ParticipantID          string
	Role                   string // host, speaker or attendee
	Hand                   bool
	AudioMuted, VideoMuted bool
	ScreenMuted            bool
	ResumeHash             []byte // sha256 of the resume token; nil: none
	Present                bool   // in the room (or within the grace period); false once left
	Removed                bool
	AttendanceID           int64 // the open attendance row, 0: none
}

// RoomRecord is a room's stored state, read when the room starts in a process.
type RoomRecord struct {
	Ended   bool     // a host ended the session (only hosts may reopen it)
	Members []Member // everyone who was ever in the room, present or not
}

// RoomState keeps a room's state in the database. Every write is one transaction.
type RoomState interface {
	// UseToken records a join token's nonce as used until it expires; false when it had
	// been used already (tokens are single-use across processes and restarts).
	UseToken(ctx context.Context, nonce string, expires time.Time) (bool, error)
	// Rights is the role each person may have in the room now, from the programme and
	// their registration (host, speaker, attendee); a person without one is absent (their
	// registration ended, or they were never admitted).
	Rights(ctx context.Context, occID int64, personIDs []int64) (map[int64]string, error)
	LoadRoom(ctx context.Context, occID int64) (RoomRecord, error)
	// RoomEnded is LoadRoom's Ended alone (for admission and the join page).
	RoomEnded(ctx context.Context, occID int64) (bool, error)
	// SaveMember writes one member's row (insert or replace by occurrence and person).
	SaveMember(ctx context.Context, m Member) error
	// SetEnded marks the room ended (true) or reopened (false); ending also marks every
	// member not present.
	SetEnded(ctx context.Context, occID int64, ended bool) error
	// PresentRooms lists the rooms with members present, to start after a restart.
	PresentRooms(ctx context.Context) ([]int64, error)
}

// Chat keeps a room's chat.
type Chat interface {
	AddChat(ctx context.Context, occID, personID int64, authorName, text string) (ChatMessage, error)
	// ChatHistory is the last limit messages, oldest first.
	ChatHistory(ctx context.Context, occID int64, limit int) ([]ChatMessage, error)
	// ChatSince is the messages after the one with id afterID, oldest first, at most limit.
	ChatSince(ctx context.Context, occID, afterID int64, limit int) ([]ChatMessage, error)
}

// Questions keeps a room's questions and votes.
type Questions interface {
	AskQuestion(ctx context.Context, occID, personID int64, authorName, text string) (Question, error)
	VoteQuestion(ctx context.Context, occID, questionID, personID int64, up bool) (Question, error)
	SetQuestionState(ctx context.Context, occID, questionID int64, state string) (Question, error)
	LiveQuestions(ctx context.Context, occID int64) ([]Question, error)
	MyVotes(ctx context.Context, occID, personID int64) ([]int64, error)
}

// Store is all of it, as one value usually provides it.
type Store interface {
	Directory
	Attendance
	Chat
	Questions
	RoomState
}
