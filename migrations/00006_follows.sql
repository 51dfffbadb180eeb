-- People follow series and conferences: their personal calendar feed lists them.

-- +goose Up
CREATE TABLE follows (
    person_id   bigint      NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    event_id    bigint      NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (person_id, event_id)
);
CREATE INDEX follows_event ON follows (event_id);

-- +goose Down
DROP TABLE follows;
