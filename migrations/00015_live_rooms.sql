-- Live rooms whose state outlives a connection and a process: whether the hosts ended the
-- room, each member's standing (role after a promotion, raised hand, the host's mutes, the
-- hash of their resume token, presence, removal), and the join tokens already used, so
-- that a token works once across processes and restarts.
--
-- Attendance rows are touched (seen_at) while their person is connected, so that rows left
-- open by a crash are closed at the last touch rather than never, or at the restart.

-- +goose Up
CREATE TABLE live_rooms (
    occurrence_id  bigint      PRIMARY KEY REFERENCES occurrences (id) ON DELETE CASCADE,
    ended_at       timestamptz,   -- a host ended the session; NULL: open (or reopened)
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- One row per person who was ever in a room, present or not. A member's participant id is
-- what the others know them by; it never moves to another person or room.
CREATE TABLE live_members (
    occurrence_id   bigint      NOT NULL REFERENCES occurrences (id) ON DELETE CASCADE,
    person_id       bigint      NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    participant_id  text        NOT NULL UNIQUE CHECK (participant_id <> '' AND length(participant_id) <= 100),
    role            text        NOT NULL CHECK (role IN ('host', 'speaker', 'attendee')),
    hand            boolean     NOT NULL DEFAULT false,
    audio_muted     boolean     NOT NULL DEFAULT false,
    video_muted     boolean     NOT NULL DEFAULT false,
    screen_muted    boolean     NOT NULL DEFAULT false,
    -- sha256 of the member's current resume token; NULL: none
    resume_hash     bytea       CHECK (resume_hash IS NULL OR length(resume_hash) = 32),
    -- in the room, or reconnecting within the grace period
    present         boolean     NOT NULL DEFAULT false,
    removed         boolean     NOT NULL DEFAULT false,
    -- the member's open attendance row, if any
    attendance_id   bigint      REFERENCES attendance (id) ON DELETE SET NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (occurrence_id, person_id)
);
-- the rooms to start again after a restart
CREATE INDEX live_members_present ON live_members (occurrence_id) WHERE present;
CREATE INDEX live_members_person ON live_members (person_id);
CREATE INDEX live_members_attendance ON live_members (attendance_id) WHERE attendance_id IS NOT NULL;

-- Join tokens are single-use: a token's nonce is kept until the token expires (after that
-- the token is refused anyway), then purged.
CREATE TABLE live_used_tokens (
    nonce       text        PRIMARY KEY CHECK (nonce <> '' AND length(nonce) <= 200),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX live_used_tokens_expiry ON live_used_tokens (expires_at);

-- when the person was last known to be connected (NULL: never touched)
ALTER TABLE attendance ADD COLUMN seen_at timestamptz;
ALTER TABLE attendance ADD CONSTRAINT attendance_seen_check CHECK (seen_at IS NULL OR seen_at >= joined_at);
-- rows still open, closed after a crash or a shutdown
CREATE INDEX attendance_open ON attendance (id) WHERE left_at IS NULL;

-- +goose Down
DROP INDEX attendance_open;
ALTER TABLE attendance DROP CONSTRAINT attendance_seen_check;
ALTER TABLE attendance DROP COLUMN seen_at;
DROP TABLE live_used_tokens;
DROP TABLE live_members;
DROP TABLE live_rooms;
