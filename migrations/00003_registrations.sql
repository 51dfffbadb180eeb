-- Registrations for occurrences, with capacity and a waitlist in arrival order.

-- +goose Up
CREATE TABLE registrations (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurrence_id    bigint      NOT NULL REFERENCES occurrences (id) ON DELETE CASCADE,
    person_id        bigint      NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    status           text        NOT NULL
                     CHECK (status IN ('confirmed', 'waitlisted', 'pending', 'declined', 'cancelled')),
    -- the waitlist is served in the order people joined it
    waitlisted_at    timestamptz,
    name             text        NOT NULL DEFAULT '' CHECK (length(name) <= 200),
    affiliation      text        NOT NULL DEFAULT '' CHECK (length(affiliation) <= 200),
    country          text        NOT NULL DEFAULT '',
    career_stage     text        NOT NULL DEFAULT '',
    consent_contact  boolean     NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (occurrence_id, person_id),
    CHECK ((status = 'waitlisted') = (waitlisted_at IS NOT NULL))
);
CREATE INDEX registrations_waitlist ON registrations (occurrence_id, waitlisted_at, id) WHERE status = 'waitlisted';
CREATE INDEX registrations_person ON registrations (person_id);

-- +goose Down
DROP TABLE registrations;
