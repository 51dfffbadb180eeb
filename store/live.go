package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/puente-org/puente/domain"
)

// The longest chat message and question, in characters (Unicode code points), after
// trimming; the signaling protocol (docs/signaling.md) promises the same limits.
const (
	MaxChatRunes     = 2000
	MaxQuestionRunes = 500
)

// maxAuthorRunes matches the longest name a profile or registration can hold.
const maxAuthorRunes = 200

// States of a question in a live room.
const (
	QuestionOpen      = "open"
	QuestionAnswered  = "answered"
	QuestionDismissed = "dismissed"
)

// ChatMessage is one message said in an occurrence's live room.
type ChatMessage struct {
	ID, OccurrenceID int64
	PersonID         int64  // 0 if the person's account was deleted
	AuthorName, Text string // the name as it was when they wrote; plain text
	At               time.Time
}

// LiveQuestion is a question asked in an occurrence's live room, with its upvotes.
type LiveQuestion struct {
	ID, OccurrenceID        int64
	PersonID                int64 // 0 if the person's account was deleted
	AuthorName, Text, State string
	Votes                   int
	At                      time.Time // when it was asked
}

// liveText checks and trims what someone typed: valid UTF-8 without NUL (PostgreSQL text
// cannot hold it), not blank, at most limit characters.
func liveText(text string, limit int) (string, error) {
	return domain.Text("text", text, limit, true)
}

// snapshotName is the name shown with a message: a snapshot, cut to what a profile holds
// rather than refused (the person did not type it here).
func snapshotName(name string) string {
	name = strings.TrimSpace(strings.ToValidUTF8(strings.ReplaceAll(name, "\x00", ""), "\uFFFD"))
	if utf8.RuneCountInString(name) > maxAuthorRunes {
		name = string([]rune(name)[:maxAuthorRunes])
	}
	return name
}

// liveWriteError turns a foreign-key violation (the occurrence or the person is gone)
// into not found.
func liveWriteError(what string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		if strings.Contains(pgErr.ConstraintName, "person") {
			return notFound("person")
		}
		return notFound("occurrence")
	}
	return fmt.Errorf("%s: %w", what, err)
}

const chatColumns = `id, occurrence_id, coalesce(person_id, 0), author_name, text, created_at`

func scanChat(row pgx.Row) (ChatMessage, error) {
	var m ChatMessage
	err := row.Scan(&m.ID, &m.OccurrenceID, &m.PersonID, &m.AuthorName, &m.Text, &m.At)
	return m, err
}

// AddChat stores a chat message said in an occurrence's live room.
func (s *Store) AddChat(ctx context.Context, occID, personID int64, authorName, text string) (ChatMessage, error) {
	text, err := liveText(text, MaxChatRunes)
	if err != nil {
		return ChatMessage{}, err
	}
	m, err := scanChat(s.pool.QueryRow(ctx, `INSERT INTO live_chat_messages (occurrence_id, person_id, author_name, text, created_at)
		VALUES ($1, nullif($2::bigint, 0), $3, $4, $5) RETURNING `+chatColumns,
		occID, personID, snapshotName(authorName), text, s.now()))
	if err != nil {
		return ChatMessage{}, liveWriteError("add chat message", err)
	}
	return m, nil
}

// ChatHistory returns the last limit messages of an occurrence's chat, oldest first;
// limit <= 0 returns them all (for the organisers' export).
func (s *Store) ChatHistory(ctx context.Context, occID int64, limit int) ([]ChatMessage, error) {
	var rows pgx.Rows
	var err error
	if limit > 0 {
		rows, err = s.pool.Query(ctx, `SELECT * FROM (SELECT `+chatColumns+` FROM live_chat_messages
			WHERE occurrence_id = $1 ORDER BY id DESC LIMIT $2) last ORDER BY id`, occID, limit)
	} else {
		rows, err = s.pool.Query(ctx, `SELECT `+chatColumns+` FROM live_chat_messages WHERE occurrence_id = $1 ORDER BY id`, occID)
	}
	if err != nil {
		return nil, fmt.Errorf("chat history: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ChatMessage, error) { return scanChat(r) })
	if err != nil {
		return nil, fmt.Errorf("chat history: %w", err)
	}
	return list, nil
}

// ChatSince returns an occurrence's messages after the one with id afterID, oldest first,
// at most limit of them (limit <= 0: all), for a client catching up after a reconnect.
func (s *Store) ChatSince(ctx context.Context, occID, afterID int64, limit int) ([]ChatMessage, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.pool.Query(ctx, `SELECT `+chatColumns+` FROM live_chat_messages
		WHERE occurrence_id = $1 AND id > $2 ORDER BY id LIMIT nullif($3::int, -1)`, occID, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("chat since: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ChatMessage, error) { return scanChat(r) })
	if err != nil {
		return nil, fmt.Errorf("chat since: %w", err)
	}
	return list, nil
}

const questionColumns = `id, occurrence_id, coalesce(person_id, 0), author_name, text, state, votes, created_at`

func scanQuestion(row pgx.Row) (LiveQuestion, error) {
	var q LiveQuestion
	err := row.Scan(&q.ID, &q.OccurrenceID, &q.PersonID, &q.AuthorName, &q.Text, &q.State, &q.Votes, &q.At)
	return q, err
}

// AskQuestion stores a question asked in an occurrence's live room; it starts open, with
// no votes.
func (s *Store) AskQuestion(ctx context.Context, occID, personID int64, authorName, text string) (LiveQuestion, error) {
	text, err := liveText(text, MaxQuestionRunes)
	if err != nil {
		return LiveQuestion{}, err
	}
	now := s.now()
	q, err := scanQuestion(s.pool.QueryRow(ctx, `INSERT INTO live_questions (occurrence_id, person_id, author_name, text, created_at, updated_at)
		VALUES ($1, nullif($2::bigint, 0), $3, $4, $5, $5) RETURNING `+questionColumns,
		occID, personID, snapshotName(authorName), text, now))
	if err != nil {
		return LiveQuestion{}, liveWriteError("ask question", err)
	}
	return q, nil
}

// VoteQuestion records (up) or takes back (!up) a person's upvote of a question of that
// occurrence. Each person has at most one vote per question, so repeating either is
// harmless. The question's row is locked while its count is brought in step with the votes.
func (s *Store) VoteQuestion(ctx context.Context, occID, questionID, personID int64, up bool) (LiveQuestion, error) {
	var q LiveQuestion
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `SELECT id FROM live_questions WHERE id = $1 AND occurrence_id = $2 FOR UPDATE`,
			questionID, occID).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("question")
		}
		if err != nil {
			return fmt.Errorf("lock question: %w", err)
		}
		var tag pgconn.CommandTag
		if up {
			tag, err = tx.Exec(ctx, `INSERT INTO live_question_votes (question_id, person_id) VALUES ($1, $2)
				ON CONFLICT DO NOTHING`, questionID, personID)
		} else {
			tag, err = tx.Exec(ctx, `DELETE FROM live_question_votes WHERE question_id = $1 AND person_id = $2`, questionID, personID)
		}
		if err != nil {
			return liveWriteError("vote", err)
		}
		if tag.RowsAffected() == 0 { // nothing changed: the vote was already so
			q, err = scanQuestion(tx.QueryRow(ctx, `SELECT `+questionColumns+` FROM live_questions WHERE id = $1`, questionID))
			if err != nil {
				return fmt.Errorf("read question: %w", err)
			}
			return nil
		}
		// A recount rather than ±1: it also catches up with votes that left with a
		// deleted account.
		q, err = scanQuestion(tx.QueryRow(ctx, `UPDATE live_questions SET updated_at = $2,
			votes = (SELECT count(*) FROM live_question_votes WHERE question_id = $1)
			WHERE id = $1 RETURNING `+questionColumns, questionID, s.now()))
		if err != nil {
			return fmt.Errorf("count votes: %w", err)
		}
		return nil
	})
	return q, err
}

// SetQuestionState marks a question of that occurrence open, answered or dismissed.
func (s *Store) SetQuestionState(ctx context.Context, occID, questionID int64, state string) (LiveQuestion, error) {
	switch state {
	case QuestionOpen, QuestionAnswered, QuestionDismissed:
	default:
		return LiveQuestion{}, domain.Invalid("state", "err.live.question_state")
	}
	q, err := scanQuestion(s.pool.QueryRow(ctx, `UPDATE live_questions SET state = $3, updated_at = $4
		WHERE id = $1 AND occurrence_id = $2 RETURNING `+questionColumns, questionID, occID, state, s.now()))
	if errors.Is(err, pgx.ErrNoRows) {
		return LiveQuestion{}, notFound("question")
	}
	if err != nil {
		return LiveQuestion{}, fmt.Errorf("set question state: %w", err)
	}
	return q, nil
}

// LiveQuestions returns every question of an occurrence, in the order they were asked.
func (s *Store) LiveQuestions(ctx context.Context, occID int64) ([]LiveQuestion, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+questionColumns+` FROM live_questions WHERE occurrence_id = $1 ORDER BY id`, occID)
	if err != nil {
		return nil, fmt.Errorf("questions: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (LiveQuestion, error) { return scanQuestion(r) })
	if err != nil {
		return nil, fmt.Errorf("questions: %w", err)
	}
	return list, nil
}

// MyVotes returns the ids of the occurrence's questions the person has upvoted.
func (s *Store) MyVotes(ctx context.Context, occID, personID int64) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT v.question_id FROM live_question_votes v
		JOIN live_questions q ON q.id = v.question_id
		WHERE q.occurrence_id = $1 AND v.person_id = $2 ORDER BY v.question_id`, occID, personID)
	if err != nil {
		return nil, fmt.Errorf("my votes: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("my votes: %w", err)
	}
	return ids, nil
}

// RoomName is the name a person shows in an occurrence's live room: their profile's, else
// the name they gave when registering for it (unless that is just their email address, as
// older forms prefilled it), else "" (the room shows a generic label). Never a piece of the
// address.
func (s *Store) RoomName(ctx context.Context, occID, personID int64) (string, error) {
	var name string
	err := s.pool.QueryRow(ctx, `
		SELECT CASE WHEN p.name <> '' THEN p.name
		            WHEN r.name <> '' AND lower(btrim(r.name)) <> lower(p.email) THEN r.name
		            ELSE '' END
		FROM people p
		LEFT JOIN registrations r ON r.person_id = p.id AND r.occurrence_id = $1
		WHERE p.id = $2`, occID, personID).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", notFound("person")
	}
	if err != nil {
		return "", fmt.Errorf("room name: %w", err)
	}
	return snapshotName(name), nil
}
