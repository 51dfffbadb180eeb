-- Recording (the recording issue): what every part shares.
--   recordings         one recording of a session: who started and stopped it, its state,
--                      where its files are, who may watch it;
--   recording_events   the log of a recording (started, stopped, a speaker declined, a new
--                      segment after a restart, a track dropped because the disk was slow
--                      or full, composition progress): the consent and legal record;
--   recording_tracks   one file per published track and segment, written as received from
--                      the forwarding path (WebM), with what composition needs to align it;
--   recording_jobs     composition jobs, queued in PostgreSQL: leased, retried, one at a
--                      time unless configured;
--   events.recording_access / recording_retention_days: per series or conference, who may
--                      watch new recordings and how long they are kept (NULL: for ever).

-- +goose Up
CREATE TABLE recordings (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurrence_id   bigint      NOT NULL REFERENCES occurrences (id) ON DELETE CASCADE,
    status          text        NOT NULL DEFAULT 'recording'
                    CHECK (status IN ('recording', 'stopped', 'composing', 'ready', 'failed', 'deleted')),
    started_by      bigint      REFERENCES people (id) ON DELETE SET NULL,
    started_at      timestamptz NOT NULL,
    stopped_by      bigint      REFERENCES people (id) ON DELETE SET NULL,
    stopped_at      timestamptz,
    -- where the track files are (a directory under the data directory's recordings/)
    track_dir       text        NOT NULL DEFAULT '',
    -- the composed MP4 in the storage (local or S3): its key, size, length; '' until ready
    composed_key    text        NOT NULL DEFAULT '',
    composed_bytes  bigint      NOT NULL DEFAULT 0,
    duration_ms     bigint      NOT NULL DEFAULT 0,
    access          text        NOT NULL DEFAULT 'registrants' CHECK (access IN ('public', 'registrants', 'organisers')),
    failure         text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
-- at most one recording running per session
CREATE UNIQUE INDEX recordings_running ON recordings (occurrence_id) WHERE status = 'recording';
CREATE INDEX recordings_occurrence ON recordings (occurrence_id);

CREATE TABLE recording_events (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recording_id  bigint      NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
    kind          text        NOT NULL CHECK (kind IN ('started', 'stopped', 'declined', 'consented', 'segment',
                                                       'track_dropped', 'composed', 'compose_failed', 'replaced',
                                                       'deleted', 'access_changed')),
    person_id     bigint      REFERENCES people (id) ON DELETE SET NULL,
    detail        text        NOT NULL DEFAULT '',
    at            timestamptz NOT NULL
);
CREATE INDEX recording_events_recording ON recording_events (recording_id, id);

CREATE TABLE recording_tracks (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recording_id    bigint      NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
    segment         integer     NOT NULL DEFAULT 1 CHECK (segment >= 1),
    person_id       bigint      REFERENCES people (id) ON DELETE SET NULL,
    participant     text        NOT NULL DEFAULT '',
    source          text        NOT NULL CHECK (source IN ('camera', 'screen', 'microphone')),
    kind            text        NOT NULL CHECK (kind IN ('audio', 'video')),
    codec           text        NOT NULL,
    file            text        NOT NULL, -- relative to the recording's track_dir
    bytes           bigint      NOT NULL DEFAULT 0,
    clock_rate      integer     NOT NULL CHECK (clock_rate > 0),
    -- alignment: the RTP timestamp of the first sample written, the wall clock when it
    -- arrived, and the sender's report mapping RTP time to NTP time when one was seen
    first_rtp       bigint      NOT NULL DEFAULT 0,
    first_at        timestamptz,
    sr_rtp          bigint,
    sr_ntp          timestamptz,
    duration_ms     bigint      NOT NULL DEFAULT 0,
    -- complete: closed cleanly; a file cut short (crash, full disk) stays false and says why
    complete        boolean     NOT NULL DEFAULT false,
    problem         text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL
);
CREATE INDEX recording_tracks_recording ON recording_tracks (recording_id, segment);

CREATE TABLE recording_jobs (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recording_id    bigint      NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
    status          text        NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    attempts        integer     NOT NULL DEFAULT 0,
    progress        real        NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    leased_until    timestamptz,
    next_attempt_at timestamptz NOT NULL,
    last_error      text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX recording_jobs_due ON recording_jobs (next_attempt_at) WHERE status IN ('queued', 'running');

ALTER TABLE events
    ADD COLUMN recording_access text NOT NULL DEFAULT 'registrants' CHECK (recording_access IN ('public', 'registrants', 'organisers')),
    ADD COLUMN recording_retention_days integer CHECK (recording_retention_days BETWEEN 1 AND 3650);

-- +goose Down
ALTER TABLE events DROP COLUMN recording_retention_days, DROP COLUMN recording_access;
DROP TABLE recording_jobs;
DROP TABLE recording_tracks;
DROP TABLE recording_events;
DROP TABLE recordings;
