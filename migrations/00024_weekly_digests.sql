-- The weekly digest: one row per member and local week (the date of that week's Monday in
-- the member's zone), written in the same transaction as the digest's outbox row, so that
-- several servers running the Monday job send each member one digest a week. A week with
-- nothing to say is recorded too (talks = 0, no email), so it is not reconsidered every
-- minute of the Monday.

-- +goose Up
CREATE TABLE weekly_digests (
    person_id     bigint      NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    week          date        NOT NULL,  -- the Monday, in the member's zone
    time_zone     text        NOT NULL,  -- the zone the week was reckoned in
    window_start  timestamptz NOT NULL,  -- that Monday 00:00 local
    window_end    timestamptz NOT NULL,  -- the Monday two weeks later, 00:00 local
    talks         integer     NOT NULL CHECK (talks >= 0),
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (person_id, week),
    CHECK (extract(isodow FROM week) = 1),
    CHECK (window_end > window_start)
);

-- +goose Down
DROP TABLE weekly_digests;
