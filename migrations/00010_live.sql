-- Live rooms: chat and questions (with one upvote per person) per occurrence, kept so that
-- people who join late see the history and organisers can export it.
--
-- Authors' names are snapshots taken when they wrote, so the record reads the same after a
-- profile change; if the account is deleted the message stays, without its person.
-- Text is plain text; escaping it is the renderer's job. A deleted account's votes go with
-- it; the question's count catches up at the next vote on it (the store recounts).

-- +goose Up
CREATE TABLE live_chat_messages (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurrence_id  bigint      NOT NULL REFERENCES occurrences (id) ON DELETE CASCADE,
    person_id      bigint      REFERENCES people (id) ON DELETE SET NULL,
    author_name    text        NOT NULL DEFAULT '' CHECK (length(author_name) <= 200),
    text           text        NOT NULL CHECK (length(text) BETWEEN 1 AND 2000),
    created_at     timestamptz NOT NULL DEFAULT now()
);
-- the history is read newest first (the last N) and exported in order
CREATE INDEX live_chat_messages_occurrence ON live_chat_messages (occurrence_id, id);
CREATE INDEX live_chat_messages_person ON live_chat_messages (person_id) WHERE person_id IS NOT NULL;

CREATE TABLE live_questions (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurrence_id  bigint      NOT NULL REFERENCES occurrences (id) ON DELETE CASCADE,
    person_id      bigint      REFERENCES people (id) ON DELETE SET NULL,
    author_name    text        NOT NULL DEFAULT '' CHECK (length(author_name) <= 200),
    text           text        NOT NULL CHECK (length(text) BETWEEN 1 AND 500),
    state          text        NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'answered', 'dismissed')),
    -- the number of rows in live_question_votes, updated in the same transaction as they
    -- change, so that listing questions needs no count
    votes          integer     NOT NULL DEFAULT 0 CHECK (votes >= 0),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX live_questions_occurrence ON live_questions (occurrence_id, id);
CREATE INDEX live_questions_person ON live_questions (person_id) WHERE person_id IS NOT NULL;

CREATE TABLE live_question_votes (
    question_id  bigint NOT NULL REFERENCES live_questions (id) ON DELETE CASCADE,
    person_id    bigint NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    PRIMARY KEY (question_id, person_id)
);
CREATE INDEX live_question_votes_person ON live_question_votes (person_id);

-- +goose Down
DROP TABLE live_question_votes;
DROP TABLE live_questions;
DROP TABLE live_chat_messages;
