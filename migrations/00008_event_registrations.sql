-- Registration for a whole series (every future session) or a conference (all its sessions).

-- +goose Up
CREATE TABLE event_registrations (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id    bigint      NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    person_id   bigint      NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    status      text        NOT NULL CHECK (status IN ('active', 'cancelled')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, person_id)
);

-- +goose Down
DROP TABLE event_registrations;
