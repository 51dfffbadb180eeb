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

// Attendance records who was in a room and for how long.
type Attendance interface {
	RecordJoin(ctx context.Context, occID, personID int64) (attendanceID int64, err error)
	RecordLeave(ctx context.Context, attendanceID int64) error
}

// Chat keeps a room's chat.
type Chat interface {
	AddChat(ctx context.Context, occID, personID int64, authorName, text string) (ChatMessage, error)
	// ChatHistory is the last limit messages, oldest first.
	ChatHistory(ctx context.Context, occID int64, limit int) ([]ChatMessage, error)
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
}
