-- The programme: seminar series and conferences ("events"), their organisers, conference
-- tracks, and occurrences (each talk or session) with speakers.
--
-- Times follow docs/calendar rules: an event's schedule is local wall time + IANA zone + RRULE;
-- each occurrence keeps its local wall start. starts_at/ends_at are derived instants, recomputed
-- from the wall time and zone whenever occurrences are regenerated (so new tz data takes
-- effect); they exist to sort and filter by instant.

-- +goose Up
CREATE TABLE events (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind                 text        NOT NULL CHECK (kind IN ('series', 'conference')),
    slug                 text        NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 80),
    title                text        NOT NULL CHECK (title <> '' AND length(title) <= 200),
    description          text        NOT NULL DEFAULT '' CHECK (length(description) <= 20000),
    tags                 text[]      NOT NULL DEFAULT '{}',
    language             text        NOT NULL DEFAULT 'en',
    visibility           text        NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'unlisted')),
    time_zone            text        NOT NULL,
    start_date           date        NOT NULL,
    start_time           time        NOT NULL DEFAULT '00:00',
    end_date             date,                       -- conferences: last day
    duration_minutes     integer     NOT NULL DEFAULT 60 CHECK (duration_minutes BETWEEN 1 AND 1440),
    rrule                text        NOT NULL DEFAULT '',
    rdates               timestamp[] NOT NULL DEFAULT '{}',
    exdates              timestamp[] NOT NULL DEFAULT '{}',
    capacity             integer     NOT NULL DEFAULT 0 CHECK (capacity >= 0),  -- 0: unlimited
    registration         text        NOT NULL DEFAULT 'open' CHECK (registration IN ('open', 'approval', 'closed')),
    join_window_minutes  integer     NOT NULL DEFAULT 15 CHECK (join_window_minutes BETWEEN 0 AND 1440),
    venue_name           text        NOT NULL DEFAULT '',
    venue_address        text        NOT NULL DEFAULT '',
    venue_room           text        NOT NULL DEFAULT '',
    generated_until      date,                       -- occurrences exist up to this local date
    sequence             integer     NOT NULL DEFAULT 0,
    created_by           bigint      REFERENCES people (id) ON DELETE SET NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CHECK (end_date IS NULL OR end_date >= start_date)
);
CREATE INDEX events_tags ON events USING gin (tags);

CREATE TABLE event_organisers (
    event_id   bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    person_id  bigint NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    PRIMARY KEY (event_id, person_id)
);
CREATE INDEX event_organisers_person ON event_organisers (person_id);

CREATE TABLE tracks (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id  bigint  NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    name      text    NOT NULL CHECK (name <> '' AND length(name) <= 100),
    room      text    NOT NULL DEFAULT '' CHECK (length(room) <= 100),
    position  integer NOT NULL DEFAULT 0
);
CREATE INDEX tracks_event ON tracks (event_id, position);

CREATE TABLE occurrences (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id          bigint      NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    -- generated: from the rule; extra: added by hand to a series; session: a conference session
    origin            text        NOT NULL CHECK (origin IN ('generated', 'extra', 'session')),
    original_start    timestamp,  -- generated: the rule's wall time (iCalendar RECURRENCE-ID)
    start_local       timestamp   NOT NULL,   -- effective local start (moved or not)
    duration_minutes  integer     NOT NULL CHECK (duration_minutes BETWEEN 1 AND 1440),
    starts_at         timestamptz NOT NULL,   -- derived: start_local in the event's zone
    ends_at           timestamptz NOT NULL,
    moved             boolean     NOT NULL DEFAULT false,
    title             text        NOT NULL DEFAULT '' CHECK (length(title) <= 200),   -- '' = the event's title
    abstract          text        NOT NULL DEFAULT '' CHECK (length(abstract) <= 20000),
    track_id          bigint      REFERENCES tracks (id) ON DELETE SET NULL,
    status            text        NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'cancelled')),
    cancel_reason     text        NOT NULL DEFAULT '' CHECK (length(cancel_reason) <= 1000),
    sequence          integer     NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK ((origin = 'generated') = (original_start IS NOT NULL))
);
CREATE UNIQUE INDEX occurrences_original ON occurrences (event_id, original_start) WHERE original_start IS NOT NULL;
CREATE INDEX occurrences_event_start ON occurrences (event_id, starts_at);
CREATE INDEX occurrences_start ON occurrences (starts_at);

CREATE TABLE speakers (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurrence_id  bigint  NOT NULL REFERENCES occurrences (id) ON DELETE CASCADE,
    position       integer NOT NULL DEFAULT 0,
    name           text    NOT NULL CHECK (name <> '' AND length(name) <= 200),
    affiliation    text    NOT NULL DEFAULT '' CHECK (length(affiliation) <= 200),
    bio            text    NOT NULL DEFAULT '' CHECK (length(bio) <= 2000),
    link           text    NOT NULL DEFAULT '' CHECK (length(link) <= 500),
    person_id      bigint  REFERENCES people (id) ON DELETE SET NULL
);
CREATE INDEX speakers_occurrence ON speakers (occurrence_id, position);
CREATE INDEX speakers_person ON speakers (person_id) WHERE person_id IS NOT NULL;

-- +goose Down
DROP TABLE speakers;
DROP TABLE occurrences;
DROP TABLE tracks;
DROP TABLE event_organisers;
DROP TABLE events;
