package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Roles in an occurrence's live room (the same words as package live's).
const (
	RoomHost     = "host"
	RoomSpeaker  = "speaker"
	RoomAttendee = "attendee"
)

// LiveMember is one person's standing in an occurrence's live room, kept so that it
// outlives a connection and a process.
type LiveMember struct {
	OccurrenceID, PersonID int64
	ParticipantID          string
	Role                   string // RoomHost, RoomSpeaker or RoomAttendee
	Hand                   bool
	AudioMuted, VideoMuted bool
	ScreenMuted            bool
	ResumeHash             []byte // sha256 of the resume token; nil: none
	Present                bool   // in the room, or within the grace period
	Removed                bool
	AttendanceID           int64 // the open attendance row, 0: none
	UpdatedAt              time.Time
}

// LiveRoom is an occurrence's live room as stored.
type LiveRoom struct {
	Ended   bool
	Members []LiveMember // everyone ever in the room, by person id
}

// usedTokenPurge is how many expired used tokens one UseToken removes at most.
const usedTokenPurge = 100

// UseToken records a join token's nonce as used until expires; false when it had been used
// already. It also purges a few used tokens that have expired, skipping any another
// transaction holds, so that the table stays small without a job of its own.
func (s *Store) UseToken(ctx context.Context, nonce string, expires time.Time) (bool, error) {
	if nonce == "" {
		return false, errors.New("use token: empty nonce")
	}
	var used bool
	err := s.pool.QueryRow(ctx, `WITH purged AS (
			DELETE FROM live_used_tokens WHERE nonce IN (SELECT nonce FROM live_used_tokens
				WHERE expires_at < $3 AND nonce <> $1 LIMIT `+fmt.Sprint(usedTokenPurge)+` FOR UPDATE SKIP LOCKED)
		), ins AS (
			INSERT INTO live_used_tokens (nonce, expires_at) VALUES ($1, $2) ON CONFLICT (nonce) DO NOTHING RETURNING 1
		)
		SELECT EXISTS (SELECT 1 FROM ins)`, nonce, expires, s.now()).Scan(&used)
	if err != nil {
		return false, fmt.Errorf("use token: %w", err)
	}
	return used, nil
}

// Rights is the role each of these people may have in an occurrence's room now, as
// app.RoomRole decides it: host for site admins and the event's organisers, speaker for the
// occurrence's speakers linked to that account, attendee for a confirmed registration.
// Anyone else is absent from the map; when the occurrence is cancelled only hosts are
// there, and when it does not exist (any more) nobody is.
func (s *Store) Rights(ctx context.Context, occID int64, personIDs []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(personIDs))
	if len(personIDs) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT p.id, CASE
			WHEN p.is_admin OR EXISTS (SELECT 1 FROM event_organisers eo WHERE eo.event_id = o.event_id AND eo.person_id = p.id) THEN 'host'
			WHEN o.status = 'cancelled' THEN ''
			WHEN EXISTS (SELECT 1 FROM speakers sp WHERE sp.occurrence_id = o.id AND sp.person_id = p.id) THEN 'speaker'
			WHEN EXISTS (SELECT 1 FROM registrations r WHERE r.occurrence_id = o.id AND r.person_id = p.id AND r.status = 'confirmed') THEN 'attendee'
			ELSE '' END
		FROM occurrences o JOIN people p ON p.id = ANY($2::bigint[])
		WHERE o.id = $1`, occID, personIDs)
	if err != nil {
		return nil, fmt.Errorf("room rights: %w", err)
	}
	var id int64
	var role string
	_, err = pgx.ForEachRow(rows, []any{&id, &role}, func() error {
		if role != "" {
			out[id] = role
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("room rights: %w", err)
	}
	return out, nil
}

const liveMemberColumns = `occurrence_id, person_id, participant_id, role, hand, audio_muted, video_muted, screen_muted,
	resume_hash, present, removed, coalesce(attendance_id, 0), updated_at`

func scanLiveMember(row pgx.Row) (LiveMember, error) {
	var m LiveMember
	err := row.Scan(&m.OccurrenceID, &m.PersonID, &m.ParticipantID, &m.Role, &m.Hand, &m.AudioMuted, &m.VideoMuted,
		&m.ScreenMuted, &m.ResumeHash, &m.Present, &m.Removed, &m.AttendanceID, &m.UpdatedAt)
	return m, err
}

// LoadRoom reads an occurrence's room: whether it was ended and every member it had, in
// one snapshot. An occurrence that does not exist is not found; one whose room never
// opened has no members.
func (s *Store) LoadRoom(ctx context.Context, occID int64) (LiveRoom, error) {
	var room LiveRoom
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		if room.Ended, err = roomEnded(ctx, tx, occID); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+liveMemberColumns+` FROM live_members WHERE occurrence_id = $1 ORDER BY person_id`, occID)
		if err != nil {
			return fmt.Errorf("read room members: %w", err)
		}
		room.Members, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (LiveMember, error) { return scanLiveMember(r) })
		if err != nil {
			return fmt.Errorf("read room members: %w", err)
		}
		return nil
	})
	return room, err
}

// RoomEnded tells whether a host ended the occurrence's room (not found for an unknown
// occurrence), without reading its members.
func (s *Store) RoomEnded(ctx context.Context, occID int64) (bool, error) {
	return roomEnded(ctx, s.pool, occID)
}

func roomEnded(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, occID int64) (bool, error) {
	var exists, ended bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM occurrences WHERE id = $1),
		coalesce((SELECT ended_at IS NOT NULL FROM live_rooms WHERE occurrence_id = $1), false)`, occID).Scan(&exists, &ended); err != nil {
		return false, fmt.Errorf("read room: %w", err)
	}
	if !exists {
		return false, notFound("occurrence")
	}
	return ended, nil
}

// SaveMember writes one member's row, inserting it or replacing the one of that occurrence
// and person. A participant id is the member's for good: giving it to another member fails.
func (s *Store) SaveMember(ctx context.Context, m LiveMember) error {
	switch m.Role {
	case RoomHost, RoomSpeaker, RoomAttendee:
	default:
		return fmt.Errorf("save member: unknown role %q", m.Role)
	}
	if m.ParticipantID == "" {
		return errors.New("save member: no participant id")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO live_members (occurrence_id, person_id, participant_id, role, hand,
			audio_muted, video_muted, screen_muted, resume_hash, present, removed, attendance_id, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, nullif($12::bigint, 0), $13)
		ON CONFLICT (occurrence_id, person_id) DO UPDATE SET participant_id = EXCLUDED.participant_id,
			role = EXCLUDED.role, hand = EXCLUDED.hand, audio_muted = EXCLUDED.audio_muted,
			video_muted = EXCLUDED.video_muted, screen_muted = EXCLUDED.screen_muted,
			resume_hash = EXCLUDED.resume_hash, present = EXCLUDED.present, removed = EXCLUDED.removed,
			attendance_id = EXCLUDED.attendance_id, updated_at = EXCLUDED.updated_at`,
		m.OccurrenceID, m.PersonID, m.ParticipantID, m.Role, m.Hand, m.AudioMuted, m.VideoMuted, m.ScreenMuted,
		m.ResumeHash, m.Present, m.Removed, m.AttendanceID, s.now())
	if err != nil {
		return memberWriteError(err)
	}
	return nil
}

// memberWriteError is liveWriteError that also knows a member's attendance row.
func memberWriteError(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" && strings.Contains(pgErr.ConstraintName, "attendance") {
		return notFound("attendance")
	}
	return liveWriteError("save member", err)
}

// SetEnded marks an occurrence's room ended (a host ended the session) or open again.
// Ending also marks every member of the room not present and lowers their hands, in the
// same transaction. Ending an ended room keeps when it was first ended.
func (s *Store) SetEnded(ctx context.Context, occID int64, ended bool) error {
	now := s.now()
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO live_rooms AS lr (occurrence_id, ended_at, updated_at)
			VALUES ($1, CASE WHEN $2 THEN $3::timestamptz END, $3)
			ON CONFLICT (occurrence_id) DO UPDATE SET updated_at = EXCLUDED.updated_at,
				ended_at = CASE WHEN $2 THEN coalesce(lr.ended_at, EXCLUDED.ended_at) END`, occID, ended, now); err != nil {
			return liveWriteError("set room ended", err)
		}
		if !ended {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE live_members SET present = false, hand = false, updated_at = $2
			WHERE occurrence_id = $1 AND (present OR hand)`, occID, now); err != nil {
			return fmt.Errorf("end room members: %w", err)
		}
		return nil
	})
}

// PresentRooms lists the occurrences whose rooms have members present, to start again
// after a restart.
func (s *Store) PresentRooms(ctx context.Context) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT occurrence_id FROM live_members WHERE present ORDER BY occurrence_id`)
	if err != nil {
		return nil, fmt.Errorf("present rooms: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("present rooms: %w", err)
	}
	return ids, nil
}
