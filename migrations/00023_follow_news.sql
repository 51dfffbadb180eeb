-- News for followers: new talks and speaker announcements of the series, conferences and
-- topics a person follows, recorded as they happen (in the change's transaction) and sent
-- in one batched email a day at most.
--   follow_news          one person's news item: a talk is new to them, or its speakers
--                        were announced; one row per person, talk and kind (a talk matched
--                        by several follows is recorded once); the batch takes them away;
--   follow_updates_sent  when a person was last sent their batch (one row each, locked by
--                        the batch job so that several servers send it once).

-- +goose Up
CREATE TABLE follow_news (
    person_id      bigint      NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    occurrence_id  bigint      NOT NULL REFERENCES occurrences (id) ON DELETE CASCADE,
    what           text        NOT NULL CHECK (what IN ('talk', 'speakers')),
    created_at     timestamptz NOT NULL,
    PRIMARY KEY (person_id, occurrence_id, what)
);
CREATE INDEX follow_news_occurrence ON follow_news (occurrence_id);

CREATE TABLE follow_updates_sent (
    person_id  bigint      PRIMARY KEY REFERENCES people (id) ON DELETE CASCADE,
    sent_at    timestamptz NOT NULL
);

-- +goose Down
DROP TABLE follow_updates_sent;
DROP TABLE follow_news;
